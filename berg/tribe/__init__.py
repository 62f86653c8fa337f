"""TRIBE v2: the brain model, its configuration and its checkpoint.

    config   the checkpoint's config.yaml: sizes, layer fractions, the brain model's shape
    model    the brain model (an nn.Module whose attribute names are the checkpoint's keys)
    weights  finding or downloading config.yaml and best.ckpt
    binning  timed features into the model's 100 s windows of 2 Hz bins, output rows
    predict  windows through the model, rows of the response
"""

from berg.tribe.config import BrainModelConfig, read_tribe_config

__all__ = [
    "BrainModelConfig",
    "TribeBrainModel",
    "build_brain_model",
    "load_brain_model",
    "read_tribe_config",
]

_MODEL_NAMES = ("TribeBrainModel", "build_brain_model", "load_brain_model")


def __getattr__(name: str):
    # berg.tribe.model imports torch; keep `import berg.tribe.weights` (finding files) cheap.
    if name in _MODEL_NAMES:
        from berg.tribe import model

        return getattr(model, name)
    raise AttributeError(f"module 'berg.tribe' has no attribute {name!r}")
