"""The options of an encoding model, as data: one frozen dataclass, every value checked once.

``BERG.get_encoding_model(model_id, selection=None, device="auto", **options)`` keeps its
keyword interface; the keywords become an :class:`EncodingOptions`, whose construction
refuses an unknown name (with the closest valid one) and every bad value, before anything
is loaded or downloaded. Each field says which group it belongs to and whether it changes
results (the words, the features, the predictions) or only speed, memory and messages; the
batch's settings digest is made of the fields that change results, so that no list of them
is kept by hand. The README's option table is :meth:`EncodingOptions.markdown_table`
(a test keeps the two in step).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from berg.errors import InvalidParameterError, did_you_mean
from berg.features.pipeline import FEATURE_DTYPES
from berg.stimulus.recognition import RECOGNITION_BLOCK_S
from berg.validation import check_bool, check_choice, check_int, check_number

__all__ = ["FEATURE_DTYPES", "EncodingOptions", "option_names"]

#: Precisions of the feature models (float32 reproduces the reference).

_GROUPS = ("weights", "cache", "speech recognition", "stimulus", "features", "brain model")


def _option(default, group: str, doc: str, *, results: bool):
    assert group in _GROUPS
    return field(default=default, metadata={"group": group, "doc": doc, "results": results})


def _check_path(name: str, value: object) -> None:
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise InvalidParameterError(f"{name} must be None or a folder path, got {value!r}")


def _check_mapping(name: str, value: object) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidParameterError(f"{name} must be a dict of options, got {value!r}")
    return dict(value)


@dataclass(frozen=True)
class EncodingOptions:
    """Every keyword option of ``get_encoding_model`` besides ``selection`` and ``device``.

    The fields are listed, with their defaults and meaning, in the README ("Options"); see
    :meth:`markdown_table`.
    """

    checkpoint_dir: str | os.PathLike | None = _option(
        None, "weights", "a folder with `config.yaml` and `best.ckpt` to use directly", results=True
    )
    download: bool = _option(True, "weights", "fetch missing weights from the Hub", results=False)
    revision: str | None = _option(
        None, "weights", "Hub revision instead of the pinned one", results=True
    )
    show_progress: bool = _option(
        True, "weights", "progress bars for downloads and loading", results=False
    )
    cache_dir: str | os.PathLike | None = _option(
        None,
        "cache",
        "features, transcripts and speech (default `{berg_dir}/cache`)",
        results=False,
    )
    asr: str = _option(
        "faster-whisper",
        "speech recognition",
        "`'faster-whisper'` or `'whisperx'` (the reference's)",
        results=True,
    )
    asr_model: str | os.PathLike | None = _option(
        None,
        "speech recognition",
        "Whisper size or folder (default `$BERG_ASR_MODEL`, else `'large-v3'`)",
        results=True,
    )
    asr_device: str | None = _option(
        None,
        "speech recognition",
        "where Whisper runs (default the model's device; it decides the compute type)",
        results=True,
    )
    asr_options: dict | None = _option(
        None,
        "speech recognition",
        "decoding options of the recogniser, e.g. `{'beam_size': 5, 'compute_type': 'int8'}`",
        results=True,
    )
    asr_block_s: float | None = _option(
        RECOGNITION_BLOCK_S,
        "speech recognition",
        "seconds of sound recognised at a time, cut at a pause (`None`: all at once)",
        results=True,
    )
    language: str | None = _option(
        None,
        "stimulus",
        "ISO 639-1 code to force for recognition and speech (default: found)",
        results=True,
    )
    tts: str = _option(
        "piper", "stimulus", "speech for `.txt`: `'piper'`, `'espeak-ng'` or `'gtts'`", results=True
    )
    tts_options: dict | None = _option(
        None, "stimulus", "options of the synthesiser (e.g. `voice`)", results=True
    )
    sentence_splitter: Any = _option(
        "auto",
        "stimulus",
        "`'auto'`, `'spacy'`, `'spacy:<pipeline>'`, `'rules'` or a callable",
        results=True,
    )
    image_duration: float = _option(
        1.0,
        "stimulus",
        "seconds an image is shown, as a silent still video (the paper's localisers: 1 s)",
        results=True,
    )
    text_model_dir: str | os.PathLike | None = _option(
        None,
        "features",
        "Llama-3.2-3B folder (else `$BERG_TEXT_MODEL`, else the Hub)",
        results=True,
    )
    audio_model_dir: str | os.PathLike | None = _option(
        None,
        "features",
        "w2v-bert-2.0 folder (else `$BERG_AUDIO_MODEL`, else the Hub)",
        results=True,
    )
    video_model_dir: str | os.PathLike | None = _option(
        None, "features", "V-JEPA 2 folder (else `$BERG_VIDEO_MODEL`, else the Hub)", results=True
    )
    local_files_only: bool = _option(
        False, "features", "never download feature models", results=False
    )
    feature_dtype: str = _option(
        "float32",
        "features",
        "`'float32'` (the reference's), `'bfloat16'`, `'float16'`",
        results=True,
    )
    keep_models_loaded: bool = _option(
        False, "features", "keep every model loaded between stimuli", results=False
    )
    memory_budget_gb: float | None = _option(
        None,
        "features",
        "activation memory per batch (default: half the free GPU memory up "
        "to 4 GiB; 512 MiB on the CPU)",
        results=False,
    )
    extractor_options: dict | None = _option(
        None,
        "features",
        "per modality, e.g. `{'video': {'batch_size': 4}}` (names and values checked)",
        results=True,
    )
    window_batch_size: int = _option(
        4, "brain model", "100 s windows per brain-model pass", results=False
    )
    track_gpu_memory: bool = _option(
        False, "brain model", "record each stage's peak GPU memory in the metadata", results=False
    )

    def __post_init__(self):
        for name in (
            "download",
            "show_progress",
            "local_files_only",
            "keep_models_loaded",
            "track_gpu_memory",
        ):
            check_bool(name, getattr(self, name))
        for name in (
            "checkpoint_dir",
            "cache_dir",
            "text_model_dir",
            "audio_model_dir",
            "video_model_dir",
        ):
            _check_path(name, getattr(self, name))
        if self.revision is not None and (not isinstance(self.revision, str) or not self.revision):
            raise InvalidParameterError(
                f"revision must be a branch, tag or commit, got {self.revision!r}"
            )
        check_int("window_batch_size", self.window_batch_size)
        check_number("memory_budget_gb", self.memory_budget_gb, positive=True, none="automatic")
        check_choice(
            "feature_dtype",
            self.feature_dtype,
            FEATURE_DTYPES,
            what="; float32 reproduces the reference",
        )
        for name in ("asr_options", "tts_options", "extractor_options"):
            object.__setattr__(self, name, _check_mapping(name, getattr(self, name)))
        self._check_stimulus()
        self._check_features()

    def _check_stimulus(self) -> None:
        from berg.devices import parse_device
        from berg.stimulus.transcribe import check_transcriber

        if self.asr_model is not None and (
            not isinstance(self.asr_model, (str, os.PathLike)) or not str(self.asr_model).strip()
        ):
            raise InvalidParameterError(
                f"asr_model must be a Whisper size or folder, got {self.asr_model!r}"
            )
        if self.asr_device is not None:
            parse_device(self.asr_device, "asr_device")
        check_transcriber(self.asr, self.asr_options)
        self.stimulus_options()  # language, synthesiser, splitter

    def stimulus_options(self):
        """The ``stimulus`` group, as :func:`berg.stimulus.timeline.build_timeline` takes it.

        Returns
        -------
        berg.stimulus.timeline.StimulusOptions
        """
        from berg.stimulus.timeline import StimulusOptions

        return StimulusOptions(
            language=self.language,
            tts=self.tts,
            tts_options=self.tts_options,
            sentence_splitter=self.sentence_splitter,
            image_duration=self.image_duration,
            asr_block_s=self.asr_block_s,
        )

    def feature_options(self):
        """The ``features`` group, as :class:`berg.features.pipeline.FeaturePipeline` takes it.

        The memory budget goes to the extractors that batch (text, video) unless their own
        options set one.

        Returns
        -------
        berg.features.pipeline.FeatureOptions
        """
        from berg.features.pipeline import FeatureOptions

        model_dirs = {
            m: d
            for m, d in [
                ("text", self.text_model_dir),
                ("audio", self.audio_model_dir),
                ("video", self.video_model_dir),
            ]
            if d is not None
        }
        extractor_options = {m: dict(v) for m, v in self.extractor_options.items()}
        if self.memory_budget_gb is not None:
            for modality in ("text", "video"):
                extractor_options.setdefault(modality, {}).setdefault(
                    "memory_budget", int(self.memory_budget_gb * 1e9)
                )
        return FeatureOptions(
            dtype=self.feature_dtype,
            model_dirs=model_dirs,
            local_files_only=self.local_files_only,
            release_models=not self.keep_models_loaded,
            show_progress=self.show_progress,
            extractor_options=extractor_options,
        )

    def _check_features(self) -> None:
        from berg.features.pipeline import validate_extractor_options

        object.__setattr__(
            self, "extractor_options", validate_extractor_options(self.extractor_options)
        )

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def from_kwargs(cls, options: Mapping[str, Any]) -> EncodingOptions:
        """The options from ``get_encoding_model``'s keywords, every name and value checked.

        Raises
        ------
        InvalidParameterError
            An unknown name (with the closest one) or a bad value.
        MissingDependencyError, ModelLoadError
            A backend asked for by name that is not installed (``sentence_splitter='spacy'``),
            a voice file that is not there.
        """
        names = option_names()
        for name in options:
            if name not in names:
                raise InvalidParameterError(
                    f"unknown option {name!r}{did_you_mean(name, names)} "
                    f"(valid: selection, device, {', '.join(names)})"
                )
        return cls(**options)

    def cache_folder(self, berg_dir: str | os.PathLike) -> Path:
        """Where berg's cache is: ``cache_dir``, else ``berg_dir/cache``."""
        return Path(self.cache_dir).expanduser() if self.cache_dir else Path(berg_dir) / "cache"

    # -- what decides results ------------------------------------------------------------------

    def result_settings(self) -> dict[str, Any]:
        """The fields that change results, as plain JSON-able values (for a settings digest):
        those set to something other than their default, paths as strings, callables by
        name."""
        settings = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dict):  # extractor_options: {modality: {}} when none set
                value = {k: v for k, v in value.items() if v not in (None, {})}
            if not f.metadata["results"] or value in (None, {}) or value == f.default:
                continue
            if callable(value):
                name = getattr(value, "__qualname__", type(value).__qualname__)
                value = f"{getattr(value, '__module__', '?')}.{name}"
            elif isinstance(value, os.PathLike):
                value = os.fspath(value)
            settings[f.name] = value
        return settings

    @classmethod
    def markdown_table(cls) -> str:
        """The README's table of options: name, default, what it is, whether it changes
        results."""
        rows = ["| option | default | what | changes results |", "|---|---|---|---|"]
        for group in _GROUPS:
            for f in fields(cls):
                if f.metadata["group"] != group:
                    continue
                default = "`None`" if f.default is None else f"`{f.default!r}`"
                rows.append(
                    f"| `{f.name}` | {default} | {group}: {f.metadata['doc']} | "
                    f"{'yes' if f.metadata['results'] else 'no'} |"
                )
        return "\n".join(rows)


def option_names() -> tuple[str, ...]:
    """The keyword options of ``get_encoding_model`` besides ``selection`` and ``device``."""
    return tuple(f.name for f in fields(EncodingOptions))
