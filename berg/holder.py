"""Objects that load a model on first use and can give it back: extractors and recognisers.

A feature extractor, a speech recogniser and a synthesiser all hold a large model that is
loaded only when first needed (building one stays cheap, so options can be checked before any
weights are read), may be loaded ahead of time to time the loading apart, and must release it,
and the GPU memory it held, between stages. :class:`ModelHolder` writes those steps once.
"""

from __future__ import annotations

import ctypes
import functools
import sys

__all__ = ["ModelHolder", "release_cached_memory", "release_free_heap"]


def release_cached_memory(device) -> None:
    """Give the allocators' cached memory back: the free pages of the C heap (glibc, on
    every device: the host holds a model's inputs and outputs), and the GPU's cached blocks
    (CUDA or Apple's MPS) when torch ran there."""
    release_free_heap()
    torch = sys.modules.get("torch")  # nothing to give back if torch never ran
    kind = str(getattr(device, "type", device)).split(":")[0]
    if torch is None:
        return
    if kind == "cuda" and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
    elif kind == "mps" and torch.backends.mps.is_available():
        torch.mps.empty_cache()


def release_free_heap() -> bool:
    """Hand the free pages of the C heap back to the system (glibc's ``malloc_trim``).

    glibc keeps what a stage freed for later allocations, but a model's large tensors are
    allocated apart from it, so between stages hundreds of MB stay resident unused (a
    10-minute film: ~470 MB after the text stage). Nothing is moved and no setting changes;
    elsewhere than on glibc (macOS, Windows, musl) this does nothing.

    Returns
    -------
    bool
        Whether there was a ``malloc_trim`` to call.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (OSError, AttributeError):  # musl has no malloc_trim
        return None


class ModelHolder:
    """Mixin for an object whose model loads on first use and whose `close` releases it.

    Subclasses name the attributes the model lives in (``_held``; the first one decides
    `loaded`) and implement `_load_model`. They may set ``self.device`` (a ``torch.device``
    or a device name) so that `close` also hands freed GPU memory back (CUDA, MPS).

    Use as a context manager to release the model at the end of a block.
    """

    #: Attributes holding what `load` loads (the first: the model itself); `close` sets them
    #: to None.
    _held: tuple[str, ...] = ("_model",)

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (it loads on first use)."""
        return getattr(self, self._held[0], None) is not None

    def load(self) -> None:
        """Load the model (and what goes with it) now rather than on first use."""
        self._load_model()

    def _load_model(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the model (and what was loaded with it) and the GPU memory it held.

        It is loaded again if the object is used after this. Closing twice does nothing more.
        """
        was_loaded = self.loaded
        for name in self._held:
            setattr(self, name, None)
        if was_loaded:
            # The cache allocator keeps freed blocks for reuse; hand them back to the GPU.
            release_cached_memory(getattr(self, "device", None))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
