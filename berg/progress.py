"""Progress bars that can be turned off (``show_progress=False``) without special cases."""

from __future__ import annotations

import functools
import sys
import time

__all__ = ["Stages", "TransferBar", "format_bytes", "silent_tqdm_class"]


def _bars_can_be_drawn() -> bool:
    """A terminal, or a notebook (tqdm.auto draws a widget there; its stderr is no tty)."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced by an object without it, or closed
        return False


@functools.cache
def silent_tqdm_class():
    """A tqdm subclass whose bars are always disabled, for APIs that take ``tqdm_class``."""
    from tqdm.auto import tqdm

    class SilentTqdm(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return SilentTqdm


class Stages:
    """One progress bar per pipeline stage, in units a person understands.

    ``Stages(False)`` does nothing at all, so callers never branch on ``show_progress``.
    When standard error is not a terminal nor a notebook (a log file, a cluster job's
    output), each stage is one plain line when it ends (``audio features: 12.3 s``), with no
    carriage returns or cursor codes to garble the file.

        with Stages(show_progress) as stages:
            stages.start("brain model", total=duration, unit="s")
            stages.advance(100.0)
            stages.finish()
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._bar = None
        self._name = None
        self._started: float | None = None  # a stage logged as a line, not drawn

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, *exc_info) -> None:
        self.finish()

    def start(self, name: str, total: float | None, unit: str) -> None:
        """Open the bar of a new stage (closing the previous one)."""
        self.finish()
        self._name = name
        if self.enabled and not _bars_can_be_drawn():
            self._started = time.perf_counter()
        elif self.enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total,
                desc=name,
                unit=unit,
                leave=True,
                bar_format=None if total else "{desc}: {elapsed}",
            )

    def advance(self, amount: float) -> None:
        """Move the current bar on by ``amount`` of its unit."""
        if self._bar is not None:
            self._bar.update(amount)

    def finish(self) -> None:
        """Complete and close the current bar."""
        if self._started is not None:
            elapsed = time.perf_counter() - self._started
            print(f"{self._name}: {elapsed:.1f} s", file=sys.stderr, flush=True)
            self._started = None
        if self._bar is not None:
            if self._bar.total:
                self._bar.update(max(0.0, self._bar.total - self._bar.n))
            self._bar.close()
        self._bar = None
        self._name = None

    def progress_for(self, timeline):
        """A ``progress(modality, increment)`` callback that opens one bar per modality:
        words for text, seconds of stimulus for audio and video."""

        def report(modality: str, increment: float) -> None:
            if self._name != f"{modality} features":
                total = len(timeline.words) if modality == "text" else timeline.duration
                self.start(
                    f"{modality} features", total=total, unit="word" if modality == "text" else "s"
                )
            self.advance(increment)

        return report


class TransferBar:
    """One bar over many downloads: bytes, rate and time left for all of them together.

    The Hub client draws a bar per file; :attr:`tqdm_class` is a class to hand it instead,
    whose bars draw nothing and feed this one. When standard error is not a terminal nor
    a notebook, one plain line says at the end how much came in how long.

        with TransferBar(total_bytes, enabled=True) as bar:
            hf_hub_download(..., tqdm_class=bar.tqdm_class)
    """

    def __init__(self, total: int, enabled: bool, desc: str = "downloading"):
        self.total = int(total)
        self.done = 0
        self.enabled = enabled
        self._started = time.perf_counter()
        self._bar = None
        if enabled and _bars_can_be_drawn():
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self.total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024
            )
        self.tqdm_class = self._feeder_class()

    def __enter__(self) -> TransferBar:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def add(self, n_bytes: float) -> None:
        """Count ``n_bytes`` more (negative when a retried file starts again)."""
        self.done += int(n_bytes)
        if self._bar is not None:
            self._bar.update(n_bytes)

    def close(self) -> None:
        """Close the bar (or say, in one line, what came in how long)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled and self.done > 0:
            elapsed = max(time.perf_counter() - self._started, 1e-9)
            print(
                f"downloaded {format_bytes(self.done)} in {elapsed:.0f} s "
                f"({format_bytes(self.done / elapsed)}/s)",
                file=sys.stderr,
                flush=True,
            )
        self.enabled = False

    def _feeder_class(self):
        from tqdm.auto import tqdm

        shared = self

        class FeedsOneBar(tqdm):
            """A per-file bar that draws nothing and counts into the shared bar."""

            def __init__(self, *args, **kwargs):
                kwargs["disable"] = True
                initial = kwargs.get("initial") or 0
                super().__init__(*args, **kwargs)
                if initial:  # bytes of an interrupted download, resumed
                    shared.add(initial)

            def update(self, n=1):
                shared.add(n or 0)

        return FeedsOneBar


def format_bytes(n: float) -> str:
    """A byte count for a person: ``'1.2 GB'``."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"
