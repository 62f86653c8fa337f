"""Modality contributions: the response minus the response with a modality removed by the
model's own rule (zeros after its projector), from the same features."""

import copy

import numpy as np
import pytest
import torch
from tiny_checkpoint import write_tiny_checkpoint

from berg.features.timed import TimedFeature
from berg.io import to_jsonable
from berg.tribe import load_brain_model
from berg.tribe.contributions import modality_contributions
from berg.tribe.predict import predict_responses

DURATION = 30.0


@pytest.fixture(scope="module")
def brain(tmp_path_factory):
    return load_brain_model(write_tiny_checkpoint(tmp_path_factory.mktemp("tribe")))


def _features(brain, modalities=("text", "audio", "video")):
    rng = np.random.default_rng(7)
    features = {}
    for modality in modalities:
        n_layers, dim = brain.feature_dims[modality]
        if modality == "text":  # words: one vector each
            features[modality] = [
                TimedFeature(t, 0.4, rng.standard_normal((n_layers, dim)).astype(np.float32))
                for t in (1.0, 4.5, 12.0, 20.25)
            ]
        else:
            bins = int(2 * DURATION)
            data = rng.standard_normal((n_layers, dim, bins)).astype(np.float32)
            features[modality] = [TimedFeature(0.0, DURATION, data)]
    return features


def test_removed_is_the_response_with_that_projector_zeroed_by_hand(brain):
    features = _features(brain)
    found = modality_contributions(brain, features, DURATION)
    assert found.modalities == ("text", "audio", "video")
    for modality in found.modalities:
        # By hand: a copy of the model whose projector of this modality outputs zeros.
        zeroed = copy.deepcopy(brain)
        with torch.no_grad():
            zeroed.projectors[modality].weight.zero_()
            zeroed.projectors[modality].bias.zero_()
        expected = predict_responses(zeroed, features, DURATION)
        np.testing.assert_array_equal(found.removed[modality], expected)
        # ... which is also the response without the modality's features at all.
        without = {m: f for m, f in features.items() if m != modality}
        expected = predict_responses(brain, without, DURATION)
        np.testing.assert_array_equal(found.removed[modality], expected)
    np.testing.assert_array_equal(found.full, predict_responses(brain, features, DURATION))
    for modality, course in found.timecourses().items():
        np.testing.assert_array_equal(course, found.full - found.removed[modality])
        assert course.shape == (30, 20484) and np.abs(course).max() > 0


def test_maps_rgb_and_shares(brain):
    found = modality_contributions(brain, _features(brain), DURATION)
    maps = found.maps()
    for modality, values in maps.items():
        np.testing.assert_allclose(values, np.abs(found.timecourses()[modality]).mean(axis=0))
    rgb = found.rgb()
    assert rgb.shape == (20484, 3) and rgb.dtype == np.float32
    peak = max(v.max() for v in maps.values())
    np.testing.assert_allclose(rgb[:, 0], maps["text"] / peak, rtol=1e-6)
    np.testing.assert_allclose(rgb[:, 2], maps["video"] / peak, rtol=1e-6)
    assert rgb.max() == pytest.approx(1.0) and rgb.min() >= 0
    shares = found.shares()
    assert sum(shares.values()) == pytest.approx(1.0)
    totals = {m: maps[m].sum() for m in maps}
    assert shares["audio"] == pytest.approx(totals["audio"] / sum(totals.values()))
    summary = to_jsonable({"contributions": found})["contributions"]
    assert summary["modalities"] == ["text", "audio", "video"] and "projector" in summary["method"]


def test_a_stimulus_with_one_modality_is_measured_against_no_input(brain):
    features = _features(brain, ("audio",))
    found = modality_contributions(brain, features, DURATION)
    assert found.modalities == ("audio",)
    # Without its only modality the model sees nothing: the same rows for any features.
    other = {"audio": [TimedFeature(0.0, DURATION, 5 * features["audio"][0].data)]}
    again = modality_contributions(brain, other, DURATION)
    np.testing.assert_array_equal(found.removed["audio"], again.removed["audio"])
    assert not np.array_equal(found.full, again.full)
    rgb = found.rgb()
    assert (rgb[:, [0, 2]] == 0).all() and rgb[:, 1].max() == pytest.approx(1.0)
