"""What the feature extractors share: option checks, model loading, release, folder digest.

The text, audio and video extractors each take a local transformers folder, check their
common options when they are built, load the model on first use in an explicit dtype,
identify the folder by its content for the feature cache, and can release the model again.
Those steps are written once here, so that the three behave, and fail, the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from berg.errors import InvalidParameterError, ModelLoadError
from berg.features.layers import LayerSelection

__all__ = ["ModelHolder", "check_extractor_options", "check_model_folder", "load_config",
           "load_pretrained"]


def check_extractor_options(model_dir: object, dtype: object, layers: object):
    """Check the options every extractor takes, before its own ones.

    The device is not checked here: each extractor resolves it after its own options, so
    that a call with several bad options reports the same one as ever.

    Parameters
    ----------
    model_dir : str or os.PathLike
        The model folder (whether it exists is checked when the model is needed).
    dtype : torch.dtype or None
        A floating dtype; None means float32.
    layers : LayerSelection

    Returns
    -------
    torch.dtype
        The dtype to load the model in.

    Raises
    ------
    InvalidParameterError
        The first option that is not valid.
    """
    import torch

    if not isinstance(model_dir, (str, os.PathLike)):
        raise InvalidParameterError(f"model_dir must be a folder path, got {model_dir!r}")
    dtype = torch.float32 if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise InvalidParameterError(f"dtype must be a floating torch.dtype (torch.float32, "
                                    f"torch.bfloat16, torch.float16), got {dtype!r}")
    if not isinstance(layers, LayerSelection):
        raise InvalidParameterError(f"layers must be a LayerSelection, got {layers!r}")
    return dtype


def check_model_folder(model_dir: Path, kind: str, expected: str, *,
                       config_json: bool = True) -> None:
    """Fail with a clear message unless ``model_dir`` is a folder (with a ``config.json``).

    Parameters
    ----------
    model_dir : Path
    kind : str
        'text', 'audio' or 'video', for the messages.
    expected : str
        What the folder should hold, e.g. ``'a Llama model'``.
    config_json : bool
        Also require ``config.json``; False for a caller that checks its files itself.

    Raises
    ------
    ModelLoadError
    """
    if not model_dir.is_dir():
        raise ModelLoadError(f"{kind} model folder {str(model_dir)!r} does not exist "
                             f"(expected a transformers folder of {expected})")
    if config_json and not (model_dir / "config.json").is_file():
        raise ModelLoadError(f"{kind} model folder {str(model_dir)!r} has no "
                             "config.json: it must be a transformers model folder "
                             "(save_pretrained or a Hub snapshot)")


def load_config(model_dir: Path, kind: str):
    """The transformers config of a local model folder, read without loading the weights.

    Raises
    ------
    ModelLoadError
        Whatever transformers raised, with the folder named.
    """
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model_dir, local_files_only=True)
    except Exception as error:  # transformers raises many kinds
        raise ModelLoadError(f"cannot read the {kind} model config in "
                             f"{str(model_dir)!r}: {error}") from error


def load_pretrained(model_class, model_dir: Path, *, kind: str, dtype, device,
                    quiet: bool = False, check_info: Callable[[dict], None] | None = None):
    """``model_class.from_pretrained`` on a local folder, in ``dtype``, in eval mode on ``device``.

    Parameters
    ----------
    model_class : type
        A transformers model class (``AutoModel``, ``Wav2Vec2BertModel``...).
    model_dir : Path
    kind : str
        'text', 'audio' or 'video', for the error message.
    dtype : torch.dtype
        Always passed: without it transformers 5 loads the checkpoint's own dtype (bfloat16
        for Llama 3.2) where transformers 4 loaded float32.
    device : torch.device
    quiet : bool
        Hide transformers' "Loading weights" progress bars while loading (restored after).
    check_info : callable(dict), optional
        Called with transformers' loading info (``missing_keys``...) before the model moves
        to the device: transformers fills weights missing from the files with random ones
        and goes on, so a caller that must not run on those raises here.

    Returns
    -------
    The model, on ``device``, in eval mode.

    Raises
    ------
    ModelLoadError
        Whatever transformers raised, with the folder named.
    """
    bars = False
    if quiet:
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
    extra = {} if check_info is None else {"output_loading_info": True}
    try:
        loaded = model_class.from_pretrained(model_dir, dtype=dtype, local_files_only=True,
                                             **extra)
    except Exception as error:  # transformers raises many kinds
        raise ModelLoadError(f"cannot load the {kind} model in {str(model_dir)!r} "
                             f"(config.json and *.safetensors weights expected): "
                             f"{error}") from error
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if check_info is None:
        model = loaded
    else:
        model, info = loaded
        check_info(info)
    return model.to(device).eval()


class ModelHolder:
    """Mixin for an extractor whose model is loaded on first use into ``self._model``, on
    ``self.device``: `close` gives it back."""

    #: Attributes loaded with the model (a tokenizer...) that `close` drops as well.
    _released_with_model: tuple[str, ...] = ()

    @property
    def numerics(self) -> dict:
        """How this extractor reproduces the reference where there is a choice (for the
        encode metadata); empty when there is none."""
        return {}

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (it loads on first use)."""
        return self._model is not None

    def load(self) -> None:
        """Load the model (and what goes with it) now rather than on first use."""
        self.model  # noqa: B018 - the property loads it
        for name in self._released_with_model:
            getattr(self, name.removeprefix("_"))  # the public property that loads it

    def close(self) -> None:
        """Release the model (and what was loaded with it) and the GPU memory it held.

        It is loaded again if the extractor is used after this.
        """
        on_cuda = self._model is not None and self.device.type == "cuda"
        self._model = None
        for name in self._released_with_model:
            setattr(self, name, None)
        if on_cuda:
            # The cache allocator keeps freed blocks for reuse; hand them back to the GPU.
            import torch

            torch.cuda.empty_cache()
