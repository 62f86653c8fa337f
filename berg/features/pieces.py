"""A modality's features kept in the feature cache, read back a few pieces at a time.

The features of a long stimulus are written to the cache a piece at a time as they are made
(`FeaturePipeline`); the brain model then reads them window by window, in time order. Rather
than hold every piece in memory between the two (a two-hour film: ~740 MB with the real
models, mostly text), the pipeline hands the brain model :class:`CachedFeature` records:
each knows its event's start and duration, and reads its data through a
:class:`PieceReader`, which keeps the few pieces read last (a 100 s window spans one to
three of them) and reads the others again from the cache, whose entries verify themselves.
The numbers are the cache's float32, as the features of an uncached run are.

:func:`gather_pieces` finds a modality's pieces in the cache or makes and stores them; a
cache whose disk is full takes no more, and the rest stay in memory (the encode goes on).
"""

from __future__ import annotations

import errno
import itertools
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from berg.errors import FeatureCacheError
from berg.features.timed import FeatureTiming, TimedFeature, as_float32

__all__ = ["CachedFeature", "PieceReader", "gather_pieces"]

logger = logging.getLogger(__name__)

#: A full disk, or a full quota: the cache takes no more pieces, the encode goes on.
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class PieceReader:
    """The pieces of one modality's features, read from the cache on demand.

    Parameters
    ----------
    cache : FeatureCache
    keys : sequence of str
        One cache key per piece, in order.
    held : int
        How many pieces to keep once read (least recently used goes first).
    """

    def __init__(self, cache, keys: Sequence[str], held: int = 3):
        self.cache = cache
        self.keys = list(keys)
        self.held = max(1, int(held))
        self.reads = 0  # pieces read from the cache (for tests and benchmarks)
        self._pieces: OrderedDict[int, list[TimedFeature]] = OrderedDict()

    @property
    def n_held(self) -> int:
        """Pieces held in memory now (at most ``held``)."""
        return len(self._pieces)

    def keep(self, index: int, piece: list[TimedFeature]) -> list[CachedFeature]:
        """The records of a piece just written to (or read from) the cache; the piece is
        kept as if it had been read."""
        self._remember(index, piece)
        return [CachedFeature(f.start, f.duration, self, index, k) for k, f in enumerate(piece)]

    def piece(self, index: int) -> list[TimedFeature]:
        """The features of piece ``index``.

        Raises
        ------
        FeatureCacheError
            Its entry is no longer in the cache, or is damaged (the cache deletes it).
        """
        if index in self._pieces:
            self._pieces.move_to_end(index)
            return self._pieces[index]
        found = self.cache.get(self.keys[index])
        if found is None:
            raise FeatureCacheError(
                f"the feature cache entry {self.keys[index]} ({self.cache.root}) was removed "
                "or damaged while this encode read it back (the cache cleared by another "
                "process?); encode again: the missing features are computed anew"
            )
        self.reads += 1
        self._remember(index, found)
        return found

    def _remember(self, index: int, piece: list[TimedFeature]) -> None:
        self._pieces[index] = piece
        self._pieces.move_to_end(index)
        while len(self._pieces) > self.held:
            self._pieces.popitem(last=False)


class CachedFeature(FeatureTiming):
    """A :class:`~berg.features.timed.TimedFeature` whose data stay in the feature cache
    until they are read (``data``, ``is_static``, ``end`` as there)."""

    __slots__ = ("start", "duration", "_reader", "_piece", "_index")

    def __init__(self, start: float, duration: float, reader: PieceReader, piece: int, index: int):
        self.start = start
        self.duration = duration
        self._reader = reader
        self._piece = piece
        self._index = index

    @property
    def data(self) -> np.ndarray:
        """float32 ``(L, D)`` or ``(L, D, n)``, read through the reader."""
        return self._reader.piece(self._piece)[self._index].data

    def __repr__(self) -> str:
        return (
            f"CachedFeature(start={self.start}, duration={self.duration}, "
            f"piece={self._piece}, index={self._index})"
        )


def gather_pieces(
    pieces: Sequence[slice],
    keys: Sequence[str | None],
    cache,
    stream: Callable[[slice], Iterator[TimedFeature]],
    *,
    what: str,
) -> list:
    """Every piece's features: found in the cache, or made by ``stream`` and stored there.

    The pieces missing from the cache are made by one stream per run of consecutive ones
    (the audio's sound decoded once for all of them), each stored as soon as it is whole, so
    that a stopped run keeps the pieces done. A lone missing piece waits for another process
    computing it (the cache's lock); pieces of a longer stream do not (two processes on one
    film only repeat work). When the cache's disk is full (or over quota), that piece and
    the rest stay in memory, with one warning: the result is the same, only not kept.

    Parameters
    ----------
    pieces : sequence of slice
        The events of each piece, in order, covering every event.
    keys : sequence of str or None
        Each piece's cache key (None without a cache).
    cache : FeatureCache or None
    stream : callable(slice) -> iterator of TimedFeature
        Makes the features of a run of events, in order.
    what : str
        The modality, for the warning.

    Returns
    -------
    list
        One feature per event, in order: :class:`CachedFeature` records read back from the
        cache (a few pieces held at a time), or `TimedFeature` in memory (without a cache,
        float as made; past a full disk, float32 as the cache would have given).
    """
    reader = None if cache is None else PieceReader(cache, keys)
    found: list = [None] * len(pieces)
    if reader is not None:
        for k, key in enumerate(keys):
            piece = cache.get(key)
            found[k] = None if piece is None else reader.keep(k, piece)
    disk_full = reader is None  # nothing is stored from here on

    def full(index: int, error: OSError) -> bool:
        nonlocal disk_full
        if error.errno not in _DISK_FULL:
            return False
        disk_full = True
        logger.warning(
            "the feature cache %s is full (%s): the %s features from piece %d of %d on are "
            "kept in memory, not cached; free space there, or pass another cache_dir",
            cache.root,
            error.strerror or error,
            what,
            index + 1,
            len(pieces),
        )
        return True

    def kept(index: int, piece: list[TimedFeature]) -> list:
        if not disk_full:
            try:
                return reader.keep(index, cache.put(keys[index], piece))
            except OSError as error:
                if not full(index, error):
                    raise
        return piece if reader is None else as_float32(piece)

    first = 0
    while first < len(pieces):
        if found[first] is not None:
            first += 1
            continue
        last = first
        while last + 1 < len(pieces) and found[last + 1] is None:
            last += 1
        events = slice(pieces[first].start, pieces[last].stop)
        if first == last and not disk_full:
            made: list[TimedFeature] = []
            try:
                piece = cache.get_or_compute(
                    keys[first],
                    lambda made=made, events=events: made.extend(stream(events)) or made,
                )
            except OSError as error:
                if not full(first, error):
                    raise
                # Made whole, stored nowhere: kept here. Not made (the lock had no room):
                # made again below, without the cache.
                if len(made) == events.stop - events.start:
                    found[first] = as_float32(made)
                continue
            else:
                found[first] = reader.keep(first, piece)
        else:
            making = stream(events)
            for k in range(first, last + 1):
                size = pieces[k].stop - pieces[k].start
                piece = list(itertools.islice(making, size))
                if len(piece) != size:
                    raise RuntimeError(f"the {what} extractor gave too few features")
                found[k] = kept(k, piece)
            next(making, None)  # the stream's end: its counts
        first = last + 1
    return [feature for piece in found for feature in piece]
