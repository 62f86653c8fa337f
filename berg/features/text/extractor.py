"""Text features: a causal language model's hidden states of every spoken word, in context.

What the reference computes
---------------------------
Read in ``neuralset==0.0.2`` (``neuralset/extractors/text.py``: ``HuggingFaceText.model``,
``_load_model`` and ``_get_data``; ``neuralset/extractors/base.py``: ``HuggingFaceMixin.
_aggregate_tokens``, ``_layer_subselection`` and ``_aggregate_layers``), for the Llama-3.2-3B
text extractor of TRIBE v2 (docs/inference.md, section 5):

- *Model.* ``AutoModel`` (the bare ``LlamaModel``, no LM head), ``eval()``, called with
  ``output_hidden_states=True``: ``n = num_hidden_layers + 1`` states, the embedding output
  first. No dtype is passed, so transformers 4 loaded float32 and transformers 5 loads the
  checkpoint's bfloat16; we always pass the dtype explicitly (float32 by default).
- *Tokens.* The tokenizer is loaded with ``truncation_side="left"``; each word's context
  string is tokenized with ``add_special_tokens=False`` (no BOS) and ``truncation=True`` with
  no ``max_length``, i.e. cut to ``tokenizer.model_max_length`` keeping the *last* tokens
  (131,072 for Llama 3.2: in practice a 1,025-word context is never cut). The pad token is
  the tokenizer's own or, when it has none (Llama), EOS; padding is on the right.
- *The word's tokens.* ``prefix = context[:-len(word)].rstrip()`` is tokenized the same way
  but *without* truncation; the word's tokens are the last ``max(1, n_ctx - n_prefix)`` tokens
  of the (possibly truncated) context, ``n_ctx`` its token count after removing padding. So a
  truncated context gives ``n_ctx - n_prefix <= 0`` and only its last token is used: a quirk
  that never triggers with Llama 3.2's limit, reproduced here as it is.
- *Averages.* The hidden states of those tokens are averaged per state (the layer
  sub-selection ``cache_n_layers`` first), in the model's dtype, then cast to float32; the
  states are then averaged into layer groups in float32 (`berg.features.layers`).
- *Batches.* Words go in batches (``batch_size``, 4 in TRIBE v2) with right padding and the
  tokenizer's attention mask. Padding counts are taken as the number of pad ids in the row,
  which would also drop a literal EOS token inside a context (never the case for speech).
  A padded batch differs from one unpadded forward per word by float rounding only;
  `TextFeatureExtractor.extract_per_word` is that unpadded forward, the canonical value.

How berg computes the same numbers with fewer forward passes: :mod:`berg.features.text.runs`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from berg.errors import InvalidParameterError, ModelLoadError
from berg.features.budget import batch_beside_model, check_budget
from berg.features.extractor import FeatureExtractor
from berg.features.layers import LayerSelection, group_indices, select_hidden_states
from berg.features.loading import load_pretrained
from berg.features.text.runs import Run, batch_runs, prefix_runs
from berg.features.timed import TimedFeature
from berg.stimulus.text.contexts import DEFAULT_MAX_CONTEXT_WORDS
from berg.stimulus.timeline import TimelineWord
from berg.validation import check_choice, check_int

__all__ = ["TextFeatureExtractor", "METHODS"]

#: ``extract`` strategies: shared forward passes (fast) or one forward per word (canonical).
METHODS = ("shared", "per_word")
_VERSION = 1  # bump when the computation changes, so cached features are recomputed
_NO_LIMIT = 10**12  # transformers' "no limit" model_max_length is int(1e30)
_BLOCK_WORDS = 1024  # words tokenized and grouped at a time by the shared method
_MOST_TOKENS = 1 << 16  # per forward pass when sized by the memory budget


class TextFeatureExtractor(FeatureExtractor):
    """Contextual word features from a causal language model (Llama-3.2-3B for TRIBE v2,
    Qwen3-0.6B for TRIBE v2 mini; any decoder-only model `accepts`).

    Parameters
    ----------
    model_dir : path
        A local transformers model folder (weights, ``config.json`` and tokenizer), e.g. a Hub
        snapshot of ``meta-llama/Llama-3.2-3B``. Loaded on first use.
    device : str or torch.device
        Where the model runs ('cpu', 'cuda', 'cuda:N', 'auto').
    dtype : torch.dtype
        Precision of the model, set explicitly (transformers 5 would otherwise pick the
        checkpoint's bfloat16). Features are float32 in any case.
    layers : LayerSelection
        Which hidden states are averaged into the layer groups.
    max_tokens : int or None
        Keep at most this many context tokens (the last ones); None: the tokenizer's
        ``model_max_length``, as the reference.
    batch_tokens : int or None
        Tokens per forward pass of the shared method (rows x longest row), a memory bound.
        None (default): as many as ``memory_budget`` holds (:mod:`berg.features.budget`), a
        token of Llama-3.2-3B costing ``(n_states + 6) x hidden + 3 x intermediate`` numbers
        (every hidden state is kept by the forward pass, plus one layer's activations):
        252 kB in bfloat16, so ~17,000 tokens in 4 GiB.
    memory_budget : int, optional
        Bytes of activations a forward pass may use; None: automatic (a share of the free GPU
        memory up to 4 GiB, or 512 MiB on the CPU).
    method : {'shared', 'per_word'}
        What `extract` does: shared forward passes, or `extract_per_word`.
    """

    modality = "text"
    model_types = ()  # any decoder-only causal language model: see `accepts`
    expected = (
        "a decoder-only causal language model that transformers' AutoModel loads "
        "(meta-llama/Llama-3.2-3B for TRIBE v2, Qwen/Qwen3-0.6B for TRIBE v2 mini)"
    )
    version = _VERSION
    option_checks = {
        "max_tokens": lambda v: check_int("max_tokens", v, none="the model's limit"),
        "batch_tokens": lambda v: check_int("batch_tokens", v, none="from the memory budget"),
        "memory_budget": check_budget,
        "method": lambda v: check_choice("method", v, METHODS),
    }
    _held = ("_model", "_tokenizer")  # the tokenizer is released with the model

    def __init__(
        self,
        model_dir: str | os.PathLike,
        *,
        device="cpu",
        dtype=None,
        layers: LayerSelection = LayerSelection(),
        max_tokens: int | None = None,
        batch_tokens: int | None = None,
        memory_budget: int | None = None,
        method: str = "shared",
    ):
        super().__init__(
            model_dir,
            device=device,
            dtype=dtype,
            layers=layers,
            max_tokens=max_tokens,
            batch_tokens=batch_tokens,
            memory_budget=memory_budget,
            method=method,
        )
        # last_stats counts words, sequences (runs), forward passes and tokens run (padded
        # and not), and says the tokens per pass.

    # -- loading -----------------------------------------------------------------------------

    @classmethod
    def accepts(cls, config) -> bool:
        """A decoder-only causal language model: its type is one transformers loads as a
        causal LM and not as a masked LM (BERT-like encoders are both), and it is not an
        encoder-decoder. The shared forward passes (:mod:`berg.features.text.runs`) rely on
        each position seeing only the tokens before it; Llama, Qwen3, Mistral or Gemma do."""
        from transformers.models.auto.modeling_auto import (
            MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
            MODEL_FOR_MASKED_LM_MAPPING_NAMES,
        )

        model_type = config.model_type
        return (
            model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
            and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
            and not getattr(config, "is_encoder_decoder", False)
        )

    @property
    def tokenizer(self):
        """The tokenizer, truncating on the left, with a pad token (EOS when it has none)."""
        if self._tokenizer is None:
            self._check_folder()
            from transformers import AutoTokenizer

            try:
                tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            except Exception as error:
                raise ModelLoadError(
                    f"cannot load the tokenizer in {str(self.model_dir)!r} "
                    f"(tokenizer.json / tokenizer_config.json): "
                    f"{error}"
                ) from error
            tokenizer.truncation_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            self._tokenizer = tokenizer
        return self._tokenizer

    def _build_model(self):
        """The base model (no LM head), in eval mode, on the device, in ``dtype``."""
        from transformers import AutoModel

        return load_pretrained(
            AutoModel,
            self.model_dir,
            kind="text",
            dtype=self.dtype,
            device=self.device,
            quiet=not self.show_progress,
        )

    @property
    def max_length(self) -> int | None:
        """Context tokens kept: ``max_tokens``, else the tokenizer's limit (None: no limit)."""
        if self.max_tokens is not None:
            return self.max_tokens
        limit = getattr(self.tokenizer, "model_max_length", None)
        return int(limit) if isinstance(limit, int) and 0 < limit < _NO_LIMIT else None

    def tokens_per_batch(self) -> int:
        """Tokens per forward pass: ``batch_tokens``, or as many as the memory budget holds
        (the model is loaded first)."""
        if self.batch_tokens is not None:
            return self.batch_tokens
        width = self.feature_dim
        inner = int(getattr(self.config, "intermediate_size", 4 * width))
        # Every hidden state is kept by the forward pass, plus one layer's activations: the
        # input, its norm, q, k, v, the attention output, and the MLP's three inner tensors.
        numbers = (self.n_layers + 6) * width + 3 * inner
        return batch_beside_model(self, lambda itemsize: numbers * itemsize, most=_MOST_TOKENS)

    def _fingerprint_details(self) -> dict:
        # Device, method and batch size change the numbers only by float rounding.
        return {"max_tokens": self.max_length}

    # -- a timeline --------------------------------------------------------------------------

    @staticmethod
    def timeline_source(timeline) -> None:
        return None  # the words and their contexts are the whole input

    @staticmethod
    def timeline_events(timeline) -> list:
        return [(w.text, w.start, w.duration, w.context) for w in timeline.words]

    # A piece is as many words as the first context window holds (a word and the 1,024
    # before it): up to there one sequence serves every word, past it no two words share a
    # forward pass, so pieces run the same sequences as one pass (only their batching
    # changes, by float rounding).
    events_per_entry = DEFAULT_MAX_CONTEXT_WORDS + 1

    def extract_timeline(
        self,
        timeline,
        progress: Callable[[int], None] | None = None,
        events: slice = slice(None),
    ) -> list[TimedFeature]:
        """`extract` of the timeline's words (``progress``: words done)."""
        return self.extract(timeline.words[events], progress=progress)

    # -- extraction --------------------------------------------------------------------------

    def extract(
        self, words: Sequence[TimelineWord], progress: Callable[[int], None] | None = None
    ) -> list[TimedFeature]:
        """Features of every word, sharing forward passes between words (``method='shared'``).

        Parameters
        ----------
        words : sequence of TimelineWord
            Each with its (non-empty) context.
        progress : callable, optional
            Called with the number of words just finished.

        Returns
        -------
        list of TimedFeature, one per word in order
            ``data`` float32 ``(L, D)`` (L layer groups, D = `feature_dim`), ``start`` and
            ``duration`` of the word.
        """
        if self.method == "per_word":
            return self.extract_per_word(words, progress)
        words = _check_words(words)
        if not words:
            self.last_stats = {"words": 0, "sequences": 0, "forward_passes": 0, "tokens": 0}
            return []
        data = np.empty(
            (len(words), self.layers.n_groups(self.n_layers), self.feature_dim), dtype=np.float32
        )
        stats = {
            "words": len(words),
            "sequences": 0,
            "forward_passes": 0,
            "tokens": 0,
            "unpadded_tokens": 0,
            "batch_tokens": self.tokens_per_batch(),
        }
        # Blocks of words bound the memory of token lists (a long stimulus has thousands of
        # contexts of ~1,300 tokens); the last run of a block stays open for the next one.
        open_run: Run | None = None
        for lo in range(0, len(words), _BLOCK_WORDS):
            block = words[lo : lo + _BLOCK_WORDS]
            runs = prefix_runs(self._tokenize(block), first_index=lo, open_run=open_run)
            last_block = lo + _BLOCK_WORDS >= len(words)
            open_run = None if last_block else runs.pop()
            stats["sequences"] += len(runs)
            for batch in batch_runs(runs, stats["batch_tokens"]):
                members = [
                    (row, *member) for row, run in enumerate(batch) for member in run.members
                ]
                data[[i for _, i, _, _ in members]] = self._shared_forward(
                    [run.tokens for run in batch], members
                )
                stats["forward_passes"] += 1
                stats["tokens"] += len(batch) * len(batch[0].tokens)  # padding included
                stats["unpadded_tokens"] += sum(len(run.tokens) for run in batch)
                if progress is not None:
                    progress(len(members))
        self.last_stats = stats
        return [
            TimedFeature(start=float(w.start), duration=float(w.duration), data=data[i])
            for i, w in enumerate(words)
        ]

    def extract_per_word(
        self, words: Sequence[TimelineWord], progress: Callable[[int], None] | None = None
    ) -> list[TimedFeature]:
        """Features of every word, one unpadded forward pass each: the reference's value.

        Same parameters and result as `extract`; slower, and the yardstick for it.
        """
        import torch

        words = _check_words(words)
        if not words:
            self.last_stats = {"words": 0, "sequences": 0, "forward_passes": 0, "tokens": 0}
            return []
        tokenizer, model = self.tokenizer, self.model
        limit = self.max_length
        out, n_tokens = [], 0
        for word in words:
            ids = tokenizer(
                word.context,
                add_special_tokens=False,
                truncation=limit is not None,
                max_length=limit,
                verbose=False,
            )["input_ids"]
            if not ids:
                raise InvalidParameterError(
                    f"the context of word {word.text!r} gives no tokens: {word.context!r}"
                )
            prefix = word.context[: -len(word.text)].rstrip()
            n_prefix = (
                len(tokenizer(prefix, add_special_tokens=False, verbose=False)["input_ids"])
                if prefix
                else 0
            )
            k = max(1, len(ids) - n_prefix)
            with torch.inference_mode():
                states = model(
                    input_ids=torch.tensor([ids], device=self.device),
                    output_hidden_states=True,
                    use_cache=False,
                ).hidden_states
                per_state = [state[0, -k:].mean(dim=0).float() for state in states]
                feature = select_hidden_states(per_state, self.layers)
            out.append(
                TimedFeature(
                    start=float(word.start),
                    duration=float(word.duration),
                    data=feature.cpu().numpy(),
                )
            )
            n_tokens += len(ids)
            if progress is not None:
                progress(1)
        self.last_stats = {
            "words": len(words),
            "sequences": len(words),
            "forward_passes": len(words),
            "tokens": n_tokens,
        }
        return out

    # -- the shared method -------------------------------------------------------------------

    def _tokenize(self, words: list[TimelineWord]) -> list[tuple[list[int], int]]:
        """Each word's model input (its context's tokens, cut on the left) and the number of
        its own tokens at the end of it."""
        tokenizer = self.tokenizer
        contexts = [w.context for w in words]
        full = tokenizer(contexts, add_special_tokens=False, verbose=False)["input_ids"]
        limit = self.max_length
        sequences = [
            ids[-limit:] if limit is not None and len(ids) > limit else ids for ids in full
        ]
        for word, ids in zip(words, sequences):
            if not ids:
                raise InvalidParameterError(
                    f"the context of word {word.text!r} gives no tokens: {word.context!r}"
                )
        # A prefix is most often the previous word's context: reuse its (untruncated) count.
        known = {context: len(ids) for context, ids in zip(contexts, full)}
        prefixes = [w.context[: -len(w.text)].rstrip() for w in words]
        missing = sorted({p for p in prefixes if p and p not in known})
        if missing:
            counted = tokenizer(missing, add_special_tokens=False, verbose=False)["input_ids"]
            known.update((p, len(ids)) for p, ids in zip(missing, counted))
        return [
            (ids, max(1, len(ids) - (known[p] if p else 0))) for ids, p in zip(sequences, prefixes)
        ]

    def _shared_forward(
        self, rows: list[list[int]], members: list[tuple[int, int, int, int]]
    ) -> np.ndarray:
        """One forward pass of right-padded rows; features ``(len(members), L, D)`` of the
        words ``(row, word index, n tokens, n word tokens)`` read from it."""
        import torch

        width = len(rows[0])  # rows come longest first
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        for r, tokens in enumerate(rows):
            ids[r, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        positions = torch.arange(width).expand(len(rows), width)
        n_states = self.n_layers
        needed = sorted({i for group in group_indices(n_states, self.layers) for i in group})
        with torch.inference_mode():
            states = self.model(
                input_ids=ids.to(self.device),
                position_ids=positions.to(self.device),
                output_hidden_states=True,
                use_cache=False,
            ).hidden_states
            # Words with the same token count are averaged together: positions (n_words, k)
            # into the flattened (rows * width) axis.
            by_k: dict[int, list[int]] = {}
            for m, (_, _, _, k) in enumerate(members):
                by_k.setdefault(k, []).append(m)
            order = [m for k in sorted(by_k) for m in by_k[k]]
            index = {
                k: torch.tensor(
                    [
                        [row * width + n - k + j for j in range(k)]
                        for row, _, n, _ in (members[m] for m in by_k[k])
                    ],
                    device=self.device,
                )
                for k in sorted(by_k)
            }
            per_state: list[Any] = [None] * n_states
            for s in needed:
                flat = states[s].reshape(-1, states[s].shape[-1])
                per_state[s] = torch.cat([flat[index[k]].mean(dim=1).float() for k in sorted(by_k)])
            grouped = select_hidden_states(per_state, self.layers)  # (L, n_words, D)
        features = np.empty((len(members), grouped.shape[0], grouped.shape[2]), np.float32)
        features[order] = grouped.transpose(0, 1).cpu().numpy()
        return features


def _check_words(words: object) -> list[TimelineWord]:
    if isinstance(words, (str, bytes)) or not isinstance(words, Sequence):
        raise InvalidParameterError(
            f"words must be a sequence of TimelineWord, got {type(words).__name__}"
        )
    words = list(words)
    for i, word in enumerate(words):
        if not isinstance(word, TimelineWord):
            raise InvalidParameterError(
                f"words[{i}] must be a TimelineWord, got {type(word).__name__} {word!r:.80}"
            )
        if not isinstance(word.context, str) or not word.context:
            raise InvalidParameterError(
                f"words[{i}] {word.text!r} has an empty context; the text model reads every "
                "word in its context (the timeline drops words without one)"
            )
    return words
