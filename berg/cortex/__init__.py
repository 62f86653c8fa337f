"""The cortical surface berg predicts on: fsaverage5 facts, the Glasser parcellation,
selections, and summaries over areas.

TRIBE v2 predicts one value per vertex of fsaverage5, left hemisphere first (vertices 0..10241),
then right (10242..20483). Regions come from the Glasser HCP-MMP1.0 parcellation: 180 areas, each
name covering both hemispheres. The parcellation ships with berg as ``berg/data/
glasser_fsaverage5.npz`` (see ``glasser_fsaverage5.md`` beside it for where it comes from).

- :mod:`~berg.cortex.surface`: the facts (sizes, the parcellation, hemispheres);
- :mod:`~berg.cortex.names`: area names, ``L_``/``R_`` names, wildcards, the 22 sections;
- :mod:`~berg.cortex.selection`: a user's ``selection`` -> vertices;
- :mod:`~berg.cortex.summaries`: means per area (per hemisphere if asked) and the top areas.

Nothing here needs torch or a model, so metadata and selections can be checked cheaply.
"""

from berg.cortex.names import glasser_sections, parse_roi_names, resolve_roi_names
from berg.cortex.selection import resolve_selection
from berg.cortex.summaries import area_means, result_vertices, roi_timecourses, top_areas
from berg.cortex.surface import (
    MEDIAL_WALL,
    N_VERTICES,
    N_VERTICES_PER_HEMISPHERE,
    PARCELLATION_NAME,
    SURFACE_MESH,
    Parcellation,
    hemisphere_of,
    load_parcellation,
    roi_metadata,
)

__all__ = [
    "MEDIAL_WALL",
    "N_VERTICES",
    "N_VERTICES_PER_HEMISPHERE",
    "PARCELLATION_NAME",
    "SURFACE_MESH",
    "Parcellation",
    "area_means",
    "glasser_sections",
    "hemisphere_of",
    "load_parcellation",
    "parse_roi_names",
    "resolve_roi_names",
    "resolve_selection",
    "result_vertices",
    "roi_metadata",
    "roi_timecourses",
    "top_areas",
]
