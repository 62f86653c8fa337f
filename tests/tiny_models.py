"""Tiny random models of the three real feature architectures, for tests.

They live in ``berg.selftest`` (the installed self-test builds the same ones); this module
only gives tests a short import name.
"""

from berg.selftest import (  # noqa: F401
    HIDDEN,
    TINY_FEATURE_DIMS,
    byte_level_tokenizer,
    write_tiny_extractors,
    write_tiny_llama,
    write_tiny_vjepa2,
    write_tiny_w2v_bert,
)

#: Sizes of `write_tiny_qwen3`'s model: 5 layers (6 hidden states) of width 24.
QWEN3_LAYERS, QWEN3_HIDDEN = 5, 24


def write_tiny_qwen3(folder):
    """A 5-layer Qwen3Model (hidden 24, its q/k norms and explicit head_dim) with a
    byte-level BPE tokenizer that, like Qwen's, has a pad token of its own and no BOS."""
    import torch
    from transformers import Qwen3Config, Qwen3Model

    corpus = (
        "The quick brown fox jumps over the lazy dog. Then it runs into the forest. "
        "Here is a sentence about the brain model, spoken slowly? Yes. Who knows."
    )
    tokenizer = byte_level_tokenizer(
        [corpus.lower(), corpus] * 20, vocab_size=300, model_max_length=4096
    )
    tokenizer.add_special_tokens({"pad_token": "<|endoftext|>"})
    torch.manual_seed(3)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=QWEN3_HIDDEN,
        intermediate_size=48,
        num_hidden_layers=QWEN3_LAYERS,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    Qwen3Model(config).to(torch.bfloat16).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_model_options(folder, **checkpoint) -> dict:
    """``get_encoding_model`` keywords for tiny random models written under ``folder``: a
    tiny TRIBE v2 checkpoint (``checkpoint`` passed to ``write_tiny_checkpoint``) and the
    three feature models."""
    from pathlib import Path

    from tiny_checkpoint import write_tiny_checkpoint

    folder = Path(folder)
    checkpoint.setdefault("feature_dims", TINY_FEATURE_DIMS)
    folders = write_tiny_extractors(folder / "models")
    return {
        "checkpoint_dir": write_tiny_checkpoint(folder / "tribe", **checkpoint),
        "video_model_dir": folders["video"],
        "audio_model_dir": folders["audio"],
        "text_model_dir": folders["text"],
    }
