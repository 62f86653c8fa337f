"""Placing timed features into TRIBE v2's 100 s windows of 2 Hz bins, exactly as the reference.

The reference (neuralset 0.0.2) cuts the stimulus timeline into windows of 100 s (stride
100 s, no overlap, starting at the earliest event: 0 for a stimulus file) and fills each
window's ``(L, D, 200)`` array with every event of a modality, in two steps:

1. **Which events enter a window** (``Segment.ns_events``): those that overlap it strictly,
   ``event.start < window_stop and event.start + event.duration > window_start``, using the
   event's own duration. So an event that only touches a window edge is left out, and so is a
   zero-duration word lying exactly on a window boundary (in neither window).
2. **Where it lands** (``TimedArray.__iadd__``): take the overlap ``[o0, o1]`` of the window's
   span and the feature's span (a word: its event span; an audio/video chunk: ``n`` bins from
   its start, i.e. ``n / 2`` seconds, a little more or less than the event's duration). In
   each of the two arrays, the slice starts at ``round(2 * (o0 - own start))`` and is
   ``max(1, round(2 * (o1 - o0)))`` bins long, and if it would run past the end of that array
   it is moved left to end on its last bin. Python's ``round`` is half-to-even
   (0.25 s -> bin 0, 0.75 s -> bin 2). A word's vector is added to every bin of its slice;
   a chunk's bins are added bin for bin. Everything is summed (words sharing a bin add up).

Worked examples: a word at 0.54 s lasting 0.3 s lands in bin 1 (start round(1.08) = 1,
length max(1, round(0.6)) = 1); one at 1.8 s lasting 0.8 s fills bins 4-5 (round(3.6) = 4,
round(1.6) = 2).

The reference's audio and video extractors first cut their chunk to the window
(``TimedArray.overlap``) and then add the cut. That gives the same bins as the one-step rule
used here: checked against neuralset 0.0.2's ``TimedArray`` on thousands of random words and
chunks, on and off the 0.5 s grid, bit for bit (events added in start order, as the reference).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from berg.errors import InvalidParameterError, format_choices
from berg.features.timed import FEATURE_FREQUENCY, TimedFeature

__all__ = [
    "WINDOW_SECONDS",
    "place",
    "window_starts",
    "iter_windows",
    "assemble_windows",
    "output_rows",
    "row_times",
]

#: Length and stride of the brain model's windows (seconds): 100 TRs of 1 s.
WINDOW_SECONDS = 100.0
#: The reference's tolerance when counting windows (``neuralset.segments``).
_COUNT_TOLERANCE = 1e-9


def _slice(
    overlap_start: float, overlap_stop: float, own_start: float, size: int, frequency: float
) -> slice:
    """The bins of an array (``size`` bins from ``own_start``) covered by an overlap."""
    start = round((overlap_start - own_start) * frequency)
    length = max(1, round((overlap_stop - overlap_start) * frequency))
    if start > size - length:  # right edge: keep the length, move the start back
        start = size - length
    return slice(start, start + length)


def _check_feature(feature: TimedFeature) -> None:
    if not (math.isfinite(feature.start) and math.isfinite(feature.duration)):
        raise InvalidParameterError(
            f"a feature needs a finite start and duration, got "
            f"start={feature.start!r}, duration={feature.duration!r}"
        )
    if feature.duration < 0:
        raise InvalidParameterError(f"a feature's duration must be >= 0, got {feature.duration}")
    if feature.data.ndim not in (2, 3) or (feature.data.ndim == 3 and feature.data.shape[-1] < 1):
        raise InvalidParameterError(
            f"feature data must be (L, D) or (L, D, n >= 1), got shape {feature.data.shape}"
        )


def place(
    window: np.ndarray,
    window_start: float,
    feature: TimedFeature,
    frequency: float = FEATURE_FREQUENCY,
) -> None:
    """Add one feature into one window, in place, by the reference's rule (module docstring).

    Parameters
    ----------
    window : np.ndarray, shape (L, D, T)
        The window's bins; ``T / frequency`` seconds from ``window_start``. Modified in place.
    window_start : float
        Seconds on the stimulus clock.
    feature : TimedFeature
        ``(L, D)`` static data (added to every bin of its slice) or ``(L, D, n)`` bins at
        ``frequency`` (added bin for bin).
    frequency : float
        Bins per second of both the window and the feature (2 Hz for TRIBE v2).

    Notes
    -----
    An event that does not overlap the window strictly adds nothing (see the module
    docstring for zero-duration words on a boundary).
    """
    if window.ndim != 3:
        raise InvalidParameterError(f"a window is (L, D, T), got shape {window.shape}")
    if not frequency > 0:
        raise InvalidParameterError(f"frequency must be > 0 Hz, got {frequency!r}")
    _check_feature(feature)
    if feature.data.shape[:2] != window.shape[:2]:
        raise InvalidParameterError(
            f"feature (L, D) = {feature.data.shape[:2]} does not match "
            f"the window's {window.shape[:2]}"
        )
    size = window.shape[-1]
    window_stop = window_start + size / frequency
    # 1. the segment's event filter: strict overlap with the event's own span
    if not (feature.start < window_stop and feature.start + feature.duration > window_start):
        return
    # 2. TimedArray +=: overlap of the two arrays' spans
    span = feature.duration if feature.is_static else feature.data.shape[-1] / frequency
    overlap_start = max(feature.start, window_start)
    overlap_stop = min(feature.start + span, window_stop)
    if overlap_stop < overlap_start or (overlap_stop == overlap_start and span > 0):
        return
    target = _slice(overlap_start, overlap_stop, window_start, size, frequency)
    if feature.is_static:
        window[..., target] += feature.data[..., None]
    else:
        source = _slice(
            overlap_start, overlap_stop, feature.start, feature.data.shape[-1], frequency
        )
        window[..., target] += feature.data[..., source]


def window_starts(
    duration: float, *, window_seconds: float = WINDOW_SECONDS, start: float = 0.0
) -> np.ndarray:
    """Start times (seconds) of the windows covering ``[start, start + duration)``.

    ``ceil(duration / window_seconds)`` windows (the reference's count, with its 1e-9
    tolerance), at least one, ``window_seconds`` apart.

    Examples
    --------
    >>> window_starts(250.0).tolist()
    [0.0, 100.0, 200.0]
    """
    if not (math.isfinite(duration) and duration >= 0):
        raise InvalidParameterError(
            f"duration must be a finite number of seconds >= 0, got {duration!r}"
        )
    if not (math.isfinite(window_seconds) and window_seconds > 0):
        raise InvalidParameterError(f"window_seconds must be > 0, got {window_seconds!r}")
    count = max(1, math.ceil(duration / window_seconds - _COUNT_TOLERANCE))
    return start + np.arange(count) * float(window_seconds)


def _bins_per_window(window_seconds: float, frequency: float) -> int:
    if not frequency > 0:
        raise InvalidParameterError(f"frequency must be > 0 Hz, got {frequency!r}")
    bins = window_seconds * frequency
    if abs(bins - round(bins)) > 1e-9 or round(bins) < 1:
        raise InvalidParameterError(
            f"a window of {window_seconds} s at {frequency} Hz is not a whole number of bins"
        )
    return int(round(bins))


def iter_windows(
    features: Mapping[str, Sequence[TimedFeature]],
    duration: float,
    *,
    feature_dims: Mapping[str, tuple[int, int]],
    window_seconds: float = WINDOW_SECONDS,
    frequency: float = FEATURE_FREQUENCY,
    start: float = 0.0,
) -> Iterator[dict[str, np.ndarray]]:
    """Yield the brain model's input one window at a time (bounded memory).

    Parameters
    ----------
    features : mapping of modality -> sequence of TimedFeature
        Each modality's features on the stimulus clock.
    duration : float
        Seconds of stimulus to cover (its span: for a stimulus file, the media duration).
    feature_dims : mapping of modality -> (L, D)
        The brain model's modalities and input sizes; the output follows its order.
    window_seconds, frequency : float
        100 s windows of 2 Hz bins for TRIBE v2.
    start : float
        Start of the first window (the earliest event; 0 for a stimulus file).

    Yields
    ------
    dict of str -> np.ndarray, float32, shape (L, D, T)
        One fresh array per present modality, ``T = window_seconds * frequency`` (200).
        A modality with no feature anywhere is absent from every window, so the brain model
        applies its missing-modality rule; a present modality with nothing in a window gets
        zeros there.
    """
    unknown = [m for m in features if m not in feature_dims]
    if unknown:
        raise InvalidParameterError(
            f"unknown modality {unknown[0]!r}; the brain model takes {format_choices(feature_dims)}"
        )
    n_bins = _bins_per_window(window_seconds, frequency)
    starts = window_starts(duration, window_seconds=window_seconds, start=start)

    present = {}
    for modality, dims in feature_dims.items():
        items = list(features.get(modality) or ())
        if not items:
            continue
        dims = tuple(int(d) for d in dims)
        for feature in items:
            _check_feature(feature)
            if feature.data.shape[:2] != dims:
                raise InvalidParameterError(
                    f"a {modality} feature has (L, D) = {feature.data.shape[:2]}; the brain "
                    f"model expects {dims}"
                )
        # The reference adds a window's events in start order (stable for ties).
        items.sort(key=lambda f: f.start)
        event_starts = np.array([f.start for f in items], dtype=np.float64)
        event_stops = event_starts + np.array([f.duration for f in items], dtype=np.float64)
        present[modality] = (dims, items, event_starts, event_stops)

    for window_start in starts.tolist():
        window_stop = window_start + window_seconds
        window = {}
        for modality, (dims, items, event_starts, event_stops) in present.items():
            array = np.zeros((*dims, n_bins), dtype=np.float32)
            inside = np.flatnonzero((event_starts < window_stop) & (event_stops > window_start))
            for index in inside.tolist():
                place(array, window_start, items[index], frequency)
            window[modality] = array
        yield window


def assemble_windows(
    features: Mapping[str, Sequence[TimedFeature]],
    duration: float,
    *,
    feature_dims: Mapping[str, tuple[int, int]],
    window_seconds: float = WINDOW_SECONDS,
    frequency: float = FEATURE_FREQUENCY,
    start: float = 0.0,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """All windows at once (see `iter_windows` for the parameters).

    Returns
    -------
    windows : dict of str -> np.ndarray, float32, shape (n_windows, L, D, T)
        Present modalities only, in ``feature_dims`` order. Mind the size: a 2-hour stimulus
        is 72 windows, 350 MB for text alone; stream with `iter_windows` instead.
    starts : np.ndarray, shape (n_windows,)
        Window start times in seconds.
    """
    starts = window_starts(duration, window_seconds=window_seconds, start=start)
    out: dict[str, np.ndarray] = {}
    for k, window in enumerate(
        iter_windows(
            features,
            duration,
            feature_dims=feature_dims,
            window_seconds=window_seconds,
            frequency=frequency,
            start=start,
        )
    ):
        for modality, array in window.items():
            if modality not in out:
                out[modality] = np.zeros((len(starts), *array.shape), dtype=np.float32)
            out[modality][k] = array
    return out, starts


def output_rows(
    duration: float,
    *,
    n_windows: int | None = None,
    window_seconds: float = WINDOW_SECONDS,
    tr: float = 1.0,
) -> int:
    """How many output rows describe the stimulus: ``ceil(duration / tr)``.

    The reference keeps the 1 s steps ``[k, k + 1)`` that overlap an event; the media event
    spans the whole stimulus, so that is ``ceil(duration)`` rows (52.21 s -> 53,
    23.256 s -> 24, 53.0 s -> 53) out of the ``n_windows * 100`` the windows produce.

    Parameters
    ----------
    duration : float
        Seconds of stimulus.
    n_windows : int, optional
        When given, checks that the windows produce that many rows.
    """
    if not (math.isfinite(duration) and duration >= 0):
        raise InvalidParameterError(
            f"duration must be a finite number of seconds >= 0, got {duration!r}"
        )
    rows = math.ceil(duration / tr)
    if n_windows is not None:
        available = int(n_windows) * int(round(window_seconds / tr))
        if rows > available:
            raise InvalidParameterError(
                f"{duration} s needs {rows} rows but {n_windows} windows give only {available}"
            )
    return rows


def row_times(duration: float, *, tr: float = 1.0) -> np.ndarray:
    """Stimulus span of each output row: ``[[k * tr, (k + 1) * tr), ...]``, shape (n_rows, 2).

    Row ``k`` is the predicted BOLD response at ``k + 5`` s caused by the stimulus up to
    then (the training's hemodynamic offset, not applied at inference).
    """
    if not (math.isfinite(duration) and duration >= 0):
        raise InvalidParameterError(
            f"duration must be a finite number of seconds >= 0, got {duration!r}"
        )
    k = np.arange(math.ceil(duration / tr), dtype=np.float64)
    return np.stack([k * tr, (k + 1) * tr], axis=1)
