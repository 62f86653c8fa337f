"""One worker of a batch: a loaded model that encodes stimuli one after the other.

The same class serves both engines: the sequential engine makes one in the calling process,
the Ray engine one actor per GPU (or per CPU slot) on the cluster's nodes. Either way the
models the batch's stimuli need are loaded once, when the worker starts, and stay loaded for
all its stimuli (``keep_models_loaded=True``); features go to the BERG cache folder, which on
a cluster should be shared storage so that no node recomputes what another one did.

A worker that sees the batch's output folder (it finds the run's token there, see
:mod:`berg.batch.ledger`) writes each result there itself and sends back a small record; a
film's full-cortex responses (600 MB for two hours) then never travel through Ray's object
store. One that does not see it (a node without the shared storage) sends the arrays, which
the driver writes.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

from berg.errors import InvalidParameterError, StimulusError
from berg.registry import MODALITIES

__all__ = ["BatchWorker", "WorkerSpec", "write_result"]

#: What a worker needs to build its model: BERG folder, model id, selection, device, the
#: other options of ``get_encoding_model``, the modalities to load, (Ray) torch threads, and
#: where results go (``output``: folder, formats, the run's token).
WorkerSpec = dict[str, Any]


def _output_seen(output: dict | None) -> dict | None:
    """``output`` when this process sees that folder (its run token is there), else None."""
    from berg.batch.ledger import STATE_FOLDER

    if not output:
        return None
    try:
        token = (Path(output["folder"]) / STATE_FOLDER / "run").read_text(encoding="utf-8")
    except OSError:
        return None
    return output if token == output["token"] else None


def write_result(folder, item_id: str, responses, metadata, formats) -> dict[str, Any]:
    """Write one stimulus's result; what a worker sends back about it.

    Returns
    -------
    dict
        ``status`` 'done' with ``written`` (format -> path), ``rows`` and ``duration_s``;
        or 'failed' with ``error`` and ``final=False`` (a full disk is the machine's
        fault: the next run tries again).
    """
    from berg import io

    try:
        written = io.write_outputs(folder, item_id, responses, metadata, formats)
    except OSError as failure:
        return {
            "status": "failed",
            "error": f"OSError: cannot write the result: {failure}",
            "final": False,
        }
    return {
        "status": "done",
        "written": {fmt: str(path) for fmt, path in written.items()},
        "rows": int(responses.shape[0]),
        "duration_s": float(metadata["stimulus"]["duration_s"]),
    }


class BatchWorker:
    """Holds one encoding model; :meth:`encode` never raises for a bad stimulus.

    Parameters
    ----------
    spec : dict
        ``berg_dir``, ``model_id``, ``selection``, ``device``, ``options`` (keyword
        options of ``get_encoding_model``); optionally ``modalities`` (the feature models
        to load now; default all three) and ``threads`` (torch threads: for a Ray worker,
        whose process is its own; the sequential engine leaves the caller's setting alone).
    """

    def __init__(self, spec: WorkerSpec):
        from berg.pipeline import load_encoding_model

        if spec.get("threads"):
            self.use_threads(spec["threads"])
        options = dict(spec.get("options") or {})
        options.setdefault("show_progress", False)
        options["keep_models_loaded"] = True  # one load for all the worker's stimuli
        self._model = load_encoding_model(
            spec["model_id"],
            spec["berg_dir"],
            selection=spec.get("selection"),
            device=spec.get("device", "auto"),
            **options,
        )
        self._model.load_models(spec.get("modalities") or MODALITIES)
        self.where = f"{socket.gethostname()}:{os.getpid()}"
        self._output = _output_seen(spec.get("output"))

    def ready(self) -> dict[str, Any]:
        """Once the models are loaded: ``where`` it runs (``host:pid``), its
        ``peak_rss_bytes`` so far (what loading them took) and whether it ``writes_results``
        itself."""
        from berg.batch.placement import peak_rss_bytes

        return {
            "where": self.where,
            "peak_rss_bytes": peak_rss_bytes(),
            "writes_results": self._output is not None,
        }

    def use_threads(self, threads: int) -> None:
        """Use this many torch threads in this (the worker's) process."""
        import torch

        torch.set_num_threads(max(1, int(threads)))

    def encode(self, item_id: str, path: str) -> dict[str, Any]:
        """Encode one stimulus.

        Returns
        -------
        dict
            ``id``, ``status`` ('done' or 'failed'), ``seconds``, ``worker``, and when done
            either ``written`` (format -> path, as ``berg.io.write_outputs`` returns it),
            ``rows`` and ``duration_s`` (the worker wrote the result) or ``responses`` and
            ``metadata`` (as ``BERG.encode`` returns them: the driver writes them); when
            failed ``error`` (``"ErrorType: message"``) and ``final`` (the input's fault,
            see :class:`~berg.batch.ledger.Record`). A result the worker cannot write is a
            failure that is not final (the machine's fault).
        """
        started = time.perf_counter()
        out: dict[str, Any] = {"id": item_id, "worker": self.where}
        try:
            if self._output is None:
                responses, metadata = self._model.encode(path, return_metadata=True)
                out.update(status="done", responses=responses, metadata=metadata)
            else:  # the rows go to the output folder as they are made, then the result
                out.update(self._encode_to_output(item_id, path))
        except Exception as error:  # noqa: BLE001 - a bad stimulus must not stop the batch
            out.update(
                status="failed",
                error=f"{type(error).__name__}: {' '.join(str(error).split())}",
                final=isinstance(error, (StimulusError, InvalidParameterError)),
            )
        out["seconds"] = time.perf_counter() - started
        return out

    def _encode_to_output(self, item_id: str, path: str) -> dict[str, Any]:
        """Encode into the output folder, the rows to a scratch file there as they are
        made (``berg.io.scratch_rows``); what :func:`write_result` returns."""
        from berg import io

        folder, formats = self._output["folder"], self._output["formats"]
        with io.scratch_rows(folder, item_id) as rows:
            responses, metadata = self._model.encode(path, return_metadata=True, out=rows)
            written = write_result(folder, item_id, responses, metadata, formats)
            del responses  # the map, before its file goes
        return written

    def close(self) -> None:
        """Release the models."""
        self._model.close()
