"""V-JEPA 2 video features: the reference's way (each clip decoded on its own, batch 1) vs
``decode="once"`` (one decoding pass per chunk, each frame resized once, batched clips).

Both run in this process, on the same tiny random ``VJEPA2Model`` (crop 64, 4 blocks of
width 32, so that what the two modes do differently, decoding and preprocessing, shows; the
real ViT-g adds forward passes of the same clips to both, faster in batches on a GPU) and
the same generated h264 video (1280 x 720 at 24 fps, flat frames with a moving bar, made as
in ``stimuli.py``; 20 s, ``--quick``: 6 s), as one chunk. Reported per mode:
frames decoded by FFmpeg, frames resized, forward passes, seconds; then the speed-up and the
largest difference between the two modes' features.

Usage::

    python benchmarks/bench_video_features.py            # 20 s video
    python benchmarks/bench_video_features.py --quick    # 6 s video
    python benchmarks/bench_video_features.py --threads 1 --json out.json

A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from stimuli import FPS, HEIGHT, WIDTH, write_video  # a fast 720p h264 video

MODES = (("per-clip", 1), ("once", 8))  # (decode, batch_size)


def make_model(folder: Path) -> Path:
    """A tiny random V-JEPA 2 saved as a transformers folder (crop 64: 512 tokens)."""
    import torch
    from transformers import VJEPA2Config, VJEPA2Model

    torch.manual_seed(0)
    config = VJEPA2Config(
        crop_size=64,
        patch_size=16,
        tubelet_size=2,
        frames_per_clip=64,
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        mlp_ratio=2.0,
        pred_hidden_size=16,
        pred_num_attention_heads=2,
        pred_num_hidden_layers=1,
        num_pooler_layers=1,
    )
    VJEPA2Model(config).save_pretrained(folder)
    (folder / "video_preprocessor_config.json").write_text(json.dumps({"crop_size": 64}))
    return folder


@contextlib.contextmanager
def counting_decoder(counter: list):
    """Count the frames FFmpeg decodes (through media's test seam), for the report only."""
    from berg.stimulus import media

    original = media.video._decode_video

    def counting(container, stream):
        for frame in original(container, stream):
            counter[0] += 1
            yield frame

    media.video._decode_video = counting
    try:
        yield
    finally:
        media.video._decode_video = original


def run(quick: bool = False, device: str = "cpu") -> dict:
    """Time both modes on one chunk of a generated video.

    Returns
    -------
    dict
        ``video`` (seconds, size, fps), ``modes`` (per mode: frames decoded and resized,
        forward passes, clips, seconds), ``speedup`` (per-clip seconds / once seconds),
        ``decode_ratio`` and ``max_abs_diff`` between the two modes' features.
    """
    from berg.features.video import VideoFeatureExtractor
    from berg.stimulus.timeline import Chunk

    seconds = 6.0 if quick else 20.0
    with tempfile.TemporaryDirectory(prefix="berg-bench-video-") as tmp:
        tmp = Path(tmp)
        video = write_video(tmp / "clip.mp4", seconds, audio=None)
        model_dir = make_model(tmp / "model")
        chunks = [Chunk(0.0, seconds)]
        modes, features = {}, {}
        for decode, batch_size in MODES:
            extractor = VideoFeatureExtractor(
                model_dir, device=device, decode=decode, batch_size=batch_size
            )
            extractor.load()  # outside the timing
            counter = [0]
            with counting_decoder(counter):
                start = time.perf_counter()
                features[decode] = extractor.extract(video, chunks)[0].data
                wall = time.perf_counter() - start
            stats = extractor.last_stats
            modes[decode] = {
                "batch_size": batch_size,
                "frames_decoded": counter[0],
                "frames_resized": stats["frames_resized"],
                "forward_passes": stats["forward_passes"],
                "clips": stats["clips"],
                "seconds": wall,
            }
            extractor.close()
    slow, fast = modes["per-clip"], modes["once"]
    return {
        "video": {"seconds": seconds, "width": WIDTH, "height": HEIGHT, "fps": FPS},
        "device": device,
        "modes": modes,
        "speedup": slow["seconds"] / fast["seconds"],
        "decode_ratio": slow["frames_decoded"] / max(1, fast["frames_decoded"]),
        "max_abs_diff": float(np.abs(features["per-clip"] - features["once"]).max()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 6 s video instead of 20 s")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default: torch's choice; 1 is steadier on a "
        "busy machine, where idle-spinning threads slow small ops)",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    result = run(quick=args.quick, device=args.device)

    video = result["video"]
    print(
        f"V-JEPA 2 features of a {video['seconds']:g} s {video['width']}x{video['height']} "
        f"h264 video at {video['fps']} fps, one chunk, tiny random model, "
        f"{result['device']}"
    )
    header = (
        f"{'mode':>9} {'batch':>5} {'decoded':>8} {'resized':>8} {'forwards':>8} {'seconds':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, mode in result["modes"].items():
        print(
            f"{name:>9} {mode['batch_size']:>5} {mode['frames_decoded']:>8} "
            f"{mode['frames_resized']:>8} {mode['forward_passes']:>8} "
            f"{mode['seconds']:>8.2f}"
        )
    print(
        f"per-clip / once: time x{result['speedup']:.2f}, frames decoded "
        f"x{result['decode_ratio']:.1f}; max |feature difference| "
        f"{result['max_abs_diff']:.2e}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
