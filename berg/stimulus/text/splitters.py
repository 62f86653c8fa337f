"""Sentence splitters for the word contexts: spaCy (the reference's), rules, or a callable.

Only the sentence boundaries depend on the splitter: ``"spacy"`` (a trained pipeline, as the
reference), ``"rules"`` (below, no dependency) or any ``callable(str) -> list[str]``. The
boundaries decide which letters are re-cased and where ``". "`` is inserted; the second parse
barely matters (with every word found, step 3 gives the same slices whatever its boundaries).

The rule-based splitter ends a sentence after a run of ``. ! ? …`` (optionally followed by
closing quotes or brackets) when whitespace and then an upper-case or caseless letter or a
digit follow (opening quotes, brackets, ``¿``, ``¡`` may precede it), or at the end of the
text; ``。！？`` end a sentence without needing whitespace. A single "." does not end a sentence
after a title (Mr. Mrs. Ms. Dr. Prof. St. ...), "vs.", "cf.", "fig.", "approx.", or a dotted
abbreviation or initial (U.S., e.g., i.e., J.). "3.5" never splits (no whitespace). It works
on any alphabetic script and never fails.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from berg.errors import InvalidParameterError, MissingDependencyError, did_you_mean
from berg.stimulus.options import normalize_language

__all__ = [
    "SentenceSplitter",
    "Spans",
    "Tokens",
    "check_splitter",
    "resolve_splitter",
    "split_sentences",
]


logger = logging.getLogger(__name__)


_SPACY_INSTALL = "pip install spacy && python -m spacy download en_core_web_lg"


# (start, end) character spans of sentences, and (start, text) of tokens when a parser gave them.
Spans = list[tuple[int, int]]


Tokens = list[tuple[int, str]]


@dataclass(frozen=True)
class SentenceSplitter:
    """A sentence splitter, resolved once, with a name to record in provenance.

    Attributes
    ----------
    name : str
        ``"spacy:en_core_web_lg==3.8.0"`` (pipeline and version, also for a pipeline object
        passed in, from its meta), ``"rules"``, or ``"callable:<qualified name>"``.
    segment : callable
        ``segment(text) -> (spans, tokens)``: the sentences as ``(start, end)`` character
        spans, and spaCy's tokens as ``(start, text)`` (None without spaCy).

    Calling it, ``splitter(text)``, returns the sentences of ``text`` (see `split_sentences`).
    """

    name: str
    segment: Callable[[str], tuple[Spans, Tokens | None]] = field(repr=False, compare=False)

    def __call__(self, text: str) -> list[str]:
        spans, _ = self.segment(text)
        return [text[a:b] for a, b in spans]


def _spacy_candidates(code: str) -> list[str]:
    """Installed-pipeline names to try for a language, best first (the reference uses lg)."""
    names = [
        f"{code}_core_{genre}_{size}"
        for size in ("lg", "md", "sm", "trf")
        for genre in ("web", "news")
    ]
    return names if code == "en" else [*names, "xx_sent_ud_sm"]


def _spacy_installed() -> bool:
    return importlib.util.find_spec("spacy") is not None


def _installed_pipeline(code: str) -> str | None:
    import spacy.util

    return next((name for name in _spacy_candidates(code) if spacy.util.is_package(name)), None)


@functools.lru_cache(maxsize=4)
def _load_spacy(model: str):
    import spacy

    try:
        return spacy.load(model)
    except OSError as error:
        raise MissingDependencyError(
            f"the spaCy pipeline {model!r} is not installed ({error}); install it with: "
            f"python -m spacy download {model}"
        ) from error


def _spacy_splitter(nlp, name: str | None = None) -> SentenceSplitter:
    if name is None:
        meta = getattr(nlp, "meta", {}) or {}
        label = f"{meta.get('lang', '?')}_{meta.get('name', 'pipeline')}"
        name = f"spacy:{label}=={meta['version']}" if meta.get("version") else f"spacy:{label}"

    def segment(text: str) -> tuple[Spans, Tokens]:
        doc = nlp(text)
        if len(doc) and not doc.has_annotation("SENT_START"):
            raise InvalidParameterError(
                f"the spaCy pipeline {name!r} sets no sentence boundaries; use one with a "
                f"parser, 'senter' or 'sentencizer' (pipes: {list(nlp.pipe_names)})"
            )
        spans = [(s.start_char, s.end_char) for s in doc.sents]
        return spans, [(t.idx, t.text) for t in doc]

    return SentenceSplitter(name, segment)


def _callable_splitter(function: Callable[[str], Sequence[str]]) -> SentenceSplitter:
    label = getattr(function, "__qualname__", None) or type(function).__name__

    def segment(text: str) -> tuple[Spans, None]:
        returned = function(text)
        try:
            sentences = None if isinstance(returned, str) else list(returned)
        except TypeError:
            sentences = None
        if sentences is None or not all(isinstance(s, str) for s in sentences):
            raise InvalidParameterError(
                f"the splitter {label!r} must return a list of str, got {returned!r:.200}"
            )
        spans, cursor = [], 0
        for sentence in sentences:
            if not sentence:
                continue
            start = text.find(sentence, cursor)
            if start < 0:
                raise InvalidParameterError(
                    f"the splitter {label!r} returned {sentence!r}, which is not the next part "
                    f"of the text after character {cursor}: a splitter must return pieces of "
                    f"its input, in order"
                )
            spans.append((start, start + len(sentence)))
            cursor = start + len(sentence)
        return spans, None

    return SentenceSplitter(f"callable:{label}", segment)


_SPLITTER_CHOICES = ("auto", "spacy", "rules")


@functools.lru_cache(maxsize=16)
def _resolve_named(spec: str, code: str) -> SentenceSplitter:
    if spec == "rules":
        return SentenceSplitter("rules", _rule_segment)
    if spec.startswith("spacy:"):
        model = spec.removeprefix("spacy:")
        if not _spacy_installed():
            raise MissingDependencyError(
                f"splitter={spec!r} needs spaCy, which is not installed; install it with: "
                f"pip install spacy && python -m spacy download {model}"
            )
        nlp = _load_spacy(model)
        return _spacy_splitter(nlp, f"spacy:{model}=={nlp.meta.get('version', '?')}")
    model = _installed_pipeline(code) if _spacy_installed() else None
    if model is not None:
        return _resolve_named(f"spacy:{model}", code)
    if spec == "spacy":
        raise _no_spacy(
            "spaCy is not installed"
            if not _spacy_installed()
            else f"no spaCy pipeline for language {code!r} is installed "
            f"(tried {', '.join(_spacy_candidates(code))})"
        )
    logger.warning(
        "no spaCy pipeline for %r sentences (the reference uses en_core_web_lg); using berg's "
        "rule-based splitter. For the reference's sentences: %s",
        code,
        _SPACY_INSTALL,
    )
    return SentenceSplitter("rules", _rule_segment)


def _no_spacy(why: str) -> MissingDependencyError:
    return MissingDependencyError(
        f"splitter='spacy' was asked for but {why}; install it with: {_SPACY_INSTALL} "
        f"(or pass splitter='rules' for berg's rule-based splitter)"
    )


def check_splitter(splitter: object, language: str | None = None) -> None:
    """Check a ``splitter=`` argument before any text is there: a known name, a callable or
    a spaCy ``Language``. ``"spacy:<pipeline>"``, and ``"spacy"`` for a given ``language``,
    are resolved now, so that a missing spaCy or pipeline is reported at once; ``"spacy"``
    without a language checks spaCy only (the pipeline follows the language the recogniser
    detects); ``"auto"`` is resolved (and its fallback warned about) when first used.

    Raises
    ------
    InvalidParameterError, MissingDependencyError
        As :func:`resolve_splitter`.
    """
    if isinstance(splitter, str) and splitter == "auto":
        return
    if isinstance(splitter, str) and splitter == "spacy" and language is None:
        # The language is known only once the recogniser (or the voice) has said it, and
        # the pipeline follows it: only spaCy itself can be checked now.
        if not _spacy_installed():
            raise _no_spacy("spaCy is not installed")
        return
    resolve_splitter(splitter, language=language)


def resolve_splitter(splitter: object = "auto", *, language: str | None = None) -> SentenceSplitter:
    """Turn a ``splitter=`` argument into a `SentenceSplitter` (do it once, record its ``.name``).

    Parameters
    ----------
    splitter : str, callable, spaCy ``Language`` or SentenceSplitter
        ``"auto"``: a spaCy pipeline for ``language`` if one is installed, else ``"rules"``
        (with a logged warning). The pipelines tried, first installed wins:
        ``{lang}_core_{web,news}_{lg,md,sm,trf}`` (so ``en_core_web_lg`` first for English,
        as the reference), then ``xx_sent_ud_sm`` for languages other than English.
        ``"spacy"``: the same pipelines, but an error if none is installed.
        ``"spacy:<pipeline>"``: that pipeline. ``"rules"``: the rule-based splitter of this
        module. A loaded spaCy ``Language`` (anything with ``pipe_names``) is used as is; any
        other callable ``f(text) -> list[str]`` must return pieces of its input, in order.
    language : str or None
        ISO 639-1 code of the text (``"en"``, ``"fr"``...); None means English, as the reference
        (which parses every transcript as English). Only ``"auto"`` and ``"spacy"`` use it.

    Raises
    ------
    MissingDependencyError
        ``"spacy"`` or ``"spacy:<name>"`` without spaCy or that pipeline installed; the message
        says how to install them.
    InvalidParameterError
        An unknown name or an unusable value.
    """
    if isinstance(splitter, SentenceSplitter):
        return splitter
    # The reference parses every transcript as English.
    code = normalize_language(language) or "en"
    if isinstance(splitter, str):
        if splitter in _SPLITTER_CHOICES or splitter.startswith("spacy:"):
            return _resolve_named(splitter, code if splitter != "rules" else "")
        raise InvalidParameterError(
            f"unknown sentence splitter {splitter!r}{did_you_mean(splitter, _SPLITTER_CHOICES)}; "
            f"use 'auto', 'spacy', 'spacy:<pipeline>', 'rules' or a callable"
        )
    if callable(splitter) and hasattr(splitter, "pipe_names"):
        return _spacy_splitter(splitter)
    if callable(splitter):
        return _callable_splitter(splitter)
    raise InvalidParameterError(
        f"splitter must be 'auto', 'spacy', 'spacy:<pipeline>', 'rules' or a callable, "
        f"got {type(splitter).__name__} {splitter!r}"
    )


def split_sentences(
    text: str, *, splitter: object = "auto", language: str | None = None
) -> list[str]:
    """Split ``text`` into sentences.

    Parameters
    ----------
    text : str
    splitter, language
        See `resolve_splitter`; use ``resolve_splitter(...).name`` to record which one ran.

    Returns
    -------
    list of str
        The sentences, in order, each a piece of ``text`` without surrounding whitespace for
        ``"rules"`` (spaCy's ``Span.text`` for spaCy). ``[]`` for an empty or blank text.
    """
    if not isinstance(text, str):
        raise InvalidParameterError(f"text must be a str, got {type(text).__name__} {text!r}")
    return resolve_splitter(splitter, language=language)(text)


_CLOSERS = "\"')]}»›”’"


_OPENERS = "\"'([{«‹“‘¿¡"


_END = re.compile(
    rf"(?P<stop>[.!?…]+)[{re.escape(_CLOSERS)}]*(?=\s|$)"
    rf"|(?P<cjk>[。！？]+)[{re.escape(_CLOSERS)}」』）]*"
)


_ABBREVIATIONS = frozenset(
    "mr mrs ms mx dr prof sr jr st mt rev fr gen col lt sgt capt gov sen rep vs cf fig "
    "approx".split()
)


_DOTTED = re.compile(r"(?:[^\W\d_]\.)+")


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the '.' at ``text[dot]`` closes an abbreviation rather than a sentence."""
    start = dot
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start : dot + 1].lstrip(_OPENERS)
    return word[:-1].lower() in _ABBREVIATIONS or _DOTTED.fullmatch(word) is not None


def _starts_sentence(text: str, at: int) -> bool:
    while at < len(text) and text[at] in _OPENERS:
        at += 1
    if at == len(text):
        return False
    char = text[at]
    return char.isdigit() or (char.isalpha() and not char.islower())


def _rule_segment(text: str) -> tuple[Spans, None]:
    spans: Spans = []
    length = len(text.rstrip())
    start = len(text) - len(text.lstrip())
    for match in _END.finditer(text, start):
        end = match.end()
        nxt = end + len(text[end:]) - len(text[end:].lstrip())
        if nxt >= length:
            break
        if match.group("stop") is not None:
            if not _starts_sentence(text, nxt):
                continue
            if match.group("stop") == "." and _is_abbreviation(text, match.start("stop")):
                continue
        spans.append((start, end))
        start = nxt
    if start < length:
        spans.append((start, length))
    return spans, None
