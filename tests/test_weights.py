"""Finding and downloading the weights (against a fake Hub on loopback)."""

import socket
from pathlib import PurePosixPath

import pytest
from fake_hub import FakeHub

from berg import InvalidParameterError, ModelLoadError
from berg.registry import WeightsSource, get_card
from berg.tribe.weights import locate_weights

REVISION = "0123456789abcdef0123456789abcdef01234567"
SOURCE = WeightsSource(
    hub_repo="facebook/tribev2",
    revision=REVISION,
    files=("config.yaml", "best.ckpt"),
    berg_path=PurePosixPath("encoding_models/modality-fmri/x/model-y"),
    license="CC-BY-NC-4.0",
)
FILES = {"config.yaml": b"brain_model_config: {}\n", "best.ckpt": bytes(range(256)) * 40}


def _closed_port_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_present_files_are_used_without_network(tmp_path):
    target = tmp_path / SOURCE.berg_path
    target.mkdir(parents=True)
    for name, data in FILES.items():
        (target / name).write_bytes(data)
    found = locate_weights(tmp_path, SOURCE, endpoint=_closed_port_endpoint())
    assert found == target


def test_missing_files_are_downloaded_into_the_berg_layout(tmp_path):
    with FakeHub("facebook/tribev2", REVISION, FILES) as hub:
        found = locate_weights(tmp_path, SOURCE, endpoint=hub.endpoint, show_progress=False)
    assert found == tmp_path / "encoding_models/modality-fmri/x/model-y"
    for name, data in FILES.items():
        assert (found / name).read_bytes() == data
    assert any(path.endswith(f"/resolve/{REVISION}/best.ckpt") for _, path in hub.requests)


def test_only_the_missing_file_is_fetched(tmp_path):
    target = tmp_path / SOURCE.berg_path
    target.mkdir(parents=True)
    (target / "config.yaml").write_bytes(b"mine: 1\n")
    with FakeHub("facebook/tribev2", REVISION, FILES) as hub:
        locate_weights(tmp_path, SOURCE, endpoint=hub.endpoint, show_progress=False)
    assert (target / "config.yaml").read_bytes() == b"mine: 1\n"
    assert all("config.yaml" not in path for _, path in hub.requests)
    assert (target / "best.ckpt").read_bytes() == FILES["best.ckpt"]


def test_offline_mode_says_which_files_go_where(tmp_path, monkeypatch):
    # What HF_HUB_OFFLINE=1 sets; huggingface_hub reads the variable once, at import.
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match="unreachable or offline mode is on") as info:
        locate_weights(tmp_path, SOURCE, show_progress=False)
    message = str(info.value)
    target = tmp_path / SOURCE.berg_path
    assert str(target) in message
    assert f"https://huggingface.co/facebook/tribev2/resolve/{REVISION}/best.ckpt" in message
    assert f"https://huggingface.co/facebook/tribev2/resolve/{REVISION}/config.yaml" in message
    assert "checkpoint_dir" in message
    assert not (target / "best.ckpt").exists()


def test_download_disabled(tmp_path):
    with pytest.raises(ModelLoadError, match="not installed") as info:
        locate_weights(tmp_path, SOURCE, download=False)
    assert "config.yaml, best.ckpt missing" in str(info.value)


def test_gated_repository(tmp_path):
    with FakeHub("facebook/tribev2", REVISION, FILES) as hub:
        hub.mode = "gated"
        with pytest.raises(ModelLoadError, match="hf auth login"):
            locate_weights(tmp_path, SOURCE, endpoint=hub.endpoint, show_progress=False)


def test_unknown_revision(tmp_path):
    with FakeHub("facebook/tribev2", REVISION, FILES) as hub:
        with pytest.raises(ModelLoadError, match="revision 'v0-missing' does not exist"):
            locate_weights(
                tmp_path, SOURCE, endpoint=hub.endpoint, revision="v0-missing", show_progress=False
            )


def test_interrupted_download_leaves_no_checkpoint(tmp_path):
    with FakeHub("facebook/tribev2", REVISION, FILES) as hub:
        hub.mode = "short"
        with pytest.raises(ModelLoadError):
            locate_weights(tmp_path, SOURCE, endpoint=hub.endpoint, show_progress=False)
    target = tmp_path / SOURCE.berg_path
    assert not (target / "best.ckpt").exists()
    assert not (target / "config.yaml").exists()


def test_checkpoint_dir_is_used_as_given(tmp_path):
    for name, data in FILES.items():
        (tmp_path / name).write_bytes(data)
    assert locate_weights("/nonexistent/berg", SOURCE, checkpoint_dir=tmp_path) == tmp_path


def test_checkpoint_dir_problems(tmp_path):
    with pytest.raises(ModelLoadError, match="is not a directory"):
        locate_weights(tmp_path, SOURCE, checkpoint_dir=tmp_path / "missing")
    (tmp_path / "config.yaml").write_bytes(b"a: 1\n")
    (tmp_path / "best.ckpt").write_bytes(b"")  # an empty file is as good as none
    with pytest.raises(ModelLoadError, match="lacks best.ckpt"):
        locate_weights(tmp_path, SOURCE, checkpoint_dir=tmp_path)
    with pytest.raises(InvalidParameterError, match="checkpoint_dir must be a path"):
        locate_weights(tmp_path, SOURCE, checkpoint_dir=3)


def test_the_packaged_source_is_the_berg_layout():
    source = get_card("fmri-multi_study-tribe_v2").weights
    assert source.hub_repo == "facebook/tribev2" and source.files == SOURCE.files


def test_missing_repository_asks_for_a_login(tmp_path):
    with FakeHub("facebook/tribev2", REVISION, FILES) as hub:
        hub.mode = "no-repo"
        with pytest.raises(ModelLoadError, match="not found or needs a login"):
            locate_weights(tmp_path, SOURCE, endpoint=hub.endpoint, show_progress=False)


@pytest.mark.parametrize("mode", ["no-repo", "gated", "short"])
def test_a_failed_first_download_leaves_no_folders_and_says_it_in_one_line(tmp_path, mode):
    berg_dir = tmp_path / "path" / "to" / "berg"  # a placeholder copied from the quick start
    with FakeHub("facebook/tribev2", REVISION, FILES) as hub:
        hub.mode = mode
        with pytest.raises(ModelLoadError) as info:
            locate_weights(berg_dir, SOURCE, endpoint=hub.endpoint, show_progress=False)
    assert list(tmp_path.iterdir()) == []  # not even the Hub client's lock files
    message = str(info.value)
    assert "\n" not in message and ".." not in message.replace("...", "")
    if mode == "short":  # the cause, and the next step: again (the Hub client resumes)
        assert "was cut short (11 of 23 bytes arrived)" in message
        assert message.endswith("run the same command again")
    else:
        assert "--checkpoint-dir" in message and "checkpoint_dir=" in message


def test_a_download_is_checked_against_the_known_digests_and_the_check_recorded(tmp_path):
    import dataclasses
    import hashlib
    import json

    known = dataclasses.replace(
        SOURCE,
        sha256={"best.ckpt": hashlib.sha256(FILES["best.ckpt"]).hexdigest()},
        sizes={name: len(data) for name, data in FILES.items()},
    )
    with FakeHub("facebook/tribev2", REVISION, FILES) as hub:
        found = locate_weights(tmp_path, known, endpoint=hub.endpoint, show_progress=False)
    record = json.loads((found / ".berg-verified.json").read_text())
    assert record["best.ckpt"]["sha256"] == known.sha256["best.ckpt"]
    assert record["config.yaml"]["size"] == len(FILES["config.yaml"])


def test_a_file_that_is_not_the_pinned_one_is_refused_and_removed(tmp_path):
    import dataclasses

    expected = "ab" * 32
    known = dataclasses.replace(SOURCE, sha256={"best.ckpt": expected})
    with FakeHub("facebook/tribev2", REVISION, FILES) as hub:
        with pytest.raises(ModelLoadError) as info:
            locate_weights(tmp_path, known, endpoint=hub.endpoint, show_progress=False)
    message = str(info.value)
    import hashlib

    got = hashlib.sha256(FILES["best.ckpt"]).hexdigest()
    assert f"sha256 {got} where it has {expected}" in message and "best.ckpt" in message
    assert not list(tmp_path.rglob("best.ckpt"))  # never left where it would be loaded


def test_no_network_fails_at_once_without_the_hub_clients_retries(tmp_path):
    # A name that cannot resolve (.invalid is reserved): no DNS, as on an offline machine.
    import time

    started = time.perf_counter()
    with pytest.raises(ModelLoadError, match="cannot be resolved") as info:
        locate_weights(
            tmp_path / "berg", SOURCE, endpoint="https://hub.berg.invalid", show_progress=False
        )
    assert time.perf_counter() - started < 10  # the client would retry for half a minute
    assert "\n" not in str(info.value) and not (tmp_path / "berg").exists()


@pytest.mark.parametrize("sub", ["", "encoding_models_weights"])
def test_weights_in_a_folder_of_another_id_are_used_in_place(tmp_path, sub):
    import dataclasses

    other = PurePosixPath("encoding_models/modality-fmri/train_dataset-z/model-y")
    source = dataclasses.replace(SOURCE, also_in=(other,))
    folder = tmp_path / other / sub
    folder.mkdir(parents=True)
    for name, data in FILES.items():
        (folder / name).write_bytes(data)
    assert locate_weights(tmp_path, source, endpoint=_closed_port_endpoint()) == folder
    assert not (tmp_path / SOURCE.berg_path).exists()  # nothing copied, nothing fetched


def test_weights_in_the_hub_cache_at_the_pinned_commit_are_used_in_place(tmp_path, monkeypatch):
    import dataclasses
    import hashlib

    import huggingface_hub.constants

    from berg import BERGError

    cache = tmp_path / "hf"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    snapshot = cache / "models--facebook--tribev2" / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    for name, data in FILES.items():
        (snapshot / name).write_bytes(data)
    known = dataclasses.replace(
        SOURCE, sha256={"best.ckpt": hashlib.sha256(FILES["best.ckpt"]).hexdigest()}
    )
    berg_dir = tmp_path / "berg"
    assert locate_weights(berg_dir, known, endpoint=_closed_port_endpoint()) == snapshot
    assert (cache / "models--facebook--tribev2" / ".berg-verified.json").is_file()
    assert not berg_dir.exists()
    # Another revision asked for: the cached commit is not it.
    with pytest.raises(ModelLoadError):
        locate_weights(berg_dir, known, revision="main", endpoint=_closed_port_endpoint())
    wrong = dataclasses.replace(SOURCE, sha256={"best.ckpt": "ab" * 32})
    with pytest.raises(BERGError, match="best.ckpt"):
        locate_weights(berg_dir, wrong, endpoint=_closed_port_endpoint())


def test_the_card_knows_the_other_ids_folder():
    weights = get_card("fmri-dascoli_2026-tribe_v2").weights
    assert weights.also_in == (
        PurePosixPath("encoding_models/modality-fmri/train_dataset-multi_study/model-tribe_v2"),
    )


def test_a_berg_folder_laid_out_for_the_other_id_loads(tmp_path):
    from tiny_checkpoint import RELEASE_FEATURE_DIMS, write_tiny_checkpoint

    from berg import BERG

    layout = "encoding_models/modality-fmri/train_dataset-multi_study/model-tribe_v2"
    folder = write_tiny_checkpoint(
        tmp_path / "berg" / layout / "encoding_models_weights", feature_dims=RELEASE_FEATURE_DIMS
    )
    with BERG(tmp_path / "berg").get_encoding_model(
        "fmri-dascoli_2026-tribe_v2", device="cpu", download=False
    ) as model:
        assert model.weights_dir == folder


def test_downloads_count_weights_in_the_other_folders_as_present(tmp_path):
    from tiny_checkpoint import write_tiny_checkpoint

    from berg.downloads import models_needed

    card = get_card("fmri-dascoli_2026-tribe_v2")
    layout = "encoding_models/modality-fmri/train_dataset-multi_study/model-tribe_v2"
    folder = write_tiny_checkpoint(tmp_path / layout)
    (weights,) = [n for n in models_needed(card, tmp_path, modalities=()) if n.kind == "weights"]
    assert weights.present and weights.where == str(folder)
