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

Every file is written under a temporary name in the target folder and renamed into place
when complete, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from berg import cortex
from berg.errors import BERGError, InvalidParameterError, MissingDependencyError, did_you_mean
from berg.files import atomic_open

__all__ = [
    "FORMATS",
    "check_formats",
    "default_formats",
    "read_result",
    "to_jsonable",
    "write_outputs",
]

FORMATS = ("npz", "json", "gifti", "csv", "parquet")


def to_jsonable(value: Any) -> Any:
    """Metadata as plain JSON types (arrays -> lists, numpy scalars -> numbers)."""
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


def _full_surface(responses: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    full = np.full((len(responses), cortex.N_VERTICES), np.nan, np.float32)
    full[:, vertices] = responses
    return full


def _write_gifti(path: Path, values: np.ndarray, hemisphere: str, row_times) -> None:
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
    with atomic_open(path) as f:
        f.write(image.to_bytes())


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


def _roi_table(responses: np.ndarray, metadata: dict, row_times: np.ndarray) -> dict:
    """The tidy ROI table as columns: one line per (row, area)."""
    names, values = cortex.roi_timecourses(responses, metadata)
    n_rows, n_areas = values.shape
    return {
        "time_start_s": np.repeat(row_times[:, 0], n_areas),
        "time_end_s": np.repeat(row_times[:, 1], n_areas),
        "roi": np.tile(np.array(names, dtype=object), n_rows),
        "response": values.reshape(-1),
    }


def write_outputs(
    out_dir: str | os.PathLike, stem: str, responses: np.ndarray, metadata: dict, formats=None
) -> dict[str, Path]:
    """Write one stimulus's predictions in the chosen formats.

    Parameters
    ----------
    out_dir : path
        Created if needed.
    stem : str
        File name stem, e.g. the stimulus's name.
    responses : np.ndarray
        float32 (n_rows, n_columns) from ``BERG.encode``.
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
    """
    formats = check_formats(formats)
    out = Path(out_dir)
    vertices = cortex.result_vertices(responses, metadata)
    row_times = np.asarray(metadata["timing"]["row_times_s"], dtype=np.float64)
    written: dict[str, Path] = {}
    if "npz" in formats:
        path = out / f"{stem}.npz"
        with atomic_open(path) as f:
            np.savez_compressed(
                f, responses=responses.astype(np.float32), row_times=row_times, vertices=vertices
            )
        written["npz"] = path
    if "json" in formats:
        path = out / f"{stem}.json"
        with atomic_open(path, "w") as f:
            json.dump(to_jsonable(metadata), f, indent=1)
        written["json"] = path
    if "gifti" in formats:
        full = _full_surface(responses, vertices)
        half = cortex.N_VERTICES_PER_HEMISPHERE
        for hemisphere, values in (("lh", full[:, :half]), ("rh", full[:, half:])):
            path = out / f"{stem}.{hemisphere}.func.gii"
            _write_gifti(path, values, hemisphere, row_times)
        written["gifti"] = out / f"{stem}.lh.func.gii"
    if "csv" in formats or "parquet" in formats:
        table = _roi_table(responses, metadata, row_times)
    if "csv" in formats:
        path = out / f"{stem}_roi.csv"
        with atomic_open(path, "w") as f:
            writer = csv.writer(f)
            writer.writerow(list(table))
            for start, end, name, value in zip(*table.values()):
                writer.writerow([f"{start:g}", f"{end:g}", name, f"{value:.7g}"])
        written["csv"] = path
    if "parquet" in formats:
        import pyarrow as pa  # there: check_formats said so
        import pyarrow.parquet as pq

        path = out / f"{stem}_roi.parquet"
        arrow = pa.table(
            {
                "time_start_s": table["time_start_s"],
                "time_end_s": table["time_end_s"],
                "roi": pa.array(table["roi"].tolist(), pa.string()),
                "response": table["response"].astype(np.float32),
            }
        )
        with atomic_open(path) as f:
            pq.write_table(arrow, f)
        written["parquet"] = path
    return written


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
        Either file is missing.
    """
    npz_path = Path(npz_path)
    json_path = npz_path.with_suffix(".json")
    for path in (npz_path, json_path):
        if not path.is_file():
            raise BERGError(
                f"{path} does not exist; a result is the NAME.npz and NAME.json "
                "that `berg encode` writes"
            )
    with np.load(npz_path, allow_pickle=False) as npz:
        responses = npz["responses"]
    metadata = json.loads(json_path.read_text(encoding="utf-8"))
    for part, key in (
        ("roi", "roi_labels"),
        ("roi", "roi_assignments"),
        ("selection", "vertices"),
        ("timing", "row_times_s"),
    ):
        metadata[part][key] = np.asarray(metadata[part][key])
    return responses, metadata
