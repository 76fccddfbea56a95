"""The :class:`Result` of a scenario run and its summary tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from accessplan.scenario.config import Scenario

__all__ = ["PER_PERSONS", "SERVED_METRIC", "Result"]

#: Accessibility values are scaled to clinicians per this many persons.
PER_PERSONS = 10_000.0
#: Summary row of the persons served within the standard (capacity-limited coverage).
SERVED_METRIC = "Persons served within the standard, capacity-limited (persons)"


@dataclass
class Result:
    """Everything a scenario produced.

    Attributes
    ----------
    scenario
        The scenario that was run.
    cells
        One row per population cell (polygons): ``id``, ``population`` (persons),
        ``before``/``after``/``change``/``pct_change`` (clinicians per 10,000 persons, and the
        per-type ``after_*`` parts), ``minutes_before``/``minutes_after`` (to the nearest
        physical facility, NaN beyond the cutoff).
    facilities
        Existing and new facilities: ``id``, ``name``, ``type``, ``capacity`` (clinicians),
        ``status`` (existing/new), ``cost``, ``assigned_population`` (persons).
    plan
        The :class:`~accessplan.optimize.Plan` chosen by the location model.
    comparison
        The :class:`~accessplan.equity.Comparison` of before and after.
    diagnostics
        Snapping and reachability counts of the travel-time runs.
    timings
        Seconds spent in each stage.
    """

    scenario: Scenario
    cells: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    plan: Any
    comparison: Any
    diagnostics: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    attribution: str = ""
    context: gpd.GeoDataFrame | None = None

    def summary_table(self) -> pd.DataFrame:
        """Headline metrics: ``metric``, ``before``, ``after``, ``change``, ``pct_change``."""
        summary = self.comparison.summary.reset_index()
        summary = summary.rename(columns={summary.columns[0]: "metric"})
        unit = f"clinicians per {PER_PERSONS:,.0f} persons"
        renamed = {
            "population-weighted mean": f"Access, population-weighted mean ({unit})",
            "median": f"Access, median ({unit})",
            "p10": f"Access, 10th percentile ({unit})",
            "p90": f"Access, 90th percentile ({unit})",
            "gini": "Gini coefficient of access",
            "theil_t": "Theil T index of access",
            "palma": "Palma ratio of access",
        }
        summary["metric"] = summary["metric"].map(lambda m: renamed.get(m, m))
        better = {
            "Gini coefficient of access": False,
            "Theil T index of access": False,
            "Palma ratio of access": False,
        }
        summary["higher_is_better"] = summary["metric"].map(
            lambda m: better.get(m, "no longer" not in m and "beyond" not in m)
        )
        extra = pd.DataFrame(
            [
                {
                    "metric": SERVED_METRIC,
                    "before": float(self.cells["served_before"].sum()),
                    "after": float(self.cells["served_after"].sum()),
                    "higher_is_better": True,
                },
                {
                    "metric": "Mean travel time to the nearest facility (minutes)",
                    "before": _weighted_nanmean(
                        self.cells["minutes_before"], self.cells["population"]
                    ),
                    "after": _weighted_nanmean(
                        self.cells["minutes_after"], self.cells["population"]
                    ),
                    "higher_is_better": False,
                },
            ]
        )
        out = pd.concat([summary, extra], ignore_index=True)
        # Flows ("persons newly within T") have only a change: show them as 0 → change.
        flow = out["before"].isna() & out["after"].isna() & out["change"].notna()
        out.loc[flow, "before"] = 0.0
        out.loc[flow, "after"] = out.loc[flow, "change"]
        computed = out["after"] - out["before"]
        out["change"] = out["change"].where(out["change"].notna(), computed)
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.where(out["before"] != 0, computed / out["before"].abs() * 100.0, np.nan)
        out["pct_change"] = out["pct_change"].where(out["pct_change"].notna(), pct)
        return out[["metric", "before", "after", "change", "pct_change", "higher_is_better"]]

    def headline_table(self) -> str:
        """The plain-text table printed by the command line."""
        table = self.summary_table()
        lines = [self.scenario.name, "", self.comparison.headline(), ""]
        plan = self.plan
        new = plan.new_sites
        counts = new["type"].value_counts()
        lines.append(
            "Plan: "
            + ", ".join(f"{int(counts.get(t, 0))} {t}" for t in ("clinic", "robotic", "digital"))
            + f" added for a cost of {plan.cost:,.2f} ({plan.status}, gap {plan.gap:.2%}, "
            f"{plan.seconds:.1f} s)"
        )
        lines.append("")
        shown = table.drop(columns=["higher_is_better"])
        from accessplan.scenario.batch import format_table

        lines.append(format_table(shown))
        return "\n".join(lines)

    def write(self, out_dir: str | Path, *, replace: bool = False) -> dict[str, Path]:
        """Write every output into ``out_dir`` and return the paths by name.

        The folder appears complete (with ``manifest.json``) or not at all; one that already
        holds files is refused unless ``replace`` is true. See
        :func:`accessplan.outputs.write_outputs`.
        """
        from accessplan.outputs import write_outputs

        return write_outputs(self, Path(out_dir), replace=replace)


def _weighted_nanmean(values: pd.Series, weights: pd.Series) -> float:
    v = values.to_numpy(float)
    w = weights.to_numpy(float)
    ok = np.isfinite(v)
    return float(np.average(v[ok], weights=w[ok])) if ok.any() and w[ok].sum() > 0 else float("nan")
