"""Transcripts kept by what decides them: the sound's bytes and the recogniser's settings.

Speech recognition is the slowest stage on a CPU (Whisper's beam search), and without this
cache it ran again whenever a stimulus was encoded again: with another selection, in a batch
rerun with other settings, or after the feature cache had the features already. Now the
words are read back, and Whisper is neither loaded nor run.

Entry (``{root}/{key[:2]}/{key}.json``, UTF-8 JSON)::

    {"format": 1, "key": ..., "backend": ..., "model": ..., "language": ...,
     "language_probability": ..., "words": [[text, start_s, end_s], ...]}

The key is the SHA-256 of the audio file's SHA-256, the recogniser's fingerprint (backend,
model and its files, compute type, device, decoding options, package versions) and the
language asked for. An entry that does not parse, or names another key, is a miss: it is
deleted (and logged) and the words are recognised again. Entries are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from berg.files import atomic_open
from berg.stimulus.events import TimedWord, Transcript

__all__ = ["TranscriptCache", "TRANSCRIPT_FORMAT"]

logger = logging.getLogger(__name__)

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

    def __repr__(self) -> str:
        return f"TranscriptCache({str(self.root)!r})"

    @staticmethod
    def key(audio_sha256: str, recogniser: Mapping, language: str | None) -> str:
        """The address of a transcript.

        Parameters
        ----------
        audio_sha256 : str
            SHA-256 of the audio file's bytes.
        recogniser : dict
            The transcriber's ``fingerprint()``: everything that changes its words.
        language : str or None
            The language asked for (None: detected).
        """
        identity = {
            "format": TRANSCRIPT_FORMAT,
            "audio": audio_sha256,
            "recogniser": dict(recogniser),
            "language": language,
        }
        text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def path_for(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Transcript | None:
        """The transcript stored under ``key``, or None (a damaged entry is removed)."""
        path = self.path_for(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            return self._discard(path, f"unreadable ({error})")
        try:
            if data["format"] != TRANSCRIPT_FORMAT or data["key"] != key:
                return self._discard(path, "written for another key or format")
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
            return self._discard(path, f"not a transcript ({error!r})")

    def put(self, key: str, transcript: Transcript) -> None:
        """Store ``transcript`` under ``key`` (atomically; an existing entry is replaced)."""
        data = {
            "format": TRANSCRIPT_FORMAT,
            "key": key,
            "backend": transcript.backend,
            "model": transcript.model,
            "language": transcript.language,
            "language_probability": transcript.language_probability,
            "words": [[w.text, w.start, w.end] for w in transcript.words],
        }
        with atomic_open(self.path_for(key), "w") as handle:
            json.dump(data, handle, ensure_ascii=False)

    def entries(self) -> list[Path]:
        """The entry files, sorted."""
        return sorted(self.root.glob("??/*.json")) if self.root.is_dir() else []

    def clear(self) -> int:
        """Remove every entry; returns how many there were."""
        removed = 0
        for path in self.entries():
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    @staticmethod
    def _discard(path: Path, why: str) -> None:
        logger.warning("transcript cache entry %s is %s: recognising the words again", path, why)
        path.unlink(missing_ok=True)
        return None
