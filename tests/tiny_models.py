"""Tiny random models of the three real feature architectures, for tests.

They live in ``berg.selftest`` (the installed self-test builds the same ones); this module
only gives tests a short import name.
"""

from berg.selftest import (  # noqa: F401
    HIDDEN,
    TINY_FEATURE_DIMS,
    write_tiny_extractors,
    write_tiny_llama,
    write_tiny_vjepa2,
    write_tiny_w2v_bert,
)


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
