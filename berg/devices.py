"""Turning the user's ``device`` argument into a torch device, or a clear error now."""

from __future__ import annotations

import re

from berg.errors import DeviceNotAvailableError, InvalidParameterError, did_you_mean

__all__ = ["VALID_DEVICES", "resolve_device"]

VALID_DEVICES = ("cpu", "cuda", "auto")
_CUDA_INDEX = re.compile(r"^cuda:(\d+)$")


def resolve_device(device: object = "auto"):
    """Resolve ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'auto'`` to a ``torch.device``.

    ``'auto'`` means the first CUDA GPU when PyTorch sees one, else the CPU. Asking for CUDA
    on a machine without it fails here, with the reason, instead of deep inside a forward
    pass later.

    Raises
    ------
    InvalidParameterError
        ``device`` is not one of the valid names.
    DeviceNotAvailableError
        CUDA was asked for but this PyTorch cannot use it (no GPU, a CPU-only build, or an
        index past the number of GPUs).
    """
    import torch

    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise InvalidParameterError(
            f"device must be one of {', '.join(map(repr, VALID_DEVICES))}, "
            f"got {type(device).__name__} {device!r}")
    name = device.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    match = _CUDA_INDEX.match(name)
    if name == "cuda" or match:
        if not torch.cuda.is_available():
            build = (f"this PyTorch {torch.__version__} is a CPU-only build"
                     if torch.version.cuda is None
                     else f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU")
            raise DeviceNotAvailableError(
                f"device={device!r} was requested but {build}; use device='cpu', or "
                "device='auto' to take a GPU only when one is present")
        index = int(match.group(1)) if match else 0
        count = torch.cuda.device_count()
        if index >= count:
            raise DeviceNotAvailableError(
                f"device={device!r} was requested but only {count} CUDA device(s) exist "
                f"(valid: {', '.join(f'cuda:{i}' for i in range(count))})")
        return torch.device("cuda", index)
    raise InvalidParameterError(
        f"unknown device {device!r}{did_you_mean(device, VALID_DEVICES)} "
        f"(valid: {', '.join(map(repr, VALID_DEVICES))}, or 'cuda:N' for a given GPU)")
