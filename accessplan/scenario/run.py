"""The stages of a scenario run: network → candidates → travel times → before → plan → after."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from accessplan.errors import ScenarioError
from accessplan.measures.registry import Measure, compute, get_measure
from accessplan.scenario.config import Scenario
from accessplan.scenario.inputs import Inputs, read_inputs
from accessplan.scenario.result import Result
from accessplan.supply import clinicians_to_persons, persons_to_clinicians

if TYPE_CHECKING:
    from collections.abc import Iterator

    import networkx as nx
    from distributed import Client

    from accessplan.comparison import Comparison
    from accessplan.network import RoutingGraph
    from accessplan.optimize import Plan, SupplyOption
    from accessplan.traveltimes import TravelTimes

__all__ = ["Runner", "measure_params", "supply_options"]

#: Where each measure parameter is read from in the scenario: (section, key).
MEASURE_PARAM_KEYS: dict[str, tuple[str, str]] = {
    "standard": ("plan", "standard"),
    "digital_access": ("access", "digital_access"),
    "effectiveness": ("access", "effectiveness"),
}


@contextmanager
def _stage(timings: dict[str, float], name: str, progress: bool) -> Iterator[None]:
    if progress:
        print(f"[accessplan] {name} ...", flush=True)
    t0 = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - t0
    if progress:
        print(f"[accessplan] {name}: {timings[name]:.1f} s", flush=True)


def measure_params(measure: Measure, cfg: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The parameters ``measure`` takes, read from the scenario keys of the same name."""
    params = {}
    for name in measure.params:
        if name not in MEASURE_PARAM_KEYS:
            raise ScenarioError(
                f"measure {measure.name!r} takes {name!r}, which no scenario key provides; "
                f"scenario keys: {sorted(MEASURE_PARAM_KEYS)}."
            )
        section, key = MEASURE_PARAM_KEYS[name]
        params[name] = cfg[section][key]
    return params


def prepare_graph(cfg: dict[str, dict[str, Any]], graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """The routable network of the scenario's ``[network]`` keys."""
    from accessplan.network import prepare_network

    net = cfg["network"]
    return prepare_network(
        graph,
        net["mode"],
        speeds=net["speed_kph"],
        min_component_nodes=net["min_component_nodes"],
    )


class Runner:
    """The stages of :meth:`Scenario.run`, one method each.

    With a Dask ``client``, travel times and row-separable measures run as tasks on it
    (:mod:`accessplan.compute`), with the same results.
    """

    def __init__(self, scenario: Scenario, *, progress: bool, client: Client | None = None) -> None:
        self.scenario = scenario
        self.cfg = scenario.config
        self.progress = progress
        self.client = client
        self.timings: dict[str, float] = {}
        self.measure = get_measure(self.cfg["access"]["measure"])

    def run(self) -> Result:
        with _stage(self.timings, "inputs", self.progress):
            inputs = self._read_inputs()
        self._origins = inputs.population
        with _stage(self.timings, "network", self.progress):
            graph = self._prepare_graph(inputs)
        with _stage(self.timings, "candidates", self.progress):
            candidates = self._candidates(inputs, graph)
        with _stage(self.timings, "travel times", self.progress):
            tt_existing, tt_all = self._travel_times(graph, inputs, candidates)
        demand = inputs.population.set_index("id")["population"].astype(float)
        with _stage(self.timings, "baseline access", self.progress):
            supply_before = supply_table(inputs.facilities)
            before = self._access(tt_existing, demand, supply_before)
        with _stage(self.timings, "optimisation", self.progress):
            plan = self._plan(tt_all, demand, inputs.facilities, candidates)
        with _stage(self.timings, "access after", self.progress):
            facilities = facilities_after(
                inputs.facilities, candidates, plan, self.cfg["plan"]["persons_per_clinician"]
            )
            supply_after = supply_table(facilities)
            after = self._access(tt_all, demand, supply_after)
            minutes_before = nearest_minutes(tt_existing, supply_before)
            minutes_after = nearest_minutes(tt_all, supply_after)
            served_before = self._served(tt_existing, demand, supply_before)
            served_after = self._served(tt_all, demand, supply_after)
        with _stage(self.timings, "comparison", self.progress):
            comparison = self._compare(before, after, demand, minutes_before, minutes_after)
        cells = cells_table(inputs.cells, before, after, minutes_before, minutes_after)
        cells["served_before"] = served_before.reindex(cells["id"]).to_numpy()
        cells["served_after"] = served_after.reindex(cells["id"]).to_numpy()
        from accessplan.scenario.reach import reach_extras

        extras = reach_extras(
            self.cfg, tt_existing, tt_all, demand, cells, facilities, inputs.excluded
        )
        return Result(
            scenario=self.scenario,
            cells=cells,
            facilities=facilities,
            plan=plan,
            comparison=comparison,
            diagnostics=tt_all.diagnostics,
            timings=self.timings,
            attribution=inputs.attribution,
            context=_context_roads(graph),
            excluded=inputs.excluded,
            **extras,
        )

    # ---------------------------------------------------------------- stages
    def _read_inputs(self) -> Inputs:
        return read_inputs(self.cfg)

    def _prepare_graph(self, inputs: Inputs) -> nx.MultiDiGraph:
        return prepare_graph(self.cfg, inputs.graph)

    def _network(self, graph: nx.MultiDiGraph) -> nx.MultiDiGraph | RoutingGraph:
        """The network the travel times are routed on (the prepared graph)."""
        return graph

    def _candidates(self, inputs: Inputs, graph: nx.MultiDiGraph) -> gpd.GeoDataFrame:
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
        self, graph: nx.MultiDiGraph, inputs: Inputs, candidates: gpd.GeoDataFrame
    ) -> tuple[TravelTimes, TravelTimes]:
        from accessplan.traveltimes import travel_times

        net = self.cfg["network"]
        kw: dict[str, Any] = {
            "cutoff": net["cutoff"],
            "max_snap_m": net["max_snap_m"],
            "leg_speed_kph": net["leg_speed_kph"],
        }
        route: Any = travel_times
        if self.client is not None:
            from accessplan import compute

            route = compute.travel_times
            kw["client"] = self.client
            kw["block_facilities"] = self.cfg["compute"]["block_facilities"]
            kw["block_origins"] = self.cfg["compute"]["block_origins"]
        network = self._network(graph)
        existing = route(network, inputs.population, inputs.facilities, **kw)
        to_sites = route(network, inputs.population, candidates, **kw)
        both = existing.join_destinations(to_sites)
        both.diagnostics = pd.concat(
            {"existing facilities": existing.diagnostics, "candidate sites": to_sites.diagnostics}
        )
        return existing, both

    def _access(self, tt: TravelTimes, demand: pd.Series, supply: pd.DataFrame) -> pd.DataFrame:
        """The scenario's measure, from the registry, in its unit."""
        params = measure_params(self.measure, self.cfg)
        if self.client is not None:
            from accessplan import compute as on_cluster

            block = self.cfg["compute"]["block_origins"]
            return on_cluster.measure(
                self.measure, tt, demand, supply, client=self.client, block_origins=block, **params
            )
        return compute(self.measure, tt, demand, supply, **params)

    def _served(self, tt: TravelTimes, demand: pd.Series, supply: pd.DataFrame) -> pd.Series:
        """Persons served within the standard when each unit serves a limited number."""
        from accessplan.measures import capacity_limited_coverage

        acc, plan = self.cfg["access"], self.cfg["plan"]
        in_persons = supply.assign(
            capacity=clinicians_to_persons(supply["capacity"], plan["persons_per_clinician"])
        )
        result = capacity_limited_coverage(
            tt,
            demand,
            in_persons,
            plan["standard"],
            digital_access=acc["digital_access"],
            effectiveness=acc["effectiveness"],
        )
        return result.per_origin["covered"]

    def _plan(
        self,
        tt: TravelTimes,
        demand: pd.Series,
        facilities: gpd.GeoDataFrame,
        candidates: gpd.GeoDataFrame,
    ) -> Plan:
        from accessplan import optimize

        plan_cfg, eq = self.cfg["plan"], self.cfg["equity"]
        persons = plan_cfg["persons_per_clinician"]
        solve_kw = {
            "solver": plan_cfg["solver"],
            "time_limit": plan_cfg["time_limit"],
            "gap": plan_cfg["gap"] or None,
        }
        cand_ids = list(candidates["id"])
        if plan_cfg["model"] == "budget":
            options = supply_options(self.cfg)
            existing = pd.DataFrame(
                {
                    "id": facilities["id"].to_numpy(),
                    "type": facilities["type"].to_numpy(),
                    "standard": [type_standard(self.cfg, kind) for kind in facilities["type"]],
                    "capacity": clinicians_to_persons(
                        facilities["capacity"].to_numpy(float), persons
                    ),
                }
            )
            return optimize.budgeted_siting(
                tt,
                demand,
                options,
                plan_cfg["budget"],
                objective=plan_cfg["objective"],
                candidates=pd.DataFrame({"id": cand_ids}),
                existing=existing,
                travel_cap=eq["travel_cap"],
                min_zone_coverage=eq["min_zone_coverage"],
                unmet_spread=eq["unmet_spread"],
                **self._zones_kwargs(),
                **solve_kw,
            )
        existing_ids = list(facilities["id"])
        clinic = clinicians_to_persons(float(self.cfg["supply"]["clinic"]["capacity"]), persons)
        sites = pd.DataFrame({"id": cand_ids, "type": "clinic", "capacity": clinic})
        common = {"candidates": sites, "existing": existing_ids, **solve_kw}
        model, standard = plan_cfg["model"], self._clinic_standard()
        if model == "p_median":
            return optimize.p_median(tt, demand, plan_cfg["p"], **common)
        if model == "mclp":
            return optimize.mclp(tt, demand, plan_cfg["p"], standard, **common)
        if model == "lscp":
            return optimize.lscp(tt, demand, standard, **common)
        return optimize.p_center(tt, demand, plan_cfg["p"], **common)

    def _clinic_standard(self) -> float:
        """The standard of the single-type models: the clinic's own, else [plan] standard."""
        return type_standard(self.cfg, "clinic")

    def _zones(self) -> gpd.GeoDataFrame | None:
        eq = self.cfg["equity"]
        if not eq["zones"]:
            return None
        if not hasattr(self, "_zone_layer"):
            self._zone_layer = gpd.read_file(eq["zones"])
            if eq["zone_col"] not in self._zone_layer.columns:
                raise ScenarioError(
                    f"[equity] zone_col = {eq['zone_col']!r} is not a column of [equity] zones "
                    f"{eq['zones']!r} (columns: {[c for c in self._zone_layer.columns]}); set "
                    "[equity] zone_col."
                )
        return self._zone_layer

    def _zones_kwargs(self) -> dict[str, Any]:
        zones = self._zones()
        if zones is None:
            return {}
        return {
            "zones": zones,
            "zone_col": self.cfg["equity"]["zone_col"],
            "origins": self._origins.set_index("id"),
        }

    def _compare(
        self,
        before: pd.DataFrame,
        after: pd.DataFrame,
        demand: pd.Series,
        minutes_before: pd.Series,
        minutes_after: pd.Series,
    ) -> Comparison:
        from accessplan.comparison import compare

        return compare(
            before["total"],
            after["total"],
            demand,
            standard=self.cfg["plan"]["standard"],
            minutes_before=minutes_before,
            minutes_after=minutes_after,
            label=self.measure.headline,
            **self._zones_kwargs(),
        )


# ------------------------------------------------------------------------------ helpers
def supply_table(facilities: pd.DataFrame) -> pd.DataFrame:
    """Facilities as a measure's supply: ``id``, ``type``, ``capacity`` (clinicians)."""
    return pd.DataFrame(
        {
            "id": facilities["id"].to_numpy(),
            "type": facilities["type"].to_numpy(),
            "capacity": pd.to_numeric(facilities["capacity"]).to_numpy(float),
        }
    )


def type_standard(cfg: dict[str, dict[str, Any]], kind: str) -> float:
    """Standard of a supply type, minutes: ``[supply.<type>] standard``, else ``[plan] standard``.

    NaN for digital supply (reached without travel).
    """
    if kind == "digital":
        return float("nan")
    own = cfg["supply"][kind].get("standard")
    return float(own if own is not None else cfg["plan"]["standard"])


def supply_options(cfg: dict[str, dict[str, Any]]) -> list[SupplyOption]:
    """The budget model's options: one per ``[plan] types``, capacity in persons.

    Each physical type's standard is its ``[supply.<type>] standard`` when set, else
    ``[plan] standard``; ``digital_access`` and ``effectiveness`` likewise fall back on
    ``[access]``.
    """
    from accessplan.optimize import SupplyOption

    plan, access, supply = cfg["plan"], cfg["access"], cfg["supply"]

    def own(spec: dict[str, Any], key: str, default: Any) -> Any:
        return spec[key] if spec.get(key) is not None else default

    options = []
    for kind in plan["types"]:
        spec = supply[kind]
        options.append(
            SupplyOption(
                type=kind,
                cost=float(spec["cost"]),
                capacity=clinicians_to_persons(
                    float(spec["capacity"]), plan["persons_per_clinician"]
                ),
                standard=None if kind == "digital" else type_standard(cfg, kind),
                digital_access=float(own(spec, "digital_access", access["digital_access"])),
                effectiveness=float(own(spec, "effectiveness", access["effectiveness"])),
            )
        )
    return options


def facilities_after(
    existing: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    plan: Plan,
    persons_per_clinician: float,
) -> gpd.GeoDataFrame:
    """Existing facilities plus the plan's new sites.

    Columns ``id``, ``name``, ``type``, ``capacity`` (clinicians), ``capacity_persons``
    (persons it serves), ``status`` (existing/new), ``cost``, ``assigned_population``
    (persons). A new site's capacity is the one the plan gave it (persons), in clinicians.
    """
    sites = plan.sites
    new = sites[~sites["existing"].astype(bool)]
    located = candidates.set_index("id").reindex(new.index)
    persons = pd.to_numeric(new["capacity"]).to_numpy(float)
    added = gpd.GeoDataFrame(
        {
            "id": new.index.astype(str),
            "name": [f"New {t} ({i})" for t, i in zip(new["type"], new.index, strict=True)],
            "type": new["type"].to_numpy(),
            "capacity": persons_to_clinicians(persons, persons_per_clinician),
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
    out = gpd.GeoDataFrame(pd.concat([old[keep], added[keep]], ignore_index=True), crs=old.crs)
    out.insert(
        4,
        "capacity_persons",
        clinicians_to_persons(out["capacity"].astype(float), persons_per_clinician),
    )
    return out


def nearest_minutes(tt: TravelTimes, supply: pd.DataFrame) -> pd.Series:
    """Minutes to the nearest physical facility (NaN: none reachable within the cutoff)."""
    from accessplan.measures import nearest

    minutes = nearest(tt, supply)
    return minutes["total"] if isinstance(minutes, pd.DataFrame) else minutes


def cells_table(
    cells: gpd.GeoDataFrame,
    before: pd.DataFrame,
    after: pd.DataFrame,
    minutes_before: pd.Series,
    minutes_after: pd.Series,
) -> gpd.GeoDataFrame:
    """Per cell: the measure before/after (its unit), change, per-type parts, minutes."""
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
    graph: nx.MultiDiGraph, classes: Sequence[str] = ("trunk", "primary", "secondary", "tertiary")
) -> gpd.GeoDataFrame | None:
    """Main roads as lines (for the map's context layer), in EPSG:4326."""
    from shapely.geometry import LineString

    from accessplan.network import first_tag

    lines, kinds = [], []
    for u, v, d in graph.edges(data=True):
        hwy = first_tag(d.get("highway"))
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
