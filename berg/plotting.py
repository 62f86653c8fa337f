"""Pictures of predictions: a cortical map and ROI time courses.

    fig = plot_cortical_map(responses, metadata)             # mean over rows, 4 views
    fig = plot_cortical_map(responses, metadata, time=12.5)  # the row covering 12.5 s
    fig = plot_roi_timecourses(responses, metadata, rois=["V1", "FFC"])
    save_figure(fig, "clip_map.png")

Like nilearn and MNE, each function returns a ``matplotlib.figure.Figure``. Figures are built
with ``Figure`` and an Agg canvas directly, never through pyplot, so berg starts no GUI, keeps
no figure alive behind the caller's back and leaves matplotlib's backend alone. (Importing
``nilearn.plotting`` checks that the current backend is usable and falls back to Agg where it
is not; that is nilearn's doing and happens only when a map is drawn.)

Needs the ``plot`` extra: ``pip install 'berg-tribe[plot]'`` (nilearn and matplotlib). The
fsaverage5 meshes and sulcal depth ship inside nilearn, so nothing is downloaded.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from berg import cortex
from berg.errors import (
    BERGError,
    InvalidParameterError,
    MissingDependencyError,
    did_you_mean,
    format_choices,
)
from berg.files import atomic_open

if TYPE_CHECKING:  # matplotlib is optional: only its name is needed for the annotations
    from matplotlib.figure import Figure

__all__ = ["plot_cortical_map", "plot_roi_timecourses", "save_figure", "MAX_DEFAULT_ROIS"]

MAX_DEFAULT_ROIS = 10
"""``plot_roi_timecourses`` draws every area of the selection only up to this many."""

_INSTALL_HINT = "pip install 'berg-tribe[plot]'"
# matplotlib 3.8 removed Axes3D.dist, which nilearn < 0.11 still sets: from 3.8 on the zoom
# berg sets is the only one, so maps look the same with every nilearn.
_MIN_VERSIONS = {"matplotlib": "3.8", "nilearn": "0.10"}
_UNITS = "predicted BOLD (a.u.)"
_VIEWS = (("left", "lateral"), ("right", "lateral"), ("left", "medial"), ("right", "medial"))
_PANEL_CENTRES = ((0.28, 0.665), (0.72, 0.665), (0.28, 0.335), (0.72, 0.335))  # figure fractions


def plot_cortical_map(
    responses: np.ndarray,
    metadata: dict,
    *,
    time: float | None = None,
    title: str | None = None,
    cmap: Any = "cold_hot",
    vmax: float | None = None,
    threshold: float | None = None,
) -> Figure:
    """Draw one map of predicted responses on the inflated fsaverage5 surface.

    Four views: left and right hemisphere, lateral (top) and medial (bottom), over sulcal depth
    in grey. Vertices outside the selection are left blank (grey background).

    Parameters
    ----------
    responses : np.ndarray
        float (n_rows, n_columns), from ``BERG.encode``.
    metadata : dict
        From ``BERG.encode(..., return_metadata=True)``; ``metadata['selection']['vertices']``
        (n_columns,) places the columns on the 20,484 vertices and
        ``metadata['timing']['row_times_s']`` (n_rows, 2) gives each row's stimulus span in s.
    time : float, optional
        Stimulus time in s; the row whose ``[start, end)`` contains it is drawn. Default: the
        mean over all rows.
    title : str, optional
        First line of the title; the lines below always say what is shown.
    cmap : str or matplotlib Colormap
        Diverging colour map, centred on 0. Default nilearn's ``'cold_hot'``.
    vmax : float, optional
        The colour scale runs from -vmax to vmax. Default: the largest absolute value shown.
    threshold : float, optional
        Values with ``|value| < threshold`` are not coloured (the background shows through).

    Returns
    -------
    matplotlib.figure.Figure
        Five axes: four 3-D views (lh lateral, rh lateral, lh medial, rh medial) and the
        colorbar.

    Raises
    ------
    InvalidParameterError
        If the inputs do not fit together, ``time`` is outside the rows, or ``vmax`` /
        ``threshold`` / ``cmap`` are invalid.
    BERGError
        If nilearn or matplotlib is missing.
    """
    _require()
    vertices, row_times = _check_inputs(responses, metadata)
    responses = np.asarray(responses)
    if len(responses) == 0:
        raise InvalidParameterError("responses have no rows; there is nothing to draw")
    if time is None:
        values = responses.mean(axis=0, dtype=np.float64)
        shown = (f"Mean over all {len(responses)} rows "
                 f"(stimulus {_s(row_times[0, 0])}–{_s(row_times[-1, 1])} s)")
    else:
        row = _row_at(row_times, time)
        values = responses[row].astype(np.float64)
        shown = (f"Stimulus time {_s(time)} s: row {row}, covering "
                 f"[{_s(row_times[row, 0])}, {_s(row_times[row, 1])}) s")
    surface = np.full(cortex.N_VERTICES, np.nan)
    surface[vertices] = values
    vmax, threshold = _check_scale(surface, vmax, threshold)
    colormap = _colormap(cmap)

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from nilearn.plotting import plot_surf_stat_map

    fig = Figure(figsize=(9.0, 7.4))
    FigureCanvasAgg(fig)  # draws and saves without pyplot or a GUI
    meshes = _fsaverage5()
    half = cortex.N_VERTICES_PER_HEMISPHERE
    for panel, (hemi, view) in enumerate(_VIEWS):
        x, y = _PANEL_CENTRES[panel]
        ax = fig.add_axes((x - 0.25, y - 0.18, 0.5, 0.36), projection="3d")
        ax.set_facecolor("none")  # panels overlap a little
        coords, faces, sulc = meshes[hemi]
        data = surface[:half] if hemi == "left" else surface[half:]
        plot_surf_stat_map(
            (coords.copy(), faces), data, bg_map=sulc, hemi=hemi, view=view, axes=ax,
            figure=fig, cmap=colormap, colorbar=False, vmax=vmax, symmetric_cbar=True,
            threshold=threshold)
        # A 3-D axes draws in a square, but a hemisphere seen from the side is wide: zoom in
        # and let the mesh spill over the square's sides into the empty rest of the panel.
        ax.set_box_aspect(None, zoom=1.75)
        for artist in ax.collections:
            artist.set_clip_on(False)
        fig.text(x, y - 0.15, f"{hemi} hemisphere, {view}", ha="center", va="top",
                 fontsize=9, color="0.25")

    cax = fig.add_axes((0.3, 0.085, 0.4, 0.022))
    bar = fig.colorbar(_scalar_mappable(colormap, Normalize(-vmax, vmax), threshold), cax=cax,
                       orientation="horizontal")
    bar.set_label(_UNITS)

    notes = []
    offset = metadata.get("timing", {}).get("hemodynamic_offset_s")
    if offset is not None:
        notes.append(f"Each row predicts the BOLD signal ≈{_s(offset)} s after its stimulus "
                     "second starts (haemodynamic offset).")
    blank = []
    if len(vertices) < cortex.N_VERTICES:
        blank.append(f"{cortex.N_VERTICES - len(vertices):,} unselected vertices")
    if threshold:
        blank.append(f"|value| < {threshold:.3g}")
    notes.append("Inflated fsaverage5, sulcal depth in grey"
                 + (f"; not coloured: {', '.join(blank)}." if blank else "."))
    fig.suptitle(title or f"Predicted BOLD response ({_model_name(metadata)})",
                 y=0.985, fontsize=13, fontweight="bold")
    fig.text(0.5, 0.925, shown, ha="center", va="center", fontsize=10.5)
    fig.text(0.5, 0.882, "\n".join(notes), ha="center", va="center", fontsize=8.5,
             color="0.3", linespacing=1.4)
    return fig


def plot_roi_timecourses(
    responses: np.ndarray,
    metadata: dict,
    rois: list[str] | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Draw the mean response of Glasser areas over time, one line per area.

    Parameters
    ----------
    responses : np.ndarray
        float (n_rows, n_columns), from ``BERG.encode``.
    metadata : dict
        From ``BERG.encode(..., return_metadata=True)``.
    rois : list of str, optional
        Glasser HCP-MMP1.0 area names (bilateral, case-sensitive), each with at least one
        selected vertex; drawn in this order. Default: every area of the selection, when
        there are at most ``MAX_DEFAULT_ROIS`` (10).
    title : str, optional
        Replaces the default title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; x: start of each row's stimulus second (s), y: the area's mean over its
        selected vertices (both hemispheres), as ``berg.cortex.roi_timecourses`` computes it. A
        second x axis on top gives the approximate time of the predicted BOLD measurement.

    Raises
    ------
    InvalidParameterError
        If the inputs do not fit together, a name is unknown or has no selected vertex, or
        ``rois`` is None and the selection covers more than 10 areas.
    BERGError
        If matplotlib is missing.
    """
    _require(need_nilearn=False)
    from berg.cortex import roi_timecourses

    _, row_times = _check_inputs(responses, metadata)
    names, values = roi_timecourses(np.asarray(responses), metadata)
    if rois is None:
        if not names:
            raise InvalidParameterError("no selected vertex lies in a Glasser area (all are on "
                                        "the medial wall); there is no ROI time course to draw")
        if len(names) > MAX_DEFAULT_ROIS:
            strongest = [names[i] for i in
                         np.argsort(-np.abs(values).mean(axis=0), kind="stable")[:5]]
            raise InvalidParameterError(
                f"the selection covers {len(names)} areas, too many lines for one plot; choose "
                f"at most about {MAX_DEFAULT_ROIS} with rois=[...], e.g. the five with the "
                f"largest mean |response|: rois={strongest!r}")
        chosen = names
    else:
        chosen = _check_rois(rois, names)
    index = {name: i for i, name in enumerate(names)}

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colours = _line_colours(len(chosen))
    styles = ("-", "--", ":", "-.")
    starts = row_times[:, 0]
    for k, name in enumerate(chosen):
        ax.plot(starts, values[:, index[name]], label=name, color=colours[k % len(colours)],
                linestyle=styles[(k // len(colours)) % len(styles)], linewidth=1.6,
                marker="o" if len(starts) <= 40 else None, markersize=3)
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
    ax.set_xlabel("stimulus time at the start of each row (s)")
    ax.set_ylabel(f"ROI mean, {_UNITS}")
    ax.grid(True, alpha=0.3)
    offset = metadata.get("timing", {}).get("hemodynamic_offset_s")
    if offset is not None:
        top = ax.secondary_xaxis("top", functions=(lambda x: x + offset, lambda x: x - offset))
        top.set_xlabel(f"≈ time of the predicted BOLD measurement (s; +{_s(offset)} s "
                       "haemodynamic offset)", fontsize=9)
    ax.legend(title="Glasser area", loc="upper left", bbox_to_anchor=(1.01, 1.0),
              ncols=1 if len(chosen) <= 16 else 2, fontsize=9, frameon=False)
    ax.set_title(title or f"Predicted BOLD per area ({_model_name(metadata)}), mean over "
                          "selected vertices of both hemispheres", fontsize=11)
    return fig


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
    _require(need_nilearn=False)
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
            f"{format_choices('.' + k for k in sorted(supported))}")
    if not (isinstance(dpi, (int, float)) and not isinstance(dpi, bool) and dpi > 0):
        raise InvalidParameterError(f"dpi must be a positive number; got {dpi!r}")
    with atomic_open(path) as f:
        fig.savefig(f, format=kind, dpi=dpi)
    return path


# --- helpers -----------------------------------------------------------------------------------

def _require(need_nilearn: bool = True) -> None:
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
        raise MissingDependencyError(f"plotting needs nilearn and matplotlib, but "
                                     f"{'; '.join(problems)}; install them with: "
                                     f"{_INSTALL_HINT}")


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


@functools.cache
def _fsaverage5() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Inflated fsaverage5 mesh and sulcal depth per hemisphere, from nilearn's package data."""
    from nilearn import datasets, surface

    files = datasets.fetch_surf_fsaverage("fsaverage5")  # packaged with nilearn: no download
    meshes = {}
    for hemi in ("left", "right"):
        mesh = surface.load_surf_mesh(files[f"infl_{hemi}"])
        coords = np.asarray(mesh.coordinates, dtype=np.float64)
        faces = np.asarray(mesh.faces, dtype=np.int64)
        sulc = np.asarray(surface.load_surf_data(files[f"sulc_{hemi}"]), dtype=np.float64)
        if len(coords) != cortex.N_VERTICES_PER_HEMISPHERE or sulc.shape != (len(coords),):
            raise BERGError(f"nilearn's fsaverage5 {hemi} mesh has {len(coords)} vertices, not "
                            f"{cortex.N_VERTICES_PER_HEMISPHERE}; reinstall nilearn")
        for array in (coords, faces, sulc):
            array.setflags(write=False)  # shared through the cache
        meshes[hemi] = (coords, faces, sulc)
    return meshes


def _check_inputs(responses: Any, metadata: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the selected vertices and the (n_rows, 2) row times, or say what does not fit."""
    where = "pass the metadata from BERG.encode(..., return_metadata=True)"
    if not isinstance(metadata, dict):
        raise InvalidParameterError(f"metadata must be a dict; got {type(metadata).__name__}; "
                                    f"{where}")
    try:
        vertices = np.asarray(metadata["selection"]["vertices"])
        row_times = np.asarray(metadata["timing"]["row_times_s"], dtype=np.float64)
    except (KeyError, TypeError) as exc:
        raise InvalidParameterError(
            f"metadata lacks {exc}: it needs ['selection']['vertices'] and "
            f"['timing']['row_times_s']; {where}") from exc
    if vertices.ndim != 1 or vertices.dtype.kind not in "iu":
        raise InvalidParameterError(
            f"metadata['selection']['vertices'] must be a 1-D array of vertex indices; got "
            f"shape {vertices.shape}, dtype {vertices.dtype}")
    if vertices.size and (vertices.min() < 0 or vertices.max() >= cortex.N_VERTICES):
        raise InvalidParameterError(f"metadata['selection']['vertices'] must lie in "
                                    f"0..{cortex.N_VERTICES - 1}")
    array = np.asarray(responses)
    if array.ndim != 2 or array.shape[1] != len(vertices) or array.dtype.kind not in "iuf":
        raise InvalidParameterError(
            f"responses must be a numeric (n_rows, {len(vertices)}) array matching the "
            f"metadata's {len(vertices)} selected vertices; got shape {array.shape}, dtype "
            f"{array.dtype}")
    if row_times.shape != (len(array), 2):
        raise InvalidParameterError(
            f"metadata['timing']['row_times_s'] has shape {row_times.shape}, but responses "
            f"have {len(array)} rows; expected ({len(array)}, 2): [start, end) s per row")
    return vertices.astype(np.int64), row_times


def _row_at(row_times: np.ndarray, time: Any) -> int:
    """Index of the row whose [start, end) holds ``time``, or an error giving the valid range."""
    if isinstance(time, bool) or not isinstance(time, (int, float, np.integer, np.floating)):
        raise InvalidParameterError(f"time must be a number of seconds or None (the mean over "
                                    f"rows); got {type(time).__name__}")
    first, last = row_times[0, 0], row_times[-1, 1]
    rows = np.flatnonzero((row_times[:, 0] <= time) & (time < row_times[:, 1]))
    if not math.isfinite(time) or rows.size == 0:
        raise InvalidParameterError(
            f"time {time!r} s is not covered by any row; the {len(row_times)} rows cover "
            f"stimulus times from {_s(first)} s up to (not including) {_s(last)} s, so give "
            f"{_s(first)} <= time < {_s(last)}, or time=None for the mean over rows")
    return int(rows[0])


def _check_scale(surface: np.ndarray, vmax: Any, threshold: Any) -> tuple[float, float | None]:
    """Validate ``vmax`` and ``threshold``; default vmax: the largest |value| drawn."""
    for name, value in (("vmax", vmax), ("threshold", threshold)):
        if value is not None and (isinstance(value, bool) or not isinstance(
                value, (int, float, np.integer, np.floating)) or not math.isfinite(value)):
            raise InvalidParameterError(f"{name} must be a finite number or None; got {value!r}")
    if vmax is None:
        finite = np.abs(surface[np.isfinite(surface)])
        vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    elif vmax <= 0:
        raise InvalidParameterError(f"vmax must be > 0 (the scale runs from -vmax to vmax); "
                                    f"got {vmax!r}")
    if threshold is not None:
        if threshold < 0:
            raise InvalidParameterError(f"threshold must be >= 0; got {threshold!r}")
        if threshold >= vmax:
            raise InvalidParameterError(f"threshold {threshold!r} must be below vmax "
                                        f"{vmax:.4g}, or nothing would be coloured")
        threshold = float(threshold) or None  # 0 means no threshold
    return float(vmax), threshold


def _colormap(cmap: Any):
    """A matplotlib Colormap for a name (matplotlib's or nilearn's) or a Colormap."""
    import matplotlib
    import nilearn.plotting  # noqa: F401  registers nilearn's maps, 'cold_hot' among them
    from matplotlib.colors import Colormap

    if isinstance(cmap, Colormap):
        return cmap
    if not isinstance(cmap, str):
        raise InvalidParameterError(f"cmap must be a colour map name or a matplotlib Colormap; "
                                    f"got {type(cmap).__name__}")
    try:
        return matplotlib.colormaps[cmap]
    except KeyError:
        raise InvalidParameterError(
            f"unknown colour map {cmap!r}{did_you_mean(cmap, matplotlib.colormaps)}; "
            "diverging maps suit these signed responses: 'cold_hot' (nilearn), 'RdBu_r', "
            "'coolwarm', 'seismic'") from None


def _scalar_mappable(colormap, norm, threshold: float | None):
    """What the colorbar shows: the map, with the uncoloured band greyed as nilearn does."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap

    if threshold:
        levels = np.linspace(norm.vmin, norm.vmax, 256)
        colours = colormap(norm(levels))
        colours[np.abs(levels) < threshold] = (0.5, 0.5, 0.5, 1.0)
        colormap = ListedColormap(colours)
    return ScalarMappable(norm=norm, cmap=colormap)


def _check_rois(rois: Any, available: list[str]) -> list[str]:
    """``rois`` as a list of distinct names that have selected vertices, or an error."""
    if isinstance(rois, str):
        rois = [rois]
    elif not isinstance(rois, Iterable) or isinstance(rois, (bytes, dict)):
        raise InvalidParameterError(f"rois must be a list of Glasser area names or None; got "
                                    f"{type(rois).__name__}")
    rois = list(dict.fromkeys(rois))
    if not rois:
        raise InvalidParameterError("rois is empty; name at least one area, or pass None for "
                                    "every area of the selection")
    labels = cortex.load_parcellation().labels
    for name in rois:
        if not isinstance(name, str):
            raise InvalidParameterError(f"rois must hold area names (str); got {name!r}")
        if name not in labels:
            raise InvalidParameterError(
                f"unknown ROI {name!r}{did_you_mean(name, labels)}; Glasser HCP-MMP1.0 names "
                "are case-sensitive and bilateral, listed in metadata['roi']['roi_labels']")
        if name not in available:
            raise InvalidParameterError(
                f"ROI {name!r} has no selected vertex in these responses; areas with data: "
                f"{format_choices(available)}")
    return rois


def _line_colours(n: int) -> list:
    import matplotlib

    return list(matplotlib.colormaps["tab10" if n <= 10 else "tab20"].colors)


def _model_name(metadata: dict) -> str:
    model = metadata.get("model")
    return str(model.get("name", "TRIBE v2")) if isinstance(model, dict) else "TRIBE v2"


def _s(seconds: float) -> str:
    """Seconds for a title: 12, 12.5, 0.333."""
    return f"{round(float(seconds), 3):g}"
