"""Solver plumbing shared by every PuLP model: choose the solver, solve, read status and bound."""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pulp
import scipy.sparse as sp

from accessplan.errors import InfeasibleError, InputError, SolverError

__all__ = [
    "OPTIMAL_GAP",
    "LinearModel",
    "SolveInfo",
    "make_solver",
    "new_highs",
    "relative_gap",
    "seconds_left",
    "settle",
    "solve_model",
    "solve_problem",
    "with_bound",
]

#: A plan is reported ``"optimal"`` when its relative gap is at most the gap the caller
#: requested, or this when none (or a smaller one) was requested: solvers prove optimality to
#: their own feasibility tolerances, and objectives recomputed from the chosen sites differ
#: from the solver's by rounding.
OPTIMAL_GAP = 1e-6


@dataclass(frozen=True)
class SolveInfo:
    """What a solver run returned.

    Attributes
    ----------
    status
        ``"optimal"``, ``"time_limit"`` (a feasible solution, not proven optimal) or
        ``"feasible"``.
    objective
        Objective value of the solution found (in the model's unit).
    bound
        Best proven bound (lower when minimising, upper when maximising); NaN if the solver
        does not report one.
    gap
        Relative gap ``|bound - objective| / max(|objective|, |bound|)`` (see
        :func:`relative_gap`); NaN if unknown.
    seconds
        Wall-clock seconds spent in the solver.
    solver
        Solver name (``"highs"``, ``"cbc"`` or PuLP's name of the solver given).
    """

    status: str
    objective: float
    bound: float
    gap: float
    seconds: float
    solver: str


def make_solver(
    solver: str | pulp.LpSolver = "highs",
    *,
    time_limit: float | None = None,
    gap: float | None = None,
    msg: bool = False,
    threads: int | None = None,
) -> pulp.LpSolver:
    """A PuLP solver object.

    Parameters
    ----------
    solver
        ``"highs"`` (default, through highspy), ``"cbc"`` (see :func:`_cbc_path`), or any PuLP
        solver instance, used as given.
    time_limit
        Seconds; the best solution found by then is returned with its gap.
    gap
        Relative MIP gap tolerance (0.001 = 0.1 %).
    """
    if isinstance(solver, pulp.LpSolver):
        return solver
    name = str(solver).lower()
    if name == "highs":
        return pulp.HiGHS(msg=msg, timeLimit=time_limit, gapRel=gap, threads=threads)
    if name == "cbc":
        return pulp.COIN_CMD(
            msg=msg, timeLimit=time_limit, gapRel=gap, threads=threads, path=_cbc_path()
        )
    raise InputError(
        f"unknown solver {solver!r}; use 'highs', 'cbc' or pass a PuLP solver instance."
    )


def _cbc_path() -> str:
    """The CBC executable: the copy bundled with PuLP 3, else a ``cbc`` on the PATH.

    PuLP 4 drops both the bundled copy and ``PULP_CBC_CMD``; ``pip install pulp[cbc]`` then
    provides the executable, which ``COIN_CMD`` runs the same way.
    """
    bundled = getattr(pulp.apis.coin_api, "pulp_cbc_path", None)
    if bundled and os.access(bundled, os.X_OK):
        return bundled
    found = shutil.which("cbc")
    if found is None:
        raise InputError(
            "solver 'cbc' needs the CBC executable, which this PuLP does not bundle; install it "
            "with `pip install pulp[cbc]` or use solver='highs'."
        )
    return found


def _solver_name(solver: pulp.LpSolver) -> str:
    if isinstance(solver, pulp.HiGHS):
        return "highs"
    if isinstance(solver, pulp.COIN_CMD):
        return "cbc"
    return type(solver).__name__


def _highs_bound(prob: pulp.LpProblem) -> float:
    model: Any = getattr(prob, "solverModel", None)
    if model is None:
        return math.nan
    info = model.getInfo()
    bound = float(info.mip_dual_bound if prob.isMIP() else info.objective_function_value)
    if not math.isfinite(bound):
        return math.nan
    # PuLP hands HiGHS the negated objective of a maximisation and leaves out its constant.
    if prob.sense == pulp.LpMaximize:
        bound = -bound
    return bound + float(prob.objective.constant if prob.objective is not None else 0.0)


def relative_gap(objective: float, bound: float) -> float:
    """The relative gap of every plan: ``|bound - objective| / max(|objective|, |bound|)``.

    Between 0 and 1 whenever objective and bound have the same sign (1 = 100 % when the
    objective is 0 and the bound is not, e.g. nothing covered yet); 0 when both are 0; NaN
    when the bound is unknown.
    """
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.nan
    scale = max(abs(objective), abs(bound))
    return abs(bound - objective) / scale if scale > 0 else 0.0


def settle(info: SolveInfo, objective: float, sense: str, gap: float | None) -> SolveInfo:
    """The solve report of a plan whose objective was recomputed from its chosen sites.

    Parameters
    ----------
    info
        What the solver (or heuristic) reported; its bound is a proven bound on the optimum.
    objective
        Objective of the plan as built (model unit).
    sense
        ``"min"`` or ``"max"``.
    gap
        Relative gap the caller accepted (None: proven optimal).

    Returns
    -------
    SolveInfo
        ``objective`` replaced; ``bound`` on the right side of it (a bound beyond the objective
        by more than :data:`OPTIMAL_GAP` is no proof of anything and becomes NaN; a smaller
        excess is rounding and becomes the objective); ``gap`` recomputed; ``status``
        ``"optimal"`` only when that gap is within ``max(gap, OPTIMAL_GAP)`` (a heuristic
        keeps ``"heuristic"``), else the solver's non-optimal label (``"time_limit"``,
        ``"heuristic"``) or ``"feasible"``.
    """
    bound = float(info.bound)
    tolerance = OPTIMAL_GAP * max(abs(objective), 1.0)
    if math.isfinite(bound):
        excess = bound - objective if sense == "min" else objective - bound
        if excess > tolerance:
            bound = math.nan
        elif excess > 0:
            bound = objective
    result_gap = relative_gap(objective, bound)
    accepted = max(float(gap or 0.0), OPTIMAL_GAP)
    proven = math.isfinite(result_gap) and result_gap <= accepted * (1 + 1e-9)
    if proven:
        if abs(objective - bound) <= 1e-9 * max(abs(objective), 1.0):
            result_gap = 0.0
        status = "heuristic" if info.status == "heuristic" else "optimal"
    else:
        status = info.status if info.status in ("time_limit", "heuristic") else "feasible"
    return replace(info, status=status, objective=float(objective), bound=bound, gap=result_gap)


def seconds_left(deadline: float | None, share: float = 1.0) -> float | None:
    """``share`` of the seconds left before ``deadline`` (a ``time.perf_counter()`` value), at
    least 1 ms so that a solver still returns its start; None without a deadline."""
    if deadline is None:
        return None
    return max(share * (deadline - time.perf_counter()), 1e-3)


def with_bound(info: SolveInfo, bound: float, sense: str) -> SolveInfo:
    """``info`` with the tighter of its bound and another proven ``bound`` (NaN ignored)."""
    if not math.isfinite(bound):
        return info
    if math.isfinite(info.bound):
        bound = max(info.bound, bound) if sense == "min" else min(info.bound, bound)
    return replace(info, bound=float(bound), gap=relative_gap(info.objective, bound))


def solve_problem(
    prob: pulp.LpProblem,
    solver: str | pulp.LpSolver = "highs",
    *,
    time_limit: float | None = None,
    gap: float | None = None,
    msg: bool = False,
) -> SolveInfo:
    """Solve a PuLP problem and report status, objective, bound, gap and seconds.

    Raises
    ------
    InfeasibleError
        When the solver proves the model infeasible.
    SolverError
        When the solver stops without any feasible solution (unbounded, crashed, or a time
        limit too short to find one).
    """
    lp_solver = make_solver(solver, time_limit=time_limit, gap=gap, msg=msg)
    name = _solver_name(lp_solver)
    if name == "highs":
        silence_highs_banner()  # PuLP constructs its own highspy.Highs
    t0 = time.perf_counter()
    try:
        prob.solve(lp_solver)
    except pulp.PulpSolverError as exc:
        raise SolverError(f"{name} failed on model {prob.name!r}: {exc}") from exc
    seconds = time.perf_counter() - t0
    status = pulp.LpStatus[prob.status]
    sol_status = getattr(prob, "sol_status", None)
    if status == "Infeasible":
        raise InfeasibleError(
            f"model {prob.name!r} is infeasible: no choice of sites satisfies every constraint. "
            "Relax the standard, the budget or the equity bounds, or add candidates."
        )
    objective = pulp.value(prob.objective)
    if objective is None or status in ("Unbounded", "Undefined"):
        raise SolverError(
            f"{name} returned status {status!r} and no solution for model {prob.name!r}; "
            "raise the time limit or check the inputs."
        )
    objective = float(objective) if objective is not None else math.nan
    proven = status == "Optimal" and sol_status in (None, pulp.LpSolutionOptimal)
    if name == "highs":
        bound = _highs_bound(prob)
        if proven and not math.isfinite(bound):
            bound = objective
    else:
        bound = objective if proven else math.nan
    result_gap = relative_gap(objective, bound)
    if proven and (gap is None or gap == 0) and math.isfinite(result_gap) and result_gap < 1e-9:
        result_gap = 0.0
    if proven:
        label = "optimal"
    elif time_limit is not None and seconds >= 0.95 * time_limit:
        label = "time_limit"
    else:
        label = "feasible"
    return SolveInfo(label, objective, bound, result_gap, seconds, name)


# ---------------------------------------------------------------------------------------------
# Array-built models
#
# The location models build their constraint matrix from numpy arrays (one entry per stored
# origin–candidate pair), never with Python loops over pairs. With ``solver="highs"`` the
# arrays go straight to ``highspy.Highs.passModel`` as a column-wise (CSC) matrix: PuLP's
# HiGHS interface adds variables and constraints one Python object at a time, which costs
# seconds per hundred thousand pairs before the solver even starts (measured on a
# 2,000 × 200 p-median: about 40x slower to build through PuLP than to pass the arrays). Any
# other solver ("cbc" or a PuLP solver instance) gets the same arrays translated into a PuLP
# problem, which is fine for small and medium models.
# ---------------------------------------------------------------------------------------------


@dataclass
class LinearModel:
    """A mixed-integer linear model held as arrays.

    ``row_lower <= A @ x <= row_upper`` and ``col_lower <= x <= col_upper``; ``sense`` is
    ``"min"`` or ``"max"``; the objective is ``c @ x + offset``. Infinite bounds are
    ``±numpy.inf``.
    """

    name: str
    sense: str
    c: Any
    A: Any
    row_lower: Any
    row_upper: Any
    col_lower: Any
    col_upper: Any
    integer: Any
    offset: float = 0.0
    start: Any = None
    highs_options: dict[str, Any] = field(default_factory=dict)

    @property
    def num_col(self) -> int:
        return len(self.c)

    @property
    def num_row(self) -> int:
        return int(self.A.shape[0])


def solve_model(
    model: LinearModel,
    solver: str | pulp.LpSolver = "highs",
    *,
    time_limit: float | None = None,
    gap: float | None = None,
    msg: bool = False,
) -> tuple[SolveInfo, Any]:
    """Solve an array-built model; return the :class:`SolveInfo` and the column values.

    ``solver="highs"`` passes the arrays to highspy directly; anything else goes through
    PuLP (see :func:`make_solver`).

    Raises
    ------
    InfeasibleError
        When the solver proves the model infeasible.
    SolverError
        When the solver stops without a feasible solution (for instance a time limit too short
        to find one).
    """
    if isinstance(solver, str) and solver.lower() == "highs":
        return _solve_highspy(model, time_limit=time_limit, gap=gap, msg=msg)
    return _solve_via_pulp(model, solver, time_limit=time_limit, gap=gap, msg=msg)


def new_highs(msg: bool = False) -> Any:
    """A ``highspy.Highs`` that logs only with ``msg``, and never prints HiGHS's banner.

    HiGHS writes its banner ("Running HiGHS ... Copyright ...") to the C-level standard output
    once per process, while the first ``highspy.Highs()`` is constructed, before any option can
    be set; :func:`silence_highs_banner` has it written to the null device instead.
    """
    import highspy

    silence_highs_banner()
    h = highspy.Highs()
    h.setOptionValue("output_flag", bool(msg))
    return h


_BANNER_SILENCED = False


def silence_highs_banner() -> None:
    """Construct the process's first ``highspy.Highs`` with file descriptor 1 on the null
    device, so that the banner HiGHS prints once per process goes nowhere (idempotent)."""
    global _BANNER_SILENCED
    if _BANNER_SILENCED:
        return
    import ctypes

    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        first = highspy.Highs()
        first.setOptionValue("output_flag", False)
        ctypes.CDLL(None).fflush(None)  # C stdio buffers the banner when stdout is no terminal
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    _BANNER_SILENCED = True


def _solve_highspy(
    model: LinearModel, *, time_limit: float | None, gap: float | None, msg: bool
) -> tuple[SolveInfo, Any]:
    import highspy

    t0 = time.perf_counter()
    start = _feasible_start(model)
    if time_limit is not None and time_limit < MIN_SOLVER_SECONDS and start is not None:
        return _start_info(model, start, t0), start
    h = new_highs(msg)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    # HiGHS stops at a 1e-4 relative gap by default; ask for (near) proven optimality unless the
    # caller accepts a gap.
    h.setOptionValue("mip_rel_gap", float(gap) if gap is not None else 1e-9)
    for key, value in model.highs_options.items():
        h.setOptionValue(key, value)
    integer = np.asarray(model.integer, dtype=bool)
    is_mip = bool(integer.any())
    lp = highs_lp(model)
    h.passModel(lp)
    if model.start is not None and is_mip:
        sol = highspy.HighsSolution()
        sol.col_value = list(np.asarray(model.start, dtype=np.float64))
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    seconds = time.perf_counter() - t0
    status = h.getModelStatus()
    info = h.getInfo()
    MS = highspy.HighsModelStatus
    if status in (MS.kInfeasible, MS.kUnboundedOrInfeasible):
        raise InfeasibleError(
            f"model {model.name!r} is infeasible: no choice of sites satisfies every constraint. "
            "Relax the standard, the capacities or the equity bounds, or add candidates."
        )
    has_solution = int(info.primal_solution_status) == int(highspy.kSolutionStatusFeasible)
    if status != MS.kUnbounded and not has_solution and start is not None:
        return _start_info(model, start, t0), start
    if status == MS.kUnbounded or not has_solution:
        raise SolverError(
            f"highs stopped with status {h.modelStatusToString(status)!r} and no feasible "
            f"solution for model {model.name!r}; raise the time limit or check the inputs."
        )
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    objective = float(info.objective_function_value)
    if is_mip:
        bound = float(info.mip_dual_bound)
        bound = bound if math.isfinite(bound) else math.nan
    else:
        bound = objective if status == MS.kOptimal else math.nan
    proven = status == MS.kOptimal
    if proven and not math.isfinite(bound):
        bound = objective
    result_gap = relative_gap(objective, bound)
    if proven and (gap is None or gap == 0) and math.isfinite(result_gap) and result_gap < 1e-6:
        result_gap = 0.0
    if proven:
        label = "optimal"
    elif status == MS.kTimeLimit:
        label = "time_limit"
    else:
        label = "feasible"
    return SolveInfo(label, objective, bound, result_gap, seconds, "highs"), x


#: With less time than this, HiGHS is not started: the model's start is the plan (HiGHS's
#: presolve does not look at the clock, so even a 0.01 s limit can run for seconds).
MIN_SOLVER_SECONDS = 0.05


def is_feasible(model: LinearModel, v: np.ndarray, tol: float = 1e-7) -> bool:
    """True when ``v`` satisfies every bound, integrality and row of ``model``."""
    if v.shape != (model.num_col,):
        return False
    lo, up = np.asarray(model.col_lower), np.asarray(model.col_upper)
    if np.any(v < lo - tol) or np.any(v > up + tol):
        return False
    integer = np.asarray(model.integer, dtype=bool)
    if np.any(np.abs(v[integer] - np.round(v[integer])) > tol):
        return False
    activity = model.A @ v
    scale = tol * np.maximum(1.0, np.abs(activity))
    return bool(
        np.all(activity >= np.asarray(model.row_lower) - scale)
        and np.all(activity <= np.asarray(model.row_upper) + scale)
    )


def _feasible_start(model: LinearModel) -> np.ndarray | None:
    if model.start is None:
        return None
    start = np.asarray(model.start, dtype=np.float64)
    return start if is_feasible(model, start, tol=1e-6) else None


def _start_info(model: LinearModel, start: np.ndarray, t0: float) -> SolveInfo:
    """The start as the plan found: status ``"time_limit"``, bound unknown."""
    value = float(np.asarray(model.c, dtype=np.float64) @ start + model.offset)
    return SolveInfo("time_limit", value, math.nan, math.nan, time.perf_counter() - t0, "highs")


def highs_lp(model: LinearModel) -> Any:
    """The model as a ``highspy.HighsLp`` (column-wise matrix, integrality when any)."""
    import highspy

    csc = sp.csc_array(model.A)
    csc.sort_indices()
    integer = np.asarray(model.integer, dtype=bool)
    lp = highspy.HighsLp()
    lp.num_col_ = model.num_col
    lp.num_row_ = model.num_row
    lp.col_cost_ = np.asarray(model.c, dtype=np.float64)
    lp.col_lower_ = np.asarray(model.col_lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(model.col_upper, dtype=np.float64)
    lp.row_lower_ = np.asarray(model.row_lower, dtype=np.float64)
    lp.row_upper_ = np.asarray(model.row_upper, dtype=np.float64)
    lp.offset_ = float(model.offset)
    lp.sense_ = highspy.ObjSense.kMaximize if model.sense == "max" else highspy.ObjSense.kMinimize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = model.num_col
    lp.a_matrix_.num_row_ = model.num_row
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(np.float64)
    if integer.any():
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
            for flag in integer
        ]
    return lp


def _solve_via_pulp(
    model: LinearModel,
    solver: str | pulp.LpSolver,
    *,
    time_limit: float | None,
    gap: float | None,
    msg: bool,
) -> tuple[SolveInfo, Any]:
    sense = pulp.LpMaximize if model.sense == "max" else pulp.LpMinimize
    prob = pulp.LpProblem(model.name.replace(" ", "_"), sense)
    lower = np.asarray(model.col_lower, dtype=np.float64)
    upper = np.asarray(model.col_upper, dtype=np.float64)
    integer = np.asarray(model.integer, dtype=bool)
    variables = [
        prob.add_variable(
            f"v{k}",
            lowBound=None if not math.isfinite(lo) else float(lo),
            upBound=None if not math.isfinite(up) else float(up),
            cat=pulp.LpInteger if integ else pulp.LpContinuous,
        )
        for k, (lo, up, integ) in enumerate(zip(lower, upper, integer, strict=True))
    ]
    c = np.asarray(model.c, dtype=np.float64)
    nz = np.flatnonzero(c)
    prob += pulp.LpAffineExpression([(variables[k], float(c[k])) for k in nz]) + float(model.offset)
    csr = sp.csr_array(model.A)
    r_lo = np.asarray(model.row_lower, dtype=np.float64)
    r_up = np.asarray(model.row_upper, dtype=np.float64)
    for r in range(csr.shape[0]):
        cols = csr.indices[csr.indptr[r] : csr.indptr[r + 1]]
        vals = csr.data[csr.indptr[r] : csr.indptr[r + 1]]
        expr = pulp.LpAffineExpression(
            [(variables[k], float(v)) for k, v in zip(cols, vals, strict=True)]
        )
        lo, up = r_lo[r], r_up[r]
        if math.isfinite(lo) and math.isfinite(up) and lo == up:
            prob += expr == float(lo), f"r{r}"
            continue
        if math.isfinite(lo):
            prob += expr >= float(lo), f"r{r}lo"
        if math.isfinite(up):
            prob += expr <= float(up), f"r{r}up"
    info = solve_problem(prob, solver, time_limit=time_limit, gap=gap, msg=msg)
    x = np.array([v.varValue if v.varValue is not None else 0.0 for v in variables])
    return info, x


def heuristic_outcome(result: Any, n_candidates: int) -> tuple[Any, SolveInfo]:
    """Open-site mask and :class:`SolveInfo` of a heuristic run (a ``HeuristicResult``)."""
    import numpy as np

    open_mask = np.zeros(n_candidates, dtype=bool)
    open_mask[np.asarray(result.open, dtype=np.int64)] = True
    info = SolveInfo(
        "heuristic",
        float(result.objective),
        float(result.bound),
        float(result.gap),
        float(result.seconds),
        "heuristic",
    )
    return open_mask, info
