"""Which frames of a video each V-JEPA 2 clip holds, as the reference reads them.

The reference (neuralset 0.0.2 ``HuggingFaceVideo``, frames read with moviepy 2; reference
doc, section 5), per video chunk of ``d`` seconds starting at ``s``:

- ``n = round(2 * d)`` bins (at least one here; the reference returns nothing for a chunk
  under 0.25 s). Bin ``k`` ends at ``t_k``, the ``k + 1``-th value of
  ``linspace(0, (s + d) - s, n + 1)``: the chunk is a moviepy sub-clip whose duration is
  ``(s + d) - s``, which may differ from ``d`` in the last bit.
- Its clip is 64 frames at ``max(0, t_k - j / 64 * 4)`` for ``j = 63 .. 0`` seconds into the
  chunk: 16 frames per second over the 4 s that end at ``t_k``, clamped at the chunk start.
- Frame at chunk time ``t``: index ``int(fps * (s + t) + 1e-5)`` of the whole file (moviepy's
  rule; ``ffmpeg`` seeks to that frame's time, then reads frames in order). So the last
  bin of a chunk that is not the last reads the next chunk's first frame.
- The end of the file. A clip's last frame at the very end of the file asks for index ``n``,
  one past the last frame. moviepy's reader keeps the last frame it read; for a request
  ahead of it, it reads and drops the frames in between (frame ``n - 1`` among them), fails
  to read frame ``n`` and returns the kept frame. So an index past the end gives the frame
  of the latest request that was inside the file: ``n - 2`` at 24-30 fps, ``n - 4`` at
  50-60 fps, ``n - 1`` at 16 fps and below (checked against moviepy 2.2.1 at 16, 24, 25,
  29.97, 30, 50 and 60 fps).

berg reads the frames by presentation time (:func:`berg.stimulus.media.read_frames`):
reference frame ``k`` is the frame on screen at ``(k + 0.5) / fps`` (:func:`frame_times`),
exactly frame ``k`` of a constant-frame-rate file, even when its timestamps are rounded to
a millisecond as in mkv. ``fps`` is the stream's average rate; moviepy parses the rate
``ffmpeg`` prints, rounded to 2 decimals and snapped to ``N * 1000 / 1001`` for N in 23, 24,
25, 30, 50: the same rate for 25, 30, 24, 29.97 or 23.976 fps, but not for 59.94
(60000 / 1001), where some of its picks come out one frame off ours, a share that grows
with the time into the file (about 0.00006 per second).
"""

from __future__ import annotations

import math

import numpy as np

from berg.errors import InvalidParameterError
from berg.features.timed import n_bins
from berg.stimulus import media
from berg.stimulus.timeline import Chunk
from berg.validation import check_int, is_number

__all__ = [
    "CLIP_FRAMES",
    "CLIP_SECONDS",
    "check_chunk",
    "clip_frame_indices",
    "clip_times",
    "frame_times",
    "frames_in_video",
]

#: Frames per clip: the reference feeds V-JEPA 2 (fpc64) 64 frames ...
CLIP_FRAMES = 64
#: ... spread over the 4 s that end at each bin's end (16 frames per second).
CLIP_SECONDS = 4.0


def check_chunk(chunk: object) -> Chunk:
    start = getattr(chunk, "start", None)
    duration = getattr(chunk, "duration", None)
    if not (is_number(start) and is_number(duration)) or start < 0 or duration <= 0:
        raise InvalidParameterError(
            f"a video chunk needs a finite start >= 0 and duration > 0 (seconds), got {chunk!r}"
        )
    return chunk


def clip_times(chunk: Chunk) -> np.ndarray:
    """The times (seconds from the chunk start) of every clip frame, as the reference has them.

    Parameters
    ----------
    chunk : Chunk

    Returns
    -------
    ndarray, float64, shape (n_bins, 64)
        Row ``k``: ``max(0, t_k - j / 64 * 4)`` for ``j = 63 .. 0``, non-decreasing, the last
        one ``t_k``, the end of bin ``k``; ``n_bins = max(1, round(2 * chunk.duration))``.
    """
    chunk = check_chunk(chunk)
    n = n_bins(chunk.duration)
    span = (chunk.start + chunk.duration) - chunk.start  # moviepy's sub-clip duration
    ends = np.linspace(0, span, n + 1)[1:]
    # The reference's own float operations, in its order: k / 64 * T, then t - that.
    back = np.array([k / CLIP_FRAMES * CLIP_SECONDS for k in reversed(range(CLIP_FRAMES))])
    return np.maximum(0.0, ends[:, None] - back[None, :])


def clip_frame_indices(chunk: Chunk, fps: float, n_frames: int | None = None) -> np.ndarray:
    """The file's frame index of every clip frame, as the reference's reader returns them.

    Parameters
    ----------
    chunk : Chunk
        Seconds on the file's timeline.
    fps : float
        Frames per second of the video.
    n_frames : int, optional
        Frames in the file. Indices at or past it are the reference's reads past the end of
        the file: each becomes the index of the latest request before it that was in the
        file, in the reference's order (the chunk's clips in turn, each clip's frames in
        time order), or the last frame when there was none (moviepy would fail there). None
        leaves every index as ``int(fps * t + 1e-5)``.

    Returns
    -------
    ndarray, int64, shape (n_bins, 64)
        Non-decreasing along each row, and down each column inside the file.

    Examples
    --------
    >>> clip_frame_indices(Chunk(0.0, 1.0), fps=25.0)[:, -3:]
    array([[ 9, 10, 12],
           [21, 23, 25]])
    >>> clip_frame_indices(Chunk(0.0, 1.0), fps=25.0, n_frames=25)[:, -3:]
    array([[ 9, 10, 12],
           [21, 23, 23]])
    """
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise InvalidParameterError(f"fps must be a positive number, got {fps!r}")
    times = clip_times(chunk) + chunk.start  # moviepy: sub-clip time + its start
    indices = media.frame_index_at(times.ravel(), float(fps)).reshape(times.shape)
    if n_frames is not None:
        indices = _past_the_end(indices, check_int("n_frames", n_frames))
    return indices


def _past_the_end(indices: np.ndarray, n_frames: int) -> np.ndarray:
    """moviepy 2's answer to requests past the last frame: the frame it returned last.

    Its reader keeps the last frame it read. A request past the end skips the frames in
    between unread, fails to read and returns the kept one: that of the latest request
    inside the file, in the order of the requests (row-major: clip by clip).
    """
    flat = indices.ravel()
    inside = flat < n_frames
    if inside.all():
        return indices
    latest = np.maximum.accumulate(np.where(inside, np.arange(len(flat)), -1))
    kept = np.where(latest >= 0, flat[np.maximum(latest, 0)], n_frames - 1)
    return np.where(inside, flat, kept).reshape(indices.shape)


def frames_in_video(info: media.MediaInfo) -> int:
    """Frames the reference's reader gets from a video: its frame slots before the end of
    the video stream (``round(video_duration * fps)``; the header's count when the stream's
    end is unknown)."""
    if info.video_duration and info.fps:
        return max(1, round(info.video_duration * info.fps))
    return max(1, int(info.n_frames or 1))


def frame_times(indices: np.ndarray, fps: float) -> np.ndarray:
    """Times at which frames ``indices`` of a constant-rate video are on screen: mid-frame."""
    return (np.asarray(indices, dtype=np.float64) + 0.5) / fps
