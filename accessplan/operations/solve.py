"""Solve one horizon with HiGHS: honest status and gap, time limit, warm start, the plan's tables.

A MIP (any indivisible type) is solved as such; its shadow prices come from the LP with every
integer column fixed at its value in the solution (see :mod:`accessplan.operations.duals`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from accessplan.errors import InfeasibleError, SolverError
from accessplan.operations.model import Arrays, OperationsProblem, build_arrays
from accessplan.optimize._solve import new_highs, relative_gap

__all__ = ["OperationsPlan", "WarmStart", "highs_arrays", "solve_operations"]

#: Rows whose slack is below this (relative to the row's scale) are reported binding.
BINDING_TOL = 1e-6


@dataclass
class WarmStart:
    """A previous solution and basis, shifted onto the next horizon's layout."""

    col_value: np.ndarray
    col_status: np.ndarray | None = None
    row_status: np.ndarray | None = None


@dataclass
class OperationsPlan:
    """A solved horizon.

    Attributes
    ----------
    problem
        The problem solved.
    mobile, fixed_used, unmet
        :math:`x`, :math:`y`, :math:`u` (units), shape ``(h, n, m)``; ``fixed_used`` and
        ``unmet`` are the probability-weighted means over the scenarios.
    transfers
        One row per transfer started: ``period``, ``type``, ``from``, ``to``, ``units``,
        ``minutes``, ``arrives`` (period).
    objective, bound, gap, status, seconds
        As for every plan in accessplan (status ``"optimal"``, ``"time_limit"``,
        ``"feasible"``).
    pool_duals
        :math:`\\partial z / \\partial S_j(t)` (currency per unit, <= 0), periods × types.
    equity_duals
        :math:`\\partial z / \\partial \\gamma` per period (<= 0; its negative is the cost of
        fairness per unit of band), NaN without a band.
    dual_source
        ``"lp"`` or ``"mip_fixed"`` (the LP with the integers fixed).
    """

    problem: OperationsProblem
    arrays: Arrays
    values: np.ndarray
    mobile: np.ndarray
    fixed_used: np.ndarray
    unmet: np.ndarray
    joined: np.ndarray
    left: np.ndarray
    transfer_units: np.ndarray
    transfers: pd.DataFrame
    objective: float
    bound: float
    gap: float
    status: str
    seconds: float
    pool_duals: pd.DataFrame
    equity_duals: pd.Series
    dual_source: str
    row_dual: np.ndarray
    warm: WarmStart
    details: dict[str, Any] = field(default_factory=dict)

    def allocation(self) -> pd.DataFrame:
        """Long table: period, facility, type, demand, mobile, fixed_used, unmet."""
        p = self.problem
        h = p.shape[1]
        mean_demand = np.tensordot(p.probabilities, p.demand, axes=1)
        idx = pd.MultiIndex.from_product(
            [range(h), p.facilities, [t.name for t in p.types]],
            names=["period", "facility", "type"],
        )
        return pd.DataFrame(
            {
                "demand": mean_demand.ravel(),
                "mobile": self.mobile.ravel(),
                "fixed_used": self.fixed_used.ravel(),
                "unmet": self.unmet.ravel(),
            },
            index=idx,
        ).reset_index()

    def binding(self, period: int = 0) -> pd.DataFrame:
        """Binding pool and equity rows of ``period`` with their duals (what limits the plan)."""
        rows = []
        names = [t.name for t in self.problem.types]
        L = self.arrays.layout
        activity = self.arrays.A @ self.values
        for j, name in enumerate(names):
            r = int(L.row("pool", period, j))
            slack = self.arrays.row_upper[r] - activity[r]
            if slack <= BINDING_TOL * max(1.0, abs(self.arrays.row_upper[r])):
                rows.append(
                    {
                        "constraint": f"pool {name}",
                        "period": period,
                        "dual": float(self.row_dual[r]),
                        "slack": float(slack),
                    }
                )
        if L.equity:  # one row for the band, its duals summed over the scenarios
            r = L.row("spread", period, np.arange(L.s))
            slack = self.arrays.row_upper[r] - activity[r]
            if np.any(slack <= BINDING_TOL):
                rows.append(
                    {
                        "constraint": "equity band",
                        "period": period,
                        "dual": float(np.sum(self.row_dual[r])),
                        "slack": float(np.min(slack)),
                    }
                )
        return pd.DataFrame(rows, columns=["constraint", "period", "dual", "slack"])


def highs_arrays(arrays: Arrays, msg: bool = False) -> Any:
    """A ``highspy.Highs`` holding the arrays (one ``passModel`` call)."""
    import highspy

    h = new_highs(msg)
    lp = highspy.HighsLp()
    A = arrays.A
    lp.num_col_ = A.shape[1]
    lp.num_row_ = A.shape[0]
    lp.col_cost_ = arrays.c
    lp.col_lower_ = arrays.col_lower
    lp.col_upper_ = arrays.col_upper
    lp.row_lower_ = arrays.row_lower
    lp.row_upper_ = arrays.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = A.shape[1]
    lp.a_matrix_.num_row_ = A.shape[0]
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(np.float64)
    h.passModel(lp)
    if arrays.integer.any():
        cols = np.flatnonzero(arrays.integer).astype(np.int32)
        kind = np.full(cols.size, int(highspy.HighsVarType.kInteger), dtype=np.uint8)
        h.changeColsIntegrality(cols.size, cols, kind)
    return h


def _status_codes(statuses: Any) -> np.ndarray:
    """HiGHS basis statuses as an int8 array (converted in C by ``map``)."""
    return np.fromiter(map(int, statuses), dtype=np.int8, count=len(statuses))


def _status_list(codes: np.ndarray) -> list[Any]:
    """int8 codes back to ``HighsBasisStatus`` values, by one indexing of a lookup table."""
    import highspy

    table = np.array([highspy.HighsBasisStatus(k) for k in range(5)], dtype=object)
    return list(table[codes.astype(np.intp)])


def solve_operations(
    problem: OperationsProblem,
    *,
    time_limit: float | None = None,
    gap: float | None = None,
    warm: WarmStart | None = None,
    duals: bool = True,
    msg: bool = False,
    relax: bool = False,
    arrays: Arrays | None = None,
    split: bool = True,
) -> OperationsPlan:
    """Solve one horizon of the allocation model.

    Parameters
    ----------
    problem
        The horizon.
    time_limit
        Seconds for the solver (the duals' LP re-solve gets no more than a tenth of it).
    gap
        Relative MIP gap accepted (default: proven optimal to 1e-6).
    warm
        A start: a feasible MIP solution is handed to HiGHS as incumbent; an LP basis as the
        simplex start (see :func:`accessplan.operations.rolling.shift_warm_start`).
    duals
        Compute the shadow prices (for a MIP: one more LP with the integers fixed).
    relax
        Solve the LP relaxation (every column continuous).
    arrays
        The problem's arrays, already built (solved as one model).
    split
        Solve the independent blocks of types apart (:mod:`accessplan.operations.blocks`;
        the same optimum, duals and basis, faster); ignored when ``arrays`` is given.

    Raises
    ------
    InfeasibleError
        No plan meets the unmet-demand caps, the equity band and the flow rows.
    SolverError
        The solver stopped without a feasible plan (e.g. the time limit).
    """
    import highspy

    t0 = time.perf_counter()
    if split and arrays is None:
        from accessplan.operations.blocks import type_blocks

        blocks = type_blocks(problem)
        if len(blocks) > 1:
            return _solve_blocks(
                problem,
                blocks,
                time_limit=time_limit,
                gap=gap,
                warm=warm,
                duals=duals,
                msg=msg,
                relax=relax,
            )
    arrays = build_arrays(problem) if arrays is None else arrays
    if relax:
        arrays = _relaxed(arrays)
    is_mip = bool(arrays.integer.any())
    h, integral_root = None, False
    if is_mip:
        # The LP relaxation first (warm-started from a basis): when its optimum is already
        # integral it is the MIP's optimum, proven by its own bound, and no search is needed.
        h = _run(_relaxed(arrays), warm, time_limit, gap, msg)
        values = np.asarray(h.getSolution().col_value, dtype=np.float64)
        ints = values[arrays.integer]
        integral_root = h.getModelStatus() == highspy.HighsModelStatus.kOptimal and bool(
            np.all(np.abs(ints - np.round(ints)) <= 1e-9)
        )
        if not integral_root:
            left = None if time_limit is None else float(time_limit) - (time.perf_counter() - t0)
            h = _run(arrays, warm, None if left is None else 0.9 * left, gap, msg)
    else:
        h = _run(arrays, warm, time_limit, gap, msg)
    MS = highspy.HighsModelStatus
    status = h.getModelStatus()
    info = h.getInfo()
    if status in (MS.kInfeasible, MS.kUnboundedOrInfeasible):
        raise InfeasibleError(
            "the operations model is infeasible: the unmet-demand caps (unmet_cap), the equity "
            "band (gamma) and the units available cannot all hold; raise unmet_cap or gamma, or "
            "add units to the pools."
        )
    feasible = int(info.primal_solution_status) == int(highspy.kSolutionStatusFeasible)
    if not feasible:
        raise SolverError(
            f"highs stopped with status {h.modelStatusToString(status)!r} and no feasible "
            "operations plan; raise the time limit (time_limit) or shorten the horizon."
        )
    values = np.asarray(h.getSolution().col_value, dtype=np.float64)
    objective = float(info.objective_function_value)
    if is_mip and not integral_root:
        bound = float(info.mip_dual_bound)
        bound = bound if math.isfinite(bound) else math.nan
    else:
        bound = objective if status == MS.kOptimal else math.nan
    if integral_root:
        values[arrays.integer] = np.round(values[arrays.integer])
    result_gap = relative_gap(objective, bound)
    if status == MS.kOptimal:
        label = "optimal"
        if math.isfinite(result_gap) and result_gap < 1e-9:
            result_gap = 0.0
    elif status == MS.kTimeLimit:
        label = "time_limit"
    else:
        label = "feasible"
    basis = h.getBasis()
    col_status = row_status = None
    if (not is_mip or integral_root) and basis.valid:
        col_status = _status_codes(basis.col_status)
        row_status = _status_codes(basis.row_status)
    start = WarmStart(values, col_status, row_status)
    row_dual = np.full(arrays.A.shape[0], np.nan)
    source = "lp"
    if duals:
        if is_mip:
            from accessplan.operations.duals import fixed_integer_duals

            remaining = None if time_limit is None else max(0.1 * float(time_limit), 0.05)
            row_dual = fixed_integer_duals(arrays, values, time_limit=remaining, start=start)
            source = "mip_fixed"
        else:
            row_dual = np.asarray(h.getSolution().row_dual, dtype=np.float64)
    plan = _plan(
        problem,
        arrays,
        values,
        objective,
        bound,
        result_gap,
        label,
        time.perf_counter() - t0,
        row_dual,
        source,
        start,
    )
    plan.details["integral_relaxation"] = integral_root
    return plan


def _solve_blocks(
    problem: OperationsProblem,
    blocks: list[np.ndarray],
    *,
    time_limit: float | None,
    gap: float | None,
    warm: WarmStart | None,
    duals: bool,
    msg: bool,
    relax: bool,
) -> OperationsPlan:
    """Solve each block of types apart and assemble the plan of the whole model."""
    from accessplan.operations.blocks import column_map, row_map, subproblem

    t0 = time.perf_counter()
    full = build_arrays(problem)
    if relax:
        full = _relaxed(full)
    L = full.layout
    values = np.zeros(L.num_col)
    row_dual = np.full(L.num_row, np.nan)
    col_status = np.zeros(L.num_col, dtype=np.int8)
    row_status = np.zeros(L.num_row, dtype=np.int8)
    has_basis = True
    objective = bound = 0.0
    labels, sources, integral = [], [], []
    shifted = warm is not None and warm.col_value.shape == (L.num_col,)
    for types in blocks:
        sub = subproblem(problem, types)
        sub_arrays = build_arrays(sub)
        cols = column_map(L, sub_arrays.layout, types, problem)
        rows = row_map(L, sub_arrays.layout, types)
        start = None
        if shifted and warm is not None:
            basis = warm.col_status is not None and warm.row_status is not None
            start = WarmStart(
                warm.col_value[cols],
                warm.col_status[cols] if basis and warm.col_status is not None else None,
                warm.row_status[rows] if basis and warm.row_status is not None else None,
            )
        left = None
        if time_limit is not None:
            left = max(float(time_limit) - (time.perf_counter() - t0), 0.05)
        part = solve_operations(
            sub,
            time_limit=left,
            gap=gap,
            warm=start,
            duals=duals,
            msg=msg,
            relax=relax,
            arrays=sub_arrays,
            split=False,
        )
        values[cols] = part.values
        row_dual[rows] = part.row_dual
        if part.warm.col_status is not None and part.warm.row_status is not None:
            col_status[cols] = part.warm.col_status
            row_status[rows] = part.warm.row_status
        else:
            has_basis = False
        objective += part.objective
        bound += part.bound
        labels.append(part.status)
        sources.append(part.dual_source)
        integral.append(bool(part.details.get("integral_relaxation", False)))
    label = next((k for k in ("time_limit", "feasible") if k in labels), "optimal")
    result_gap = relative_gap(objective, bound)
    if label == "optimal" and math.isfinite(result_gap) and result_gap < 1e-9:
        result_gap = 0.0
    start_all = WarmStart(
        values, col_status if has_basis else None, row_status if has_basis else None
    )
    plan = _plan(
        problem,
        full,
        values,
        objective,
        bound,
        result_gap,
        label,
        time.perf_counter() - t0,
        row_dual,
        "mip_fixed" if "mip_fixed" in sources else "lp",
        start_all,
    )
    plan.details["blocks"] = len(blocks)
    plan.details["integral_relaxation"] = all(integral)
    return plan


def _relaxed(arrays: Arrays) -> Arrays:
    return Arrays(**{**arrays.__dict__, "integer": np.zeros_like(arrays.integer)})


def _run(
    arrays: Arrays,
    warm: WarmStart | None,
    time_limit: float | None,
    gap: float | None,
    msg: bool,
) -> Any:
    """Pass ``arrays`` to a fresh HiGHS with the limits and start, and run it."""
    h = highs_arrays(arrays, msg)
    if time_limit is not None:
        h.setOptionValue("time_limit", max(float(time_limit), 1e-3))
    h.setOptionValue("mip_rel_gap", float(gap) if gap is not None else 1e-6)
    if warm is not None:
        _apply_warm(h, arrays, warm, bool(arrays.integer.any()))
    h.run()
    return h


def _apply_warm(h: Any, arrays: Arrays, warm: WarmStart, is_mip: bool) -> None:
    import highspy

    if warm.col_value.shape != (arrays.A.shape[1],):
        return
    if is_mip:
        v = warm.col_value.copy()
        v[arrays.integer] = np.round(v[arrays.integer])
        sol = highspy.HighsSolution()
        sol.col_value = v
        sol.value_valid = True
        h.setSolution(sol)
        return
    if warm.col_status is None or warm.row_status is None:
        return
    if warm.row_status.shape != (arrays.A.shape[0],):
        return
    basis = highspy.HighsBasis()
    basis.col_status = _status_list(warm.col_status)
    basis.row_status = _status_list(warm.row_status)
    basis.alien = True  # shifted: HiGHS repairs a basis with the wrong count of basics
    basis.valid = True
    h.setBasis(basis)


def _plan(
    problem: OperationsProblem,
    arrays: Arrays,
    values: np.ndarray,
    objective: float,
    bound: float,
    gap: float,
    status: str,
    seconds: float,
    row_dual: np.ndarray,
    source: str,
    warm: WarmStart,
) -> OperationsPlan:
    L = arrays.layout
    s, h, n, m = problem.shape
    N = L.cells
    T = np.arange(h)[:, None]
    cells = np.arange(N)[None, :]
    integer = np.tile(problem.integer_types, n)

    def take(block: str, sc: int = 0) -> np.ndarray:
        v = values[L.col(block, T, cells, sc)]
        v = np.where(integer[None, :], np.round(v), v) if block != "u" else v
        return np.maximum(v, 0.0).reshape(h, n, m)

    p = problem.probabilities
    mobile = take("x")
    fixed_used = np.sum([p[sc] * take("y", sc) for sc in range(s)], axis=0)
    unmet = np.sum([p[sc] * take("u", sc) for sc in range(s)], axis=0)
    qtypes = problem.transfer_types
    e, q = L.e, L.q
    zunits = np.zeros((h, e, q))
    frame = pd.DataFrame(columns=["period", "type", "from", "to", "units", "minutes", "arrives"])
    if e * q:
        z = values[L.col("z", T, np.arange(e * q)[None, :])]
        z = np.where(problem.integer_types[qtypes][np.arange(e * q) % q][None, :], np.round(z), z)
        zunits = np.maximum(z, 0).reshape(h, e, q)
        tt, ee, qq = np.nonzero(zunits > 1e-7)
        arcs = problem.arcs
        frame = pd.DataFrame(
            {
                "period": tt,
                "type": np.array([t.name for t in problem.types], dtype=object)[qtypes[qq]],
                "from": problem.facilities[arcs.src[ee]],
                "to": problem.facilities[arcs.dst[ee]],
                "units": zunits[tt, ee, qq],
                "minutes": arcs.minutes[ee],
                "arrives": tt + arcs.periods[ee],
            }
        )
    names = [t.name for t in problem.types]
    pool_duals = pd.DataFrame(
        row_dual[L.row("pool", T, np.arange(m)[None, :])],
        index=pd.RangeIndex(h, name="period"),
        columns=pd.Index(names, name="type"),
    )
    if L.equity:
        eq = row_dual[L.row("spread", np.arange(h)[:, None], np.arange(s)[None, :])].sum(axis=1)
    else:
        eq = np.full(h, np.nan)
    equity_duals = pd.Series(eq, index=pd.RangeIndex(h, name="period"), name="equity_dual")
    return OperationsPlan(
        problem=problem,
        arrays=arrays,
        values=values,
        mobile=mobile,
        fixed_used=fixed_used,
        unmet=unmet,
        joined=take("a"),
        left=take("r"),
        transfer_units=zunits,
        transfers=frame,
        objective=objective,
        bound=bound,
        gap=gap,
        status=status,
        seconds=seconds,
        pool_duals=pool_duals,
        equity_duals=equity_duals,
        dual_source=source,
        row_dual=row_dual,
        warm=warm,
    )
