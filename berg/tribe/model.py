"""The TRIBE v2 brain model in plain PyTorch.

TRIBE v2 (d'Ascoli et al., 2026) maps features of a stimulus, sampled at 2 Hz, to fMRI on the
fsaverage5 cortex (20484 vertices) at 1 Hz. Per window of T bins (200 = 100 s):

    features[m]: (B, L, D_m, T)  --projector per modality, concatenated-->  (B, T, hidden)
      + time_pos_embed[:, :T]
      -> encoder: 2 * depth pre-norm blocks (attention with rotary positions, feed-forward)
      -> final ScaleNorm -> low-rank head -> read-out of the "average subject"
      -> average pooling to n_output_timesteps                       -> (B, n_outputs, T')

Module attribute names mirror the keys of the official state dict (the reference builds the
encoder with x_transformers 1.27.20 and the read-out with neuraltrain's SubjectLayers), so an
official checkpoint loads with ``load_state_dict(strict=True)``
(:mod:`berg.tribe.checkpoint`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from berg.errors import (
    InvalidParameterError,
    did_you_mean,
    format_choices,
)
from berg.tribe.config import BrainModelConfig
from berg.validation import check_int, is_int

__all__ = ["TribeBrainModel", "build_brain_model"]


# ----------------------------------------------------------------------------------------------
# Encoder parts (x_transformers 1.27.20, only the options the release uses)


class ScaleNorm(nn.Module):
    """h = x / max(||x||, 1e-12) * sqrt(dim) * g, one learned scalar g (Nguyen & Salazar 2019)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = dim**0.5
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(x, dim=-1) * self.scale * self.g


class RotaryEmbedding(nn.Module):
    """Rotation angles t * inv_freq_j for positions t = 0..T-1 (Su et al., RoFormer).

    ``inv_freq`` (rotary_dim / 2 values of 10000^(-2j / rotary_dim)) is a persistent buffer in
    the checkpoint; the forward uses the loaded values.
    """

    def __init__(self, dim: int, base: float = 10000.0) -> None:
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq)

    def forward(self, n_positions: int) -> Tensor:
        """Angles (n_positions, rotary_dim): the same angle for dims j and j + rotary_dim / 2."""
        # In float32 whatever the model dtype: positions up to 1024 times small frequencies.
        inv_freq = self.inv_freq.float()
        positions = torch.arange(n_positions, device=inv_freq.device, dtype=torch.float32)
        angles = torch.outer(positions, inv_freq)
        return torch.cat((angles, angles), dim=-1)


def rotate_half(x: Tensor) -> Tensor:
    """[x1, x2] -> [-x2, x1] on the two halves of the last dim (not interleaved pairs)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate the first R = cos.shape[-1] dims of each head; the others pass unchanged.

    x: (B, heads, T, dim_head); cos, sin: (T, R) with R <= dim_head (72 of 144 in the release).
    """
    rotary_dim = cos.shape[-1]
    x_rot, x_pass = x[..., :rotary_dim], x[..., rotary_dim:]
    x_rot = x_rot * cos + rotate_half(x_rot) * sin
    return torch.cat((x_rot, x_pass), dim=-1)


class Attention(nn.Module):
    """Bidirectional multi-head self-attention, no biases, rotary positions on q and k."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.dim_head = dim // heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim, bias=False)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        """x: (B, T, dim) -> (B, T, dim)."""
        B, T, _ = x.shape
        q, k, v = (
            proj(x).view(B, T, self.heads, self.dim_head).transpose(1, 2)
            for proj in (self.to_q, self.to_k, self.to_v)
        )
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        # softmax(q k^T / sqrt(dim_head)) v with no mask: every bin of the window sees all others.
        out = F.scaled_dot_product_attention(q, k, v, scale=self.dim_head**-0.5)
        return self.to_out(out.transpose(1, 2).reshape(B, T, -1))


class FeedForward(nn.Module):
    """Linear -> GELU (exact erf) -> Linear, with biases."""

    def __init__(self, dim: int, inner_dim: int) -> None:
        super().__init__()
        # Index 1 is the reference's dropout slot: keeping it keeps the checkpoint key `ff.2`.
        self.ff = nn.Sequential(
            nn.Sequential(nn.Linear(dim, inner_dim), nn.GELU()),
            nn.Identity(),
            nn.Linear(inner_dim, dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.ff(x)


class Residual(nn.Module):
    """x <- branch + x * residual_scale: the learned per-channel scale is on the skip path."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.residual_scale = nn.Parameter(torch.ones(dim))

    def forward(self, branch: Tensor, skip: Tensor) -> Tensor:
        return branch + skip * self.residual_scale


class Encoder(nn.Module):
    """2 * depth pre-norm blocks (even: attention, odd: feed-forward), then a final ScaleNorm.

    Block i is ``layers[i] = [norms, block, residual]`` with ``norms = [pre-norm, None, None]``:
    the two empty slots are x_transformers' sandwich and post-norms, unused in TRIBE v2.
    """

    def __init__(self, dim: int, depth: int, heads: int, ff_inner: int, rotary_dim: int) -> None:
        super().__init__()
        self.rotary_pos_emb = RotaryEmbedding(rotary_dim)
        self.layers = nn.ModuleList()
        for _ in range(depth):
            for block in (Attention(dim, heads), FeedForward(dim, ff_inner)):
                norms = nn.ModuleList([ScaleNorm(dim), None, None])
                self.layers.append(nn.ModuleList([norms, block, Residual(dim)]))
        self.final_norm = ScaleNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, T, dim) -> (B, T, dim)."""
        angles = self.rotary_pos_emb(x.shape[1])
        cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
        for (pre_norm, _, _), block, residual in self.layers:
            h = pre_norm(x)
            out = block(h, cos, sin) if isinstance(block, Attention) else block(h)
            x = residual(out, x)
        return self.final_norm(x)


class SubjectPredictor(nn.Module):
    """The per-subject linear read-out (neuraltrain SubjectLayers), used for its last row.

    ``weights`` is (n_rows, in, out), stored (in, out) unlike nn.Linear; ``bias`` (n_rows, out).
    The last row is the shared "unseen / average subject" that TRIBE v2 predicts for; in the
    release it is the only one.
    """

    def __init__(self, in_dim: int, out_dim: int, n_rows: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.randn(n_rows, in_dim, out_dim) / in_dim**0.5)
        self.bias = nn.Parameter(torch.randn(n_rows, out_dim) / in_dim**0.5)

    def forward(self, x: Tensor, columns: Tensor | None = None) -> Tensor:
        """x: (B, T, in) -> (B, T, out), or (B, T, len(columns)) for those outputs only."""
        if columns is None:
            return x @ self.weights[-1] + self.bias[-1]
        return x @ self.weights[-1][:, columns] + self.bias[-1][columns]


class TribeBrainModel(nn.Module):
    """TRIBE v2's brain model: per-modality features in, cortical responses out.

    Parameters
    ----------
    config : BrainModelConfig
        Sizes of the transformer and heads.
    feature_dims : Mapping[str, tuple[int, int]]
        Modality name -> (n_layer_groups L, feature dim D). Its order is the concatenation order
        (text, audio, video in the release).
    n_outputs : int
        Output channels (20484 fsaverage5 vertices in the release).
    n_output_timesteps : int
        Output steps per window (100 for 200 input bins).
    n_predictor_rows : int
        Rows of the read-out (subjects); the last one is used.

    Attributes
    ----------
    config, feature_dims, n_outputs, n_output_timesteps
        As given (``feature_dims`` as a dict of int tuples).
    """

    def __init__(
        self,
        config: BrainModelConfig,
        feature_dims: Mapping[str, tuple[int, int]],
        n_outputs: int,
        n_output_timesteps: int,
        n_predictor_rows: int = 1,
    ) -> None:
        super().__init__()
        if not isinstance(config, BrainModelConfig):
            raise InvalidParameterError(
                f"config must be a BrainModelConfig, got {type(config).__name__}"
            )
        self.feature_dims = _check_feature_dims(feature_dims)
        for name, value in [
            ("n_outputs", n_outputs),
            ("n_output_timesteps", n_output_timesteps),
            ("n_predictor_rows", n_predictor_rows),
        ]:
            check_int(name, value)
        n_modalities = len(self.feature_dims)
        if config.hidden % n_modalities:
            # Without a combiner the modalities' projections are laid side by side.
            raise InvalidParameterError(
                f"hidden ({config.hidden}) must be divisible by the number of modalities "
                f"({n_modalities}: {format_choices(self.feature_dims)})"
            )
        self.config = config
        self.n_outputs = n_outputs
        self.n_output_timesteps = n_output_timesteps

        width = config.hidden // n_modalities
        self.projectors = nn.ModuleDict(
            {
                name: nn.Linear(n_layers * dim if config.layer_aggregation == "cat" else dim, width)
                for name, (n_layers, dim) in self.feature_dims.items()
            }
        )
        self.time_pos_embed = nn.Parameter(torch.randn(1, config.max_seq_len, config.hidden))
        self.encoder = Encoder(
            config.hidden, config.depth, config.heads, config.ff_inner, config.rotary_dim
        )
        if config.low_rank_head is not None:
            self.low_rank_head = nn.Linear(config.hidden, config.low_rank_head, bias=False)
        else:
            self.low_rank_head = None
        bottleneck = config.low_rank_head or config.hidden
        self.predictor = SubjectPredictor(bottleneck, n_outputs, n_predictor_rows)

    @property
    def device(self) -> torch.device:
        return self.time_pos_embed.device

    @property
    def dtype(self) -> torch.dtype:
        return self.time_pos_embed.dtype

    def forward(
        self,
        features: Mapping[str, Tensor],
        columns: Tensor | None = None,
        drop: Collection[str] = (),
    ) -> Tensor:
        """Predict responses for a batch of windows.

        Parameters
        ----------
        features : Mapping[str, Tensor]
            Modality name -> float tensor (B, L, D, T), any non-empty subset of
            ``feature_dims``; all share B and T (T <= ``config.max_seq_len``). A modality
            left out contributes zeros after its projector (the reference's rule for a modality
            absent from the whole stimulus); to mean "present but silent in this window", pass
            zeros, which give the projector's bias. Inputs are moved to the model's device and
            dtype.
        columns : Tensor, optional
            (n_selected,) int64 output indices on the model's device: only those outputs
            are computed (the read-out is a matrix product per output, so a selection of
            1,000 vertices costs 1/20 of the whole cortex in the largest matmul).
        drop : collection of str
            Modalities to treat as absent although given: their projector output is zeros,
            as for a modality left out (what removing a modality means for contributions;
            the tensors still give the batch and time sizes when every modality is dropped).

        Returns
        -------
        Tensor
            (B, n_outputs or n_selected, n_output_timesteps), in the model's dtype: a
            transposed view of a contiguous (B, n_output_timesteps, n) tensor, so
            ``.transpose(1, 2)`` to rows of time is free.
        """
        batch, n_times = self._check_features(features)
        width = self.config.hidden // len(self.feature_dims)

        # 1-2. Project each modality to hidden / n_modalities channels and lay them side by side.
        parts = []
        for name, (n_layers, dim) in self.feature_dims.items():
            if name not in features or name in drop:
                parts.append(self.time_pos_embed.new_zeros(batch, n_times, width))
                continue
            x = features[name].to(device=self.device, dtype=self.dtype)
            if self.config.layer_aggregation == "cat":
                x = x.reshape(batch, n_layers * dim, n_times)  # layer-major: column = l * D + d
            else:
                x = x.mean(dim=1)
            parts.append(self.projectors[name](x.transpose(1, 2)))
        x = torch.cat(parts, dim=-1)  # (B, T, hidden)

        # 3-4. Absolute time embedding, then the transformer (rotary positions inside).
        x = x + self.time_pos_embed[:, :n_times]
        x = self.encoder(x)

        # 5-7. The reference applies the low-rank head and read-out to every bin, then averages
        # bins (AdaptiveAvgPool1d). Both heads are affine and each pooled step is a weighted mean
        # with weights summing to 1, so pooling first gives the same numbers (to float rounding)
        # and halves the largest matmul (2048 -> 20484) when 200 bins pool to 100.
        x = F.adaptive_avg_pool1d(x.transpose(1, 2), self.n_output_timesteps).transpose(1, 2)
        if self.low_rank_head is not None:
            x = self.low_rank_head(x)
        return self.predictor(x, columns).transpose(1, 2)

    def _check_features(self, features: Mapping[str, Tensor]) -> tuple[int, int]:
        expected = format_choices(self.feature_dims)
        if not isinstance(features, Mapping):
            raise InvalidParameterError(
                f"features must be a dict mapping modality ({expected}) to a tensor of shape "
                f"(batch, n_layers, dim, time); got {type(features).__name__}"
            )
        if not features:
            raise InvalidParameterError(f"features is empty; give at least one of {expected}")
        sizes = {}
        for name, x in features.items():
            if name not in self.feature_dims:
                raise InvalidParameterError(
                    f"unknown modality {name!r}{did_you_mean(name, self.feature_dims)}; "
                    f"this model takes {expected}"
                )
            n_layers, dim = self.feature_dims[name]
            if not isinstance(x, Tensor):
                raise InvalidParameterError(
                    f"features[{name!r}] must be a torch.Tensor, got {type(x).__name__}"
                )
            if not x.is_floating_point():
                raise InvalidParameterError(
                    f"features[{name!r}] must be a floating-point tensor, got {x.dtype}"
                )
            if x.ndim != 4 or tuple(x.shape[1:3]) != (n_layers, dim):
                raise InvalidParameterError(
                    f"features[{name!r}] has shape {tuple(x.shape)}; expected "
                    f"(batch, {n_layers}, {dim}, time)"
                )
            sizes[name] = (x.shape[0], x.shape[3])
        if len(set(sizes.values())) > 1:
            listed = ", ".join(f"{n}: batch {b}, time {t}" for n, (b, t) in sizes.items())
            raise InvalidParameterError(
                f"all modalities must have the same batch size and time length; got {listed}"
            )
        batch, n_times = next(iter(sizes.values()))
        if batch < 1 or n_times < 1:
            raise InvalidParameterError(
                f"features must hold at least one window and one time bin; got batch {batch}, "
                f"time {n_times}"
            )
        if n_times > self.config.max_seq_len:
            raise InvalidParameterError(
                f"time length {n_times} exceeds the model's max_seq_len "
                f"{self.config.max_seq_len} bins; split the input into shorter windows"
            )
        return batch, n_times


def _check_feature_dims(feature_dims: Mapping) -> dict[str, tuple[int, int]]:
    if not isinstance(feature_dims, Mapping) or not feature_dims:
        raise InvalidParameterError(
            "feature_dims must be a non-empty mapping of modality -> (n_layers, dim), e.g. "
            f"{{'text': (2, 3072), 'audio': (2, 1024), 'video': (2, 1408)}}; got {feature_dims!r}"
        )
    checked = {}
    for name, dims in feature_dims.items():
        ok = isinstance(name, str) and isinstance(dims, (tuple, list)) and len(dims) == 2
        ok = ok and all(is_int(d, minimum=1) for d in dims)
        if not ok:
            raise InvalidParameterError(
                f"feature_dims[{name!r}] must be a pair of positive ints (n_layers, dim), "
                f"got {dims!r}"
            )
        checked[name] = (int(dims[0]), int(dims[1]))
    return checked


def build_brain_model(
    config: BrainModelConfig,
    feature_dims: Mapping[str, tuple[int, int]],
    n_outputs: int,
    n_output_timesteps: int,
    n_predictor_rows: int = 1,
) -> TribeBrainModel:
    """Build a randomly initialised brain model in eval mode (tests, benchmarks, loading).

    See :class:`TribeBrainModel` for the parameters. Raises InvalidParameterError for
    sizes that do not make a TRIBE v2 model.
    """
    model = TribeBrainModel(config, feature_dims, n_outputs, n_output_timesteps, n_predictor_rows)
    return model.eval()
