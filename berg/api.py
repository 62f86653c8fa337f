"""``BERG``: the interface neuroscientists call from a notebook.

>>> from berg import BERG
>>> berg = BERG(berg_dir="path/to/brain-encoding-response-generator")
>>> model = berg.get_encoding_model("fmri-dascoli_2026-tribe_v2", selection={"roi": ["V1"]})
>>> responses = berg.encode(model, "clip.mp4", show_progress=True)  # (n_seconds, n_vertices)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from berg.errors import InvalidParameterError
from berg.metadata import model_metadata
from berg.registry import ModelCard, get_card, list_model_ids
from berg.validation import check_bool

__all__ = ["BERG"]


class BERG:
    """Entry point to the encoding models of the Brain Encoding Response Generator.

    Parameters
    ----------
    berg_dir : str or os.PathLike
        The BERG directory. Model weights live below it in BERG's layout
        (``encoding_models/modality-fmri/train_dataset-dascoli_2026/model-tribe_v2/`` for
        TRIBE v2) and are downloaded there on first use. It need not exist yet.
    """

    def __init__(self, berg_dir: str | os.PathLike):
        if not isinstance(berg_dir, (str, os.PathLike)) or str(berg_dir).strip() == "":
            raise InvalidParameterError(
                f"berg_dir must be a folder path (str or os.PathLike), got {berg_dir!r}"
            )
        path = Path(berg_dir).expanduser()
        if path.exists() and not path.is_dir():
            raise InvalidParameterError(f"berg_dir {str(path)!r} exists but is not a folder")
        self.berg_dir = path

    def __repr__(self) -> str:
        return f"BERG(berg_dir={str(self.berg_dir)!r})"

    def list_models(self) -> list[str]:
        """Sorted ids of the models this BERG can load (canonical ids; see ``describe`` for
        the aliases each one also accepts)."""
        return list_model_ids()

    def describe(self, model_id: str) -> ModelCard:
        """Print the model card of ``model_id`` and return it as a read-only mapping.

        Raises
        ------
        ModelNotFoundError
            Unknown id; the message suggests the closest valid one.
        """
        card = get_card(model_id)
        print(card)
        return card

    def get_model_metadata(self, model_id: str) -> dict[str, Any]:
        """The model's metadata, without loading the model or touching the network.

        Returns
        -------
        dict
            ``fmri`` (subject_id, n_vertices, n_vertices_lh, n_vertices_rh, surface_mesh,
            output_frequency_hz), ``roi`` (parcellation, roi_labels (180,),
            roi_assignments (20484,) with -1 = medial wall, roi_index), ``timing``
            (the 5 s hemodynamic offset) and ``model`` (id, aliases, weights provenance).
            When the model's folder in the BERG directory keeps a metadata file
            (``metadata/metadata.npy``, ``metadata_sub-average.npy``, or ``.json``), its
            keys are checked against these and its extra keys added; ``model.metadata_file``
            then names it.

        Raises
        ------
        ModelNotFoundError
            Unknown id.
        MetadataError
            The folder's metadata file cannot be read safely (a pickle that names anything
            but numpy arrays and plain containers is never run), or disagrees with berg's.
        """
        return model_metadata(get_card(model_id), berg_dir=self.berg_dir)

    def download(
        self,
        model_id: str,
        *,
        modalities=None,
        asr_model: str | os.PathLike | None = None,
        revision: str | None = None,
        weights_only: bool = False,
        show_progress: bool = True,
    ):
        """Fetch every model a run needs, ahead of time, with one progress bar.

        The TRIBE v2 weights go into the BERG directory; the feature models of
        ``modalities`` and the speech recogniser into the Hugging Face cache (``HF_HOME``),
        each at its pinned commit, each pinned file checked against its digest. Models
        already in place are not fetched again. What cannot be fetched (offline, gated
        without access) is reported, not raised, so that the others still arrive.

        Parameters
        ----------
        model_id : str
            As for ``get_encoding_model``.
        modalities : sequence of {'text', 'audio', 'video'}, optional
            The feature models to fetch (default: all three).
        asr_model : str or path, optional
            The Whisper model encodes will use (default ``$BERG_ASR_MODEL``, else
            ``'large-v3'``); a folder is only checked.
        revision : str, optional
            Another revision of the TRIBE weights than the pinned one (not checked).
        weights_only : bool
            Only the TRIBE weights.
        show_progress : bool
            One bar over everything (off a terminal: one line at the end).

        Returns
        -------
        list of berg.downloads.DownloadOutcome
            Per model: ``need`` (what it is), ``ok``, and ``detail`` (where it is, or why
            it could not be fetched).
        """
        from berg.downloads import download_models, models_needed
        from berg.registry import MODALITIES, check_modality

        card = get_card(model_id)
        check_bool("weights_only", weights_only)
        check_bool("show_progress", show_progress)
        chosen = MODALITIES if modalities is None else tuple(check_modality(m) for m in modalities)
        needs = models_needed(card, self.berg_dir, modalities=chosen, asr_model=asr_model)
        if weights_only:
            needs = needs[:1]
        return download_models(
            needs, self.berg_dir, card, revision=revision, show_progress=show_progress
        )

    def get_encoding_model(
        self,
        model_id: str,
        selection: dict | None = None,
        device: str = "auto",
        **options: Any,
    ):
        """Load an encoding model, ready for ``encode``.

        Parameters
        ----------
        model_id : str
            ``'fmri-dascoli_2026-tribe_v2'`` (or its alias ``'fmri-multi_study-tribe_v2'``).
        selection : dict, optional
            Output columns: ``{'roi': [names], 'vertices': mask}``, either or both (their
            union, in ascending vertex order). ``roi`` takes Glasser HCP-MMP1.0 area names
            (each selects both hemispheres); ``vertices`` a binary mask of 20,484 entries.
            Default: all 20,484 fsaverage5 vertices.
        device : {'auto', 'cpu', 'cuda', 'cuda:N', 'mps'}
            ``'auto'`` takes a CUDA GPU when PyTorch sees one, else an Apple GPU (MPS), else
            the CPU; on an Apple GPU, Whisper runs on the CPU (CTranslate2 has no MPS).
        **options
            The keyword options of :class:`berg.options.EncodingOptions` (the README's
            "Options" table): weights (``checkpoint_dir``, ``download``, ``revision``),
            caches, speech recognition (``asr``, ``asr_model``, ``asr_device``,
            ``asr_options``), speech and sentences (``language``, ``tts``, ``tts_options``,
            ``sentence_splitter``), feature models and their precision, speed and memory
            (``memory_budget_gb``, ``extractor_options``, ``window_batch_size``). Every name
            and value is checked before any weights are read or downloaded.

        Returns
        -------
        TribeV2Model

        Raises
        ------
        ModelNotFoundError, InvalidParameterError, DeviceNotAvailableError, ModelLoadError
        """
        from berg.pipeline import load_encoding_model

        return load_encoding_model(
            model_id, self.berg_dir, selection=selection, device=device, **options
        )

    def encode(
        self,
        model,
        stimulus: str | os.PathLike,
        return_metadata: bool = False,
        show_progress: bool = False,
        contributions: bool = False,
        out: str | os.PathLike | None = None,
    ) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
        """Predict the fMRI response to one stimulus file.

        Parameters
        ----------
        model : TribeV2Model
            From ``get_encoding_model``.
        stimulus : str or os.PathLike
            One video (.mp4 .avi .mkv .mov .webm), audio (.wav .mp3 .flac .ogg) or text
            (.txt) file.
        return_metadata : bool
            Also return the metadata dictionary.
        show_progress : bool
            Show a progress bar per stage.
        contributions : bool
            With ``return_metadata=True``: also the contribution of each modality (the
            response minus the response with that modality removed by the model's rule),
            as ``metadata['contributions']`` (:class:`berg.tribe.contributions.
            Contributions`: ``timecourses()``, ``maps()``, ``rgb()``, ``shares()``). The
            features are reused; only the brain model runs again, once per modality.
        out : str or os.PathLike, optional
            A ``.npy`` file to write the responses to as they are predicted, a batch of
            windows at a time, so that a film's responses are never all in memory (2 hours
            of the full cortex are 590 MB). Written whole or not at all; yours to keep.

        Returns
        -------
        responses : np.ndarray
            float32 (n_seconds, n_vertices): row k is stimulus second [k, k+1). With
            ``out``: that file opened read-only (``np.load(out, mmap_mode="r")``).
        metadata : dict
            Only with ``return_metadata=True``.
        """
        from berg.pipeline import TribeV2Model

        if not isinstance(model, TribeV2Model):
            raise InvalidParameterError(
                f"model must come from BERG.get_encoding_model, got {type(model).__name__}"
            )
        check_bool("return_metadata", return_metadata)
        check_bool("show_progress", show_progress)
        return model.encode(
            stimulus,
            show_progress=show_progress,
            return_metadata=return_metadata,
            contributions=contributions,
            out=out,
        )

    def encode_many(
        self,
        model_id: str,
        stimuli,
        output_dir: str | os.PathLike,
        *,
        selection: dict | None = None,
        device: str = "auto",
        engine: str = "sequential",
        ray_address: str | None = None,
        workers: int | None = None,
        cpus_per_worker: float | None = None,
        memory_per_worker_gb: float | None = None,
        formats=None,
        retry_failed: bool = False,
        show_progress: bool = True,
        progress=None,
        **options: Any,
    ):
        """Encode a set of stimuli into a folder: one result per stimulus, and an index.

        Each stimulus's result is written as ``berg encode`` writes it (``OUT/<id>.npz``,
        ``.json``, GIfTI, ROI tables), atomically, and ``OUT/index.csv`` lists every
        stimulus (id, path, sha256, status, rows, seconds, error). Rerunning skips what an
        earlier run finished with the same content and settings; a stimulus that fails is
        recorded with its error and the batch goes on.

        Parameters
        ----------
        model_id : str
            As for ``get_encoding_model``: each worker loads this model once.
        stimuli : path, glob pattern, manifest (.csv with ``path`` and optional ``id``
            columns), or list of paths
            A folder is searched for stimulus files at any depth.
        output_dir : path
            Created if needed; one batch writes to it at a time.
        selection, device, **options
            As for ``get_encoding_model`` (``keep_models_loaded`` and ``show_progress`` are
            set by the batch).
        engine : {'sequential', 'ray'}
            ``'sequential'``: in this process. ``'ray'``: workers on a Ray cluster, one per
            GPU (on CPUs: as many as memory holds), each loading the models once; a worker
            that dies has its stimuli retried (needs ``pip install 'berg-tribe[ray]'``).
        ray_address : str, optional
            An existing Ray cluster (``'auto'``, ``'ray://head:10001'``); default: a local
            one for this batch.
        workers : int, optional
            Ray workers at most (default: one per GPU; on CPUs, as many as the nodes'
            memory holds, at most one per CPU).
        cpus_per_worker : float, optional
            CPUs (and torch threads) each Ray worker reserves. Default: a GPU worker takes
            its node's CPUs over its GPUs; CPU workers share out all the CPUs.
        memory_per_worker_gb : float, optional
            Memory one CPU worker needs (its models, loaded, and its working memory).
            Default: measured on the first worker once its models are loaded; the others
            start when it is known.
        formats : list of str, optional
            Of 'npz', 'json', 'gifti', 'csv', 'parquet' (default: all this installation
            writes).
        retry_failed : bool
            Also retry stimuli that failed before with the same content and settings.
        show_progress : bool
            One progress bar for the batch.
        progress : callable(Record), optional
            Called as each stimulus finishes.

        Returns
        -------
        BatchReport
            Counts (encoded, failed, skipped), the records, wall time and throughput.
        """
        from berg.batch import BatchOptions, encode_many

        batch = BatchOptions(
            engine=engine,
            ray_address=ray_address,
            workers=workers,
            cpus_per_worker=cpus_per_worker,
            memory_per_worker_gb=memory_per_worker_gb,
            formats=formats,
            retry_failed=retry_failed,
        )
        return encode_many(
            self.berg_dir,
            model_id,
            stimuli,
            output_dir,
            batch=batch,
            selection=selection,
            device=device,
            show_progress=show_progress,
            progress=progress,
            **options,
        )
