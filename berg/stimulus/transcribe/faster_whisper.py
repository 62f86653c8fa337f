"""Whisper through faster-whisper (CTranslate2), with word timestamps: berg's recogniser."""

from __future__ import annotations

import os

import numpy as np

from berg.errors import (
    InvalidParameterError,
    did_you_mean,
    format_choices,
)
from berg.holder import ModelHolder
from berg.packages import installed_versions
from berg.stimulus.events import Transcript
from berg.stimulus.options import normalize_language
from berg.stimulus.transcribe.models import (
    choose_compute_type,
    locate_whisper,
    model_identity,
    model_load_error,
    resolve_asr_device,
    resolve_whisper_model,
)
from berg.stimulus.transcribe.words import (
    SAMPLE_RATE,
    SILENCE_PEAK,
    check_audio,
    snap_to_speech,
    timed_words,
)
from berg.validation import check_bool, check_int

__all__ = ["FasterWhisperTranscriber"]


class FasterWhisperTranscriber(ModelHolder):
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
    batch_size : int
        0 (default): Whisper's sequential decoder, each 30 s window conditioned on the text
        before it. N >= 1: faster-whisper's batched pipeline, as WhisperX (the reference's
        recogniser) works: the voice-activity detector's speech segments, merged up to 30 s,
        are decoded N at a time, each on its own. Faster where there is parallel hardware
        (a GPU); the words can differ a little (``benchmarks/bench_recognition.py`` measures
        by how much). Needs ``vad_filter``.
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

    def __init__(
        self,
        model: str | os.PathLike = "large-v3",
        *,
        device: str = "auto",
        compute_type: str | None = None,
        beam_size: int = 5,
        vad_filter: bool = True,
        batch_size: int = 0,
        snap_to_speech: bool = True,
        download_root: str | os.PathLike | None = None,
        local_files_only: bool = False,
        cpu_threads: int = 0,
    ):
        self.model_name, self._model_source = resolve_whisper_model(model)
        self.device, self.device_index = resolve_asr_device(device)
        self.compute_type = choose_compute_type(self.device, compute_type)
        self.check_options(
            beam_size=beam_size,
            cpu_threads=cpu_threads,
            batch_size=batch_size,
            vad_filter=vad_filter,
        )
        self.beam_size = beam_size
        self.vad_filter = bool(vad_filter)
        self.batch_size = batch_size
        self.snap_to_speech = bool(snap_to_speech)
        self.download_root = None if download_root is None else str(download_root)
        self.local_files_only = bool(local_files_only)
        self.cpu_threads = cpu_threads
        self._model = None

    @staticmethod
    def check_options(**options) -> None:
        """Check decoding option values without loading anything (the model name, device
        and compute type are checked when the recogniser is built)."""
        if "beam_size" in options:
            check_int("beam_size", options["beam_size"])
        if "cpu_threads" in options:
            check_int("cpu_threads (0: CTranslate2 chooses)", options["cpu_threads"], minimum=0)
        for name in ("vad_filter", "snap_to_speech", "local_files_only"):
            if name in options:
                check_bool(name, options[name])
        if "batch_size" in options:
            check_int("batch_size (0: the sequential decoder)", options["batch_size"], minimum=0)
            if options["batch_size"] and not options.get("vad_filter", True):
                raise InvalidParameterError(
                    "batch_size decodes the voice-activity detector's speech segments in "
                    "batches, so it needs vad_filter=True (or batch_size=0, the sequential "
                    "decoder)"
                )
        compute_type = options.get("compute_type")
        if compute_type is not None and not isinstance(compute_type, str):
            raise InvalidParameterError(
                f"compute_type must be a CTranslate2 compute type "
                f"such as 'int8' or 'float16', got {compute_type!r}"
            )

    def __repr__(self) -> str:
        return (
            f"FasterWhisperTranscriber(model={self.model_name!r}, device={self.device!r}, "
            f"compute_type={self.compute_type!r})"
        )

    def fingerprint(self) -> dict:
        """Everything that decides the words, for the transcript cache key.

        A model folder is identified by content (:func:`berg.files.folder_digest`),
        a named model by its name. The device and compute type are in: float16 on a GPU and
        int8 on a CPU can decode differently. CPU threads are not.
        """
        return {
            "backend": self.backend,
            "model": model_identity(self._model_source),
            "device": self.device,
            "compute_type": self.compute_type,
            "beam_size": self.beam_size,
            "vad_filter": self.vad_filter,
            **({"batch_size": self.batch_size} if self.batch_size else {}),
            "snap_to_speech": self.snap_to_speech,
            "silence_peak": SILENCE_PEAK,
            "packages": installed_versions("faster-whisper", "ctranslate2"),
        }

    def _load_model(self):
        if self._model is not None:
            return self._model
        from faster_whisper import WhisperModel

        try:
            # A name is found (or fetched) in the cache first, so that a pinned model's
            # file is checked against its digest before it is used.
            where = (
                self._model_source
                if os.path.isdir(self._model_source)
                else locate_whisper(
                    self._model_source,
                    local_files_only=self.local_files_only,
                    cache_dir=self.download_root,
                )
            )
            self._model = WhisperModel(
                where,
                device=self.device,
                device_index=self.device_index,
                compute_type=self.compute_type,
                cpu_threads=self.cpu_threads,
                download_root=self.download_root,
            )
        except Exception as error:
            raise model_load_error(
                self.model_name, self._model_source, error, self.local_files_only
            ) from error
        return self._model

    def transcribe(
        self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *, language: str | None = None
    ) -> Transcript:
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
        audio = check_audio(audio, sample_rate)
        language = normalize_language(language)
        model = self._load_model()
        multilingual = model.model.is_multilingual
        if language is not None and language not in model.supported_languages:
            if not multilingual:
                raise InvalidParameterError(
                    f"language={language!r} was requested but model {self.model_name!r} is "
                    "English-only; use a multilingual model (e.g. model='large-v3') or "
                    "language='en'"
                )
            raise InvalidParameterError(
                f"Whisper does not know language {language!r}"
                f"{did_you_mean(language, model.supported_languages)} (valid: ISO 639-1 codes "
                f"such as {format_choices(model.supported_languages, limit=8)})"
            )
        if not multilingual:
            language = "en"  # what the model speaks; nothing to detect

        if audio.size == 0 or float(np.max(np.abs(audio))) < SILENCE_PEAK:
            return Transcript(
                words=(),
                language=language,
                language_probability=None,
                backend=self.backend,
                model=self.model_name,
            )

        # faster-whisper's filter banks are a NumPy matrix product, whose sums OpenBLAS
        # splits by its thread count: word times then move by 20 ms with OPENBLAS_NUM_THREADS
        # (a Ray worker sets it to its CPU share). One BLAS thread, for this call only, gives
        # the same words everywhere; the work is a small part of recognition.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            if self.batch_size:
                from faster_whisper import BatchedInferencePipeline

                decoder, batching = BatchedInferencePipeline(model), {"batch_size": self.batch_size}
            else:
                decoder, batching = model, {}
            segments, info = decoder.transcribe(
                audio,
                language=language,
                beam_size=self.beam_size,
                word_timestamps=True,
                vad_filter=self.vad_filter,
                **batching,
            )
            raw = [(w.word, w.start, w.end) for segment in segments for w in (segment.words or ())]
        words = timed_words(raw)
        if self.snap_to_speech:
            words = snap_to_speech(words, audio)
        detected = language is None
        return Transcript(
            words=words,
            language=info.language,
            language_probability=float(info.language_probability) if detected else None,
            backend=self.backend,
            model=self.model_name,
        )
