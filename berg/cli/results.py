"""Commands that read results: plot, movie, view, contributions."""

from __future__ import annotations

from pathlib import Path

from berg.cli.encoding import add_encoding_arguments


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
        out / f"{stem}_map{suffix}.png": plot_cortical_map(
            responses, metadata, time=args.time, borders=args.borders
        ),
        out / f"{stem}_roi.png": plot_roi_timecourses(responses, metadata, rois=rois),
    }
    written = [save_figure(figure, path) for path, figure in figures.items()]
    print("\n".join(str(p) for p in written))


def _cmd_movie(args, berg) -> None:
    from berg.errors import InvalidParameterError
    from berg.io import read_result
    from berg.plotting.movie import render_movie

    target = Path(args.output)
    if target.suffix.lower() != ".mp4":
        raise InvalidParameterError(f"-o must name an .mp4 file, got {str(target)!r}")
    if target.is_dir():
        raise InvalidParameterError(f"-o {str(target)!r} is a folder; name the .mp4 to write")
    responses, metadata = read_result(args.result)
    render_movie(
        responses,
        metadata,
        target,
        stimulus=args.stimulus,
        fps=args.fps,
        rois=args.roi,
        as_measured=args.as_measured,
        show_progress=not args.quiet,
    )
    print(target)


def _cmd_view(args, berg) -> None:
    from berg.errors import InvalidParameterError
    from berg.io import read_result
    from berg.viewer import write_viewer

    npz_path = Path(args.result)
    target = (
        Path(args.output) if args.output else npz_path.with_name(f"{npz_path.stem}_viewer.html")
    )
    if target.suffix.lower() not in (".html", ".htm") and target.is_file():
        raise InvalidParameterError(
            f"-o {str(target)!r} is a file; give NAME.html (one page) or a folder"
        )
    responses, metadata = read_result(npz_path)
    rgb = None
    if args.contributions:  # what `berg contributions` wrote for this result
        import numpy as np

        with np.load(args.contributions) as npz:
            rgb = npz["rgb"]
    page = write_viewer(responses, metadata, target, stimulus=args.stimulus, contributions=rgb)
    print(page)


def _cmd_contributions(args, berg) -> None:
    from berg.cli.encoding import encoding_options
    from berg.contribution_files import write_contributions
    from berg.errors import MissingDependencyError
    from berg.io import check_formats, check_output_folder, read_result
    from berg.stimulus import check_stimulus_file

    source = Path(args.input)
    selection, options = encoding_options(args)
    if source.suffix.lower() == ".npz":  # a result: its stimulus again, its columns
        _, earlier = read_result(source)
        stimulus = Path(earlier["stimulus"]["path"])
        if selection is None:
            mask = [0] * earlier["fmri"]["n_vertices"]
            for vertex in earlier["selection"]["vertices"]:
                mask[int(vertex)] = 1
            selection = {"vertices": mask}
    else:
        stimulus = source
    check_stimulus_file(stimulus)
    check_output_folder(args.output)
    formats = check_formats(args.format)
    options["show_progress"] = not args.quiet
    with berg.get_encoding_model(
        args.model, selection=selection, device=args.device, **options
    ) as model:
        _, metadata = berg.encode(
            model,
            stimulus,
            return_metadata=True,
            contributions=True,
            show_progress=not args.quiet,
        )
    found = metadata["contributions"]
    written = write_contributions(args.output, stimulus.stem, found, metadata, formats)
    try:  # the RGB picture, when the plotting extra is there
        from berg.plotting import plot_contributions_map, save_figure

        picture = Path(args.output) / f"{stimulus.stem}_contributions_rgb.png"
        written.append(save_figure(plot_contributions_map(found, metadata), picture))
    except MissingDependencyError:
        pass
    shares = ", ".join(f"{m} {share:.0%}" for m, share in found.shares().items())
    print(f"{stimulus}: contributions ({shares}) -> " + ", ".join(str(p) for p in written))


def _add_stimulus_argument(p) -> None:
    p.add_argument(
        "--stimulus",
        type=Path,
        help="the stimulus file (default: the result's own, when it is still there)",
    )


def register(sub) -> None:
    """Add these commands to the ``berg`` parser's subcommands."""
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
    p.add_argument("--borders", action="store_true", help="draw the Glasser area borders")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser(
        "movie",
        help="a brain movie of an encode result: the stimulus beside the cortex, ROI time "
        "courses under them, the sound (needs berg-tribe[plot])",
    )
    p.add_argument("result", metavar="NAME.npz", help="a result of `berg encode`")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .mp4 to write")
    _add_stimulus_argument(p)
    p.add_argument("--fps", type=int, default=10, help="frames per second (10)")
    p.add_argument(
        "--roi", action="append", metavar="NAME", help="areas for the time courses; repeat"
    )
    p.add_argument(
        "--as-measured",
        action="store_true",
        help="show each row 5 s later, when a scanner would measure it (default: with the "
        "stimulus that causes it)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_movie)

    p = sub.add_parser(
        "view",
        help="an interactive viewer of an encode result: one offline page with the stimulus "
        "beside the cortex (open it in a browser; needs berg-tribe[plot])",
    )
    p.add_argument("result", metavar="NAME.npz", help="a result of `berg encode`")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        help="NAME.html (one self-contained page) or a folder (index.html and the stimulus); "
        "default: NAME_viewer.html beside the result",
    )
    _add_stimulus_argument(p)
    p.add_argument(
        "--contributions",
        type=Path,
        metavar="NAME_contributions_rgb.npz",
        help="the modality-contributions layer, as `berg contributions` writes it",
    )
    p.set_defaults(func=_cmd_view)

    p = sub.add_parser(
        "contributions",
        help="what each modality adds: the response minus the response without it "
        "(from a result of `berg encode`, or a stimulus file)",
    )
    p.add_argument(
        "input",
        metavar="RESULT_OR_STIMULUS",
        help="NAME.npz from `berg encode` (its stimulus and columns are used again), or a "
        "stimulus file",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    add_encoding_arguments(p)
    p.set_defaults(func=_cmd_contributions)
