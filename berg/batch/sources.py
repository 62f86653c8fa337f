"""Which stimuli a batch encodes, and the id each result is stored under.

A batch takes one of

- a **folder**: every stimulus file below it (any depth, hidden files and folders skipped),
  by its extension; id = the path relative to the folder, without the extension
  (``clips/cat.mp4`` -> ``clips/cat``);
- a **glob** (``"/data/**/*.mp4"``, recursive ``**`` allowed): the files it matches; id =
  the path relative to the folder before the first wildcard;
- a **manifest** (a ``.csv`` file): a ``path`` column (relative paths are relative to the
  manifest's folder) and an optional ``id`` column;
- a **list** of paths (Python only): id = each file's name without its extension.

Ids name the output files (``OUT/<id>.npz`` ...), so they must be unique, and they may hold
``/`` (results then go in subfolders) but no ``..``, no leading ``/`` or ``.``. Files named
by a glob, a manifest or a list are taken as they are, whatever their extension: one that is
not a usable stimulus fails on its own and is recorded, the batch goes on.
"""

from __future__ import annotations

import csv
import glob
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from berg.errors import InvalidParameterError, StimulusError
from berg.stimulus.kinds import STIMULUS_EXTENSIONS

__all__ = ["BatchItem", "collect_stimuli"]

_WILDCARDS = "*?["


@dataclass(frozen=True)
class BatchItem:
    """One stimulus of a batch.

    Attributes
    ----------
    id : str
        Its results are ``OUT/<id>.<format>``.
    path : Path
        Absolute path of the stimulus file.
    """

    id: str
    path: Path


def _check_id(item_id: str, where: str) -> str:
    item_id = item_id.strip()
    parts = item_id.split("/")
    if (
        not item_id
        or item_id.startswith(("/", "."))
        or "\\" in item_id
        or any(p in ("", ".", "..") or p.startswith(".") for p in parts)
        or any(ord(c) < 32 for c in item_id)
    ):
        raise InvalidParameterError(
            f"{where}: id {item_id!r} cannot name result files (ids are non-empty, may hold "
            f"'/' between parts, and no part is empty or starts with '.')"
        )
    return item_id


def _unique(items: list[BatchItem], where: str) -> list[BatchItem]:
    seen: dict[str, Path] = {}
    for item in items:
        if item.id in seen:
            raise InvalidParameterError(
                f"{where}: two stimuli would share the id {item.id!r} ({seen[item.id]} and "
                f"{item.path}), so their results would overwrite each other; give them ids "
                "in a manifest (a CSV with columns path,id)"
            )
        seen[item.id] = item.path
    return items


def _relative_id(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def _from_folder(folder: Path) -> list[BatchItem]:
    items = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(current) / name
            if name.startswith(".") or path.suffix.lower() not in STIMULUS_EXTENSIONS:
                continue
            items.append(
                BatchItem(_check_id(_relative_id(path, folder), str(folder)), path.resolve())
            )
    return items


def _glob_root(pattern: str) -> Path:
    """The folder before the first wildcard of a glob pattern."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if any(c in part for c in _WILDCARDS):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _from_glob(pattern: str) -> list[BatchItem]:
    expanded = os.path.expanduser(pattern)
    root = _glob_root(expanded)
    paths = sorted(Path(p) for p in glob.glob(expanded, recursive=True) if Path(p).is_file())
    return [BatchItem(_check_id(_relative_id(p, root), pattern), p.resolve()) for p in paths]


def _from_manifest(manifest: Path) -> list[BatchItem]:
    try:
        with manifest.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise StimulusError(f"cannot read the manifest {str(manifest)!r}: {error}") from error
    columns = [c.strip().lower() for c in (rows[0].keys() if rows else ())]
    if "path" not in columns:
        raise InvalidParameterError(
            f"manifest {str(manifest)!r} needs a 'path' column (and may have an 'id' "
            f"column); its columns are {columns or 'none'}"
        )
    items = []
    for line, row in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        if not row["path"]:
            raise InvalidParameterError(f"manifest {str(manifest)!r}, line {line}: empty path")
        path = Path(row["path"]).expanduser()
        path = path if path.is_absolute() else manifest.parent / path
        item_id = row.get("id") or path.stem
        items.append(BatchItem(_check_id(item_id, f"{manifest}, line {line}"), path.resolve()))
    return items


def collect_stimuli(source: str | os.PathLike | Sequence[str | os.PathLike]) -> list[BatchItem]:
    """The stimuli of a batch, in a stable order (see the module notes).

    Parameters
    ----------
    source : path, glob pattern, manifest (.csv), or a list of paths

    Returns
    -------
    list of BatchItem
        Unique ids.

    Raises
    ------
    StimulusError
        The folder or manifest does not exist, or no stimulus is found.
    InvalidParameterError
        Two stimuli would share an id, an id cannot name files, or a manifest lacks its
        ``path`` column.
    """
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        path = Path(text).expanduser()
        if path.is_dir():
            items, where = _from_folder(path.resolve()), f"folder {text!r}"
        elif path.suffix.lower() == ".csv" and path.is_file():
            items, where = _from_manifest(path.resolve()), f"manifest {text!r}"
        elif any(c in text for c in _WILDCARDS):
            items, where = _from_glob(text), f"pattern {text!r}"
        elif path.is_file():
            items, where = [BatchItem(_check_id(path.stem, text), path.resolve())], text
        else:
            raise StimulusError(
                f"{text!r} is not a folder, a manifest (.csv), a glob pattern or a stimulus file"
            )
    elif isinstance(source, Iterable):
        paths = [Path(os.fspath(p)).expanduser() for p in source]
        items = [BatchItem(_check_id(p.stem, str(p)), p.resolve()) for p in paths]
        where = "the list of stimuli"
    else:
        raise InvalidParameterError(
            f"stimuli must be a folder, a glob pattern, a manifest "
            f"(.csv) or a list of paths, got {type(source).__name__}"
        )
    if not items:
        raise StimulusError(
            f"no stimulus found in {where} (stimuli are {', '.join(STIMULUS_EXTENSIONS)} files)"
        )
    return _unique(items, where)
