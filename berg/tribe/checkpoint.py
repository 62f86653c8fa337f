"""Strict loading of the released checkpoint (``config.yaml`` + ``best.ckpt``) into the
brain model: sizes from the files, weights memory-mapped, every key and shape checked."""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from berg.devices import resolve_device
from berg.errors import (
    InvalidParameterError,
    ModelLoadError,
    format_choices,
)
from berg.tribe.config import BrainModelConfig, read_tribe_config
from berg.tribe.model import TribeBrainModel, _check_feature_dims
from berg.validation import is_int

__all__ = ["CHECKPOINT_FILE", "CONFIG_FILE", "load_brain_model"]


CONFIG_FILE = "config.yaml"


CHECKPOINT_FILE = "best.ckpt"


def load_brain_model(
    checkpoint_dir: str | Path, device: str | torch.device = "cpu"
) -> TribeBrainModel:
    """Load the TRIBE v2 brain model from a directory holding config.yaml and best.ckpt.

    The sizes come from ``config.yaml`` (heads, ff_mult, ...) and the checkpoint's
    ``model_build_args`` (feature_dims, n_outputs, n_output_timesteps); the number of read-out
    rows from the checkpoint's ``predictor.weights``. The weights are memory-mapped and
    adopted without a copy (CPU), then loaded strictly: every key and shape must match.

    Parameters
    ----------
    checkpoint_dir : str or Path
        The directory (e.g. a Hugging Face snapshot of ``facebook/tribev2``).
    device : str or torch.device
        'cpu', 'cuda', 'cuda:N' or 'auto' (a GPU when PyTorch sees one).

    Returns
    -------
    TribeBrainModel
        In eval mode, on ``device``, in float32.

    Raises
    ------
    ModelLoadError
        A file is missing, truncated or corrupt, or does not describe the released
        architecture; the message names the file and the problem.
    InvalidParameterError
        ``device`` is not a valid name (DeviceNotAvailableError: CUDA requested, none here).
    """
    target = resolve_device(device)
    directory = Path(checkpoint_dir).expanduser()
    needed = f"a TRIBE v2 checkpoint directory must hold {CONFIG_FILE} and {CHECKPOINT_FILE}"
    if not directory.is_dir():
        raise ModelLoadError(f"checkpoint directory {directory} does not exist; {needed}")
    config_path, ckpt_path = directory / CONFIG_FILE, directory / CHECKPOINT_FILE
    missing = [p.name for p in (config_path, ckpt_path) if not p.is_file()]
    if missing:
        raise ModelLoadError(f"{directory} has no {' and no '.join(missing)}; {needed}")

    config = BrainModelConfig.from_config(read_tribe_config(config_path), source=config_path)
    state_dict, build_args = _read_checkpoint(ckpt_path)
    feature_dims, n_outputs, n_output_timesteps = _read_build_args(build_args, ckpt_path)
    n_rows = _predictor_rows(state_dict, ckpt_path)
    try:
        # Parameters on the meta device take no memory; load_state_dict(assign=True) then
        # adopts the (memory-mapped) checkpoint tensors instead of copying into fresh ones.
        with torch.device("meta"):
            model = TribeBrainModel(config, feature_dims, n_outputs, n_output_timesteps, n_rows)
    except InvalidParameterError as error:
        raise ModelLoadError(
            f"{config_path} and {ckpt_path} do not describe a valid TRIBE v2 model: {error}"
        ) from error
    _check_state_dict(model, state_dict, ckpt_path, config_path)
    model.load_state_dict(state_dict, strict=True, assign=True)
    return model.to(target).eval()


def _read_checkpoint(path: Path) -> tuple[dict[str, Tensor], Any]:
    """torch.load (weights only, memory-mapped) -> (state dict without 'model.', build args)."""
    try:
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception:
            if zipfile.is_zipfile(path):
                raise
            # Files saved in torch's legacy (non-zip) format cannot be memory-mapped.
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        if _is_weights_only_refusal(error, path):
            raise ModelLoadError(
                f"{path} holds objects other than tensors and plain data; berg loads "
                f"checkpoints with weights_only=True and will not unpickle them"
                f"{_unsupported_global(error)}"
            ) from error
        size = path.stat().st_size if path.exists() else 0
        raise ModelLoadError(
            f"{path} could not be read as a torch checkpoint ({size} bytes; truncated or corrupt? "
            f"delete it and download it again): {_first_line(error)}"
        ) from error

    if not isinstance(ckpt, dict):
        raise ModelLoadError(
            f"{path} holds a {type(ckpt).__name__}; expected a Lightning checkpoint dict with "
            f"'state_dict' and 'model_build_args'"
        )
    for key in ("state_dict", "model_build_args"):
        if key not in ckpt:
            raise ModelLoadError(
                f"{path} has no {key!r} entry (found: {format_choices(map(str, ckpt))}); "
                f"expected a TRIBE v2 Lightning checkpoint"
            )
    raw = ckpt["state_dict"]
    if not isinstance(raw, Mapping):
        raise ModelLoadError(f"{path}: 'state_dict' is a {type(raw).__name__}, not a mapping")
    # The Lightning module holds the network as `self.model`; other prefixes (metrics, losses)
    # are not part of it.
    state_dict = {}
    for key, value in raw.items():
        if isinstance(key, str) and key.startswith("model."):
            if not isinstance(value, Tensor):
                raise ModelLoadError(
                    f"{path}: state_dict[{key!r}] is a {type(value).__name__}, not a tensor"
                )
            # The release is float32; a checkpoint saved in another precision is converted
            # rather than silently changing the model's dtype.
            if value.dtype != torch.float32:
                value = value.float()
            state_dict[key.removeprefix("model.")] = value
    if not state_dict:
        raise ModelLoadError(f"{path}: no state_dict key starts with 'model.'")
    return state_dict, ckpt["model_build_args"]


def _read_build_args(build_args: Any, path: Path) -> tuple[dict[str, tuple[int, int]], int, int]:
    if not isinstance(build_args, Mapping):
        raise ModelLoadError(
            f"{path}: 'model_build_args' is a {type(build_args).__name__}; expected a dict "
            f"with feature_dims, n_outputs and n_output_timesteps"
        )
    for key in ("feature_dims", "n_outputs", "n_output_timesteps"):
        if key not in build_args:
            raise ModelLoadError(f"{path}: model_build_args has no {key!r}")
    feature_dims = build_args["feature_dims"]
    if isinstance(feature_dims, Mapping):
        for name, dims in feature_dims.items():
            if dims is None:
                raise ModelLoadError(
                    f"{path}: model_build_args['feature_dims'][{name!r}] is None (a modality "
                    f"without a projector); berg needs (n_layers, dim) for every modality"
                )
    try:
        feature_dims = _check_feature_dims(feature_dims)
    except InvalidParameterError as error:
        raise ModelLoadError(f"{path}: model_build_args: {error}") from error
    counts = []
    for key in ("n_outputs", "n_output_timesteps"):
        value = build_args[key]
        if not is_int(value, minimum=1):
            raise ModelLoadError(
                f"{path}: model_build_args[{key!r}] must be a positive integer, got {value!r}"
            )
        counts.append(value)
    return feature_dims, counts[0], counts[1]


def _predictor_rows(state_dict: Mapping[str, Tensor], path: Path) -> int:
    # The release resized the read-out to the single "average subject" row, so the subject
    # count in config.yaml need not match: the checkpoint decides.
    weights = state_dict.get("predictor.weights")
    if weights is None:
        raise ModelLoadError(f"{path}: state_dict has no 'model.predictor.weights'")
    if weights.ndim != 3 or weights.shape[0] < 1:
        raise ModelLoadError(
            f"{path}: 'model.predictor.weights' has shape {list(weights.shape)}; expected "
            f"(n_subjects, in, out)"
        )
    return int(weights.shape[0])


def _check_state_dict(
    model: nn.Module, state_dict: Mapping[str, Tensor], ckpt_path: Path, config_path: Path
) -> None:
    """Name what does not match, which load_state_dict would report less readably."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s): {format_choices(missing, limit=6)}")
        if unexpected:
            parts.append(
                f"unexpected {len(unexpected)} key(s): {format_choices(unexpected, limit=6)}"
            )
        raise ModelLoadError(
            f"{ckpt_path} does not match the TRIBE v2 brain model described by {config_path}: "
            f"{'; '.join(parts)} (keys without the 'model.' prefix)"
        )
    wrong = [
        f"{k}: checkpoint {list(state_dict[k].shape)}, expected {list(shape)}"
        for k, shape in expected.items()
        if tuple(state_dict[k].shape) != shape
    ]
    if wrong:
        shown = "; ".join(wrong[:6]) + (f"; ... ({len(wrong) - 6} more)" if len(wrong) > 6 else "")
        raise ModelLoadError(
            f"{ckpt_path} has tensors whose shapes do not match {config_path} and the "
            f"checkpoint's model_build_args: {shown}"
        )


def _is_weights_only_refusal(error: BaseException, path: Path) -> bool:
    # A complete archive whose pickle names a class: torch's weights-only unpickler refused it.
    # (Garbage or a truncated file can fail inside the same unpickler; that is corruption.)
    return (
        isinstance(error, pickle.UnpicklingError)
        and "weights only load failed" in str(error).lower()
        and zipfile.is_zipfile(path)
    )


def _unsupported_global(error: BaseException) -> str:
    for line in str(error).splitlines():
        if "Unsupported global" in line:
            return f" ({line.strip()})"
    return ""


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
