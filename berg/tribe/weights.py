"""Finding the TRIBE v2 weights on disk, or fetching them from the Hugging Face Hub.

BERG keeps every model's files under ``{berg_dir}/encoding_models/modality-.../model-.../``.
For TRIBE v2 these are ``config.yaml`` and ``best.ckpt`` from ``facebook/tribev2``. They are
CC-BY-NC-4.0: berg never ships them; the user's machine downloads them (once) from the Hub,
at a pinned revision so that everybody gets the same numbers.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from berg.errors import InvalidParameterError, ModelLoadError
from berg.network import hub_unreachable
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


def _reason(error: BaseException) -> str:
    """An error's first line, without its closing full stop (the message goes on)."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    return lines[0].rstrip(". ")


def _manual_steps(target: Path, source: WeightsSource) -> str:
    """What to do instead, in one line, for the command line and for Python."""
    files = " and ".join(
        f"{name} (https://huggingface.co/{source.hub_repo}/resolve/{source.revision}/{name})"
        for name in source.files
    )
    return (
        f"Fetch them where there is internet with `berg download` (then copy the BERG "
        f"directory's {source.berg_path} here), put {files} into {target}, or name a folder "
        f"that holds them (berg encode --checkpoint-dir DIR; checkpoint_dir= in Python)"
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
    revision = revision or source.revision
    names = only or source.files
    unreachable = hub_unreachable(endpoint)
    if unreachable:  # before the Hub client's retries, and before any folder is made
        raise ModelLoadError(
            f"cannot download {', '.join(names)} from {source.hub_repo} (revision {revision}): "
            f"the Hub is unreachable or offline mode is on ({unreachable}). "
            + _manual_steps(target, source)
        )
    created = target
    while not created.parent.exists() and created.parent != created:
        created = created.parent  # the first folder this download makes, if any
    created = None if created.exists() else created
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelLoadError(f"cannot create the weights folder {target}: {exc}") from exc
    try:
        _download(target, source, revision, show_progress, endpoint, names)
    except BaseException:
        # A failed first download leaves no folders behind (nor the Hub client's locks in
        # them): a mistyped berg_dir must not stay on the disk.
        if created is not None and not any((target / name).exists() for name in source.files):
            shutil.rmtree(created, ignore_errors=True)
        raise
    absent = missing_files(target, source)
    if absent:
        raise ModelLoadError(
            f"after downloading, {', '.join(absent)} is still missing from "
            f"{target}. " + _manual_steps(target, source)
        )
    if revision == source.revision:  # digests are known for the pinned commit only
        verify_downloaded(target, source, names)
    return target


#: Beside the weights: what was checked after the download (name -> size, mtime, sha256).
VERIFIED_RECORD = ".berg-verified.json"


def verify_downloaded(target: Path, source: WeightsSource, names) -> dict[str, dict]:
    """Check downloaded files against the sizes and SHA-256 digests the card knows, and
    record the check beside them (:data:`VERIFIED_RECORD`).

    Raises
    ------
    ModelLoadError
        A file is not the one the pinned revision holds: it is removed, and the message
        names it with both sizes or digests.
    """
    import json

    from berg.files import atomic_open, file_sha256

    record_path = target / VERIFIED_RECORD
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    for name in names:
        path = target / name
        facts = path.stat()
        found = {"size": facts.st_size, "mtime_ns": facts.st_mtime_ns}
        problem = ""
        if name in source.sizes and facts.st_size != source.sizes[name]:
            problem = f"{facts.st_size:,} bytes where it has {source.sizes[name]:,}"
        elif name in source.sha256:
            found["sha256"] = file_sha256(path)
            if found["sha256"] != source.sha256[name]:
                problem = f"sha256 {found['sha256']} where it has {source.sha256[name]}"
        if problem:
            path.unlink(missing_ok=True)
            raise ModelLoadError(
                f"{name} downloaded from {source.hub_repo} is not the file of revision "
                f"{source.revision}: {problem}; it was removed. Run the same command again; "
                "if it happens again, the Hub or a proxy serves another file"
            )
        record[name] = found
    with atomic_open(record_path, "w") as handle:
        json.dump(record, handle, indent=1)
    return record


def _download(target, source, revision, show_progress, endpoint, names) -> None:
    """Each of ``names`` from the Hub into ``target``, or the error that says what to do."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{source.hub_repo} (revision {revision})"
    for name in names:
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
                f"downloading {name} from {where} failed: {_reason(exc)}. "
                + _manual_steps(target, source)
            ) from exc
        except Exception as exc:  # noqa: BLE001 - network/disk errors of any HTTP stack
            short = re.search(r"should be of size (\d+) but has size (\d+)", str(exc))
            if short:  # huggingface_hub's check of the length the server announced
                expected, got = (int(n) for n in short.groups())
                raise ModelLoadError(
                    f"the download of {name} from {where} was cut short ({got:,} of "
                    f"{expected:,} bytes arrived): the connection dropped; run the same "
                    "command again"
                ) from exc
            raise ModelLoadError(
                f"downloading {name} from {where} into {target} failed: "
                f"{_reason(exc)}. " + _manual_steps(target, source)
            ) from exc
