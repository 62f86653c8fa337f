"""The content-addressed feature cache: exact round trips, keys, corruption, concurrency."""

import hashlib
import logging
import os
import pickle
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from berg import InvalidParameterError
from berg.features.cache import FeatureCache
from berg.features.timed import TimedFeature
from berg.files import file_sha256

REPO = Path(__file__).resolve().parents[1]


def features(seed=0):
    rng = np.random.default_rng(seed)
    return [
        TimedFeature(0.1 + 0.2, 0.27, rng.standard_normal((2, 5)).astype(np.float32)),  # a word
        TimedFeature(1.0 / 3.0, 0.0, rng.standard_normal((2, 5)).astype(np.float32)),
        TimedFeature(0.0, 60.0, rng.standard_normal((2, 4, 120)).astype(np.float32)),  # a chunk
        TimedFeature(60.0, 0.3, rng.standard_normal((2, 4, 1)).astype(np.float32)),
    ]


def same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.start == y.start and x.duration == y.duration  # exact, not approximate
        assert x.data.dtype == np.float32
        assert x.data.shape == y.data.shape
        assert np.array_equal(x.data, y.data)


@pytest.fixture
def cache(tmp_path):
    return FeatureCache(tmp_path / "cache")


@pytest.fixture
def key(cache):
    return cache.key("ab" * 32, "text", {"model": "meta-llama/Llama-3.2-3B", "layers": [0.5, 1]})


# -- round trips --------------------------------------------------------------------------------


def test_round_trip_static_and_dynamic(cache, key):
    assert cache.get(key) is None
    cache.put(key, features())
    same(cache.get(key), features())
    same(FeatureCache(cache.root).get(key), features())  # from disk, by a fresh object


def test_round_trip_of_no_features(cache, key):
    cache.put(key, [])
    assert cache.get(key) == []  # a stimulus without words is a hit, not a miss


def test_data_are_stored_as_float32(cache, key):
    data = np.linspace(0, 1, 10, dtype=np.float64).reshape(2, 5)
    cache.put(key, [TimedFeature(1.0, 2.0, data)])
    (out,) = cache.get(key)
    assert out.data.dtype == np.float32
    assert np.array_equal(out.data, data.astype(np.float32))


def test_put_replaces_an_entry(cache, key):
    cache.put(key, features(0))
    cache.put(key, features(1))
    same(cache.get(key), features(1))
    assert cache.entries() == [key]


def test_put_refuses_what_it_cannot_store(cache, key):
    with pytest.raises(InvalidParameterError):
        cache.put(key, [np.zeros((2, 3))])
    with pytest.raises(InvalidParameterError):
        cache.put(key, [TimedFeature(0.0, 1.0, np.zeros(3))])
    with pytest.raises(InvalidParameterError):
        cache.put(key, [TimedFeature(float("nan"), 1.0, np.zeros((1, 1)))])
    assert cache.get(key) is None


# -- keys ---------------------------------------------------------------------------------------


def test_the_key_depends_on_every_part():
    base = FeatureCache.key("ab" * 32, "text", {"model": "m", "layers": [0.5, 0.75, 1.0]})
    assert len(base) == 64 and int(base, 16) >= 0
    assert FeatureCache.key("ab" * 32, "text", {"layers": [0.5, 0.75, 1.0], "model": "m"}) == base
    others = [
        FeatureCache.key("cd" * 32, "text", {"model": "m", "layers": [0.5, 0.75, 1.0]}),
        FeatureCache.key("ab" * 32, "audio", {"model": "m", "layers": [0.5, 0.75, 1.0]}),
        FeatureCache.key("ab" * 32, "text", {"model": "n", "layers": [0.5, 0.75, 1.0]}),
        FeatureCache.key("ab" * 32, "text", {"model": "m", "layers": [0.5, 1.0]}),
        FeatureCache.key(
            "ab" * 32, "text", {"model": "m", "layers": [0.5, 0.75, 1.0], "cache_n_layers": 20}
        ),
        FeatureCache.key("ab" * 32, "text", {"model": "m"}),
    ]
    assert len({base, *others}) == len(others) + 1


def test_the_key_includes_the_format_version(monkeypatch):
    from berg.features import cache as cache_module

    before = FeatureCache.key("ab" * 32, "text", {})
    version = cache_module.CACHE_FORMAT_VERSION
    monkeypatch.setattr(cache_module, "CACHE_FORMAT_VERSION", version + 1)
    assert FeatureCache.key("ab" * 32, "text", {}) != before


def test_bad_key_parts_and_keys_are_refused(cache):
    with pytest.raises(InvalidParameterError, match="JSON"):
        FeatureCache.key("ab" * 32, "text", {"device": object()})
    with pytest.raises(InvalidParameterError, match="JSON"):
        FeatureCache.key("ab" * 32, "text", {"x": float("nan")})
    with pytest.raises(InvalidParameterError):
        FeatureCache.key("", "text", {})
    for bad in ["../../etc/passwd", "AB" * 32, "ab" * 31]:
        with pytest.raises(InvalidParameterError, match="64 lowercase hex"):
            cache.path_for(bad)


def test_file_sha256_addresses_content_not_paths(tmp_path):
    payload = os.urandom(3 * 1024 + 17)
    first, second = tmp_path / "a.wav", tmp_path / "copy" / "b.wav"
    second.parent.mkdir()
    first.write_bytes(payload)
    second.write_bytes(payload)
    expected = hashlib.sha256(payload).hexdigest()
    assert file_sha256(first) == file_sha256(second, chunk=7) == expected
    second.write_bytes(payload + b"\0")
    assert file_sha256(second) != expected


# -- get_or_compute -----------------------------------------------------------------------------


def test_get_or_compute_computes_once(cache, key):
    calls = []

    def compute():
        calls.append(1)
        return features()

    same(cache.get_or_compute(key, compute), features())
    same(cache.get_or_compute(key, compute), features())
    same(FeatureCache(cache.root).get_or_compute(key, compute), features())
    assert len(calls) == 1


def test_a_failed_compute_stores_nothing(cache, key):
    def compute():
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        cache.get_or_compute(key, compute)
    assert cache.get(key) is None and cache.entries() == []


# -- corruption ---------------------------------------------------------------------------------


def _truncate(path):
    path.write_bytes(path.read_bytes()[:-100])


def _flip_payload_byte(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def _flip_header_byte(path):
    raw = bytearray(path.read_bytes())
    raw[20] ^= 0x20
    path.write_bytes(bytes(raw))


def _garbage(path):
    path.write_bytes(os.urandom(5000))


def _empty(path):
    path.write_bytes(b"")


def _a_pickle(path):
    path.write_bytes(pickle.dumps(features()))


@pytest.mark.parametrize(
    "damage", [_truncate, _flip_payload_byte, _flip_header_byte, _garbage, _empty, _a_pickle]
)
def test_a_damaged_entry_is_detected_deleted_and_recomputed(cache, key, damage, caplog):
    cache.put(key, features())
    path = cache.path_for(key)
    damage(path)
    with caplog.at_level(logging.DEBUG, logger="berg.store"):
        assert cache.get(key) is None
    assert "corrupt" in caplog.text and caplog.records[0].levelname == "DEBUG"
    assert not path.exists()

    cache.put(key, features())
    damage(path)  # damaged again: get_or_compute recomputes and stores a good entry
    calls = []
    result = cache.get_or_compute(key, lambda: calls.append(1) or features())
    same(result, features())
    assert calls == [1]
    same(cache.get(key), features())


def test_an_entry_filed_under_another_key_is_refused(cache, key):
    other = cache.key("cd" * 32, "text", {})
    cache.put(key, features())
    target = cache.path_for(other)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(cache.path_for(key).read_bytes())
    assert cache.get(other) is None
    same(cache.get(key), features())


def test_reading_never_unpickles(cache, key, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the cache must not unpickle anything")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    cache.put(key, features())
    same(cache.get(key), features())


# -- housekeeping -------------------------------------------------------------------------------


def test_nothing_is_written_before_the_first_put(tmp_path):
    cache = FeatureCache(tmp_path / "not" / "yet")
    assert cache.get("ab" * 32) is None
    assert cache.entries() == [] and cache.size_bytes() == 0 and cache.clear() == 0
    assert not (tmp_path / "not").exists()


def test_entries_size_and_clear(cache):
    keys = [cache.key(f"{i:064x}", "audio", {}) for i in range(3)]
    for i, key in enumerate(keys):
        cache.put(key, features(i))
    assert cache.entries() == sorted(keys)
    assert cache.size_bytes() == sum(cache.path_for(k).stat().st_size for k in keys)
    assert cache.size_bytes() > 3 * 2 * 4 * 120 * 4
    assert cache.clear() == 3
    assert cache.entries() == [] and cache.size_bytes() == 0
    assert all(cache.get(k) is None for k in keys)
    assert cache.clear() == 0


# -- concurrency --------------------------------------------------------------------------------

_WORKER = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from berg.features.cache import FeatureCache
    from berg.features.timed import TimedFeature

    root, key, log, go, mode = sys.argv[1:]

    def compute():
        with open(log, "a") as file:
            file.write(f"{os.getpid()}\\n")
        time.sleep(0.5)  # long enough for the other process to arrive meanwhile
        rng = np.random.default_rng(7)
        return [TimedFeature(0.0, 60.0, rng.standard_normal((2, 64, 120)).astype(np.float32))]

    cache = FeatureCache(root)
    while not os.path.exists(go):
        time.sleep(0.001)
    if mode == "lock":
        out = cache.get_or_compute(key, compute)
    else:
        data = compute()
        for _ in range(10):
            cache.put(key, data)
        out = cache.get(key)
    assert out is not None and out[0].data.shape == (2, 64, 120)
    print(float(out[0].data.sum()))
""")


def _race(tmp_path, cache, key, mode, n=2, watch=None):
    go, log = tmp_path / "go", tmp_path / "log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(cache.root), key, str(log), str(go), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(n)
    ]
    time.sleep(0.3)
    go.touch()
    if watch is not None:
        while any(w.poll() is None for w in workers):
            watch()
    results = [w.communicate(timeout=120) for w in workers]
    for worker, (_, err) in zip(workers, results):
        assert worker.returncode == 0, err
    sums = {out.strip() for out, _ in results}
    assert len(sums) == 1
    return log.read_text().split()


@pytest.mark.slow
def test_concurrent_get_or_compute_computes_once(tmp_path, cache, key):
    computed = _race(tmp_path, cache, key, "lock")
    assert len(computed) == 1  # the second process waited and read the first one's entry
    assert cache.entries() == [key]
    assert cache.get(key)[0].data.shape == (2, 64, 120)
    assert not list(cache.root.glob("*/*.tmp"))


@pytest.mark.slow
def test_concurrent_writers_leave_one_valid_entry_and_readers_never_see_a_partial_one(
    tmp_path, cache, key, caplog
):
    seen = []

    def watch():
        result = cache.get(key)
        seen.append(None if result is None else result[0].data.shape)

    with caplog.at_level(logging.DEBUG, logger="berg.store"):
        computed = _race(tmp_path, cache, key, "put", watch=watch)
    assert len(computed) == 2  # no lock: both computed, both wrote
    assert "corrupt" not in caplog.text
    assert seen and set(seen) <= {None, (2, 64, 120)}
    assert cache.entries() == [key]
    assert not list(cache.root.glob("*/*.tmp"))
    assert cache.get(key)[0].data.shape == (2, 64, 120)


# -- read back a few pieces at a time ---------------------------------------------------------


def test_pieces_are_read_back_from_the_cache_a_few_at_a_time(cache):
    from berg import FeatureCacheError
    from berg.features.pieces import PieceReader

    keys = [cache.key("cd" * 32, "audio", {"piece": k}) for k in range(4)]
    pieces = [features(seed=k) for k in range(4)]
    for key, piece in zip(keys, pieces):
        cache.put(key, piece)
    reader = PieceReader(cache, keys, held=2)
    records = [r for k, key in enumerate(keys) for r in reader.keep(k, cache.get(key))]
    assert reader.n_held == 2 and reader.reads == 0  # the last two, as just written
    same(records, [f for piece in pieces for f in piece])  # data read back as they are used
    # In order with two held: pieces 0 and 1 read again, then 2 and 3 (0 and 1 were last).
    assert reader.reads == 4 and reader.n_held == 2
    assert records[0].end == records[0].start + records[0].duration
    assert records[0].is_static and not records[2].is_static  # piece 0 read: 3 and 0 held
    assert reader.reads == 5
    cache.path_for(keys[1]).unlink()  # another process cleared the cache meanwhile
    _ = records[13].data  # piece 3: still held
    with pytest.raises(FeatureCacheError, match="encode again"):
        _ = records[4].data  # piece 1: gone


# -- pieces found or made, and a full disk ------------------------------------------------------


def _piece_stream(made):
    """A stream of known features (data: the event's index), recording each run it makes."""

    def stream(events):
        made.append((events.start, events.stop))
        for i in range(events.start, events.stop):
            yield TimedFeature(float(i), 1.0, np.full((2, 3), i, dtype=np.float64))

    return stream


def _disk_full_after(cache, monkeypatch, n_puts, errno_=None):
    import errno

    real, calls = cache.put, []

    def put(key, piece):
        calls.append(key)
        if len(calls) > n_puts:
            raise OSError(errno_ or errno.ENOSPC, os.strerror(errno_ or errno.ENOSPC))
        return real(key, piece)

    monkeypatch.setattr(cache, "put", put)
    return calls


def test_pieces_found_in_the_cache_are_not_made_again(cache):
    from berg.features.pieces import CachedFeature, gather_pieces

    pieces = [slice(0, 2), slice(2, 4), slice(4, 6), slice(6, 7)]
    keys = [cache.key("ef" * 32, "video", {"piece": k}) for k in range(4)]
    cache.put(keys[1], [TimedFeature(float(i), 1.0, np.full((2, 3), i)) for i in (2, 3)])
    made = []
    found = gather_pieces(pieces, keys, cache, _piece_stream(made), what="video")
    # piece 0 alone (through the cache's lock), then pieces 2 and 3 in one stream
    assert made == [(0, 2), (4, 7)]
    assert all(isinstance(f, CachedFeature) for f in found)
    assert [f.start for f in found] == list(range(7))
    assert [float(f.data[0, 0]) for f in found] == list(range(7))
    assert sorted(cache.entries()) == sorted(keys)


def test_a_full_cache_disk_keeps_the_rest_in_memory(cache, monkeypatch, caplog):
    from berg.features.pieces import CachedFeature, gather_pieces

    pieces = [slice(0, 2), slice(2, 4), slice(4, 6), slice(6, 8)]
    keys = [cache.key("ef" * 32, "audio", {"piece": k}) for k in range(4)]
    calls = _disk_full_after(cache, monkeypatch, n_puts=1)
    made = []
    with caplog.at_level(logging.WARNING, logger="berg.features.pieces"):
        found = gather_pieces(pieces, keys, cache, _piece_stream(made), what="audio")
    assert made == [(0, 8)]  # one stream, not stopped by the full disk
    assert len(calls) == 2  # no write tried after the disk said it was full
    assert [type(f) for f in found] == [CachedFeature] * 2 + [TimedFeature] * 6
    for i, feature in enumerate(found):
        assert feature.start == i and feature.data.dtype == np.float32
        np.testing.assert_array_equal(feature.data, np.full((2, 3), i, np.float32))
    assert cache.entries() == [keys[0]]  # nothing half-written
    assert not [p for p in cache.root.rglob("*") if p.is_file() and keys[1] in p.name]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "is full" in warnings[0].getMessage() and "piece 2 of 4" in warnings[0].getMessage()


def test_a_lone_piece_is_kept_when_the_disk_is_full(cache, monkeypatch):
    from berg.features.pieces import gather_pieces

    pieces = [slice(0, 2), slice(2, 4), slice(4, 6)]
    keys = [cache.key("ab" * 32, "video", {"piece": k}) for k in range(3)]
    for k in (0, 2):
        cache.put(
            keys[k], [TimedFeature(float(i), 1.0, np.full((2, 3), i)) for i in (2 * k, 2 * k + 1)]
        )
    _disk_full_after(cache, monkeypatch, n_puts=0)
    made = []
    found = gather_pieces(pieces, keys, cache, _piece_stream(made), what="video")
    assert made == [(2, 4)]  # made once, through the lock, and kept though not stored
    assert [float(f.data[0, 0]) for f in found] == list(range(6))
    assert keys[1] not in cache.entries()


def test_a_lock_with_no_room_still_gives_the_features(cache, monkeypatch):
    import errno

    from berg.features.pieces import gather_pieces

    def no_room(key, compute):
        raise OSError(errno.ENOSPC, "No space left on device")  # before anything is made

    monkeypatch.setattr(cache, "get_or_compute", no_room)
    made = []
    key = cache.key("ab" * 32, "text", {"piece": 0})
    found = gather_pieces([slice(0, 3)], [key], cache, _piece_stream(made), what="text")
    assert made == [(0, 3)] and [f.start for f in found] == [0.0, 1.0, 2.0]


def test_other_write_errors_are_not_taken_for_a_full_disk(cache, monkeypatch):
    import errno

    from berg.features.pieces import gather_pieces

    _disk_full_after(cache, monkeypatch, n_puts=0, errno_=errno.EACCES)
    keys = [cache.key("ab" * 32, "audio", {"piece": k}) for k in range(2)]
    with pytest.raises(PermissionError):
        gather_pieces([slice(0, 1), slice(1, 2)], keys, cache, _piece_stream([]), what="audio")
