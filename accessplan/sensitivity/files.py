"""The outputs of a sensitivity analysis: CSV tables and one offline HTML page.

The folder holds ``sensitivity_intervals.csv``, ``sensitivity_sites.csv``,
``sensitivity_draws.csv``, ``sensitivity_factors.csv``, ``sensitivity.html`` and
``manifest.json``; it appears complete or not at all (:func:`accessplan.outputs.output_folder`).
The page is built by :func:`accessplan.report.render_report` (every data string escaped, no
network resource): the base run's headline numbers, then the intervals and the site counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from accessplan._sanitize import write_csv
from accessplan.maps import format_number

if TYPE_CHECKING:
    from accessplan.sensitivity.analysis import Sensitivity

__all__ = ["render_sensitivity", "write_sensitivity"]

#: Output files by name.
FILES = {
    "intervals": "sensitivity_intervals.csv",
    "sites": "sensitivity_sites.csv",
    "draws": "sensitivity_draws.csv",
    "factors": "sensitivity_factors.csv",
    "page": "sensitivity.html",
}


def write_sensitivity(
    analysis: Sensitivity, out_dir: Path, *, replace: bool = False
) -> dict[str, Path]:
    """Write every output of ``analysis`` into ``out_dir`` and return the paths by name.

    Raises
    ------
    InputError
        ``out_dir`` holds files and ``replace`` is false, holds the scenario's inputs, or
        cannot be written.
    """
    from accessplan.outputs import output_folder, scenario_hash, scenario_input_paths

    scenario = analysis.scenario
    settings = scenario.config["sensitivity"]
    describe = {
        "kind": "sensitivity",
        "scenario": scenario.name,
        "scenario_hash": scenario_hash(scenario.config),
        "scenario_source": str(scenario.source),
        "draws": int(settings["draws"]),
        "seed": int(settings["seed"]),
    }
    protect = scenario_input_paths(scenario.config, source=scenario.source)
    with output_folder(out_dir, replace=replace, describe=describe, protect=protect) as work:
        write_csv(analysis.intervals, work / FILES["intervals"], index=False)
        write_csv(analysis.sites, work / FILES["sites"], index=False)
        write_csv(analysis.draws, work / FILES["draws"], index=False)
        write_csv(analysis.factors, work / FILES["factors"], index=False)
        (work / FILES["page"]).write_text(render_sensitivity(analysis), encoding="utf-8")
    return {name: out_dir / file for name, file in FILES.items()}


def _interval_text(row: pd.Series) -> str:
    return f"{format_number(row['lower'])} – {format_number(row['upper'])}"


def render_sensitivity(analysis: Sensitivity) -> str:
    """HTML text of the sensitivity page (offline, every data string escaped)."""
    from accessplan.report import render_report

    base, scenario = analysis.base, analysis.scenario
    lower, upper = analysis.percentiles
    band = f"{lower:g}th–{upper:g}th percentile"
    intervals = analysis.intervals.assign(interval=analysis.intervals.apply(_interval_text, axis=1))
    quantity = intervals["quantity"]
    after = intervals[quantity.isin(["after", "plan"])].reset_index(drop=True)
    before = intervals[quantity == "before"].reset_index(drop=True)
    change = intervals[quantity == "change"].reset_index(drop=True)
    columns = {"metric": "metric", "base": "base run", "mean": "mean", "interval": band}
    draws = int(scenario.config["sensitivity"]["draws"])
    sites = analysis.sites.rename(
        columns={"times_chosen": f"chosen (of {draws} draws)", "in_base_plan": "in the base plan"}
    )
    measure = base.measure
    return render_report(
        title=f"Sensitivity: {scenario.name}",
        subtitle=(
            f"{draws} draws of the inputs (seed {scenario.config['sensitivity']['seed']}); "
            f"intervals from the {band} of the draws. The headline numbers are the scenario "
            "as written (the base run); the tables below give each one's spread over the draws."
        ),
        summary=base.summary_table(),
        tables={
            f"After the plan: base run and {band}": after[list(columns)].rename(columns=columns),
            f"Before the plan: base run and {band}": before[list(columns)].rename(columns=columns),
            f"Change: base run and {band}": change[list(columns)].rename(columns=columns),
            "How often each candidate site is chosen": sites,
            "Factors of each draw (mean over cells or facilities; 1 = as in the scenario)": (
                analysis.factors
            ),
        },
        notes=_notes(analysis),
        attribution=base.attribution,
        label=measure.label,
        unit=measure.unit,
        higher_is_better=measure.higher_is_better,
        plan=base.plan,
        max_rows=max(200, len(analysis.sites)),
    )


def _notes(analysis: Sensitivity) -> list[str]:
    settings = analysis.scenario.config["sensitivity"]
    varied = [
        f"{name}: {spec}"
        for name in ("demand", "speeds", "capacities", "digital_access")
        if (spec := settings.get(name)) is not None
    ]
    return [
        "The headline numbers above are those of the base run (the scenario as written).",
        "Each draw multiplies the inputs by factors drawn from these distributions "
        "(1 = as in the scenario): " + "; ".join(varied) + ".",
        "Every draw keeps the road network, the candidate sites and the model of the base run, "
        "and re-runs travel times, access before and after, and the plan.",
    ]
