"""Reading a local transformers folder: its presence, its config, its weights, with errors
that name the folder (used by :class:`berg.features.extractor.FeatureExtractor`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from berg.errors import ModelLoadError

__all__ = ["check_model_folder", "load_config", "load_pretrained"]


def check_model_folder(model_dir: Path, kind: str, expected: str) -> None:
    """Fail with a clear message unless ``model_dir`` is a folder.

    Parameters
    ----------
    model_dir : Path
    kind : str
        'text', 'audio' or 'video', for the messages.
    expected : str
        What the folder should hold, e.g. ``'a Llama model'``.

    Raises
    ------
    ModelLoadError
    """
    if not model_dir.is_dir():
        raise ModelLoadError(
            f"{kind} model folder {str(model_dir)!r} does not exist "
            f"(expected a transformers folder of {expected})"
        )


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
        raise ModelLoadError(
            f"cannot read the {kind} model config in {str(model_dir)!r}: {error}"
        ) from error


def load_pretrained(
    model_class,
    model_dir: Path,
    *,
    kind: str,
    dtype,
    device,
    quiet: bool = False,
    check_info: Callable[[dict], None] | None = None,
):
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
        loaded = model_class.from_pretrained(model_dir, dtype=dtype, local_files_only=True, **extra)
    except Exception as error:  # transformers raises many kinds
        raise ModelLoadError(
            f"cannot load the {kind} model in {str(model_dir)!r} "
            f"(config.json and *.safetensors weights expected): "
            f"{error}"
        ) from error
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if check_info is None:
        model = loaded
    else:
        model, info = loaded
        check_info(info)
    return model.to(device).eval()
