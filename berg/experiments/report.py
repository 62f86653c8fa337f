"""``report.md``: an experiment written up, with its exact design, so it can be repeated."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from berg.files import atomic_open

__all__ = ["write_report"]

_EVENTS_SHOWN = 20


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def write_report(
    path: Path,
    result,
    design,
    analysis,
    offset: float,
    files,
    kind: str,
    *,
    title: str = "In silico experiment",
) -> Path:
    """Write the Markdown report of ``result`` (an :class:`ExperimentResult`) to ``path``."""
    lines = [f"# {title}", ""]
    lines += [
        f"{'An' if kind[0] in 'aeiou' else 'A'} {kind} experiment of "
        f"{sum(len(v) for v in files.values())} items in "
        f"{len(files)} conditions, {len(result.runs)} run(s) "
        f"({', '.join(f'{r.duration:g} s' for r in result.runs)}), predicted by TRIBE v2 on "
        f"{len(result.vertices)} vertices of fsaverage5.",
        "",
        "## Conditions",
        "",
        "| condition | items | first items |",
        "|---|---|---|",
    ]
    for condition, paths in files.items():
        shown = ", ".join(p.name for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
        lines.append(f"| {condition} | {len(paths)} | {shown} |")
    settings = ", ".join(f"{k}={v!r}" for k, v in asdict(design).items())
    lines += [
        "",
        "## Design",
        "",
        f"`{type(design).__name__}({settings})`",
        "",
        f"The full event table is `events.csv` ({len(result.events)} events); the first "
        f"{min(_EVENTS_SHOWN, len(result.events))}:",
        "",
        "| run | condition | item | onset (s) | duration (s) |",
        "|---|---|---|---|---|",
    ]
    for event in result.events[:_EVENTS_SHOWN]:
        lines.append(
            f"| {event.run + 1} | {event.condition} | {event.item} | {event.onset:g} | "
            f"{event.duration:g} |"
        )
    analysis_settings = ", ".join(f"{k}={v!r}" for k, v in asdict(analysis).items())
    start, end = analysis.peak_window
    lines += [
        "",
        "## Analysis",
        "",
        f"`AnalysisOptions({analysis_settings})`. Rows are placed on the BOLD clock "
        f"(row k at k + 0.5 + {offset:g} s: the model predicts the signal measured "
        f"{offset:g} s after the stimulus). An item's response is the mean over the rows "
        f"{start:g} to {end:g} s after its onset on that clock. The GLM is nilearn's "
        "(events convolved with the HRF, drifts and a constant per run, OLS); item "
        "statistics are Welch's t across items (a one-sample t against the model's "
        "response at rest for a contrast against baseline), with Cohen's d. p values are "
        "two-sided; the area tables also give them corrected for the false discovery rate "
        "across areas (Benjamini-Hochberg).",
        "",
    ]
    for text, found in result.contrasts.items():
        slug = text.replace("-", "_vs_")
        lines += [f"## Contrast {text}", ""]
        picture = path.parent / f"contrast-{slug}_t.png"
        if picture.exists():
            lines += [f"![{text}: GLM t]({picture.name})", ""]
        lines += [
            f"Maps: `contrast-{slug}_t.npz` (GLM t; GIfTI beside it), every map in "
            f"`contrast-{slug}_maps.npz`; the table of all areas: `contrast-{slug}_areas.csv`.",
            "",
            f"Top {len(found.top)} areas by GLM t:",
            "",
            "| area | GLM t | p (FDR) | item t | p (FDR) | Cohen's d |",
            "|---|---|---|---|---|---|",
        ]
        for row in found.top:
            lines.append(
                f"| {row['area']} | {_number(row['glm_t'])} | {_number(row['glm_p_fdr'])} | "
                f"{_number(row['item_t'])} | {_number(row['item_p_fdr'])} | "
                f"{_number(row['cohens_d'])} |"
            )
        lines.append("")
    with atomic_open(path, "w") as handle:
        handle.write("\n".join(lines))
    return path
