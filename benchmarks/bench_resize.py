"""The V-JEPA 2 frame resize: the reference's uint8 kernel (default) against the float path.

Times, in this process, on random RGB frames of 720p, 1080p and 4K resized to the
processor's 292-pixel shorter side (berg.features.video.resize):

- ``uint8``: what ``resize_kernel="uint8"`` (the default) runs on this device: torch's own
  CPU kernel (checked once per geometry against the fixed point code), or the fixed point
  code on a GPU;
- ``fixed point``: berg's integer implementation of that kernel, on this device (on a CPU it
  is only the fallback for a kernel that fails the check);
- ``float``: ``resize_kernel="float"``, the earlier default: one float32 interpolation.

Reported: milliseconds per frame and the ratio to ``float``, the share of pixels where
``float`` differs from the reference's kernel, and whether ``uint8`` on this device gave
torch's CPU kernel's pixels exactly (the GPU check). A benchmark, not a test: nothing here
asserts a time.

Usage::

    python benchmarks/bench_resize.py [--device cuda] [--frames 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

GEOMETRIES = {
    "720p": ((720, 1280), (292, 519)),
    "1080p": ((1080, 1920), (292, 519)),
    "4K": ((2160, 3840), (292, 519)),
}


def _timed(function, frames, size, device, repeats: int) -> float:
    """Median seconds per frame of ``function`` over ``repeats`` runs (after a warm-up)."""
    import torch

    function(frames[:1], size)  # warm-up: the native kernel's check, CUDA start-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        function(frames, size)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - start) / len(frames))
    return sorted(times)[len(times) // 2]


def run(device: str = "cpu", n_frames: int = 4, repeats: int = 3) -> dict:
    import torch

    from berg.features.video.resize import resize_fixed_point, resize_float, resize_uint8

    device = torch.device(device)
    paths = {"uint8": resize_uint8, "fixed point": resize_fixed_point, "float": resize_float}
    results = {}
    for name, (shape, size) in GEOMETRIES.items():
        generator = torch.Generator().manual_seed(0)
        frames = torch.randint(
            0, 256, (n_frames, 3, *shape), dtype=torch.uint8, generator=generator
        ).to(device)
        row = {
            path: 1e3 * _timed(function, frames, size, device, repeats)
            for path, function in paths.items()
        }
        exact, other = resize_uint8(frames, size), resize_float(frames, size)
        # On a GPU this is the check that matters: the device's pixels are the reference's.
        cpu_kernel = torch.nn.functional.interpolate(
            frames.cpu(), size=size, mode="bilinear", align_corners=False, antialias=True
        )
        results[name] = {
            "ms_per_frame": row,
            "ratio_to_float": {path: ms / row["float"] for path, ms in row.items()},
            "float_pixels_off": float((exact != other).float().mean()),
            "equal_to_torch_cpu_kernel": bool(torch.equal(exact.cpu(), cpu_kernel)),
        }
    return {
        "device": str(device),
        "frames": n_frames,
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "geometries": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--frames", type=int, default=4, help="frames per timed call")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    result = run(args.device, args.frames)
    print(
        f"resize to 292 px on {result['device']} (torch {result['torch']}, "
        f"{result['cpu_capability']}, {result['threads']} threads), ms per frame:"
    )
    print(
        f"{'':>6} {'uint8':>9} {'fixed pt':>9} {'float':>9}   ratios to float   "
        f"float off   uint8 exact"
    )
    for name, row in result["geometries"].items():
        ms, ratio = row["ms_per_frame"], row["ratio_to_float"]
        print(
            f"{name:>6} {ms['uint8']:9.2f} {ms['fixed point']:9.2f} {ms['float']:9.2f}   "
            f"{ratio['uint8']:5.2f} {ratio['fixed point']:6.2f}      "
            f"{100 * row['float_pixels_off']:5.1f} %   {row['equal_to_torch_cpu_kernel']}"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
