"""The V-JEPA 2 frame resize as the reference ran it, the same on every machine and device.

The reference (neuralset 0.0.2) hands uint8 frames to ``VJEPA2VideoProcessor`` on the CPU;
on the x86 machines where the training features were extracted, torchvision then calls
torch's native uint8 antialiased bilinear kernel (Pillow's algorithm, ported from
Pillow-SIMD). That kernel works in fixed point:

1. For each output pixel ``i`` of an axis resized from ``n`` to ``m`` samples (``scale = n /
   m``, ``support = max(scale, 1)``), the taps are input samples ``xmin .. xmin + xsize - 1``
   with ``center = scale * (i + 0.5)``, ``xmin = max(int(center - support + 0.5), 0)``,
   ``xsize = min(int(center + support + 0.5), n) - xmin``, and the weights
   ``triangle((xmin + j - center + 0.5) / support)`` (``triangle(x) = max(0, 1 - |x|)``),
   normalised to sum to 1. All of it in float64, in that order.
2. The weights become integers: ``int(0.5 + w * 2**p)``, where the precision ``p`` is the
   largest (at most 22) for which the largest weight of the axis, times ``2**(p + 1)``, still
   rounds below ``2**15``.
3. The width is resized first, then the height, each output value being
   ``clip((2**(p - 1) + sum(weight * pixel)) >> p, 0, 255)``, so the image is rounded back to
   uint8 between the two passes.

:func:`resize_fixed_point` computes exactly that with integer tensor operations, on any
device (a CUDA build of torch has no uint8 antialiased kernel at all). On the CPU torch's own
kernel is faster; :func:`resize_uint8` uses it for a frame geometry once a random frame of
that geometry came out of both identical, and the fixed-point code otherwise, so every
machine gives the same pixels. The tests compare both with torch's kernel bit for bit.

``float`` (:func:`resize_float`) is the other path torchvision can take for uint8 input (on
a GPU, and on CPUs without AVX2): one float32 interpolation rounded at the end. It differs
by one level on 10-20 % of the pixels, about 1e-3 on the features; it is kept as an option.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from berg.errors import InvalidParameterError
from berg.validation import is_int

__all__ = [
    "RESIZE_KERNELS",
    "AxisWeights",
    "axis_weights",
    "native_kernel_agrees",
    "resize",
    "resize_fixed_point",
    "resize_float",
    "resize_uint8",
]

#: ``uint8``: the reference's fixed-point kernel (default); ``float``: one float32 pass.
RESIZE_KERNELS = ("uint8", "float")

_MAX_PRECISION = 22  # torch's (and Pillow's) cap on the fixed-point precision
_INT16_LIMIT = 1 << 15


@dataclass(frozen=True)
class AxisWeights:
    """The fixed-point taps of one axis resized from ``in_size`` to ``out_size`` samples.

    Attributes
    ----------
    starts : ndarray, int64, shape (out_size,)
        First input sample of each output sample's taps.
    weights : ndarray, int64, shape (out_size, taps)
        Integer weights (``round(w * 2**precision)``), 0 past each output's own taps.
    precision : int
        Bits of the fixed point.
    """

    starts: np.ndarray
    weights: np.ndarray
    precision: int

    @property
    def taps(self) -> int:
        return self.weights.shape[1]


def _triangle(x: float) -> float:
    x = -x if x < 0.0 else x
    return 1.0 - x if x < 1.0 else 0.0


@functools.lru_cache(maxsize=64)
def axis_weights(in_size: int, out_size: int) -> AxisWeights:
    """Antialiased bilinear taps for ``in_size -> out_size``, as torch's uint8 kernel has them.

    Parameters
    ----------
    in_size, out_size : int
        Samples along the axis, both >= 1.

    Returns
    -------
    AxisWeights
        Plain Python floats (IEEE doubles) in the kernel's order of operations, so that the
        integer weights are the kernel's own.
    """
    scale = in_size / out_size
    support = max(scale, 1.0)
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    taps = math.ceil(support) * 2 + 1
    starts = np.zeros(out_size, np.int64)
    floats = np.zeros((out_size, taps), np.float64)
    for i in range(out_size):
        center = scale * (i + 0.5)
        xmin = max(int(center - support + 0.5), 0)  # int() truncates, as C++'s cast does
        xsize = min(int(center + support + 0.5), in_size) - xmin
        row = [_triangle((j + xmin - center + 0.5) * invscale) for j in range(xsize)]
        total = 0.0
        for w in row:
            total += w
        if total != 0.0:
            row = [w / total for w in row]
        starts[i] = xmin
        floats[i, :xsize] = row
    largest = float(floats.max())
    precision = 0
    while precision < _MAX_PRECISION and int(0.5 + largest * (1 << (precision + 1))) < _INT16_LIMIT:
        precision += 1
    # Bilinear weights are never negative: int(0.5 + w * 2**p) is a floor of a positive.
    weights = np.floor(0.5 + floats * float(1 << precision)).astype(np.int64)
    return AxisWeights(starts=starts, weights=weights, precision=precision)


def _resample_axis(x: torch.Tensor, in_size: int, out_size: int, dim: int) -> torch.Tensor:
    """One fixed-point pass along ``dim`` of a uint8 tensor, rounded back to uint8."""
    table = axis_weights(in_size, out_size)
    # Taps past the end of the axis have weight 0; clamp their index to stay in bounds.
    index = np.minimum(table.starts[:, None] + np.arange(table.taps)[None, :], in_size - 1)
    index = torch.from_numpy(index).to(x.device)
    weights = torch.from_numpy(table.weights.astype(np.int32)).to(x.device)
    # The resampled axis first: each tap then gathers whole contiguous slices.
    pixels = x.movedim(dim, 0).to(torch.int32).contiguous()
    shape = (out_size,) + (1,) * (x.ndim - 1)
    # Sums stay below 2**31: 255 * (2**22 + taps) + 2**21 at the largest precision.
    acc = torch.full(
        (out_size,) + pixels.shape[1:],
        1 << (table.precision - 1),
        dtype=torch.int32,
        device=x.device,
    )
    for k in range(table.taps):
        acc += pixels.index_select(0, index[:, k]) * weights[:, k].reshape(shape)
    out = torch.bitwise_right_shift(acc, table.precision).clamp_(0, 255).to(torch.uint8)
    return out.movedim(0, dim).contiguous()


def _check_frames(x: object, size: object) -> tuple[int, int]:
    if not isinstance(x, torch.Tensor) or x.dtype != torch.uint8 or x.ndim != 4:
        raise InvalidParameterError(
            f"frames must be a uint8 tensor (N, C, H, W), got "
            f"{getattr(x, 'dtype', type(x).__name__)} of shape "
            f"{tuple(getattr(x, 'shape', ()))}"
        )
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(is_int(v, minimum=1) for v in size)
    ):
        raise InvalidParameterError(f"size must be (height, width) in pixels, got {size!r}")
    return int(size[0]), int(size[1])


def resize_fixed_point(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """torch's uint8 antialiased bilinear resize, computed with integer ops on ``x``'s device.

    Parameters
    ----------
    x : torch.Tensor, uint8, shape (N, C, H, W)
    size : (height, width)

    Returns
    -------
    torch.Tensor, uint8, shape (N, C, height, width), on ``x``'s device
        Width first, then height, rounded to uint8 in between (module notes).
    """
    out_h, out_w = _check_frames(x, size)
    height, width = x.shape[-2:]
    if out_w != width:
        x = _resample_axis(x, width, out_w, dim=3)
    if out_h != height:
        x = _resample_axis(x, height, out_h, dim=2)
    return x if (out_h, out_w) != (height, width) else x.clone()


def _native(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


@functools.lru_cache(maxsize=64)
def native_kernel_agrees(height: int, width: int, out_h: int, out_w: int) -> bool:
    """Whether torch's own CPU uint8 kernel gives :func:`resize_fixed_point`'s pixels for this
    geometry, on a random 3-channel frame (checked once per geometry and process)."""
    generator = torch.Generator().manual_seed(height * 1_000_003 + width)
    frame = torch.randint(0, 256, (1, 3, height, width), dtype=torch.uint8, generator=generator)
    try:
        native = _native(frame, (out_h, out_w))
    except RuntimeError:  # a build without the uint8 kernel
        return False
    return torch.equal(native, resize_fixed_point(frame, (out_h, out_w)))


def resize_uint8(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The reference's resize on ``x``'s device: torch's CPU kernel where it is checked to be
    the fixed-point arithmetic, :func:`resize_fixed_point` everywhere else.

    Parameters
    ----------
    x : torch.Tensor, uint8, shape (N, C, H, W)
    size : (height, width)

    Returns
    -------
    torch.Tensor, uint8, shape (N, C, height, width)
    """
    out_h, out_w = _check_frames(x, size)
    height, width = x.shape[-2:]
    if (out_h, out_w) == (height, width):
        return x.clone()
    if (
        x.device.type == "cpu"
        and x.shape[1] <= 4
        and native_kernel_agrees(height, width, out_h, out_w)
    ):
        return _native(x, (out_h, out_w))
    return resize_fixed_point(x, (out_h, out_w))


def resize_float(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The float path: float32 antialiased bilinear interpolation, rounded half to even.

    Parameters
    ----------
    x : torch.Tensor, uint8, shape (N, C, H, W)
    size : (height, width)

    Returns
    -------
    torch.Tensor, uint8, shape (N, C, height, width), on ``x``'s device
    """
    out_h, out_w = _check_frames(x, size)
    if (out_h, out_w) == tuple(x.shape[-2:]):
        return x.clone()
    out = _native(x.float(), (out_h, out_w))
    return out.round_().clamp_(0, 255).to(torch.uint8)


def resize(x: torch.Tensor, size: tuple[int, int], kernel: str = "uint8") -> torch.Tensor:
    """Resize uint8 frames with one of :data:`RESIZE_KERNELS`, on their own device."""
    if kernel not in RESIZE_KERNELS:
        raise InvalidParameterError(
            f"resize kernel must be one of {', '.join(map(repr, RESIZE_KERNELS))}, got {kernel!r}"
        )
    return resize_uint8(x, size) if kernel == "uint8" else resize_float(x, size)
