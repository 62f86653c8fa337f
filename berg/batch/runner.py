"""``encode_many``: a set of stimuli in, one result per stimulus and an index table out.

The calling process (the *driver*) lists the stimuli, hashes them, decides from the output
folder's records what is already done, hands the rest to an engine (here, or a Ray cluster)
and writes each result as it comes back: the files (the formats of ``berg encode``), then
its record, then the index. Rerun the same command and only what is missing or changed is
encoded; a stimulus that fails is recorded with its error and the others go on.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from berg import cortex
from berg.batch.engines import run_sequential
from berg.batch.ledger import Ledger, Record
from berg.batch.options import BatchOptions
from berg.batch.placement import WorkerPlan
from berg.batch.sources import BatchItem, collect_stimuli
from berg.errors import InvalidParameterError
from berg.options import EncodingOptions
from berg.registry import MODALITIES

__all__ = ["encode_many", "BatchReport", "settings_digest"]

#: Environment variables that name models when the options do not.
_MODEL_VARIABLES = ("BERG_TEXT_MODEL", "BERG_AUDIO_MODEL", "BERG_VIDEO_MODEL", "BERG_ASR_MODEL")
#: ``index.csv`` is rewritten at most this often while a batch runs (and at its end): with
#: thousands of stimuli, rewriting it after every one would cost more than the results.
INDEX_INTERVAL_S = 2.0


@dataclass
class BatchReport:
    """What a batch did.

    Attributes
    ----------
    output_dir, index_path : Path
    records : dict
        id -> latest :class:`~berg.batch.ledger.Record` of every stimulus of the batch.
    encoded, failed, skipped : int
        Stimuli encoded in this run, failed in this run, and left alone because an earlier
        run already did (or failed) them with the same content and settings.
    engine : str
    workers : int
        Workers the engine ran (0 when there was nothing to do).
    plan : WorkerPlan or None
        With the Ray engine: the workers and what each reserved.
    wall_seconds : float
        Of the whole run.
    stimulus_seconds : float
        Seconds of stimulus encoded in this run.
    """

    output_dir: Path
    index_path: Path
    records: dict[str, Record] = field(repr=False)
    encoded: int = 0
    failed: int = 0
    skipped: int = 0
    engine: str = "sequential"
    workers: int = 0
    plan: WorkerPlan | None = None
    wall_seconds: float = 0.0
    stimulus_seconds: float = 0.0

    @property
    def throughput(self) -> float:
        """Seconds of stimulus encoded per second of wall time."""
        return self.stimulus_seconds / self.wall_seconds if self.wall_seconds else 0.0


def settings_digest(
    model_id: str,
    vertices: np.ndarray | None,
    options: EncodingOptions,
    formats: Sequence[str],
    device: str = "auto",
) -> str:
    """A digest of everything that decides a batch's results besides the stimulus bytes.

    The options are those :meth:`EncodingOptions.result_settings` marks as changing results;
    the device is in too, since it decides the recogniser's compute type (and so the words)
    unless ``asr_device`` is set.
    """
    from berg.version import __version__

    settings = {
        "berg": __version__,
        "model": model_id,
        "options": options.result_settings(),
        "device": str(device),
        "vertices": "all"
        if vertices is None
        else hashlib.sha256(np.asarray(vertices, np.int64).tobytes()).hexdigest(),
        "formats": sorted(formats),
        "environment": {v: os.environ[v] for v in _MODEL_VARIABLES if os.environ.get(v)},
    }
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _result_files(written: dict[str, Path], folder: Path) -> tuple[str, ...]:
    files = []
    for fmt, path in written.items():
        files.append(path.relative_to(folder).as_posix())
        if fmt == "gifti":  # written names the left hemisphere; the right is beside it
            files.append(files[-1].replace(".lh.func.gii", ".rh.func.gii"))
    return tuple(files)


def _content(
    item: BatchItem, previous: Record | None
) -> tuple[str | None, int | None, int | None, str | None]:
    """``(sha256, size, mtime_ns, error)`` of a stimulus file; the hash of an earlier record
    is reused when the file's size and time are unchanged."""
    from stat import S_ISREG

    from berg.files import file_sha256
    from berg.stimulus.kinds import not_a_regular_file

    try:
        stat = item.path.stat()
    except OSError as error:
        return None, None, None, f"StimulusError: cannot read {str(item.path)!r}: {error}"
    if not S_ISREG(stat.st_mode):  # hashing a FIFO would wait for a writer forever
        return None, None, None, f"StimulusError: {not_a_regular_file(item.path, stat.st_mode)}"
    if (
        previous is not None
        and previous.sha256
        and (previous.size, previous.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    ):
        return previous.sha256, stat.st_size, stat.st_mtime_ns, None
    try:
        return file_sha256(item.path), stat.st_size, stat.st_mtime_ns, None
    except OSError as error:
        return (
            None,
            stat.st_size,
            stat.st_mtime_ns,
            (f"StimulusError: cannot read {str(item.path)!r}: {error}"),
        )


def _modalities(pending: Sequence[BatchItem]) -> tuple[str, ...]:
    """The feature models a batch's stimuli need (the video model for videos and images,
    the text and audio models and the recogniser for anything with sound); all three when a
    file's kind is unknown (a manifest's file of another extension fails on its own). Videos
    are probed for a sound track, until one has it: a batch of silent videos (a visual
    localiser's runs) loads no recogniser."""
    from berg.stimulus.kinds import STIMULUS_EXTENSIONS, modalities_of

    kinds = {STIMULUS_EXTENSIONS.get(item.path.suffix.lower()) for item in pending}
    if None in kinds:
        return MODALITIES
    videos = [i.path for i in pending if STIMULUS_EXTENSIONS[i.path.suffix.lower()] == "video"]
    if videos and not kinds & {"audio", "text"} and not any(map(_has_sound, videos)):
        kinds = (kinds - {"video"}) | {"image"}  # as for images: video features only
    return modalities_of(kinds)


def _has_sound(path: Path) -> bool:
    from berg.stimulus import media

    try:
        return media.probe(path).has_audio
    except Exception:  # noqa: BLE001 - a broken file fails on its own; load everything
        return True


def encode_many(
    berg_dir: str | os.PathLike,
    model_id: str,
    stimuli,
    output_dir: str | os.PathLike,
    *,
    batch: BatchOptions | None = None,
    selection: dict | None = None,
    device: str = "auto",
    show_progress: bool = True,
    progress: Callable[[Record], None] | None = None,
    **options: Any,
) -> BatchReport:
    """Encode many stimuli, one result each, resumably; see ``BERG.encode_many``.

    ``batch`` says how (engine, workers, formats, retries); ``options`` are the encoding
    model's, as for ``get_encoding_model``.
    """
    from berg.batch.worker import write_result
    from berg.io import check_output_folder
    from berg.pipeline import check_options
    from berg.registry import get_card

    started = time.perf_counter()
    card = get_card(model_id)  # cheap checks first: nothing is hashed or loaded before them
    for name in ("keep_models_loaded", "show_progress"):
        if name in options:
            raise InvalidParameterError(
                f"{name} is set by the batch (models stay loaded in "
                "each worker; progress is one bar for the batch)"
            )
    checked = check_options(options)  # every value, before any stimulus is hashed
    vertices = cortex.resolve_selection(selection)
    batch = BatchOptions() if batch is None else batch
    if not isinstance(batch, BatchOptions):
        raise InvalidParameterError(f"batch must be a BatchOptions, got {batch!r}")
    engine, formats = batch.engine, batch.formats
    folder = check_output_folder(output_dir)
    items = collect_stimuli(stimuli)
    settings = settings_digest(card.model_id, vertices, checked, formats, device)
    spec = {
        "berg_dir": str(Path(berg_dir).expanduser()),
        "model_id": card.model_id,
        "selection": selection,
        "device": device,
        "options": options,
    }

    with Ledger(folder) as ledger:
        ids = [item.id for item in items]
        paths = {item.id: str(item.path) for item in items}
        report = BatchReport(folder, ledger.index_path, {}, engine=engine)
        pending, contents = [], {}
        checking = items
        if show_progress and len(items) > 1:  # hashing thousands of films takes a while
            from tqdm.auto import tqdm

            checking = tqdm(items, desc="checking stimuli", unit="file", leave=False)
        for item in checking:
            previous = ledger.latest.get(item.id)
            sha256, size, mtime_ns, error = _content(item, previous)
            contents[item.id] = (sha256, size, mtime_ns)
            current = ledger.is_current(previous, sha256, settings)
            if current and not (batch.retry_failed and previous.status == "failed"):
                report.skipped += 1
            elif error is not None:
                ledger.add(
                    Record(
                        item.id,
                        str(item.path),
                        None,
                        "failed",
                        None,
                        None,
                        error,
                        settings,
                        size,
                        mtime_ns,
                    )
                )
                report.failed += 1
            else:
                pending.append(item)
        ledger.write_index(ids, paths)
        spec["modalities"] = _modalities(pending)
        spec["output"] = {"folder": str(folder), "formats": formats, "token": ledger.run_token}
        index_written = time.monotonic()

        bar, postfix = None, {"failed": 0}
        if show_progress and pending:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(pending), desc="encode-batch", unit="stimulus")

        def on_workers(ready: int, planned: int) -> None:
            postfix["workers"] = f"{ready}/{planned}"  # ready ones have their models loaded
            if bar is not None:
                bar.set_postfix(postfix)

        def on_result(item: BatchItem, result: dict, attempts: int) -> None:
            nonlocal index_written
            sha256, size, mtime_ns = contents[item.id]
            files, rows, status, error = (), None, result["status"], result.get("error")
            final = bool(result.get("final", False))  # only the worker knows the input failed
            if status == "done" and "written" not in result:  # the worker does not see OUT
                arrays = result["responses"], result["metadata"]
                result = dict(result, **write_result(folder, item.id, *arrays, formats))
                status, error = result["status"], result.get("error")
            if status == "done":
                written = {fmt: Path(path) for fmt, path in result["written"].items()}
                files, rows = _result_files(written, folder), result["rows"]
                report.stimulus_seconds += result["duration_s"]
            record = Record(
                item.id,
                str(item.path),
                sha256,
                status,
                rows,
                result["seconds"],
                error,
                settings,
                size,
                mtime_ns,
                attempts,
                files,
                result.get("worker"),
                final,
            )
            ledger.add(record)
            if time.monotonic() - index_written >= INDEX_INTERVAL_S:
                ledger.write_index(ids, paths)
                index_written = time.monotonic()
            if status == "done":
                report.encoded += 1
            else:
                report.failed += 1
            if bar is not None:
                bar.update(1)
                postfix["failed"] = report.failed
                bar.set_postfix(postfix, refresh=False)
            if progress is not None:
                progress(record)

        try:
            if pending and engine == "sequential":
                run_sequential(spec, pending, on_result)
                report.workers = 1
            elif pending:
                from berg.batch.ray_engine import run_ray

                ran = run_ray(
                    spec,
                    pending,
                    on_result,
                    address=batch.ray_address,
                    workers=batch.workers,
                    cpus_per_worker=batch.cpus_per_worker,
                    memory_per_worker_bytes=batch.memory_per_worker_bytes,
                    on_workers=on_workers,
                )
                report.workers, report.plan = ran["workers"], ran["plan"]
        finally:
            if bar is not None:
                bar.close()
            ledger.write_index(ids, paths)  # the last results, and those before a stop
        report.records = {i: ledger.latest[i] for i in ids if i in ledger.latest}
    report.wall_seconds = time.perf_counter() - started
    return report
