"""Test-session settings.

The tiny random models in these tests are so small that thread start-up dominates: on a
busy 2-core machine one thread is many times faster than two. This only affects the test
process; berg itself never changes torch's thread count.
"""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
