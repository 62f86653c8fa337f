"""Finding feature-model folders: argument, environment variable, Hugging Face cache."""

import pytest

from berg import InvalidParameterError, ModelLoadError
from berg.features.models import resolve_pretrained
from berg.registry import PretrainedSpec

SPEC = PretrainedSpec(
    modality="audio", hub_id="facebook/w2v-bert-2.0", revision="main", env_var="BERG_AUDIO_MODEL"
)
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def model_folder(path):
    path.mkdir(parents=True)
    (path / "config.json").write_text('{"model_type": "wav2vec2-bert"}')
    return path


def hf_cache(root, spec=SPEC, commit=COMMIT):
    """A Hugging Face cache as `hf download` leaves it: refs/<revision> -> snapshots/<commit>."""
    repo = root / f"models--{spec.hub_id.replace('/', '--')}"
    model_folder(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / spec.revision).write_text(commit)
    return root


def test_an_explicit_folder_wins(tmp_path, monkeypatch):
    mine = model_folder(tmp_path / "mine")
    monkeypatch.setenv("BERG_AUDIO_MODEL", str(model_folder(tmp_path / "env")))
    resolved = resolve_pretrained(SPEC, model_dir=mine)
    assert resolved.path == mine and resolved.source == "argument"
    assert resolved.hub_id == "facebook/w2v-bert-2.0" and resolved.revision is None


def test_environment_variable(tmp_path, monkeypatch):
    folder = model_folder(tmp_path / "shared models" / "w2v")
    monkeypatch.setenv("BERG_AUDIO_MODEL", str(folder))
    resolved = resolve_pretrained(SPEC, cache_dir=tmp_path / "empty-cache")
    assert resolved.path == folder and resolved.source == "environment"


def test_a_prefilled_hub_cache_works_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("BERG_AUDIO_MODEL", raising=False)
    cache = hf_cache(tmp_path / "hf")
    resolved = resolve_pretrained(SPEC, cache_dir=cache, local_files_only=True)
    assert resolved.source == "hub"
    assert resolved.revision == COMMIT
    assert (resolved.path / "config.json").is_file()


def test_not_cached_and_offline_lists_the_ways(tmp_path, monkeypatch):
    monkeypatch.delenv("BERG_AUDIO_MODEL", raising=False)
    with pytest.raises(ModelLoadError) as info:
        resolve_pretrained(SPEC, cache_dir=tmp_path / "hf", local_files_only=True)
    message = str(info.value)
    for hint in ["facebook/w2v-bert-2.0", "BERG_AUDIO_MODEL", "audio_model_dir=", "HF_HOME"]:
        assert hint in message


def test_gated_models_say_so(tmp_path, monkeypatch):
    spec = PretrainedSpec("text", "meta-llama/Llama-3.2-3B", "main", "BERG_TEXT_MODEL", gated=True)
    monkeypatch.delenv("BERG_TEXT_MODEL", raising=False)
    with pytest.raises(ModelLoadError, match="gated"):
        resolve_pretrained(spec, cache_dir=tmp_path / "hf", local_files_only=True)


def test_bad_folders(tmp_path, monkeypatch):
    with pytest.raises(ModelLoadError, match="is not a folder"):
        resolve_pretrained(SPEC, model_dir=tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_pretrained(SPEC, model_dir=tmp_path / "empty")
    monkeypatch.setenv("BERG_AUDIO_MODEL", str(tmp_path / "nowhere"))
    with pytest.raises(ModelLoadError, match=r"\$BERG_AUDIO_MODEL"):
        resolve_pretrained(SPEC)
    with pytest.raises(InvalidParameterError):
        resolve_pretrained(SPEC, model_dir=42)
