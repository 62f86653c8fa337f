"""Where a batch runs: in this process, or on a Ray cluster.

Both engines hand every stimulus's result to the same ``on_result(item, result, attempts)``
in the calling process, which writes the files and the record: the output folder has one
writer, and the workers need no access to it.

- **sequential** (the default): one :class:`~berg.batch.worker.BatchWorker` here.
- **ray**: worker actors on a Ray cluster, one per GPU (or as many CPU workers as memory
  allows), each loading the models once; a worker that dies has its stimuli retried
  (:mod:`berg.batch.ray_engine`, sized by :mod:`berg.batch.placement`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from berg.batch.sources import BatchItem
from berg.batch.worker import BatchWorker, WorkerSpec
from berg.errors import MissingDependencyError

__all__ = ["run_sequential", "import_ray", "ENGINES", "OnResult"]

ENGINES = ("sequential", "ray")
OnResult = Callable[[BatchItem, dict, int], None]
_RAY_INSTALL = "pip install 'berg-tribe[ray]'"


def run_sequential(spec: WorkerSpec, pending: Sequence[BatchItem], on_result: OnResult) -> None:
    """Encode ``pending`` one after the other with one worker in this process."""
    worker = BatchWorker(spec)
    try:
        for item in pending:
            on_result(item, worker.encode(item.id, str(item.path)), 1)
    finally:
        worker.close()


def import_ray():
    """The ``ray`` module, or a clear error saying how to install it."""
    try:
        import ray
    except ImportError as error:
        raise MissingDependencyError(
            f"the Ray engine needs Ray, which is not installed: {_RAY_INSTALL} (or pip "
            "install ray) on every node; or leave out --ray / engine='ray' to encode on this "
            "machine"
        ) from error
    return ray
