"""Pictures of predictions: cortical maps, ROI time courses, filmstrips and brain movies.

    fig = plot_cortical_map(responses, metadata)             # mean over rows, 4 views
    fig = plot_cortical_map(responses, metadata, time=12.5)  # the row covering 12.5 s
    fig = plot_roi_timecourses(responses, metadata, rois=["V1", "FFC"])
    fig = plot_timesteps(responses, metadata, times=[2, 4, 6])  # a filmstrip
    fig = plot_contributions_map(metadata["contributions"], metadata)
    save_figure(fig, "clip_map.png")
    render_movie(responses, metadata, "clip.mp4", stimulus="clip.mp4")

Like nilearn and MNE, each function returns a ``matplotlib.figure.Figure``. Figures are built
with ``Figure`` and an Agg canvas directly, never through pyplot, so berg starts no GUI, keeps
no figure alive behind the caller's back and leaves matplotlib's backend alone. (Importing
``nilearn.plotting`` checks that the current backend is usable and falls back to Agg where it
is not; that is nilearn's doing and happens only when a map is drawn.)

    maps          plot_cortical_map (views, borders, labels, figure= / axes=)
    contributions_map  plot_contributions_map (text, audio, video as red, green, blue)
    layout        how a figure of views is laid out
    timecourses   plot_roi_timecourses
    filmstrip     plot_timesteps
    movie         render_movie
    raster        cortex views rasterised once, coloured per frame (movies, filmstrips)
    panels        the parts of a movie frame
    figures       what they share, and save_figure

Needs the ``plot`` extra: ``pip install 'berg-tribe[plot]'`` (nilearn and matplotlib). The
fsaverage5 meshes and sulcal depth ship inside nilearn, so nothing is downloaded.
"""

from berg.plotting.contributions_map import plot_contributions_map
from berg.plotting.figures import save_figure
from berg.plotting.filmstrip import plot_timesteps
from berg.plotting.maps import plot_cortical_map
from berg.plotting.movie import render_movie
from berg.plotting.timecourses import MAX_DEFAULT_ROIS, most_varying_rois, plot_roi_timecourses

__all__ = [
    "plot_contributions_map",
    "plot_cortical_map",
    "plot_timesteps",
    "render_movie",
    "plot_roi_timecourses",
    "most_varying_rois",
    "save_figure",
    "MAX_DEFAULT_ROIS",
]
