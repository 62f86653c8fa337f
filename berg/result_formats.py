"""Each format a result is written in: NPZ, JSON, GIfTI (one file per hemisphere), the ROI
table as CSV and Parquet; and metadata as plain JSON types.

:func:`berg.io.write_outputs` writes a result's files, one at a time, as a unit. NPZ, CSV and
Parquet go to the file as they are made (a film's full-cortex responses, 600 MB for two
hours, are not copied, nor its compressed archive held in memory); a GIfTI file is made whole
by nibabel first, one hemisphere at a time.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from berg import cortex
from berg.errors import InvalidParameterError, MissingDependencyError, did_you_mean

__all__ = [
    "FORMATS",
    "ByteCounter",
    "check_formats",
    "default_formats",
    "roi_table",
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


def _hemisphere_surface(responses: np.ndarray, vertices: np.ndarray, left: bool) -> np.ndarray:
    """One hemisphere's 10,242 values per row: the selected vertices' responses, NaN
    elsewhere."""
    half = cortex.N_VERTICES_PER_HEMISPHERE
    inside = vertices < half if left else vertices >= half
    surface = np.full((len(responses), half), np.nan, np.float32)
    surface[:, vertices[inside] - (0 if left else half)] = responses[:, inside]
    return surface


def _gifti_bytes(values: np.ndarray, hemisphere: str, row_times) -> bytes:
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
    for row, (start, _) in zip(values, row_times):
        image.add_gifti_data_array(
            nib.gifti.GiftiDataArray(
                row.astype(np.float32),
                intent="NIFTI_INTENT_TIME_SERIES",
                datatype="NIFTI_TYPE_FLOAT32",
                meta={"Time_s": f"{start:g}"},
            )
        )
    return image.to_bytes()


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


def roi_table(responses: np.ndarray, metadata: dict, row_times: np.ndarray) -> dict:
    """The tidy ROI table as columns: one line per (row, area)."""
    names, values = cortex.roi_timecourses(responses, metadata)
    n_rows, n_areas = values.shape
    return {
        "time_start_s": np.repeat(row_times[:, 0], n_areas),
        "time_end_s": np.repeat(row_times[:, 1], n_areas),
        "roi": np.tile(np.array(names, dtype=object), n_rows),
        "response": values.reshape(-1),
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


def write_file(file, name: str, fmt: str, responses, metadata, vertices, row_times, table):
    """Write one file of a result (not the JSON) to the binary ``file``; ``table()`` gives
    the ROI table, computed once for the CSV and the Parquet file."""
    if fmt == "npz":
        # float32 already (then not copied); numpy writes each array in 16 MiB pieces.
        responses = np.asarray(responses, dtype=np.float32)
        np.savez_compressed(file, responses=responses, row_times=row_times, vertices=vertices)
        return
    if fmt == "gifti":
        left = name.endswith(".lh.func.gii")
        values = _hemisphere_surface(responses, vertices, left)
        file.write(_gifti_bytes(values, "lh" if left else "rh", row_times))
        return
    table = table()
    if fmt == "csv":
        text = io.TextIOWrapper(file, encoding="utf-8", newline="", write_through=True)
        try:
            writer = csv.writer(text)
            writer.writerow(list(table))
            for start, end, area, value in zip(*table.values()):
                writer.writerow([f"{start:g}", f"{end:g}", area, f"{value:.7g}"])
            text.flush()
        finally:
            text.detach()  # the caller closes ``file``
        return
    import pyarrow as pa  # there: check_formats said so
    import pyarrow.parquet as pq

    arrow = pa.table(
        {
            "time_start_s": table["time_start_s"],
            "time_end_s": table["time_end_s"],
            "roi": pa.array(table["roi"].tolist(), pa.string()),
            "response": table["response"].astype(np.float32),
        }
    )
    pq.write_table(arrow, file)
