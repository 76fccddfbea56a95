"""Solver plumbing shared by every PuLP model: choose the solver, solve, read status and bound."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import pulp

from accessplan.errors import InfeasibleError, InputError, SolverError

__all__ = ["SolveInfo", "make_solver", "solve_problem"]


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
        Relative gap ``|objective - bound| / max(|objective|, 1e-9)``; NaN if unknown.
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
        ``"highs"`` (default, through highspy), ``"cbc"`` (bundled with PuLP), or any PuLP
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
        return pulp.PULP_CBC_CMD(msg=msg, timeLimit=time_limit, gapRel=gap, threads=threads)
    raise InputError(
        f"unknown solver {solver!r}; use 'highs', 'cbc' or pass a PuLP solver instance."
    )


def _solver_name(solver: pulp.LpSolver) -> str:
    if isinstance(solver, pulp.HiGHS):
        return "highs"
    if isinstance(solver, pulp.PULP_CBC_CMD):
        return "cbc"
    return type(solver).__name__


def _highs_bound(prob: pulp.LpProblem) -> float:
    model: Any = getattr(prob, "solverModel", None)
    if model is None:
        return math.nan
    info = model.getInfo()
    if prob.isMIP():
        bound = float(info.mip_dual_bound)
    else:
        bound = float(info.objective_function_value)
    return bound if math.isfinite(bound) else math.nan


def relative_gap(objective: float, bound: float) -> float:
    """``|objective - bound| / max(|objective|, 1e-9)``; NaN when the bound is unknown."""
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.nan
    return abs(objective - bound) / max(abs(objective), 1e-9)


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
    if status not in ("Optimal", "Not Solved") or objective is None:
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
