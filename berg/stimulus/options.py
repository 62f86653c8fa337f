"""What the speech backends share: language codes, and building a backend from its name.

:mod:`berg.stimulus.transcribe` (speech to words) and :mod:`berg.stimulus.speech` (text to
speech) both take a language as an ISO 639-1 code and build a backend from a name and keyword
options. Both check them here, so that they accept the same values and fail alike.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from berg.errors import InvalidParameterError, did_you_mean, format_choices

__all__ = ["WHISPER_LANGUAGES", "check_language", "make_backend", "normalize_language"]

#: The languages Whisper knows (faster-whisper's list): every stimulus's words come from it
#: (a text is spoken, then recognised), so a language outside it cannot be asked for.
WHISPER_LANGUAGES = frozenset(
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha "
    "haw he hi hr ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr "
    "ms mt my ne nl nn no oc pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg "
    "th tk tl tr tt uk ur uz vi yi yo yue zh".split()
)


# English names of common languages, accepted for their codes ("English" -> "en").
_LANGUAGE_NAMES = {
    "english": "en",
    "french": "fr",
    "spanish": "es",
    "chinese": "zh",
    "german": "de",
    "italian": "it",
    "dutch": "nl",
    "portuguese": "pt",
    "japanese": "ja",
    "russian": "ru",
    "arabic": "ar",
    "korean": "ko",
}


def normalize_language(language: object) -> str | None:
    """``'en-US'``, ``'EN'``, ``'zh_CN'``, ``'English'`` -> ``'en'``, ``'en'``, ``'zh'``,
    ``'en'``; None stays None. The one language normaliser of berg."""
    if language is None:
        return None
    if not isinstance(language, str):
        raise InvalidParameterError(
            f"language must be an ISO 639-1 code such as 'en' or 'fr', or None to detect it; "
            f"got {type(language).__name__} {language!r}"
        )
    code = language.strip().lower().replace("_", "-").split("-")[0]
    code = _LANGUAGE_NAMES.get(code, code)
    if not (2 <= len(code) <= 3 and code.isascii() and code.isalpha()):
        raise InvalidParameterError(
            f"language must be an ISO 639-1 code such as 'en' or 'fr', or None to detect it; "
            f"got {language!r}"
        )
    return code


def check_language(language: object) -> str | None:
    """A language the user asks for, normalised (:func:`normalize_language`) and checked to
    be one Whisper knows; None (found from the speech or the text) stays None.

    Raises
    ------
    InvalidParameterError
        Not a language code, or one Whisper does not know (with the closest it does).
    """
    code = normalize_language(language)
    if code is not None and code not in WHISPER_LANGUAGES:
        raise InvalidParameterError(
            f"unknown language {language!r}: every stimulus is transcribed by Whisper, which "
            f"knows {format_choices(sorted(WHISPER_LANGUAGES), limit=16)} (ISO 639-1 codes); "
            "or leave it unset to have it found"
            f"{did_you_mean(code, sorted(WHISPER_LANGUAGES))}"
        )
    return code


def make_backend(kind: str, backend: object, classes: Mapping[str, type], options: dict):
    """Build the backend named ``backend`` with the keyword ``options`` (see
    :func:`backend_class`)."""
    return backend_class(kind, backend, classes, options)(**options)


def backend_class(kind: str, backend: object, classes: Mapping[str, type], options: dict):
    """The class of the backend named ``backend``, once ``options`` are known to be its
    keyword options; nothing is built.

    Parameters
    ----------
    kind : str
        What the backends are (``'transcriber'``, ``'tts'``), for the messages.
    backend : str
        The backend's name; case does not matter, nor ``'_'`` for ``'-'``.
    classes : mapping of str to type
        The backend classes by name, in the order the messages list them.
    options : dict
        Keyword arguments for the class.

    Raises
    ------
    InvalidParameterError
        Unknown backend or option (the message lists the valid ones).
    """
    names = tuple(classes)
    if not isinstance(backend, str):
        raise InvalidParameterError(
            f"{kind} backend must be one of {format_choices(names)}, got "
            f"{type(backend).__name__} {backend!r}"
        )
    name = backend.strip().lower().replace("_", "-")
    if name not in classes:
        raise InvalidParameterError(
            f"unknown {kind} backend {backend!r}{did_you_mean(backend, names)} "
            f"(valid: {format_choices(names)})"
        )
    cls = classes[name]
    # Checked here rather than left to the TypeError of cls(**options), to name the valid
    # options and the likely one meant.
    valid = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = [key for key in options if key not in valid]
    if unknown:
        key = unknown[0]
        raise InvalidParameterError(
            f"unknown option {key!r} for the {name!r} backend{did_you_mean(key, valid)} "
            f"(valid: {format_choices(valid)})"
        )
    return cls
