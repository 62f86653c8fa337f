"""``berg download``: every model a run needs, ahead of time."""

from __future__ import annotations

from berg.cli.common import DEFAULT_MODEL, parse_modalities
from berg.errors import BERGError


def _cmd_download(args, berg) -> None:
    from berg.registry import MODALITIES, get_card

    card = get_card(args.model_id)
    modalities = () if args.weights_only else parse_modalities(args.modalities, MODALITIES)
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


def register(sub) -> None:
    """Add these commands to the ``berg`` parser's subcommands."""
    p = sub.add_parser(
        "download", help="fetch every model a run needs (weights, feature models, Whisper)"
    )
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
