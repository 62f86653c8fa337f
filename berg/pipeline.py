"""The encoding pipeline: a stimulus file -> timeline -> features -> brain model -> responses.

:func:`load_encoding_model` returns a :class:`TribeV2Model` (``BERG.get_encoding_model`` and
each batch worker call it): the selection is validated, the device resolved and the weights
found (or downloaded) and loaded before it returns, so that a typo or a missing file is
reported at once, not in the middle of a long encode. Its :meth:`~TribeV2Model.encode` runs
the stages in order: :mod:`berg.stimulus` (decoding, speech, words), :mod:`berg.features`
(the three extractors and their cache), :mod:`berg.tribe` (the brain model).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from berg import cortex
from berg.devices import resolve_device
from berg.errors import InvalidParameterError, did_you_mean
from berg.metadata import model_metadata
from berg.progress import Stages as _Stages
from berg.registry import MODALITIES, ModelCard
from berg.timing import StageClock

__all__ = ["ENCODING_MODEL_OPTIONS", "TribeV2Model", "check_options", "load_encoding_model"]

#: Keyword options of ``get_encoding_model`` besides ``selection`` and ``device``.
ENCODING_MODEL_OPTIONS = (
    "checkpoint_dir", "download", "revision", "show_progress",       # brain-model weights
    "cache_dir",                                                      # features + speech
    "asr", "asr_model", "asr_device", "language", "tts", "tts_options",        # stimulus
    "sentence_splitter",
    "text_model_dir", "audio_model_dir", "video_model_dir", "local_files_only",  # features
    "feature_dtype", "keep_models_loaded",
    "memory_budget_gb", "extractor_options", "window_batch_size",   # batching
    "track_gpu_memory",                                               # profiling
)
_FEATURE_DTYPES = ("float32", "bfloat16", "float16")


class TribeV2Model:
    """A loaded TRIBE v2 model with its vertex selection and device.

    Use it with ``BERG.encode``. It can be used as a context manager; ``close()`` releases
    the brain model (and its GPU memory).

    Attributes
    ----------
    model_id : str
        The canonical model id.
    device : torch.device
        Where the models run.
    vertices : np.ndarray or None
        (n_selected,) int64 ascending vertex indices of the output columns; ``None`` means
        all 20,484 vertices.
    weights_dir : Path
        The folder that ``config.yaml`` and ``best.ckpt`` were loaded from.
    brain_model : torch.nn.Module or None
        The TRIBE v2 brain model (``None`` after ``close()``).
    """

    def __init__(
        self,
        card: ModelCard,
        berg_dir: str | os.PathLike,
        *,
        selection: dict | None = None,
        device: str = "auto",
        checkpoint_dir: str | os.PathLike | None = None,
        download: bool = True,
        revision: str | None = None,
        show_progress: bool = True,
        cache_dir: str | os.PathLike | None = None,
        asr: str = "faster-whisper",
        asr_model: str | os.PathLike | None = None,
        asr_device: str | None = None,
        language: str | None = None,
        tts: str = "piper",
        tts_options: dict | None = None,
        sentence_splitter="auto",
        text_model_dir: str | os.PathLike | None = None,
        audio_model_dir: str | os.PathLike | None = None,
        video_model_dir: str | os.PathLike | None = None,
        local_files_only: bool = False,
        feature_dtype: str = "float32",
        keep_models_loaded: bool = False,
        memory_budget_gb: float | None = None,
        extractor_options: dict | None = None,
        window_batch_size: int = 4,
        track_gpu_memory: bool = False,
    ):
        from berg.tribe.checkpoint import load_brain_model
        from berg.tribe.weights import locate_weights

        for name, value in [("download", download), ("show_progress", show_progress),
                            ("local_files_only", local_files_only),
                            ("keep_models_loaded", keep_models_loaded),
                            ("track_gpu_memory", track_gpu_memory)]:
            if not isinstance(value, bool):
                raise InvalidParameterError(f"{name} must be True or False, got {value!r}")
        if isinstance(window_batch_size, bool) or not isinstance(window_batch_size, int) \
                or window_batch_size < 1:
            raise InvalidParameterError(f"window_batch_size must be a positive int (100 s "
                                        f"windows per brain-model pass), got "
                                        f"{window_batch_size!r}")
        if asr_device is not None and not isinstance(asr_device, str):
            raise InvalidParameterError(f"asr_device must be 'auto', 'cpu', 'cuda' or "
                                        f"'cuda:N', got {asr_device!r}")
        budget = None
        if memory_budget_gb is not None:
            if isinstance(memory_budget_gb, bool) or not isinstance(memory_budget_gb,
                                                                    (int, float)) \
                    or not memory_budget_gb > 0:
                raise InvalidParameterError(f"memory_budget_gb must be None (automatic) or a "
                                            f"positive number of GB, got {memory_budget_gb!r}")
            budget = int(memory_budget_gb * 1e9)
        options = _extractor_options(extractor_options, budget)
        if revision is not None and not isinstance(revision, str):
            raise InvalidParameterError(f"revision must be a string, got {revision!r}")
        if feature_dtype not in _FEATURE_DTYPES:
            raise InvalidParameterError(
                f"unknown feature_dtype {feature_dtype!r}"
                f"{did_you_mean(feature_dtype, _FEATURE_DTYPES)} (valid: "
                f"{', '.join(map(repr, _FEATURE_DTYPES))}; float32 reproduces the reference)")
        self.card = card
        self.model_id = card.model_id
        # Cheap checks first: a bad ROI name must not cost a 0.7 GB download.
        self.vertices = cortex.resolve_selection(selection)
        self.device = resolve_device(device)
        self.weights_dir = locate_weights(
            berg_dir, card.weights, checkpoint_dir=checkpoint_dir, download=download,
            revision=revision, show_progress=show_progress)
        self.brain_model = load_brain_model(self.weights_dir, device=self.device)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else Path(berg_dir) / "cache"
        self.stimulus_options = {"language": language, "tts": tts,
                                 "tts_options": dict(tts_options or {}),
                                 "sentence_splitter": sentence_splitter}
        # Like the feature models, the recogniser can come from a folder named by an
        # environment variable (shared storage on a cluster); else the reference's size.
        self._asr = (asr, asr_model or os.environ.get("BERG_ASR_MODEL") or "large-v3")
        # The recogniser runs where the models do unless told otherwise: CTranslate2 has its
        # own CUDA build, which a GPU box may lack ('auto' then falls back to the CPU).
        self._asr_device = asr_device or str(self.device)
        self._transcriber = None
        self._keep_models_loaded = keep_models_loaded
        self._features = None
        self._feature_settings = {
            "model_dirs": {m: d for m, d in [("text", text_model_dir),
                                             ("audio", audio_model_dir),
                                             ("video", video_model_dir)] if d is not None},
            "local_files_only": local_files_only,
            "dtype": feature_dtype,
            "show_progress": show_progress,
            "extractor_options": options,
        }
        self._window_batch_size = window_batch_size
        self._track_gpu_memory = track_gpu_memory

    @property
    def n_vertices(self) -> int:
        """Number of output columns."""
        return cortex.N_VERTICES if self.vertices is None else len(self.vertices)

    def encode(self, stimulus: str | os.PathLike, *, show_progress: bool = False,
               return_metadata: bool = False):
        """Predict the response to one stimulus file.

        Returns
        -------
        responses : np.ndarray
            float32 (ceil(duration), n_vertices): row k is stimulus second [k, k+1).
        metadata : dict
            With ``return_metadata=True``: :meth:`metadata` plus this stimulus's row times,
            modalities, and how its timeline and features were made.
        """
        from berg.stimulus.timeline import build_timeline
        from berg.tribe.binning import row_times
        from berg.tribe.predict import predict_responses

        self._check_open()
        clock = StageClock(self.device, track_gpu_memory=self._track_gpu_memory)
        with _Stages(show_progress) as stages:
            stages.start("decoding + speech", total=None, unit="s")
            timeline = build_timeline(stimulus, cache_dir=self.cache_dir,
                                      transcriber=self._get_transcriber(), clock=clock,
                                      **self.stimulus_options)
            stages.finish()
            if not self._keep_models_loaded:
                self._release_transcriber()
            features = self._get_features().extract(
                timeline, progress=stages.progress_for(timeline), clock=clock)
            stages.start("brain model", total=timeline.duration, unit="s")
            with clock.stage("brain"):
                responses = predict_responses(self.brain_model, features, timeline.duration,
                                              columns=self.vertices,
                                              batch_size=self._window_batch_size,
                                              progress=stages.advance)
            stages.finish()
        if not return_metadata:
            return responses
        meta = self.metadata()
        meta["stimulus"] = {
            "path": str(timeline.path), "kind": timeline.kind,
            "duration_s": timeline.duration, "modalities": list(timeline.modalities),
            "language": timeline.language, "n_words": len(timeline.words),
        }
        meta["timing"]["row_times_s"] = row_times(timeline.duration)
        meta["provenance"] = {
            "timeline": timeline.provenance,
            "feature_models": {m: p for m, p in self._get_features().provenance().items()
                               if m in timeline.modalities},
            "feature_dtype": self._feature_settings["dtype"],
            "feature_cache_keys": dict(self._get_features().last_cache_keys),
            "stages": clock.as_dict(),
            "packages": _package_versions(),
        }
        return responses, meta

    def _get_transcriber(self):
        if self._transcriber is None:
            from berg.stimulus.transcribe import make_transcriber

            backend, model = self._asr
            self._transcriber = make_transcriber(backend, model=model, device=self._asr_device)
        return self._transcriber

    def _release_transcriber(self) -> None:
        if self._transcriber is not None and hasattr(self._transcriber, "close"):
            self._transcriber.close()
        self._transcriber = None

    def _get_features(self):
        if self._features is None:
            import torch

            from berg.features.pipeline import FeaturePipeline
            from berg.tribe.config import read_tribe_config

            settings = self._feature_settings
            self._features = FeaturePipeline(
                self.card, read_tribe_config(self.weights_dir / "config.yaml"),
                device=self.device, dtype=getattr(torch, settings["dtype"]),
                cache_dir=self.cache_dir / "features", model_dirs=settings["model_dirs"],
                local_files_only=settings["local_files_only"],
                release_models=not self._keep_models_loaded,
                show_progress=settings["show_progress"],
                extractor_options=settings["extractor_options"])
        return self._features

    def metadata(self) -> dict[str, Any]:
        """The model's BERG metadata plus this instance's selection and device."""
        meta = model_metadata(self.card)
        vertices = (np.arange(cortex.N_VERTICES, dtype=np.int64) if self.vertices is None
                    else self.vertices.copy())
        meta["selection"] = {"vertices": vertices, "n_vertices": len(vertices),
                             "all_vertices": self.vertices is None}
        meta["model"]["device"] = str(self.device)
        meta["model"]["weights_dir"] = str(self.weights_dir)
        return meta

    def load_models(self, modalities: Sequence[str] = MODALITIES) -> None:
        """Load the models these modalities' stimuli need now, not at the first ``encode``.

        Every modality needs the speech recogniser (videos and sounds are transcribed);
        each loads its feature model. A batch worker does this once when it starts, so that
        its memory is known before more workers are placed beside it. Models loaded here are
        still released after each ``encode`` unless ``keep_models_loaded=True``.
        """
        from berg.features.pipeline import MODALITIES

        self._check_open()
        for modality in modalities:
            if modality not in MODALITIES:
                raise InvalidParameterError(f"unknown modality {modality!r}"
                                            f"{did_you_mean(str(modality), MODALITIES)} "
                                            f"(valid: {', '.join(MODALITIES)})")
        transcriber = self._get_transcriber()
        if getattr(transcriber, "loaded", True) is False:
            transcriber.load()
        for modality in modalities:
            extractor = self._get_features().extractor(modality)
            if not extractor.loaded:
                extractor.load()

    def close(self) -> None:
        """Release the brain model, the feature models, the recogniser and their GPU memory."""
        self.brain_model = None
        self._release_transcriber()
        if self._features is not None:
            self._features.release()
        if self.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()

    def _check_open(self) -> None:
        if self.brain_model is None:
            raise InvalidParameterError(f"this {self.model_id} model was closed; load it again "
                                        "with BERG.get_encoding_model")

    def __enter__(self) -> TribeV2Model:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        columns = "all vertices" if self.vertices is None else f"{len(self.vertices)} vertices"
        state = "closed" if self.brain_model is None else str(self.device)
        return f"<TribeV2Model {self.model_id!r}: {columns}, {state}>"


def load_encoding_model(model_id: str, berg_dir: str | os.PathLike, *,
                        selection: dict | None = None, device: str = "auto",
                        **options: Any) -> TribeV2Model:
    """The encoding model of ``model_id`` (an id or alias of the registry), loaded.

    Parameters are those of ``BERG.get_encoding_model``; ``berg_dir`` is the BERG folder
    (weights and caches).

    Raises
    ------
    ModelNotFoundError, InvalidParameterError, DeviceNotAvailableError, ModelLoadError
    """
    from berg.registry import get_card

    card = get_card(model_id)
    check_options(options)
    return TribeV2Model(card, berg_dir, selection=selection, device=device, **options)


def check_options(options: dict[str, Any]) -> None:
    """Reject keyword options that ``get_encoding_model`` does not know, suggesting a match."""
    for name in options:
        if name not in ENCODING_MODEL_OPTIONS:
            raise InvalidParameterError(
                f"unknown option {name!r}{did_you_mean(name, ENCODING_MODEL_OPTIONS)} "
                f"(valid: selection, device, {', '.join(ENCODING_MODEL_OPTIONS)})")


def _extractor_options(options: object, budget: int | None) -> dict[str, dict]:
    """Per-modality extractor options, checked, with the memory budget where none is set."""
    from berg.features.pipeline import validate_extractor_options

    merged = validate_extractor_options(options)
    if budget is not None:
        for modality in ("text", "video"):  # the two that batch
            merged[modality].setdefault("memory_budget", budget)
    return merged


def _package_versions() -> dict[str, str]:
    """Versions of the packages that decide the numbers, for provenance."""
    from berg.packages import installed_versions

    versions = installed_versions("berg-tribe", "torch", "transformers", "numpy", "av",
                                  "faster-whisper", "ctranslate2", "piper-tts")
    return {name: version for name, version in versions.items() if version is not None}
