"""Batch sizes from a memory budget."""

from __future__ import annotations

import pytest
import torch

from berg.errors import InvalidParameterError
from berg.features.budget import (
    CPU_BUDGET,
    GPU_BUDGET_CAP,
    check_budget,
    device_budget,
    items_within,
)


def test_items_within():
    assert items_within(1000, 100, most=64) == 10
    assert items_within(1000, 100, most=4) == 4
    assert items_within(1000, 100, most=64, fixed=650) == 3
    assert items_within(50, 100, most=64) == 1  # one always runs, however large
    assert items_within(1000, 0, most=7) == 7


def test_device_budget():
    cpu = torch.device("cpu")
    assert device_budget(cpu) == CPU_BUDGET == 512 << 20
    assert device_budget(cpu, 12345) == 12345
    assert GPU_BUDGET_CAP == 4 << 30


def test_check_budget():
    assert check_budget(None) is None
    assert check_budget(2.5e9) == 2_500_000_000
    for bad in (0, -5, "1GB", True, float("nan")):
        with pytest.raises(InvalidParameterError, match="memory_budget"):
            check_budget(bad)


def test_text_tokens_from_the_budget(tmp_path):
    from tiny_models import write_tiny_llama

    from berg.features.text import TextFeatureExtractor

    folder = write_tiny_llama(tmp_path / "llama")
    # Tiny Llama: 5 hidden states of 32, intermediate 64, float32:
    # ((5 + 6) x 32 + 3 x 64) x 4 bytes = 2176 bytes a token.
    assert TextFeatureExtractor(folder, memory_budget=2176 * 100).tokens_per_batch() == 100
    assert TextFeatureExtractor(folder, memory_budget=10).tokens_per_batch() == 1
    assert TextFeatureExtractor(folder).tokens_per_batch() == 1 << 16  # capped
    assert TextFeatureExtractor(folder, batch_tokens=512).tokens_per_batch() == 512
    with pytest.raises(InvalidParameterError, match="batch_tokens"):
        TextFeatureExtractor(folder, batch_tokens=0)
