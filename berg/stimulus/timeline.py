"""One stimulus file -> one :class:`Timeline`: the events the feature extractors read.

Everything lives on one stimulus clock that starts at 0 s (docs/inference.md, section 3):

- the media: its duration and which streams it has;
- the audio and video *chunks*: spans extracted independently by the audio and video feature
  extractors, cut by the reference's rule (:func:`split_into_chunks`);
- the spoken *words*, transcribed once for the whole stimulus, a long one in blocks cut at
  pauses (:mod:`berg.stimulus.recognition`; the reference transcribed each chunk and copied
  the whole transcript into every chunk, duplicating words in stimuli of 90 s or more; we do
  not), each with the context string the text model reads.

A text stimulus is first spoken by a speech synthesiser (its WAV goes to the cache directory,
never beside the input) and then handled like an audio file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berg.errors import InvalidParameterError, StimulusError
from berg.stimulus.recognition import RECOGNITION_BLOCK_S, RecognitionBlocks, recognise
from berg.timing import StageClock

__all__ = [
    "StimulusOptions",
    "Chunk",
    "TimelineWord",
    "Timeline",
    "split_into_chunks",
    "build_timeline",
    "CHUNK_SECONDS",
    "MIN_CHUNK_SECONDS",
]

#: The reference cuts audio and video events at multiples of this many seconds ...
CHUNK_SECONDS = 60.0
#: ... keeping a cut only when both sides are at least this long.
MIN_CHUNK_SECONDS = 30.0


@dataclass(frozen=True)
class Chunk:
    """A span of the stimulus that an extractor processes on its own.

    Attributes
    ----------
    start, duration : float
        Seconds on the stimulus clock.
    """

    start: float
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class TimelineWord:
    """A spoken word placed on the stimulus clock, with the text model's context.

    Attributes
    ----------
    text : str
        The word as transcribed, double quotes removed.
    start, duration : float
        Seconds on the stimulus clock (``duration = end - start`` of the recogniser).
    context : str
        Up to 1,024 words of preceding text ending with this word, re-cased and joined as the
        model was trained (docs/inference.md, section 6). Never empty: words whose context is
        empty are dropped when the timeline is built.
    """

    text: str
    start: float
    duration: float
    context: str

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class Timeline:
    """What one stimulus file holds, on one clock starting at 0 s.

    Attributes
    ----------
    path : Path
        The stimulus file.
    kind : {'video', 'audio', 'text'}
        From the file's extension.
    duration : float
        Seconds of stimulus: the media's duration (for text, the synthesised speech's).
        The model's output has ``ceil(duration)`` rows.
    audio_source : Path or None
        The file the audio extractor reads: the stimulus itself, or for a text stimulus the
        synthesised WAV in the cache. None when there is no audio.
    video_source : Path or None
        The file the video extractor reads when it is not the stimulus itself: an image's
        still video in the cache.
    audio_chunks, video_chunks : tuple of Chunk
        Empty when the stimulus has no such stream.
    words : tuple of TimelineWord
        Empty when nobody speaks (silence, music, no audio track).
    language : str or None
        Spoken (or written) language, ISO 639-1, when known.
    provenance : dict
        How the timeline was made: media facts, ASR/TTS backend and model, sentence splitter.
    digests : dict
        SHA-256 of files read while it was built (path -> hex), so that the feature cache
        does not hash a two-hour film a second time.
    """

    path: Path
    kind: str
    duration: float
    audio_source: Path | None
    audio_chunks: tuple[Chunk, ...]
    video_chunks: tuple[Chunk, ...]
    words: tuple[TimelineWord, ...]
    language: str | None
    provenance: dict[str, Any] = field(default_factory=dict)
    digests: dict[Path, str] = field(default_factory=dict, repr=False)
    video_source: Path | None = None

    @property
    def modalities(self) -> tuple[str, ...]:
        """The modalities this stimulus feeds, in the model's order (text, audio, video)."""
        present = {
            "text": bool(self.words),
            "audio": bool(self.audio_chunks),
            "video": bool(self.video_chunks),
        }
        return tuple(name for name, yes in present.items() if yes)


@dataclass(frozen=True)
class StimulusOptions:
    """How a stimulus file becomes a timeline, checked once when built.

    Attributes
    ----------
    language : str or None
        ISO 639-1 code (or English name) to force for recognition and synthesis; found from
        the speech or the text when None.
    tts : str
        Speech synthesiser for text stimuli: 'piper' (offline, default), 'espeak-ng'
        (offline) or 'gtts' (online, what the reference used).
    tts_options : mapping
        Passed to the synthesiser (e.g. ``{"voice": path}``).
    sentence_splitter : 'auto', 'spacy', 'spacy:<pipeline>', 'rules' or callable
        How the transcript is split into sentences for the contexts.
    image_duration : float
        Seconds an image stimulus is shown, as a silent still video (the paper's 1 s).
    asr_block_s : float or None
        Seconds of sound recognised at a time, cut at a pause
        (:mod:`berg.stimulus.recognition`); None: the whole sound at once.

    Raises
    ------
    InvalidParameterError, MissingDependencyError, ModelLoadError
        A bad language, an unknown synthesiser or option (with the close match), a voice
        file that is not there, an unknown splitter or a missing spaCy pipeline.
    """

    language: str | None = None
    tts: str = "piper"
    tts_options: Mapping[str, Any] = field(default_factory=dict)
    sentence_splitter: Any = "auto"
    image_duration: float = 1.0
    asr_block_s: float | None = RECOGNITION_BLOCK_S

    def __post_init__(self) -> None:
        from berg.stimulus.options import check_language
        from berg.stimulus.speech import check_synthesizer
        from berg.stimulus.still import check_image_duration
        from berg.stimulus.text.splitters import check_splitter

        tts_options = {} if self.tts_options is None else self.tts_options
        if not isinstance(tts_options, Mapping):
            raise InvalidParameterError(f"tts_options must be a dict, got {tts_options!r}")
        object.__setattr__(self, "tts_options", dict(tts_options))
        object.__setattr__(self, "language", check_language(self.language))
        check_synthesizer(self.tts, self.tts_options)
        check_splitter(self.sentence_splitter, self.language)
        object.__setattr__(self, "image_duration", check_image_duration(self.image_duration))
        object.__setattr__(self, "asr_block_s", self.recognition_blocks.block_s)

    @property
    def recognition_blocks(self) -> RecognitionBlocks:
        """``asr_block_s`` as :class:`berg.stimulus.recognition.RecognitionBlocks`."""
        return RecognitionBlocks(self.asr_block_s)


def split_into_chunks(
    duration: float,
    start: float = 0.0,
    *,
    every: float = CHUNK_SECONDS,
    min_seconds: float = MIN_CHUNK_SECONDS,
) -> tuple[Chunk, ...]:
    """Cut an event into the chunks the reference extracts independently.

    Candidate cuts are at ``every``, ``2 * every``, ... seconds after the event's start; a cut
    is kept only if the piece before it (since the last kept cut) and the rest of the event
    after it are both at least ``min_seconds`` long. So 80 s stays whole, 100 s becomes
    [0, 60) + [60, 100), and 140 s becomes [0, 60) + [60, 140).

    Parameters
    ----------
    duration : float
        Seconds; must be > 0.
    start : float
        Where the event starts on the stimulus clock.

    Returns
    -------
    tuple of Chunk
        Contiguous, covering [start, start + duration).
    """
    if not duration > 0:
        raise StimulusError(f"cannot chunk an event of duration {duration!r} s")
    cuts = [0.0]
    k = 1
    while k * every < duration:
        t = k * every
        if t - cuts[-1] >= min_seconds and duration - t >= min_seconds:
            cuts.append(t)
        k += 1
    cuts.append(duration)
    return tuple(Chunk(start + a, b - a) for a, b in zip(cuts, cuts[1:]))


def build_timeline(
    stimulus: str | os.PathLike,
    *,
    cache_dir: str | os.PathLike,
    transcriber=None,
    options: StimulusOptions | None = None,
    clock=None,
) -> Timeline:
    """Decode, transcribe (or synthesise) and contextualise one stimulus file.

    Parameters
    ----------
    stimulus : path
        A video, audio or text file (kind from the extension).
    cache_dir : path
        Where synthesised speech and transcripts are kept (content-addressed; never beside
        the input).
    transcriber : Transcriber, optional
        Speech recogniser for audio with speech; default: faster-whisper large-v3 (on a GPU
        when CTranslate2 sees one).
    options : StimulusOptions, optional
        Language, speech synthesiser and sentence splitter (default: the defaults of
        :class:`StimulusOptions`).
    clock : berg.timing.StageClock, optional
        Records the ``tts``, ``decode``, ``load_asr``, ``asr`` and ``contexts`` stages
        (``load_asr`` and ``asr`` only when the words are not in the transcript cache).

    Raises
    ------
    StimulusError
        The file is missing, unreadable, of an unsupported kind, or not usable media.
    """
    from berg.stimulus import media, text
    from berg.stimulus.kinds import check_stimulus_file
    from berg.stimulus.transcribe import as_transcriber

    clock = clock or StageClock()
    options = StimulusOptions() if options is None else options
    if not isinstance(options, StimulusOptions):
        raise InvalidParameterError(f"options must be a StimulusOptions, got {options!r}")
    language = options.language
    path, kind = check_stimulus_file(stimulus)
    provenance: dict[str, Any] = {"stimulus": str(path), "kind": kind}
    video_source = None

    if kind == "text":
        from berg.stimulus.speech import synthesize_text_file

        with clock.stage("tts"):
            speech = synthesize_text_file(
                path, Path(cache_dir), backend=options.tts, language=language, **options.tts_options
            )
        provenance["tts"] = {
            "backend": speech.backend,
            "voice": speech.voice,
            "language": speech.language,
            "speech_file": str(speech.path),
        }
        language = language or speech.language
        audio_source = speech.path
        with clock.stage("decode"):
            info = media.probe(audio_source)
    elif kind == "image":  # a silent still video, made once into the cache
        from berg.stimulus.still import STILL_FPS, still_video

        with clock.stage("decode"):
            video_source = still_video(path, Path(cache_dir), options.image_duration)
            info = media.probe(video_source)
        provenance["still"] = {
            "duration_s": options.image_duration,
            "fps": STILL_FPS,
            "video": str(video_source),
            "codec": "ffv1 (lossless 8-bit RGB)",
        }
        audio_source = None
    else:
        with clock.stage("decode"):
            info = media.probe(path)
        audio_source = path if info.has_audio else None
        if kind == "audio" and not info.has_audio:
            raise StimulusError(f"audio stimulus {str(path)!r} has no audio track")
        if kind == "video" and not info.has_video and not info.has_audio:
            raise StimulusError(f"video stimulus {str(path)!r} has neither video nor audio")
    provenance["media"] = {
        "duration": info.duration,
        "has_video": info.has_video,
        "has_audio": info.has_audio,
        "fps": info.fps,
        "width": info.width,
        "height": info.height,
    }
    if kind == "video" and not info.has_video:
        provenance["warnings"] = [f"{path.name} has no video stream: audio and text only"]

    use_video = kind in ("video", "image") and info.has_video
    duration = options.image_duration if kind == "image" else float(info.duration)
    shown = duration if kind == "image" else (info.video_duration or info.duration)
    video_chunks = split_into_chunks(shown) if use_video else ()
    # The reference extracts a video's soundtrack to a WAV as long as the video (padded with
    # silence), so a video's audio chunks follow the video's span, not the audio track's.
    audio_span = (
        (info.video_duration or info.duration)
        if use_video
        else (info.audio_duration or info.duration)
    )
    audio_chunks = split_into_chunks(audio_span) if audio_source is not None else ()

    words: tuple[TimelineWord, ...] = ()
    digests: dict[Path, str] = {}
    if audio_source is not None:
        transcriber = as_transcriber(transcriber or _default_transcriber())
        sound_s = info.audio_duration or info.duration
        blocks = options.recognition_blocks
        transcript, cached = recognise(
            audio_source,
            transcriber,
            language,
            Path(cache_dir) / "transcripts",
            clock,
            digests,
            stimulus=path,
            duration=sound_s,
            blocks=blocks,
        )
        language = language or transcript.language
        provenance["asr"] = {
            "backend": transcript.backend,
            "model": transcript.model,
            "device": transcriber.device,
            "language": transcript.language,
            "language_probability": transcript.language_probability,
            "from_cache": cached,
            # seconds per block when the sound was recognised in blocks, else None
            "block_s": blocks.block_s if blocks.cuts(sound_s) else None,
        }
        with clock.stage("contexts"):
            splitter = text.resolve_splitter(options.sentence_splitter, language=language)
            provenance["sentence_splitter"] = splitter.name
            words = tuple(
                TimelineWord(text=word.text, start=word.start, duration=word.duration, context=ctx)
                for word, ctx in text.attach_contexts(
                    transcript.words, splitter=splitter, language=language
                )
            )
    return Timeline(
        path=path,
        kind=kind,
        duration=duration,
        audio_source=audio_source,
        audio_chunks=audio_chunks,
        video_chunks=video_chunks,
        words=words,
        language=language,
        provenance=provenance,
        digests=digests,
        video_source=video_source,
    )


def _default_transcriber():
    from berg.stimulus.transcribe import FasterWhisperTranscriber

    return FasterWhisperTranscriber()
