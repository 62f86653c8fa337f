"""Turning the user's ``device`` argument into a device, or a clear error now.

`parse_device` checks the spelling (``'auto'``, ``'cpu'``, ``'cuda'``, ``'cuda:N'``,
``'mps'``) for every part of berg; `resolve_device` then asks PyTorch what is there:
``'auto'`` takes a CUDA GPU, else an Apple GPU (MPS), else the CPU. The speech recogniser
asks CTranslate2 instead (:func:`berg.stimulus.transcribe.models.resolve_asr_device`),
which may see GPUs that this PyTorch build cannot use, or the other way round, and has no
MPS: on a Mac it runs on the CPU.
"""

from __future__ import annotations

import re
import sys

from berg.errors import DeviceNotAvailableError, InvalidParameterError, did_you_mean, format_choices

__all__ = ["VALID_DEVICES", "mps_available", "parse_device", "resolve_device"]

VALID_DEVICES = ("cpu", "cuda", "mps", "auto")
_CUDA_INDEX = re.compile(r"^cuda:(\d+)$")


def parse_device(device: object, name: str = "device") -> tuple[str, int | None]:
    """Check a device argument's spelling, without asking any library what is present.

    Parameters
    ----------
    device : str or torch.device
        ``'auto'``, ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'mps'`` (any case, spaces around
        ignored; ``'mps:0'`` is ``'mps'``).
    name : str
        The argument's name, for the messages (``'asr_device'``...).

    Returns
    -------
    (kind, index)
        ``kind`` is ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'mps'``; ``index`` the GPU number
        given with ``'cuda:N'``, else None.

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
    if text == "mps:0":
        text = "mps"
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


def mps_available() -> bool:
    """Whether this PyTorch can use an Apple GPU (Metal Performance Shaders)."""
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: object = "auto"):
    """Resolve ``'cpu'``, ``'cuda'``, ``'cuda:N'``, ``'mps'`` or ``'auto'`` to a
    ``torch.device``.

    ``'auto'`` means the first CUDA GPU when PyTorch sees one, else the Apple GPU when it
    sees one, else the CPU. Asking for a GPU that is not there fails here, with the reason,
    instead of deep inside a forward pass later.

    Raises
    ------
    InvalidParameterError
        ``device`` is not one of the valid names.
    DeviceNotAvailableError
        CUDA or MPS was asked for but this PyTorch cannot use it (no GPU, a build without
        it, or an index past the number of GPUs).
    """
    import torch

    kind, index = parse_device(device)
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if mps_available() else "cpu")
    if kind == "cpu":
        return torch.device("cpu")
    if kind == "mps":
        if not mps_available():
            backend = getattr(torch.backends, "mps", None)
            built = backend is not None and backend.is_built()
            why = (
                "sees no Apple GPU (MPS needs Apple silicon or an AMD GPU and macOS 12.3 or later)"
                if built
                else "is built without MPS (Apple GPU) support"
            )
            raise DeviceNotAvailableError(
                f"device={device!r} was requested but PyTorch {torch.__version__} {why}; use "
                "device='cpu', or device='auto' to take a GPU only when one is present"
            )
        return torch.device("mps")
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
