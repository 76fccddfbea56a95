"""The preflight of a scenario: read its inputs and prepare its network, in seconds.

:meth:`accessplan.scenario.Scenario.check` returns a :class:`ScenarioCheck`: no travel-time
matrix is computed, only the snapping of the population and the facilities to the network,
so that a planner learns before a long run what each input holds, which road component each
person and facility is on, how far the points are from the road, what was left out, and any
error that would stop the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from accessplan.errors import AccessplanError

if TYPE_CHECKING:
    import networkx as nx

    from accessplan.network import RoutingGraph
    from accessplan.scenario.config import Scenario
    from accessplan.snapping import Snapped

__all__ = ["ScenarioCheck", "check_scenario"]


@dataclass
class ScenarioCheck:
    """What :meth:`Scenario.check` found.

    Attributes
    ----------
    source
        The scenario file (or ``"code"``).
    crs
        CRS of each input as read (``roads``, ``population``, ``facilities``, ``candidates``)
        and of the prepared network (``network``), as text (e.g. ``"EPSG:32738"``).
    counts
        Numbers: ``cells`` (population cells), ``persons``, ``facilities`` (kept),
        ``excluded_facilities``, ``network_nodes``, ``network_components``,
        ``candidates`` (a candidates file's sites; generated candidates are not counted).
    components
        Per network component (largest first) and a last row ``"not on the network"`` (points
        farther than ``[network] max_snap_m`` from every road): ``cells``, ``persons``,
        ``facilities``.
    snapping
        Per input (``population``, ``facilities``): ``points``, ``too_far`` (beyond
        ``[network] max_snap_m``), and the distance to the nearest road node in metres:
        ``max_m``, ``p50_m``, ``p90_m``, ``p99_m``.
    excluded
        Facility rows left out, with their ``reason``.
    warnings, errors
        Plain-language sentences; any error means the run would fail.
    """

    source: str
    crs: dict[str, str] = field(default_factory=dict)
    counts: dict[str, float] = field(default_factory=dict)
    components: pd.DataFrame = field(default_factory=pd.DataFrame)
    snapping: pd.DataFrame = field(default_factory=pd.DataFrame)
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing would stop the run."""
        return not self.errors

    def text(self) -> str:
        """A plain-text report of the check."""
        from accessplan.scenario.batch import format_table

        lines = [f"Scenario check: {self.source}", ""]
        if self.crs:
            lines += ["CRS: " + ", ".join(f"{k} {v}" for k, v in self.crs.items()), ""]
        if self.counts:
            lines += ["Counts: " + ", ".join(f"{k} {v:,.0f}" for k, v in self.counts.items()), ""]
        for title, table in (
            ("Persons and facilities per road-network component", self.components),
            ("Distance to the road network (metres)", self.snapping),
            ("Facility rows left out", _brief(self.excluded)),
        ):
            if len(table):
                lines += [title, format_table(table.reset_index()), ""]
        lines += [f"Warning: {w}" for w in self.warnings]
        lines += [f"Error: {e}" for e in self.errors]
        lines.append("OK: the scenario can run." if self.ok else "The scenario cannot run.")
        return "\n".join(lines)


def _brief(excluded: pd.DataFrame) -> pd.DataFrame:
    """The columns of the excluded rows a reader needs: row, id, name, reason."""
    keep = [c for c in ("row", "id", "name", "reason") if c in excluded.columns]
    return excluded[keep].set_index(keep[0]) if keep else excluded


def _crs_text(crs: Any) -> str:
    if crs is None:
        return "none"
    import pyproj

    crs = pyproj.CRS.from_user_input(crs)
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _snap_table(snapped: dict[str, Snapped]) -> pd.DataFrame:
    rows = {}
    for name, s in snapped.items():
        d = s.distance_m[np.isfinite(s.distance_m)]
        q = np.percentile(d, [50, 90, 99]) if d.size else [np.nan] * 3
        rows[name] = {
            "points": len(s.ids),
            "too_far": int(s.too_far.sum()),
            "max_m": float(d.max()) if d.size else np.nan,
            "p50_m": float(q[0]),
            "p90_m": float(q[1]),
            "p99_m": float(q[2]),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "input"
    return table


def _component_table(
    graph: nx.MultiDiGraph, routing: RoutingGraph, snapped: dict[str, Snapped]
) -> pd.DataFrame:
    from accessplan.reach import NOT_ON_NETWORK

    component = np.array(
        [graph.nodes[n].get("component", 0) for n in routing.node_ids], dtype=np.int64
    )
    pop, fac = snapped["population"], snapped["facilities"]
    pop_comp = np.where(pop.too_far, -1, component[pop.node])
    fac_comp = np.where(fac.too_far, -1, component[fac.node]) if len(fac.ids) else np.zeros(0)
    persons = pop.persons if pop.persons is not None else np.zeros(len(pop.ids))
    records = []
    for c in [*range(int(component.max()) + 1), -1]:
        records.append(
            {
                "component": NOT_ON_NETWORK if c < 0 else c,
                "nodes": int((component == c).sum()) if c >= 0 else 0,
                "cells": int((pop_comp == c).sum()),
                "persons": float(persons[pop_comp == c].sum()),
                "facilities": int((fac_comp == c).sum()),
            }
        )
    return pd.DataFrame.from_records(records).set_index("component")


def check_scenario(scenario: Scenario) -> ScenarioCheck:
    """Read the inputs, prepare the network and snap the points; see :class:`ScenarioCheck`."""
    from accessplan.network import routing_graph
    from accessplan.scenario.inputs import read_inputs
    from accessplan.scenario.reach import excluded_warning
    from accessplan.scenario.run import prepare_graph
    from accessplan.snapping import snap_points

    cfg = scenario.config
    report = ScenarioCheck(source=scenario.source)
    try:
        inputs = read_inputs(cfg)
        report.crs = {
            "roads": _crs_text(inputs.graph.graph.get("crs")),
            "population": _crs_text(inputs.population.crs),
            "facilities": _crs_text(inputs.facilities.crs),
        }
        if inputs.candidates is not None:
            report.crs["candidates"] = _crs_text(inputs.candidates.crs)
        report.excluded = inputs.excluded
        graph = prepare_graph(cfg, inputs.graph)
        routing = routing_graph(graph)
        report.crs["network"] = _crs_text(routing.crs)
        net = cfg["network"]
        kw = {"max_snap_m": net["max_snap_m"], "leg_speed_kph": net["leg_speed_kph"]}
        snapped = {
            "population": snap_points(inputs.population, routing, what="population", **kw),
            "facilities": snap_points(
                inputs.facilities, routing, population_col=None, what="facilities", **kw
            ),
        }
    except AccessplanError as exc:
        report.errors.append(str(exc))
        return report
    report.snapping = _snap_table(snapped)
    report.components = _component_table(graph, routing, snapped)
    report.counts = {
        "cells": len(inputs.population),
        "persons": float(inputs.population["population"].sum()),
        "facilities": len(inputs.facilities),
        "excluded_facilities": len(inputs.excluded),
        "network_nodes": len(routing.node_ids),
        "network_components": int(len(report.components) - 1),
    }
    if inputs.candidates is not None:
        report.counts["candidates"] = len(inputs.candidates)
    report.warnings = _warnings(report, cfg)
    if len(inputs.excluded):
        report.warnings.append(excluded_warning(inputs.excluded))
    if len(inputs.facilities) == 0:
        report.warnings.append("no existing facilities: every person starts unreached.")
    return report


def _warnings(report: ScenarioCheck, cfg: dict[str, dict[str, Any]]) -> list[str]:
    out = []
    comp = report.components
    total = float(comp["persons"].sum())
    off = comp.iloc[-1]
    if off["persons"] > 0:
        out.append(
            f"{off['persons']:,.0f} persons ({off['persons'] / total:.1%}) live more than "
            f"{cfg['network']['max_snap_m']:,.0f} m from any road: they will not be routed; raise "
            "[network] max_snap_m or check the road data covers them."
        )
    lonely = comp.iloc[:-1]
    lonely = lonely[(lonely["persons"] > 0) & (lonely["facilities"] == 0)]
    if len(lonely):
        persons = float(lonely["persons"].sum())
        out.append(
            f"{persons:,.0f} persons live on {len(lonely)} road component(s) without a "
            "facility: none is reachable from there by road before the plan."
        )
    far = report.snapping.loc["facilities", "too_far"] if len(report.snapping) else 0
    if far:
        out.append(
            f"{int(far)} facilities are more than {cfg['network']['max_snap_m']:,.0f} m from any "
            "road: nobody reaches them by road."
        )
    return out
