"""Wav2Vec-BERT's relative-key attention without its ``(T, T, head)`` tensor.

w2v-bert-2.0 biases each attention score with Shaw's relative positions: score ``(l, r)``
gains ``q_l . E[clip(r - l, -left, right) + left] * scale``, with ``left = 64`` and ``right =
8`` positions of a learnt table ``E`` (73 rows of 64 numbers). transformers computes it by
looking ``E`` up for every ``(l, r)`` pair, a ``(T, T, 64)`` tensor (2.3 GB in float32 for one
60 s chunk, T = 3,000 frames at 50 Hz), and then contracting it with the queries: most of the
audio stage's time and memory.

Only 73 distinct rows of ``E`` exist, so the same bias is ``(q E^T)`` -- ``(T, 73)`` scores per
head -- gathered at column ``clip(r - l) + left``: the same products, summed in another order
(float rounding), 73 / T of the multiplications, and no ``(T, T, 64)`` tensor. The bias
itself, ``(heads, T, T)``, is what SDPA takes as its additive mask, as in transformers.

:func:`speed_up_relative_attention` swaps each attention module of a loaded model for
:class:`RelativeKeySelfAttention`, which holds the original (same parameters) and falls back
to it for anything but the plain unmasked case berg runs. Before it keeps the swap, it checks
on this machine, with this transformers version, that the first layer gives the same output
both ways; if not (a future transformers that computes something else), the model is left as
it was.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["RelativeKeySelfAttention", "speed_up_relative_attention", "relative_key_bias"]

# Largest relative difference accepted between the swapped and the original attention in the
# check at load: float32 rounding of 64-term dot products summed in another order.
_CHECK_TOLERANCE = 1e-4


def relative_key_bias(
    query: torch.Tensor, table: torch.Tensor, left: int, right: int, scale: float
) -> torch.Tensor:
    """Shaw relative-key score bias, from the ``(P, d)`` table's distinct rows.

    Parameters
    ----------
    query : Tensor, ``(B, H, T, d)``
    table : Tensor, ``(left + right + 1, d)``
        Embedding of each clipped distance ``r - l`` in ``[-left, right]``.
    left, right : int
        Clipping of the distance to the left and to the right.
    scale : float
        Multiplies the scores (``d ** -0.5``).

    Returns
    -------
    Tensor, ``(B, H, T, T)``
        ``bias[b, h, l, r] = query[b, h, l] . table[clip(r - l, -left, right) + left] * scale``.
    """
    *lead, n, _ = query.shape
    scores = torch.matmul(query, table.to(query.dtype).t()) * scale  # (B, H, T, P)
    positions = torch.arange(n, device=query.device)
    columns = (positions[None, :] - positions[:, None]).clamp_(-left, right) + left  # (T, T)
    # gather with a broadcast (stride 0) index: twice as fast as advanced indexing on a CPU
    return scores.gather(-1, columns.expand(*lead, n, n))


class RelativeKeySelfAttention(nn.Module):
    """A ``Wav2Vec2BertSelfAttention`` with ``relative_key`` positions, computed by
    :func:`relative_key_bias`.

    Parameters
    ----------
    original : Wav2Vec2BertSelfAttention
        Kept as a child: its parameters are used, and it runs any call with an attention mask
        or that asks for attention weights.
    """

    def __init__(self, original: nn.Module) -> None:
        super().__init__()
        self.original = original

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        relative_position_embeddings: torch.Tensor | None = None,
        **kwargs,
    ):
        """``(B, T, hidden)`` -> ``((B, T, hidden), None)``, as the original returns."""
        attn = self.original
        if attention_mask is not None or kwargs.get("output_attentions") or attn.training:
            return attn(
                hidden_states,
                attention_mask=attention_mask,
                relative_position_embeddings=relative_position_embeddings,
                **kwargs,
            )
        batch, n = hidden_states.shape[:2]
        shape = (batch, n, attn.num_heads, attn.head_size)
        query = attn.linear_q(hidden_states).view(shape).transpose(1, 2)
        key = attn.linear_k(hidden_states).view(shape).transpose(1, 2)
        value = attn.linear_v(hidden_states).view(shape).transpose(1, 2)
        bias = relative_key_bias(
            query,
            attn.distance_embedding.weight,
            attn.left_max_position_embeddings,
            attn.right_max_position_embeddings,
            attn.scaling,
        )
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=bias, scale=attn.scaling)
        out = out.transpose(1, 2).reshape(batch, n, -1)
        return attn.linear_out(out), None


def _attention_modules(model: nn.Module) -> list[tuple[nn.Module, str, nn.Module]]:
    """``(parent, attribute, module)`` of every relative-key self-attention of the encoder."""
    found = []
    for layer in getattr(getattr(model, "encoder", None), "layers", ()):
        attn = getattr(layer, "self_attn", None)
        if (
            attn is not None
            and not isinstance(attn, RelativeKeySelfAttention)
            and getattr(attn, "position_embeddings_type", None) == "relative_key"
            and hasattr(attn, "distance_embedding")
        ):
            found.append((layer, "self_attn", attn))
    return found


@torch.inference_mode()
def _agrees(original: nn.Module, fast: RelativeKeySelfAttention) -> bool:
    """Whether both give the same output on a random input longer than the clipping span."""
    weight = original.linear_q.weight
    generator = torch.Generator(device="cpu").manual_seed(0)
    n = original.left_max_position_embeddings + original.right_max_position_embeddings + 16
    x = torch.randn(1, n, weight.shape[1], generator=generator).to(weight.device, weight.dtype)
    expected = original(x)[0].float()
    got = fast(x)[0].float()
    if expected.shape != got.shape or not torch.isfinite(got).all():
        return False
    error = (expected - got).abs().max() / expected.abs().max().clamp_min(1e-12)
    tolerance = _CHECK_TOLERANCE if weight.dtype == torch.float32 else 1e-2
    return bool(error <= tolerance)


def speed_up_relative_attention(model: nn.Module) -> int:
    """Swap the relative-key attention modules of a ``Wav2Vec2BertModel`` in place.

    Parameters
    ----------
    model : Wav2Vec2BertModel
        In eval mode, on its device.

    Returns
    -------
    int
        How many modules were swapped: 0 when the model has none, or when the first one
        does not give the original's output (then nothing is changed).
    """
    modules = _attention_modules(model)
    if not modules:
        return 0
    parent, name, original = modules[0]
    if not _agrees(original, RelativeKeySelfAttention(original)):
        return 0
    for parent, name, original in modules:
        setattr(parent, name, RelativeKeySelfAttention(original))
    return len(modules)
