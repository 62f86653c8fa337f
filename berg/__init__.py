"""berg: in silico fMRI with TRIBE v2 behind the BERG interface."""

from berg.api import BERG
from berg.errors import (
    BERGError,
    DeviceNotAvailableError,
    InvalidParameterError,
    MissingDependencyError,
    ModelLoadError,
    ModelNotFoundError,
    StimulusError,
)

__version__ = "0.1.0"

__all__ = [
    "BERG",
    "BERGError",
    "DeviceNotAvailableError",
    "InvalidParameterError",
    "MissingDependencyError",
    "ModelLoadError",
    "ModelNotFoundError",
    "StimulusError",
    "__version__",
]

