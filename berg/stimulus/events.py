"""Plain value types that travel between the stimulus stages (times in seconds from 0)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["TimedWord", "Transcript", "SynthesizedSpeech"]


@dataclass(frozen=True)
class TimedWord:
    """One spoken word with its timing, as speech recognition gives it.

    Attributes
    ----------
    text : str
        The word as transcribed (punctuation attached, e.g. ``"here?"``).
    start, end : float
        Seconds from the start of the audio; ``end >= start``.
    """

    text: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        """``end - start`` in seconds."""
        return self.end - self.start


@dataclass(frozen=True)
class Transcript:
    """The words of a recording and how they were obtained.

    Attributes
    ----------
    words : tuple of TimedWord
        In temporal order; words the recogniser could not time are already dropped.
    language : str or None
        ISO 639-1 code of the detected (or given) spoken language, e.g. ``"en"``.
    language_probability : float or None
        The recogniser's confidence in ``language`` when it detected it.
    backend : str
        ``"faster-whisper"`` or ``"whisperx"``.
    model : str
        The model name or path the backend used (e.g. ``"large-v3"``).
    """

    words: tuple[TimedWord, ...]
    language: str | None
    language_probability: float | None
    backend: str
    model: str


@dataclass(frozen=True)
class SynthesizedSpeech:
    """Speech made from a text stimulus, as a WAV file in berg's cache (never beside the input).

    Attributes
    ----------
    path : Path
        Mono 16-bit WAV file.
    sample_rate : int
        Samples per second of ``path``.
    duration : float
        Seconds of audio.
    backend : str
        ``"piper"``, ``"espeak-ng"`` or ``"gtts"``.
    voice : str
        The voice or model used.
    language : str
        ISO 639-1 code of the text's language (detected unless given).
    """

    path: Path
    sample_rate: int
    duration: float
    backend: str
    voice: str
    language: str
