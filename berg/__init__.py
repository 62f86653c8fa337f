"""berg: in silico fMRI with TRIBE v2 behind the BERG interface."""

from berg.api import BERG
from berg.errors import (
    BERGError,
    DeviceNotAvailableError,
    FeatureCacheError,
    InvalidParameterError,
    MetadataError,
    MissingDependencyError,
    ModelLoadError,
    ModelNotFoundError,
    ResultWriteError,
    StimulusError,
)
from berg.version import __version__

__all__ = [
    "BERG",
    "BERGError",
    "DeviceNotAvailableError",
    "FeatureCacheError",
    "InvalidParameterError",
    "MetadataError",
    "MissingDependencyError",
    "ModelLoadError",
    "ModelNotFoundError",
    "ResultWriteError",
    "StimulusError",
    "__version__",
]
