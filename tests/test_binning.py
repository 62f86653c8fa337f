"""Placing features into 100 s windows of 2 Hz bins: the reference's rule (docs/inference.md,
section 3).

Every expected bin below is worked out by hand from the rule: overlap [o0, o1]; start =
round(2 (o0 - own start)), length = max(1, round(2 (o1 - o0))), moved left if it would run
past the array's end; Python's half-to-even round.
"""

import numpy as np
import pytest

from berg import InvalidParameterError
from berg.features.timed import TimedFeature
from berg.tribe.binning import (
    assemble_windows,
    iter_windows,
    output_rows,
    place,
    row_times,
    window_starts,
)

DIMS = {"text": (1, 1), "audio": (1, 2), "video": (2, 1)}


def word(start, duration, value=1.0):
    return TimedFeature(start, duration, np.full((1, 1), value, dtype=np.float32))


def chunk(start, duration, n=None, dims=(1, 1)):
    """A dynamic feature whose bin k holds k + 1 (so a misplaced bin is visible)."""
    n = max(1, round(2 * duration)) if n is None else n
    values = np.arange(1, n + 1, dtype=np.float32)
    return TimedFeature(start, duration, np.broadcast_to(values, (*dims, n)).copy())


def bins(window):
    """{bin: value} of the non-zero bins of a (1, 1, T) window."""
    row = window[0, 0]
    return {int(k): float(row[k]) for k in np.flatnonzero(row)}


def placed(*features, window_start=0.0):
    window = np.zeros((1, 1, 200), dtype=np.float32)
    for feature in features:
        place(window, window_start, feature)
    return bins(window)


# -- the rule, one word at a time ---------------------------------------------------------------


def test_worked_examples_of_the_doc():
    assert placed(word(0.54, 0.3)) == {1: 1.0}  # round(1.08) = 1, max(1, round(0.6)) = 1
    assert placed(word(1.8, 0.8)) == {4: 1.0, 5: 1.0}  # round(3.6) = 4, round(1.6) = 2


def test_words_sharing_a_bin_are_summed():
    # 0.54 s -> bin 1; 0.6 s for 0.2 s -> round(1.2) = 1, length max(1, round(0.4)) = 1
    assert placed(word(0.54, 0.3, 1.0), word(0.6, 0.2, 2.0), word(1.8, 0.8, 4.0)) == {
        1: 3.0,
        4: 4.0,
        5: 4.0,
    }


@pytest.mark.parametrize(
    "start, duration, expected",
    [
        (0.25, 0.1, [0]),  # round(0.5) = 0
        (0.75, 0.1, [2]),  # round(1.5) = 2
        (1.25, 0.1, [2]),  # round(2.5) = 2
        (0.0, 0.75, [0, 1]),  # length round(1.5) = 2
        (0.0, 1.25, [0, 1]),  # length round(2.5) = 2
        (3.0, 0.1, [6]),  # a short word still fills one bin
        (50.0, 0.0, [100]),  # zero duration inside the window: one bin
    ],
)
def test_half_to_even_rounding(start, duration, expected):
    assert sorted(placed(word(start, duration))) == expected


def test_right_edge_clamp_for_a_word():
    # 99.75 s: round(199.5) = 200, length max(1, round(0.5)) = 1 -> moved back to bin 199
    assert placed(word(99.75, 0.25)) == {199: 1.0}
    # 99.9 s for 0.5 s: overlap [99.9, 100]; start 200 -> 199
    assert placed(word(99.9, 0.5)) == {199: 1.0}


def test_a_word_across_a_window_boundary_lands_in_both():
    windows, starts = assemble_windows({"text": [word(99.5, 2.0)]}, 150.0, feature_dims=DIMS)
    assert starts.tolist() == [0.0, 100.0]
    assert bins(windows["text"][0]) == {199: 1.0}  # overlap [99.5, 100]
    assert bins(windows["text"][1]) == {0: 1.0, 1: 1.0, 2: 1.0}  # overlap [100, 101.5]: 3 bins


def test_touching_and_zero_duration_edges():
    # the reference keeps only events that overlap a window strictly
    windows, _ = assemble_windows(
        {
            "text": [
                word(99.5, 0.5, 1.0),  # ends at 100: window 0 only
                word(100.0, 0.0, 10.0),  # zero duration on the boundary: in no window
                word(0.0, 0.0, 100.0),  # zero duration at the very start: in no window
                word(150.0, 0.0, 1000.0),
            ]
        },
        200.0,
        feature_dims=DIMS,
    )
    assert bins(windows["text"][0]) == {199: 1.0}
    assert bins(windows["text"][1]) == {100: 1000.0}


def test_words_outside_the_window_add_nothing():
    assert placed(word(100.0, 1.0), word(250.0, 0.3)) == {}
    assert placed(word(99.0, 0.5), window_start=100.0) == {}


# -- dynamic features (audio / video chunks) ----------------------------------------------------


def test_a_chunk_split_between_two_windows():
    # [60, 120), 120 bins valued 1..120. Window 0: overlap [60, 100] -> window bins 120..199
    # get chunk bins 0..79; window 1: overlap [100, 120] -> bins 0..39 get chunk bins 80..119.
    windows, _ = assemble_windows(
        {"audio": [chunk(0, 60, dims=(1, 2)), chunk(60, 60, dims=(1, 2))]}, 120.0, feature_dims=DIMS
    )
    audio = windows["audio"]
    assert audio.shape == (2, 1, 2, 200)
    assert audio[0, 0, 0, :120].tolist() == list(range(1, 121))  # the first chunk, whole
    assert audio[0, 0, 1, 120:].tolist() == list(range(1, 81))
    assert audio[1, 0, 1, :40].tolist() == list(range(81, 121))
    assert not audio[1, :, :, 40:].any()  # past the stimulus: zeros


def test_a_chunk_is_placed_by_its_bins_not_its_event_duration():
    # 60.3 s chunk: n = round(120.6) = 121 bins, i.e. 60.5 s of array
    feature = chunk(0.0, 60.3)
    assert feature.data.shape[-1] == 121
    assert placed(feature) == {k: k + 1.0 for k in range(121)}
    # [99.6, 100.0) with one bin: its array spans [99.6, 100.1) but the event ends at 100,
    # so it enters window 0 only (bin round(199.2) = 199)
    windows, _ = assemble_windows({"text": [chunk(99.6, 0.4, n=1)]}, 150.0, feature_dims=DIMS)
    assert bins(windows["text"][0]) == {199: 1.0}
    assert bins(windows["text"][1]) == {}


def test_a_chunk_clamped_on_its_own_right_edge():
    # [99.25, 100.25) with 2 bins (values 1, 2).
    # Window 0: overlap [99.25, 100]: start round(198.5) = 198, length round(1.5) = 2 -> 198-199
    #   from chunk bins 0-1.
    # Window 1: overlap [100, 100.25]: window bin 0, length max(1, round(0.5)) = 1; in the chunk
    #   start round(1.5) = 2 > 2 - 1, so moved back to bin 1 (value 2).
    windows, _ = assemble_windows({"text": [chunk(99.25, 1.0, n=2)]}, 150.0, feature_dims=DIMS)
    assert bins(windows["text"][0]) == {198: 1.0, 199: 2.0}
    assert bins(windows["text"][1]) == {0: 2.0}


def test_a_static_vector_fills_every_bin_of_its_slice():
    window = np.zeros((2, 3, 200), dtype=np.float32)
    vector = np.arange(6, dtype=np.float32).reshape(2, 3)
    place(window, 0.0, TimedFeature(10.0, 1.5, vector))  # bins 20..22
    assert np.array_equal(window[:, :, 20:23], np.repeat(vector[:, :, None], 3, axis=2))
    assert window.sum() == vector.sum() * 3


def test_place_refuses_mismatched_shapes():
    with pytest.raises(InvalidParameterError, match="does not match"):
        place(np.zeros((1, 1, 200), np.float32), 0.0, TimedFeature(0.0, 1.0, np.ones((2, 1))))
    with pytest.raises(InvalidParameterError, match=r"\(L, D, T\)"):
        place(np.zeros((200,), np.float32), 0.0, word(0.0, 1.0))
    with pytest.raises(InvalidParameterError, match="duration"):
        place(np.zeros((1, 1, 200), np.float32), 0.0, word(0.0, -1.0))


# -- windows ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "duration, count",
    [
        (0.0, 1),
        (0.3, 1),
        (52.21, 1),
        (100.0, 1),
        (100.0 + 1e-12, 1),
        (100.5, 2),
        (250.0, 3),
        (7200.0, 72),
    ],
)
def test_window_count(duration, count):
    starts = window_starts(duration)
    assert starts.tolist() == [100.0 * k for k in range(count)]
    windows, starts2 = assemble_windows({"text": [word(0.1, 0.2)]}, duration, feature_dims=DIMS)
    assert windows["text"].shape == (count, 1, 1, 200)
    assert windows["text"].dtype == np.float32
    assert np.array_equal(starts, starts2)


def test_modalities_without_events_are_absent():
    windows, _ = assemble_windows(
        {"text": [], "audio": [chunk(0, 30, dims=(1, 2))]}, 30.0, feature_dims=DIMS
    )
    assert list(windows) == ["audio"]  # not "text" (empty) nor "video" (not given)


def test_a_present_modality_is_zero_in_windows_without_its_events():
    windows, _ = assemble_windows({"text": [word(10.0, 0.5)]}, 250.0, feature_dims=DIMS)
    assert windows["text"][0].any()
    assert not windows["text"][1:].any()


def test_output_follows_the_brain_models_modality_order():
    windows, _ = assemble_windows(
        {"video": [chunk(0, 5, dims=(2, 1))], "text": [word(1, 1)]}, 5.0, feature_dims=DIMS
    )
    assert list(windows) == ["text", "video"]


def test_iter_windows_matches_assemble_windows():
    features = {
        "text": [word(t, 0.3, t) for t in np.arange(0.0, 240.0, 7.3)],
        "audio": [
            chunk(0, 60, dims=(1, 2)),
            chunk(60, 60, dims=(1, 2)),
            chunk(120, 120.5, dims=(1, 2)),
        ],
    }
    stacked, starts = assemble_windows(features, 240.5, feature_dims=DIMS)
    streamed = list(iter_windows(features, 240.5, feature_dims=DIMS))
    assert len(streamed) == len(starts) == 3
    for k, window in enumerate(streamed):
        assert list(window) == ["text", "audio"]
        for modality, array in window.items():
            assert np.array_equal(array, stacked[modality][k])


def test_the_order_of_the_features_does_not_matter():
    features = [word(t, 0.7, v) for t, v in [(3.0, 1.0), (1.0, 2.0), (3.2, 4.0), (0.5, 8.0)]]
    forward, _ = assemble_windows({"text": features}, 10.0, feature_dims=DIMS)
    backward, _ = assemble_windows({"text": features[::-1]}, 10.0, feature_dims=DIMS)
    assert np.array_equal(forward["text"], backward["text"])


def test_bad_inputs_are_named():
    with pytest.raises(InvalidParameterError, match="unknown modality 'smell'"):
        assemble_windows({"smell": [word(0, 1)]}, 10.0, feature_dims=DIMS)
    with pytest.raises(InvalidParameterError, match=r"expects \(1, 2\)"):
        assemble_windows({"audio": [word(0, 1)]}, 10.0, feature_dims=DIMS)
    with pytest.raises(InvalidParameterError, match="duration"):
        assemble_windows({"text": [word(0, 1)]}, float("nan"), feature_dims=DIMS)


# -- output rows --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "duration, rows",
    [
        (52.21, 53),
        (23.256, 24),
        (53.0, 53),
        (0.4, 1),
        (100.0, 100),
        (100.01, 101),
        (7200.0, 7200),
    ],
)
def test_output_rows(duration, rows):
    n_windows = len(window_starts(duration))
    assert output_rows(duration) == output_rows(duration, n_windows=n_windows) == rows
    times = row_times(duration)
    assert times.shape == (rows, 2)
    assert times[0].tolist() == [0.0, 1.0]
    assert times[-1].tolist() == [rows - 1.0, float(rows)]
    assert np.all(np.diff(times[:, 0]) == 1.0)


def test_output_rows_cannot_exceed_the_windows():
    with pytest.raises(InvalidParameterError, match="rows"):
        output_rows(100.5, n_windows=1)
