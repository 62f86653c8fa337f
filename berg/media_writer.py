"""Writing media with PyAV: what the files berg makes (experiment runs, brain movies) share."""

from __future__ import annotations

import numpy as np

__all__ = ["mux_mono_audio"]


def mux_mono_audio(container, stream, samples: np.ndarray, rate: int, *, block: int) -> None:
    """Encode mono ``samples`` into ``stream`` of ``container`` and mux them, then flush.

    Parameters
    ----------
    container, stream
        An output container of PyAV and its audio stream (mono, at ``rate``).
    samples : np.ndarray
        (n,) int16 or float32 in [-1, 1] (the encoder's packed or planar format is used).
    rate : int
        Samples per second.
    block : int
        Samples per frame given to the encoder (AAC: its frame size, 1024).
    """
    import av

    samples = np.ascontiguousarray(samples)
    # Mono: planar and packed hold the same bytes; take the one the encoder accepts.
    accepted = {f.name for f in stream.codec_context.codec.audio_formats or ()}
    packed = {"int16": "s16", "float32": "flt"}[samples.dtype.name]
    fmt = packed + "p" if packed + "p" in accepted else packed
    for start in range(0, len(samples), block):
        frame = av.AudioFrame.from_ndarray(
            samples[None, start : start + block], format=fmt, layout="mono"
        )
        frame.sample_rate, frame.pts = rate, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
