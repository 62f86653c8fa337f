"""Finding the TRIBE v2 weights on disk, or fetching them from the Hugging Face Hub.

BERG keeps every model's files under ``{berg_dir}/encoding_models/modality-.../model-.../``.
For TRIBE v2 these are ``config.yaml`` and ``best.ckpt`` from ``facebook/tribev2``. They are
CC-BY-NC-4.0: berg never ships them; the user's machine downloads them (once) from the Hub,
at a pinned revision so that everybody gets the same numbers.
"""

from __future__ import annotations

import os
from pathlib import Path

from berg.errors import InvalidParameterError, ModelLoadError
from berg.progress import silent_tqdm_class
from berg.registry import WeightsSource

__all__ = ["fetch_weights", "locate_weights", "missing_files"]


def missing_files(directory: Path, source: WeightsSource) -> list[str]:
    """Names of ``source.files`` that are not regular, non-empty files in ``directory``."""
    return [
        name
        for name in source.files
        if not (directory / name).is_file() or (directory / name).stat().st_size == 0
    ]


def _as_path(value: object, what: str) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidParameterError(
            f"{what} must be a path (str or os.PathLike), got {type(value).__name__} {value!r}"
        )
    return Path(value).expanduser()


def _manual_steps(target: Path, source: WeightsSource) -> str:
    urls = "\n".join(
        f"  https://huggingface.co/{source.hub_repo}/resolve/{source.revision}/{name}"
        for name in source.files
    )
    return (
        f"To install them by hand, download\n{urls}\ninto\n  {target}\n"
        f"(on a machine with internet, `berg download --berg-dir DIR` fetches them; "
        f"copy DIR/{source.berg_path} across), or pass checkpoint_dir= a folder that "
        f"holds {' and '.join(source.files)}."
    )


def locate_weights(
    berg_dir: str | os.PathLike,
    source: WeightsSource,
    *,
    checkpoint_dir: str | os.PathLike | None = None,
    download: bool = True,
    revision: str | None = None,
    show_progress: bool = True,
    endpoint: str | None = None,
) -> Path:
    """Return the folder that holds the model's weight files, downloading them if needed.

    Parameters
    ----------
    berg_dir : path
        The BERG directory; the files live in ``berg_dir / source.berg_path``.
    source : WeightsSource
        Which files, from which Hub repository and revision.
    checkpoint_dir : path, optional
        Use this folder instead (it must already hold every file; nothing is downloaded).
    download : bool
        Fetch missing files from the Hub. With ``False`` a missing file is an error.
    revision : str, optional
        Hub revision to download instead of the pinned ``source.revision``.
    show_progress : bool
        Show a download progress bar.
    endpoint : str, optional
        Hub endpoint (a mirror); default ``HF_ENDPOINT`` or huggingface.co.

    Raises
    ------
    ModelLoadError
        Files missing and not downloadable: the message says which files to put where.
    """
    if checkpoint_dir is not None:
        directory = _as_path(checkpoint_dir, "checkpoint_dir")
        if not directory.is_dir():
            raise ModelLoadError(
                f"checkpoint_dir {str(directory)!r} is not a directory; it "
                f"must hold {' and '.join(source.files)}"
            )
        absent = missing_files(directory, source)
        if absent:
            raise ModelLoadError(
                f"checkpoint_dir {str(directory)!r} lacks {', '.join(absent)} "
                f"(it must hold {' and '.join(source.files)})"
            )
        return directory

    target = _as_path(berg_dir, "berg_dir") / source.berg_path
    absent = missing_files(target, source)
    if not absent:
        return target
    if not download:
        raise ModelLoadError(
            f"the weights are not installed: {', '.join(absent)} missing from {target}. "
            + _manual_steps(target, source)
        )
    return fetch_weights(
        target,
        source,
        revision=revision,
        show_progress=show_progress,
        endpoint=endpoint,
        only=absent,
    )


def fetch_weights(
    target: Path,
    source: WeightsSource,
    *,
    revision: str | None = None,
    show_progress: bool = True,
    endpoint: str | None = None,
    only: list[str] | None = None,
) -> Path:
    """Download the weight files from the Hub into ``target``.

    Each file arrives under a temporary name and is renamed into place when complete, so an
    interrupted download never leaves a truncated ``best.ckpt`` where berg would load it.

    Returns
    -------
    Path
        ``target``, now holding every file of ``source``.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    revision = revision or source.revision
    where = f"{source.hub_repo} (revision {revision})"
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelLoadError(f"cannot create the weights folder {target}: {exc}") from exc

    for name in only or source.files:
        try:
            hf_hub_download(
                repo_id=source.hub_repo,
                filename=name,
                revision=revision,
                local_dir=target,
                endpoint=endpoint,
                tqdm_class=None if show_progress else silent_tqdm_class(),
            )
        except GatedRepoError as exc:
            raise ModelLoadError(
                f"{where} is gated and this machine is not allowed to download {name}: accept "
                f"its terms on https://huggingface.co/{source.hub_repo} and log in with "
                f"`hf auth login`. " + _manual_steps(target, source)
            ) from exc
        except RevisionNotFoundError as exc:
            raise ModelLoadError(
                f"revision {revision!r} does not exist in {source.hub_repo} "
                f"(the pinned one is {source.revision!r})"
            ) from exc
        except RepositoryNotFoundError as exc:
            raise ModelLoadError(
                f"{source.hub_repo} was not found or needs a login (`hf auth login`). "
                + _manual_steps(target, source)
            ) from exc
        except LocalEntryNotFoundError as exc:
            # (Before EntryNotFoundError: it subclasses it in huggingface_hub 2.)
            # What huggingface_hub raises offline (HF_HUB_OFFLINE=1) or when the Hub is
            # unreachable and no copy exists.
            raise ModelLoadError(
                f"cannot download {name} from {where}: the Hub is unreachable or offline "
                f"mode is on. " + _manual_steps(target, source)
            ) from exc
        except EntryNotFoundError as exc:
            raise ModelLoadError(
                f"{name} is not in {where}. " + _manual_steps(target, source)
            ) from exc
        except HfHubHTTPError as exc:
            raise ModelLoadError(
                f"downloading {name} from {where} failed: {exc}. " + _manual_steps(target, source)
            ) from exc
        except Exception as exc:  # noqa: BLE001 - network/disk errors of any HTTP stack
            raise ModelLoadError(
                f"downloading {name} from {where} into {target} failed: "
                f"{exc}. " + _manual_steps(target, source)
            ) from exc
    absent = missing_files(target, source)
    if absent:
        raise ModelLoadError(
            f"after downloading, {', '.join(absent)} is still missing from "
            f"{target}. " + _manual_steps(target, source)
        )
    return target
