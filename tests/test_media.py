"""Decoding real media files (made by tests/media_factory.py) with berg.stimulus.media."""

from __future__ import annotations

import os
import warnings

import av
import numpy as np
import pytest
from media_factory import frame_code, make_audio, make_video, tone

from berg.errors import InvalidParameterError, StimulusError
from berg.stimulus import media

FPS = 25
SECONDS = 2.0
N_FRAMES = round(SECONDS * FPS)
VIDEO_EXTENSIONS = [".mp4", ".mov", ".mkv", ".webm", ".avi"]
AUDIO_EXTENSIONS = [".wav", ".mp3", ".flac", ".ogg"]
# One frame of the audio codecs used (aac 1024 and Opus 960 samples, mp3 576 at 16 kHz),
# plus the mp3 encoder's priming that AVI keeps at the start: encoders pad to whole frames.
AUDIO_SLACK = 0.1


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One small file per container, made once for the module."""
    root = tmp_path_factory.mktemp("media")
    made = {}
    for ext in VIDEO_EXTENSIONS:
        made[ext] = make_video(
            root / f"clip{ext}", SECONDS, fps=FPS, audio=tone(440, SECONDS, 16000), audio_rate=16000
        )
    for ext in AUDIO_EXTENSIONS:
        made[ext] = make_audio(root / f"sound{ext}", tone(440, SECONDS, 44100), 44100)
    made["silent.mp4"] = make_video(root / "silent.mp4", SECONDS, fps=FPS)
    return made


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


# --------------------------------------------------------------------------- probe


@pytest.mark.parametrize("ext", VIDEO_EXTENSIONS)
def test_probe_video_containers(files, ext):
    info = media.probe(files[ext])
    assert info.has_video and info.has_audio
    assert info.fps == pytest.approx(FPS)
    assert (info.width, info.height) == (160, 120)
    assert info.video_duration == pytest.approx(SECONDS, abs=1 / FPS)
    assert info.audio_duration == pytest.approx(SECONDS, abs=AUDIO_SLACK)
    assert info.duration == max(info.video_duration, info.audio_duration)
    assert info.audio_channels == 1
    # Opus always decodes at 48 kHz whatever rate it was given.
    assert info.audio_sample_rate == (48000 if ext == ".webm" else 16000)
    if ext in (".mp4", ".mov", ".avi"):  # containers that count their frames
        assert info.n_frames == N_FRAMES
    else:
        assert info.n_frames in (None, N_FRAMES)


@pytest.mark.parametrize("ext", AUDIO_EXTENSIONS)
def test_probe_audio_files(files, ext):
    info = media.probe(files[ext])
    assert info.has_audio and not info.has_video
    assert info.fps is info.width is info.height is info.n_frames is info.video_duration is None
    assert info.audio_sample_rate == 44100
    assert info.duration == info.audio_duration == pytest.approx(SECONDS, abs=0.05)


def test_probe_video_without_audio_track(files):
    info = media.probe(files["silent.mp4"])
    assert info.has_video and not info.has_audio
    assert info.audio_sample_rate is info.audio_channels is info.audio_duration is None
    assert info.duration == pytest.approx(SECONDS, abs=1 / FPS)
    with pytest.raises(StimulusError, match="has no audio track") as excinfo:
        media.read_audio(files["silent.mp4"])
    assert "silent.mp4" in str(excinfo.value)
    with pytest.raises(StimulusError, match="has no audio track"):
        media.iter_audio_blocks(files["silent.mp4"])  # raised at the call, not at next()


def test_audio_file_has_no_video_track(files):
    with pytest.raises(StimulusError, match="has no video track") as excinfo:
        media.read_frames(files[".wav"], [0.0])
    assert "sound.wav" in str(excinfo.value)


@pytest.mark.skipif(
    not hasattr(av.video.stream.VideoStream, "set_display_rotation"),
    reason="this PyAV cannot write a display rotation",
)
def test_probe_rotated_video_reports_displayed_size_and_frames_turn(tmp_path):
    path = make_video(tmp_path / "phone.mp4", 0.4, fps=FPS, rotation=90)
    info = media.probe(path)
    assert (info.width, info.height) == (120, 160)
    ((_, frame),) = media.read_frames(path, [0.2])
    assert frame.shape == (160, 120, 3)
    # Turned back upright it is frame 5.
    assert frame_code(np.rot90(frame, k=-1)) == 5
    ((_, small),) = media.read_frames(path, [0.2], size=(60, 80))
    assert small.shape == (80, 60, 3) and frame_code(np.rot90(small, k=-1)) == 5


# --------------------------------------------------------------------------- audio


@pytest.mark.parametrize("ext", VIDEO_EXTENSIONS + AUDIO_EXTENSIONS)
def test_tone_recovered_at_16k(files, ext):
    samples = media.read_audio(files[ext])
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert len(samples) == pytest.approx(SECONDS * 16000, abs=AUDIO_SLACK * 16000)
    # Away from the edges, where codecs fade in and pad.
    body = samples[1600:-3200]
    assert dominant_frequency(body, 16000) == pytest.approx(440, abs=3)
    assert rms(body) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)
    assert np.abs(samples).max() < 1.0


def test_resampling_44k_to_16k_keeps_timing(tmp_path):
    rate = 44100
    clicks = np.zeros(3 * rate, np.float32)
    for t in (0.25, 1.0, 2.5):
        clicks[round(t * rate)] = 0.9
    path = make_audio(tmp_path / "clicks.wav", clicks, rate)
    samples = media.read_audio(path, 16000)
    assert len(samples) == 3 * 16000
    assert sorted(np.argsort(samples)[-3:]) == [4000, 16000, 40000]
    native = media.read_audio(path, None)
    assert len(native) == 3 * rate
    np.testing.assert_allclose(native, clicks, atol=1e-4)  # 16-bit quantisation


def test_channels_kept_or_averaged(tmp_path):
    stereo = np.stack([tone(300, 1.0, 16000), tone(1200, 1.0, 16000, amplitude=0.2)])
    path = make_audio(tmp_path / "stereo.flac", stereo, 16000)
    both = media.read_audio(path, mono=False)
    assert both.shape == (2, 16000)
    assert [dominant_frequency(ch, 16000) for ch in both] == pytest.approx([300, 1200], abs=2)
    np.testing.assert_allclose(both, stereo, atol=1e-4)
    mono = media.read_audio(path)
    np.testing.assert_allclose(mono, both.mean(axis=0), atol=1e-7)


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".mp3", ".mp4", ".mkv", ".webm"])
def test_span_equals_slice_of_whole(tmp_path, ext):
    rng = np.random.default_rng(0)
    noise = (0.3 * rng.standard_normal(6 * 16000)).astype(np.float32)
    if ext in AUDIO_EXTENSIONS:
        path = make_audio(tmp_path / f"noise{ext}", noise, 16000)
    else:
        path = make_video(tmp_path / f"noise{ext}", 6.0, fps=5, audio=noise)
    whole = media.read_audio(path)
    for start, duration in [(0.3, 1.5), (2.71, 0.9), (4.0, 1.0)]:
        span = media.read_audio(path, start=start, duration=duration)
        assert len(span) == round(duration * 16000)
        expected = whole[round(start * 16000) :][: round(duration * 16000)]
        np.testing.assert_allclose(span, expected, atol=1e-5)
    # Running past the end comes back short; starting past it, empty.
    tail = media.read_audio(path, start=5.5)
    np.testing.assert_allclose(tail, whole[round(5.5 * 16000) :], atol=1e-5)
    assert len(media.read_audio(path, start=5.5, duration=10)) == len(tail)
    assert media.read_audio(path, start=60.0).shape == (0,)


def test_iter_audio_blocks_concatenate_to_the_whole(files):
    whole = media.read_audio(files[".mp4"])
    blocks = list(media.iter_audio_blocks(files[".mp4"], 16000, block_seconds=0.75))
    assert [start for start, _ in blocks] == pytest.approx([0.0, 0.75, 1.5, 2.25][: len(blocks)])
    assert all(len(b) == 12000 for _, b in blocks[:-1])
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), whole)
    stereo = list(media.iter_audio_blocks(files[".ogg"], None, 1.0, mono=False))
    assert stereo[0][1].shape == (2, 44100)


@pytest.mark.parametrize(
    "kwargs", [{"start": -1.0}, {"duration": -0.5}, {"start": float("nan")}, {"sample_rate": 0}]
)
def test_bad_audio_arguments(files, kwargs):
    with pytest.raises(InvalidParameterError):
        media.read_audio(files[".wav"], **kwargs)


# --------------------------------------------------------------------------- frames


@pytest.mark.parametrize("ext", VIDEO_EXTENSIONS)
def test_frames_shown_at_times(files, ext):
    times = np.array(
        [
            1.0,
            0.0,
            0.02,
            3 * 0.04,
            0.11999,
            12 / 25,  # on frames, just before, between
            -0.5,  # before the first frame
            1.999,
            5.0,  # in the last frame, past the end
            0.5,
            0.5,
            0.3,  # repeats, out of order
        ]
    )
    got = list(media.read_frames(files[ext], times))
    # Every index once, in time order, repeats in input order.
    assert [i for i, _ in got] == list(np.argsort(times, kind="stable"))
    codes = {i: frame_code(frame) for i, frame in got}
    expected = np.clip(media.frame_index_at(np.maximum(times, 0), FPS), 0, N_FRAMES - 1)
    assert [codes[i] for i in range(len(times))] == list(expected)
    assert expected[3] == 3 and expected[4] == 2  # 0.12 s is frame 3, a hair before is not
    frame = got[0][1]
    assert frame.dtype == np.uint8 and frame.shape == (120, 160, 3)


def test_frames_are_shared_and_read_only(files):
    got = dict(media.read_frames(files[".mp4"], [0.5, 0.51, 0.5]))
    assert got[0] is got[2] is got[1]  # 0.51 s is still frame 12
    with pytest.raises(ValueError):
        got[0][0, 0, 0] = 1


def test_frames_resized_by_ffmpeg(files):
    ((_, frame),) = media.read_frames(files[".mkv"], [1.0], size=(80, 60))
    assert frame.shape == (60, 80, 3) and frame_code(frame) == 25


def count_calls(monkeypatch):
    """Count frames decoded and frames converted to RGB by read_frames."""
    counts = {"decoded": 0, "converted": []}
    decode, to_rgb = media.video._decode_video, media.video._to_rgb

    def counting_decode(container, stream):
        for frame in decode(container, stream):
            counts["decoded"] += 1
            yield frame

    def counting_to_rgb(frame, size, *rest):
        counts["converted"].append(frame.pts)
        return to_rgb(frame, size, *rest)

    monkeypatch.setattr(media.video, "_decode_video", counting_decode)
    monkeypatch.setattr(media.video, "_to_rgb", counting_to_rgb)
    return counts


def test_each_frame_decoded_and_converted_once(files, monkeypatch):
    counts = count_calls(monkeypatch)
    # The video extractor's pattern: for each 0.5 s bin, 64 frames at 16 fps over the 4 s
    # before its end, clamped at 0: most frames are wanted by several bins.
    ends = 0.5 * np.arange(1, 5)
    times = np.concatenate([np.maximum(0, t - np.arange(63, -1, -1) * 4 / 64) for t in ends])
    got = list(media.read_frames(files[".mp4"], times))
    assert len(got) == len(times) == 256
    wanted = set(np.clip(media.frame_index_at(times, FPS), 0, N_FRAMES - 1))
    assert len(counts["converted"]) == len(set(counts["converted"])) == len(wanted)
    assert counts["decoded"] <= N_FRAMES
    assert {frame_code(f) for _, f in got} == wanted


def test_decoding_stops_after_the_last_time(files, monkeypatch):
    counts = count_calls(monkeypatch)
    list(media.read_frames(files[".mp4"], [0.0, 0.2]))
    assert counts["decoded"] < N_FRAMES // 2


@pytest.mark.parametrize(
    "ext, gop", [(".mp4", 10), (".mkv", 10), (".webm", 10), (".avi", 10), (".mp4", 1000)]
)
def test_late_times_seek_to_the_keyframe_before(tmp_path, monkeypatch, ext, gop):
    path = make_video(tmp_path / f"long{ext}", 10.0, fps=FPS, gop=gop)
    counts = count_calls(monkeypatch)
    times = [8.3, 9.0, 8.0, 100.0]
    codes = [frame_code(f) for _, f in media.read_frames(path, times)]
    assert codes == [200, 207, 225, 249]
    if gop == 10:  # keyframe at 8.0 s: decodes from there, not from the start
        assert counts["decoded"] <= 50 + 2 * gop
    else:  # the only keyframe is the first frame: the seek lands there, still right
        assert counts["decoded"] == 250


def test_bad_times(files):
    with pytest.raises(InvalidParameterError, match="1-D"):
        media.read_frames(files[".mp4"], [[0.0, 1.0]])
    with pytest.raises(InvalidParameterError, match="finite"):
        media.read_frames(files[".mp4"], [0.0, float("nan")])
    with pytest.raises(InvalidParameterError, match="size"):
        media.read_frames(files[".mp4"], [0.0], size=(0, 10))
    assert list(media.read_frames(files[".mp4"], [])) == []


def test_frame_index_at_is_the_reference_rule():
    # 25 * 0.12 is 2.9999999999999996 in floating point: the 1e-5 makes it frame 3.
    assert list(media.frame_index_at([0.0, 0.039, 0.04, 0.12, 1.0], 25)) == [0, 0, 1, 3, 25]
    assert media.frame_index_at([0.5], 23.976).dtype == np.int64


# --------------------------------------------------------------------------- bad input


def every_reader(path):
    """Each public function applied to path, consumed to the end."""
    return [
        ("probe", lambda: media.probe(path)),
        ("read_audio", lambda: media.read_audio(path)),
        ("iter_audio_blocks", lambda: list(media.iter_audio_blocks(path))),
        ("read_frames", lambda: list(media.read_frames(path, [0.0, 1.0]))),
    ]


def assert_all_refuse(path, match=None):
    for name, call in every_reader(path):
        with pytest.raises(StimulusError, match=match) as excinfo:
            call()
        assert path.name in str(excinfo.value), name


def test_missing_directory_and_empty_files(tmp_path):
    assert_all_refuse(tmp_path / "nowhere.mp4", "does not exist")
    (tmp_path / "folder.mp4").mkdir()
    assert_all_refuse(tmp_path / "folder.mp4", "not a regular file")
    (tmp_path / "empty.wav").write_bytes(b"")
    assert_all_refuse(tmp_path / "empty.wav", "empty")


def test_files_that_are_not_media(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(1).integers(0, 256, 20_000, np.uint8).tobytes())
    assert_all_refuse(garbage)
    text = tmp_path / "notes.mp4"
    text.write_text("This is a text file, renamed.\n" * 50)
    assert_all_refuse(text)


def test_media_without_any_samples(tmp_path):
    path = tmp_path / "nothing.wav"
    with av.open(str(path), "w") as container:
        container.add_stream("pcm_s16le", rate=16000, layout="mono")
        container.start_encoding()
    assert path.stat().st_size > 0
    assert_all_refuse(path)


def test_mp4_cut_before_its_index_refuses(files, tmp_path):
    data = files[".mp4"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # the moov atom (the index) is at the end
    assert_all_refuse(cut)


@pytest.mark.parametrize("ext, options", [(".mp4", {"movflags": "faststart"}), (".mkv", None)])
def test_truncated_file_warns_and_reads_what_is_there(tmp_path, ext, options):
    full = make_video(tmp_path / f"full{ext}", 6.0, fps=FPS, audio=tone(440, 6.0), options=options)
    data = full.read_bytes()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(data[: len(data) // 2])  # header intact, data stops about half way
    with pytest.warns(UserWarning, match="truncated") as record:
        info = media.probe(cut)
    assert "cut" + ext in str(record[0].message)
    assert 1.5 < info.duration < 4.5
    assert info.video_duration == pytest.approx(info.duration, abs=0.25)
    ((_, last),) = media.read_frames(cut, [60.0])  # past the end: the last frame there is
    assert frame_code(last) == pytest.approx(info.video_duration * FPS - 1, abs=2)
    audio = media.read_audio(cut)
    assert len(audio) / 16000 == pytest.approx(info.audio_duration, abs=0.15)


def test_healthy_files_do_not_warn(files):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for path in files.values():
            media.probe(path)


# --------------------------------------------------------------------------- paths, side effects


def test_paths_with_spaces_and_non_ascii(tmp_path):
    folder = tmp_path / "my stimuli ü"
    folder.mkdir()
    path = make_video(folder / "clip été 日本.mkv", 1.0, fps=FPS, audio=tone(440, 1.0))
    assert media.probe(path).has_audio
    assert media.probe(str(path)).duration == pytest.approx(1.0, abs=AUDIO_SLACK)
    assert len(media.read_audio(path)) > 0
    assert frame_code(next(media.read_frames(path, [0.4]))[1]) == 10


def test_nothing_written_beside_the_input(files):
    folder = files[".mp4"].parent
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    for path in files.values():
        for _, call in every_reader(path):
            try:
                call()
            except StimulusError:  # an audio file has no frames, a silent video no audio
                pass
    after = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert after == before
    assert not [n for n in os.listdir(os.getcwd()) if n.endswith((".wav", ".tsv"))]


# --- variable frame rate: the duration is what is shown (reliability finding 7) ---------------


def test_a_vfr_clip_lasts_until_its_last_frame_is_shown(tmp_path):
    # FFmpeg's own muxer, four frames near the end dropped (-fps_mode vfr): the stream and the
    # container headers say 3.96 s (they count 99 frames), but the frames at 4.04 and 4.08 s
    # are there and decode; the last is shown until 4.12 s. 5 rows, not 4.
    import subprocess

    import imageio_ffmpeg

    from berg.tribe.binning import output_rows

    path = tmp_path / "vfr.mp4"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=25:duration=4.1",
            "-vf",
            "select='not(between(n\\,97\\,100))'",
            "-fps_mode",
            "vfr",
            "-c:v",
            "libx264",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert float(stream.duration * stream.time_base) == pytest.approx(3.96)  # the header
        shown = [float(f.pts * f.time_base) for f in container.decode(stream)]
    assert shown[-1] == pytest.approx(4.08)
    info = media.probe(path)
    assert info.duration == pytest.approx(4.12) and info.video_duration == pytest.approx(4.12)
    assert output_rows(info.duration) == 5


def test_with_b_frames_the_last_frame_shown_sets_the_end(tmp_path):
    # Frames at uneven times through PyAV's H.264 encoder (B-frames): in the file, packets are
    # in decoding order, each with its own duration; the end is the frame presented last,
    # 4.08 s, plus its 0.04 s (ffprobe's 4.12 s), not the latest packet start + duration.
    from fractions import Fraction

    from media_factory import frame_image

    path = tmp_path / "uneven.mp4"
    times = [0.0, 0.5, 1.2, 2.0, 3.0, 3.6, 4.08]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for k, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(frame_image(k), format="rgb24")
            frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with av.open(str(path)) as container:
        assert container.duration / 1e6 == pytest.approx(4.12)
    assert media.probe(path).duration == pytest.approx(4.12)
