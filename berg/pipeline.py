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
from contextlib import nullcontext
from typing import Any

import numpy as np

from berg import cortex
from berg.devices import resolve_device
from berg.errors import InvalidParameterError
from berg.holder import release_cached_memory
from berg.hub import MissingModelError
from berg.metadata import model_metadata
from berg.options import EncodingOptions, option_names
from berg.packages import numbers_versions
from berg.progress import Stages as _Stages
from berg.registry import MODALITIES, ModelCard, check_modality
from berg.response_rows import check_rows_path, rows_file
from berg.timing import StageClock
from berg.validation import check_bool

__all__ = ["ENCODING_MODEL_OPTIONS", "TribeV2Model", "check_options", "load_encoding_model"]

#: Keyword options of ``get_encoding_model`` besides ``selection`` and ``device``.
ENCODING_MODEL_OPTIONS = option_names()


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
    feature_models : dict of str to FeatureModel
        Each modality's feature model as the checkpoint uses it (the models its
        ``config.yaml`` names, else the card's), with its layer rule and the ``(L, D)``
        features the brain model reads.
    options : EncodingOptions
        The keyword options it was loaded with, checked.
    """

    def __init__(
        self,
        card: ModelCard,
        berg_dir: str | os.PathLike,
        *,
        selection: dict | None = None,
        device: str = "auto",
        options: EncodingOptions | None = None,
    ):
        from berg.stimulus.transcribe import make_transcriber
        from berg.tribe.checkpoint import load_brain_model
        from berg.tribe.weights import locate_weights

        options = EncodingOptions() if options is None else options
        if not isinstance(options, EncodingOptions):
            raise InvalidParameterError(f"options must be an EncodingOptions, got {options!r}")
        self.card = card
        self.model_id = card.model_id
        self.options = options
        # Cheap checks first: a bad ROI name or recogniser must not cost a 0.7 GB download.
        self.vertices = cortex.resolve_selection(selection)
        self.device = resolve_device(device)
        # The recogniser is built now (its model loads on first use): its model name, device
        # and compute type are checked before the weights. It runs where the models do
        # unless told otherwise: CTranslate2 has its own CUDA build, which a GPU box may
        # lack ('auto' then falls back to the CPU). Like the feature models, it can come
        # from a folder named by an environment variable; else the reference's size.
        self._asr_model = options.asr_model or os.environ.get("BERG_ASR_MODEL") or "large-v3"
        self._transcriber = make_transcriber(
            options.asr,
            model=self._asr_model,
            device=options.asr_device or str(self.device),
            **options.asr_options,
        )
        self._berg_dir = berg_dir
        try:
            self.weights_dir = locate_weights(
                berg_dir,
                card.weights,
                checkpoint_dir=options.checkpoint_dir,
                download=options.download,
                revision=options.revision,
                show_progress=options.show_progress,
            )
        except MissingModelError as error:  # said once, with every other model missing
            raise self._missing_models(error, MODALITIES) from error
        from berg.features.checkpoint_models import checkpoint_feature_models
        from berg.tribe.config import read_tribe_config

        self._tribe_config = read_tribe_config(self.weights_dir / "config.yaml")
        self.brain_model = load_brain_model(self.weights_dir, device=self.device)
        # The feature models the checkpoint was trained on (its config.yaml, the card as the
        # fallback), their sizes checked against what the brain model reads, before any
        # of them is downloaded.
        self.feature_models = checkpoint_feature_models(
            self._tribe_config,
            card,
            self.brain_model.feature_dims,
            folders_given=options.feature_options().model_dirs,
        )
        self.cache_dir = options.cache_folder(berg_dir)
        self.stimulus_options = options.stimulus_options()
        self._keep_models_loaded = options.keep_models_loaded
        self._features = None

    @property
    def n_vertices(self) -> int:
        """Number of output columns."""
        return cortex.N_VERTICES if self.vertices is None else len(self.vertices)

    def encode(
        self,
        stimulus: str | os.PathLike,
        *,
        show_progress: bool = False,
        return_metadata: bool = False,
        contributions: bool = False,
        out: str | os.PathLike | None = None,
    ):
        """Predict the response to one stimulus file.

        ``contributions=True`` (with ``return_metadata=True``) also runs the brain model
        once per modality with that modality removed (the features are reused), and puts
        a :class:`berg.tribe.contributions.Contributions` under ``metadata['contributions']``.
        ``out`` (a ``.npy`` path) writes the responses to that file as they are predicted
        (:mod:`berg.response_rows`), for a film whose responses should not be held.

        Returns
        -------
        responses : np.ndarray
            float32 (ceil(duration), n_vertices): row k is stimulus second [k, k+1). With
            ``out``: that file, opened read-only as a ``np.memmap``.
        metadata : dict
            With ``return_metadata=True``: :meth:`metadata` plus this stimulus's row times,
            modalities, and how its timeline and features were made.
        """
        from berg.stimulus import check_stimulus_file
        from berg.stimulus.kinds import modalities_of

        self._check_open()
        check_bool("contributions", contributions)
        if contributions and not return_metadata:
            raise InvalidParameterError(
                "contributions come with the metadata: pass return_metadata=True as well"
            )
        _, kind = check_stimulus_file(stimulus)  # before any bar is drawn
        if out is not None:
            out = check_rows_path(out)
        try:
            return self._encode(stimulus, show_progress, return_metadata, contributions, out)
        except MissingModelError as error:  # said once, with every other model missing
            modalities = modalities_of([kind])
            raise self._missing_models(error, modalities) from error

    def _encode(self, stimulus, show_progress, return_metadata, contributions, out):
        from berg.stimulus.timeline import build_timeline
        from berg.tribe.binning import row_times
        from berg.tribe.contributions import modality_contributions
        from berg.tribe.predict import predict_responses

        clock = StageClock(self.device, track_gpu_memory=self.options.track_gpu_memory)
        with _Stages(show_progress) as stages:
            stages.start("decoding + speech", total=None, unit="s")
            timeline = build_timeline(
                stimulus,
                cache_dir=self.cache_dir,
                transcriber=self._transcriber,
                options=self.stimulus_options,
                clock=clock,
            )
            stages.finish()
            if not self._keep_models_loaded:
                self._release_transcriber()
            features = self._get_features().extract(
                timeline, progress=stages.progress_for(timeline), clock=clock
            )
            stages.start("brain model", total=timeline.duration, unit="s")
            with clock.stage("brain"), _rows_out(out, timeline, self.n_vertices) as rows:
                responses = predict_responses(
                    self.brain_model,
                    features,
                    timeline.duration,
                    columns=self.vertices,
                    batch_size=self.options.window_batch_size,
                    progress=stages.advance,
                    out=rows,
                )
            if out is not None:
                responses = np.load(out, mmap_mode="r")
            if contributions:  # the same features, once more per modality removed
                stages.start("modality contributions", total=None, unit="s")
                with clock.stage("contributions"):
                    found = modality_contributions(
                        self.brain_model,
                        features,
                        timeline.duration,
                        columns=self.vertices,
                        batch_size=self.options.window_batch_size,
                        full=responses,
                    )
            stages.finish()
        if not return_metadata:
            return responses
        meta = self.metadata()
        meta["stimulus"] = {
            "path": str(timeline.path),
            "kind": timeline.kind,
            "duration_s": timeline.duration,
            "modalities": list(timeline.modalities),
            "language": timeline.language,
            "n_words": len(timeline.words),
            # Columns, not one object a word: a film's words stay a small part of the JSON.
            "words": {
                "text": [w.text for w in timeline.words],
                "start_s": [round(w.start, 3) for w in timeline.words],
                "duration_s": [round(w.duration, 3) for w in timeline.words],
            },
        }
        meta["timing"]["row_times_s"] = row_times(timeline.duration)
        meta["provenance"] = {
            "timeline": timeline.provenance,
            "feature_models": {
                m: p
                for m, p in self._get_features().provenance().items()
                if m in timeline.modalities
            },
            "feature_dtype": self.options.feature_dtype,
            "feature_cache_keys": dict(self._get_features().last_cache_keys),
            # What each extractor computed (words, forward passes, tokens, clips...):
            # nothing for a modality read whole from the cache.
            "feature_work": dict(self._get_features().last_stats),
            "stages": clock.as_dict(),
            "packages": numbers_versions(),
        }
        if contributions:
            meta["contributions"] = found
        return responses, meta

    def _missing_models(self, error, modalities):
        """``error`` (a model not on this machine) as the error that lists every model of a
        run on ``modalities`` that is missing here."""
        from berg.downloads import missing_models_error, models_needed

        needs = models_needed(
            self.card,
            self._berg_dir,
            modalities=modalities,
            asr_model=self._asr_model,
            checkpoint_dir=self.options.checkpoint_dir,
            model_dirs=self.options.feature_options().model_dirs,
            recogniser="audio" in modalities,
        )
        return missing_models_error(needs, error)

    def _release_transcriber(self) -> None:
        """Free the recogniser's model (it loads again when next needed)."""
        self._transcriber.close()

    def _get_features(self):
        if self._features is None:
            from berg.features.pipeline import FeaturePipeline

            self._features = FeaturePipeline(
                self.feature_models,
                self.options.feature_options(),
                device=self.device,
                cache_dir=self.cache_dir / "features",
            )
        return self._features

    def metadata(self) -> dict[str, Any]:
        """The model's BERG metadata plus this instance's selection and device, and where
        its weights came from (``model.weights_dir``; ``model.weights_commit``: the Hub
        commit when the disk records it, None otherwise)."""
        from berg.tribe.weights import weights_commit

        meta = model_metadata(self.card, berg_dir=self._berg_dir)
        vertices = (
            np.arange(cortex.N_VERTICES, dtype=np.int64)
            if self.vertices is None
            else self.vertices.copy()
        )
        meta["selection"] = {
            "vertices": vertices,
            "n_vertices": len(vertices),
            "all_vertices": self.vertices is None,
        }
        meta["model"]["device"] = str(self.device)
        meta["model"]["weights_dir"] = str(self.weights_dir)
        meta["model"]["weights_commit"] = weights_commit(self.weights_dir, self.card.weights)
        return meta

    def load_models(self, modalities: Sequence[str] = MODALITIES) -> None:
        """Load the models these modalities' stimuli need now, not at the first ``encode``.

        The speech recogniser is loaded when ``'audio'`` is among them (videos, sounds
        and spoken texts are transcribed; images are not); each loads its feature model. A
        batch worker does this once when it starts, so that its memory is known before more
        workers are placed beside it. Models loaded here are still released after each
        ``encode`` unless ``keep_models_loaded=True``.
        """
        self._check_open()
        for modality in modalities:
            check_modality(modality)
        if "audio" in modalities and not self._transcriber.loaded:
            self._transcriber.load()
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
        release_cached_memory(self.device)

    def _check_open(self) -> None:
        if self.brain_model is None:
            raise InvalidParameterError(
                f"this {self.model_id} model was closed; load it again with BERG.get_encoding_model"
            )

    def __enter__(self) -> TribeV2Model:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        columns = "all vertices" if self.vertices is None else f"{len(self.vertices)} vertices"
        state = "closed" if self.brain_model is None else str(self.device)
        return f"<TribeV2Model {self.model_id!r}: {columns}, {state}>"


def _rows_out(out, timeline, n_columns):
    """Where the brain model writes its rows: a file at ``out`` (made whole or not at all),
    or (``out`` None) a new array, from ``predict_responses``."""
    from berg.tribe.binning import output_rows

    if out is None:
        return nullcontext()
    return rows_file(out, (output_rows(timeline.duration), n_columns))


def load_encoding_model(
    model_id: str,
    berg_dir: str | os.PathLike,
    *,
    selection: dict | None = None,
    device: str = "auto",
    **options: Any,
) -> TribeV2Model:
    """The encoding model of ``model_id`` (an id or alias of the registry), loaded.

    Parameters are those of ``BERG.get_encoding_model``; ``berg_dir`` is the BERG folder
    (weights and caches).

    Raises
    ------
    ModelNotFoundError, InvalidParameterError, DeviceNotAvailableError, ModelLoadError
    """
    from berg.registry import get_card

    card = get_card(model_id)
    return TribeV2Model(
        card, berg_dir, selection=selection, device=device, options=check_options(options)
    )


def check_options(options: dict[str, Any]) -> EncodingOptions:
    """The keyword options of ``get_encoding_model`` as :class:`EncodingOptions`: every name
    and value checked (unknown names with the closest valid one), nothing loaded."""
    return EncodingOptions.from_kwargs(options)
