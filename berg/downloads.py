"""Every model a run needs: which are on this machine, and one download for the others.

A run of TRIBE v2 needs up to five models: the brain model's weights (in the BERG
directory), the three feature models and the speech recogniser (in the Hugging Face cache,
each at a pinned commit). :func:`models_needed` says which are here, looking only at the
disk; :func:`download_models` fetches the missing ones with one progress bar over all of
them (bytes, rate, time left), checks each pinned file's digest, and reports every failure
at once; :func:`missing_models_error` turns the first "not on this machine" error of a run
into one that lists every missing model, its size, and the command that fetches them all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from berg.errors import BERGError
from berg.hub import MissingModelError, fetch_file, hub_unreachable, remote_files
from berg.progress import TransferBar, format_bytes
from berg.registry import MODALITIES, ModelCard, PretrainedSpec

__all__ = [
    "ModelNeed",
    "download_models",
    "feature_specs",
    "missing_models_error",
    "models_needed",
]

DEFAULT_ASR_MODEL = "large-v3"


@dataclass(frozen=True)
class ModelNeed:
    """One model a run needs, and whether this machine has it.

    Attributes
    ----------
    kind : {'weights', 'features', 'recogniser'}
        Where it lives: the BERG directory, or the Hugging Face cache.
    label : str
        ``'TRIBE v2 weights'``, ``'text model'``, ``'audio model'``, ``'video model'`` or
        ``'speech recogniser'``.
    repo, revision : str
        Where it comes from (``revision`` None: the repository's main branch).
    download_bytes : int or None
        About how much it weighs (None: unknown until the Hub lists it).
    gated : bool
        Needs an accepted licence and a token.
    option : str
        The command-line option and the Python keyword that name a copy instead.
    present : bool
        On this machine, where :attr:`where` says.
    spec : PretrainedSpec, optional
        The feature model or pinned recogniser it is (None: the weights, or a recogniser
        given by name that berg does not pin).
    asr_source : str
        For the recogniser: what faster-whisper is handed (a name, a repo id or a folder).
    destination : str
        For the weights: which files go into which folder.
    """

    kind: str
    label: str
    repo: str
    revision: str | None
    download_bytes: int | None
    gated: bool = False
    option: str = ""
    present: bool = False
    where: str = ""
    spec: PretrainedSpec | None = None
    asr_source: str = ""
    destination: str = ""

    def describe(self) -> str:
        """``'text model meta-llama/Llama-3.2-3B (about 6.4 GB, gated)'``; the weights say
        which files go where."""
        size = (
            f"about {format_bytes(self.download_bytes)}" if self.download_bytes else "size unknown"
        )
        extra = f", {self.destination}" if self.destination else ""
        return f"{self.label} {self.repo} ({size}{', gated' if self.gated else ''}{extra})"


def models_needed(
    card: ModelCard,
    berg_dir: str | os.PathLike,
    *,
    modalities: Sequence[str] = MODALITIES,
    asr_model: str | os.PathLike | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    model_dirs: Mapping[str, object] | None = None,
    cache_dir: str | os.PathLike | None = None,
    recogniser: bool = True,
) -> list[ModelNeed]:
    """The models a run of ``card`` on ``modalities`` needs, each marked present or not
    (the speech recogniser too unless ``recogniser=False``: an image has no speech).

    Nothing is downloaded and the Hub is not asked; a model in the Hugging Face cache at
    its pinned commit counts as present once its recorded digests check out.
    """
    from berg.features.models import resolve_pretrained
    from berg.tribe.weights import installed_weights, missing_files

    weights = card.weights
    folder = Path(checkpoint_dir or Path(berg_dir) / weights.berg_path).expanduser()
    found = None if checkpoint_dir else installed_weights(berg_dir, weights)
    if found is not None:  # another folder of BERG's layout, or the Hub cache
        folder = found
    absent = missing_files(folder, weights) if folder.is_dir() else list(weights.files)
    needs = [
        ModelNeed(
            "weights",
            f"{card['name']} weights",
            weights.hub_repo,
            weights.revision,
            sum(weights.sizes.values()) or None,
            option="--checkpoint-dir / checkpoint_dir=",
            present=not absent,
            where=str(folder) if not absent else "",
            destination=f"{' and '.join(weights.files)} into {folder}",
        )
    ]
    specs = feature_specs(card, folder if not absent else None)
    for modality in modalities:
        spec = specs[modality]
        need = ModelNeed(
            "features",
            f"{modality} model",
            spec.hub_id,
            spec.revision,
            spec.download_bytes,
            gated=spec.gated,
            option=f"--{modality}-model-dir / {modality}_model_dir=",
            spec=spec,
        )
        try:
            found = resolve_pretrained(
                spec,
                model_dir=(model_dirs or {}).get(modality),
                cache_dir=cache_dir,
                local_files_only=True,
                show_progress=False,
            )
            need = replace(need, present=True, where=str(found.path))
        except BERGError:
            pass  # absent (or a copy that fails its check): the download says which
        needs.append(need)
    if recogniser:
        needs.append(_recogniser_need(asr_model, cache_dir))
    return needs


def feature_specs(card: ModelCard, weights_dir: Path | None) -> dict[str, PretrainedSpec]:
    """The feature models a run needs: those the checkpoint's ``config.yaml`` in
    ``weights_dir`` names (where it is there and readable), else the card's."""
    config = {}
    if weights_dir is not None:
        from berg.tribe.config import read_tribe_config

        try:
            config = read_tribe_config(Path(weights_dir) / "config.yaml")
        except BERGError:
            pass  # unreadable: loading the model says so; the card's models meanwhile
    from berg.features.checkpoint_models import checkpoint_feature_models

    return {m: model.spec for m, model in checkpoint_feature_models(config, card).items()}


def _recogniser_need(asr_model, cache_dir) -> ModelNeed:
    from berg.stimulus.transcribe.models import (
        PINNED_WHISPER,
        locate_whisper,
        resolve_whisper_model,
        whisper_repo,
    )

    name, source = resolve_whisper_model(
        asr_model or os.environ.get("BERG_ASR_MODEL") or DEFAULT_ASR_MODEL
    )
    spec = PINNED_WHISPER.get(source)
    need = ModelNeed(
        "recogniser",
        "speech recogniser",
        "(a local folder)" if os.path.isdir(source) else whisper_repo(source),
        spec.revision if spec else None,
        spec.download_bytes if spec else None,
        option="--asr-model / asr_model=",
        spec=spec,
        asr_source=source,
    )
    if os.path.isdir(source):
        return replace(need, present=True, where=source)
    try:
        where = locate_whisper(
            source, local_files_only=True, cache_dir=None if cache_dir is None else str(cache_dir)
        )
    except Exception:  # noqa: BLE001 - absent is an answer here
        return need
    return replace(need, present=True, where=str(where))


def missing_models_error(needs: Sequence[ModelNeed], first: MissingModelError) -> BERGError:
    """One error for every model of ``needs`` still missing, started by the ``first`` failure.

    The message gives each model's size, the gated one's extra step, the command that
    fetches them all, and the options that name copies instead.
    """
    missing = [n for n in needs if not n.present]
    if not missing:
        return first
    gated = [n for n in missing if n.gated]
    total = sum(n.download_bytes or 0 for n in missing)
    return MissingModelError(
        f"{len(missing)} model(s) this run needs are not on this machine "
        f"({first.reason or 'and could not be fetched'}): "
        + "; ".join(n.describe() for n in missing)
        + f". Fetch them all at once (about {format_bytes(total)}) with `berg download` "
        "where the Hub is reachable (BERG(berg_dir).download(model_id) in Python)"
        + (
            f"; {', '.join(n.repo for n in gated)} first needs access (request it on its Hub "
            "page, then `hf auth login`)"
            if gated
            else ""
        )
        + "; or name copies you have: "
        + ", ".join(n.option for n in missing),
        reason=first.reason,
    )


@dataclass(frozen=True)
class DownloadOutcome:
    """What :func:`download_models` did for one model: ``ok`` with where it is, or why not."""

    need: ModelNeed
    ok: bool
    detail: str


def download_models(
    needs: Sequence[ModelNeed],
    berg_dir: str | os.PathLike,
    card: ModelCard,
    *,
    revision: str | None = None,
    show_progress: bool = True,
    endpoint: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> list[DownloadOutcome]:
    """Fetch every missing model of ``needs``, with one progress bar over all of them.

    Each model's files are listed first (their sizes make the bar's total); a failure of
    one model (gated, unreachable) is recorded and the others go on. Files already in
    place are not fetched again; pinned files are checked against their digests.

    Parameters
    ----------
    needs : sequence of ModelNeed
        From :func:`models_needed`.
    berg_dir : path
        Where the TRIBE weights go.
    card : ModelCard
        The model the weights are of.
    revision : str, optional
        Another revision of the TRIBE weights (its files are not checked: the card's
        digests are the pinned commit's).
    show_progress : bool
        The one bar (or, off a terminal, one line at the end).
    endpoint, cache_dir : optional
        The Hub (or a mirror) and the Hugging Face cache; default: the client's.

    Returns
    -------
    list of DownloadOutcome
        One per need, in order.
    """
    unreachable = hub_unreachable(endpoint)
    plans: dict[int, dict[str, int]] = {}
    outcomes: dict[int, DownloadOutcome] = {}
    for index, need in enumerate(needs):
        if need.present:
            outcomes[index] = DownloadOutcome(need, True, need.where)
        elif unreachable:
            outcomes[index] = DownloadOutcome(need, False, unreachable)
        else:
            try:
                plans[index] = _files_to_fetch(need, berg_dir, card, revision, endpoint, cache_dir)
            except MissingModelError as error:
                outcomes[index] = DownloadOutcome(need, False, error.reason or str(error))
    with TransferBar(sum(sum(p.values()) for p in plans.values()), show_progress) as bar:
        for index, files in plans.items():
            need = needs[index]
            try:
                where = _fetch(need, files, berg_dir, card, revision, bar, endpoint, cache_dir)
                outcomes[index] = DownloadOutcome(need, True, where)
            except MissingModelError as error:
                outcomes[index] = DownloadOutcome(need, False, error.reason or str(error))
            except BERGError as error:  # a checksum mismatch: the file was removed
                outcomes[index] = DownloadOutcome(need, False, str(error))
    return [outcomes[i] for i in range(len(needs))]


def _files_to_fetch(need, berg_dir, card, revision, endpoint, cache_dir) -> dict[str, int]:
    """name -> size of the files of ``need`` not yet on the disk."""
    from huggingface_hub import try_to_load_from_cache

    from berg.features.models import MODEL_FILE_PATTERNS
    from berg.stimulus.transcribe.models import WHISPER_FILE_PATTERNS
    from berg.tribe.weights import installed_weights, missing_files

    if need.kind == "weights":
        weights = card.weights
        if installed_weights(berg_dir, weights, hub_cache=revision in (None, weights.revision)):
            return {}  # asked of the disk first: nothing to ask the Hub
        listed = remote_files(
            weights.hub_repo, revision or weights.revision, weights.files, endpoint=endpoint
        )
        absent = missing_files(Path(berg_dir) / weights.berg_path, weights)
        return {name: listed.get(name, 0) for name in absent}
    patterns = WHISPER_FILE_PATTERNS if need.kind == "recogniser" else MODEL_FILE_PATTERNS
    listed = remote_files(need.repo, need.revision or "main", patterns, endpoint=endpoint)
    return {
        name: size
        for name, size in listed.items()
        if not isinstance(
            try_to_load_from_cache(
                need.repo, name, cache_dir=cache_dir, revision=need.revision or "main"
            ),
            str,
        )
    }


def _fetch(need, files, berg_dir, card, revision, bar, endpoint, cache_dir) -> str:
    """Download ``files`` of ``need``, check it, and say where it now is."""
    from berg.features.models import resolve_pretrained
    from berg.stimulus.transcribe.models import locate_whisper
    from berg.tribe.weights import fetch_weights

    if need.kind == "weights":
        target = Path(berg_dir) / card.weights.berg_path
        fetch_weights(
            target,
            card.weights,
            revision=revision,
            endpoint=endpoint,
            only=[name for name in card.weights.files if name in files],
            tqdm_class=bar.tqdm_class,
        )
        return str(target)
    step = f"Name a copy instead ({need.option})"
    for name in sorted(files):
        fetch_file(
            need.repo,
            name,
            need.revision or "main",
            next_step=step,
            cache_dir=cache_dir,
            endpoint=endpoint,
            tqdm_class=bar.tqdm_class,
        )
    if need.kind == "recogniser":  # found in the cache just filled; a pinned model.bin is checked
        return str(
            locate_whisper(
                need.asr_source,
                local_files_only=True,
                cache_dir=None if cache_dir is None else str(cache_dir),
            )
        )
    found = resolve_pretrained(
        need.spec, cache_dir=cache_dir, local_files_only=True, show_progress=False
    )
    return str(found.path)
