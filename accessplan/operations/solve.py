"""Solve one horizon with HiGHS: honest status and gap, time limit, warm start, the plan's tables.

A MIP (any indivisible type) is solved as such; its shadow prices come from the LP with every
integer column fixed at its value in the solution (see :mod:`accessplan.operations.duals`).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from accessplan.errors import InfeasibleError, SolverError
from accessplan.operations.compact import Compaction, certified, compact
from accessplan.operations.model import Arrays, OperationsProblem, build_arrays
from accessplan.optimize._solve import new_highs, relative_gap

__all__ = [
    "ArraysSolution",
    "OperationsPlan",
    "WarmStart",
    "highs_arrays",
    "solve_arrays",
    "solve_operations",
    "with_integers_fixed",
]

#: Rows whose slack is below this (relative to the row's scale) are reported binding.
BINDING_TOL = 1e-6

#: With the equity band the compact form is tried only from this many rows of the model as
#: built: its optimum may be refused (see :mod:`accessplan.operations.compact`), and below
#: this size the second solve would cost more than the fold saves.
FOLD_BAND_MIN_ROWS = 20_000


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
    fold: bool = True,
    workers: int | None = None,
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
    fold
        Solve the compact form, coverage rows folded into segment columns
        (:mod:`accessplan.operations.compact`; the same optimum, about half the rows), where
        it applies.
    workers
        Blocks solved at once, in threads (default: one per CPU core, at most one per block).

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
                fold=fold,
                workers=workers,
            )
    arrays = build_arrays(problem) if arrays is None else arrays
    if relax:
        arrays = _relaxed(arrays)
    is_mip = bool(arrays.integer.any())
    integral_root = False
    if is_mip:
        # The LP relaxation first (warm-started from a basis): when its optimum is already
        # integral it is the MIP's optimum, proven by its own bound, and no search is needed.
        run = solve_arrays(_relaxed(arrays), warm, time_limit, gap, msg, fold=fold)
        ints = run.values[arrays.integer]
        integral_root = run.status == highspy.HighsModelStatus.kOptimal and bool(
            np.all(np.abs(ints - np.round(ints)) <= 1e-9)
        )
        if not integral_root:
            left = None if time_limit is None else float(time_limit) - (time.perf_counter() - t0)
            run = solve_arrays(
                arrays, warm, None if left is None else 0.9 * left, gap, msg, fold=fold
            )
    else:
        run = solve_arrays(arrays, warm, time_limit, gap, msg, fold=fold)
    MS = highspy.HighsModelStatus
    status = run.status
    if status in (MS.kInfeasible, MS.kUnboundedOrInfeasible):
        raise InfeasibleError(
            "the operations model is infeasible: the unmet-demand caps (unmet_cap), the equity "
            "band (gamma) and the units available cannot all hold; raise unmet_cap or gamma, or "
            "add units to the pools."
        )
    if not run.feasible:
        raise SolverError(
            f"highs stopped with status {run.status_text!r} and no feasible "
            "operations plan; raise the time limit (time_limit) or shorten the horizon."
        )
    values = run.values
    objective = run.objective
    if is_mip and not integral_root:
        bound = run.mip_bound if math.isfinite(run.mip_bound) else math.nan
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
    col_status = row_status = None
    if not is_mip or integral_root:
        col_status, row_status = run.col_status, run.row_status
    start = WarmStart(values, col_status, row_status)
    row_dual = np.full(arrays.A.shape[0], np.nan)
    source = "lp"
    if duals:
        if is_mip:
            from accessplan.operations.duals import fixed_integer_duals

            remaining = None if time_limit is None else max(0.1 * float(time_limit), 0.05)
            row_dual = fixed_integer_duals(
                arrays, values, time_limit=remaining, start=start, fold=fold
            )
            source = "mip_fixed"
        elif run.row_dual is not None:
            row_dual = run.row_dual
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
    fold: bool,
    workers: int | None,
) -> OperationsPlan:
    """Solve each block of types apart (in threads: HiGHS runs without Python's lock) and
    assemble the plan of the whole model."""
    from concurrent.futures import ThreadPoolExecutor

    from accessplan.operations.blocks import column_map, row_map, subproblem

    t0 = time.perf_counter()
    full = build_arrays(problem)
    if relax:
        full = _relaxed(full)
    L = full.layout
    shifted = warm is not None and warm.col_value.shape == (L.num_col,)

    def solve_block(types: np.ndarray) -> tuple[OperationsPlan, np.ndarray, np.ndarray]:
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
            fold=fold,
        )
        return part, cols, rows

    count = workers if workers is not None else (os.cpu_count() or 1)
    count = max(1, min(int(count), len(blocks)))
    if count == 1:
        parts = [solve_block(types) for types in blocks]
    else:
        # Largest blocks first, so the last to finish is a small one.
        order = sorted(range(len(blocks)), key=lambda k: -blocks[k].size)
        with ThreadPoolExecutor(count) as pool:
            done = dict(zip(order, pool.map(solve_block, [blocks[k] for k in order]), strict=True))
        parts = [done[k] for k in range(len(blocks))]
    values = np.zeros(L.num_col)
    row_dual = np.full(L.num_row, np.nan)
    col_status = np.zeros(L.num_col, dtype=np.int8)
    row_status = np.zeros(L.num_row, dtype=np.int8)
    has_basis = True
    objective = bound = 0.0
    labels, sources, integral = [], [], []
    for part, cols, rows in parts:
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


@dataclass
class ArraysSolution:
    """What one HiGHS run returned, in the terms of the model as built (see
    :mod:`accessplan.operations.compact`)."""

    status: Any
    status_text: str
    feasible: bool
    objective: float
    mip_bound: float
    values: np.ndarray
    row_dual: np.ndarray | None
    col_status: np.ndarray | None
    row_status: np.ndarray | None


def solve_arrays(
    arrays: Arrays,
    warm: WarmStart | None,
    time_limit: float | None,
    gap: float | None,
    msg: bool,
    *,
    fold: bool = True,
    fix_at: np.ndarray | None = None,
) -> ArraysSolution:
    """Solve ``arrays`` in a fresh HiGHS with the limits and start; with ``fold`` through the
    compact form where it applies (:mod:`accessplan.operations.compact`; with the equity band
    its optimum is kept only when certified optimal for ``arrays``, else ``arrays`` is
    solved); with ``fix_at`` (values of ``arrays``' columns) as the LP with every integer
    column fixed there."""
    import highspy

    t0 = time.perf_counter()
    folded = compact(arrays) if fold else None
    if folded is not None and not folded.exact and arrays.A.shape[0] < FOLD_BAND_MIN_ROWS:
        folded = None  # a refused fold costs a second solve: small models are solved in full
    if folded is not None and not folded.exact:
        run = _solve_once(arrays, folded, warm, time_limit, gap, msg, fix_at)
        full = arrays if fix_at is None else with_integers_fixed(arrays, fix_at)
        if (
            run.status == highspy.HighsModelStatus.kOptimal
            and run.row_dual is not None
            and certified(full, run.values, run.row_dual)
        ):
            return run
        if time_limit is not None:
            time_limit = max(float(time_limit) - (time.perf_counter() - t0), 1e-3)
        if run.feasible and run.col_status is not None and run.row_status is not None:
            warm = WarmStart(run.values, run.col_status, run.row_status)  # a start near it
        folded = None
    return _solve_once(arrays, folded, warm, time_limit, gap, msg, fix_at)


def _solve_once(
    arrays: Arrays,
    folded: Compaction | None,
    warm: WarmStart | None,
    time_limit: float | None,
    gap: float | None,
    msg: bool,
    fix_at: np.ndarray | None,
) -> ArraysSolution:
    target = folded.arrays if folded is not None else arrays
    if fix_at is not None:
        at = folded.from_full(fix_at) if folded is not None else fix_at
        target = with_integers_fixed(target, at)
    if warm is not None and folded is not None:
        warm = _folded_start(folded, warm)
    h = highs_arrays(target, msg)
    if time_limit is not None:
        h.setOptionValue("time_limit", max(float(time_limit), 1e-3))
    h.setOptionValue("mip_rel_gap", float(gap) if gap is not None else 1e-6)
    if warm is not None:
        _apply_warm(h, target, warm, bool(target.integer.any()))
    h.run()
    return _read(h, target, folded)


def with_integers_fixed(arrays: Arrays, values: np.ndarray) -> Arrays:
    """``arrays`` with every integer column fixed at ``values`` (rounded), all continuous."""
    lo, up = arrays.col_lower.copy(), arrays.col_upper.copy()
    k = arrays.integer
    lo[k] = up[k] = np.round(values[k])
    return Arrays(
        **{**arrays.__dict__, "col_lower": lo, "col_upper": up, "integer": np.zeros_like(k)}
    )


def _folded_start(folded: Compaction, warm: WarmStart) -> WarmStart:
    """A start of the model as built moved onto its compact form."""
    if warm.col_value.shape != (folded.full.A.shape[1],):
        return warm
    values = folded.from_full(warm.col_value)
    if warm.col_status is None or warm.row_status is None:
        return WarmStart(values)
    if warm.row_status.shape != (folded.full.A.shape[0],):
        return WarmStart(values)
    col, row = folded.basis_from_full(values, warm.col_status, warm.row_status)
    return WarmStart(values, col, row)


def _read(h: Any, target: Arrays, folded: Compaction | None) -> ArraysSolution:
    import highspy

    info = h.getInfo()
    status = h.getModelStatus()
    feasible = int(info.primal_solution_status) == int(highspy.kSolutionStatusFeasible)
    solution = h.getSolution()
    values = np.asarray(solution.col_value, dtype=np.float64)
    is_lp = not bool(target.integer.any())
    row_dual = np.asarray(solution.row_dual, dtype=np.float64) if is_lp else None
    col_dual = np.asarray(solution.col_dual, dtype=np.float64) if is_lp else None
    basis = h.getBasis()
    col_status = row_status = None
    if is_lp and basis.valid:
        col_status = _status_codes(basis.col_status)
        row_status = _status_codes(basis.row_status)
    constant = 0.0
    if folded is not None and values.size:
        constant = folded.constant
        compact_values, values = values, folded.to_full(values)
        if row_dual is not None and col_dual is not None:
            row_dual = folded.row_dual_to_full(row_dual, col_dual, values)
        if col_status is not None and row_status is not None:
            col_status, row_status = folded.basis_to_full(compact_values, col_status, row_status)
    bound = float(info.mip_dual_bound)
    return ArraysSolution(
        status=status,
        status_text=h.modelStatusToString(status),
        feasible=feasible,
        objective=float(info.objective_function_value) + constant,
        mip_bound=bound + constant if math.isfinite(bound) else bound,
        values=values,
        row_dual=row_dual,
        col_status=col_status,
        row_status=row_status,
    )


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
