"""Tiny random models of the three real feature architectures, saved like Hub folders.

``write_tiny_extractors(root)`` writes ``root/llama`` (LlamaModel + a byte-level BPE
tokenizer trained here, with Llama's BOS/EOS conventions), ``root/w2v-bert``
(Wav2Vec2BertModel + SeamlessM4T feature extractor) and ``root/vjepa2`` (VJEPA2Model + its
video processor config), each with hidden size 32 and 5 hidden states, so the release's
layer fractions [0.5, 0.75, 1.0] give two groups. Together with
``tiny_checkpoint.write_tiny_checkpoint(..., feature_dims=TINY_FEATURE_DIMS)`` they make a
whole, offline, seconds-fast TRIBE v2 pipeline with the real code paths.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

HIDDEN = 32
TINY_FEATURE_DIMS = {"text": (2, HIDDEN), "audio": (2, HIDDEN), "video": (2, HIDDEN)}
BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"
CORPUS = ("The quick brown fox jumps over the lazy dog. Then it runs into the forest. "
          "Here is a sentence about the brain model, spoken slowly? Yes. Who knows.")


def _tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator([CORPUS.lower(), CORPUS] * 20, trainers.BpeTrainer(
        vocab_size=300, special_tokens=[BOS, EOS], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", special_tokens=[(BOS, tokenizer.token_to_id(BOS))])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS,
                                   model_max_length=4096)


def write_tiny_llama(folder: Path) -> Path:
    from transformers import LlamaConfig, LlamaModel

    tokenizer = _tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=64,
                         num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=4096, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    LlamaModel(config).to(torch.bfloat16).save_pretrained(folder)  # bf16, like the release
    tokenizer.save_pretrained(folder)
    return folder


def write_tiny_w2v_bert(folder: Path) -> Path:
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    torch.manual_seed(1)
    config = Wav2Vec2BertConfig(hidden_size=HIDDEN, num_hidden_layers=4, num_attention_heads=8,
                                intermediate_size=64, feature_projection_input_dim=160,
                                conv_depthwise_kernel_size=5, left_max_position_embeddings=8,
                                right_max_position_embeddings=4)
    Wav2Vec2BertModel(config).eval().save_pretrained(folder)
    SeamlessM4TFeatureExtractor(padding_value=1.0).save_pretrained(folder)
    return folder


def write_tiny_vjepa2(folder: Path, crop: int = 64) -> Path:
    from transformers import VJEPA2Config, VJEPA2Model

    torch.manual_seed(2)
    config = VJEPA2Config(crop_size=crop, patch_size=16, tubelet_size=2, frames_per_clip=64,
                          hidden_size=HIDDEN, num_hidden_layers=4, num_attention_heads=2,
                          mlp_ratio=2.0, pred_hidden_size=16, pred_num_attention_heads=2,
                          pred_num_hidden_layers=1, num_pooler_layers=1)
    VJEPA2Model(config).eval().save_pretrained(folder)
    (folder / "video_preprocessor_config.json").write_text(json.dumps({
        "crop_size": crop, "do_center_crop": True, "do_normalize": True, "do_rescale": True,
        "do_resize": True, "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225], "resample": 2,
        "rescale_factor": 1 / 255, "video_processor_type": "VJEPA2VideoProcessor"}))
    return folder


def write_tiny_extractors(root: Path) -> dict[str, Path]:
    """Write the three tiny feature models under ``root``; modality -> folder."""
    root = Path(root)
    return {"text": write_tiny_llama(root / "llama"),
            "audio": write_tiny_w2v_bert(root / "w2v-bert"),
            "video": write_tiny_vjepa2(root / "vjepa2")}
