"""Run an iterator a few items ahead in a background thread: decoding beside the model.

Decoding video (FFmpeg), converting frames to RGB (swscale) and resizing them (torch) release
the GIL, and so does the model's forward pass, so a thread that prepares the next frames
while the model reads the current ones keeps the CPU (and, on a GPU box, the GPU) busy. The
queue between them is bounded, so memory holds at most ``depth`` items beyond what the
consumer keeps.

    with Prefetcher(frames(), depth=16) as ahead:
        for item in ahead:
            ...

Errors raised by the iterator reach the consumer at the item where they happened, with their
traceback. Leaving early (``break``, an exception, ``close()``) stops the thread and closes
the iterator in the thread that ran it, so files it holds are closed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

from berg.validation import check_int

__all__ = ["Prefetcher"]

T = TypeVar("T")

_DONE = object()
_POLL_SECONDS = 0.05  # how often a blocked producer looks whether it should stop


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException):
        self.error = error


class Prefetcher(Generic[T]):
    """Iterate over ``iterable`` in a daemon thread, up to ``depth`` items ahead.

    Parameters
    ----------
    iterable : iterable
        Consumed in the background thread only (a generator is closed there too).
    depth : int
        Items the thread may prepare before the consumer takes them (>= 1).
    name : str
        The thread's name, for debuggers and profilers.
    """

    def __init__(self, iterable: Iterable[T], depth: int = 8, name: str = "berg-prefetch"):
        check_int("depth", depth)
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(
            target=self._produce, args=(iterable,), name=name, daemon=True
        )
        self._thread.start()

    def _put(self, item) -> bool:
        """Queue ``item`` unless asked to stop; False when stopped."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, iterable: Iterable[T]) -> None:
        iterator = iter(iterable)
        try:
            for item in iterator:
                if not self._put(item):
                    return
            self._put(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            self._put(_Failure(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        item = self._queue.get()
        if item is _DONE:
            self._finished = True
            self._thread.join()
            raise StopIteration
        if isinstance(item, _Failure):
            self._finished = True
            self._thread.join()
            raise item.error
        return item

    def close(self) -> None:
        """Stop the thread (closing the iterator) and wait for it."""
        self._finished = True
        self._stop.set()
        while self._thread.is_alive():
            try:  # unblock a producer waiting for room
                self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                pass
        self._thread.join()

    def __enter__(self) -> Prefetcher[T]:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
