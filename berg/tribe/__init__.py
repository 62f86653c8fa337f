"""TRIBE v2: the brain model, its configuration and its checkpoint.

config      the checkpoint's config.yaml: sizes, layer fractions, the brain model's shape
model       the brain model (an nn.Module whose attribute names are the checkpoint's keys)
checkpoint  strict loading of config.yaml + best.ckpt into it
weights     finding or downloading config.yaml and best.ckpt
binning     timed features into the model's 100 s windows of 2 Hz bins, output rows
predict     windows through the model, rows of the response
"""

from berg.tribe.config import BrainModelConfig, read_tribe_config

__all__ = [
    "BrainModelConfig",
    "TribeBrainModel",
    "build_brain_model",
    "load_brain_model",
    "read_tribe_config",
]

_LAZY = {"TribeBrainModel": "model", "build_brain_model": "model", "load_brain_model": "checkpoint"}


def __getattr__(name: str):
    # The model imports torch; keep `import berg.tribe.weights` (finding files) cheap.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"berg.tribe.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'berg.tribe' has no attribute {name!r}")
