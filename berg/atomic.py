"""Files that appear whole or not at all.

A file is written to a temporary name in its own folder and renamed over the target only once
it is complete (``os.replace`` is atomic on POSIX and Windows), so a reader, a crash or a full
disk never leaves a half-written result, cache entry or index behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_open"]


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[Any]:
    """Open a temporary file beside ``path``; rename it to ``path`` only on success.

    Parameters
    ----------
    path : path
        The file to (re)place; its folder is created if needed.
    mode : {'wb', 'w'}
        Text mode writes UTF-8 with newlines as given.

    Yields
    ------
    file
        Write to it inside the ``with`` block; on an exception the temporary file is removed
        and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8",
                                                            "newline": ""})) as f:
            yield f
        os.chmod(tmp, 0o644)  # mkstemp makes files readable by their owner only
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
