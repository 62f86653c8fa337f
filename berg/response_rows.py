"""A result's rows on disk: responses written to a ``.npy`` file as they are predicted, and
read back in blocks of rows, so that a film's responses are never all in memory.

A two-hour film's full-cortex responses are 7,200 x 20,484 float32, 590 MB. ``encode(...,
out="film.npy")`` writes them with a :class:`RowWriter` (the brain model predicts a batch of
windows at a time, in order) and returns the file opened as a read-only ``np.memmap``. The
result writers read any responses through :func:`row_blocks`, which reads a whole-file memmap
with plain file reads (a page of a mapping that has been read stays resident in the process
until it is unmapped; a read into a block buffer does not), and an array in memory by slices.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from berg.errors import InvalidParameterError
from berg.files import atomic_path

__all__ = ["ROW_BLOCK", "RowWriter", "check_rows_path", "row_blocks", "rows_file"]

#: Rows per block read by the result writers: 256 full-cortex rows are 21 MB.
ROW_BLOCK = 256

_DTYPE = np.dtype("<f4")


def check_rows_path(path) -> Path:
    """``out`` of ``encode``, checked before anything is computed.

    Raises
    ------
    InvalidParameterError
        Not a path, not ending in ``.npy``, a folder, or in a folder that does not exist.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidParameterError(
            f"out must be the path of a .npy file, got {type(path).__name__}"
        )
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise InvalidParameterError(
            f"out must be a .npy file (the responses, as numpy.load reads them), got {str(path)!r}"
        )
    if path.is_dir():
        raise InvalidParameterError(f"out {str(path)!r} is a folder; give a file name in it")
    if not path.parent.is_dir():
        raise InvalidParameterError(
            f"the folder of out {str(path)!r} does not exist; create it first"
        )
    return path


class RowWriter:
    """The rows of a float32 ``(n_rows, n_columns)`` array, written to a binary file in
    order: ``writer[a:b] = values`` for consecutive ``a``, as into an array.

    Parameters
    ----------
    file : binary file
        Written from its current position: the ``.npy`` header, then the rows.
    shape : tuple of int
        ``(n_rows, n_columns)``.
    """

    def __init__(self, file, shape: tuple[int, int]):
        self.shape = (int(shape[0]), int(shape[1]))
        self.rows_written = 0
        self._file = file
        np.lib.format.write_array_header_1_0(
            file, {"descr": _DTYPE.str, "fortran_order": False, "shape": self.shape}
        )

    def __setitem__(self, index: slice, values) -> None:
        start, stop, step = index.indices(self.shape[0])
        if step != 1 or start != self.rows_written:
            raise ValueError(
                f"rows are written in order: row {self.rows_written} is next, not {start}"
            )
        block = np.ascontiguousarray(values, dtype=_DTYPE)
        if block.shape != (stop - start, self.shape[1]):
            raise ValueError(
                f"rows {start}:{stop} take shape {(stop - start, self.shape[1])}, got {block.shape}"
            )
        self._file.write(memoryview(block).cast("B"))
        self.rows_written = stop

    @property
    def complete(self) -> bool:
        """Whether every row has been written."""
        return self.rows_written == self.shape[0]


@contextlib.contextmanager
def rows_file(path: Path, shape: tuple[int, int]) -> Iterator[RowWriter]:
    """A :class:`RowWriter` on a temporary file beside ``path``, renamed to ``path`` once
    every row is written; on an exception (or rows missing) nothing is left at ``path``
    (an earlier file there is untouched)."""
    with atomic_path(path, make_parents=False) as temporary, open(temporary, "wb") as file:
        writer = RowWriter(file, shape)
        yield writer
        if not writer.complete:
            raise RuntimeError(
                f"{writer.rows_written} of {writer.shape[0]} rows were written to {path}"
            )


def _whole_file_map(responses) -> bool:
    """Whether ``responses`` is a read-only memmap of a whole ``.npy`` file's float32 data
    (as ``np.load(..., mmap_mode='r')`` gives it), readable at its ``offset`` in its file:
    a slice of one keeps its parent's offset, which is why only the map itself counts."""
    return (
        isinstance(responses, np.memmap)
        and isinstance(responses.base, mmap.mmap)
        and responses.filename is not None
        and responses.dtype == _DTYPE
        and responses.ndim == 2
        and responses.flags.c_contiguous
    )


def row_blocks(responses, block_rows: int = ROW_BLOCK) -> Iterator[tuple[int, np.ndarray]]:
    """The rows of ``responses``, ``block_rows`` at a time.

    Parameters
    ----------
    responses : np.ndarray or np.memmap
        ``(n_rows, n_columns)``.
    block_rows : int

    Yields
    ------
    start : int
        Index of the block's first row.
    block : np.ndarray
        float32 ``(<= block_rows, n_columns)``, C-contiguous: a view of an array in memory,
        a copy read from the file of a memmap (its pages are not touched).
    """
    n_rows = len(responses)
    if not _whole_file_map(responses):
        for start in range(0, n_rows, block_rows):
            yield start, np.ascontiguousarray(responses[start : start + block_rows], np.float32)
        return
    n_columns = responses.shape[1]
    with open(responses.filename, "rb") as file:
        file.seek(responses.offset)
        for start in range(0, n_rows, block_rows):
            count = min(block_rows, n_rows - start)
            block = np.empty((count, n_columns), np.float32)
            if file.readinto(memoryview(block).cast("B")) != block.nbytes:
                raise OSError(f"{responses.filename} ends before its {n_rows} rows")
            yield start, block
