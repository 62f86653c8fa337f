"""What the ``berg`` commands share: the default model and BERG directory, and the
spelling of a list of modalities."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_MODEL", "default_berg_dir", "parse_modalities"]

DEFAULT_MODEL = "fmri-dascoli_2026-tribe_v2"


def default_berg_dir() -> Path:
    """$BERG_DIR, else a per-user cache folder (what a command line run without
    ``--berg-dir`` uses; the Python API always takes berg_dir explicitly)."""
    if os.environ.get("BERG_DIR"):
        return Path(os.environ["BERG_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "berg"


def parse_modalities(text: str | None, valid: tuple[str, ...]) -> tuple[str, ...]:
    """``"video,audio"`` -> the modalities, checked (default: all three)."""
    from berg.registry import check_modality

    if not text:
        return valid
    return tuple(check_modality(m.strip()) for m in text.split(",") if m.strip())
