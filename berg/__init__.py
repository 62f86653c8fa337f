"""berg: in silico fMRI with TRIBE v2 behind the BERG interface."""

from berg.errors import (
    BERGError,
    DeviceNotAvailableError,
    InvalidParameterError,
    ModelLoadError,
    ModelNotFoundError,
    NotAvailableYetError,
    StimulusError,
)

__version__ = "0.1.0"

__all__ = [
    "BERG",
    "BERGError",
    "DeviceNotAvailableError",
    "InvalidParameterError",
    "ModelLoadError",
    "ModelNotFoundError",
    "NotAvailableYetError",
    "StimulusError",
    "__version__",
]


def __getattr__(name: str):
    # BERG imports torch; keep `import berg` cheap for code that only wants the errors.
    if name == "BERG":
        from berg.api import BERG

        return BERG
    raise AttributeError(f"module 'berg' has no attribute {name!r}")
