"""Sentences and word contexts for the text extractor, built the way the TRIBE v2 reference does.

splitters  where sentences end: spaCy (the reference's), rules, or a callable
contexts   the re-cased text and each word's context (the reference's steps, in full)
"""

from berg.stimulus.text.contexts import (
    DEFAULT_MAX_CONTEXT_WORDS,
    attach_contexts,
    recased_text,
    word_contexts,
)
from berg.stimulus.text.splitters import SentenceSplitter, resolve_splitter, split_sentences

__all__ = [
    "DEFAULT_MAX_CONTEXT_WORDS",
    "SentenceSplitter",
    "attach_contexts",
    "recased_text",
    "resolve_splitter",
    "split_sentences",
    "word_contexts",
]
