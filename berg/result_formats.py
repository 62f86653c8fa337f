"""Each format a result is written in: NPZ, JSON, GIfTI (one file per hemisphere), the ROI
table as CSV and Parquet; and metadata as plain JSON types.

:func:`berg.io.write_outputs` writes a result's files, one at a time, as a unit. Every file
goes to the disk as it is made, from a block of rows at a time (a film's full-cortex
responses, 590 MB for two hours, are never copied, nor a file held in memory), and the
responses may themselves be on disk (``encode(..., out=...)``): see
:mod:`berg.response_rows`. A GIfTI file is written array by array as nibabel renders each.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from berg import cortex
from berg.errors import InvalidParameterError, MissingDependencyError, did_you_mean
from berg.response_rows import row_blocks

__all__ = [
    "FORMATS",
    "ByteCounter",
    "check_formats",
    "default_formats",
    "roi_means",
    "to_jsonable",
    "write_file",
]

FORMATS = ("npz", "json", "gifti", "csv", "parquet")


def to_jsonable(value: Any) -> Any:
    """Metadata as plain JSON types (arrays -> lists, numpy scalars -> numbers; an object
    with a ``json_summary()``, such as modality contributions, by that summary)."""
    summary = getattr(value, "json_summary", None)
    if callable(summary):
        return to_jsonable(summary())
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _gifti_header(hemisphere: str, n_arrays: int) -> tuple[bytes, bytes]:
    """The XML of a GIfTI file of ``n_arrays`` data arrays up to its first one, and its
    end: nibabel's own rendering of the image without its arrays (only the count differs),
    so that the file is byte for byte what ``GiftiImage.to_bytes`` makes of the whole."""
    import nibabel as nib

    structure = "CortexLeft" if hemisphere == "lh" else "CortexRight"
    image = nib.gifti.GiftiImage(
        meta=nib.gifti.GiftiMetaData(
            {
                "AnatomicalStructurePrimary": structure,
                "SurfaceMesh": cortex.SURFACE_MESH,
                "TimeStep": "1000",
            }
        )
    )  # ms, as Workbench reads it
    whole, end = image.to_bytes(), b"</GIFTI>"
    count = b'NumberOfDataArrays="0"'
    if not whole.endswith(end) or whole.count(count) != 1:  # a nibabel that writes otherwise
        raise RuntimeError("unexpected GIfTI layout from nibabel: cannot stream the file")
    head = whole[: -len(end)].replace(count, b'NumberOfDataArrays="%d"' % n_arrays)
    return head, end


def _write_gifti(file, responses, vertices: np.ndarray, left: bool, row_times) -> None:
    """One hemisphere's GIfTI: a data array of its 10,242 values per row (the selected
    vertices' responses, NaN elsewhere), written row by row as nibabel renders each."""
    import nibabel as nib

    half = cortex.N_VERTICES_PER_HEMISPHERE
    inside = vertices < half if left else vertices >= half
    columns = vertices[inside] - (0 if left else half)
    head, end = _gifti_header("lh" if left else "rh", len(responses))
    file.write(head)
    surface = np.full(half, np.nan, np.float32)
    for first, block in row_blocks(responses):
        for k, row in enumerate(block):
            surface[columns] = row[inside]
            array = nib.gifti.GiftiDataArray(
                surface,
                intent="NIFTI_INTENT_TIME_SERIES",
                datatype="NIFTI_TYPE_FLOAT32",
                meta={"Time_s": f"{row_times[first + k][0]:g}"},
            )
            file.write(array.to_xml())
    file.write(end)


def _write_npz(file, responses, row_times, vertices) -> None:
    """The NPZ that ``np.savez_compressed`` writes, its responses member written a block of
    rows at a time (from an array or from a file: never copied whole)."""
    import zipfile

    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as npz:
        with npz.open("responses.npy", "w", force_zip64=True) as member:
            header = {"descr": "<f4", "fortran_order": False, "shape": tuple(responses.shape)}
            np.lib.format.write_array_header_1_0(member, header)
            for _, block in row_blocks(responses):
                member.write(memoryview(block.astype("<f4", copy=False)).cast("B"))
        for name, value in (("row_times", row_times), ("vertices", vertices)):
            with npz.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)


def default_formats() -> tuple[str, ...]:
    """Every format this installation can write (parquet only when pyarrow is installed)."""
    import importlib.util

    has_arrow = importlib.util.find_spec("pyarrow") is not None
    return FORMATS if has_arrow else tuple(f for f in FORMATS if f != "parquet")


def check_formats(formats=None) -> tuple[str, ...]:
    """The formats to write, checked before anything is computed or written.

    Parameters
    ----------
    formats : iterable of str, optional
        Default: :func:`default_formats`.

    Raises
    ------
    InvalidParameterError
        An unknown format (with the closest valid one).
    MissingDependencyError
        'parquet' without pyarrow.
    """
    if formats is None:
        return default_formats()
    if isinstance(formats, str):
        formats = (formats,)
    formats = tuple(formats)
    for fmt in formats:
        if fmt not in FORMATS:
            raise InvalidParameterError(
                f"unknown output format {fmt!r}"
                f"{did_you_mean(str(fmt), FORMATS)} (valid: "
                f"{', '.join(FORMATS)})"
            )
    if "parquet" in formats and "parquet" not in default_formats():
        raise MissingDependencyError(
            "format 'parquet' needs pyarrow, which is not installed: "
            "pip install pyarrow; or leave parquet out (the same "
            "table is written as csv)"
        )
    return formats


def roi_means(responses, metadata: dict) -> tuple[list[str], np.ndarray]:
    """:func:`berg.cortex.roi_timecourses`, a block of rows at a time: the Glasser areas
    with selected vertices and their float32 ``(n_rows, n_areas)`` means."""
    names, parts = [], []
    for _, block in row_blocks(responses):
        names, means = cortex.roi_timecourses(block, metadata)
        parts.append(means)
    return names, np.concatenate(parts)


def _table_blocks(roi, row_times, rows: int = 4096) -> Iterator[dict]:
    """The tidy ROI table, one line per (row, area), as columns ``rows`` rows at a time."""
    names, values = roi
    n_areas = len(names)
    areas = np.array(names, dtype=object)
    for first in range(0, len(values), rows):
        times, block = row_times[first : first + rows], values[first : first + rows]
        yield {
            "time_start_s": np.repeat(times[:, 0], n_areas),
            "time_end_s": np.repeat(times[:, 1], n_areas),
            "roi": np.tile(areas, len(block)),
            "response": block.reshape(-1),
        }


class ByteCounter(io.RawIOBase):
    """A binary sink that keeps nothing and counts what is written to it: the size of a
    file without the disk space (for the message of a full disk)."""

    def __init__(self):
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        n = memoryview(data).nbytes
        self.size += n
        return n

    def tell(self) -> int:
        return self.size


def write_file(file, name: str, fmt: str, responses, metadata, vertices, row_times, roi):
    """Write one file of a result (not the JSON) to the binary ``file``.

    ``responses`` is an array or a memmap of a ``.npy`` file (read a block of rows at a
    time, :func:`berg.response_rows.row_blocks`); ``roi()`` gives :func:`roi_means`,
    computed once for the CSV and the Parquet file.
    """
    if fmt == "npz":
        _write_npz(file, responses, row_times, vertices)
    elif fmt == "gifti":
        _write_gifti(file, responses, vertices, name.endswith(".lh.func.gii"), row_times)
    elif fmt == "csv":
        _write_csv(file, roi(), row_times)
    else:
        _write_parquet(file, roi(), row_times)


def _write_csv(file, roi, row_times) -> None:
    text = io.TextIOWrapper(file, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(text)
        writer.writerow(["time_start_s", "time_end_s", "roi", "response"])
        for table in _table_blocks(roi, row_times):
            for start, end, area, value in zip(*table.values()):
                writer.writerow([f"{start:g}", f"{end:g}", area, f"{value:.7g}"])
        text.flush()
    finally:
        text.detach()  # the caller closes ``file``


def _write_parquet(file, roi, row_times) -> None:
    import pyarrow as pa  # there: check_formats said so
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("time_start_s", pa.float64()),
            ("time_end_s", pa.float64()),
            ("roi", pa.string()),
            ("response", pa.float32()),
        ]
    )
    with pq.ParquetWriter(file, schema) as writer:
        for table in _table_blocks(roi, row_times):
            columns = dict(table, roi=table["roi"].tolist())
            writer.write_table(pa.table(columns, schema=schema))
