"""Sentences and word contexts, as the TRIBE v2 reference builds them for the text extractor.

Every expected context below was worked out by hand from the rule in the docstring of
berg/stimulus/text/: split the space-joined words into sentences, capitalize() each (the rest
lower case), strip trailing dots, join with ". "; a word's context is that text from the first
kept word to ``position + len(word)``, clipped to the word's sentence (with its trailing space).
"""

import importlib.util
import logging
import random
import re

import pytest

from berg import InvalidParameterError, MissingDependencyError
from berg.stimulus.events import TimedWord
from berg.stimulus.text import (
    DEFAULT_MAX_CONTEXT_WORDS,
    SentenceSplitter,
    attach_contexts,
    recased_text,
    resolve_splitter,
    split_sentences,
    word_contexts,
)
from berg.stimulus.text import splitters as text_module

HAS_SPACY = importlib.util.find_spec("spacy") is not None


def at_marks(text):
    """A fixed, obvious splitter for the examples: after . ! ? followed by whitespace."""
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def whole(text):
    """Everything is one sentence."""
    return [text]


# ------------------------------------------------------------------------- hand-worked examples


def test_reference_example():
    words = ["Hello", "there.", "How", "are", "you", "doing", "here?", "Who", "knows."]
    # sentences: "Hello there." | "How are you doing here?" | "Who knows."
    # -> "Hello there" + ". " + "How are you doing here?" + ". " + "Who knows"
    assert (
        recased_text(words, splitter=at_marks) == "Hello there. How are you doing here?. Who knows"
    )
    assert word_contexts(words, splitter=at_marks) == [
        "Hello",
        "Hello there.",  # len("there.") reaches the joint's "."
        "Hello there. How",  # the space between sentences is kept
        "Hello there. How are",
        "Hello there. How are you",
        "Hello there. How are you doing",
        "Hello there. How are you doing here?",
        "Hello there. How are you doing here?. Who",  # "?" then the joint ". "
        "Hello there. How are you doing here?. Who knows",  # the last "." was stripped
    ]


def test_capitalize_lowercases_the_rest_of_each_sentence():
    words = ["i", "think", "NASA", "is", "GREAT.", "yes", "I", "do."]
    # "i think NASA is GREAT." -> "I think nasa is great" ; "yes I do." -> "Yes i do"
    assert recased_text(words, splitter=at_marks) == "I think nasa is great. Yes i do"
    assert word_contexts(words, splitter=at_marks) == [
        "I",
        "I think",
        "I think nasa",
        "I think nasa is",
        "I think nasa is great.",
        "I think nasa is great. Yes",
        "I think nasa is great. Yes i",
        "I think nasa is great. Yes i do",
    ]


def test_every_trailing_dot_is_stripped():
    words = ["Wait...", "what", "happened..."]
    # "Wait..." -> "Wait" ; "what happened..." -> "What happened"
    assert recased_text(words, splitter=at_marks) == "Wait. What happened"
    # "Wait..." is 7 long: its context runs to the end of its sentence "Wait. " (space included)
    assert word_contexts(words, splitter=at_marks) == [
        "Wait. ",
        "Wait. What",
        "Wait. What happened",
    ]


def test_dots_only_word_sits_on_the_joint_or_disappears():
    # "Wait ..." -> "Wait " (the space stays), joined: "Wait . What"; "..." lands on the joint.
    words = ["Wait", "...", "What"]
    assert recased_text(words, splitter=at_marks) == "Wait . What"
    assert word_contexts(words, splitter=at_marks) == ["Wait", "Wait . ", "Wait . What"]
    # At the very end the dots are gone from the text: no context, and the word is dropped.
    assert word_contexts(["So", "..."], splitter=whole) == ["So", ""]


def test_punctuation_only_words_inside_a_sentence():
    words = ["Well", "-", "I", "mean..."]
    # one sentence: "Well - I mean..." -> "Well - i mean"
    assert word_contexts(words, splitter=whole) == ["Well", "Well -", "Well - i", "Well - i mean"]


def test_leading_punctuation_shifts_the_end_like_the_reference():
    # spaCy splits "(" and "$" off as tokens of their own, so the reference finds "(hello)"
    # and "$5" one character late, and their contexts end one character after them; "'cause"
    # is a single token (a tokenizer exception), "-x" too.
    words = ["(hello)", "it", "costs", "$5", "'cause", "-x", "said", "so"]
    assert recased_text(words, splitter=whole) == "(hello) it costs $5 'cause -x said so"
    assert word_contexts(words, splitter=whole) == [
        "(hello) ",
        "(hello) it",
        "(hello) it costs",
        "(hello) it costs $5 ",
        "(hello) it costs $5 'cause",
        "(hello) it costs $5 'cause -x",
        "(hello) it costs $5 'cause -x said",
        "(hello) it costs $5 'cause -x said so",
    ]


def test_unicode_words():
    words = ["ÉCOLE", "française.", "Ça", "va?", "ПРИВЕТ", "мир."]
    # "ÉCOLE française." -> "École française" ; "Ça va?" ; "ПРИВЕТ мир." -> "Привет мир"
    assert recased_text(words, splitter=at_marks) == "École française. Ça va?. Привет мир"
    assert word_contexts(words, splitter=at_marks) == [
        "École",
        "École française.",
        "École française. Ça",
        "École française. Ça va?",
        "École française. Ça va?. Привет",
        "École française. Ça va?. Привет мир",
    ]


def test_a_longer_first_letter_does_not_shift_later_words():
    # "ß".capitalize() is "Ss": the text grows by one character, later words stay in place.
    assert recased_text(["ßo", "what"], splitter=whole) == "Sso what"
    assert word_contexts(["ßo", "what"], splitter=whole)[1] == "Sso what"


# ---------------------------------------------------------------------------------- the window


def test_window_holds_the_word_and_max_words_before_it():
    words = ["one", "two", "three", "four", "five", "six", "seven"]
    assert word_contexts(words, splitter=whole, max_words=2) == [
        "One",
        "One two",
        "One two three",
        "two three four",
        "three four five",
        "four five six",
        "five six seven",
    ]


def test_window_across_sentences():
    # "a. b. c." -> "A. B. C"; sentences of that text with their spaces: "A. ", "B. ", "C"
    assert word_contexts(["a.", "b.", "c."], splitter=at_marks, max_words=1) == [
        "A.",
        "A. B.",
        "B. C",
    ]


def test_default_window_is_1024_words_before_the_word():
    assert DEFAULT_MAX_CONTEXT_WORDS == 1024
    words = [f"w{i}" for i in range(1100)]
    contexts = word_contexts(words, splitter=whole)
    assert contexts[1024].startswith("W0 w1 ")  # 1025 words: all of them so far
    assert len(contexts[1024].split()) == 1025
    assert contexts[1025].startswith("w1 w2 ")  # the window slides, no leading space
    assert contexts[-1] == " ".join(words[75:])
    assert len(word_contexts(words, splitter=whole, max_words=None)[-1].split()) == 1100


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "1024"])
def test_bad_max_words(bad):
    with pytest.raises(InvalidParameterError, match="max_words"):
        word_contexts(["a"], max_words=bad, splitter="rules")


# ------------------------------------------------------------------------------- edge inputs


def test_empty_and_blank_words():
    assert word_contexts([], splitter="rules") == []
    assert word_contexts(["", "  "], splitter="rules") == ["", ""]
    # blank words are not joined in (no double space) and get no context; surrounding
    # whitespace, as faster-whisper leaves it, is ignored
    assert word_contexts(["Hello", "", " world"], splitter=whole) == ["Hello", "", "Hello world"]


@pytest.mark.parametrize("bad", ["Hello there", [1, 2], None, [b"bytes"]])
def test_bad_words(bad):
    with pytest.raises(InvalidParameterError):
        word_contexts(bad, splitter="rules")


def test_contexts_are_slices_of_the_text():
    rng = random.Random(7)
    vocab = [
        "the",
        "cat",
        "sat.",
        "Did",
        "it?",
        "Yes!",
        "Mr.",
        "Smith",
        "paid",
        "$3.5",
        "for",
        "NASA's",
        "U.S.",
        "well...",
        "(so)",
        "don't",
        "Ünïcode",
        "ok,",
    ]
    for _ in range(50):
        words = [rng.choice(vocab) for _ in range(rng.randint(1, 60))] + ["end"]
        text = recased_text(words, splitter="rules")
        contexts = word_contexts(words, splitter="rules", max_words=8)
        assert all(contexts)
        for context in contexts:
            assert context in text
        assert contexts[-1] == text[len(text) - len(contexts[-1]) :]  # the last ends the text


def test_long_transcript_runs():
    rng = random.Random(0)
    vocab = "the a of and to in is it you that he was for on are with as I his".split()
    words = [rng.choice(vocab) + rng.choice(["", "", "", ".", "?", ","]) for _ in range(3000)]
    contexts = word_contexts(words, splitter="rules")
    assert len(contexts) == 3000 and all(contexts)
    # the joints ". " add no words, so counting by spaces sees the word and 1024 before it
    assert max(len(c.split()) for c in contexts) == len(contexts[-1].split()) == 1025


# ------------------------------------------------------------------------------ attach_contexts


def test_attach_contexts_drops_words_without_context():
    words = [
        TimedWord("So", 0.0, 0.3),
        TimedWord("  ", 0.3, 0.4),
        TimedWord("yes.", 0.5, 0.8),
        TimedWord("...", 0.9, 1.0),
    ]
    pairs = attach_contexts(words, splitter=whole)
    # "So yes. ..." -> "So yes. " (rstrip stops at the space): "..." is gone, "yes." is kept
    assert pairs == [(words[0], "So"), (words[2], "So yes.")]


def test_attach_contexts_checks_order_and_types():
    with pytest.raises(InvalidParameterError, match="temporal order"):
        attach_contexts([TimedWord("b", 1.0, 1.2), TimedWord("a", 0.5, 0.6)], splitter="rules")
    with pytest.raises(InvalidParameterError, match="TimedWord"):
        attach_contexts(["a", "b"], splitter="rules")
    assert attach_contexts([], splitter="rules") == []


# --------------------------------------------------------------------------- the rule splitter


@pytest.mark.parametrize(
    "text, sentences",
    [
        ("Hello there. How are you? Fine!", ["Hello there.", "How are you?", "Fine!"]),
        ("Mr. Smith met Dr. Jones.", ["Mr. Smith met Dr. Jones."]),
        (
            "He lives in the U.S. He likes e.g. Pizza.",
            ["He lives in the U.S. He likes e.g. Pizza."],
        ),
        ("J. R. R. Tolkien wrote it.", ["J. R. R. Tolkien wrote it."]),
        ("It costs 3.5 dollars. Cheap.", ["It costs 3.5 dollars.", "Cheap."]),
        ('He said "stop." Then he left.', ['He said "stop."', "Then he left."]),
        ("(Really?) Yes.", ["(Really?)", "Yes."]),
        ("Wait... What? No...", ["Wait...", "What?", "No..."]),
        ("Wait… what? no.", ["Wait… what? no."]),  # lower case after: not a sentence start
        ("In 1999. 2000 came.", ["In 1999.", "2000 came."]),  # a digit starts a sentence
        ("Hm?! 'Yes,' she said.", ["Hm?!", "'Yes,' she said."]),
        ("¿Qué pasa? ¡Nada! Bien.", ["¿Qué pasa?", "¡Nada!", "Bien."]),
        ("Привет. Как дела? хорошо.", ["Привет.", "Как дела? хорошо."]),
        ("你好。世界！再见", ["你好。", "世界！", "再见"]),
        ("  padded.   Text.  ", ["padded.", "Text."]),
        ("no punctuation at all", ["no punctuation at all"]),
        ("", []),
        ("   ", []),
    ],
)
def test_rule_splitter(text, sentences):
    assert split_sentences(text, splitter="rules") == sentences


def test_rule_splitter_on_the_recased_text():
    # the second pass sees lower case inside sentences and "?." joints
    assert split_sentences("Hello there. How are you?. Who knows", splitter="rules") == [
        "Hello there.",
        "How are you?.",
        "Who knows",
    ]


# ------------------------------------------------------------------------- choosing a splitter


def test_resolve_names():
    assert resolve_splitter("rules").name == "rules"
    splitter = resolve_splitter(at_marks)
    assert splitter.name == "callable:at_marks"
    assert resolve_splitter(splitter) is splitter
    assert isinstance(splitter, SentenceSplitter)
    assert splitter("A b. C d.") == ["A b.", "C d."]


def test_unknown_splitter_names_a_close_choice():
    with pytest.raises(InvalidParameterError, match="did you mean 'rules'"):
        resolve_splitter("rule")
    with pytest.raises(InvalidParameterError, match="callable"):
        resolve_splitter(42)


def test_callable_must_return_pieces_of_its_input():
    with pytest.raises(InvalidParameterError, match="pieces of its input"):
        word_contexts(["a.", "b."], splitter=lambda t: ["something else"])
    with pytest.raises(InvalidParameterError, match="list of str"):
        split_sentences("a. b.", splitter=lambda t: t)


def test_without_spacy_auto_falls_back_to_rules(monkeypatch, caplog):
    monkeypatch.setattr(text_module, "_spacy_installed", lambda: False)
    text_module._resolve_named.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="berg.stimulus.text"):
            assert resolve_splitter("auto").name == "rules"
        assert "en_core_web_lg" in caplog.text
        with pytest.raises(MissingDependencyError) as info:
            resolve_splitter("spacy")
        assert "pip install spacy && python -m spacy download en_core_web_lg" in str(info.value)
        with pytest.raises(
            MissingDependencyError, match="python -m spacy download fr_core_news_lg"
        ):
            resolve_splitter("spacy:fr_core_news_lg")
        # non-English text never fails
        assert resolve_splitter("auto", language="ru").name == "rules"
        assert word_contexts(["Да.", "Нет!"], language="ru") == ["Да.", "Да. Нет!"]
    finally:
        text_module._resolve_named.cache_clear()


def test_spacy_without_a_language_waits_for_the_detected_one(monkeypatch):
    # Only a French pipeline is installed and the language is not given: the recogniser
    # may well detect French, so checking the options must not demand an English pipeline;
    # a language given up front is checked at once.
    monkeypatch.setattr(text_module, "_spacy_installed", lambda: True)
    monkeypatch.setattr(
        text_module, "_installed_pipeline", lambda code: "fr_core_news_sm" if code == "fr" else None
    )
    text_module._resolve_named.cache_clear()
    try:
        text_module.check_splitter("spacy")
        with pytest.raises(MissingDependencyError, match="no spaCy pipeline for language 'de'"):
            text_module.check_splitter("spacy", "de")
        monkeypatch.setattr(text_module, "_spacy_installed", lambda: False)
        with pytest.raises(MissingDependencyError, match="spaCy is not installed"):
            text_module.check_splitter("spacy")
    finally:
        text_module._resolve_named.cache_clear()


@pytest.mark.skipif(not HAS_SPACY, reason="spaCy is not installed (optional: pip install spacy)")
def test_spacy_pipeline_object():
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    splitter = resolve_splitter(nlp)
    assert splitter.name.startswith("spacy:en_")
    words = ["Hello", "there.", "How", "are", "you", "doing", "here?", "Who", "knows."]
    assert word_contexts(words, splitter=nlp) == word_contexts(words, splitter=at_marks)
    # its tokens decide where a word with leading punctuation starts, as in the reference
    assert word_contexts(["(hello)", "'cause", "$5", "x"], splitter=nlp) == [
        "(hello) ",
        "(hello) 'cause",
        "(hello) 'cause $5 ",
        "(hello) 'cause $5 x",
    ]


@pytest.mark.skipif(not HAS_SPACY, reason="spaCy is not installed (optional: pip install spacy)")
def test_spacy_pipeline_without_sentences_is_refused():
    import spacy

    with pytest.raises(InvalidParameterError, match="sentence boundaries"):
        word_contexts(["a", "b"], splitter=spacy.blank("en"))


def test_one_language_normaliser_for_splitters_speech_and_recognition():
    # The sentence splitter accepted "english" while the synthesisers and recognisers did
    # not: one normaliser now serves all of them.
    from berg.stimulus.options import normalize_language
    from berg.stimulus.text.splitters import resolve_splitter as resolve

    assert normalize_language("English") == normalize_language("en-US") == "en"
    assert normalize_language("zh_CN") == normalize_language("chinese") == "zh"
    assert normalize_language(None) is None
    assert resolve("auto", language="English").name == resolve("auto", language="en").name
    for bad in ("english!", "", "e", 3):
        with pytest.raises(InvalidParameterError, match="language must be"):
            normalize_language(bad)
