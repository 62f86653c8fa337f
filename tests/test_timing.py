"""Per-stage wall time, on a clock the test moves by hand."""

from __future__ import annotations

import pytest

from berg import timing
from berg.timing import StageClock


@pytest.fixture
def now(monkeypatch):
    """A stand-in for time.perf_counter: ``now[0]`` seconds, moved by the test."""
    value = [100.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: value[0])
    return value


def test_stages_add_up_and_nested_time_is_not_counted_twice(now):
    clock = StageClock()
    with clock.stage("decode"):
        now[0] += 2.0
    with clock.stage("text"):
        now[0] += 1.0
        with clock.stage("load_text"):
            now[0] += 5.0
        now[0] += 0.5
    with clock.stage("decode"):  # a stage met again adds up
        now[0] += 0.25
    assert clock.as_dict() == {
        "decode": {"seconds": 2.25},
        "load_text": {"seconds": 5.0},
        "text": {"seconds": 1.5},
    }


def test_a_failing_stage_is_still_timed(now):
    clock = StageClock()
    with pytest.raises(RuntimeError):
        with clock.stage("asr"):
            now[0] += 3.0
            raise RuntimeError("no speech model")
    assert clock.as_dict() == {"asr": {"seconds": 3.0}}


def test_on_the_cpu_no_gpu_memory_is_tracked():
    import torch

    clock = StageClock(torch.device("cpu"), track_gpu_memory=True)
    with clock.stage("brain"):
        pass
    assert set(clock.as_dict()["brain"]) == {"seconds"}
