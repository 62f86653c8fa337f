"""Which hidden states become TRIBE v2's layer groups (docs/inference.md, section 4), checked
by hand.

Rule: optional sub-selection h[round(x)] for x in linspace(0, n - 1, K); then indices
unique(int(f * (n - 1))) of the (sub-selected) list; group_mean averages [i_g, i_{g+1}) with the
last index inclusive.
"""

import numpy as np
import pytest
import torch

from berg import InvalidParameterError, ModelLoadError
from berg.features.layers import (
    DEFAULT_FRACTIONS,
    LayerSelection,
    group_indices,
    layer_selection_from_config,
    select_hidden_states,
)

# Llama-3.2-3B with cache_n_layers 20: round(28 i / 19) for i = 0..19, by hand.
LLAMA_KEPT_20 = [0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16, 18, 19, 21, 22, 24, 25, 27, 28]


def span(a, b):
    return list(range(a, b + 1))


@pytest.mark.parametrize(
    "model, n, first, second",
    [
        ("Llama-3.2-3B", 29, span(14, 20), span(21, 28)),  # int(14.0) = 14, int(21.0) = 21, 28
        ("w2v-bert-2.0", 25, span(12, 17), span(18, 24)),  # 12, 18, 24
        ("V-JEPA2 ViT-g", 41, span(20, 29), span(30, 40)),  # 20, 30, 40
    ],
)
def test_release_groups(model, n, first, second):
    assert group_indices(n, LayerSelection()) == [first, second]
    assert LayerSelection().n_groups(n) == 2


def test_cache_n_layers_20_on_llama():
    # n becomes 20: positions int(9.5) = 9, int(14.25) = 14, 19 -> list positions 9-13, 14-19
    groups = group_indices(29, LayerSelection(cache_n_layers=20))
    assert groups == [LLAMA_KEPT_20[9:14], LLAMA_KEPT_20[14:20]]
    assert groups == [[13, 15, 16, 18, 19], [21, 22, 24, 25, 27, 28]]
    # fractions [0, 1] put every kept state into one group: the kept list itself
    assert group_indices(29, LayerSelection((0.0, 1.0), cache_n_layers=20)) == [LLAMA_KEPT_20]


@pytest.mark.parametrize("k", [29, 30, 100])
def test_cache_n_layers_not_below_n_keeps_everything(k):
    assert group_indices(29, LayerSelection(cache_n_layers=k)) == group_indices(
        29, LayerSelection()
    )


def test_n_layers_to_use():
    selection = layer_selection_from_config({"data": {"n_layers_to_use": 3}}, "text")
    assert selection.fractions == (0.0, 0.5, 1.0)
    assert group_indices(29, selection) == [span(0, 13), span(14, 28)]
    five = layer_selection_from_config({"data": {"n_layers_to_use": 5}}, "audio")
    # n = 25: int(0), int(6.0), int(12.0), int(18.0), 24
    assert group_indices(25, five) == [span(0, 5), span(6, 11), span(12, 17), span(18, 24)]


def test_mean_and_no_aggregation():
    assert group_indices(29, LayerSelection(aggregation="mean")) == [[14, 21, 28]]
    assert group_indices(29, LayerSelection(aggregation=None)) == [[14], [21], [28]]
    # duplicates collapse: int(0.5 * 2) = int(0.75 * 2) = 1
    assert group_indices(3, LayerSelection(aggregation=None)) == [[1], [2]]
    mean_of_kept = LayerSelection(aggregation="mean", cache_n_layers=20)
    assert group_indices(29, mean_of_kept) == [[13, 21, 28]]


# -- from config.yaml ---------------------------------------------------------------------------

REFERENCE_DEFAULTS = {
    "data": {
        "layers_to_use": [0.5, 0.75, 1.0],
        "layer_aggregation": "group_mean",
        "text_feature": {
            "model_name": "meta-llama/Llama-3.2-3B",
            "cache_n_layers": 20,
            "layers": [0.0, 1.0],
        },
        "audio_feature": {"model_name": "facebook/w2v-bert-2.0", "cache_n_layers": 20},
        "video_feature": {
            "image": {"model_name": "facebook/vjepa2-vitg-fpc64-256", "cache_n_layers": 20}
        },
    }
}


def test_config_with_cache_n_layers():
    text = layer_selection_from_config(REFERENCE_DEFAULTS, "text")
    audio = layer_selection_from_config(REFERENCE_DEFAULTS, "audio")
    video = layer_selection_from_config(REFERENCE_DEFAULTS, "video")
    assert text == LayerSelection((0.5, 0.75, 1.0), "group_mean", 20)
    assert audio == LayerSelection((0.5, 0.75, 1.0), "group_mean", None)  # audio ignores it
    assert video == LayerSelection((0.5, 0.75, 1.0), "group_mean", 20)  # read from image
    assert group_indices(29, text) == [[13, 15, 16, 18, 19], [21, 22, 24, 25, 27, 28]]
    assert group_indices(25, audio) == [span(12, 17), span(18, 24)]
    # V-JEPA2, n = 41 -> 20 kept: round(40 i / 19); positions 9-13 and 14-19
    kept = [int(round(40 * i / 19)) for i in range(20)]
    assert kept[:4] == [0, 2, 4, 6] and kept[-1] == 40
    assert group_indices(41, video) == [kept[9:14], kept[14:20]]


def test_config_without_sub_selection():
    config = {
        "data": {
            "layers_to_use": [0.5, 0.75, 1.0],
            "layer_aggregation": "group_mean",
            "text_feature": {},
            "audio_feature": {},
            "video_feature": {"image": {}},
        }
    }
    for modality, n, groups in [
        ("text", 29, [span(14, 20), span(21, 28)]),
        ("audio", 25, [span(12, 17), span(18, 24)]),
        ("video", 41, [span(20, 29), span(30, 40)]),
    ]:
        selection = layer_selection_from_config(config, modality)
        assert selection.cache_n_layers is None
        assert group_indices(n, selection) == groups


def test_config_fallbacks():
    assert layer_selection_from_config({}, "text") == LayerSelection(DEFAULT_FRACTIONS)
    # both data-level keys null: the extractor's own layers
    config = {
        "data": {
            "layers_to_use": None,
            "n_layers_to_use": None,
            "text_feature": {"layers": [0.25, 1.0]},
            "video_feature": {"image": {"layers": [0.0, 0.5, 1.0]}},
        }
    }
    assert layer_selection_from_config(config, "text").fractions == (0.25, 1.0)
    assert layer_selection_from_config(config, "video").fractions == (0.0, 0.5, 1.0)
    assert layer_selection_from_config(config, "audio").fractions == DEFAULT_FRACTIONS
    # a data-level list wins over the extractor's own
    config["data"]["layers_to_use"] = [0.5, 1.0]
    assert layer_selection_from_config(config, "text").fractions == (0.5, 1.0)
    aggregated = layer_selection_from_config({"data": {"layer_aggregation": None}}, "audio")
    assert aggregated.aggregation is None


@pytest.mark.parametrize(
    "data",
    [
        {"layers_to_use": [0.5, 1.5]},
        {"layers_to_use": ["half"]},
        {"layer_aggregation": "max"},
        {"text_feature": {"cache_n_layers": 0}},
        {"text_feature": {"cache_n_layers": 2.5}},
    ],
)
def test_invalid_config_is_a_load_error(data):
    with pytest.raises(ModelLoadError, match="text layer settings"):
        layer_selection_from_config({"data": data}, "text")


# -- invalid selections -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fractions": ()},
        {"fractions": (0.5, -0.1)},
        {"fractions": (0.5, 1.01)},
        {"fractions": (True, 1.0)},
        {"aggregation": "median"},
        {"cache_n_layers": 0},
        {"cache_n_layers": True},
        {"cache_n_layers": 3.0},
    ],
)
def test_invalid_selections_raise(kwargs):
    with pytest.raises(InvalidParameterError):
        LayerSelection(**kwargs)


def test_group_mean_needs_two_positions():
    with pytest.raises(InvalidParameterError, match="two distinct"):
        group_indices(29, LayerSelection((1.0,)))
    with pytest.raises(InvalidParameterError, match="two distinct"):
        group_indices(2, LayerSelection((0.5, 0.75)))  # int(0.5) = int(0.75) = 0
    with pytest.raises(InvalidParameterError, match="at least one hidden state"):
        group_indices(0, LayerSelection())


# -- averaging ----------------------------------------------------------------------------------


def test_select_hidden_states_averages_by_hand():
    generator = torch.Generator().manual_seed(0)
    states = [torch.randn(3, 4, generator=generator) for _ in range(29)]
    out = select_hidden_states(states, LayerSelection())
    assert out.shape == (2, 3, 4) and out.dtype == torch.float32
    first = sum(states[i] for i in range(14, 21)) / 7
    second = sum(states[i] for i in range(21, 29)) / 8
    torch.testing.assert_close(out[0], first)
    torch.testing.assert_close(out[1], second)

    sub = select_hidden_states(torch.stack(states), LayerSelection(cache_n_layers=20))
    torch.testing.assert_close(sub[0], sum(states[i] for i in (13, 15, 16, 18, 19)) / 5)
    torch.testing.assert_close(sub[1], sum(states[i] for i in (21, 22, 24, 25, 27, 28)) / 6)

    mean = select_hidden_states(states, LayerSelection(aggregation="mean"))
    torch.testing.assert_close(mean, ((states[14] + states[21] + states[28]) / 3)[None])
    kept = select_hidden_states(states, LayerSelection(aggregation=None))
    torch.testing.assert_close(kept, torch.stack([states[14], states[21], states[28]]))


def test_select_hidden_states_returns_float32_from_bf16():
    states = torch.arange(25, dtype=torch.bfloat16)[:, None].repeat(1, 2)  # h_i = i
    out = select_hidden_states(states, LayerSelection())
    assert out.dtype == torch.float32
    assert out[:, 0].tolist() == [np.mean(range(12, 18)), np.mean(range(18, 25))]
