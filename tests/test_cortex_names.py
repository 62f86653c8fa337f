"""Area names (L_/R_, wildcards, the 22 sections, a hemisphere key) and the summaries over
areas, checked against the parcellation's own assignments."""

import numpy as np
import pytest

from berg import cortex
from berg.errors import InvalidParameterError

HALF = 10242


@pytest.fixture(scope="module")
def parcellation():
    return cortex.load_parcellation()


def _vertices(parcellation, names, side="both"):
    """By hand: the vertices assigned to ``names`` in one or both hemispheres."""
    index = [parcellation.labels.index(n) for n in names]
    inside = np.isin(parcellation.assignments, index)
    where = np.arange(len(inside))
    if side == "left":
        inside &= where < HALF
    elif side == "right":
        inside &= where >= HALF
    return np.flatnonzero(inside)


def test_one_hemisphere_by_prefix_or_by_key(parcellation):
    left = cortex.resolve_selection({"roi": ["L_V1"]})
    np.testing.assert_array_equal(left, _vertices(parcellation, ["V1"], "left"))
    assert left.max() < HALF
    np.testing.assert_array_equal(
        cortex.resolve_selection({"roi": ["R_V1_ROI"]}), _vertices(parcellation, ["V1"], "right")
    )
    right = cortex.resolve_selection({"roi": ["V1", "L_MT"], "hemisphere": "rh"})
    expected = np.union1d(
        _vertices(parcellation, ["V1"], "right"), _vertices(parcellation, ["MT"], "left")
    )
    np.testing.assert_array_equal(right, expected)
    np.testing.assert_array_equal(cortex.resolve_selection({"hemisphere": "left"}), np.arange(HALF))
    both = cortex.resolve_selection({"roi": ["L_V1", "R_V1"]})
    np.testing.assert_array_equal(both, cortex.resolve_selection({"roi": ["V1"]}))


def test_wildcards_match_area_names(parcellation):
    starting_with_v = [n for n in parcellation.labels if n.startswith("V")]
    assert len(starting_with_v) == 17
    np.testing.assert_array_equal(
        cortex.resolve_roi_names(["V*"]), _vertices(parcellation, starting_with_v)
    )
    one_letter = [n for n in parcellation.labels if len(n) == 2 and n[0] == "V"]
    np.testing.assert_array_equal(
        cortex.resolve_roi_names("L_V?"), _vertices(parcellation, one_letter, "left")
    )
    with pytest.raises(InvalidParameterError, match="the pattern matches no area"):
        cortex.resolve_roi_names(["*PFC"])


def test_the_22_sections_cover_every_area_once(parcellation):
    sections = cortex.glasser_sections()
    assert len(sections) == 22
    members = [a for areas in sections.values() for a in areas]
    assert sorted(members) == sorted(parcellation.labels)  # each of the 180 exactly once
    assert sections["Early Visual Cortex"] == ("V2", "V3", "V4")
    np.testing.assert_array_equal(
        cortex.resolve_selection({"roi": ["early visual cortex"], "hemisphere": "left"}),
        _vertices(parcellation, ["V2", "V3", "V4"], "left"),
    )


def test_area_means_by_hand(parcellation):
    values = np.arange(20484, dtype=np.float64)  # each vertex's value is its index
    names, means = cortex.area_means(values)
    assert names == list(parcellation.labels) and means.shape == (180,)
    v1 = _vertices(parcellation, ["V1"])
    assert means[names.index("V1")] == pytest.approx(v1.mean())
    names, means = cortex.area_means(values, hemispheres="separate")
    assert names[:180] == [f"L_{n}" for n in parcellation.labels] and len(names) == 360
    assert means[names.index("R_V1")] == pytest.approx(
        _vertices(parcellation, ["V1"], "right").mean()
    )
    names, means = cortex.area_means(values, level="section")
    early = _vertices(parcellation, ["V2", "V3", "V4"])
    assert len(names) == 22 and means[names.index("Early Visual Cortex")] == pytest.approx(
        early.mean(), rel=1e-6
    )
    # Time courses, a subset of columns, and NaN (a GIfTI's unselected vertices) ignored.
    columns = np.concatenate([v1, _vertices(parcellation, ["MT"])])
    rows = np.stack([values[columns], 2 * values[columns]])
    rows[0, 0] = np.nan
    names, means = cortex.area_means(rows, columns)
    assert names == ["V1", "MT"] and means.shape == (2, 2) and means.dtype == np.float32
    assert means[0, 0] == pytest.approx(v1[1:].mean())
    assert means[1, 0] == pytest.approx(2 * v1.mean())
    with pytest.raises(InvalidParameterError, match="3 columns but 20484 vertices"):
        cortex.area_means(np.zeros(3))


def test_top_areas_rank_the_map(parcellation):
    values = np.zeros(20484)
    values[_vertices(parcellation, ["FFC"])] = 1.0
    values[_vertices(parcellation, ["V1"])] = 0.5
    values[_vertices(parcellation, ["A1"])] = -2.0
    top = cortex.top_areas(values, k=2)
    assert top == [("FFC", pytest.approx(1.0)), ("V1", pytest.approx(0.5))]
    assert cortex.top_areas(values, k=1, absolute=True) == [("A1", pytest.approx(-2.0))]
    left_only = values.copy()
    left_only[HALF:] = 0
    top = cortex.top_areas(left_only, k=1, hemispheres="separate")
    assert top == [("L_FFC", pytest.approx(1.0))]
    with pytest.raises(InvalidParameterError, match="ranks a map"):
        cortex.top_areas(np.zeros((2, 20484)))
