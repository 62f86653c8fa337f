"""Which Whisper model, device and compute type a recogniser uses, and what a failure to
load one says."""

from __future__ import annotations

import os
from pathlib import Path

from berg.devices import parse_device
from berg.errors import (
    BERGError,
    DeviceNotAvailableError,
    InvalidParameterError,
    MissingDependencyError,
    ModelLoadError,
    did_you_mean,
    format_choices,
)
from berg.hub import MissingModelError, hub_unreachable, verify_snapshot
from berg.registry import PretrainedSpec

__all__ = [
    "PINNED_WHISPER",
    "WHISPER_FILE_PATTERNS",
    "locate_whisper",
    "whisper_repo",
    "choose_compute_type",
    "download_whisper",
    "missing_whisperx",
    "model_identity",
    "model_load_error",
    "pinned_revision",
    "resolve_asr_device",
    "resolve_whisper_model",
]


def resolve_asr_device(device: object) -> tuple[str, int]:
    """``'auto'`` / ``'cpu'`` / ``'cuda'`` / ``'cuda:N'`` / ``'mps'`` -> (CTranslate2 device,
    index).

    The spelling is checked by :func:`berg.devices.parse_device`; what is present is asked of
    CTranslate2, which runs Whisper. CTranslate2 has no Apple GPU backend: ``'mps'`` (the
    models' device on a Mac) runs Whisper on the CPU.
    """
    import ctranslate2

    kind, index = parse_device(device)
    if kind == "mps":
        return "cpu", 0
    n_gpus = ctranslate2.get_cuda_device_count()
    if kind == "auto":
        return ("cuda", 0) if n_gpus > 0 else ("cpu", 0)
    if kind == "cpu":
        return "cpu", 0
    index = index or 0
    if n_gpus == 0:
        raise DeviceNotAvailableError(
            f"device={device!r} was requested but CTranslate2 (which runs Whisper) sees "
            "no CUDA GPU; use device='cpu', or device='auto' to take a GPU only when present"
        )
    if index >= n_gpus:
        raise DeviceNotAvailableError(
            f"device={device!r} was requested but CTranslate2 sees {n_gpus} GPU(s) "
            f"(valid: {', '.join(f'cuda:{i}' for i in range(n_gpus))})"
        )
    return "cuda", index


def choose_compute_type(device: str, requested: str | None) -> str:
    """The requested compute type if ``device`` supports it, else the best default for it."""
    import ctranslate2

    try:
        supported = sorted(ctranslate2.get_supported_compute_types(device))
    except Exception:  # a CUDA device CTranslate2 cannot initialise
        supported = ["float32"]
    if requested is None:
        preferred = ("float16", "float32") if device == "cuda" else ("int8", "float32")
        return next((c for c in preferred if c in supported), "float32")
    if not isinstance(requested, str) or requested not in (*supported, "default", "auto"):
        where = "the CPU" if device == "cpu" else "this GPU"
        raise InvalidParameterError(
            f"compute_type={requested!r} is not supported on {where}"
            f"{did_you_mean(requested, supported)} (valid here: {format_choices(supported)}; "
            "or None to choose automatically)"
        )
    return requested


def resolve_whisper_model(model: object) -> tuple[str, str]:
    """Return (name to record, what to hand to faster-whisper) for a model size, repo or path."""
    import faster_whisper

    if not isinstance(model, (str, os.PathLike)):
        raise InvalidParameterError(
            f"model must be a Whisper model name (e.g. 'large-v3'), a Hugging Face repo id or "
            f"a local directory, got {type(model).__name__} {model!r}"
        )
    text = os.fspath(model)
    if not text.strip():
        raise InvalidParameterError("model is empty; give a name such as 'large-v3' or a path")
    path = Path(text).expanduser()
    looks_like_path = (
        isinstance(model, os.PathLike)
        or path.exists()
        or text.startswith(("/", ".", "~", "\\"))
        or text.count("/") > 1
        or "\\" in text
        or (len(text) > 1 and text[1] == ":")
    )
    if looks_like_path:
        if not path.is_dir():
            raise ModelLoadError(
                f"no Whisper model directory at {str(path)!r}; give a directory holding a "
                "CTranslate2 conversion (model.bin, config.json, tokenizer.json), or a model "
                "name such as 'large-v3'"
            )
        if not (path / "model.bin").is_file():
            raise ModelLoadError(
                f"{str(path)!r} holds no CTranslate2 Whisper model (no model.bin); convert one "
                "with ct2-transformers-converter or give a model name such as 'large-v3'"
            )
        return str(path), str(path.resolve())
    if "/" in text:  # a Hugging Face repo id, e.g. Systran/faster-whisper-large-v3
        return text, text
    sizes = faster_whisper.available_models()
    if text not in sizes:
        raise InvalidParameterError(
            f"unknown Whisper model {text!r}{did_you_mean(text, sizes)} (valid: "
            f"{format_choices(sizes, limit=20)}, a Hugging Face repo id, or a local directory)"
        )
    return text, text


def model_identity(source: str) -> str:
    """A model folder's content digest, or a model's name."""
    path = Path(source).expanduser()
    if path.is_dir():
        from berg.files import folder_digest

        return f"folder:{folder_digest(path)}"
    return source


def model_load_error(name: str, source: str, error: Exception, local_files_only: bool) -> BERGError:
    if isinstance(error, BERGError):
        return error
    first_line = (str(error).strip().splitlines() or [""])[0].rstrip(". ")
    detail = f"[{type(error).__name__}: {first_line}]"
    fetching = type(error).__module__.startswith("huggingface_hub") or isinstance(
        error, (FileNotFoundError, ConnectionError)
    )
    if os.path.isdir(source) or not fetching:
        return ModelLoadError(f"could not load the Whisper model {name!r} {detail}")
    how = (
        "it is not in the local cache and local_files_only=True"
        if local_files_only
        else "it is not cached here and could not be downloaded from the Hugging Face Hub "
        "(no network?)"
    )
    return MissingModelError(
        f"could not load the Whisper model {name!r}: {how}. Fetch it where there is a network "
        f"(berg download --asr-model {name}), or name a folder holding a CTranslate2 "
        f"conversion (--asr-model DIR on the command line; asr_model= in Python, model= for "
        f"a FasterWhisperTranscriber) {detail}",
        reason="not cached here" if local_files_only else "not cached, and the download failed",
    )


#: Whisper models berg pins, by name: the Hub repository, the commit, and what its model.bin
#: is (checked once it is in the cache; the check is recorded). Other names load the
#: repository's main branch, unchecked.
PINNED_WHISPER = {
    "large-v3": PretrainedSpec(
        modality="speech",
        hub_id="Systran/faster-whisper-large-v3",
        revision="edaa852ec7e145841d8ffdb056a99866b5f0a478",
        env_var="BERG_ASR_MODEL",
        sha256={"model.bin": "69f74147e3334731bc3a76048724833325d2ec74642fb52620eda87352e3d4f1"},
        sizes={"model.bin": 3_087_284_237},
        download_bytes=3_090_000_000,
        license="MIT",
    ),
}

#: The files of a CTranslate2 Whisper repository a recogniser uses (those faster-whisper's
#: own download asks for).
WHISPER_FILE_PATTERNS = (
    "config.json",
    "preprocessor_config.json",
    "model.bin",
    "tokenizer.json",
    "vocabulary.*",
)


def pinned_revision(source: str) -> str | None:
    """The commit berg pins for a Whisper model name (None: a folder, or not pinned)."""
    entry = PINNED_WHISPER.get(source)
    return entry.revision if entry else None


def whisper_repo(source: str) -> str:
    """The Hub repository of a Whisper model name (``'large-v3'``) or repo id."""
    from faster_whisper.utils import _MODELS  # the names faster-whisper accepts

    return source if "/" in source else _MODELS.get(source, source)


def locate_whisper(
    source: str, *, local_files_only: bool = False, cache_dir: str | None = None
) -> str:
    """The folder of a Whisper model in the Hugging Face cache, downloaded if needed (at the
    pinned commit for a pinned name, whose model.bin is then checked).

    Raises
    ------
    Exception
        The Hub client's errors (the caller words them with :func:`model_load_error`);
        :class:`ModelLoadError` when a pinned file is not the one its commit holds.
    """
    import faster_whisper

    # Without a network, take what the cache holds at once (no retries of the Hub client).
    folder = faster_whisper.download_model(
        source,
        local_files_only=local_files_only or bool(hub_unreachable()),
        cache_dir=cache_dir,
        revision=pinned_revision(source),
    )
    spec = PINNED_WHISPER.get(source)
    if spec is not None and Path(folder).name == spec.revision:
        verify_snapshot(
            Path(folder),
            commit=spec.revision,
            sha256=spec.sha256,
            sizes=spec.sizes,
            what=f"{spec.hub_id} at {spec.revision}",
        )
    return folder


def download_whisper(model: object) -> str:
    """Put a Whisper model in place: a folder is checked, a name (or a Hub repo id) is
    downloaded into the Hugging Face cache at the pinned commit. Returns what it is, where.

    Raises
    ------
    InvalidParameterError, ModelLoadError
        An unknown name, a folder without a model, or a download that failed.
    """
    name, source = resolve_whisper_model(model)
    if os.path.isdir(source):
        return f"{name} (a local folder)"
    try:
        folder = locate_whisper(source)
    except Exception as error:  # huggingface_hub's and the network's (berg's pass through)
        raise model_load_error(name, source, error, False) from error
    return f"{name} @ {pinned_revision(source) or 'main'} in {folder}"


def missing_whisperx() -> MissingDependencyError:
    return MissingDependencyError(
        "the 'whisperx' transcriber needs the whisperx package, which is not installed: "
        "pip install whisperx (or pip install 'berg-tribe[whisperx]'); "
        "backend='faster-whisper' needs nothing more"
    )
