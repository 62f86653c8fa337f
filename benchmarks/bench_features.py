"""Feature extraction, ours against the reference's way, in one run: two ratios.

- text: the shared-prefix fast path against one Llama forward per word (the reference);
- video: each frame decoded once with batched clips against per-clip decoding at batch 1;
- bfloat16: how far bf16 feature models move the features from float32 (tiny models of
  the three real architectures; a GPU run with the real sizes is the decisive measurement).

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


def bf16_effect() -> dict:
    """Relative RMS difference and correlation of bf16 vs fp32 features, per modality."""
    import tempfile

    import numpy as np
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from media_factory import make_video, tone
    from tiny_models import write_tiny_extractors

    from berg.features.audio import AudioFeatureExtractor
    from berg.features.text import TextFeatureExtractor
    from berg.features.video import VideoFeatureExtractor
    from berg.stimulus.text import word_contexts
    from berg.stimulus.timeline import Chunk, TimelineWord

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_tiny_extractors(Path(tmp) / "models")
        video = make_video(
            Path(tmp) / "clip.mp4",
            4.0,
            fps=25,
            size=(96, 80),
            audio=0.3 * tone(440, 4.0, 16000),
            audio_rate=16000,
        )
        words = ("the quick brown fox jumps over the lazy dog then it runs into the forest").split()
        contexts = word_contexts(words, splitter="rules")
        timed = [TimelineWord(w, 0.3 * i, 0.25, c) for i, (w, c) in enumerate(zip(words, contexts))]
        jobs = {
            "text": (TextFeatureExtractor, lambda e: e.extract(timed)),
            "audio": (AudioFeatureExtractor, lambda e: e.extract(video, [Chunk(0.0, 4.0)])),
            "video": (VideoFeatureExtractor, lambda e: e.extract(video, [Chunk(0.0, 4.0)])),
        }
        for modality, (cls, run_it) in jobs.items():
            out = {}
            for dtype in (torch.float32, torch.bfloat16):
                extractor = cls(folders[modality], dtype=dtype)
                out[dtype] = np.concatenate([f.data.ravel() for f in run_it(extractor)])
                extractor.close()
            a, b = out[torch.float32].astype(np.float64), out[torch.bfloat16].astype(np.float64)
            results[modality] = {
                "relative_rms_difference": float(np.sqrt(np.mean((a - b) ** 2) / np.mean(a**2))),
                "correlation": float(np.corrcoef(a, b)[0, 1]),
            }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    text = bench_text_features.run(quick=args.quick)
    video = bench_video_features.run(quick=args.quick)
    print(
        f"text : per-word / shared = {text['ratio_per_word_over_shared']:.1f}x "
        f"(max abs difference {text['max_abs_diff']:.1e})"
    )
    print(
        f"video: per-clip / once   = {video['speedup']:.1f}x in time, "
        f"{video['decode_ratio']:.1f}x in frames decoded "
        f"(max abs difference {video['max_abs_diff']:.1e})"
    )
    bf16 = bf16_effect()
    for modality, row in bf16.items():
        print(
            f"bf16 vs fp32 {modality:<5}: relative RMS difference "
            f"{row['relative_rms_difference']:.2e}, correlation {row['correlation']:.5f}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"text": text, "video": video, "bf16": bf16}, indent=1, default=str)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
