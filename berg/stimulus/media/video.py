"""Video frames at given times, decoded in one pass (:func:`read_frames`), and the
reference's frame index for a time (:func:`frame_index_at`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from berg.errors import InvalidParameterError, StimulusError
from berg.stimulus.media.container import (
    decode,
    fps_of,
    media_path,
    no_track,
    opened,
    quarter_turns,
    require_track,
    timeline_origin,
    ts_seconds,
    video_stream,
)

__all__ = ["FRAME_TIME_TOLERANCE", "frame_index_at", "read_frames"]

#: A frame is on screen at time t when its presentation time is <= t + this (seconds), so a
#: time computed as k / fps that lands a hair below frame k's timestamp still gets frame k.
FRAME_TIME_TOLERANCE = 1e-6
# read_frames seeks (to the keyframe before the first time asked for) only past this point:
# below it, decoding from the start costs less than a seek is worth.
_SEEK_AFTER_SECONDS = 2.0


def frame_index_at(times, fps: float) -> np.ndarray:
    """The reference's frame for each time: ``int(fps * t + 1e-5)`` (moviepy's rule).

    A helper for comparing :func:`read_frames` with the reference (which indexes the frames
    of a constant-frame-rate file); berg itself picks frames by timestamp.

    Parameters
    ----------
    times : array_like of float, shape (n,)
        Seconds from the start of the file, >= 0.
    fps : float
        Frames per second.

    Returns
    -------
    ndarray of int64, shape (n,)
    """
    times = np.asarray(times, dtype=np.float64)
    return np.trunc(fps * times + 1e-5).astype(np.int64)


def _to_rgb(
    frame: av.VideoFrame, size: tuple[int, int] | None, reformatter: VideoReformatter | None = None
) -> np.ndarray:
    """One decoded frame as a read-only uint8 RGB array ``(H, W, 3)``, as displayed.

    Converted by swscale with the frame's own colour matrix and range and bicubic
    interpolation, the flags the reference's ``ffmpeg`` call used; turned by the quarter
    turns the file asks for (phone videos), as ``ffmpeg`` does by default (a mirroring in the
    display matrix, which phones do not write, is ignored). A ``reformatter`` kept across the
    frames of a video reuses its swscale context (``frame.to_ndarray`` builds one per frame,
    a quarter of the conversion's time at 720p); the pixels are the same.
    """
    turns = quarter_turns(frame)
    width, height = size if size is not None else (None, None)
    if turns % 2 and size is not None:
        width, height = height, width
    reformatter = reformatter or VideoReformatter()
    rgb = reformatter.reformat(
        frame, format="rgb24", width=width, height=height, interpolation="BICUBIC"
    ).to_ndarray()
    if turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=turns))
    # The same array is handed out for every time that shows this frame: keep it intact.
    rgb.flags.writeable = False
    return rgb


class _SeekOvershot(Exception):
    """The seek landed after the time asked for; decode from the start instead."""


def _timed_frames(path: Path, first_time: float) -> Iterator[tuple[float, av.VideoFrame]]:
    """``(time, frame)`` for the video frames from the one on screen at ``first_time`` on.

    Seeks to the keyframe before ``first_time`` when that is far into the file; if the seek
    lands after it, decodes from the start.
    """
    for seek in (True, False) if first_time > _SEEK_AFTER_SECONDS else (False,):
        with opened(path) as container:
            stream = video_stream(container)
            if stream is None:
                raise no_track(path, container, "video")
            stream.thread_type = "AUTO"
            origin = timeline_origin(container)
            tb = stream.time_base
            step = 1.0 / (fps_of(stream) or 25.0)
            if seek:
                try:
                    container.seek(int((first_time + origin) / tb), stream=stream, backward=True)
                except av.error.FFmpegError:
                    continue
            last = None
            try:
                for frame in _decode_video(container, stream):
                    if frame.pts is not None:
                        time = ts_seconds(frame.pts, tb) - origin
                    else:  # no timestamp: the frame after the previous one
                        time = 0.0 if last is None else last + step
                    if seek and last is None and time > first_time + FRAME_TIME_TOLERANCE:
                        raise _SeekOvershot
                    last = time
                    yield time, frame
            except _SeekOvershot:
                continue
            if last is None:
                if seek:  # nothing after the seek point: try from the start
                    continue
                raise StimulusError(f"no video frame of {str(path)!r} could be decoded")
            return


def _decode_video(container, stream) -> Iterator[av.VideoFrame]:
    # A seam for tests, which count the frames decoded here.
    return decode(container, stream)


def read_frames(
    path: str | os.PathLike,
    times,
    *,
    size: tuple[int, int] | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """The video frames on screen at the given times, decoded in one pass.

    The frame on screen at ``t`` is the last frame whose presentation time is
    <= ``t + FRAME_TIME_TOLERANCE``; times before the first frame get the first frame and
    times past the end the last one (for a constant-frame-rate file starting at 0 this is
    frame ``int(fps * t + 1e-5)``, see :func:`frame_index_at`). The video is decoded once,
    front to back (after a seek to the keyframe before the earliest time, when that is far
    in), and each frame shown is converted to RGB once. Only the frame on screen is held,
    so memory does not grow with the video's length or the number of times.

    Parameters
    ----------
    path : str or os.PathLike
        A video file.
    times : array_like of float, shape (n,)
        Seconds from the start of the file, in any order, repeats allowed.
    size : (width, height), optional
        Scale the frames to this size (bicubic, by FFmpeg during the RGB conversion), in
        displayed orientation.

    Yields
    ------
    i : int
        Index into ``times``. Every index is yielded once, in increasing order of
        ``times[i]`` (equal times in input order).
    frame : ndarray, uint8, shape (H, W, 3), read-only
        RGB. Times that show the same frame get the same array object.

    Raises
    ------
    StimulusError
        Missing, unreadable or damaged file, or one with no video track (the file is checked
        when this is called; decoding errors surface while iterating).
    InvalidParameterError
        ``times`` not 1-D or not finite; a bad ``size``.
    """
    path = media_path(path)
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1:
        raise InvalidParameterError(
            f"times must be a 1-D array of seconds, got shape {times.shape}"
        )
    if not np.isfinite(times).all():
        raise InvalidParameterError("times must be finite (no NaN or inf)")
    if size is not None:
        if (
            not isinstance(size, (tuple, list))
            or len(size) != 2
            or not all(isinstance(v, (int, np.integer)) and v > 0 for v in size)
        ):
            raise InvalidParameterError(
                f"size must be None or (width, height) in pixels, got {size!r}"
            )
        size = (int(size[0]), int(size[1]))
    require_track(path, "video")
    return _frames_at(path, times, size)


def _frames_at(
    path: Path, times: np.ndarray, size: tuple[int, int] | None
) -> Iterator[tuple[int, np.ndarray]]:
    order = np.argsort(times, kind="stable")
    if not len(order):
        return
    sorted_times = times[order]
    n = len(order)
    j = 0
    shown = shown_rgb = None
    reformatter = VideoReformatter()
    for time, frame in _timed_frames(path, float(sorted_times[0])):
        # Times before this frame's timestamp show the frame before it (or, before the first
        # frame, this one).
        if sorted_times[j] + FRAME_TIME_TOLERANCE < time:
            if shown is None:
                shown, shown_rgb = frame, None
            if shown_rgb is None:
                shown_rgb = _to_rgb(shown, size, reformatter)
            while j < n and sorted_times[j] + FRAME_TIME_TOLERANCE < time:
                yield int(order[j]), shown_rgb
                j += 1
            if j == n:
                return
        if shown is not frame:
            shown, shown_rgb = frame, None
    if shown_rgb is None:
        shown_rgb = _to_rgb(shown, size, reformatter)
    while j < n:  # past the last frame: it stays on screen
        yield int(order[j]), shown_rgb
        j += 1
