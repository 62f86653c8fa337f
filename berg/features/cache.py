"""A content-addressed cache of extracted features, safe across processes.

An entry is addressed by what determines it: the stimulus bytes (their sha256, not their
path), the extractor and a fingerprint of everything that changes its output (model and
revision, layer selection, dtype, ...). The caller picks the root folder; nothing is written
until the first ``put``.

Entry file (``{root}/{key[:2]}/{key}.feat``), little-endian::

    b"BERGFEAT"                    8 bytes, magic
    header length                  uint64
    header                         UTF-8 JSON: format version, key, one
                                   [start, duration, shape] per feature, payload size
    payload                        every feature's float32 data, C order, one after another
    sha256                         32 bytes: digest of everything above

A file that is truncated, altered or not ours fails the digest or the parse: it is treated as
a miss, deleted and logged (debug level), so the caller recomputes. Entries live in a
:class:`berg.store.ContentStore` (self-verifying: the digest and key are in the entry): written
to a temporary file in the same folder, fsynced and renamed over the entry (``os.replace``),
so a reader sees either no entry or a whole one, and two processes writing the same entry both
succeed; files and locks get the permissions the umask allows, so a group can share a cache.
No pickles: the format has only JSON and raw float32.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import struct
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from berg.errors import InvalidParameterError
from berg.features.timed import TimedFeature, as_float32
from berg.files import file_mode
from berg.store import ContentStore

__all__ = ["CACHE_FORMAT_VERSION", "FeatureCache"]

logger = logging.getLogger(__name__)

#: Bump when the entry layout or the meaning of cached features changes: old keys then miss.
CACHE_FORMAT_VERSION = 1
_MAGIC = b"BERGFEAT"
_SUFFIX = ".feat"
_DIGEST_BYTES = 32
_DTYPE = np.dtype("<f4")


def _canonical_json(value) -> str:
    def default(obj):
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        raise TypeError(f"{obj!r} ({type(obj).__name__}) has no canonical JSON form")

    try:
        return json.dumps(
            value,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
            allow_nan=False,
            default=default,
        )
    except (TypeError, ValueError) as error:
        raise InvalidParameterError(
            f"a cache key part must be plain JSON data (str, numbers, "
            f"bool, None, lists, dicts): {error}"
        ) from error


class FeatureCache:
    """Features of one extractor on one stimulus, stored on disk by content.

    Parameters
    ----------
    root : path
        Folder of the cache (created on the first write).
    lock_timeout : float or None
        Seconds `get_or_compute` waits for another process computing the same entry before
        computing it too (None: wait as long as it takes).

    Examples
    --------
    >>> cache = FeatureCache(tmp_path)                                  # doctest: +SKIP
    >>> key = cache.key(file_sha256("clip.mp4"), "text", {"model": "meta-llama/Llama-3.2-3B"})
    >>> words = cache.get_or_compute(key, lambda: extract_text(...))  # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike, *, lock_timeout: float | None = None):
        self.root = Path(root)
        self.lock_timeout = lock_timeout
        self.store = ContentStore(self.root, _SUFFIX, what="feature", self_verifying=True)

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    # -- addressing -------------------------------------------------------------------------

    @staticmethod
    def key(stimulus_sha256: str, extractor: str, fingerprint: Mapping) -> str:
        """The entry's address: sha256 of a canonical JSON of its parts and the format version.

        Parameters
        ----------
        stimulus_sha256 : str
            :func:`berg.files.file_sha256` of the stimulus.
        extractor : str
            Which extractor ('text', 'audio', 'video', ...).
        fingerprint : Mapping
            JSON-able settings that change the features (model id, revision, layers, dtype).
        """
        if not isinstance(stimulus_sha256, str) or not stimulus_sha256:
            raise InvalidParameterError(
                f"stimulus_sha256 must be a non-empty string, got {stimulus_sha256!r}"
            )
        if not isinstance(extractor, str) or not extractor:
            raise InvalidParameterError(f"extractor must be a non-empty string, got {extractor!r}")
        if not isinstance(fingerprint, Mapping):
            raise InvalidParameterError(
                f"fingerprint must be a mapping, got {type(fingerprint).__name__}"
            )
        text = _canonical_json(
            {
                "format": CACHE_FORMAT_VERSION,
                "stimulus": stimulus_sha256,
                "extractor": extractor,
                "fingerprint": dict(fingerprint),
            }
        )
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    def path_for(self, key: str) -> Path:
        """Where the entry of ``key`` lives (whether or not it exists)."""
        return self.store.path_for(key)

    # -- reading and writing ----------------------------------------------------------------

    def get(self, key: str) -> list[TimedFeature] | None:
        """The cached features, or None when absent or unreadable (a bad entry is deleted)."""
        path = self.path_for(key)
        try:
            with open(path, "rb") as file:
                identity = os.fstat(file.fileno())
                buffer = bytearray(identity.st_size)
                read = file.readinto(buffer)
        except FileNotFoundError:
            return None
        try:
            if read != len(buffer):
                raise ValueError(f"read {read} of {len(buffer)} bytes")
            return _decode(buffer, key)
        except (
            ValueError,
            KeyError,
            TypeError,
            IndexError,
            UnicodeDecodeError,
            struct.error,
        ) as error:
            self.store.discard(key, f"corrupt ({error})", identity)
            return None

    def put(self, key: str, features: Sequence[TimedFeature]) -> list[TimedFeature]:
        """Store ``features`` under ``key``, atomically (replaces any previous entry), and
        return them as `get` will: float32 data.

        Data are stored as float32; ``start`` and ``duration`` exactly.
        """
        self.path_for(key)  # a bad key fails before any work
        arrays, records = [], []
        for feature in features:
            if not isinstance(feature, TimedFeature):
                raise InvalidParameterError(
                    f"put takes TimedFeature objects, got {type(feature).__name__}"
                )
            data = np.ascontiguousarray(feature.data, dtype=_DTYPE)
            if data.ndim not in (2, 3):
                raise InvalidParameterError(
                    f"feature data must be (L, D) or (L, D, n), got shape {data.shape}"
                )
            start, duration = float(feature.start), float(feature.duration)
            if not (math.isfinite(start) and math.isfinite(duration)):
                raise InvalidParameterError(
                    f"feature start and duration must be finite, got {start}, {duration}"
                )
            arrays.append(data)
            records.append([start, duration, list(data.shape)])
        header = json.dumps(
            {
                "format": CACHE_FORMAT_VERSION,
                "key": key,
                "dtype": _DTYPE.str,
                "features": records,
                "payload_bytes": sum(a.nbytes for a in arrays),
            },
            separators=(",", ":"),
        ).encode("utf-8")

        with self.store.writing(key) as temporary, open(temporary, "wb") as file:
            digest = hashlib.sha256()
            for block in (_MAGIC, struct.pack("<Q", len(header)), header, *arrays):
                view = block if isinstance(block, bytes) else block.reshape(-1).view(np.uint8)
                digest.update(view)
                file.write(view)
            file.write(digest.digest())
        return as_float32(features)

    def get_or_compute(
        self, key: str, compute: Callable[[], Sequence[TimedFeature]]
    ) -> list[TimedFeature]:
        """The cached features, computing and storing them on a miss.

        While one process computes an entry, another asking for the same key waits for it
        (a per-key file lock) and then reads the result instead of computing it again.
        """
        cached = self.get(key)
        if cached is not None:
            return cached
        from filelock import FileLock, Timeout

        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(
            str(path.with_suffix(".lock")),
            timeout=-1 if self.lock_timeout is None else self.lock_timeout,
            mode=file_mode(),  # another member of the group takes the same lock
        )
        try:
            with lock:
                return self._compute_and_put(key, compute)
        except Timeout:
            logger.warning(
                "waited %s s for another process to compute %s; computing it here",
                self.lock_timeout,
                path,
            )
            return self._compute_and_put(key, compute)

    def _compute_and_put(self, key, compute) -> list[TimedFeature]:
        cached = self.get(key)  # the process we waited for may have written it
        if cached is not None:
            return cached
        return self.put(key, list(compute()))

    # -- housekeeping -----------------------------------------------------------------------

    def entries(self) -> list[str]:
        """Keys of the entries on disk, sorted."""
        return self.store.entries()

    def size_bytes(self) -> int:
        """Total size of the entries on disk."""
        return self.store.size_bytes()

    def clear(self) -> int:
        """Delete every entry (and leftover temporary and lock files); returns entries removed.

        Do not run it while another process writes to this cache.
        """
        return self.store.clear()


def _decode(buffer: bytearray, key: str) -> list[TimedFeature]:
    """Parse and verify one entry file (raises ValueError and friends when it is bad)."""
    minimum = len(_MAGIC) + 8 + _DIGEST_BYTES
    if len(buffer) < minimum:
        raise ValueError(f"{len(buffer)} bytes is too short")
    view = memoryview(buffer)
    if bytes(view[: len(_MAGIC)]) != _MAGIC:
        raise ValueError("not a berg feature cache entry")
    if hashlib.sha256(view[:-_DIGEST_BYTES]).digest() != bytes(view[-_DIGEST_BYTES:]):
        raise ValueError("checksum mismatch")
    (header_size,) = struct.unpack_from("<Q", buffer, len(_MAGIC))
    offset = len(_MAGIC) + 8
    header = json.loads(bytes(view[offset : offset + header_size]).decode("utf-8"))
    offset += header_size
    if header["format"] != CACHE_FORMAT_VERSION:
        raise ValueError(f"format {header['format']}, expected {CACHE_FORMAT_VERSION}")
    if header["key"] != key:
        raise ValueError(f"the entry belongs to key {header['key']}")
    if np.dtype(header["dtype"]) != _DTYPE:
        raise ValueError(f"unexpected dtype {header['dtype']}")
    payload_end = len(buffer) - _DIGEST_BYTES
    if payload_end - offset != header["payload_bytes"]:
        raise ValueError("payload size mismatch")
    features = []
    for start, duration, shape in header["features"]:
        if len(shape) not in (2, 3) or any(not isinstance(s, int) or s < 0 for s in shape):
            raise ValueError(f"bad shape {shape}")
        count = int(np.prod(shape))
        if offset + count * _DTYPE.itemsize > payload_end:
            raise ValueError("payload too short")
        # Views into the one buffer: no copy of a possibly large payload.
        data = np.frombuffer(buffer, dtype=_DTYPE, count=count, offset=offset).reshape(shape)
        offset += count * _DTYPE.itemsize
        features.append(TimedFeature(float(start), float(duration), data))
    if offset != payload_end:
        raise ValueError("payload size mismatch")
    return features
