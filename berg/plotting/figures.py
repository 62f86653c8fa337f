"""What every figure of berg shares: the plotting packages checked, predictions and their
metadata checked against each other, the arguments of maps and time courses checked (the
row at a time, the colour scale and map, area names), the title's wording, and saving a
figure atomically."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from berg import cortex
from berg.errors import InvalidParameterError, MissingDependencyError, did_you_mean, format_choices
from berg.files import atomic_open
from berg.validation import check_number, is_number

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


def check_labels(labels) -> tuple[str, ...]:
    """Glasser areas to name on a map (a name or a list; None: none), distinct and in order,
    or an error naming the close match of an unknown one."""
    if labels is None:
        return ()
    if isinstance(labels, str):
        labels = [labels]
    parcellation = cortex.load_parcellation()
    for name in labels:
        if name not in parcellation.roi_index:
            raise InvalidParameterError(
                f"unknown area {name!r} in labels{did_you_mean(name, parcellation.labels)}"
            )
    return tuple(dict.fromkeys(labels))


def row_at(row_times: np.ndarray, time: Any) -> int:
    """Index of the row whose [start, end) holds ``time``, or an error giving the valid range."""
    if not is_number(time, finite=False):
        raise InvalidParameterError(
            f"time must be a number of seconds or None (the mean over "
            f"rows); got {type(time).__name__}"
        )
    first, last = row_times[0, 0], row_times[-1, 1]
    rows = np.flatnonzero((row_times[:, 0] <= time) & (time < row_times[:, 1]))
    if not math.isfinite(time) or rows.size == 0:
        raise InvalidParameterError(
            f"time {time!r} s is not covered by any row; the {len(row_times)} rows cover "
            f"stimulus times from {sec(first)} s up to (not including) {sec(last)} s, so give "
            f"{sec(first)} <= time < {sec(last)}, or time=None for the mean over rows"
        )
    return int(rows[0])


def check_scale(surface: np.ndarray, vmax: Any, threshold: Any) -> tuple[float, float | None]:
    """Validate ``vmax`` and ``threshold``; default vmax: the largest |value| drawn."""
    for name, value in (("vmax", vmax), ("threshold", threshold)):
        if value is not None and not is_number(value):
            raise InvalidParameterError(f"{name} must be a finite number or None; got {value!r}")
    if vmax is None:
        finite = np.abs(surface[np.isfinite(surface)])
        vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    elif vmax <= 0:
        raise InvalidParameterError(
            f"vmax must be > 0 (the scale runs from -vmax to vmax); got {vmax!r}"
        )
    if threshold is not None:
        if threshold < 0:
            raise InvalidParameterError(f"threshold must be >= 0; got {threshold!r}")
        if threshold >= vmax:
            raise InvalidParameterError(
                f"threshold {threshold!r} must be below vmax "
                f"{vmax:.4g}, or nothing would be coloured"
            )
        threshold = float(threshold) or None  # 0 means no threshold
    return float(vmax), threshold


def get_colormap(cmap: Any):
    """A matplotlib Colormap for a name (matplotlib's or nilearn's) or a Colormap."""
    import matplotlib
    import nilearn.plotting  # noqa: F401  registers nilearn's maps, 'cold_hot' among them
    from matplotlib.colors import Colormap

    if isinstance(cmap, Colormap):
        return cmap
    if not isinstance(cmap, str):
        raise InvalidParameterError(
            f"cmap must be a colour map name or a matplotlib Colormap; got {type(cmap).__name__}"
        )
    try:
        return matplotlib.colormaps[cmap]
    except KeyError:
        raise InvalidParameterError(
            f"unknown colour map {cmap!r}{did_you_mean(cmap, matplotlib.colormaps)}; "
            "diverging maps suit these signed responses: 'cold_hot' (nilearn), 'RdBu_r', "
            "'coolwarm', 'seismic'"
        ) from None


def scalar_mappable(colormap, norm, threshold: float | None):
    """What the colorbar shows: the map, with the uncoloured band greyed as nilearn does."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap

    if threshold:
        levels = np.linspace(norm.vmin, norm.vmax, 256)
        colours = colormap(norm(levels))
        colours[np.abs(levels) < threshold] = (0.5, 0.5, 0.5, 1.0)
        colormap = ListedColormap(colours)
    return ScalarMappable(norm=norm, cmap=colormap)


def check_rois(rois: Any, available: list[str]) -> list[str]:
    """``rois`` as a list of distinct names that have selected vertices, or an error."""
    if isinstance(rois, str):
        rois = [rois]
    elif not isinstance(rois, Iterable) or isinstance(rois, (bytes, dict)):
        raise InvalidParameterError(
            f"rois must be a list of Glasser area names or None; got {type(rois).__name__}"
        )
    rois = list(dict.fromkeys(rois))
    if not rois:
        raise InvalidParameterError(
            "rois is empty; name at least one area, or pass None for every area of the selection"
        )
    labels = cortex.load_parcellation().labels
    for name in rois:
        if not isinstance(name, str):
            raise InvalidParameterError(f"rois must hold area names (str); got {name!r}")
        if name not in labels:
            hint = did_you_mean(name, labels)
            raise InvalidParameterError(
                f"unknown ROI {name!r}{hint}{' ' if hint else '; '}Glasser HCP-MMP1.0 names "
                "are case-sensitive and bilateral, listed in metadata['roi']['roi_labels']"
            )
        if name not in available:
            raise InvalidParameterError(
                f"ROI {name!r} has no selected vertex in these responses; areas with data: "
                f"{format_choices(available)}"
            )
    return rois
