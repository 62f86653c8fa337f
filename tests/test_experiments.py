"""In silico experiments: designs against hand-worked timings, the GLM against a design
built in the test, item statistics by hand, and the whole path on tiny models."""

from pathlib import Path

import numpy as np
import pytest

from berg.errors import InvalidParameterError
from berg.experiments import AnalysisOptions, BlockDesign, EventDesign, parse_contrast, plan_runs
from berg.experiments.analysis import fit_glm, item_statistics, peak_responses
from berg.experiments.design import Event, Item, Run


def _items(counts, duration=1.0):
    return [
        Item(condition, f"{condition}{i}.png", Path(f"{condition}{i}.png"), duration)
        for condition, n in counts.items()
        for i in range(n)
    ]


def test_event_design_by_hand():
    items = _items({"faces": 2, "places": 2})
    design = EventDesign(isi=(5.0, 5.0), baseline=10.0, max_run_seconds=40.0, seed=3)
    (run,) = plan_runs(items, design)
    # 10 s of baseline, then an item every 1 + 5 s; 28 + 1 + 10 = 39 s <= 40.
    assert [e.onset for e in run.events] == [10.0, 16.0, 22.0, 28.0]
    assert run.duration == 39.0
    assert sorted(e.item for e in run.events) == sorted(i.name for i in items)
    order = [e.item for e in run.events]
    assert order == [e.item for e in plan_runs(items, design)[0].events]  # the seed decides
    shorter = plan_runs(items, EventDesign(isi=(5.0, 5.0), max_run_seconds=35.0, seed=3))
    assert [[e.onset for e in r.events] for r in shorter] == [[10.0, 16.0, 22.0], [10.0]]
    assert [e.item for r in shorter for e in r.events] == order
    assert [r.duration for r in shorter] == [33.0, 21.0]


def test_jitter_repetitions_and_seeds():
    items = _items({"a": 5, "b": 5})
    design = EventDesign(isi=(3.0, 5.0), repetitions=2, max_run_seconds=1000.0, seed=1)
    (run,) = plan_runs(items, design)
    names = [e.item for e in run.events]
    assert len(names) == 20 and all(names.count(i.name) == 2 for i in items)
    gaps = np.diff([e.onset for e in run.events]) - 1.0
    assert gaps.min() >= 3.0 - 1e-9 and gaps.max() <= 5.0 + 1e-9
    np.testing.assert_allclose(gaps * 10, np.round(gaps * 10), atol=1e-6)  # 0.1 s steps
    assert len(set(np.round(gaps, 1))) > 3  # jittered
    other = plan_runs(items, EventDesign(isi=(3.0, 5.0), repetitions=2, seed=2))
    assert [e.item for e in other[0].events] != names


def test_block_design_by_hand():
    items = _items({"faces": 3, "places": 3})
    design = BlockDesign(
        items_per_block=2, item_gap=0.5, rest=12.0, blocks_per_condition=1, baseline=10.0
    )
    (run,) = plan_runs(items, design)
    onsets = [e.onset for e in run.events]
    # block 1: 10 and 11.5 (1 s items, 0.5 s apart); 12 s rest after 12.5; block 2: 24.5, 26.
    assert onsets == [10.0, 11.5, 24.5, 26.0]
    conditions = [e.condition for e in run.events]
    assert conditions[0] == conditions[1] != conditions[2] == conditions[3]
    assert run.duration == 37.0


@pytest.mark.parametrize(
    "design, match",
    [
        (lambda: EventDesign(isi=(5, 3)), "shortest, longest"),
        (lambda: EventDesign(item_duration=0), "item_duration must be seconds > 0"),
        (lambda: EventDesign(repetitions=0), "repetitions"),
        (lambda: BlockDesign(rest=-1), "rest must be seconds >= 0"),
    ],
)
def test_bad_designs_are_refused(design, match):
    with pytest.raises(InvalidParameterError, match=match):
        design()


def test_an_item_longer_than_a_run_is_refused():
    with pytest.raises(InvalidParameterError, match="does not fit in a run"):
        plan_runs(_items({"a": 1}, duration=290.0), EventDesign())


def test_contrasts_are_parsed_and_checked():
    conditions = ["faces", "places", "bodies"]
    assert parse_contrast("faces-others", conditions).negative == ("places", "bodies")
    assert parse_contrast("faces - places", conditions).negative == ("places",)
    assert parse_contrast("faces", conditions).negative == ()
    with pytest.raises(InvalidParameterError, match="did you mean 'faces'"):
        parse_contrast("facse-places", conditions)
    with pytest.raises(InvalidParameterError, match="with itself"):
        parse_contrast("faces-faces", conditions)
    with pytest.raises(InvalidParameterError, match="no other condition"):
        parse_contrast("faces-others", ["faces"])


def test_peak_responses_read_the_bold_clock():
    # Row k is BOLD time k + 0.5 + 5; a window of 4-7 s after an onset at 10 s holds the
    # rows whose BOLD time is in [14, 17]: rows 9, 10 and 11 (BOLD 14.5, 15.5, 16.5).
    values = np.repeat(np.arange(30, dtype=np.float32)[:, None], 3, axis=1)
    run = Run(0, (Event(0, "a", "x", 10.0, 1.0), Event(0, "a", "y", 20.0, 1.0)), 30.0)
    events, peaks = peak_responses([values], [run], AnalysisOptions(), offset=5.0)
    np.testing.assert_allclose(peaks[:, 0], [10.0, 20.0])
    late = Run(0, (Event(0, "a", "z", 35.0, 1.0),), 30.0)
    with pytest.raises(InvalidParameterError, match="holds no row"):
        peak_responses([values], [late], AnalysisOptions(), offset=5.0)


def _hand_regressor(onsets, duration, times):
    """The Glover HRF convolved with boxcars, built here at 0.01 s and sampled at ``times``."""
    from nilearn.glm.first_level.hemodynamic_models import glover_hrf

    step = 0.01
    grid = np.arange(0.0, times.max() + 40.0, step)
    boxcar = np.zeros_like(grid)
    for onset in onsets:
        boxcar[(grid >= onset) & (grid < onset + duration)] = 1.0
    kernel = glover_hrf(t_r=step, oversampling=1, time_length=32.0)
    signal = np.convolve(boxcar, kernel)[: len(grid)]
    return np.interp(times, grid, signal)


def test_the_glm_recovers_known_effects_from_a_design_built_by_hand():
    # Time courses made from regressors built here (not by nilearn's design matrix):
    # 2.0 x faces + 0.5 x places + 3 + small noise; the contrasts must find 2.0 - 0.5, 2.0.
    events = (
        Event(0, "faces", "f1", 10.0, 1.0),
        Event(0, "places", "p1", 25.0, 1.0),
        Event(0, "faces", "f2", 40.0, 1.0),
        Event(0, "places", "p2", 55.0, 1.0),
        Event(0, "faces", "f3", 70.0, 1.0),
        Event(0, "places", "p3", 85.0, 1.0),
    )
    run = Run(0, events, 110.0)
    times = np.arange(110) + 0.5 + 5.0
    faces = _hand_regressor([10.0, 40.0, 70.0], 1.0, times)
    places = _hand_regressor([25.0, 55.0, 85.0], 1.0, times)
    rng = np.random.default_rng(0)
    columns = [2.0 * faces + 0.5 * places + 3.0 + 1e-3 * rng.standard_normal(110) for _ in range(4)]
    responses = np.stack(columns, axis=1)
    options = AnalysisOptions(drift_model=None)
    fit = fit_glm([responses], [run], options, offset=5.0)
    # nilearn's regressors are the hand-built ones, up to its scaling and its 1/50 s grid.
    design = fit.design
    scale = design["faces"].to_numpy() @ faces / (faces @ faces)
    np.testing.assert_allclose(design["faces"].to_numpy(), scale * faces, atol=1e-2 * scale)
    difference = fit.contrast(parse_contrast("faces-places", ["faces", "places"]))
    np.testing.assert_allclose(difference["effect"], (2.0 - 0.5) / scale, rtol=2e-2)
    assert (difference["t"] > 10).all() and (difference["p"] < 1e-6).all()
    alone = fit.contrast(parse_contrast("faces", ["faces", "places"]))
    np.testing.assert_allclose(alone["effect"], 2.0 / scale, rtol=2e-2)
    # t and the two-sided p by hand: OLS on the hand-built design (t does not see the scale),
    # with noise well above the two designs' difference (nilearn's 1/50 s grid).
    from scipy import stats

    hand = np.stack([faces, places, np.ones(110)], axis=1)
    noisy = responses + 0.3 * rng.standard_normal(responses.shape)
    beta, rss, *_ = np.linalg.lstsq(hand, noisy, rcond=None)
    dof = 110 - 3
    weights = np.array([1.0, -1.0, 0.0])
    spread = np.sqrt(rss / dof * (weights @ np.linalg.inv(hand.T @ hand) @ weights))
    noisy_fit = fit_glm([noisy], [run], options, offset=5.0)
    difference = noisy_fit.contrast(parse_contrast("faces-places", ["faces", "places"]))
    np.testing.assert_allclose(difference["t"], weights @ beta / spread, rtol=1e-2)
    expected_p = 2 * stats.t.sf(np.abs(weights @ beta / spread), dof)
    np.testing.assert_allclose(difference["p"], expected_p, rtol=5e-2)
    reverse = noisy_fit.contrast(parse_contrast("places-faces", ["faces", "places"]))
    np.testing.assert_allclose(reverse["t"], -difference["t"], rtol=1e-6)
    np.testing.assert_allclose(reverse["p"], difference["p"], rtol=1e-6)  # two-sided


def test_item_statistics_by_hand():
    peaks = np.array([[1.0], [2.0], [3.0], [0.0], [0.5], [1.0], [-1.0]])
    events = [Event(0, c, f"i{k}", 0.0, 1.0) for k, c in enumerate("aaabbbc")]
    found = item_statistics(peaks, events, parse_contrast("a-b", ["a", "b", "c"]))
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.5, 1.0])
    t = (a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / 3 + b.var(ddof=1) / 3)
    pooled = np.sqrt((2 * a.var(ddof=1) + 2 * b.var(ddof=1)) / 4)
    assert found["t"][0] == pytest.approx(t, rel=1e-6)
    assert found["d"][0] == pytest.approx((a.mean() - b.mean()) / pooled, rel=1e-6)
    assert found["effect"][0] == pytest.approx(1.5)
    others = item_statistics(peaks, events, parse_contrast("a-others", ["a", "b", "c"]))
    assert tuple(others["n"]) == (3, 4)
    against_rest = item_statistics(
        peaks, events, parse_contrast("a", ["a", "b", "c"]), np.array([1.0])
    )
    assert against_rest["effect"][0] == pytest.approx(1.0)
    assert against_rest["t"][0] == pytest.approx(1.0 / (1.0 / np.sqrt(3)), rel=1e-6)
    with pytest.raises(InvalidParameterError, match="no baseline rows"):
        item_statistics(peaks, events, parse_contrast("a", ["a", "b", "c"]), None)


def test_nonwords_are_pronounceable_seeded_and_not_words():
    from berg.experiments.builtin import SENTENCES, nonwords

    found = nonwords(200, seed=5)
    assert found == nonwords(200, seed=5) and found != nonwords(200, seed=6)
    assert len(set(found)) == 200
    words = {w.strip(".,").lower() for s in SENTENCES for w in s.split()}
    assert not words & set(found)
    vowels = set("aeiou")
    for word in found:
        assert word.isalpha() and word.islower()
        # Two or three syllables: as many vowel groups (ai, ee, oo, oa count once).
        groups = sum(
            1 for i, c in enumerate(word) if c in vowels and (i == 0 or word[i - 1] not in vowels)
        )
        assert groups in (2, 3), word


def test_the_speech_localiser_reverses_the_same_recordings(tmp_path):
    import wave

    from berg.experiments.builtin import write_builtin

    localiser = write_builtin("speech", tmp_path / "stim", cache_dir=tmp_path / "cache", n_items=2)
    assert localiser.contrast == "speech-reversed"
    assert list(localiser.conditions) == ["speech", "reversed"]
    for forward, backward in zip(*localiser.conditions.values()):
        with wave.open(str(forward)) as a, wave.open(str(backward)) as b:
            assert a.getframerate() == b.getframerate()
            samples = np.frombuffer(a.readframes(a.getnframes()), "<i2")
            reversed_ = np.frombuffer(b.readframes(b.getnframes()), "<i2")
        assert samples.size > a.getframerate()  # a sentence: more than a second
        np.testing.assert_array_equal(reversed_, samples[::-1])
    with pytest.raises(InvalidParameterError, match="n_items must be at most"):
        write_builtin("speech", tmp_path / "x", cache_dir=tmp_path / "cache", n_items=1000)
    with pytest.raises(InvalidParameterError, match="did you mean 'language'"):
        write_builtin("langauge", tmp_path / "x", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "x").exists()
