"""Writing predictions in the field's formats, atomically.

    write_outputs(out_dir, stem, responses, metadata)  ->  {format: path}

- ``.npz``: ``responses`` (n_rows, n_columns) float32, ``row_times`` (n_rows, 2) in s,
  ``vertices`` (n_columns,) fsaverage5 indices;
- ``.json``: the metadata (arrays as lists);
- ``.lh.func.gii`` / ``.rh.func.gii``: GIfTI time series per hemisphere on fsaverage5
  (10,242 values per time point; vertices outside the selection are NaN), which FreeSurfer,
  nilearn, Connectome Workbench and other viewers open;
- ``_roi.csv``: a tidy table of ROI-mean time courses (one line per row and area), and the
  same table as ``_roi.parquet`` when pyarrow is installed.

A result is written as one unit (:func:`write_outputs`): every file under a temporary name
in the target folder, renamed into place only when all are complete, the JSON last, listing
the others' sizes and digests, so an interrupted run never leaves a half-written file nor a
pair of files from two runs that a reader would take for one result.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from berg import cortex
from berg.errors import (
    BERGError,
    ResultWriteError,
)
from berg.files import (
    TEMPORARY_SUFFIX,
    atomic_group,
    file_sha256,
    remove_stale_temporaries,
)
from berg.result_formats import (
    FORMATS,
    ByteCounter,
    check_formats,
    default_formats,
    roi_means,
    to_jsonable,
    write_file,
)

__all__ = [
    "FORMATS",
    "check_formats",
    "check_output_folder",
    "default_formats",
    "encode_outputs",
    "mismatched_files",
    "read_result",
    "scratch_rows",
    "to_jsonable",
    "write_outputs",
]


def check_output_folder(folder: str | os.PathLike) -> Path:
    """Check, creating nothing, that results can be written to ``folder``.

    Returns
    -------
    Path
        The folder (it may not exist yet: the first result creates it).

    Raises
    ------
    ResultWriteError
        ``folder`` is a file, or lies under a file, or in a folder that cannot be written.
    """
    folder = Path(folder).expanduser()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == folder else f"lies under the file {str(existing)!r}"
        raise ResultWriteError(
            f"the output folder {str(folder)!r} {what}; give a folder (it is created if needed)"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ResultWriteError(
            f"cannot write to the output folder {str(folder)!r}: {str(existing)!r} is not writable"
        )
    return folder


def _file_names(stem: str, formats: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(format, file name)`` of every file of a result, the JSON (the manifest) last."""
    names = {
        "npz": [f"{stem}.npz"],
        "gifti": [f"{stem}.lh.func.gii", f"{stem}.rh.func.gii"],
        "csv": [f"{stem}_roi.csv"],
        "parquet": [f"{stem}_roi.parquet"],
    }
    files = [(fmt, name) for fmt in FORMATS if fmt in formats for name in names.get(fmt, [])]
    return files + ([("json", f"{stem}.json")] if "json" in formats else [])


def write_outputs(
    out_dir: str | os.PathLike, stem: str, responses: np.ndarray, metadata: dict, formats=None
) -> dict[str, Path]:
    """Write one stimulus's predictions in the chosen formats, as one unit.

    Every file is written to a temporary name beside its target and flushed to the disk;
    only when all are complete are they renamed into place, the JSON last. The JSON lists
    the other files with their size and SHA-256 (``result_files``), so that a reader
    (:func:`read_result`, ``berg plot``, a batch rerun) tells a result whose renames a kill
    cut short from a whole one. On any failure no new file remains and an earlier result of
    the same name is intact.

    Parameters
    ----------
    out_dir : path
        Created if needed.
    stem : str
        File name stem, e.g. the stimulus's name.
    responses : np.ndarray
        float32 (n_rows, n_columns) from ``BERG.encode``; a memmap of a ``.npy`` file
        (``encode(..., out=...)``) is read a block of rows at a time, never whole.
    metadata : dict
        From ``BERG.encode(..., return_metadata=True)``.
    formats : iterable of {'npz', 'json', 'gifti', 'csv', 'parquet'}, optional
        Default: all (parquet only when pyarrow is installed).

    Returns
    -------
    dict
        format -> path written (gifti -> the left hemisphere; the right is beside it).

    Raises
    ------
    InvalidParameterError, MissingDependencyError
        From :func:`check_formats`, before any file is written.
    ResultWriteError
        The disk is full (the message names the folder, the space the result needs and
        what is free) or the folder cannot be written.
    """
    formats = check_formats(formats)
    out = Path(out_dir)
    vertices = cortex.result_vertices(responses, metadata)
    row_times = np.asarray(metadata["timing"]["row_times_s"], dtype=np.float64)
    files = _file_names(stem, formats)
    roi = functools.cache(lambda: roi_means(responses, metadata))
    args = (responses, metadata, vertices, row_times, roi)
    manifest: dict[str, dict] = {}
    try:
        with atomic_group([out / name for _, name in files]) as temporaries:
            for (fmt, name), temporary in zip(files, temporaries):
                if fmt == "json":
                    document = dict(to_jsonable(metadata), result_files=manifest)
                    temporary.write_bytes(json.dumps(document, indent=1).encode("utf-8"))
                    continue
                with open(temporary, "wb") as file:
                    write_file(file, name, fmt, *args)
                manifest[Path(name).name] = {
                    "size": temporary.stat().st_size,
                    "sha256": file_sha256(temporary),
                }
    except OSError as error:
        raise _write_error(error, out, files, args) from error
    for _, name in files:  # what killed writes of this result left long ago
        remove_stale_temporaries((out / name).parent, Path(name).name)
    written: dict[str, Path] = {}
    for fmt, name in files:
        written.setdefault(fmt, out / name)
    return written


@contextlib.contextmanager
def scratch_rows(out_dir: str | os.PathLike, stem: str) -> Iterator[Path]:
    """A ``.npy`` path in a scratch folder of ``out_dir`` for ``encode(..., out=...)``,
    removed with its folder when the block ends, whatever happens (one a kill left is
    removed by a later result of the same stem, a day on). A stem with folders (a batch
    item ``sub/clip``) has its scratch folder beside its files."""
    target = Path(out_dir) / stem
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target.parent, f"{target.name}.rows")
    scratch = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.rows.", suffix=TEMPORARY_SUFFIX, dir=target.parent)
    )
    try:
        yield scratch / "responses.npy"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def encode_outputs(
    model, stimulus, out_dir: str | os.PathLike, stem: str, formats=None, *, show_progress=False
) -> tuple[dict[str, Path], tuple[int, int], dict]:
    """Encode one stimulus and write its result, never holding its responses whole.

    The brain model writes the responses, as it predicts them, to a scratch ``.npy`` file
    in ``out_dir`` (:func:`scratch_rows`, ``encode(..., out=...)``); :func:`write_outputs`
    reads them from there a block of rows at a time. What ``berg encode`` and a batch
    worker that sees the output folder run: a film costs the memory of a short clip.

    Parameters
    ----------
    model : TribeV2Model
        From ``BERG.get_encoding_model``.
    stimulus : path
    out_dir, stem, formats
        As for :func:`write_outputs` (``formats`` checked before anything is computed).
    show_progress : bool

    Returns
    -------
    written : dict
        As :func:`write_outputs` returns it.
    shape : tuple of int
        ``(n_rows, n_columns)`` of the responses.
    metadata : dict
        As ``encode(..., return_metadata=True)`` returns it.
    """
    formats = check_formats(formats)
    with scratch_rows(out_dir, stem) as rows:
        responses, metadata = model.encode(
            stimulus, return_metadata=True, show_progress=show_progress, out=rows
        )
        shape = tuple(responses.shape)
        written = write_outputs(out_dir, stem, responses, metadata, formats)
        del responses  # the map, before its file goes
    return written, shape, metadata


def _write_error(error: OSError, out: Path, files, args) -> ResultWriteError:
    """The error for a result that could not be written: where, and for a full disk, how
    much it needs (every file measured, one at a time) against what is free."""
    if error.errno != errno.ENOSPC:
        return ResultWriteError(f"cannot write the result in {str(out)!r}: {error}")
    needed = (
        sum(_measured(name, fmt, args) for fmt, name in files if fmt != "json")
        + len(json.dumps(to_jsonable(args[1]), indent=1))
        + 1000 * len(files)
    )
    try:
        free = f"{shutil.disk_usage(out).free / 1e6:,.1f} MB free"
    except OSError:
        free = "free space unknown"
    written = ResultWriteError(
        f"the disk of {str(out)!r} is full: the result ({len(files)} files) needs about "
        f"{needed / 1e6:,.1f} MB, {free}; nothing of it was left there. Free some space or "
        "write elsewhere"
    )
    written.errno = errno.ENOSPC
    return written


def _measured(name: str, fmt: str, args) -> int:
    """Bytes of one file of a result, written to nowhere."""
    with ByteCounter() as sink:
        write_file(sink, name, fmt, *args)
        return sink.size


def read_result(npz_path: str | os.PathLike) -> tuple[np.ndarray, dict]:
    """A result that ``berg encode`` (or a batch) wrote: ``NAME.npz`` and ``NAME.json``.

    Returns
    -------
    responses : np.ndarray
        float32 (n_rows, n_columns).
    metadata : dict
        As ``BERG.encode`` returns it, its arrays (ROI labels and assignments, selected
        vertices, row times) as numpy arrays again.

    Raises
    ------
    BERGError
        Either file is missing, or the two are not of one result: the NPZ is not the one
        the JSON lists (``result_files``), as when a kill cut a rewrite of the result short.
    """
    npz_path = Path(npz_path)
    json_path = npz_path.with_suffix(".json")
    for path in (npz_path, json_path):
        if not path.is_file():
            raise BERGError(
                f"{path} does not exist; a result is the NAME.npz and NAME.json "
                "that `berg encode` writes"
            )
    metadata = json.loads(json_path.read_text(encoding="utf-8"))
    data = npz_path.read_bytes()
    problem = mismatched_files(json_path.parent, metadata, names=[npz_path.name], data=data)
    if problem:
        raise BERGError(
            f"{npz_path} and {json_path.name} are not of one result ({problem}): a write of "
            "the result was cut short; encode the stimulus again"
        )
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        responses = npz["responses"]
    for part, key in (
        ("roi", "roi_labels"),
        ("roi", "roi_assignments"),
        ("selection", "vertices"),
        ("timing", "row_times_s"),
    ):
        metadata[part][key] = np.asarray(metadata[part][key])
    return responses, metadata


def mismatched_files(
    folder: str | os.PathLike,
    metadata: dict,
    *,
    names: list[str] | None = None,
    data: bytes | None = None,
    hash_files: bool = True,
) -> str:
    """Why the files beside a result's JSON are not the ones it lists ('' when they are).

    Parameters
    ----------
    folder : path
        Where the result is.
    metadata : dict
        The JSON, read; results written before berg listed their files pass as they are.
    names : list of str, optional
        The files to check (default: every one the JSON lists).
    data : bytes, optional
        The bytes of the one file named in ``names``, when the caller has read them.
    hash_files : bool
        Compare SHA-256 digests; False compares sizes only (cheap, for many results).
    """
    listed = metadata.get("result_files")
    if not isinstance(listed, dict):
        return ""
    for name in listed if names is None else names:
        expected = listed.get(name)
        if not isinstance(expected, dict):
            return f"{name} is not one of its files"
        path = Path(folder) / name
        try:
            if data is not None:
                size, digest = len(data), hashlib.sha256(data).hexdigest() if hash_files else None
            else:
                size = path.stat().st_size
                digest = file_sha256(path) if hash_files else None
        except FileNotFoundError:
            return f"{name} is missing"
        if size != expected.get("size") or (hash_files and digest != expected.get("sha256")):
            return f"{name} differs from the one it lists"
    return ""
