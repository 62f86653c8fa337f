"""An experiment prepared: its conditions checked, its items measured, its runs planned
and their stimulus files written, before any model is needed.

:func:`prepare_experiment` is the first half of :func:`berg.experiments.run_experiment`;
on its own it lets the runs be encoded elsewhere (``BERG.encode_many(..., engine="ray")``)
and analysed after (:func:`berg.experiments.analyse_experiment`)::

    plan = prepare_experiment({"faces": "stim/faces", "places": "stim/places"}, "out/",
                              cache_dir=berg.berg_dir / "cache")
    berg.encode_many("fmri-dascoli_2026-tribe_v2", plan.run_files, "out/runs", engine="ray")
    result = analyse_experiment(plan, "out/runs")
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from berg.errors import InvalidParameterError
from berg.experiments.analysis import Contrast, parse_contrast
from berg.experiments.compose import compose_run, frame_period, measure_items
from berg.experiments.design import BlockDesign, Event, EventDesign, Run, plan_runs
from berg.experiments.tables import write_events

__all__ = ["ExperimentPlan", "collect_conditions", "prepare_experiment"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ExperimentPlan:
    """A prepared experiment.

    Attributes
    ----------
    files : dict of str to list of Path
        Condition -> its stimulus files, in condition order.
    kind : {'visual', 'auditory', 'audiovisual'}
    design : EventDesign or BlockDesign
    runs : list of Run
    run_files : list of Path
        The stimulus file of each run (``out_dir/runs/run-NN.mkv`` or ``.wav``).
    contrasts : list of Contrast
    out_dir : Path
    written : list of Path
        ``events.csv`` and the run files.
    """

    files: dict[str, list[Path]]
    kind: str
    design: EventDesign | BlockDesign
    runs: list[Run]
    run_files: list[Path]
    contrasts: list[Contrast]
    out_dir: Path
    written: list[Path]

    @property
    def events(self) -> list[Event]:
        """Every event, run by run, in time order."""
        return [e for run in self.runs for e in run.events]


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


def check_contrasts(contrasts: Sequence[str] | None, conditions: Sequence[str]) -> list[Contrast]:
    """The contrasts parsed; default: each condition against the others (or against
    baseline when there is one condition)."""
    names = list(conditions)
    default = [f"{c}-others" for c in names] if len(names) > 1 else names
    if isinstance(contrasts, str):
        contrasts = [contrasts]
    return [parse_contrast(text, names) for text in (contrasts or default)]


def prepare_experiment(
    conditions: Mapping[str, object],
    out_dir: str | os.PathLike,
    *,
    cache_dir: str | os.PathLike,
    design: EventDesign | BlockDesign | None = None,
    contrasts: Sequence[str] | None = None,
    stimulus_options=None,
) -> ExperimentPlan:
    """Check, measure, plan and write the runs of an experiment (no model needed).

    Parameters
    ----------
    conditions : mapping
        Condition name -> a folder of stimuli or a list of files: images (a visual run),
        sounds and texts (an auditory run), or videos, alone or with the others (an
        audiovisual run).
    out_dir : path
        Gets ``events.csv`` and ``runs/run-NN.mkv`` (or ``.wav``).
    cache_dir : path
        berg's cache (texts' synthesised speech is kept there).
    design : EventDesign or BlockDesign, optional
        Default: ``EventDesign()`` (1 s items, 4-6 s jittered gaps, 10 s baselines).
    contrasts : sequence of str, optional
        ``'A'``, ``'A-B'``, ``'A-others'``; default: each condition against the others (or
        against baseline when there is one condition). Checked here, before any work.
    stimulus_options : StimulusOptions, optional
        How texts are spoken (a model's ``stimulus_options``); default Piper.

    Returns
    -------
    ExperimentPlan
    """
    from berg.io import check_output_folder

    design = EventDesign() if design is None else design
    if not isinstance(design, (EventDesign, BlockDesign)):
        raise InvalidParameterError(
            f"design must be an EventDesign or a BlockDesign, got {type(design).__name__}"
        )
    files = collect_conditions(conditions)
    parsed = check_contrasts(contrasts, list(files))
    out = check_output_folder(out_dir)
    items, kind = measure_items(
        files, item_duration=design.item_duration, cache_dir=cache_dir, options=stimulus_options
    )
    runs = plan_runs(items, design, grid=frame_period(kind))
    out.mkdir(parents=True, exist_ok=True)
    written = [write_events(out / "events.csv", [e for r in runs for e in r.events])]
    run_files = [compose_run(run, kind, out / "runs") for run in runs]
    return ExperimentPlan(files, kind, design, runs, run_files, parsed, out, written + run_files)
