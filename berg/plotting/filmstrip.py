"""A filmstrip: one small cortex per chosen second, the stimulus under each, one colour bar.

fig = plot_timesteps(responses, metadata, stimulus="clip.mp4", times=[2, 4, 6, 8])
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from berg import cortex
from berg.errors import InvalidParameterError
from berg.plotting.figures import UNITS, check_inputs, require, sec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_timesteps"]

_MAX_DEFAULT_COLUMNS = 8


def _default_times(row_times: np.ndarray) -> list[float]:
    """Up to 8 row starts spread over the stimulus."""
    n = len(row_times)
    picks = np.unique(np.linspace(0, n - 1, min(n, _MAX_DEFAULT_COLUMNS)).round().astype(int))
    return [float(row_times[k, 0]) for k in picks]


def plot_timesteps(
    responses: np.ndarray,
    metadata: dict,
    *,
    stimulus: str | os.PathLike | None = None,
    times: Sequence[float] | None = None,
    views: Sequence[str] = ("left lateral", "right lateral"),
    cmap="cold_hot",
    vmax: float | None = None,
    threshold: float | None = None,
    figure: Figure | None = None,
) -> Figure:
    """Draw the responses at chosen seconds side by side, the stimulus under each.

    Parameters
    ----------
    responses : np.ndarray
        float (n_rows, n_columns), from ``BERG.encode``.
    metadata : dict
        Its metadata: selected vertices, row times, the stimulus's words.
    stimulus : path, optional
        A video (or image) shows its frame at each time; otherwise the words spoken in
        that second are written. Default: ``metadata['stimulus']['path']`` when it exists.
    times : sequence of float, optional
        Stimulus seconds; each column draws the row covering it (no interpolation).
        Default: up to 8 rows spread over the stimulus.
    views : sequence of str
        Cortex views (:data:`berg.plotting.raster.VIEWS`), stacked in each column.
    cmap, vmax, threshold
        As for :func:`~berg.plotting.plot_cortical_map`; one scale for every column.
    figure : matplotlib Figure, optional
        Draw into this figure (cleared first) instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure
        Per column a cortex axes (its image: ``axes.images[0]``) and a stimulus axes, in
        time order, then the colour bar.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    from berg.plotting.figures import check_scale, get_colormap, row_at, scalar_mappable
    from berg.plotting.panels import cortex_grid, stimulus_frames, stimulus_source

    require()
    vertices, row_times = check_inputs(responses, metadata)
    responses = np.asarray(responses, np.float64)
    if len(responses) == 0:
        raise InvalidParameterError("responses have no rows; there is nothing to draw")
    times = _default_times(row_times) if times is None else [float(t) for t in times]
    if not times:
        raise InvalidParameterError("times is empty; give at least one second, or None")
    rows = [row_at(row_times, t) for t in times]
    vmax, threshold = check_scale(responses[rows], vmax, threshold)
    colormap = get_colormap(cmap)
    source, kind = stimulus_source(stimulus, metadata)
    if figure is None:
        figure = Figure(figsize=(1.9 * len(times) + 0.4, 1.5 * len(views) + 2.4))
        FigureCanvasAgg(figure)
    elif not isinstance(figure, Figure):
        raise InvalidParameterError(f"figure must be a matplotlib Figure; got {figure!r}")
    else:
        figure.clear()
    middles = [float(row_times[k].mean()) for k in rows]
    order = np.argsort(middles, kind="stable")  # read_frames wants increasing times
    pictures = stimulus_frames(source, kind, [middles[i] for i in order])
    frames = None
    if pictures is not None:
        frames = [None] * len(rows)
        for i, picture in zip(order, pictures):
            frames[i] = picture
    words = (metadata.get("stimulus") or {}).get("words") or {}
    grid = figure.add_gridspec(
        3, len(times), height_ratios=[1.5 * len(views), 1.0, 0.12], hspace=0.15, wspace=0.05
    )
    for column, row in enumerate(rows):
        surface = np.full(cortex.N_VERTICES, np.nan)
        surface[vertices] = responses[row]
        brain = figure.add_subplot(grid[0, column])
        brain.imshow(
            cortex_grid(surface, views, colormap, vmax=vmax, threshold=threshold, columns=1)
        )
        brain.set_axis_off()
        start, end = row_times[row]
        brain.set_title(f"{sec(start)}–{sec(end)} s", fontsize=9)
        below = figure.add_subplot(grid[1, column])
        below.set_axis_off()
        if frames is not None:
            below.imshow(frames[column])
        else:
            below.text(
                0.5,
                0.5,
                _words_in(words, start, end),
                ha="center",
                va="center",
                fontsize=8,
                transform=below.transAxes,
            )
    bar_axes = figure.add_subplot(grid[2, :])
    bar = figure.colorbar(
        scalar_mappable(colormap, Normalize(-vmax, vmax), threshold),
        cax=bar_axes,
        orientation="horizontal",
    )
    bar.set_label(UNITS, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return figure


def _words_in(words: dict, start: float, end: float) -> str:
    """The words starting in [start, end), wrapped; a dash for none."""
    found = [
        text
        for text, begin in zip(words.get("text", []), words.get("start_s", []))
        if start <= begin < end
    ]
    return textwrap.fill(" ".join(found), 18) if found else "–"
