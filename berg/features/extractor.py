"""What the text, audio and video feature extractors share: :class:`FeatureExtractor`.

Each extractor takes a local transformers folder, checks its options when it is built (before
any model folder is needed), reads the folder's config and checks the model type on first
need, loads the model on first use in an explicit dtype, identifies the folder by content for
the feature cache, and releases the model again. Those steps are written here once, so that
the three behave, and fail, the same way; a subclass adds its own options, its model class
and its computation, and says which part of a timeline it reads (`timeline_source`,
`timeline_events`, `extract_timeline`), so that the pipeline treats the three alike.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from berg.errors import InvalidParameterError, ModelLoadError, did_you_mean
from berg.features.layers import LayerSelection
from berg.features.loading import check_model_folder, load_config
from berg.features.timed import TimedFeature
from berg.files import folder_digest
from berg.holder import ModelHolder

__all__ = ["SETTING_STATS", "FeatureExtractor", "add_stats", "check_extractor_options"]


def check_extractor_options(model_dir: object, dtype: object, layers: object):
    """Check the options every extractor takes, before its own ones.

    The device is not checked here: it is resolved after the extractor's own options, so
    that a call with several bad options reports the same one as ever.

    Parameters
    ----------
    model_dir : str or os.PathLike
        The model folder (whether it exists is checked when the model is needed).
    dtype : torch.dtype or None
        A floating dtype; None means float32.
    layers : LayerSelection

    Returns
    -------
    torch.dtype
        The dtype to load the model in.

    Raises
    ------
    InvalidParameterError
        The first option that is not valid.
    """
    import torch

    if not isinstance(model_dir, (str, os.PathLike)):
        raise InvalidParameterError(f"model_dir must be a folder path, got {model_dir!r}")
    dtype = torch.float32 if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise InvalidParameterError(
            f"dtype must be a floating torch.dtype (torch.float32, "
            f"torch.bfloat16, torch.float16), got {dtype!r}"
        )
    if not isinstance(layers, LayerSelection):
        raise InvalidParameterError(f"layers must be a LayerSelection, got {layers!r}")
    return dtype


#: Entries of ``last_stats`` that are settings (clips or tokens per forward pass), not
#: counts: kept as they are when the stats of a stimulus's pieces are added up.
SETTING_STATS = frozenset({"batch_size", "batch_tokens"})


def add_stats(total: dict, stats: dict) -> dict:
    """``total`` with the counts of ``stats`` added (and its settings taken)."""
    for name, value in stats.items():
        total[name] = value if name in SETTING_STATS else total.get(name, 0) + value
    return total


class FeatureExtractor(ModelHolder):
    """Base of the extractors: a model folder, a device, a dtype, layer groups, options.

    Parameters
    ----------
    model_dir : path
        A local transformers folder (a Hub snapshot or ``save_pretrained``).
    device : str or torch.device
        Where the model runs ('cpu', 'cuda', 'cuda:N', 'auto').
    dtype : torch.dtype or None
        The model's precision (None: float32, which reproduces the reference).
    layers : LayerSelection
        Which hidden states are averaged into the layer groups.
    **options
        The subclass's own options, checked by `check_options` and stored as attributes.

    Subclasses set the class attributes below and implement `_build_model`,
    `_fingerprint_details`, `timeline_source`, `timeline_events` and `extract_timeline`.
    """

    #: 'text', 'audio' or 'video'.
    modality: ClassVar[str]
    #: The config ``model_type`` values the computation is written for.
    model_types: ClassVar[tuple[str, ...]]
    #: What the folder should hold, for messages: ``"a 'vjepa2' model (V-JEPA 2, any size)"``.
    expected: ClassVar[str]
    #: Files the folder must have, with what each is.
    required_files: ClassVar[Mapping[str, str]] = {"config.json": "the model config"}
    #: Bump when the numbers a subclass computes change for the same inputs, so that cached
    #: features are recomputed.
    version: ClassVar[int]
    #: The subclass's own options: name -> check returning the value to keep.
    option_checks: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}
    #: Whether transformers may draw its "Loading weights" bars (set by the pipeline from
    #: ``show_progress``).
    show_progress: bool = True

    def __init__(
        self,
        model_dir: str | os.PathLike,
        *,
        device="cpu",
        dtype=None,
        layers: LayerSelection = LayerSelection(),
        **options,
    ):
        from berg.devices import resolve_device

        dtype = check_extractor_options(model_dir, dtype, layers)
        checked = self.check_options(**options)
        self.model_dir = Path(os.fspath(model_dir)).expanduser()
        self.device = resolve_device(device)
        self.dtype = dtype
        self.layers = layers
        for name, value in checked.items():
            setattr(self, name, value)
        #: Counts of the last extraction (what is counted depends on the modality).
        self.last_stats: dict[str, int] = {}
        for name in self._held:
            setattr(self, name, None)
        self._config = None
        self._fingerprint: dict | None = None

    @classmethod
    def check_options(cls, **options) -> dict:
        """Check the values of the extractor's own options (any subset, by keyword) before
        any model folder is needed; returns the values to keep (a memory budget as bytes).

        Raises
        ------
        InvalidParameterError
            An unknown name (with the closest valid one) or a bad value.
        """
        checked = {}
        for name, value in options.items():
            if name not in cls.option_checks:
                valid = list(cls.option_checks)
                raise InvalidParameterError(
                    f"unknown {cls.modality} extractor option {name!r}"
                    f"{did_you_mean(str(name), valid)} (valid: {', '.join(valid)})"
                )
            checked[name] = cls.option_checks[name](value)
        return checked

    # -- the model folder --------------------------------------------------------------------

    def _check_folder(self) -> None:
        check_model_folder(self.model_dir, self.modality, self.expected)
        for name, what in self.required_files.items():
            if not (self.model_dir / name).is_file():
                raise ModelLoadError(
                    f"{self.modality} model folder {str(self.model_dir)!r} has no {name} "
                    f"({what}): it must be a transformers folder of {self.expected} (a Hub "
                    "snapshot or save_pretrained)"
                )

    @property
    def config(self):
        """The model's transformers config, read without the weights, its type checked."""
        if self._config is None:
            self._check_folder()
            config = load_config(self.model_dir, self.modality)
            if not self.accepts(config):
                types = " or ".join(map(repr, self.model_types))
                raise ModelLoadError(
                    f"the {self.modality} model in {str(self.model_dir)!r} is a "
                    f"{config.model_type!r} model; expected "
                    + (f"{types}: {self.expected}" if types else self.expected)
                )
            self._config = config
        return self._config

    @classmethod
    def accepts(cls, config) -> bool:
        """Whether the computation is written for a model of this transformers config (by
        default: its ``model_type`` is one of `model_types`)."""
        return config.model_type in cls.model_types

    @property
    def n_layers(self) -> int:
        """Hidden states the model returns (the embedding output included)."""
        return int(self.config.num_hidden_layers) + 1

    @property
    def feature_dim(self) -> int:
        """Width of a hidden state."""
        return int(self.config.hidden_size)

    # -- the model ---------------------------------------------------------------------------

    @property
    def model(self):
        """The model, in eval mode, on the device, in ``dtype`` (loaded on first use)."""
        if self._model is None:
            self.config  # noqa: B018 - checks the folder and the model type first
            self._model = self._build_model()
        return self._model

    def _build_model(self):
        raise NotImplementedError

    def _load_model(self) -> None:
        self.model  # noqa: B018 - the property loads it
        for name in self._held[1:]:
            getattr(self, name.removeprefix("_"))  # the public property that loads it

    @property
    def numerics(self) -> dict:
        """How this extractor reproduces the reference where there is a choice (for the
        encode metadata); empty when there is none."""
        return {}

    # -- identity for the cache --------------------------------------------------------------

    def fingerprint(self) -> dict:
        """Everything that decides the numbers, for the feature cache key.

        The model folder is identified by content (configs whole, weights by size and
        samples; see :func:`berg.files.folder_digest`). What changes the numbers only by
        float rounding (device, batch sizes) is left out.
        """
        if self._fingerprint is None:
            import transformers

            layers = self.layers
            self._fingerprint = {
                "extractor": f"berg.features.{self.modality}",
                "version": self.version,
                "model_type": self.config.model_type,
                "model_files": folder_digest(self.model_dir),
                "dtype": str(self.dtype).removeprefix("torch."),
                "layers": {
                    "fractions": list(layers.fractions),
                    "aggregation": layers.aggregation,
                    "cache_n_layers": layers.cache_n_layers,
                },
                **self._fingerprint_details(),
                "transformers": transformers.__version__,
            }
        return dict(self._fingerprint)

    def _fingerprint_details(self) -> dict:
        """The subclass's settings that decide the numbers."""
        return {}

    # -- a timeline --------------------------------------------------------------------------

    @staticmethod
    def timeline_source(timeline) -> Path | None:
        """The file whose bytes the features depend on (None: only on `timeline_events`)."""
        raise NotImplementedError

    @staticmethod
    def timeline_events(timeline) -> list:
        """The parts of the timeline the features depend on, as JSON-able values."""
        raise NotImplementedError

    #: Events (`timeline_events`) per feature-cache entry: a long stimulus's features are
    #: cached in pieces as they are made, so that a run that is stopped resumes from the
    #: pieces done. The pieces hold the numbers of one pass (text: to float rounding).
    events_per_entry = 1

    def extract_timeline(
        self,
        timeline,
        progress: Callable[[float], None] | None = None,
        events: slice = slice(None),
    ) -> list[TimedFeature]:
        """The features of a timeline's part for this modality.

        Parameters
        ----------
        timeline : berg.stimulus.Timeline
        progress : callable(increment), optional
            Called as work advances: seconds of stimulus for audio and video, words for text.
        events : slice
            Which of `timeline_events` (all by default).
        """
        raise NotImplementedError

    def iter_timeline(
        self,
        timeline,
        progress: Callable[[float], None] | None = None,
        events: slice = slice(None),
    ) -> Iterator[TimedFeature]:
        """`extract_timeline`'s features one by one, in event order, as they are made, so
        that the pipeline caches each piece as soon as it is whole.

        This one runs `extract_timeline` a piece (`events_per_entry`) at a time, and leaves
        in ``last_stats`` the counts of them all; an extractor whose pieces would each
        repeat work (the audio's decode from the start) streams its own.
        """
        start, stop, _ = events.indices(len(self.timeline_events(timeline)))
        total: dict = {}
        for lo in range(start, stop, self.events_per_entry):
            piece = slice(lo, min(lo + self.events_per_entry, stop))
            self.last_stats = {}
            yield from self.extract_timeline(timeline, progress=progress, events=piece)
            add_stats(total, self.last_stats)
            self.last_stats = dict(total)
