"""The viewer in a real browser: headless Chromium opens the page written for a tiny-model
result of a generated video, from a file:// URL with the network cut; seeking the video
recolours the cortex with that second's row (checked against colours computed here from the
responses), V1's time course is drawn, hovering names the area. Screenshots of each state go
to test-artifacts/viewer/ for a person to look at."""

import base64
import json
import re
from pathlib import Path

import matplotlib
import nilearn.plotting  # noqa: F401  registers cold_hot
import numpy as np
import pytest
from browser import Browser
from media_factory import make_video, tone

from berg import cortex
from berg.errors import InvalidParameterError
from berg.viewer import pack, write_viewer
from berg.viewer import page as viewer_page

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "viewer"


def _expected_colour(responses, vmax, row, column, cmap="cold_hot"):
    """The page's colour of a vertex, from the contract: 8-bit steps of [-vmax, vmax], then
    the colour map's 256-entry table (0..1 floats)."""
    q = int(np.round((np.clip(responses[row, column] / vmax, -1, 1) + 1) / 2 * 255))
    value = (q / 255 * 2 - 1) * vmax
    index = int(np.round((value / vmax + 1) / 2 * 255))
    lut = np.round(matplotlib.colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255)
    return lut[index] / 255


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    from tiny_models import tiny_model_options

    from berg import BERG

    root = tmp_path_factory.mktemp("viewer")
    clip = make_video(root / "clip.mp4", 4.0, fps=25)  # silent: no recogniser
    with BERG(root / "berg").get_encoding_model(
        "fmri-dascoli_2026-tribe_v2", device="cpu", **tiny_model_options(root)
    ) as model:
        responses, metadata = model.encode(clip, return_metadata=True)
    return root, clip, responses, metadata


def test_packing_is_compact_and_within_one_step(result):
    _, _, responses, metadata = result
    data = pack(responses, metadata)
    frames = np.frombuffer(base64.b64decode(data["frames"]), np.uint8).reshape(responses.shape)
    back = (frames / 255 * 2 - 1) * data["vmax"]
    assert np.abs(back - responses).max() <= data["vmax"] / 255 + 1e-6
    assert data["vmax"] == pytest.approx(np.abs(responses).max())
    # A 10-minute full-cortex result stays under 30 MB of page data.
    long = {**metadata, "timing": {**metadata["timing"]}}
    from berg.tribe.binning import row_times

    long["timing"]["row_times_s"] = row_times(600.0)
    noise = np.random.default_rng(0).standard_normal((600, cortex.N_VERTICES)).astype(np.float32)
    size = len(json.dumps(pack(noise, long)))
    assert size < 30 * 1024**2, size


def test_the_viewer_in_a_browser(result, tmp_path):
    root, clip, responses, metadata = result
    page = write_viewer(responses, metadata, tmp_path / "viewer.html", stimulus=clip)
    assert "<script src=" not in page.read_text() and "https://" not in page.read_text()
    vmax = float(np.abs(responses).max())
    probes = [5, 4000, 12000, 20000]  # all selected: columns are vertices
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with Browser(tmp_path / "profile") as browser:
        browser.open(page.as_uri())
        assert browser.evaluate("window.berg.distinctPixels()") > 50  # the cortex is drawn
        shots = {}
        for second in (0, 2):
            browser.evaluate(
                f"window.berg.seek({second + 0.5})"
            )  # the video seeks, the page follows
            assert browser.evaluate(
                "document.getElementById('media').currentTime"
            ) == pytest.approx(second + 0.5, abs=0.05)
            assert browser.evaluate("window.berg.row()") == second
            for vertex in probes:
                colour = browser.evaluate(f"window.berg.colourOf({vertex})")
                expected = _expected_colour(responses, vmax, second, vertex)
                np.testing.assert_allclose(colour, expected, atol=1.5 / 255)
            shots[second] = browser.screenshot(ARTIFACTS / f"seek-{second}s.png").read_bytes()
        assert shots[0] != shots[2]
        assert browser.evaluate("window.berg.addArea('V1')") is True
        assert browser.evaluate("window.berg.areas()") == ["V1"]
        drawn = browser.evaluate(
            "(() => { const c = document.getElementById('courses');"
            " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; })()"
        )
        assert drawn > 200  # the line, its name and the cursor
        v1 = int(cortex.load_parcellation().vertices_of("V1")[0])
        assert re.match(
            rf"[LR]_V1 · vertex {v1} · ", browser.evaluate(f"window.berg.describe({v1})")
        )
        browser.evaluate("window.berg.setView('ventral')")
        browser.screenshot(ARTIFACTS / "ventral-with-V1.png")
        assert browser.errors == []


def test_berg_view_writes_a_page_or_a_folder(result, tmp_path):
    from test_cli import run_berg

    from berg.io import write_outputs

    root, clip, responses, metadata = result
    write_outputs(tmp_path / "out", "clip", responses, metadata, ["npz", "json"])
    found = run_berg("view", str(tmp_path / "out" / "clip.npz"))
    assert found.returncode == 0, found.stderr
    page = tmp_path / "out" / "clip_viewer.html"
    assert found.stdout.strip() == str(page) and page.stat().st_size > 500_000
    assert "data:video/mp4;base64," in page.read_text()  # the result's own stimulus
    folder = tmp_path / "shared"
    found = run_berg("view", str(tmp_path / "out" / "clip.npz"), "-o", str(folder))
    assert found.returncode == 0, found.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "stimulus.mp4"]
    assert (folder / "stimulus.mp4").read_bytes() == clip.read_bytes()
    assert 'src="stimulus.mp4"' in (folder / "index.html").read_text()


def test_a_large_stimulus_is_not_embedded(result, tmp_path, monkeypatch):
    _, _, responses, metadata = result
    big = make_video(tmp_path / "big.mp4", 2.0, fps=25, audio=tone(300, 2.0))
    monkeypatch.setattr(viewer_page, "MAX_EMBEDDED_MEDIA", 1000)
    with pytest.raises(InvalidParameterError, match="too large to embed.*give a folder"):
        write_viewer(responses, metadata, tmp_path / "v.html", stimulus=big)
    assert not (tmp_path / "v.html").exists()


def test_controls_hover_and_the_contributions_layer(result, tmp_path):
    _, clip, responses, metadata = result
    rgb = np.zeros((responses.shape[1], 3))
    rgb[:, 2] = np.linspace(0, 1, responses.shape[1])  # blue rising with the vertex
    page = write_viewer(responses, metadata, tmp_path / "v.html", stimulus=clip, contributions=rgb)
    with Browser(tmp_path / "profile") as browser:
        browser.open(page.as_uri())
        browser.evaluate("window.berg.seek(1.5)")
        # A threshold above every value: the folding's grey everywhere.
        browser.evaluate(
            "(() => { const t = document.getElementById('threshold'); t.value = '1e9';"
            " t.dispatchEvent(new Event('change')); })()"
        )
        for vertex in (10, 15000):
            colour = np.array(browser.evaluate(f"window.berg.colourOf({vertex})"))
            assert np.ptp(colour) == 0  # float32 in the page
            assert min(abs(colour[0] - 110 / 255), abs(colour[0] - 175 / 255)) < 1e-6
        browser.evaluate(
            "(() => { const l = document.getElementById('layer'); l.checked = true;"
            " l.dispatchEvent(new Event('change')); })()"
        )
        for vertex in (10, 15000):
            expected = [0, 0, np.round(rgb[vertex, 2] * 255) / 255]
            np.testing.assert_allclose(
                browser.evaluate(f"window.berg.colourOf({vertex})"), expected, atol=1e-6
            )
        browser.screenshot(ARTIFACTS / "contributions-layer.png")
        # The pointer over the middle of the cortex: the tip names a left-hemisphere area.
        box = browser.evaluate(
            "(() => { const r = document.getElementById('cortex').getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        browser.call("Input.dispatchMouseEvent", type="mouseMoved", x=box[0], y=box[1])
        tip = browser.evaluate("document.getElementById('tip').textContent")
        assert re.match(r"L_\w+ · vertex \d+ · ", tip), tip
        assert browser.errors == []


def test_show_needs_a_notebook(result, monkeypatch):
    import sys
    import types

    from berg.errors import MissingDependencyError
    from berg.viewer import show

    _, clip, responses, metadata = result
    monkeypatch.setitem(sys.modules, "IPython", None)
    with pytest.raises(MissingDependencyError, match="Jupyter notebook"):
        show(responses, metadata)
    display = types.ModuleType("IPython.display")
    display.HTML = lambda text: ("HTML", text)
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    kind, text = show(responses, metadata, stimulus=clip)
    assert kind == "HTML" and text.startswith("<iframe srcdoc=") and "window.berg" in text


def test_a_sound_plays_with_its_words(tmp_path):
    from media_factory import make_audio

    from berg.tribe.binning import row_times

    sound = make_audio(tmp_path / "talk.wav", tone(300, 3.0), 16000)
    responses = np.random.default_rng(0).standard_normal((3, 40)).astype(np.float32)
    metadata = {
        "selection": {"vertices": np.arange(100, 140)},
        "timing": {"row_times_s": row_times(3.0), "hemodynamic_offset_s": 5.0},
        "stimulus": {
            "path": str(sound),
            "kind": "audio",
            "words": {"text": ["one", "two"], "start_s": [0.2, 1.4], "duration_s": [0.5, 0.5]},
        },
    }
    page = write_viewer(responses, metadata, tmp_path / "talk.html")
    assert "data:audio/" in page.read_text()
    with Browser(tmp_path / "profile") as browser:
        browser.open(page.as_uri())
        assert browser.evaluate("document.getElementById('media').tagName") == "AUDIO"
        browser.evaluate("window.berg.seek(1.6)")
        assert browser.evaluate("document.getElementById('words').textContent").split() == [
            "one",
            "two",
        ]
        assert browser.evaluate("document.querySelector('#words .now').textContent") == "two "
        # Only the 40 selected vertices are coloured; the rest show the folding's grey.
        grey = np.array(browser.evaluate("window.berg.colourOf(5000)"))
        assert np.ptp(grey) == 0
        assert browser.errors == []


def test_a_video_the_browser_cannot_play_is_converted(result, tmp_path):
    _, _, responses, metadata = result
    clip = make_video(tmp_path / "old.avi", 4.0, fps=25, audio=tone(300, 4.0))
    page = write_viewer(responses, metadata, tmp_path / "old.html", stimulus=clip)
    assert "data:video/webm;base64," in page.read_text()
    with Browser(tmp_path / "profile") as browser:
        browser.open(page.as_uri())
        duration = browser.evaluate("document.getElementById('media').duration")
        assert duration == pytest.approx(4.0, abs=0.25)  # + the sound codecs' padding
        browser.evaluate("window.berg.seek(2.5)")
        assert browser.evaluate("window.berg.row()") == 2
        assert browser.errors == []
