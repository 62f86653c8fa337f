"""Write a tiny TRIBE v2 checkpoint directory in the official format, for tests.

``write_tiny_checkpoint(directory)`` writes ``config.yaml`` and ``best.ckpt`` as the release
lays them out (section 1 of docs/inference.md), only smaller. The state dict is built
here from the official key/shape table, never by instantiating berg's model, so loading it
checks that berg's parameter names and shapes are the official ones.

Usage from a test (pytest puts tests/ on sys.path)::

    from tiny_checkpoint import write_tiny_checkpoint
    ckpt_dir = write_tiny_checkpoint(tmp_path / "tribe")     # 20484 outputs, 100 steps
    model = load_brain_model(ckpt_dir)                        # takes (B, 2, D, 200) features

Defaults: hidden 96 with 2 heads (48 dims per head, of which the rotary embedding turns the
first 32), depth 2, low-rank 16, feature_dims text (2, 12), audio (2, 8), video (2, 10),
20484 outputs, 100 output steps, max_seq_len 256. The ``data`` section of config.yaml follows
the reference experiment: frequency 2, layers_to_use, layer_aggregation group_mean,
duration_trs 100, and the TR as ``data.neuro.frequency`` (1.0 Hz -> TR 1 s); extractor class
names there are illustrative.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

import torch
import yaml

DEFAULT_FEATURE_DIMS = {"text": (2, 12), "audio": (2, 8), "video": (2, 10)}
#: The release's: what Llama-3.2-3B, w2v-bert-2.0 and V-JEPA 2 ViT-g give under its layer
#: rule; a checkpoint that names them and is loaded without model folders must read these.
RELEASE_FEATURE_DIMS = {"text": (2, 3072), "audio": (2, 1024), "video": (2, 1408)}


def official_shapes(
    *,
    hidden: int,
    heads: int,
    depth: int,
    ff_mult: int,
    low_rank: int | None,
    feature_dims: Mapping[str, tuple[int, int]],
    n_outputs: int,
    max_seq_len: int,
    n_predictor_rows: int = 1,
    layer_aggregation: str = "cat",
) -> dict[str, tuple[int, ...]]:
    """The official state-dict keys (without 'model.') and shapes for these sizes."""
    dim_head = hidden // heads
    rotary_dim = max(dim_head // 2, 32)
    inner = int(hidden * ff_mult)
    width = hidden // len(feature_dims)
    shapes: dict[str, tuple[int, ...]] = {"time_pos_embed": (1, max_seq_len, hidden)}
    for name, (n_layers, dim) in feature_dims.items():
        in_dim = n_layers * dim if layer_aggregation == "cat" else dim
        shapes[f"projectors.{name}.weight"] = (width, in_dim)
        shapes[f"projectors.{name}.bias"] = (width,)
    for i in range(2 * depth):
        block = f"encoder.layers.{i}"
        shapes[f"{block}.0.0.g"] = (1,)
        if i % 2 == 0:
            for proj in ("to_q", "to_k", "to_v", "to_out"):
                shapes[f"{block}.1.{proj}.weight"] = (hidden, hidden)
        else:
            shapes[f"{block}.1.ff.0.0.weight"] = (inner, hidden)
            shapes[f"{block}.1.ff.0.0.bias"] = (inner,)
            shapes[f"{block}.1.ff.2.weight"] = (hidden, inner)
            shapes[f"{block}.1.ff.2.bias"] = (hidden,)
        shapes[f"{block}.2.residual_scale"] = (hidden,)
    shapes["encoder.rotary_pos_emb.inv_freq"] = (rotary_dim // 2,)
    shapes["encoder.final_norm.g"] = (1,)
    if low_rank is not None:
        shapes["low_rank_head.weight"] = (low_rank, hidden)
    bottleneck = low_rank if low_rank is not None else hidden
    shapes["predictor.weights"] = (n_predictor_rows, bottleneck, n_outputs)
    shapes["predictor.bias"] = (n_predictor_rows, n_outputs)
    return shapes


def random_state_dict(shapes: Mapping[str, tuple[int, ...]], seed: int = 0) -> dict:
    """Random float32 tensors for the table, with non-trivial norms, scales and biases."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("inv_freq"):
            rotary_dim = 2 * shape[0]
            value = 1.0 / (10000 ** (torch.arange(0, rotary_dim, 2).float() / rotary_dim))
        elif key.endswith((".g", "residual_scale")):
            # Far from 1, so a test notices a gain that is ignored or misplaced.
            value = 0.5 + torch.rand(shape, generator=gen)
        elif key.endswith("bias"):
            value = 0.5 * torch.randn(shape, generator=gen)
        elif key == "time_pos_embed":
            value = torch.randn(shape, generator=gen)
        else:
            fan_in = shape[-2] if key == "predictor.weights" else shape[-1]
            value = torch.randn(shape, generator=gen) / math.sqrt(fan_in)
        state[key] = value.float()
    return state


def tiny_config(
    *,
    hidden: int,
    heads: int,
    depth: int,
    ff_mult: int,
    low_rank: int | None,
    max_seq_len: int,
    layers_to_use: Sequence[float],
    cache_n_layers: int | None,
    layer_aggregation: str = "cat",
) -> dict:
    """A config dict shaped like the reference experiment dump (with python objects in it)."""

    def extractor(name: str, model_name: str, **extra) -> dict:
        section = {
            "name": name,
            "model_name": model_name,
            "layers": list(layers_to_use),
            "layer_aggregation": "group_mean",
            "frequency": 2.0,
            "device": "cuda",
            "infra": {"folder": PurePosixPath("/checkpoint/tribe/cache"), "cluster": None},
        }
        if cache_n_layers is not None:
            section["cache_n_layers"] = cache_n_layers
        section.update(extra)
        return section

    image = extractor("HuggingFaceImage", "facebook/vjepa2-vitg-fpc64-256")
    del image["infra"], image["frequency"]
    return {
        "data": {
            "study": {"names": "Algonauts2025", "path": "/datasets/studies"},
            "neuro": {"name": "FmriExtractor", "frequency": 1.0, "aggregation": "first"},
            "text_feature": extractor(
                "HuggingFaceText", "meta-llama/Llama-3.2-3B", contextualized=True, batch_size=4
            ),
            "image_feature": None,
            "audio_feature": extractor("Wav2VecBert", "facebook/w2v-bert-2.0"),
            "video_feature": {
                "name": "HuggingFaceVideo",
                "image": image,
                "clip_duration": 4.0,
                "frequency": 2.0,
                "infra": {"folder": PurePosixPath("/checkpoint/tribe/cache"), "cluster": None},
            },
            "frequency": 2.0,
            "features_to_use": ["text", "audio", "video"],
            "n_layers_to_use": None,
            "layers_to_use": list(layers_to_use),
            "layer_aggregation": "group_mean",
            "duration_trs": 100,
            "overlap_trs_train": 0,
            "batch_size": 8,
        },
        "seed": 33,
        "brain_model_config": {
            "name": "FmriEncoder",
            "projector": {
                "name": "Mlp",
                "input_size": None,
                "hidden_sizes": None,
                "norm_layer": "layer",
                "activation_layer": "gelu",
                "bias": True,
                "dropout": 0.0,
            },
            "combiner": None,
            "encoder": {
                "name": "TransformerEncoder",
                "heads": heads,
                "depth": depth,
                "cross_attend": False,
                "causal": False,
                "attn_flash": False,
                "attn_dropout": 0.0,
                "ff_mult": ff_mult,
                "ff_dropout": 0.0,
                "use_scalenorm": True,
                "use_rmsnorm": False,
                "rel_pos_bias": False,
                "alibi_pos_bias": False,
                "rotary_pos_emb": True,
                "rotary_xpos": False,
                "residual_attn": False,
                "scale_residual": True,
                "layer_dropout": 0.0,
            },
            "time_pos_embedding": True,
            "subject_embedding": False,
            # The trained subject count; the released head was resized to one row.
            "subject_layers": {
                "name": "SubjectLayers",
                "n_subjects": 25,
                "bias": True,
                "init_id": False,
                "mode": "gather",
                "subject_dropout": 0.1,
                "average_subjects": False,
            },
            "hidden": hidden,
            "max_seq_len": max_seq_len,
            "dropout": 0.0,
            "extractor_aggregation": "cat",
            "layer_aggregation": layer_aggregation,
            "linear_baseline": False,
            "modality_dropout": 0.3,
            "temporal_dropout": 0.0,
            "low_rank_head": low_rank,
            "temporal_smoothing": None,
        },
        "accelerator": "gpu",
        "average_subjects": False,
        "checkpoint_path": None,
        "infra": {
            "folder": PurePosixPath("/checkpoint/tribe/xp/tribev2-release"),
            "cluster": None,
            "gpus_per_node": 1,
            "workdir": {"copied": ("tribev2", "neuralset", "neuraltrain")},
        },
    }


def _merge(base: dict, extra: Mapping) -> dict:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


class _ReferenceStyleDumper(yaml.Dumper):
    """Writes paths as `!!python/object/apply:pathlib.PosixPath [parts]`, as the release does."""


_ReferenceStyleDumper.add_representer(
    PurePosixPath,
    lambda dumper, path: dumper.represent_sequence(
        "tag:yaml.org,2002:python/object/apply:pathlib.PosixPath", list(path.parts)
    ),
)


def write_tiny_checkpoint(
    directory: str | Path,
    *,
    hidden: int = 96,
    heads: int = 2,
    depth: int = 2,
    ff_mult: int = 4,
    low_rank: int | None = 16,
    feature_dims: Mapping[str, tuple[int, int]] | None = None,
    n_outputs: int = 20484,
    n_output_timesteps: int = 100,
    max_seq_len: int = 256,
    n_predictor_rows: int = 1,
    seed: int = 0,
    layers_to_use: Sequence[float] = (0.5, 0.75, 1.0),
    cache_n_layers: int | None = None,
    layer_aggregation: str = "cat",
    extra_config: Mapping | None = None,
) -> Path:
    """Write ``config.yaml`` and ``best.ckpt`` of a tiny TRIBE v2 model; return the directory.

    Parameters
    ----------
    directory : str or Path
        Created if needed.
    hidden, heads, depth, ff_mult, low_rank, max_seq_len
        Brain model sizes (``low_rank=None``: no low-rank head). hidden must be divisible by
        the number of modalities and by heads, with hidden / heads >= 32.
    feature_dims : mapping, optional
        Modality -> (n_layer_groups, dim), in concatenation order; default text (2, 12),
        audio (2, 8), video (2, 10).
    n_outputs, n_output_timesteps
        The checkpoint's ``model_build_args`` (default 20484 vertices, 100 steps per window).
    n_predictor_rows : int
        Rows of ``predictor.weights`` (the last one is the "average subject").
    seed : int
        Seed of the random weights.
    layers_to_use, cache_n_layers
        Written to the ``data`` section (``cache_n_layers`` on the text, audio and video
        extractors when given).
    layer_aggregation : {'cat', 'mean'}
        ``brain_model_config.layer_aggregation``; sets the projectors' input width.
    extra_config : mapping, optional
        Deep-merged into the config before writing, e.g.
        ``{"brain_model_config": {"combiner": {"name": "Mlp"}}}``. It changes the file only,
        not the weights.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    feature_dims = dict(DEFAULT_FEATURE_DIMS if feature_dims is None else feature_dims)
    config = tiny_config(
        hidden=hidden,
        heads=heads,
        depth=depth,
        ff_mult=ff_mult,
        low_rank=low_rank,
        max_seq_len=max_seq_len,
        layers_to_use=layers_to_use,
        cache_n_layers=cache_n_layers,
        layer_aggregation=layer_aggregation,
    )
    _merge(config, extra_config or {})
    text = yaml.dump(config, Dumper=_ReferenceStyleDumper, sort_keys=False)
    (directory / "config.yaml").write_text(text, encoding="utf-8")

    shapes = official_shapes(
        hidden=hidden,
        heads=heads,
        depth=depth,
        ff_mult=ff_mult,
        low_rank=low_rank,
        feature_dims=feature_dims,
        n_outputs=n_outputs,
        max_seq_len=max_seq_len,
        n_predictor_rows=n_predictor_rows,
        layer_aggregation=layer_aggregation,
    )
    state = random_state_dict(shapes, seed=seed)
    checkpoint = {
        "epoch": 3,
        "global_step": 100,
        "pytorch-lightning_version": "2.5.0",
        "state_dict": {f"model.{key}": value for key, value in state.items()},
        "model_build_args": {
            "feature_dims": {name: tuple(dims) for name, dims in feature_dims.items()},
            "n_outputs": n_outputs,
            "n_output_timesteps": n_output_timesteps,
        },
    }
    torch.save(checkpoint, directory / "best.ckpt")
    return directory


def read_state_dict(directory: str | Path) -> dict:
    """The raw tensors of ``best.ckpt`` (keys without 'model.'), read without berg."""
    checkpoint = torch.load(Path(directory) / "best.ckpt", map_location="cpu", weights_only=True)
    return {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items()}


def reference_forward(
    state: Mapping[str, torch.Tensor],
    features: Mapping[str, torch.Tensor],
    *,
    feature_dims: Mapping[str, tuple[int, int]],
    heads: int,
    n_output_timesteps: int,
    layer_aggregation: str = "cat",
) -> torch.Tensor:
    """Section 2 of docs/inference.md step by step, in float64, from raw tensors.

    Deliberately naive (explicit loops over layers, heads and windows, explicit softmax,
    rotary and ScaleNorm) and independent of berg's module code. Returns
    (B, n_outputs, n_output_timesteps) float64.
    """
    f64 = torch.float64
    sd = {k: v.to(f64) for k, v in state.items()}
    hidden = sd["time_pos_embed"].shape[-1]
    width = hidden // len(feature_dims)
    first = next(iter(features.values()))
    batch, n_times = first.shape[0], first.shape[-1]

    # 1-2. Projectors (flattened layer-major: column l * D + d), laid side by side in order.
    parts = []
    for name, (n_layers, dim) in feature_dims.items():
        if name not in features:
            parts.append(torch.zeros(batch, n_times, width, dtype=f64))
            continue
        x = features[name].to(f64)
        if layer_aggregation == "cat":
            columns = torch.zeros(batch, n_times, n_layers * dim, dtype=f64)
            for layer in range(n_layers):
                for d in range(dim):
                    columns[:, :, layer * dim + d] = x[:, layer, d, :]
        else:
            columns = x.mean(dim=1).transpose(1, 2)
        weight, bias = sd[f"projectors.{name}.weight"], sd[f"projectors.{name}.bias"]
        parts.append(columns @ weight.T + bias)
    x = torch.cat(parts, dim=-1)

    # 3. Learned time embedding.
    x = x + sd["time_pos_embed"][:, :n_times]

    # 4. Encoder.
    def scale_norm(v: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        norm = torch.sqrt((v * v).sum(dim=-1, keepdim=True)).clamp_min(1e-12)
        return v / norm * math.sqrt(hidden) * g

    inv_freq = state["encoder.rotary_pos_emb.inv_freq"]
    half = inv_freq.numel()  # the rotary embedding turns the first 2 * half dims of a head
    # Angles as the reference computes them (float32 products), then float64 trigonometry.
    angles = (torch.arange(n_times, dtype=torch.float32)[:, None] * inv_freq.float()).to(f64)
    cos, sin = angles.cos(), angles.sin()  # (T, half): freqs = [theta, theta]

    def rotary(v: torch.Tensor) -> torch.Tensor:  # (T, dim_head)
        x1, x2 = v[:, :half], v[:, half : 2 * half]
        # q cos + rotate_half(q) sin with rotate_half([x1, x2]) = [-x2, x1]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin, v[:, 2 * half :]], dim=1)

    dim_head = hidden // heads
    n_blocks = sum(1 for k in sd if k.startswith("encoder.layers.") and k.endswith(".0.0.g"))
    for i in range(n_blocks):
        p = f"encoder.layers.{i}."
        h = scale_norm(x, sd[p + "0.0.g"])
        if p + "1.to_q.weight" in sd:
            q, k, v = (h @ sd[p + f"1.{name}.weight"].T for name in ("to_q", "to_k", "to_v"))
            attended = torch.zeros_like(h)
            for b in range(batch):
                for head in range(heads):
                    cols = slice(head * dim_head, (head + 1) * dim_head)
                    qh, kh, vh = rotary(q[b, :, cols]), rotary(k[b, :, cols]), v[b, :, cols]
                    scores = qh @ kh.T / math.sqrt(dim_head)
                    weights = torch.exp(scores - scores.max(dim=-1, keepdim=True).values)
                    weights = weights / weights.sum(dim=-1, keepdim=True)
                    attended[b, :, cols] = weights @ vh
            branch = attended @ sd[p + "1.to_out.weight"].T
        else:
            a = h @ sd[p + "1.ff.0.0.weight"].T + sd[p + "1.ff.0.0.bias"]
            a = 0.5 * a * (1.0 + torch.erf(a / math.sqrt(2.0)))
            branch = a @ sd[p + "1.ff.2.weight"].T + sd[p + "1.ff.2.bias"]
        x = branch + x * sd[p + "2.residual_scale"]
    x = scale_norm(x, sd["encoder.final_norm.g"])

    # 5-6. Low-rank head, then the last ("average subject") row of the read-out.
    if "low_rank_head.weight" in sd:
        x = x @ sd["low_rank_head.weight"].T
    y = torch.einsum("btc,cd->bdt", x, sd["predictor.weights"][-1])
    y = y + sd["predictor.bias"][-1][None, :, None]

    # 7. AdaptiveAvgPool1d: step k averages bins floor(k T / n) .. ceil((k + 1) T / n) - 1.
    n = n_output_timesteps
    steps = []
    for step in range(n):
        start = (step * n_times) // n
        stop = -((-(step + 1) * n_times) // n)
        steps.append(y[..., start:stop].mean(dim=-1))
    return torch.stack(steps, dim=-1)
