"""get_model_metadata with a BERG folder's own metadata file: found beside the weights, read
without running its pickle, checked against berg's metadata, its extra keys added."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

import berg
from berg import BERG, MetadataError
from berg.metadata import model_metadata
from berg.registry import get_card

MODEL = "fmri-dascoli_2026-tribe_v2"
ALIAS = "fmri-multi_study-tribe_v2"
# BERG's layout, spelled out here rather than taken from the card.
DASCOLI = "encoding_models/modality-fmri/train_dataset-dascoli_2026/model-tribe_v2"
MULTI = "encoding_models/modality-fmri/train_dataset-multi_study/model-tribe_v2"
PARCELLATION = Path(berg.__file__).parent / "data" / "glasser_fsaverage5.npz"


def glasser():
    """The packaged parcellation, read straight from its file."""
    with np.load(PARCELLATION) as data:
        return data["labels"].copy(), data["assignments"].copy()


def berg_style_metadata(**fmri_extra):
    """A metadata dict as BERG would save it for TRIBE v2: berg's values, plus extras."""
    labels, assignments = glasser()
    return {
        "fmri": {
            "subject_id": "average",
            "n_vertices": 20484,
            "n_vertices_lh": 10242,
            "n_vertices_rh": 10242,
            "surface_mesh": "fsaverage5",
            "output_frequency_hz": 1.0,
            **fmri_extra,
        },
        "roi": {
            "parcellation": "Glasser_HCP-MMP1.0",
            "roi_labels": labels,
            "roi_assignments": assignments,
            "roi_index": {str(name): i for i, name in enumerate(labels)},
        },
        "study": {"datasets": ["CNeuroMod", "BOLD Moments"], "n_subjects": 25},
    }


def save_npy(tmp_path, folder, name, value):
    path = tmp_path / folder / "metadata" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, value, allow_pickle=True)
    return path


@pytest.mark.parametrize(
    "model_id, folder",
    [(MODEL, DASCOLI), (ALIAS, MULTI), (MODEL, MULTI)],
    ids=["own folder", "alias folder (also_in)", "canonical id, alias folder"],
)
def test_a_berg_npy_file_is_read_and_its_extras_added(tmp_path, model_id, folder):
    path = save_npy(tmp_path, folder, "metadata_sub-average.npy", berg_style_metadata(tr_s=1.49))
    meta = BERG(tmp_path).get_model_metadata(model_id)
    assert meta["fmri"]["tr_s"] == 1.49
    assert meta["study"] == {"datasets": ["CNeuroMod", "BOLD Moments"], "n_subjects": 25}
    assert meta["fmri"]["subject_id"] == "average" and meta["fmri"]["n_vertices"] == 20484
    labels, assignments = glasser()
    assert np.array_equal(meta["roi"]["roi_assignments"], assignments)
    assert list(meta["roi"]["roi_labels"]) == list(labels)
    assert meta["timing"]["hemodynamic_offset_s"] == 5.0  # berg's key, absent from the file
    assert meta["model"]["metadata_file"] == str(path)
    assert meta["model"]["model_id"] == MODEL


def test_the_models_own_folder_comes_before_the_alias_folder(tmp_path):
    own = save_npy(tmp_path, DASCOLI, "metadata.npy", {"fmri": {"tr_s": 1.0}})
    save_npy(tmp_path, MULTI, "metadata.npy", {"fmri": {"tr_s": 2.0}})
    meta = BERG(tmp_path).get_model_metadata(ALIAS)
    assert meta["fmri"]["tr_s"] == 1.0 and meta["model"]["metadata_file"] == str(own)


def test_names_are_tried_in_order(tmp_path):
    save_npy(tmp_path, DASCOLI, "metadata_sub-average.npy", {"source": "average"})
    save_npy(tmp_path, DASCOLI, "metadata_sub-01.npy", {"source": "sub-01"})
    assert BERG(tmp_path).get_model_metadata(MODEL)["source"] == "average"
    save_npy(tmp_path, DASCOLI, "metadata.npy", {"source": "plain"})
    assert BERG(tmp_path).get_model_metadata(MODEL)["source"] == "plain"


def test_a_single_subject_file_is_taken(tmp_path):
    path = save_npy(tmp_path, DASCOLI, "metadata_sub-01.npy", {"source": "sub-01"})
    meta = BERG(tmp_path).get_model_metadata(MODEL)
    assert meta["source"] == "sub-01" and meta["model"]["metadata_file"] == str(path)


def test_several_subject_files_are_an_error_that_lists_them(tmp_path):
    save_npy(tmp_path, DASCOLI, "metadata_sub-01.npy", {"source": "sub-01"})
    save_npy(tmp_path, DASCOLI, "metadata_sub-02.npy", {"source": "sub-02"})
    with pytest.raises(MetadataError, match="metadata_sub-01.npy, metadata_sub-02.npy"):
        BERG(tmp_path).get_model_metadata(MODEL)


def test_a_json_file(tmp_path):
    labels, assignments = glasser()
    path = tmp_path / MULTI / "metadata" / "metadata.json"
    path.parent.mkdir(parents=True)
    content = {
        "fmri": {"subject_id": "average", "output_frequency_hz": 1.0, "tr_s": 1.49},
        "roi": {"roi_labels": labels.tolist(), "roi_assignments": assignments.tolist()},
        "notes": "from the BERG release",
    }
    path.write_text(json.dumps(content))
    meta = BERG(tmp_path).get_model_metadata(ALIAS)
    assert meta["fmri"]["tr_s"] == 1.49 and meta["notes"] == "from the BERG release"
    assert meta["model"]["metadata_file"] == str(path)
    assert meta["roi"]["roi_index"]["V1"] == 0  # berg's keys the file lacks stay


def test_floats_agree_within_the_tolerance(tmp_path):
    save_npy(tmp_path, DASCOLI, "metadata.npy", {"fmri": {"output_frequency_hz": 1.0 + 1e-9}})
    assert BERG(tmp_path).get_model_metadata(MODEL)["fmri"]["output_frequency_hz"] == 1.0


def test_a_changed_vertex_is_named(tmp_path):
    content = berg_style_metadata()
    vertex = 5000
    content["roi"]["roi_assignments"][vertex] += 1
    path = save_npy(tmp_path, DASCOLI, "metadata.npy", content)
    with pytest.raises(MetadataError) as caught:
        BERG(tmp_path).get_model_metadata(MODEL)
    message = str(caught.value)
    assert str(path) in message
    assert "roi.roi_assignments" in message and "shape (20484,)" in message
    assert f"first different at index {vertex}" in message
    assert "another model or parcellation" in message and "remove it or fix it" in message
    assert "fmri." not in message  # the keys that agree are not reported


def test_another_subject_is_named(tmp_path):
    path = save_npy(tmp_path, DASCOLI, "metadata.npy", berg_style_metadata(subject_id="sub-01"))
    with pytest.raises(MetadataError) as caught:
        BERG(tmp_path).get_model_metadata(MODEL)
    message = str(caught.value)
    assert str(path) in message
    assert "fmri.subject_id: berg has 'average', the file has 'sub-01'" in message
    assert isinstance(caught.value, berg.BERGError)


@pytest.mark.parametrize(
    "bad, expected",
    [
        ({"timing": {"hemodynamic_offset_s": 5.1}}, "timing.hemodynamic_offset_s"),
        ({"fmri": {"n_vertices": [20484]}}, "shapes differ"),
        ({"fmri": {"n_vertices": "20484"}}, "fmri.n_vertices"),
        ({"roi": "Glasser"}, "roi: berg has a dict"),
    ],
)
def test_other_disagreements(tmp_path, bad, expected):
    save_npy(tmp_path, DASCOLI, "metadata.npy", bad)
    with pytest.raises(MetadataError, match=expected):
        BERG(tmp_path).get_model_metadata(MODEL)


class _RunsACommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _Evaluates:
    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return (eval, (self.code,))


@pytest.mark.parametrize(
    "payload, callable_name",
    [
        (lambda marker: _RunsACommand(f"echo pwned > {marker}"), "system"),
        (lambda marker: _Evaluates(f"open({str(marker)!r}, 'w').write('pwned')"), "eval"),
    ],
    ids=["os.system", "eval"],
)
def test_a_malicious_pickle_is_refused_and_not_run(tmp_path, payload, callable_name):
    marker = tmp_path / "pwned.txt"
    path = save_npy(tmp_path, DASCOLI, "metadata.npy", {"fmri": payload(marker)})
    with pytest.raises(MetadataError) as caught:
        BERG(tmp_path).get_model_metadata(MODEL)
    assert str(path) in str(caught.value) and callable_name in str(caught.value)
    assert not marker.exists()
    # The file really is malicious: numpy's own loader runs it.
    np.load(path, allow_pickle=True)
    assert marker.read_text().strip() == "pwned"


def test_a_plain_array_is_not_metadata(tmp_path):
    path = save_npy(tmp_path, DASCOLI, "metadata.npy", np.linspace(0.0, 1.0, 5))
    with pytest.raises(MetadataError, match="plain float64 array of shape \\(5,\\)") as caught:
        BERG(tmp_path).get_model_metadata(MODEL)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    "write, expected",
    [
        (lambda p: np.save(p, np.array([{"a": 1}, {"b": 2}], dtype=object)), "shape \\(2,\\)"),
        (lambda p: np.save(p, np.array(["x"], dtype=object)), "holds a str"),
        (lambda p: p.write_bytes(b"not numpy at all"), "not a readable .npy file"),
    ],
    ids=["two dicts", "a string", "not npy"],
)
def test_other_files_that_are_no_metadata(tmp_path, write, expected):
    path = tmp_path / DASCOLI / "metadata" / "metadata.npy"
    path.parent.mkdir(parents=True)
    write(path)
    with pytest.raises(MetadataError, match=expected):
        BERG(tmp_path).get_model_metadata(MODEL)


def test_a_truncated_pickle_is_an_error(tmp_path):
    path = save_npy(tmp_path, DASCOLI, "metadata.npy", berg_style_metadata())
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(MetadataError, match="damaged pickle"):
        BERG(tmp_path).get_model_metadata(MODEL)


def test_bad_json_is_an_error(tmp_path):
    path = tmp_path / DASCOLI / "metadata" / "metadata.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(MetadataError, match="not valid JSON"):
        BERG(tmp_path).get_model_metadata(MODEL)
    path.write_text("[1, 2]")
    with pytest.raises(MetadataError, match="holds a list, not a metadata dictionary"):
        BERG(tmp_path).get_model_metadata(MODEL)


def _same(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("layout", ["no folder", "empty model folder", "empty metadata folder"])
def test_without_a_file_the_result_is_berg_s_alone(tmp_path, layout):
    if layout == "empty model folder":
        (tmp_path / DASCOLI).mkdir(parents=True)
    elif layout == "empty metadata folder":
        (tmp_path / DASCOLI / "metadata").mkdir(parents=True)
    meta = BERG(tmp_path).get_model_metadata(MODEL)
    assert _same(meta, model_metadata(get_card(MODEL)))
    assert "metadata_file" not in meta["model"]
    assert set(meta) == {"fmri", "roi", "timing", "model"}
    assert meta["fmri"]["subject_id"] == "average" and meta["roi"]["roi_index"]["V1"] == 0


def test_every_call_returns_fresh_objects(tmp_path):
    save_npy(tmp_path, DASCOLI, "metadata.npy", berg_style_metadata(tr_s=1.49))
    first = BERG(tmp_path).get_model_metadata(MODEL)
    first["study"]["datasets"].append("mine")
    first["roi"]["roi_assignments"][:] = 7
    second = BERG(tmp_path).get_model_metadata(MODEL)
    assert second["study"]["datasets"] == ["CNeuroMod", "BOLD Moments"]
    assert second["roi"]["roi_assignments"].min() == -1


def test_berg_dir_must_be_a_path():
    with pytest.raises(berg.InvalidParameterError, match="berg_dir must be a path"):
        model_metadata(get_card(MODEL), berg_dir=3)


def test_a_loaded_models_metadata_carries_the_folders_file(tmp_path):
    # What encode returns with return_metadata=True starts from the model's metadata().
    from tiny_checkpoint import RELEASE_FEATURE_DIMS, write_tiny_checkpoint

    write_tiny_checkpoint(tmp_path / DASCOLI, feature_dims=RELEASE_FEATURE_DIMS)
    path = save_npy(tmp_path, DASCOLI, "metadata.npy", berg_style_metadata(tr_s=1.49))
    with BERG(tmp_path).get_encoding_model(MODEL, device="cpu", download=False) as model:
        meta = model.metadata()
    assert meta["fmri"]["tr_s"] == 1.49 and meta["model"]["metadata_file"] == str(path)
    assert meta["model"]["weights_commit"] is None  # copied by hand: no record of a commit
