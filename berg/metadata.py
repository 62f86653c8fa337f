"""The metadata dictionary of a model, built from its card and the packaged parcellation.

Nothing here loads weights or touches the network: ``BERG.get_model_metadata`` must work on
a laptop that has never downloaded the model.
"""

from __future__ import annotations

from typing import Any

from berg import cortex
from berg.registry import ModelCard

__all__ = ["model_metadata"]


def model_metadata(card: ModelCard) -> dict[str, Any]:
    """The BERG metadata of a model.

    Returns
    -------
    dict
        ``fmri``: subject_id, n_vertices, n_vertices_lh, n_vertices_rh, surface_mesh,
        output_frequency_hz (exactly these keys, as the BERG model card lists them).
        ``roi``: parcellation, roi_labels (180,), roi_assignments (20484,) with -1 on the
        medial wall, roi_index {name: index into roi_labels}.
        ``timing``: hemodynamic_offset_s and what it means for each output row.
        ``model``: model_id, aliases, name, weights provenance (Hub repo, revision, licence).
        Every call returns fresh objects: changing them cannot affect later calls.
    """
    facts = card["metadata"]
    weights = card.weights
    offset = float(facts["hemodynamic_offset_s"])
    return {
        "fmri": {
            "subject_id": facts["subject_id"],
            "n_vertices": cortex.N_VERTICES,
            "n_vertices_lh": cortex.N_VERTICES_PER_HEMISPHERE,
            "n_vertices_rh": cortex.N_VERTICES_PER_HEMISPHERE,
            "surface_mesh": cortex.SURFACE_MESH,
            "output_frequency_hz": float(facts["output_frequency_hz"]),
        },
        "roi": cortex.roi_metadata(),
        "timing": {
            "hemodynamic_offset_s": offset,
            "row_interval": "row k covers stimulus time [k, k+1) seconds",
            "meaning": (
                f"the model was trained against fMRI shifted {offset:g} s earlier, so "
                f"row k predicts the BOLD signal measured about {offset:g} s after "
                "the start of second k; no shift is applied to the output"
            ),
        },
        "model": {
            "model_id": card.model_id,
            "aliases": list(card.aliases),
            "name": card["name"],
            "hub_repo": weights.hub_repo,
            "revision": weights.revision,
            "weights_license": weights.license,
        },
    }
