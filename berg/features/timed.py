"""The value type every feature extractor returns: features of one event on the stimulus clock."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FEATURE_FREQUENCY", "FeatureTiming", "TimedFeature", "as_float32", "n_bins"]

#: Feature rate of every modality (Hz): one bin per 0.5 s.
FEATURE_FREQUENCY = 2.0


def n_bins(duration: float) -> int:
    """Bins of a chunk of ``duration`` seconds: ``max(1, round(2 * duration))`` (Python
    rounding; the reference gives no bin to a chunk under 0.25 s, berg one)."""
    return max(1, round(FEATURE_FREQUENCY * duration))


class FeatureTiming:
    """What ``start``, ``duration`` and ``data`` tell of a feature: shared by
    :class:`TimedFeature` and the records read back from the cache
    (:class:`berg.features.pieces.CachedFeature`)."""

    __slots__ = ()

    @property
    def is_static(self) -> bool:
        """One vector for the event's whole span (a word), not 2 Hz bins."""
        return self.data.ndim == 2

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True, eq=False)  # eq=False: ndarray fields make == ambiguous
class TimedFeature(FeatureTiming):
    """Features of one event (a word, an audio chunk, a video chunk).

    Attributes
    ----------
    start, duration : float
        Seconds on the stimulus clock.
    data : np.ndarray, float32
        ``(L, D)`` for a static event (a word: one vector for its whole span), or
        ``(L, D, n)`` sampled at 2 Hz with ``n = max(1, round(2 * duration))`` bins for a
        dynamic one (an audio or video chunk). ``L`` is the number of layer groups.
    """

    start: float
    duration: float
    data: np.ndarray


def as_float32(features) -> list[TimedFeature]:
    """``features`` with float32 data, as the feature cache stores and returns them (those
    already float32 as they are)."""
    return [
        f
        if f.data.dtype == np.float32
        else TimedFeature(f.start, f.duration, f.data.astype(np.float32))
        for f in features
    ]
