"""Where an encode spends its time: wall seconds (and GPU memory) per pipeline stage.

``encode(..., return_metadata=True)`` reports them under ``metadata["provenance"]["stages"]``
and the benchmarks read them there, so what is measured is the code users run. Stage names:

- ``decode`` (probing the file, reading its sound for the recogniser), ``tts`` (speaking a
  text stimulus), ``asr`` (speech recognition), ``contexts`` (sentences and word contexts);
- ``text``, ``audio``, ``video``: feature extraction, including the video's frame decoding
  and the stimulus file's hash for the feature cache; ``load_asr``, ``load_text``,
  ``load_audio``, ``load_video``: setting up those extractors and loading their models (the
  model only when it is needed: not when the features come from the cache, nor when it is
  still loaded from an earlier stimulus);
- ``brain``: the TRIBE v2 brain model over the 100 s windows.

On a GPU each stage waits for the device's queued work before it is timed, so a stage is
charged with its own GPU time. With ``track_gpu_memory`` the peak of memory allocated by
torch during each stage is recorded too: for that the allocator's peak counter is reset at
each stage (``torch.cuda.reset_peak_memory_stats``), which is why it is off unless asked
for.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

__all__ = ["StageClock"]


class _Open:
    """A stage being timed: its name, start, and the time spent in stages inside it."""

    __slots__ = ("name", "start", "inner", "peak")

    def __init__(self, name: str, start: float):
        self.name, self.start, self.inner, self.peak = name, start, 0.0, 0


class StageClock:
    """Accumulates wall time per named stage; ``StageClock()`` costs nothing but a timer.

    Stages may be nested (a model loaded inside a feature stage): a stage is charged with
    its own time only, without that of the stages inside it; its GPU peak includes theirs.

    Parameters
    ----------
    device : torch.device or None
        A CUDA device to synchronise at stage edges (None or a CPU device: nothing to wait
        for).
    track_gpu_memory : bool
        Also record each stage's peak GPU memory (resets torch's peak counter; CUDA only).

    Examples
    --------
    >>> clock = StageClock()
    >>> with clock.stage("text"):
    ...     with clock.stage("load_text"):
    ...         pass
    >>> list(clock.as_dict())
    ['load_text', 'text']
    """

    def __init__(self, device=None, *, track_gpu_memory: bool = False):
        self._cuda = device if device is not None and device.type == "cuda" else None
        self._track = bool(track_gpu_memory) and self._cuda is not None
        self._seconds: dict[str, float] = {}
        self._peaks: dict[str, int] = {}
        self._open: list[_Open] = []

    def _sync(self) -> None:
        if self._cuda is not None:
            import torch

            torch.cuda.synchronize(self._cuda)

    def _peak(self) -> int:
        import torch

        return int(torch.cuda.max_memory_allocated(self._cuda))

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as (part of) stage ``name``; repeated names add up."""
        self._sync()
        if self._track:
            import torch

            if self._open:  # the enclosing stage's peak so far, before the counter restarts
                self._open[-1].peak = max(self._open[-1].peak, self._peak())
            torch.cuda.reset_peak_memory_stats(self._cuda)
        current = _Open(name, time.perf_counter())
        self._open.append(current)
        try:
            yield
        finally:
            self._sync()
            self._open.pop()
            elapsed = time.perf_counter() - current.start
            self._seconds[name] = self._seconds.get(name, 0.0) + elapsed - current.inner
            if self._open:
                self._open[-1].inner += elapsed
            if self._track:
                peak = max(current.peak, self._peak())
                self._peaks[name] = max(self._peaks.get(name, 0), peak)

    def as_dict(self) -> dict[str, dict[str, float]]:
        """``{stage: {"seconds": s[, "peak_gpu_bytes": n]}}`` in the order stages ended."""
        out: dict[str, dict[str, float]] = {}
        for name, seconds in self._seconds.items():
            out[name] = {"seconds": seconds}
            if name in self._peaks:
                out[name]["peak_gpu_bytes"] = self._peaks[name]
        return out
