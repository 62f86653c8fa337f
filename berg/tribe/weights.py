"""Finding the TRIBE v2 weights on disk, or fetching them from the Hugging Face Hub.

BERG keeps every model's files under ``{berg_dir}/encoding_models/modality-.../model-.../``.
For TRIBE v2 these are ``config.yaml`` and ``best.ckpt`` from ``facebook/tribev2``. They are
CC-BY-NC-4.0: berg never ships them; the user's machine downloads them (once) from the Hub,
at a pinned revision so that everybody gets the same numbers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from berg.errors import InvalidParameterError, ModelLoadError
from berg.hub import MissingModelError, fetch_file, hub_unreachable, is_commit, verify_files
from berg.progress import silent_tqdm_class
from berg.registry import WeightsSource

__all__ = ["fetch_weights", "locate_weights", "missing_files", "weights_commit"]


def missing_files(directory: Path, source: WeightsSource) -> list[str]:
    """Names of ``source.files`` that are not regular, non-empty files in ``directory``."""
    return [
        name
        for name in source.files
        if not (directory / name).is_file() or (directory / name).stat().st_size == 0
    ]


def installed_weights(
    berg_dir: str | os.PathLike, source: WeightsSource, *, hub_cache: bool = True
) -> Path | None:
    """The first folder that holds every weight file, or None.

    In order: the model's folder in ``berg_dir`` (``source.berg_path``), the folders of its
    other ids (``source.also_in``), each also with an ``encoding_models_weights/``
    subfolder (where a BERG download may have put them); then, with ``hub_cache``, the
    Hugging Face cache at the pinned commit (the official package's download), used in
    place once its files match the digests the card records.
    """
    root = _as_path(berg_dir, "berg_dir")
    for relative in (source.berg_path, *source.also_in):
        for folder in (root / relative, root / relative / "encoding_models_weights"):
            if folder.is_dir() and not missing_files(folder, source):
                return folder
    return _in_hub_cache(source) if hub_cache else None


def weights_commit(folder: Path, source: WeightsSource) -> str | None:
    """The Hub commit the weights in ``folder`` came from, when the disk says (None: not
    known, e.g. files copied by hand).

    A Hugging Face cache snapshot is named after its commit; a download into a BERG folder
    leaves the Hub client's record of each file beside it
    (``.cache/huggingface/download/<file>.metadata``, the commit on its first line). For a
    card whose revision is a branch (``main``), this is how results say which weights made
    them.
    """
    folder = Path(folder)
    if folder.parent.name == "snapshots" and is_commit(folder.name):
        return folder.name
    record = folder / ".cache" / "huggingface" / "download" / f"{source.files[-1]}.metadata"
    try:
        first = record.read_text(encoding="utf-8").splitlines()[0].strip()
    except (OSError, IndexError, UnicodeDecodeError):
        return None
    return first if is_commit(first) else None


def _in_hub_cache(source: WeightsSource) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    from berg.hub import verify_snapshot

    paths = [
        try_to_load_from_cache(source.hub_repo, name, revision=source.revision)
        for name in source.files
    ]
    if not all(isinstance(p, str) for p in paths):
        return None
    folder = Path(paths[0]).parent
    if missing_files(folder, source):
        return None
    verify_snapshot(
        folder,
        commit=source.revision,
        sha256=source.sha256,
        sizes=source.sizes,
        what=f"{source.hub_repo} at {source.revision}",
    )
    return folder


def _as_path(value: object, what: str) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidParameterError(
            f"{what} must be a path (str or os.PathLike), got {type(value).__name__} {value!r}"
        )
    return Path(value).expanduser()


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
    found = installed_weights(berg_dir, source, hub_cache=revision in (None, source.revision))
    if found is not None:
        return found
    absent = missing_files(target, source)
    if not download:
        raise MissingModelError(
            f"the weights are not installed: {', '.join(absent)} missing from {target}. "
            + _manual_steps(target, source),
            reason="download=False",
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
    tqdm_class=None,
) -> Path:
    """Download the weight files from the Hub into ``target``.

    Each file arrives under a temporary name and is renamed into place when complete, so an
    interrupted download never leaves a truncated ``best.ckpt`` where berg would load it.

    ``tqdm_class`` replaces the Hub client's progress bar (``berg download`` passes one
    that feeds its single bar over every model).

    Returns
    -------
    Path
        ``target``, now holding every file of ``source``.
    """
    revision = revision or source.revision
    names = only or source.files
    unreachable = hub_unreachable(endpoint)
    if unreachable:  # before the Hub client's retries, and before any folder is made
        raise MissingModelError(
            f"cannot download {', '.join(names)} from {source.hub_repo} (revision {revision}): "
            f"the Hub is unreachable or offline mode is on ({unreachable}). "
            + _manual_steps(target, source),
            reason=unreachable,
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
        _download(target, source, revision, show_progress, endpoint, names, tqdm_class)
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


def verify_downloaded(target: Path, source: WeightsSource, names) -> dict[str, dict]:
    """Check downloaded weight files against the sizes and SHA-256 digests the card knows
    for the pinned commit, and record the check beside them (``.berg-verified.json``).

    Raises
    ------
    ModelLoadError
        A file is not the one the pinned revision holds: it is removed, and the message
        names it with both sizes or digests.
    """
    return verify_files(
        target,
        names,
        sha256=source.sha256,
        sizes=source.sizes,
        what=f"{source.hub_repo} at {source.revision}",
    )


def _download(target, source, revision, show_progress, endpoint, names, tqdm_class) -> None:
    """Each of ``names`` from the Hub into ``target``, or the error that says what to do."""
    if tqdm_class is None and not show_progress:
        tqdm_class = silent_tqdm_class()
    for name in names:
        fetch_file(
            source.hub_repo,
            name,
            revision,
            next_step=_manual_steps(target, source),
            local_dir=target,
            endpoint=endpoint,
            tqdm_class=tqdm_class,
        )
