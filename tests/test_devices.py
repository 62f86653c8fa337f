"""Resolving the device argument."""

import platform
import sys

import pytest
import torch

from berg import DeviceNotAvailableError, InvalidParameterError
from berg.devices import resolve_device


def test_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("CPU") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_a_gpu_is_a_clear_error(name):
    with pytest.raises(DeviceNotAvailableError) as info:
        resolve_device(name)
    assert repr(name) in str(info.value)
    assert "device='cpu'" in str(info.value)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_with_a_gpu():
    assert resolve_device("cuda") == torch.device("cuda", 0)
    with pytest.raises(DeviceNotAvailableError, match="only"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


@pytest.mark.parametrize(
    "bad, hint", [("gpu", None), ("cdua", "cuda"), ("atuo", "auto"), (None, None), (0, None)]
)
def test_unknown_devices(bad, hint):
    with pytest.raises(InvalidParameterError) as info:
        resolve_device(bad)
    message = str(info.value)
    assert "'cpu', 'cuda', 'mps', 'auto'" in message
    if hint:
        assert f"did you mean {hint!r}" in message


def test_parse_device_spelling_only():
    # The one spelling check behind resolve_device and the recogniser's device.
    from berg.devices import parse_device

    assert parse_device(" CUDA:1 ") == ("cuda", 1)
    assert parse_device("auto") == ("auto", None)
    assert parse_device(torch.device("cuda", 2)) == ("cuda", 2)  # no GPU needed to parse
    with pytest.raises(InvalidParameterError, match="unknown asr_device 'cdua'; did you mean"):
        parse_device("cdua", "asr_device")
    with pytest.raises(InvalidParameterError, match="did you mean 'cuda'"):
        parse_device("gpu")


def _machine(monkeypatch, *, cuda: int, mps: bool, mps_built: bool = True):
    """Make PyTorch report ``cuda`` CUDA GPUs and an Apple GPU or not, as it would there."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: mps_built)


@pytest.mark.parametrize(
    "cuda, mps, expected",
    [(2, True, "cuda"), (1, False, "cuda"), (0, True, "mps"), (0, False, "cpu")],
)
def test_auto_prefers_cuda_then_an_apple_gpu_then_the_cpu(monkeypatch, cuda, mps, expected):
    _machine(monkeypatch, cuda=cuda, mps=mps)
    assert resolve_device("auto").type == expected


def test_an_apple_gpu(monkeypatch):
    from berg.stimulus.transcribe.models import resolve_asr_device

    _machine(monkeypatch, cuda=0, mps=True)
    assert resolve_device("mps") == resolve_device("MPS:0") == torch.device("mps")
    with pytest.raises(DeviceNotAvailableError, match="sees no GPU|CPU-only"):
        resolve_device("cuda")
    assert resolve_asr_device("mps") == ("cpu", 0)  # CTranslate2 has no MPS: Whisper on the CPU


@pytest.mark.parametrize(
    "built, reason", [(True, "sees no Apple GPU"), (False, "built without MPS")]
)
def test_mps_without_one_is_a_clear_error(monkeypatch, built, reason):
    _machine(monkeypatch, cuda=0, mps=False, mps_built=built)
    with pytest.raises(DeviceNotAvailableError, match=f"{reason}.*device='cpu'"):
        resolve_device("mps")


def test_memory_on_an_apple_gpu(monkeypatch):
    from berg.features.budget import CPU_BUDGET, GPU_BUDGET_CAP, GiB, device_budget
    from berg.holder import release_cached_memory

    _machine(monkeypatch, cuda=0, mps=True)
    monkeypatch.setattr(torch.mps, "recommended_max_memory", lambda: 12 * GiB)
    monkeypatch.setattr(torch.mps, "driver_allocated_memory", lambda: 9 * GiB)
    # Half of the 3 GiB Metal still recommends, within [CPU_BUDGET, GPU_BUDGET_CAP].
    assert device_budget(torch.device("mps")) == int(1.5 * GiB)
    monkeypatch.setattr(torch.mps, "driver_allocated_memory", lambda: 12 * GiB)
    assert device_budget(torch.device("mps")) == CPU_BUDGET
    monkeypatch.setattr(torch.mps, "recommended_max_memory", lambda: 64 * GiB)
    monkeypatch.setattr(torch.mps, "driver_allocated_memory", lambda: 0)
    assert device_budget(torch.device("mps")) == GPU_BUDGET_CAP
    emptied = []
    monkeypatch.setattr(torch.mps, "empty_cache", lambda: emptied.append("mps"))
    release_cached_memory(torch.device("mps"))
    release_cached_memory(torch.device("cpu"))
    assert emptied == ["mps"]


def test_frames_are_resized_on_the_cpu_beside_an_apple_gpu(tmp_path):
    from tiny_models import write_tiny_vjepa2

    from berg.features.video.extractor import VideoFeatureExtractor

    extractor = VideoFeatureExtractor(write_tiny_vjepa2(tmp_path / "vjepa2"), device="cpu")
    assert extractor.resize_device == torch.device("cpu")
    extractor.device = torch.device("mps")  # as on a Mac: the model there, the resize here
    assert extractor.resize_device == torch.device("cpu")
    extractor.device = torch.device("cuda", 1)
    assert extractor.resize_device == torch.device("cuda", 1)


def _rss_anon_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon in /proc/self/status")


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="malloc_trim is glibc's",
)
def test_the_free_pages_of_the_heap_go_back_to_the_system():
    from berg.holder import release_free_heap

    # 3,000 blocks of 64 KiB (below malloc's mmap threshold: on the heap), each followed by
    # a small block that stays: the freed ones leave holes no free() hands back.
    release_free_heap()
    before = _rss_anon_mib()
    blocks, kept = [], []
    for _ in range(3000):
        blocks.append(bytearray(64 * 1024))
        kept.append(bytearray(600))
    grown = _rss_anon_mib() - before
    assert grown > 150  # ~188 MiB touched (bytearray zero-fills)
    del blocks
    held = _rss_anon_mib() - before
    assert release_free_heap() is True
    after = _rss_anon_mib() - before
    assert held > 150 and after < 40, (grown, held, after)
    assert len(kept) == 3000


def test_releasing_memory_trims_the_heap_on_every_device(monkeypatch):
    import berg.holder

    trimmed = []
    monkeypatch.setattr(berg.holder, "release_free_heap", lambda: trimmed.append(True))
    berg.holder.release_cached_memory(torch.device("cpu"))
    berg.holder.release_cached_memory("cuda:0")  # CUDA never initialised here: heap only
    assert trimmed == [True, True]
