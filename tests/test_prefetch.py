"""The background iterator that decodes video frames while the model works."""

from __future__ import annotations

import threading
import time

import pytest

from berg.errors import InvalidParameterError
from berg.features.prefetch import Prefetcher


def test_items_arrive_in_order_from_another_thread():
    threads = []

    def numbers():
        for i in range(100):
            threads.append(threading.current_thread())
            yield i

    assert list(Prefetcher(numbers(), depth=4)) == list(range(100))
    assert threading.main_thread() not in threads
    assert len(set(threads)) == 1


def test_an_error_reaches_the_consumer_at_its_item():
    def failing():
        yield 1
        yield 2
        raise KeyError("frame 3 is damaged")

    got = []
    with pytest.raises(KeyError, match="frame 3"):
        for item in Prefetcher(failing(), depth=8):
            got.append(item)
    assert got == [1, 2]


def test_the_thread_stays_at_most_depth_items_ahead():
    produced = []

    def counting():
        for i in range(1000):
            produced.append(i)
            yield i

    ahead = Prefetcher(counting(), depth=3)
    assert next(ahead) == 0
    time.sleep(0.2)  # let the thread fill the queue
    # Taken: 1; queued: 3; one more in the thread's hand, waiting for room.
    assert len(produced) <= 1 + 3 + 1
    ahead.close()


def test_leaving_early_closes_the_iterator_in_its_thread():
    closed_in = []

    def frames():
        try:
            yield from range(10**6)
        finally:
            closed_in.append(threading.current_thread())

    ahead = Prefetcher(frames(), depth=2)
    with ahead:
        for item in ahead:
            if item == 5:
                break
    assert not ahead._thread.is_alive()
    assert len(closed_in) == 1 and closed_in[0] is not threading.main_thread()
    assert list(ahead) == []  # closed: nothing more


def test_depth_is_checked():
    for bad in (0, -1, 2.5, True, None):
        with pytest.raises(InvalidParameterError, match="depth"):
            Prefetcher(iter(()), depth=bad)
