"""The reference's audio steps outside the model: resampling (julius), z-scoring, the frames
to 2 Hz, and reading each chunk's samples from one pass over the track (for a video, from
the reference's WAV)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence

import numpy as np

from berg.errors import InvalidParameterError
from berg.stimulus.timeline import Chunk
from berg.validation import is_number

__all__ = [
    "BLOCK_SECONDS",
    "REFERENCE_VIDEO_AUDIO_RATE",
    "bin_frames",
    "check_chunks",
    "chunk_samples",
    "padded_to",
    "reference_wav_blocks",
    "resample_channels",
    "standardize",
]


#: Rate (Hz) of the WAV the reference extracts from a video before reading its audio.
REFERENCE_VIDEO_AUDIO_RATE = 44100


# moviepy's WAV writer clips to +-0.99 and truncates to int16: int(0.99 * 32768) = 32440.
_WAV_PEAK = 32440


# Seconds of audio decoded at a time while the chunks are cut out of the track.
BLOCK_SECONDS = 10.0


@functools.lru_cache(maxsize=8)
def _resampler(old_rate: int, new_rate: int):
    import julius

    return julius.resample.ResampleFrac(old_rate, new_rate)


def resample_channels(samples, old_rate: int, new_rate: int):
    """Resample each channel as the reference does (julius ``ResampleFrac``, defaults).

    Parameters
    ----------
    samples : torch.Tensor or ndarray, float32, ``(channels, n)``
    old_rate, new_rate : int
        Hz.

    Returns
    -------
    torch.Tensor, float32, ``(channels, floor(n * new_rate / old_rate))``, on the CPU.
    """
    import torch

    x = torch.as_tensor(samples, dtype=torch.float32).cpu()
    return _resampler(int(old_rate), int(new_rate))(x)


def standardize(samples):
    """Mean over channels, then ``(x - mean) / (1e-8 + std)`` with the unbiased std.

    Parameters
    ----------
    samples : torch.Tensor, float32, ``(channels, n)``

    Returns
    -------
    torch.Tensor, float32, ``(n,)``
    """
    mono = samples.mean(dim=0)
    return (mono - mono.mean()) / (1e-8 + mono.std())


def bin_frames(frames, n_bins: int):
    """Nearest-frame resampling of the last axis to ``n_bins``, as the reference does.

    Bin ``i`` takes frame ``floor(i * T / n_bins)`` (torch's ``interpolate(mode="nearest")``,
    which computes the ratio in float32); the frames are returned as they are when
    ``T == n_bins``.

    Parameters
    ----------
    frames : torch.Tensor, ``(L, D, T)``
    n_bins : int

    Returns
    -------
    torch.Tensor, ``(L, D, n_bins)``
    """
    import torch.nn.functional as F

    if frames.shape[-1] == n_bins:
        return frames
    return F.interpolate(frames, size=n_bins, mode="nearest")


def reference_wav_blocks(source, rate: int) -> Iterator[tuple[float, np.ndarray]]:
    """A video's sound as the reference's WAV holds it, block by block: float32 ``(2, n)``.

    The ``ffmpeg`` command line's 16-bit stereo samples, through moviepy's quantiser (clip
    to +-32440), read back as ``int / 32768``.
    """
    from berg.stimulus.media import pcm

    blocks = pcm.iter_pcm16_blocks(source, rate, 2, block_seconds=BLOCK_SECONDS)
    with contextlib.closing(blocks):
        for start, block in blocks:
            clipped = np.clip(block, -_WAV_PEAK, _WAV_PEAK)
            yield start, clipped.astype(np.float32) / np.float32(32768)


def padded_to(samples: np.ndarray, length: int) -> np.ndarray:
    """The reference's WAV lasts as long as the video: silence where the track stops early."""
    if samples.shape[1] < length:
        samples = np.pad(samples, ((0, 0), (0, length - samples.shape[1])))
    return samples


def chunk_samples(
    blocks: Iterator[tuple[float, np.ndarray]], rate: int, chunks: Sequence[Chunk], channels: int
) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, samples (channels, n))`` of each chunk, in order of start.

    Chunk ``[s, s + d)`` gets samples ``round(s * rate)`` to ``round(s * rate) + round(d *
    rate)`` of the whole track (fewer at its end), as the reference reads them. ``blocks``
    is the track decoded once, front to back; only what the chunks still need is held: the
    samples are those of a decode from the start, which a seek does not always reproduce
    (AAC's noise substitution draws from a generator that runs through the whole track).
    """
    order = sorted(range(len(chunks)), key=lambda i: chunks[i].start)
    held: list[np.ndarray] = []
    held_from = held_to = 0  # sample indices of the first held sample and one past the last
    with contextlib.closing(blocks):
        for i in order:
            first = round(chunks[i].start * rate)
            last = first + round(chunks[i].duration * rate)
            while held and held_from + held[0].shape[1] <= first:
                held_from += held.pop(0).shape[1]
            while held_to < last:
                block = next(blocks, None)
                if block is None:
                    break
                data = block[1]
                if not held and held_to + data.shape[1] <= first:
                    held_from = held_to = held_to + data.shape[1]
                    continue
                held.append(data)
                held_to += data.shape[1]
            span = (
                np.concatenate(held, axis=1)[:, max(0, first - held_from) : last - held_from]
                if held
                else np.zeros((channels, 0), np.float32)
            )
            yield i, span


def check_chunks(chunks) -> list[Chunk]:
    if isinstance(chunks, (str, bytes)) or not isinstance(chunks, Sequence):
        raise InvalidParameterError(f"chunks must be a sequence of Chunk, got {chunks!r}")
    for chunk in chunks:
        start = getattr(chunk, "start", None)
        duration = getattr(chunk, "duration", None)
        if not (is_number(start) and is_number(duration)) or start < 0 or duration <= 0:
            raise InvalidParameterError(
                f"each chunk needs a finite start >= 0 and duration > 0 (seconds), got {chunk!r}"
            )
    return list(chunks)
