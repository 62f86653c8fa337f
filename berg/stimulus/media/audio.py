"""Audio samples from a media file: a span (:func:`read_audio`) or block by block, cut to
the sample and resampled with FFmpeg's swresample."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from berg.errors import InvalidParameterError
from berg.stimulus.media.container import (
    audio_stream,
    decode,
    first_audio_frame,
    frame_time,
    media_path,
    no_track,
    opened,
    require_track,
    samples_before,
    timeline_origin,
)

__all__ = ["iter_audio_blocks", "read_audio"]

# Audio decoding starts at least this long before the span asked for, so that the decoder
# (mp3 bit reservoir, Opus pre-roll) and the resampler's filter have settled by then.
_AUDIO_PREROLL_SECONDS = 0.5

# Demuxers whose seeks land only near the asked time (mp3 seeks by bitrate or a coarse table
# of contents), so the sample count after a seek is not exact: always decode from the start.
_NO_SAMPLE_EXACT_SEEK = frozenset({"mp3"})


def _check_span(start: float, duration: float | None) -> None:
    if not (isinstance(start, (int, float)) and math.isfinite(start) and start >= 0):
        raise InvalidParameterError(f"start must be a finite number of seconds >= 0, got {start!r}")
    if duration is not None and not (
        isinstance(duration, (int, float)) and math.isfinite(duration) and duration >= 0
    ):
        raise InvalidParameterError(
            f"duration must be None or a finite number of seconds >= 0, got {duration!r}"
        )


def _check_rate(sample_rate: int | None) -> None:
    if sample_rate is not None and not (
        isinstance(sample_rate, (int, np.integer)) and sample_rate > 0
    ):
        raise InvalidParameterError(
            f"sample_rate must be None (the file's own rate) or a "
            f"positive integer (Hz), got {sample_rate!r}"
        )


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
    origin = timeline_origin(container)
    rate = stream.codec_context.sample_rate
    # Seek only where a timestamp names a single sample, since after a seek the first frame's
    # timestamp is all that places the samples: Matroska's are rounded to milliseconds, and
    # mp3 seeks by bitrate estimate.
    first = None
    if (
        at > 0
        and rate
        and stream.time_base <= Fraction(1, rate)
        and container.format.name not in _NO_SAMPLE_EXACT_SEEK
    ):
        container.seek(int((at + origin) / stream.time_base), stream=stream, backward=True)
        frames = decode(container, stream)
        first = next(frames, None)
        landed = frame_time(first, origin) if first is not None else None
        if landed is None or landed > at:  # overshot, past the end, or untimed
            first = None
            container.seek(0)
    if first is None:
        first, frames = first_audio_frame(container, stream, path)
    # The decoder's rate, not the header's: HE-AAC headers give half the decoded rate.
    channels = len(first.layout.channels)
    return _Audio(
        first.sample_rate,
        first.layout,
        channels,
        _samples_from(_chain(first, frames), samples_before(first, origin, at), channels),
    )


def _resampled(
    pieces: Iterator[np.ndarray], layout: av.AudioLayout, rate_in: int, rate_out: int
) -> Iterator[np.ndarray]:
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
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(piece), format="fltp", layout=layout
        )
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


def _audio_span(
    container, path: Path, sample_rate: int | None, start: float, duration: float | None
) -> _Audio:
    """``[start, start + duration)`` of the file's audio at ``sample_rate`` (None: its own)."""
    stream = audio_stream(container)
    if stream is None:
        raise no_track(path, container, "audio")
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


def _finish(pieces: list[np.ndarray], channels: int, mono: bool) -> np.ndarray:
    data = np.concatenate(pieces, axis=1) if pieces else np.zeros((channels, 0), np.float32)
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
    path = media_path(path)
    _check_rate(sample_rate)
    _check_span(start, duration)
    with opened(path) as container:
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
    path = media_path(path)
    _check_rate(sample_rate)
    if not (
        isinstance(block_seconds, (int, float))
        and math.isfinite(block_seconds)
        and block_seconds > 0
    ):
        raise InvalidParameterError(
            f"block_seconds must be a positive number of seconds, got {block_seconds!r}"
        )
    require_track(path, "audio")
    return _audio_blocks(path, sample_rate, float(block_seconds), mono)


def _audio_blocks(
    path: Path, sample_rate: int | None, block_seconds: float, mono: bool
) -> Iterator[tuple[float, np.ndarray]]:
    with opened(path) as container:
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
