"""The statistics of an in silico experiment: item responses at the haemodynamic peak, a
GLM of the predicted time courses, contrasts, and a table per area.

Time. TRIBE v2 was trained against fMRI shifted 5 s earlier, so row k of a prediction is
the BOLD signal measured at about k + 5 s (``metadata['timing']['hemodynamic_offset_s']``).
Every analysis here puts rows on that BOLD clock, row k at ``k + 0.5 + offset`` (the middle
of its second), so that the canonical HRF and a peak window "4 to 7 s after onset" mean
what they mean for measured fMRI.

The GLM is nilearn's: :func:`nilearn.glm.first_level.make_first_level_design_matrix` per
run (the events convolved with the HRF, a cosine drift), the runs stacked with a constant
each, :func:`nilearn.glm.first_level.run_glm` (OLS: the predictions have no scanner noise to
whiten) and :func:`nilearn.glm.contrasts.compute_contrast`.

Contrasts are written ``'A'`` (A against baseline), ``'A-B'`` and ``'A-others'`` (A against
the mean of the other conditions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from berg.errors import InvalidParameterError
from berg.experiments.design import Event, Run
from berg.validation import check_choice, is_number

__all__ = [
    "AnalysisOptions",
    "Contrast",
    "GlmFit",
    "baseline_rows",
    "bold_times",
    "contrast_weights",
    "fit_glm",
    "item_statistics",
    "parse_contrast",
    "peak_responses",
]


@dataclass(frozen=True)
class AnalysisOptions:
    """How an experiment is analysed.

    Attributes
    ----------
    offset : float or None
        Seconds between a row and the BOLD time it predicts; None: the model's (5 s).
    peak_window : (float, float)
        The item response is the mean over rows whose BOLD time is this many seconds after
        the item's onset (the haemodynamic peak).
    hrf_model : str
        nilearn's HRF: 'glover' (default), 'spm', or their derivative variants.
    drift_model : {'cosine', 'polynomial', None}
        nilearn's drift regressors per run.
    high_pass : float
        Hz, of the cosine drift.
    """

    offset: float | None = None
    peak_window: tuple[float, float] = (4.0, 7.0)
    hrf_model: str = "glover"
    drift_model: str | None = "cosine"
    high_pass: float = 0.01

    def __post_init__(self) -> None:
        if self.offset is not None and not is_number(self.offset):
            raise InvalidParameterError(f"offset must be seconds or None, got {self.offset!r}")
        window = self.peak_window
        if not (
            isinstance(window, (tuple, list))
            and len(window) == 2
            and all(is_number(v) for v in window)
            and window[0] < window[1]
        ):
            raise InvalidParameterError(
                f"peak_window must be (start, end) seconds after onset, start < end; got {window!r}"
            )
        object.__setattr__(self, "peak_window", (float(window[0]), float(window[1])))
        check_choice(
            "hrf_model",
            self.hrf_model,
            ("glover", "spm", "glover + derivative", "spm + derivative"),
        )
        check_choice("drift_model", self.drift_model, ("cosine", "polynomial", None))
        if not is_number(self.high_pass) or self.high_pass <= 0:
            raise InvalidParameterError(f"high_pass must be Hz > 0, got {self.high_pass!r}")


def bold_times(n_rows: int, offset: float) -> np.ndarray:
    """(n_rows,) float64: the BOLD time of each row, ``k + 0.5 + offset`` seconds."""
    return np.arange(n_rows, dtype=np.float64) + 0.5 + float(offset)


@dataclass(frozen=True)
class Contrast:
    """A parsed contrast: ``positive`` minus the mean of ``negative`` (empty: baseline)."""

    text: str
    positive: str
    negative: tuple[str, ...]


def parse_contrast(text: object, conditions: Sequence[str]) -> Contrast:
    """``'A'``, ``'A-B'`` or ``'A-others'`` over ``conditions``, checked.

    Raises
    ------
    InvalidParameterError
        Not of that form, or a condition that is not one (with the close match).
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidParameterError(f"a contrast is written 'A', 'A-B' or 'A-others'; got {text!r}")
    left, _, right = text.strip().partition("-")
    positive = check_choice("contrast condition", left.strip(), tuple(conditions))
    right = right.strip()
    if not _:
        negative = ()
    elif right in ("others", "rest"):
        negative = tuple(c for c in conditions if c != positive)
        if not negative:
            raise InvalidParameterError(f"{text!r}: there is no other condition")
    else:
        negative = (check_choice("contrast condition", right, tuple(conditions)),)
        if negative == (positive,):
            raise InvalidParameterError(f"{text!r} compares a condition with itself")
    return Contrast(text.strip(), positive, negative)


def contrast_weights(contrast: Contrast, columns: Sequence[str]) -> np.ndarray:
    """The contrast's weights over a design matrix's columns (condition columns only)."""
    weights = np.zeros(len(columns))
    names = list(columns)
    weights[names.index(contrast.positive)] = 1.0
    for condition in contrast.negative:
        weights[names.index(condition)] = -1.0 / len(contrast.negative)
    return weights


def peak_responses(
    responses: Sequence[np.ndarray], runs: Sequence[Run], options: AnalysisOptions, offset: float
) -> tuple[list[Event], np.ndarray]:
    """Each event's response: the mean of its rows inside the peak window.

    Parameters
    ----------
    responses : sequence of np.ndarray
        Per run, (n_rows, n_columns).
    runs : sequence of Run
    options : AnalysisOptions
    offset : float
        Seconds from a row to its BOLD time.

    Returns
    -------
    events : list of Event
        In run and time order.
    peaks : np.ndarray
        float32 (n_events, n_columns).

    Raises
    ------
    InvalidParameterError
        An event whose window holds no row (it ends after the run).
    """
    events, peaks = [], []
    start, end = options.peak_window
    for run, values in zip(runs, responses):
        times = bold_times(len(values), offset)
        for event in run.events:
            rows = (times >= event.onset + start) & (times <= event.onset + end)
            if not rows.any():
                raise InvalidParameterError(
                    f"the peak window of {event.item} (run {run.index + 1}, onset "
                    f"{event.onset:g} s) holds no row: the run ends first; lengthen the "
                    "design's baseline or move the window"
                )
            events.append(event)
            peaks.append(values[rows].mean(axis=0))
    return events, np.stack(peaks).astype(np.float32)


def baseline_rows(n_rows: int, run: Run, offset: float, *, settle: float = 12.0) -> np.ndarray:
    """(n_rows,) bool: rows whose BOLD time is before the first onset or ``settle`` s past
    the last item's end: what the model predicts with nothing to respond to."""
    times = bold_times(n_rows, offset)
    first = min(e.onset for e in run.events)
    last = max(e.onset + e.duration for e in run.events)
    return (times < first) | (times > last + settle)


@dataclass(frozen=True)
class GlmFit:
    """nilearn's GLM of the stacked runs: ``labels`` and ``results`` as ``run_glm`` gives
    them, the design matrix, and the conditions (its first columns)."""

    labels: np.ndarray
    results: dict
    design: object  # pandas.DataFrame
    conditions: tuple[str, ...]

    def contrast(self, contrast: Contrast) -> dict[str, np.ndarray]:
        """``effect``, ``t``, ``p`` (two-sided, as the item statistics' are) and ``z`` (of
        nilearn's one-sided p, effect > 0) per column."""
        from nilearn.glm.contrasts import compute_contrast
        from scipy import stats

        weights = contrast_weights(contrast, list(self.design.columns))
        found = compute_contrast(self.labels, self.results, weights, stat_type="t")
        t = np.asarray(found.stat(), np.float64).ravel()
        # From |t| (not 1 - p): a strongly negative effect keeps its small p.
        two_sided = 2 * stats.t.sf(np.abs(t), found.dof)
        return {
            "effect": np.asarray(found.effect_size()).ravel().astype(np.float32),
            "t": t.astype(np.float32),
            "p": np.minimum(1.0, two_sided),
            "z": np.asarray(found.z_score()).ravel().astype(np.float32),
        }


def design_matrix(runs: Sequence[Run], n_rows: Sequence[int], options: AnalysisOptions, offset):
    """The stacked design: the conditions' regressors, then per run its drifts and constant."""
    import pandas as pd
    from nilearn.glm.first_level import make_first_level_design_matrix

    conditions = sorted({e.condition for run in runs for e in run.events})
    blocks = []
    for run, rows in zip(runs, n_rows):
        events = pd.DataFrame(
            {
                "onset": [e.onset for e in run.events],
                "duration": [e.duration for e in run.events],
                "trial_type": [e.condition for e in run.events],
            }
        )
        block = make_first_level_design_matrix(
            bold_times(rows, offset),
            events,
            hrf_model=options.hrf_model,
            drift_model=options.drift_model,
            high_pass=options.high_pass,
        )
        for condition in conditions:  # a run without a condition: a zero column
            if condition not in block:
                block[condition] = 0.0
        nuisance = [c for c in block.columns if c not in conditions]
        block = block[conditions + nuisance].rename(
            columns={c: f"run{run.index + 1}_{c}" for c in nuisance}
        )
        blocks.append(block.reset_index(drop=True))
    return pd.concat(blocks, ignore_index=True).fillna(0.0), tuple(conditions)


def fit_glm(
    responses: Sequence[np.ndarray], runs: Sequence[Run], options: AnalysisOptions, offset: float
) -> GlmFit:
    """Fit the GLM to the predicted time courses of every run (columns fitted at once)."""
    from nilearn.glm.first_level import run_glm

    design, conditions = design_matrix(runs, [len(r) for r in responses], options, offset)
    stacked = np.concatenate([np.asarray(r, np.float64) for r in responses])
    labels, results = run_glm(stacked, design.to_numpy(), noise_model="ols")
    return GlmFit(labels, results, design, conditions)


def item_statistics(
    peaks: np.ndarray,
    events: Sequence[Event],
    contrast: Contrast,
    baseline: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Item-level statistics of a contrast, per column.

    ``'A-B'`` and ``'A-others'``: Welch's t between A's items and the others' items, with
    Cohen's d (the pooled standard deviation). ``'A'``: a one-sample t of A's items
    against ``baseline`` (the model's response at rest), with d = mean / sd.

    Returns
    -------
    dict
        ``effect`` (difference of means), ``t``, ``p`` (two-sided), ``d``, per column;
        ``n`` (items on each side).
    """
    from scipy import stats

    conditions = np.array([e.condition for e in events])
    a = peaks[conditions == contrast.positive].astype(np.float64)
    if contrast.negative:
        b = peaks[np.isin(conditions, contrast.negative)].astype(np.float64)
        if len(a) < 2 or len(b) < 2:
            raise InvalidParameterError(
                f"{contrast.text!r} needs at least two items on each side for a t across "
                f"items; it has {len(a)} and {len(b)}"
            )
        t, p = stats.ttest_ind(a, b, equal_var=False, axis=0)
        pooled = np.sqrt(
            ((len(a) - 1) * a.var(0, ddof=1) + (len(b) - 1) * b.var(0, ddof=1))
            / (len(a) + len(b) - 2)
        )
        effect = a.mean(0) - b.mean(0)
        n = (len(a), len(b))
    else:
        if baseline is None:
            raise InvalidParameterError(
                f"{contrast.text!r} is against baseline, and the runs have no baseline rows "
                "(a design with baseline=0): compare it with another condition instead"
            )
        if len(a) < 2:
            raise InvalidParameterError(f"{contrast.text!r} needs at least two items")
        differences = a - np.asarray(baseline, np.float64)
        t, p = stats.ttest_1samp(differences, 0.0, axis=0)
        pooled = differences.std(0, ddof=1)
        effect = differences.mean(0)
        n = (len(a), 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(pooled > 0, effect / pooled, 0.0)
    return {
        "effect": effect.astype(np.float32),
        "t": np.nan_to_num(t).astype(np.float32),
        "p": np.nan_to_num(p, nan=1.0),
        "d": d.astype(np.float32),
        "n": np.array(n),
    }
