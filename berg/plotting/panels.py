"""The parts of a movie frame, as uint8 RGB arrays: cortex views in a grid, the stimulus
(its frame, or its words), labels, and a strip of time courses with a moving cursor."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from berg.plotting.raster import colour_view, cortex_view

__all__ = [
    "TimeStrip",
    "stimulus_frames",
    "stimulus_source",
    "colour_bar",
    "cortex_grid",
    "fit_into",
    "label",
    "side_by_side",
    "words_panel",
]

WHITE = (255, 255, 255)


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def label(image: np.ndarray, text: str, xy: tuple[int, int], *, size: int = 14, colour=(60,) * 3):
    """Write ``text`` on ``image`` (in place) with its top left at ``xy``."""
    from PIL import Image, ImageDraw

    picture = Image.fromarray(image)
    ImageDraw.Draw(picture).text(xy, text, fill=tuple(colour), font=_font(size))
    image[...] = np.asarray(picture)


def cortex_grid(
    surface: np.ndarray,
    views: Sequence[str],
    colormap,
    *,
    vmax: float,
    threshold: float | None = None,
    height: int = 200,
    columns: int = 2,
) -> np.ndarray:
    """uint8 (H, W, 3): ``surface`` (20484,) on each view, ``columns`` views a row, each
    named under it."""
    tiles = []
    for name in views:
        tile = colour_view(
            cortex_view(name, height), surface, colormap, vmax=vmax, threshold=threshold
        )
        captioned = np.full((tile.shape[0] + 18, tile.shape[1], 3), 255, np.uint8)
        captioned[: tile.shape[0]] = tile
        label(captioned, name, (tile.shape[1] // 2 - 4 * len(name), tile.shape[0] + 2), size=12)
        tiles.append(captioned)
    width = max(t.shape[1] for t in tiles)
    rows = []
    for start in range(0, len(tiles), columns):
        row = [_pad(t, t.shape[0], width) for t in tiles[start : start + columns]]
        row += [np.full_like(row[0], 255)] * (columns - len(row))
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate([_pad(r, max(t.shape[0] for t in tiles), r.shape[1]) for r in rows])


def colour_bar(
    colormap, vmax: float, threshold: float | None, width: int, height: int = 44
) -> np.ndarray:
    """uint8 (height, width, 3): the scale from -vmax to vmax (the uncoloured band grey),
    its ends and middle labelled, and the units."""
    from berg.plotting.figures import UNITS

    bar_width = width - 120
    levels = np.linspace(-vmax, vmax, bar_width)
    colours = (np.asarray(colormap((levels / vmax + 1) / 2))[:, :3] * 255).astype(np.uint8)
    if threshold:
        colours[np.abs(levels) < threshold] = 175
    image = np.full((height, width, 3), 255, np.uint8)
    image[4:18, 60 : 60 + bar_width] = colours[None]
    for value, x in ((-vmax, 60), (0.0, 60 + bar_width // 2), (vmax, 60 + bar_width)):
        text = f"{value:.3g}"
        label(image, text, (x - 3 * len(text), 20), size=11)
    label(image, UNITS, (60 + bar_width // 2 - 3 * len(UNITS), 31), size=10)
    return image


def side_by_side(images: Sequence[np.ndarray], gap: int = 6) -> np.ndarray:
    """uint8: ``images`` in a row on white, centred vertically, ``gap`` pixels apart."""
    height = max(i.shape[0] for i in images)
    parts = []
    for index, image in enumerate(images):
        parts.append(_pad(image, height, image.shape[1]))
        if index < len(images) - 1:
            parts.append(np.full((height, gap, 3), 255, np.uint8))
    return np.concatenate(parts, axis=1)


def _pad(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` centred on a white ``height x width`` canvas."""
    out = np.full((height, width, 3), 255, np.uint8)
    top, left = (height - image.shape[0]) // 2, (width - image.shape[1]) // 2
    out[top : top + image.shape[0], left : left + image.shape[1]] = image
    return out


def fit_into(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """``frame`` scaled to fit ``height x width`` (keeping its shape), centred on white."""
    from PIL import Image

    scale = min(height / frame.shape[0], width / frame.shape[1])
    size = (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale)))
    if size != (frame.shape[1], frame.shape[0]):
        frame = np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))
    return _pad(frame, height, width)


def words_panel(words: dict, time: float, height: int, width: int) -> np.ndarray:
    """The words spoken around ``time`` (s): the ones already said in grey, the one being
    said in black, wrapped into lines; the last lines kept when they overflow."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(picture)
    font = _font(22)
    texts = list(words.get("text", []))
    starts = np.asarray(words.get("start_s", []), float)
    durations = np.asarray(words.get("duration_s", []), float)
    said = int(np.searchsorted(starts, time, side="right"))
    current = None
    if said and time < starts[said - 1] + max(durations[said - 1], 0.3):
        current = said - 1
    lines: list[list[tuple[str, bool]]] = [[]]
    for index in range(max(0, said - 60), said):
        candidate = " ".join(t for t, _ in lines[-1] + [(texts[index], False)])
        if draw.textlength(candidate, font=font) > width - 40 and lines[-1]:
            lines.append([])
        lines[-1].append((texts[index], index == current))
    line_height = 30
    visible = lines[-max(1, (height - 40) // line_height) :]
    y = 20
    for line in visible:
        x = 20
        for text, current in line:
            draw.text((x, y), text, fill=(0, 0, 0) if current else (130, 130, 130), font=font)
            x += draw.textlength(text + " ", font=font)
        y += line_height
    if not said:
        draw.text((20, 20), "(no words yet)", fill=(170, 170, 170), font=font)
    return np.asarray(picture).copy()


class TimeStrip:
    """ROI time courses drawn once (matplotlib), with a cursor drawn per frame.

    Parameters
    ----------
    times : np.ndarray
        (n_rows,) seconds at which each row is drawn (row centres, shifted as shown).
    courses : dict of str to np.ndarray
        Area -> (n_rows,) values.
    duration : float
        The x axis runs from 0 to this (s).
    height, width : int
        Pixels.
    """

    def __init__(self, times, courses: dict, duration: float, height: int, width: int):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from berg.plotting.figures import UNITS

        dpi = 100
        fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes((0.07, 0.22, 0.78, 0.7))
        for name, values in courses.items():
            ax.plot(times, values, lw=1.4, label=name)
        ax.set_xlim(0, duration)
        ax.set_xlabel("stimulus time (s)", fontsize=8)
        ax.set_ylabel(UNITS, fontsize=7)
        ax.tick_params(labelsize=7)
        ax.axhline(0, color="0.8", lw=0.6, zorder=0)
        if courses:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False)
        canvas.draw()
        self.image = np.asarray(canvas.buffer_rgba())[..., :3].copy()
        (x0, _), (x1, _) = ax.transData.transform([(0.0, 0.0), (duration, 0.0)])
        (_, top), (_, bottom) = ax.transAxes.transform([(0.0, 1.0), (0.0, 0.0)])
        self._x = (x0, (x1 - x0) / duration)
        self._rows = (int(height - top), int(height - bottom))  # pixel rows of the axes

    def at(self, time: float) -> np.ndarray:
        """The strip with a red cursor at ``time`` (s)."""
        image = self.image.copy()
        column = int(round(self._x[0] + self._x[1] * time))
        if 0 <= column < image.shape[1] - 1:
            image[self._rows[0] : self._rows[1], column : column + 2] = (220, 30, 30)
        return image


def stimulus_source(stimulus, metadata: dict):
    """(path, kind) of the stimulus to show: ``stimulus`` checked, else the result's own
    stimulus when that file is still there; (None, kind) when there is none."""
    from pathlib import Path

    from berg.stimulus import check_stimulus_file

    if stimulus is None:
        recorded = (metadata.get("stimulus") or {}).get("path")
        if not recorded or not Path(recorded).is_file():
            return None, (metadata.get("stimulus") or {}).get("kind")
        stimulus = recorded
    return check_stimulus_file(stimulus)


def stimulus_frames(source, kind, times):
    """An iterator of the picture on screen at each of ``times`` (s, increasing) for a
    video or an image; None for other stimuli."""
    if source is None or kind not in ("video", "image"):
        return None
    if kind == "image":
        from berg.stimulus.still import load_image

        still = load_image(source)
        return (still for _ in range(len(times)))
    from berg.stimulus import media

    return (np.asarray(frame) for _, frame in media.read_frames(source, np.asarray(times, float)))
