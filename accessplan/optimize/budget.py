"""Budgeted siting of several supply types: which clinics, robotic units and digital hubs to buy.

A candidate site can host at most one supply *option* (a :class:`SupplyOption`: a type with a
cost, a capacity and a service standard). :func:`budgeted_siting` chooses sites and options to
maximise the population covered (or minimise population-weighted travel time, or maximise the
worst zone's coverage) within a budget, keeping existing facilities open;
:func:`budget_sweep` repeats it over a list of budgets — "with budget B, how many robotic vs
physical clinics, where, and how much does coverage rise?".

Digital supply follows :mod:`accessplan.supply`: a digital hub is reached without travel, but
only by the connected share :math:`a_i` of each origin's population, and it resolves the share
:math:`e` (effectiveness) of the needs it serves, so its effective capacity is :math:`e S`.
A person's need is met once: by a physical site or — for at most the share :math:`a_i e` of the
origin — digitally, never both (no double counting), and needs met digitally use no physical
capacity.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pulp
import scipy.sparse as sp

from accessplan.errors import AccessplanError, InfeasibleError, InputError, SolverError
from accessplan.optimize import fairness
from accessplan.optimize._solve import SolveInfo, relative_gap, solve_problem
from accessplan.optimize.plan import Plan
from accessplan.supply import PHYSICAL_TYPES, SUPPLY_TYPES
from accessplan.traveltimes import TravelTimes, align_values

__all__ = ["SupplyOption", "budget_sweep", "budgeted_siting"]

OBJECTIVES = ("coverage", "median", "maximin")
_EPS = 1e-9


@dataclass(frozen=True, eq=False)
class SupplyOption:
    """One kind of supply that a candidate site can host.

    Parameters
    ----------
    type
        ``"clinic"``, ``"robotic"`` or ``"digital"`` (see :mod:`accessplan.supply`).
    cost
        Cost of opening one (currency units, >= 0); per-site overrides through
        ``site_costs`` of :func:`budgeted_siting`.
    capacity
        Persons one site of this option can serve (> 0); None = uncapacitated. For a digital
        hub, persons it can consult, of whom the share ``effectiveness`` have their need
        resolved.
    standard_minutes
        Service standard: a physical site covers the origins within this many minutes.
        Required for ``clinic`` and ``robotic``; ignored for ``digital``.
    digital_access
        Digital only: connected share :math:`a_i` (0–1) of each origin's population, one
        number or a Series indexed by origin id.
    effectiveness
        Digital only: share :math:`e` (0–1) of the needs a digital consultation resolves.
    name
        Label of the option (default: the type); give distinct names to two options of the
        same type (e.g. a small and a large clinic).
    """

    type: str
    cost: float
    capacity: float | None = None
    standard_minutes: float | None = None
    digital_access: float | pd.Series = 1.0
    effectiveness: float = 1.0
    name: str | None = field(default=None)

    def __post_init__(self) -> None:
        if self.type not in SUPPLY_TYPES:
            raise InputError(
                f"SupplyOption type {self.type!r} is unknown; use one of {list(SUPPLY_TYPES)}."
            )
        label = self.label
        if not (np.isfinite(self.cost) and self.cost >= 0):
            raise InputError(
                f"SupplyOption {label!r}: cost is {self.cost}; give a cost >= 0 (currency units)."
            )
        if self.capacity is not None and not (np.isfinite(self.capacity) and self.capacity > 0):
            raise InputError(
                f"SupplyOption {label!r}: capacity is {self.capacity}; give a number of persons "
                "> 0, or None for an uncapacitated option."
            )
        if self.type in PHYSICAL_TYPES:
            std = self.standard_minutes
            if std is None or not (np.isfinite(std) and std >= 0):
                raise InputError(
                    f"SupplyOption {label!r}: a physical option needs standard_minutes (the "
                    f"service standard in minutes, >= 0); got {std}."
                )
        if not 0.0 <= self.effectiveness <= 1.0:
            raise InputError(
                f"SupplyOption {label!r}: effectiveness is {self.effectiveness}; give a share "
                "between 0 and 1."
            )
        if np.isscalar(self.digital_access) and not 0.0 <= float(self.digital_access) <= 1.0:  # type: ignore[arg-type]
            raise InputError(
                f"SupplyOption {label!r}: digital_access is {self.digital_access}; give a share "
                "between 0 and 1 (or a Series of shares per origin)."
            )

    @property
    def label(self) -> str:
        """The option's name, or its type when unnamed."""
        return self.name if self.name is not None else self.type

    @property
    def is_digital(self) -> bool:
        return self.type == "digital"


# ---------------------------------------------------------------------------------- inputs
@dataclass
class _Instance:
    """Checked inputs: one row per site–option column (new) or existing facility."""

    tt: TravelTimes
    population: np.ndarray
    columns: pd.DataFrame
    digital_share: np.ndarray
    effectiveness: float
    connected_population: float


def _check_options(options: Sequence[SupplyOption]) -> list[SupplyOption]:
    options = list(options)
    if not options:
        raise InputError("options is empty; give at least one SupplyOption.")
    for opt in options:
        if not isinstance(opt, SupplyOption):
            raise InputError(
                f"options must be SupplyOption objects; got {type(opt).__name__} ({opt!r})."
            )
    labels = [o.label for o in options]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise InputError(f"options {dup} repeat; give each SupplyOption a distinct name.")
    return options


def _digital_parameters(
    options: list[SupplyOption], origin_ids: pd.Index
) -> tuple[np.ndarray, float]:
    """Connected share a_i per origin and effectiveness e, shared by all digital options."""
    digital = [o for o in options if o.is_digital]
    if not digital:
        return np.zeros(len(origin_ids)), 0.0
    first = digital[0]
    access = align_values(first.digital_access, origin_ids, f"digital_access of {first.label!r}")
    if (access > 1).any():
        at = origin_ids[np.flatnonzero(access > 1)[0]]
        raise InputError(
            f"digital_access of {first.label!r} is above 1 for origin {at!r}; give shares 0–1."
        )
    for other in digital[1:]:
        same_e = other.effectiveness == first.effectiveness
        other_access = align_values(
            other.digital_access, origin_ids, f"digital_access of {other.label!r}"
        )
        if not (same_e and np.array_equal(other_access, access)):
            raise InputError(
                f"digital options {first.label!r} and {other.label!r} differ in digital_access "
                "or effectiveness; these describe the population, so give all digital options "
                "the same values."
            )
    return access, float(first.effectiveness)


def _existing_table(
    existing: pd.DataFrame | Iterable[Hashable] | None,
    tt: TravelTimes,
    options: list[SupplyOption],
) -> pd.DataFrame:
    cols = ["site", "option", "type", "cost", "capacity", "standard", "existing", "dest"]
    if existing is None:
        return pd.DataFrame(columns=cols)
    if isinstance(existing, pd.DataFrame):
        table = existing.copy()
        if "id" in table.columns:
            table = table.set_index("id")
    else:
        table = pd.DataFrame(index=pd.Index(list(existing)))
    if not table.index.is_unique:
        dup = table.index[table.index.duplicated()][:5].tolist()
        raise InputError(f"existing: ids {dup} repeat; list each existing facility once.")
    types = table["type"] if "type" in table.columns else pd.Series("clinic", index=table.index)
    unknown = ~types.isin(SUPPLY_TYPES)
    if unknown.any():
        at = types.index[unknown.to_numpy()][0]
        raise InputError(
            f"existing: facility {at!r} has type {types[at]!r}; use one of {list(SUPPLY_TYPES)}."
        )
    capacity = _optional_column(table, "capacity", "existing")
    standard = _optional_column(table, "standard_minutes", "existing")
    default_std = {o.type: o.standard_minutes for o in reversed(options) if not o.is_digital}
    rows = []
    for pos, site in enumerate(table.index):
        kind = str(types.iloc[pos])
        std = standard[pos]
        if kind != "digital" and np.isnan(std):
            if kind not in default_std:
                raise InputError(
                    f"existing: facility {site!r} is a {kind} but no standard_minutes is given "
                    f"and no {kind} option defines one; add a 'standard_minutes' column."
                )
            std = float(default_std[kind])  # type: ignore[arg-type]
        dest = tt.destination_ids.get_indexer([site])[0]
        if kind != "digital" and dest < 0:
            raise InputError(
                f"existing: facility {site!r} is not a destination of the travel times; "
                "compute travel times to it."
            )
        if kind == "digital" and not any(o.is_digital for o in options):
            raise InputError(
                f"existing: facility {site!r} is digital but no digital SupplyOption describes "
                "digital_access and effectiveness; add one (its cost does not matter here)."
            )
        rows.append((site, f"existing {kind}", kind, 0.0, capacity[pos], std, True, dest))
    return pd.DataFrame(rows, columns=cols)


def _optional_column(table: pd.DataFrame, col: str, where: str) -> np.ndarray:
    if col not in table.columns:
        return np.full(len(table), np.nan)
    values = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=np.float64)
    bad = (values < 0) | np.isinf(values)
    if col == "capacity":
        bad |= values == 0
    if bad.any():
        at = table.index[np.flatnonzero(bad)[0]]
        raise InputError(
            f"{where}: {col} of {at!r} is {values[np.flatnonzero(bad)[0]]}; give a positive "
            f"number (NaN for none)."
        )
    return values


def _candidate_ids(
    candidates: Iterable[Hashable] | None, tt: TravelTimes, existing_ids: pd.Index
) -> pd.Index:
    if candidates is None:
        return tt.destination_ids.difference(existing_ids, sort=False)
    ids = pd.Index(list(candidates))
    if not ids.is_unique:
        raise InputError(f"candidates repeat: {ids[ids.duplicated()][:5].tolist()}.")
    missing = ids.difference(tt.destination_ids)
    if len(missing):
        raise InputError(
            f"candidates {missing[:5].tolist()} are not destinations of the travel times; "
            "compute travel times to them."
        )
    clash = ids.intersection(existing_ids)
    if len(clash):
        raise InputError(
            f"candidates {clash[:5].tolist()} are existing facilities; existing sites stay "
            "open, so leave them out of the candidates."
        )
    return ids


def _new_columns(
    cand: pd.Index,
    tt: TravelTimes,
    options: list[SupplyOption],
    site_costs: pd.DataFrame | None,
) -> pd.DataFrame:
    labels = [o.label for o in options]
    costs = np.tile(np.array([o.cost for o in options], dtype=np.float64), (len(cand), 1))
    if site_costs is not None:
        costs = _apply_site_costs(costs, cand, labels, site_costs)
    allowed = np.isfinite(costs)
    site_pos, opt_pos = np.nonzero(allowed)
    return pd.DataFrame(
        {
            "site": cand.to_numpy()[site_pos],
            "option": np.array(labels, dtype=object)[opt_pos],
            "type": np.array([o.type for o in options], dtype=object)[opt_pos],
            "cost": costs[site_pos, opt_pos],
            "capacity": np.array([np.nan if o.capacity is None else o.capacity for o in options])[
                opt_pos
            ],
            "standard": np.array(
                [np.nan if o.is_digital else o.standard_minutes for o in options], dtype=float
            )[opt_pos],
            "existing": False,
            "dest": tt.destination_ids.get_indexer(cand)[site_pos],
        }
    )


def _apply_site_costs(
    costs: np.ndarray, cand: pd.Index, labels: list[str], site_costs: pd.DataFrame
) -> np.ndarray:
    if not isinstance(site_costs, pd.DataFrame):
        raise InputError(
            "site_costs must be a DataFrame indexed by candidate id with one column per option "
            "name (NaN = the option's cost, inf = option not allowed at that site)."
        )
    unknown_cols = [c for c in site_costs.columns if c not in labels]
    if unknown_cols:
        raise InputError(
            f"site_costs columns {unknown_cols} are not option names; use names among {labels}."
        )
    unknown_rows = site_costs.index.difference(cand)
    if len(unknown_rows):
        raise InputError(
            f"site_costs rows {unknown_rows[:5].tolist()} are not candidate sites; drop them "
            "or add them to the candidates."
        )
    costs = costs.copy()
    rows = cand.get_indexer(site_costs.index)
    for col in site_costs.columns:
        values = pd.to_numeric(site_costs[col], errors="coerce").to_numpy(dtype=np.float64)
        if (values < 0).any():
            at = site_costs.index[np.flatnonzero(values < 0)[0]]
            raise InputError(
                f"site_costs: cost of {col!r} at site {at!r} is negative; costs must be >= 0."
            )
        given = ~np.isnan(values)
        costs[rows[given], labels.index(col)] = values[given]
    return costs


def _prepare(
    tt: TravelTimes,
    demand: pd.Series | float,
    options: Sequence[SupplyOption],
    budget: float,
    candidates: Iterable[Hashable] | None,
    existing: pd.DataFrame | Iterable[Hashable] | None,
    site_costs: pd.DataFrame | None,
) -> _Instance:
    opts = _check_options(options)
    population = align_values(demand, tt.origin_ids, "demand")
    access, effectiveness = _digital_parameters(opts, tt.origin_ids)
    old = _existing_table(existing, tt, opts)
    cand = _candidate_ids(candidates, tt, pd.Index(old["site"]))
    new = _new_columns(cand, tt, opts, site_costs)
    _check_budget(budget, new)
    columns = pd.concat([old, new], ignore_index=True) if len(old) else new
    columns["existing"] = columns["existing"].astype(bool)
    return _Instance(
        tt=tt,
        population=population,
        columns=columns.reset_index(drop=True),
        digital_share=access * effectiveness,
        effectiveness=effectiveness,
        connected_population=float(access @ population),
    )


def _check_budget(budget: float, new: pd.DataFrame) -> None:
    if not (np.isfinite(budget) and budget >= 0):
        raise InputError(f"budget is {budget}; give a finite amount >= 0 (currency units).")
    if new.empty:
        raise InputError(
            "no candidate site can host any option (no candidates, or every cost is inf in "
            "site_costs); give candidate sites."
        )
    cheapest = new.loc[new["cost"].idxmin()]
    if budget < cheapest["cost"]:
        raise InputError(
            f"budget {budget:g} is below the cheapest option ({cheapest['option']!r} at site "
            f"{cheapest['site']!r}, cost {cheapest['cost']:g}); raise the budget to at least "
            f"{cheapest['cost']:g} or add cheaper options."
        )


# ---------------------------------------------------------------------------------- pairs
@dataclass
class _Pairs:
    """Reachable (origin, physical column) pairs within each column's reach."""

    origin: np.ndarray
    column: np.ndarray
    minutes: np.ndarray
    within_standard: np.ndarray


def _physical_pairs(inst: _Instance, reach: np.ndarray) -> _Pairs:
    """Vectorised: one sparse column slice for all physical columns, filtered by reach."""
    cols = inst.columns
    physical = np.flatnonzero(~cols["type"].eq("digital").to_numpy())
    csc = inst.tt.matrix.tocsc()
    sub = sp.coo_array(csc[:, cols["dest"].to_numpy()[physical]])
    column = physical[sub.col]
    keep = (sub.data <= reach[column]) & (inst.population[sub.row] > 0)
    standard = cols["standard"].to_numpy(dtype=np.float64)
    origin, column, minutes = sub.row[keep], column[keep], sub.data[keep]
    order = np.lexsort((column, minutes, origin))
    origin, column, minutes = origin[order], column[order], minutes[order]
    return _Pairs(origin, column, minutes, minutes <= standard[column])


# ---------------------------------------------------------------------------------- model
@dataclass
class _Model:
    prob: pulp.LpProblem
    x: dict[int, pulp.LpVariable]
    physical: list[Any]
    flows: list[pulp.LpVariable] | None
    digital: dict[int, pulp.LpVariable]
    unserved: dict[int, pulp.LpVariable]
    coverage: list[pulp.LpAffineExpression | float]
    cost: pulp.LpAffineExpression
    stages: list[tuple[int, pulp.LpAffineExpression, str]]
    zone_labels: pd.Series | None = None


def _group(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    return order, np.searchsorted(keys[order], np.arange(n + 1))


def _affine(terms: Iterable[tuple[Any, float]]) -> pulp.LpAffineExpression:
    return pulp.LpAffineExpression(list(terms))


def _build(
    inst: _Instance,
    pairs: _Pairs,
    objective: str,
    budget: float,
    unserved_minutes: float,
) -> _Model:
    cols = inst.columns
    P = inst.population
    n_orig = len(P)
    prob = pulp.LpProblem("budgeted_siting", pulp.LpMaximize)
    new_pos = np.flatnonzero(~cols["existing"].to_numpy())
    x = {int(k): prob.add_variable(f"x_{k}", cat=pulp.LpBinary) for k in new_pos}
    cost = _affine((x[k], float(cols.at[k, "cost"])) for k in x)
    prob += cost <= budget, "budget"
    _one_option_per_site(prob, cols, x)

    is_digital = cols["type"].eq("digital").to_numpy()
    capacity = cols["capacity"].to_numpy(dtype=np.float64)
    capacitated = bool(np.isfinite(capacity[~is_digital]).any())
    use_flows = objective == "median" or capacitated
    physical: list[Any] = [0.0] * n_orig
    served_within: list[Any] = [0.0] * n_orig
    flows = None
    if use_flows:
        flows = _flow_terms(prob, inst, pairs, x, physical, served_within)
    else:
        _aggregated_terms(prob, pairs, x, n_orig, physical, served_within)

    digital = _digital_terms(prob, inst, x, is_digital, capacity)
    coverage: list[Any] = []
    for i in range(n_orig):
        expr = served_within[i]
        if i in digital:
            expr = expr + digital[i]
        coverage.append(expr)

    unserved: dict[int, pulp.LpVariable] = {}
    for i in np.flatnonzero(P > 0):
        i = int(i)
        total = physical[i] + digital[i] if i in digital else physical[i]
        if objective == "median":
            unserved[i] = prob.add_variable(f"u_{i}", lowBound=0.0, upBound=1.0)
            prob += total + unserved[i] == 1.0
        elif i in digital and not isinstance(physical[i], float):
            prob += total <= 1.0

    stages = _stages(objective, inst, pairs, flows, unserved, coverage, cost, unserved_minutes)
    return _Model(prob, x, physical, flows, digital, unserved, coverage, cost, stages)


def _one_option_per_site(
    prob: pulp.LpProblem, cols: pd.DataFrame, x: dict[int, pulp.LpVariable]
) -> None:
    keys = list(x)
    codes, _ = pd.factorize(cols.loc[keys, "site"])
    order, bounds = _group(codes, int(codes.max()) + 1 if len(codes) else 0)
    for g in range(len(bounds) - 1):
        members = order[bounds[g] : bounds[g + 1]]
        if members.size > 1:
            prob += _affine((x[keys[m]], 1.0) for m in members) <= 1.0


def _flow_terms(
    prob: pulp.LpProblem,
    inst: _Instance,
    pairs: _Pairs,
    x: dict[int, pulp.LpVariable],
    physical: list[Any],
    served_within: list[Any],
) -> list[pulp.LpVariable]:
    """Assignment shares w_ik (0–1) per reachable pair; w_ik <= x_k; capacity per column."""
    P = inst.population
    n_cols = len(inst.columns)
    flows = [
        prob.add_variable(f"w_{p}", lowBound=0.0, upBound=1.0) for p in range(pairs.origin.size)
    ]
    for p, k in enumerate(pairs.column):
        if int(k) in x:
            prob += flows[p] <= x[int(k)]
    order, bounds = _group(pairs.origin, len(P))
    for i in np.flatnonzero(np.diff(bounds)):
        members = order[bounds[i] : bounds[i + 1]]
        physical[i] = _affine((flows[p], 1.0) for p in members)
        inner = members[pairs.within_standard[members]]
        if inner.size:
            served_within[i] = _affine((flows[p], 1.0) for p in inner)
        prob += physical[i] <= 1.0
    capacity = inst.columns["capacity"].to_numpy(dtype=np.float64)
    order, bounds = _group(pairs.column, n_cols)
    for k in np.flatnonzero(np.isfinite(capacity) & (np.diff(bounds) > 0)):
        members = order[bounds[k] : bounds[k + 1]]
        load = _affine((flows[p], float(P[pairs.origin[p]])) for p in members)
        rhs = x[int(k)] * float(capacity[k]) if int(k) in x else float(capacity[k])
        prob += load <= rhs
    return flows


def _aggregated_terms(
    prob: pulp.LpProblem,
    pairs: _Pairs,
    x: dict[int, pulp.LpVariable],
    n_orig: int,
    physical: list[Any],
    served_within: list[Any],
) -> None:
    """Uncapacitated coverage: y_i <= sum of x_k over the open columns that reach i."""
    order, bounds = _group(pairs.origin, n_orig)
    for i in np.flatnonzero(np.diff(bounds)):
        members = order[bounds[i] : bounds[i + 1]]
        y = prob.add_variable(f"y_{i}", lowBound=0.0, upBound=1.0)
        columns = {int(k) for k in pairs.column[members]}
        if all(k in x for k in columns):
            prob += y <= _affine((x[k], 1.0) for k in sorted(columns))
        physical[i] = y
        served_within[i] = y


def _digital_terms(
    prob: pulp.LpProblem,
    inst: _Instance,
    x: dict[int, pulp.LpVariable],
    is_digital: np.ndarray,
    capacity: np.ndarray,
) -> dict[int, pulp.LpVariable]:
    """z_i in [0, a_i e] and sum_i P_i z_i <= e * (open digital capacity)."""
    if not is_digital.any():
        return {}
    P = inst.population
    reach = np.flatnonzero((inst.digital_share > 0) & (P > 0))
    z = {
        int(i): prob.add_variable(f"z_{i}", lowBound=0.0, upBound=float(inst.digital_share[i]))
        for i in reach
    }
    if not z:
        return {}
    e = inst.effectiveness
    unlimited = inst.connected_population  # a hub without capacity can serve everyone connected
    rhs = pulp.LpAffineExpression()
    for k in np.flatnonzero(is_digital):
        cap = float(capacity[k]) if np.isfinite(capacity[k]) else unlimited
        rhs += (x[int(k)] * (e * cap)) if int(k) in x else e * cap
    prob += _affine((z[i], float(P[i])) for i in z) <= rhs, "digital_capacity"
    return z


def _stages(
    objective: str,
    inst: _Instance,
    pairs: _Pairs,
    flows: list[pulp.LpVariable] | None,
    unserved: dict[int, pulp.LpVariable],
    coverage: list[Any],
    cost: pulp.LpAffineExpression,
    unserved_minutes: float,
) -> list[tuple[int, pulp.LpAffineExpression, str]]:
    P = inst.population
    covered = _weighted(coverage, P)
    if objective == "median":
        assert flows is not None
        weighted = _affine(
            (flows[p], float(P[pairs.origin[p]] * pairs.minutes[p])) for p in range(len(flows))
        )
        weighted += _affine((u, float(P[i] * unserved_minutes)) for i, u in unserved.items())
        return [(pulp.LpMinimize, weighted, "person_minutes"), (pulp.LpMinimize, cost, "cost")]
    return [(pulp.LpMaximize, covered, "covered_population"), (pulp.LpMinimize, cost, "cost")]


def _weighted(values: list[Any], weights: np.ndarray) -> pulp.LpAffineExpression:
    expr = pulp.LpAffineExpression()
    for i in np.flatnonzero(weights > 0):
        v = values[int(i)]
        if isinstance(v, float):
            expr.constant += v * float(weights[i])
        else:
            expr.addInPlace(v * float(weights[i]))
    return expr


# ---------------------------------------------------------------------------------- solving
def _solve_stages(
    model: _Model,
    solver: str | pulp.LpSolver,
    time_limit: float | None,
    gap: float | None,
    msg: bool,
) -> tuple[SolveInfo, list[float]]:
    """Lexicographic solve: each stage is optimised with the earlier ones held at their optimum.

    The first stage is the model's objective; later stages only break ties (fewest costs,
    then...). A later stage that fails keeps the earlier solution.
    """
    prob = model.prob
    # HiGHS stops at a 1e-4 relative gap by default; ask for proven optimality unless the
    # caller accepts a gap (a budget sweep must compare like with like).
    gap = 1e-9 if gap is None else gap
    first: SolveInfo | None = None
    values: list[float] = []
    for sense, expr, name in model.stages:
        # Every stage is solved as a minimisation (a maximisation negated) so that the bound
        # read back from the solver has the sign of the objective.
        sign = -1.0 if sense == pulp.LpMaximize else 1.0
        prob.sense = pulp.LpMinimize
        prob.setObjective(expr * sign)
        if first is None:
            info = solve_problem(prob, solver, time_limit=time_limit, gap=gap, msg=msg)
            if info.status != "optimal" and not _solution_is_feasible(prob):
                raise SolverError(
                    f"{info.solver} found no feasible plan within the time limit "
                    f"({time_limit} s); raise time_limit or accept a larger gap."
                )
            first = replace(info, objective=sign * info.objective, bound=sign * info.bound)
        else:
            saved = {v.name: v.varValue for v in prob.variables()}
            try:
                info = solve_problem(prob, solver, time_limit=time_limit, gap=gap, msg=msg)
                usable = info.status == "optimal" or _solution_is_feasible(prob)
            except AccessplanError:
                usable = False
            if not usable:
                # A tie-break stage that stopped without a usable solution keeps the last one.
                for v in prob.variables():
                    v.varValue = saved.get(v.name)
                break
        value = float(pulp.value(expr) or 0.0)
        values.append(value)
        tol = 1e-9 * max(1.0, abs(value))
        held = expr >= value - tol if sense == pulp.LpMaximize else expr <= value + tol
        prob += held, f"hold_{name}"
    assert first is not None
    return first, values


def _solution_is_feasible(prob: pulp.LpProblem, tol: float = 1e-6) -> bool:
    """True when the variable values satisfy every bound, integrality and constraint."""
    for v in prob.variables():
        value = v.varValue
        if value is None or not v.valid(tol):
            return False
    return all(c.valid(tol * max(1.0, abs(c.constant))) for c in prob.constraints())


# ---------------------------------------------------------------------------------- public
def budgeted_siting(
    tt: TravelTimes,
    demand: pd.Series | float,
    options: Sequence[SupplyOption],
    budget: float,
    *,
    objective: str = "coverage",
    candidates: Iterable[Hashable] | None = None,
    existing: pd.DataFrame | Iterable[Hashable] | None = None,
    site_costs: pd.DataFrame | None = None,
    zones: pd.Series | Any = None,
    origins: Any = None,
    zone_col: str | None = None,
    min_zone_coverage: float | Mapping[Hashable, float] | None = None,
    max_minutes: float | None = None,
    unmet_spread: float | None = None,
    unserved_minutes: float | None = None,
    solver: str | pulp.LpSolver = "highs",
    time_limit: float | None = None,
    gap: float | None = None,
    msg: bool = False,
) -> Plan:
    """Choose sites and supply types within a budget (maximal coverage or weighted time).

    **Model** (exact MILP, built only on the reachable pairs within each option's reach).

    *Sets.* Origins :math:`i \\in I`; candidate sites :math:`j \\in J`; options
    :math:`t \\in T` (clinic, robotic, digital, ... each a :class:`SupplyOption`); columns
    :math:`k = (j, t)` with :math:`t` allowed at :math:`j`, plus existing facilities
    :math:`k \\in E` (fixed open); physical columns :math:`K^{ph}`, digital columns
    :math:`K^{dig}`; reachable pairs :math:`N = \\{(i,k): k \\in K^{ph}, d_{ik} \\le r_k\\}`
    with reach :math:`r_k = \\min(s_t, \\text{max\\_minutes})` for the coverage objectives
    and :math:`r_k = \\text{max\\_minutes}` (default: every stored pair) for the median one.

    *Parameters.* :math:`P_i` persons; :math:`d_{ik}` minutes; standard :math:`s_k`;
    cost :math:`c_k` (currency) and budget :math:`B`; capacity :math:`Q_k` (persons,
    :math:`\\infty` when None; a digital hub without capacity counts as
    :math:`\\sum_i a_i P_i`); connected share :math:`a_i`, effectiveness :math:`e`;
    unserved penalty :math:`M` minutes (median only).

    *Variables.* :math:`x_k \\in \\{0,1\\}` open column :math:`k` (:math:`x_k = 1` for
    :math:`k \\in E`); :math:`w_{ik} \\in [0,1]` share of origin :math:`i` served physically by
    :math:`k`; :math:`z_i \\in [0, a_i e]` share of origin :math:`i` whose need is met
    digitally; :math:`u_i \\in [0,1]` unserved share (median). Coverage of origin :math:`i`:
    :math:`y_i = \\sum_{k: (i,k) \\in N, d_{ik} \\le s_k} w_{ik} + z_i`.

    *Constraints.*

    .. math::

        \\sum_{t} x_{(j,t)} \\le 1 \\;\\forall j, \\qquad
        \\sum_{k \\notin E} c_k x_k \\le B, \\qquad
        w_{ik} \\le x_k, \\qquad
        \\sum_i P_i w_{ik} \\le Q_k x_k \\;\\forall k \\in K^{ph},

        \\sum_k w_{ik} + z_i \\le 1 \\;(\\text{coverage}), \\qquad
        \\sum_k w_{ik} + z_i + u_i = 1 \\;(\\text{median}), \\qquad
        \\sum_i P_i z_i \\le e \\sum_{k \\in K^{dig}} Q_k x_k .

    Each person's need is met at most once — physically or digitally — so digital coverage
    never double-counts people covered physically, never exceeds :math:`\\sum_i a_i e P_i`, and
    never exceeds the effective digital capacity :math:`e \\sum Q_k x_k`. Without any
    physical capacity the coverage objectives use the classic MCLP aggregation
    :math:`y^{ph}_i \\le \\sum_{k: (i,k) \\in N} x_k` instead of the :math:`w` variables (same
    optimum, fewer variables) and assign each covered origin to its nearest open site.

    *Objective* (``objective``):

    * ``"coverage"``: maximise :math:`\\sum_i P_i y_i` (persons);
    * ``"median"``: minimise :math:`\\sum_{(i,k)} P_i d_{ik} w_{ik} + M \\sum_i P_i u_i`
      (person-minutes; needs met digitally travel 0 minutes);
    * ``"maximin"``: maximise the worst zone coverage :math:`\\min_z c_z` (needs ``zones``),
      then the covered population.

    Ties are broken lexicographically: with the objective held at its optimum, the cost
    :math:`\\sum c_k x_k` is minimised (so options that add nothing are never bought).

    *Equity* (see :mod:`accessplan.optimize.fairness`; zone coverage
    :math:`c_z = \\sum_{i \\in z} P_i y_i / P_z`): ``min_zone_coverage``
    :math:`c_z \\ge m_z`; ``unmet_spread`` :math:`\\max_z (1-c_z) - \\min_z (1-c_z) \\le
    \\gamma`; ``max_minutes`` removes every pair longer than the cap.

    Parameters
    ----------
    tt
        Travel times (minutes), origins × destinations; candidate and existing sites are
        destinations.
    demand
        Persons per origin id (Series) or one number for every origin.
    options
        The supply options a candidate may host (at most one per site).
    budget
        Money available for new sites (currency units, same unit as the costs).
    objective
        ``"coverage"`` (default), ``"median"`` or ``"maximin"``.
    candidates
        Destination ids that may host a new site; default: every destination that is not an
        existing facility.
    existing
        Facilities that stay open: ids (clinics), or a DataFrame indexed by id (or with an
        ``id`` column) with optional columns ``type``, ``capacity`` (persons) and
        ``standard_minutes`` (default: the standard of the first option of the same type).
        Digital existing facilities need not be destinations.
    site_costs
        Per-site cost overrides: DataFrame indexed by candidate id, one column per option name;
        NaN keeps the option's cost, ``inf`` forbids the option at that site.
    zones, origins, zone_col
        Zones for the equity options and the per-zone report (see
        :func:`accessplan.optimize.fairness.zone_labels`).
    min_zone_coverage
        Minimum coverage share (0–1) of every zone, or a mapping zone → share.
    max_minutes
        Largest travel time (minutes) of any person served physically.
    unmet_spread
        Bound :math:`\\gamma` (0–1) on the spread of unmet shares between zones.
    unserved_minutes
        Median objective: minutes charged per unserved person; default ``max_minutes`` if
        given, else the travel-time cutoff, else the largest stored travel time to a site.
    solver, time_limit, gap, msg
        Solver choice (``"highs"``, ``"cbc"`` or a PuLP solver), seconds per solve stage,
        relative MIP gap and solver log; see :func:`accessplan.optimize._solve.solve_problem`.

    Returns
    -------
    Plan
        ``sites`` (open sites with ``type``, ``option``, ``existing``, ``cost``,
        ``capacity``, ``standard_minutes``, ``assigned_population``), ``assignment``
        (physical), ``objective`` and ``bound`` of the main objective, ``cost``,
        ``covered_population`` (physical within the standard plus digital), and ``details``:
        ``"coverage_by_origin"`` (population and physical, digital and covered shares),
        ``"zones"`` (per-zone coverage when zones are given), ``"digital"`` (covered,
        connected and capacity figures), ``"counts"`` (new sites per option), ``"budget"``,
        ``"stages"`` (value of each lexicographic stage).

    Raises
    ------
    InputError
        Unknown supply type, negative cost or capacity, budget below the cheapest option, ids
        that do not match, a bad objective or equity parameter.
    InfeasibleError
        A zone minimum that no choice of sites can meet (named), or equity constraints that
        the budget cannot satisfy.
    """
    t0 = time.perf_counter()
    if objective not in OBJECTIVES:
        raise InputError(f"objective {objective!r} is unknown; use one of {list(OBJECTIVES)}.")
    if max_minutes is not None:
        fairness._check_max_minutes(max_minutes)
    inst = _prepare(tt, demand, options, budget, candidates, existing, site_costs)
    labels = _zones_for(inst, zones, origins, zone_col, objective, min_zone_coverage, unmet_spread)
    reach = _reach(inst, objective, max_minutes)
    pairs = _physical_pairs(inst, reach)
    penalty = _unserved_minutes(inst, unserved_minutes, max_minutes)
    if labels is not None and min_zone_coverage is not None:
        fairness.check_zone_minimum_reachable(
            _best_share(inst, pairs), inst.population, labels, min_zone_coverage
        )
    model = _build(inst, pairs, objective, budget, penalty)
    if labels is not None:
        _add_equity(model, inst, labels, objective, min_zone_coverage, unmet_spread)
    try:
        info, stage_values = _solve_stages(model, solver, time_limit, gap, msg)
    except InfeasibleError as exc:
        raise InfeasibleError(
            f"no plan within budget {budget:g} meets the equity constraints "
            f"(min_zone_coverage={min_zone_coverage}, unmet_spread={unmet_spread}, "
            f"max_minutes={max_minutes}); raise the budget or relax them."
        ) from exc
    return _plan(inst, pairs, model, info, stage_values, labels, budget, objective, t0)


def _zones_for(
    inst: _Instance,
    zones: Any,
    origins: Any,
    zone_col: str | None,
    objective: str,
    min_zone_coverage: Any,
    unmet_spread: float | None,
) -> pd.Series | None:
    if zones is None:
        needs = [
            name
            for name, given in (
                ("objective='maximin'", objective == "maximin"),
                ("min_zone_coverage", min_zone_coverage is not None),
                ("unmet_spread", unmet_spread is not None),
            )
            if given
        ]
        if needs:
            raise InputError(f"{', '.join(needs)} needs zones=; give a zone label per origin.")
        return None
    return fairness.zone_labels(zones, inst.tt.origin_ids, origins=origins, zone_col=zone_col)


def _reach(inst: _Instance, objective: str, max_minutes: float | None) -> np.ndarray:
    cap = np.inf if max_minutes is None else float(max_minutes)
    if objective == "median":
        return np.full(len(inst.columns), cap)
    standard = inst.columns["standard"].to_numpy(dtype=np.float64)
    return np.minimum(np.where(np.isnan(standard), -1.0, standard), cap)


def _unserved_minutes(
    inst: _Instance, unserved_minutes: float | None, max_minutes: float | None
) -> float:
    if unserved_minutes is not None:
        if not (np.isfinite(unserved_minutes) and unserved_minutes >= 0):
            raise InputError(f"unserved_minutes is {unserved_minutes}; give minutes >= 0.")
        return float(unserved_minutes)
    if max_minutes is not None:
        return float(max_minutes)
    if inst.tt.cutoff is not None:
        return float(inst.tt.cutoff)
    data = inst.tt.matrix.data
    return float(data.max()) if data.size else 0.0


def _best_share(inst: _Instance, pairs: _Pairs) -> np.ndarray:
    """Largest coverable share of each origin with every candidate open (capacity ignored)."""
    best = np.zeros(len(inst.population))
    best[pairs.origin[pairs.within_standard]] = 1.0
    if inst.columns["type"].eq("digital").any():
        best = np.maximum(best, inst.digital_share)
    return best


def _add_equity(
    model: _Model,
    inst: _Instance,
    labels: pd.Series,
    objective: str,
    min_zone_coverage: Any,
    unmet_spread: float | None,
) -> None:
    zone_cov = fairness.zone_coverage_expressions(model.coverage, inst.population, labels)
    if min_zone_coverage is not None:
        fairness.add_min_zone_coverage(model.prob, zone_cov, min_zone_coverage)
    if unmet_spread is not None:
        unmet = {z: 1.0 - expr for z, expr in zone_cov.items()}
        fairness.add_unmet_spread_bound(model.prob, unmet, unmet_spread)
    if objective == "maximin":
        worst = fairness.add_maximin_coverage(model.prob, zone_cov)
        model.stages.insert(0, (pulp.LpMaximize, pulp.LpAffineExpression(worst), "worst_zone"))


# ---------------------------------------------------------------------------------- result
def _values(items: Iterable[Any]) -> np.ndarray:
    return np.array([float(v.varValue or 0.0) for v in items], dtype=np.float64)


def _plan(
    inst: _Instance,
    pairs: _Pairs,
    model: _Model,
    info: SolveInfo,
    stage_values: list[float],
    labels: pd.Series | None,
    budget: float,
    objective: str,
    t0: float,
) -> Plan:
    cols = inst.columns
    P = inst.population
    n_orig = len(P)
    is_open = cols["existing"].to_numpy().copy()
    for k, var in model.x.items():
        is_open[k] = (var.varValue or 0.0) > 0.5

    digital_share = np.zeros(n_orig)
    if model.digital:
        keys = np.fromiter(model.digital, dtype=np.int64)
        digital_share[keys] = _values(model.digital.values())

    if model.flows is not None:
        share = np.clip(_values(model.flows), 0.0, 1.0)
        used = share > _EPS
        assign = pd.DataFrame(
            {"origin_pos": pairs.origin[used], "column": pairs.column[used], "share": share[used]}
        )
        assign["minutes"] = pairs.minutes[used]
        assign["within"] = pairs.within_standard[used]
    else:
        assign = _nearest_assignment(pairs, model.physical, is_open)
    assign["persons"] = assign["share"].to_numpy() * P[assign["origin_pos"].to_numpy()]

    within = assign[assign["within"]]
    physical_covered = np.bincount(
        within["origin_pos"].to_numpy(dtype=np.int64), weights=within["share"], minlength=n_orig
    )
    covered_share = np.clip(physical_covered + digital_share, 0.0, 1.0)
    digital_persons = float(digital_share @ P)

    sites = _site_table(cols, is_open, assign, digital_persons, inst.connected_population)
    assignment = pd.DataFrame(
        {
            "origin": inst.tt.origin_ids[assign["origin_pos"].to_numpy(dtype=np.int64)],
            "site": cols["site"].to_numpy()[assign["column"].to_numpy(dtype=np.int64)],
            "share": assign["share"].to_numpy(),
            "persons": assign["persons"].to_numpy(),
            "minutes": assign["minutes"].to_numpy(),
        }
    )
    persons = assignment["persons"].to_numpy()
    mean_minutes = (
        float(persons @ assignment["minutes"].to_numpy() / persons.sum())
        if persons.sum() > 0
        else np.nan
    )
    main_value = stage_values[0]
    details = _details(inst, model, cols, is_open, physical_covered, digital_share, labels)
    details.update(budget=float(budget), objective=objective, stages=stage_values)
    return Plan(
        model="budget",
        sites=sites,
        assignment=assignment,
        objective=main_value,
        bound=info.bound,
        gap=relative_gap(main_value, info.bound) if info.status != "optimal" else info.gap,
        status=info.status,
        solver=info.solver,
        seconds=time.perf_counter() - t0,
        covered_population=float(covered_share @ P),
        total_population=float(P.sum()),
        mean_minutes=mean_minutes,
        cost=float(cols.loc[is_open & ~cols["existing"].to_numpy(), "cost"].sum()),
        uncovered=inst.tt.origin_ids[(P > 0) & (covered_share <= _EPS)],
        details=details,
    )


def _nearest_assignment(pairs: _Pairs, physical: list[Any], is_open: np.ndarray) -> pd.DataFrame:
    """Covered share of each origin, assigned to its nearest open site within reach."""
    open_pair = is_open[pairs.column]
    origin, column, minutes = (
        pairs.origin[open_pair],
        pairs.column[open_pair],
        pairs.minutes[open_pair],
    )
    first = np.ones(origin.size, dtype=bool)
    first[1:] = origin[1:] != origin[:-1]  # pairs are sorted by origin, then minutes
    origin, column, minutes = origin[first], column[first], minutes[first]
    share = np.array(
        [float(getattr(physical[i], "varValue", 0.0) or 0.0) for i in origin], dtype=np.float64
    )
    share = np.clip(share, 0.0, 1.0)
    keep = share > _EPS
    return pd.DataFrame(
        {
            "origin_pos": origin[keep],
            "column": column[keep],
            "share": share[keep],
            "minutes": minutes[keep],
            "within": np.ones(int(keep.sum()), dtype=bool),
        }
    )


def _site_table(
    cols: pd.DataFrame,
    is_open: np.ndarray,
    assign: pd.DataFrame,
    digital_persons: float,
    unlimited: float,
) -> pd.DataFrame:
    load = np.bincount(
        assign["column"].to_numpy(dtype=np.int64), weights=assign["persons"], minlength=len(cols)
    )
    digital_open = is_open & cols["type"].eq("digital").to_numpy()
    if digital_open.any() and digital_persons > 0:
        # Digital needs are met by the pool of hubs; credit each hub by its capacity.
        cap = cols["capacity"].to_numpy(dtype=np.float64)
        weight = np.where(np.isfinite(cap), cap, unlimited) * digital_open
        load = load + digital_persons * weight / weight.sum()
    table = cols[is_open].copy()
    table["assigned_population"] = load[is_open]
    table = table.rename(columns={"standard": "standard_minutes"}).set_index("site")
    table.index.name = "id"
    return table[
        [
            "type",
            "option",
            "existing",
            "cost",
            "capacity",
            "standard_minutes",
            "assigned_population",
        ]
    ]


def _details(
    inst: _Instance,
    model: _Model,
    cols: pd.DataFrame,
    is_open: np.ndarray,
    physical_covered: np.ndarray,
    digital_share: np.ndarray,
    labels: pd.Series | None,
) -> dict[str, Any]:
    P = inst.population
    covered_share = np.clip(physical_covered + digital_share, 0.0, 1.0)
    by_origin = pd.DataFrame(
        {
            "population": P,
            "physical_share": physical_covered,
            "digital_share": digital_share,
            "covered_share": covered_share,
        },
        index=inst.tt.origin_ids,
    )
    digital_open = is_open & cols["type"].eq("digital").to_numpy()
    cap = cols["capacity"].to_numpy(dtype=np.float64)[digital_open]
    new = cols[is_open & ~cols["existing"].to_numpy()]
    details: dict[str, Any] = {
        "coverage_by_origin": by_origin,
        "counts": new["option"]
        .value_counts()
        .reindex(pd.unique(cols.loc[~cols["existing"], "option"]), fill_value=0),
        "digital": {
            "covered_population": float(digital_share @ P),
            "max_population": float(inst.digital_share @ P),
            "connected_population": inst.connected_population,
            "effectiveness": inst.effectiveness,
            "effective_capacity": float(
                inst.effectiveness
                * np.where(np.isfinite(cap), cap, inst.connected_population).sum()
            ),
        },
    }
    if labels is not None:
        details["zones"] = fairness.zone_table(covered_share, P, labels)
    return details


def budget_sweep(
    budgets: Iterable[float],
    tt: TravelTimes,
    demand: pd.Series | float,
    options: Sequence[SupplyOption],
    **kwargs: Any,
) -> pd.DataFrame:
    """Solve :func:`budgeted_siting` for each budget: what each budget buys.

    Parameters
    ----------
    budgets
        Budgets to try (currency units); solved in increasing order.
    tt, demand, options, **kwargs
        As for :func:`budgeted_siting`.

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``budget``, ``covered_population`` (persons), ``coverage`` (0–1),
        ``n_clinic``, ``n_robotic``, ``n_digital`` (new sites of each type), ``cost``,
        ``objective``, ``bound``, ``gap``, ``status``, ``mean_minutes``, ``seconds``; and
        one ``n_<option>`` column per option name that is not a type name.
    """
    rows = []
    for budget in sorted(float(b) for b in budgets):
        plan = budgeted_siting(tt, demand, options, budget, **kwargs)
        new = plan.new_sites
        row: dict[str, Any] = {
            "budget": budget,
            "covered_population": plan.covered_population,
            "coverage": plan.coverage,
        }
        for kind in SUPPLY_TYPES:
            row[f"n_{kind}"] = int((new["type"] == kind).sum())
        for opt in options:
            if opt.label not in SUPPLY_TYPES:
                row[f"n_{opt.label}"] = int((new["option"] == opt.label).sum())
        row.update(
            cost=plan.cost,
            objective=plan.objective,
            bound=plan.bound,
            gap=plan.gap,
            status=plan.status,
            mean_minutes=plan.mean_minutes,
            seconds=plan.seconds,
        )
        rows.append(row)
    return pd.DataFrame(rows)
