"""Tiny random models of the three real feature architectures, for tests.

They live in ``berg.selftest`` (the installed self-test builds the same ones); this module
only gives tests a short import name.
"""

from berg.selftest import (  # noqa: F401
    HIDDEN,
    TINY_FEATURE_DIMS,
    write_tiny_extractors,
    write_tiny_llama,
    write_tiny_vjepa2,
    write_tiny_w2v_bert,
)
