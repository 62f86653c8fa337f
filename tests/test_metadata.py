"""get_model_metadata: the exact BERG keys, offline, without loading any model."""

import sys

import numpy as np
import pytest

from berg import BERG, ModelNotFoundError

FMRI_KEYS = {
    "subject_id",
    "n_vertices",
    "n_vertices_lh",
    "n_vertices_rh",
    "surface_mesh",
    "output_frequency_hz",
}
ROI_KEYS = {"parcellation", "roi_labels", "roi_assignments", "roi_index"}


@pytest.mark.parametrize("model_id", ["fmri-dascoli_2026-tribe_v2", "fmri-multi_study-tribe_v2"])
def test_metadata_has_the_card_keys_and_values(tmp_path, model_id):
    meta = BERG(berg_dir=tmp_path / "never-created").get_model_metadata(model_id)
    assert set(meta["fmri"]) == FMRI_KEYS
    assert meta["fmri"] == {
        "subject_id": "average",
        "n_vertices": 20484,
        "n_vertices_lh": 10242,
        "n_vertices_rh": 10242,
        "surface_mesh": "fsaverage5",
        "output_frequency_hz": 1.0,
    }
    assert isinstance(meta["fmri"]["output_frequency_hz"], float)
    roi = meta["roi"]
    assert set(roi) == ROI_KEYS
    assert roi["parcellation"] == "Glasser_HCP-MMP1.0"
    assert roi["roi_labels"].shape == (180,)
    assert roi["roi_assignments"].shape == (20484,)
    assert roi["roi_assignments"].min() == -1 and roi["roi_assignments"].max() == 179
    assert roi["roi_index"]["V1"] == 0 and roi["roi_index"]["p24"] == 179
    assert roi["roi_index"]["FFC"] == 17  # 18th name in Glasser order
    # roi_index indexes roi_assignments: V1's vertices are where the assignment is 0
    v1 = np.flatnonzero(roi["roi_assignments"] == roi["roi_index"]["V1"])
    assert 0 < len(v1) < 1000 and (v1 < 10242).any() and (v1 >= 10242).any()
    assert meta["timing"]["hemodynamic_offset_s"] == 5.0
    assert meta["model"]["model_id"] == "fmri-dascoli_2026-tribe_v2"
    assert meta["model"]["hub_repo"] == "facebook/tribev2"
    assert not (tmp_path / "never-created").exists()  # nothing written


def test_metadata_loads_no_weights_and_no_torch(tmp_path):
    # In a fresh interpreter: metadata must not even import torch or huggingface_hub.
    import subprocess

    code = (
        "import sys; from berg import BERG; "
        f"m = BERG({str(tmp_path)!r}).get_model_metadata('fmri-multi_study-tribe_v2'); "
        "assert m['fmri']['n_vertices'] == 20484; "
        "print(sorted(k for k in ('torch', 'huggingface_hub') if k in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_metadata_copies_are_independent(tmp_path):
    berg = BERG(tmp_path)
    first = berg.get_model_metadata("fmri-dascoli_2026-tribe_v2")
    first["roi"]["roi_assignments"][:] = 7
    first["roi"]["roi_index"]["V1"] = 99
    first["fmri"]["n_vertices"] = 0
    second = berg.get_model_metadata("fmri-dascoli_2026-tribe_v2")
    assert second["roi"]["roi_assignments"].min() == -1
    assert second["roi"]["roi_index"]["V1"] == 0
    assert second["fmri"]["n_vertices"] == 20484


def test_unknown_model_metadata(tmp_path):
    with pytest.raises(ModelNotFoundError, match="did you mean 'fmri-dascoli_2026-tribe_v2'"):
        BERG(tmp_path).get_model_metadata("fmri-dascoli-tribe_v2")


def test_berg_dir_must_be_a_folder_path(tmp_path):
    from berg import InvalidParameterError

    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidParameterError, match="not a folder"):
        BERG(tmp_path / "file")
    with pytest.raises(InvalidParameterError, match="berg_dir must be a folder path"):
        BERG(None)
