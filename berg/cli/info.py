"""Commands about models and this machine: models, describe, metadata, cache, doctor,
selftest."""

from __future__ import annotations

import json
from pathlib import Path

from berg.cli.common import DEFAULT_MODEL
from berg.files import atomic_open
from berg.io import to_jsonable


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


def _cmd_doctor(args, berg) -> None:
    from berg.doctor import run_doctor

    if not run_doctor(berg.berg_dir, check_hub=not args.offline):
        raise SystemExit(1)


def _cmd_selftest(args, berg) -> None:
    from berg.selftest import run_selftest

    if not run_selftest(device=args.device):
        raise SystemExit(1)


def register(sub) -> None:
    """Add these commands to the ``berg`` parser's subcommands."""
    p = sub.add_parser("models", help="list the model ids")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("describe", help="print a model card")
    p.add_argument("model_id", nargs="?", default=DEFAULT_MODEL)
    p.set_defaults(func=_cmd_describe)

    p = sub.add_parser("metadata", help="show a model's metadata (no weights needed)")
    p.add_argument("model_id", nargs="?", default=DEFAULT_MODEL)
    p.add_argument("--json", metavar="FILE", help="write the full metadata as JSON to FILE")
    p.set_defaults(func=_cmd_metadata)

    p = sub.add_parser("cache", help="show the feature and speech cache, or clear it")
    p.add_argument("--cache-dir", type=Path, help="the cache folder (default: BERG_DIR/cache)")
    p.add_argument(
        "--clear", action="store_true", help="delete every entry (not while an encode is running)"
    )
    p.set_defaults(func=_cmd_cache)

    p = sub.add_parser("doctor", help="check FFmpeg, GPU, backends, weights and Hub access")
    p.add_argument("--offline", action="store_true", help="do not try to reach the Hub")
    p.set_defaults(func=_cmd_doctor)

    p = sub.add_parser(
        "selftest",
        help="run the whole pipeline on tiny random models (no "
        "downloads; the numbers are not predictions)",
    )
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, mps or auto")
    p.set_defaults(func=_cmd_selftest)
