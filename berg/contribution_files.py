"""Modality contributions on disk: each modality's contribution as a result of its own.

``write_contributions`` writes, for a stimulus NAME and each modality m it has,
``NAME_contribution_m.*`` through :func:`berg.io.write_outputs` (npz, JSON, GIfTI, ROI
tables: everything that reads a result reads these, ``berg plot`` included), then
``NAME_contributions_rgb.npz`` (the vertices and the (n, 3) text/audio/video map) and last
``NAME_contributions.json``, which names the files and gives each modality's share.
"""

from __future__ import annotations

import copy
import io
import json
import os
from pathlib import Path

import numpy as np

from berg.files import atomic_open
from berg.io import to_jsonable, write_outputs

__all__ = ["write_contributions"]

MEANING = (
    "the predicted response minus the response with this modality removed by the model's "
    "missing-modality rule (zeros after its projector); same features, same rows"
)


def write_contributions(
    out_dir: str | os.PathLike, stem: str, contributions, metadata: dict, formats=None
) -> list[Path]:
    """Write a stimulus's modality contributions.

    Parameters
    ----------
    out_dir : path
        Created if needed.
    stem : str
        The stimulus's name.
    contributions : berg.tribe.contributions.Contributions
        From ``BERG.encode(..., return_metadata=True, contributions=True)``.
    metadata : dict
        That encode's metadata.
    formats : optional
        As for :func:`berg.io.write_outputs`.

    Returns
    -------
    list of Path
        Every file written, the summary last.
    """
    out = Path(out_dir)
    base = {k: v for k, v in metadata.items() if k != "contributions"}
    written: list[Path] = []
    files = {}
    for modality, course in contributions.timecourses().items():
        meta = copy.deepcopy(base)
        meta["contribution"] = {"modality": modality, "meaning": MEANING}
        paths = write_outputs(out, f"{stem}_contribution_{modality}", course, meta, formats)
        names = [p.name for p in paths.values()]
        if "gifti" in paths:  # write_outputs names the left hemisphere; the right is beside
            names.append(paths["gifti"].name.replace(".lh.func.gii", ".rh.func.gii"))
        files[modality] = names
        written += [out / n for n in names]
    buffer = io.BytesIO()
    np.savez(
        buffer,
        rgb=contributions.rgb(),
        vertices=np.asarray(metadata["selection"]["vertices"], np.int64),
        channels=np.array(["text", "audio", "video"]),
    )
    rgb_path = out / f"{stem}_contributions_rgb.npz"
    with atomic_open(rgb_path, "wb") as handle:
        handle.write(buffer.getvalue())
    written.append(rgb_path)
    summary = {
        **to_jsonable(contributions),
        "stimulus": to_jsonable(metadata.get("stimulus", {})),
        "files": files,
        "rgb": rgb_path.name,
    }
    summary_path = out / f"{stem}_contributions.json"
    with atomic_open(summary_path, "w") as handle:
        json.dump(summary, handle, indent=1)
    written.append(summary_path)
    return written
