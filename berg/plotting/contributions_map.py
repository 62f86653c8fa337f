"""The modality-contribution map: text, audio and video as the red, green and blue of each
vertex (what :meth:`berg.tribe.contributions.Contributions.rgb` gives), in the map's views.

    found = metadata["contributions"]      # encode(..., return_metadata=True, contributions=True)
    fig = plot_contributions_map(found, metadata)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from berg import cortex
from berg.errors import InvalidParameterError
from berg.plotting.figures import check_vertices, model_name, require
from berg.plotting.maps import DEFAULT_MAP_VIEWS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_contributions_map"]


def plot_contributions_map(
    contributions,
    metadata: dict,
    *,
    views: Sequence[str] = DEFAULT_MAP_VIEWS,
    borders: bool = False,
    labels: Sequence[str] | None = None,
    resolution: int = 360,
    title: str | None = None,
    figure=None,
    axes=None,
) -> Figure:
    """Draw which modality drives each vertex, as colour.

    Parameters
    ----------
    contributions : Contributions or np.ndarray
        From ``encode(..., contributions=True)`` (``metadata['contributions']``), or its
        ``rgb()``: (n_columns, 3) in [0, 1], text, audio, video.
    metadata : dict
        The result's metadata (the selected vertices).
    views, borders, labels, resolution, figure, axes
        As for :func:`~berg.plotting.plot_cortical_map`.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        As :func:`~berg.plotting.plot_cortical_map`'s, with a legend of the three colours
        in place of the colour bar.
    """
    require()
    from matplotlib.patches import Patch

    from berg.plotting.figures import check_labels
    from berg.plotting.layout import lay_out_views
    from berg.plotting.raster import VIEWS, colour_rgb, cortex_view, decorate
    from berg.tribe.contributions import RGB_ORDER
    from berg.validation import check_bool, check_choice, check_int

    rgb = contributions.rgb() if hasattr(contributions, "rgb") else contributions
    rgb = np.asarray(rgb, np.float64)
    vertices = check_vertices(metadata)
    if rgb.ndim != 2 or rgb.shape != (len(vertices), 3):
        raise InvalidParameterError(
            f"contributions must be a Contributions or an (n_columns, 3) array matching the "
            f"metadata's {len(vertices)} selected vertices; got shape {rgb.shape}"
        )
    views = [check_choice("view", v, tuple(VIEWS)) for v in views]
    check_bool("borders", borders)
    check_int("resolution", resolution, minimum=32)
    labels = check_labels(labels)
    surface = np.full((cortex.N_VERTICES, 3), np.nan)
    surface[vertices] = np.clip(rgb, 0, 1)
    pictures = []
    for name in views:
        view = cortex_view(name, resolution)
        pictures.append(decorate(view, colour_rgb(view, surface), borders=borders, labels=labels))

    def legend(figure, axes, beside):
        handles = [
            Patch(color=colour, label=modality)
            for modality, colour in zip(RGB_ORDER, ("red", "green", "blue"))
        ]
        if beside:
            axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        else:
            axes.set_axis_off()
            axes.legend(handles=handles, loc="center", ncols=3, frameon=False)

    return lay_out_views(
        pictures,
        views,
        key=legend,
        title=title or f"Modality contributions ({model_name(metadata)})",
        lines=[
            "Each vertex's colour: the mean |contribution| of text (red), audio (green) and "
            "video (blue), over the stimulus",
            "A contribution is the response minus the response with that modality removed "
            "(the model's own rule); channels share one scale.",
        ],
        figure=figure,
        axes=axes,
    )
