"""Cortex views drawn once, coloured many times: the renderer of movies and filmstrips.

Drawing the inflated cortex through matplotlib's 3-D axes takes seconds a picture; a movie
needs hundreds. Here each view (a hemisphere seen from one side, or both from above or
below) is rasterised once, in numpy: for every pixel, the three vertices of the nearest
triangle and their barycentric weights, and the light it gets. Colouring a view for a row of
responses is then a gather and a colour look-up, milliseconds a frame, and every frame of a
movie is the same projection.

Geometry: fsaverage5's inflated surfaces (packaged with nilearn), RAS coordinates in mm. A
view is an orthographic camera looking along ``forward`` with ``up`` up; screen right is
``forward x up``, so the left hemisphere seen from the left has its front on the left, as in
every lateral view.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from berg import cortex
from berg.errors import BERGError, InvalidParameterError
from berg.validation import check_choice, check_int

__all__ = [
    "VIEWS",
    "CortexView",
    "DrawnView",
    "colour_rgb",
    "colour_view",
    "cortex_view",
    "decorate",
    "draw_view",
    "fsaverage5",
]

#: name -> (hemispheres, forward, up). Medial views look from the midline outwards.
VIEWS: dict[str, tuple[tuple[str, ...], tuple[float, float, float], tuple[float, float, float]]] = {
    "left lateral": (("left",), (1, 0, 0), (0, 0, 1)),
    "right lateral": (("right",), (-1, 0, 0), (0, 0, 1)),
    "left medial": (("left",), (-1, 0, 0), (0, 0, 1)),
    "right medial": (("right",), (1, 0, 0), (0, 0, 1)),
    "dorsal": (("left", "right"), (0, 0, -1), (0, 1, 0)),
    "ventral": (("left", "right"), (0, 0, 1), (0, 1, 0)),
}
_GAP_MM = 4.0  # between the hemispheres in the dorsal and ventral views
# Towards the light, in the camera's frame (right, up, forward): from the camera, a little
# from above.
_TOWARDS_LIGHT = np.array([0.0, 0.35, -1.0]) / np.linalg.norm([0.0, 0.35, -1.0])


@functools.cache
def fsaverage5() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Inflated fsaverage5 mesh and sulcal depth per hemisphere, from nilearn's package
    data: ``{'left': (coords (10242, 3) mm, faces (20480, 3), sulc (10242,))...}``."""
    from nilearn import datasets, surface

    files = datasets.fetch_surf_fsaverage("fsaverage5")  # packaged with nilearn: no download
    meshes = {}
    for hemi in ("left", "right"):
        mesh = surface.load_surf_mesh(files[f"infl_{hemi}"])
        coords = np.asarray(mesh.coordinates, dtype=np.float64)
        faces = np.asarray(mesh.faces, dtype=np.int64)
        sulc = np.asarray(surface.load_surf_data(files[f"sulc_{hemi}"]), dtype=np.float64)
        if len(coords) != cortex.N_VERTICES_PER_HEMISPHERE or sulc.shape != (len(coords),):
            raise BERGError(
                f"nilearn's fsaverage5 {hemi} mesh has {len(coords)} vertices, not "
                f"{cortex.N_VERTICES_PER_HEMISPHERE}; reinstall nilearn"
            )
        for array in (coords, faces, sulc):
            array.setflags(write=False)  # shared through the cache
        meshes[hemi] = (coords, faces, sulc)
    return meshes


@dataclass(frozen=True)
class CortexView:
    """A rasterised view.

    Attributes
    ----------
    name : str
        One of :data:`VIEWS`.
    vertices : np.ndarray
        int64 (height, width, 3): the fsaverage5 vertices (0-20483) of the triangle seen at
        each pixel; -1 where the background shows.
    weights : np.ndarray
        float32 (height, width, 3): their barycentric weights (summing to 1).
    light : np.ndarray
        float32 (height, width): diffuse light, 0 to 1 (0 on the background).
    curvature : np.ndarray
        bool (height, width): sulci (sulcal depth > 0), drawn darker under the colours.
    """

    name: str
    vertices: np.ndarray
    weights: np.ndarray
    light: np.ndarray
    curvature: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """bool (height, width): pixels showing cortex."""
        return self.vertices[..., 0] >= 0

    def values(self, surface: np.ndarray) -> np.ndarray:
        """float64 (height, width): ``surface`` (20484,) interpolated at each pixel from its
        triangle's vertices that have a value; NaN on the background and where those
        carry less than half the weight (the pixel lies mostly off the selection)."""
        surface = np.asarray(surface, np.float64)
        padded = np.append(surface, np.nan)[self.vertices]  # index -1: the background
        known = np.isfinite(padded)
        weight = np.where(known, self.weights, 0.0)
        total = weight.sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = (np.where(known, padded, 0.0) * weight).sum(axis=-1) / total
        return np.where(total >= 0.5, values, np.nan)


@functools.cache
def cortex_view(name: str, height: int = 240) -> CortexView:
    """The view ``name`` of :data:`VIEWS`, ``height`` pixels high (its width follows the
    surface's shape), rasterised once and kept."""
    check_choice("view", name, tuple(VIEWS))
    check_int("height", height, minimum=16)
    hemispheres, forward, up = VIEWS[name]
    forward, up = np.asarray(forward, float), np.asarray(up, float)
    right = np.cross(forward, up)
    meshes = fsaverage5()
    points, faces, sulc, ids = [], [], [], []
    offset = 0
    half = cortex.N_VERTICES_PER_HEMISPHERE
    for hemi in hemispheres:
        coords, hemi_faces, hemi_sulc = meshes[hemi]
        coords = coords.copy()
        if len(hemispheres) == 2:  # side by side, their medial walls _GAP_MM apart
            if hemi == "left":
                coords[:, 0] -= coords[:, 0].max() + _GAP_MM / 2
            else:
                coords[:, 0] -= coords[:, 0].min() - _GAP_MM / 2
        first = 0 if hemi == "left" else half
        points.append(coords)
        faces.append(hemi_faces + offset)
        sulc.append(hemi_sulc)
        ids.append(np.arange(first, first + half))
        offset += half
    points, faces = np.concatenate(points), np.concatenate(faces)
    sulc, ids = np.concatenate(sulc), np.concatenate(ids)
    screen = np.stack([points @ right, points @ up], axis=1)
    depth = points @ forward  # smaller: nearer the camera
    normals = _vertex_normals(points, faces) @ np.stack([right, up, forward], axis=1)
    return _rasterise(name, screen, depth, faces, normals, sulc, ids, height)


def _vertex_normals(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals, unit length, pointing out of the surface."""
    a, b, c = (points[faces[:, k]] for k in range(3))
    face_normals = np.cross(b - a, c - a)  # length: twice the area
    normals = np.zeros_like(points)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def _rasterise(name, screen, depth, faces, normals, sulc, ids, height) -> CortexView:
    """Every pixel's nearest triangle (a z-buffer), vectorised over triangles."""
    margin = 0.03
    low, high = screen.min(axis=0), screen.max(axis=0)
    scale = (height * (1 - 2 * margin)) / (high[1] - low[1])
    width = int(np.ceil((high[0] - low[0]) * scale + 2 * margin * height))
    # Pixel (column, row) of each vertex; rows grow downwards.
    x = (screen[:, 0] - low[0]) * scale + margin * height
    y = (high[1] - screen[:, 1]) * scale + margin * height
    tx, ty = x[faces], y[faces]  # (n_faces, 3)
    x0, x1 = np.ceil(tx.min(1) - 0.5).astype(int), np.floor(tx.max(1) - 0.5).astype(int)
    y0, y1 = np.ceil(ty.min(1) - 0.5).astype(int), np.floor(ty.max(1) - 0.5).astype(int)
    x0, y0 = np.maximum(x0, 0), np.maximum(y0, 0)
    x1, y1 = np.minimum(x1, width - 1), np.minimum(y1, height - 1)
    spans_x, spans_y = np.maximum(x1 - x0 + 1, 0), np.maximum(y1 - y0 + 1, 0)
    counts = spans_x * spans_y
    face = np.repeat(np.arange(len(faces)), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    px = x0[face] + within % spans_x[face]
    py = y0[face] + within // spans_x[face]
    cx, cy = px + 0.5, py + 0.5  # pixel centres
    (ax, bx, qx), (ay, by, qy) = tx[face].T, ty[face].T
    area = (bx - ax) * (qy - ay) - (qx - ax) * (by - ay)
    with np.errstate(divide="ignore", invalid="ignore"):
        w1 = ((cx - ax) * (qy - ay) - (qx - ax) * (cy - ay)) / area
        w2 = ((bx - ax) * (cy - ay) - (cx - ax) * (by - ay)) / area
    w0 = 1 - w1 - w2
    inside = (w0 >= -1e-9) & (w1 >= -1e-9) & (w2 >= -1e-9) & (area != 0)
    face, px, py = face[inside], px[inside], py[inside]
    bary = np.stack([w0[inside], w1[inside], w2[inside]], axis=1)
    z = (depth[faces[face]] * bary).sum(axis=1)
    pixel = py * width + px
    order = np.lexsort((z, pixel))  # per pixel, the nearest first
    pixel, first = np.unique(pixel[order], return_index=True)
    chosen = order[first]
    vertices = np.full((height * width, 3), -1, np.int64)
    weights = np.zeros((height * width, 3), np.float32)
    light = np.zeros(height * width, np.float32)
    curvature = np.zeros(height * width, bool)
    corner = faces[face[chosen]]
    vertices[pixel] = ids[corner]
    weights[pixel] = bary[chosen]
    normal = (normals[corner] * bary[chosen][..., None]).sum(axis=1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    light[pixel] = np.clip(normal @ _TOWARDS_LIGHT, 0.0, 1.0)
    curvature[pixel] = (sulc[corner] * bary[chosen]).sum(axis=1) > 0
    shape = (height, width)
    return CortexView(
        name,
        vertices.reshape(*shape, 3),
        weights.reshape(*shape, 3),
        light.reshape(shape),
        curvature.reshape(shape),
    )


def colour_view(
    view: CortexView,
    surface: np.ndarray,
    colormap,
    *,
    vmax: float,
    threshold: float | None = None,
    background: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """uint8 (height, width, 3): ``surface`` (20484,) drawn on ``view``.

    Values map through ``colormap`` from -vmax to vmax; pixels whose value is NaN
    (unselected vertices) or below ``threshold`` in size show the grey of the folding
    (sulci darker), and every pixel is lit.
    """
    if not vmax > 0:
        raise InvalidParameterError(f"vmax must be > 0, got {vmax!r}")
    values = view.values(surface)
    lut = (np.asarray(colormap(np.linspace(0, 1, 256)))[:, :3] * 255).astype(np.float32)
    index = np.clip(np.round((values / vmax + 1) / 2 * 255), 0, 255)
    coloured = np.isfinite(values) & (np.abs(np.nan_to_num(values)) >= (threshold or 0))
    rgb = np.empty(values.shape + (3,), np.float32)
    rgb[coloured] = lut[index[coloured].astype(np.int64)]
    grey = np.where(view.curvature, 110.0, 175.0)
    rgb[~coloured] = grey[~coloured, None]
    shade = 0.45 + 0.55 * view.light
    rgb *= shade[..., None]
    rgb[~view.mask] = background
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class DrawnView:
    """A view drawn: its picture and where to write the names asked for.

    Attributes
    ----------
    image : np.ndarray
        uint8 (height, width, 3).
    labels : list of (str, (float, float))
        An area's name and the pixel (column, row) at the middle of where it shows (one a
        hemisphere).
    """

    image: np.ndarray
    labels: list


def draw_view(
    name: str,
    surface: np.ndarray,
    colormap,
    *,
    vmax: float,
    threshold: float | None = None,
    height: int = 240,
    borders: bool = False,
    labels=(),
) -> DrawnView:
    """``surface`` (20484,) coloured on the view ``name`` (:func:`colour_view`), then
    :func:`decorate`."""
    view = cortex_view(name, height)
    image = colour_view(view, surface, colormap, vmax=vmax, threshold=threshold)
    return decorate(view, image, borders=borders, labels=labels)


def colour_rgb(view: CortexView, rgb: np.ndarray) -> np.ndarray:
    """uint8 (height, width, 3): ``rgb`` (20484, 3), each channel in [0, 1], drawn on
    ``view`` and lit; NaN rows (unselected vertices) show the grey of the folding."""
    rgb = np.asarray(rgb, np.float64)
    channels = np.stack([view.values(rgb[:, k]) for k in range(3)], axis=-1)
    known = np.isfinite(channels).all(axis=-1)
    image = np.empty(channels.shape, np.float32)
    image[known] = np.clip(channels[known], 0, 1) * 255
    image[~known] = np.where(view.curvature, 110.0, 175.0)[~known, None]
    image *= (0.45 + 0.55 * view.light)[..., None]
    image[~view.mask] = 255
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def decorate(
    view: CortexView, image: np.ndarray, *, borders: bool = False, labels=(), min_pixels: int = 30
) -> DrawnView:
    """``image`` of ``view`` with the Glasser areas' borders drawn dark when ``borders``,
    and the places of ``labels`` (area names) that show on at least ``min_pixels`` pixels
    (one a hemisphere). A pixel's area is that of its triangle's heaviest vertex."""
    if not (borders or labels):
        return DrawnView(image, [])
    image = image.copy()
    parcellation = cortex.load_parcellation()
    nearest = np.take_along_axis(view.vertices, view.weights.argmax(axis=-1)[..., None], axis=-1)[
        ..., 0
    ]
    area = np.where(view.mask, parcellation.assignments[np.maximum(nearest, 0)], -2)
    if borders:
        edge = np.zeros(area.shape, bool)
        for shifted, cut in ((area[:, 1:], np.s_[:, :-1]), (area[1:, :], np.s_[:-1, :])):
            edge[cut] |= (area[cut] != shifted) & (area[cut] >= 0) & (shifted >= 0)
        image[edge] = (40, 40, 40)
    found = []
    left_half = nearest < cortex.N_VERTICES_PER_HEMISPHERE
    for label in labels:
        where = area == parcellation.roi_index[label]
        for hemisphere in (left_half, ~left_half):
            rows, columns = np.nonzero(where & hemisphere)
            if len(rows) >= min_pixels:
                found.append((label, (float(columns.mean()), float(rows.mean()))))
    return DrawnView(image, found)
