"""The cortical map: predictions on the inflated fsaverage5 surface, in the views a paper
shows (lateral, medial and ventral by default), optionally with Glasser area borders and
names, into a new figure or the caller's own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from berg import cortex
from berg.errors import InvalidParameterError
from berg.plotting.figures import (
    UNITS,
    check_inputs,
    check_labels,
    check_scale,
    get_colormap,
    model_name,
    require,
    row_at,
    scalar_mappable,
    sec,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["DEFAULT_MAP_VIEWS", "plot_cortical_map"]

#: The views of a map unless ``views=`` says otherwise: the ventral one shows FFC and PHA.
DEFAULT_MAP_VIEWS = ("left lateral", "right lateral", "left medial", "right medial", "ventral")


def plot_cortical_map(
    responses: np.ndarray,
    metadata: dict,
    *,
    time: float | None = None,
    title: str | None = None,
    cmap: Any = "cold_hot",
    vmax: float | None = None,
    threshold: float | None = None,
    views: Sequence[str] = DEFAULT_MAP_VIEWS,
    borders: bool = False,
    labels: Sequence[str] | None = None,
    resolution: int = 360,
    figure: Figure | None = None,
    axes: Axes | None = None,
) -> Figure:
    """Draw one map of predicted responses on the inflated fsaverage5 surface.

    Each view is the surface lit from the viewer, over sulcal depth in grey; vertices
    outside the selection are left grey. The pictures are rasters (``resolution`` pixels
    high a view) and everything else vector, so a PDF or SVG stays sharp and small.

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
        Values with ``|value| < threshold`` are not coloured (the grey shows through).
    views : sequence of str
        Of :data:`berg.plotting.raster.VIEWS`: ``'left lateral'``, ``'right lateral'``,
        ``'left medial'``, ``'right medial'``, ``'dorsal'``, ``'ventral'`` (seen from
        below: the left hemisphere on the right).
    borders : bool
        Draw the borders of the Glasser areas.
    labels : sequence of str, optional
        Glasser areas to name where they show (both hemispheres).
    resolution : int
        Pixels a view is high (the figure's raster detail).
    figure : matplotlib Figure, optional
        Draw into this figure (cleared first) instead of a new one.
    axes : matplotlib Axes, optional
        Draw every view, side by side, into this one axes of the caller's figure (no title
        or notes; the colour bar goes beside it).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per view (labelled with its name; its picture is ``axes.images[0]``), then
        the colour bar. With ``axes=``, that axes' figure.

    Raises
    ------
    InvalidParameterError
        If the inputs do not fit together, ``time`` is outside the rows, or ``vmax`` /
        ``threshold`` / ``cmap`` / ``views`` / ``labels`` are invalid.
    BERGError
        If nilearn or matplotlib is missing.
    """
    require()
    from matplotlib.axes import Axes
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    from berg.plotting.layout import lay_out_views
    from berg.plotting.raster import VIEWS, draw_view
    from berg.validation import check_bool, check_choice, check_int

    vertices, row_times = check_inputs(responses, metadata)
    responses = np.asarray(responses)
    if len(responses) == 0:
        raise InvalidParameterError("responses have no rows; there is nothing to draw")
    views = [check_choice("view", v, tuple(VIEWS)) for v in views]
    if not views:
        raise InvalidParameterError(f"views must name at least one of {', '.join(VIEWS)}")
    check_bool("borders", borders)
    check_int("resolution", resolution, minimum=32)
    labels = check_labels(labels)
    if axes is not None and not isinstance(axes, Axes):
        raise InvalidParameterError(f"axes must be a matplotlib Axes; got {axes!r}")
    if figure is not None and not isinstance(figure, Figure):
        raise InvalidParameterError(f"figure must be a matplotlib Figure; got {figure!r}")
    if time is None:
        values = responses.mean(axis=0, dtype=np.float64)
        shown = (
            f"Mean over all {len(responses)} rows "
            f"(stimulus {sec(row_times[0, 0])}–{sec(row_times[-1, 1])} s)"
        )
    else:
        row = row_at(row_times, time)
        values = responses[row].astype(np.float64)
        shown = (
            f"Stimulus time {sec(time)} s: row {row}, covering "
            f"[{sec(row_times[row, 0])}, {sec(row_times[row, 1])}) s"
        )
    surface = np.full(cortex.N_VERTICES, np.nan)
    surface[vertices] = values
    vmax, threshold = check_scale(surface, vmax, threshold)
    colormap = get_colormap(cmap)
    pictures = [
        draw_view(
            name,
            surface,
            colormap,
            vmax=vmax,
            threshold=threshold,
            height=resolution,
            borders=borders,
            labels=labels,
        )
        for name in views
    ]
    mappable = scalar_mappable(colormap, Normalize(-vmax, vmax), threshold)

    def colour_bar(figure, axes, beside):
        if beside:
            figure.colorbar(mappable, ax=axes, label=UNITS, shrink=0.6)
        else:
            figure.colorbar(mappable, cax=axes, orientation="horizontal").set_label(UNITS)

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
        + ("; Glasser area borders" if borders else "")
        + (f"; not coloured: {', '.join(blank)}." if blank else ".")
    )
    return lay_out_views(
        pictures,
        views,
        key=colour_bar,
        title=title or f"Predicted BOLD response ({model_name(metadata)})",
        lines=[shown, *notes],
        figure=figure,
        axes=axes,
    )
