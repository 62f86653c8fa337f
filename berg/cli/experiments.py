"""``berg localizer``: an in silico experiment from folders of stimuli, in one command."""

from __future__ import annotations

from pathlib import Path

from berg.cli.encoding import (
    add_encoding_arguments,
    add_ray_arguments,
    encoding_options,
    ray_engine,
)
from berg.errors import InvalidParameterError
from berg.experiments.analysis import AnalysisOptions
from berg.experiments.builtin import BUILTIN_LOCALISERS
from berg.experiments.design import BlockDesign, EventDesign


def _conditions(pairs: list[str]) -> dict[str, str]:
    """``['faces=stim/faces', ...]`` -> ``{'faces': 'stim/faces'}``, checked."""
    found = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise InvalidParameterError(
                f"a condition is written NAME=PATH (a folder or a file), got {pair!r}"
            )
        if name in found:
            raise InvalidParameterError(f"condition {name!r} is given twice")
        found[name] = path
    return found


def _design(args):
    timing = {"item_duration": args.item_duration, "seed": args.seed}
    if args.max_run is not None:
        timing["max_run_seconds"] = args.max_run
    if args.design == "block":
        return BlockDesign(**timing)
    return EventDesign(isi=(args.isi_min, args.isi_max), **timing)


def _cmd_localizer(args, berg) -> None:
    from berg.experiments import collect_conditions, run_builtin, run_experiment
    from berg.io import check_output_folder
    from berg.validation import check_int

    # Everything cheap is checked before any model is loaded.
    if args.builtin and args.conditions:
        raise InvalidParameterError(
            f"--builtin {args.builtin} makes its own stimuli: give no COND=PATH with it"
        )
    if not args.builtin and not args.conditions:
        raise InvalidParameterError(
            "give the conditions as NAME=PATH (e.g. faces=stim/faces places=stim/places), "
            f"or --builtin {{{','.join(BUILTIN_LOCALISERS)}}}"
        )
    if args.builtin:
        check_int("--items", args.items, minimum=2)
        if ray_engine(args)["engine"] == "ray":
            raise InvalidParameterError("--builtin runs here; --ray is for COND=PATH experiments")
    else:
        conditions = _conditions(args.conditions)
        collect_conditions(conditions)  # every file checked
    check_output_folder(args.output)
    design = _design(args)
    selection, options = encoding_options(args)
    experiment = {
        "design": design,
        "contrasts": args.contrast,
        "analysis": AnalysisOptions(),
    }
    if ray_engine(args)["engine"] == "ray":
        result = _on_ray(args, berg, conditions, selection, options, experiment)
    else:
        options["show_progress"] = not args.quiet
        with berg.get_encoding_model(
            args.model, selection=selection, device=args.device, **options
        ) as model:
            if args.builtin:
                result = run_builtin(
                    model,
                    args.builtin,
                    args.output,
                    n_items=args.items,
                    seed=args.seed,
                    show_progress=not args.quiet,
                    **experiment,
                )
            else:
                result = run_experiment(
                    model, conditions, args.output, show_progress=not args.quiet, **experiment
                )
    for text, found in result.contrasts.items():
        top = ", ".join(f"{row['area']} (t {row['glm_t']:.3g})" for row in found.top[:5])
        print(f"{text}: {top}")
    print(f"report: {Path(args.output) / 'report.md'} ({len(result.files)} files)")


def _on_ray(args, berg, conditions, selection, options, experiment):
    """Prepare here, encode the runs on Ray (resumably), analyse here."""
    from berg.errors import BERGError
    from berg.experiments import analyse_experiment, prepare_experiment
    from berg.options import EncodingOptions

    settings = EncodingOptions.from_kwargs(options)
    plan = prepare_experiment(
        conditions,
        args.output,
        cache_dir=settings.cache_folder(berg.berg_dir),
        design=experiment["design"],
        contrasts=experiment["contrasts"],
        stimulus_options=settings.stimulus_options(),
    )
    report = berg.encode_many(
        args.model,
        plan.run_files,
        plan.out_dir / "runs",
        selection=selection,
        device=args.device,
        formats=["npz", "json"],
        retry_failed=True,  # a run that failed before is tried again; finished ones are kept
        show_progress=not args.quiet,
        **ray_engine(args),
        **options,
    )
    failed = [r for r in report.records.values() if r.status == "failed"]
    if failed:
        raise BERGError(
            f"{len(failed)} of {len(plan.run_files)} runs failed on Ray ("
            + "; ".join(f"{r.id}: {r.error}" for r in failed[:3])
            + "): run the same command again to retry them"
        )
    return analyse_experiment(plan, plan.out_dir / "runs", analysis=experiment["analysis"])


def register(sub) -> None:
    """Add these commands to the ``berg`` parser's subcommands."""
    p = sub.add_parser(
        "localizer",
        help="an in silico experiment: conditions of images, videos, sounds or texts -> maps, "
        "area tables and a report",
    )
    p.add_argument(
        "conditions",
        nargs="*",
        metavar="COND=PATH",
        help="a condition and its stimuli: a folder (searched at any depth) or one file",
    )
    p.add_argument(
        "--builtin",
        choices=sorted(BUILTIN_LOCALISERS),
        help="a localiser whose stimuli berg makes: "
        + "; ".join(f"{k}: {v}" for k, v in BUILTIN_LOCALISERS.items()),
    )
    p.add_argument("--items", type=int, default=16, help="items per condition of --builtin (16)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument("--design", choices=["event", "block"], default="event")
    p.add_argument(
        "--contrast",
        action="append",
        metavar="A-B",
        help="'A', 'A-B' or 'A-others'; repeat for several (default: each condition "
        "against the others)",
    )
    p.add_argument("--item-duration", type=float, default=1.0, help="seconds an image is shown (1)")
    p.add_argument("--isi-min", type=float, default=4.0, help="shortest gap after an item (4 s)")
    p.add_argument("--isi-max", type=float, default=6.0, help="longest gap after an item (6 s)")
    p.add_argument("--max-run", type=float, help="longest run in s (300)")
    p.add_argument("--seed", type=int, default=0, help="of the order and the jitter (0)")
    add_encoding_arguments(p, formats=False)
    add_ray_arguments(p)
    p.set_defaults(func=_cmd_localizer)
