"""Decoding video frames and audio samples from a media file, with PyAV (FFmpeg).

Every time here is in seconds on the file's own timeline, counted from the container's start
(normally the first frame and the first audio sample are both at 0), which is where the
reference's ``ffmpeg`` command line counts from too. Audio and video stay in sync on that
timeline.

Three promises the feature extractors rely on:

- ``read_frames`` decodes the video once, front to back, and converts each frame it needs to RGB
  once, however many requested times show it; it holds only the frame on screen, so memory does
  not grow with the length of the video or the number of times (each frame of a stimulus is
  used by up to 8 overlapping V-JEPA2 clips; the reference decoded it 8 times).
- ``read_audio`` cuts spans to the sample: ``read_audio(p, start=s, duration=d)`` equals
  ``read_audio(p)[round(s * rate):][:round(d * rate)]`` up to the resampler's rounding.
- Anything FFmpeg cannot read becomes a :class:`~berg.errors.StimulusError` that names the file.

Damaged files. A file whose index was lost (an mp4 cut before its ``moov`` atom) cannot be
opened and raises. A file whose header survived but whose data stops early (an interrupted
download) is usable: :func:`probe` checks the header's durations against the packets actually
present, reports the durations of the data that is there and warns (``UserWarning``) that the
file is truncated; the read functions then decode what exists (frames asked for past the end get
the last frame, audio comes back shorter). Packets FFmpeg cannot decode are skipped, as the
``ffmpeg`` command line does; a stream of which nothing decodes raises.

Nothing here writes a file: decoded data goes to memory only.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from berg.errors import InvalidParameterError, StimulusError

__all__ = ["MediaInfo", "probe", "read_audio", "iter_audio_blocks", "read_frames",
           "frame_index_at"]

#: A frame is on screen at time t when its presentation time is <= t + this (seconds), so a
#: time computed as k / fps that lands a hair below frame k's timestamp still gets frame k.
FRAME_TIME_TOLERANCE = 1e-6

# Header durations are checked against the last packets; a gap bigger than this (seconds)
# means the header is wrong (a truncated file, or an estimate). Healthy files differ by at
# most one packet (encoder padding, up to ~0.15 s for mp3 at 8 kHz).
_TRUNCATION_TOLERANCE = 0.25
# How far before the promised end the tail check starts reading packets (seconds).
_TAIL_SECONDS = 2.0
# read_frames seeks (to the keyframe before the first time asked for) only past this point:
# below it, decoding from the start costs less than a seek is worth.
_SEEK_AFTER_SECONDS = 2.0
# Audio decoding starts at least this long before the span asked for, so that the decoder
# (mp3 bit reservoir, Opus pre-roll) and the resampler's filter have settled by then.
_AUDIO_PREROLL_SECONDS = 0.5
# Demuxers whose seeks land only near the asked time (mp3 seeks by bitrate or a coarse table
# of contents), so the sample count after a seek is not exact: always decode from the start.
_NO_SAMPLE_EXACT_SEEK = frozenset({"mp3"})


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds, as :func:`probe` finds it.

    Attributes
    ----------
    path : Path
        The file, as given (not resolved).
    duration : float
        Seconds: the longest of the video and audio streams kept (the container's duration
        when the streams carry none); always > 0.
    has_video, has_audio : bool
        Whether there is a video stream (cover art in an audio file does not count) and an
        audio stream, each with decodable data.
    fps : float or None
        Average frame rate of the video stream, frames per second.
    width, height : int or None
        Size in pixels of the frames as displayed, i.e. as :func:`read_frames` returns them
        (after the file's rotation, if it asks for one).
    n_frames : int or None
        Frames in the video stream, when the container records it (mp4, mov, avi; not mkv or
        webm), or when a truncated file had to be counted.
    audio_sample_rate : int or None
        Samples per second of the audio stream.
    audio_channels : int or None
        Channels of the audio stream.
    video_duration, audio_duration : float or None
        Seconds from the timeline's start to the end of each stream.
    """

    path: Path
    duration: float
    has_video: bool
    has_audio: bool
    fps: float | None
    width: int | None
    height: int | None
    n_frames: int | None
    audio_sample_rate: int | None
    audio_channels: int | None
    video_duration: float | None
    audio_duration: float | None


# --------------------------------------------------------------------------- opening


def _media_path(path: object) -> Path:
    """Check that ``path`` names an existing, non-empty regular file, before FFmpeg sees it."""
    if not isinstance(path, (str, os.PathLike)):
        raise StimulusError(
            f"a media file must be given as a path (str or os.PathLike), got "
            f"{type(path).__name__} {path!r}")
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
def _opened(path: Path) -> Iterator[av.container.InputContainer]:
    """Open ``path`` for reading; any FFmpeg failure inside the block becomes StimulusError."""
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise StimulusError(
            f"cannot read {str(path)!r} as audio or video: {_reason(exc)} (not a media file, "
            f"an unsupported format, or a damaged or truncated file)") from exc
    try:
        with container:
            yield container
    except av.error.FFmpegError as exc:
        raise StimulusError(f"error while decoding {str(path)!r}: {_reason(exc)}") from exc


def _origin(container: av.container.InputContainer) -> float:
    """Seconds on the container clock that the timeline calls 0."""
    start = container.start_time
    return start / av.time_base if start is not None else 0.0


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    # Cover art (an mp3's album picture) is a one-frame "video" stream: not a video stimulus.
    candidates = [s for s in container.streams.video
                  if not s.disposition & av.stream.Disposition.attached_pic]
    if not candidates:
        return None
    best = container.streams.best("video")
    return best if best in candidates else candidates[0]


def _audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream | None:
    if not container.streams.audio:
        return None
    return container.streams.best("audio") or container.streams.audio[0]


def _fps(stream: av.video.stream.VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return None


def _seconds(value: int, time_base: Fraction) -> float:
    return float(value * time_base)


# --------------------------------------------------------------------------- probe


def _packet_end(path: Path, index: int, seek_to: float | None, origin: float,
                frame_step: float) -> tuple[float | None, int]:
    """End of the last packet of stream ``index`` (timeline seconds) and how many were read.

    Reads packets only (no decoding) from ``seek_to`` (timeline seconds; ``None`` = from the
    start) to the end of the file. Packets without a duration (the last video packet in some
    containers) count ``frame_step`` seconds. ``None`` when no packet was read.
    """
    with _opened(path) as container:
        stream = container.streams[index]
        tb = stream.time_base
        if seek_to is not None:
            try:
                container.seek(int((seek_to + origin) / tb), stream=stream, backward=True)
            except av.error.FFmpegError:
                return None, 0
        end, count = None, 0
        try:
            for packet in container.demux(stream):
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is None or packet.size == 0:
                    continue
                length = _seconds(packet.duration, tb) if packet.duration else frame_step
                stop = _seconds(ts, tb) - origin + length
                end = stop if end is None else max(end, stop)
                count += 1
        except av.error.FFmpegError:
            pass  # a damaged tail: what was read before it is what the file holds
        return end, count


def _header_end(stream, origin: float) -> float | None:
    """Where the stream's header says it ends (timeline seconds), when it says."""
    if not stream.duration:
        return None
    start = stream.start_time if stream.start_time is not None else 0
    return _seconds(start + stream.duration, stream.time_base) - origin


def _stream_end(path: Path, index: int, header_end: float | None, origin: float,
                container_end: float | None,
                frame_step: float) -> tuple[float | None, bool, int | None]:
    """Where a stream's data ends (timeline seconds), checked against what the headers say.

    Returns ``(end, short, n_packets)``: ``short`` when the data stops more than
    ``_TRUNCATION_TOLERANCE`` before the stream's own header duration ``header_end``;
    ``n_packets`` when the whole stream had to be read to find the end (else None).
    """
    expected = header_end if header_end is not None else container_end
    if expected is not None:
        tail, _ = _packet_end(path, index, max(0.0, expected - _TAIL_SECONDS), origin,
                              frame_step)
        if tail is not None and abs(tail - expected) <= _TRUNCATION_TOLERANCE:
            # The data ends where the header says: trust the header, exact where it exists
            # (mp4 edit lists trim the audio encoder's padding; packets do not).
            return (header_end if header_end is not None else tail), False, None
        if tail is not None and tail > expected:
            # Data past the header's end: the header was an estimate (an AVI without its
            # index guesses from the file size).
            return tail, False, None
    # No header, a seek that found nothing, or data that stops early: read every packet.
    end, count = _packet_end(path, index, None, origin, frame_step)
    if end is not None and header_end is not None:
        if abs(end - header_end) <= _TRUNCATION_TOLERANCE:
            return header_end, False, count
        return end, end < header_end, count
    return end, False, count


def _first_frames(container, streams) -> dict[int, av.frame.Frame]:
    """The first decodable frame of each of ``streams``, by stream index (absent: none)."""
    found: dict[int, av.frame.Frame] = {}
    for packet in container.demux(*streams):
        if packet.stream.index in found:
            continue
        try:
            frames = packet.decode()
        except (av.error.InvalidDataError, av.error.UndefinedError):
            continue
        if frames:
            found[packet.stream.index] = frames[0]
            if len(found) == len(streams):
                break
    return found


def probe(path: str | os.PathLike) -> MediaInfo:
    """Find what a media file holds and how long it lasts, checking that it decodes.

    Reads the headers, decodes the first frame of each stream kept, and reads the last
    packets of each stream to check the durations the headers claim (a few seconds of
    packets, not the whole file, unless the headers are missing or wrong).

    Parameters
    ----------
    path : str or os.PathLike
        A video or audio file in any format FFmpeg reads.

    Returns
    -------
    MediaInfo

    Raises
    ------
    StimulusError
        Missing or empty file, not media, no audio or video stream, nothing decodable, or a
        duration of 0.

    Warns
    -----
    UserWarning
        The file is truncated: its data stops well before the end its header promises. The
        durations returned are those of the data present.
    """
    path = _media_path(path)
    with _opened(path) as container:
        origin = _origin(container)
        container_end = None
        if container.duration:
            container_end = (container.duration + (container.start_time or 0)) / av.time_base
            container_end -= origin
        video, audio = _video_stream(container), _audio_stream(container)
        # Decoding a frame proves a stream usable (not a codec FFmpeg lacks, not garbage
        # behind a plausible header) and gives the rotation the frames are displayed with.
        first = _first_frames(container, [s for s in (video, audio) if s is not None])
        first_video = first.get(video.index) if video is not None else None
        first_audio = first.get(audio.index) if audio is not None else None
        if first_video is None and first_audio is None:
            what = ("has no video or audio stream" if video is None and audio is None else
                    "holds no video or audio that decodes (empty, damaged, or in a codec "
                    "FFmpeg lacks)")
            raise StimulusError(
                f"{str(path)!r} {what} (streams: {_describe_streams(container)})")
        # Plain values only from here: a stream object must not outlive its container.
        fps = width = height = n_frames = video_index = video_header = None
        if first_video is not None:
            fps = _fps(video)
            width, height = first_video.width, first_video.height
            if _quarter_turns(first_video) % 2:  # shown on its side: as read_frames gives it
                width, height = height, width
            n_frames = video.frames or None
            video_index, video_header = video.index, _header_end(video, origin)
        sample_rate = channels = audio_index = audio_header = None
        if first_audio is not None:
            # The decoder's, not the header's: HE-AAC headers give half the decoded rate.
            sample_rate, channels = first_audio.sample_rate, len(first_audio.layout.channels)
            audio_index, audio_header = audio.index, _header_end(audio, origin)

    video_end = audio_end = None
    shortfall = []
    if video_index is not None:
        video_end, short, count = _stream_end(path, video_index, video_header, origin,
                                              container_end, 1.0 / fps if fps else 0.0)
        if count is not None and (short or not n_frames):
            n_frames = count
        if short:
            shortfall.append("video")
    if audio_index is not None:
        audio_end, short, _ = _stream_end(path, audio_index, audio_header, origin,
                                          container_end, 0.0)
        if short:
            shortfall.append("audio")
    ends = [e for e in (video_end, audio_end) if e is not None]
    duration = max(ends) if ends else container_end
    if (container_end is not None and ends and video_header is None and audio_header is None
            and duration < container_end - _TRUNCATION_TOLERANCE):
        # Matroska records only the container's duration: the one promise to check.
        shortfall.append("media")
    if not duration or duration <= 0:
        raise StimulusError(f"{str(path)!r} holds no audio or video data (duration 0)")
    if shortfall:
        promised = max(e for e in (container_end, video_header, audio_header) if e is not None)
        warnings.warn(
            f"{str(path)!r} looks truncated (an interrupted download or copy?): its header "
            f"promises {promised:.3f} s but its {' and '.join(shortfall)} data stop at "
            f"{duration:.3f} s; using the {duration:.3f} s present", UserWarning, stacklevel=2)
    return MediaInfo(
        path=path, duration=float(duration),
        has_video=video_index is not None, has_audio=audio_index is not None,
        fps=fps, width=width, height=height, n_frames=n_frames,
        audio_sample_rate=sample_rate, audio_channels=channels,
        video_duration=video_end, audio_duration=audio_end)


def _describe_streams(container) -> str:
    kinds = [s.type for s in container.streams]
    return ", ".join(kinds) if kinds else "none"


# --------------------------------------------------------------------------- decoding


def _decode(container, stream) -> Iterator:
    """Decoded frames of ``stream`` in presentation order, skipping undecodable packets.

    A packet FFmpeg rejects (a damaged or truncated one) is dropped and decoding goes on, as
    the ``ffmpeg`` command line does; errors from the demuxer itself still propagate.
    """
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except (av.error.InvalidDataError, av.error.UndefinedError):
            continue


# --------------------------------------------------------------------------- audio


def _check_span(start: float, duration: float | None) -> None:
    if not (isinstance(start, (int, float)) and math.isfinite(start) and start >= 0):
        raise InvalidParameterError(f"start must be a finite number of seconds >= 0, got "
                                    f"{start!r}")
    if duration is not None and not (isinstance(duration, (int, float))
                                     and math.isfinite(duration) and duration >= 0):
        raise InvalidParameterError(f"duration must be None or a finite number of seconds "
                                    f">= 0, got {duration!r}")


def _check_rate(sample_rate: int | None) -> None:
    if sample_rate is not None and not (isinstance(sample_rate, (int, np.integer))
                                        and sample_rate > 0):
        raise InvalidParameterError(f"sample_rate must be None (the file's own rate) or a "
                                    f"positive integer (Hz), got {sample_rate!r}")


def _frame_samples(frame: av.AudioFrame) -> np.ndarray:
    """A decoded audio frame as float32 ``(channels, n)``, integers scaled to [-1, 1)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:  # interleaved: one row of n * channels values
        data = data.reshape(-1, channels).T
    if data.dtype == np.uint8:
        return (data.astype(np.float32) - 128.0) / 128.0
    if data.dtype.kind == "i":
        return (data / float(2 ** (8 * data.dtype.itemsize - 1))).astype(np.float32)
    return data.astype(np.float32, copy=False)


def _frame_time(frame, origin: float) -> float | None:
    if frame.pts is None or not frame.time_base:
        return None
    return _seconds(frame.pts, frame.time_base) - origin


def _chain(first, rest):
    yield first
    yield from rest


def _samples_from(frames, skip: int, channels: int) -> Iterator[np.ndarray]:
    """The frames' samples as ``(channels, n)`` pieces, less the first ``skip`` of them, or
    after ``-skip`` samples of silence when ``skip`` is negative."""
    if skip < 0:
        yield np.zeros((channels, -skip), np.float32)
        skip = 0
    for frame in frames:
        samples = _frame_samples(frame)
        if skip:
            cut = min(skip, samples.shape[1])
            samples, skip = samples[:, cut:], skip - cut
        if samples.shape[1]:
            yield samples


@dataclass(frozen=True)
class _Audio:
    rate: int
    layout: av.AudioLayout
    channels: int
    pieces: Iterator[np.ndarray]


def _audio_from(container, stream, path: Path, at: float) -> _Audio:
    """The stream's samples from ``at`` (timeline seconds) on, at the rate it decodes to.

    The first piece starts exactly at ``at``: earlier samples are dropped, and a stream that
    starts later (audio beginning after the video) is preceded by silence. Past the first
    frame, samples are counted, not timed, as every audio reader does.
    """
    origin = _origin(container)
    rate = stream.codec_context.sample_rate
    # Seek only where a timestamp names a single sample, since after a seek the first frame's
    # timestamp is all that places the samples: Matroska's are rounded to milliseconds, and
    # mp3 seeks by bitrate estimate.
    first = None
    if (at > 0 and rate and stream.time_base <= Fraction(1, rate)
            and container.format.name not in _NO_SAMPLE_EXACT_SEEK):
        container.seek(int((at + origin) / stream.time_base), stream=stream, backward=True)
        frames = _decode(container, stream)
        first = next(frames, None)
        landed = _frame_time(first, origin) if first is not None else None
        if landed is None or landed > at:  # overshot, past the end, or untimed
            first = None
            container.seek(0)
    if first is None:
        frames = _decode(container, stream)
        first = next(frames, None)
    if first is None:
        raise StimulusError(f"no audio of {str(path)!r} could be decoded (an empty or damaged "
                            f"audio track)")
    # The decoder's rate, not the header's: HE-AAC headers give half the decoded rate.
    rate = first.sample_rate
    landed = _frame_time(first, origin)
    channels = len(first.layout.channels)
    skip = round((at - (landed if landed is not None else 0.0)) * rate)
    return _Audio(rate, first.layout, channels,
                  _samples_from(_chain(first, frames), skip, channels))


def _resampled(pieces: Iterator[np.ndarray], layout: av.AudioLayout, rate_in: int,
               rate_out: int) -> Iterator[np.ndarray]:
    """Resample ``(channels, n)`` float32 pieces from ``rate_in`` to ``rate_out`` (swresample).

    The output's first sample is at the input's first sample: FFmpeg's resampler compensates
    its own filter delay.
    """
    if rate_in == rate_out:
        yield from pieces
        return
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate_out)
    pts = 0
    for piece in pieces:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(piece), format="fltp",
                                           layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate_in, pts, Fraction(1, rate_in)
        pts += piece.shape[1]
        for out in resampler.resample(frame):
            yield out.to_ndarray()
    for out in resampler.resample(None):
        yield out.to_ndarray()


def _cut(pieces: Iterator[np.ndarray], skip: int, want: int | None) -> Iterator[np.ndarray]:
    """Drop the first ``skip`` samples, then stop after ``want`` (None: never)."""
    for piece in pieces:
        if skip:
            cut = min(skip, piece.shape[1])
            piece, skip = piece[:, cut:], skip - cut
        if want is not None:
            piece = piece[:, :want]
            want -= piece.shape[1]
        if piece.shape[1]:
            yield piece
        if want == 0:
            return


def _audio_span(container, path: Path, sample_rate: int | None, start: float,
                duration: float | None) -> _Audio:
    """``[start, start + duration)`` of the file's audio at ``sample_rate`` (None: its own)."""
    stream = _audio_stream(container)
    if stream is None:
        raise _no_track(path, container, "audio")
    stream.thread_type = "AUTO"
    rate_in = stream.codec_context.sample_rate or 1
    # Start decoding a little before the span, on a time that lies on both sample grids, so
    # that output sample i falls at i / rate on the timeline, exactly where a read of the
    # whole file puts it.
    grid = math.gcd(rate_in, sample_rate or rate_in)
    at = math.floor(max(0.0, start - _AUDIO_PREROLL_SECONDS) * grid) / grid
    source = _audio_from(container, stream, path, at)
    rate = sample_rate or source.rate
    skip = round(start * rate) - round(at * rate)
    want = None if duration is None else round(duration * rate)
    pieces = _resampled(source.pieces, source.layout, source.rate, rate)
    return _Audio(rate, source.layout, source.channels, _cut(pieces, skip, want))


def _no_track(path: Path, container, kind: str) -> StimulusError:
    return StimulusError(f"{str(path)!r} has no {kind} track "
                         f"(streams: {_describe_streams(container)})")


def _require_track(path: Path, kind: str) -> None:
    """Fail now, not at the first ``next()``, when the file lacks the track asked for."""
    with _opened(path) as container:
        stream = _video_stream(container) if kind == "video" else _audio_stream(container)
        if stream is None:
            raise _no_track(path, container, kind)


def _finish(pieces: list[np.ndarray], channels: int, mono: bool) -> np.ndarray:
    data = (np.concatenate(pieces, axis=1) if pieces
            else np.zeros((channels, 0), np.float32))
    return data.mean(axis=0, dtype=np.float32) if mono else data


def read_audio(
    path: str | os.PathLike,
    sample_rate: int | None = 16000,
    *,
    start: float = 0.0,
    duration: float | None = None,
    mono: bool = True,
) -> np.ndarray:
    """Decode the audio track of a file (or a span of it) to float samples.

    Parameters
    ----------
    path : str or os.PathLike
        An audio file, or a video file with an audio track.
    sample_rate : int or None
        Output rate in Hz (resampled with FFmpeg's swresample); ``None`` keeps the file's own.
    start : float
        Seconds from the start of the file where the span begins.
    duration : float or None
        Seconds of audio to return; ``None`` = up to the end of the file.
    mono : bool
        Average the channels (an equal-weight mean, as the reference does; not FFmpeg's
        downmix, which weighs a stereo pair by 1/sqrt(2)).

    Returns
    -------
    ndarray, float32
        Shape ``(n,)`` when ``mono``, else ``(channels, n)``. Nominally in [-1, 1]; a lossy
        codec can overshoot full scale slightly, and nothing is clipped. Sample ``i`` is at
        ``start + i / rate`` seconds. ``n = round(duration * rate)`` when the span lies inside
        the file, fewer when it runs past the end (0 when ``start`` is past the end).

    Raises
    ------
    StimulusError
        Missing, unreadable or damaged file, or one with no audio track.
    InvalidParameterError
        A negative ``start`` or ``duration``, or a bad ``sample_rate``.
    """
    path = _media_path(path)
    _check_rate(sample_rate)
    _check_span(start, duration)
    with _opened(path) as container:
        audio = _audio_span(container, path, sample_rate, start, duration)
        pieces = list(audio.pieces)
    return _finish(pieces, audio.channels, mono)


def iter_audio_blocks(
    path: str | os.PathLike,
    sample_rate: int | None = 16000,
    block_seconds: float = 60.0,
    mono: bool = True,
) -> Iterator[tuple[float, np.ndarray]]:
    """Decode a file's audio track block by block, in bounded memory.

    The blocks, concatenated, equal ``read_audio(path, sample_rate, mono=mono)``.

    Parameters
    ----------
    path : str or os.PathLike
        An audio file, or a video file with an audio track.
    sample_rate : int or None
        Output rate in Hz; ``None`` keeps the file's own.
    block_seconds : float
        Length of each block in seconds (the last one is shorter).
    mono : bool
        Average the channels.

    Yields
    ------
    start : float
        Seconds from the start of the file of the block's first sample.
    samples : ndarray, float32
        ``(n,)`` when ``mono``, else ``(channels, n)``; ``n = round(block_seconds * rate)``
        except for the last block.

    Raises
    ------
    StimulusError
        As :func:`read_audio` (the file is checked when this is called; decoding errors
        surface while iterating).
    """
    path = _media_path(path)
    _check_rate(sample_rate)
    if not (isinstance(block_seconds, (int, float)) and math.isfinite(block_seconds)
            and block_seconds > 0):
        raise InvalidParameterError(f"block_seconds must be a positive number of seconds, "
                                    f"got {block_seconds!r}")
    _require_track(path, "audio")
    return _audio_blocks(path, sample_rate, float(block_seconds), mono)


def _audio_blocks(path: Path, sample_rate: int | None, block_seconds: float,
                  mono: bool) -> Iterator[tuple[float, np.ndarray]]:
    with _opened(path) as container:
        audio = _audio_span(container, path, sample_rate, 0.0, None)
        size = max(1, round(block_seconds * audio.rate))
        held: list[np.ndarray] = []
        n_held = emitted = 0
        for piece in audio.pieces:
            held.append(piece)
            n_held += piece.shape[1]
            while n_held >= size:
                data = np.concatenate(held, axis=1)
                block, rest = data[:, :size], data[:, size:]
                held, n_held = ([rest] if rest.shape[1] else []), rest.shape[1]
                yield emitted / audio.rate, _finish([block], audio.channels, mono)
                emitted += size
        if n_held:
            yield emitted / audio.rate, _finish(held, audio.channels, mono)


# --------------------------------------------------------------------------- video


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


def _to_rgb(frame: av.VideoFrame, size: tuple[int, int] | None,
            reformatter: VideoReformatter | None = None) -> np.ndarray:
    """One decoded frame as a read-only uint8 RGB array ``(H, W, 3)``, as displayed.

    Converted by swscale with the frame's own colour matrix and range and bicubic
    interpolation, the flags the reference's ``ffmpeg`` call used; turned by the quarter
    turns the file asks for (phone videos), as ``ffmpeg`` does by default (a mirroring in the
    display matrix, which phones do not write, is ignored). A ``reformatter`` kept across the
    frames of a video reuses its swscale context (``frame.to_ndarray`` builds one per frame,
    a quarter of the conversion's time at 720p); the pixels are the same.
    """
    turns = _quarter_turns(frame)
    width, height = size if size is not None else (None, None)
    if turns % 2 and size is not None:
        width, height = height, width
    reformatter = reformatter or VideoReformatter()
    rgb = reformatter.reformat(frame, format="rgb24", width=width, height=height,
                               interpolation="BICUBIC").to_ndarray()
    if turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=turns))
    # The same array is handed out for every time that shows this frame: keep it intact.
    rgb.flags.writeable = False
    return rgb


def _quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns that display the frame upright (its display matrix)."""
    degrees = getattr(frame, "rotation", 0) or 0  # VideoFrame.rotation: PyAV >= 14
    return round(degrees / 90) % 4


class _SeekOvershot(Exception):
    """The seek landed after the time asked for; decode from the start instead."""


def _timed_frames(path: Path, first_time: float) -> Iterator[tuple[float, av.VideoFrame]]:
    """``(time, frame)`` for the video frames from the one on screen at ``first_time`` on.

    Seeks to the keyframe before ``first_time`` when that is far into the file; if the seek
    lands after it, decodes from the start.
    """
    for seek in ((True, False) if first_time > _SEEK_AFTER_SECONDS else (False,)):
        with _opened(path) as container:
            stream = _video_stream(container)
            if stream is None:
                raise _no_track(path, container, "video")
            stream.thread_type = "AUTO"
            origin = _origin(container)
            tb = stream.time_base
            step = 1.0 / (_fps(stream) or 25.0)
            if seek:
                try:
                    container.seek(int((first_time + origin) / tb), stream=stream,
                                   backward=True)
                except av.error.FFmpegError:
                    continue
            last = None
            try:
                for frame in _decode_video(container, stream):
                    if frame.pts is not None:
                        time = _seconds(frame.pts, tb) - origin
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
    return _decode(container, stream)


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
    path = _media_path(path)
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1:
        raise InvalidParameterError(f"times must be a 1-D array of seconds, got shape "
                                    f"{times.shape}")
    if not np.isfinite(times).all():
        raise InvalidParameterError("times must be finite (no NaN or inf)")
    if size is not None:
        if (not isinstance(size, (tuple, list)) or len(size) != 2
                or not all(isinstance(v, (int, np.integer)) and v > 0 for v in size)):
            raise InvalidParameterError(f"size must be None or (width, height) in pixels, got "
                                        f"{size!r}")
        size = (int(size[0]), int(size[1]))
    _require_track(path, "video")
    return _frames_at(path, times, size)


def _frames_at(path: Path, times: np.ndarray,
               size: tuple[int, int] | None) -> Iterator[tuple[int, np.ndarray]]:
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
