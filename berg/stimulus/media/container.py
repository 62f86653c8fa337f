"""Opening a media file and finding its streams: what probing and decoding share.

Any FFmpeg failure while a file is open becomes a :class:`~berg.errors.StimulusError` that
names the file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av

from berg.errors import StimulusError

__all__ = [
    "audio_stream",
    "decode",
    "describe_streams",
    "fps_of",
    "frame_time",
    "header_end",
    "media_path",
    "no_audio_decoded",
    "no_track",
    "opened",
    "quarter_turns",
    "require_track",
    "timeline_origin",
    "ts_seconds",
    "video_stream",
]


def media_path(path: object) -> Path:
    """Check that ``path`` names an existing, non-empty regular file, before FFmpeg sees it."""
    if not isinstance(path, (str, os.PathLike)):
        raise StimulusError(
            f"a media file must be given as a path (str or os.PathLike), got "
            f"{type(path).__name__} {path!r}"
        )
    path = Path(path).expanduser()
    if not path.exists():
        raise StimulusError(f"media file {str(path)!r} does not exist")
    if not path.is_file():
        raise StimulusError(f"media file {str(path)!r} is not a regular file")
    if path.stat().st_size == 0:
        raise StimulusError(f"media file {str(path)!r} is empty (0 bytes)")
    return path


def _reason(exc: BaseException) -> str:
    # FFmpeg errors carry "[Errno N] text: 'filename'"; the text alone reads better.
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    log = getattr(exc, "log", None)
    if log and len(log) >= 3 and log[2]:
        text = f"{text} ({str(log[2]).strip()})"
    return text


@contextlib.contextmanager
def opened(path: Path) -> Iterator[av.container.InputContainer]:
    """Open ``path`` for reading; any FFmpeg failure inside the block becomes StimulusError."""
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise StimulusError(
            f"cannot read {str(path)!r} as audio or video: {_reason(exc)} (not a media file, "
            f"an unsupported format, or a damaged or truncated file)"
        ) from exc
    try:
        with container:
            yield container
    except av.error.FFmpegError as exc:
        raise StimulusError(f"error while decoding {str(path)!r}: {_reason(exc)}") from exc


def timeline_origin(container: av.container.InputContainer) -> float:
    """Seconds on the container clock that the timeline calls 0."""
    start = container.start_time
    return start / av.time_base if start is not None else 0.0


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    # Cover art (an mp3's album picture) is a one-frame "video" stream: not a video stimulus.
    candidates = [
        s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic
    ]
    if not candidates:
        return None
    best = container.streams.best("video")
    return best if best in candidates else candidates[0]


def audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream | None:
    if not container.streams.audio:
        return None
    return container.streams.best("audio") or container.streams.audio[0]


def fps_of(stream: av.video.stream.VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return None


def ts_seconds(value: int, time_base: Fraction) -> float:
    return float(value * time_base)


def header_end(stream, origin: float) -> float | None:
    """Where the stream's header says it ends (timeline seconds), when it says."""
    if not stream.duration:
        return None
    start = stream.start_time if stream.start_time is not None else 0
    return ts_seconds(start + stream.duration, stream.time_base) - origin


def describe_streams(container) -> str:
    kinds = [s.type for s in container.streams]
    return ", ".join(kinds) if kinds else "none"


def decode(container, stream) -> Iterator:
    """Decoded frames of ``stream`` in presentation order, skipping undecodable packets.

    A packet FFmpeg rejects (a damaged or truncated one) is dropped and decoding goes on, as
    the ``ffmpeg`` command line does; errors from the demuxer itself still propagate.
    """
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except (av.error.InvalidDataError, av.error.UndefinedError):
            continue


def frame_time(frame, origin: float) -> float | None:
    if frame.pts is None or not frame.time_base:
        return None
    return ts_seconds(frame.pts, frame.time_base) - origin


def no_track(path: Path, container, kind: str) -> StimulusError:
    return StimulusError(
        f"{str(path)!r} has no {kind} track (streams: {describe_streams(container)})"
    )


def no_audio_decoded(path: Path) -> StimulusError:
    """The error for an audio track of which nothing decodes."""
    return StimulusError(
        f"no audio of {str(path)!r} could be decoded (an empty or damaged audio track)"
    )


def first_audio_frame(container, stream, path: Path) -> tuple[av.AudioFrame, Iterator]:
    """Decode from where the container stands: its first audio frame and the frames after.

    Raises
    ------
    StimulusError
        Nothing of the track decodes (:func:`no_audio_decoded`).
    """
    frames = decode(container, stream)
    first = next(frames, None)
    if first is None:
        raise no_audio_decoded(path)
    return first, frames


def samples_before(first: av.AudioFrame, origin: float, at: float) -> int:
    """Samples of ``first`` (at its decoded rate) that lie before timeline time ``at``;
    negative when the frame starts after ``at`` (that many samples of silence are missing).
    An untimed frame counts as starting at 0."""
    landed = frame_time(first, origin)
    return round((at - (landed if landed is not None else 0.0)) * first.sample_rate)


def require_track(path: Path, kind: str) -> None:
    """Fail now, not at the first ``next()``, when the file lacks the track asked for."""
    with opened(path) as container:
        stream = video_stream(container) if kind == "video" else audio_stream(container)
        if stream is None:
            raise no_track(path, container, kind)


def quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns that display the frame upright (its display matrix)."""
    degrees = getattr(frame, "rotation", 0) or 0  # VideoFrame.rotation: PyAV >= 14
    return round(degrees / 90) % 4
