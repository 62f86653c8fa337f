"""Summaries over the cortex, numpy in and numpy out: the mean of each area (or of each of
the 22 sections), both hemispheres together or apart, and the top areas of a map."""

from __future__ import annotations

import numpy as np

from berg.cortex.names import glasser_sections
from berg.cortex.surface import N_VERTICES, N_VERTICES_PER_HEMISPHERE, load_parcellation
from berg.errors import InvalidParameterError
from berg.validation import check_choice

__all__ = ["area_means", "result_vertices", "roi_timecourses", "top_areas"]


def area_means(
    values: np.ndarray,
    vertices: np.ndarray | None = None,
    *,
    hemispheres: str = "both",
    level: str = "area",
) -> tuple[list[str], np.ndarray]:
    """The mean of ``values`` over each area's vertices.

    Parameters
    ----------
    values : np.ndarray
        (n_columns,) a map, or (n_rows, n_columns) time courses.
    vertices : np.ndarray, optional
        (n_columns,) the fsaverage5 vertex of each column (a result's
        ``metadata['selection']['vertices']``); default: all 20,484 in order.
    hemispheres : {'both', 'separate'}
        One mean per area over both hemispheres (``'V1'``), or one per hemisphere
        (``'L_V1'``, ``'R_V1'``).
    level : {'area', 'section'}
        The 180 Glasser areas, or the 22 sections of Glasser et al. 2016.

    Returns
    -------
    names : list of str
        The areas (or sections) with at least one column, in Glasser (or section) order;
        with ``'separate'``, the left hemisphere's first.
    means : np.ndarray
        float32 (n_names,) or (n_rows, n_names). NaN columns are ignored (a GIfTI's
        unselected vertices); an area all NaN gives NaN.
    """
    check_choice("hemispheres", hemispheres, ("both", "separate"))
    check_choice("level", level, ("area", "section"))
    values = np.asarray(values)
    if values.ndim not in (1, 2):
        raise InvalidParameterError(
            f"values must be (n_columns,) or (n_rows, n_columns); got shape {values.shape}"
        )
    vertices = np.arange(N_VERTICES) if vertices is None else np.asarray(vertices, np.int64)
    if values.shape[-1] != len(vertices):
        raise InvalidParameterError(
            f"values have {values.shape[-1]} columns but {len(vertices)} vertices were given"
            + ("" if len(vertices) != N_VERTICES else " (the default: the whole cortex)")
        )
    parcellation = load_parcellation()
    assigned = parcellation.assignments[vertices]
    index = parcellation.roi_index
    if level == "area":
        groups = {name: [index[name]] for name in parcellation.labels}
    else:
        groups = {s: [index[a] for a in areas] for s, areas in glasser_sections().items()}
    sides = [("", np.ones(len(vertices), bool))]
    if hemispheres == "separate":
        left = vertices < N_VERTICES_PER_HEMISPHERE
        sides = [("L_", left), ("R_", ~left)]
    names, columns = [], []
    rows = values if values.ndim == 2 else values[None, :]
    for prefix, side in sides:
        for name, members in groups.items():
            mask = side & np.isin(assigned, members)
            if mask.any():
                names.append(prefix + name)
                chosen = rows[:, mask].astype(np.float64)
                finite = np.isfinite(chosen)
                count = finite.sum(axis=1)
                total = np.where(finite, chosen, 0.0).sum(axis=1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    columns.append(np.where(count > 0, total / np.maximum(count, 1), np.nan))
    means = np.stack(columns, axis=1) if columns else np.zeros((len(rows), 0))
    means = means.astype(np.float32)
    return names, (means if values.ndim == 2 else means[0])


def top_areas(
    values: np.ndarray,
    vertices: np.ndarray | None = None,
    k: int = 10,
    *,
    hemispheres: str = "both",
    level: str = "area",
    absolute: bool = False,
) -> list[tuple[str, float]]:
    """The ``k`` areas with the largest mean of a map (a contrast, a mean response).

    Parameters
    ----------
    values : np.ndarray
        (n_columns,) one value per column.
    vertices, hemispheres, level
        As for :func:`area_means`.
    k : int
        How many (all, when fewer areas have columns).
    absolute : bool
        Rank by the absolute mean (the strongest effects of either sign).

    Returns
    -------
    list of (name, mean)
        Largest first; NaN means last.
    """
    from berg.validation import check_bool, check_int

    check_int("k", k, minimum=1)
    check_bool("absolute", absolute)
    values = np.asarray(values)
    if values.ndim != 1:
        raise InvalidParameterError(
            f"top_areas ranks a map: values must be (n_columns,); got shape {values.shape} "
            "(average the rows first, or pick one)"
        )
    names, means = area_means(values, vertices, hemispheres=hemispheres, level=level)
    key = np.abs(means) if absolute else means
    order = np.argsort(np.where(np.isnan(key), -np.inf, -key), kind="stable")
    return [(names[i], float(means[i])) for i in order[:k]]


def result_vertices(responses: np.ndarray, metadata: dict) -> np.ndarray:
    """The vertices of a result's columns (``metadata["selection"]["vertices"]``), checked
    against the responses' shape: int64 ``(n_columns,)``."""
    vertices = np.asarray(metadata["selection"]["vertices"], dtype=np.int64)
    if responses.ndim != 2 or responses.shape[1] != len(vertices):
        raise InvalidParameterError(
            f"responses of shape {responses.shape} do not match the metadata's "
            f"{len(vertices)} selected vertices"
        )
    return vertices


def roi_timecourses(responses: np.ndarray, metadata: dict) -> tuple[list[str], np.ndarray]:
    """Mean response of each Glasser area over its selected vertices (both hemispheres).

    Returns
    -------
    names : list of str
        The areas that have at least one selected vertex, in Glasser order.
    values : np.ndarray
        float32 (n_rows, n_areas).
    """
    return area_means(responses, result_vertices(responses, metadata))
