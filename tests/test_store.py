"""The caches' one store: entries verified when read, written durably, shared by a group."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from berg.store import STALE_SECONDS, ContentStore

KEY = hashlib.sha256(b"an entry").hexdigest()
OTHER = hashlib.sha256(b"another entry").hexdigest()


def test_an_entry_and_its_record(tmp_path):
    store = ContentStore(tmp_path, ".json", what="test")
    path = store.write_bytes(KEY, b'{"words": 1}')
    assert path == tmp_path / KEY[:2] / f"{KEY}.json"
    record = json.loads((tmp_path / KEY[:2] / f"{KEY}.json.sum").read_text())
    assert record == {
        "key": KEY,
        "size": 12,
        "sha256": hashlib.sha256(b'{"words": 1}').hexdigest(),
    }
    assert store.read_bytes(KEY) == b'{"words": 1}'
    assert store.verified_path(KEY) == path
    assert store.entries() == [KEY] and store.size_bytes() == 12
    assert store.read_bytes(OTHER) is None


@pytest.mark.parametrize(
    "damage",
    ["one byte flipped", "truncated", "record missing", "record of another key", "grown"],
)
def test_any_mismatch_is_a_miss_and_the_entry_goes(tmp_path, damage):
    store = ContentStore(tmp_path, ".wav", what="test")
    path = store.write_bytes(KEY, bytes(range(256)) * 4)
    record = path.with_name(path.name + ".sum")
    if damage == "one byte flipped":
        data = bytearray(path.read_bytes())
        data[500] ^= 0x10
        path.write_bytes(bytes(data))
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "record missing":  # killed between the entry's rename and the record's
        record.unlink()
    elif damage == "record of another key":
        record.write_text(json.dumps(dict(json.loads(record.read_text()), key=OTHER)))
    else:
        path.write_bytes(path.read_bytes() + b"\0")
    assert store.verified_path(KEY) is None
    assert not path.exists() and not record.exists()
    store.write_bytes(KEY, b"made again")  # the caller computes it again
    assert store.read_bytes(KEY) == b"made again"


def test_a_failed_write_changes_nothing(tmp_path):
    store = ContentStore(tmp_path, ".json", what="test")
    store.write_bytes(KEY, b"old")
    with pytest.raises(RuntimeError), store.writing(KEY) as temporary:
        temporary.write_bytes(b"half of the new")
        raise RuntimeError("killed")
    assert store.read_bytes(KEY) == b"old"
    assert [p.name for p in (tmp_path / KEY[:2]).iterdir() if p.name.endswith(".tmp")] == []


def test_stale_temporaries_are_swept_by_the_next_write_and_by_clear(tmp_path):
    store = ContentStore(tmp_path, ".json", what="test")
    folder = tmp_path / KEY[:2]
    folder.mkdir()
    stale = folder / f".{KEY}.json.abc123.tmp"  # what a killed writer leaves
    young = folder / f".{KEY}.json.def456.tmp"  # a writer at work
    for leftover in (stale, young):
        leftover.write_bytes(b"partial")
    old = time.time() - STALE_SECONDS - 60
    os.utime(stale, (old, old))
    store.write_bytes(KEY, b"entry")
    assert not stale.exists() and young.exists()
    assert store.clear() == 1
    assert not tmp_path.joinpath(KEY[:2]).exists()


def test_files_get_what_the_umask_allows(tmp_path):
    # In a child process: the umask is the process's, and a test must not change this one's.
    code = textwrap.dedent(
        f"""
        import os
        os.umask(0o002)
        from berg.store import ContentStore
        ContentStore({str(tmp_path)!r}, ".json", what="test").write_bytes({KEY!r}, b"x")
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    entry = tmp_path / KEY[:2] / f"{KEY}.json"
    assert stat.S_IMODE(entry.stat().st_mode) == 0o664
    assert stat.S_IMODE(entry.with_name(entry.name + ".sum").stat().st_mode) == 0o664
    assert stat.S_IMODE(entry.parent.stat().st_mode) == 0o775


def _as_member(user: int, group: int, root: Path, me: str, other: str) -> None:
    """In a forked child: become ``user`` of ``group`` (umask 002), read what ``other``
    wrote to the cache, write ``me``'s entries and replace one of ``other``'s."""
    import numpy as np
    from filelock import FileLock  # noqa: F401 - imported while still root

    from berg.features.cache import FeatureCache
    from berg.features.timed import TimedFeature
    from berg.stimulus.events import TimedWord, Transcript
    from berg.stimulus.speech import speech_store
    from berg.stimulus.transcript_cache import TranscriptCache

    os.setgroups([group])
    os.setgid(group)
    os.setuid(user)
    os.umask(0o002)
    features = FeatureCache(root / "features")
    transcripts = TranscriptCache(root / "transcripts")
    speech = speech_store(root)

    def key(name, kind):
        return hashlib.sha256(f"{kind}:{name}".encode()).hexdigest()

    if other:  # what the other member wrote is read back, verified
        assert features.get(key(other, "f"))[0].data[0, 0] == float(len(other))
        assert transcripts.get(key(other, "t")).words[0].text == other
        assert speech.read_bytes(key(other, "s")) == other.encode()
    value = np.full((1, 2), float(len(me)), np.float32)
    features.get_or_compute(key(me, "f"), lambda: [TimedFeature(0.0, 1.0, value)])
    transcripts.put(key(me, "t"), Transcript((TimedWord(me, 0.0, 1.0),), "en", None, "b", "m"))
    speech.write_bytes(key(me, "s"), me.encode())
    if other:  # the folder is shared, not only readable: the other's entry is replaced
        transcripts.put(key(other, "t"), Transcript((), "en", None, "b", "m"))


@pytest.mark.skipif(
    not hasattr(os, "fork") or os.geteuid() != 0,
    reason="needs root, to run the two writers as two users",
)
def test_two_users_of_one_group_share_one_cache():
    # A lab's cache on a cluster: two users, one group, umask 002, a setgid folder.
    group, alice, bob = 42001, 42011, 42012
    top = Path(tempfile.mkdtemp(prefix="berg-shared-", dir="/tmp"))
    try:
        top.chmod(0o755)
        root = top / "cache"
        root.mkdir()
        os.chown(root, 0, group)
        root.chmod(0o2775)
        for user, me, other in ((alice, "alice", ""), (bob, "bob", "alice")):
            pid = os.fork()
            if pid == 0:  # the child: report by its exit status only
                code = 1
                try:
                    _as_member(user, group, root, me, other)
                    code = 0
                except BaseException as error:  # shown by the parent's assertion
                    (root / f"{me}.error").write_bytes(repr(error).encode("utf-8"))
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            error = root / f"{me}.error"
            assert os.waitstatus_to_exitcode(status) == 0, (
                error.read_bytes().decode() if error.exists() else status
            )
        owners = {p.stat().st_uid for p in root.rglob("*") if p.is_file()}
        assert owners == {alice, bob}
    finally:
        shutil.rmtree(top, ignore_errors=True)
