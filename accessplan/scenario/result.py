"""The :class:`Result` of a scenario run and its summary tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from accessplan.measures.registry import Measure, get_measure
from accessplan.reach import NO_FACILITY_ON_NETWORK, NO_FACILITY_WITHIN_CUTOFF, TOO_FAR_FROM_ROAD
from accessplan.scenario.config import Scenario

if TYPE_CHECKING:
    from accessplan.comparison import Comparison
    from accessplan.optimize import Plan

__all__ = ["MEAN_METRIC", "SERVED_METRIC", "Result", "metric_rows"]

#: Summary row of the persons served within the standard (capacity-limited coverage).
SERVED_METRIC = "Persons served within the standard, capacity-limited (persons)"
#: Summary row of the measure's population-weighted mean starts with this.
MEAN_METRIC = "Access, population-weighted mean"


def metric_rows(measure: Measure) -> dict[str, tuple[str, bool]]:
    """Display name and direction (higher is better?) of each row of a comparison summary.

    Rows about the measure's values take the measure's unit and direction; inequality indices
    and "not reached" are better lower; persons within the standard better higher.
    """
    unit, better = measure.unit, measure.higher_is_better
    return {
        "population-weighted mean": (f"{MEAN_METRIC} ({unit})", better),
        "median": (f"Access, median ({unit})", better),
        "p10": (f"Access, 10th percentile ({unit})", better),
        "p90": (f"Access, 90th percentile ({unit})", better),
        "gini": ("Gini coefficient of access", False),
        "theil_t": ("Theil T index of access", False),
        "palma": ("Palma ratio of access", False),
        "persons not reached": (NOT_REACHED_METRIC, False),
    }


#: Summary row of the persons who reach no physical facility, from the reach accounting.
NOT_REACHED_METRIC = (
    "Persons reaching no facility by road (too far from a road, no facility on their road "
    "network, or none within the cutoff)"
)
#: Reach categories of the persons who reach no physical facility.
NOT_REACHED = (TOO_FAR_FROM_ROAD, NO_FACILITY_ON_NETWORK, NO_FACILITY_WITHIN_CUTOFF)


def _direction(key: str) -> bool:
    """Direction of the rows about the standard (their names carry the minutes)."""
    return not key.startswith(("persons no longer within", "persons below"))


@dataclass
class Result:
    """Everything a scenario produced.

    Attributes
    ----------
    scenario
        The scenario that was run.
    cells
        One row per population cell (polygons): ``id``, ``population`` (persons),
        ``before``/``after``/``change``/``pct_change`` (the measure in its unit, see
        :attr:`measure`, and the per-type ``after_*`` parts), ``minutes_before``/
        ``minutes_after`` (to the nearest physical facility, NaN beyond the cutoff),
        ``served_before``/``served_after`` (persons, capacity-limited) and
        ``reach_before``/``reach_after`` (reach category of each cell).
    facilities
        Existing and new facilities: ``id``, ``name``, ``type``, ``capacity`` (clinicians),
        ``capacity_persons`` (persons it serves), ``status`` (existing/new), ``cost``,
        ``assigned_population`` (persons).
    plan
        The :class:`~accessplan.optimize.Plan` chosen by the location model (its site
        capacities are in persons).
    comparison
        The :class:`~accessplan.comparison.Comparison` of before and after.
    diagnostics
        Snapping and reachability counts of the travel-time runs.
    timings
        Seconds spent in each stage.
    accounting
        One row per reach category (``category``): ``persons``, ``share``, ``origins`` after
        the plan and ``persons_before``, ``share_before``, ``origins_before``; every person
        is in exactly one row (see :func:`accessplan.scenario.reach.reach_extras`).
    components
        Persons and facilities per road-network component.
    warnings
        Plain-language warnings (persons unreached, facilities left out...).
    excluded
        Facility rows left out of the study, with their ``reason``.
    """

    scenario: Scenario
    cells: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    plan: Plan
    comparison: Comparison
    diagnostics: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    attribution: str = ""
    context: gpd.GeoDataFrame | None = None
    accounting: pd.DataFrame | None = None
    components: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def measure(self) -> Measure:
        """The registry entry of the measure that ran (unit, label, direction, headline)."""
        return get_measure(self.scenario.config["access"]["measure"])

    def summary_table(self) -> pd.DataFrame:
        """Headline metrics: ``metric``, ``before``, ``after``, ``change``, ``pct_change``,
        ``higher_is_better`` (from the measure's registry entry for the access rows)."""
        summary = self.comparison.summary.reset_index()
        summary = summary.rename(columns={summary.columns[0]: "metric"})
        rows = metric_rows(self.measure)
        keys = summary["metric"].tolist()
        summary["metric"] = [rows[k][0] if k in rows else k for k in keys]
        summary["higher_is_better"] = [rows[k][1] if k in rows else _direction(k) for k in keys]
        extra = pd.DataFrame(
            [
                {
                    "metric": SERVED_METRIC,
                    "before": float(self.cells["served_before"].sum()),
                    "after": float(self.cells["served_after"].sum()),
                    "higher_is_better": True,
                },
                {
                    "metric": "Mean travel time to the nearest facility, persons reached (minutes)",
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
        if self.accounting is not None:
            # Every unreached person, whatever the measure gives them (a 2SFCA value of 0 for
            # a cell off the road network, NaN minutes for the nearest facility ...).
            unreached = self.accounting[self.accounting["category"].isin(NOT_REACHED)]
            row = out["metric"] == NOT_REACHED_METRIC
            out.loc[row, ["before", "after"]] = [
                float(unreached["persons_before"].sum()),
                float(unreached["persons"].sum()),
            ]
            out.loc[row, ["change", "pct_change"]] = np.nan
        # Flows ("persons newly within T") have only a change: show them as 0 → change.
        flow = out["before"].isna() & out["after"].isna() & out["change"].notna()
        out.loc[flow, "before"] = 0.0
        out.loc[flow, "after"] = out.loc[flow, "change"]
        computed = out["after"] - out["before"]
        out["change"] = out["change"].where(out["change"].notna(), computed)
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.where(out["before"] != 0, computed / out["before"].abs() * 100.0, np.nan)
        out["pct_change"] = out["pct_change"].where(out["pct_change"].notna(), pct)
        out["higher_is_better"] = out["higher_is_better"].astype(bool)
        return out[["metric", "before", "after", "change", "pct_change", "higher_is_better"]]

    def headline_table(self) -> str:
        """The plain-text table printed by the command line."""
        from accessplan.scenario.batch import format_table

        table = self.summary_table()
        lines = [self.scenario.name, "", self.comparison.headline(), ""]
        plan = self.plan
        counts = plan.new_sites["type"].value_counts()
        lines.append(
            "Plan: "
            + ", ".join(_count_units(int(counts.get(t, 0)), t) for t in UNIT_NAMES)
            + f" added for a cost of {plan.cost:,.2f} ({plan.status}, gap {plan.gap:.2%}, "
            f"{plan.seconds:.1f} s)"
        )
        if self.warnings:
            lines += ["", *(f"Warning: {w}" for w in self.warnings)]
        lines.append("")
        lines.append(format_table(table.drop(columns=["higher_is_better"])))
        return "\n".join(lines)

    def diagnostics_table(self) -> pd.DataFrame:
        """Every diagnostic of the run in one long table (written as ``diagnostics.csv``).

        Columns ``section``, ``item``, ``field``, ``value``. Sections:

        - ``persons``: one item per reach category, fields ``persons_before``,
          ``share_before``, ``persons_after``, ``share_after`` (persons, 0–1); the categories
          add up to the total population, so every person is counted once;
        - ``network component``: one item per road-network component (and "not on the
          network"), fields ``nodes``, ``origins``, ``persons``, ``facilities``,
          ``persons_within_standard`` (and their ``*_after`` values);
        - ``snapping``: one item per travel-time run and side (e.g. "existing facilities /
          origins"), fields as in :attr:`diagnostics` (points, persons, snap distances in
          metres, walking legs in minutes);
        - ``excluded facility``: one item per facility row left out, fields ``row``, ``id``,
          ``name``, ``reason``, ``x``, ``y`` (coordinates as given in the file);
        - ``warning``: one item per warning, field ``text``.
        """
        rows: list[tuple[str, str, str, object]] = []
        if self.accounting is not None:
            for _, r in self.accounting.iterrows():
                for field_name, column in (
                    ("persons_before", "persons_before"),
                    ("share_before", "share_before"),
                    ("persons_after", "persons"),
                    ("share_after", "share"),
                ):
                    rows.append(("persons", str(r["category"]), field_name, r[column]))
        if self.components is not None:
            for _, r in self.components.iterrows():
                for column in self.components.columns.drop("component"):
                    rows.append(("network component", str(r["component"]), column, r[column]))
        for index, r in self.diagnostics.iterrows():
            item = " / ".join(map(str, index)) if isinstance(index, tuple) else str(index)
            for column in self.diagnostics.columns:
                rows.append(("snapping", item, str(column), r[column]))
        for _, r in self.excluded.iterrows():
            item = f"row {r['row']}" if "row" in r else str(r.get("id"))
            for column in ("row", "id", "name", "reason", "x", "y"):
                if column in r:
                    rows.append(("excluded facility", item, column, r[column]))
        for k, text in enumerate(self.warnings, start=1):
            rows.append(("warning", str(k), "text", text))
        return pd.DataFrame(rows, columns=["section", "item", "field", "value"])

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


#: Supply types in the order the plan line lists them, with their plural names.
UNIT_NAMES: dict[str, str] = {
    "clinic": "clinics",
    "robotic": "robotic units",
    "digital": "digital hubs",
}


def _count_units(count: int, unit_type: str) -> str:
    """ "1 clinic", "2 clinics", "0 robotic units"."""
    singular = {"clinic": "clinic", "robotic": "robotic unit", "digital": "digital hub"}
    return f"{count} {singular[unit_type] if count == 1 else UNIT_NAMES[unit_type]}"
