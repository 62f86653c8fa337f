"""The transcript cache: keys, exact round trips, damaged entries (no models needed)."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest

from berg.stimulus.events import TimedWord, Transcript
from berg.stimulus.transcript_cache import TranscriptCache

AUDIO = "ab" * 32
RECOGNISER = {
    "backend": "faster-whisper",
    "model": "large-v3",
    "beam_size": 5,
    "compute_type": "int8",
    "device": "cpu",
}
TRANSCRIPT = Transcript(
    words=(
        TimedWord("Naïve", 0.1 + 0.2, 0.7),
        TimedWord("日本語?", 1.0, 1.0),
        TimedWord('"quoted"', 2.25, 3.125),
    ),
    language="en",
    language_probability=0.9871,
    backend="faster-whisper",
    model="large-v3",
)


def test_a_transcript_comes_back_exactly(tmp_path):
    cache = TranscriptCache(tmp_path)
    key = cache.key(AUDIO, RECOGNISER, None)
    assert cache.get(key) is None
    cache.put(key, TRANSCRIPT)
    assert cache.get(key) == TRANSCRIPT  # floats too: 0.1 + 0.2 is not 0.3
    assert cache.get(key).words[0].start == 0.30000000000000004
    # The entry and its record (the key, size and SHA-256 of the entry's bytes).
    assert sorted(p.name for p in (tmp_path / key[:2]).iterdir()) == [
        f"{key}.json",
        f"{key}.json.sum",
    ]
    record = json.loads((tmp_path / key[:2] / f"{key}.json.sum").read_text())
    entry = cache.path_for(key).read_bytes()
    assert record == {"key": key, "size": len(entry), "sha256": hashlib.sha256(entry).hexdigest()}
    undetected = Transcript((), "en", None, "faster-whisper", "tiny.en")
    cache.put(key, undetected)  # replaced
    assert cache.get(key) == undetected
    assert cache.entries() == [cache.path_for(key)]
    assert cache.clear() == 1 and cache.entries() == [] and cache.get(key) is None


def test_the_key_changes_with_the_sound_the_recogniser_and_the_language():
    key = TranscriptCache.key(AUDIO, RECOGNISER, None)
    assert len(key) == 64 and int(key, 16) >= 0
    assert TranscriptCache.key(AUDIO, dict(reversed(RECOGNISER.items())), None) == key
    others = [
        TranscriptCache.key("cd" * 32, RECOGNISER, None),
        TranscriptCache.key(AUDIO, dict(RECOGNISER, beam_size=1), None),
        TranscriptCache.key(AUDIO, dict(RECOGNISER, compute_type="float16"), None),
        TranscriptCache.key(AUDIO, RECOGNISER, "en"),
    ]
    assert len({key, *others}) == 5


@pytest.mark.parametrize(
    "damage", ["truncated", "other key", "not words", "not json", "one letter changed"]
)
def test_a_damaged_entry_is_a_miss_and_is_removed(tmp_path, caplog, damage):
    cache = TranscriptCache(tmp_path)
    key = cache.key(AUDIO, RECOGNISER, None)
    cache.put(key, TRANSCRIPT)
    path = cache.path_for(key)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    damaged = {
        "truncated": text[: len(text) // 2],
        "other key": json.dumps(dict(data, key="0" * 64)),
        "not words": json.dumps(dict(data, words=[["a", 1.0]])),
        "not json": "\0\1\2",
        # Still a valid transcript, of other words: only the digest tells.
        "one letter changed": text.replace('"Naïve', '"Naive', 1),
    }[damage]
    assert damaged != text
    path.write_text(damaged, encoding="utf-8")
    with caplog.at_level(logging.DEBUG, logger="berg.store"):
        assert cache.get(key) is None
    assert not path.exists() and not path.with_name(path.name + ".sum").exists()
    assert "computing it again" in caplog.text and caplog.records[0].levelname == "DEBUG"
