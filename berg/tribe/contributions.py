"""What each modality adds to a prediction: the response minus the response without it.

TRIBE v2 was trained with modality dropout, and its rule for a modality that is absent is
zeros after that modality's projector. The contribution of modality m is therefore

    contribution_m = response(all modalities) - response(all but m, m by the rule)

computed from the same features (only the brain model runs again). Contributions are not
additive in general (the transformer mixes modalities), which is why each is measured
against the full response rather than against nothing. For a stimulus with one modality,
"without it" is the model's response to no input at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from berg.features.timed import TimedFeature
from berg.registry import MODALITIES
from berg.tribe.predict import predict_responses

__all__ = ["Contributions", "modality_contributions"]

#: The RGB map's channels: red text, green audio, blue video.
RGB_ORDER = ("text", "audio", "video")


@dataclass(frozen=True)
class Contributions:
    """Per-modality contributions to one stimulus's predicted response.

    Attributes
    ----------
    full : np.ndarray
        float32 (n_rows, n_columns): the response with every modality present.
    removed : dict of str to np.ndarray
        Per present modality, float32 (n_rows, n_columns): the response without it.
    """

    full: np.ndarray
    removed: dict[str, np.ndarray]

    @property
    def modalities(self) -> tuple[str, ...]:
        """The modalities the stimulus has, in the brain model's order."""
        return tuple(m for m in MODALITIES if m in self.removed)

    def timecourses(self) -> dict[str, np.ndarray]:
        """Per modality, float32 (n_rows, n_columns): ``full - removed[m]``."""
        return {m: self.full - self.removed[m] for m in self.modalities}

    def maps(self) -> dict[str, np.ndarray]:
        """Per modality, float32 (n_columns,): the mean absolute contribution over rows."""
        return {m: np.abs(c).mean(axis=0) for m, c in self.timecourses().items()}

    def rgb(self) -> np.ndarray:
        """float32 (n_columns, 3) in [0, 1]: text, audio and video as red, green and blue.

        Each channel is the modality's mean absolute contribution divided by the largest
        value any modality reaches at any vertex, so that the channels keep their relative
        sizes (a vertex driven by video alone is blue, by all three equally grey-white). A
        modality the stimulus lacks is a zero channel.
        """
        maps = self.maps()
        n_columns = self.full.shape[1]
        stacked = np.stack(
            [maps.get(m, np.zeros(n_columns, np.float32)) for m in RGB_ORDER], axis=1
        )
        peak = float(stacked.max()) if stacked.size else 0.0
        return (stacked / peak if peak > 0 else stacked).astype(np.float32)

    def json_summary(self) -> dict:
        """What a result's JSON keeps of them (the arrays go into their own files)."""
        return {
            "modalities": list(self.modalities),
            "shares": self.shares(),
            "method": "response minus the response with the modality removed (zeros after "
            "its projector, the model's missing-modality rule)",
        }

    def shares(self) -> dict[str, float]:
        """Per modality, its part of the summed mean absolute contributions (sums to 1)."""
        totals = {m: float(v.sum()) for m, v in self.maps().items()}
        whole = sum(totals.values())
        return {m: (t / whole if whole > 0 else 0.0) for m, t in totals.items()}


def modality_contributions(
    brain_model,
    features: Mapping[str, Sequence[TimedFeature]],
    duration: float,
    *,
    columns: np.ndarray | None = None,
    batch_size: int = 4,
    full: np.ndarray | None = None,
) -> Contributions:
    """The response to a stimulus, and the response without each of its modalities.

    Parameters
    ----------
    brain_model, features, duration, columns, batch_size
        As for :func:`berg.tribe.predict.predict_responses`.
    full : np.ndarray, optional
        The response with every modality, when already computed (it is not run again).

    Returns
    -------
    Contributions
    """

    def predict(drop=()):
        return predict_responses(
            brain_model, features, duration, columns=columns, batch_size=batch_size, drop=drop
        )

    present = [m for m in MODALITIES if len(features.get(m, ()))]
    return Contributions(
        full=predict() if full is None else full,
        removed={m: predict(drop={m}) for m in present},
    )
