"""Scenarios end to end: inputs → network → travel times → baseline → plan → after → outputs.

A :class:`Scenario` holds a validated configuration (from a TOML file, see
:mod:`accessplan.scenario_schema`, or built in code). :meth:`Scenario.run` returns a
:class:`Result` holding the baseline, the plan, the situation after, and the before/after
comparison; :meth:`Result.write` writes the outputs a planner hands on (GeoPackage, CSV, the
offline map and report, PNG figures). :func:`run_batch` runs many scenarios in parallel.

Units. Facility capacity is counted in **clinicians** (full-time equivalent health workers);
accessibility is the two-step floating catchment ratio expressed as **clinicians per 10,000
persons**, the unit health-workforce planners quote. The coverage models need the persons a
unit can serve: ``capacity × persons_per_clinician``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from accessplan.errors import AccessplanError, ScenarioError
from accessplan.scenario_schema import read_scenario_file, validate_scenario_dict

__all__ = ["Result", "Scenario", "format_table", "run_batch"]

#: Accessibility values are scaled to clinicians per this many persons.
PER_PERSONS = 10_000.0
#: Summary row of the persons served within the standard (capacity-limited coverage).
SERVED_METRIC = "Persons served within the standard, capacity-limited (persons)"


# ------------------------------------------------------------------------------ scenario
@dataclass
class Scenario:
    """A validated scenario.

    Attributes
    ----------
    config
        One dict per section (``scenario``, ``inputs``, ``network``, ``access``, ``supply``,
        ``plan``, ``equity``, ``outputs``) with every key present; see
        :data:`accessplan.scenario_schema.SCHEMA`.
    source
        Where it came from (a file path, or ``"code"``).
    """

    config: dict[str, dict[str, Any]]
    source: str = "code"

    @classmethod
    def from_toml(cls, path: str | Path) -> Scenario:
        """Read and validate a TOML scenario file."""
        return cls(read_scenario_file(path), source=str(path))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, base: str | Path | None = None) -> Scenario:
        """Validate a scenario given as nested dicts (the TOML structure)."""
        return cls(
            validate_scenario_dict(raw, source="scenario", base=Path(base) if base else None)
        )

    @classmethod
    def demo(cls, *, budget: float | None = None) -> Scenario:
        """The built-in scenario on Ngazidja: a budget for clinics, robotic and digital units."""
        raw: dict[str, Any] = {
            "scenario": {
                "name": "Ngazidja: adding clinics, robotic and digital units under a budget",
                "description": (
                    "Baseline: the Ministry of Health facilities of Ngazidja (Grande Comore). "
                    "Plan: with a budget of clinic-equivalents, choose where to open clinics, "
                    "cheaper robotic units and digital (telemedicine) hubs so that the most "
                    "people are covered within the service standard."
                ),
            },
            "inputs": {"region": "ngazidja"},
            "plan": {"model": "budget"},
        }
        if budget is not None:
            raw["plan"]["budget"] = float(budget)
        return cls.from_dict(raw)

    @property
    def name(self) -> str:
        """The scenario's title."""
        return str(self.config["scenario"]["name"])

    def with_changes(self, **sections: dict[str, Any]) -> Scenario:
        """A copy with some keys changed, e.g. ``s.with_changes(plan={"budget": 8})``."""
        raw = copy.deepcopy(self.config)
        for section, values in sections.items():
            raw.setdefault(section, {}).update(values)
        if "supply" in raw:
            raw["supply"] = {t: dict(v) for t, v in raw["supply"].items()}
        return Scenario(validate_scenario_dict(raw, source=self.source), source=self.source)

    def run(self, *, progress: bool = False) -> Result:
        """Run every stage and return the :class:`Result`."""
        return _Runner(self, progress=progress).run()


# ------------------------------------------------------------------------------ result
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
        lines.append(format_table(shown))
        return "\n".join(lines)

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write every output into ``out_dir`` and return the paths by name."""
        from accessplan.outputs import write_outputs

        return write_outputs(self, Path(out_dir))


def _weighted_nanmean(values: pd.Series, weights: pd.Series) -> float:
    v = values.to_numpy(float)
    w = weights.to_numpy(float)
    ok = np.isfinite(v)
    return float(np.average(v[ok], weights=w[ok])) if ok.any() and w[ok].sum() > 0 else float("nan")


# ------------------------------------------------------------------------------ running
@contextmanager
def _stage(timings: dict[str, float], name: str, progress: bool) -> Any:
    if progress:
        print(f"[accessplan] {name} ...", flush=True)
    t0 = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - t0
    if progress:
        print(f"[accessplan] {name}: {timings[name]:.1f} s", flush=True)


@dataclass
class _Inputs:
    name: str
    graph: Any
    population: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    attribution: str
    candidates: gpd.GeoDataFrame | None = None


class _Runner:
    """The stages of :meth:`Scenario.run`, one method each."""

    def __init__(self, scenario: Scenario, *, progress: bool) -> None:
        self.scenario = scenario
        self.cfg = scenario.config
        self.progress = progress
        self.timings: dict[str, float] = {}
        self.excluded_facilities: pd.DataFrame | None = None

    def run(self) -> Result:
        from accessplan.network import prepare_network

        with _stage(self.timings, "inputs", self.progress):
            inputs = self._inputs()
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
    def _inputs(self) -> _Inputs:
        from accessplan.io import cells_to_polygons

        inp = self.cfg["inputs"]
        if inp["roads"]:
            return self._file_inputs()
        if inp["region"] == "synthetic":
            from accessplan.regions import synthetic_region

            region = synthetic_region(
                n_nodes=inp["synthetic_nodes"],
                n_origins=inp["synthetic_origins"],
                n_facilities=inp["synthetic_facilities"],
                seed=self.cfg["scenario"]["seed"],
            )
        else:
            from accessplan.regions import load_region

            region = load_region(inp["region"], aggregate=inp["aggregate"])
        population = region.population
        cells = (
            cells_to_polygons(population, region.cell_size)
            if region.cell_size
            else _point_cells(population)
        )
        return _Inputs(
            name=region.name,
            graph=region.road_graph(self.cfg["network"]["mode"]),
            population=population,
            cells=cells,
            facilities=_physical_facilities(region.facilities),
            attribution=region.attribution,
            candidates=region.candidates,
        )

    def _file_inputs(self) -> _Inputs:
        from accessplan import io

        inp = self.cfg["inputs"]
        graph = io.read_roads(inp["roads"], self.cfg["network"]["mode"])
        pop_path = Path(inp["population"])
        if pop_path.suffix.lower() in (".tif", ".tiff"):
            population = io.read_population_raster(pop_path, aggregate=inp["aggregate"])
            cells = io.cells_to_polygons(population)
        else:
            population = io.read_population(pop_path, inp["population_col"])
            if "cell" in population.columns:
                cells = population.set_geometry("cell").drop(columns="geometry")
                cells = cells.rename_geometry("geometry")
                population = population.drop(columns="cell")
            else:
                cells = _point_cells(population)
        if inp["facilities"]:
            facilities = io.read_facilities(
                inp["facilities"],
                id_col=inp["facility_id_col"],
                name_col=inp["facility_name_col"],
                type_col=inp["facility_type_col"],
                capacity_col=inp["facility_capacity_col"],
                default_capacity=inp["default_capacity"],
                lon_col=inp["facility_lon_col"],
                lat_col=inp["facility_lat_col"],
                on_invalid=inp["facility_on_invalid"],
            )
            excluded = facilities.attrs.get("excluded")
            if excluded is not None and len(excluded):
                self.excluded_facilities = excluded
        else:
            facilities = gpd.GeoDataFrame(
                {"id": [], "name": [], "type": [], "capacity": []},
                geometry=[],
                crs=population.crs,
            )
        candidates = None
        if inp["candidates"]:
            candidates = io.read_facilities(inp["candidates"], id_col="id", name_col="name")
        return _Inputs(
            name=pop_path.stem,
            graph=graph,
            population=population,
            cells=cells,
            facilities=_physical_facilities(facilities),
            attribution="© OpenStreetMap contributors (ODbL 1.0); population and facilities: see "
            "the input files' licences.",
            candidates=candidates,
        )

    def _candidates(self, inputs: _Inputs, graph: Any) -> gpd.GeoDataFrame:
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
        self, graph: Any, inputs: _Inputs, candidates: gpd.GeoDataFrame
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


# ------------------------------------------------------------------------------ helpers
def _physical_facilities(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Existing facilities with the columns every stage uses, ids as strings."""
    out = facilities.copy()
    out["id"] = out["id"].astype(str)
    out["status"] = "existing"
    return out


def _point_cells(points: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Square cells around population points (for maps), sized by their typical spacing."""
    from scipy.spatial import cKDTree

    metric = points.to_crs(points.estimate_utm_crs()) if points.crs.is_geographic else points
    xy = np.column_stack([metric.geometry.x, metric.geometry.y])
    side = 100.0
    if len(xy) > 1:
        distance, _ = cKDTree(xy).query(xy, k=2)
        side = float(np.median(distance[:, 1])) or side
    squares = metric.geometry.buffer(side / 2, cap_style="square")
    cells = gpd.GeoDataFrame(
        points.drop(columns="geometry"), geometry=squares.to_numpy(), crs=metric.crs
    )
    return cells.to_crs(points.crs)


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


def format_table(frame: pd.DataFrame) -> str:
    """A DataFrame as an aligned plain-text table with readable numbers."""

    def fmt(v: Any) -> str:
        if isinstance(v, bool | np.bool_):
            return str(v)
        if isinstance(v, int | np.integer):
            return f"{v:,}"
        if isinstance(v, float | np.floating):
            if not np.isfinite(v):
                return "—" if np.isnan(v) else ("+inf" if v > 0 else "-inf")
            return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.3g}" if abs(v) < 1 else f"{v:,.2f}"
        return str(v)

    cols = list(frame.columns)
    rows = [[fmt(v) for v in row] for row in frame.itertuples(index=False)]
    widths = [
        max(len(str(c)), *(len(r[i]) for r in rows)) if rows else len(str(c))
        for i, c in enumerate(cols)
    ]
    header = "  ".join(str(c).ljust(w) for c, w in zip(cols, widths, strict=True))
    body = [
        "  ".join(
            (v.ljust(w) if i == 0 else v.rjust(w))
            for i, (v, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    return "\n".join([header, "-" * len(header), *body])


# ------------------------------------------------------------------------------ batch
def _run_one(path: str, out_dir: str) -> dict[str, Any]:
    """Run one scenario file into ``out_dir``; never raises (the error is reported)."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {"scenario": path}
    try:
        scenario = Scenario.from_toml(path)
        result = scenario.run(progress=False)
        result.write(out_dir)
        plan = result.plan
        summary = result.summary_table().set_index("metric")
        mean_row = summary.index[summary.index.str.startswith("Access, population-weighted")][0]
        counts = plan.new_sites["type"].value_counts()
        row.update(
            status="ok",
            name=scenario.name,
            model=scenario.config["plan"]["model"],
            budget=scenario.config["plan"]["budget"],
            new_clinic=int(counts.get("clinic", 0)),
            new_robotic=int(counts.get("robotic", 0)),
            new_digital=int(counts.get("digital", 0)),
            cost=plan.cost,
            served_before=summary.loc[SERVED_METRIC, "before"],
            served_after=summary.loc[SERVED_METRIC, "after"],
            plan_covered_population=plan.covered_population,
            access_before=summary.loc[mean_row, "before"],
            access_after=summary.loc[mean_row, "after"],
            access_pct_change=summary.loc[mean_row, "pct_change"],
            gap=plan.gap,
            error="",
        )
    except AccessplanError as exc:
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # one broken scenario must not stop the batch
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    row["seconds"] = time.perf_counter() - t0
    row["out"] = out_dir
    return row


def run_batch(
    scenarios: Iterable[str | Path],
    out_dir: str | Path,
    *,
    jobs: int = 1,
    progress: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Run many scenario files, ``jobs`` at a time, each into ``out_dir/<file stem>/``.

    A scenario that fails is reported in the summary (``status`` = ``"failed"`` with its
    ``error``) and does not stop the others. Writes ``out_dir/batch_summary.csv`` and, when
    budgets differ, ``out_dir/budget_coverage.png``.

    Returns
    -------
    pandas.DataFrame
        One row per scenario, in the order given.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed

    paths = [str(Path(p)) for p in scenarios]
    if not paths:
        raise ScenarioError("batch: give at least one scenario file.")
    stems = [Path(p).stem for p in paths]
    if len(set(stems)) != len(stems):
        raise ScenarioError("batch: two scenario files share a name; output folders would clash.")
    if jobs < 1:
        raise ScenarioError(f"batch: jobs must be >= 1, got {jobs}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    targets = [str(out / s) for s in stems]
    rows: dict[str, dict[str, Any]] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(paths), desc="scenarios", unit="scenario")
    if jobs == 1:
        for p, t in zip(paths, targets, strict=True):
            rows[p] = _run_one(p, t)
            if bar is not None:
                bar.update(1)
            if on_result:
                on_result(rows[p])
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(_run_one, p, t): p for p, t in zip(paths, targets, strict=True)}
            for fut in as_completed(futures):
                rows[futures[fut]] = fut.result()
                if bar is not None:
                    bar.update(1)
                if on_result:
                    on_result(rows[futures[fut]])
    if bar is not None:
        bar.close()
    summary = pd.DataFrame([rows[p] for p in paths])
    summary.to_csv(out / "batch_summary.csv", index=False)
    ok = summary[summary["status"] == "ok"]
    if len(ok) > 1 and ok["budget"].nunique() > 1:
        from accessplan.figures import plot_budget_coverage

        plot_budget_coverage(
            ok.sort_values("budget"),
            out / "budget_coverage.png",
            coverage="served_after",
            coverage_label="Persons served within the standard",
            baseline=float(ok["served_before"].iloc[0]),
        )
    return summary
