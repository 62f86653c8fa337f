"""Exports: npz, JSON, GIfTI per hemisphere, ROI CSV; atomic writes."""

import csv
import json

import nibabel as nib
import numpy as np
import pytest

from berg import BERG, InvalidParameterError, MissingDependencyError
from berg.cortex import roi_timecourses
from berg.io import write_outputs


def metadata_for(vertices, n_rows, tmp_path):
    meta = BERG(tmp_path).get_model_metadata("fmri-dascoli_2026-tribe_v2")
    meta["selection"] = {"vertices": np.asarray(vertices), "n_vertices": len(vertices)}
    meta["timing"]["row_times_s"] = np.stack([np.arange(n_rows), np.arange(n_rows) + 1], 1)
    return meta


@pytest.fixture
def example(tmp_path):
    meta = metadata_for(np.arange(20484), 3, tmp_path)
    rng = np.random.default_rng(0)
    responses = rng.standard_normal((3, 20484)).astype(np.float32)
    return responses, meta


def test_all_formats(tmp_path, example):
    responses, meta = example
    written = write_outputs(tmp_path / "out", "clip", responses, meta)
    assert set(written) >= {"npz", "json", "gifti", "csv"}
    with np.load(written["npz"]) as npz:
        np.testing.assert_array_equal(npz["responses"], responses)
        np.testing.assert_array_equal(npz["row_times"], [[0, 1], [1, 2], [2, 3]])
        assert npz["vertices"].shape == (20484,)
    loaded = json.loads(written["json"].read_text())
    assert loaded["fmri"]["n_vertices"] == 20484 and len(loaded["roi"]["roi_labels"]) == 180
    for hemi, columns in (("lh", slice(0, 10242)), ("rh", slice(10242, 20484))):
        image = nib.load(tmp_path / "out" / f"clip.{hemi}.func.gii")
        assert len(image.darrays) == 3
        assert image.darrays[0].data.shape == (10242,)
        np.testing.assert_array_equal(image.darrays[2].data, responses[2, columns])
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_gifti_marks_unselected_vertices_nan(tmp_path):
    vertices = np.array([5, 10241, 10242, 20000])
    meta = metadata_for(vertices, 2, tmp_path)
    responses = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float32)
    write_outputs(tmp_path, "s", responses, meta, formats=["gifti"])
    lh = nib.load(tmp_path / "s.lh.func.gii").darrays[1].data
    rh = nib.load(tmp_path / "s.rh.func.gii").darrays[1].data
    assert lh[5] == 5 and lh[10241] == 6 and rh[0] == 7 and rh[20000 - 10242] == 8
    assert np.isnan(lh).sum() == 10240 and np.isnan(rh).sum() == 10240


def test_roi_means_by_hand(tmp_path):
    assignments = BERG(tmp_path).get_model_metadata("fmri-dascoli_2026-tribe_v2")["roi"][
        "roi_assignments"
    ]
    v1 = np.flatnonzero(assignments == 0)[:3]  # three V1 vertices
    ffc = np.flatnonzero(assignments == 17)[:2]  # two FFC vertices
    medial = np.flatnonzero(assignments == -1)[:1]  # belongs to no area
    vertices = np.sort(np.concatenate([v1, ffc, medial]))
    meta = metadata_for(vertices, 1, tmp_path)
    responses = np.zeros((1, len(vertices)), np.float32)
    value = {**{v: 1.0 for v in v1[:2]}, v1[2]: 4.0, ffc[0]: -1.0, ffc[1]: 3.0, medial[0]: 99.0}
    responses[0] = [value[v] for v in vertices]
    names, values = roi_timecourses(responses, meta)
    assert names == ["V1", "FFC"]
    np.testing.assert_allclose(values, [[2.0, 1.0]])  # (1+1+4)/3 and (-1+3)/2
    path = write_outputs(tmp_path, "s", responses, meta, formats=["csv"])["csv"]
    rows = list(csv.reader(path.open()))
    assert rows == [
        ["time_start_s", "time_end_s", "roi", "response"],
        ["0", "1", "V1", "2"],
        ["0", "1", "FFC", "1"],
    ]


@pytest.mark.parametrize("fmt", ["npz", "gifti", "csv"])
def test_a_failed_write_leaves_nothing(tmp_path, example, monkeypatch, fmt):
    import berg.result_formats

    responses, meta = example
    real = berg.result_formats.row_blocks

    def broken(*args, **kwargs):  # the disk fills after the first rows
        yield next(real(*args, **kwargs))
        raise OSError("disk full")

    monkeypatch.setattr(berg.result_formats, "row_blocks", broken)
    with pytest.raises(OSError, match="disk full"):
        write_outputs(tmp_path, "clip", responses, meta, formats=[fmt, "json"])
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(tmp_path, example):
    responses, meta = example
    with pytest.raises(
        InvalidParameterError, match="unknown output format 'nifti'; did you mean 'gifti'"
    ):
        write_outputs(tmp_path, "x", responses, meta, formats=["npz", "nifti"])
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidParameterError, match="do not match"):
        write_outputs(tmp_path, "x", responses[:, :10], meta)


def test_parquet_holds_the_same_table_as_the_csv(tmp_path, example):
    pq = pytest.importorskip("pyarrow.parquet")
    responses, meta = example
    written = write_outputs(tmp_path, "clip", responses, meta, formats=["csv", "parquet"])
    table = pq.read_table(written["parquet"]).to_pydict()
    rows = list(csv.DictReader(written["csv"].open()))
    assert len(table["roi"]) == len(rows) == 3 * 180
    assert table["roi"][:3] == ["V1", "MST", "V6"] and rows[0]["roi"] == "V1"
    np.testing.assert_allclose(table["response"], [float(r["response"]) for r in rows], rtol=1e-6)
    assert table["time_start_s"][180] == 1.0 and table["time_end_s"][180] == 2.0


def test_parquet_without_pyarrow_writes_nothing(tmp_path, example, monkeypatch):
    import berg.result_formats

    monkeypatch.setattr(
        berg.result_formats, "default_formats", lambda: ("npz", "json", "gifti", "csv")
    )
    responses, meta = example
    with pytest.raises(MissingDependencyError, match="needs pyarrow.*pip install pyarrow"):
        write_outputs(tmp_path, "clip", responses, meta, formats=["npz", "csv", "parquet"])
    assert list(tmp_path.iterdir()) == []  # not the npz and csv first


def test_default_formats_include_parquet_only_with_pyarrow(tmp_path, example):
    import importlib.util

    responses, meta = example
    written = write_outputs(tmp_path, "clip", responses, meta)
    assert ("parquet" in written) == (importlib.util.find_spec("pyarrow") is not None)


# --- a result is one unit (reliability finding 2) ---------------------------------------------


def test_the_json_lists_every_other_file_of_the_result(tmp_path, example):
    import hashlib

    responses, meta = example
    written = write_outputs(tmp_path, "clip", responses, meta)
    listed = json.loads(written["json"].read_text())["result_files"]
    others = sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".json")
    assert sorted(listed) == others
    for name, entry in listed.items():
        data = (tmp_path / name).read_bytes()
        assert entry == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_a_pair_from_two_runs_is_refused_by_the_reader(tmp_path, example):
    from berg import BERGError
    from berg.io import read_result

    responses, meta = example
    write_outputs(tmp_path / "old", "note", responses[:2], metadata_for(range(20484), 2, tmp_path))
    write_outputs(tmp_path / "new", "note", responses, meta, formats=["npz", "json"])
    # A rewrite killed between its renames: the new npz beside the old JSON.
    (tmp_path / "old" / "note.npz").write_bytes((tmp_path / "new" / "note.npz").read_bytes())
    with pytest.raises(BERGError, match="not of one result .*note.npz differs"):
        read_result(tmp_path / "old" / "note.npz")
    got, _ = read_result(tmp_path / "new" / "note.npz")
    np.testing.assert_array_equal(got, responses)


def test_a_full_disk_keeps_the_old_result_and_says_what_is_needed(tmp_path, example, monkeypatch):
    import errno

    import berg.io
    from berg import ResultWriteError
    from berg.result_formats import ByteCounter

    responses, meta = example
    out = tmp_path / "out"
    write_outputs(out, "speech", responses[:2], metadata_for(range(20484), 2, tmp_path))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = berg.io.write_file
    calls = []

    def fill_up(file, name, *args):  # the disk fills up in the result's second file
        if not isinstance(file, ByteCounter):  # measuring what is needed takes no space
            calls.append(name)
            if len(calls) == 2:
                file.write(b"the first bytes got there")
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(file, name, *args)

    monkeypatch.setattr(berg.io, "write_file", fill_up)
    with pytest.raises(ResultWriteError) as info:
        write_outputs(out, "speech", responses, meta, formats=["npz", "gifti", "json"])
    monkeypatch.undo()
    message = str(info.value)
    assert str(out) in message and "MB" in message and "needs about" in message
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    # Nothing new, nothing temporary, the old result whole.
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_what_a_killed_write_left_long_ago_goes_with_the_next_write(tmp_path, example):
    import os
    import time

    from berg.files import STALE_SECONDS

    responses, meta = example
    stale = tmp_path / ".clip.npz.k1ll3d.tmp"
    young = tmp_path / ".clip.npz.wr1t1ng.tmp"  # another process's write, under way
    other = tmp_path / ".other.npz.k1ll3d.tmp"  # another result's: not this write's business
    for leftover in (stale, young, other):
        leftover.write_bytes(b"partial")
    old = time.time() - STALE_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    write_outputs(tmp_path, "clip", responses, meta, formats=["npz", "json"])
    assert not stale.exists() and young.exists() and other.exists()


def test_a_long_result_goes_to_the_disk_as_it_is_made(tmp_path):
    # A film's responses are not copied, and its archive and table are not held in memory:
    # what Python allocates while writing them (numpy's 16 MiB pieces) does not grow with
    # the length. Four times the rows: the peak grows by a few percent of the extra data.
    import tracemalloc

    peaks, rng = {}, np.random.default_rng(1)
    for n_rows in (300, 1200):
        meta = metadata_for(np.arange(20484), n_rows, tmp_path)
        responses = rng.standard_normal((n_rows, 20484)).astype(np.float32)
        tracemalloc.start()
        try:
            written = write_outputs(
                tmp_path / "out", f"film{n_rows}", responses, meta, ["npz", "csv", "json"]
            )
            peaks[n_rows] = (tracemalloc.get_traced_memory()[1], responses.nbytes)
        finally:
            tracemalloc.stop()
        with np.load(written["npz"]) as npz:
            np.testing.assert_array_equal(npz["responses"], responses)
        lines = written["csv"].read_text(encoding="utf-8").splitlines()
        assert len(lines) == 1 + n_rows * 180  # a line per row and Glasser area
    (short, short_bytes), (long, long_bytes) = peaks[300], peaks[1200]
    assert long - short < 0.1 * (long_bytes - short_bytes), {
        k: v[0] / 1e6 for k, v in peaks.items()
    }
