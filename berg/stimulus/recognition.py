"""A stimulus's sound -> its words, from the transcript cache or the recogniser, in blocks.

A film's soundtrack is not handed to the recogniser whole: at 16 kHz two hours are 460 MB of
samples, and Whisper's log-mel features for all of it as much again. The sound is decoded as
a stream and recognised in *blocks* of about ``block_s`` seconds (600 by default), each cut
in a silence:

- the cut lies in the last ``search_s`` seconds of the block (a tenth of it, at most 60 s),
  on Whisper's 20 ms time grid, at the middle of the longest pause that the Silero
  voice-activity detector (the one faster-whisper bundles; WhisperX's VAD does the same job)
  finds there; where nobody pauses, at the quietest 100 ms;
- each block is recognised on its own and its word times are moved by the block's start;
  the language found in the first block with speech is forced on the later ones, so that a
  film is not heard as two languages;
- memory is bounded by one block (~40 MB of samples), not by the film.

Whisper reads 30 s windows and conditions each on the text before it, so its words depend a
little on where decoding starts even without cuts (the same sound 0.5 s later can change a
word); a cut restarts the windows and the context. Measured (``benchmarks/
bench_recognition.py``, tiny.en, 3 minutes, blocks of 60 s): 4 words in 411 differ from one
whole-sound pass, the matched words' starts move by 0 s at the median and 30 ms at the 95th
percentile; the tests hold blocks to that. A sound no longer than one
block is recognised whole, as before, and its transcript keeps its cache entry; the block rule
is in the cache key of longer ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from berg.errors import InvalidParameterError, naming
from berg.stimulus.events import TimedWord, Transcript
from berg.stimulus.transcribe.words import SAMPLE_RATE as _RATE  # Whisper's
from berg.timing import StageClock

__all__ = [
    "RECOGNITION_BLOCK_S",
    "RecognitionBlocks",
    "find_cut",
    "recognise",
    "recognise_in_blocks",
]

#: Seconds of sound recognised at a time by default.
RECOGNITION_BLOCK_S = 600.0
#: The shortest block allowed: Whisper reads 30 s windows.
MIN_BLOCK_S = 30.0
_PIECE_S = 30.0  # seconds decoded at a time while a block fills
_QUIET_S = 0.1  # frame of the quietest-stretch fallback
# Cuts fall on Whisper's 20 ms time step (two 10 ms mel hops), so that a block's frames and
# word times lie on the grid the whole sound's would.
_GRID = 320
_RULE = 1  # bump when the way blocks are cut changes, so cached transcripts are redone


@dataclass(frozen=True)
class RecognitionBlocks:
    """How a long sound is cut for the recogniser.

    Attributes
    ----------
    block_s : float or None
        Seconds per block (at least 30); None: the whole sound at once, however long.
    search_s : float
        Seconds at the end of each block in which the cut is sought: a tenth of the block,
        at most 60 (derived).

    Raises
    ------
    InvalidParameterError
        ``block_s`` is not None nor a number of seconds of at least 30.
    """

    block_s: float | None = RECOGNITION_BLOCK_S

    def __post_init__(self) -> None:
        value = self.block_s
        if value is None:
            return
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < MIN_BLOCK_S
        ):
            raise InvalidParameterError(
                f"asr_block_s must be a number of seconds of at least {MIN_BLOCK_S:g} (Whisper "
                f"reads 30 s windows), or None to recognise the whole sound at once; "
                f"got {value!r}"
            )
        object.__setattr__(self, "block_s", float(value))

    @property
    def search_s(self) -> float:
        return 0.0 if self.block_s is None else min(60.0, self.block_s / 10)

    def cuts(self, duration: float) -> bool:
        """Whether a sound of ``duration`` seconds is recognised in more than one block."""
        return self.block_s is not None and duration > self.block_s

    def key(self) -> dict:
        """The rule, for the transcript cache key of a sound that is cut."""
        return {"block_s": self.block_s, "search_s": self.search_s, "rule": _RULE}


def find_cut(samples: np.ndarray, rate: int = _RATE) -> int:
    """Where to cut ``samples`` (the search stretch at a block's end): an index into it.

    The middle of the longest stretch without speech, by Silero VAD (faster-whisper's; pauses
    of 100 ms or more, speech not padded); the whole stretch counts as one pause when there is
    no speech in it. When speech never pauses, the middle of the quietest 100 ms frame.

    Parameters
    ----------
    samples : ndarray, float32, shape (n,)
        Mono samples at ``rate`` (16 kHz).

    Returns
    -------
    int
        ``0 <= cut <= n``.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    n = samples.shape[0]
    speech = get_speech_timestamps(
        samples, VadOptions(min_silence_duration_ms=100, speech_pad_ms=0), sampling_rate=rate
    )
    edges = [0] + [i for segment in speech for i in (segment["start"], segment["end"])] + [n]
    gaps = [(b - a, a, b) for a, b in zip(edges[::2], edges[1::2]) if b > a]
    if gaps:
        _, a, b = max(gaps)  # the longest; on a tie the later one (the block stays long)
        if b - a >= _QUIET_S * rate:
            return (a + b) // 2
    frame = round(_QUIET_S * rate)
    n_frames = n // frame
    if n_frames == 0:
        return n // 2
    energy = np.square(samples[: n_frames * frame].reshape(n_frames, frame), dtype=np.float64)
    quietest = int(np.argmin(energy.sum(axis=1)))
    return quietest * frame + frame // 2


def recognise(
    audio_source: Path,
    transcriber,
    language: str | None,
    cache_root: Path,
    clock: StageClock,
    digests: dict[Path, str],
    stimulus: Path,
    *,
    duration: float,
    blocks: RecognitionBlocks,
) -> tuple[Transcript, bool]:
    """``(transcript, from_cache)``: the words of ``audio_source``, from the transcript cache
    when this recogniser (its ``fingerprint()``) already heard these bytes under this block
    rule. The sound's hash goes into ``digests``.

    Parameters
    ----------
    duration : float
        Seconds of the sound (probed): it decides whether it is cut into blocks.
    blocks : RecognitionBlocks
        The block rule.

    Notes
    -----
    A recogniser without ``fingerprint`` (a custom one) is always run. Stages: ``decode``
    (hashing the sound for the look-up, decoding it), and only when the recogniser runs,
    ``load_asr`` and ``asr``. Errors of the recogniser name the ``stimulus`` file.
    """
    from berg.files import file_sha256
    from berg.stimulus import media
    from berg.stimulus.transcript_cache import TranscriptCache

    cut = blocks.cuts(duration)
    cache = key = None
    fingerprint = transcriber.fingerprint()
    if fingerprint is not None:
        with clock.stage("decode"):
            cache = TranscriptCache(cache_root)
            digests[audio_source] = file_sha256(audio_source)
            key = cache.key(
                digests[audio_source], fingerprint, language, blocks=blocks.key() if cut else None
            )
            transcript = cache.get(key)
        if transcript is not None:
            return transcript, True
    if not transcriber.loaded:
        with clock.stage("load_asr"):
            transcriber.load()
    with naming(f"stimulus {str(stimulus)!r}", mentions=str(stimulus)):
        if cut:
            transcript = recognise_in_blocks(audio_source, transcriber, language, blocks, clock)
        else:
            with clock.stage("decode"):
                samples = media.read_audio(audio_source, _RATE)
            with clock.stage("asr"):
                transcript = transcriber.transcribe(samples, _RATE, language=language)
            del samples
    if cache is not None:
        cache.put(key, transcript)
    return transcript, False


def recognise_in_blocks(
    audio_source: Path,
    transcriber,
    language: str | None,
    blocks: RecognitionBlocks,
    clock: StageClock | None = None,
) -> Transcript:
    """The words of ``audio_source``, recognised block by block (see the module notes).

    Parameters
    ----------
    audio_source : path
        A sound, or a video with a sound track.
    transcriber : Transcriber
        Loaded on first use.
    language : str or None
        ISO 639-1 code to force; None: found in the first block with speech and forced on
        the later ones.
    blocks : RecognitionBlocks
        ``block_s`` must not be None.
    clock : StageClock, optional
        Records ``decode`` (reading and cutting) and ``asr``.

    Returns
    -------
    Transcript
        Word times in seconds from the sound's first sample; the language (and its
        probability) of the block that found it.
    """
    from berg.stimulus import media

    if blocks.block_s is None:
        raise InvalidParameterError("recognise_in_blocks needs a block length, not None")
    clock = clock or StageClock()
    size, search = round(blocks.block_s * _RATE), round(blocks.search_s * _RATE)
    pieces = media.iter_audio_blocks(audio_source, _RATE, block_seconds=_PIECE_S)
    held = np.zeros(0, np.float32)
    offset = 0  # samples before ``held``
    words: list[TimedWord] = []
    found: Transcript | None = None  # the first block's transcript that has a language
    first: Transcript | None = None
    ended = False
    while not ended or held.size:
        with clock.stage("decode"):
            while not ended and held.size <= size:
                piece = next(pieces, None)
                if piece is None:
                    ended = True
                else:
                    held = np.concatenate([held, piece[1]])
            if held.size > size:  # more sound follows: cut in the block's last stretch
                end = size - search + find_cut(held[size - search : size])
                end = max(_GRID, end - (offset + end) % _GRID)
            else:
                end = held.size
            block, held = held[:end], held[end:]
        forced = language or (found.language if found is not None else None)
        with clock.stage("asr"):
            transcript = transcriber.transcribe(block, _RATE, language=forced)
        first = first or transcript
        if found is None and transcript.words:
            found = transcript
        shift = offset / _RATE
        words.extend(
            TimedWord(w.text, round(w.start + shift, 3), round(w.end + shift, 3))
            for w in transcript.words
        )
        offset += end
        del block
    words.sort(key=lambda word: word.start)
    source = found or first
    return Transcript(
        words=tuple(words),
        language=language or source.language,
        language_probability=None if language else source.language_probability,
        backend=source.backend,
        model=source.model,
    )
