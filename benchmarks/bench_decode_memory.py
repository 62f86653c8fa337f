"""Peak memory and time of decoding the frames the video extractor needs, short vs long video.

For every 0.5 s bin k of a video, V-JEPA2 wants the 64 frames at times
max(0, t_k - j * 4 / 64), j = 63..0, t_k = (k + 1) * 0.5 (16 fps over the 4 s before the bin's
end), so each frame is wanted by up to 8 bins. ``berg.stimulus.media.read_frames`` gets all of
them in one pass; this script streams them (a checksum, no frame kept) out of a generated 720p
video of ``--minutes`` minutes and out of a 1-minute one, each in a fresh subprocess so that
one measurement's peak RSS does not leak into the other, and prints the ratio long / short.
Bounded memory means a ratio near 1.

Usage::

    python benchmarks/bench_decode_memory.py                # 10 min vs 1 min
    python benchmarks/bench_decode_memory.py --quick        # 1 min vs 15 s
    python benchmarks/bench_decode_memory.py --minutes 30 --json out.json

A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from stimuli import FPS, HEIGHT, WIDTH, write_video  # a fast 720p h264 video

BIN_SECONDS, CLIP_FRAMES, CLIP_SECONDS = 0.5, 64, 4.0


def extractor_times(duration: float) -> np.ndarray:
    """All clip frame times for a video of ``duration`` s: (n_bins * 64,) seconds."""
    n_bins = round(duration / BIN_SECONDS)
    ends = BIN_SECONDS * np.arange(1, n_bins + 1)
    offsets = np.arange(CLIP_FRAMES - 1, -1, -1) * CLIP_SECONDS / CLIP_FRAMES
    return np.maximum(0.0, ends[:, None] - offsets[None, :]).ravel()


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(path: str) -> dict:
    """Decode in this (fresh) process and report; run by the parent as a subprocess."""
    from berg.stimulus import media

    decoded = converted = 0
    decode, to_rgb = media.video._decode_video, media.video._to_rgb

    def counting_decode(container, stream):
        nonlocal decoded
        for frame in decode(container, stream):
            decoded += 1
            yield frame

    def counting_to_rgb(frame, size, *rest):
        nonlocal converted
        converted += 1
        return to_rgb(frame, size, *rest)

    # Counting hooks for the report only; the decode itself is the library's.
    media.video._decode_video, media.video._to_rgb = counting_decode, counting_to_rgb

    info = media.probe(path)
    times = extractor_times(info.duration)
    rss_before = _rss_kib("VmRSS")
    start = time.perf_counter()
    checksum = yielded = 0
    for _, frame in media.read_frames(path, times):
        checksum += int(frame[::16, ::16].sum())  # touch the frame, keep nothing
        yielded += 1
    wall = time.perf_counter() - start
    return {
        "duration_s": info.duration,
        "times": len(times),
        "frames_yielded": yielded,
        "frames_decoded": decoded,
        "frames_converted": converted,
        "frames_in_file": info.n_frames,
        "wall_s": wall,
        "decode_fps": decoded / wall if wall else None,
        "rss_before_mib": rss_before / 1024,
        "peak_rss_mib": _rss_kib("VmHWM") / 1024,
        "checksum": checksum,
    }


def measure(path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="long video (default 10)")
    parser.add_argument(
        "--quick", action="store_true", help="a 1-minute long video against a 15-second short one"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="keep generated videos here between runs (default: a temp dir)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return 0

    long_s, short_s = (60.0, 15.0) if args.quick else (60.0 * args.minutes, 60.0)
    with tempfile.TemporaryDirectory(prefix="berg-bench-") as tmp:
        folder = args.cache_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        results = {}
        for label, seconds in (("short", short_s), ("long", long_s)):
            path = folder / f"bench_{WIDTH}x{HEIGHT}_{FPS}fps_{seconds:g}s.mp4"
            made = 0.0
            if not path.exists():
                t0 = time.perf_counter()
                write_video(path, seconds, audio=None)
                made = time.perf_counter() - t0
            result = measure(path)
            result["generate_s"] = made
            results[label] = result

    short, long = results["short"], results["long"]
    print(
        f"read_frames on {WIDTH}x{HEIGHT} h264 at {FPS} fps; 64-frame clips every 0.5 s "
        f"(16 fps over 4 s), streamed"
    )
    header = (
        f"{'video':>8} {'times':>8} {'decoded':>8} {'converted':>9} {'wall s':>8} "
        f"{'decode fps':>10} {'RSS before MiB':>15} {'peak RSS MiB':>13}"
    )
    print(header)
    print("-" * len(header))
    for label in ("short", "long"):
        r = results[label]
        print(
            f"{r['duration_s']:>7.0f}s {r['times']:>8} {r['frames_decoded']:>8} "
            f"{r['frames_converted']:>9} {r['wall_s']:>8.1f} {r['decode_fps']:>10.0f} "
            f"{r['rss_before_mib']:>15.1f} {r['peak_rss_mib']:>13.1f}"
        )
    ratios = {
        "duration": long["duration_s"] / short["duration_s"],
        "wall": long["wall_s"] / short["wall_s"],
        "peak_rss": long["peak_rss_mib"] / short["peak_rss_mib"],
        "decode_rss_growth": (
            (long["peak_rss_mib"] - long["rss_before_mib"])
            / max(1e-9, short["peak_rss_mib"] - short["rss_before_mib"])
        ),
    }
    print(
        f"long/short: duration x{ratios['duration']:.1f}, wall x{ratios['wall']:.2f}, "
        f"peak RSS x{ratios['peak_rss']:.3f}, RSS growth during decode "
        f"x{ratios['decode_rss_growth']:.2f}"
    )
    if args.json:
        args.json.write_text(json.dumps({"results": results, "ratios": ratios}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
