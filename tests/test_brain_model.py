"""The TRIBE v2 brain model computes exactly the forward of docs/inference.md, section 2.

Each model is loaded from a tiny checkpoint in the official format and compared with
``reference_forward`` (tests/tiny_checkpoint.py): the same computation written step by step in
float64 from the raw tensors, without berg's module code.
"""

from __future__ import annotations

import pytest
import torch
from tiny_checkpoint import (
    official_shapes,
    read_state_dict,
    reference_forward,
    write_tiny_checkpoint,
)

from berg.errors import InvalidParameterError
from berg.tribe import BrainModelConfig, build_brain_model, load_brain_model

TOL = dict(rtol=1e-5, atol=1e-5)


def random_features(model, batch: int, n_times: int, seed: int, names=None) -> dict:
    gen = torch.Generator().manual_seed(seed)
    names = list(model.feature_dims) if names is None else names
    return {
        name: torch.randn(batch, *model.feature_dims[name], n_times, generator=gen)
        for name in names
    }


def reference(model, state, features) -> torch.Tensor:
    return reference_forward(
        state,
        features,
        feature_dims=model.feature_dims,
        heads=model.config.heads,
        n_output_timesteps=model.n_output_timesteps,
        layer_aggregation=model.config.layer_aggregation,
    )


def twin(model, n_output_timesteps=None, state=None):
    """A copy of ``model`` (optionally with other weights or another output length)."""
    copy = build_brain_model(
        model.config,
        model.feature_dims,
        model.n_outputs,
        n_output_timesteps or model.n_output_timesteps,
        model.predictor.weights.shape[0],
    )
    copy.load_state_dict(state if state is not None else model.state_dict(), strict=True)
    return copy


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Default tiny model: 2 heads of 48 dims (rotary on the first 32), 20484 x 100 outputs."""
    directory = write_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))
    return load_brain_model(directory), read_state_dict(directory)


@torch.inference_mode()
def test_forward_matches_step_by_step_reference(tiny):
    model, state = tiny
    x = random_features(model, batch=2, n_times=200, seed=1)
    out = model(x)
    assert out.shape == (2, 20484, 100)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), reference(model, state, x), **TOL)


@torch.inference_mode()
def test_absent_modality_contributes_zeros_not_its_bias(tiny):
    model, state = tiny
    x = random_features(model, batch=2, n_times=200, seed=2, names=["text", "video"])
    without_audio = model(x)
    torch.testing.assert_close(without_audio.double(), reference(model, state, x), **TOL)

    # Zero audio features are "audio present but silent": the projector's bias gets through.
    silent_audio = {**x, "audio": torch.zeros(2, *model.feature_dims["audio"], 200)}
    with_silent_audio = model(silent_audio)
    torch.testing.assert_close(
        with_silent_audio.double(), reference(model, state, silent_audio), **TOL
    )
    assert (with_silent_audio - without_audio).abs().max() > 1e-2


@torch.inference_mode()
def test_a_single_modality_is_enough(tiny):
    model, state = tiny
    x = random_features(model, batch=1, n_times=200, seed=3, names=["audio"])
    torch.testing.assert_close(model(x).double(), reference(model, state, x), **TOL)


@pytest.mark.parametrize("n_times", [9, 3])
@torch.inference_mode()
def test_short_windows_pool_with_adaptive_bins(tmp_path, n_times):
    # 4 output steps from 9 bins: overlapping bins [0,3) [2,5) [4,7) [6,9); from 3: repeats.
    directory = write_tiny_checkpoint(tmp_path, n_output_timesteps=4, n_outputs=300, seed=5)
    model, state = load_brain_model(directory), read_state_dict(directory)
    x = random_features(model, batch=2, n_times=n_times, seed=4)
    out = model(x)
    assert out.shape == (2, 300, 4)
    torch.testing.assert_close(out.double(), reference(model, state, x), **TOL)


@torch.inference_mode()
def test_output_step_k_is_the_mean_of_bins_2k_and_2k_plus_1(tiny):
    model, _ = tiny
    unpooled = twin(model, n_output_timesteps=200)
    x = random_features(model, batch=1, n_times=200, seed=6)
    every_bin = unpooled(x)
    assert every_bin.shape == (1, 20484, 200)
    expected = (every_bin[..., 0::2] + every_bin[..., 1::2]) / 2
    torch.testing.assert_close(model(x), expected, **TOL)


@torch.inference_mode()
def test_layer_groups_are_flattened_layer_major(tiny):
    model, _ = tiny
    n_layers, dim = model.feature_dims["text"]
    x = random_features(model, batch=1, n_times=50, seed=7)
    swapped_input = {**x, "text": x["text"].flip(1)}
    # The order of layer groups matters...
    assert (model(swapped_input) - model(x)).abs().max() > 1e-2
    # ...and column l * D + d of the projector reads layer l, dim d: swapping the two column
    # blocks of the weight undoes swapping the layer groups of the input.
    state = dict(model.state_dict())
    weight = state["projectors.text.weight"]
    state["projectors.text.weight"] = torch.cat([weight[:, dim:], weight[:, :dim]], dim=1)
    torch.testing.assert_close(twin(model, state=state)(swapped_input), model(x), **TOL)


@torch.inference_mode()
def test_rotary_turns_only_the_first_rotary_dims_of_wide_heads(tmp_path):
    # 96 dims per head -> rotary on the first 48 (max(96 // 2, 32)), the release's case (72/144).
    directory = write_tiny_checkpoint(tmp_path, hidden=192, heads=2, n_outputs=500, seed=8)
    model, state = load_brain_model(directory), read_state_dict(directory)
    assert state["encoder.rotary_pos_emb.inv_freq"].shape == (24,)
    x = random_features(model, batch=1, n_times=120, seed=9)
    out = model(x).double()
    torch.testing.assert_close(out, reference(model, state, x), **TOL)

    # The comparison is sensitive to the rotary width: rotating all 96 dims gives other numbers.
    full = dict(state)
    full["encoder.rotary_pos_emb.inv_freq"] = 1.0 / 10000 ** (torch.arange(0, 96, 2).float() / 96)
    assert (out - reference(model, full, x)).abs().max() > 1e-3


@torch.inference_mode()
def test_windows_in_a_batch_do_not_interact(tiny):
    model, _ = tiny
    x = random_features(model, batch=3, n_times=200, seed=10)
    together = model(x)
    alone = model({name: v[1:2] for name, v in x.items()})
    torch.testing.assert_close(together[1:2], alone, **TOL)


@torch.inference_mode()
def test_any_float_dtype_is_accepted_and_computed_in_the_model_dtype(tiny):
    model, _ = tiny
    x = random_features(model, batch=1, n_times=40, seed=11)
    out = model(x)
    out64 = model({name: v.double() for name, v in x.items()})
    assert out64.dtype == torch.float32
    torch.testing.assert_close(out64, out, rtol=0, atol=0)
    half = {name: v.half() for name, v in x.items()}
    torch.testing.assert_close(
        model(half), model({name: v.float() for name, v in half.items()}), rtol=0, atol=0
    )


def _bad_inputs(model):
    good = random_features(model, batch=2, n_times=20, seed=12)
    text_l, text_d = model.feature_dims["text"]
    return {
        "not a dict": ([good["text"]], "must be a dict"),
        "empty": ({}, "at least one of"),
        "unknown modality": ({"txt": good["text"]}, "did you mean 'text'"),
        "wrong layer count": (
            {"text": torch.randn(2, text_l + 1, text_d, 20)},
            f"expected (batch, {text_l}, {text_d}, time)",
        ),
        "wrong feature dim": (
            {"text": torch.randn(2, text_l, text_d + 1, 20)},
            f"expected (batch, {text_l}, {text_d}, time)",
        ),
        "missing layer axis": ({"text": torch.randn(2, text_d, 20)}, "has shape (2,"),
        "batch mismatch": ({**good, "audio": good["audio"][:1]}, "same batch size"),
        "time mismatch": ({**good, "audio": good["audio"][..., :10]}, "same batch size and time"),
        "longer than max_seq_len": (
            {"text": torch.randn(1, text_l, text_d, 257)},
            "exceeds the model's max_seq_len 256",
        ),
        "integer tensor": ({"text": torch.ones(2, text_l, text_d, 20, dtype=torch.int64)}, "float"),
        "numpy array": ({"text": good["text"].numpy()}, "torch.Tensor"),
        "no time bins": ({"text": torch.randn(2, text_l, text_d, 0)}, "at least one window"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "not a dict",
        "empty",
        "unknown modality",
        "wrong layer count",
        "wrong feature dim",
        "missing layer axis",
        "batch mismatch",
        "time mismatch",
        "longer than max_seq_len",
        "integer tensor",
        "numpy array",
        "no time bins",
    ],
)
def test_bad_inputs_are_refused_with_a_clear_message(tiny, case):
    model, _ = tiny
    features, message = _bad_inputs(model)[case]
    with pytest.raises(InvalidParameterError) as info:
        model(features)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(hidden=100, heads=2), "divisible by the number of modalities"),
        (dict(hidden=96, heads=5), "divisible by the number of heads"),
        (dict(hidden=96, heads=4), "at least 32"),
        (dict(layer_aggregation="stack"), "layer_aggregation"),
        (dict(low_rank_head=0), "low_rank_head"),
    ],
)
def test_build_refuses_sizes_that_make_no_tribe_model(kwargs, message):
    with pytest.raises(InvalidParameterError) as info:
        config = BrainModelConfig(**{"hidden": 96, "heads": 2, "depth": 1, **kwargs})
        build_brain_model(config, {"text": (2, 4), "audio": (2, 4), "video": (2, 4)}, 10, 5)
    assert message in str(info.value)


def test_build_refuses_bad_feature_dims_and_counts():
    config = BrainModelConfig(hidden=96, heads=2, depth=1, low_rank_head=8)
    with pytest.raises(InvalidParameterError, match="feature_dims"):
        build_brain_model(config, {}, 10, 5)
    with pytest.raises(InvalidParameterError, match=r"feature_dims\['text'\]"):
        build_brain_model(config, {"text": (2, 0), "audio": (2, 4), "video": (2, 4)}, 10, 5)
    with pytest.raises(InvalidParameterError, match="n_outputs"):
        build_brain_model(config, {"text": (2, 4), "audio": (2, 4), "video": (2, 4)}, 0, 5)


def release_table() -> dict[str, tuple[int, ...]]:
    """The state-dict table of docs/inference.md, section 1, written out."""
    table = {
        "time_pos_embed": (1, 1024, 1152),
        "projectors.text.weight": (384, 6144),
        "projectors.audio.weight": (384, 2048),
        "projectors.video.weight": (384, 2816),
        "projectors.text.bias": (384,),
        "projectors.audio.bias": (384,),
        "projectors.video.bias": (384,),
        "encoder.rotary_pos_emb.inv_freq": (36,),
        "encoder.final_norm.g": (1,),
        "low_rank_head.weight": (2048, 1152),
        "predictor.weights": (1, 2048, 20484),
        "predictor.bias": (1, 20484),
    }
    for i in range(16):
        table[f"encoder.layers.{i}.0.0.g"] = (1,)
        table[f"encoder.layers.{i}.2.residual_scale"] = (1152,)
        if i % 2 == 0:
            for proj in ("to_q", "to_k", "to_v", "to_out"):
                table[f"encoder.layers.{i}.1.{proj}.weight"] = (1152, 1152)
        else:
            table[f"encoder.layers.{i}.1.ff.0.0.weight"] = (4608, 1152)
            table[f"encoder.layers.{i}.1.ff.0.0.bias"] = (4608,)
            table[f"encoder.layers.{i}.1.ff.2.weight"] = (1152, 4608)
            table[f"encoder.layers.{i}.1.ff.2.bias"] = (1152,)
    return table


RELEASE_FEATURE_DIMS = {"text": (2, 3072), "audio": (2, 1024), "video": (2, 1408)}


def test_the_tiny_checkpoint_helper_writes_the_official_table_at_release_sizes():
    shapes = official_shapes(
        hidden=1152,
        heads=8,
        depth=8,
        ff_mult=4,
        low_rank=2048,
        feature_dims=RELEASE_FEATURE_DIMS,
        n_outputs=20484,
        max_seq_len=1024,
    )
    assert shapes == release_table()


@pytest.mark.slow
@torch.inference_mode()
def test_release_sized_model_has_the_official_parameters_and_runs_a_window():
    torch.manual_seed(0)
    model = build_brain_model(BrainModelConfig(), RELEASE_FEATURE_DIMS, 20484, 100)
    state = model.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == release_table()
    assert len(state) == 108
    assert sum(v.numel() for v in state.values()) == 177_205_433
    assert list(model.feature_dims) == ["text", "audio", "video"]

    x = {name: torch.randn(1, *dims, 200) for name, dims in RELEASE_FEATURE_DIMS.items()}
    out = model(x)
    assert out.shape == (1, 20484, 100)
    assert torch.isfinite(out).all()
