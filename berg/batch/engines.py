"""Where a batch runs: in this process, or on a Ray cluster.

Both engines hand every stimulus's result to the same ``on_result(item, result, attempts)``
in the calling process, which writes the files and the record: the output folder has one
writer, and the workers need no access to it.

- **sequential** (the default): one :class:`~berg.batch.worker.BatchWorker` here.
- **ray**: one worker actor per GPU of the cluster (or per ``cpus_per_worker`` CPUs when
  the models run on CPUs), each loading the models once; every worker has the next stimulus
  queued while it encodes one. A worker that dies (killed, out of memory, its node lost) is
  replaced and its stimuli go back in the queue, each up to ``max_attempts`` tries. Every
  node must have berg installed and see the stimulus files and the BERG folder (shared
  storage, which also shares the feature cache).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from berg.batch.sources import BatchItem
from berg.batch.worker import BatchWorker, WorkerSpec
from berg.errors import BERGError, MissingDependencyError

__all__ = ["run_sequential", "run_ray", "import_ray", "ENGINES"]

ENGINES = ("sequential", "ray")
OnResult = Callable[[BatchItem, dict, int], None]
_QUEUED_PER_WORKER = 2  # the stimulus being encoded and the next one
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
            "machine") from error
    return ray


def _first_lines(error: BaseException, n: int = 3) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[-n:]) if lines else type(error).__name__


def run_ray(spec: WorkerSpec, pending: Sequence[BatchItem], on_result: OnResult, *,
            address: str | None = None, workers: int | None = None,
            cpus_per_worker: float = 1, max_attempts: int = 3) -> dict[str, Any]:
    """Encode ``pending`` on a Ray cluster (a local one when ``address`` is None).

    Parameters
    ----------
    spec : dict
        What each worker builds its model from; ``device`` 'auto' takes a GPU per worker
        when the cluster has GPUs.
    address : str, optional
        An existing cluster (``'auto'``, ``'ray://head:10001'``, ``'head:6379'``); None
        starts a local one for this batch (or uses the one this process already joined).
    workers : int, optional
        How many workers; default one per GPU, or per ``cpus_per_worker`` CPUs.
    max_attempts : int
        Tries per stimulus when workers die under it.

    Returns
    -------
    dict
        ``workers`` started, ``replaced`` (workers that died and were replaced), ``gpus``
        per worker.
    """
    ray = import_ray()
    from ray.exceptions import RayActorError, RayError

    started_here = not ray.is_initialized()
    if started_here:
        options = {"include_dashboard": False, "log_to_driver": False,
                   "logging_level": "ERROR"}
        if address:
            ray.init(address=address, **options)
        else:
            local = None if workers is None else max(1, int(workers * cpus_per_worker))
            ray.init(num_cpus=local, **options)
    actors: list = []
    replaced = 0
    try:
        cluster = ray.cluster_resources()
        device = str(spec.get("device", "auto"))
        use_gpu = device.startswith("cuda") or (device == "auto" and cluster.get("GPU", 0) >= 1)
        count = workers or (int(cluster.get("GPU", 0)) if use_gpu
                            else max(1, int(cluster.get("CPU", 1) // cpus_per_worker)))
        if use_gpu and count < 1:
            raise BERGError(f"device={device!r} asks for GPU workers but the Ray cluster has "
                            "no GPU; use device='cpu'")
        count = max(1, min(count, len(pending)))
        worker_spec = dict(spec, device="cuda" if use_gpu else device.replace("auto", "cpu"))
        remote = ray.remote(num_cpus=cpus_per_worker, num_gpus=1 if use_gpu else 0,
                            max_restarts=0, max_task_retries=0)(BatchWorker)

        def start(n: int) -> list:
            new = [remote.remote(worker_spec) for _ in range(n)]
            try:
                ray.get([actor.ready.remote() for actor in new])
            except RayError as error:
                for actor in new:
                    ray.kill(actor)
                raise BERGError(f"the batch's Ray workers could not start: "
                                f"{_first_lines(error)}") from error
            return new

        actors = start(count)
        queue = deque((item, 1) for item in pending)
        in_flight: dict = {}

        def submit(actor) -> None:
            item, attempts = queue.popleft()
            in_flight[actor.encode.remote(item.id, str(item.path))] = (actor, item, attempts)

        for actor in actors:
            for _ in range(_QUEUED_PER_WORKER):
                if queue:
                    submit(actor)
        while in_flight or queue:
            if not in_flight:  # every worker died with nothing left running: start one
                actors += start(1)
                replaced += 1
                for _ in range(_QUEUED_PER_WORKER):
                    if queue:
                        submit(actors[-1])
            [ref], _ = ray.wait(list(in_flight), num_returns=1)
            actor, item, attempts = in_flight.pop(ref)
            try:
                result = ray.get(ref)
            except RayActorError as error:
                # The worker died under this stimulus (or with it queued): try it again.
                if attempts < max_attempts:
                    queue.appendleft((item, attempts + 1))
                else:
                    on_result(item, {"id": item.id, "status": "failed", "seconds": None,
                                     "error": f"WorkerDied: the worker encoding it died "
                                              f"{attempts} times; last: "
                                              f"{_first_lines(error, 1)}"}, attempts)
                if any(a is actor for a in actors):
                    actors = [a for a in actors if a is not actor]
                    if queue:
                        actors += start(1)
                        replaced += 1
                        for _ in range(_QUEUED_PER_WORKER):
                            if queue:
                                submit(actors[-1])
                continue
            except RayError as error:
                result = {"id": item.id, "status": "failed", "seconds": None,
                          "error": f"{type(error).__name__}: {_first_lines(error)}"}
            on_result(item, result, attempts)
            if queue and any(a is actor for a in actors):
                submit(actor)
        return {"workers": count, "replaced": replaced, "gpus": 1 if use_gpu else 0}
    finally:
        for actor in actors:
            ray.kill(actor)
        if started_here:
            ray.shutdown()
