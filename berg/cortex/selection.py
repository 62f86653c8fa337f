"""A user's ``selection`` (areas, a vertex mask, a hemisphere) -> the vertices to return."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from berg.cortex.names import check_hemisphere, resolve_roi_names
from berg.cortex.surface import N_VERTICES, N_VERTICES_PER_HEMISPHERE, format_values
from berg.errors import InvalidParameterError, did_you_mean, format_choices

__all__ = ["resolve_selection"]

_SELECTION_KEYS = ("roi", "vertices", "hemisphere")


def resolve_selection(selection: Mapping | None) -> np.ndarray | None:
    """Turn a user's ``selection`` into the vertex indices to return.

    Parameters
    ----------
    selection : dict or None
        None selects all 20484 vertices. Otherwise a dict with either or both of

        ``'roi'`` : str or list of str
            Glasser area names (case-sensitive); each selects the area in both hemispheres,
            never medial-wall vertices. ``L_V1`` / ``R_V1`` select one hemisphere,
            wildcards (``'V*'``, ``'*PFC'``) several areas, and the 22 sections of Glasser
            et al. 2016 (``'Early Visual Cortex'``) theirs (see :mod:`berg.cortex.names`).
        ``'vertices'`` : array-like, shape (20484,)
            Binary mask (bool, or numbers that are all 0 or 1), left hemisphere first.
        ``'hemisphere'`` : {'both', 'left', 'right'} (or 'lh', 'rh')
            The hemisphere of the ``roi`` names without a prefix; alone, the whole
            hemisphere (all its 10,242 vertices).

        Given ``roi`` and ``vertices``, their union is selected. A key whose value is None
        counts as absent.

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
            problem = f"unknown selection key {key!r}{_suggest_key(key)}"
            raise InvalidParameterError(
                problem
                + ("" if problem.endswith("?") else ".")
                + f" Valid keys: {format_choices(_SELECTION_KEYS)}"
            )
    roi = selection.get("roi")
    mask = selection.get("vertices")
    side = selection.get("hemisphere")
    side = "both" if side is None else check_hemisphere(side)
    if roi is None and mask is None and side != "both":  # a whole hemisphere
        start = 0 if side == "left" else N_VERTICES_PER_HEMISPHERE
        return np.arange(start, start + N_VERTICES_PER_HEMISPHERE, dtype=np.int64)
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
        parts.append(resolve_roi_names(roi, hemisphere=side))
    return np.unique(np.concatenate(parts)).astype(np.int64)


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
    if isinstance(key, str) and len(key) >= 3:  # a shortened key: 'hemi', 'vert'
        starts = [k for k in _SELECTION_KEYS if k.startswith(key.lower())]
        if len(starts) == 1:
            return f"; did you mean {starts[0]!r}?"
    return did_you_mean(key, _SELECTION_KEYS)


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
            f"selection['vertices'] contains values other than 0 and 1: {format_values(bad)}; "
            "it is a mask: 1 keeps the vertex, 0 drops it"
        )
    return array.astype(bool)
