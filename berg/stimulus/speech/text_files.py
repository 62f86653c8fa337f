"""A ``.txt`` stimulus spoken into a cached WAV: the file checked, its language found, the
synthesiser chosen by name."""

from __future__ import annotations

import hashlib
import os
import unicodedata
import warnings
from pathlib import Path

from berg.errors import (
    InvalidParameterError,
    StimulusError,
    format_choices,
    naming,
)
from berg.stimulus.events import SynthesizedSpeech
from berg.stimulus.options import backend_class, make_backend, normalize_language
from berg.stimulus.speech.espeak import EspeakSynthesizer
from berg.stimulus.speech.gtts import GTTSSynthesizer
from berg.stimulus.speech.language import guess_language
from berg.stimulus.speech.piper import PiperSynthesizer
from berg.stimulus.speech.speakable import speakable_text
from berg.stimulus.speech.synthesizer import Synthesizer, speech_from_file, wav_info
from berg.store import ContentStore

__all__ = [
    "SYNTHESIZERS",
    "check_synthesizer",
    "make_synthesizer",
    "read_text_file",
    "speech_store",
    "synthesize_text_file",
]


#: Backend names accepted by :func:`make_synthesizer`.
SYNTHESIZERS = ("piper", "espeak-ng", "gtts")


# Bump when the way speech is made changes, so cached WAVs from older berg are not reused.
_CACHE_VERSION = 1


_CLASSES = {"piper": PiperSynthesizer, "espeak-ng": EspeakSynthesizer, "gtts": GTTSSynthesizer}


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
    return make_backend("tts", backend, _CLASSES, options)


def check_synthesizer(backend: object = "piper", options: dict | None = None) -> None:
    """Check a synthesiser's name, option names and values without building it (nor needing
    its package): what :func:`make_synthesizer` would refuse, refused now.

    Raises
    ------
    InvalidParameterError, ModelLoadError
        Unknown backend or option (with the valid ones), a bad value, a voice file that is
        not there.
    """
    options = dict(options or {})
    backend_class("tts", backend, _CLASSES, options).check_options(**options)


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
                f"text stimulus {name} looks binary (it contains NUL bytes), not UTF-8 text"
            )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        bad = data[error.start : error.start + 1]
        raise StimulusError(
            f"text stimulus {name} is not valid {encoding.removesuffix('-sig').upper()} "
            f"(byte 0x{bad.hex()} at offset {error.start}); save it as UTF-8"
        ) from error
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    odd = [ch for ch in text if not (ch.isprintable() or ch.isspace())]
    if len(odd) > 0.1 * len(text):
        raise StimulusError(
            f"text stimulus {name} looks binary: {len(odd)} of its {len(text)} characters are "
            "not printable"
        )
    if odd:
        text = "".join(" " if not (ch.isprintable() or ch.isspace()) else ch for ch in text)
    text = text.strip()
    if not text:
        raise StimulusError(f"text stimulus {name} contains no text (only whitespace)")
    return text


def synthesize_text_file(
    path: str | os.PathLike,
    cache_dir: str | os.PathLike,
    *,
    backend: str | Synthesizer = "piper",
    language: str | None = None,
    **options,
) -> SynthesizedSpeech:
    """Speak a ``.txt`` stimulus into a cached WAV file.

    Parameters
    ----------
    path : path
        The text file (UTF-8).
    cache_dir : path
        berg's cache directory; the WAV goes to ``cache_dir/speech/<ab>/<key>.wav`` (a
        :class:`berg.store.ContentStore`), the key covering the text, backend, voice and
        language. An existing entry is reused when it matches its record.
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
        The file is unreadable, not UTF-8 text, empty, has no word to speak or a run too
        long to be a word (:mod:`berg.stimulus.speech.speakable`), or the synthesiser
        failed. Every error about the text names the file.
    InvalidParameterError
        Unknown backend/option, or the voice does not speak the text's language.
    MissingDependencyError
        The synthesiser or its voice is not installed.
    ModelLoadError
        The voice files cannot be loaded.
    """
    text = read_text_file(path)
    name = repr(str(path))
    text = speakable_text(text, name)
    if isinstance(backend, str):
        synthesizer = make_synthesizer(backend, **options)
    elif isinstance(backend, Synthesizer):
        if options:
            raise InvalidParameterError(
                f"options {sorted(options)} only apply when backend is a name; configure the "
                "synthesiser object instead"
            )
        synthesizer = backend
    else:
        raise InvalidParameterError(
            f"backend must be one of {format_choices(SYNTHESIZERS)} or a Synthesizer, got "
            f"{type(backend).__name__} {backend!r}"
        )

    if language is None:
        # What the detector cannot judge (too short, not words) is read in the voice's own
        # language, not in whatever the detector guessed.
        guess = guess_language(text, fallback=synthesizer.default_language or "en")
        language = guess.language
        if not guess.reliable:
            warnings.warn(
                f"the language of {name} is uncertain ({guess.reason}); reading it as "
                f"{language!r}. Pass language='..' to choose.",
                UserWarning,
                stacklevel=2,
            )
    else:
        language = normalize_language(language)

    with naming(f"text stimulus {name}", mentions=str(path)):
        voice = synthesizer.voice_for(language)
    key = "\x00".join(
        [f"v{_CACHE_VERSION}", text, synthesizer.name, synthesizer.fingerprint(language), language]
    )
    # The WAV is an entry of the speech store, verified against its record when reused.
    store = speech_store(cache_dir)
    entry = hashlib.sha256(key.encode()).hexdigest()
    cached = store.verified_path(entry)
    if cached is not None and wav_info(cached) is not None:
        return speech_from_file(cached, synthesizer.name, voice, language)
    with naming(f"text stimulus {name}", mentions=str(path)), store.writing(entry) as temporary:
        synthesizer.synthesize(text, temporary, language=language)
    return speech_from_file(store.path_for(entry), synthesizer.name, voice, language)


def speech_store(cache_dir: str | os.PathLike) -> ContentStore:
    """The synthesised speech under berg's cache folder: ``{cache_dir}/speech``."""
    return ContentStore(Path(cache_dir) / "speech", ".wav", what="synthesised speech")
