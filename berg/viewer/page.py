"""The viewer's page: a result packed compactly, three.js and the viewer's script inlined,
the stimulus embedded (one file) or beside it (a folder)."""

from __future__ import annotations

import base64
import json
import os
import shutil
from importlib import resources
from pathlib import Path

import numpy as np

from berg import cortex
from berg.errors import InvalidParameterError
from berg.files import atomic_open
from berg.viewer.playable import playable, temporary_folder

__all__ = ["COLORMAPS", "MAX_EMBEDDED_MEDIA", "pack", "write_viewer"]

#: The colour maps offered (the first is the default), as matplotlib (or nilearn) names them.
COLORMAPS = ("cold_hot", "RdBu_r", "coolwarm", "viridis")
#: The largest stimulus embedded in a one-file page (bytes); larger: write a folder.
MAX_EMBEDDED_MEDIA = 64 * 1024**2
_NOTE = (
    "berg viewer · TRIBE v2 predictions on fsaverage5 (inflated) · values are stored as 8-bit "
    "steps of the range (±{vmax:.3g}), so the hover value is within {step:.2g} of the result"
)


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def pack(responses: np.ndarray, metadata: dict, *, contributions=None) -> dict:
    """The data the page reads: the mesh, the areas, the rows quantised to 8 bits.

    Parameters
    ----------
    responses : np.ndarray
        float (n_rows, n_columns).
    metadata : dict
        The result's metadata.
    contributions : Contributions or np.ndarray, optional
        The RGB contributions layer ((n_columns, 3) in [0, 1], or what ``rgb()`` gives).

    Returns
    -------
    dict
        JSON-able; arrays as base64 of little-endian bytes.
    """
    from berg.plotting.figures import check_inputs, check_scale, get_colormap
    from berg.plotting.raster import fsaverage5

    vertices, row_times = check_inputs(responses, metadata)
    values = np.asarray(responses, np.float64)
    vmax, _ = check_scale(values, None, None)  # the largest |value|, as a map's default
    quantised = np.round((np.clip(np.nan_to_num(values) / vmax, -1, 1) + 1) / 2 * 255)
    parcellation = cortex.load_parcellation()
    meshes = {}
    for hemisphere, (coords, faces, sulc) in fsaverage5().items():
        meshes[hemisphere] = {
            "coords": _b64(coords.astype("<f4")),
            "faces": _b64(faces.astype("<u4")),
            "sulci": _b64((sulc > 0).astype(np.uint8)),
        }
    luts = {}
    for name in COLORMAPS:
        lut = get_colormap(name)(np.linspace(0, 1, 256))[:, :3]
        luts[name] = _b64(np.round(lut * 255).astype(np.uint8))
    stimulus = metadata.get("stimulus") or {}
    data = {
        "n_vertices": cortex.N_VERTICES,
        "columns": _b64(vertices.astype("<i4")),
        "frames": _b64(quantised.astype(np.uint8)),
        "vmax": vmax,
        "row_times": np.asarray(row_times, float).tolist(),
        "duration": float(row_times[-1, 1]),
        "offset": float(metadata.get("timing", {}).get("hemodynamic_offset_s", 5.0)),
        "labels": list(parcellation.labels),
        "assignments": _b64(parcellation.assignments.astype("<i2")),
        "mesh": meshes,
        "colormaps": luts,
        "default_colormap": COLORMAPS[0],
        "words": stimulus.get("words") or {"text": [], "start_s": [], "duration_s": []},
    }
    if contributions is not None:
        rgb = contributions.rgb() if hasattr(contributions, "rgb") else contributions
        rgb = np.asarray(rgb, np.float64)
        if rgb.shape != (len(vertices), 3):
            raise InvalidParameterError(
                f"contributions must be (n_columns, 3) = ({len(vertices)}, 3); got {rgb.shape}"
            )
        data["rgb"] = _b64(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    return data


def _asset(name: str) -> str:
    folder = "vendor" if name.startswith("three") else "assets"
    return (resources.files("berg.viewer") / folder / name).read_text(encoding="utf-8")


def write_viewer(
    responses: np.ndarray,
    metadata: dict,
    path: str | os.PathLike,
    *,
    stimulus: str | os.PathLike | None = None,
    contributions=None,
    title: str | None = None,
) -> Path:
    """Write the viewer of a result.

    Parameters
    ----------
    responses, metadata
        A result (``BERG.encode(..., return_metadata=True)``, or ``read_result``).
    path : path
        ``NAME.html``: one self-contained page (the stimulus embedded, up to 64 MB). Any
        other path: a folder with ``index.html`` and the stimulus copied beside it.
    stimulus : path, optional
        The video or sound to show; default: the result's own when it is there. A text is
        shown as its words.
    contributions : Contributions or np.ndarray, optional
        The RGB contributions layer: ``metadata['contributions']`` of
        ``encode(..., contributions=True)`` (the default when there), or its ``rgb()``
        ((n_columns, 3) in [0, 1], as ``berg contributions`` writes in ``*_rgb.npz``).
    title : str, optional

    Returns
    -------
    Path
        The page written (atomically).
    """
    from berg.plotting.panels import stimulus_source

    path = Path(path)
    one_file = path.suffix.lower() in (".html", ".htm")
    source, kind = stimulus_source(stimulus, metadata)
    if contributions is None and hasattr(metadata.get("contributions"), "rgb"):
        contributions = metadata["contributions"]  # from encode(..., contributions=True)
    data = pack(responses, metadata, contributions=contributions)
    page = path if one_file else path / "index.html"
    media = ""
    if source is not None and kind in ("video", "audio"):
        with temporary_folder() as folder:
            shown, mime = playable(source, Path(folder))
            media = _media_tag("video" if kind == "video" else "audio", shown, mime, path, one_file)
    vmax = data["vmax"]
    text = (
        _asset("viewer.html")
        .replace("__CSS__", _asset("viewer.css"))
        .replace("__MEDIA__", media)
        .replace("__OFFSET__", f"{data['offset']:g}")
        .replace("__NOTE__", _NOTE.format(vmax=vmax, step=vmax / 255))
        .replace("__TITLE__", _html(title or f"berg viewer: {Path(str(source or 'result')).name}"))
    )
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    text = text.replace("__DATA__", blob)
    text = text.replace(
        "__THREE__", _asset("three.bundle.min.js").replace("</script", "<\\/script")
    )
    text = text.replace("__VIEWER__", _asset("viewer.js"))
    page.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(page, "w") as handle:
        handle.write(text)
    return page


def _media_tag(tag: str, shown: Path, mime: str, path: Path, one_file: bool) -> str:
    """The page's <video> or <audio>: the file embedded as a data: URL, or copied beside
    ``index.html`` in ``path``."""
    if one_file:
        size = shown.stat().st_size
        if size > MAX_EMBEDDED_MEDIA:
            raise InvalidParameterError(
                f"{shown.name} is {size / 1024**2:.0f} MB, too large to embed in one page; "
                "give a folder instead of an .html path (the stimulus is copied beside "
                "index.html)"
            )
        url = f"data:{mime};base64,{base64.b64encode(shown.read_bytes()).decode('ascii')}"
    else:
        path.mkdir(parents=True, exist_ok=True)
        url = f"stimulus{shown.suffix.lower()}"
        shutil.copyfile(shown, path / url)
    return f'<{tag} id="media" controls preload="auto" src="{url}"></{tag}>'


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
