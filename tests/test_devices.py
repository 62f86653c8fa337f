"""Resolving the device argument."""

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
    assert "'cpu', 'cuda', 'auto'" in message
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
