"""Sharing forward passes between words: the runs of token sequences one forward serves.

A causal language model's hidden state at position ``j`` depends only on tokens ``0..j``. In a
transcript the context of a word is usually the previous context plus the new word, so the
token sequences of many words are prefixes of one longer sequence: one forward of the longest
gives the states of all of them, each word read at its own positions ``[n_i - k_i, n_i)``.
`TextFeatureExtractor.extract` (``method="shared"``) groups the words into such *runs*, and
checks every word's real token sequence rather than trusting the strings, because

- BPE tokenization is not prefix-stable: appending text can change the last tokens (Llama's
  pre-tokenizer puts a question's ``"?"`` and the sentence joint's ``"."`` in one piece,
  which BPE may encode as one ``"?."`` token; a context ending in a space sees it join the
  next word), so a word whose tokens are not a prefix of the run starts a new run;
- once a context reaches the 1,024-word window (or the token limit), the next context drops
  words at the front: it shares no prefix and starts its own run. Past the window every word
  therefore needs its own forward pass; only batching helps there.

Words are tokenized and grouped in blocks of 1,024 (the token lists of an hour of speech would
take hundreds of MB), the last run of a block continuing into the next one. Runs are batched
(longest first, up to ``batch_tokens`` tokens, padded on the right, no run shorter than 90%
of its batch's longest, so that padding is at most a tenth of the work). No attention mask is
passed: with causal attention a real token never sees the padding after it, and position ids
are ``0..T-1`` for every row, so each row computes what its unpadded forward would, up to
float rounding (within 1e-5 in float32, checked by the tests).
"""

from __future__ import annotations

__all__ = ["MIN_FILL", "Run", "batch_runs", "prefix_runs"]


class Run:
    """Words whose token sequences are all prefixes of ``tokens`` (the longest of them);
    ``members`` holds (word index, its token count, its own token count)."""

    __slots__ = ("tokens", "members")

    def __init__(self, tokens: list[int], member: tuple[int, int, int]):
        self.tokens = tokens
        self.members = [member]


def prefix_runs(
    items: list[tuple[list[int], int]], first_index: int = 0, open_run: Run | None = None
) -> list[Run]:
    """Group consecutive words ``(tokens, own token count)`` into runs that one forward pass
    serves, continuing ``open_run`` if given; word indices start at ``first_index``.

    A word joins the current run when its tokens extend the run's (the run grows) or are a
    prefix of them; otherwise (a merge across the boundary, a sliding window) it starts a
    new run. The comparison is on the token ids the model will see.
    """
    runs = [open_run] if open_run is not None else []
    for i, (tokens, k) in enumerate(items, first_index):
        member = (i, len(tokens), k)
        if runs:
            run = runs[-1]
            n, m = len(tokens), len(run.tokens)
            if n >= m and tokens[:m] == run.tokens:
                run.tokens = tokens
                run.members.append(member)
                continue
            if n < m and run.tokens[:n] == tokens:
                run.members.append(member)
                continue
        runs.append(Run(tokens, member))
    return runs


#: A run joins a batch only if it is at least this share of the batch's longest: at most a
#: tenth of a batch's tokens are padding (computed, then thrown away).
MIN_FILL = 0.9


def batch_runs(runs: list[Run], batch_tokens: int) -> list[list[Run]]:
    """Runs in batches of at most ``batch_tokens`` padded tokens, longest first (a run longer
    than that goes alone), each run at least `MIN_FILL` of its batch's longest.

    Past the context window the runs are single words of about the same length, and the
    batches are as large as the budget allows; inside it, runs of very different lengths
    go to different batches rather than being padded to the longest.
    """
    batches: list[list[Run]] = []
    for run in sorted(runs, key=lambda r: len(r.tokens), reverse=True):
        if batches:
            batch, width = batches[-1], len(batches[-1][0].tokens)
            if (len(batch) + 1) * width <= batch_tokens and len(run.tokens) >= MIN_FILL * width:
                batch.append(run)
                continue
        batches.append([run])
    return batches
