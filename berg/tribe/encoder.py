"""The TRIBE v2 encoding model as BERG hands it to the user.

``BERG.get_encoding_model`` returns a :class:`TribeV2Model`: the selection is validated, the
device resolved and the weights found (or downloaded) and loaded before it returns, so that a
typo or a missing file is reported at once, not in the middle of a long encode.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from berg import cortex
from berg.devices import resolve_device
from berg.errors import InvalidParameterError, NotAvailableYetError, did_you_mean
from berg.metadata import model_metadata
from berg.registry import ModelCard
from berg.stimulus import check_stimulus_file

__all__ = ["TribeV2Model", "ENCODING_MODEL_OPTIONS"]

#: Keyword options of ``get_encoding_model`` besides ``selection`` and ``device``.
ENCODING_MODEL_OPTIONS = ("checkpoint_dir", "download", "revision", "show_progress")


class TribeV2Model:
    """A loaded TRIBE v2 model with its vertex selection and device.

    Use it with ``BERG.encode``. It can be used as a context manager; ``close()`` releases
    the brain model (and its GPU memory).

    Attributes
    ----------
    model_id : str
        The canonical model id.
    device : torch.device
        Where the models run.
    vertices : np.ndarray or None
        (n_selected,) int64 ascending vertex indices of the output columns; ``None`` means
        all 20,484 vertices.
    weights_dir : Path
        The folder that ``config.yaml`` and ``best.ckpt`` were loaded from.
    brain_model : torch.nn.Module or None
        The TRIBE v2 brain model (``None`` after ``close()``).
    """

    def __init__(
        self,
        card: ModelCard,
        berg_dir: str | os.PathLike,
        *,
        selection: dict | None = None,
        device: str = "auto",
        checkpoint_dir: str | os.PathLike | None = None,
        download: bool = True,
        revision: str | None = None,
        show_progress: bool = True,
    ):
        from berg.tribe.model import load_brain_model
        from berg.tribe.weights import locate_weights

        for name, value in [("download", download), ("show_progress", show_progress)]:
            if not isinstance(value, bool):
                raise InvalidParameterError(f"{name} must be True or False, got {value!r}")
        if revision is not None and not isinstance(revision, str):
            raise InvalidParameterError(f"revision must be a string, got {revision!r}")
        self.card = card
        self.model_id = card.model_id
        # Cheap checks first: a bad ROI name must not cost a 0.7 GB download.
        self.vertices = cortex.resolve_selection(selection)
        self.device = resolve_device(device)
        self.weights_dir = locate_weights(
            berg_dir, card.weights, checkpoint_dir=checkpoint_dir, download=download,
            revision=revision, show_progress=show_progress)
        self.brain_model = load_brain_model(self.weights_dir, device=self.device)

    @property
    def n_vertices(self) -> int:
        """Number of output columns."""
        return cortex.N_VERTICES if self.vertices is None else len(self.vertices)

    def encode(self, stimulus: str | os.PathLike, show_progress: bool = False) -> np.ndarray:
        """Predict the response to one stimulus file: float32 (n_seconds, n_vertices).

        The stimulus is checked (exists, non-empty, supported extension) before anything
        else. The feature extraction that follows is not part of this version yet.
        """
        self._check_open()
        path, kind = check_stimulus_file(stimulus)
        raise NotAvailableYetError(
            f"encoding a {kind} stimulus ({path.name}) needs the stimulus decoding and feature "
            "extraction stages, which this version of berg does not include yet; the brain "
            "model itself is loaded and usable as model.brain_model")

    def metadata(self) -> dict[str, Any]:
        """The model's BERG metadata plus this instance's selection and device."""
        meta = model_metadata(self.card)
        vertices = (np.arange(cortex.N_VERTICES, dtype=np.int64) if self.vertices is None
                    else self.vertices.copy())
        meta["selection"] = {"vertices": vertices, "n_vertices": len(vertices),
                             "all_vertices": self.vertices is None}
        meta["model"]["device"] = str(self.device)
        meta["model"]["weights_dir"] = str(self.weights_dir)
        return meta

    def close(self) -> None:
        """Release the brain model and any GPU memory it held."""
        self.brain_model = None
        if self.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()

    def _check_open(self) -> None:
        if self.brain_model is None:
            raise InvalidParameterError(f"this {self.model_id} model was closed; load it again "
                                        "with BERG.get_encoding_model")

    def __enter__(self) -> TribeV2Model:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        columns = "all vertices" if self.vertices is None else f"{len(self.vertices)} vertices"
        state = "closed" if self.brain_model is None else str(self.device)
        return f"<TribeV2Model {self.model_id!r}: {columns}, {state}>"


def check_options(options: dict[str, Any]) -> None:
    """Reject keyword options that ``get_encoding_model`` does not know, suggesting a match."""
    for name in options:
        if name not in ENCODING_MODEL_OPTIONS:
            raise InvalidParameterError(
                f"unknown option {name!r}{did_you_mean(name, ENCODING_MODEL_OPTIONS)} "
                f"(valid: selection, device, {', '.join(ENCODING_MODEL_OPTIONS)})")
