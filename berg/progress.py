"""Progress bars that can be turned off (``show_progress=False``) without special cases."""

from __future__ import annotations

import functools

__all__ = ["silent_tqdm_class"]


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

        with Stages(show_progress) as stages:
            stages.start("brain model", total=duration, unit="s")
            stages.advance(100.0)
            stages.finish()
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._bar = None
        self._name = None

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, *exc_info) -> None:
        self.finish()

    def start(self, name: str, total: float | None, unit: str) -> None:
        """Open the bar of a new stage (closing the previous one)."""
        self.finish()
        self._name = name
        if self.enabled:
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
