"""What every recogniser shares: the interface, the audio it takes, and its words made tidy
(timed, and their edges moved off silence)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import numpy as np

from berg.errors import (
    InvalidParameterError,
    StimulusError,
)
from berg.stimulus.events import TimedWord, Transcript
from berg.validation import is_int

__all__ = [
    "SAMPLE_RATE",
    "SILENCE_PEAK",
    "Transcriber",
    "as_transcriber",
    "check_audio",
    "snap_to_speech",
    "timed_words",
]


#: The only sample rate Whisper accepts.
SAMPLE_RATE = 16000


# Audio whose loudest sample is below -60 dBFS has no speech in it; Whisper, given digital
# silence, invents words ("You") that its no-speech filter does not always catch.
SILENCE_PEAK = 1e-3


@runtime_checkable
class Transcriber(Protocol):
    """Anything that turns 16 kHz mono samples into a :class:`Transcript`, with a model that
    loads on first use (both recognisers of berg are such). A user's object that only has
    ``transcribe`` is given the rest by :func:`as_transcriber`."""

    #: Where it runs ('cpu', 'cuda'), for the provenance; None when unknown.
    device: str | None

    def transcribe(
        self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *, language: str | None = None
    ) -> Transcript:
        """Recognise the words in ``audio`` (float32, shape ``(n_samples,)``)."""
        ...

    def fingerprint(self) -> dict | None:
        """Everything that decides the words, for the transcript cache key (None: the
        words are never cached)."""
        ...

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        ...

    def load(self) -> None:
        """Load the model now rather than on first use."""
        ...

    def close(self) -> None:
        """Release the model; it loads again when next needed."""
        ...


class _PlainRecogniser:
    """A user's object with only ``transcribe``, given the rest of the protocol: nothing to
    load or release, no fingerprint (so its words are never cached)."""

    def __init__(self, recogniser):
        self.recogniser = recogniser
        self.device = getattr(recogniser, "device", None)

    def transcribe(self, audio, sample_rate=SAMPLE_RATE, *, language=None) -> Transcript:
        return self.recogniser.transcribe(audio, sample_rate, language=language)

    def fingerprint(self) -> None:
        return None

    loaded = True

    def load(self) -> None:
        pass

    def close(self) -> None:
        pass


def as_transcriber(recogniser: object) -> Transcriber:
    """``recogniser`` with the whole :class:`Transcriber` protocol.

    berg's recognisers (and any object that has the whole protocol) are returned as they are;
    an object that only has ``transcribe`` is wrapped (see :class:`_PlainRecogniser`).

    Raises
    ------
    InvalidParameterError
        ``recogniser`` has no ``transcribe`` method.
    """
    if isinstance(recogniser, Transcriber):
        return recogniser
    if not callable(getattr(recogniser, "transcribe", None)):
        raise InvalidParameterError(
            f"transcriber must have a transcribe(audio, sample_rate, "
            f"language=...) method, got {recogniser!r}"
        )
    return _PlainRecogniser(recogniser)


def check_audio(audio: object, sample_rate: object) -> np.ndarray:
    """Return ``audio`` as a contiguous float32 1-D array, or raise with the reason."""
    if not is_int(sample_rate) or sample_rate != SAMPLE_RATE:
        raise InvalidParameterError(
            f"sample_rate must be {SAMPLE_RATE} (Whisper's rate), got {sample_rate!r}; "
            f"decode or resample the audio to {SAMPLE_RATE} Hz first"
        )
    array = np.asarray(audio)
    if array.ndim != 1:
        raise StimulusError(
            f"audio must be mono samples of shape (n_samples,), got shape {array.shape}; "
            "mix the channels down first"
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise StimulusError(
            f"audio must be floating-point samples in [-1, 1], got dtype {array.dtype}; "
            "convert integer PCM by dividing by its full scale (32768 for int16)"
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.all(np.isfinite(array)):
        raise StimulusError(
            f"audio contains {int(np.count_nonzero(~np.isfinite(array)))} NaN or infinite samples"
        )
    return array


def timed_words(raw: Iterable[tuple[object, object, object]]) -> tuple[TimedWord, ...]:
    """Clean ``(text, start, end)`` triples into TimedWords, as the reference did.

    Whitespace and double quotes are stripped (other punctuation is kept: ``"here?"``);
    empty words and words without a finite start and end are dropped; times are rounded to
    the millisecond; the result is sorted by start time.
    """
    words = []
    for text, start, end in raw:
        if not isinstance(text, str):
            continue
        text = text.strip().replace('"', "").strip()
        if not text or not _is_time(start) or not _is_time(end):
            continue
        start, end = round(float(start), 3), round(float(end), 3)
        words.append(TimedWord(text=text, start=start, end=max(start, end)))
    words.sort(key=lambda word: word.start)
    return tuple(words)


def snap_to_speech(
    words: tuple[TimedWord, ...],
    audio: np.ndarray,
    *,
    frame: float = 0.01,
    quiet_db: float = -45.0,
    min_quiet: float = 0.1,
) -> tuple[TimedWord, ...]:
    """Move word starts (ends) that lie in a quiet stretch forward (back) onto the speech.

    A 10 ms frame is quiet when its RMS is ``quiet_db`` below the loudest frame's. A word's
    start moves to its first loud frame when at least ``min_quiet`` seconds of quiet open
    the word; its end likewise. Words with no loud frame at all are left alone.
    """
    hop = round(SAMPLE_RATE * frame)
    n_frames = audio.size // hop
    if not words or n_frames == 0:
        return words
    rms = np.sqrt(
        np.mean(np.square(audio[: n_frames * hop].reshape(n_frames, hop), dtype=np.float64), axis=1)
    )
    loud = rms > rms.max() * 10 ** (quiet_db / 20)
    snapped = []
    for word in words:
        first, last = int(word.start / frame), min(math.ceil(word.end / frame), n_frames)
        inside = np.flatnonzero(loud[first:last])
        start, end = word.start, word.end
        if inside.size:
            if inside[0] * frame >= min_quiet:
                start = round((first + inside[0]) * frame, 3)
            if (last - first - 1 - inside[-1]) * frame >= min_quiet:
                end = round((first + inside[-1] + 1) * frame, 3)
        snapped.append(
            word
            if (start, end) == (word.start, word.end)
            else TimedWord(text=word.text, start=start, end=max(start, end))
        )
    snapped.sort(key=lambda word: word.start)
    return tuple(snapped)


def _is_time(value: object) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
