"""A result's rows on disk (berg.response_rows) and the result files written from them.

Independent expectations: ``np.save`` for the ``.npy`` file, nibabel's own whole-image GIfTI
writer for the streamed GIfTI, ``np.load`` and nibabel for reading back, the kernel's
``RssFile`` count for the pages of a mapping that were touched.
"""

import os
import time

import nibabel as nib
import numpy as np
import pytest

from berg import BERG, InvalidParameterError
from berg.files import remove_stale_temporaries
from berg.io import scratch_rows, write_outputs
from berg.response_rows import check_rows_path, row_blocks, rows_file


def metadata_for(vertices, n_rows, tmp_path):
    meta = BERG(tmp_path).get_model_metadata("fmri-dascoli_2026-tribe_v2")
    meta["selection"] = {"vertices": np.asarray(vertices), "n_vertices": len(vertices)}
    meta["timing"]["row_times_s"] = np.stack([np.arange(n_rows), np.arange(n_rows) + 1], 1)
    return meta


def written_rows(path, values, batch):
    with rows_file(path, values.shape) as rows:
        for start in range(0, len(values), batch):
            rows[start : start + batch] = values[start : start + batch]


def test_rows_written_in_batches_make_the_file_np_save_makes(tmp_path):
    values = np.random.default_rng(0).standard_normal((23, 7)).astype(np.float32)
    written_rows(tmp_path / "r.npy", values, batch=5)
    np.save(tmp_path / "expected.npy", values)
    assert (tmp_path / "r.npy").read_bytes() == (tmp_path / "expected.npy").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["expected.npy", "r.npy"]


def test_rows_out_of_order_or_missing_leave_no_file(tmp_path):
    values = np.ones((6, 3), np.float32)
    with pytest.raises(ValueError, match="row 0 is next, not 2"):
        with rows_file(tmp_path / "r.npy", values.shape) as rows:
            rows[2:4] = values[2:4]
    with pytest.raises(ValueError, match=r"take shape \(2, 3\)"):
        with rows_file(tmp_path / "r.npy", values.shape) as rows:
            rows[0:2] = values[0:2, :2]
    with pytest.raises(RuntimeError, match="4 of 6 rows"):
        with rows_file(tmp_path / "r.npy", values.shape) as rows:
            rows[0:4] = values[0:4]
    assert list(tmp_path.iterdir()) == []
    np.save(tmp_path / "r.npy", np.zeros((2, 2), np.float32))  # an earlier file stays
    with pytest.raises(KeyboardInterrupt):
        with rows_file(tmp_path / "r.npy", values.shape) as rows:
            rows[0:3] = values[0:3]
            raise KeyboardInterrupt
    assert np.load(tmp_path / "r.npy").shape == (2, 2)
    assert [p.name for p in tmp_path.iterdir()] == ["r.npy"]


def test_blocks_of_a_memmap_are_read_from_its_file(tmp_path):
    values = np.random.default_rng(1).standard_normal((10, 4)).astype(np.float32)
    np.save(tmp_path / "r.npy", values)
    mapped = np.load(tmp_path / "r.npy", mmap_mode="r")
    blocks = list(row_blocks(mapped, block_rows=3))
    assert [start for start, _ in blocks] == [0, 3, 6, 9]
    assert not any(np.shares_memory(block, mapped) for _, block in blocks)
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), values)
    # A slice of the map keeps the map's offset in numpy: it is read by slicing instead.
    part = np.concatenate([b for _, b in row_blocks(mapped[4:], block_rows=3)])
    np.testing.assert_array_equal(part, values[4:])
    in_memory = list(row_blocks(values, block_rows=4))
    assert all(np.shares_memory(block, values) for _, block in in_memory)


def test_the_path_of_out_is_checked(tmp_path):
    assert check_rows_path(tmp_path / "r.npy") == tmp_path / "r.npy"
    for bad, match in [
        (tmp_path / "r.npz", "must be a .npy file"),
        (tmp_path / "missing" / "r.npy", "does not exist; create it first"),
        (3, "got int"),
    ]:
        with pytest.raises(InvalidParameterError, match=match):
            check_rows_path(bad)
    (tmp_path / "folder.npy").mkdir()
    with pytest.raises(InvalidParameterError, match="is a folder"):
        check_rows_path(tmp_path / "folder.npy")


def expected_gifti(responses, vertices, hemisphere, row_times):
    """nibabel's whole-image rendering of one hemisphere, made here from the contract."""
    half = 10242
    image = nib.gifti.GiftiImage(
        meta=nib.gifti.GiftiMetaData(
            {
                "AnatomicalStructurePrimary": "CortexLeft" if hemisphere == "lh" else "CortexRight",
                "SurfaceMesh": "fsaverage5",
                "TimeStep": "1000",
            }
        )
    )
    for row, (start, _) in zip(responses, row_times):
        surface = np.full(2 * half, np.nan, np.float32)
        surface[vertices] = row
        side = surface[:half] if hemisphere == "lh" else surface[half:]
        image.add_gifti_data_array(
            nib.gifti.GiftiDataArray(
                side,
                intent="NIFTI_INTENT_TIME_SERIES",
                datatype="NIFTI_TYPE_FLOAT32",
                meta={"Time_s": f"{start:g}"},
            )
        )
    return image.to_bytes()


def test_a_gifti_streamed_row_by_row_is_nibabels_file_byte_for_byte(tmp_path):
    vertices = np.array([3, 500, 10241, 10242, 15000, 20483])
    n_rows = 300  # more than a block of rows
    meta = metadata_for(vertices, n_rows, tmp_path)
    responses = np.random.default_rng(2).standard_normal((n_rows, 6)).astype(np.float32)
    written_rows(tmp_path / "rows.npy", responses, batch=100)
    mapped = np.load(tmp_path / "rows.npy", mmap_mode="r")
    for name, source in (("array", responses), ("mapped", mapped)):
        write_outputs(tmp_path / name, "s", source, meta, formats=["gifti"])
        for hemisphere in ("lh", "rh"):
            path = tmp_path / name / f"s.{hemisphere}.func.gii"
            expected = expected_gifti(
                responses, vertices, hemisphere, meta["timing"]["row_times_s"]
            )
            assert path.read_bytes() == expected
            image = nib.load(path)
            assert len(image.darrays) == n_rows
            assert image.darrays[299].meta["Time_s"] == "299"


def test_every_format_from_a_memmap_holds_what_the_array_gives(tmp_path):
    import csv

    import pyarrow.parquet as pq

    n_rows = 260
    meta = metadata_for(np.arange(20484), n_rows, tmp_path)
    responses = np.random.default_rng(3).standard_normal((n_rows, 20484)).astype(np.float32)
    written_rows(tmp_path / "rows.npy", responses, batch=64)
    mapped = np.load(tmp_path / "rows.npy", mmap_mode="r")
    formats = ["npz", "gifti", "csv", "parquet", "json"]
    one = write_outputs(tmp_path / "array", "s", responses, meta, formats)
    two = write_outputs(tmp_path / "mapped", "s", mapped, meta, formats)
    with np.load(one["npz"]) as a, np.load(two["npz"]) as b:
        np.testing.assert_array_equal(a["responses"], responses)
        for key in ("responses", "row_times", "vertices"):
            np.testing.assert_array_equal(a[key], b[key])
    for fmt in ("gifti", "csv"):
        assert one[fmt].read_bytes() == two[fmt].read_bytes()
    table = pq.read_table(two["parquet"]).to_pydict()
    assert len(table["roi"]) == n_rows * 180  # written in row groups, read as one table
    with open(two["csv"], newline="") as file:
        lines = list(csv.DictReader(file))
    assert [line["roi"] for line in lines] == table["roi"]
    assert [float(line["time_start_s"]) for line in lines] == table["time_start_s"]
    np.testing.assert_allclose(
        [float(line["response"]) for line in lines], table["response"], rtol=1e-6
    )
    assert table["roi"][:2] == ["V1", "MST"] and table["time_start_s"][180] == 1.0


def _rss_file_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssFile:"):
                return int(line.split()[1]) / 1024
    return None


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="Linux /proc")
def test_writing_from_a_memmap_does_not_touch_its_pages(tmp_path):
    # 1,200 full-cortex rows: a 98 MB file. Read through the map, its pages would stay
    # resident while it is mapped (RssFile); read into block buffers, they are not.
    n_rows = 1200
    meta = metadata_for(np.arange(20484), n_rows, tmp_path)
    rng = np.random.default_rng(4)
    with rows_file(tmp_path / "rows.npy", (n_rows, 20484)) as rows:
        for start in range(0, n_rows, 100):
            rows[start : start + 100] = rng.standard_normal((100, 20484)).astype(np.float32)
    mapped = np.load(tmp_path / "rows.npy", mmap_mode="r")
    before = _rss_file_mib()
    write_outputs(tmp_path / "out", "film", mapped, meta, ["npz", "csv", "json"])
    grown = _rss_file_mib() - before
    assert grown < 20, f"{grown:.0f} MiB of the 98 MB file became resident"
    np.asarray(mapped).sum()  # the check itself: reading through the map does count
    assert _rss_file_mib() - before > 80


def test_scratch_rows_leave_nothing_and_old_scratch_goes(tmp_path):
    stale = tmp_path / "sub" / ".clip.rows.abc.tmp"
    stale.mkdir(parents=True)
    (stale / "responses.npy").write_bytes(b"left by a kill")
    old = time.time() - 2 * 86400
    os.utime(stale, (old, old))
    with scratch_rows(tmp_path, "sub/clip") as path:
        assert path.parent.parent == tmp_path / "sub" and path.suffix == ".npy"
        path.write_bytes(b"rows")
        assert not stale.exists()  # a day old: removed
    assert list((tmp_path / "sub").iterdir()) == []
    with pytest.raises(OSError):
        with scratch_rows(tmp_path, "clip") as path:
            path.write_bytes(b"rows")
            raise OSError("disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["sub"]
    fresh = tmp_path / ".x.rows.def.tmp"
    fresh.mkdir()
    assert remove_stale_temporaries(tmp_path, "x.rows") == 0 and fresh.exists()
