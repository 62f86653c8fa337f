"""Batch sizes from a memory budget: as many clips or tokens per forward pass as fit.

Batching is where a GPU earns its keep (V-JEPA 2 at batch 1 leaves most of an H100 idle),
but a batch too large runs out of memory. Each extractor estimates what one item (a video
clip, a text token) costs in activations and fits as many as the budget allows:

- the budget is ``memory_budget`` bytes when given; else, on a GPU, half the memory still
  free once the model is loaded (on an Apple GPU: of the memory Metal recommends, less what
  it holds; at least ``CPU_BUDGET``), at most ``GPU_BUDGET_CAP`` (4 GiB: with the largest
  feature model, Llama-3.2-3B in bfloat16 at 6.4 GB, that keeps the peak near 11 GB, so a
  16 GB card is enough); on the CPU, ``CPU_BUDGET`` (512 MiB: enough for the CPU's matrix
  products to run at full speed, small beside the models, so that a long stimulus needs
  little more memory than a short one; laptops);
- the estimates are upper bounds worked out from the architectures (see each extractor),
  not measurements: a batch that fits the estimate fits the device.

Batch sizes change the features only by float rounding, so they are not part of the
feature cache key.
"""

from __future__ import annotations

from collections.abc import Callable

from berg.validation import check_number

__all__ = [
    "device_budget",
    "items_within",
    "batch_beside_model",
    "check_budget",
    "CPU_BUDGET",
    "GPU_BUDGET_CAP",
]

GiB = 1 << 30
#: Activation memory for a batch on the CPU when none is given (bytes).
CPU_BUDGET = GiB // 2
#: At most this much activation memory on a GPU when none is given (bytes).
GPU_BUDGET_CAP = 4 * GiB
_GPU_FREE_SHARE = 0.5


def check_budget(value: object, name: str = "memory_budget") -> int | None:
    """``None`` or a positive number of bytes, as an int; anything else is refused."""
    value = check_number(f"{name} (bytes)", value, minimum=1, none="automatic")
    return None if value is None else int(value)


def device_budget(device, memory_budget: int | None = None) -> int:
    """Bytes of activations one forward pass may use on ``device``.

    Parameters
    ----------
    device : torch.device
    memory_budget : int, optional
        Given by the user: used as it is.

    Returns
    -------
    int
        Bytes.
    """
    if memory_budget is not None:
        return int(memory_budget)
    if device.type == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info(device)
        return int(min(GPU_BUDGET_CAP, _GPU_FREE_SHARE * free))
    if device.type == "mps":  # unified memory: what Metal recommends, less what it holds
        import torch

        free = torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory()
        return int(min(GPU_BUDGET_CAP, max(CPU_BUDGET, _GPU_FREE_SHARE * free)))
    return CPU_BUDGET


def items_within(budget: int, per_item: int, *, most: int, fixed: int = 0) -> int:
    """How many items of ``per_item`` bytes fit in ``budget`` after ``fixed`` bytes: at least 1,
    at most ``most``."""
    if per_item <= 0:
        return most
    return max(1, min(most, (budget - fixed) // per_item))


def batch_beside_model(extractor, per_item: Callable[[int], float], *, most: int) -> int:
    """Items per forward pass for an extractor sized by its ``memory_budget``.

    The extractor's model is loaded first, so that on a GPU the budget is a share of what is
    free beside it.

    Parameters
    ----------
    extractor
        With ``model``, ``device``, ``dtype`` and ``memory_budget`` attributes.
    per_item : callable(itemsize) -> bytes
        What one item costs, given the bytes of one number in the model's dtype.
    most : int
        Upper bound.
    """
    import torch

    extractor.model  # noqa: B018 - loads it
    itemsize = torch.empty((), dtype=extractor.dtype).element_size()
    return items_within(
        device_budget(extractor.device, extractor.memory_budget), int(per_item(itemsize)), most=most
    )
