"""The metadata dictionary of a model, built from its card and the packaged parcellation,
and checked against the metadata file a BERG folder keeps beside the model's weights.

Nothing here loads weights or touches the network: ``BERG.get_model_metadata`` must work on
a laptop that has never downloaded the model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from berg import cortex
from berg.errors import InvalidParameterError, MetadataError
from berg.metadata_files import find_metadata_file, read_metadata_file
from berg.registry import ModelCard

__all__ = ["model_metadata"]

# Floats in a file written elsewhere (float32, a JSON round trip) may differ in the last
# digits from berg's; anything beyond this is another value.
FLOAT_TOLERANCE = 1e-6


def model_metadata(card: ModelCard, berg_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """The BERG metadata of a model.

    Parameters
    ----------
    card : ModelCard
        The model's card.
    berg_dir : path, optional
        A BERG directory. When one of the model's folders in it (the card's
        ``weights.berg_path``, then ``weights.also_in``) has a ``metadata/`` file
        (``metadata.npy``, ``metadata.json``, ``metadata_sub-average.npy`` or ``.json``,
        else a single ``metadata_sub-*.npy``), it is read without running its pickle and
        checked against berg's metadata: every key both have must hold the same value;
        keys only the file has are added. Without one, or without such a file, the result
        is berg's alone.

    Returns
    -------
    dict
        ``fmri``: subject_id, n_vertices, n_vertices_lh, n_vertices_rh, surface_mesh,
        output_frequency_hz (these keys, as the BERG model card lists them; a folder's file
        may add more, here and at the top level).
        ``roi``: parcellation, roi_labels (180,), roi_assignments (20484,) with -1 on the
        medial wall, roi_index {name: index into roi_labels}.
        ``timing``: hemodynamic_offset_s and what it means for each output row.
        ``model``: model_id, aliases, name, weights provenance (Hub repo, revision, licence),
        and ``metadata_file`` (the path of the folder's file) when one was merged.
        Every call returns fresh objects: changing them cannot affect later calls.

    Raises
    ------
    MetadataError
        The folder's file cannot be read safely, holds no dictionary, or disagrees with
        berg's metadata (the message names the file and each differing key).
    """
    meta = _own_metadata(card)
    if berg_dir is None:
        return meta
    if not isinstance(berg_dir, (str, os.PathLike)):
        raise InvalidParameterError(
            f"berg_dir must be a path (str or os.PathLike), got {type(berg_dir).__name__} "
            f"{berg_dir!r}"
        )
    weights = card.weights
    path = find_metadata_file(berg_dir, (weights.berg_path, *weights.also_in))
    if path is None:
        return meta
    problems = _merge(meta, read_metadata_file(path), ())
    if problems:
        shown = problems[:5] + ([f"and {len(problems) - 5} more"] if len(problems) > 5 else [])
        raise MetadataError(
            f"the BERG folder's metadata file {path} disagrees with berg's metadata of "
            f"{card.model_id}: {'; '.join(shown)}. The file describes another model or "
            f"parcellation than the one berg predicts with; remove it or fix it"
        )
    meta["model"]["metadata_file"] = str(path)
    return meta


def _own_metadata(card: ModelCard) -> dict[str, Any]:
    """berg's metadata of the model, from its card and the packaged parcellation alone."""
    facts = card["metadata"]
    weights = card.weights
    offset = float(facts["hemodynamic_offset_s"])
    return {
        "fmri": {
            "subject_id": facts["subject_id"],
            "n_vertices": cortex.N_VERTICES,
            "n_vertices_lh": cortex.N_VERTICES_PER_HEMISPHERE,
            "n_vertices_rh": cortex.N_VERTICES_PER_HEMISPHERE,
            "surface_mesh": cortex.SURFACE_MESH,
            "output_frequency_hz": float(facts["output_frequency_hz"]),
        },
        "roi": cortex.roi_metadata(),
        "timing": {
            "hemodynamic_offset_s": offset,
            "row_interval": "row k covers stimulus time [k, k+1) seconds",
            "meaning": (
                f"the model was trained against fMRI shifted {offset:g} s earlier, so "
                f"row k predicts the BOLD signal measured about {offset:g} s after "
                "the start of second k; no shift is applied to the output"
            ),
        },
        "model": {
            "model_id": card.model_id,
            "aliases": list(card.aliases),
            "name": card["name"],
            "hub_repo": weights.hub_repo,
            "revision": weights.revision,
            "weights_license": weights.license,
        },
    }


def _merge(ours: dict, theirs: Mapping, where: tuple) -> list[str]:
    """Add to ``ours`` the keys only ``theirs`` has; return how the shared keys differ."""
    problems = []
    for key, value in theirs.items():
        if key not in ours:
            ours[key] = value  # BERG's extra facts are welcome
        elif isinstance(ours[key], dict) and isinstance(value, Mapping):
            problems += _merge(ours[key], value, (*where, key))
        else:
            difference = _difference(ours[key], value)
            if difference:
                problems.append(f"{_key_path((*where, key))}: {difference}")
    return problems


def _key_path(keys: tuple) -> str:
    return ".".join(str(key) for key in keys)


def _difference(ours: Any, theirs: Any) -> str | None:
    """None when the values are the same, else what differs (berg's value first)."""
    differs = f"berg has {_show(ours)}, the file has {_show(theirs)}"
    if isinstance(ours, Mapping) and isinstance(theirs, Mapping):  # inside a list
        problems = _merge(dict(ours), theirs, ())
        return problems[0] if problems else None
    if isinstance(ours, Mapping) or isinstance(theirs, Mapping):
        return differs
    for text in (str, bytes):  # np.str_ is a str
        if isinstance(ours, text) or isinstance(theirs, text):
            same = isinstance(ours, text) and isinstance(theirs, text) and ours == theirs
            return None if same else differs
    a, b = _as_array(ours), _as_array(theirs)
    if a is None or b is None:  # objects, ragged lists: element by element
        return _sequence_difference(ours, theirs, differs)
    if a.shape != b.shape:
        return f"{differs} (shapes differ)"
    numeric = "biufc"
    if a.dtype.kind in numeric and b.dtype.kind in numeric:
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            equal = np.isclose(a, b, rtol=FLOAT_TOLERANCE, atol=FLOAT_TOLERANCE, equal_nan=True)
        else:
            equal = a == b
    elif a.dtype.kind == b.dtype.kind:
        equal = a == b
    else:
        return differs
    equal = np.asarray(equal)
    if equal.all():
        return None
    if a.ndim == 0:
        return differs
    index = tuple(int(i) for i in np.argwhere(~equal)[0])
    shown = index[0] if len(index) == 1 else index
    return (
        f"{differs}, first different at index {shown} "
        f"(berg {a[index].item()!r}, the file {b[index].item()!r})"
    )


def _sequence_difference(ours: Any, theirs: Any, differs: str) -> str | None:
    if not (_is_sequence(ours) and _is_sequence(theirs)):
        return None if _plain_equal(ours, theirs) else differs
    if len(ours) != len(theirs):
        return f"{differs} (lengths differ)"
    for i, (mine, other) in enumerate(zip(ours, theirs)):
        difference = _difference(mine, other)
        if difference:
            return f"at index {i}, {difference}"
    return None


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim > 0)


def _plain_equal(ours: Any, theirs: Any) -> bool:
    try:
        return bool(ours == theirs)
    except Exception:  # an object whose == is not a truth value
        return False


def _as_array(value: Any) -> np.ndarray | None:
    """``value`` as a numpy array of numbers or strings, or None (objects, ragged lists)."""
    if value is None:
        return None
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        return None
    return None if array.dtype.kind == "O" else array


def _show(value: Any) -> str:
    """A short description of a value: long arrays and lists by their shape."""
    if isinstance(value, np.ndarray) and value.size > 6:
        return f"an array of {value.dtype}, shape {value.shape}"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, Mapping):
        return f"a dict with keys {sorted(map(str, value))[:6]}"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."
