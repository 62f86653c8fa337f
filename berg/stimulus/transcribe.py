"""Speech to timed words: a Whisper recogniser behind a one-method interface.

The reference ran WhisperX large-v3 with the language forced to English, float16 hard-coded
(which fails on the CPU) and ``subprocess.run`` patched globally. Here:

- :class:`FasterWhisperTranscriber` (the default) runs Whisper through CTranslate2 with word
  timestamps. The language is detected unless given, and recorded in the transcript.
- :class:`WhisperXTranscriber` reproduces the reference's recogniser (WhisperX + wav2vec2
  forced alignment) when the optional ``whisperx`` package is installed.
- Both pick a compute type the device supports (float16 on CUDA, int8 on the CPU) and change
  no global state.

Every backend takes float32 mono samples at 16 kHz (what Whisper was trained on) and returns
a :class:`~berg.stimulus.events.Transcript` whose word times are seconds from the first sample.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from berg.errors import (
    BERGError,
    DeviceNotAvailableError,
    InvalidParameterError,
    MissingDependencyError,
    ModelLoadError,
    StimulusError,
    did_you_mean,
    format_choices,
)
from berg.packages import installed_versions
from berg.stimulus.events import TimedWord, Transcript
from berg.stimulus.options import make_backend, normalize_language

__all__ = [
    "SAMPLE_RATE",
    "TRANSCRIBERS",
    "Transcriber",
    "FasterWhisperTranscriber",
    "WhisperXTranscriber",
    "make_transcriber",
]

#: The only sample rate Whisper accepts.
SAMPLE_RATE = 16000

#: Backend names accepted by :func:`make_transcriber`.
TRANSCRIBERS = ("faster-whisper", "whisperx")

# Audio whose loudest sample is below -60 dBFS has no speech in it; Whisper, given digital
# silence, invents words ("You") that its no-speech filter does not always catch.
_SILENCE_PEAK = 1e-3

_DEVICES = ("cpu", "cuda", "auto")


@runtime_checkable
class Transcriber(Protocol):
    """Anything that turns 16 kHz mono samples into a :class:`Transcript`."""

    def transcribe(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *,
                   language: str | None = None) -> Transcript:
        """Recognise the words in ``audio`` (float32, shape ``(n_samples,)``)."""
        ...


# ---------------------------------------------------------------------------------------------
# faster-whisper


class FasterWhisperTranscriber:
    """Whisper with word timestamps through faster-whisper (CTranslate2).

    Parameters
    ----------
    model : str or os.PathLike
        A Whisper size known to faster-whisper (``"large-v3"``, the reference's, ``"tiny.en"``,
        ...), a Hugging Face repo id of a CTranslate2 conversion (``"Systran/faster-whisper-
        large-v3"``), or a local directory holding a converted model (``model.bin``,
        ``config.json``, ``tokenizer.json``). Names are downloaded once into the Hugging Face
        cache (or ``download_root``).
    device : {'auto', 'cpu', 'cuda', 'cuda:N'}
        ``'auto'`` takes the first GPU CTranslate2 can use, else the CPU.
    compute_type : str, optional
        CTranslate2 compute type. Default: ``'float16'`` on CUDA, ``'int8'`` on the CPU (never
        float16 there: CTranslate2 cannot run it on a CPU). An explicit value must be one the
        device supports.
    beam_size : int
        Beam width of the decoder (faster-whisper's and the reference's 5).
    vad_filter : bool
        Skip non-speech with the Silero voice-activity detector (bundled with faster-whisper)
        first. On by default, as WhisperX, the reference's recogniser, always ran a VAD:
        without it Whisper invents words in music and noise (tiny.en hears "You" in a
        two-tone chord). Word times stay on the original timeline either way.
    snap_to_speech : bool
        Move word edges that Whisper placed in silence onto the speech. Whisper's word times
        come from attention, not from the sound: after a pause (typically at the very start
        of a stimulus) the first word often starts up to a second early, and a word before a
        pause ends late. A word edge is moved only when at least 0.1 s of the word's own span
        there is 45 dB below the loudest 10 ms of the recording, so times in continuous
        speech, or over background sound, are left as Whisper gave them.
    download_root : path, optional
        Where named models are downloaded (default: the Hugging Face cache).
    local_files_only : bool
        Never touch the network; the model must already be downloaded.
    cpu_threads : int
        CPU threads for CTranslate2; 0 lets it choose (4, or ``OMP_NUM_THREADS``).

    Notes
    -----
    The model is loaded on the first :meth:`transcribe` and kept until :meth:`close`.
    English-only models (names ending in ``.en``) cannot detect the language: their
    transcripts report ``'en'`` with ``language_probability=None``. Audio whose loudest
    sample is below -60 dBFS is not decoded at all and has no words (given digital silence,
    Whisper makes up words such as "You").

    Examples
    --------
    >>> asr = FasterWhisperTranscriber("large-v3", device="cuda")      # doctest: +SKIP
    >>> transcript = asr.transcribe(samples_16k)                        # doctest: +SKIP
    >>> [(w.text, w.start) for w in transcript.words][:2]               # doctest: +SKIP
    [('Hello', 0.32), ('there.', 0.61)]
    """

    backend = "faster-whisper"

    def __init__(self, model: str | os.PathLike = "large-v3", *, device: str = "auto",
                 compute_type: str | None = None, beam_size: int = 5,
                 vad_filter: bool = True, snap_to_speech: bool = True,
                 download_root: str | os.PathLike | None = None,
                 local_files_only: bool = False, cpu_threads: int = 0):
        self.model_name, self._model_source = _resolve_whisper_model(model)
        self.device, self.device_index = _resolve_device(device)
        self.compute_type = _choose_compute_type(self.device, compute_type)
        if not isinstance(beam_size, int) or isinstance(beam_size, bool) or beam_size < 1:
            raise InvalidParameterError(f"beam_size must be a positive integer, got {beam_size!r}")
        if not isinstance(cpu_threads, int) or isinstance(cpu_threads, bool) or cpu_threads < 0:
            raise InvalidParameterError(
                f"cpu_threads must be an integer >= 0 (0: CTranslate2 chooses), got "
                f"{cpu_threads!r}")
        self.beam_size = beam_size
        self.vad_filter = bool(vad_filter)
        self.snap_to_speech = bool(snap_to_speech)
        self.download_root = None if download_root is None else str(download_root)
        self.local_files_only = bool(local_files_only)
        self.cpu_threads = cpu_threads
        self._model = None

    def __repr__(self) -> str:
        return (f"FasterWhisperTranscriber(model={self.model_name!r}, device={self.device!r}, "
                f"compute_type={self.compute_type!r})")

    def __enter__(self) -> FasterWhisperTranscriber:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the model (its memory is freed once nothing else holds it)."""
        self._model = None

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (it loads on the first :meth:`transcribe`)."""
        return self._model is not None

    def load(self) -> None:
        """Load the model now rather than on the first :meth:`transcribe`."""
        self._load()

    def fingerprint(self) -> dict:
        """Everything that decides the words, for the transcript cache key.

        A model folder is identified by content (:func:`berg.files.folder_digest`),
        a named model by its name. The device and compute type are in: float16 on a GPU and
        int8 on a CPU can decode differently. CPU threads are not.
        """
        return {"backend": self.backend, "model": _model_identity(self._model_source),
                "device": self.device, "compute_type": self.compute_type,
                "beam_size": self.beam_size, "vad_filter": self.vad_filter,
                "snap_to_speech": self.snap_to_speech, "silence_peak": _SILENCE_PEAK,
                "packages": installed_versions("faster-whisper", "ctranslate2")}

    def _load(self):
        if self._model is not None:
            return self._model
        from faster_whisper import WhisperModel

        try:
            self._model = WhisperModel(
                self._model_source, device=self.device, device_index=self.device_index,
                compute_type=self.compute_type, cpu_threads=self.cpu_threads,
                download_root=self.download_root, local_files_only=self.local_files_only)
        except Exception as error:
            raise _model_load_error(self.model_name, self._model_source, error,
                                    self.local_files_only) from error
        return self._model

    def transcribe(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *,
                   language: str | None = None) -> Transcript:
        """Recognise the words in ``audio``.

        Parameters
        ----------
        audio : ndarray, shape (n_samples,)
            Mono samples in [-1, 1] (float; converted to float32).
        sample_rate : int
            Must be 16000; resample before calling.
        language : str, optional
            ISO 639-1 code to force (``"en"``, ``"fr"``...). Detected when None.

        Returns
        -------
        Transcript
            Words in temporal order with start/end in seconds from the first sample.

        Raises
        ------
        StimulusError
            ``audio`` is not a finite 1-D float array.
        InvalidParameterError
            ``sample_rate`` is not 16000, or the model does not know ``language``.
        ModelLoadError
            The model cannot be found, downloaded or loaded.
        """
        audio = _check_audio(audio, sample_rate)
        language = normalize_language(language)
        model = self._load()
        multilingual = model.model.is_multilingual
        if language is not None and language not in model.supported_languages:
            if not multilingual:
                raise InvalidParameterError(
                    f"language={language!r} was requested but model {self.model_name!r} is "
                    "English-only; use a multilingual model (e.g. model='large-v3') or "
                    "language='en'")
            raise InvalidParameterError(
                f"Whisper does not know language {language!r}"
                f"{did_you_mean(language, model.supported_languages)} (valid: ISO 639-1 codes "
                f"such as {format_choices(model.supported_languages, limit=8)})")
        if not multilingual:
            language = "en"  # what the model speaks; nothing to detect

        if audio.size == 0 or float(np.max(np.abs(audio))) < _SILENCE_PEAK:
            return Transcript(words=(), language=language, language_probability=None,
                              backend=self.backend, model=self.model_name)

        # faster-whisper's filter banks are a NumPy matrix product, whose sums OpenBLAS
        # splits by its thread count: word times then move by 20 ms with OPENBLAS_NUM_THREADS
        # (a Ray worker sets it to its CPU share). One BLAS thread, for this call only, gives
        # the same words everywhere; the work is a small part of recognition.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            segments, info = model.transcribe(
                audio, language=language, beam_size=self.beam_size, word_timestamps=True,
                vad_filter=self.vad_filter)
            raw = [(w.word, w.start, w.end) for segment in segments
                   for w in (segment.words or ())]
        words = _timed_words(raw)
        if self.snap_to_speech:
            words = _snap_to_speech(words, audio)
        detected = language is None
        return Transcript(
            words=words,
            language=info.language,
            language_probability=float(info.language_probability) if detected else None,
            backend=self.backend, model=self.model_name)


# ---------------------------------------------------------------------------------------------
# WhisperX (optional; the reference's recogniser)


class WhisperXTranscriber:
    """The reference's recogniser: WhisperX (batched faster-whisper + VAD) and wav2vec2 alignment.

    Needs the optional ``whisperx`` package (``pip install whisperx``), imported on first use.

    Parameters
    ----------
    model : str
        Whisper model for WhisperX (the reference used ``"large-v3"``).
    align_model : str, optional
        Alignment model for English speech (the reference's
        ``"WAV2VEC2_ASR_LARGE_LV60K_960H"``). Other languages use WhisperX's default
        alignment model for that language; None uses it for English too.
    device : {'auto', 'cpu', 'cuda', 'cuda:N'}
    compute_type : str, optional
        Default: ``'float16'`` on CUDA, ``'int8'`` on the CPU (the reference's hard-coded
        float16 fails on a CPU).
    batch_size : int
        Segments decoded together.
    language : str, optional
        Default language for every call (the reference forced ``"en"``); detected when None.
        ``transcribe(language=...)`` overrides it.
    download_root : path, optional
        Where the Whisper model is downloaded (default: the Hugging Face cache).
    """

    backend = "whisperx"

    def __init__(self, model: str = "large-v3",
                 align_model: str | None = "WAV2VEC2_ASR_LARGE_LV60K_960H", *,
                 device: str = "auto", compute_type: str | None = None, batch_size: int = 16,
                 language: str | None = None, download_root: str | os.PathLike | None = None):
        # find_spec, not an import: importing whisperx pulls in torch, transformers, pyannote
        if sys.modules.get("whisperx") is None and importlib.util.find_spec("whisperx") is None:
            raise _missing_whisperx()
        if not isinstance(model, (str, os.PathLike)) or not str(model).strip():
            raise InvalidParameterError(f"model must be a Whisper model name or path, got "
                                        f"{model!r}")
        if align_model is not None and (not isinstance(align_model, str) or not align_model):
            raise InvalidParameterError(
                f"align_model must be an alignment model name or None, got {align_model!r}")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise InvalidParameterError(f"batch_size must be a positive integer, got "
                                        f"{batch_size!r}")
        self.model_name = str(model)
        self.align_model = align_model
        self.device, self.device_index = _resolve_device(device)
        self.compute_type = _choose_compute_type(self.device, compute_type)
        self.batch_size = batch_size
        self.language = normalize_language(language)
        self.download_root = None if download_root is None else str(download_root)
        self._asr = None
        self._aligners: dict[tuple[str, str | None], tuple[Any, Any]] = {}

    def __repr__(self) -> str:
        return (f"WhisperXTranscriber(model={self.model_name!r}, align_model={self.align_model!r}, "
                f"device={self.device!r}, compute_type={self.compute_type!r})")

    def __enter__(self) -> WhisperXTranscriber:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the Whisper and alignment models."""
        self._asr = None
        self._aligners.clear()

    @property
    def loaded(self) -> bool:
        """Whether the Whisper model is in memory (it loads on the first :meth:`transcribe`)."""
        return self._asr is not None

    def load(self) -> None:
        """Load the Whisper model now (alignment models load per language, when needed)."""
        self._load_asr(self._whisperx())

    def fingerprint(self) -> dict:
        """Everything that decides the words, for the transcript cache key."""
        return {"backend": self.backend, "model": _model_identity(self.model_name),
                "align_model": self.align_model, "device": self.device,
                "compute_type": self.compute_type, "batch_size": self.batch_size,
                "language": self.language, "packages": installed_versions("whisperx")}

    @property
    def _torch_device(self) -> str:
        return self.device if self.device == "cpu" else f"cuda:{self.device_index}"

    def _whisperx(self):
        try:
            import whisperx
        except ImportError as error:
            raise _missing_whisperx() from error
        return whisperx

    def _load_asr(self, whisperx):
        if self._asr is None:
            try:
                self._asr = whisperx.load_model(
                    self.model_name, self.device, device_index=self.device_index,
                    compute_type=self.compute_type, language=self.language,
                    download_root=self.download_root)
            except Exception as error:
                raise _model_load_error(self.model_name, self.model_name, error, False) from error
        return self._asr

    def _load_aligner(self, whisperx, language: str):
        name = self.align_model if language == "en" else None
        key = (language, name)
        if key not in self._aligners:
            try:
                self._aligners[key] = whisperx.load_align_model(
                    language_code=language, device=self._torch_device, model_name=name)
            except Exception as error:
                which = repr(name) if name else f"WhisperX's default for {language!r}"
                raise ModelLoadError(
                    f"could not load the alignment model {which} for language {language!r}: "
                    f"{error}. Pass align_model=<a wav2vec2 CTC model name> for English, check "
                    "the network, or use backend='faster-whisper' (no alignment model)") from error
        return self._aligners[key]

    def transcribe(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *,
                   language: str | None = None) -> Transcript:
        """Recognise and align the words in ``audio`` (float32, shape ``(n_samples,)``, 16 kHz).

        See :meth:`FasterWhisperTranscriber.transcribe`; WhisperX gives no language
        probability, so ``language_probability`` is None.
        """
        audio = _check_audio(audio, sample_rate)
        language = normalize_language(language) or self.language
        whisperx = self._whisperx()
        asr = self._load_asr(whisperx)
        if audio.size == 0 or float(np.max(np.abs(audio))) < _SILENCE_PEAK:
            return Transcript(words=(), language=language, language_probability=None,
                              backend=self.backend, model=self.model_name)
        result = asr.transcribe(audio, batch_size=self.batch_size, language=language)
        found = normalize_language(result.get("language")) or language
        segments = list(result.get("segments") or ())
        if not segments:
            return Transcript(words=(), language=found, language_probability=None,
                              backend=self.backend, model=self.model_name)
        align_model, metadata = self._load_aligner(whisperx, found)
        aligned = whisperx.align(segments, align_model, metadata, audio, self._torch_device,
                                 return_char_alignments=False)
        raw = [(w.get("word"), w.get("start"), w.get("end"))
               for segment in aligned.get("segments") or ()
               for w in segment.get("words") or ()]
        return Transcript(words=_timed_words(raw), language=found, language_probability=None,
                          backend=self.backend, model=self.model_name)


def _model_identity(source: str) -> str:
    """A model folder's content digest, or a model's name."""
    path = Path(source).expanduser()
    if path.is_dir():
        from berg.files import folder_digest

        return f"folder:{folder_digest(path)}"
    return source


def _missing_whisperx() -> MissingDependencyError:
    return MissingDependencyError(
        "the 'whisperx' transcriber needs the whisperx package, which is not installed: "
        "pip install whisperx (or pip install 'berg-tribe[whisperx]'); "
        "backend='faster-whisper' needs nothing more")


# ---------------------------------------------------------------------------------------------
# factory


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


# ---------------------------------------------------------------------------------------------
# helpers


def _check_audio(audio: object, sample_rate: object) -> np.ndarray:
    """Return ``audio`` as a contiguous float32 1-D array, or raise with the reason."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
            or sample_rate != SAMPLE_RATE:
        raise InvalidParameterError(
            f"sample_rate must be {SAMPLE_RATE} (Whisper's rate), got {sample_rate!r}; "
            f"decode or resample the audio to {SAMPLE_RATE} Hz first")
    array = np.asarray(audio)
    if array.ndim != 1:
        raise StimulusError(
            f"audio must be mono samples of shape (n_samples,), got shape {array.shape}; "
            "mix the channels down first")
    if not np.issubdtype(array.dtype, np.floating):
        raise StimulusError(
            f"audio must be floating-point samples in [-1, 1], got dtype {array.dtype}; "
            "convert integer PCM by dividing by its full scale (32768 for int16)")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.all(np.isfinite(array)):
        raise StimulusError(
            f"audio contains {int(np.count_nonzero(~np.isfinite(array)))} NaN or infinite "
            "samples")
    return array


def _timed_words(raw: Iterable[tuple[object, object, object]]) -> tuple[TimedWord, ...]:
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


def _snap_to_speech(words: tuple[TimedWord, ...], audio: np.ndarray, *, frame: float = 0.01,
                    quiet_db: float = -45.0, min_quiet: float = 0.1) -> tuple[TimedWord, ...]:
    """Move word starts (ends) that lie in a quiet stretch forward (back) onto the speech.

    A 10 ms frame is quiet when its RMS is ``quiet_db`` below the loudest frame's. A word's
    start moves to its first loud frame when at least ``min_quiet`` seconds of quiet open
    the word; its end likewise. Words with no loud frame at all are left alone.
    """
    hop = round(SAMPLE_RATE * frame)
    n_frames = audio.size // hop
    if not words or n_frames == 0:
        return words
    rms = np.sqrt(np.mean(np.square(audio[: n_frames * hop].reshape(n_frames, hop),
                                    dtype=np.float64), axis=1))
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
        snapped.append(word if (start, end) == (word.start, word.end)
                       else TimedWord(text=word.text, start=start, end=max(start, end)))
    snapped.sort(key=lambda word: word.start)
    return tuple(snapped)


def _is_time(value: object) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _resolve_device(device: object) -> tuple[str, int]:
    """``'auto'`` / ``'cpu'`` / ``'cuda'`` / ``'cuda:N'`` -> (CTranslate2 device, index)."""
    import ctranslate2

    if not isinstance(device, str):
        device = str(device) if type(device).__name__ == "device" else device  # torch.device
    if not isinstance(device, str):
        raise InvalidParameterError(
            f"device must be one of {format_choices(_DEVICES)} or 'cuda:N', got "
            f"{type(device).__name__} {device!r}")
    name = device.strip().lower()
    n_gpus = ctranslate2.get_cuda_device_count()
    if name == "auto":
        return ("cuda", 0) if n_gpus > 0 else ("cpu", 0)
    if name == "cpu":
        return "cpu", 0
    kind, _, index = name.partition(":")
    if kind == "cuda" and (index == "" or index.isdigit()):
        index = int(index or 0)
        if n_gpus == 0:
            raise DeviceNotAvailableError(
                f"device={device!r} was requested but CTranslate2 (which runs Whisper) sees "
                "no CUDA GPU; use device='cpu', or device='auto' to take a GPU only when present")
        if index >= n_gpus:
            raise DeviceNotAvailableError(
                f"device={device!r} was requested but CTranslate2 sees {n_gpus} GPU(s) "
                f"(valid: {', '.join(f'cuda:{i}' for i in range(n_gpus))})")
        return "cuda", index
    hint = "; did you mean 'cuda'?" if name == "gpu" else did_you_mean(device, _DEVICES)
    raise InvalidParameterError(
        f"unknown device {device!r}{hint} "
        f"(valid: {format_choices(_DEVICES)}, or 'cuda:N')")


def _choose_compute_type(device: str, requested: str | None) -> str:
    """The requested compute type if ``device`` supports it, else the best default for it."""
    import ctranslate2

    try:
        supported = sorted(ctranslate2.get_supported_compute_types(device))
    except Exception:  # a CUDA device CTranslate2 cannot initialise
        supported = ["float32"]
    if requested is None:
        preferred = ("float16", "float32") if device == "cuda" else ("int8", "float32")
        return next((c for c in preferred if c in supported), "float32")
    if not isinstance(requested, str) or requested not in (*supported, "default", "auto"):
        where = "the CPU" if device == "cpu" else "this GPU"
        raise InvalidParameterError(
            f"compute_type={requested!r} is not supported on {where}"
            f"{did_you_mean(requested, supported)} (valid here: {format_choices(supported)}; "
            "or None to choose automatically)")
    return requested


def _resolve_whisper_model(model: object) -> tuple[str, str]:
    """Return (name to record, what to hand to faster-whisper) for a model size, repo or path."""
    import faster_whisper

    if not isinstance(model, (str, os.PathLike)):
        raise InvalidParameterError(
            f"model must be a Whisper model name (e.g. 'large-v3'), a Hugging Face repo id or "
            f"a local directory, got {type(model).__name__} {model!r}")
    text = os.fspath(model)
    if not text.strip():
        raise InvalidParameterError("model is empty; give a name such as 'large-v3' or a path")
    path = Path(text).expanduser()
    looks_like_path = (isinstance(model, os.PathLike) or path.exists()
                       or text.startswith(("/", ".", "~", "\\")) or text.count("/") > 1
                       or "\\" in text or (len(text) > 1 and text[1] == ":"))
    if looks_like_path:
        if not path.is_dir():
            raise ModelLoadError(
                f"no Whisper model directory at {str(path)!r}; give a directory holding a "
                "CTranslate2 conversion (model.bin, config.json, tokenizer.json), or a model "
                "name such as 'large-v3'")
        if not (path / "model.bin").is_file():
            raise ModelLoadError(
                f"{str(path)!r} holds no CTranslate2 Whisper model (no model.bin); convert one "
                "with ct2-transformers-converter or give a model name such as 'large-v3'")
        return str(path), str(path.resolve())
    if "/" in text:  # a Hugging Face repo id, e.g. Systran/faster-whisper-large-v3
        return text, text
    sizes = faster_whisper.available_models()
    if text not in sizes:
        raise InvalidParameterError(
            f"unknown Whisper model {text!r}{did_you_mean(text, sizes)} (valid: "
            f"{format_choices(sizes, limit=20)}, a Hugging Face repo id, or a local directory)")
    return text, text


def _model_load_error(name: str, source: str, error: Exception,
                      local_files_only: bool) -> BERGError:
    if isinstance(error, BERGError):
        return error
    detail = f"[{type(error).__name__}: {error}]"
    fetching = (type(error).__module__.startswith("huggingface_hub")
                or isinstance(error, (FileNotFoundError, ConnectionError)))
    if os.path.isdir(source) or not fetching:
        return ModelLoadError(f"could not load the Whisper model {name!r} {detail}")
    how = ("it is not in the local cache and local_files_only=True" if local_files_only
           else "it is not cached here and could not be downloaded from the Hugging Face Hub "
                "(no network?)")
    return ModelLoadError(
        f"could not load the Whisper model {name!r}: {how}. Download it once where there is "
        f"a network (e.g. faster_whisper.download_model({name!r})), set download_root to the "
        f"directory that holds it, or pass model='/path/to/converted/model' {detail}")
