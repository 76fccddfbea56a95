"""Allocation of mobile resources (doctors, robotic units, digital hours) across facilities.

Given the demand assigned to each facility (existing or new, e.g. from a :class:`Plan`) and
pools of resources with a unit cost, a productivity and a pool size, :func:`allocate_resources`
decides how many units of each pool go where, minimising cost plus a penalty per person of unmet
demand, optionally with an equity bound :math:`\\gamma` on the spread of unmet-demand ratios
between facilities or zones. It also solves the LP relaxation and reports the dual values
(shadow prices) of the pool constraints: what one more unit of each pool is worth.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pulp

from accessplan.errors import InfeasibleError, InputError
from accessplan.optimize import fairness
from accessplan.optimize._data import check_time_limit
from accessplan.optimize._solve import SolveInfo, seconds_left, settle, solve_problem, with_bound
from accessplan.optimize.plan import Plan
from accessplan.supply import SUPPLY_TYPES
from accessplan.traveltimes import TravelTimes, align_values

__all__ = ["ResourcePool", "allocate_resources", "facility_demand", "lp_objective_with_pools"]


@dataclass(frozen=True, eq=False)
class ResourcePool:
    """A pool of mobile resource units to place at facilities.

    Parameters
    ----------
    name
        Label, e.g. ``"doctors"``, ``"robotic_units"``, ``"digital_hours"``.
    unit_cost
        Cost of placing one unit (currency units, >= 0).
    productivity
        Persons one unit serves (> 0), e.g. patients per doctor per period.
    available
        Units in the pool (>= 0).
    integer
        True when units are indivisible (doctors, robots); False for divisible ones (hours).
    max_share
        Largest share (0–1) of a facility's demand this resource can meet: one number or a
        Series by facility id. For digital consultations, the connected and resolvable share
        :math:`a e` of the facility's population (see :mod:`accessplan.supply`).
    facility_types
        Facility types it may be placed at (e.g. ``("robotic",)``); None = every type.
    max_per_facility
        Most units at one facility; None = no limit.
    """

    name: str
    unit_cost: float
    productivity: float
    available: float
    integer: bool = True
    max_share: float | pd.Series = 1.0
    facility_types: tuple[str, ...] | None = None
    max_per_facility: float | None = None

    def __post_init__(self) -> None:
        checks = (
            ("unit_cost", self.unit_cost, lambda v: v >= 0, ">= 0 (currency units)"),
            ("productivity", self.productivity, lambda v: v > 0, "> 0 (persons per unit)"),
            ("available", self.available, lambda v: v >= 0, ">= 0 (units)"),
        )
        for what, value, ok, hint in checks:
            if not (np.isfinite(value) and ok(value)):
                raise InputError(f"ResourcePool {self.name!r}: {what} is {value}; give {hint}.")
        if self.max_per_facility is not None and not self.max_per_facility >= 0:
            raise InputError(
                f"ResourcePool {self.name!r}: max_per_facility is {self.max_per_facility}; "
                "give a number of units >= 0 or None."
            )
        share = self.max_share
        # np.isscalar's type guard admits str and bytes, which float() is not typed to take
        if np.isscalar(share) and not 0 <= float(share) <= 1:  # type: ignore[arg-type]
            raise InputError(
                f"ResourcePool {self.name!r}: max_share is {self.max_share}; give a share 0–1."
            )
        if self.facility_types is not None:
            bad = [t for t in self.facility_types if t not in SUPPLY_TYPES]
            if bad:
                raise InputError(
                    f"ResourcePool {self.name!r}: facility_types {bad} are unknown; use types "
                    f"among {list(SUPPLY_TYPES)}."
                )


def facility_demand(
    tt: TravelTimes,
    demand: pd.Series | float,
    facilities: Iterable[Hashable],
    *,
    travel_cap: float | None = None,
) -> pd.Series:
    """Persons assigned to each facility by nearest travel time.

    Parameters
    ----------
    tt
        Travel times (minutes); the facilities are destinations.
    demand
        Persons per origin id.
    facilities
        Facility ids (destination ids).
    travel_cap
        Origins farther than this from every facility are not assigned.

    Returns
    -------
    pandas.Series
        Persons per facility id (named ``demand``). Origins that reach no facility are not
        dropped silently: their ids and persons are in ``attrs["unassigned_origins"]`` and
        ``attrs["unassigned_population"]``.
    """
    tt.check_threshold(travel_cap, "travel_cap")
    population = align_values(demand, tt.origin_ids, "demand")
    ids = pd.Index(list(facilities))
    sub = tt.subset(destinations=ids)
    m = sub.matrix
    limit = np.inf if travel_cap is None else float(travel_cap)
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    keep = m.data <= limit
    rows, cols, minutes = rows[keep], m.indices[keep], m.data[keep]
    order = np.lexsort((cols, minutes, rows))
    rows, cols = rows[order], cols[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    load = np.bincount(cols[first], weights=population[rows[first]], minlength=len(ids))
    out = pd.Series(load, index=ids, name="demand")
    assigned = np.zeros(len(population), dtype=bool)
    assigned[rows[first]] = True
    lost = ~assigned & (population > 0)
    out.attrs["unassigned_origins"] = tt.origin_ids[lost].tolist()
    out.attrs["unassigned_population"] = float(population[lost].sum())
    return out


# ---------------------------------------------------------------------------------- inputs
def _facility_table(
    facilities: Plan | pd.DataFrame | pd.Series, zones: pd.Series | None
) -> pd.DataFrame:
    if isinstance(facilities, Plan):
        sites = facilities.sites
        table = pd.DataFrame(
            {
                "demand": sites["assigned_population"],
                "type": sites["type"],
                "existing": sites["existing"],
            }
        )
    elif isinstance(facilities, pd.Series):
        table = pd.DataFrame({"demand": facilities})
    elif isinstance(facilities, pd.DataFrame):
        table = facilities.copy()
        if "id" in table.columns:
            table = table.set_index("id")
        if "demand" not in table.columns:
            raise InputError(
                f"facilities has no 'demand' column (columns: {list(table.columns)}); give the "
                "persons assigned to each facility (see facility_demand)."
            )
    else:
        raise InputError(
            "facilities must be a Plan, a Series of demand per facility id, or a DataFrame "
            f"with a 'demand' column; got {type(facilities).__name__}."
        )
    if table.empty:
        raise InputError("facilities is empty; give at least one facility.")
    if not table.index.is_unique:
        dup = table.index[table.index.duplicated()][:5].tolist()
        raise InputError(f"facilities: ids {dup} repeat; give each facility once.")
    table["demand"] = align_values(table["demand"], table.index, "facility demand")
    if "baseline" in table.columns:
        table["baseline"] = align_values(table["baseline"], table.index, "facility baseline")
    else:
        table["baseline"] = 0.0
    if "type" not in table.columns:
        table["type"] = "clinic"
    if "existing" not in table.columns:
        table["existing"] = True
    unknown = ~table["type"].isin(SUPPLY_TYPES)
    if unknown.any():
        at = table.index[unknown.to_numpy()][0]
        raise InputError(
            f"facilities: {at!r} has type {table.at[at, 'type']!r}; use one of "
            f"{list(SUPPLY_TYPES)}."
        )
    if zones is not None:
        missing = table.index.difference(zones.index)
        if len(missing):
            raise InputError(
                f"zones has no label for facilities {missing[:5].tolist()}; give a zone to "
                "every facility."
            )
        table["zone"] = zones.reindex(table.index).to_numpy()
    return table


def _check_pools(pools: Sequence[ResourcePool]) -> list[ResourcePool]:
    pools = list(pools)
    if not pools:
        raise InputError("pools is empty; give at least one ResourcePool.")
    for pool in pools:
        if not isinstance(pool, ResourcePool):
            raise InputError(f"pools must hold ResourcePool objects; got {pool!r}.")
    names = [p.name for p in pools]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"pools {dup} repeat; give each ResourcePool a distinct name.")
    return pools


def _max_share(pool: ResourcePool, ids: pd.Index) -> np.ndarray:
    share = align_values(pool.max_share, ids, f"max_share of pool {pool.name!r}")
    if (share > 1).any():
        at = ids[np.flatnonzero(share > 1)[0]]
        raise InputError(
            f"max_share of pool {pool.name!r} is above 1 for facility {at!r}; give shares 0–1."
        )
    return share


# ---------------------------------------------------------------------------------- model
@dataclass
class _Allocation:
    prob: pulp.LpProblem
    units: dict[tuple[int, int], pulp.LpVariable]
    served: dict[tuple[int, int], pulp.LpVariable]
    unmet: list[pulp.LpVariable]
    pool_constraints: list[str]
    cost: pulp.LpAffineExpression
    groups: dict[Hashable, pulp.LpAffineExpression]


def _build(
    table: pd.DataFrame,
    pools: list[ResourcePool],
    unmet_penalty: float,
    gamma: float | None,
    relax: bool,
    extra_units: dict[int, float] | None = None,
) -> _Allocation:
    demand = table["demand"].to_numpy(dtype=np.float64)
    residual = np.maximum(demand - table["baseline"].to_numpy(dtype=np.float64), 0.0)
    types = table["type"].to_numpy()
    prob = pulp.LpProblem("allocation", pulp.LpMinimize)
    units: dict[tuple[int, int], pulp.LpVariable] = {}
    served: dict[tuple[int, int], pulp.LpVariable] = {}
    for r, pool in enumerate(pools):
        share = _max_share(pool, table.index)
        cat = pulp.LpInteger if (pool.integer and not relax) else pulp.LpContinuous
        for f in range(len(table)):
            if pool.facility_types is not None and types[f] not in pool.facility_types:
                continue
            n = prob.add_variable(
                f"n_{f}_{r}", lowBound=0.0, upBound=pool.max_per_facility, cat=cat
            )
            s = prob.add_variable(f"s_{f}_{r}", lowBound=0.0, upBound=float(share[f] * demand[f]))
            prob += s <= pool.productivity * n
            units[f, r], served[f, r] = n, s
    unmet = [
        prob.add_variable(f"u_{f}", lowBound=0.0, upBound=float(residual[f]))
        for f in range(len(table))
    ]
    by_facility: dict[int, list[pulp.LpVariable]] = {}
    for (f, _), s in served.items():
        by_facility.setdefault(f, []).append(s)
    for f in range(len(table)):
        met = pulp.LpAffineExpression([(s, 1.0) for s in by_facility.get(f, [])])
        prob += met + unmet[f] == float(residual[f]), f"demand_{f}"
    names = []
    extra_units = extra_units or {}
    for r, pool in enumerate(pools):
        used = pulp.LpAffineExpression([(n, 1.0) for (_, rr), n in units.items() if rr == r])
        name = f"pool_{r}"
        prob += used <= float(pool.available + extra_units.get(r, 0.0)), name
        names.append(name)
    cost = pulp.LpAffineExpression([(n, float(pools[r].unit_cost)) for (_, r), n in units.items()])
    prob += cost + pulp.LpAffineExpression([(u, float(unmet_penalty)) for u in unmet])
    groups = _unmet_ratios(table, unmet)
    if gamma is not None:
        fairness.add_unmet_spread_bound(prob, groups, gamma)
    return _Allocation(prob, units, served, unmet, names, cost, groups)


def _unmet_ratios(
    table: pd.DataFrame, unmet: list[pulp.LpVariable]
) -> dict[Hashable, pulp.LpAffineExpression]:
    """Unmet share of each zone (or facility when no zones): unmet persons / demand."""
    demand = table["demand"].to_numpy(dtype=np.float64)
    keys = table["zone"].to_numpy() if "zone" in table.columns else table.index.to_numpy()
    codes, labels = pd.factorize(keys, sort=True)
    totals = np.bincount(codes, weights=demand, minlength=len(labels))
    ratios: dict[Hashable, pulp.LpAffineExpression] = {}
    for g, label in enumerate(labels):
        if totals[g] <= 0:
            continue
        members = np.flatnonzero(codes == g)
        ratios[label] = pulp.LpAffineExpression(
            [(unmet[f], 1.0 / float(totals[g])) for f in members]
        )
    return ratios


def _solve(
    model: _Allocation,
    solver: str | pulp.LpSolver,
    time_limit: float | None,
    gap: float | None,
    msg: bool,
    gamma: float | None,
    what: str,
) -> SolveInfo:
    try:
        return solve_problem(model.prob, solver, time_limit=time_limit, gap=gap, msg=msg)
    except InfeasibleError as exc:
        raise InfeasibleError(
            f"the {what} is infeasible: the unmet-demand ratios cannot be brought within "
            f"gamma={gamma} of each other with the pools given; raise gamma or the pools "
            "(unmet demand already left by the baseline counts)."
        ) from exc


def lp_objective_with_pools(
    facilities: Plan | pd.DataFrame | pd.Series,
    pools: Sequence[ResourcePool],
    *,
    unmet_penalty: float,
    gamma: float | None = None,
    zones: pd.Series | None = None,
    extra_units: dict[str, float] | None = None,
    solver: str | pulp.LpSolver = "highs",
) -> float:
    """Objective (currency) of the LP relaxation, optionally with extra units in some pools.

    ``extra_units`` maps pool name → units added to that pool; the difference of two calls
    is the finite-difference counterpart of the pool duals reported by
    :func:`allocate_resources`.
    """
    table = _facility_table(facilities, zones)
    pool_list = _check_pools(pools)
    _check_penalty(unmet_penalty)
    names = [p.name for p in pool_list]
    extra = {names.index(k): float(v) for k, v in (extra_units or {}).items()}
    model = _build(table, pool_list, unmet_penalty, gamma, relax=True, extra_units=extra)
    info = _solve(model, solver, None, None, False, gamma, "LP relaxation")
    return info.objective


def _check_penalty(unmet_penalty: float) -> None:
    if not (np.isfinite(unmet_penalty) and unmet_penalty >= 0):
        raise InputError(
            f"unmet_penalty is {unmet_penalty}; give a cost >= 0 per person of unmet demand."
        )


def allocate_resources(
    facilities: Plan | pd.DataFrame | pd.Series,
    pools: Sequence[ResourcePool],
    *,
    unmet_penalty: float,
    gamma: float | None = None,
    zones: pd.Series | None = None,
    solver: str | pulp.LpSolver = "highs",
    time_limit: float | None = None,
    gap: float | None = None,
    msg: bool = False,
) -> Plan:
    """Allocate pooled resources across facilities at least cost plus unmet-demand penalty.

    **Model.** Facilities :math:`f` with demand :math:`D_f` (persons) and baseline service
    :math:`b_f` (persons already served), residual demand :math:`R_f = \\max(D_f - b_f, 0)`;
    pools :math:`r` with unit cost :math:`c_r`, productivity :math:`q_r` (persons per unit),
    size :math:`A_r`, largest share :math:`m_{rf}` of a facility's demand it can meet, and
    unit cap :math:`U_r`; penalty :math:`\\pi` per unmet person; groups :math:`g` (zones, or
    each facility) with demand :math:`D_g`.

    Variables: units :math:`n_{fr} \\ge 0` (integer when the pool is indivisible), persons
    served :math:`s_{fr} \\ge 0`, unmet persons :math:`u_f \\ge 0`.

    .. math::

        \\min \\; \\sum_{f,r} c_r n_{fr} + \\pi \\sum_f u_f

        \\text{s.t.}\\quad s_{fr} \\le q_r n_{fr}, \\quad s_{fr} \\le m_{rf} D_f, \\quad
        n_{fr} \\le U_r, \\quad \\sum_r s_{fr} + u_f = R_f,

        \\sum_f n_{fr} \\le A_r \\;(\\text{pool } r; \\text{dual } \\lambda_r), \\qquad
        \\max_g \\rho_g - \\min_g \\rho_g \\le \\gamma, \\;
        \\rho_g = \\frac{\\sum_{f \\in g} u_f}{D_g}.

    Pools are only placed at facilities of their ``facility_types``. After the integer
    model, the LP relaxation (every :math:`n_{fr}` continuous) is solved and its pool duals
    :math:`\\lambda_r = \\partial z_{LP} / \\partial A_r` (currency per unit, <= 0) reported:
    :math:`-\\lambda_r` is what one more unit of pool :math:`r` would save — "what one more
    doctor is worth here". They hold for small changes of :math:`A_r` (within the LP's basis
    range) and describe the relaxation, not the integer model.

    Parameters
    ----------
    facilities
        A :class:`Plan` (its open sites and ``assigned_population``), a Series of demand
        (persons) per facility id, or a DataFrame indexed by facility id (or with an ``id``
        column) with ``demand`` and optional ``type``, ``existing``, ``baseline`` (persons
        already served) and ``zone`` columns. :func:`facility_demand` computes demand by
        nearest facility.
    pools
        The resource pools.
    unmet_penalty
        Cost per person of unmet demand (currency units, >= 0).
    gamma
        Bound (0–1) on the spread of unmet-demand ratios between zones, or between facilities
        when no zones are given; None = no bound.
    zones
        Zone label per facility id (overrides a ``zone`` column).
    solver, time_limit, gap, msg
        As for :func:`accessplan.optimize._solve.solve_problem`.

    Returns
    -------
    Plan
        ``model="allocation"``; ``sites`` one row per facility with ``type``, ``existing``,
        ``cost`` (resource cost placed there), ``capacity`` (persons it can serve: baseline
        plus units × productivity), ``assigned_population`` (demand), ``served``, ``unmet``,
        ``unmet_ratio`` and one ``units_<pool>`` column per pool; ``objective`` cost +
        penalty; ``cost`` resource cost; ``covered_population`` persons served. ``details``:
        ``"units"`` and ``"served"`` (facility × pool), ``"pools"`` (available, used,
        unit_cost, productivity, dual, value_per_unit, binding), ``"pool_duals"`` (Series of
        :math:`\\lambda_r`), ``"lp_objective"``, ``"penalty"``, ``"unmet_ratio"`` (per group),
        ``"spread"``, ``"gamma"``.

    Raises
    ------
    InputError
        Bad pools, demand, penalty, gamma or zones.
    InfeasibleError
        When ``gamma`` cannot be met.
    """
    t0 = time.perf_counter()
    _check_penalty(unmet_penalty)
    table = _facility_table(facilities, zones if zones is not None else _zone_column(facilities))
    pool_list = _check_pools(pools)
    gap = 1e-9 if gap is None else gap
    deadline = None if time_limit is None else t0 + check_time_limit(time_limit)
    mip = _build(table, pool_list, unmet_penalty, gamma, relax=False)
    # The pools' duals come from the LP relaxation; it gets a tenth of the time.
    mip_deadline = None if deadline is None else deadline - 0.1 * (deadline - time.perf_counter())
    info = _solve(mip, solver, seconds_left(mip_deadline), gap, msg, gamma, "allocation")
    result = _read_solution(table, pool_list, mip)
    lp = _build(table, pool_list, unmet_penalty, gamma, relax=True)
    lp_info = _solve(lp, solver, seconds_left(deadline), None, msg, gamma, "LP relaxation")
    if lp_info.status == "optimal":  # the relaxation's optimum bounds the allocation's
        info = with_bound(info, lp_info.objective, "min")
    info = settle(info, info.objective, "min", gap)
    duals = pd.Series(
        [_dual(lp.prob.get_constraint_by_name(name)) for name in lp.pool_constraints],
        index=pd.Index([p.name for p in pool_list], name="pool"),
        name="dual",
    )
    return _allocation_plan(
        facilities, table, pool_list, mip, info, result, duals, lp_info, unmet_penalty, gamma, t0
    )


def _zone_column(facilities: Any) -> pd.Series | None:
    if isinstance(facilities, pd.DataFrame) and "zone" in facilities.columns:
        frame = facilities.set_index("id") if "id" in facilities.columns else facilities
        return frame["zone"]
    return None


def _dual(constraint: pulp.LpConstraint) -> float:
    pi = getattr(constraint, "pi", None)
    return float(pi) if pi is not None else np.nan


def _read_solution(
    table: pd.DataFrame, pools: list[ResourcePool], model: _Allocation
) -> dict[str, pd.DataFrame]:
    names = [p.name for p in pools]
    units = pd.DataFrame(0.0, index=table.index, columns=names)
    served = pd.DataFrame(0.0, index=table.index, columns=names)
    for (f, r), n in model.units.items():
        units.iat[f, r] = float(n.varValue or 0.0)
        served.iat[f, r] = float(model.served[f, r].varValue or 0.0)
    integer = [p.name for p in pools if p.integer]
    units[integer] = units[integer].round()
    return {"units": units, "served": served}


def _allocation_plan(
    facilities: Any,
    table: pd.DataFrame,
    pools: list[ResourcePool],
    model: _Allocation,
    info: SolveInfo,
    result: dict[str, pd.DataFrame],
    duals: pd.Series,
    lp_info: SolveInfo,
    unmet_penalty: float,
    gamma: float | None,
    t0: float,
) -> Plan:
    units, served = result["units"], result["served"]
    unit_cost = pd.Series({p.name: p.unit_cost for p in pools})
    productivity = pd.Series({p.name: p.productivity for p in pools})
    demand = table["demand"].to_numpy(dtype=np.float64)
    baseline_served = np.minimum(table["baseline"].to_numpy(dtype=np.float64), demand)
    unmet = np.array([float(u.varValue or 0.0) for u in model.unmet])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(demand > 0, unmet / demand, np.nan)
    sites = pd.DataFrame(
        {
            "type": table["type"].to_numpy(),
            "existing": table["existing"].astype(bool).to_numpy(),
            "cost": (units * unit_cost).sum(axis=1).to_numpy(),
            "capacity": baseline_served + (units * productivity).sum(axis=1).to_numpy(),
            "assigned_population": demand,
            "served": demand - unmet,
            "unmet": unmet,
            "unmet_ratio": ratio,
        },
        index=table.index,
    )
    if "zone" in table.columns:
        sites["zone"] = table["zone"].to_numpy()
    for name in units.columns:
        sites[f"units_{name}"] = units[name].to_numpy()
    sites.index.name = "id"
    used = units.sum(axis=0)
    available = pd.Series({p.name: p.available for p in pools})
    pool_table = pd.DataFrame(
        {
            "available": available,
            "used": used,
            "unit_cost": unit_cost,
            "productivity": productivity,
            "dual": duals,
            "value_per_unit": -duals,
            "binding": used >= available - 1e-6,
        }
    )
    pool_table.index.name = "pool"
    group_ratio = pd.Series({g: float(pulp.value(e)) for g, e in model.groups.items()})
    assignment = (
        facilities.assignment.copy()
        if isinstance(facilities, Plan)
        else pd.DataFrame(columns=["origin", "site", "share", "persons", "minutes"])
    )
    cost = float(sites["cost"].sum())
    return Plan(
        model="allocation",
        sites=sites,
        assignment=assignment,
        objective=info.objective,
        bound=info.bound,
        gap=info.gap,
        status=info.status,
        solver=info.solver,
        seconds=time.perf_counter() - t0,
        covered_population=float((demand - unmet).sum()),
        total_population=float(demand.sum()),
        mean_minutes=np.nan,
        cost=cost,
        details={
            "units": units,
            "served": served,
            "pools": pool_table,
            "pool_duals": duals,
            "lp_objective": lp_info.objective,
            "penalty": float(unmet_penalty * unmet.sum()),
            "unmet_ratio": group_ratio,
            "spread": float(group_ratio.max() - group_ratio.min()) if len(group_ratio) else 0.0,
            "gamma": gamma,
        },
    )
