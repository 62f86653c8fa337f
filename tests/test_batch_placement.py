"""How many Ray workers a batch starts and what each reserves (hand-worked clusters)."""

from __future__ import annotations

from berg.batch.placement import GIB, WorkerPlan, plan_workers, worker_memory_bytes

GB = 1e9


def test_one_gpu_worker_per_gpu_with_its_share_of_the_cpus():
    nodes = [
        {"CPU": 16, "GPU": 2, "memory": 200 * GB},
        {"CPU": 8, "GPU": 1},
        {"CPU": 64, "memory": 500 * GB},
    ]  # a CPU-only node holds no GPU worker
    # 16 CPUs / 2 GPUs = 8 and 8 / 1 = 8 CPUs per worker; 2 + 1 workers.
    assert plan_workers(nodes, use_gpu=True) == WorkerPlan(3, 8, 1, None)
    assert plan_workers(nodes, use_gpu=True, workers=2).count == 2
    assert plan_workers(nodes, use_gpu=True, items=1).count == 1
    # 12 CPUs each: only the 16-CPU node can hold one, and only one.
    assert plan_workers(nodes, use_gpu=True, cpus_per_worker=12) == WorkerPlan(1, 12, 1, None)
    assert plan_workers([{"CPU": 8, "memory": 9 * GB}], use_gpu=True).count == 0


def test_cpu_workers_are_as_many_as_memory_holds_and_share_the_cores():
    node = {"CPU": 32, "memory": 100 * GB}
    # 100 GB / 28 GB = 3 workers; 32 CPUs / 3 = 10 threads each.
    plan = plan_workers([node], use_gpu=False, memory_bytes=int(28 * GB))
    assert plan == WorkerPlan(3, 10, 0, int(28 * GB)) and plan.threads == 10
    assert plan.describe() == "3 workers (10 CPUs, 28.0 GB each)"
    # Memory not known yet (before the first worker is measured): one per CPU.
    assert plan_workers([node], use_gpu=False) == WorkerPlan(32, 1, 0, None)
    # Two workers asked for: 16 threads each.
    assert plan_workers([node], use_gpu=False, workers=2, memory_bytes=int(28 * GB)) == WorkerPlan(
        2, 16, 0, int(28 * GB)
    )
    # Tiny models: the cores are the limit.
    assert plan_workers([node], use_gpu=False, memory_bytes=int(2 * GB)).count == 32


def test_each_node_is_counted_on_its_own():
    # 1.5 workers' memory on each of two nodes: 2 workers, not 3.
    nodes = [{"CPU": 8, "memory": 30 * GB}, {"CPU": 8, "memory": 30 * GB}]
    assert plan_workers(nodes, use_gpu=False, memory_bytes=int(20 * GB)) == WorkerPlan(
        2, 8, 0, int(20 * GB)
    )
    # Unequal nodes: 3 + 3 workers by memory; an even share of 20 / 6 = 3 CPUs fits only
    # 1 + 3 of them, 2 CPUs 2 + 3: each worker gets 1 CPU so that all 6 are placed.
    nodes = [{"CPU": 4, "memory": 64 * GB}, {"CPU": 16, "memory": 64 * GB}]
    assert plan_workers(nodes, use_gpu=False, memory_bytes=int(20 * GB)) == WorkerPlan(
        6, 1, 0, int(20 * GB)
    )


def test_cpus_per_worker_given():
    node = {"CPU": 8, "memory": 64 * GB}
    # 8 / 2 = 4 by CPUs, 64 / 10 = 6 by memory.
    assert plan_workers(
        [node], use_gpu=False, cpus_per_worker=2, memory_bytes=int(10 * GB)
    ) == WorkerPlan(4, 2, 0, int(10 * GB))
    assert plan_workers([node], use_gpu=False, cpus_per_worker=0.5).count == 16
    assert plan_workers([node], use_gpu=False, cpus_per_worker=12).count == 0


def test_a_worker_larger_than_any_node_still_runs_alone_unreserved():
    # Ray's share of this node (10 GB) is less than the 28 GB measured on the one worker
    # that did run: a reservation could never be granted, so that one runs without it.
    node = {"CPU": 8, "memory": 10 * GB}
    assert plan_workers([node], use_gpu=False, memory_bytes=int(28 * GB)) == WorkerPlan(
        1, 8, 0, None
    )


def test_memory_to_reserve_from_a_measured_worker():
    # 4 GiB peak once loaded: x 1.25 margin + 1 GiB to encode with.
    assert worker_memory_bytes(4 * GIB) == 6 * GIB
