"""Shadow prices of the operations model and their finite-difference check.

For an LP the row duals are HiGHS's. For a MIP the duals are those of the LP obtained by fixing
every integer column at its value in the solution and solving the rest (the usual "fix and
price" of MIP sensitivity): the price of one more unit of a pool at period ``t`` given the
integer decisions taken. Both describe small changes, within the basis's range.

Signs: a minimisation, so the dual of a ``<=`` row (pool, equity band) is ``<= 0``: one more
unit of pool ``j`` at ``t`` lowers the objective by ``-dual``; widening the equity band by
``d gamma`` lowers it by ``-dual * d gamma``, so ``-dual`` is the cost of fairness per unit of
band (per percentage point: ``-dual / 100``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from accessplan.errors import SolverError
from accessplan.operations.model import Arrays, OperationsProblem, build_arrays
from accessplan.operations.solve import (
    WarmStart,
    highs_arrays,
    solve_arrays,
    with_integers_fixed,
)

__all__ = ["finite_difference_duals", "fixed_integer_duals", "pool_value_table"]


def fixed_integer_duals(
    arrays: Arrays,
    values: np.ndarray,
    *,
    time_limit: float | None = None,
    start: WarmStart | None = None,
    fold: bool = True,
) -> np.ndarray:
    """Row duals of the LP with every integer column fixed at ``values`` (rounded); ``start``
    (a basis at ``values``) lets the simplex begin there; ``fold`` solves the compact form
    (:mod:`accessplan.operations.compact`) where it applies."""
    import highspy

    run = solve_arrays(arrays, start, time_limit, None, False, fold=fold, fix_at=values)
    if run.status != highspy.HighsModelStatus.kOptimal or run.row_dual is None:
        raise SolverError(
            "the LP with the integers fixed did not solve to optimality "
            f"({run.status_text}); raise time_limit for the duals."
        )
    return run.row_dual


def _objective(arrays: Arrays) -> float:
    """Optimal objective, ``inf`` when the perturbed LP is infeasible."""
    import highspy

    h = highs_arrays(arrays)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return float("inf")
    return float(h.getInfo().objective_function_value)


def finite_difference_duals(
    problem: OperationsProblem,
    *,
    periods: Any,
    types: Any,
    step: float = 1e-3,
    values: np.ndarray | None = None,
    gamma_step: float | None = None,
) -> pd.DataFrame:
    """Finite differences of the objective against the pool and equity rows' right-hand sides.

    Parameters
    ----------
    problem
        The horizon (its LP, or with ``values`` its LP with the integers fixed at ``values``).
    periods, types
        Pools :math:`S_j(t)` to perturb (period positions, type positions).
    step
        Units added to one pool (and subtracted: the central difference is reported).
    values
        A MIP solution whose integer columns are held fixed.
    gamma_step
        Also perturb the equity band of every period by this (one row per period).

    Returns
    -------
    pandas.DataFrame
        ``row`` (``pool`` or ``equity``), ``period``, ``type``, ``forward`` and ``backward``
        differences and their mean ``difference`` (currency per unit of right-hand side).
    """
    base = build_arrays(problem)
    if values is not None:
        base = with_integers_fixed(base, values)  # the full model: an independent check of the fold
    L = base.layout
    out = []
    for t in np.atleast_1d(periods):
        for j in np.atleast_1d(types):
            r = int(L.row("pool", int(t), int(j)))
            fwd, bwd = _differences(base, r, step)
            out.append(
                {
                    "row": "pool",
                    "period": int(t),
                    "type": problem.types[int(j)].name,
                    "forward": fwd,
                    "backward": bwd,
                }
            )
        if gamma_step is not None and L.equity:
            r = int(L.row("spread", int(t), 0))
            fwd, bwd = _differences(base, r, gamma_step)
            out.append(
                {"row": "equity", "period": int(t), "type": "", "forward": fwd, "backward": bwd}
            )
    frame = pd.DataFrame(out, columns=["row", "period", "type", "forward", "backward"])
    frame["difference"] = 0.5 * (frame["forward"] + frame["backward"])
    return frame


def _differences(base: Arrays, row: int, step: float) -> tuple[float, float]:
    """Forward and backward differences of the optimum in a row's upper bound (a valid dual
    lies between them; they differ only where the row sits at a break of the value function;
    a side that makes the LP infeasible is ``-inf``)."""
    z0 = _objective(base)
    vals = []
    for sign in (1.0, -1.0):
        upper = base.row_upper.copy()
        upper[row] += sign * step
        vals.append(_objective(replace(base, row_upper=upper)))
    return (vals[0] - z0) / step, (z0 - vals[1]) / step


def pool_value_table(
    pool_duals: pd.DataFrame, period_minutes: float, start: Any = 0
) -> pd.DataFrame:
    """Long table of what one more unit of each pool is worth, period by period.

    ``value_per_unit = -dual`` (currency units saved over the horizon by one more unit at that
    period); ``clock`` the period's start in hours from ``start`` (a period index).
    """
    long = pool_duals.stack().rename("dual").reset_index()
    long["value_per_unit"] = -long["dual"]
    long["hour"] = (np.asarray(long["period"]) + float(start)) * float(period_minutes) / 60.0
    return long
