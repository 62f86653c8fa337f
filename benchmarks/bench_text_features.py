"""Text features: one forward pass per word (the reference) vs shared forward passes.

A random Llama (hidden 256, 4 layers; ``--quick``: hidden 64, 2 layers) with a byte-level BPE
tokenizer trained here reads a generated transcript of ``--words`` words (1500; ``--quick``:
300) whose contexts are built as the reference does (``word_contexts``, a 1,024-word window:
past it, every context starts elsewhere and needs its own forward). Both methods run in the
same process on the same model; the script prints seconds, words per second, forward passes,
the ratio per-word / shared and the largest difference of the features.

Usage::

    python benchmarks/bench_text_features.py                 # ~3 min on 2 idle CPU cores
    python benchmarks/bench_text_features.py --quick --json out.json   # seconds
    python benchmarks/bench_text_features.py --words 600     # inside the window only

A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

VOCABULARY = (
    "the a an and but or so because when where why who what how I you we they she he it "
    "this that there here now then today tonight always never often really maybe just very "
    "go went going come came see saw look looked know knew think thought say said tell told "
    "want need like love make made take took give gave walk walked talk talked wait waited "
    "house home river town road train dog cat moon light night morning mother father friend "
    "people time year day way thing world life hand eye place work school water story money "
    "old new long short bright dark good bad big small late early happy sad quiet loud"
).split()
BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"


def make_transcript(n_words: int, seed: int = 0) -> list[str]:
    """Spoken-like words with punctuation attached: sentences of 4-14 words, some questions,
    commas, exclamations, a parenthesis now and then."""
    rng = random.Random(seed)
    words: list[str] = []
    while len(words) < n_words:
        sentence = [rng.choice(VOCABULARY) for _ in range(rng.randint(4, 14))]
        if rng.random() < 0.2:
            i = rng.randrange(1, len(sentence))
            sentence[i] += ","
        if rng.random() < 0.05:
            i = rng.randrange(len(sentence))
            sentence[i] = f"({sentence[i]})"
        sentence[0] = sentence[0].capitalize()
        sentence[-1] += rng.choices([".", "?", "!"], weights=[6, 3, 1])[0]
        words.extend(sentence)
    return words[:n_words]


def build_model(folder: Path, hidden: int, n_layers: int, text: str) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaModel, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(
        [text],
        trainers.BpeTrainer(
            vocab_size=600,
            special_tokens=[BOS, EOS],
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, model_max_length=131072
    )
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=n_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
    )
    LlamaModel(config).save_pretrained(folder)
    fast.save_pretrained(folder)


def run(quick: bool = False, n_words: int | None = None) -> dict:
    """Time both methods; returns the settings, one row per method and the ratio."""
    import numpy as np
    import torch

    from berg.features.text import TextFeatureExtractor
    from berg.stimulus.text import recased_text, word_contexts
    from berg.stimulus.timeline import TimelineWord

    hidden, n_layers = (64, 2) if quick else (256, 4)
    n_words = n_words or (300 if quick else 1500)
    texts = make_transcript(n_words)
    contexts = word_contexts(texts, splitter="rules")  # the reference's 1,024-word window
    words = [TimelineWord(w, 0.4 * i, 0.3, c) for i, (w, c) in enumerate(zip(texts, contexts)) if c]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        build_model(Path(tmp), hidden, n_layers, recased_text(texts, splitter="rules"))
        extractor = TextFeatureExtractor(tmp)
        extractor.extract(words[:5])  # load the model and warm up outside the timings
        results = {}
        for name, method in (
            ("per_word", extractor.extract_per_word),
            ("shared", extractor.extract),
        ):
            start = time.perf_counter()
            results[name] = method(words)
            seconds = time.perf_counter() - start
            stats = extractor.last_stats
            rows.append(
                {
                    "method": name,
                    "seconds": seconds,
                    "words_per_s": len(words) / seconds,
                    "sequences": stats["sequences"],
                    "forward_passes": stats["forward_passes"],
                    "tokens": stats["tokens"],
                }
            )
        extractor.close()
    diff = max(
        float(np.abs(a.data - b.data).max()) for a, b in zip(results["per_word"], results["shared"])
    )
    return {
        "settings": {
            "hidden": hidden,
            "layers": n_layers,
            "words": len(words),
            "context_window_words": 1024,
            "device": "cpu",
            "threads": torch.get_num_threads(),
        },
        "rows": rows,
        "ratio_per_word_over_shared": rows[0]["seconds"] / rows[1]["seconds"],
        "max_abs_diff": diff,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small model, 300 words")
    parser.add_argument("--words", type=int, help="transcript length in words")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    result = run(args.quick, args.words)
    settings = result["settings"]
    print(
        f"random Llama hidden {settings['hidden']}, {settings['layers']} layers, "
        f"{settings['words']} words, window {settings['context_window_words']} words, "
        f"{settings['threads']} CPU threads"
    )
    print(
        f"{'method':<10}{'seconds':>10}{'words/s':>10}{'sequences':>11}{'forwards':>10}"
        f"{'tokens':>11}"
    )
    for row in result["rows"]:
        print(
            f"{row['method']:<10}{row['seconds']:>10.2f}{row['words_per_s']:>10.1f}"
            f"{row['sequences']:>11}{row['forward_passes']:>10}{row['tokens']:>11}"
        )
    print(
        f"per-word / shared: {result['ratio_per_word_over_shared']:.1f}x; "
        f"max |difference| {result['max_abs_diff']:.2e}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
