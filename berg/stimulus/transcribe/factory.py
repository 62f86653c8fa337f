"""Recognisers by name."""

from __future__ import annotations

from berg.errors import InvalidParameterError
from berg.stimulus.options import backend_class, make_backend
from berg.stimulus.transcribe.faster_whisper import FasterWhisperTranscriber
from berg.stimulus.transcribe.whisperx import WhisperXTranscriber
from berg.stimulus.transcribe.words import Transcriber

__all__ = ["TRANSCRIBERS", "check_transcriber", "make_transcriber"]


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
    return make_backend("transcriber", backend, _CLASSES, options)


_CLASSES = {"faster-whisper": FasterWhisperTranscriber, "whisperx": WhisperXTranscriber}
# Given on their own (asr_model, asr_device, language), not among the decoding options.
_SEPARATE = {"model": "asr_model", "device": "asr_device", "language": "language"}


def check_transcriber(backend: object = "faster-whisper", options: dict | None = None) -> None:
    """Check a recogniser's name, its decoding options' names and values, without building
    it (nor importing its package).

    Raises
    ------
    InvalidParameterError
        Unknown backend or option (with the valid ones), a bad value, or an option that is
        given on its own (``model`` is ``asr_model``, ``device`` is ``asr_device``).
    """
    options = dict(options or {})
    for name, instead in _SEPARATE.items():
        if name in options:
            raise InvalidParameterError(
                f"asr_options cannot set {name!r}: use the option {instead!r}"
            )
    backend_class("transcriber", backend, _CLASSES, options).check_options(**options)
