"""Where the feature models come from: a local folder, an environment variable, or the Hub.

Each extractor needs a transformers model folder. It is found, in this order:

1. a folder given explicitly (``get_encoding_model(..., text_model_dir=...)``);
2. an environment variable naming a folder (``BERG_TEXT_MODEL``, ``BERG_AUDIO_MODEL``,
   ``BERG_VIDEO_MODEL``): handy on clusters where models live on shared storage;
3. the Hugging Face Hub through the standard cache (``huggingface_hub.snapshot_download``),
   so ``HF_HOME``, ``HF_HUB_OFFLINE=1``, ``HF_TOKEN`` and caches filled beforehand (``berg
   download`` or ``hf download``) all work as Hugging Face users expect.

The Hub id and revision come from the model card (the checkpoint's ``config.yaml`` names the
same models). The commit actually used is recorded, so results say which weights made them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from berg.errors import InvalidParameterError, ModelLoadError
from berg.hub import MissingModelError, hub_unreachable, is_commit, verify_snapshot
from berg.progress import silent_tqdm_class
from berg.registry import PretrainedSpec

__all__ = ["MODEL_FILE_PATTERNS", "ResolvedModel", "resolve_pretrained"]

#: What an extractor needs from a model repository (weights, configs, tokenizer); never the
#: original training checkpoints that some repositories also carry.
MODEL_FILE_PATTERNS = ("*.json", "*.safetensors", "tokenizer*", "*.model", "*.txt")


@dataclass(frozen=True)
class ResolvedModel:
    """A model folder on disk and where it came from (for provenance and cache keys)."""

    path: Path
    hub_id: str
    revision: str | None  # the commit when known
    source: str  # 'argument', 'environment' or 'hub'


def _local(path: object, what: str, spec: PretrainedSpec, source: str) -> ResolvedModel:
    folder = Path(os.fspath(path)).expanduser()
    if not folder.is_dir():
        raise ModelLoadError(
            f"{what} {str(folder)!r} for the {spec.modality} model ({spec.hub_id}) is not a folder"
        )
    if not (folder / "config.json").is_file():
        raise ModelLoadError(
            f"{what} {str(folder)!r} has no config.json: it must be a "
            f"transformers model folder of {spec.hub_id} (save_pretrained "
            "or a Hub snapshot)"
        )
    commit = folder.name if is_commit(folder.name) else None
    return ResolvedModel(path=folder, hub_id=spec.hub_id, revision=commit, source=source)


def resolve_pretrained(
    spec: PretrainedSpec,
    *,
    model_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
    show_progress: bool = True,
) -> ResolvedModel:
    """Find (or download) the folder of a feature model.

    Parameters
    ----------
    spec : PretrainedSpec
    model_dir : path, optional
        Use this folder; it wins over everything else.
    cache_dir : path, optional
        Hugging Face cache to use instead of the default (``HF_HOME``/``HF_HUB_CACHE``).
    local_files_only : bool
        Only look in the cache; never download.
    show_progress : bool
        Show download progress bars.

    Raises
    ------
    ModelLoadError
        The folder is missing, or the model is not cached and cannot be downloaded (offline,
        gated without access, unknown revision); the message lists the ways to provide it.
    """
    if model_dir is not None:
        if not isinstance(model_dir, (str, os.PathLike)):
            raise InvalidParameterError(
                f"{spec.modality}_model_dir must be a folder path, got {model_dir!r}"
            )
        return _local(model_dir, f"{spec.modality}_model_dir", spec, "argument")
    if os.environ.get(spec.env_var):
        return _local(os.environ[spec.env_var], f"${spec.env_var}", spec, "environment")

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RevisionNotFoundError

    ways = (
        f"Provide it one of three ways: (1) download it where the Hub is reachable "
        f"(`berg download`, or `hf download {spec.hub_id} --revision {spec.revision}`) and "
        f"reuse that Hugging Face cache (HF_HOME), (2) set {spec.env_var} to a folder "
        f"holding the model, or (3) "
        f"name that folder (berg encode --{spec.modality}-model-dir DIR; "
        f"{spec.modality}_model_dir= in Python)."
    )
    # Without a network, take what the cache holds at once (no retries of the Hub client).
    unreachable = "" if local_files_only else hub_unreachable()
    try:
        path = snapshot_download(
            repo_id=spec.hub_id,
            revision=spec.revision,
            cache_dir=cache_dir,
            allow_patterns=list(MODEL_FILE_PATTERNS),
            local_files_only=local_files_only or bool(unreachable),
            **({} if show_progress else {"tqdm_class": silent_tqdm_class()}),
        )
    except GatedRepoError as error:
        raise MissingModelError(
            f"{spec.hub_id} is gated: request access on https://huggingface.co/{spec.hub_id}, "
            f"then log in with a token (`hf auth login` or HF_TOKEN). {ways}",
            reason="gated: no access with this token",
        ) from error
    except RevisionNotFoundError as error:
        raise MissingModelError(
            f"revision {spec.revision!r} does not exist in {spec.hub_id}",
            reason="no such revision",
        ) from error
    except (HfHubHTTPError, OSError, ValueError) as error:
        # LocalEntryNotFoundError (offline, nothing cached) is an OSError/ValueError here.
        gated = " It is gated: it also needs an accepted licence and a token." if spec.gated else ""
        why = unreachable or type(error).__name__
        raise MissingModelError(
            f"the {spec.modality} model {spec.hub_id} (revision "
            f"{spec.revision}) is not cached and could not be downloaded "
            f"({why}).{gated} {ways}",
            reason=unreachable or "not cached, and the download failed",
        ) from error
    folder = Path(path)
    commit = folder.name if is_commit(folder.name) else None
    if commit == spec.revision:  # the digests the card records are that commit's
        verify_snapshot(
            folder,
            commit=commit,
            sha256=spec.sha256,
            sizes=spec.sizes,
            what=f"{spec.hub_id} at {spec.revision}",
        )
    return ResolvedModel(path=folder, hub_id=spec.hub_id, revision=commit, source="hub")
