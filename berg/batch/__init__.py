"""Many stimuli in, one result per stimulus and an index out: on this machine or on Ray.

    report = BERG(berg_dir).encode_many("fmri-dascoli_2026-tribe_v2", "stimuli/", "out/")
    report = BERG(berg_dir).encode_many(..., engine="ray", ray_address="auto")

or ``berg encode-batch stimuli/ -o out/ [--ray | --ray-address auto]``. See
:mod:`berg.batch.sources` (what a batch takes), :mod:`berg.batch.ledger` (the output folder,
resuming), :mod:`berg.batch.engines` (where it runs), :mod:`berg.batch.ray_engine` and
:mod:`berg.batch.placement` (Ray's workers, and how many fit).
"""

from berg.batch.ledger import INDEX_COLUMNS, Record
from berg.batch.options import BatchOptions
from berg.batch.runner import BatchReport, encode_many
from berg.batch.sources import BatchItem, collect_stimuli

__all__ = [
    "encode_many",
    "BatchOptions",
    "BatchReport",
    "Record",
    "BatchItem",
    "collect_stimuli",
    "INDEX_COLUMNS",
]
