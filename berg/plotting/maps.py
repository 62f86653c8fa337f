"""The cortical map: predictions on the inflated fsaverage5 surface, four views."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from berg import cortex
from berg.errors import InvalidParameterError, did_you_mean
from berg.plotting.figures import UNITS, check_inputs, model_name, require, sec
from berg.plotting.raster import fsaverage5
from berg.validation import is_number

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_cortical_map"]

_VIEWS = (("left", "lateral"), ("right", "lateral"), ("left", "medial"), ("right", "medial"))
_PANEL_CENTRES = ((0.28, 0.665), (0.72, 0.665), (0.28, 0.335), (0.72, 0.335))  # figure fractions


def plot_cortical_map(
    responses: np.ndarray,
    metadata: dict,
    *,
    time: float | None = None,
    title: str | None = None,
    cmap: Any = "cold_hot",
    vmax: float | None = None,
    threshold: float | None = None,
) -> Figure:
    """Draw one map of predicted responses on the inflated fsaverage5 surface.

    Four views: left and right hemisphere, lateral (top) and medial (bottom), over sulcal depth
    in grey. Vertices outside the selection are left blank (grey background).

    Parameters
    ----------
    responses : np.ndarray
        float (n_rows, n_columns), from ``BERG.encode``.
    metadata : dict
        From ``BERG.encode(..., return_metadata=True)``; ``metadata['selection']['vertices']``
        (n_columns,) places the columns on the 20,484 vertices and
        ``metadata['timing']['row_times_s']`` (n_rows, 2) gives each row's stimulus span in s.
    time : float, optional
        Stimulus time in s; the row whose ``[start, end)`` contains it is drawn. Default: the
        mean over all rows.
    title : str, optional
        First line of the title; the lines below always say what is shown.
    cmap : str or matplotlib Colormap
        Diverging colour map, centred on 0. Default nilearn's ``'cold_hot'``.
    vmax : float, optional
        The colour scale runs from -vmax to vmax. Default: the largest absolute value shown.
    threshold : float, optional
        Values with ``|value| < threshold`` are not coloured (the background shows through).

    Returns
    -------
    matplotlib.figure.Figure
        Five axes: four 3-D views (lh lateral, rh lateral, lh medial, rh medial) and the
        colorbar.

    Raises
    ------
    InvalidParameterError
        If the inputs do not fit together, ``time`` is outside the rows, or ``vmax`` /
        ``threshold`` / ``cmap`` are invalid.
    BERGError
        If nilearn or matplotlib is missing.
    """
    require()
    vertices, row_times = check_inputs(responses, metadata)
    responses = np.asarray(responses)
    if len(responses) == 0:
        raise InvalidParameterError("responses have no rows; there is nothing to draw")
    if time is None:
        values = responses.mean(axis=0, dtype=np.float64)
        shown = (
            f"Mean over all {len(responses)} rows "
            f"(stimulus {sec(row_times[0, 0])}–{sec(row_times[-1, 1])} s)"
        )
    else:
        row = _row_at(row_times, time)
        values = responses[row].astype(np.float64)
        shown = (
            f"Stimulus time {sec(time)} s: row {row}, covering "
            f"[{sec(row_times[row, 0])}, {sec(row_times[row, 1])}) s"
        )
    surface = np.full(cortex.N_VERTICES, np.nan)
    surface[vertices] = values
    vmax, threshold = _check_scale(surface, vmax, threshold)
    colormap = _colormap(cmap)

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from nilearn.plotting import plot_surf_stat_map

    fig = Figure(figsize=(9.0, 7.4))
    FigureCanvasAgg(fig)  # draws and saves without pyplot or a GUI
    meshes = fsaverage5()
    half = cortex.N_VERTICES_PER_HEMISPHERE
    for panel, (hemi, view) in enumerate(_VIEWS):
        x, y = _PANEL_CENTRES[panel]
        ax = fig.add_axes((x - 0.25, y - 0.18, 0.5, 0.36), projection="3d")
        ax.set_facecolor("none")  # panels overlap a little
        coords, faces, sulc = meshes[hemi]
        data = surface[:half] if hemi == "left" else surface[half:]
        plot_surf_stat_map(
            (coords.copy(), faces),
            data,
            bg_map=sulc,
            hemi=hemi,
            view=view,
            axes=ax,
            figure=fig,
            cmap=colormap,
            colorbar=False,
            vmax=vmax,
            symmetric_cbar=True,
            threshold=threshold,
        )
        # A 3-D axes draws in a square, but a hemisphere seen from the side is wide: zoom in
        # and let the mesh spill over the square's sides into the empty rest of the panel.
        ax.set_box_aspect(None, zoom=1.75)
        for artist in ax.collections:
            artist.set_clip_on(False)
        fig.text(
            x,
            y - 0.15,
            f"{hemi} hemisphere, {view}",
            ha="center",
            va="top",
            fontsize=9,
            color="0.25",
        )

    cax = fig.add_axes((0.3, 0.085, 0.4, 0.022))
    bar = fig.colorbar(
        _scalar_mappable(colormap, Normalize(-vmax, vmax), threshold),
        cax=cax,
        orientation="horizontal",
    )
    bar.set_label(UNITS)

    notes = []
    offset = metadata.get("timing", {}).get("hemodynamic_offset_s")
    if offset is not None:
        notes.append(
            f"Each row predicts the BOLD signal ≈{sec(offset)} s after its stimulus "
            "second starts (haemodynamic offset)."
        )
    blank = []
    if len(vertices) < cortex.N_VERTICES:
        blank.append(f"{cortex.N_VERTICES - len(vertices):,} unselected vertices")
    if threshold:
        blank.append(f"|value| < {threshold:.3g}")
    notes.append(
        "Inflated fsaverage5, sulcal depth in grey"
        + (f"; not coloured: {', '.join(blank)}." if blank else ".")
    )
    fig.suptitle(
        title or f"Predicted BOLD response ({model_name(metadata)})",
        y=0.985,
        fontsize=13,
        fontweight="bold",
    )
    fig.text(0.5, 0.925, shown, ha="center", va="center", fontsize=10.5)
    fig.text(
        0.5,
        0.882,
        "\n".join(notes),
        ha="center",
        va="center",
        fontsize=8.5,
        color="0.3",
        linespacing=1.4,
    )
    return fig


def _row_at(row_times: np.ndarray, time: Any) -> int:
    """Index of the row whose [start, end) holds ``time``, or an error giving the valid range."""
    if not is_number(time, finite=False):
        raise InvalidParameterError(
            f"time must be a number of seconds or None (the mean over "
            f"rows); got {type(time).__name__}"
        )
    first, last = row_times[0, 0], row_times[-1, 1]
    rows = np.flatnonzero((row_times[:, 0] <= time) & (time < row_times[:, 1]))
    if not math.isfinite(time) or rows.size == 0:
        raise InvalidParameterError(
            f"time {time!r} s is not covered by any row; the {len(row_times)} rows cover "
            f"stimulus times from {sec(first)} s up to (not including) {sec(last)} s, so give "
            f"{sec(first)} <= time < {sec(last)}, or time=None for the mean over rows"
        )
    return int(rows[0])


def _check_scale(surface: np.ndarray, vmax: Any, threshold: Any) -> tuple[float, float | None]:
    """Validate ``vmax`` and ``threshold``; default vmax: the largest |value| drawn."""
    for name, value in (("vmax", vmax), ("threshold", threshold)):
        if value is not None and not is_number(value):
            raise InvalidParameterError(f"{name} must be a finite number or None; got {value!r}")
    if vmax is None:
        finite = np.abs(surface[np.isfinite(surface)])
        vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    elif vmax <= 0:
        raise InvalidParameterError(
            f"vmax must be > 0 (the scale runs from -vmax to vmax); got {vmax!r}"
        )
    if threshold is not None:
        if threshold < 0:
            raise InvalidParameterError(f"threshold must be >= 0; got {threshold!r}")
        if threshold >= vmax:
            raise InvalidParameterError(
                f"threshold {threshold!r} must be below vmax "
                f"{vmax:.4g}, or nothing would be coloured"
            )
        threshold = float(threshold) or None  # 0 means no threshold
    return float(vmax), threshold


def _colormap(cmap: Any):
    """A matplotlib Colormap for a name (matplotlib's or nilearn's) or a Colormap."""
    import matplotlib
    import nilearn.plotting  # noqa: F401  registers nilearn's maps, 'cold_hot' among them
    from matplotlib.colors import Colormap

    if isinstance(cmap, Colormap):
        return cmap
    if not isinstance(cmap, str):
        raise InvalidParameterError(
            f"cmap must be a colour map name or a matplotlib Colormap; got {type(cmap).__name__}"
        )
    try:
        return matplotlib.colormaps[cmap]
    except KeyError:
        raise InvalidParameterError(
            f"unknown colour map {cmap!r}{did_you_mean(cmap, matplotlib.colormaps)}; "
            "diverging maps suit these signed responses: 'cold_hot' (nilearn), 'RdBu_r', "
            "'coolwarm', 'seismic'"
        ) from None


def _scalar_mappable(colormap, norm, threshold: float | None):
    """What the colorbar shows: the map, with the uncoloured band greyed as nilearn does."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap

    if threshold:
        levels = np.linspace(norm.vmin, norm.vmax, 256)
        colours = colormap(norm(levels))
        colours[np.abs(levels) < threshold] = (0.5, 0.5, 0.5, 1.0)
        colormap = ListedColormap(colours)
    return ScalarMappable(norm=norm, cmap=colormap)
