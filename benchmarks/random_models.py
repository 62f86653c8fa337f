"""Random-weight models of the real architectures, in three sizes, for the benchmarks.

- ``tiny``: the self-test's sizes (width 32, 4 layers; V-JEPA 2 at crop 64): the pipeline's
  own overhead (decoding, resizing, bookkeeping) dominates.
- ``small``: widths 128-256 with the real head width (64) and the real relative-position
  span of Wav2Vec-BERT, V-JEPA 2 at crop 64: model work and overhead both show on a CPU.
- ``real``: the sizes of the released extractors (Llama-3.2-3B, w2v-bert-2.0, V-JEPA 2
  ViT-g/16 at 256): the same FLOPs and memory as the real weights. For a GPU.

Every size uses the real-size TRIBE v2 brain model (hidden 1152, 8 blocks, low-rank 2048,
20,484 outputs: 177 M numbers with the release's inputs), its projectors sized for the
extractors' widths. Folders are written in the formats users have (transformers folders, the
official ``config.yaml`` + ``best.ckpt``), so the benchmark loads them through berg's own
code. Weights are random: none of the numbers they give mean anything.
"""

from __future__ import annotations

import json
from pathlib import Path

SIZES = ("tiny", "small", "real")

# Brain model of the release (docs/inference.md, sections 1 and 9).
_BRAIN = {
    "hidden": 1152,
    "max_seq_len": 1024,
    "depth": 8,
    "heads": 8,
    "ff_mult": 4,
    "low_rank_head": 2048,
}

_LLAMA = {
    "tiny": dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
    ),
    "small": dict(
        hidden_size=256,
        intermediate_size=1024,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
    ),
    "real": dict(
        hidden_size=3072,
        intermediate_size=8192,
        num_hidden_layers=28,
        num_attention_heads=24,
        num_key_value_heads=8,
        head_dim=128,
        vocab_size=128256,
        rope_theta=500000.0,
        tie_word_embeddings=True,
        rope_scaling={
            "rope_type": "llama3",
            "factor": 32.0,
            "high_freq_factor": 4.0,
            "low_freq_factor": 1.0,
            "original_max_position_embeddings": 8192,
        },
    ),
}
_W2V_BERT = {
    "small": dict(
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=1024,
        conv_depthwise_kernel_size=31,
    ),
    "real": dict(
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        intermediate_size=4096,
        conv_depthwise_kernel_size=31,
    ),
}
_VJEPA2 = {
    "small": dict(
        crop_size=64,
        hidden_size=128,
        num_hidden_layers=4,
        num_attention_heads=2,
        mlp_ratio=4.0,
        pred_hidden_size=32,
        pred_num_attention_heads=2,
        pred_num_hidden_layers=1,
    ),
    "real": dict(
        crop_size=256,
        hidden_size=1408,
        num_hidden_layers=40,
        num_attention_heads=22,
        mlp_ratio=48 / 11,
        pred_hidden_size=384,
        pred_num_attention_heads=12,
        pred_num_hidden_layers=12,
        pred_num_mask_tokens=10,
    ),
}


def benchmark_tokenizer():
    """A byte-level BPE tokenizer (Llama's kind) trained on the benchmark's vocabulary, so
    that a word is about one token, as with Llama's own (1.3 tokens per English word)."""
    from bench_text_features import make_transcript

    from berg.selftest import byte_level_tokenizer

    text = " ".join(make_transcript(5000, seed=1))
    return byte_level_tokenizer([text, text.lower()], vocab_size=1000, model_max_length=131072)


def llama_config(size: str, vocab_size: int, bos: int, eos: int):
    from transformers import LlamaConfig

    options = dict(_LLAMA[size])
    vocab_size = max(vocab_size, options.pop("vocab_size", 0))  # real size: the real table
    return LlamaConfig(
        vocab_size=vocab_size,
        max_position_embeddings=131072,
        bos_token_id=bos,
        eos_token_id=eos,
        **options,
    )


def w2v_bert_config(size: str):
    from transformers import Wav2Vec2BertConfig

    return Wav2Vec2BertConfig(
        feature_projection_input_dim=160,
        position_embeddings_type="relative_key",
        left_max_position_embeddings=64,
        right_max_position_embeddings=8,
        **_W2V_BERT[size],
    )


def vjepa2_config(size: str):
    from transformers import VJEPA2Config

    return VJEPA2Config(patch_size=16, tubelet_size=2, frames_per_clip=64, **_VJEPA2[size])


def _save(model, folder: Path, dtype, device: str) -> None:
    model.to(dtype).save_pretrained(folder)
    del model
    if device == "cuda":
        import torch

        torch.cuda.empty_cache()


def _build(config_class_model, config, device: str):
    """A model with random weights, built on ``device`` (fast initialisation on a GPU)."""
    import torch

    with torch.device(device):
        return config_class_model(config).eval()


def write_extractors(size: str, root: Path, *, device: str = "cpu") -> dict[str, Path]:
    """The three feature models of ``size`` under ``root``; modality -> folder.

    ``real`` models are saved in bfloat16 (6.4 GB for Llama instead of 12.8 GB); the
    extractors load them in the dtype they run in, as they would the real checkpoints.
    """
    import torch
    from transformers import (
        LlamaModel,
        SeamlessM4TFeatureExtractor,
        VJEPA2Model,
        Wav2Vec2BertModel,
    )

    from berg.selftest import write_tiny_vjepa2, write_tiny_w2v_bert

    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    root = Path(root)
    dtype = torch.bfloat16 if size == "real" else torch.float32
    folders = {"text": root / "llama", "audio": root / "w2v-bert", "video": root / "vjepa2"}

    torch.manual_seed(0)
    tokenizer = benchmark_tokenizer()
    config = llama_config(size, len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id)
    _save(_build(LlamaModel, config, device), folders["text"], dtype, device)
    tokenizer.save_pretrained(folders["text"])
    if size == "tiny":  # the self-test's own audio and video models
        write_tiny_w2v_bert(folders["audio"])
        write_tiny_vjepa2(folders["video"])
        return folders

    torch.manual_seed(1)
    _save(_build(Wav2Vec2BertModel, w2v_bert_config(size), device), folders["audio"], dtype, device)
    SeamlessM4TFeatureExtractor(padding_value=1.0).save_pretrained(folders["audio"])

    torch.manual_seed(2)
    config = vjepa2_config(size)
    _save(_build(VJEPA2Model, config, device), folders["video"], dtype, device)
    (folders["video"] / "video_preprocessor_config.json").write_text(
        json.dumps(
            {
                "crop_size": config.crop_size,
                "do_center_crop": True,
                "do_normalize": True,
                "do_rescale": True,
                "do_resize": True,
                "image_mean": [0.485, 0.456, 0.406],
                "image_std": [0.229, 0.224, 0.225],
                "resample": 2,
                "rescale_factor": 1 / 255,
                "video_processor_type": "VJEPA2VideoProcessor",
            }
        )
    )
    return folders


def feature_dims(folders: dict[str, Path]) -> dict[str, tuple[int, int]]:
    """The brain model's inputs for these extractors: 2 layer groups of each model's width."""
    widths = {
        m: json.loads((folder / "config.json").read_text())["hidden_size"]
        for m, folder in folders.items()
    }
    return {m: (2, int(widths[m])) for m in ("text", "audio", "video")}


def write_brain_checkpoint(folder: Path, dims: dict[str, tuple[int, int]]) -> Path:
    """A random real-size TRIBE v2 brain model (``config.yaml`` + ``best.ckpt``, the
    official format) reading features of ``dims``."""
    import torch
    import yaml

    from berg.tribe.config import BrainModelConfig
    from berg.tribe.model import build_brain_model

    torch.manual_seed(3)
    config = BrainModelConfig(
        hidden=_BRAIN["hidden"],
        max_seq_len=_BRAIN["max_seq_len"],
        depth=_BRAIN["depth"],
        heads=_BRAIN["heads"],
        ff_mult=_BRAIN["ff_mult"],
        low_rank_head=_BRAIN["low_rank_head"],
    )
    model = build_brain_model(config, dims, 20484, 100)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "brain_model_config": {
                    "hidden": _BRAIN["hidden"],
                    "max_seq_len": _BRAIN["max_seq_len"],
                    "low_rank_head": _BRAIN["low_rank_head"],
                    "encoder": {
                        "depth": _BRAIN["depth"],
                        "heads": _BRAIN["heads"],
                        "ff_mult": _BRAIN["ff_mult"],
                    },
                },
                "data": {
                    "frequency": 2,
                    "layers_to_use": [0.5, 0.75, 1.0],
                    "layer_aggregation": "group_mean",
                    "duration_trs": 100,
                },
            }
        )
    )
    torch.save(
        {
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            "model_build_args": {
                "feature_dims": {m: tuple(d) for m, d in dims.items()},
                "n_outputs": 20484,
                "n_output_timesteps": 100,
            },
        },
        folder / "best.ckpt",
    )
    return folder


def write_models(size: str, root: Path, *, device: str = "cpu") -> dict[str, Path]:
    """Extractors and brain checkpoint of ``size``: {'text', 'audio', 'video', 'brain'}."""
    root = Path(root)
    folders = write_extractors(size, root / "extractors", device=device)
    folders["brain"] = write_brain_checkpoint(root / "brain", feature_dims(folders))
    return folders
