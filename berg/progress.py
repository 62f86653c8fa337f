"""Progress bars that can be turned off (``show_progress=False``) without special cases."""

from __future__ import annotations

import functools

__all__ = ["silent_tqdm_class"]


@functools.cache
def silent_tqdm_class():
    """A tqdm subclass whose bars are always disabled, for APIs that take ``tqdm_class``."""
    from tqdm.auto import tqdm

    class SilentTqdm(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return SilentTqdm
