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
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["TEMPORARY_SUFFIX", "atomic_open", "atomic_path", "file_sha256", "folder_digest"]

#: Temporary files end so (and start with a dot): cleaners can tell their leftovers.
TEMPORARY_SUFFIX = ".tmp"

_SAMPLE = 1 << 16
_N_SAMPLES = 17
_WHOLE = 64 << 20  # files up to this size are hashed whole


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
        is removed and ``path`` is left as it was; on success it gets the usual permissions
        (``0o644``; temporary files are made private) and replaces ``path``.
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
        os.chmod(temporary, 0o644)
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
