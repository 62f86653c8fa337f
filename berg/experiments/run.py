"""An in silico experiment in one call: conditions in, maps, tables and a report out.

:func:`run_experiment` prepares the experiment (:mod:`berg.experiments.plan`: everything
cheap checked first, then the items measured, the runs planned and their stimulus files
written), encodes each run once through the model (cached like any encode), and
:func:`analyse_experiment` analyses them: item responses at the haemodynamic peak,
nilearn's GLM, the contrasts with item-level statistics, a table per Glasser area, the top
areas, and ``report.md``. The runs can be encoded elsewhere instead (on Ray), between
:func:`~berg.experiments.plan.prepare_experiment` and :func:`analyse_experiment`.
"""

from __future__ import annotations

import copy
import io
import math
import os
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
    peak_responses,
)
from berg.experiments.design import BlockDesign, Event, EventDesign, Run
from berg.experiments.plan import ExperimentPlan, prepare_experiment
from berg.experiments.report import write_report
from berg.experiments.tables import AREA_COLUMNS, area_table, write_csv

__all__ = [
    "ContrastResult",
    "ExperimentResult",
    "analyse_experiment",
    "run_builtin",
    "run_experiment",
]


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

    :func:`~berg.experiments.plan.prepare_experiment`, each run encoded by ``model`` (its
    result written as ``runs/run-NN.npz`` and ``.json``), then :func:`analyse_experiment`.

    Parameters
    ----------
    model : TribeV2Model
        From ``BERG.get_encoding_model`` (its selection decides the columns analysed).
    conditions : mapping
        Condition name -> a folder of stimuli or a list of files: images (a visual run),
        sounds and texts (an auditory run), or videos, alone or with the others (an
        audiovisual run).
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
    from berg.io import write_outputs

    analysis = _checked(analysis, top_k)
    plan = prepare_experiment(
        conditions,
        out_dir,
        cache_dir=model.cache_dir,
        design=design,
        contrasts=contrasts,
        stimulus_options=model.stimulus_options,
    )
    encoded, written = [], []
    for path in plan.run_files:
        values, metadata = model.encode(path, return_metadata=True, show_progress=show_progress)
        encoded.append((values, metadata))
        written += write_outputs(path.parent, path.stem, values, metadata, ["npz", "json"]).values()
    result = analyse_experiment(plan, encoded, analysis=analysis, top_k=top_k, title=title)
    result.files.extend(written)
    return result


def _checked(analysis: AnalysisOptions | None, top_k: int) -> AnalysisOptions:
    from berg.validation import check_int

    check_int("top_k", top_k, minimum=1)
    analysis = AnalysisOptions() if analysis is None else analysis
    if not isinstance(analysis, AnalysisOptions):
        raise InvalidParameterError(f"analysis must be an AnalysisOptions, got {analysis!r}")
    return analysis


def analyse_experiment(
    plan: ExperimentPlan,
    encoded,
    *,
    analysis: AnalysisOptions | None = None,
    top_k: int = 10,
    title: str = "In silico experiment",
) -> ExperimentResult:
    """Analyse a prepared experiment's encoded runs and write the maps, tables and report.

    Parameters
    ----------
    plan : ExperimentPlan
        From :func:`~berg.experiments.plan.prepare_experiment`.
    encoded : path, or sequence of (np.ndarray, dict)
        A folder with each run's result as ``berg encode`` / ``BERG.encode_many`` write it
        (``run-NN.npz`` and ``.json``), or each run's ``(responses, metadata)``.
    analysis, top_k, title
        As for :func:`run_experiment`.

    Returns
    -------
    ExperimentResult
    """
    from berg.io import read_result

    analysis = _checked(analysis, top_k)
    if isinstance(encoded, (str, os.PathLike)):
        encoded = [read_result(Path(encoded) / f"{p.stem}.npz") for p in plan.run_files]
    encoded = list(encoded)
    if len(encoded) != len(plan.runs):
        raise InvalidParameterError(
            f"the experiment has {len(plan.runs)} runs; {len(encoded)} results were given"
        )
    responses = [np.asarray(values) for values, _ in encoded]
    metadata = encoded[-1][1]
    runs, out = plan.runs, plan.out_dir
    for values, run in zip(responses, runs):
        if len(values) != math.ceil(run.duration - 1e-9):
            raise InvalidParameterError(
                f"run {run.index + 1} lasts {run.duration:g} s but its result has "
                f"{len(values)} rows: the results are not of this experiment's runs"
            )
    offset = analysis.offset
    if offset is None:
        offset = float(metadata["timing"]["hemodynamic_offset_s"])
    events, peaks = peak_responses(responses, runs, analysis, offset)
    rest = [v[baseline_rows(len(v), r, offset)] for v, r in zip(responses, runs)]
    rest = np.concatenate(rest) if sum(len(r) for r in rest) else None
    baseline = None if rest is None else rest.mean(axis=0)
    vertices = np.asarray(metadata["selection"]["vertices"], np.int64)
    glm = fit_glm(responses, runs, analysis, offset)
    written = list(plan.written)
    results = {}
    for contrast in plan.contrasts:
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
        write_report(
            out / "report.md",
            result,
            plan.design,
            analysis,
            offset,
            plan.files,
            plan.kind,
            title=title,
        )
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
    from berg.experiments.builtin import BUILTIN_CONDITIONS, BUILTIN_LOCALISERS, write_builtin
    from berg.experiments.plan import check_contrasts
    from berg.io import check_output_folder
    from berg.validation import check_choice

    check_choice("built-in localiser", name, tuple(BUILTIN_LOCALISERS))
    check_contrasts(experiment.get("contrasts"), BUILTIN_CONDITIONS[name])  # before any speech
    _checked(experiment.get("analysis"), experiment.get("top_k", 10))
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
