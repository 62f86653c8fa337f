"""Each format a result is written in, as bytes: NPZ, JSON, GIfTI (one file per
hemisphere), the ROI table as CSV and Parquet; and metadata as plain JSON types.

:func:`berg.io.write_outputs` writes a result's files, one rendered at a time, as a unit.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from berg import cortex
from berg.errors import InvalidParameterError, MissingDependencyError, did_you_mean

__all__ = ["FORMATS", "check_formats", "default_formats", "render_file", "roi_table", "to_jsonable"]

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


def render_file(name: str, fmt: str, responses, metadata, vertices, row_times, table) -> bytes:
    """The bytes of one file of a result (one at a time: the peak memory is one file's);
    ``table()`` gives the ROI table, computed once for the CSV and the Parquet file."""
    if fmt == "npz":
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, responses=responses.astype(np.float32), row_times=row_times, vertices=vertices
        )
        return buffer.getvalue()
    if fmt == "gifti":
        left = name.endswith(".lh.func.gii")
        values = _hemisphere_surface(responses, vertices, left)
        return _gifti_bytes(values, "lh" if left else "rh", row_times)
    table = table()
    if fmt == "csv":
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(list(table))
        for start, end, area, value in zip(*table.values()):
            writer.writerow([f"{start:g}", f"{end:g}", area, f"{value:.7g}"])
        return text.getvalue().encode("utf-8")
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
    sink = pa.BufferOutputStream()
    pq.write_table(arrow, sink)
    return sink.getvalue().to_pybytes()
