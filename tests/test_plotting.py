"""Pictures: cortical maps on fsaverage5, ROI time courses, atomic figure files.

The maps are checked by rendering them and reading pixels: a pattern that is high in V1 only
must come out red at the occipital pole on the medial views, and vertices outside the
selection must stay grey.
"""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("nilearn")

from matplotlib.figure import Figure  # noqa: E402

from berg import BERG, InvalidParameterError, MissingDependencyError, cortex  # noqa: E402
from berg.plotting import plot_cortical_map, plot_roi_timecourses, save_figure  # noqa: E402

N_ROWS = 6
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def metadata_for(vertices, tmp_path, n_rows=N_ROWS):
    meta = BERG(tmp_path).get_model_metadata("fmri-dascoli_2026-tribe_v2")
    meta["selection"] = {"vertices": np.asarray(vertices), "n_vertices": len(vertices)}
    meta["timing"]["row_times_s"] = np.stack([np.arange(n_rows), np.arange(n_rows) + 1], 1).astype(
        float
    )
    return meta


def v1_pattern(vertices, n_rows=N_ROWS):
    """+1 on V1, -0.3 elsewhere (small noise), for every row."""
    rng = np.random.default_rng(0)
    responses = (-0.3 + 0.02 * rng.standard_normal((n_rows, len(vertices)))).astype(np.float32)
    responses[:, np.isin(vertices, cortex.load_parcellation().vertices_of("V1"))] = 1.0
    return responses


@pytest.fixture(scope="module")
def parcellation():
    return cortex.load_parcellation()


@pytest.fixture
def full(tmp_path):
    vertices = np.arange(cortex.N_VERTICES)
    return v1_pattern(vertices), metadata_for(vertices, tmp_path)


def panels(fig):
    """RGB pixels (float, 0..1) of each view's picture, keyed like ('left', 'medial')."""
    out = {}
    for ax in fig.axes:
        if ax.images and ax.get_label() not in ("", "<colorbar>"):
            hemi, _, view = ax.get_label().partition(" ")
            out[(hemi, view) if view else hemi] = ax.images[0].get_array()[..., :3] / 255.0
    return out


def red(pixels):  # the top of RdBu_r (+vmax)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return (r > 0.35) & (g < 0.2) & (b < 0.25)


def blue(pixels):  # any negative value in RdBu_r
    return pixels[..., 2] > pixels[..., 0] + 0.15


def reddish(pixels):  # any positive value in RdBu_r
    return pixels[..., 0] > pixels[..., 2] + 0.15


def grey(pixels):  # sulcal-depth background (not the white figure)
    spread = pixels.max(axis=-1) - pixels.min(axis=-1)
    return (spread < 0.04) & (pixels.mean(axis=-1) < 0.95)


def test_v1_pattern_lights_up_the_occipital_pole(full):
    responses, meta = full
    fig = plot_cortical_map(responses, meta, cmap="RdBu_r")
    assert isinstance(fig, Figure)
    names = [ax.get_label() for ax in fig.axes if ax.images]
    assert names == ["left lateral", "right lateral", "left medial", "right medial", "ventral"]
    assert len(fig.axes) == 6  # + colorbar
    text = " ".join([fig._suptitle.get_text()] + [t.get_text() for t in fig.texts])
    assert "Mean over all 6 rows" in text and "5 s" in text and "haemodynamic" in text
    views = panels(fig)
    medial_red = red(views["left", "medial"]).sum() + red(views["right", "medial"]).sum()
    lateral_red = red(views["left", "lateral"]).sum() + red(views["right", "lateral"]).sum()
    assert medial_red > 200 and medial_red > 3 * lateral_red
    # Posterior is on the left of the left hemisphere's medial view, on the right of the right's.
    for hemi, back_on_left in (("left", True), ("right", False)):
        pixels = views[hemi, "medial"]
        columns = np.flatnonzero(red(pixels).any(axis=0))
        brain = np.flatnonzero((blue(pixels) | red(pixels)).any(axis=0))
        middle = (brain.min() + brain.max()) / 2
        assert (columns.mean() < middle) if back_on_left else (columns.mean() > middle)
        assert blue(pixels).sum() > 5 * red(pixels).sum()  # the rest of the cortex: -0.3


def test_unselected_vertices_stay_blank(tmp_path, full, parcellation):
    vertices = parcellation.vertices_of(["V1", "FFC", "A1"])
    responses = v1_pattern(vertices)
    fig = plot_cortical_map(responses, metadata_for(vertices, tmp_path), cmap="RdBu_r")
    n_blank = f"{cortex.N_VERTICES - len(vertices):,} unselected vertices"
    assert n_blank in " ".join(t.get_text() for t in fig.texts)
    part = panels(fig)
    whole = panels(plot_cortical_map(*full, cmap="RdBu_r"))
    for view in part:
        # Same red V1 as with every vertex selected (where V1 faces the viewer: the medial
        # views); far less blue; grey sulci instead.
        if view[1:] == ("medial",):
            assert red(part[view]).sum() == pytest.approx(red(whole[view]).sum(), rel=0.1)
        assert blue(part[view]).sum() < 0.2 * blue(whole[view]).sum()
        assert grey(part[view]).sum() > 10 * grey(whole[view]).sum() + 1000


def test_time_picks_the_row_that_contains_it(full):
    responses, meta = full
    responses = responses.copy()
    responses[3] = -responses[3]  # only row 3 has V1 negative and the rest positive
    fig = plot_cortical_map(responses, meta, time=3.5, cmap="RdBu_r")
    text = " ".join(t.get_text() for t in fig.texts)
    assert "3.5 s" in text and "row 3" in text and "[3, 4) s" in text
    medial = panels(fig)["left", "medial"]
    # Row 3 alone: V1 at -vmax (blue), the rest at +0.3 (light red); no deep red anywhere.
    assert red(medial).sum() == 0
    assert reddish(medial).sum() > 5 * blue(medial).sum() > 500


@pytest.mark.parametrize("time", [-0.5, 6, 6.0, 100, float("nan"), float("inf")])
def test_time_outside_the_rows_names_the_valid_range(full, time):
    with pytest.raises(InvalidParameterError, match=r"0 <= time < 6"):
        plot_cortical_map(*full, time=time)


@pytest.mark.parametrize("time", ["3", True, [3]])
def test_time_must_be_a_number(full, time):
    with pytest.raises(InvalidParameterError, match="time must be a number"):
        plot_cortical_map(*full, time=time)


def test_png_written_atomically_with_default_colours(tmp_path, full):
    responses, meta = full
    fig = plot_cortical_map(responses, meta, title="My clip", vmax=2.0, threshold=0.5)
    assert fig._suptitle.get_text() == "My clip"
    assert "|value| < 0.5" in " ".join(t.get_text() for t in fig.texts)
    colorbar = fig.axes[-1]
    assert colorbar.get_xlim() == pytest.approx((-2.0, 2.0))  # symmetric around 0
    path = save_figure(fig, tmp_path / "new" / "map.png", dpi=60)
    assert path == tmp_path / "new" / "map.png"
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    assert [p.name for p in path.parent.iterdir()] == ["map.png"]  # no temporary file left


def test_save_figure_leaves_nothing_when_writing_fails(tmp_path):
    fig = Figure()
    fig.add_subplot().plot([0, 1])

    def broken(f, **kwargs):
        f.write(b"partial")
        raise RuntimeError("disk full")

    fig.savefig = broken
    with pytest.raises(RuntimeError, match="disk full"):
        save_figure(fig, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_save_figure_checks_format_and_type(tmp_path):
    fig = Figure()
    with pytest.raises(InvalidParameterError, match=r"'\.png'"):
        save_figure(fig, tmp_path / "map.pgn")
    with pytest.raises(InvalidParameterError, match="suffix '\\(none\\)'"):
        save_figure(fig, tmp_path / "map")
    with pytest.raises(InvalidParameterError, match="matplotlib Figure"):
        save_figure("not a figure", tmp_path / "map.png")
    assert save_figure(fig, tmp_path / "map.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vmax": 0}, "vmax must be > 0"),
        ({"vmax": float("nan")}, "vmax must be a finite number"),
        ({"threshold": -1}, "threshold must be >= 0"),
        ({"threshold": 5}, "must be below vmax"),
        ({"cmap": "cold_hott"}, "did you mean 'cold_hot'"),
        ({"cmap": 3}, "cmap must be"),
    ],
)
def test_scale_arguments_are_checked(full, kwargs, message):
    with pytest.raises(InvalidParameterError, match=message):
        plot_cortical_map(*full, **kwargs)


def test_inputs_that_do_not_fit_the_metadata(full):
    responses, meta = full
    with pytest.raises(InvalidParameterError, match=r"\(n_rows, 20484\)"):
        plot_cortical_map(responses[:, :100], meta)
    with pytest.raises(InvalidParameterError, match=r"row_times_s.*\(5, 2\)"):
        plot_cortical_map(responses[:5], meta)
    with pytest.raises(InvalidParameterError, match="return_metadata=True"):
        plot_cortical_map(responses, {"timing": meta["timing"]})
    with pytest.raises(InvalidParameterError, match="no rows"):
        plot_cortical_map(responses[:0], {**meta, "timing": {"row_times_s": np.zeros((0, 2))}})


def hand_means(responses, vertices, parcellation, name):
    in_area = np.isin(vertices, parcellation.vertices_of(name))
    return responses[:, in_area].mean(axis=1)


def test_roi_lines_are_the_requested_means(tmp_path, full, parcellation):
    vertices = parcellation.vertices_of(["V1", "FFC", "A1", "MT"])
    rng = np.random.default_rng(1)
    responses = rng.standard_normal((N_ROWS, len(vertices))).astype(np.float32)
    meta = metadata_for(vertices, tmp_path)
    fig = plot_roi_timecourses(responses, meta, rois=["FFC", "V1", "FFC"])  # order kept
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in lines] == ["FFC", "V1"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["FFC", "V1"]
    for line in lines:
        np.testing.assert_array_equal(line.get_xdata(), np.arange(N_ROWS))  # row starts
        np.testing.assert_allclose(
            line.get_ydata(),
            hand_means(responses, vertices, parcellation, line.get_label()),
            rtol=1e-6,
        )
    assert "(s)" in ax.get_xlabel() and "a.u." in ax.get_ylabel()
    save_figure(fig, tmp_path / "roi.png", dpi=60)
    assert (tmp_path / "roi.png").read_bytes().startswith(PNG_SIGNATURE)


def test_roi_default_is_every_area_of_a_small_selection(tmp_path, parcellation):
    vertices = parcellation.vertices_of(["MT", "V1", "A1"])
    responses = np.ones((N_ROWS, len(vertices)), np.float32)
    fig = plot_roi_timecourses(responses, metadata_for(vertices, tmp_path), title="ROIs")
    labels = [
        line.get_label() for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")
    ]
    glasser_order = [n for n in parcellation.labels if n in {"MT", "V1", "A1"}]
    assert labels == glasser_order and fig.axes[0].get_title() == "ROIs"


def test_roi_names_are_checked(tmp_path, full, parcellation):
    with pytest.raises(InvalidParameterError, match=r"180 areas.*rois=\["):
        plot_roi_timecourses(*full)  # every vertex: too many lines to draw by default
    vertices = parcellation.vertices_of(["V1", "A1"])
    meta = metadata_for(vertices, tmp_path)
    responses = np.zeros((N_ROWS, len(vertices)), np.float32)
    with pytest.raises(InvalidParameterError, match="did you mean 'V1'"):
        plot_roi_timecourses(responses, meta, rois=["v1"])
    with pytest.raises(InvalidParameterError, match=r"'FFC' has no selected vertex.*'V1'"):
        plot_roi_timecourses(responses, meta, rois=["FFC"])
    with pytest.raises(InvalidParameterError, match="rois is empty"):
        plot_roi_timecourses(responses, meta, rois=[])


@pytest.mark.parametrize("missing", ["nilearn", "matplotlib"])
def test_missing_packages_say_how_to_install_them(monkeypatch, full, missing):
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import missing` fail
    with pytest.raises(
        MissingDependencyError, match=rf"{missing} is not installed.*berg-tribe\[plot\]"
    ):
        plot_cortical_map(*full)


def test_no_pyplot_figures_and_no_imports_at_import(tmp_path, full, parcellation):
    import matplotlib.pyplot as plt

    vertices = parcellation.vertices_of("V1")
    plot_cortical_map(*full)
    plot_roi_timecourses(v1_pattern(vertices), metadata_for(vertices, tmp_path))
    assert plt.get_fignums() == []  # nothing kept alive in pyplot's registry
    code = (
        "import sys, berg.plotting; "
        "print(sorted(m for m in ('matplotlib', 'nilearn') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_ventral_view_shows_ffc(tmp_path, parcellation):
    vertices = np.arange(cortex.N_VERTICES)
    responses = np.full((2, len(vertices)), -0.3, np.float32)
    responses[:, parcellation.vertices_of("FFC")] = 1.0
    views = panels(plot_cortical_map(responses, metadata_for(vertices, tmp_path, 2), cmap="RdBu_r"))
    assert reddish(views["ventral"]).sum() > 500
    assert reddish(views["ventral"]).sum() > 5 * reddish(views["left", "lateral"]).sum()


def test_borders_lie_between_areas_and_labels_name_them(tmp_path, full, parcellation):
    from berg.plotting.raster import cortex_view

    responses, meta = full
    plain = plot_cortical_map(responses, meta, views=["left medial"], resolution=120)
    drawn = plot_cortical_map(
        responses, meta, views=["left medial"], resolution=120, borders=True, labels=["V1", "FFC"]
    )
    before = plain.axes[0].images[0].get_array()
    after = drawn.axes[0].images[0].get_array()
    changed = (before != after).any(axis=-1)
    assert changed.sum() > 200 and (after[changed] == 40).all()  # dark lines
    # By hand: a pixel's area is that of its triangle's heaviest vertex; a border pixel has a
    # right or lower neighbour in another area.
    view = cortex_view("left medial", 120)
    heaviest = np.take_along_axis(view.vertices, view.weights.argmax(-1)[..., None], -1)[..., 0]
    area = np.where(view.mask, parcellation.assignments[np.maximum(heaviest, 0)], -2)
    edge = np.zeros(area.shape, bool)
    edge[:, :-1] |= (area[:, :-1] != area[:, 1:]) & (area[:, :-1] >= 0) & (area[:, 1:] >= 0)
    edge[:-1] |= (area[:-1] != area[1:]) & (area[:-1] >= 0) & (area[1:] >= 0)
    np.testing.assert_array_equal(changed, edge & (before != 40).any(axis=-1))
    names = [t.get_text() for t in drawn.axes[0].texts]
    assert names == ["V1"]  # FFC does not show on the medial view
    assert "Glasser area borders" in " ".join(t.get_text() for t in drawn.texts)
    with pytest.raises(InvalidParameterError, match="did you mean 'FFC'"):
        plot_cortical_map(responses, meta, labels=["FFCC"])
    with pytest.raises(InvalidParameterError, match="did you mean 'ventral'"):
        plot_cortical_map(responses, meta, views=["ventrl"])


def test_maps_go_into_the_callers_figure_or_axes(tmp_path, full):
    responses, meta = full
    mine = Figure()
    assert plot_cortical_map(responses, meta, figure=mine, views=["dorsal"]) is mine
    assert [ax.get_label() for ax in mine.axes if ax.images] == ["dorsal"]
    figure = Figure(figsize=(8, 3))
    left, right = figure.subplots(1, 2)
    left.plot([0, 1])
    assert plot_cortical_map(responses, meta, axes=right, resolution=80) is figure
    assert len(right.images) == 1 and len(figure.axes) == 3  # + its colour bar
    assert right.images[0].get_array().shape[1] > 4 * right.images[0].get_array().shape[0]
    pdf = save_figure(plot_cortical_map(responses, meta, resolution=80), tmp_path / "map.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and b"/Font" in data  # the text stays text


def test_the_contributions_map_colours_each_modality(tmp_path, parcellation):
    from berg.plotting.contributions_map import plot_contributions_map
    from berg.tribe.contributions import Contributions

    vertices = parcellation.vertices_of(["V1", "A1", "44"])
    meta = metadata_for(vertices, tmp_path, 2)
    full = np.ones((2, len(vertices)), np.float32)
    removed = {m: full.copy() for m in ("text", "audio", "video")}
    # By construction: removing video changes V1 only, audio A1 only, text area 44 only.
    for modality, area in (("video", "V1"), ("audio", "A1"), ("text", "44")):
        removed[modality][:, np.isin(vertices, parcellation.vertices_of(area))] = 0.0
    found = Contributions(full, removed)
    figure = plot_contributions_map(found, meta, views=["left medial", "left lateral"])
    pictures = {
        ax.get_label(): ax.images[0].get_array().astype(float) for ax in figure.axes if ax.images
    }
    medial, lateral = pictures["left medial"], pictures["left lateral"]
    blue = (medial[..., 2] > 80) & (medial[..., :2].max(axis=-1) < 30)
    green = (lateral[..., 1] > 80) & (lateral[..., [0, 2]].max(axis=-1) < 30)
    red = (lateral[..., 0] > 80) & (lateral[..., 1:].max(axis=-1) < 30)
    assert blue.sum() > 300 and green.sum() > 100 and red.sum() > 100  # V1, A1, area 44
    texts = [t.get_text() for t in figure.axes[-1].get_legend().get_texts()]
    assert texts == ["text", "audio", "video"]
    with pytest.raises(InvalidParameterError, match=r"\(n_columns, 3\)"):
        plot_contributions_map(np.zeros((3, 3)), meta)
