"""Recognisers by name."""

from __future__ import annotations

from berg.stimulus.options import make_backend
from berg.stimulus.transcribe.faster_whisper import FasterWhisperTranscriber
from berg.stimulus.transcribe.whisperx import WhisperXTranscriber
from berg.stimulus.transcribe.words import Transcriber

__all__ = ["TRANSCRIBERS", "make_transcriber"]


#: Backend names accepted by :func:`make_transcriber`.
TRANSCRIBERS = ("faster-whisper", "whisperx")


def make_transcriber(backend: str = "faster-whisper", **options) -> Transcriber:
    """Build a transcriber by backend name.

    Parameters
    ----------
    backend : {'faster-whisper', 'whisperx'}
        ``'faster_whisper'`` and other case/underscore variants are accepted.
    **options
        Passed to :class:`FasterWhisperTranscriber` or :class:`WhisperXTranscriber`.

    Raises
    ------
    InvalidParameterError
        Unknown backend or option (the message lists the valid ones).
    """
    classes = {"faster-whisper": FasterWhisperTranscriber, "whisperx": WhisperXTranscriber}
    return make_backend("transcriber", backend, classes, options)
