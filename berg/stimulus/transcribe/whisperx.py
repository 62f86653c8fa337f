"""WhisperX with wav2vec2 forced alignment: the reference's recogniser (optional)."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

import numpy as np

from berg.errors import (
    InvalidParameterError,
    ModelLoadError,
)
from berg.holder import ModelHolder
from berg.packages import installed_versions
from berg.stimulus.events import Transcript
from berg.stimulus.options import normalize_language
from berg.stimulus.transcribe.models import (
    choose_compute_type,
    missing_whisperx,
    model_identity,
    model_load_error,
    resolve_asr_device,
)
from berg.stimulus.transcribe.words import SAMPLE_RATE, SILENCE_PEAK, check_audio, timed_words
from berg.validation import check_int

__all__ = ["WhisperXTranscriber"]


class WhisperXTranscriber(ModelHolder):
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
    _held = ("_asr", "_aligners")  # close() releases the Whisper and alignment models

    def __init__(
        self,
        model: str = "large-v3",
        align_model: str | None = "WAV2VEC2_ASR_LARGE_LV60K_960H",
        *,
        device: str = "auto",
        compute_type: str | None = None,
        batch_size: int = 16,
        language: str | None = None,
        download_root: str | os.PathLike | None = None,
    ):
        # find_spec, not an import: importing whisperx pulls in torch, transformers, pyannote
        if sys.modules.get("whisperx") is None and importlib.util.find_spec("whisperx") is None:
            raise missing_whisperx()
        if not isinstance(model, (str, os.PathLike)) or not str(model).strip():
            raise InvalidParameterError(
                f"model must be a Whisper model name or path, got {model!r}"
            )
        self.check_options(align_model=align_model, batch_size=batch_size)
        self.model_name = str(model)
        self.align_model = align_model
        self.device, self.device_index = resolve_asr_device(device)
        self.compute_type = choose_compute_type(self.device, compute_type)
        self.batch_size = batch_size
        self.language = normalize_language(language)
        self.download_root = None if download_root is None else str(download_root)
        self._asr = None
        self._aligners: dict[tuple[str, str | None], tuple[Any, Any]] | None = None

    @staticmethod
    def check_options(**options) -> None:
        """Check option values without importing WhisperX."""
        align_model = options.get("align_model")
        if align_model is not None and (not isinstance(align_model, str) or not align_model):
            raise InvalidParameterError(
                f"align_model must be an alignment model name or None, got {align_model!r}"
            )
        if "batch_size" in options:
            check_int("batch_size", options["batch_size"])

    def __repr__(self) -> str:
        return (
            f"WhisperXTranscriber(model={self.model_name!r}, align_model={self.align_model!r}, "
            f"device={self.device!r}, compute_type={self.compute_type!r})"
        )

    def _load_model(self) -> None:
        # Alignment models load per language, when needed.
        self._load_asr(self._whisperx())

    def fingerprint(self) -> dict:
        """Everything that decides the words, for the transcript cache key."""
        return {
            "backend": self.backend,
            "model": model_identity(self.model_name),
            "align_model": self.align_model,
            "device": self.device,
            "compute_type": self.compute_type,
            "batch_size": self.batch_size,
            "language": self.language,
            "packages": installed_versions("whisperx"),
        }

    @property
    def _torch_device(self) -> str:
        return self.device if self.device == "cpu" else f"cuda:{self.device_index}"

    def _whisperx(self):
        try:
            import whisperx
        except ImportError as error:
            raise missing_whisperx() from error
        return whisperx

    def _load_asr(self, whisperx):
        if self._asr is None:
            try:
                self._asr = whisperx.load_model(
                    self.model_name,
                    self.device,
                    device_index=self.device_index,
                    compute_type=self.compute_type,
                    language=self.language,
                    download_root=self.download_root,
                )
            except Exception as error:
                raise model_load_error(self.model_name, self.model_name, error, False) from error
        return self._asr

    def _load_aligner(self, whisperx, language: str):
        name = self.align_model if language == "en" else None
        key = (language, name)
        if self._aligners is None:
            self._aligners = {}
        if key not in self._aligners:
            try:
                self._aligners[key] = whisperx.load_align_model(
                    language_code=language, device=self._torch_device, model_name=name
                )
            except Exception as error:
                which = repr(name) if name else f"WhisperX's default for {language!r}"
                raise ModelLoadError(
                    f"could not load the alignment model {which} for language {language!r}: "
                    f"{error}. Pass align_model=<a wav2vec2 CTC model name> for English, check "
                    "the network, or use backend='faster-whisper' (no alignment model)"
                ) from error
        return self._aligners[key]

    def transcribe(
        self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *, language: str | None = None
    ) -> Transcript:
        """Recognise and align the words in ``audio`` (float32, shape ``(n_samples,)``, 16 kHz).

        See :meth:`FasterWhisperTranscriber.transcribe`; WhisperX gives no language
        probability, so ``language_probability`` is None.
        """
        audio = check_audio(audio, sample_rate)
        language = normalize_language(language) or self.language
        whisperx = self._whisperx()
        asr = self._load_asr(whisperx)
        if audio.size == 0 or float(np.max(np.abs(audio))) < SILENCE_PEAK:
            return Transcript(
                words=(),
                language=language,
                language_probability=None,
                backend=self.backend,
                model=self.model_name,
            )
        result = asr.transcribe(audio, batch_size=self.batch_size, language=language)
        found = normalize_language(result.get("language")) or language
        segments = list(result.get("segments") or ())
        if not segments:
            return Transcript(
                words=(),
                language=found,
                language_probability=None,
                backend=self.backend,
                model=self.model_name,
            )
        align_model, metadata = self._load_aligner(whisperx, found)
        aligned = whisperx.align(
            segments, align_model, metadata, audio, self._torch_device, return_char_alignments=False
        )
        raw = [
            (w.get("word"), w.get("start"), w.get("end"))
            for segment in aligned.get("segments") or ()
            for w in segment.get("words") or ()
        ]
        return Transcript(
            words=timed_words(raw),
            language=found,
            language_probability=None,
            backend=self.backend,
            model=self.model_name,
        )
