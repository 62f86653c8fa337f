"""A modality's features kept in the feature cache, read back a few pieces at a time.

The features of a long stimulus are written to the cache a piece at a time as they are made
(`FeaturePipeline`); the brain model then reads them window by window, in time order. Rather
than hold every piece in memory between the two (a two-hour film: ~740 MB with the real
models, mostly text), the pipeline hands the brain model :class:`CachedFeature` records:
each knows its event's start and duration, and reads its data through a
:class:`PieceReader`, which keeps the few pieces read last (a 100 s window spans one to
three of them) and reads the others again from the cache, whose entries verify themselves.
The numbers are the cache's float32, as the features of an uncached run are.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from berg.errors import FeatureCacheError
from berg.features.timed import FeatureTiming, TimedFeature

__all__ = ["CachedFeature", "PieceReader"]


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
