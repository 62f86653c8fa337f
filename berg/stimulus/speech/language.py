"""The language of a text, as the reference found it (langdetect), deterministically."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from berg.stimulus.options import normalize_language

__all__ = ["LanguageGuess", "detect_language", "guess_language"]

# No word of a language written with spaces has more letters (German compounds stay below).
_MAX_WORD_LETTERS = 60
# Scripts written without spaces between words: their runs say nothing about words.
_UNSPACED_SCRIPTS = (
    "CJK",
    "HIRAGANA",
    "KATAKANA",
    "THAI",
    "LAO",
    "KHMER",
    "MYANMAR",
    "TIBETAN",
    "HALFWIDTH",
    "IDEOGRAPHIC",
)


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


def guess_language(
    text: str, *, fallback: str = "en", min_letters: int = 20, min_probability: float = 0.9
) -> LanguageGuess:
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
        return LanguageGuess(
            fallback,
            None,
            False,
            f"too short to tell ({n_letters} letters, fewer than {min_letters})",
        )
    longest = _longest_spaced_run(text)
    if longest > _MAX_WORD_LETTERS:
        # langdetect scores letter n-grams: a long run of random letters scores as some
        # language (Polish, often) with a high probability. Words are what it can judge.
        return LanguageGuess(
            fallback,
            None,
            False,
            f"not words: a run of {longest} letters without a space, too long for a word",
        )
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


def _longest_spaced_run(text: str) -> int:
    """Letters in the longest run without a space, counting only scripts written with spaces
    between words (Chinese, Japanese, Thai and the like are written without)."""
    longest = 0
    for run in re.findall(rf"[^\W\d_]{{{_MAX_WORD_LETTERS + 1},}}", text):
        spaced = sum(1 for ch in run if not _unspaced_script(ch))
        longest = max(longest, spaced)
    return longest


def _unspaced_script(ch: str) -> bool:
    name = unicodedata.name(ch, "")
    return name.startswith(_UNSPACED_SCRIPTS)


def detect_language(text: str, *, fallback: str = "en") -> str:
    """ISO 639-1 code of the language of ``text`` (``fallback`` when it is too short to tell).

    Deterministic: the same text always gives the same answer. See :func:`guess_language`
    for the probability and whether the guess is reliable.
    """
    return guess_language(text, fallback=fallback).language
