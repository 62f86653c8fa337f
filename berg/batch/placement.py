"""How many Ray workers a batch starts, and what each one reserves.

Every worker holds its own copy of the models, so on CPUs memory, not the number of cores,
is what usually limits them: the real TRIBE v2 stack (Llama-3.2-3B, V-JEPA2-giant,
w2v-bert-2.0, Whisper large-v3, the brain model) takes tens of GB per worker in float32.
A worker per core on a 32-core machine would ask for ~1 TB and be killed over and over.
So:

- **GPU workers**: one per GPU; each reserves 1 GPU and, unless told, its node's CPUs
  divided among the node's GPUs (decoding, speech recognition and resampling run there).
- **CPU workers**: as many as the memory of each node holds, at most one per CPU; the CPUs
  are then shared out among them (torch threads), so that a memory-limited cluster still
  uses all its cores. How much memory a worker needs is measured on the first worker
  (:func:`worker_memory_bytes`) unless given.

A worker is placed on one node, so each node is counted on its own: two nodes with room
for 1.5 workers each hold 2 workers, not 3. All numbers are Ray's logical resources (the
``Resources`` of ``ray.nodes()``: ``CPU``, ``GPU``, ``memory`` in bytes); Ray's ``memory``
of a node is what it leaves after its object store, about 70 % of the free memory.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["WorkerPlan", "plan_workers", "worker_memory_bytes", "peak_rss_bytes"]

GIB = 1024**3
#: A worker's memory beyond its loaded models while it encodes: the feature batches (the
#: CPU budget, 512 MiB), the decoded audio and the recogniser's features, the result.
ENCODING_HEADROOM_BYTES = 1 * GIB
#: The peak measured while loading is multiplied by this (allocator slack, fragmentation).
MEASURED_MARGIN = 1.25


@dataclass(frozen=True)
class WorkerPlan:
    """The workers a batch starts.

    Attributes
    ----------
    count : int
        Workers to start (at least 1).
    cpus : float
        Ray CPUs each reserves.
    threads : int
        Torch threads each uses (``cpus`` rounded down, at least 1).
    gpus : int
        GPUs each reserves (0 or 1).
    memory_bytes : int or None
        Ray memory each reserves (CPU workers), or None.
    """

    count: int
    cpus: float
    gpus: int
    memory_bytes: int | None

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus))

    def describe(self) -> str:
        """``'2 workers (4 CPUs, 1 GPU, 27.5 GB each)'``."""
        parts = [f"{self.cpus:g} CPU{'s' * (self.cpus != 1)}"]
        if self.gpus:
            parts.append(f"{self.gpus} GPU")
        if self.memory_bytes:
            parts.append(f"{self.memory_bytes / 1e9:.1f} GB")
        return (
            f"{self.count} worker{'s' * (self.count != 1)} ({', '.join(parts)}"
            f"{' each' if self.count != 1 else ''})"
        )


def _fits(node: Mapping[str, float], cpus: float, gpus: int, memory: int | None) -> int:
    """Workers of this size one node holds."""
    counts = [math.floor(node.get("CPU", 0) / cpus + 1e-9)]
    if gpus:
        counts.append(math.floor(node.get("GPU", 0) / gpus + 1e-9))
    if memory:
        counts.append(math.floor(node.get("memory", 0) / memory))
    return max(0, min(counts))


def plan_workers(
    nodes: Iterable[Mapping[str, float]],
    *,
    use_gpu: bool,
    workers: int | None = None,
    cpus_per_worker: float | None = None,
    memory_bytes: int | None = None,
    items: int | None = None,
) -> WorkerPlan:
    """The workers to start on a cluster of ``nodes``.

    Parameters
    ----------
    nodes : iterable of dict
        Each alive node's total resources (``CPU``, ``GPU``, ``memory`` in bytes).
    use_gpu : bool
        One worker per GPU, or CPU workers.
    workers : int, optional
        Asked for; fewer are started when the cluster cannot hold them.
    cpus_per_worker : float, optional
        Default: a GPU worker takes its node's CPUs over its GPUs; CPU workers share all CPUs.
    memory_bytes : int, optional
        Memory one CPU worker needs (not reserved for GPU workers).
    items : int, optional
        Stimuli to encode: no more workers than that.

    Returns
    -------
    WorkerPlan
        With ``count`` 0 when no node can hold one worker (no GPU, or fewer CPUs than
        ``cpus_per_worker``).
    """
    nodes = [dict(node) for node in nodes if node.get("CPU", 0) > 0]
    wanted = [n for n in (workers, items) if n is not None]
    if use_gpu:
        gpu_nodes = [n for n in nodes if n.get("GPU", 0) >= 1]
        cpus = cpus_per_worker or max(
            1, min((math.floor(n["CPU"] / math.floor(n["GPU"])) for n in gpu_nodes), default=1)
        )
        capacity = sum(_fits(n, cpus, 1, None) for n in gpu_nodes)
        return WorkerPlan(min([capacity, *wanted]), cpus, 1, None)
    if memory_bytes and sum(_fits(n, 1, 0, memory_bytes) for n in nodes) == 0:
        # Not even one worker fits Ray's share of a node's memory, yet one ran (it was
        # measured): run that one, without a reservation Ray could never grant.
        memory_bytes = None
        wanted = [1]
    if cpus_per_worker:
        if not any(_fits(n, cpus_per_worker, 0, None) for n in nodes):
            return WorkerPlan(0, cpus_per_worker, 0, memory_bytes)  # no node has the CPUs
        capacity = sum(_fits(n, cpus_per_worker, 0, memory_bytes) for n in nodes)
        return WorkerPlan(max(1, min([capacity, *wanted])), cpus_per_worker, 0, memory_bytes)
    # One CPU each at first: as many as memory (and cores) allow; then the cores shared out.
    capacity = sum(_fits(n, 1, 0, memory_bytes) for n in nodes)
    count = max(1, min([capacity, *wanted]))
    total_cpus = sum(n["CPU"] for n in nodes) or 1
    largest = max((n["CPU"] for n in nodes), default=1)
    cpus = max(1, min(math.floor(total_cpus / count), math.floor(largest)))
    # Shared out over nodes of different sizes, the even share may not fit them all.
    while cpus > 1 and sum(_fits(n, cpus, 0, memory_bytes) for n in nodes) < count:
        cpus -= 1
    return WorkerPlan(count, cpus, 0, memory_bytes)


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far, in bytes."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS: bytes; Linux: KiB


def worker_memory_bytes(loaded_peak_rss: int) -> int:
    """Memory to reserve per CPU worker, from one worker's peak RSS once its models loaded."""
    return int(loaded_peak_rss * MEASURED_MARGIN + ENCODING_HEADROOM_BYTES)
