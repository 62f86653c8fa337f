"""Loading a TRIBE v2 checkpoint directory: strict, safe, and loud about what is wrong."""

from __future__ import annotations

import pytest
import torch
from tiny_checkpoint import read_state_dict, reference_forward, write_tiny_checkpoint

from berg.errors import DeviceNotAvailableError, InvalidParameterError, ModelLoadError
from berg.tribe import BrainModelConfig, load_brain_model, read_tribe_config


@pytest.fixture
def ckpt_dir(tmp_path):
    return write_tiny_checkpoint(tmp_path / "tribe", n_outputs=64)


def edit_checkpoint(directory, edit):
    """Apply ``edit(checkpoint_dict)`` to best.ckpt in place."""
    path = directory / "best.ckpt"
    checkpoint = torch.load(path, weights_only=True)
    edit(checkpoint)
    torch.save(checkpoint, path)


def features(model, n_times=30, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {m: torch.randn(1, *d, n_times, generator=gen) for m, d in model.feature_dims.items()}


# ----------------------------------------------------------------------------------------------
# What loads


def test_official_format_checkpoint_loads_strictly(ckpt_dir):
    model = load_brain_model(ckpt_dir)
    assert not model.training
    assert model.feature_dims == {"text": (2, 12), "audio": (2, 8), "video": (2, 10)}
    assert list(model.feature_dims) == ["text", "audio", "video"]  # concatenation order
    assert (model.n_outputs, model.n_output_timesteps) == (64, 100)
    assert model.config == BrainModelConfig(
        hidden=96, max_seq_len=256, depth=2, heads=2, ff_mult=4, low_rank_head=16
    )
    loaded = model.state_dict()
    raw = read_state_dict(ckpt_dir)
    assert loaded.keys() == raw.keys()
    for key, value in raw.items():
        assert torch.equal(loaded[key], value), key
        assert loaded[key].device.type == "cpu" and loaded[key].dtype == torch.float32


def test_read_out_rows_come_from_the_checkpoint_and_the_last_one_is_used(tmp_path):
    # config.yaml says 25 subjects; the checkpoint has 3 rows: the last is the average subject.
    directory = write_tiny_checkpoint(tmp_path, n_predictor_rows=3, n_outputs=64, seed=3)
    model = load_brain_model(directory)
    assert model.predictor.weights.shape == (3, 16, 64)
    state = read_state_dict(directory)
    x = features(model)
    kwargs = dict(feature_dims=model.feature_dims, heads=2, n_output_timesteps=100)
    with torch.inference_mode():
        out = model(x).double()
    torch.testing.assert_close(out, reference_forward(state, x, **kwargs), rtol=1e-5, atol=1e-5)
    first_row = {**state, "predictor.weights": state["predictor.weights"][:1]}
    first_row["predictor.bias"] = state["predictor.bias"][:1]
    assert (out - reference_forward(first_row, x, **kwargs)).abs().max() > 1e-2


def test_layer_aggregation_mean_averages_layer_groups(tmp_path):
    directory = write_tiny_checkpoint(tmp_path, layer_aggregation="mean", n_outputs=64)
    model = load_brain_model(directory)
    assert model.projectors["text"].in_features == 12
    x = features(model)
    expected = reference_forward(
        read_state_dict(directory),
        x,
        feature_dims=model.feature_dims,
        heads=2,
        n_output_timesteps=100,
        layer_aggregation="mean",
    )
    with torch.inference_mode():
        torch.testing.assert_close(model(x).double(), expected, rtol=1e-5, atol=1e-5)


def test_no_low_rank_head_when_the_config_says_null(tmp_path):
    directory = write_tiny_checkpoint(tmp_path, low_rank=None, n_outputs=64)
    model = load_brain_model(directory)
    assert model.low_rank_head is None
    assert model.predictor.weights.shape == (1, 96, 64)


def test_keys_outside_the_model_and_other_precisions_are_tolerated(ckpt_dir):
    def edit(checkpoint):
        checkpoint["state_dict"]["loss.weight"] = torch.ones(3)
        key = "model.low_rank_head.weight"
        checkpoint["state_dict"][key] = checkpoint["state_dict"][key].double()

    edit_checkpoint(ckpt_dir, edit)
    model = load_brain_model(ckpt_dir)
    assert model.low_rank_head.weight.dtype == torch.float32


def test_legacy_non_zip_checkpoint_loads_without_mmap(ckpt_dir):
    path = ckpt_dir / "best.ckpt"
    torch.save(torch.load(path, weights_only=True), path, _use_new_zipfile_serialization=False)
    model = load_brain_model(ckpt_dir)
    assert torch.equal(model.time_pos_embed, read_state_dict(ckpt_dir)["time_pos_embed"])


def test_harmless_options_are_accepted(tmp_path):
    extra = {
        "brain_model_config": {
            "dropout": 0.2,
            "modality_dropout": 0.5,
            "encoder": {"attn_flash": True, "attn_dropout": 0.1, "attn_qk_norm": False},
            "projector": {"hidden_sizes": [], "norm_layer": None},
            "some_future_option": None,
        }
    }
    load_brain_model(write_tiny_checkpoint(tmp_path, n_outputs=64, extra_config=extra))


# ----------------------------------------------------------------------------------------------
# config.yaml


def test_config_reader_turns_python_tags_into_plain_data(ckpt_dir):
    text = (ckpt_dir / "config.yaml").read_text()
    assert "!!python/object/apply:pathlib.PosixPath" in text and "!!python/tuple" in text
    config = read_tribe_config(ckpt_dir / "config.yaml")
    assert config["infra"]["folder"] == "/checkpoint/tribe/xp/tribev2-release"
    assert config["infra"]["workdir"]["copied"] == ["tribev2", "neuralset", "neuraltrain"]
    assert config["data"]["layers_to_use"] == [0.5, 0.75, 1.0]
    assert config["data"]["frequency"] == 2.0
    assert config["brain_model_config"]["encoder"]["heads"] == 2


def test_config_reader_never_executes_python_tags(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "config.yaml"
    path.write_text(
        "brain_model_config: {hidden: 96}\n"
        f"a: !!python/object/apply:os.system ['touch {marker}']\n"
        f"b: !!python/object/apply:subprocess.check_call [['touch', '{marker}']]\n"
        "c: !!python/object/new:os.system\n"
        f"  args: ['touch {marker}']\n"
        "d: !!python/name:os.system\n"
        "e: !!python/module:os\n"
        "f: !!python/object:argparse.Namespace {x: 1}\n"
    )
    config = read_tribe_config(path)
    assert not marker.exists()
    assert config["a"] == [f"touch {marker}"]
    assert config["c"] == {"args": [f"touch {marker}"]}
    assert config["d"] == "" and config["f"] == {"x": 1}


@pytest.mark.parametrize(
    "text, message",
    [
        ("brain_model_config: [unclosed\n", "is not valid YAML"),
        ("- just\n- a list\n", "mapping at the top level"),
        ("data: {frequency: 2}\n", "'brain_model_config' is missing"),
        ("brain_model_config: 3\n", "'brain_model_config' is not a mapping"),
    ],
)
def test_unusable_config_files_are_named(ckpt_dir, text, message):
    (ckpt_dir / "config.yaml").write_text(text)
    with pytest.raises(ModelLoadError) as info:
        load_brain_model(ckpt_dir)
    assert str(ckpt_dir / "config.yaml") in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "extra, key",
    [
        ({"projector": {"hidden_sizes": [64]}}, "brain_model_config.projector.hidden_sizes"),
        ({"projector": {"name": "SubjectLayers"}}, "brain_model_config.projector.name"),
        ({"combiner": {"name": "Mlp"}}, "brain_model_config.combiner"),
        ({"linear_baseline": True}, "brain_model_config.linear_baseline"),
        ({"subject_embedding": True}, "brain_model_config.subject_embedding"),
        ({"temporal_smoothing": {"kernel_size": 9}}, "brain_model_config.temporal_smoothing"),
        ({"time_pos_embedding": False}, "brain_model_config.time_pos_embedding"),
        ({"extractor_aggregation": "sum"}, "brain_model_config.extractor_aggregation"),
        ({"layer_aggregation": None}, "brain_model_config.layer_aggregation"),
        ({"subject_layers": {"bias": False}}, "brain_model_config.subject_layers.bias"),
        ({"subject_layers": None}, "brain_model_config.subject_layers"),
        ({"encoder": {"rotary_pos_emb": False}}, "brain_model_config.encoder.rotary_pos_emb"),
        ({"encoder": {"use_scalenorm": False}}, "brain_model_config.encoder.use_scalenorm"),
        ({"encoder": {"rotary_xpos": True}}, "brain_model_config.encoder.rotary_xpos"),
        ({"encoder": {"causal": True}}, "brain_model_config.encoder.causal"),
        ({"encoder": {"residual_attn": True}}, "brain_model_config.encoder.residual_attn"),
        ({"encoder": {"scale_residual": False}}, "brain_model_config.encoder.scale_residual"),
        ({"encoder": {"attn_qk_norm": True}}, "brain_model_config.encoder.attn_qk_norm"),
        ({"name": "FmriLinear"}, "brain_model_config.name"),
        ({"feature_aggregation": "stack"}, "brain_model_config.feature_aggregation"),
    ],
)
def test_architectures_other_than_the_release_are_refused_by_name(tmp_path, extra, key):
    directory = write_tiny_checkpoint(
        tmp_path, n_outputs=64, extra_config={"brain_model_config": extra}
    )
    with pytest.raises(ModelLoadError) as info:
        load_brain_model(directory)
    message = str(info.value)
    assert str(directory / "config.yaml") in message
    assert f"{key} = " in message
    assert "supports" in message


def test_sizes_that_make_no_model_are_refused(tmp_path):
    extra = {"brain_model_config": {"encoder": {"heads": 4}}}  # 96 / 4 = 24 dims per head
    directory = write_tiny_checkpoint(tmp_path, n_outputs=64, extra_config=extra)
    with pytest.raises(ModelLoadError, match="at least 32") as info:
        load_brain_model(directory)
    assert str(directory / "config.yaml") in str(info.value)


def test_config_and_checkpoint_that_disagree_name_the_tensor(tmp_path):
    extra = {"brain_model_config": {"max_seq_len": 512}}
    directory = write_tiny_checkpoint(tmp_path, n_outputs=64, extra_config=extra)
    with pytest.raises(ModelLoadError) as info:
        load_brain_model(directory)
    assert "time_pos_embed: checkpoint [1, 256, 96], expected [1, 512, 96]" in str(info.value)


# ----------------------------------------------------------------------------------------------
# best.ckpt


def test_truncated_checkpoint_is_named(ckpt_dir):
    path = ckpt_dir / "best.ckpt"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError) as info:
        load_brain_model(ckpt_dir)
    assert str(path) in str(info.value)
    assert "truncated or corrupt" in str(info.value)


def test_garbage_checkpoint_is_named(ckpt_dir):
    (ckpt_dir / "best.ckpt").write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(ModelLoadError, match="truncated or corrupt"):
        load_brain_model(ckpt_dir)


class Payload:
    """Not a tensor: weights_only loading must refuse to rebuild it."""


def test_checkpoint_with_pickled_objects_is_refused(ckpt_dir):
    edit_checkpoint(ckpt_dir, lambda checkpoint: checkpoint.update(extra=Payload()))
    with pytest.raises(ModelLoadError) as info:
        load_brain_model(ckpt_dir)
    assert "will not unpickle" in str(info.value)
    assert str(ckpt_dir / "best.ckpt") in str(info.value)


def test_renamed_key_is_named(ckpt_dir):
    def edit(checkpoint):
        sd = checkpoint["state_dict"]
        sd["model.encoder.layers.0.1.to_query.weight"] = sd.pop(
            "model.encoder.layers.0.1.to_q.weight"
        )

    edit_checkpoint(ckpt_dir, edit)
    with pytest.raises(ModelLoadError) as info:
        load_brain_model(ckpt_dir)
    message = str(info.value)
    assert "missing 1 key(s): 'encoder.layers.0.1.to_q.weight'" in message
    assert "unexpected 1 key(s): 'encoder.layers.0.1.to_query.weight'" in message
    assert str(ckpt_dir / "best.ckpt") in message


def test_missing_persistent_rotary_buffer_is_named(ckpt_dir):
    edit_checkpoint(
        ckpt_dir, lambda c: c["state_dict"].pop("model.encoder.rotary_pos_emb.inv_freq")
    )
    with pytest.raises(ModelLoadError, match="encoder.rotary_pos_emb.inv_freq"):
        load_brain_model(ckpt_dir)


def test_wrong_shape_is_named_with_both_shapes(ckpt_dir):
    def edit(checkpoint):
        checkpoint["state_dict"]["model.projectors.audio.weight"] = torch.zeros(32, 17)

    edit_checkpoint(ckpt_dir, edit)
    with pytest.raises(ModelLoadError) as info:
        load_brain_model(ckpt_dir)
    assert "projectors.audio.weight: checkpoint [32, 17], expected [32, 16]" in str(info.value)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c.pop("model_build_args"), "no 'model_build_args'"),
        (lambda c: c.pop("state_dict"), "no 'state_dict'"),
        (lambda c: c["model_build_args"].pop("n_outputs"), "model_build_args has no 'n_outputs'"),
        (
            lambda c: c["model_build_args"]["feature_dims"].update(audio=None),
            "['feature_dims']['audio'] is None",
        ),
        (
            lambda c: c["model_build_args"]["feature_dims"].update(audio=(2,)),
            "feature_dims['audio'] must be a pair",
        ),
        (lambda c: c["model_build_args"].update(n_output_timesteps=0), "'n_output_timesteps'"),
        (lambda c: c.update(state_dict={"net.x": torch.ones(1)}), "no state_dict key starts"),
        (
            lambda c: c["state_dict"].pop("model.predictor.weights"),
            "no 'model.predictor.weights'",
        ),
    ],
)
def test_incomplete_checkpoints_are_named(ckpt_dir, edit, message):
    edit_checkpoint(ckpt_dir, edit)
    with pytest.raises(ModelLoadError) as info:
        load_brain_model(ckpt_dir)
    assert message in str(info.value)
    assert str(ckpt_dir / "best.ckpt") in str(info.value)


def test_checkpoint_that_is_not_a_dict_is_named(ckpt_dir):
    torch.save([torch.ones(2)], ckpt_dir / "best.ckpt")
    with pytest.raises(ModelLoadError, match="holds a list; expected a Lightning checkpoint"):
        load_brain_model(ckpt_dir)


# ----------------------------------------------------------------------------------------------
# The directory and the device


@pytest.mark.parametrize("missing", ["config.yaml", "best.ckpt"])
def test_missing_file_says_what_must_be_there(ckpt_dir, missing):
    (ckpt_dir / missing).unlink()
    with pytest.raises(ModelLoadError) as info:
        load_brain_model(ckpt_dir)
    message = str(info.value)
    assert f"{ckpt_dir} has no {missing}" in message
    assert "must hold config.yaml and best.ckpt" in message


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist; a TRIBE v2 checkpoint directory"):
        load_brain_model(tmp_path / "nowhere")


def test_device_names(ckpt_dir):
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert load_brain_model(ckpt_dir, device="auto").device.type == expected
    with pytest.raises(InvalidParameterError, match="unknown device 'gpu'"):
        load_brain_model(ckpt_dir, device="gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when CUDA is absent")
def test_cuda_without_a_gpu_is_refused(ckpt_dir):
    with pytest.raises(DeviceNotAvailableError, match="sees no GPU|CPU-only build"):
        load_brain_model(ckpt_dir, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_loads_onto_the_gpu_and_agrees_with_the_cpu(ckpt_dir):
    cpu, gpu = load_brain_model(ckpt_dir), load_brain_model(ckpt_dir, device=torch.device("cuda"))
    assert gpu.device.type == "cuda"
    x = features(cpu, n_times=200)
    with torch.inference_mode():
        torch.testing.assert_close(gpu(x).cpu(), cpu(x), rtol=1e-4, atol=1e-4)
