"""The reference's chunking rule for audio and video events (docs/inference.md, section 6)."""

import math

import pytest

from berg import StimulusError
from berg.stimulus.timeline import Chunk, Timeline, TimelineWord, split_into_chunks
from berg.tribe.binning import output_rows


def spans(chunks):
    return [(c.start, c.end) for c in chunks]


@pytest.mark.parametrize(
    "duration, expected",
    [
        (5.0, [(0, 5)]),
        (60.0, [(0, 60)]),
        (80.0, [(0, 80)]),  # a cut at 60 would leave 20 s < 30 s
        (90.0, [(0, 60), (60, 90)]),  # exactly 30 s after the cut: kept
        (100.0, [(0, 60), (60, 100)]),
        (140.0, [(0, 60), (60, 140)]),  # the cut at 120 would leave 20 s
        (150.0, [(0, 60), (60, 120), (120, 150)]),
        (185.0, [(0, 60), (60, 120), (120, 185)]),
        (7200.0, [(60 * k, 60 * (k + 1)) for k in range(120)]),
    ],
)
def test_chunk_boundaries(duration, expected):
    assert spans(split_into_chunks(duration)) == [(float(a), float(b)) for a, b in expected]


def test_chunks_are_contiguous_and_cover_the_event():
    for duration in [0.4, 29.9, 61.3, 119.99, 333.3]:
        chunks = split_into_chunks(duration, start=2.5)
        assert chunks[0].start == 2.5
        assert math.isclose(chunks[-1].end, 2.5 + duration)
        assert all(math.isclose(a.end, b.start) for a, b in zip(chunks, chunks[1:]))
        assert all(c.duration >= 30 for c in chunks) or len(chunks) == 1


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_empty_events_are_refused(bad):
    with pytest.raises(StimulusError):
        split_into_chunks(bad)


def test_timeline_modalities_and_rows():
    word = TimelineWord("hi", 0.5, 0.2, "Hi")
    timeline = Timeline(
        path=None,
        kind="audio",
        duration=52.21,
        audio_source=None,
        audio_chunks=(Chunk(0.0, 52.21),),
        video_chunks=(),
        words=(word,),
        language="en",
    )
    assert timeline.modalities == ("text", "audio")
    assert output_rows(timeline.duration) == 53  # 52.21 s -> 53 rows (docs/inference.md, section 3)
    silent = Timeline(
        path=None,
        kind="video",
        duration=23.256,
        audio_source=None,
        audio_chunks=(),
        video_chunks=(Chunk(0.0, 23.256),),
        words=(),
        language=None,
    )
    assert silent.modalities == ("video",)
    assert output_rows(silent.duration) == 24
