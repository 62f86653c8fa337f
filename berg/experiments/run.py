"""An in silico experiment in one call: conditions in, maps, tables and a report out.

:func:`run_experiment` checks everything cheap first (the conditions and their files, the
output folder, the design, the contrasts), then measures the items, plans the runs, writes
their stimulus files, encodes each run once through the model (cached like any encode),
and analyses them: item responses at the haemodynamic peak, nilearn's GLM, the contrasts
with item-level statistics, a table per Glasser area, the top areas, and ``report.md``.
"""

from __future__ import annotations

import copy
import io
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from berg.errors import InvalidParameterError
from berg.experiments.analysis import (
    AnalysisOptions,
    Contrast,
    baseline_rows,
    fit_glm,
    item_statistics,
    parse_contrast,
    peak_responses,
)
from berg.experiments.compose import compose_run, measure_items
from berg.experiments.design import BlockDesign, Event, EventDesign, Run, plan_runs
from berg.experiments.report import write_report
from berg.experiments.tables import AREA_COLUMNS, area_table, write_csv, write_events

__all__ = [
    "ContrastResult",
    "ExperimentResult",
    "collect_conditions",
    "run_builtin",
    "run_experiment",
]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ContrastResult:
    """One contrast: its maps (per selected column), its area table and its top areas."""

    contrast: Contrast
    maps: dict[str, np.ndarray]  # glm_effect, glm_t, glm_z, item_effect, item_t, cohens_d
    areas: list[dict]
    top: list[dict]


@dataclass(frozen=True)
class ExperimentResult:
    """What :func:`run_experiment` found and wrote."""

    runs: list[Run]
    events: list[Event]
    peaks: np.ndarray  # (n_events, n_columns)
    vertices: np.ndarray
    contrasts: dict[str, ContrastResult]
    files: list[Path] = field(default_factory=list)


def collect_conditions(conditions: Mapping[str, object]) -> dict[str, list[Path]]:
    """Condition -> its stimulus files: a folder's (at any depth, sorted) or a list's.

    Raises
    ------
    InvalidParameterError, StimulusError
        A bad condition name, an empty condition, or a file that is no stimulus.
    """
    from berg.stimulus.kinds import STIMULUS_EXTENSIONS, check_stimulus_file

    if not isinstance(conditions, Mapping) or len(conditions) < 1:
        raise InvalidParameterError(
            "conditions must be a dict of condition name -> folder or list of files"
        )
    found = {}
    for name, source in conditions.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidParameterError(
                f"condition name {name!r} must start with a letter and hold only letters, "
                "digits and _ (contrasts are written 'faces-places')"
            )
        if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
            files = sorted(
                p
                for p in Path(source).rglob("*")
                if p.is_file() and p.suffix.lower() in STIMULUS_EXTENSIONS
            )
        elif isinstance(source, (str, os.PathLike)):
            files = [Path(source)]
        else:
            files = [Path(p) for p in source]
        if not files:
            raise InvalidParameterError(f"condition {name!r} has no stimulus files ({source})")
        for path in files:
            check_stimulus_file(path)
        found[name] = files
    return found


def run_experiment(
    model,
    conditions: Mapping[str, object],
    out_dir: str | os.PathLike,
    *,
    design: EventDesign | BlockDesign | None = None,
    contrasts: Sequence[str] | None = None,
    analysis: AnalysisOptions | None = None,
    top_k: int = 10,
    show_progress: bool = False,
    title: str = "In silico experiment",
) -> ExperimentResult:
    """Run an in silico experiment with ``model`` and write what it finds to ``out_dir``.

    Parameters
    ----------
    model : TribeV2Model
        From ``BERG.get_encoding_model`` (its selection decides the columns analysed).
    conditions : mapping
        Condition name -> a folder of stimuli or a list of files: images (a visual run),
        or sounds and texts (an auditory run).
    out_dir : path
        Gets ``runs/`` (the run stimuli and their predicted responses), ``events.csv``,
        per contrast ``contrast-NAME_*`` (maps as results: npz, JSON, GIfTI; the area
        table as CSV; a cortical PNG when berg-tribe[plot] is installed) and
        ``report.md``.
    design : EventDesign or BlockDesign, optional
        Default: ``EventDesign()`` (1 s items, 4-6 s jittered gaps, 10 s baselines).
    contrasts : sequence of str, optional
        ``'A'``, ``'A-B'``, ``'A-others'``; default: each condition against the others (or
        against baseline when there is one condition).
    analysis : AnalysisOptions, optional
    top_k : int
        Areas listed per contrast in the report.
    show_progress : bool
        Bars while the runs are encoded.
    title : str
        The report's heading.

    Returns
    -------
    ExperimentResult
    """
    from berg.io import check_output_folder, write_outputs
    from berg.validation import check_int

    design = EventDesign() if design is None else design
    analysis = AnalysisOptions() if analysis is None else analysis
    check_int("top_k", top_k, minimum=1)
    files = collect_conditions(conditions)
    names = list(files)
    default = [f"{c}-others" for c in names] if len(names) > 1 else names
    parsed = [parse_contrast(text, names) for text in (contrasts or default)]
    out = check_output_folder(out_dir)

    items, kind = measure_items(
        files,
        item_duration=design.item_duration,
        cache_dir=model.cache_dir,
        options=model.stimulus_options,
    )
    runs = plan_runs(items, design)
    responses, metadata = [], None
    written: list[Path] = [
        write_events(_made(out) / "events.csv", [e for r in runs for e in r.events])
    ]
    for run in runs:
        path = compose_run(run, kind, out / "runs")
        values, metadata = model.encode(path, return_metadata=True, show_progress=show_progress)
        responses.append(values)
        written += write_outputs(
            out / "runs", path.stem, values, metadata, ["npz", "json"]
        ).values()
    offset = analysis.offset
    if offset is None:
        offset = float(metadata["timing"]["hemodynamic_offset_s"])
    events, peaks = peak_responses(responses, runs, analysis, offset)
    rest = [v[baseline_rows(len(v), r, offset)] for v, r in zip(responses, runs)]
    rest = np.concatenate(rest) if sum(len(r) for r in rest) else None
    baseline = None if rest is None else rest.mean(axis=0)
    vertices = np.asarray(metadata["selection"]["vertices"], np.int64)
    glm = fit_glm(responses, runs, analysis, offset)
    results = {}
    for contrast in parsed:
        found = glm.contrast(contrast)
        items_stats = item_statistics(peaks, events, contrast, baseline)
        maps = {
            "glm_effect": found["effect"],
            "glm_t": found["t"],
            "glm_z": found["z"],
            "item_effect": items_stats["effect"],
            "item_t": items_stats["t"],
            "cohens_d": items_stats["d"],
        }
        areas = area_table(
            contrast, responses, runs, peaks, events, vertices, analysis, offset, baseline
        )
        slug = contrast.text.replace("-", "_vs_")
        written += _write_maps(out, f"contrast-{slug}", maps, metadata, contrast)
        written.append(write_csv(out / f"contrast-{slug}_areas.csv", areas, AREA_COLUMNS))
        results[contrast.text] = ContrastResult(contrast, maps, areas, areas[:top_k])
    result = ExperimentResult(runs, events, peaks, vertices, results, written)
    written.append(
        write_report(out / "report.md", result, design, analysis, offset, files, kind, title=title)
    )
    return result


def run_builtin(
    model,
    name: str,
    out_dir: str | os.PathLike,
    *,
    n_items: int = 16,
    seed: int = 0,
    **experiment,
) -> ExperimentResult:
    """Run a built-in localiser (``'language'`` or ``'speech'``, see
    :mod:`berg.experiments.builtin`): its stimuli are made in ``out_dir/stimuli/``, then
    :func:`run_experiment` with its contrast (unless ``contrasts=`` says otherwise).

    Parameters
    ----------
    model : TribeV2Model
    name : {'language', 'speech'}
    out_dir : path
    n_items : int
        Items per condition.
    seed : int
        Which sentences and non-words; also the design's order unless ``design=`` is given.
    **experiment
        ``design``, ``contrasts``, ``analysis``, ``top_k``, ``show_progress`` of
        :func:`run_experiment`.
    """
    from berg.experiments.builtin import BUILTIN_LOCALISERS, write_builtin
    from berg.io import check_output_folder
    from berg.validation import check_choice

    check_choice("built-in localiser", name, tuple(BUILTIN_LOCALISERS))
    out = check_output_folder(out_dir)
    localiser = write_builtin(
        name,
        out / "stimuli",
        cache_dir=model.cache_dir,
        n_items=n_items,
        seed=seed,
        options=model.stimulus_options,
    )
    experiment.setdefault("design", EventDesign(seed=seed))
    experiment["contrasts"] = experiment.get("contrasts") or [localiser.contrast]
    return run_experiment(
        model,
        localiser.conditions,
        out,
        title=f"Built-in {name} localiser: {BUILTIN_LOCALISERS[name]}",
        **experiment,
    )


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_maps(out: Path, stem: str, maps, metadata, contrast: Contrast) -> list[Path]:
    """The t map as a one-row result (npz, JSON, GIfTI), every map in one npz, and a PNG."""
    from berg.files import atomic_open
    from berg.io import write_outputs

    meta = copy.deepcopy({k: v for k, v in metadata.items() if k != "contributions"})
    meta["timing"]["row_times_s"] = np.array([[0.0, 1.0]])
    meta["contrast"] = {"text": contrast.text, "map": "glm_t", "maps": sorted(maps)}
    paths = write_outputs(out, f"{stem}_t", maps["glm_t"][None, :], meta, ["npz", "json", "gifti"])
    left = paths["gifti"]
    written = [paths["npz"], paths["json"], left, left.with_name(left.name.replace(".lh.", ".rh."))]
    buffer = io.BytesIO()
    np.savez(buffer, vertices=meta["selection"]["vertices"], **maps)
    with atomic_open(out / f"{stem}_maps.npz", "wb") as handle:
        handle.write(buffer.getvalue())
    written.append(out / f"{stem}_maps.npz")
    try:
        from berg.plotting import plot_cortical_map, save_figure

        figure = plot_cortical_map(
            maps["glm_t"][None, :], meta, title=f"{contrast.text}: GLM t", cmap="cold_hot"
        )
        written.append(save_figure(figure, out / f"{stem}_t.png"))
    except ImportError:
        pass  # pictures are optional (berg-tribe[plot])
    return written
