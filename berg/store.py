"""The one store under every cache: entries addressed by key, each verified when read.

Features, transcripts and synthesised speech are all kept as files named by a key (a SHA-256
of what decides them) in ``{root}/{key[:2]}/{key}{suffix}``. :class:`ContentStore` writes
them and reads them back the same way for all three:

- *Verified.* Beside each entry, ``{key}{suffix}.sum`` records the key and the SHA-256 and
  size of the entry's bytes (an entry whose format carries its own key and digest, as a
  feature entry does, needs no record: ``self_verifying=True``). A read that finds no record,
  another key, another size or another digest is a miss: the entry is removed, that is said
  once at debug level, and the caller computes it again.
- *Durable.* An entry is written to a temporary file in its folder, flushed to the disk
  (``fsync``) and renamed over the old one (atomic), then its record likewise. A kill or a
  power cut between the two leaves an entry whose record does not match it: a miss.
- *Shared.* Files get the permissions the umask allows (``0o666 & ~umask``), folders the
  same, so a cache shared by a group (``umask 002``, a setgid folder) is readable and
  writable by all its members.
- *Tidy.* Temporary files that a killed process left behind are removed, once they are older
  than :data:`STALE_SECONDS`, by the next write to their folder and by :meth:`clear`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

from berg.errors import InvalidParameterError
from berg.files import (
    STALE_SECONDS,
    TEMPORARY_SUFFIX,
    atomic_path,
    file_sha256,
    remove_stale_temporaries,
)

__all__ = ["ContentStore", "STALE_SECONDS"]

logger = logging.getLogger(__name__)

_KEY = re.compile(r"[0-9a-f]{64}")
_RECORD = ".sum"


class ContentStore:
    """Entries of one kind under ``root``, written durably and verified when read.

    Parameters
    ----------
    root : path
        Created on the first write.
    suffix : str
        The entries' file ending (``".json"``, ``".wav"``, ``".feat"``).
    what : str
        What an entry is, for the log (``"transcript"``).
    self_verifying : bool
        The entries carry their own key and digest (their reader checks them): no record is
        kept beside them.
    """

    def __init__(
        self, root: str | os.PathLike, suffix: str, *, what: str, self_verifying: bool = False
    ):
        self.root = Path(root)
        self.suffix = suffix
        self.what = what
        self.self_verifying = self_verifying

    def __repr__(self) -> str:
        return f"ContentStore({str(self.root)!r}, {self.suffix!r})"

    # -- addressing -------------------------------------------------------------------------

    def path_for(self, key: str) -> Path:
        """Where the entry of ``key`` lives (whether or not it exists)."""
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise InvalidParameterError(
                f"a cache key is 64 lowercase hex digits (a SHA-256), got {key!r}"
            )
        return self.root / key[:2] / f"{key}{self.suffix}"

    def _record_path(self, key: str) -> Path:
        return self.path_for(key).with_name(f"{key}{self.suffix}{_RECORD}")

    # -- reading ----------------------------------------------------------------------------

    def read_bytes(self, key: str) -> bytes | None:
        """The entry's bytes if they are whole and the key's; None otherwise (a bad entry is
        removed)."""
        path = self.path_for(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            self.discard(key, f"unreadable ({error})")
            return None
        if not self.self_verifying:
            problem = self._check(key, len(data), hashlib.sha256(data).hexdigest())
            if problem:
                self.discard(key, problem)
                return None
        return data

    def verified_path(self, key: str) -> Path | None:
        """The entry's path if its bytes are whole and the key's (hashed from the disk, for a
        file handed to another reader); None otherwise (a bad entry is removed)."""
        path = self.path_for(key)
        try:
            size = path.stat().st_size
            digest = None if self.self_verifying else file_sha256(path)
        except FileNotFoundError:
            return None
        except OSError as error:
            self.discard(key, f"unreadable ({error})")
            return None
        if digest is not None:
            problem = self._check(key, size, digest)
            if problem:
                self.discard(key, problem)
                return None
        return path

    def _check(self, key: str, size: int, digest: str) -> str:
        """Why the entry does not match its record ('' when it does)."""
        try:
            record = json.loads(self._record_path(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return "without its record (its write was cut short)"
        except (OSError, ValueError) as error:
            return f"with an unreadable record ({error})"
        if not isinstance(record, dict) or record.get("key") != key:
            return "recorded for another key"
        if record.get("size") != size or record.get("sha256") != digest:
            return "changed since it was written (its digest differs from its record)"
        return ""

    # -- writing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self, key: str) -> Iterator[Path]:
        """A temporary path to write the entry of ``key`` to, by any means; on success it
        becomes the entry (flushed to the disk), with its record. On an exception nothing
        changes."""
        path = self.path_for(key)
        with atomic_path(path, durable=True) as temporary:
            yield temporary
            if not self.self_verifying:
                size, digest = temporary.stat().st_size, file_sha256(temporary)
        if not self.self_verifying:
            record = {"key": key, "size": size, "sha256": digest}
            with atomic_path(self._record_path(key), durable=True) as written:
                written.write_text(json.dumps(record), encoding="utf-8")
        remove_stale_temporaries(path.parent)

    def write_bytes(self, key: str, data: bytes) -> Path:
        """Store ``data`` as the entry of ``key``; returns its path."""
        with self.writing(key) as temporary:
            temporary.write_bytes(data)
        return self.path_for(key)

    def discard(self, key: str, why: str, identity: os.stat_result | None = None) -> None:
        """Remove the entry of ``key`` (and its record), saying why at debug level.

        With ``identity`` (the ``os.stat`` of the file that was read), the entry is removed
        only if it is still that file, not one another process has put there since.
        """
        path = self.path_for(key)
        logger.debug("%s cache entry %s is %s: computing it again", self.what, path, why)
        try:
            if identity is not None:
                current = os.stat(path)
                if (current.st_ino, current.st_dev) != (identity.st_ino, identity.st_dev):
                    return
            path.unlink()
        except FileNotFoundError:
            pass
        self._record_path(key).unlink(missing_ok=True)

    # -- housekeeping -----------------------------------------------------------------------

    def entries(self) -> list[str]:
        """Keys of the entries on disk, sorted."""
        if not self.root.is_dir():
            return []
        keys = (p.name.removesuffix(self.suffix) for p in self.root.glob(f"??/*{self.suffix}"))
        return sorted(k for k in keys if _KEY.fullmatch(k))

    def size_bytes(self) -> int:
        """Total size of the entries on disk."""
        total = 0
        for key in self.entries():
            with contextlib.suppress(FileNotFoundError):
                total += self.path_for(key).stat().st_size
        return total

    def clear(self) -> int:
        """Remove every entry, record, temporary file and lock; returns the entries removed.

        Do not run it while another process writes to this cache.
        """
        removed = 0
        for key in self.entries():
            with contextlib.suppress(FileNotFoundError):
                self.path_for(key).unlink()
                removed += 1
        if self.root.is_dir():
            for folder in self.root.glob("??"):
                for leftover in [
                    *folder.glob(f"*{self.suffix}{_RECORD}"),
                    *folder.glob(f".*{TEMPORARY_SUFFIX}"),
                    *folder.glob("*.lock"),
                ]:
                    leftover.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty
        return removed
