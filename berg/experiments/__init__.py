"""In silico experiments: conditions of stimuli in, the statistics a neuroscientist reports
out.

>>> from berg.experiments import EventDesign, run_experiment
>>> result = run_experiment(model, {"faces": "stim/faces", "places": "stim/places"}, "out/",
...                         design=EventDesign(item_duration=1.0), contrasts=["faces-places"])
>>> result.contrasts["faces-places"].top[:3]

- :mod:`~berg.experiments.design`: event-related and block designs, the event table;
- :mod:`~berg.experiments.builtin`: localisers whose stimuli are made here (language,
  speech vs reversed speech);
- :mod:`~berg.experiments.compose`: the runs' stimulus files (a video of images, a sound);
- :mod:`~berg.experiments.analysis`: peak responses, nilearn's GLM, contrasts, item t;
- :mod:`~berg.experiments.tables`, :mod:`~berg.experiments.report`: what is written;
- :mod:`~berg.experiments.plan`: the conditions checked, the runs planned and written;
- :mod:`~berg.experiments.run`: all of it in one call, or the analysis of runs encoded
  elsewhere (on Ray).

Needs ``pip install 'berg-tribe[experiments]'`` (nilearn, scipy, matplotlib).
"""

from berg.experiments.analysis import AnalysisOptions, parse_contrast
from berg.experiments.builtin import BUILTIN_LOCALISERS, write_builtin
from berg.experiments.design import BlockDesign, Event, EventDesign, Item, Run, plan_runs
from berg.experiments.plan import ExperimentPlan, collect_conditions, prepare_experiment
from berg.experiments.run import (
    ContrastResult,
    ExperimentResult,
    analyse_experiment,
    run_builtin,
    run_experiment,
)

__all__ = [
    "BUILTIN_LOCALISERS",
    "AnalysisOptions",
    "BlockDesign",
    "ContrastResult",
    "Event",
    "EventDesign",
    "ExperimentPlan",
    "ExperimentResult",
    "Item",
    "Run",
    "analyse_experiment",
    "collect_conditions",
    "parse_contrast",
    "plan_runs",
    "prepare_experiment",
    "run_builtin",
    "run_experiment",
    "write_builtin",
]
