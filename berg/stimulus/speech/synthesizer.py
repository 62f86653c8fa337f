"""What every speech synthesiser is and shares: the protocol, WAV files written whole, the
messages."""

from __future__ import annotations

import os
import wave
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from berg.errors import (
    InvalidParameterError,
    StimulusError,
)
from berg.files import atomic_open
from berg.stimulus.events import SynthesizedSpeech

__all__ = [
    "OFFLINE_ALTERNATIVES",
    "Synthesizer",
    "language_mismatch",
    "preview",
    "speech_from_file",
    "wav_info",
    "write_wav",
]


OFFLINE_ALTERNATIVES = (
    "tts='piper' (offline, English by default) or tts='espeak-ng' (offline, many languages)"
)


@runtime_checkable
class Synthesizer(Protocol):
    """Anything that speaks a text into a mono 16-bit WAV file."""

    name: str
    #: The one language its voice speaks, or None when it speaks many (text in a language
    #: the detector cannot judge is read in this one; else in English).
    default_language: str | None

    def voice_for(self, language: str) -> str:
        """The voice that would speak ``language``; raises if none can."""
        ...

    def fingerprint(self, language: str) -> str:
        """Everything that changes the audio for ``language`` (for the cache key)."""
        ...

    def synthesize(
        self, text: str, out_path: str | os.PathLike, *, language: str
    ) -> SynthesizedSpeech:
        """Speak ``text`` into the WAV file ``out_path`` (written atomically)."""
        ...


def language_mismatch(
    language: str, backend: str, voice: str, speaks: str
) -> InvalidParameterError:
    return InvalidParameterError(
        f"the text is in {language!r} but the {backend} voice {voice!r} speaks {speaks!r}; "
        f"use tts='espeak-ng' (offline, speaks {language!r} if espeak-ng knows it), tts='gtts' "
        f"(online, as the reference), a {backend} voice for {language!r}, or "
        f"language={speaks!r} if the text really is in that language"
    )


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write int16 mono ``samples`` to ``path`` atomically (:func:`berg.files.atomic_open`)."""
    with atomic_open(path, "wb") as raw, wave.open(raw, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())


def wav_info(path: Path) -> tuple[int, int] | None:
    """(sample_rate, n_frames) of a complete, non-empty mono 16-bit WAV; None otherwise."""
    try:
        with wave.open(str(path), "rb") as wav:
            n_frames = wav.getnframes()
            ok = (
                wav.getnchannels() == 1
                and wav.getsampwidth() == 2
                and n_frames > 0
                and len(wav.readframes(n_frames)) == 2 * n_frames
            )
            return (wav.getframerate(), n_frames) if ok else None
    except (OSError, EOFError, wave.Error):
        return None


def speech_from_file(path: Path, backend: str, voice: str, language: str) -> SynthesizedSpeech:
    info = wav_info(path)
    if info is None:
        raise StimulusError(f"the {backend} synthesiser wrote no usable audio to {str(path)!r}")
    sample_rate, n_frames = info
    return SynthesizedSpeech(
        path=path,
        sample_rate=sample_rate,
        duration=n_frames / sample_rate,
        backend=backend,
        voice=voice,
        language=language,
    )


def preview(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
