"""Starts (greedy, LP dives) and the lexicographic, deadline-bound solve of the budget model."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pulp
import scipy.sparse as sp

from accessplan.errors import AccessplanError, SolverError
from accessplan.optimize._solve import (
    LinearModel,
    SolveInfo,
    highs_lp,
    is_feasible,
    new_highs,
    relative_gap,
    solve_model,
)
from accessplan.optimize.budget.model import BudgetModel, group_bounds
from accessplan.optimize.budget.options import Instance


def greedy_start(inst: Instance, model: BudgetModel, budget: float) -> np.ndarray:
    """A feasible plan to start the solver from: existing sites serve first, then new options
    are opened by best persons served per unit of cost while the budget allows.

    Flows fill each open group's capacity in class order; digital hubs serve the connected
    share of the persons still unserved.
    """
    red, cols = model.red, inst.columns
    P = red.population
    remaining = P.copy()
    digital_left = red.digital_share * P
    flow = np.zeros(len(red.pair_class))
    digital = np.zeros(red.n_classes)
    order, bounds = group_bounds(red.pair_group, red.n_groups)
    e = inst.effectiveness
    capacity = cols["capacity"].to_numpy(dtype=np.float64)
    is_digital = cols["type"].eq("digital").to_numpy()
    hub_capacity = e * np.where(np.isfinite(capacity), capacity, inst.connected_population)
    phys_capacity = np.where(np.isfinite(capacity), capacity, np.inf)

    def serve_group(g: int, cap: float) -> None:
        members = order[bounds[g] : bounds[g + 1]]
        take = _fill(remaining[red.pair_class[members]], cap)
        flow[members] += take
        remaining[red.pair_class[members]] -= take
        np.minimum(digital_left, remaining, out=digital_left)

    def serve_digital(cap: float) -> None:
        take = _fill(np.minimum(digital_left, remaining), cap)
        digital[:] += take
        remaining[:] -= take
        digital_left[:] -= take

    existing = cols["existing"].to_numpy()
    for k in np.flatnonzero(existing & ~is_digital):
        serve_group(int(red.group_of_column[k]), phys_capacity[k])
    if model.z.max(initial=-1) >= 0:
        serve_digital(float(hub_capacity[existing & is_digital].sum()))

    new = np.flatnonzero(~existing)
    site, _ = pd.factorize(cols["site"].to_numpy()[new])
    site_used = np.zeros(int(site.max()) + 1 if len(site) else 0, dtype=bool)
    opened = np.zeros(len(new), dtype=bool)
    cost = cols["cost"].to_numpy(dtype=np.float64)[new]
    reach = sp.csr_array(
        (np.ones(len(red.pair_class)), (red.pair_group, red.pair_class)),
        shape=(red.n_groups, red.n_classes),
    )
    has_z = model.z.max(initial=-1) >= 0
    left = float(budget)
    while True:
        reachable = np.append(reach @ remaining, 0.0)  # last: digital columns (no group)
        gain = np.where(
            is_digital[new],
            np.minimum(hub_capacity[new], np.minimum(digital_left, remaining).sum())
            if has_z
            else 0.0,
            np.minimum(phys_capacity[new], reachable[red.group_of_column[new]]),
        )
        allowed = ~opened & ~site_used[site] & (cost <= left + 1e-9) & (gain > 1e-9)
        if not allowed.any():
            break
        ratio = np.where(allowed, gain / np.maximum(cost, 1e-12), -np.inf)
        best = int(np.argmax(ratio))
        opened[best] = True
        site_used[site[best]] = True
        left -= cost[best]
        k = new[best]
        if is_digital[k]:
            serve_digital(float(hub_capacity[k]))
        else:
            serve_group(int(red.group_of_column[k]), phys_capacity[k])
    return _start_vector(model, new, opened, flow, digital, remaining)


def _fill(want: np.ndarray, cap: float) -> np.ndarray:
    """Serve ``want`` in order until ``cap`` persons are used up."""
    if not np.isfinite(cap):
        return want.copy()
    before = np.cumsum(want) - want
    return np.clip(cap - before, 0.0, want)


def _start_vector(
    model: BudgetModel,
    new: np.ndarray,
    opened: np.ndarray,
    flow: np.ndarray,
    digital: np.ndarray,
    remaining: np.ndarray,
) -> np.ndarray:
    red = model.red
    P = np.where(red.population > 0, red.population, 1.0)
    start = np.zeros(model.builder.n_cols)
    is_var = model.x[new] >= 0
    start[model.x[new[is_var]]] = opened[is_var].astype(np.float64)
    if model.closable is not None:
        start[model.x[model.closable]] = 1.0  # the greedy start serves from every existing site
    opened_columns = new[opened]
    for members, var in zip(model.hubs, model.hub_var, strict=True):
        start[var] = float(np.isin(opened_columns, members).sum())
    if model.w is not None:
        start[model.w] = np.clip(flow / P[red.pair_class], 0.0, 1.0)
    physical = np.bincount(red.pair_class, weights=flow, minlength=red.n_classes) / P
    if model.y is not None:
        has = model.y >= 0
        start[model.y[has]] = np.clip(physical[has], 0.0, 1.0)
    has_z = model.z >= 0
    start[model.z[has_z]] = np.clip(digital[has_z] / P[has_z], 0.0, red.digital_share[has_z])
    if model.u is not None:
        start[model.u] = np.clip(remaining / P, 0.0, 1.0)
    return start


def _lp_dive(lp: LinearModel, seconds: float, up: bool) -> np.ndarray | None:
    """Fractional diving on the relaxation (HiGHS LP, warm-started between steps).

    Solve the LP relaxation; fix a fractional integer column and solve again, until every
    integer column is integral: general integers (hub counts) first, rounded up (``up``) or
    down, then the binary with the largest value, rounded up (down when that is infeasible).
    Returns a feasible solution of ``lp``, or None when none was reached within ``seconds``
    (every LP solve runs under the time left, and the dive stops when it is spent).
    """
    import highspy

    t_end = time.perf_counter() + seconds
    integer = np.asarray(lp.integer, dtype=bool)
    general = integer & (np.asarray(lp.col_upper) > 1)
    relaxed = replace(lp, integer=np.zeros(lp.num_col, dtype=bool), start=None)
    h = new_highs(msg=False)
    h.passModel(highs_lp(relaxed))
    optimal = highspy.HighsModelStatus.kOptimal

    def run() -> bool:
        left = t_end - time.perf_counter()
        if left <= 0:
            return False
        h.setOptionValue("time_limit", left)
        h.run()
        return h.getModelStatus() == optimal

    for _ in range(4 * int(integer.sum()) + 4):
        if not run():
            return None
        v = np.asarray(h.getSolution().col_value, dtype=np.float64)
        frac = integer & (np.abs(v - np.round(v)) > 1e-6)
        if not frac.any():
            v[integer] = np.round(v[integer])
            return v if is_feasible(lp, v, tol=1e-6) else None
        if (frac & general).any():
            j = int(np.flatnonzero(frac & general)[0])
            value = float(np.ceil(v[j]) if up else np.floor(v[j]))
        else:
            j = int(np.flatnonzero(frac)[np.argmax(v[frac])])
            value = 1.0
        h.changeColBounds(j, value, value)
        if not run():
            if time.perf_counter() >= t_end:
                return None
            value = np.floor(v[j]) if value > v[j] else np.ceil(v[j])
            h.changeColBounds(j, value, value)
    return None


def _stage_gap_for(folded: bool, rel_gap: float) -> float:
    """The solver's gap for a stage: a folded stage keeps a share of the gap for the fold."""
    return (1.0 - _FOLD_SHARE) * rel_gap if folded else rel_gap


def _relaxation_bound(lp: LinearModel, seconds: float | None) -> float:
    """Bound of the LP relaxation of ``lp`` (NaN when not solved within ``seconds``)."""
    if seconds is not None and seconds <= 0:
        return math.nan
    relaxed = replace(lp, integer=np.zeros(lp.num_col, dtype=bool), start=None)
    try:
        info, _ = solve_model(relaxed, "highs", time_limit=seconds)
    except AccessplanError:
        return math.nan
    return info.bound if info.status == "optimal" else math.nan


def _start_within_gap(lp: LinearModel, start: np.ndarray | None, bound: float, gap: float) -> bool:
    """True when ``start`` is already within ``gap`` of ``bound`` (the relaxation's)."""
    if start is None or not math.isfinite(bound):
        return False
    value = float(np.asarray(lp.c) @ start)
    return relative_gap(value, bound) <= gap


def _best_start(lp: LinearModel, candidates: list[np.ndarray | None]) -> np.ndarray | None:
    """The feasible candidate with the best objective value."""
    feasible = [v for v in candidates if v is not None and is_feasible(lp, v)]
    if not feasible:
        return None
    sign = 1.0 if lp.sense == "max" else -1.0
    return max(feasible, key=lambda v: sign * float(np.asarray(lp.c) @ v))


#: Share of the time limit (and at most this many seconds) spent diving for a start.
_DIVE_SHARE, _DIVE_SECONDS = 0.2, 10.0
#: With a good start the solver's time is better spent on the bound than on its heuristics
#: (on the demonstration region: 4 s instead of 13 s to a 0.3 % proven gap).
_WITH_START: dict[str, Any] = {
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_feasibility_jump": False,
}


#: With a gap tolerance g > 0 the cost tie-break is folded into the stage before it with a
#: weight that moves that stage's objective by at most this share of g (see solve_stages).
_FOLD_SHARE = 0.1


def solve_stages(
    model: BudgetModel,
    budget: float,
    solver: str | pulp.LpSolver,
    deadline: float | None,
    gap: float | None,
    msg: bool,
) -> tuple[SolveInfo, np.ndarray, list[float]]:
    """Lexicographic solve: each stage is optimised with the earlier ones held at their value.

    The first stage is the model's objective; later stages only break ties (then the cost).
    Each stage starts from the previous stage's solution (the first from the greedy start);
    every step (LP relaxation, dives, each stage's solve) runs under the time left before
    ``deadline`` (a ``time.perf_counter()`` value; None = no limit), and a stage that finds
    no time or no solution keeps the earlier solution — the first keeps the start (greedy or
    dive) when the solver returns none. With a gap tolerance ``g > 0``, the closing cost
    stage is folded into the stage before it as ``objective -/+ eps * cost`` with
    ``eps * budget = 0.1 g L`` (``L`` a known lower bound of that stage's optimum): the
    stage's optimum moves by at most ``0.1 g L``, which the reported bound includes, and the
    solver runs to ``0.9 g``.

    Returns
    -------
    (info, solution, values)
        The first stage's solve report (objective and bound in its own unit; the bound is the
        solver's, else the LP relaxation's, else NaN), the column values, and the value of
        every stage at that solution.

    Raises
    ------
    SolverError
        When neither the start nor the solver gives a feasible plan before the deadline.
    """
    base = model.builder.linear_model("budgeted_siting", "max")
    n = base.num_col
    rel_gap = 1e-9 if gap is None or gap <= 0 else float(gap)
    stages = model.stages
    current = model.start if model.start is not None and is_feasible(base, model.start) else None
    holds: list[tuple[np.ndarray, float, float]] = []
    first: SolveInfo | None = None

    def left() -> float | None:
        return None if deadline is None else deadline - time.perf_counter()

    s = 0
    while s < len(stages):
        stage = stages[s]
        c = stage.vector(n)
        floor = stage.floor
        if floor is None and stage.sense == "max" and current is not None:
            floor = float(c @ current)
        folded = (
            gap is not None
            and gap > 0
            and isinstance(solver, str)  # a solver object keeps its own gap setting
            and s + 1 < len(stages)
            and stages[s + 1].name == "cost"
            and floor is not None
            and floor > 0
            and budget > 0
        )
        eps = _FOLD_SHARE * rel_gap * floor / budget if folded and floor is not None else 0.0
        cost = stages[s + 1].vector(n) if folded else np.zeros(n)
        signed = c - eps * cost if stage.sense == "max" else c + eps * cost
        lp = _with_holds(base, holds, signed, stage.sense, current)
        stage_gap = _stage_gap_for(folded, rel_gap)
        relaxation = math.nan
        if first is None and isinstance(solver, str) and solver.lower() == "highs":
            relaxation = _relaxation_bound(lp, left())
            total = left()
            dive_s = _DIVE_SECONDS if total is None else min(_DIVE_SHARE * total, _DIVE_SECONDS)
            greedy = _best_start(lp, [lp.start])
            dives = []
            if not _start_within_gap(lp, greedy, relaxation, stage_gap):
                dives = [_lp_dive(lp, dive_s / 2, up) for up in (False, True)]
            lp = replace(lp, start=_best_start(lp, [greedy, *dives]))
            if lp.start is not None:
                lp = replace(lp, highs_options=dict(_WITH_START))
        remaining = left()
        try:
            if remaining is not None and remaining <= 0:
                raise SolverError(f"no time left for stage {stage.name!r}")
            info, sol = solve_model(
                lp,
                solver,
                time_limit=None if remaining is None else remaining,
                gap=stage_gap,
                msg=msg,
            )
        except SolverError:
            if first is not None:
                break  # a tie-break stage without time or a solution keeps the last one
            if lp.start is None:
                raise SolverError(
                    "budgeted_siting: no feasible plan was found within the time limit; raise "
                    "time_limit."
                ) from None
            sol = np.asarray(lp.start, dtype=np.float64)
            info = SolveInfo("time_limit", float(c @ sol), math.nan, math.nan, 0.0, "start")
        if first is not None and not is_feasible(lp, sol, tol=1e-6):
            break  # e.g. a solver object stopped by its own time limit without values
        if first is None:
            value = float(c @ sol)
            bound = info.bound if math.isfinite(info.bound) else relaxation
            if folded and math.isfinite(bound):
                bound = bound + eps * budget if stage.sense == "max" else bound - eps * budget
            first = replace(
                info,
                objective=value,
                bound=bound,
                gap=relative_gap(value, bound) if folded or info.status != "optimal" else info.gap,
            )
        current = sol
        value = float(c @ sol)
        tol = 1e-9 * max(1.0, abs(value))
        holds.append(
            (c, value - tol, np.inf) if stage.sense == "max" else (c, -np.inf, value + tol)
        )
        s += 2 if folded else 1
    assert first is not None and current is not None
    values = [float(st.vector(n) @ current) for st in stages]
    return first, current, values


def simple_bound(model: BudgetModel) -> float:
    """A bound on the first stage that needs no solver: every class with a way to be covered
    covered in full (persons), a worst zone fully covered (share 1), or the person-minutes
    floor of the median."""
    stage = model.stages[0]
    if stage.name == "worst_zone":
        return 1.0
    if stage.name == "covered_population":
        coverable = np.diff(model.coverage.indptr) > 0
        return float(model.red.population[coverable].sum())
    return math.nan if stage.floor is None else float(stage.floor)


def _with_holds(
    base: LinearModel,
    holds: list[tuple[np.ndarray, float, float]],
    c: np.ndarray,
    sense: str,
    start: np.ndarray | None,
) -> LinearModel:
    A, lower, upper = base.A, base.row_lower, base.row_upper
    if holds:
        A = sp.vstack([A, sp.csr_array(np.vstack([h[0] for h in holds]))], format="csr")
        lower = np.concatenate([lower, [h[1] for h in holds]])
        upper = np.concatenate([upper, [h[2] for h in holds]])
    return replace(
        base,
        sense=sense,
        c=c,
        A=A,
        row_lower=lower,
        row_upper=upper,
        start=None if start is None else np.where(base.integer, np.round(start), start),
    )
