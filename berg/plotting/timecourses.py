"""ROI time courses: the mean prediction of Glasser areas over time, one line per area."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from berg import cortex
from berg.errors import InvalidParameterError
from berg.plotting.figures import UNITS, check_inputs, check_rois, model_name, require, sec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_roi_timecourses", "most_varying_rois", "MAX_DEFAULT_ROIS"]

MAX_DEFAULT_ROIS = 10
"""``plot_roi_timecourses`` draws every area of the selection only up to this many."""


def plot_roi_timecourses(
    responses: np.ndarray,
    metadata: dict,
    rois: list[str] | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Draw the mean response of Glasser areas over time, one line per area.

    Parameters
    ----------
    responses : np.ndarray
        float (n_rows, n_columns), from ``BERG.encode``.
    metadata : dict
        From ``BERG.encode(..., return_metadata=True)``.
    rois : list of str, optional
        Glasser HCP-MMP1.0 area names (bilateral, case-sensitive), each with at least one
        selected vertex; drawn in this order. Default: every area of the selection, when
        there are at most ``MAX_DEFAULT_ROIS`` (10).
    title : str, optional
        Replaces the default title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; x: start of each row's stimulus second (s), y: the area's mean over its
        selected vertices (both hemispheres), as ``berg.cortex.roi_timecourses`` computes it. A
        second x axis on top gives the approximate time of the predicted BOLD measurement.

    Raises
    ------
    InvalidParameterError
        If the inputs do not fit together, a name is unknown or has no selected vertex, or
        ``rois`` is None and the selection covers more than 10 areas.
    BERGError
        If matplotlib is missing.
    """
    require(need_nilearn=False)
    from berg.cortex import roi_timecourses

    _, row_times = check_inputs(responses, metadata)
    names, values = roi_timecourses(np.asarray(responses), metadata)
    if rois is None:
        if not names:
            raise InvalidParameterError(
                "no selected vertex lies in a Glasser area (all are on "
                "the medial wall); there is no ROI time course to draw"
            )
        if len(names) > MAX_DEFAULT_ROIS:
            strongest = [
                names[i] for i in np.argsort(-np.abs(values).mean(axis=0), kind="stable")[:5]
            ]
            raise InvalidParameterError(
                f"the selection covers {len(names)} areas, too many lines for one plot; choose "
                f"at most about {MAX_DEFAULT_ROIS} with rois=[...], e.g. the five with the "
                f"largest mean |response|: rois={strongest!r}"
            )
        chosen = names
    else:
        chosen = check_rois(rois, names)
    index = {name: i for i, name in enumerate(names)}

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colours = _line_colours(len(chosen))
    styles = ("-", "--", ":", "-.")
    starts = row_times[:, 0]
    for k, name in enumerate(chosen):
        ax.plot(
            starts,
            values[:, index[name]],
            label=name,
            color=colours[k % len(colours)],
            linestyle=styles[(k // len(colours)) % len(styles)],
            linewidth=1.6,
            marker="o" if len(starts) <= 40 else None,
            markersize=3,
        )
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
    ax.set_xlabel("stimulus time at the start of each row (s)")
    ax.set_ylabel(f"ROI mean, {UNITS}")
    ax.grid(True, alpha=0.3)
    offset = metadata.get("timing", {}).get("hemodynamic_offset_s")
    if offset is not None:
        top = ax.secondary_xaxis("top", functions=(lambda x: x + offset, lambda x: x - offset))
        top.set_xlabel(
            f"≈ time of the predicted BOLD measurement (s; +{sec(offset)} s haemodynamic offset)",
            fontsize=9,
        )
    ax.legend(
        title="Glasser area",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        ncols=1 if len(chosen) <= 16 else 2,
        fontsize=9,
        frameon=False,
    )
    ax.set_title(
        title
        or f"Predicted BOLD per area ({model_name(metadata)}), mean over "
        "selected vertices of both hemispheres",
        fontsize=11,
    )
    return fig


def most_varying_rois(responses: np.ndarray, metadata: dict, n: int = MAX_DEFAULT_ROIS) -> list:
    """The ``n`` Glasser areas of a result whose predicted time course varies most (standard
    deviation over rows of the area's mean), in that order; every area when there are at
    most ``n``.

    Parameters
    ----------
    responses : np.ndarray
        float (n_rows, n_columns), from ``BERG.encode``.
    metadata : dict
        From ``BERG.encode(..., return_metadata=True)``.
    n : int

    Returns
    -------
    list of str
    """
    check_inputs(responses, metadata)
    names, values = cortex.roi_timecourses(np.asarray(responses), metadata)
    if len(names) <= n:
        return list(names)
    spread = values.std(axis=0) if len(values) > 1 else np.abs(values).mean(axis=0)
    return [names[i] for i in np.argsort(-spread, kind="stable")[:n]]


def _line_colours(n: int) -> list:
    import matplotlib

    return list(matplotlib.colormaps["tab10" if n <= 10 else "tab20"].colors)
