"""The Ray engine: a pool of worker actors on a cluster, each holding the models once.

How many workers and what each reserves is :mod:`berg.batch.placement`'s decision. When the
models run on CPUs and no ``memory_per_worker`` is given, one worker starts first and its
peak memory once its models are loaded sets how many more fit; the others then start
together, and each joins the batch as soon as its models are loaded (the first stimuli do
not wait for the last worker). Every worker has the next stimulus queued while it encodes
one. A worker that dies (killed, out of memory, its node lost) is replaced, and the stimuli
it held go back in the queue, each up to ``max_attempts`` tries.

All results come back to the calling process (``on_result``), which alone writes the
output folder. Every node must have berg installed and see the stimulus files and the BERG
folder (shared storage, which also shares the feature cache).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from berg.batch.engines import OnResult, import_ray
from berg.batch.placement import WorkerPlan, plan_workers, worker_memory_bytes
from berg.batch.sources import BatchItem
from berg.batch.worker import BatchWorker, WorkerSpec
from berg.errors import BERGError

__all__ = ["run_ray"]

_QUEUED_PER_WORKER = 2  # the stimulus being encoded and the next one


def _first_lines(error: BaseException, n: int = 3) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[-n:]) if lines else type(error).__name__


def _alive_nodes(ray) -> list[dict[str, float]]:
    return [node["Resources"] for node in ray.nodes() if node.get("Alive")]


class _Pool:
    """The actors of one batch and the stimuli each holds."""

    def __init__(
        self,
        ray,
        spec: WorkerSpec,
        pending: Sequence[BatchItem],
        on_workers: Callable[[int, int], None] | None,
    ):
        from ray.exceptions import RayActorError, RayError

        self.ray, self.spec = ray, spec
        self.actor_died, self.ray_error = RayActorError, RayError
        self.remote = ray.remote(max_restarts=0, max_task_retries=0)(BatchWorker)
        self.queue = deque((item, 1) for item in pending)
        self.starting: dict = {}  # ready() reference -> actor whose models are loading
        self.active: list = []  # actors with their models loaded
        self.in_flight: dict = {}  # encode() reference -> (actor, item, attempts)
        self.planned = 0
        self.replaced = 0
        self.start_errors: list[str] = []
        self._on_workers = on_workers

    def spawn(self, plan: WorkerPlan, n: int) -> None:
        """Start ``n`` actors sized by ``plan``; they join as their models load."""
        options = {"num_cpus": plan.cpus, "num_gpus": plan.gpus}
        if plan.memory_bytes:
            options["memory"] = plan.memory_bytes
        spec = dict(self.spec, threads=plan.threads)
        for _ in range(n):
            actor = self.remote.options(**options).remote(spec)
            self.starting[actor.ready.remote()] = actor
        self.planned += n
        self._report()

    def join(self, ref, *, feed: bool = True) -> dict | None:
        """An actor's models loaded (its ``ready()`` info), or it failed to start (None).

        Raises BERGError when it failed and no other worker is running or starting.
        """
        actor = self.starting.pop(ref)
        try:
            info = self.ray.get(ref)
        except self.ray_error as error:
            self.start_errors.append(_first_lines(error))
            self.ray.kill(actor)
            self.planned -= 1
            self._report()
            if not (self.active or self.starting):
                raise BERGError(
                    f"the batch's Ray workers could not start: {self.start_errors[-1]}"
                ) from error
            return None
        self.active.append(actor)
        if feed:
            self.feed(actor)
        self._report()
        return info

    def feed(self, actor) -> None:
        """Queue stimuli on ``actor`` until it holds ``_QUEUED_PER_WORKER``."""
        held = sum(1 for owner, _, _ in self.in_flight.values() if owner is actor)
        for _ in range(_QUEUED_PER_WORKER - held):
            if not self.queue:
                return
            item, attempts = self.queue.popleft()
            self.in_flight[actor.encode.remote(item.id, str(item.path))] = (actor, item, attempts)

    def lost(self, actor) -> bool:
        """Forget a dead actor; True the first time (of its several stimuli) it is seen."""
        if not any(a is actor for a in self.active):
            return False
        self.active = [a for a in self.active if a is not actor]
        self.planned -= 1
        self.ray.kill(actor)
        self._report()
        return True

    def _report(self) -> None:
        if self._on_workers is not None:
            self._on_workers(len(self.active), self.planned)

    def close(self) -> None:
        for actor in [*self.active, *self.starting.values()]:
            self.ray.kill(actor)
        self.active, self.starting = [], {}


def run_ray(
    spec: WorkerSpec,
    pending: Sequence[BatchItem],
    on_result: OnResult,
    *,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: float | None = None,
    memory_per_worker_bytes: int | None = None,
    max_attempts: int = 3,
    on_workers: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
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
        How many workers at most; default as many as the cluster holds (one per GPU; on
        CPUs, as many as memory allows, at most one per CPU).
    cpus_per_worker : float, optional
        Ray CPUs each worker reserves (and its torch threads); see
        :func:`~berg.batch.placement.plan_workers` for the default.
    memory_per_worker_bytes : int, optional
        Memory each CPU worker reserves; default measured on the first worker.
    max_attempts : int
        Tries per stimulus when workers die under it.
    on_workers : callable(ready, planned), optional
        Called as workers join or leave.

    Returns
    -------
    dict
        ``workers`` planned, ``replaced`` (workers that died and were replaced) and
        ``plan`` (the :class:`~berg.batch.placement.WorkerPlan`).
    """
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        options = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
        if address:
            try:
                ray.init(address=address, **options)
            except (ConnectionError, ValueError, RuntimeError) as error:
                raise BERGError(
                    f"cannot join the Ray cluster at {address!r}: {_first_lines(error, 1)} "
                    "(start one with `ray start --head`, or use --ray without an address for "
                    "a local one)"
                ) from error
        else:
            local = (
                None
                if workers is None or cpus_per_worker is None
                else max(1, round(workers * cpus_per_worker))
            )
            ray.init(num_cpus=local, **options)
    pool = None
    try:
        nodes = _alive_nodes(ray)
        device = str(spec.get("device", "auto"))
        use_gpu = device.startswith("cuda") or (
            device == "auto" and any(n.get("GPU", 0) >= 1 for n in nodes)
        )
        worker_spec = dict(spec, device="cuda" if use_gpu else device.replace("auto", "cpu"))
        pool = _Pool(ray, worker_spec, pending, on_workers)
        sizing = {
            "use_gpu": use_gpu,
            "workers": workers,
            "cpus_per_worker": cpus_per_worker,
            "items": len(pending),
        }
        plan = plan_workers(nodes, memory_bytes=memory_per_worker_bytes, **sizing)
        if plan.count < 1 and use_gpu:
            raise BERGError(
                f"device={device!r} asks for GPU workers but no node of the Ray "
                f"cluster has a GPU and {plan.cpus:g} CPUs for one; use "
                "device='cpu' (or fewer CPUs per worker)"
            )
        if plan.count < 1:
            largest = max((n.get("CPU", 0) for n in nodes), default=0)
            raise BERGError(
                f"no node of the Ray cluster has {plan.cpus:g} CPUs for a worker "
                f"(the largest has {largest:g}); ask for fewer CPUs per worker"
            )
        if not use_gpu and memory_per_worker_bytes is None and plan.count > 1:
            # How many CPU workers fit is a question of memory: measure one worker first.
            probe = WorkerPlan(1, cpus_per_worker or 1, 0, None)
            pool.spawn(probe, 1)
            [ref], _ = ray.wait(list(pool.starting), num_returns=1)
            info = pool.join(ref, feed=False)  # it is the only one: None is not returned
            measured = worker_memory_bytes(info["peak_rss_bytes"])
            plan = plan_workers(nodes, memory_bytes=measured, **sizing)
            first = pool.active[0]
            if plan.threads != probe.threads:
                first.use_threads.remote(plan.threads)  # an actor runs calls in order
            pool.feed(first)
            pool.spawn(plan, plan.count - 1)
        else:
            pool.spawn(plan, plan.count)

        while pool.queue or pool.in_flight:
            if not (pool.in_flight or pool.starting):
                # Every worker died with stimuli left and none is loading: start one.
                pool.spawn(plan, 1)
                pool.replaced += 1
            [ref], _ = ray.wait([*pool.in_flight, *pool.starting], num_returns=1)
            if ref in pool.starting:
                pool.join(ref)
                continue
            actor, item, attempts = pool.in_flight.pop(ref)
            try:
                result = ray.get(ref)
            except pool.actor_died as error:
                # The worker died under this stimulus (or with it queued): try it again.
                if attempts < max_attempts:
                    pool.queue.appendleft((item, attempts + 1))
                else:
                    on_result(
                        item,
                        {
                            "id": item.id,
                            "status": "failed",
                            "seconds": None,
                            "error": f"WorkerDied: the worker encoding it died "
                            f"{attempts} times; last: "
                            f"{_first_lines(error, 1)}",
                        },
                        attempts,
                    )
                if pool.lost(actor) and pool.queue:
                    pool.spawn(plan, 1)
                    pool.replaced += 1
                for other in pool.active:  # the requeued stimulus goes to a free worker
                    pool.feed(other)
                continue
            except pool.ray_error as error:
                result = {
                    "id": item.id,
                    "status": "failed",
                    "seconds": None,
                    "error": f"{type(error).__name__}: {_first_lines(error)}",
                }
            on_result(item, result, attempts)
            if any(a is actor for a in pool.active):
                pool.feed(actor)
        return {"workers": plan.count, "replaced": pool.replaced, "plan": plan}
    finally:
        if pool is not None:
            pool.close()
        if started_here:
            ray.shutdown()
