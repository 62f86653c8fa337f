"""A brain movie: the stimulus beside the predicted response on the cortex, with ROI time
courses under them and the stimulus's sound, written as an MP4 through PyAV.

    render_movie(responses, metadata, "movie.mp4", stimulus="clip.mp4")

Time. Row k of a prediction covers stimulus second [k, k+1) and is drawn at its middle,
k + 0.5 s; between middles the maps are interpolated linearly (said on every frame), so the
cortex moves smoothly at any frame rate. By default each row is shown with the stimulus
that causes it (the raw alignment of berg's output). ``as_measured=True`` shows it
``hemodynamic_offset_s`` (5 s) later instead, when a scanner would measure it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from berg import cortex
from berg.errors import InvalidParameterError
from berg.plotting.figures import check_inputs, require
from berg.validation import check_bool, check_int

__all__ = ["DEFAULT_VIEWS", "render_movie", "surface_at"]

DEFAULT_VIEWS = ("left lateral", "right lateral", "left medial", "right medial")
_AUDIO_RATE = 48000
_STIMULUS_BOX = (400, 480)  # height, width of the stimulus panel
_STRIP_HEIGHT = 170


def surface_at(
    responses: np.ndarray, vertices: np.ndarray, row_times: np.ndarray, time: float
) -> np.ndarray:
    """float64 (20484,): the rows interpolated linearly at ``time`` s between their
    middles (the first and last rows held beyond them); NaN off the selection."""
    middles = row_times.mean(axis=1)
    k = int(np.clip(np.searchsorted(middles, time, side="right") - 1, 0, len(middles) - 1))
    if k + 1 < len(middles) and time > middles[k]:
        share = (time - middles[k]) / (middles[k + 1] - middles[k])
        values = (1 - share) * responses[k] + share * responses[k + 1]
    else:
        values = responses[k]
    surface = np.full(cortex.N_VERTICES, np.nan)
    surface[vertices] = values
    return surface


def render_movie(
    responses: np.ndarray,
    metadata: dict,
    path: str | os.PathLike,
    *,
    stimulus: str | os.PathLike | None = None,
    fps: int = 10,
    views: Sequence[str] = DEFAULT_VIEWS,
    rois: Sequence[str] | None = None,
    cmap="cold_hot",
    vmax: float | None = None,
    threshold: float | None = None,
    as_measured: bool = False,
    show_progress: bool = False,
) -> Path:
    """Write a movie of ``responses`` to ``path`` (.mp4, H.264 and AAC, atomically).

    Parameters
    ----------
    responses : np.ndarray
        float (n_rows, n_columns), from ``BERG.encode``.
    metadata : dict
        Its metadata (``return_metadata=True``, or a result's JSON): the selected vertices,
        the row times, the offset, and the stimulus's words.
    path : path
        The MP4 written.
    stimulus : path, optional
        The stimulus file: a video is shown (and heard), a sound heard while its words
        scroll, a text's words scroll. Default: ``metadata['stimulus']['path']`` when that
        file is there; else only the words.
    fps : int
        Frames per second of the movie (1 to 60).
    views : sequence of str
        Cortex views (:data:`berg.plotting.raster.VIEWS`), two a row.
    rois : sequence of str, optional
        Areas whose mean time courses are drawn under the frame; default: the four that
        vary most.
    cmap, vmax, threshold
        As for :func:`~berg.plotting.plot_cortical_map` (one scale for the whole movie).
    as_measured : bool
        Show each row when the scanner would measure it (``hemodynamic_offset_s`` later),
        not with its stimulus.
    show_progress : bool
        A bar over the frames.

    Returns
    -------
    Path
        ``path``.
    """
    import av

    from berg.files import atomic_path
    from berg.plotting.figures import check_rois, check_scale, get_colormap
    from berg.plotting.panels import (
        TimeStrip,
        colour_bar,
        cortex_grid,
        stimulus_frames,
        stimulus_source,
    )
    from berg.plotting.raster import VIEWS
    from berg.plotting.timecourses import most_varying_rois
    from berg.progress import Stages
    from berg.validation import check_choice

    require()
    vertices, row_times = check_inputs(responses, metadata)
    responses = np.asarray(responses, np.float64)
    if len(responses) == 0:
        raise InvalidParameterError("responses have no rows; there is nothing to draw")
    check_int("fps", fps, minimum=1)
    if fps > 60:
        raise InvalidParameterError(f"fps must be at most 60, got {fps}")
    check_bool("as_measured", as_measured)
    views = [check_choice("view", v, tuple(VIEWS)) for v in views]
    if not views:
        raise InvalidParameterError(f"views must name at least one of {', '.join(VIEWS)}")
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise InvalidParameterError(f"the movie is an MP4: give a path ending .mp4, not {path}")
    vmax, threshold = check_scale(responses, vmax, threshold)
    colormap = get_colormap(cmap)
    source, kind = stimulus_source(stimulus, metadata)
    names, means = cortex.area_means(responses, vertices)
    rois = list(rois) if rois else most_varying_rois(responses, metadata, n=4)
    rois = check_rois(rois, names)
    shift = float(metadata["timing"].get("hemodynamic_offset_s", 5.0)) if as_measured else 0.0
    duration = float(row_times[-1, 1]) + shift
    n_frames = max(1, math.ceil(duration * fps - 1e-9))
    frame_times = np.arange(n_frames) / fps

    grid = cortex_grid(np.zeros(cortex.N_VERTICES), views, colormap, vmax=vmax, threshold=threshold)
    width = _even(_STIMULUS_BOX[1] + grid.shape[1] + 30)
    strip = TimeStrip(
        row_times.mean(axis=1) + shift,
        {r: means[:, names.index(r)] for r in rois},
        duration,
        _STRIP_HEIGHT,
        width,
    )
    scale = colour_bar(colormap, vmax, threshold, grid.shape[1])
    height = _even(40 + max(_STIMULUS_BOX[0], grid.shape[0] + scale.shape[0]) + _STRIP_HEIGHT)
    pictures = stimulus_frames(source, kind, frame_times)
    words = metadata.get("stimulus", {}).get("words") or {}
    with Stages(show_progress) as stages, atomic_path(path) as temporary:
        stages.start("movie", total=n_frames, unit="frame")
        with av.open(str(temporary), "w", format="mp4") as container:
            video = container.add_stream("libx264", rate=fps, options={"crf": "18"})
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            audio = None
            if source is not None and kind in ("video", "audio") and _has_audio(source):
                audio = container.add_stream("aac", rate=_AUDIO_RATE, layout="mono")
            for index, time in enumerate(frame_times):
                surface = surface_at(responses, vertices, row_times, time - shift)
                frame = _compose(
                    width,
                    height,
                    grid=np.concatenate(
                        [
                            cortex_grid(surface, views, colormap, vmax=vmax, threshold=threshold),
                            scale,
                        ]
                    ),
                    stimulus=next(pictures) if pictures is not None else None,
                    words=words,
                    time=time,
                    strip=strip.at(time),
                    caption=_caption(time, shift, row_times),
                )
                picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
                picture.pts = index
                container.mux(video.encode(picture))
                stages.advance(1)
            container.mux(video.encode())
            if audio is not None:
                _mux_audio(container, audio, source, duration)
    return path


def _even(n: int) -> int:
    return n + n % 2


def _has_audio(path: Path) -> bool:
    from berg.stimulus import media

    return media.probe(path).has_audio


def _caption(time: float, shift: float, row_times: np.ndarray) -> str:
    middles = row_times.mean(axis=1)
    shown = time - shift
    k = int(np.clip(np.searchsorted(middles, shown, side="right") - 1, 0, len(middles) - 1))
    between = k + 1 < len(middles) and shown > middles[k]
    rows = f"rows {k}-{k + 1} interpolated" if between else f"row {k}"
    when = (
        f"as measured ({shift:g} s after its stimulus)"
        if shift
        else "with the stimulus that causes it"
    )
    return f"t = {time:6.1f} s   cortex: {rows}, shown {when}"


def _compose(width, height, *, grid, stimulus, words, time, strip, caption) -> np.ndarray:
    from berg.plotting.panels import fit_into, label, words_panel

    frame = np.full((height, width, 3), 255, np.uint8)
    label(frame, caption, (12, 10), size=16)
    box_h, box_w = _STIMULUS_BOX
    panel = fit_into(stimulus, box_h, box_w) if stimulus is not None else None
    if panel is None:
        panel = words_panel(words, time, box_h, box_w)
    top = 40
    frame[top : top + box_h, 10 : 10 + box_w] = panel
    left = 20 + box_w
    frame[top : top + grid.shape[0], left : left + grid.shape[1]] = grid
    frame[height - strip.shape[0] :, : strip.shape[1]] = strip
    return frame


def _mux_audio(container, stream, source: Path, duration: float) -> None:
    from berg.media_writer import mux_mono_audio
    from berg.stimulus import media

    samples = media.read_audio(source, _AUDIO_RATE)[: round(duration * _AUDIO_RATE)]
    mux_mono_audio(container, stream, samples.astype(np.float32), _AUDIO_RATE, block=1024)
