"""fsaverage5 and the Glasser HCP-MMP1.0 parcellation on it: the facts every selection,
summary and picture starts from."""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from berg.errors import BERGError, InvalidParameterError, did_you_mean

__all__ = [
    "MEDIAL_WALL",
    "N_VERTICES",
    "N_VERTICES_PER_HEMISPHERE",
    "PARCELLATION_NAME",
    "SURFACE_MESH",
    "Parcellation",
    "format_values",
    "hemisphere_of",
    "load_parcellation",
    "roi_metadata",
]

N_VERTICES = 20484
N_VERTICES_PER_HEMISPHERE = 10242
SURFACE_MESH = "fsaverage5"
PARCELLATION_NAME = "Glasser_HCP-MMP1.0"
MEDIAL_WALL = -1

_DATA_FILE = "glasser_fsaverage5.npz"
_N_AREAS = 180


@dataclass(frozen=True, eq=False)  # eq=False: comparing ndarray fields with == is ambiguous
class Parcellation:
    """A parcellation of fsaverage5 into bilateral areas.

    Attributes
    ----------
    labels : tuple of str, length 180
        Area names in Glasser order; ``labels[i]`` is the area whose vertices have
        ``assignments == i``.
    assignments : ndarray, shape (20484,), int64, read-only
        Area index per vertex, left hemisphere first; ``MEDIAL_WALL`` (-1) where no area.
    """

    labels: tuple[str, ...]
    assignments: np.ndarray

    @property
    def roi_index(self) -> dict[str, int]:
        """Map each area name to its index in ``assignments`` (a fresh dict each call)."""
        return {name: i for i, name in enumerate(self.labels)}

    def vertices_of(self, names: str | Iterable[str]) -> np.ndarray:
        """Return the vertices of the named areas, both hemispheres.

        Parameters
        ----------
        names : str or iterable of str
            Area names, case-sensitive (see ``labels``); one str is one name. Duplicates are
            fine. (:func:`berg.cortex.resolve_roi_names` also reads ``L_``/``R_`` names,
            wildcards and the 22 sections.)

        Returns
        -------
        vertices : ndarray, shape (n_selected,), int64
            Sorted vertex indices; never on the medial wall.

        Raises
        ------
        InvalidParameterError
            If ``names`` is empty, holds something other than str, or names an unknown area.
        """
        names = [names] if isinstance(names, str) else list(names)
        index = self.roi_index
        for name in names:
            if name not in index:
                raise InvalidParameterError(
                    f"unknown ROI {name!r}{did_you_mean(name, self.labels)} (the "
                    f"{len(self.labels)} Glasser HCP-MMP1.0 names are case-sensitive)"
                )
        if not names:
            raise InvalidParameterError("no ROI names given; give at least one, e.g. 'V1'")
        chosen = [index[name] for name in names]
        return np.flatnonzero(np.isin(self.assignments, chosen)).astype(np.int64)


@functools.cache
def load_parcellation() -> Parcellation:
    """Load the Glasser HCP-MMP1.0 parcellation of fsaverage5 shipped with berg (cached).

    Returns
    -------
    Parcellation
        180 labels in Glasser order and a read-only (20484,) int64 ``assignments``.

    Raises
    ------
    BERGError
        If the packaged data file is missing or damaged (a broken installation).
    """
    resource = importlib.resources.files("berg") / "data" / _DATA_FILE
    try:
        with resource.open("rb") as f, np.load(f, allow_pickle=False) as npz:
            labels = tuple(str(name) for name in npz["labels"])
            assignments = npz["assignments"].astype(np.int64)
    except Exception as exc:  # missing, truncated, not a zip, key absent: all mean the same
        raise BERGError(
            f"cannot read the packaged parcellation {resource} ({type(exc).__name__}: {exc}); "
            "the berg installation is broken, reinstall berg-tribe"
        ) from exc
    if (
        len(labels) != _N_AREAS
        or assignments.shape != (N_VERTICES,)
        or assignments.min() < MEDIAL_WALL
        or assignments.max() >= _N_AREAS
    ):
        raise BERGError(
            f"the packaged parcellation {resource} is damaged ({len(labels)} labels, assignments "
            f"of shape {assignments.shape}); the berg installation is broken, reinstall berg-tribe"
        )
    assignments.setflags(write=False)  # shared by every caller through the cache
    return Parcellation(labels=labels, assignments=assignments)


def roi_metadata() -> dict:
    """Return the ``'roi'`` part of a model's metadata.

    Returns
    -------
    dict
        ``parcellation`` : str, ``"Glasser_HCP-MMP1.0"``;
        ``roi_labels`` : ndarray, shape (180,), str, Glasser order;
        ``roi_assignments`` : ndarray, shape (20484,), int64, index into ``roi_labels`` per
        vertex, -1 on the medial wall;
        ``roi_index`` : dict mapping name to index.
        All are fresh, writable copies: changing them does not affect berg.
    """
    parcellation = load_parcellation()
    return {
        "parcellation": PARCELLATION_NAME,
        "roi_labels": np.array(parcellation.labels, dtype=str),
        "roi_assignments": parcellation.assignments.copy(),
        "roi_index": parcellation.roi_index,
    }


def hemisphere_of(vertices: int | Iterable[int]) -> np.ndarray:
    """Return the hemisphere of each fsaverage5 vertex.

    Parameters
    ----------
    vertices : int or array-like of int, shape (n,)
        Vertex indices in 0..20483.

    Returns
    -------
    hemispheres : ndarray, shape (n,), str
        ``'lh'`` for indices below 10242, ``'rh'`` otherwise.
    """
    index = np.atleast_1d(np.asarray(vertices))
    if index.dtype.kind not in "iu":
        raise InvalidParameterError(f"vertices must be integers; got dtype {index.dtype}")
    out_of_range = index[(index < 0) | (index >= N_VERTICES)]
    if out_of_range.size:
        raise InvalidParameterError(
            f"vertex indices must be in 0..{N_VERTICES - 1}; got {format_values(out_of_range)}"
        )
    return np.where(index < N_VERTICES_PER_HEMISPHERE, "lh", "rh")


def format_values(values: np.ndarray, limit: int = 5) -> str:
    """The distinct values, most frequent first, as '2, -1' (eliding past ``limit``)."""
    distinct, counts = np.unique(values, return_counts=True)
    ordered = distinct[np.argsort(-counts, kind="stable")].tolist()
    # 2.0 reads as 2: a float mask's bad values are usually whole numbers.
    text = ", ".join(str(int(v)) if float(v).is_integer() else str(v) for v in ordered[:limit])
    return text + (f", ... ({len(ordered) - limit} more)" if len(ordered) > limit else "")
