"""What every figure of berg shares: the plotting packages checked, predictions and their
metadata checked against each other, the title's wording, and saving a figure atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from berg import cortex
from berg.errors import InvalidParameterError, MissingDependencyError, did_you_mean, format_choices
from berg.files import atomic_open
from berg.validation import check_number

if TYPE_CHECKING:  # matplotlib is optional: only its name is needed for the annotations
    from matplotlib.figure import Figure

__all__ = ["save_figure"]

INSTALL_HINT = "pip install 'berg-tribe[plot]'"
# matplotlib 3.8 removed Axes3D.dist, which nilearn < 0.11 still sets: from 3.8 on the zoom
# berg sets is the only one, so maps look the same with every nilearn.
_MIN_VERSIONS = {"matplotlib": "3.8", "nilearn": "0.10"}
UNITS = "predicted BOLD (a.u.)"


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: float = 150) -> Path:
    """Write a figure to ``path`` atomically (temporary file beside it, then a rename).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : path
        The format follows the suffix: ``.png`` (usual), ``.pdf``, ``.svg``, ...; missing
        folders are created.
    dpi : float
        Resolution of raster formats.

    Returns
    -------
    Path
        ``path``.
    """
    require(need_nilearn=False)
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise InvalidParameterError(f"fig must be a matplotlib Figure; got {type(fig).__name__}")
    path = Path(path)
    supported = fig.canvas.get_supported_filetypes()
    kind = path.suffix.lower().removeprefix(".")
    if kind not in supported:
        raise InvalidParameterError(
            f"cannot tell the image format of {str(path)!r} from its suffix "
            f"{path.suffix or '(none)'!r}{did_you_mean(kind, supported)}; use one of "
            f"{format_choices('.' + k for k in sorted(supported))}"
        )
    check_number("dpi", dpi, positive=True)
    with atomic_open(path) as f:
        fig.savefig(f, format=kind, dpi=dpi)
    return path


def require(need_nilearn: bool = True) -> None:
    """Raise a MissingDependencyError naming the missing or outdated plotting packages and
    the fix."""
    from importlib import import_module

    from berg.packages import installed_version

    problems = []
    for package in ("matplotlib", "nilearn") if need_nilearn else ("matplotlib",):
        try:
            import_module(package)
        except ImportError:
            problems.append(f"{package} is not installed")
            continue
        found = installed_version(package)
        if found is None:  # imported from a source tree: trust it
            continue
        if _version_tuple(found) < _version_tuple(_MIN_VERSIONS[package]):
            problems.append(f"{package} {found} is older than {_MIN_VERSIONS[package]}")
    if problems:
        raise MissingDependencyError(
            f"plotting needs nilearn and matplotlib, but "
            f"{'; '.join(problems)}; install them with: "
            f"{INSTALL_HINT}"
        )


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def check_vertices(metadata: Any) -> np.ndarray:
    """The selected vertices of a result's metadata (int64, 0..20483), or what is wrong."""
    where = "pass the metadata from BERG.encode(..., return_metadata=True)"
    if not isinstance(metadata, dict):
        raise InvalidParameterError(
            f"metadata must be a dict; got {type(metadata).__name__}; {where}"
        )
    try:
        vertices = np.asarray(metadata["selection"]["vertices"])
    except (KeyError, TypeError) as exc:
        raise InvalidParameterError(
            f"metadata lacks {exc}: it needs ['selection']['vertices'] and "
            f"['timing']['row_times_s']; {where}"
        ) from exc
    if vertices.ndim != 1 or vertices.dtype.kind not in "iu":
        raise InvalidParameterError(
            f"metadata['selection']['vertices'] must be a 1-D array of vertex indices; got "
            f"shape {vertices.shape}, dtype {vertices.dtype}"
        )
    if vertices.size and (vertices.min() < 0 or vertices.max() >= cortex.N_VERTICES):
        raise InvalidParameterError(
            f"metadata['selection']['vertices'] must lie in 0..{cortex.N_VERTICES - 1}"
        )
    return vertices.astype(np.int64)


def check_inputs(responses: Any, metadata: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the selected vertices and the (n_rows, 2) row times, or say what does not fit."""
    vertices = check_vertices(metadata)
    try:
        row_times = np.asarray(metadata["timing"]["row_times_s"], dtype=np.float64)
    except (KeyError, TypeError) as exc:
        raise InvalidParameterError(
            f"metadata lacks {exc}: it needs ['selection']['vertices'] and "
            "['timing']['row_times_s']; pass the metadata from BERG.encode(..., "
            "return_metadata=True)"
        ) from exc
    array = np.asarray(responses)
    if array.ndim != 2 or array.shape[1] != len(vertices) or array.dtype.kind not in "iuf":
        raise InvalidParameterError(
            f"responses must be a numeric (n_rows, {len(vertices)}) array matching the "
            f"metadata's {len(vertices)} selected vertices; got shape {array.shape}, dtype "
            f"{array.dtype}"
        )
    if row_times.shape != (len(array), 2):
        raise InvalidParameterError(
            f"metadata['timing']['row_times_s'] has shape {row_times.shape}, but responses "
            f"have {len(array)} rows; expected ({len(array)}, 2): [start, end) s per row"
        )
    return vertices, row_times


def model_name(metadata: dict) -> str:
    model = metadata.get("model")
    return str(model.get("name", "TRIBE v2")) if isinstance(model, dict) else "TRIBE v2"


def sec(seconds: float) -> str:
    """Seconds for a title: 12, 12.5, 0.333."""
    return f"{round(float(seconds), 3):g}"
