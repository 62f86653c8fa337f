"""Word contexts for the text extractor, built the way the TRIBE v2 reference builds them.

The text extractor (Llama 3.2) reads every spoken word together with the text that led up to it,
its *context*. The released model was trained and run on contexts with some odd details, so this
module reproduces them; they are written down here in full because the terse summary
("re-cased sentences joined...") hides several of them.

What the reference does
-----------------------
Read in ``facebookresearch/tribev2`` (``tribev2/demo_utils.py``: ``get_audio_and_text_events``
runs ``AddText()``, ``AddSentenceToWords(max_unmatched_ratio=0.05)``,
``AddContextToWords(sentence_only=False, max_context_len=1024, split_field="")`` and
``RemoveMissing()``; ``tribev2/eventstransforms.py``: the words, language fixed to English) and
in ``neuralset==0.0.2``, the version tribev2 pins (``neuralset/events/transforms/text.py``:
``AddText``, ``AddSentenceToWords``, ``AddContextToWords``; ``neuralset/events/transforms/
utils.py``: ``TextWordMatcher``; ``neuralset/utils.py``: ``match_list``, ``get_spacy_model``).
Everything happens per timeline, i.e. per stimulus.

1. *Text.* The words are joined with single spaces and parsed with spaCy ``en_core_web_lg``.
   Every sentence's text (``Span.text``: no trailing whitespace) goes through
   ``str.capitalize()`` (first character upper/title case, *all the rest lower case*, so
   "I" becomes "i" and "NASA" "nasa" mid-sentence), then ``rstrip(".")`` (every trailing
   dot, so "Wait..." -> "Wait", "the U.S." -> "the u.s", a lone "..." word disappears).
   The sentences are joined with ``". "``. A sentence that ended in "?" keeps it and still
   gets the joint: ``"How are you?"`` + ``"Who knows"`` -> ``"How are you?. Who knows"``.
2. *Sentences of the text.* The text of step 1 is parsed with spaCy *a second time*, and every
   word is matched to a token of that parse (case, accents and leading/trailing punctuation
   ignored; a Levenshtein alignment of the word list with the token list, then a
   character-level alignment for the words left over). A matched word gets ``sentence`` (the
   sentence's ``text_with_ws``: *with* its trailing space) and ``sentence_char`` (where the
   matched token starts in it). The token is the word's own token, so a word is found where it
   sits in the text, except that leading punctuation that spaCy splits off as a separate token
   is skipped: ``"(hello)"`` and ``"$5"`` are found one character late, ``"'cause"`` and
   ``"-x"`` (one token each) are not.
3. *Context.* Walking through the words in order (``AddContextToWords``): a word that was not
   matched gets ``""``. For a matched word, its *new piece* runs from where the previous
   matched word's piece ended (or from the start of its sentence, when the sentence changed)
   to ``sentence_char + len(word)``, clipped to the sentence; ``len(word)`` is the length of
   the word as transcribed, so ``"(hello)"`` ends one character after its ")" and ``"U.S."``
   takes the joint's "." after "u.s". Whatever lies between two words of one sentence (the
   space) is appended to the earlier word's piece; when the sentence changes (different text,
   or a ``sentence_char`` that does not increase), the rest of the previous sentence, its
   trailing space included, is appended to the previous piece. The context is the previous
   pieces (at most ``max_context_len`` = 1024 of them, a deque) followed by the new piece.

   So, when every word is found, a context is a plain slice of the re-cased text: sentences
   stay separated by ``". "`` *with* the space (``"...doing here?. Who"``), and a context holds
   the word plus up to 1024 *preceding* words, 1025 in all (neuralset's own test:
   ``max_context_len=3`` gives ``"utile puisque c'est joli"``). It starts exactly at the first
   kept word, with no leading space, and ends with the word (never with the space after it).
   Contexts reset only between stimuli (``split_field=""``).
4. ``RemoveMissing`` drops the words whose context is ``""``.

What berg does
--------------
The same steps, with one shortcut: berg builds the text itself, so it knows where every word
landed and does not need to search for it. It places each word where the reference's matching
places it in the normal case (its own token; leading punctuation skipped as in step 2) and
then runs step 3 exactly (same pieces, same deque, same tests for a sentence change). With a
spaCy pipeline the word's token comes from the second parse, as in the reference. Without
spaCy, whether spaCy would split a leading punctuation mark off is decided by a small table
of spaCy's English prefixes and apostrophe exceptions ("'cause", "'em", ...), which can
differ for rare words that mix leading and inner punctuation ("'cause?!").

Checked against neuralset 0.0.2's own matching and context code on random transcripts (a spaCy
tokenizer with fixed sentence boundaries): identical contexts, except where the reference's
Levenshtein alignment misplaces a word, which berg does not reproduce:

- a word that is only punctuation ("—", "...") right after a word ending in punctuation that
  spaCy splits off ("so," "okay;" "mr."): the alignment pairs it with that earlier token, so
  the reference's contexts repeat the mark (``"So,,"``, then ``"So,, — come"`` for the words
  after it); berg places the word where it is (``"So, —"``). WhisperX, the reference's
  recogniser, never outputs such words (they have no letters to align, so no timestamps);
- a sentence whose first letter grows when capitalized ("ß" -> "Ss"): the reference finds
  that word one character late or not at all; berg keeps it at its place.

The reference's check that at most 5% of the words are unmatched cannot trigger here. Words
that are only dots at the very end of the last sentence lose their text in step 1 and get
``""`` (dropped), as in the reference; those at the end of an earlier sentence sit on the
joint's "." (``["Wait", "...", "What"]`` -> ``"Wait . What"``).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from berg.errors import InvalidParameterError
from berg.stimulus.events import TimedWord
from berg.stimulus.text.splitters import SentenceSplitter, Spans, resolve_splitter
from berg.validation import check_int

__all__ = ["DEFAULT_MAX_CONTEXT_WORDS", "attach_contexts", "recased_text", "word_contexts"]


#: The reference's ``max_context_len``: a context is the word and at most this many words before.
DEFAULT_MAX_CONTEXT_WORDS = 1024


_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE"})


_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")


_LEADING_PUNCT = re.compile(r"[\W_]*")


def _normalize(word: str) -> str:
    """The reference's matching key: lower case, no accents or ligatures, no edge punctuation."""
    decomposed = unicodedata.normalize("NFKD", word.lower().translate(_LIGATURES))
    return _EDGE_PUNCT.sub("", "".join(c for c in decomposed if not unicodedata.combining(c)))


# spaCy's English tokenizer splits these off the front of a word as tokens of their own (the
# prefixes of spacy/lang/punctuation.py, checked with spaCy 3.8), "+" only before a non-digit
# and "." only as a run of two or more. Other leading marks ("-", "@", "/", ...) stay attached.
_PREFIX_CHARS = frozenset("!\"#$%&'()*+,:;<=>?[]_`{}¿¡«»“”‘’„‚–—…§°£€¥₹©®™·´")


# ... unless the rest is one of its special cases (tokenizer exceptions starting with a quote).
_APOSTROPHE_WORDS = frozenset(
    q + w
    for q in "'’"
    for w in "cause Cause cos Cos coz Coz cuz Cuz bout em nuff d ll re s S".split()
) | {"‘s", "‘S"}


def _is_special(rest: str) -> bool:
    return rest in _APOSTROPHE_WORDS or (
        len(rest) > 1 and not rest[-1].isalnum() and rest[:-1] in _APOSTROPHE_WORDS
    )


def _token_offset(word: str) -> int:
    """Where, in ``word``, the reference's matched token starts (no spaCy to ask)."""
    lead = _LEADING_PUNCT.match(word).end()
    if lead in (0, len(word)):
        return 0  # a plain word, or punctuation only: its first token is the word's start
    i = 0
    while i < lead and not _is_special(word[i:]):
        if word.startswith("..", i):
            i = len(word) - len(word[i:].lstrip("."))
        elif word[i] in _PREFIX_CHARS and not (word[i] == "+" and word[i + 1 : i + 2].isdigit()):
            i += 1
        else:
            break
    if i == lead:
        return lead
    # The first token keeps some leading punctuation; it is the word's token (matched as a
    # whole) unless inner punctuation may split the word, and then the reference falls back to
    # a character match that finds the first letter.
    core = _EDGE_PUNCT.sub("", word)
    return lead if re.search(r"[\W_]", core) else i


@dataclass
class _Sentence:
    raw_start: int
    raw_end: int
    text_start: int
    kept: int  # characters kept by rstrip(".")
    cumulative: list[int] | None  # re-cased offset of each raw offset, when lengths change


def _recase(raw: str, spans: Spans) -> tuple[str, list[_Sentence]]:
    pieces, sentences, offset = [], [], 0
    for start, end in spans:
        original = raw[start:end]
        recased = original.capitalize()
        cumulative = None
        if len(recased) != len(original):  # e.g. "ß" -> "Ss" at a sentence start
            lengths = [len(original[:1].capitalize())] + [len(c.lower()) for c in original[1:]]
            cumulative = [0]
            for n in lengths:
                cumulative.append(cumulative[-1] + n)
        kept = recased.rstrip(".")
        pieces.append(kept)
        sentences.append(_Sentence(start, end, offset, len(kept), cumulative))
        offset += len(kept) + 2
    return ". ".join(pieces), sentences


class _Placer:
    """Maps positions of the space-joined words to positions in the re-cased text."""

    def __init__(self, sentences: list[_Sentence]):
        self.sentences = sentences
        self.starts = [s.raw_start for s in sentences]

    def _sentence(self, raw_pos: int) -> _Sentence | None:
        i = bisect.bisect_right(self.starts, raw_pos) - 1
        if i < 0 or raw_pos >= self.sentences[i].raw_end:
            return None
        return self.sentences[i]

    def position(self, raw_pos: int, *, end: bool = False) -> int | None:
        """Re-cased position of ``raw_pos`` (a start, or with ``end`` an end); a character
        removed by ``rstrip('.')`` maps to the end of its sentence (the joint's '.')."""
        sentence = self._sentence(raw_pos - 1 if end else raw_pos)
        if sentence is None:
            return None
        offset = raw_pos - sentence.raw_start
        if sentence.cumulative is not None:
            offset = sentence.cumulative[offset]
        return sentence.text_start + min(offset, sentence.kept)


def _place_words(
    words: list[str], splitter: SentenceSplitter
) -> tuple[str, list[tuple[str, int] | None]]:
    """The re-cased text, and each word's (sentence with trailing whitespace, start in it)."""
    raw_starts, cursor = [], 0
    for word in words:
        raw_starts.append(cursor)
        cursor += len(word) + 1 if word else 0
    raw = " ".join(w for w in words if w)
    text, sentences = _recase(raw, splitter.segment(raw)[0])
    placer = _Placer(sentences)
    spans, tokens = splitter.segment(text)
    token_starts = [t[0] for t in tokens] if tokens is not None else None

    # Sentences of the text tile it: each runs up to the next one's start (text_with_ws).
    starts = sorted({0, *(a for a, _ in spans if 0 < a < len(text))})
    bounds = [*starts, len(text)]
    sentence_texts = [text[a:b] for a, b in zip(bounds, bounds[1:])]

    placed: list[tuple[str, int] | None] = []
    for word, raw_start in zip(words, raw_starts):
        position = None
        if word:
            own = placer.position(raw_start)
            if token_starts is not None and own is not None:
                stop = placer.position(raw_start + len(word), end=True) or own
                key = _normalize(word)
                lo = bisect.bisect_left(token_starts, own)
                hi = bisect.bisect_left(token_starts, max(stop, own + 1))
                position = next(
                    (tokens[k][0] for k in range(lo, hi) if _normalize(tokens[k][1]) == key), None
                )
                if position is None and key:  # the reference's character-level fallback
                    position = placer.position(raw_start + _LEADING_PUNCT.match(word).end())
            elif own is not None:
                position = placer.position(raw_start + _token_offset(word))
        if position is None or position >= len(text):
            placed.append(None)
            continue
        j = bisect.bisect_right(starts, position) - 1
        placed.append((sentence_texts[j], position - starts[j]))
    return text, placed


def _check_words(words: object) -> list[str]:
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise InvalidParameterError(
            f"words must be a sequence of str (one per spoken word), got "
            f"{type(words).__name__} {words!r:.80}"
        )
    bad = next((w for w in words if not isinstance(w, str)), None)
    if bad is not None:
        raise InvalidParameterError(f"every word must be a str, got {type(bad).__name__} {bad!r}")
    # Words are joined with single spaces: surrounding whitespace (faster-whisper's leading
    # space) is not part of a word. WhisperX, the reference's recogniser, gives none.
    return [w.strip() for w in words]


def _check_max_words(max_words: object) -> int | None:
    return check_int(
        f"max_words (the reference's: {DEFAULT_MAX_CONTEXT_WORDS})", max_words, none="no limit"
    )


def _contexts(
    words: list[str], placed: list[tuple[str, int] | None], max_words: int | None
) -> list[str]:
    """Step 3 of the module docstring (``AddContextToWords``, one stimulus, no split field)."""
    contexts: list[str] = []
    pieces: deque[str] = deque(maxlen=max_words)
    last: tuple[str, int] | None = None  # (sentence, char) of the last placed word
    cursor = 0  # where, in the last placed word's sentence, its piece ended
    for word, where in zip(words, placed):
        if where is None:
            contexts.append("")
            continue
        sentence, char = where
        if last is not None:
            if sentence != last[0] or char <= last[1]:  # a new sentence
                pieces[-1] += last[0][cursor:]
                cursor = 0
            else:
                pieces[-1] += sentence[cursor:char]
                cursor = char
        new = sentence[cursor : char + len(word)]
        contexts.append("".join(pieces) + new)
        pieces.append(new)
        cursor = char + len(word)
        last = where
    return contexts


def word_contexts(
    words: Sequence[str],
    *,
    max_words: int | None = DEFAULT_MAX_CONTEXT_WORDS,
    splitter: object = "auto",
    language: str | None = None,
) -> list[str]:
    """The context string of every word of one stimulus, as the reference builds it.

    Parameters
    ----------
    words : sequence of str
        The words of one stimulus in spoken order, as transcribed (punctuation attached, e.g.
        ``"here?"``; the reference has already removed double quotes). Surrounding whitespace
        is ignored.
    max_words : int or None
        How many *preceding* words a context may hold (the reference's ``max_context_len``):
        a context is the word plus at most ``max_words`` words before it, so the default 1024
        gives at most 1025 words. None: no limit.
    splitter, language
        The sentence splitter, see `resolve_splitter`.

    Returns
    -------
    list of str, one per word
        The context: the re-cased text from the first word kept up to the end of this word.
        ``""`` for a word that is blank, or only dots at the very end of the stimulus (the
        reference drops those words; so does `attach_contexts`).

    Examples
    --------
    >>> word_contexts(["Hello", "there.", "How", "are", "you?", "Who", "knows."],
    ...               splitter="rules")[-2:]
    ['Hello there. How are you?. Who', 'Hello there. How are you?. Who knows']
    """
    cleaned = _check_words(words)
    limit = _check_max_words(max_words)
    if not any(cleaned):
        return [""] * len(cleaned)
    _, placed = _place_words(cleaned, resolve_splitter(splitter, language=language))
    return _contexts(cleaned, placed, limit)


def recased_text(
    words: Sequence[str], *, splitter: object = "auto", language: str | None = None
) -> str:
    """The reference's text of a stimulus (its ``Text`` event): re-cased sentences joined by
    ``". "``. Every context is a slice of it."""
    cleaned = [w for w in _check_words(words) if w]
    raw = " ".join(cleaned)
    segment = resolve_splitter(splitter, language=language).segment
    return _recase(raw, segment(raw)[0])[0]


def attach_contexts(
    words: Sequence[TimedWord],
    *,
    max_words: int | None = DEFAULT_MAX_CONTEXT_WORDS,
    splitter: object = "auto",
    language: str | None = None,
) -> list[tuple[TimedWord, str]]:
    """Pair every timed word of one stimulus with its context, dropping those without one.

    This is `word_contexts` on ``[w.text for w in words]`` followed by the reference's
    ``RemoveMissing``. To record which splitter ran, resolve it first and pass it in::

        splitter = resolve_splitter("auto", language=transcript.language)
        pairs = attach_contexts(transcript.words, splitter=splitter)
        provenance["sentence_splitter"] = splitter.name

    Parameters
    ----------
    words : sequence of TimedWord
        In temporal order (start times never decrease), as from one transcript.
    max_words, splitter, language
        As in `word_contexts`.

    Returns
    -------
    list of (TimedWord, str)
        The kept words, in order, each with its non-empty context.
    """
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise InvalidParameterError(
            f"words must be a sequence of TimedWord, got {type(words).__name__}"
        )
    for i, word in enumerate(words):
        if not isinstance(word, TimedWord):
            raise InvalidParameterError(
                f"words[{i}] must be a TimedWord, got {type(word).__name__} {word!r}"
            )
        if i and word.start < words[i - 1].start:
            raise InvalidParameterError(
                f"words must be in temporal order: words[{i}] {word.text!r} starts at "
                f"{word.start} s, before words[{i - 1}] {words[i - 1].text!r} at "
                f"{words[i - 1].start} s"
            )
    contexts = word_contexts(
        [w.text for w in words], max_words=max_words, splitter=splitter, language=language
    )
    return [(w, c) for w, c in zip(words, contexts) if c]
