"""The BERG interface end to end, with a tiny checkpoint where users put the real one."""

import numpy as np
import pytest
import torch
from tiny_checkpoint import RELEASE_FEATURE_DIMS, write_tiny_checkpoint

from berg import (
    BERG,
    DeviceNotAvailableError,
    InvalidParameterError,
    ModelLoadError,
    ModelNotFoundError,
    StimulusError,
)
from berg.pipeline import TribeV2Model

BERG_LAYOUT = "encoding_models/modality-fmri/train_dataset-dascoli_2026/model-tribe_v2"


@pytest.fixture(scope="module")
def berg_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("berg")
    write_tiny_checkpoint(root / BERG_LAYOUT, feature_dims=RELEASE_FEATURE_DIMS)
    return root


@pytest.fixture
def stimulus(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    return path


def test_get_encoding_model_loads_from_the_berg_layout(berg_dir):
    berg = BERG(berg_dir=str(berg_dir))
    mask = np.zeros(20484, dtype=int)
    mask[100:200] = 1
    model = berg.get_encoding_model(
        "fmri-dascoli_2026-tribe_v2",
        selection={"roi": ["V1", "V2", "FFC"], "vertices": mask},
        device="cpu",
    )
    assert isinstance(model, TribeV2Model)
    assert model.weights_dir == berg_dir / BERG_LAYOUT
    assert isinstance(model.brain_model, torch.nn.Module)
    assert not model.brain_model.training
    # the columns: union of the three areas (both hemispheres) and vertices 100..199
    assignments = berg.get_model_metadata(model.model_id)["roi"]["roi_assignments"]
    expected = np.union1d(np.flatnonzero(np.isin(assignments, [0, 3, 17])), np.arange(100, 200))
    np.testing.assert_array_equal(model.vertices, expected)
    assert model.n_vertices == len(expected)
    assert "V1" not in repr(model) and f"{len(expected)} vertices" in repr(model)


def test_alias_and_defaults(berg_dir):
    model = BERG(berg_dir).get_encoding_model("fmri-multi_study-tribe_v2")
    assert model.model_id == "fmri-dascoli_2026-tribe_v2"
    assert model.vertices is None and model.n_vertices == 20484
    assert model.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_the_loaded_brain_model_predicts_every_vertex(berg_dir):
    model = BERG(berg_dir).get_encoding_model("fmri-dascoli_2026-tribe_v2", device="cpu")
    dims = model.brain_model.feature_dims
    features = {name: torch.randn(1, n_layers, dim, 200) for name, (n_layers, dim) in dims.items()}
    with torch.no_grad():
        out = model.brain_model(features)
    assert out.shape == (1, 20484, 100)
    assert torch.isfinite(out).all()


def test_checkpoint_dir_option(tmp_path):
    ckpt = write_tiny_checkpoint(tmp_path / "my-weights", feature_dims=RELEASE_FEATURE_DIMS)
    model = BERG(tmp_path / "empty-berg").get_encoding_model(
        "fmri-dascoli_2026-tribe_v2", device="cpu", checkpoint_dir=ckpt
    )
    assert model.weights_dir == ckpt
    assert not (tmp_path / "empty-berg").exists()


def test_missing_weights_without_download(tmp_path):
    with pytest.raises(ModelLoadError) as info:
        BERG(tmp_path).get_encoding_model("fmri-dascoli_2026-tribe_v2", download=False)
    message = str(info.value)
    assert str(tmp_path / BERG_LAYOUT) in message
    assert "best.ckpt" in message and "config.yaml" in message


def test_bad_selection_fails_before_any_download(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("a bad selection must not start a download")

    monkeypatch.setattr("berg.tribe.weights.fetch_weights", no_download)
    with pytest.raises(InvalidParameterError, match="did you mean 'V7'"):
        BERG(tmp_path).get_encoding_model("fmri-dascoli_2026-tribe_v2", selection={"roi": ["V7a"]})


def test_unknown_model_and_options(berg_dir):
    berg = BERG(berg_dir)
    with pytest.raises(ModelNotFoundError, match="did you mean"):
        berg.get_encoding_model("fmri-dascoli_2026-tribe-v2")
    with pytest.raises(InvalidParameterError, match="did you mean 'checkpoint_dir'"):
        berg.get_encoding_model("fmri-dascoli_2026-tribe_v2", checkpoint_path="x")
    with pytest.raises(InvalidParameterError, match="download must be True or False"):
        berg.get_encoding_model("fmri-dascoli_2026-tribe_v2", download="yes")
    with pytest.raises(InvalidParameterError, match="unknown device 'gpu'"):
        berg.get_encoding_model("fmri-dascoli_2026-tribe_v2", device="gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu(berg_dir):
    with pytest.raises(DeviceNotAvailableError, match="device='cpu'"):
        BERG(berg_dir).get_encoding_model("fmri-dascoli_2026-tribe_v2", device="cuda")


def test_corrupt_checkpoint_in_berg_dir(tmp_path):
    target = write_tiny_checkpoint(tmp_path / BERG_LAYOUT, feature_dims=RELEASE_FEATURE_DIMS)
    data = (target / "best.ckpt").read_bytes()
    (target / "best.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="best.ckpt"):
        BERG(tmp_path).get_encoding_model("fmri-dascoli_2026-tribe_v2", download=False)


def test_encode_checks_the_stimulus_first(berg_dir, stimulus, tmp_path):
    berg = BERG(berg_dir)
    model = berg.get_encoding_model("fmri-dascoli_2026-tribe_v2", device="cpu")
    with pytest.raises(StimulusError, match="does not exist"):
        berg.encode(model, tmp_path / "missing.mp4")
    with pytest.raises(StimulusError, match="did you mean '.mp4'"):
        (tmp_path / "clip.mp5").write_bytes(b"x")
        berg.encode(model, tmp_path / "clip.mp5")
    with pytest.raises(StimulusError, match="clip.mp4"):  # 12 bytes of an mp4 header only
        berg.encode(model, stimulus, show_progress=True)
    with pytest.raises(InvalidParameterError, match="return_metadata must be True or False"):
        berg.encode(model, stimulus, return_metadata="yes")
    with pytest.raises(InvalidParameterError, match="must come from BERG.get_encoding_model"):
        berg.encode("fmri-dascoli_2026-tribe_v2", stimulus)


def test_model_metadata_adds_the_selection(berg_dir):
    model = BERG(berg_dir).get_encoding_model(
        "fmri-dascoli_2026-tribe_v2", device="cpu", selection={"roi": "FFC"}
    )
    meta = model.metadata()
    assert meta["fmri"]["n_vertices"] == 20484  # the mesh, not the selection
    ffc = np.flatnonzero(meta["roi"]["roi_assignments"] == meta["roi"]["roi_index"]["FFC"])
    np.testing.assert_array_equal(meta["selection"]["vertices"], ffc)
    assert meta["selection"]["n_vertices"] == len(ffc)
    assert meta["model"]["device"] == "cpu"


def test_context_manager_releases_the_model(berg_dir, stimulus):
    berg = BERG(berg_dir)
    with berg.get_encoding_model("fmri-dascoli_2026-tribe_v2", device="cpu") as model:
        assert model.brain_model is not None
    assert model.brain_model is None and "closed" in repr(model)
    with pytest.raises(InvalidParameterError, match="was closed"):
        berg.encode(model, stimulus)
