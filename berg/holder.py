"""Objects that load a model on first use and can give it back: extractors and recognisers.

A feature extractor, a speech recogniser and a synthesiser all hold a large model that is
loaded only when first needed (building one stays cheap, so options can be checked before any
weights are read), may be loaded ahead of time to time the loading apart, and must release it,
and the GPU memory it held, between stages. :class:`ModelHolder` writes those steps once.
"""

from __future__ import annotations

import sys

__all__ = ["ModelHolder"]


class ModelHolder:
    """Mixin for an object whose model loads on first use and whose `close` releases it.

    Subclasses name the attributes the model lives in (``_held``; the first one decides
    `loaded`) and implement `_load_model`. They may set ``self.device`` (a ``torch.device``
    or a device name) so that `close` also hands freed CUDA memory back to the GPU.

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
        device = getattr(self, "device", None)
        on_cuda = str(getattr(device, "type", device)).startswith("cuda")
        torch = sys.modules.get("torch")  # nothing to give back if torch never ran
        if was_loaded and on_cuda and torch is not None and torch.cuda.is_initialized():
            # The cache allocator keeps freed blocks for reuse; hand them back to the GPU.
            torch.cuda.empty_cache()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
