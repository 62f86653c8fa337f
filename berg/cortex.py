"""The cortical surface berg predicts on: fsaverage5 facts, the Glasser parcellation, selection.

TRIBE v2 predicts one value per vertex of fsaverage5, left hemisphere first (vertices 0..10241),
then right (10242..20483). Regions come from the Glasser HCP-MMP1.0 parcellation: 180 areas, each
name covering both hemispheres. The parcellation ships with berg as ``berg/data/
glasser_fsaverage5.npz`` (see ``glasser_fsaverage5.md`` beside it for where it comes from).

Nothing here needs torch or a model, so metadata and selections can be checked cheaply.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from berg.errors import BERGError, InvalidParameterError, did_you_mean, format_choices

__all__ = [
    "N_VERTICES",
    "N_VERTICES_PER_HEMISPHERE",
    "SURFACE_MESH",
    "PARCELLATION_NAME",
    "MEDIAL_WALL",
    "Parcellation",
    "load_parcellation",
    "roi_metadata",
    "resolve_selection",
    "hemisphere_of",
    "result_vertices",
    "roi_timecourses",
]

N_VERTICES = 20484
N_VERTICES_PER_HEMISPHERE = 10242
SURFACE_MESH = "fsaverage5"
PARCELLATION_NAME = "Glasser_HCP-MMP1.0"
MEDIAL_WALL = -1

_DATA_FILE = "glasser_fsaverage5.npz"
_N_AREAS = 180
_SELECTION_KEYS = ("roi", "vertices")
_WHERE_ROI_NAMES = "metadata['roi']['roi_labels'] or berg.cortex.load_parcellation().labels"


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
            Area names, case-sensitive (see ``labels``); one str is one name. Duplicates are fine.

        Returns
        -------
        vertices : ndarray, shape (n_selected,), int64
            Sorted vertex indices; never on the medial wall.

        Raises
        ------
        InvalidParameterError
            If ``names`` is empty, holds something other than str, or names an unknown area.
        """
        indices = [self.roi_index[name] for name in _check_roi_names(names, self.labels)]
        return np.flatnonzero(np.isin(self.assignments, indices)).astype(np.int64)


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


def resolve_selection(selection: Mapping | None) -> np.ndarray | None:
    """Turn a user's ``selection`` into the vertex indices to return.

    Parameters
    ----------
    selection : dict or None
        None selects all 20484 vertices. Otherwise a dict with either or both of

        ``'roi'`` : str or list of str
            Glasser area names (case-sensitive); each selects the area in both hemispheres,
            never medial-wall vertices.
        ``'vertices'`` : array-like, shape (20484,)
            Binary mask (bool, or numbers that are all 0 or 1), left hemisphere first.

        Given both, their union is selected. A key whose value is None counts as absent.

    Returns
    -------
    vertices : ndarray, shape (n_selected,), int64, or None
        Sorted, unique vertex indices; None when ``selection`` is None (all vertices).

    Raises
    ------
    InvalidParameterError
        If ``selection`` is not a dict, is empty, has an unknown key, names an unknown ROI, or
        has a mask of the wrong shape, with values other than 0 and 1, or selecting nothing.
    """
    if selection is None:
        return None
    if not isinstance(selection, Mapping):
        raise InvalidParameterError(
            f"selection must be a dict with 'roi' and/or 'vertices', or None for all {N_VERTICES} "
            f"vertices; got {type(selection).__name__}{_selection_hint(selection)}"
        )
    for key in selection:
        if key not in _SELECTION_KEYS:
            raise InvalidParameterError(
                _sentence(f"unknown selection key {key!r}{_suggest_key(key)}")
                + f" Valid keys: {format_choices(_SELECTION_KEYS)}"
            )
    roi = selection.get("roi")
    mask = selection.get("vertices")
    if roi is None and mask is None:
        raise InvalidParameterError(
            f"selection {dict(selection)!r} selects nothing; pass selection=None for all "
            f"{N_VERTICES} vertices, or give 'roi' (a list of ROI names) and/or 'vertices' "
            f"(a binary mask of {N_VERTICES} entries)"
        )

    parts = []
    if mask is not None:
        mask_vertices = np.flatnonzero(_check_mask(mask))
        if mask_vertices.size == 0 and roi is None:
            raise InvalidParameterError(
                "selection['vertices'] is all zeros, so it selects no vertex; set the vertices "
                "you want to 1, or pass selection=None for all vertices"
            )
        parts.append(mask_vertices)
    if roi is not None:
        parts.append(load_parcellation().vertices_of(roi))
    return np.unique(np.concatenate(parts)).astype(np.int64)


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
            f"vertex indices must be in 0..{N_VERTICES - 1}; got {_format_values(out_of_range)}"
        )
    return np.where(index < N_VERTICES_PER_HEMISPHERE, "lh", "rh")


def _selection_hint(selection: object) -> str:
    """Guess what a non-dict ``selection`` was meant to be, as a hint for the error message."""
    names = [selection] if isinstance(selection, str) else selection
    if isinstance(names, (list, tuple)) and names and all(isinstance(n, str) for n in names):
        return f"; to select ROIs, pass selection={{'roi': {selection!r}}}"
    if hasattr(selection, "__len__") and hasattr(selection, "__getitem__"):
        return "; to select by a vertex mask, pass selection={'vertices': mask}"
    return ""


def _suggest_key(key: object) -> str:
    """``"; did you mean 'X'?"`` for an unknown selection key, or ``""``."""
    if key in ("mask", "vertex_mask"):
        return "; did you mean 'vertices'?"
    return did_you_mean(key, _SELECTION_KEYS)


def _sentence(text: str) -> str:
    """End ``text`` with a full stop unless it already ends a sentence."""
    return text if text.endswith(("?", ".", "!")) else text + "."


def _check_roi_names(names: object, labels: tuple[str, ...]) -> list[str]:
    """Return ``names`` as a list of known area names, or raise saying what is wrong."""
    if isinstance(names, str):
        names = [names]  # one name is what the user obviously meant
    elif isinstance(names, (bytes, Mapping)) or not isinstance(names, Iterable):
        raise InvalidParameterError(
            f"selection['roi'] must be a list of ROI names (str); got {type(names).__name__}"
        )
    names = list(names)
    if not names:
        raise InvalidParameterError(
            "selection['roi'] is empty; give at least one ROI name (e.g. ['V1']), or leave "
            "'roi' out"
        )
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise InvalidParameterError(
                f"selection['roi'] must hold ROI names (str); item {i} is {name!r} "
                f"({type(name).__name__}). Names are listed in {_WHERE_ROI_NAMES}"
            )
    known = set(labels)
    unknown = list(dict.fromkeys(n for n in names if n not in known))
    if unknown:
        if len(unknown) == 1:
            problem = f"unknown ROI {unknown[0]!r}{_suggest_roi(unknown[0], labels)}"
        else:  # one parenthesis per name keeps several suggestions readable
            described = [
                f"{n!r} ({suggestion.removeprefix('; ')})" if suggestion else repr(n)
                for n in unknown
                for suggestion in [_suggest_roi(n, labels)]
            ]
            problem = f"{len(unknown)} unknown ROIs: {', '.join(described)}"
        raise InvalidParameterError(
            _sentence(problem)
            + f" The {len(labels)} Glasser HCP-MMP1.0 names are case-sensitive and bilateral; "
            f"they are listed in {_WHERE_ROI_NAMES}"
        )
    return names


def _suggest_roi(name: str, labels: tuple[str, ...]) -> str:
    """``"; did you mean 'X'?"`` for an unknown ROI name, or ``""``."""
    # HCP files call areas 'L_V1_ROI' / 'R_V1_ROI'; here a name covers both hemispheres.
    for prefix in ("L_", "R_", "lh.", "rh."):
        core = name.removeprefix(prefix).removesuffix("_ROI")
        if core != name and core in labels:
            return f"; did you mean {core!r}? A name selects both hemispheres."
    return did_you_mean(name, labels)


def _check_mask(mask: object) -> np.ndarray:
    """Return ``mask`` as a (20484,) bool array, or raise naming what is wrong with it."""
    if isinstance(mask, (str, bytes, Mapping)):
        raise InvalidParameterError(
            f"selection['vertices'] must be a binary mask (array of {N_VERTICES} zeros and ones); "
            f"got {type(mask).__name__}"
        )
    try:
        array = np.asarray(mask)
    except Exception as exc:  # ragged lists, GPU tensors, ...
        raise InvalidParameterError(
            f"selection['vertices'] could not be read as an array ({exc}); give a numpy array "
            f"of {N_VERTICES} zeros and ones (a torch tensor: move it to the CPU first)"
        ) from exc
    if array.ndim != 1 or array.shape[0] != N_VERTICES:
        hint = ""
        if array.ndim > 1 and array.size == N_VERTICES:
            hint = "; flatten it with .ravel() if it is one mask"
        elif array.shape == (N_VERTICES_PER_HEMISPHERE,):
            hint = "; that is one hemisphere: the mask covers both, left first"
        elif array.ndim == 1 and array.dtype.kind in "iu" and array.size and array.max() > 1:
            hint = (
                f"; it looks like vertex indices: build a mask with m = np.zeros({N_VERTICES}, "
                "bool); m[indices] = True"
            )
        raise InvalidParameterError(
            f"selection['vertices'] must be a 1-D mask of {N_VERTICES} entries "
            f"({N_VERTICES_PER_HEMISPHERE} left + {N_VERTICES_PER_HEMISPHERE} right); "
            f"got shape {array.shape}{hint}"
        )
    if array.dtype.kind == "b":
        return array
    if array.dtype.kind not in "iuf":
        raise InvalidParameterError(
            f"selection['vertices'] must hold 0/1 or False/True; got values of dtype {array.dtype}"
        )
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise InvalidParameterError(
            f"selection['vertices'] contains NaN at {np.isnan(array).sum()} of {N_VERTICES} "
            "positions; "
            "it must hold only 0 and 1"
        )
    bad = array[(array != 0) & (array != 1)]
    if bad.size:
        raise InvalidParameterError(
            f"selection['vertices'] contains values other than 0 and 1: {_format_values(bad)}; "
            "it is a mask: 1 keeps the vertex, 0 drops it"
        )
    return array.astype(bool)


def _format_values(values: np.ndarray, limit: int = 5) -> str:
    """The distinct values, most frequent first, as '2, -1' (eliding past ``limit``)."""
    distinct, counts = np.unique(values, return_counts=True)
    ordered = distinct[np.argsort(-counts, kind="stable")].tolist()
    # 2.0 reads as 2: a float mask's bad values are usually whole numbers.
    text = ", ".join(str(int(v)) if float(v).is_integer() else str(v) for v in ordered[:limit])
    return text + (f", ... ({len(ordered) - limit} more)" if len(ordered) > limit else "")


# --------------------------------------------------------------------------- results


def result_vertices(responses: np.ndarray, metadata: dict) -> np.ndarray:
    """The vertices of a result's columns (``metadata["selection"]["vertices"]``), checked
    against the responses' shape: int64 ``(n_columns,)``."""
    vertices = np.asarray(metadata["selection"]["vertices"], dtype=np.int64)
    if responses.ndim != 2 or responses.shape[1] != len(vertices):
        raise InvalidParameterError(
            f"responses of shape {responses.shape} do not match the metadata's "
            f"{len(vertices)} selected vertices"
        )
    return vertices


def roi_timecourses(responses: np.ndarray, metadata: dict) -> tuple[list[str], np.ndarray]:
    """Mean response of each Glasser area over its selected vertices (both hemispheres).

    Returns
    -------
    names : list of str
        The areas that have at least one selected vertex, in Glasser order.
    values : np.ndarray
        float32 (n_rows, n_areas).
    """
    vertices = result_vertices(responses, metadata)
    assignments = np.asarray(metadata["roi"]["roi_assignments"])[vertices]
    names, columns = [], []
    for index, name in enumerate(metadata["roi"]["roi_labels"]):
        mask = assignments == index
        if mask.any():
            names.append(str(name))
            columns.append(responses[:, mask].mean(axis=1))
    values = np.stack(columns, axis=1) if columns else np.zeros((len(responses), 0))
    return names, values.astype(np.float32)
