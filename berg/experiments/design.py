"""The design of an in silico experiment: which item is shown when, in which run.

Two designs, as data, checked once:

- :class:`EventDesign` (event-related): every item (times ``repetitions``) in one random
  order (a seeded generator), each followed by an inter-stimulus interval drawn uniformly
  from ``isi``; a blank ``baseline`` opens and closes every run; a run ends before it would
  pass ``max_run_seconds``.
- :class:`BlockDesign`: blocks of ``items_per_block`` items of one condition, shown back to
  back with ``item_gap`` between them, conditions in a random order per cycle, ``rest``
  blank seconds between blocks.

:func:`plan_runs` turns items (with their durations) into runs of :class:`Event` rows
(condition, item, onset, duration): the event table every analysis and report uses. The
clock is the stimulus clock of each run, from 0 s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from berg.errors import InvalidParameterError
from berg.validation import check_int, is_number

__all__ = ["BlockDesign", "Event", "EventDesign", "Item", "Run", "plan_runs"]


@dataclass(frozen=True)
class Item:
    """One stimulus of a condition.

    Attributes
    ----------
    condition : str
        Its condition's name.
    name : str
        What the event table calls it (the file's name, or the built-in's label).
    source : Path
        The file (an image, a video, a sound, or the synthesised speech of a text).
    duration : float
        Seconds it lasts in a run (an image: the design's ``item_duration``).
    kind : {'image', 'video', 'audio'}
        What ``source`` is (a text's speech: 'audio').
    has_audio : bool
        Whether it has sound (a sound, a spoken text, a video with a sound track).
    """

    condition: str
    name: str
    source: Path
    duration: float
    kind: str = "image"
    has_audio: bool = False


@dataclass(frozen=True)
class Event:
    """One row of the event table: ``item`` of ``condition`` from ``onset`` for ``duration``
    seconds of run ``run``."""

    run: int
    condition: str
    item: str
    onset: float
    duration: float


@dataclass(frozen=True)
class Run:
    """One run: its events in time order and its length (s)."""

    index: int
    events: tuple[Event, ...]
    duration: float
    items: tuple[Item, ...] = field(repr=False, default=())


def _seconds(name: str, value: object, *, minimum: float = 0.0, strict: bool = False) -> float:
    if not is_number(value) or value < minimum or (strict and value == minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise InvalidParameterError(f"{name} must be seconds {bound}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class EventDesign:
    """An event-related design (the paper's localisers: 1 s images, long jittered gaps).

    Attributes
    ----------
    item_duration : float
        Seconds each image is shown (sounds and texts last as long as they do).
    isi : (float, float)
        Blank seconds after each item, drawn uniformly from this range and rounded to
        0.1 s (a visual run's frame period; equal bounds: fixed).
    baseline : float
        Blank seconds at the start and the end of every run.
    max_run_seconds : float
        A run ends before it would pass this.
    repetitions : int
        How often each item is shown.
    seed : int
        Of the random order and the jitter: the same seed, the same design.
    """

    item_duration: float = 1.0
    isi: tuple[float, float] = (4.0, 6.0)
    baseline: float = 10.0
    max_run_seconds: float = 300.0
    repetitions: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        _seconds("item_duration", self.item_duration, strict=True)
        if not (isinstance(self.isi, (tuple, list)) and len(self.isi) == 2):
            raise InvalidParameterError(
                f"isi must be (shortest, longest) seconds, got {self.isi!r}"
            )
        low, high = (_seconds("isi", v) for v in self.isi)
        if low > high:
            raise InvalidParameterError(f"isi must be (shortest, longest), got {self.isi!r}")
        object.__setattr__(self, "isi", (low, high))
        _seconds("baseline", self.baseline)
        _seconds("max_run_seconds", self.max_run_seconds, strict=True)
        check_int("repetitions", self.repetitions, minimum=1)
        check_int("seed", self.seed, minimum=0)


@dataclass(frozen=True)
class BlockDesign:
    """A block design.

    Attributes
    ----------
    items_per_block : int
        Items of one condition per block (a condition's items are used in a random order,
        cycling when a condition has fewer).
    item_duration : float
        Seconds each image is shown.
    item_gap : float
        Blank seconds between the items of a block.
    rest : float
        Blank seconds between blocks.
    blocks_per_condition : int
        Blocks of each condition in the whole experiment.
    baseline, max_run_seconds, seed
        As for :class:`EventDesign`.
    """

    items_per_block: int = 8
    item_duration: float = 1.0
    item_gap: float = 0.0
    rest: float = 12.0
    blocks_per_condition: int = 2
    baseline: float = 10.0
    max_run_seconds: float = 300.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("items_per_block", self.items_per_block, minimum=1)
        _seconds("item_duration", self.item_duration, strict=True)
        _seconds("item_gap", self.item_gap)
        _seconds("rest", self.rest)
        check_int("blocks_per_condition", self.blocks_per_condition, minimum=1)
        _seconds("baseline", self.baseline)
        _seconds("max_run_seconds", self.max_run_seconds, strict=True)
        check_int("seed", self.seed, minimum=0)


def plan_runs(
    items: Sequence[Item], design: EventDesign | BlockDesign, *, grid: float | None = None
) -> list[Run]:
    """Place ``items`` in time: the runs of the experiment.

    Parameters
    ----------
    items : sequence of Item
        Every item of every condition, in any order (the design decides the order).
    design : EventDesign or BlockDesign
    grid : float, optional
        Seconds: every onset is moved later to the next multiple of it (a run video's frame
        period, so that each item starts on a frame); None: onsets as the design puts them.

    Returns
    -------
    list of Run
        At least one; every event inside its run's ``[baseline, duration - baseline]``.

    Raises
    ------
    InvalidParameterError
        No items, or an item (a block) that does not fit in one run.
    """
    if not items:
        raise InvalidParameterError("an experiment needs at least one item")
    rng = np.random.default_rng(design.seed)
    if isinstance(design, EventDesign):
        order = [items[i] for i in rng.permutation(len(items) * design.repetitions) % len(items)]
        groups = [[item] for item in order]
        # In steps of 0.1 s, the frame period of a visual run's video: onsets stay on frames.
        gaps = lambda: round(float(rng.uniform(*design.isi)), 1)  # noqa: E731 - in order
        inner_gap = 0.0
    elif isinstance(design, BlockDesign):
        groups = _blocks(items, design, rng)
        gaps = lambda: design.rest  # noqa: E731
        inner_gap = design.item_gap
    else:
        raise InvalidParameterError(
            f"design must be an EventDesign or a BlockDesign, got {type(design).__name__}"
        )

    def on_grid(t: float) -> float:
        return t if grid is None else math.ceil(round(t / grid, 6)) * grid

    runs: list[list[tuple[Item, float]]] = [[]]
    clock = on_grid(design.baseline)
    for group in groups:
        clock = on_grid(clock)
        length = sum(i.duration for i in group) + inner_gap * (len(group) - 1)
        if design.baseline + length + design.baseline > design.max_run_seconds:
            raise InvalidParameterError(
                f"{group[0].name} ({'a block of ' if len(group) > 1 else ''}{length:g} s) "
                f"does not fit in a run of max_run_seconds={design.max_run_seconds:g} with "
                f"{design.baseline:g} s of baseline on each side"
            )
        if runs[-1] and clock + length + design.baseline > design.max_run_seconds:
            runs.append([])
            clock = on_grid(design.baseline)
        for position, item in enumerate(group):
            runs[-1].append((item, clock))
            clock += item.duration + (inner_gap if position < len(group) - 1 else 0.0)
            clock = on_grid(clock) if position < len(group) - 1 else clock
        clock += gaps()
    planned = []
    for index, placed in enumerate(runs):
        events = tuple(
            Event(index, item.condition, item.name, round(onset, 6), item.duration)
            for item, onset in placed
        )
        end = max(e.onset + e.duration for e in events)
        planned.append(
            Run(index, events, round(end + design.baseline, 6), tuple(i for i, _ in placed))
        )
    return planned


def _blocks(items: Sequence[Item], design: BlockDesign, rng) -> list[list[Item]]:
    """The blocks in presentation order: per cycle, each condition once, in random order."""
    by_condition: dict[str, list[Item]] = {}
    for item in items:
        by_condition.setdefault(item.condition, []).append(item)
    pools = {
        c: [members[i] for i in rng.permutation(len(members))]
        for c, members in by_condition.items()
    }
    used = dict.fromkeys(pools, 0)
    blocks = []
    names = list(pools)
    for _ in range(design.blocks_per_condition):
        for condition in [names[i] for i in rng.permutation(len(names))]:
            pool = pools[condition]
            block = [pool[(used[condition] + k) % len(pool)] for k in range(design.items_per_block)]
            used[condition] += design.items_per_block
            blocks.append(block)
    return blocks
