"""Text features (Llama): the reference's per-word value, and the shared fast path equal to it.

A tiny random Llama and a small byte-level BPE tokenizer trained here are saved with
``save_pretrained`` and loaded through the production path.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import berg.features.text.extractor as text_module
from berg.errors import InvalidParameterError, ModelLoadError
from berg.features.layers import LayerSelection
from berg.features.text import TextFeatureExtractor
from berg.features.text.runs import MIN_FILL, Run, batch_runs, prefix_runs
from berg.stimulus.text import word_contexts
from berg.stimulus.timeline import TimelineWord

BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"

STORY = (
    "Where are you going tonight? I am going home. Why? Because the train leaves at nine, "
    "and I want to sleep! Say (hello) to your mother for me. She said it was fine; we "
    "walked along the river, past the old mill, and nobody spoke for a while. Really? Yes. "
    "The dog barked at the moon. Who knows what it saw? Nobody does. It's late, isn't it? "
    "Maybe we should go back now. The lights of the town were bright and the road was long."
)


def make_words(n_words: int) -> list[str]:
    base = STORY.split()
    return [base[i % len(base)] for i in range(n_words)]


def timeline_words(words: list[str], max_words: int | None = 1024) -> list[TimelineWord]:
    contexts = word_contexts(words, max_words=max_words, splitter="rules")
    return [
        TimelineWord(text=w, start=0.35 * i, duration=0.3, context=c)
        for i, (w, c) in enumerate(zip(words, contexts))
        if c
    ]


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    # Train on the texts the contexts are cut from, so merges such as "?." (the sentence
    # joint after a question) exist: they make the tokenization not prefix-stable.
    corpus = [STORY, word_contexts(make_words(120), splitter="rules")[-1], "?. " * 40] * 20
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=330,
            special_tokens=[BOS, EOS],
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    # Like Llama's: a BOS when special tokens are added (the extractor must not add them).
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", special_tokens=[(BOS, tokenizer.token_to_id(BOS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, model_max_length=4096
    )


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from transformers import LlamaConfig, LlamaModel

    folder = tmp_path_factory.mktemp("tiny_llama")
    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = LlamaModel(config)
    # Saved in bfloat16, as the real checkpoint: loading must still give float32.
    model.to(torch.bfloat16).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def extractor(model_dir):
    return TextFeatureExtractor(model_dir)


def by_hand(model_dir, word: TimelineWord, hidden_groups):
    """The reference's computation for one word, written out with transformers directly."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    ids = tokenizer(word.context, add_special_tokens=False)["input_ids"]
    prefix = word.context[: -len(word.text)].rstrip()
    n_prefix = len(tokenizer(prefix, add_special_tokens=False)["input_ids"]) if prefix else 0
    k = max(1, len(ids) - n_prefix)
    with torch.no_grad():
        states = model(torch.tensor([ids]), output_hidden_states=True).hidden_states
    token_means = [s[0, -k:].mean(0) for s in states]
    feature = torch.stack([torch.stack([token_means[i] for i in g]).mean(0) for g in hidden_groups])
    return feature.numpy(), k


def max_diff(a, b) -> float:
    return max(float(np.abs(x.data - y.data).max()) for x, y in zip(a, b))


def test_shapes_dtype_and_times(extractor):
    words = timeline_words(make_words(30))
    features = extractor.extract(words)
    assert extractor.n_layers == 5 and extractor.feature_dim == 32
    assert len(features) == len(words)
    for word, feature in zip(words, features):
        assert feature.is_static and feature.data.shape == (2, 32)
        assert feature.data.dtype == np.float32 and np.isfinite(feature.data).all()
        assert (feature.start, feature.duration) == (word.start, word.duration)


def test_matches_the_reference_computed_by_hand(model_dir, extractor):
    words = timeline_words(make_words(100))
    # A word of several tokens late in the transcript, after a question's "?." joint.
    index = next(i for i, w in enumerate(words) if w.text == "Because" and i > 80)
    # 5 hidden states, fractions [0.5, 0.75, 1.0] -> indices 2, 3, 4 -> groups [h2], [h3, h4]
    expected, k = by_hand(model_dir, words[index], [[2], [3, 4]])
    assert k > 1
    for method in ("extract", "extract_per_word"):
        got = getattr(extractor, method)(words)[index].data
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    # Word tokens are a real span: a different k would give different numbers.
    with torch.no_grad():
        other, _ = by_hand(
            model_dir, TimelineWord("Because", 0, 1, words[index].context + " x"), [[2], [3, 4]]
        )
    assert not np.allclose(other, expected, atol=1e-4)


def test_context_tokenization_is_not_always_prefix_stable(extractor):
    """The transcript must exercise the case the fast path has to detect."""
    words = timeline_words(make_words(120), max_words=None)
    tokenize = extractor.tokenizer
    unstable = [
        b.text
        for a, b in zip(words, words[1:])
        if b.context.startswith(a.context)
        and tokenize(b.context, add_special_tokens=False)["input_ids"][
            : len(prev := tokenize(a.context, add_special_tokens=False)["input_ids"])
        ]
        != prev
    ]
    assert len(unstable) >= 3
    extractor.extract(words)
    assert extractor.last_stats["sequences"] > 1


@pytest.mark.parametrize(
    "max_words, max_tokens, batch_tokens",
    [
        (None, None, 8192),  # one transcript, contexts growing: few shared runs
        (1024, None, 1),  # each run alone in its forward pass
        (8, None, 8192),  # the word window slides: contexts lose words at the front
        (8, None, 64),  # ... with several batches
        (None, 12, 8192),  # the token limit truncates on the left
        (6, 20, 100),  # both
    ],
)
def test_shared_equals_per_word(model_dir, max_words, max_tokens, batch_tokens):
    words = timeline_words(make_words(140), max_words=max_words)
    extractor = TextFeatureExtractor(model_dir, max_tokens=max_tokens, batch_tokens=batch_tokens)
    fast = extractor.extract(words)
    stats = dict(extractor.last_stats)
    reference = extractor.extract_per_word(words)
    assert max_diff(fast, reference) < 1e-5
    assert [(f.start, f.duration) for f in fast] == [(f.start, f.duration) for f in reference]
    assert stats["words"] == len(words) and stats["sequences"] <= len(words)
    if max_words == 8:  # past the window every context starts elsewhere
        assert stats["sequences"] > len(words) - 20


def test_truncated_context_uses_its_last_token(model_dir):
    """The reference counts the prefix untruncated, so a cut context keeps one token."""
    extractor = TextFeatureExtractor(model_dir, max_tokens=12)
    word = timeline_words(make_words(40))[-1]
    full = TextFeatureExtractor(model_dir).tokenizer(word.context, add_special_tokens=False)[
        "input_ids"
    ]
    assert len(full) > 12
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        states = model(torch.tensor([full[-12:]]), output_hidden_states=True).hidden_states
    expected = torch.stack([states[2][0, -1], (states[3][0, -1] + states[4][0, -1]) / 2])
    for got in (extractor.extract([word])[0], extractor.extract_per_word([word])[0]):
        np.testing.assert_allclose(got.data, expected.numpy(), atol=1e-5)


def test_forward_passes_are_shared(model_dir):
    words = timeline_words(make_words(300), max_words=None)
    extractor = TextFeatureExtractor(model_dir)
    calls = []
    hook = extractor.model.register_forward_hook(lambda *args: calls.append(1))
    try:
        fast = extractor.extract(words)
        assert len(calls) == extractor.last_stats["forward_passes"]
        assert len(calls) <= len(words) / 3
        calls.clear()
        slow = extractor.extract_per_word(words[-40:])
        assert len(calls) == 40
    finally:
        hook.remove()
    assert max_diff(fast[-40:], slow) < 1e-5


def test_layer_selections(model_dir):
    words = timeline_words(make_words(25))
    for selection, n_groups in [
        (LayerSelection(), 2),
        (LayerSelection((0.0, 0.5, 1.0), None), 3),
        (LayerSelection((0.5, 1.0), "mean"), 1),
        (LayerSelection(cache_n_layers=3), 1),
    ]:
        extractor = TextFeatureExtractor(model_dir, layers=selection)
        fast = extractor.extract(words)
        assert fast[0].data.shape == (n_groups, 32)
        assert max_diff(fast, extractor.extract_per_word(words)) < 1e-5


def test_dtype_is_explicit(model_dir, extractor):
    import json

    saved = json.loads((model_dir / "config.json").read_text())
    assert saved.get("dtype", saved.get("torch_dtype")) == "bfloat16"
    assert extractor.model.dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in extractor.model.parameters())
    half = TextFeatureExtractor(model_dir, dtype=torch.bfloat16)
    words = timeline_words(make_words(20))
    features = half.extract(words)
    assert half.model.dtype == torch.bfloat16
    assert features[0].data.dtype == np.float32
    assert max_diff(features, extractor.extract(words)) < 0.1


def test_progress_counts_every_word(extractor):
    words = timeline_words(make_words(50))
    for method in (extractor.extract, extractor.extract_per_word):
        steps = []
        method(words, progress=steps.append)
        assert sum(steps) == len(words) and all(s > 0 for s in steps)


def test_empty_and_invalid_inputs(model_dir, extractor):
    assert extractor.extract([]) == [] and extractor.extract_per_word([]) == []
    with pytest.raises(InvalidParameterError, match="empty context"):
        extractor.extract([TimelineWord("hi", 0.0, 0.2, "")])
    with pytest.raises(InvalidParameterError, match="TimelineWord"):
        extractor.extract(["hello"])
    with pytest.raises(InvalidParameterError, match="method"):
        TextFeatureExtractor(model_dir, method="fast")
    with pytest.raises(InvalidParameterError, match="max_tokens"):
        TextFeatureExtractor(model_dir, max_tokens=0)
    with pytest.raises(InvalidParameterError, match="dtype"):
        TextFeatureExtractor(model_dir, dtype=torch.int8)


def test_missing_or_incomplete_model_folder(tmp_path, model_dir):
    word = TimelineWord("hi", 0.0, 0.2, "Hi")
    missing = TextFeatureExtractor(tmp_path / "nope")  # lazy: nothing loaded yet
    with pytest.raises(ModelLoadError, match="does not exist"):
        missing.extract([word])
    with pytest.raises(ModelLoadError, match="does not exist"):
        missing.fingerprint()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="config.json"):
        TextFeatureExtractor(empty).extract([word])
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text((model_dir / "config.json").read_text())
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (no_weights / name).write_text((model_dir / name).read_text())
    with pytest.raises(ModelLoadError, match="cannot load the text model"):
        TextFeatureExtractor(no_weights).extract([word])


def test_fingerprint(model_dir, extractor):
    base = extractor.fingerprint()
    assert base == TextFeatureExtractor(model_dir, method="per_word", batch_tokens=10).fingerprint()
    assert base["max_tokens"] == 4096  # the tokenizer's model_max_length
    assert base["dtype"] == "float32"
    for changed in (
        dict(dtype=torch.bfloat16),
        dict(max_tokens=100),
        dict(layers=LayerSelection(cache_n_layers=3)),
    ):
        assert TextFeatureExtractor(model_dir, **changed).fingerprint() != base


def test_close_releases_and_reloads(model_dir):
    extractor = TextFeatureExtractor(model_dir)
    words = timeline_words(make_words(10))
    first = extractor.extract(words)
    extractor.close()
    assert extractor._model is None
    assert max_diff(first, extractor.extract(words)) == 0.0


def testprefix_runs():
    items = [
        ([1], 1),
        ([1, 2], 1),
        ([1, 2, 3], 1),
        ([1, 2, 4], 2),
        ([1, 2], 1),
        ([5], 1),
        ([5, 6], 1),
    ]
    runs = prefix_runs(items)
    assert [(r.tokens, [m[0] for m in r.members]) for r in runs] == [
        ([1, 2, 3], [0, 1, 2]),
        ([1, 2, 4], [3, 4]),
        ([5, 6], [5, 6]),
    ]
    assert runs[1].members == [(3, 3, 2), (4, 2, 1)]  # (index, n tokens, own tokens)
    # Continued over blocks: the open run goes on, indices count on.
    first = prefix_runs(items[:4])
    rest = prefix_runs(items[4:], first_index=4, open_run=first.pop())
    assert [(r.tokens, r.members) for r in first + rest] == [(r.tokens, r.members) for r in runs]


def test_blocks_of_words_share_runs_across_boundaries(model_dir, monkeypatch):
    words = timeline_words(make_words(120), max_words=30)
    extractor = TextFeatureExtractor(model_dir)
    whole = extractor.extract(words)
    stats = dict(extractor.last_stats)
    monkeypatch.setattr(text_module, "_BLOCK_WORDS", 7)
    blocked = extractor.extract(words)
    assert extractor.last_stats["sequences"] == stats["sequences"]
    assert extractor.last_stats["forward_passes"] > stats["forward_passes"]
    assert max_diff(blocked, whole) < 1e-5
    assert max_diff(blocked, extractor.extract_per_word(words)) < 1e-5


def test_pieces_of_1025_words_give_the_numbers_of_one_pass(model_dir):
    # The feature cache keeps a long stimulus's words a piece of 1,025 at a time (berg.
    # features.pipeline): the first 1,025 contexts (a word and up to 1,024 before it) are
    # prefixes of one sequence, and past them no two words share a forward pass, so the
    # pieces run the same sequences; only their batching differs, by float rounding.
    from types import SimpleNamespace

    words = timeline_words(make_words(1100))
    assert len(words) > TextFeatureExtractor.events_per_entry == 1025
    timeline = SimpleNamespace(words=tuple(words))
    extractor = TextFeatureExtractor(model_dir)
    whole = extractor.extract_timeline(timeline)
    whole_stats = dict(extractor.last_stats)
    pieces, stats = [], []
    for piece in (slice(0, 1025), slice(1025, None)):
        pieces += extractor.extract_timeline(timeline, events=piece)
        stats.append(dict(extractor.last_stats))
    assert len(pieces) == len(whole) == len(words)
    assert [(a.start, a.duration) for a in pieces] == [(b.start, b.duration) for b in whole]
    assert max_diff(pieces, whole) < 1e-5
    for name in ("words", "sequences"):
        assert sum(s[name] for s in stats) == whole_stats[name], name
    # Past the window every word is its own sequence; rows are sorted by length, so a
    # batch pads little.
    assert stats[1]["sequences"] == len(words) - 1025
    for run in (whole_stats, *stats):
        assert run["tokens"] >= run["unpadded_tokens"] >= MIN_FILL * run["tokens"]


def test_batches_pad_little_and_keep_to_the_budget():
    runs = [Run(list(range(n)), (i, n, 1)) for i, n in enumerate([48, 100, 10, 95, 50, 91])]

    def lengths(batches):
        return [[len(r.tokens) for r in batch] for batch in batches]

    # Sorted longest first; a run under 90% of its batch's longest starts a batch.
    assert lengths(batch_runs(runs, 10_000)) == [[100, 95, 91], [50, 48], [10]]
    # The budget counts padded tokens: rows x the longest.
    assert lengths(batch_runs(runs, 200)) == [[100, 95], [91], [50, 48], [10]]
    assert lengths(batch_runs(runs, 60)) == [[100], [95], [91], [50], [48], [10]]
