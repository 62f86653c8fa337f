"""One worker of a batch: a loaded model that encodes stimuli one after the other.

The same class serves both engines: the sequential engine makes one in the calling process,
the Ray engine one actor per GPU (or per CPU slot) on the cluster's nodes. Either way the
models the batch's stimuli need are loaded once, when the worker starts, and stay loaded for
all its stimuli (``keep_models_loaded=True``); features go to the BERG cache folder, which on
a cluster should be shared storage so that no node recomputes what another one did.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from berg.errors import InvalidParameterError, StimulusError
from berg.registry import MODALITIES

__all__ = ["BatchWorker", "WorkerSpec"]

#: What a worker needs to build its model: BERG folder, model id, selection, device, the
#: other options of ``get_encoding_model``, the modalities to load, and (Ray) torch threads.
WorkerSpec = dict[str, Any]


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

    def ready(self) -> dict[str, Any]:
        """Once the models are loaded: ``where`` it runs (``host:pid``) and its
        ``peak_rss_bytes`` so far (what loading them took)."""
        from berg.batch.placement import peak_rss_bytes

        return {"where": self.where, "peak_rss_bytes": peak_rss_bytes()}

    def use_threads(self, threads: int) -> None:
        """Use this many torch threads in this (the worker's) process."""
        import torch

        torch.set_num_threads(max(1, int(threads)))

    def encode(self, item_id: str, path: str) -> dict[str, Any]:
        """Encode one stimulus.

        Returns
        -------
        dict
            ``id``, ``status`` ('done' or 'failed'), ``seconds``, ``worker``, and either
            ``responses`` and ``metadata`` (as ``BERG.encode`` returns them) or ``error``
            (``"ErrorType: message"``) and ``final`` (the input's fault, see
            :class:`~berg.batch.ledger.Record`).
        """
        started = time.perf_counter()
        out: dict[str, Any] = {"id": item_id, "worker": self.where}
        try:
            responses, metadata = self._model.encode(path, return_metadata=True)
        except Exception as error:  # noqa: BLE001 - a bad stimulus must not stop the batch
            out.update(
                status="failed",
                error=f"{type(error).__name__}: {' '.join(str(error).split())}",
                final=isinstance(error, (StimulusError, InvalidParameterError)),
            )
        else:
            out.update(status="done", responses=responses, metadata=metadata)
        out["seconds"] = time.perf_counter() - started
        return out

    def close(self) -> None:
        """Release the models."""
        self._model.close()
