"""Feature extraction, ours against the reference's way, in one run: two ratios.

- text: the shared-prefix fast path against one Llama forward per word (the reference);
- video: each frame decoded once with batched clips against per-clip decoding at batch 1.

Both run on random models of the real architectures (small sizes, CPU) in this process, so
the ratios compare like with like on whatever machine runs them. Nothing is asserted.

    python benchmarks/bench_features.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_text_features  # noqa: E402
import bench_video_features  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    text = bench_text_features.run(quick=args.quick)
    video = bench_video_features.run(quick=args.quick)
    print(f"text : per-word / shared = {text['ratio_per_word_over_shared']:.1f}x "
          f"(max abs difference {text['max_abs_diff']:.1e})")
    print(f"video: per-clip / once   = {video['speedup']:.1f}x in time, "
          f"{video['decode_ratio']:.1f}x in frames decoded "
          f"(max abs difference {video['max_abs_diff']:.1e})")
    if args.json:
        args.json.write_text(json.dumps({"text": text, "video": video}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
