"""Wav2Vec-BERT's relative-key attention computed from the table's distinct rows.

The expected values are the definition itself, written out with a (T, T, d) lookup as
transformers does, and the untouched transformers modules; the models have 64-wide heads
(w2v-bert-2.0's) and clipping spans shorter than the sequences, so both clipped edges and
the band between them are exercised.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from media_factory import make_audio

from berg.features import relative_attention
from berg.features.audio import AudioFeatureExtractor
from berg.features.relative_attention import (
    RelativeKeySelfAttention,
    relative_key_bias,
    speed_up_relative_attention,
)
from berg.stimulus.timeline import Chunk

LEFT, RIGHT = 12, 5


def _config(**overrides):
    from transformers import Wav2Vec2BertConfig

    settings = dict(
        hidden_size=128,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=256,
        feature_projection_input_dim=160,
        conv_depthwise_kernel_size=5,
        left_max_position_embeddings=LEFT,
        right_max_position_embeddings=RIGHT,
    )
    settings.update(overrides)
    return Wav2Vec2BertConfig(**settings)


def _model(seed=0):
    from transformers import Wav2Vec2BertModel

    torch.manual_seed(seed)
    model = Wav2Vec2BertModel(_config()).eval()
    with torch.no_grad():  # a distance table far from zero, so that a wrong row shows
        for layer in model.encoder.layers:
            layer.self_attn.distance_embedding.weight.normal_(0, 1)
    return model


def test_bias_is_the_clipped_lookup():
    rng = torch.Generator().manual_seed(0)
    batch, heads, n, d = 2, 3, 40, 64
    query = torch.randn(batch, heads, n, d, generator=rng, dtype=torch.float64)
    table = torch.randn(LEFT + RIGHT + 1, d, generator=rng, dtype=torch.float64)
    scale = d**-0.5
    got = relative_key_bias(query, table, LEFT, RIGHT, scale)
    # The definition, pair by pair: distance r - l clipped to [-LEFT, RIGHT].
    expected = torch.empty(batch, heads, n, n, dtype=torch.float64)
    for left_pos in range(n):
        for right_pos in range(n):
            row = min(max(right_pos - left_pos, -LEFT), RIGHT) + LEFT
            expected[:, :, left_pos, right_pos] = query[:, :, left_pos] @ table[row] * scale
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_swapped_attention_gives_the_original_output():
    model = _model()
    original = model.encoder.layers[0].self_attn
    fast = RelativeKeySelfAttention(original)
    x = torch.randn(2, 90, 128, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected, _ = original(x)
        got, weights = fast(x)
    assert weights is None
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_a_masked_call_is_left_to_the_original():
    model = _model()
    original = model.encoder.layers[0].self_attn
    fast = RelativeKeySelfAttention(original)
    x = torch.randn(1, 30, 128, generator=torch.Generator().manual_seed(2))
    mask = torch.zeros(1, 1, 30, 30)
    mask[..., 20:] = torch.finfo(torch.float32).min  # the last 10 frames are padding
    with torch.inference_mode():
        expected, _ = original(x, attention_mask=mask)
        got, _ = fast(x, attention_mask=mask)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_whole_model_hidden_states_are_unchanged():
    reference, swapped = _model(), _model()
    assert speed_up_relative_attention(swapped) == 3
    assert all(
        isinstance(layer.self_attn, RelativeKeySelfAttention) for layer in swapped.encoder.layers
    )
    assert speed_up_relative_attention(swapped) == 0  # nothing left to swap
    features = torch.randn(1, 120, 160, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        expected = reference(features, output_hidden_states=True).hidden_states
        got = swapped(features, output_hidden_states=True).hidden_states
    assert len(got) == len(expected) == 4
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_no_swap_when_the_check_at_load_disagrees(monkeypatch):
    model = _model()
    modules = [layer.self_attn for layer in model.encoder.layers]
    # A transformers whose attention computed something else would fail the check: here the
    # replacement is made wrong instead.
    monkeypatch.setattr(
        relative_attention,
        "relative_key_bias",
        lambda query, table, left, right, scale: torch.zeros(*query.shape[:-1], query.shape[-2]),
    )
    assert speed_up_relative_attention(model) == 0
    assert [layer.self_attn for layer in model.encoder.layers] == modules


def test_a_model_without_relative_key_positions_is_left_alone():
    from transformers import Wav2Vec2BertModel

    model = Wav2Vec2BertModel(_config(position_embeddings_type="rotary")).eval()
    assert speed_up_relative_attention(model) == 0


def test_audio_features_equal_with_and_without(tmp_path):
    from transformers import SeamlessM4TFeatureExtractor

    folder = tmp_path / "w2v"
    _model().save_pretrained(folder)
    SeamlessM4TFeatureExtractor(padding_value=1.0).save_pretrained(folder)
    rng = np.random.default_rng(4)
    samples = 0.3 * np.sin(np.arange(16000 * 3) * 0.05) + 0.05 * rng.standard_normal(48000)
    audio = make_audio(tmp_path / "a.wav", samples.astype(np.float32), rate=16000)
    chunks = [Chunk(0.0, 3.0)]
    fast = AudioFeatureExtractor(folder)
    plain = AudioFeatureExtractor(folder, fast_relative_attention=False)
    a = fast.extract(audio, chunks)[0].data
    b = plain.extract(audio, chunks)[0].data
    assert isinstance(fast.model.encoder.layers[0].self_attn, RelativeKeySelfAttention)
    assert not isinstance(plain.model.encoder.layers[0].self_attn, RelativeKeySelfAttention)
    assert a.shape == b.shape == (2, 128, 6)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    assert np.abs(a).max() > 0.1


def test_option_is_checked(tmp_path):
    from berg.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="fast_relative_attention"):
        AudioFeatureExtractor(tmp_path, fast_relative_attention="yes")
