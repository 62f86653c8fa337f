"""Turning the user's ``device`` argument into a device, or a clear error now.

`parse_device` checks the spelling (``'auto'``, ``'cpu'``, ``'cuda'``, ``'cuda:N'``) for every
part of berg; `resolve_device` then asks PyTorch what is there. The speech recogniser asks
CTranslate2 instead (:func:`berg.stimulus.transcribe.models.resolve_asr_device`), which may see
GPUs that this PyTorch build cannot use, or the other way round.
"""

from __future__ import annotations

import re
import sys

from berg.errors import DeviceNotAvailableError, InvalidParameterError, did_you_mean, format_choices

__all__ = ["VALID_DEVICES", "parse_device", "resolve_device"]

VALID_DEVICES = ("cpu", "cuda", "auto")
_CUDA_INDEX = re.compile(r"^cuda:(\d+)$")


def parse_device(device: object, name: str = "device") -> tuple[str, int | None]:
    """Check a device argument's spelling, without asking any library what is present.

    Parameters
    ----------
    device : str or torch.device
        ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'`` (any case, spaces around ignored).
    name : str
        The argument's name, for the messages (``'asr_device'``...).

    Returns
    -------
    (kind, index)
        ``kind`` is ``'auto'``, ``'cpu'`` or ``'cuda'``; ``index`` the GPU number given with
        ``'cuda:N'``, else None.

    Raises
    ------
    InvalidParameterError
        Not a string or ``torch.device``, or an unknown name (with the closest valid one).
    """
    torch = sys.modules.get("torch")  # a torch.device can only exist once torch is imported
    if torch is not None and isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise InvalidParameterError(
            f"{name} must be one of {format_choices(VALID_DEVICES)}, or 'cuda:N' for a given "
            f"GPU, got {type(device).__name__} {device!r}"
        )
    text = device.strip().lower()
    if text in VALID_DEVICES:
        return text, None
    match = _CUDA_INDEX.match(text)
    if match:
        return "cuda", int(match.group(1))
    hint = "; did you mean 'cuda'?" if text == "gpu" else did_you_mean(text, VALID_DEVICES)
    raise InvalidParameterError(
        f"unknown {name} {device!r}{hint} "
        f"(valid: {format_choices(VALID_DEVICES)}, or 'cuda:N' for a "
        "given GPU)"
    )


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

    kind, index = parse_device(device)
    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        build = (
            f"this PyTorch {torch.__version__} is a CPU-only build"
            if torch.version.cuda is None
            else f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU"
        )
        raise DeviceNotAvailableError(
            f"device={device!r} was requested but {build}; use device='cpu', or "
            "device='auto' to take a GPU only when one is present"
        )
    index = index or 0
    count = torch.cuda.device_count()
    if index >= count:
        raise DeviceNotAvailableError(
            f"device={device!r} was requested but only {count} CUDA device(s) exist "
            f"(valid: {', '.join(f'cuda:{i}' for i in range(count))})"
        )
    return torch.device("cuda", index)
