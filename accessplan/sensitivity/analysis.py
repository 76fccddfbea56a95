"""Draws of a scenario's inputs, the run of each, and intervals of what they give.

The base run is the scenario as written (:class:`~accessplan.scenario.run.Runner`). Every draw
reuses what the inputs do not change (the files read, the prepared network, the candidate
sites: so that "how often a site is chosen" counts the same sites), perturbs the inputs by
the draw's factors (:mod:`~accessplan.sensitivity.distributions`) and runs the remaining
stages of the same Runner: travel times, access before, the plan, access after, the
comparison. A draw whose factors are all 1 is the base run, number for number.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from accessplan.errors import ScenarioError
from accessplan.scenario.config import Scenario
from accessplan.scenario.inputs import Inputs
from accessplan.scenario.run import Runner
from accessplan.sensitivity.distributions import INPUTS, Factor, check_sensitivity

if TYPE_CHECKING:
    import geopandas as gpd
    import networkx as nx

    from accessplan.compute import ClientLike
    from accessplan.network import RoutingGraph
    from accessplan.scenario.result import Result

__all__ = ["PLAN_METRICS", "Perturbation", "Sensitivity", "Shared", "run_sensitivity"]

#: Rows of the plan itself in the intervals (quantity ``plan``).
PLAN_METRICS = (
    "New units added (count)",
    "Cost of the new units (cost units)",
    "Persons covered by the plan (persons)",
)
#: Supply types whose ``[supply.<type>] capacity`` a capacity factor multiplies, in order.
_TYPES = ("clinic", "robotic", "digital")


@dataclass
class Shared:
    """What every draw takes from the base run unchanged.

    Attributes
    ----------
    inputs
        The inputs read (population, cells, facilities...).
    graph
        The prepared road network.
    candidates
        The candidate sites (ids ``site_001``...).
    """

    inputs: Inputs
    graph: nx.MultiDiGraph
    candidates: gpd.GeoDataFrame


@dataclass(frozen=True)
class Perturbation:
    """The factors of one draw (1 = the scenario's value; None: the input is not varied).

    Attributes
    ----------
    demand
        One factor per population row (persons).
    speed
        Factor on every road speed.
    capacity
        One factor per existing facility row (clinicians).
    type_capacity
        Factor on ``[supply.<type>] capacity`` by type.
    digital
        Factor on the digital uptake shares.
    """

    demand: np.ndarray | None = None
    speed: float | None = None
    capacity: np.ndarray | None = None
    type_capacity: dict[str, float] | None = None
    digital: float | None = None

    def summary(self) -> dict[str, float]:
        """Mean factor of each input (NaN: not varied)."""

        def mean(values: Any) -> float:
            return float("nan") if values is None else float(np.mean(values))

        types = self.type_capacity
        return {
            "demand": mean(self.demand),
            "speeds": mean(self.speed),
            "capacities": mean(self.capacity),
            **{f"capacity_{t}": (types or {}).get(t, float("nan")) for t in _TYPES},
            "digital_access": mean(self.digital),
        }


def draw_perturbation(
    factors: dict[str, Factor], seed: int, draw: int, n_cells: int, n_facilities: int
) -> Perturbation:
    """The factors of draw ``draw``: each input from its own generator ``(seed, draw, input)``."""

    def sample(name: str, size: int) -> np.ndarray | None:
        if name not in factors:
            return None
        rng = np.random.default_rng([seed, draw, list(INPUTS).index(name)])
        return factors[name].sample(rng, size)

    demand = sample("demand", n_cells)
    speed = sample("speeds", 1)
    capacity = sample("capacities", n_facilities + len(_TYPES))
    digital = sample("digital_access", 1)
    return Perturbation(
        demand=demand,
        speed=None if speed is None else float(speed[0]),
        capacity=None if capacity is None else capacity[:n_facilities],
        type_capacity=(
            None
            if capacity is None
            else {t: float(f) for t, f in zip(_TYPES, capacity[n_facilities:], strict=True)}
        ),
        digital=None if digital is None else float(digital[0]),
    )


def perturbed_config(
    config: dict[str, dict[str, Any]], change: Perturbation
) -> dict[str, dict[str, Any]]:
    """The configuration with the draw's supply capacities and digital shares."""
    out = copy.deepcopy(config)
    if change.type_capacity is not None:
        for kind, factor in change.type_capacity.items():
            out["supply"][kind]["capacity"] = float(out["supply"][kind]["capacity"]) * factor
    if change.digital is not None:
        access = out["access"]
        access["digital_access"] = min(1.0, float(access["digital_access"]) * change.digital)
        own = out["supply"]["digital"].get("digital_access")
        if own is not None:
            out["supply"]["digital"]["digital_access"] = min(1.0, float(own) * change.digital)
    return out


def perturbed_inputs(inputs: Inputs, change: Perturbation) -> Inputs:
    """``inputs`` with the draw's persons per cell and facility capacities (copies)."""
    population, cells, facilities = inputs.population, inputs.cells, inputs.facilities
    if change.demand is not None:
        factor = pd.Series(change.demand, index=population["id"].to_numpy())
        population = population.copy()
        population["population"] = population["population"].to_numpy(float) * change.demand
        cells = cells.copy()
        cells["population"] = cells["population"].to_numpy(float) * factor.reindex(
            cells["id"].to_numpy()
        ).to_numpy(float)
    if change.capacity is not None:
        facilities = facilities.copy()
        facilities["capacity"] = (
            pd.to_numeric(facilities["capacity"]).to_numpy(float) * change.capacity
        )
    return Inputs(
        name=inputs.name,
        graph=inputs.graph,
        population=population,
        cells=cells,
        facilities=facilities,
        attribution=inputs.attribution,
        candidates=inputs.candidates,
        excluded=inputs.excluded,
    )


class _RecordingRunner(Runner):
    """The base run, keeping what the draws share."""

    def _read_inputs(self) -> Inputs:
        self.inputs = super()._read_inputs()
        return self.inputs

    def _prepare_graph(self, inputs: Inputs) -> nx.MultiDiGraph:
        self.graph = super()._prepare_graph(inputs)
        return self.graph

    def _candidates(self, inputs: Inputs, graph: nx.MultiDiGraph) -> gpd.GeoDataFrame:
        self.candidates = super()._candidates(inputs, graph)
        return self.candidates

    def shared(self) -> Shared:
        return Shared(self.inputs, self.graph, self.candidates)


class _PerturbedRunner(Runner):
    """One draw: the shared inputs perturbed, then the stages from travel times on."""

    def __init__(self, scenario: Scenario, shared: Shared, change: Perturbation) -> None:
        super().__init__(scenario, progress=False)
        self.shared = shared
        self.change = change

    def _read_inputs(self) -> Inputs:
        return perturbed_inputs(self.shared.inputs, self.change)

    def _prepare_graph(self, inputs: Inputs) -> nx.MultiDiGraph:
        return self.shared.graph

    def _candidates(self, inputs: Inputs, graph: nx.MultiDiGraph) -> gpd.GeoDataFrame:
        return self.shared.candidates

    def _network(self, graph: nx.MultiDiGraph) -> nx.MultiDiGraph | RoutingGraph:
        if self.change.speed is None:
            return graph
        from accessplan.network import RoutingGraph, routing_graph

        routing = routing_graph(graph)
        minutes = routing.csr.copy()
        minutes.data = minutes.data / self.change.speed  # faster roads, fewer minutes
        return RoutingGraph(minutes, routing.node_ids, routing.xy, routing.crs)


def run_draw(
    scenario: Scenario, shared: Shared, factors: dict[str, Factor], draw: int
) -> dict[str, Any]:
    """Run draw ``draw`` and return its headline numbers, new sites and factors."""
    settings = scenario.config["sensitivity"]
    change = draw_perturbation(
        factors,
        int(settings["seed"]),
        draw,
        len(shared.inputs.population),
        len(shared.inputs.facilities),
    )
    changed = Scenario(perturbed_config(scenario.config, change), source=scenario.source)
    result = _PerturbedRunner(changed, shared, change).run()
    return {"draw": draw, "factors": change.summary(), **_outcome(result)}


def _outcome(result: Result) -> dict[str, Any]:
    """What a run contributes to the intervals: headline numbers and the plan's new sites."""
    summary = result.summary_table()[["metric", "before", "after", "change"]]
    new = result.plan.new_sites
    plan = pd.DataFrame(
        {
            "metric": list(PLAN_METRICS),
            "before": np.nan,
            "after": [float(len(new)), float(result.plan.cost), result.plan.covered_population],
            "change": np.nan,
        }
    )
    return {
        "summary": pd.concat([summary, plan], ignore_index=True),
        "sites": [str(s) for s in new.index],
        "types": [str(t) for t in new["type"]],
    }


@dataclass
class Sensitivity:
    """Intervals of a scenario's headline numbers over draws of its inputs.

    Attributes
    ----------
    scenario
        The scenario (its ``[sensitivity]`` section states the draws).
    base
        The base run (the scenario as written).
    draws
        One row per draw and metric: ``draw``, ``metric``, ``before``, ``after``, ``change``.
    intervals
        One row per metric and quantity (``before``, ``after``, ``change``; ``plan`` for the
        plan's own rows): ``base``, ``mean``, ``lower``, ``upper`` (the ``[sensitivity]``
        lower and upper percentiles over the draws), in the metric's unit.
    sites
        One row per candidate site: ``site``, ``times_chosen`` (draws whose plan adds it),
        ``share`` (of the draws), ``types`` (the unit types it got, with counts),
        ``in_base_plan``.
    factors
        One row per draw: the mean factor of each input (NaN: not varied).
    """

    scenario: Scenario
    base: Result
    draws: pd.DataFrame
    intervals: pd.DataFrame
    sites: pd.DataFrame
    factors: pd.DataFrame

    @property
    def percentiles(self) -> tuple[float, float]:
        """The lower and upper percentiles of :attr:`intervals`."""
        settings = self.scenario.config["sensitivity"]
        return float(settings["lower"]), float(settings["upper"])

    def table(self) -> str:
        """The intervals of the headline numbers after the plan, as plain text."""
        from accessplan.scenario.batch import format_table

        lower, upper = self.percentiles
        shown = self.intervals[self.intervals["quantity"].isin(["after", "plan"])]
        shown = shown.rename(columns={"lower": f"p{lower:g}", "upper": f"p{upper:g}"})
        return format_table(shown.drop(columns=["quantity"]))

    def write(self, out_dir: str | Path, *, replace: bool = False) -> dict[str, Path]:
        """Write the CSV tables and ``sensitivity.html`` (see :mod:`.files`); complete or not."""
        from accessplan.sensitivity.files import write_sensitivity

        return write_sensitivity(self, Path(out_dir), replace=replace)


def run_sensitivity(
    scenario: Scenario,
    *,
    draws: int | None = None,
    seed: int | None = None,
    client: ClientLike | None = None,
    progress: bool = False,
) -> Sensitivity:
    """Run the scenario once as written and once per draw of its ``[sensitivity]`` inputs.

    Parameters
    ----------
    scenario
        A scenario whose ``[sensitivity]`` section gives at least one distribution.
    draws, seed
        Override ``[sensitivity] draws`` and ``seed``.
    client
        A Dask client or scheduler address: the draws run as tasks on it (else the scenario's
        ``[compute]`` section decides, else this process). The results do not depend on it.
    progress
        Print the stages of the base run and a bar over the draws.

    Raises
    ------
    ScenarioError
        When ``[sensitivity]`` gives no distribution, or a bad one (naming the key).
    """
    from accessplan.compute import scenario_cluster

    changes = {k: v for k, v in (("draws", draws), ("seed", seed)) if v is not None}
    if changes:
        scenario = scenario.with_changes(sensitivity=changes)
    settings = scenario.config["sensitivity"]
    factors = check_sensitivity(settings, f"{scenario.source} [sensitivity]")
    if not factors:
        raise ScenarioError(
            f"{scenario.source} [sensitivity]: no input is varied; give at least one of "
            f"{', '.join(INPUTS)}, e.g. demand = {{ dist = 'lognormal', sigma = 0.1 }}."
        )
    with scenario_cluster(scenario.config["compute"], client) as dask:
        runner = _RecordingRunner(scenario, progress=progress, client=dask)
        base = runner.run()
        shared = runner.shared()
        numbers = range(int(settings["draws"]))
        if dask is None:
            outcomes = [run_draw(scenario, shared, factors, i) for i in _bar(numbers, progress)]
        else:
            scenario_f, shared_f = dask.scatter([scenario, shared], broadcast=True, hash=False)
            futures = [
                dask.submit(run_draw, scenario_f, shared_f, factors, i, pure=False) for i in numbers
            ]
            outcomes = dask.gather(futures)
    return _summarise(scenario, base, outcomes, list(shared.candidates["id"]))


def _bar(numbers: range, progress: bool) -> Any:
    if not progress:
        return numbers
    from tqdm.auto import tqdm

    return tqdm(numbers, desc="draws", unit="draw")


def _summarise(
    scenario: Scenario, base: Result, outcomes: list[dict[str, Any]], candidates: list[str]
) -> Sensitivity:
    settings = scenario.config["sensitivity"]
    draws = pd.concat([o["summary"].assign(draw=o["draw"]) for o in outcomes], ignore_index=True)[
        ["draw", "metric", "before", "after", "change"]
    ]
    base_outcome = _outcome(base)
    intervals = _intervals(
        base_outcome["summary"], draws, float(settings["lower"]), float(settings["upper"])
    )
    sites = _site_counts(candidates, base_outcome["sites"], outcomes)
    factors = pd.DataFrame([{"draw": o["draw"], **o["factors"]} for o in outcomes])
    return Sensitivity(scenario, base, draws, intervals, sites, factors)


def _intervals(base: pd.DataFrame, draws: pd.DataFrame, lower: float, upper: float) -> pd.DataFrame:
    """Base, mean and percentiles of every metric and quantity over the draws."""
    rows = []
    plan = set(PLAN_METRICS)
    for metric, group in draws.groupby("metric", sort=False):
        base_row = base.set_index("metric").loc[metric]
        quantities = ("after",) if metric in plan else ("before", "after", "change")
        for quantity in quantities:
            values = group[quantity].to_numpy(float)
            finite = values[np.isfinite(values)]
            lo, hi = np.percentile(finite, [lower, upper]) if finite.size else (np.nan, np.nan)
            rows.append(
                {
                    "metric": metric,
                    "quantity": "plan" if metric in plan else quantity,
                    "base": float(base_row[quantity]),
                    "mean": float(finite.mean()) if finite.size else float("nan"),
                    "lower": float(lo),
                    "upper": float(hi),
                }
            )
    return pd.DataFrame(rows)


def _site_counts(
    candidates: list[str], base_sites: list[str], outcomes: list[dict[str, Any]]
) -> pd.DataFrame:
    """How often each candidate site is added, over the draws, and as which types."""
    counts: dict[str, int] = {}
    types: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        for site, kind in zip(outcome["sites"], outcome["types"], strict=True):
            counts[site] = counts.get(site, 0) + 1
            types.setdefault(site, {})
            types[site][kind] = types[site].get(kind, 0) + 1
    n = max(len(outcomes), 1)
    every = sorted({str(c) for c in candidates} | set(counts) | set(base_sites))
    table = pd.DataFrame(
        {
            "site": every,
            "times_chosen": [counts.get(s, 0) for s in every],
            "share": [counts.get(s, 0) / n for s in every],
            "types": [
                ", ".join(f"{k} {c}" for k, c in sorted(types.get(s, {}).items())) for s in every
            ],
            "in_base_plan": [s in base_sites for s in every],
        }
    )
    return table.sort_values(["times_chosen", "site"], ascending=[False, True], ignore_index=True)
