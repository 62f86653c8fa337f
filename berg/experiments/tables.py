"""An experiment's tables: one row per Glasser area per contrast, and the event table.

The area table of a contrast gives, per area, the GLM on the area's mean time course
(effect, t, two-sided p, and p corrected for the false discovery rate across the areas by
Benjamini-Hochberg) and the item-level statistics on the area's mean item responses (the
difference of means, t, two-sided p, FDR-corrected p, Cohen's d).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from berg.cortex import area_means
from berg.experiments.analysis import Contrast, fit_glm, item_statistics
from berg.experiments.design import Event
from berg.files import atomic_open

__all__ = ["AREA_COLUMNS", "area_table", "write_csv", "write_events"]

AREA_COLUMNS = (
    "area",
    "n_vertices",
    "glm_effect",
    "glm_t",
    "glm_p",
    "glm_p_fdr",
    "item_effect",
    "item_t",
    "item_p",
    "item_p_fdr",
    "cohens_d",
)


def _fdr(p: np.ndarray) -> np.ndarray:
    from scipy.stats import false_discovery_control

    p = np.clip(np.nan_to_num(np.asarray(p, np.float64), nan=1.0), 0.0, 1.0)
    return false_discovery_control(p, method="bh") if len(p) else p


def area_table(
    contrast: Contrast,
    responses: Sequence[np.ndarray],
    runs,
    peaks: np.ndarray,
    events: Sequence[Event],
    vertices: np.ndarray,
    options,
    offset: float,
    baseline: np.ndarray | None,
) -> list[dict]:
    """One row per area with selected vertices, sorted by the GLM's t (largest first)."""
    names, _ = area_means(peaks[0], vertices)
    run_means = [area_means(r, vertices)[1] for r in responses]
    glm = fit_glm(run_means, runs, options, offset).contrast(contrast)
    _, item_means = area_means(peaks, vertices)
    base = None if baseline is None else area_means(baseline, vertices)[1]
    items = item_statistics(item_means, events, contrast, base)
    from berg.cortex import load_parcellation

    parcellation = load_parcellation()
    assigned = parcellation.assignments[vertices]
    counts = {n: int((assigned == parcellation.roi_index[n]).sum()) for n in names}
    glm_fdr, item_fdr = _fdr(glm["p"]), _fdr(items["p"])
    rows = [
        {
            "area": name,
            "n_vertices": counts[name],
            "glm_effect": float(glm["effect"][i]),
            "glm_t": float(glm["t"][i]),
            "glm_p": float(glm["p"][i]),
            "glm_p_fdr": float(glm_fdr[i]),
            "item_effect": float(items["effect"][i]),
            "item_t": float(items["t"][i]),
            "item_p": float(items["p"][i]),
            "item_p_fdr": float(item_fdr[i]),
            "cohens_d": float(items["d"][i]),
        }
        for i, name in enumerate(names)
    ]
    return sorted(rows, key=lambda row: -row["glm_t"])


def write_csv(path: Path, rows: Sequence[dict], columns: Sequence[str]) -> Path:
    """Write ``rows`` as CSV with ``columns`` (atomically; floats with 6 significant digits)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([f"{row[c]:.6g}" if isinstance(row[c], float) else row[c] for c in columns])
    with atomic_open(path, "w") as handle:
        handle.write(buffer.getvalue())
    return path


def write_events(path: Path, events: Sequence[Event]) -> Path:
    """The event table: run (from 1), condition, item, onset and duration (s)."""
    rows = [
        {
            "run": e.run + 1,
            "condition": e.condition,
            "item": e.item,
            "onset": float(e.onset),
            "duration": float(e.duration),
        }
        for e in events
    ]
    return write_csv(path, rows, ("run", "condition", "item", "onset", "duration"))
