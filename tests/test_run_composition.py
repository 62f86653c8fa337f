"""The stimulus files of an experiment's runs, decoded back and checked frame by frame and
sample by sample against the items they were made from."""

import math
import wave

import av
import numpy as np
import pytest
from media_factory import frame_code, make_audio, make_video, tone
from PIL import Image

from berg.experiments import EventDesign, plan_runs
from berg.experiments.compose import compose_run, frame_period, measure_items, run_kind
from berg.stimulus.media import read_audio

GREY = 128


def _image(path, pixels):
    Image.fromarray(pixels).save(path)
    return path


def _decoded(path):
    """(fps, frames, 16 kHz mono float samples or None) of a run video."""
    with av.open(str(path)) as container:
        fps = float(container.streams.video[0].average_rate)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    audio = None
    with av.open(str(path)) as container:
        if container.streams.audio:
            audio = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
            audio = audio[0].astype(np.float32) / 32767.0
    return fps, frames, audio


def _by_item(run):
    return {e.item: e for e in run.events}


def test_run_kinds():
    assert run_kind(["image", "image"]) == "visual"
    assert run_kind(["audio", "text"]) == "auditory"
    assert run_kind(["video"]) == run_kind(["image", "audio"]) == "audiovisual"
    assert frame_period("visual") == pytest.approx(0.1)
    assert frame_period("audiovisual") == pytest.approx(1 / 16)
    assert frame_period("auditory") is None


def test_onsets_go_on_the_frame_grid(tmp_path):
    from berg.experiments.design import Item

    items = [Item("a", f"s{k}", tmp_path / f"s{k}.wav", 0.53, "audio", True) for k in range(6)]
    (run,) = plan_runs(items, EventDesign(isi=(1.0, 2.0), baseline=3.0), grid=1 / 16)
    onsets = np.array([e.onset for e in run.events])
    np.testing.assert_allclose(onsets * 16, np.round(onsets * 16), atol=1e-6)
    gaps = onsets[1:] - (onsets[:-1] + 0.53)
    assert gaps.min() >= 1.0 - 1e-9 and gaps.max() < 2.0 + 1 / 16
    assert run.duration == pytest.approx(onsets[-1] + 0.53 + 3.0)


def test_a_visual_run_holds_each_image_exactly_at_its_onset(tmp_path):
    rng = np.random.default_rng(0)
    pictures = {f"p{k}.png": rng.integers(0, 256, (40, 40, 3), dtype=np.uint8) for k in range(3)}
    files = {"a": [_image(tmp_path / name, pixels) for name, pixels in pictures.items()]}
    items, kind = measure_items(files, item_duration=1.5, cache_dir=tmp_path / "cache")
    assert kind == "visual" and {i.duration for i in items} == {1.5}
    (run,) = plan_runs(items, EventDesign(isi=(2.0, 3.0), baseline=1.0), grid=frame_period(kind))
    fps, frames, audio = _decoded(compose_run(run, kind, tmp_path / "runs"))
    assert fps == 10 and audio is None
    assert len(frames) == math.ceil(run.duration * 10 - 1e-9)
    shown = np.full(len(frames), "", dtype=object)
    for event in run.events:
        first = round(event.onset * 10)
        shown[first : first + 15] = event.item
    for index, frame in enumerate(frames):
        if shown[index]:
            np.testing.assert_array_equal(frame, pictures[shown[index]])  # the exact pixels
        else:
            assert (frame == GREY).all()


def test_an_auditory_run_places_each_sound_to_the_sample(tmp_path):
    sounds = {"low.wav": tone(300, 0.7), "high.flac": tone(900, 1.1, amplitude=0.3)}
    files = {"a": [make_audio(tmp_path / n, s, 16000) for n, s in sounds.items()]}
    items, kind = measure_items(files, item_duration=1.0, cache_dir=tmp_path / "cache")
    assert kind == "auditory"
    assert [i.duration for i in items] == pytest.approx([0.7, 1.1])
    (run,) = plan_runs(items, EventDesign(isi=(0.5, 0.9), baseline=0.25))
    path = compose_run(run, kind, tmp_path / "runs")
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == 16000
        samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2") / 32767.0
    expected = np.zeros(math.ceil(run.duration * 16000))
    for name, event in _by_item(run).items():
        first = round(event.onset * 16000)
        expected[first : first + len(sounds[name])] += sounds[name]
    assert len(samples) == len(expected)
    np.testing.assert_allclose(samples, expected, atol=1.0 / 32767)


def test_an_audiovisual_run_has_each_videos_frames_and_every_sound(tmp_path):
    # A 25 fps video whose frames show their own index, with a tone; a 60 x 60 picture
    # (letterboxed on the video's 160 x 120 canvas); a sound alone (a blank screen).
    clip = make_video(tmp_path / "clip.mp4", 2.0, fps=25, audio=tone(440, 2.0))
    colour = np.zeros((60, 60, 3), np.uint8)
    colour[:] = (200, 30, 90)
    files = {
        "clips": [clip],
        "pictures": [_image(tmp_path / "red.png", colour)],
        "sounds": [make_audio(tmp_path / "beep.wav", tone(880, 0.5), 16000)],
    }
    items, kind = measure_items(files, item_duration=1.0, cache_dir=tmp_path / "cache")
    assert kind == "audiovisual"
    found = {i.name: (i.kind, i.has_audio, round(i.duration, 3)) for i in items}
    assert found == {
        "clip.mp4": ("video", True, 2.0),
        "red.png": ("image", False, 1.0),
        "beep.wav": ("audio", True, 0.5),
    }
    design = EventDesign(isi=(1.0, 1.0), baseline=2.0, seed=1)
    (run,) = plan_runs(items, design, grid=frame_period(kind))
    fps, frames, audio = _decoded(compose_run(run, kind, tmp_path / "runs"))
    assert fps == 16 and frames[0].shape == (120, 160, 3)
    assert len(frames) == math.ceil(run.duration * 16 - 1e-9)
    events = _by_item(run)
    first = round(events["clip.mp4"].onset * 16)
    for k in range(32):  # the clip's frame on screen 16 times a second
        assert frame_code(frames[first + k]) == int(25 * k / 16 + 1e-5)
    picture = frames[round(events["red.png"].onset * 16)]
    assert (picture[:, 20:140] == (200, 30, 90)).all()  # 60 x 60 fitted to 120 x 120
    assert (picture[:, :20] == GREY).all() and (picture[:, 140:] == GREY).all()
    beep = round(events["beep.wav"].onset * 16)
    assert all((frames[beep + k] == GREY).all() for k in range(8))  # a sound: blank
    assert (frames[0] == GREY).all() and (frames[-1] == GREY).all()
    # The sound track: the clip's own sound and the beep, each at its onset.
    expected = np.zeros(math.ceil(run.duration * 16000), np.float32)
    for name, source in (("clip.mp4", clip), ("beep.wav", files["sounds"][0])):
        sound = read_audio(source, 16000)
        start = round(events[name].onset * 16000)
        expected[start : start + len(sound)] += sound
    assert len(audio) == len(expected)
    np.testing.assert_allclose(audio, expected, atol=1.5 / 32767)


def test_the_voice_is_released_when_a_text_cannot_be_spoken(tmp_path, monkeypatch):
    import berg.stimulus.speech as speech

    closed = []

    class Voice:
        def close(self):
            closed.append(True)

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(speech, "make_synthesizer", lambda *args, **kwargs: Voice())
    monkeypatch.setattr(speech, "synthesize_text_file", disk_full)
    (tmp_path / "story.txt").write_text("Once upon a time there was a voice.")
    with pytest.raises(OSError, match="No space left"):
        measure_items(
            {"a": [tmp_path / "story.txt"]}, item_duration=1.0, cache_dir=tmp_path / "cache"
        )
    assert closed == [True]
