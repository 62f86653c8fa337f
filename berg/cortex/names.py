"""Area names as a user writes them -> vertices.

A name is one of

- a Glasser HCP-MMP1.0 area (``'V1'``, case-sensitive): both hemispheres;
- the same with ``L_`` or ``R_`` in front (``'L_V1'``; HCP's ``'L_V1_ROI'`` too): one
  hemisphere;
- a wildcard pattern over area names (``'V*'``, ``'*PFC'``, ``'L_TE?a'``), as
  :func:`fnmatch.fnmatchcase` reads it;
- one of the 22 sections of Glasser et al. 2016 (its supplementary grouping, as MNE's
  ``HCPMMP1_combined`` uses; ``'Early Visual Cortex'``, any case), shipped as
  ``berg/data/glasser_sections.json``.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.resources
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from berg.cortex.surface import N_VERTICES_PER_HEMISPHERE, load_parcellation
from berg.errors import BERGError, InvalidParameterError, did_you_mean, format_choices

__all__ = ["HEMISPHERES", "RoiName", "glasser_sections", "parse_roi_names", "resolve_roi_names"]

_WHERE_ROI_NAMES = "metadata['roi']['roi_labels'] or berg.cortex.load_parcellation().labels"
_SECTIONS_FILE = "glasser_sections.json"
_PREFIXES = {"L_": "left", "R_": "right"}

#: Spellings of a hemisphere -> 'left', 'right' or 'both'.
HEMISPHERES = {
    "left": "left",
    "lh": "left",
    "l": "left",
    "right": "right",
    "rh": "right",
    "r": "right",
    "both": "both",
}


@functools.cache
def glasser_sections() -> dict[str, tuple[str, ...]]:
    """The 22 sections of Glasser et al. 2016: section name -> its areas (in MNE's order)."""
    resource = importlib.resources.files("berg") / "data" / _SECTIONS_FILE
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
        return {s["name"]: tuple(s["areas"]) for s in data["sections"]}
    except Exception as exc:  # missing or damaged: a broken installation
        raise BERGError(
            f"cannot read the packaged {_SECTIONS_FILE} ({exc}); reinstall berg-tribe"
        ) from exc


@dataclass(frozen=True)
class RoiName:
    """One name, read: the areas it stands for and the hemisphere(s)."""

    text: str
    areas: tuple[str, ...]
    hemisphere: str  # 'left', 'right' or 'both'

    @property
    def labels(self) -> list[str]:
        """The per-hemisphere labels it covers: ``'V1'`` (both) or ``'L_V1'``."""
        if self.hemisphere == "both":
            return list(self.areas)
        prefix = "L_" if self.hemisphere == "left" else "R_"
        return [prefix + a for a in self.areas]


def check_hemisphere(value: object) -> str:
    """``'left'``, ``'right'`` or ``'both'`` for a spelling of one (``'lh'``, ``'R'``...)."""
    key = value.lower() if isinstance(value, str) else value
    if key not in HEMISPHERES:
        raise InvalidParameterError(
            f"hemisphere {value!r} is not one I know{did_you_mean(value, HEMISPHERES)} "
            f"(valid: {format_choices(HEMISPHERES)})"
        )
    return HEMISPHERES[key]


def parse_roi_names(names: object, *, hemisphere: str = "both") -> list[RoiName]:
    """Read area names, patterns and sections (see the module's docstring).

    Parameters
    ----------
    names : str or iterable of str
        One str is one name.
    hemisphere : {'both', 'left', 'right'}
        For names without an ``L_``/``R_`` prefix.

    Raises
    ------
    InvalidParameterError
        Not names, none given, or names that match nothing (each with its close match).
    """
    hemisphere = check_hemisphere(hemisphere)
    labels = load_parcellation().labels
    sections = {name.lower(): name for name in glasser_sections()}
    parsed, unknown = [], []
    for text in _as_name_list(names):
        core, side = text, hemisphere
        for prefix, which in _PREFIXES.items():
            if text.startswith(prefix) and len(text) > len(prefix):
                core, side = text[len(prefix) :].removesuffix("_ROI"), which
        if text.lower() in sections:  # a section, never prefixed
            section = sections[text.lower()]
            parsed.append(RoiName(text, glasser_sections()[section], hemisphere))
        elif any(c in core for c in "*?["):
            matches = tuple(a for a in labels if fnmatch.fnmatchcase(a, core))
            if not matches:
                unknown.append(text)
            parsed.append(RoiName(text, matches, side))
        elif core in labels:
            parsed.append(RoiName(text, (core,), side))
        else:
            unknown.append(text)
    if unknown:
        raise _unknown_names(unknown, labels)
    return parsed


def resolve_roi_names(names: object, *, hemisphere: str = "both") -> np.ndarray:
    """The vertices of ``names`` (areas, ``L_``/``R_`` names, patterns, sections).

    Returns
    -------
    vertices : ndarray, shape (n_selected,), int64
        Sorted, unique; never on the medial wall.
    """
    parcellation = load_parcellation()
    index = parcellation.roi_index
    left = np.arange(len(parcellation.assignments)) < N_VERTICES_PER_HEMISPHERE
    keep = np.zeros(len(parcellation.assignments), bool)
    for name in parse_roi_names(names, hemisphere=hemisphere):
        inside = np.isin(parcellation.assignments, [index[a] for a in name.areas])
        if name.hemisphere == "left":
            inside &= left
        elif name.hemisphere == "right":
            inside &= ~left
        keep |= inside
    return np.flatnonzero(keep).astype(np.int64)


def _as_name_list(names: object) -> list[str]:
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
    return names


def _unknown_names(unknown: list[str], labels: tuple[str, ...]) -> InvalidParameterError:
    unknown = list(dict.fromkeys(unknown))
    if len(unknown) == 1:
        problem = f"unknown ROI {unknown[0]!r}{_suggest_roi(unknown[0], labels)}"
    else:  # one parenthesis per name keeps several suggestions readable
        described = [
            f"{n!r} ({suggestion.removeprefix('; ')})" if suggestion else repr(n)
            for n in unknown
            for suggestion in [_suggest_roi(n, labels)]
        ]
        problem = f"{len(unknown)} unknown ROIs: {', '.join(described)}"
    if not problem.endswith(("?", ".")):
        problem += "."
    return InvalidParameterError(
        problem + f" The {len(labels)} Glasser HCP-MMP1.0 names are case-sensitive and bilateral "
        "(L_NAME / R_NAME for one hemisphere; wildcards such as 'V*' and the 22 sections of "
        f"Glasser et al. 2016, e.g. 'Early Visual Cortex', also work); they are listed in "
        f"{_WHERE_ROI_NAMES}"
    )


def _suggest_roi(name: str, labels: tuple[str, ...]) -> str:
    """``"; did you mean 'X'?"`` for an unknown ROI name, or ``""``."""
    for prefix in ("lh.", "rh."):  # FreeSurfer's spelling of a hemisphere
        core = name.removeprefix(prefix)
        if core != name and core in labels:
            side = "L_" if prefix == "lh." else "R_"
            return f"; did you mean {side + core!r}?"
    if any(c in name for c in "*?["):
        return " (the pattern matches no area)"
    suggestion = did_you_mean(name, labels)
    if not suggestion:
        suggestion = did_you_mean(name, list(glasser_sections()))
    return suggestion
