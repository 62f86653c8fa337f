"""One worker of a batch: a loaded model that encodes stimuli one after the other.

The same class serves both engines: the sequential engine makes one in the calling process,
the Ray engine one actor per GPU (or per CPU slot) on the cluster's nodes. Either way the
models are loaded once, when the worker starts, and stay loaded for all its stimuli
(``keep_models_loaded=True``); features go to the BERG cache folder, which on a cluster
should be shared storage so that no node recomputes what another one did.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

__all__ = ["BatchWorker", "WorkerSpec"]

#: What a worker needs to build its model: BERG folder, model id, selection, device and the
#: other options of ``get_encoding_model``.
WorkerSpec = dict[str, Any]


class BatchWorker:
    """Holds one encoding model; :meth:`encode` never raises for a bad stimulus.

    Parameters
    ----------
    spec : dict
        ``berg_dir``, ``model_id``, ``selection``, ``device`` and ``options`` (keyword
        options of ``get_encoding_model``).
    """

    def __init__(self, spec: WorkerSpec):
        from berg.api import BERG

        self._berg = BERG(spec["berg_dir"])
        options = dict(spec.get("options") or {})
        options.setdefault("show_progress", False)
        options["keep_models_loaded"] = True  # one load for all the worker's stimuli
        self._model = self._berg.get_encoding_model(
            spec["model_id"], selection=spec.get("selection"), device=spec.get("device", "auto"),
            **options)
        self.where = f"{socket.gethostname()}:{os.getpid()}"

    def ready(self) -> str:
        """Where this worker runs (``host:pid``), once its model is loaded."""
        return self.where

    def encode(self, item_id: str, path: str) -> dict[str, Any]:
        """Encode one stimulus.

        Returns
        -------
        dict
            ``id``, ``status`` ('done' or 'failed'), ``seconds``, ``worker``, and either
            ``responses`` and ``metadata`` (as ``BERG.encode`` returns them) or ``error``
            (``"ErrorType: message"``).
        """
        started = time.perf_counter()
        out: dict[str, Any] = {"id": item_id, "worker": self.where}
        try:
            responses, metadata = self._berg.encode(self._model, path, return_metadata=True)
        except Exception as error:  # noqa: BLE001 - a bad stimulus must not stop the batch
            out.update(status="failed", error=f"{type(error).__name__}: "
                                              f"{' '.join(str(error).split())}")
        else:
            out.update(status="done", responses=responses, metadata=metadata)
        out["seconds"] = time.perf_counter() - started
        return out

    def close(self) -> None:
        """Release the models."""
        self._model.close()
