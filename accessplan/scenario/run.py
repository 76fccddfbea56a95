"""The stages of a scenario run: network → candidates → travel times → before → plan → after."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from accessplan.errors import ScenarioError
from accessplan.scenario.config import Scenario
from accessplan.scenario.inputs import Inputs, read_inputs
from accessplan.scenario.result import PER_PERSONS, Result

__all__ = ["Runner"]


@contextmanager
def _stage(timings: dict[str, float], name: str, progress: bool) -> Any:
    if progress:
        print(f"[accessplan] {name} ...", flush=True)
    t0 = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - t0
    if progress:
        print(f"[accessplan] {name}: {timings[name]:.1f} s", flush=True)


class Runner:
    """The stages of :meth:`Scenario.run`, one method each."""

    def __init__(self, scenario: Scenario, *, progress: bool) -> None:
        self.scenario = scenario
        self.cfg = scenario.config
        self.progress = progress
        self.timings: dict[str, float] = {}

    def run(self) -> Result:
        from accessplan.network import prepare_network

        with _stage(self.timings, "inputs", self.progress):
            inputs = read_inputs(self.cfg)
        self._origins = inputs.population
        net = self.cfg["network"]
        with _stage(self.timings, "network", self.progress):
            graph = prepare_network(inputs.graph, net["mode"], speeds=net["speed_kph"])
        with _stage(self.timings, "candidates", self.progress):
            candidates = self._candidates(inputs, graph)
        with _stage(self.timings, "travel times", self.progress):
            tt_existing, tt_all = self._travel_times(graph, inputs, candidates)
        demand = inputs.population.set_index("id")["population"].astype(float)
        with _stage(self.timings, "baseline access", self.progress):
            supply_before = _supply_table(inputs.facilities)
            before = self._access(tt_existing, demand, supply_before)
        with _stage(self.timings, "optimisation", self.progress):
            plan = self._plan(tt_all, demand, inputs.facilities, candidates)
        with _stage(self.timings, "access after", self.progress):
            facilities = _facilities_after(inputs.facilities, candidates, plan, self.cfg["supply"])
            supply_after = _supply_table(facilities)
            after = self._access(tt_all, demand, supply_after)
            minutes_before = _nearest_minutes(tt_existing, supply_before)
            minutes_after = _nearest_minutes(tt_all, supply_after)
            served_before = self._served(tt_existing, demand, supply_before)
            served_after = self._served(tt_all, demand, supply_after)
        with _stage(self.timings, "comparison", self.progress):
            comparison = self._compare(before, after, demand, minutes_before, minutes_after)
        cells = _cells_table(inputs.cells, before, after, minutes_before, minutes_after)
        cells["served_before"] = served_before.reindex(cells["id"]).to_numpy()
        cells["served_after"] = served_after.reindex(cells["id"]).to_numpy()
        diagnostics = tt_all.diagnostics
        return Result(
            scenario=self.scenario,
            cells=cells,
            facilities=facilities,
            plan=plan,
            comparison=comparison,
            diagnostics=diagnostics,
            timings=self.timings,
            attribution=inputs.attribution,
            context=_context_roads(graph),
        )

    # ---------------------------------------------------------------- stages

    def _candidates(self, inputs: Inputs, graph: Any) -> gpd.GeoDataFrame:
        from accessplan.network import routing_graph
        from accessplan.optimize import candidates as cand

        plan = self.cfg["plan"]
        routing = routing_graph(graph)
        crs = routing.crs
        if inputs.candidates is not None and len(inputs.candidates):
            sites = inputs.candidates.to_crs(crs)
        else:
            population = inputs.population.to_crs(crs)
            nodes = gpd.GeoDataFrame(
                geometry=gpd.points_from_xy(routing.xy[:, 0], routing.xy[:, 1]), crs=crs
            )
            n = int(plan["n_candidates"])
            method = plan["candidates"]
            if method == "kmeans":
                populated = int((population["population"] > 0).sum())
                sites = cand.kmeans_candidates(
                    population, min(n, populated), nodes=nodes, seed=self.cfg["scenario"]["seed"]
                )
            elif method == "cells":
                sites = cand.populated_cell_candidates(population)
                sites = sites.sort_values("population", ascending=False, kind="stable").head(n)
            else:
                x0, y0, x1, y1 = nodes.total_bounds
                spacing = max(float(np.sqrt((x1 - x0) * (y1 - y0) / n)), 1.0)
                sites = cand.network_node_candidates(nodes, spacing)
        if len(inputs.facilities) and plan["min_distance_m"] > 0:
            sites = cand.exclude_near(sites, inputs.facilities.to_crs(crs), plan["min_distance_m"])
        if len(sites) == 0:
            raise ScenarioError(
                "no candidate sites are left after excluding those near existing facilities; "
                "lower [plan] min_distance_m or raise n_candidates."
            )
        sites = sites.reset_index(drop=True)
        sites["id"] = [f"site_{i + 1:03d}" for i in range(len(sites))]
        sites["name"] = [f"Candidate site {i + 1}" for i in range(len(sites))]
        return sites[["id", "name", "geometry"]]

    def _travel_times(
        self, graph: Any, inputs: Inputs, candidates: gpd.GeoDataFrame
    ) -> tuple[Any, Any]:
        from accessplan.traveltimes import travel_times

        net = self.cfg["network"]
        kw = {
            "cutoff": net["cutoff"],
            "max_snap_m": net["max_snap_m"],
            "leg_speed_kph": net["leg_speed_kph"],
        }
        existing = travel_times(graph, inputs.population, inputs.facilities, **kw)
        to_sites = travel_times(graph, inputs.population, candidates, **kw)
        both = existing.join_destinations(to_sites)
        both.diagnostics = pd.concat(
            {"existing facilities": existing.diagnostics, "candidate sites": to_sites.diagnostics}
        )
        return existing, both

    def _access(self, tt: Any, demand: pd.Series, supply: pd.DataFrame) -> pd.DataFrame:
        from accessplan import measures

        acc = self.cfg["access"]
        kw = {"digital_access": acc["digital_access"], "effectiveness": acc["effectiveness"]}
        name = acc["measure"]
        if name == "two_step_fca":
            values = measures.two_step_fca(tt, demand, supply, acc["catchment"], **kw)
        elif name == "enhanced_two_step_fca":
            steps = {
                acc["catchment"] / 3: 1.0,
                2 * acc["catchment"] / 3: 0.68,
                acc["catchment"]: 0.22,
            }
            values = measures.enhanced_two_step_fca(tt, demand, supply, steps=steps, **kw)
        elif name == "three_step_fca":
            steps = {
                acc["catchment"] / 3: 1.0,
                2 * acc["catchment"] / 3: 0.68,
                acc["catchment"]: 0.22,
            }
            values = measures.three_step_fca(tt, demand, supply, steps=steps, **kw)
        elif name == "gravity":
            decay = measures.gaussian_decay(acc["catchment"] / 2)
            values = measures.gravity(tt, supply, decay, **kw)
        elif name == "cumulative":
            values = measures.cumulative(tt, supply, acc["catchment"], **kw)
        else:
            minutes = measures.nearest(tt, supply=supply)
            return minutes if isinstance(minutes, pd.DataFrame) else minutes.to_frame("total")
        scale = PER_PERSONS if name.endswith("fca") else 1.0
        if isinstance(values, pd.Series):
            values = values.to_frame("total")
        return values * scale

    def _served(self, tt: Any, demand: pd.Series, supply: pd.DataFrame) -> pd.Series:
        """Persons served within the standard when each unit serves a limited number."""
        from accessplan.measures import capacity_limited_coverage

        acc, plan = self.cfg["access"], self.cfg["plan"]
        in_persons = supply.assign(
            capacity=supply["capacity"] * float(plan["persons_per_clinician"])
        )
        result = capacity_limited_coverage(
            tt,
            demand,
            in_persons,
            within=plan["standard"],
            digital_access=acc["digital_access"],
            effectiveness=acc["effectiveness"],
        )
        return result.per_origin["covered"]

    def _plan(
        self,
        tt: Any,
        demand: pd.Series,
        facilities: gpd.GeoDataFrame,
        candidates: gpd.GeoDataFrame,
    ) -> Any:
        from accessplan import optimize

        plan_cfg, acc, eq = self.cfg["plan"], self.cfg["access"], self.cfg["equity"]
        persons = float(plan_cfg["persons_per_clinician"])
        solve_kw = {
            "solver": plan_cfg["solver"],
            "time_limit": plan_cfg["time_limit"],
            "gap": plan_cfg["gap"] or None,
        }
        cand_ids = list(candidates["id"])
        if plan_cfg["model"] == "budget":
            options = _supply_options(self.cfg["supply"], plan_cfg, acc, persons)
            existing = pd.DataFrame(
                {
                    "id": facilities["id"].to_numpy(),
                    "type": facilities["type"].to_numpy(),
                    "capacity": facilities["capacity"].to_numpy(float) * persons,
                }
            )
            zones_kw = self._zones_kwargs()
            return optimize.budgeted_siting(
                tt,
                demand,
                options,
                plan_cfg["budget"],
                objective=plan_cfg["objective"],
                candidates=cand_ids,
                existing=existing,
                max_minutes=eq["max_minutes"],
                min_zone_coverage=eq["min_zone_coverage"],
                unmet_spread=eq["gamma"],
                **zones_kw,
                **solve_kw,
            )
        existing_ids = list(facilities["id"])
        sites = pd.DataFrame({"id": cand_ids, "type": "clinic"})
        common = {"candidates": sites, "existing": existing_ids, **solve_kw}
        model = plan_cfg["model"]
        if model == "p_median":
            return optimize.p_median(tt, demand, plan_cfg["p"], **common)
        if model == "mclp":
            return optimize.mclp(tt, demand, plan_cfg["p"], plan_cfg["standard"], **common)
        if model == "lscp":
            return optimize.lscp(tt, demand, plan_cfg["standard"], **common)
        return optimize.p_center(tt, demand, plan_cfg["p"], **common)

    def _zones_kwargs(self) -> dict[str, Any]:
        eq = self.cfg["equity"]
        if not eq["zones"]:
            return {}
        zones = gpd.read_file(eq["zones"])
        return {"zones": zones, "zone_col": eq["zone_col"], "origins": self._origins}

    def _compare(
        self,
        before: pd.DataFrame,
        after: pd.DataFrame,
        demand: pd.Series,
        minutes_before: pd.Series,
        minutes_after: pd.Series,
    ) -> Any:
        from accessplan.equity import compare

        return compare(
            before["total"],
            after["total"],
            demand,
            within=self.cfg["plan"]["standard"],
            minutes_before=minutes_before,
            minutes_after=minutes_after,
            label="accessibility",
        )


def _supply_table(facilities: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": facilities["id"].to_numpy(),
            "type": facilities["type"].to_numpy(),
            "capacity": pd.to_numeric(facilities["capacity"]).to_numpy(float),
        }
    )


def _supply_options(
    supply: dict[str, dict[str, Any]], plan: dict[str, Any], access: dict[str, Any], persons: float
) -> list[Any]:
    from accessplan.optimize import SupplyOption

    options = []
    for kind in plan["types"]:
        spec = supply[kind]
        options.append(
            SupplyOption(
                type=kind,
                cost=float(spec["cost"]),
                capacity=float(spec["capacity"]) * persons,
                standard_minutes=None
                if kind == "digital"
                else float(spec.get("standard") or plan["standard"]),
                digital_access=float(spec.get("digital_access") or access["digital_access"]),
                effectiveness=float(spec.get("effectiveness") or access["effectiveness"]),
            )
        )
    return options


def _facilities_after(
    existing: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    plan: Any,
    supply: dict[str, dict[str, Any]],
) -> gpd.GeoDataFrame:
    """Existing facilities plus the plan's new sites, with type, capacity (clinicians), cost."""
    sites = plan.sites
    new = sites[~sites["existing"].astype(bool)]
    located = candidates.set_index("id").reindex(new.index)
    added = gpd.GeoDataFrame(
        {
            "id": new.index.astype(str),
            "name": [f"New {t} ({i})" for t, i in zip(new["type"], new.index, strict=True)],
            "type": new["type"].to_numpy(),
            "capacity": [float(supply[t]["capacity"]) for t in new["type"]],
            "status": "new",
            "cost": new["cost"].to_numpy(float),
            "assigned_population": new.get(
                "assigned_population", pd.Series(np.nan, index=new.index)
            ).to_numpy(float),
        },
        geometry=located.geometry.to_numpy(),
        crs=candidates.crs,
    )
    old = existing.copy()
    old["cost"] = 0.0
    assigned = sites["assigned_population"] if "assigned_population" in sites.columns else None
    old["assigned_population"] = (
        assigned.reindex(old["id"]).to_numpy(float) if assigned is not None else np.nan
    )
    added = added.to_crs(old.crs)
    keep = ["id", "name", "type", "capacity", "status", "cost", "assigned_population", "geometry"]
    return gpd.GeoDataFrame(pd.concat([old[keep], added[keep]], ignore_index=True), crs=old.crs)


def _nearest_minutes(tt: Any, supply: pd.DataFrame) -> pd.Series:
    from accessplan.measures import nearest

    minutes = nearest(tt, supply=supply)
    return minutes["total"] if isinstance(minutes, pd.DataFrame) else minutes


def _cells_table(
    cells: gpd.GeoDataFrame,
    before: pd.DataFrame,
    after: pd.DataFrame,
    minutes_before: pd.Series,
    minutes_after: pd.Series,
) -> gpd.GeoDataFrame:
    out = cells[["id", "population", "geometry"]].copy()
    ids = out["id"]
    out["before"] = before["total"].reindex(ids).to_numpy()
    out["after"] = after["total"].reindex(ids).to_numpy()
    out["change"] = out["after"] - out["before"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pct_change"] = np.where(
            out["before"] > 0, out["change"] / out["before"] * 100.0, np.nan
        )
    for col in ("clinic", "robotic", "digital"):
        if col in after.columns:
            out[f"after_{col}"] = after[col].reindex(ids).to_numpy()
    out["minutes_before"] = minutes_before.reindex(ids).to_numpy()
    out["minutes_after"] = minutes_after.reindex(ids).to_numpy()
    return out


def _context_roads(
    graph: Any, classes: Sequence[str] = ("trunk", "primary", "secondary", "tertiary")
) -> gpd.GeoDataFrame | None:
    """Main roads as lines (for the map's context layer), in EPSG:4326."""
    from shapely.geometry import LineString

    lines, kinds = [], []
    for u, v, d in graph.edges(data=True):
        hwy = d.get("highway")
        hwy = hwy[0] if isinstance(hwy, list) else hwy
        if hwy not in classes or u > v:
            continue
        geom = d.get("geometry")
        if geom is None:
            a, b = graph.nodes[u], graph.nodes[v]
            geom = LineString([(a["x"], a["y"]), (b["x"], b["y"])])
        lines.append(geom)
        kinds.append(hwy)
    if not lines:
        return None
    roads = gpd.GeoDataFrame({"highway": kinds}, geometry=lines, crs=graph.graph["crs"])
    return roads.to_crs("EPSG:4326")
