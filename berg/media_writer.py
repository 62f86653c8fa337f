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
        (n,) int16 (FLAC, PCM) or float32 in [-1, 1] (AAC).
    rate : int
        Samples per second.
    block : int
        Samples per frame given to the encoder (AAC: its frame size, 1024).
    """
    import av

    samples = np.ascontiguousarray(samples)
    fmt = {"int16": "s16", "float32": "fltp"}[samples.dtype.name]
    for start in range(0, len(samples), block):
        frame = av.AudioFrame.from_ndarray(
            samples[None, start : start + block], format=fmt, layout="mono"
        )
        frame.sample_rate, frame.pts = rate, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
