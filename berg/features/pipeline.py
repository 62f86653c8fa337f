"""A timeline in, the features of each modality out: models resolved, loaded, cached, freed.

One :class:`FeaturePipeline` serves many stimuli. For each modality the timeline carries it

1. builds the cache key from what the numbers depend on: the bytes the extractor reads (or,
   for text, the timed words and contexts), the extractor's settings and model identity;
2. returns the cached features when present, else resolves the model folder (argument,
   environment variable or Hub cache), loads the model lazily on the chosen device, extracts,
   and stores the result atomically;
3. releases the model afterwards when ``release_models`` is set, so the peak GPU memory is
   that of the largest single model, not of all three together.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berg.errors import InvalidParameterError
from berg.features.cache import FeatureCache
from berg.features.checkpoint_models import FeatureModel
from berg.features.extractor import add_stats
from berg.features.layers import group_indices
from berg.features.models import ResolvedModel, resolve_pretrained
from berg.features.pieces import gather_pieces
from berg.features.timed import TimedFeature
from berg.files import file_sha256
from berg.holder import release_free_heap
from berg.registry import MODALITIES, check_modality
from berg.stimulus.timeline import Timeline
from berg.timing import StageClock
from berg.validation import check_bool, check_choice

__all__ = ["FeatureOptions", "FeaturePipeline", "MODALITIES", "validate_extractor_options"]


def _extractor_class(modality: str):
    from berg.features.audio import AudioFeatureExtractor
    from berg.features.text import TextFeatureExtractor
    from berg.features.video import VideoFeatureExtractor

    return {
        "text": TextFeatureExtractor,
        "audio": AudioFeatureExtractor,
        "video": VideoFeatureExtractor,
    }[modality]


def validate_extractor_options(options: Mapping[str, Mapping] | None) -> dict[str, dict]:
    """``{modality: {option: value}}`` checked against the extractors' keyword options.

    Returns
    -------
    dict
        One (possibly empty) dict of options per modality.

    Raises
    ------
    InvalidParameterError
        An unknown modality or option name (with the closest valid one), or a bad value
        (each extractor's ``check_options``): all before any model folder is needed.
    """
    options = {} if options is None else options
    if not isinstance(options, Mapping) or not all(
        isinstance(v, Mapping) for v in options.values()
    ):
        raise InvalidParameterError(
            f"extractor options must map a modality ('text', 'audio', "
            f"'video') to a dict of options, got {options!r}"
        )
    for modality, given in options.items():
        _extractor_class(check_modality(modality)).check_options(**given)
    return {m: dict(options.get(m, {})) for m in MODALITIES}


#: ``feature_dtype`` names and what the models run in.
FEATURE_DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class FeatureOptions:
    """How the feature models are found, run and kept, checked once when built.

    Attributes
    ----------
    dtype : {'float32', 'bfloat16', 'float16'}
        The models' precision; float32 reproduces the reference, bfloat16 is faster on a GPU.
    model_dirs : mapping of modality to path
        Explicit model folders (win over environment variables and the Hub).
    local_files_only : bool
        Never download feature models.
    release_models : bool
        Free each model after its stage (bounded GPU memory); keep them for many stimuli
        in a row when False.
    show_progress : bool
        Progress bars for model downloads, and transformers' while a model loads.
    extractor_options : mapping of modality to dict
        Each extractor's own options (batch sizes, memory budget...): names and values are
        checked here (`validate_extractor_options`).

    Raises
    ------
    InvalidParameterError
        An unknown dtype, modality or option name (with the close match), or a bad value.
    """

    dtype: str = "float32"
    model_dirs: Mapping[str, str | os.PathLike] = field(default_factory=dict)
    local_files_only: bool = False
    release_models: bool = True
    show_progress: bool = False
    extractor_options: Mapping[str, Mapping] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice(
            "feature dtype", self.dtype, FEATURE_DTYPES, what="; float32 reproduces the reference"
        )
        model_dirs = dict(self.model_dirs or {})
        for modality in model_dirs:
            check_modality(modality)
        object.__setattr__(self, "model_dirs", model_dirs)
        for name in ("local_files_only", "release_models", "show_progress"):
            check_bool(name, getattr(self, name))
        object.__setattr__(
            self, "extractor_options", validate_extractor_options(self.extractor_options)
        )

    @property
    def torch_dtype(self):
        import torch

        return getattr(torch, self.dtype)


class FeaturePipeline:
    """Extract the text, audio and video features of timelines, with a feature cache.

    Parameters
    ----------
    feature_models : mapping of modality to FeatureModel
        The models the checkpoint was trained on, their layer rule and the features its
        brain model reads (:func:`berg.features.checkpoint_models.checkpoint_feature_models`).
    options : FeatureOptions, optional
        Precision, model folders, downloads, release, extractor options.
    device : torch.device or str
        Where the feature models run.
    cache_dir : path or None
        Feature cache folder; None disables caching.
    """

    def __init__(
        self,
        feature_models: Mapping[str, FeatureModel],
        options: FeatureOptions | None = None,
        *,
        device,
        cache_dir: str | os.PathLike | None = None,
    ):
        import torch

        options = FeatureOptions() if options is None else options
        if not isinstance(options, FeatureOptions):
            raise InvalidParameterError(f"options must be a FeatureOptions, got {options!r}")
        self.feature_models = dict(feature_models)
        self.options = options
        self.device = torch.device(device)
        self.dtype = options.torch_dtype
        self.cache = FeatureCache(Path(cache_dir)) if cache_dir is not None else None
        self._extractors: dict[str, Any] = {}
        self._resolved: dict[str, ResolvedModel] = {}
        self._numerics: dict[str, dict] = {}  # kept after the extractors are released
        self._layers_used: dict[str, dict] = {}  # likewise
        #: modality -> the feature cache keys of the last `extract`, one per piece (None:
        #: no cache).
        self.last_cache_keys: dict[str, list[str | None]] = {}
        #: modality -> what its extractor computed in the last `extract` (its `last_stats`
        #: over the pieces made; empty when every piece came from the cache).
        self.last_stats: dict[str, dict[str, int]] = {}

    # -- models ------------------------------------------------------------------------------

    def resolved_model(self, modality: str) -> ResolvedModel:
        """The folder (and Hub commit) of a modality's model, resolved once."""
        if modality not in self._resolved:
            self._resolved[modality] = resolve_pretrained(
                self.feature_models[modality].spec,
                model_dir=self.options.model_dirs.get(modality),
                local_files_only=self.options.local_files_only,
                show_progress=self.options.show_progress,
            )
        return self._resolved[modality]

    def extractor(self, modality: str):
        """The extractor of a modality (built on first use; its model loads lazily).

        Raises
        ------
        ModelLoadError
            The model folder holds a model whose features the brain model cannot read
            (checked from its ``config.json``, before the weights load).
        """
        if modality not in self._extractors:
            model = self.feature_models[modality]
            folder = self.resolved_model(modality).path
            extractor = _extractor_class(modality)(
                folder,
                device=self.device,
                dtype=self.dtype,
                layers=model.layers,
                **self.options.extractor_options[modality],
            )
            model.check_sizes(
                extractor.n_layers - 1, extractor.feature_dim, source=str(folder / "config.json")
            )
            extractor.show_progress = self.options.show_progress
            self._numerics[modality] = extractor.numerics
            self._layers_used[modality] = {
                "named_by": model.named_by,
                "fractions": list(model.layers.fractions),
                "aggregation": model.layers.aggregation,
                "cache_n_layers": model.layers.cache_n_layers,
                "hidden_states": group_indices(extractor.n_layers, model.layers),
            }
            self._extractors[modality] = extractor
        return self._extractors[modality]

    def release(self, modality: str | None = None) -> None:
        """Free the models of one modality (or all), and their GPU memory."""
        for name in [modality] if modality else list(self._extractors):
            extractor = self._extractors.pop(name, None)
            if extractor is not None:
                extractor.close()

    close = release

    # -- extraction --------------------------------------------------------------------------

    def cache_key(
        self,
        timeline: Timeline,
        modality: str,
        digests: dict[Path, str] | None = None,
        events: slice = slice(None),
    ) -> str:
        """The content address of a modality's features for this timeline (for the piece
        ``events`` of its `timeline_events`; all of them by default).

        ``digests`` memoises file hashes across modalities: a video's audio and video
        features read the same file, which need not be hashed twice.
        """
        digests = {} if digests is None else digests
        extractor = self.extractor(modality)
        source = extractor.timeline_source(timeline)
        if source is None:
            content = "words"
        else:
            if source not in digests:
                digests[source] = file_sha256(source)
            content = digests[source]
        events = json.dumps(extractor.timeline_events(timeline)[events]).encode("utf-8")
        resolved = self.resolved_model(modality)
        fingerprint = {
            "events": hashlib.sha256(events).hexdigest(),
            "model": resolved.hub_id,
            "model_revision": resolved.revision or str(resolved.path),
            "extractor": extractor.fingerprint(),
        }
        return self.cache.key(content, modality, fingerprint)

    def extract(
        self,
        timeline: Timeline,
        progress: Callable[[str, float], None] | None = None,
        clock: StageClock | None = None,
    ) -> dict[str, list[TimedFeature]]:
        """The features of every modality the timeline carries.

        Parameters
        ----------
        timeline : Timeline
        progress : callable(modality, increment), optional
            Called as work advances: seconds of stimulus for audio and video, words for text.
        clock : StageClock, optional
            Records a stage per modality (``text``, ``audio``, ``video``) and the set-up of
            its extractor and model, ``load_<modality>``.

        Returns
        -------
        dict
            modality -> list of TimedFeature, for the modalities in ``timeline.modalities``;
            with a cache, :class:`~berg.features.pieces.CachedFeature` records whose data
            are read back from it as they are used (a few pieces held at a time). The
            cache keys of each, one per piece (None without a cache), are in
            `last_cache_keys`.
        """
        clock = clock or StageClock()
        features: dict[str, list[TimedFeature]] = {}
        digests: dict[Path, str] = dict(timeline.digests)  # hashed while it was built
        self.last_cache_keys, self.last_stats = {}, {}
        for modality in MODALITIES:
            if modality not in timeline.modalities:
                continue
            try:
                # Building the extractor (imports, configs, the model folder's digest for
                # the cache key) is set-up, like loading the model: charged to loading.
                with clock.stage(f"load_{modality}"):
                    extractor = self.extractor(modality)
                    if self.cache is not None:
                        extractor.fingerprint()  # kept by the extractor
                with clock.stage(modality):
                    features[modality] = self._extract_pieces(
                        timeline, modality, extractor, digests, progress, clock
                    )
            finally:
                if self.options.release_models:
                    self.release(modality)
                # What the stage freed would stay resident until the end of the encode.
                release_free_heap()
        return features

    def _extract_pieces(self, timeline, modality, extractor, digests, progress, clock):
        """A modality's features, a cache entry per piece of `events_per_entry` events.

        The pieces that are not in the cache are made by one stream of the extractor
        (`iter_timeline`: the audio's sound decoded once for all of them) and each is
        written as soon as it is whole, so a stopped run keeps the pieces done
        (`gather_pieces`). The keys go to `last_cache_keys`; the extractor's `last_stats`
        (and `last_stats` here) add up the pieces made.
        """
        n_events = len(extractor.timeline_events(timeline))
        per = extractor.events_per_entry
        pieces = [slice(i, min(i + per, n_events)) for i in range(0, n_events, per)]
        pieces = pieces or [slice(0, 0)]
        keys = self.last_cache_keys[modality] = [
            None if self.cache is None else self.cache_key(timeline, modality, digests, piece)
            for piece in pieces
        ]
        totals: dict[str, int] = {}

        def stream(events: slice):
            if not extractor.loaded:
                with clock.stage(f"load_{modality}"):
                    extractor.load()
            report = (lambda step: progress(modality, step)) if progress else None
            yield from extractor.iter_timeline(timeline, progress=report, events=events)
            add_stats(totals, extractor.last_stats)

        found = gather_pieces(pieces, keys, self.cache, stream, what=modality)
        extractor.last_stats = self.last_stats[modality] = totals
        return found

    def provenance(self) -> dict[str, Any]:
        """Which model folders and commits were used, per modality, which hidden states
        were averaged (``layers``: the rule, whether the checkpoint or the card named the
        model, and the indices of each group), and how the extractor reproduces the
        reference where there is a choice (``numerics``: the video's frame resize, how a
        video's sound is read)."""
        return {
            m: {
                "hub_id": r.hub_id,
                "revision": r.revision,
                "source": r.source,
                "path": str(r.path),
                "layers": self._layers_used.get(m, {}),
                "numerics": self._numerics.get(m, {}),
            }
            for m, r in self._resolved.items()
        }
