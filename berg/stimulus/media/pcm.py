"""A file's sound as FFmpeg's command line converts it to 16-bit PCM.

The reference reads a video's sound from a WAV that moviepy extracts with
``ffmpeg -i VIDEO -vn -f s16le -acodec pcm_s16le -ar 44100 -ac 2 -``. :func:`iter_pcm16_blocks`
gives the same samples, bit for bit, by doing what that command does, with the same FFmpeg
libraries (through PyAV):

- the track is decoded from the start, in the decoder's own sample format;
- it is cut where the container's header says the track ends, *before* resampling (mp4 and
  mov record the end of the sound, and the command line drops the codec's padding after
  it, so the resampler's filter sees the signal stop there: cutting after resampling
  differs on the last ~15 samples); a container that records no stream duration (Matroska,
  WebM) keeps all that the decoder gives;
- one swresample conversion, with FFmpeg's defaults, does everything else: the rate, the
  channel layout (a mono track is spread over both channels at -3 dB, a 5.1 track mixed
  down with FFmpeg's matrix) and the rounding to 16 bits (``lrintf``, no dither). Its
  internal format follows the decoder's (float for AAC, MP3 or Opus; 16-bit integers for a
  16-bit PCM track), as on the command line.

One deliberate difference: a track that starts after the timeline's 0 (audio beginning after
the video) is preceded by silence, keeping it in sync with the pictures; the command line
drops the offset, shifting the sound earlier.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np

from berg.errors import InvalidParameterError
from berg.stimulus.media.container import (
    audio_stream,
    first_audio_frame,
    header_end,
    media_path,
    opened,
    require_track,
    samples_before,
    timeline_origin,
)
from berg.validation import check_int

__all__ = ["iter_pcm16_blocks"]

_LAYOUTS = {1: "mono", 2: "stereo"}


def iter_pcm16_blocks(
    path: str | os.PathLike,
    sample_rate: int = 44100,
    channels: int = 2,
    *,
    block_seconds: float = 60.0,
) -> Iterator[tuple[float, np.ndarray]]:
    """Decode a file's audio track to 16-bit PCM as ``ffmpeg -ar RATE -ac CHANNELS`` does.

    Parameters
    ----------
    path : str or os.PathLike
        An audio file, or a video file with an audio track.
    sample_rate : int
        Output rate in Hz.
    channels : {1, 2}
        Output channels.
    block_seconds : float
        Length of each block (the last one is shorter).

    Yields
    ------
    start : float
        Seconds from the start of the file of the block's first sample.
    samples : ndarray, int16, shape (channels, n)
        ``n = round(block_seconds * sample_rate)`` except for the last block.

    Raises
    ------
    StimulusError
        Missing, unreadable or damaged file, or one without an audio track (checked when
        this is called; decoding errors surface while iterating).
    InvalidParameterError
        A bad rate, channel count, end or block length.
    """
    path = media_path(path)
    check_int("sample_rate (Hz)", sample_rate)
    if channels not in _LAYOUTS:
        raise InvalidParameterError(f"channels must be 1 or 2, got {channels!r}")
    if not (
        isinstance(block_seconds, (int, float))
        and math.isfinite(block_seconds)
        and block_seconds > 0
    ):
        raise InvalidParameterError(
            f"block_seconds must be a positive number of seconds, got {block_seconds!r}"
        )
    require_track(path, "audio")
    return _blocks(path, sample_rate, channels, float(block_seconds))


def _reframed(data: np.ndarray, like: av.AudioFrame, rate: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(data), format=like.format.name, layout=like.layout.name
    )
    frame.sample_rate = rate
    return frame


def _take(frame: av.AudioFrame, first: int, count: int, rate: int) -> av.AudioFrame:
    """Samples ``first .. first + count - 1`` of a frame, in its own format."""
    if first == 0 and count == frame.samples:
        return frame
    data = frame.to_ndarray()
    width = 1 if frame.format.is_planar else len(frame.layout.channels)
    return _reframed(data[:, first * width : (first + count) * width], frame, rate)


def _silence(like: av.AudioFrame, count: int, rate: int) -> av.AudioFrame:
    data = like.to_ndarray()
    width = 1 if like.format.is_planar else len(like.layout.channels)
    zero = 128 if data.dtype == np.uint8 else 0  # unsigned 8-bit audio is centred on 128
    return _reframed(np.full((data.shape[0], count * width), zero, data.dtype), like, rate)


def _track(container, path) -> Iterator[av.AudioFrame]:
    """The decoded frames from the timeline's 0 to the end the header gives (if any), with
    running sample timestamps."""
    stream = audio_stream(container)
    stream.thread_type = "AUTO"
    origin = timeline_origin(container)
    end = header_end(stream, origin)
    first, frames = first_audio_frame(container, stream, path)
    rate = first.sample_rate
    skip = samples_before(first, origin, 0.0)  # > 0: samples before 0; < 0: a late start
    left = None if end is None else round(end * rate)
    pts = 0
    pending = [first] if skip >= 0 else [_silence(first, -skip, rate), first]
    skip = max(skip, 0)
    while pending or left is None or left > 0:
        frame = pending.pop(0) if pending else next(frames, None)
        if frame is None:
            return
        start = min(skip, frame.samples)
        skip -= start
        count = frame.samples - start if left is None else min(frame.samples - start, left)
        if count <= 0:
            continue
        piece = _take(frame, start, count, rate)
        piece.pts, piece.time_base = pts, Fraction(1, rate)
        pts += count
        if left is not None:
            left -= count
        yield piece


def _blocks(
    path, sample_rate: int, channels: int, block_seconds: float
) -> Iterator[tuple[float, np.ndarray]]:
    size = max(1, round(block_seconds * sample_rate))
    held: list[np.ndarray] = []
    n_held = emitted = 0
    with opened(path) as container:
        resampler = av.AudioResampler(format="s16", layout=_LAYOUTS[channels], rate=sample_rate)

        def pieces() -> Iterator[np.ndarray]:
            # Frame by frame (never the whole track in memory); None flushes the resampler.
            for frame in itertools.chain(_track(container, path), [None]):
                for out in resampler.resample(frame):
                    # Packed s16: one row of n * channels values.
                    yield out.to_ndarray().reshape(-1, channels).T

        for piece in pieces():
            held.append(piece)
            n_held += piece.shape[1]
            while n_held >= size:
                data = np.concatenate(held, axis=1)
                held = [data[:, size:]] if data.shape[1] > size else []
                n_held -= size
                yield emitted / sample_rate, data[:, :size]
                emitted += size
        if n_held:
            yield emitted / sample_rate, np.concatenate(held, axis=1)
