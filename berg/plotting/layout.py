"""How a figure of cortex views is laid out: the views two a row (a last odd one centred),
each named under it, a colour key under them, a title and notes above; or every view side
by side in one axes of the caller's figure."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

__all__ = ["lay_out_views", "view_caption"]


def view_caption(view: str) -> str:
    """What a view is called under its picture."""
    return "ventral (from below: left hemisphere on the right)" if view == "ventral" else view


def lay_out_views(
    pictures: Sequence,
    views: Sequence[str],
    *,
    key: Callable,
    title: str,
    lines: Sequence[str],
    figure=None,
    axes=None,
):
    """Draw ``pictures`` (:class:`~berg.plotting.raster.DrawnView`, one per view).

    Parameters
    ----------
    key : callable(figure, axes, beside)
        Draws the colour key: into ``axes`` under the views, or (``beside=True``) beside
        the caller's ``axes``.
    title : str
        The figure's title.
    lines : sequence of str
        What is shown (the first, larger) and notes, above the views.
    figure, axes
        The caller's figure (cleared first), or one axes of theirs to draw every view into
        (no title, no notes). Neither: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patheffects import withStroke
    from matplotlib.transforms import Bbox

    if axes is not None:
        from berg.plotting.panels import side_by_side

        axes.imshow(side_by_side([p.image for p in pictures]))
        axes.set_axis_off()
        key(axes.figure, axes, True)
        return axes.figure
    columns = 2 if len(views) > 1 else 1
    rows = math.ceil(len(views) / columns)
    if figure is None:
        figure = Figure(figsize=(9.0, 2.6 * rows + 1.8))
        FigureCanvasAgg(figure)  # draws and saves without pyplot or a GUI
    else:
        figure.clear()
    grid = figure.add_gridspec(
        rows + 1,
        columns,
        height_ratios=[1.0] * rows + [0.08],
        top=0.80,
        bottom=0.09,
        hspace=0.18,
        wspace=0.02,
    )
    for index, picture in enumerate(pictures):
        row, column = divmod(index, columns)
        last_alone = index == len(pictures) - 1 and len(pictures) % columns
        ax = figure.add_subplot(grid[row, :] if last_alone else grid[row, column])
        ax.imshow(picture.image, interpolation="antialiased")
        for text, (x, y) in picture.labels:  # black on a white halo: legible on any colour
            ax.text(
                x, y, text, ha="center", va="center", fontsize=7, color="black",
                path_effects=[withStroke(linewidth=2.2, foreground="white")],
            )  # fmt: skip
        ax.set_axis_off()
        ax.set_label(views[index])
        ax.set_title(view_caption(views[index]), fontsize=9, color="0.25", y=-0.02, va="top")
    key_axes = figure.add_subplot(grid[rows, :])
    box = key_axes.get_position()
    middle = (box.x0 + box.x1) / 2  # 40 % of the figure wide, centred
    key_axes.set_position(Bbox.from_extents(middle - 0.2, box.y0, middle + 0.2, box.y1))
    key(figure, key_axes, False)
    figure.suptitle(title, y=0.985, fontsize=13, fontweight="bold")
    if lines:
        figure.text(0.5, 0.925, lines[0], ha="center", va="center", fontsize=10.5)
    if len(lines) > 1:
        figure.text(
            0.5, 0.87, "\n".join(lines[1:]), ha="center", va="center", fontsize=8.5,
            color="0.3", linespacing=1.4,
        )  # fmt: skip
    return figure
