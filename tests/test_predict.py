"""Whole-stimulus prediction: windows of 100 s through the brain model, one row per second."""

import numpy as np
import pytest
import torch
from tiny_checkpoint import write_tiny_checkpoint

from berg.features.timed import TimedFeature
from berg.tribe import load_brain_model
from berg.tribe.predict import predict_responses


@pytest.fixture(scope="module")
def brain(tmp_path_factory):
    return load_brain_model(write_tiny_checkpoint(tmp_path_factory.mktemp("tribe")))


def test_rows_come_from_independent_windows(brain):
    rng = np.random.default_rng(0)
    L, D = brain.feature_dims["audio"]
    duration = 150.0  # 2 windows; 150 rows
    audio = rng.standard_normal((L, D, 300)).astype(np.float32)
    chunks = [TimedFeature(0.0, 60.0, audio[..., :120]), TimedFeature(60.0, 90.0, audio[..., 120:])]
    Lt, Dt = brain.feature_dims["text"]
    word = rng.standard_normal((Lt, Dt)).astype(np.float32)
    words = [TimedFeature(10.2, 0.3, word)]  # bin round(20.4) = 20, one bin

    out = predict_responses(brain, {"audio": chunks, "text": words}, duration, batch_size=1)
    assert out.shape == (150, 20484) and out.dtype == np.float32

    # By hand: window 0 = bins 0..199 of the audio, window 1 = bins 200..299 then zeros;
    # the word is in window 0, bin 20; video is absent (zeros after its projector).
    w_audio = np.zeros((2, L, D, 200), np.float32)
    w_audio[0] = audio[..., :200]
    w_audio[1, ..., :100] = audio[..., 200:]
    w_text = np.zeros((2, Lt, Dt, 200), np.float32)
    w_text[0, :, :, 20] = word
    with torch.inference_mode():
        expected = brain({"audio": torch.from_numpy(w_audio), "text": torch.from_numpy(w_text)})
    expected = expected.transpose(1, 2).reshape(200, -1)[:150].numpy()
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


def test_columns_and_batching_do_not_change_the_numbers(brain):
    rng = np.random.default_rng(1)
    L, D = brain.feature_dims["video"]
    feats = {
        "video": [TimedFeature(0.0, 250.4, rng.standard_normal((L, D, 501)).astype(np.float32))]
    }
    full = predict_responses(brain, feats, 250.4, batch_size=3)
    assert full.shape == (251, 20484)  # ceil(250.4)
    columns = np.array([0, 5, 10241, 10242, 20483])
    picked = predict_responses(brain, feats, 250.4, columns=columns, batch_size=1)
    np.testing.assert_allclose(picked, full[:, columns], rtol=0, atol=1e-6)


def test_progress_counts_seconds(brain):
    L, D = brain.feature_dims["audio"]
    seen = []
    features = {"audio": [TimedFeature(0.0, 230.0, np.ones((L, D, 460), np.float32))]}
    predict_responses(brain, features, 230.0, batch_size=2, progress=seen.append)
    assert sum(seen) == pytest.approx(230.0)
