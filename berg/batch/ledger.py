"""The output folder of a batch: what was done, the index table, one writer at a time.

    OUT/
      <id>.npz, <id>.json, <id>.lh.func.gii, ...   each result, as ``berg encode`` writes it
      index.csv                                    id, path, sha256, status, rows, seconds, error
      .berg-batch/records.jsonl                    one line per finished attempt (the truth)
      .berg-batch/lock                             held by the batch writing to OUT
      .berg-batch/run                              this run's token: a worker that reads it
                                                   sees OUT, and writes its results there

A result's files are written (atomically) before its record is appended, and the record is
flushed to disk before the next stimulus's, so after a crash, a power cut or a killed
driver, every record describes files that exist; a stimulus whose files were written but
whose record was not is simply encoded again. ``index.csv`` is rewritten atomically from
the records after each one. The latest record of an id wins.

A stimulus is *done* for a rerun when its latest record says done with the same content
hash and settings and its files are all there. One that *failed* because of its input (a
``StimulusError`` or ``InvalidParameterError``: a damaged file, a language the voice does
not speak) with the same content and settings is not retried unless asked, as it would fail
the same way; any other failure (a full disk, a worker that died, a missing package, out of
memory) is tried again by the next run.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import secrets
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from berg.errors import InvalidParameterError
from berg.files import atomic_open

__all__ = ["Record", "Ledger", "INDEX_COLUMNS", "STATE_FOLDER"]

STATE_FOLDER = ".berg-batch"
INDEX_COLUMNS = ("id", "path", "sha256", "status", "rows", "seconds", "error")


@dataclass(frozen=True)
class Record:
    """How one attempt at one stimulus ended.

    Attributes
    ----------
    id, path : str
    sha256 : str or None
        Content hash of the stimulus file (None when it could not be read).
    status : {'done', 'failed'}
    rows : int or None
        Rows of the result (seconds of stimulus, rounded up).
    seconds : float or None
        Wall time of the encode on its worker.
    error : str or None
        ``ErrorType: message`` of a failure.
    settings : str
        Digest of the settings that decide the result.
    size, mtime_ns : int or None
        The file's size and modification time when it was hashed (a rerun rehashes only
        files whose size or time changed).
    attempts : int
        Tries it took (a worker that dies mid-stimulus costs one).
    files : tuple of str
        The result files, relative to the output folder.
    worker : str or None
        ``host:pid`` of the worker that encoded it (None if no worker did).
    final : bool
        For a failure: whether it was the input's fault (retried only when asked) rather
        than the machine's (retried by the next run).
    """

    id: str
    path: str
    sha256: str | None
    status: str
    rows: int | None
    seconds: float | None
    error: str | None
    settings: str
    size: int | None = None
    mtime_ns: int | None = None
    attempts: int = 1
    files: tuple[str, ...] = ()
    worker: str | None = None
    final: bool = True

    @classmethod
    def from_json(cls, line: str) -> Record | None:
        try:
            data = json.loads(line)
            known = {f.name for f in fields(cls)}
            data = {k: v for k, v in data.items() if k in known}
            data["files"] = tuple(data.get("files", ()))
            return cls(**data)
        except (ValueError, TypeError):
            return None  # a line cut short by a crash


def _lock(handle) -> bool:
    """Take an exclusive, non-blocking lock on an open file; False if someone holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


class Ledger:
    """The records and index of an output folder, held by one batch at a time.

    Parameters
    ----------
    folder : path
        The output folder (created if needed).

    Raises
    ------
    InvalidParameterError
        Another batch is writing to the same folder.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        state = self.folder / STATE_FOLDER
        state.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(state / "lock", "a+")  # noqa: SIM115 - held until close()
        if not _lock(self._lock_file):
            self._lock_file.close()
            raise InvalidParameterError(
                f"another batch is writing to {str(self.folder)!r}; wait for it to finish or "
                "give this one another output folder"
            )
        # A worker that finds this token in OUT sees the same folder (shared storage on a
        # cluster) and writes its results itself, so they do not travel through Ray.
        self.run_token = secrets.token_hex(16)
        with atomic_open(state / "run", "w") as file:
            file.write(self.run_token)
        self._records_path = state / "records.jsonl"
        self.latest: dict[str, Record] = {}
        if self._records_path.exists():
            for line in self._records_path.read_text(encoding="utf-8").splitlines():
                record = Record.from_json(line)
                if record is not None:
                    self.latest[record.id] = record

    @property
    def index_path(self) -> Path:
        return self.folder / "index.csv"

    def is_current(self, record: Record | None, sha256: str | None, settings: str) -> bool:
        """Whether ``record`` already answers for this content and these settings."""
        if record is None or record.sha256 != sha256 or record.settings != settings:
            return False
        if record.status == "done":
            return self._result_whole(record)
        return record.final

    def _result_whole(self, record: Record) -> bool:
        """Whether the files of a done record are all there and of one result: their sizes
        are those the result's JSON lists (a cheap check; ``berg plot`` hashes them)."""
        if not all((self.folder / name).is_file() for name in record.files):
            return False
        from berg.io import mismatched_files

        for name in record.files:
            if name.endswith(".json"):
                path = self.folder / name
                try:
                    metadata = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    return False
                return not mismatched_files(path.parent, metadata, hash_files=False)
        return True

    def add(self, record: Record) -> None:
        """Append a record, durably."""
        with open(self._records_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(record)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.latest[record.id] = record

    def write_index(self, ids: list[str], paths: dict[str, str]) -> None:
        """Rewrite ``index.csv`` (atomically) for these ids, in this order; an id without a
        record yet is ``pending``."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(INDEX_COLUMNS)
        for item_id in ids:
            record = self.latest.get(item_id)
            if record is None:
                writer.writerow([item_id, paths[item_id], "", "pending", "", "", ""])
                continue
            seconds = "" if record.seconds is None else f"{record.seconds:.3f}"
            writer.writerow(
                [
                    record.id,
                    record.path,
                    record.sha256 or "",
                    record.status,
                    "" if record.rows is None else record.rows,
                    seconds,
                    record.error or "",
                ]
            )
        data = buffer.getvalue().encode("utf-8")
        with contextlib.suppress(OSError):
            if self.index_path.read_bytes() == data:
                return  # a rerun that changed nothing leaves the file as it was
        with atomic_open(self.index_path) as handle:
            handle.write(data)

    def close(self) -> None:
        """Release the folder."""
        with contextlib.suppress(OSError):
            self._lock_file.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
