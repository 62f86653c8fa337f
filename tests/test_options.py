"""Options as data (berg.options): every name and value checked before any weights are read
or fetched, in get_encoding_model, encode-batch and `berg encode`; the batch digest from the
fields that change results; the README's table from the dataclass."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
from test_cli import run_berg

import berg.tribe.weights
from berg import BERG, BERGError, InvalidParameterError, MissingDependencyError, ModelLoadError
from berg.batch.runner import settings_digest
from berg.options import EncodingOptions, option_names

README = Path(__file__).resolve().parents[1] / "README.md"
MODEL = "fmri-dascoli_2026-tribe_v2"

# One bad value (or name) per option family, and what the message says.
BAD = [
    ({"download": "yes"}, InvalidParameterError, "download must be True or False"),
    ({"revision": 3}, InvalidParameterError, "revision must be"),
    ({"checkpoint_dir": 5}, InvalidParameterError, "checkpoint_dir must be"),
    ({"cache_dir": ["x"]}, InvalidParameterError, "cache_dir must be"),
    ({"asr": "whisper"}, InvalidParameterError, "did you mean 'whisperx'"),
    ({"asr_options": {"beam_sise": 5}}, InvalidParameterError, "did you mean 'beam_size'"),
    ({"asr_options": {"beam_size": 0}}, InvalidParameterError, "beam_size must be"),
    ({"asr_options": {"device": "cuda"}}, InvalidParameterError, "use the option 'asr_device'"),
    ({"asr_model": "  "}, InvalidParameterError, "asr_model must be"),
    ({"asr_device": 0}, InvalidParameterError, "asr_device must be"),
    ({"language": "klingon!"}, InvalidParameterError, "language must be"),
    ({"tts": "pipr"}, InvalidParameterError, "did you mean 'piper'"),
    ({"tts_options": {"speed": 200}}, InvalidParameterError, "unknown option 'speed'"),
    (
        {"tts": "espeak-ng", "tts_options": {"speed": 3}},
        InvalidParameterError,
        "speed must be an int in",
    ),
    ({"tts_options": {"voice": "/nowhere/voice.onnx"}}, ModelLoadError, "not found"),
    ({"sentence_splitter": "spcy"}, InvalidParameterError, "did you mean 'spacy'"),
    ({"feature_dtype": "fp16"}, InvalidParameterError, "unknown feature_dtype 'fp16'"),
    (
        {"extractor_options": {"video": {"resize_kernel": "linear"}}},
        InvalidParameterError,
        "unknown resize_kernel 'linear'",
    ),
    (
        {"extractor_options": {"audio": {"video_audio_rate": 0}}},
        InvalidParameterError,
        "video_audio_rate must be",
    ),
    (
        {"extractor_options": {"text": {"method": "fast"}}},
        InvalidParameterError,
        "unknown method 'fast'",
    ),
    ({"memory_budget_gb": 0}, InvalidParameterError, "memory_budget_gb must be"),
    ({"window_batch_size": 1.5}, InvalidParameterError, "window_batch_size must be"),
    ({"revison": "main"}, InvalidParameterError, "did you mean 'revision'"),
]


@pytest.fixture
def weights_untouched(monkeypatch):
    """Fail the test if anything reaches for the brain model's weights."""

    def touched(*args, **kwargs):
        raise AssertionError("the weights were looked for before the options were checked")

    monkeypatch.setattr(berg.tribe.weights, "locate_weights", touched)


@pytest.mark.parametrize("options, error, match", BAD)
def test_get_encoding_model_checks_every_value_first(
    tmp_path, weights_untouched, options, error, match
):
    with pytest.raises(error, match=match):
        BERG(tmp_path).get_encoding_model(MODEL, device="cpu", **options)


@pytest.mark.parametrize("options, error, match", BAD[::4])
def test_encode_batch_refuses_before_any_work(
    tmp_path, weights_untouched, monkeypatch, options, error, match
):
    import berg.batch.runner

    def no_hashing(*args, **kwargs):
        raise AssertionError("stimuli were collected before the options were checked")

    monkeypatch.setattr(berg.batch.runner, "collect_stimuli", no_hashing)
    with pytest.raises(error, match=match):
        BERG(tmp_path).encode_many(
            MODEL, tmp_path, tmp_path / "out", device="cpu", show_progress=False, **options
        )
    assert not (tmp_path / "out").exists()


def test_berg_encode_refuses_a_bad_synthesiser_before_the_weights(tmp_path):
    clip = tmp_path / "a.txt"
    clip.write_text("Hello there.", encoding="utf-8")
    result = run_berg(
        "--berg-dir",
        str(tmp_path / "berg"),
        "encode",
        str(clip),
        "-o",
        str(tmp_path / "out"),
        "--tts",
        "pipr",
        "--device",
        "cpu",
    )
    assert result.returncode == 1
    assert "unknown tts backend 'pipr'; did you mean 'piper'" in result.stderr
    assert not (tmp_path / "berg").exists()  # nothing downloaded, nothing written


def test_a_missing_backend_asked_for_by_name_is_reported_at_once(weights_untouched, tmp_path):
    import importlib.util

    if importlib.util.find_spec("spacy") is not None:
        pytest.skip("spaCy is installed here")
    with pytest.raises(MissingDependencyError, match="spacy"):
        BERG(tmp_path).get_encoding_model(MODEL, device="cpu", sentence_splitter="spacy")


def test_good_options_are_kept_as_given():
    options = EncodingOptions.from_kwargs(
        {
            "tts": "espeak-ng",
            "tts_options": {"speed": 200},
            "asr_options": {"beam_size": 2},
            "language": "fr",
            "window_batch_size": 2,
        }
    )
    assert options.tts_options == {"speed": 200} and options.asr_options == {"beam_size": 2}
    assert options.extractor_options == {"text": {}, "audio": {}, "video": {}}
    with pytest.raises(Exception):  # noqa: B017 - frozen: no field can change afterwards
        options.tts = "piper"


def test_the_digest_follows_what_changes_results():
    def digest(device="cpu", **options):
        return settings_digest(MODEL, None, EncodingOptions.from_kwargs(options), ["npz"], device)

    base = digest()
    # The device decides the recogniser's compute type, so the words: a rerun on a GPU is
    # not a rerun of a CPU batch.
    assert digest(device="cuda") != base
    for changed in (
        {"asr_options": {"beam_size": 1}},
        {"asr_device": "cpu"},
        {"tts": "espeak-ng"},
        {"language": "en"},
        {"feature_dtype": "bfloat16"},
        {"extractor_options": {"video": {"resize_kernel": "float"}}},
    ):
        assert digest(**changed) != base, changed
    # Speed, memory and messages do not.
    for same in (
        {"window_batch_size": 1},
        {"memory_budget_gb": 2},
        {"download": False},
        {"track_gpu_memory": True},
        {"local_files_only": True},
        {"tts": "piper"},
        {"extractor_options": {"video": {}}},
    ):
        assert digest(**same) == base, same


def test_every_field_is_marked():
    for f in fields(EncodingOptions):
        assert set(f.metadata) == {"group", "doc", "results"}, f.name
        assert isinstance(f.metadata["results"], bool) and f.metadata["doc"]
    assert option_names()[0] == "checkpoint_dir" and "asr_options" in option_names()


def test_the_readme_lists_the_options_from_the_dataclass():
    text = README.read_text(encoding="utf-8")
    found = re.search(r"\| option \| default \| what \| changes results \|\n(?:\|.*\|\n)+", text)
    assert found, "the README has no option table"
    assert found.group(0).strip() == EncodingOptions.markdown_table().strip(), (
        "the README's option table is out of step with berg.options.EncodingOptions: paste "
        "EncodingOptions.markdown_table()"
    )


def test_asr_options_reach_the_recogniser(tmp_path, monkeypatch):
    # The recogniser is built before the weights are looked for; its decoding options are
    # the ones given.
    built = []

    def stop(*args, **kwargs):
        raise BERGError("stop here")

    import berg.stimulus.transcribe

    real = berg.stimulus.transcribe.make_transcriber

    def recording(*args, **kwargs):
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(berg.stimulus.transcribe, "make_transcriber", recording)
    monkeypatch.setattr(berg.tribe.weights, "locate_weights", stop)
    with pytest.raises(BERGError, match="stop here"):
        BERG(tmp_path).get_encoding_model(
            MODEL,
            device="cpu",
            asr_model="tiny.en",
            asr_options={"beam_size": 2, "vad_filter": False},
        )
    (asr,) = built
    assert (asr.beam_size, asr.vad_filter, asr.device) == (2, False, "cpu")
