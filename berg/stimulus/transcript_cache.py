"""Transcripts kept by what decides them: the sound's bytes and the recogniser's settings.

Speech recognition is the slowest stage on a CPU (Whisper's beam search), and without this
cache it ran again whenever a stimulus was encoded again: with another selection, in a batch
rerun with other settings, or after the feature cache had the features already. Now the
words are read back, and Whisper is neither loaded nor run.

Entry (``{root}/{key[:2]}/{key}.json``, UTF-8 JSON)::

    {"format": 1, "key": ..., "backend": ..., "model": ..., "language": ...,
     "language_probability": ..., "words": [[text, start_s, end_s], ...]}

The key is the SHA-256 of the audio file's SHA-256, the recogniser's fingerprint (backend,
model and its files, compute type, device, decoding options, package versions), the
language asked for and, for a sound recognised in blocks, the block rule. Entries live in a
:class:`berg.store.ContentStore`: written durably, each verified against its record when
read; an entry that was changed, cut short, does not parse or names another key is a miss: it
is removed (logged at debug level) and the words are recognised again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from berg.stimulus.events import TimedWord, Transcript
from berg.store import ContentStore

__all__ = ["TranscriptCache", "TRANSCRIPT_FORMAT"]

TRANSCRIPT_FORMAT = 1


class TranscriptCache:
    """Transcripts under ``root``, addressed by :meth:`key`.

    Parameters
    ----------
    root : path
        Created on the first :meth:`put`.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.store = ContentStore(self.root, ".json", what="transcript")

    def __repr__(self) -> str:
        return f"TranscriptCache({str(self.root)!r})"

    @staticmethod
    def key(
        audio_sha256: str,
        recogniser: Mapping,
        language: str | None,
        *,
        blocks: Mapping | None = None,
    ) -> str:
        """The address of a transcript.

        Parameters
        ----------
        audio_sha256 : str
            SHA-256 of the audio file's bytes.
        recogniser : dict
            The transcriber's ``fingerprint()``: everything that changes its words.
        language : str or None
            The language asked for (None: detected).
        blocks : dict, optional
            The block rule (:meth:`berg.stimulus.recognition.RecognitionBlocks.key`) of a
            sound recognised in blocks; None for one recognised whole, whose key is what it
            was before blocks existed.
        """
        identity = {
            "format": TRANSCRIPT_FORMAT,
            "audio": audio_sha256,
            "recogniser": dict(recogniser),
            "language": language,
        }
        if blocks is not None:
            identity["blocks"] = dict(blocks)
        text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def path_for(self, key: str) -> Path:
        return self.store.path_for(key)

    def get(self, key: str) -> Transcript | None:
        """The transcript stored under ``key``, or None (a damaged entry is removed)."""
        raw = self.store.read_bytes(key)
        if raw is None:
            return None
        try:
            data = json.loads(raw.decode("utf-8"))
            if data["format"] != TRANSCRIPT_FORMAT or data["key"] != key:
                return self.store.discard(key, "written for another key or format")
            words = tuple(
                TimedWord(str(text), float(start), float(end)) for text, start, end in data["words"]
            )
            probability = data["language_probability"]
            return Transcript(
                words=words,
                language=data["language"],
                language_probability=None if probability is None else float(probability),
                backend=str(data["backend"]),
                model=str(data["model"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            return self.store.discard(key, f"not a transcript ({error!r})")

    def put(self, key: str, transcript: Transcript) -> None:
        """Store ``transcript`` under ``key`` (durably; an existing entry is replaced)."""
        data = {
            "format": TRANSCRIPT_FORMAT,
            "key": key,
            "backend": transcript.backend,
            "model": transcript.model,
            "language": transcript.language,
            "language_probability": transcript.language_probability,
            "words": [[w.text, w.start, w.end] for w in transcript.words],
        }
        self.store.write_bytes(key, json.dumps(data, ensure_ascii=False).encode("utf-8"))

    def entries(self) -> list[Path]:
        """The entry files, sorted."""
        return [self.store.path_for(key) for key in self.store.entries()]

    def clear(self) -> int:
        """Remove every entry (and what killed writers left); returns how many there were."""
        return self.store.clear()
