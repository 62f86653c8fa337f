"""The reference's frame resize (berg.features.video.resize): torch's uint8 antialiased bilinear
kernel, by hand and against torch's own CPU kernel, bit for bit."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from berg.errors import InvalidParameterError
from berg.features.video import resize as resize_module
from berg.features.video.resize import (
    axis_weights,
    native_kernel_agrees,
    resize,
    resize_fixed_point,
    resize_uint8,
)


def torch_native(x: torch.Tensor, size) -> torch.Tensor:
    """torch's own uint8 kernel on the CPU (what the reference's processor ran on x86)."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


COLUMNS = [0, 8, 16, 40, 80, 120, 160, 200, 240, 250, 255, 255, 100, 0, 0, 9]


def halved_by_hand(c: list[int]) -> list[int]:
    """16 -> 8 samples. Scale 2, support 2: output i has centre 2i + 1 and taps 2i - 1 ..
    2i + 2 with triangle weights 1/8, 3/8, 3/8, 1/8; the first and last outputs lose a tap
    and renormalise to 3/7, 3/7, 1/7 (mirrored at the end). The largest weight 3/7 sets the
    precision to 16 bits (3/7 * 2**17 would not fit in int16), so the weights are
    round(w * 65536): 28087, 28087, 9362 and 8192, 24576, 24576, 8192; each output is
    (32768 + sum(weight * pixel)) >> 16."""
    out = [(32768 + 28087 * c[0] + 28087 * c[1] + 9362 * c[2]) >> 16]
    for i in range(1, 7):
        taps = c[2 * i - 1 : 2 * i + 3]
        out.append((32768 + 8192 * taps[0] + 24576 * (taps[1] + taps[2]) + 8192 * taps[3]) >> 16)
    out.append((32768 + 9362 * c[13] + 28087 * c[14] + 28087 * c[15]) >> 16)
    return out


def test_weights_by_hand():
    halving = axis_weights(16, 8)
    assert halving.precision == 16
    assert halving.starts.tolist() == [0, 1, 3, 5, 7, 9, 11, 13]
    assert halving.weights[0, :3].tolist() == [28087, 28087, 9362]
    assert halving.weights[3, :4].tolist() == [8192, 24576, 24576, 8192]
    assert halving.weights[7, :3].tolist() == [9362, 28087, 28087]
    # Doubling 2 -> 4: support 1, centres 0.25, 0.75, 1.25, 1.75; weights (1), (0.75, 0.25),
    # (0.25, 0.75), (1); the largest, 1, gives 14 bits.
    doubling = axis_weights(2, 4)
    assert doubling.precision == 14
    assert doubling.starts.tolist() == [0, 0, 0, 1]
    assert doubling.weights[:, :2].tolist() == [
        [16384, 0],
        [12288, 4096],
        [4096, 12288],
        [16384, 0],
    ]


@pytest.mark.parametrize("resizer", [resize_fixed_point, torch_native, resize_uint8])
def test_halving_by_hand(resizer):
    # Columns vary, rows do not: the vertical pass has weights summing to exactly 2**16 and
    # leaves each column's value as it is, so every row is the horizontal pass by hand.
    image = torch.tensor(COLUMNS, dtype=torch.uint8).expand(1, 3, 16, 16).contiguous()
    out = resizer(image, (8, 8))
    assert out.dtype == torch.uint8 and out.shape == (1, 3, 8, 8)
    assert (out == torch.tensor(halved_by_hand(COLUMNS), dtype=torch.uint8)).all()


def test_doubling_by_hand():
    image = torch.tensor([[0, 255], [1, 2]], dtype=torch.uint8).expand(1, 1, 2, 2)
    out = resize_fixed_point(image.contiguous(), (2, 4))
    # (8192 + 12288 * a + 4096 * b) >> 14 and mirrored: 0 255 -> 0 64 191 255 (64.25 and
    # 191.75 rounded down by the shift), 1 2 -> 1 1 2 2 (1.75 and 2.25).
    assert out[0, 0].tolist() == [[0, 64, 191, 255], [1, 1, 2, 2]]
    assert torch.equal(out, torch_native(image.contiguous(), (2, 4)))


# (height, width) -> (height, width): the release's 1080p, 720p and 4K frames, the tests'
# small frames, portrait, upscaling, a square already close, odd and degenerate sizes.
GEOMETRIES = [
    ((1080, 1920), (292, 519)),
    ((720, 1280), (292, 519)),
    ((2160, 3840), (292, 519)),
    ((80, 96), (73, 87)),
    ((96, 80), (87, 73)),
    ((48, 64), (73, 97)),
    ((300, 300), (292, 292)),
    ((481, 853), (292, 517)),
    ((17, 1000), (5, 3)),
    ((3, 5), (300, 200)),
    ((1, 7), (4, 4)),
    ((640, 2), (292, 292)),
]


def _capability() -> str:
    return torch.backends.cpu.get_cpu_capability()


@pytest.mark.parametrize("geometry, size", GEOMETRIES)
def test_fixed_point_equals_torch_native_bit_for_bit(geometry, size):
    generator = torch.Generator().manual_seed(sum(geometry) + sum(size))
    frames = torch.randint(0, 256, (2, 3, *geometry), dtype=torch.uint8, generator=generator)
    ours = resize_fixed_point(frames, size)
    native = torch_native(frames, size)
    diff = (ours.int() - native.int()).abs()
    assert torch.equal(ours, native), (
        f"torch's native kernel ({_capability()} path) differs on {diff.gt(0).sum().item()} "
        f"pixels, by up to {diff.max().item()}"
    )


def test_random_sizes_equal_torch_native():
    rng = np.random.default_rng(12)
    for _ in range(25):
        height, width = (int(v) for v in rng.integers(2, 600, 2))
        size = tuple(int(v) for v in rng.integers(1, 400, 2))
        frames = torch.from_numpy(rng.integers(0, 256, (1, 3, height, width), dtype=np.uint8))
        assert torch.equal(resize_fixed_point(frames, size), torch_native(frames, size)), (
            (height, width),
            size,
            _capability(),
        )


GENERIC_PATH_CHECK = """
import torch, torch.nn.functional as F
from berg.features.video.resize import resize_fixed_point
assert torch.backends.cpu.get_cpu_capability() == "DEFAULT"
g = torch.Generator().manual_seed(3)
for (h, w), size in [((1080, 1920), (292, 519)), ((80, 96), (73, 87)), ((48, 64), (73, 97))]:
    x = torch.randint(0, 256, (1, 3, h, w), dtype=torch.uint8, generator=g)
    native = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    assert torch.equal(native, resize_fixed_point(x, size)), (h, w, size)
print("generic path equal")
"""


def test_torch_generic_kernel_is_the_same_arithmetic():
    # torch's uint8 kernel has a vectorised version (x86 with AVX2, the reference's) and a
    # generic one (other CPUs, and AVX512 builds): forced here with ATEN_CPU_CAPABILITY.
    import os

    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    result = subprocess.run(
        [sys.executable, "-c", GENERIC_PATH_CHECK],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "generic path equal" in result.stdout


def test_resize_uint8_falls_back_when_the_native_kernel_differs(monkeypatch):
    frames = torch.randint(
        0, 256, (1, 3, 40, 60), dtype=torch.uint8, generator=torch.Generator().manual_seed(5)
    )
    expected = torch_native(frames, (29, 43))
    native_kernel_agrees.cache_clear()
    assert native_kernel_agrees(40, 60, 29, 43)

    # A CPU whose kernel rounded differently would be caught by the check, and the fixed
    # point code used instead: the same pixels as everywhere else.
    def off_by_one(x, size):
        out = torch_native(x, size)
        out[..., 0, 0] ^= 1
        return out

    monkeypatch.setattr(resize_module, "_native", off_by_one)
    native_kernel_agrees.cache_clear()
    try:
        assert not native_kernel_agrees(40, 60, 29, 43)
        assert torch.equal(resize_uint8(frames, (29, 43)), expected)
    finally:
        native_kernel_agrees.cache_clear()


def test_float_kernel_is_one_level_off_on_some_pixels():
    frames = torch.randint(
        0, 256, (1, 3, 80, 96), dtype=torch.uint8, generator=torch.Generator().manual_seed(7)
    )
    exact = resize(frames, (73, 87), "uint8")
    other = resize(frames, (73, 87), "float")
    diff = (exact.int() - other.int()).abs()
    assert diff.max() == 1 and 0.02 < diff.float().mean() < 0.4


def test_same_size_is_a_copy():
    frames = torch.randint(0, 256, (1, 3, 8, 9), dtype=torch.uint8)
    for kernel in ("uint8", "float"):
        out = resize(frames, (8, 9), kernel)
        assert torch.equal(out, frames) and out.data_ptr() != frames.data_ptr()
    assert torch.equal(resize_fixed_point(frames, (8, 9)), frames)


def test_bad_arguments():
    frames = torch.zeros((1, 3, 8, 8), dtype=torch.uint8)
    with pytest.raises(InvalidParameterError, match="uint8"):
        resize_fixed_point(frames.float(), (4, 4))
    with pytest.raises(InvalidParameterError, match="uint8"):
        resize_uint8(frames[0], (4, 4))
    with pytest.raises(InvalidParameterError, match="height, width"):
        resize_uint8(frames, (4, 0))
    with pytest.raises(InvalidParameterError, match="'uint8', 'float'"):
        resize(frames, (4, 4), "lanczos")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_resize_equals_torch_cpu_kernel():
    for geometry, size in GEOMETRIES[:6]:
        frames = torch.randint(0, 256, (2, 3, *geometry), dtype=torch.uint8)
        on_gpu = resize_uint8(frames.cuda(), size)
        assert on_gpu.device.type == "cuda"
        assert torch.equal(on_gpu.cpu(), torch_native(frames, size)), (geometry, size)
