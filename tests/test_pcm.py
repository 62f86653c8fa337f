"""A file's sound as FFmpeg's command line converts it (berg.stimulus.media.pcm), against that
command line itself (imageio-ffmpeg's ``ffmpeg``, the one moviepy runs), sample for sample."""

from __future__ import annotations

from fractions import Fraction

import av
import media_factory
import numpy as np
import pytest
from media_factory import make_audio, make_video
from reference_ffmpeg import ffmpeg_pcm16, moviepy_wav

from berg.errors import InvalidParameterError, StimulusError
from berg.features.audio.signal import reference_wav_blocks
from berg.stimulus.media import iter_pcm16_blocks


def _track(rate: int, seconds: float, channels: int, seed: int, peak: float = 0.6):
    """A swelling tone over noise (so that every sample's rounding matters)."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(rate * seconds)) / rate
    left = peak * 0.7 * np.sin(2 * np.pi * 330 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.4 * t))
    left = left + peak * 0.3 * rng.uniform(-1, 1, len(t))
    if channels == 1:
        return left.astype(np.float32)
    return np.stack([left, 0.8 * np.roll(left, 37)]).astype(np.float32)


def _pcm(path, rate=44100, channels=2, block_seconds=60.0) -> np.ndarray:
    return np.concatenate(
        [b for _, b in iter_pcm16_blocks(path, rate, channels, block_seconds=block_seconds)], axis=1
    )


# (file, audio codec, source rate, source channels): AAC video at 44.1 and 48 kHz, stereo
# and mono (the reference's case), and the other containers and codecs berg reads.
SOURCES = [
    ("aac44.mp4", None, 44100, 2),
    ("aac48.mp4", None, 48000, 2),
    ("aac48mono.mp4", None, 48000, 1),
    ("aac32.mov", None, 32000, 2),
    ("aac48.mkv", None, 48000, 2),
    ("opus.webm", None, 48000, 2),
    ("mp3.avi", None, 44100, 2),
    ("pcm.mov", "pcm_s16le", 22050, 2),
    ("pcm.mkv", "pcm_s16le", 48000, 1),
]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("pcm")
    return {
        name: make_video(
            root / name,
            6.0,
            fps=25,
            size=(32, 32),
            audio=_track(rate, 6.2, channels, seed=i),
            audio_rate=rate,
            audio_codec=codec,
        )
        for i, (name, codec, rate, channels) in enumerate(SOURCES)
    }


@pytest.mark.parametrize("name", [s[0] for s in SOURCES])
def test_equals_the_ffmpeg_command_line(sources, name):
    expected = ffmpeg_pcm16(sources[name], 44100, 2)
    ours = _pcm(sources[name])
    assert ours.dtype == np.int16 and ours.shape == expected.shape
    assert np.array_equal(ours, expected), f"{int((ours != expected).sum())} samples differ"


@pytest.mark.parametrize("name", ["aac48.mp4", "aac48mono.mp4"])
def test_mono_output_equals_the_command_line(sources, name):
    assert np.array_equal(_pcm(sources[name], 16000, 1), ffmpeg_pcm16(sources[name], 16000, 1))


def test_blocks_cut_the_same_stream(sources):
    path = sources["aac48.mp4"]
    blocks = list(iter_pcm16_blocks(path, 44100, 2, block_seconds=0.7))
    size = round(0.7 * 44100)
    assert [start for start, _ in blocks] == [k * size / 44100 for k in range(len(blocks))]
    assert all(b.shape == (2, size) for _, b in blocks[:-1]) and blocks[-1][1].shape[1] <= size
    assert np.array_equal(np.concatenate([b for _, b in blocks], axis=1), _pcm(path))


def test_the_reference_wav_clips_at_099_of_full_scale(tmp_path):
    # A track louder than 0.99 of full scale: moviepy's writer clips it to +-32440.
    rate = 48000
    loud = np.clip(1.3 * _track(rate, 3.2, 2, seed=9, peak=1.0), -1, 1)
    path = make_video(
        tmp_path / "loud.mp4", 3.0, fps=25, size=(32, 32), audio=loud, audio_rate=rate
    )
    raw = ffmpeg_pcm16(path)
    assert np.abs(raw.astype(int)).max() > 32440  # the command line's samples do exceed it
    ours = np.concatenate([b for _, b in reference_wav_blocks(path, 44100)], axis=1)
    expected = moviepy_wav(path, raw.shape[1])
    assert ours.dtype == np.float32 and np.array_equal(ours, expected.astype(np.float32))
    assert ours.max() == np.float32(32440 / 32768) and ours.min() == np.float32(-32440 / 32768)


def test_a_late_track_starts_after_silence(tmp_path):
    # The sound starts about 0.5 s after the pictures: berg keeps it there (the command line
    # would move it to 0).
    rate = 48000
    path = tmp_path / "late.mp4"
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width = video.height = 32
        video.pix_fmt = "yuv420p"
        audio = media_factory._encode_audio(container, "aac", _track(rate, 2.0, 2, 3), rate)
        for packet in audio:
            packet.pts += rate // 2
            packet.dts += rate // 2
        packets = []
        for k in range(75):
            frame = av.VideoFrame.from_ndarray(
                media_factory.frame_image(k, (32, 32)), format="rgb24"
            )
            frame.pts, frame.time_base = k, Fraction(1, 25)
            packets += video.encode(frame)
        packets += video.encode(None)
        media_factory._mux(container, packets + audio)
    with av.open(str(path)) as container:  # where the muxer put the first sample (~0.48 s)
        first = next(container.decode(audio=0))
        begins = float(first.pts * first.time_base)
    assert 0.4 < begins <= 0.5
    ours = _pcm(path)
    start = round(begins * 44100)
    assert not ours[:, : start - 30].any() and np.abs(ours[:, start + 2000 :]).max() > 1000
    # It lasts to the track's end on the timeline, as the header gives it.
    from berg.stimulus import media

    end = media.probe(path).audio_duration
    assert abs(ours.shape[1] - end * 44100) <= 2


def test_bad_input(tmp_path, sources):
    with pytest.raises(StimulusError, match="does not exist"):
        iter_pcm16_blocks(tmp_path / "missing.mp4")
    silent = make_video(tmp_path / "silent.mp4", 1.0, size=(32, 32))
    with pytest.raises(StimulusError, match="no audio track"):
        iter_pcm16_blocks(silent)
    wav = make_audio(tmp_path / "tone.wav", _track(16000, 1.0, 1, 4))
    assert _pcm(wav, 16000, 1).shape == (1, 16000)
    for kwargs in (
        {"sample_rate": 0},
        {"sample_rate": 44100.0},
        {"channels": 6},
        {"block_seconds": 0},
    ):
        with pytest.raises(InvalidParameterError):
            iter_pcm16_blocks(sources["aac48.mp4"], **kwargs)
