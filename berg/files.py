"""Files: written whole or not at all, and identified by their content.

Writing. A file is written to a temporary name in its own folder and renamed over the target
only once it is complete (``os.replace`` is atomic on POSIX and Windows), so a reader, a
crash or a full disk never leaves a half-written result, cache entry or index behind; each
writer gets a temporary name of its own, so two runs never share one. :func:`atomic_path`
gives that temporary path (for a program or library that writes to a path), and
:func:`atomic_open` a file object on it. ``durable=True`` also flushes the file and the
folder to the disk before returning, for entries that must survive a power cut.

Content. :func:`file_sha256` hashes a stimulus's bytes; :func:`folder_digest` identifies a
model folder without reading gigabytes of weights. Both key the caches.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "TEMPORARY_SUFFIX",
    "atomic_group",
    "atomic_open",
    "atomic_path",
    "file_mode",
    "file_sha256",
    "folder_digest",
    "remove_stale_temporaries",
]

#: Temporary files end so (and start with a dot): cleaners can tell their leftovers.
TEMPORARY_SUFFIX = ".tmp"
#: A temporary file this old was left by a process that died (no write takes a day).
STALE_SECONDS = 24 * 3600

_SAMPLE = 1 << 16
_N_SAMPLES = 17
_WHOLE = 64 << 20  # files up to this size are hashed whole


def file_mode() -> int:
    """The permissions ``open()`` would give a new file: ``0o666`` less the umask.

    Read from ``/proc/self/status`` where there is one (Linux), so the umask is never
    changed; elsewhere it is read by setting it and setting it back at once.
    """
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync(path: str | os.PathLike) -> None:
    """Flush a file or a folder to the disk; best effort for folders (not every platform
    can open one)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        if Path(path).is_dir():
            return
        raise
    try:
        os.fsync(descriptor)
    except OSError:
        if not Path(path).is_dir():
            raise
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike, *, durable: bool = False, make_parents: bool = True
) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed to ``path`` when the block succeeds.

    Parameters
    ----------
    path : path
        The file to (re)place.
    durable : bool
        Flush the file and the folder to the disk (``fsync``) before returning.
    make_parents : bool
        Create the folder if needed; when False a missing folder is a FileNotFoundError.

    Yields
    ------
    Path
        An empty file to write, by any means, inside the ``with`` block. On an exception it
        is removed and ``path`` is left as it was; on success it gets the permissions of a
        new file (:func:`file_mode`: ``0o666`` less the umask; temporary files are made
        private) and replaces ``path``.
    """
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent
    )
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        if durable:
            _fsync(temporary)
        os.chmod(temporary, file_mode())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        _fsync(path.parent)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike, mode: str = "wb", *, durable: bool = False, make_parents: bool = True
) -> Iterator[Any]:
    """Open a temporary file beside ``path``; rename it to ``path`` only on success.

    Parameters
    ----------
    path : path
        The file to (re)place.
    mode : {'wb', 'w'}
        Text mode writes UTF-8 with newlines as given.
    durable, make_parents : bool
        As for :func:`atomic_path`.

    Yields
    ------
    file
        Write to it inside the ``with`` block; on an exception the temporary file is removed
        and ``path`` is left as it was.
    """
    text = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
    with (
        atomic_path(path, durable=durable, make_parents=make_parents) as temporary,
        open(temporary, mode, **text) as f,
    ):
        yield f


@contextlib.contextmanager
def atomic_group(
    paths: Sequence[str | os.PathLike], *, durable: bool = True
) -> Iterator[list[Path]]:
    """Temporary paths for several files, renamed to ``paths`` (in that order) once the
    block succeeds: the files of one result, replaced together.

    On an exception every temporary file is removed and no target is touched. The renames
    themselves are one after the other: a kill between two of them leaves some targets new
    and some old, which is why the last file should say what the others are (the result's
    JSON lists its files' digests).

    Parameters
    ----------
    paths : sequence of path
        The files to (re)place, all in existing or creatable folders.
    durable : bool
        Flush every file to the disk before the first rename, and the folders after.

    Yields
    ------
    list of Path
        One empty temporary file per target, beside it.
    """
    targets = [Path(p) for p in paths]
    temporaries: list[Path] = []
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            descriptor, name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=TEMPORARY_SUFFIX, dir=target.parent
            )
            os.close(descriptor)
            temporaries.append(Path(name))
        yield list(temporaries)
        mode = file_mode()
        for temporary in temporaries:
            if durable:
                _fsync(temporary)
            os.chmod(temporary, mode)
        for temporary, target in zip(temporaries, targets):
            os.replace(temporary, target)
    except BaseException:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
        raise
    if durable:
        for folder in dict.fromkeys(t.parent for t in targets):
            _fsync(folder)


def remove_stale_temporaries(
    folder: str | os.PathLike, name: str = "", older_than: float = STALE_SECONDS
) -> int:
    """Remove the temporary files (and scratch folders) that writers killed long ago left
    in ``folder``.

    Parameters
    ----------
    folder : path
    name : str
        Only those of this target file name (``""``: of any).
    older_than : float
        Seconds since they were last written: a live writer's file is never that old.

    Returns
    -------
    int
        How many were removed.
    """
    removed = 0
    limit = time.time() - older_than
    for leftover in Path(folder).glob(f".{glob.escape(name)}*{TEMPORARY_SUFFIX}"):
        try:
            if leftover.stat().st_mtime < limit:
                if leftover.is_dir():  # a scratch folder (``berg.io.encode_outputs``)
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """sha256 (hex) of a file's bytes, read ``chunk`` bytes at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def folder_digest(folder: str | os.PathLike) -> str:
    """A content digest of a model folder's top-level files, for cache keys.

    Small files (configs, tokenizer: up to 64 MiB) are hashed whole, larger ones (weights) by
    their size and 17 evenly spaced 64 KiB samples, their header included: that tells apart
    any two real checkpoints without reading gigabytes. Hidden files are left out.

    Parameters
    ----------
    folder : path

    Returns
    -------
    str
        A SHA-256 hex digest of the names, sizes and contents.
    """
    digest = hashlib.sha256()
    for path in sorted(
        p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith(".")
    ):
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        with open(path, "rb") as handle:
            if size <= _WHOLE:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
                continue
            for j in range(_N_SAMPLES):
                handle.seek((size - _SAMPLE) * j // (_N_SAMPLES - 1))
                digest.update(handle.read(_SAMPLE))
    return digest.hexdigest()
