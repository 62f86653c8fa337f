"""Commands that encode: encode, encode-batch, demo, and the options they share."""

from __future__ import annotations

import argparse
from pathlib import Path

from berg.cli.common import DEFAULT_MODEL
from berg.errors import BERGError

# The model folders the API takes (get_encoding_model's keywords), as command-line options.
_MODEL_FOLDERS = {
    "checkpoint_dir": "a folder with the TRIBE v2 config.yaml and best.ckpt (nothing is "
    "downloaded)",
    "text_model_dir": "a Llama-3.2-3B folder (else $BERG_TEXT_MODEL, else the Hub)",
    "audio_model_dir": "a w2v-bert-2.0 folder (else $BERG_AUDIO_MODEL, else the Hub)",
    "video_model_dir": "a V-JEPA 2 folder (else $BERG_VIDEO_MODEL, else the Hub)",
}


def add_encoding_arguments(p: argparse.ArgumentParser, *, formats: bool = True) -> None:
    """The options `encode` and `encode-batch` share: model, columns, device, formats (not
    for commands that write their own files: ``formats=False``), speech."""
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model id (default {DEFAULT_MODEL})")
    p.add_argument(
        "--roi",
        action="append",
        metavar="NAME",
        help="keep this Glasser area (both hemispheres); repeat for several",
    )
    p.add_argument(
        "--device",
        default="auto",
        help="auto (default: CUDA, else an Apple GPU, else the CPU), cpu, cuda, cuda:N or mps",
    )
    if formats:
        p.add_argument(
            "--format",
            action="append",
            choices=["npz", "json", "gifti", "csv", "parquet"],
            help="output format; repeat for several (default: all; parquet when pyarrow is "
            "installed)",
        )
    p.add_argument(
        "--asr-model",
        default=None,
        help="Whisper model name or CTranslate2 folder (default $BERG_ASR_MODEL, else large-v3)",
    )
    p.add_argument(
        "--asr-block-s",
        type=float,
        metavar="SECONDS",
        help="seconds of sound recognised at a time, cut at a pause (default 600; 0: the "
        "whole sound at once)",
    )
    p.add_argument(
        "--asr-batch-size",
        type=int,
        metavar="N",
        help="decode N speech segments at a time with faster-whisper's batched pipeline, as "
        "WhisperX does (default: the sequential decoder)",
    )
    p.add_argument(
        "--tts",
        default="piper",
        help="speech synthesiser for .txt: piper (default), espeak-ng or gtts",
    )
    p.add_argument("--language", help="ISO 639-1 code; detected when omitted")
    for name, what in _MODEL_FOLDERS.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=Path, metavar="DIR", help=what)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def add_ray_arguments(p: argparse.ArgumentParser) -> None:
    """The options of commands that can encode on a Ray cluster."""
    p.add_argument(
        "--ray",
        action="store_true",
        help="run on Ray: a local cluster, or the one --ray-address names",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="an existing Ray cluster: auto, HOST:6379 or ray://HOST:10001",
    )
    p.add_argument(
        "--workers",
        type=int,
        help="Ray workers at most (default: one per GPU; "
        "on CPUs, as many as memory holds, at most one per CPU)",
    )
    p.add_argument(
        "--cpus-per-worker",
        type=float,
        help="CPUs (torch threads) per Ray worker (default: a GPU worker takes its "
        "share of its node's CPUs; CPU workers share all the CPUs)",
    )
    p.add_argument(
        "--memory-per-worker",
        type=float,
        metavar="GB",
        help="memory one CPU worker needs, in GB (default: measured on the first "
        "worker once its models are loaded)",
    )


def ray_engine(args) -> dict:
    """``BERG.encode_many``'s engine keywords from :func:`add_ray_arguments`' options."""
    return {
        "engine": "ray" if args.ray or args.ray_address else "sequential",
        "ray_address": args.ray_address,
        "workers": args.workers,
        "cpus_per_worker": args.cpus_per_worker,
        "memory_per_worker_gb": args.memory_per_worker,
    }


def encoding_options(args) -> tuple[dict | None, dict]:
    """``selection`` and the model options of the shared encoding arguments."""
    options = {"asr_model": args.asr_model, "tts": args.tts}
    if args.asr_block_s is not None:
        options["asr_block_s"] = args.asr_block_s or None
    if args.asr_batch_size:
        options["asr_options"] = {"batch_size": args.asr_batch_size}
    if args.language:
        options["language"] = args.language
    for name in _MODEL_FOLDERS:
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    return ({"roi": args.roi} if args.roi else None), options


def _cmd_encode(args, berg) -> None:
    from berg.io import check_formats, check_output_folder, encode_outputs
    from berg.stimulus import check_stimulus_file

    # Everything cheap first: a typo must not cost a model load, let alone a download.
    for path in args.files:
        check_stimulus_file(path)
    check_output_folder(args.output)
    selection, options = encoding_options(args)
    options["show_progress"] = not args.quiet
    formats = check_formats(args.format)  # None: all it can write
    stems = [Path(f).stem for f in args.files]
    if len(set(stems)) != len(stems):
        raise BERGError(
            "two stimuli share a file name stem; their outputs would overwrite "
            "each other: encode them into different --output folders"
        )
    with berg.get_encoding_model(
        args.model, selection=selection, device=args.device, **options
    ) as model:
        for path, stem in zip(args.files, stems):
            # Rows straight to a scratch file in the output folder, then to the result's
            # files: a film's responses are never all in memory.
            written, shape, _ = encode_outputs(
                model, path, args.output, stem, formats, show_progress=not args.quiet
            )
            files = [str(p) for p in written.values()]
            if "gifti" in written:  # written names the left hemisphere; the right is beside
                left = str(written["gifti"])
                files.insert(files.index(left) + 1, left.replace(".lh.func.gii", ".rh.func.gii"))
            print(f"{path}: {shape[0]} s x {shape[1]} vertices -> " + ", ".join(files))


def _cmd_encode_batch(args, berg) -> None:
    selection, options = encoding_options(args)
    report = berg.encode_many(
        args.model,
        args.stimuli,
        args.output,
        selection=selection,
        device=args.device,
        **ray_engine(args),
        formats=args.format,
        retry_failed=args.retry_failed,
        show_progress=not args.quiet,
        **options,
    )
    workers = (
        report.plan.describe()
        if report.plan is not None
        else f"{report.workers} worker{'s' * (report.workers != 1)}"
    )
    print(
        f"{report.encoded} encoded, {report.failed} failed, {report.skipped} already done "
        f"({report.engine}, {workers}, {report.wall_seconds:.0f} s); index: "
        f"{report.index_path}"
    )
    failed = [r for r in report.records.values() if r.status == "failed"]
    for record in failed[:10]:
        print(f"  failed: {record.id}: {record.error}")
    if len(failed) > 10:
        print(f"  ... and {len(failed) - 10} more (see the index)")
    if failed:
        raise SystemExit(1)


def _cmd_demo(args, berg) -> None:
    from importlib import resources

    from berg.errors import ModelLoadError
    from berg.io import write_outputs

    sample = Path(str(resources.files("berg") / "data" / "sample.mp4"))
    print(f"berg demo: encoding the sample stimulus {sample.name} (8 s of video with speech)")
    try:
        with berg.get_encoding_model(
            DEFAULT_MODEL,
            device=args.device,
            asr_model=args.asr_model,
            show_progress=not args.quiet,
        ) as model:
            responses, metadata = berg.encode(
                model, sample, return_metadata=True, show_progress=not args.quiet
            )
    except ModelLoadError as error:
        print(
            f"\nThe sample was NOT encoded: the real models are not available here.\n"
            f"{error}\n\nOnce the weights are in place, run `berg demo` again. Meanwhile, "
            "the self-test checks this installation with tiny random models:\n"
        )
        from berg.selftest import run_selftest

        if not run_selftest():
            raise SystemExit(1) from None
        return
    written = list(write_outputs(args.output, "sample", responses, metadata).values())
    try:
        from berg.plotting import plot_cortical_map, plot_roi_timecourses, save_figure

        written.append(
            save_figure(plot_cortical_map(responses, metadata), args.output / "sample_map_mean.png")
        )
        written.append(
            save_figure(
                plot_roi_timecourses(responses, metadata, rois=["V1", "MT", "A1", "FFC"]),
                args.output / "sample_roi.png",
            )
        )
    except BERGError as error:  # pictures are optional (berg-tribe[plot])
        print(f"(no pictures: {error})")
    print(
        f"{responses.shape[0]} s x {responses.shape[1]} vertices -> "
        + ", ".join(str(p) for p in written)
    )


def register(sub) -> None:
    """Add these commands to the ``berg`` parser's subcommands."""
    p = sub.add_parser("encode", help="predict the fMRI response to stimulus files")
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="video (.mp4 .avi .mkv .mov .webm), audio (.wav .mp3 .flac .ogg) or text (.txt) files",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    add_encoding_arguments(p)
    p.set_defaults(func=_cmd_encode)

    p = sub.add_parser(
        "encode-batch",
        help="encode a folder, glob or manifest of stimuli "
        "into one folder, resumably; here or on a Ray cluster",
    )
    p.add_argument(
        "stimuli",
        metavar="SOURCE",
        help="a folder (searched at any depth), a glob pattern (quote it) or a "
        "manifest .csv with a 'path' column and an optional 'id' column",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="output folder: one result per stimulus, and index.csv",
    )
    add_encoding_arguments(p)
    add_ray_arguments(p)
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="also retry stimuli that failed in an earlier run",
    )
    p.set_defaults(func=_cmd_encode_batch)

    p = sub.add_parser(
        "demo",
        help="encode berg's sample video and draw it (falls back to "
        "the self-test when the real weights cannot be had)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("berg-demo"),
        help="output folder (default ./berg-demo)",
    )
    p.add_argument(
        "--asr-model",
        default=None,
        help="Whisper model name or CTranslate2 folder (default $BERG_ASR_MODEL, else large-v3)",
    )
    p.add_argument(
        "--device",
        default="auto",
        help="auto (default: CUDA, else an Apple GPU, else the CPU), cpu, cuda, cuda:N or mps",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_demo)
