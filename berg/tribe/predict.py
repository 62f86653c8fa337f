"""Features of a whole stimulus -> 100 s windows -> the brain model -> one row per second.

Windows are independent (docs/inference.md, section 3): 200 bins of 0.5 s each, stride 100 s,
the last one padded with zeros; the model turns each into 100 rows, and the rows past the
stimulus are dropped, leaving ``ceil(duration)`` rows. Windows are streamed through the model
a batch at a time, so memory does not grow with the stimulus length.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

import numpy as np

from berg.errors import InvalidParameterError
from berg.features.timed import TimedFeature
from berg.tribe.binning import iter_windows, output_rows

__all__ = ["predict_responses"]


def predict_responses(
    brain_model,
    features: Mapping[str, Sequence[TimedFeature]],
    duration: float,
    *,
    columns: np.ndarray | None = None,
    batch_size: int = 4,
    progress: Callable[[float], None] | None = None,
    drop: Collection[str] = (),
    out=None,
) -> np.ndarray:
    """Predict the cortical response to a stimulus from its features.

    Parameters
    ----------
    brain_model : TribeBrainModel
        From ``berg.tribe.load_brain_model``.
    features : Mapping[str, Sequence[TimedFeature]]
        Per modality, the stimulus's features; modalities absent here contribute zeros
        (the missing-modality rule).
    duration : float
        Seconds of stimulus.
    columns : np.ndarray, optional
        (n_selected,) vertex indices to keep; all vertices when None.
    batch_size : int
        Windows per forward pass.
    progress : callable(seconds), optional
        Called with the seconds of stimulus each batch covered.
    drop : collection of str
        Modalities whose features are given but treated as absent (the missing-modality
        rule: zeros after their projector), for the response with them removed.
    out : array-like, optional
        ``(ceil(duration), n_columns)``, written in order a batch of rows at a time
        (``out[a:b] = rows``): a :class:`berg.response_rows.RowWriter` puts them in a file
        as they are made. Default: a new array.

    Returns
    -------
    np.ndarray or ``out``
        float32 (ceil(duration), n_columns): row k is stimulus second [k, k+1).
    """
    import torch

    window_seconds = brain_model.n_output_timesteps  # 100 rows of 1 s per window
    n_rows = output_rows(duration)
    n_columns = brain_model.n_outputs if columns is None else len(columns)
    if out is None:
        out = np.empty((n_rows, n_columns), np.float32)
    elif tuple(out.shape) != (n_rows, n_columns):
        raise InvalidParameterError(
            f"out has shape {tuple(out.shape)}; this prediction is {(n_rows, n_columns)}"
        )
    index = None if columns is None else torch.as_tensor(columns, device=brain_model.device)
    present = {m: list(f) for m, f in features.items() if len(f)}
    dims = {m: brain_model.feature_dims[m] for m in present}

    row = 0
    batch: list[dict[str, np.ndarray]] = []

    def flush():
        nonlocal row
        inputs = {m: torch.from_numpy(np.stack([w[m] for w in batch])) for m in batch[0]}
        with torch.inference_mode():
            y = brain_model(inputs, index, drop=drop).transpose(1, 2)  # (B, 100, n_columns)
        y = y.reshape(-1, y.shape[-1]).float().cpu().numpy()
        keep = min(len(y), n_rows - row)
        out[row : row + keep] = y[:keep]
        row += keep
        if progress:
            progress(min(len(batch) * window_seconds, max(0.0, duration - (row - keep))))
        batch.clear()

    if not present:
        raise InvalidParameterError(
            "no features for any modality: a stimulus has at least audio or video"
        )
    for window in iter_windows(
        present, duration, window_seconds=float(window_seconds), feature_dims=dims
    ):
        batch.append(window)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return out
