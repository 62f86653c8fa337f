"""The ``berg`` command line.

    berg models                         list the model ids
    berg describe MODEL_ID              print the model card
    berg metadata MODEL_ID [--json F]   summarise (or save) the metadata, no weights needed
    berg download [MODEL_ID] [--modalities text,audio,video] [--asr-model NAME]
                                        fetch every model a run needs, ahead of time
    berg selftest                       check the install with tiny random models
    berg plot NAME.npz [--time T]       cortical map and ROI time courses of a result
    berg cache [--clear]                show (or clear) the feature and speech cache
    berg doctor [--offline]             what this machine has and lacks
    berg demo [-o DIR]                  encode the packaged sample video (or run the self-test)
    berg encode FILE... -o DIR [--roi NAME ...] [--device auto|cpu|cuda] [--format ...]
                                        predict responses and write npz/json/GIfTI/CSV files
    berg encode-batch SOURCE -o DIR [--ray | --ray-address ADDR] [--workers N] ...
                                        a folder, glob or manifest, resumably, with an index

Errors print one line (``berg: error: ...``) and exit with status 1 (2 for bad usage, as
argparse does); ``--verbose`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from berg import __version__
from berg.errors import BERGError
from berg.files import atomic_open
from berg.io import to_jsonable

__all__ = ["main"]

DEFAULT_MODEL = "fmri-dascoli_2026-tribe_v2"


def _default_berg_dir() -> Path:
    """$BERG_DIR, else a per-user cache folder (what a command line run without
    ``--berg-dir`` uses; the Python API always takes berg_dir explicitly)."""
    if os.environ.get("BERG_DIR"):
        return Path(os.environ["BERG_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "berg"


def _cmd_models(args, berg) -> None:
    from berg.registry import get_card

    for model_id in berg.list_models():
        card = get_card(model_id)
        aliases = f"  (alias: {', '.join(card.aliases)})" if card.aliases else ""
        print(f"{model_id}{aliases}")


def _cmd_describe(args, berg) -> None:
    berg.describe(args.model_id)


def _cmd_metadata(args, berg) -> None:
    meta = berg.get_model_metadata(args.model_id)
    if args.json:
        target = Path(args.json)
        # No half-written file if the write fails; a folder that is not there is an error.
        with atomic_open(target, "w", make_parents=False) as handle:
            handle.write(json.dumps(to_jsonable(meta), indent=1))
        print(f"metadata written to {target}")
        return
    fmri, roi, timing = meta["fmri"], meta["roi"], meta["timing"]
    print(f"model: {meta['model']['model_id']} ({meta['model']['name']})")
    for key, value in fmri.items():
        print(f"fmri.{key}: {value}")
    medial = int((roi["roi_assignments"] == -1).sum())
    print(
        f"roi.parcellation: {roi['parcellation']} ({len(roi['roi_labels'])} areas, "
        f"{medial} medial-wall vertices)"
    )
    print(f"roi.roi_labels: {', '.join(roi['roi_labels'][:8])}, ...")
    print(f"timing.hemodynamic_offset_s: {timing['hemodynamic_offset_s']} ({timing['meaning']})")


def _cmd_download(args, berg) -> None:
    from berg.registry import MODALITIES, get_card

    card = get_card(args.model_id)
    modalities = () if args.weights_only else _modalities(args.modalities, MODALITIES)
    weights = card.weights
    print(
        f"{card.model_id}: {weights.hub_repo} @ {args.revision or weights.revision} "
        f"(licence {weights.license})"
    )
    outcomes = berg.download(
        card.model_id,
        modalities=modalities,
        asr_model=None if args.weights_only else args.asr_model,
        revision=args.revision,
        weights_only=args.weights_only,
        show_progress=not args.quiet,
    )
    for outcome in outcomes:
        if outcome.ok:
            need = outcome.need
            revision = (args.revision if need.kind == "weights" else None) or need.revision
            at = f" @ {revision}" if revision else ""
            print(f"{need.label} {need.repo}{at} ready in {outcome.detail}")
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise BERGError(
            f"{len(failed)} model(s) could not be fetched: "
            + "; ".join(
                f"{o.need.label} {o.need.repo} ({o.detail}"
                + (f"; {o.need.destination}" if o.need.destination else "")
                + (
                    ", gated: request access on its Hub page, then `hf auth login`"
                    if o.need.gated
                    else ""
                )
                + ")"
                for o in failed
            )
            + ". Run `berg download` again where the Hub is reachable, or name folders that hold "
            "them (" + ", ".join(o.need.option.split(" / ")[0] for o in failed) + ")"
        )


def _modalities(text: str | None, valid: tuple[str, ...]) -> tuple[str, ...]:
    """``"video,audio"`` -> the modalities, checked (default: all three)."""
    from berg.registry import check_modality

    if not text:
        return valid
    return tuple(check_modality(m.strip()) for m in text.split(",") if m.strip())


def _cmd_encode(args, berg) -> None:
    from berg.io import check_formats, check_output_folder, write_outputs
    from berg.stimulus import check_stimulus_file

    # Everything cheap first: a typo must not cost a model load, let alone a download.
    for path in args.files:
        check_stimulus_file(path)
    check_output_folder(args.output)
    selection, options = _encoding_options(args)
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
            responses, metadata = berg.encode(
                model, path, return_metadata=True, show_progress=not args.quiet
            )
            written = write_outputs(args.output, stem, responses, metadata, formats)
            files = [str(p) for p in written.values()]
            if "gifti" in written:  # written names the left hemisphere; the right is beside
                left = str(written["gifti"])
                files.insert(files.index(left) + 1, left.replace(".lh.func.gii", ".rh.func.gii"))
            print(
                f"{path}: {responses.shape[0]} s x {responses.shape[1]} vertices -> "
                + ", ".join(files)
            )


def _cmd_encode_batch(args, berg) -> None:
    selection, options = _encoding_options(args)
    engine = "ray" if args.ray or args.ray_address else "sequential"
    report = berg.encode_many(
        args.model,
        args.stimuli,
        args.output,
        selection=selection,
        device=args.device,
        engine=engine,
        ray_address=args.ray_address,
        workers=args.workers,
        cpus_per_worker=args.cpus_per_worker,
        memory_per_worker_gb=args.memory_per_worker,
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


def _cmd_plot(args, berg) -> None:
    from berg.io import read_result
    from berg.plotting import (
        most_varying_rois,
        plot_cortical_map,
        plot_roi_timecourses,
        save_figure,
    )

    npz_path = Path(args.result)
    responses, metadata = read_result(npz_path)
    out = Path(args.output or npz_path.parent)
    stem = npz_path.stem
    suffix = f"_t{args.time:g}s" if args.time is not None else "_mean"
    # Without --roi: the ten areas whose predicted time course varies most (all of a
    # smaller selection), named in the legend.
    rois = args.roi or most_varying_rois(responses, metadata)
    # Both pictures are drawn before either is saved: an error leaves none behind.
    figures = {
        out / f"{stem}_map{suffix}.png": plot_cortical_map(responses, metadata, time=args.time),
        out / f"{stem}_roi.png": plot_roi_timecourses(responses, metadata, rois=rois),
    }
    written = [save_figure(figure, path) for path, figure in figures.items()]
    print("\n".join(str(p) for p in written))


def _cmd_cache(args, berg) -> None:
    from berg.features.cache import FeatureCache
    from berg.stimulus.speech import speech_store
    from berg.stimulus.transcript_cache import TranscriptCache

    root = Path(args.cache_dir) if args.cache_dir else berg.berg_dir / "cache"
    features = FeatureCache(root / "features")
    transcripts = TranscriptCache(root / "transcripts")
    speech = speech_store(root)
    n_speech = len(speech.entries())
    print(f"cache: {root}")
    print(f"  features: {len(features.entries())} entries, {features.size_bytes() / 1e6:.1f} MB")
    print(f"  transcripts: {len(transcripts.entries())} entries")
    print(f"  synthesised speech: {n_speech} files, {speech.size_bytes() / 1e6:.1f} MB")
    if args.clear:
        removed = features.clear()
        words = transcripts.clear()
        spoken = speech.clear()
        # WAVs that earlier versions of berg kept in one folder, without records.
        for legacy in (root / "speech").glob("*.wav") if (root / "speech").is_dir() else ():
            legacy.unlink(missing_ok=True)
        print(
            f"cleared: {removed} feature entries, {words} transcripts and {spoken} "
            "speech files (and what interrupted writes had left)"
        )


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


def _cmd_doctor(args, berg) -> None:
    from berg.doctor import run_doctor

    if not run_doctor(berg.berg_dir, check_hub=not args.offline):
        raise SystemExit(1)


def _cmd_selftest(args, berg) -> None:
    from berg.selftest import run_selftest

    if not run_selftest(device=args.device):
        raise SystemExit(1)


def _add_encoding_arguments(p: argparse.ArgumentParser) -> None:
    """The options `encode` and `encode-batch` share: model, columns, device, formats,
    speech."""
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model id (default {DEFAULT_MODEL})")
    p.add_argument(
        "--roi",
        action="append",
        metavar="NAME",
        help="keep this Glasser area (both hemispheres); repeat for several",
    )
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument(
        "--format",
        action="append",
        choices=["npz", "json", "gifti", "csv", "parquet"],
        help="output format; repeat for several (default: all; parquet when pyarrow is installed)",
    )
    p.add_argument(
        "--asr-model",
        default=None,
        help="Whisper model name or CTranslate2 folder (default $BERG_ASR_MODEL, else large-v3)",
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


# The model folders the API takes (get_encoding_model's keywords), as command-line options.
_MODEL_FOLDERS = {
    "checkpoint_dir": "a folder with the TRIBE v2 config.yaml and best.ckpt (nothing is "
    "downloaded)",
    "text_model_dir": "a Llama-3.2-3B folder (else $BERG_TEXT_MODEL, else the Hub)",
    "audio_model_dir": "a w2v-bert-2.0 folder (else $BERG_AUDIO_MODEL, else the Hub)",
    "video_model_dir": "a V-JEPA 2 folder (else $BERG_VIDEO_MODEL, else the Hub)",
}


def _encoding_options(args) -> tuple[dict | None, dict]:
    """``selection`` and the model options of the shared encoding arguments."""
    options = {"asr_model": args.asr_model, "tts": args.tts}
    if args.language:
        options["language"] = args.language
    for name in _MODEL_FOLDERS:
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    return ({"roi": args.roi} if args.roi else None), options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="berg", description="In silico fMRI with TRIBE v2 behind the BERG interface."
    )
    parser.add_argument("--version", action="version", version=f"berg {__version__}")
    parser.add_argument(
        "--berg-dir",
        type=Path,
        default=None,
        help="BERG directory holding the weights (default: $BERG_DIR, else ~/.cache/berg)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show full tracebacks on errors"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("models", help="list the model ids")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("describe", help="print a model card")
    p.add_argument("model_id", nargs="?", default=DEFAULT_MODEL)
    p.set_defaults(func=_cmd_describe)

    p = sub.add_parser("metadata", help="show a model's metadata (no weights needed)")
    p.add_argument("model_id", nargs="?", default=DEFAULT_MODEL)
    p.add_argument("--json", metavar="FILE", help="write the full metadata as JSON to FILE")
    p.set_defaults(func=_cmd_metadata)

    p = sub.add_parser("download", help="download a model's weights into the BERG directory")
    p.add_argument("model_id", nargs="?", default=DEFAULT_MODEL)
    p.add_argument("--revision", help="Hub revision of the TRIBE weights instead of the pinned one")
    p.add_argument(
        "--modalities",
        metavar="LIST",
        help="the feature models to fetch, some of text,audio,video (default: all three)",
    )
    p.add_argument(
        "--asr-model",
        default=None,
        help="Whisper model name or CTranslate2 folder (default $BERG_ASR_MODEL, else large-v3)",
    )
    p.add_argument(
        "--weights-only",
        action="store_true",
        help="only the TRIBE v2 weights (the other models are in place or named by folder)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_download)

    p = sub.add_parser("encode", help="predict the fMRI response to stimulus files")
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="video (.mp4 .avi .mkv .mov .webm), audio (.wav .mp3 .flac .ogg) or text (.txt) files",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    _add_encoding_arguments(p)
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
    _add_encoding_arguments(p)
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
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="also retry stimuli that failed in an earlier run",
    )
    p.set_defaults(func=_cmd_encode_batch)

    p = sub.add_parser(
        "plot",
        help="draw a cortical map and ROI time courses of an encode "
        "result (needs berg-tribe[plot])",
    )
    p.add_argument(
        "result", metavar="NAME.npz", help="a result of `berg encode` (its .json must be beside it)"
    )
    p.add_argument(
        "-o", "--output", type=Path, help="folder for the PNGs (default: beside the result)"
    )
    p.add_argument(
        "--time", type=float, help="stimulus time in s to show (default: the mean over all rows)"
    )
    p.add_argument(
        "--roi",
        action="append",
        metavar="NAME",
        help="areas for the time-course plot; repeat for several",
    )
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("cache", help="show the feature and speech cache, or clear it")
    p.add_argument("--cache-dir", type=Path, help="the cache folder (default: BERG_DIR/cache)")
    p.add_argument(
        "--clear", action="store_true", help="delete every entry (not while an encode is running)"
    )
    p.set_defaults(func=_cmd_cache)

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
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("doctor", help="check FFmpeg, GPU, backends, weights and Hub access")
    p.add_argument("--offline", action="store_true", help="do not try to reach the Hub")
    p.set_defaults(func=_cmd_doctor)

    p = sub.add_parser(
        "selftest",
        help="run the whole pipeline on tiny random models (no "
        "downloads; the numbers are not predictions)",
    )
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.set_defaults(func=_cmd_selftest)
    return parser


def main(argv: list[str] | None = None) -> int:
    from berg.api import BERG

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        berg = BERG(args.berg_dir or _default_berg_dir())
        args.func(args, berg)
    except BERGError as exc:
        if args.verbose:
            raise
        # One line, as command-line conventions want; the text itself is complete.
        print(f"berg: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. an unwritable --json target
        if args.verbose:
            raise
        print(f"berg: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("berg: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
