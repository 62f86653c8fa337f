"""What a synthesiser can be given: a text with a word to say, in sentences of bounded length.

A synthesiser's memory grows with the sentence it is speaking: Piper, given a 200 kB line
without a break, tries to allocate 40 GB and fails inside onnxruntime. So, before any speech
is made:

- a text with no letter or digit (only punctuation and symbols) is refused: there is nothing
  to say, and a synthesiser would read the symbols' names out ("Exclamation");
- a run of more than :data:`MAX_RUN` characters with neither a space nor punctuation is
  refused: no word is that long (the longest words of any language are under 200 letters),
  so it is not language, and cutting it anywhere would make up words;
- a stretch of more than :data:`MAX_SENTENCE` characters without a sentence end is given
  sentence ends at its spaces (and so is spoken in pieces of bounded length).

Ordinary texts pass unchanged, so the speech of every text that could be spoken before is the
same as before.
"""

from __future__ import annotations

import re

from berg.errors import StimulusError

__all__ = ["MAX_RUN", "MAX_SENTENCE", "speakable_text"]

#: The most characters in a row without a space or punctuation that a text may hold.
MAX_RUN = 1000
#: Longer stretches without a sentence end are cut into sentences of at most this many.
MAX_SENTENCE = 500

# Where a synthesiser ends a sentence (Latin, CJK and other full stops, ! and ?).
_SENTENCE_END = ".!?。！？؟।"
# A run: word characters only (letters, digits, _), broken by white space or punctuation.
_RUN = re.compile(rf"\w{{{MAX_RUN + 1},}}")


def speakable_text(text: str, name: str) -> str:
    """``text`` as a synthesiser can take it, or the reason it cannot be spoken.

    Parameters
    ----------
    text : str
        The stimulus's text (read and normalised by ``read_text_file``).
    name : str
        The file, for the messages.

    Returns
    -------
    str
        ``text`` itself when its sentences are short enough (the usual case); else with
        ``". "`` put in place of a space every :data:`MAX_SENTENCE` characters or fewer
        where a stretch has no sentence end.

    Raises
    ------
    StimulusError
        No letter or digit, or a run of more than :data:`MAX_RUN` characters without a break.
    """
    if not any(ch.isalnum() for ch in text):
        raise StimulusError(
            f"text stimulus {name} has no word to speak: only punctuation and symbols "
            f"({text[:40]!r}{'...' if len(text) > 40 else ''})"
        )
    run = _RUN.search(text)
    if run is not None:
        start, length = run.start(), len(run.group(0))
        raise StimulusError(
            f"text stimulus {name} has a run of {length:,} characters without a space or "
            f"punctuation at character {start:,} ({text[start : start + 24]!r}...): no word is "
            f"that long, so it cannot be spoken (at most {MAX_RUN:,}); break it up"
        )
    return _bounded_sentences(text)


def _bounded_sentences(text: str) -> str:
    pieces, start = [], 0
    while start < len(text):
        end = start + MAX_SENTENCE
        stretch = text[start:end]
        last_end = max(stretch.rfind(ch) for ch in _SENTENCE_END)
        if end >= len(text) or last_end >= 0:
            # A sentence ends within the next MAX_SENTENCE characters (or the text does).
            cut = len(text) if end >= len(text) else start + last_end + 1
            pieces.append(text[start:cut])
            start = cut
            continue
        space = max(stretch.rfind(" "), stretch.rfind("\n"), stretch.rfind("\t"))
        if space <= 0:  # only possible after a run check that passed: MAX_RUN > MAX_SENTENCE
            space = len(stretch)
        pieces.append(text[start : start + space].rstrip() + ".")
        start += space
    return "".join(pieces)  # the text itself wherever sentences end often enough
