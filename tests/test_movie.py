"""Cortex views, brain movies and filmstrips: the views against anatomy's conventions, the
movie decoded back frame by frame, the filmstrip's pictures against the rows."""

import av
import numpy as np
import pytest
from media_factory import frame_code, make_audio, make_video, tone

from berg import cortex
from berg.errors import InvalidParameterError
from berg.plotting.filmstrip import plot_timesteps
from berg.plotting.movie import render_movie, surface_at
from berg.plotting.raster import VIEWS, colour_view, cortex_view, fsaverage5
from berg.tribe.binning import row_times

pytest.importorskip("nilearn")
HALF = cortex.N_VERTICES_PER_HEMISPHERE


def _coords():
    meshes = fsaverage5()
    return np.concatenate([meshes["left"][0], meshes["right"][0]])


def _mean_value_by_half(view, surface):
    """The mean drawn value over the left and the right half of the view's cortex pixels."""
    values = view.values(surface)
    columns = np.nonzero(view.mask)[1]
    middle = (columns.min() + columns.max()) / 2
    rows, cols = np.nonzero(view.mask)
    left = np.nanmean(values[rows[cols < middle], cols[cols < middle]])
    right = np.nanmean(values[rows[cols > middle], cols[cols > middle]])
    return left, right


@pytest.mark.parametrize(
    "name, front_on_left",
    [
        ("left lateral", True),
        ("right lateral", False),
        ("left medial", False),
        ("right medial", True),
    ],
)
def test_side_views_put_the_front_where_atlases_do(name, front_on_left):
    y = _coords()[:, 1]
    anterior = np.where(y > np.median(y), 1.0, -1.0)
    left, right = _mean_value_by_half(cortex_view(name, 120), anterior)
    assert (left > 0.5 and right < -0.5) if front_on_left else (left < -0.5 and right > 0.5)


def test_a_lateral_view_sees_the_lateral_surface():
    view = cortex_view("left lateral", 120)
    seen = np.unique(view.vertices[view.mask])
    assert seen.max() < HALF  # the left hemisphere only
    medial = cortex_view("left medial", 120)
    other_side = np.unique(medial.vertices[medial.mask])
    assert len(np.intersect1d(seen, other_side)) < 0.01 * len(seen)  # the z-buffer hides
    x = fsaverage5()["left"][0][:, 0]
    assert x[seen].mean() < -10 and x[other_side].mean() > 10  # outer (x < 0) and inner
    np.testing.assert_allclose(view.weights[view.mask].sum(axis=1), 1.0, atol=1e-5)
    assert (view.vertices[~view.mask] == -1).all() and (view.light[~view.mask] == 0).all()


@pytest.mark.parametrize("name, left_on_left", [("dorsal", True), ("ventral", False)])
def test_top_and_bottom_views_show_both_hemispheres(name, left_on_left):
    hemisphere = np.r_[np.ones(HALF), -np.ones(HALF)]  # +1 left, -1 right
    left, right = _mean_value_by_half(cortex_view(name, 120), hemisphere)
    assert (left > 0.9 and right < -0.9) if left_on_left else (left < -0.9 and right > 0.9)


def test_colours_unselected_vertices_and_thresholds():
    import matplotlib

    view = cortex_view("left lateral", 80)
    surface = np.full(cortex.N_VERTICES, np.nan)
    surface[:HALF] = 2.0
    red = colour_view(view, surface, matplotlib.colormaps["RdBu_r"], vmax=2.0)
    lit = view.mask & (view.light > 0.9)
    top = np.asarray(matplotlib.colormaps["RdBu_r"](1.0)[:3]) * 255
    shade = (0.45 + 0.55 * view.light[lit])[:, None]
    np.testing.assert_allclose(red[lit], top * shade, atol=1.0)
    quiet = colour_view(view, surface, matplotlib.colormaps["RdBu_r"], vmax=4.0, threshold=3.0)
    grey = quiet[lit].astype(float) / shade
    assert np.ptp(grey, axis=1).max() < 2  # grey where below the threshold
    blank = colour_view(
        view, np.full(cortex.N_VERTICES, np.nan), matplotlib.colormaps["RdBu_r"], vmax=1
    )
    assert (blank[~view.mask] == 255).all() and np.ptp(blank[lit].astype(float), axis=1).max() < 2
    for name in VIEWS:
        assert cortex_view(name, 80).mask.mean() > 0.3


def test_rows_are_interpolated_between_their_middles():
    times = row_times(3.0)  # rows [0,1), [1,2), [2,3): middles 0.5, 1.5, 2.5
    responses = np.array([[0.0], [2.0], [-2.0]])
    vertex = np.array([7])
    for time, expected in [(0.0, 0.0), (0.5, 0.0), (1.0, 1.0), (1.5, 2.0), (2.0, 0.0), (2.9, -2.0)]:
        surface = surface_at(responses, vertex, times, time)
        assert surface[7] == pytest.approx(expected)
        assert np.isnan(np.delete(surface, 7)).all()


def _result(duration, stimulus=None, words=None):
    """Responses that are +1 everywhere in even rows and -1 in odd rows (a little noise)."""
    n = int(np.ceil(duration))
    rng = np.random.default_rng(0)
    signs = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    responses = (signs[:, None] + 0.05 * rng.standard_normal((n, cortex.N_VERTICES))).astype(
        np.float32
    )
    metadata = {
        "selection": {"vertices": np.arange(cortex.N_VERTICES)},
        "timing": {"row_times_s": row_times(duration), "hemodynamic_offset_s": 5.0},
        "stimulus": {"path": str(stimulus) if stimulus else None, "words": words or {}},
    }
    return responses, metadata


def _decoded(path):
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        kinds = [s.type for s in container.streams]
        fps = float(video.average_rate)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        duration = container.duration / 1e6
    return kinds, fps, frames, duration


def _redness(frame):
    """Red minus blue over the cortex grid (the right of the frame, under the caption)."""
    grid = frame[40:440, 520:].astype(float)
    coloured = np.abs(grid[..., 0] - grid[..., 2]) > 40
    return (grid[..., 0] - grid[..., 2])[coloured].mean()


def test_a_movie_of_a_video(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", 4.0, fps=25, audio=tone(440, 4.0))
    responses, metadata = _result(4.0, clip)
    path = render_movie(responses, metadata, tmp_path / "movie.mp4", fps=10, cmap="RdBu_r")
    kinds, fps, frames, duration = _decoded(path)
    assert kinds == ["video", "audio"] and fps == 10 and len(frames) == 40
    assert duration == pytest.approx(4.0, abs=0.1)
    # Frame k is time k / 10: row 0 (+1: red) at 0.5 s, row 1 (-1: blue) at 1.5 s, and
    # halfway between them the interpolated 0 (neither).
    assert _redness(frames[5]) > 60 and _redness(frames[15]) < -60
    between = frames[10][40:440, 520:].astype(float)
    assert abs((between[..., 0] - between[..., 2]).mean()) < abs(_redness(frames[5])) / 3
    # The stimulus panel shows the clip's frame at that time (160 x 120 scaled to 480 x 360).
    for k in (0, 12, 33):
        assert frame_code(frames[k][60:420, 10:490]) == int(25 * k / 10 + 1e-5)
    assert not (frames[5][440:] == frames[30][440:]).all()  # the cursor moved
    assert not list(tmp_path.glob("*.tmp*"))


def test_a_movie_of_a_sound_shows_its_words_and_can_lag_as_measured(tmp_path):
    sound = make_audio(tmp_path / "talk.wav", tone(300, 3.0), 16000)
    words = {"text": ["one", "two"], "start_s": [0.2, 1.4], "duration_s": [0.5, 0.5]}
    responses, metadata = _result(3.0, sound, words)
    path = render_movie(responses, metadata, tmp_path / "lag.mp4", fps=4, as_measured=True)
    kinds, fps, frames, duration = _decoded(path)
    assert kinds == ["video", "audio"] and len(frames) == 4 * 8  # 3 s + the 5 s offset
    panel = [f[40:440, 10:490] for f in frames]
    assert (panel[0] == 255).mean() > 0.95  # before the first word: (almost) blank
    assert not (panel[2] == panel[7]).all()  # a second word appeared


def test_movie_arguments_are_checked_first(tmp_path):
    responses, metadata = _result(2.0)
    for kwargs, message in [
        ({"fps": 0}, "fps must be"),
        ({"views": ["left lateal"]}, "did you mean 'left lateral'"),
        ({"stimulus": tmp_path / "missing.mp4"}, "missing.mp4"),
    ]:
        with pytest.raises(Exception, match=message):
            render_movie(responses, metadata, tmp_path / "m.mp4", **kwargs)
    with pytest.raises(InvalidParameterError, match="ending .mp4"):
        render_movie(responses, metadata, tmp_path / "m.avi")
    assert not list(tmp_path.iterdir())


def test_a_filmstrip_draws_each_chosen_row(tmp_path):
    from matplotlib.figure import Figure

    clip = make_video(tmp_path / "clip.mp4", 4.0, fps=25)
    responses, metadata = _result(4.0, clip)
    figure = plot_timesteps(responses, metadata, times=[0.2, 1.7, 2.0], cmap="RdBu_r")
    brains = [ax for ax in figure.axes if ax.images and ax.get_title()]
    assert [ax.get_title() for ax in brains] == ["0–1 s", "1–2 s", "2–3 s"]
    for ax, sign in zip(brains, (1, -1, 1)):
        picture = ax.images[0].get_array().astype(float)
        difference = picture[..., 0] - picture[..., 2]
        assert sign * difference[np.abs(difference) > 40].mean() > 60
    stills = [ax for ax in figure.axes if ax.images and not ax.get_title()]
    assert [frame_code(ax.images[0].get_array()) for ax in stills] == [12, 37, 62]  # middles
    again = Figure()
    assert plot_timesteps(responses, metadata, figure=again, times=[1.0]) is again
    with pytest.raises(InvalidParameterError, match="not covered by any row"):
        plot_timesteps(responses, metadata, times=[9.0])


def test_berg_movie_from_a_result(tmp_path):
    from test_cli import run_berg
    from tiny_models import tiny_model_options

    from berg import BERG
    from berg.io import write_outputs

    clip = make_video(tmp_path / "clip.mp4", 2.0, fps=25)  # silent: no recogniser needed
    with BERG(tmp_path / "berg").get_encoding_model(
        "fmri-dascoli_2026-tribe_v2", device="cpu", selection={"roi": ["V1", "MT"]},
        **tiny_model_options(tmp_path),
    ) as model:  # fmt: skip
        responses, metadata = model.encode(clip, return_metadata=True)
    write_outputs(tmp_path / "out", "clip", responses, metadata, ["npz", "json"])
    found = run_berg(
        "movie", str(tmp_path / "out" / "clip.npz"), "-o", str(tmp_path / "clip.mp4"),
        "--fps", "5", "-q",
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    kinds, fps, frames, _ = _decoded(tmp_path / "clip.mp4")
    assert kinds == ["video"] and fps == 5 and len(frames) == 10  # a silent clip: no audio
    assert frame_code(frames[7][60:420, 10:490]) == int(25 * 7 / 5 + 1e-5)  # its own stimulus
    bad = run_berg("movie", str(tmp_path / "out" / "clip.npz"), "-o", str(tmp_path / "c.gif"))
    assert bad.returncode == 1 and ".mp4" in bad.stderr
