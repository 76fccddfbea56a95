"""p-center: minimise the largest travel time (optionally population-weighted)."""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable

import numpy as np
import pandas as pd
import pulp
import scipy.sparse as sp

from accessplan.errors import InfeasibleError
from accessplan.optimize._data import (
    LocationData,
    check_time_limit,
    prepare_location_data,
)
from accessplan.optimize._mip import MipBuilder
from accessplan.optimize._solve import LinearModel, seconds_left, solve_model, with_bound
from accessplan.optimize.plan import Plan, build_plan, nearest_open
from accessplan.traveltimes import TravelTimes, keep_entries

__all__ = ["p_center"]


def p_center(
    tt: TravelTimes,
    demand: pd.Series | float,
    p: int,
    *,
    weighted: bool = False,
    candidates: pd.DataFrame | None = None,
    existing: pd.DataFrame | Iterable[Hashable] = (),
    closable: Iterable[Hashable] = (),
    solver: str | pulp.LpSolver = "highs",
    time_limit: float | None = None,
    gap: float | None = None,
    msg: bool = False,
) -> Plan:
    r"""p-center: open ``p`` sites so that the largest travel time to the nearest one is least.

    Hakimi (1965) for the vertex p-center; the integer programme follows Daskin (2013, ch. 5).

    **Sets** — :math:`I` origins with persons (:math:`w_i > 0`) that reach a candidate;
    :math:`J` candidates; :math:`E` existing sites (open unless closable); :math:`N_i` stored
    pairs of :math:`i`.

    **Parameters** — :math:`d_{ij}` minutes; :math:`h_i = w_i` persons when ``weighted``,
    else 1; :math:`p` sites to add.

    **Decision variables** — :math:`y_j \in \{0,1\}`; :math:`x_{ij} \in [0,1]` assignment
    (continuous: at the optimum each origin uses its nearest open site); :math:`W` the largest
    (weighted) time.

    **Objective** — :math:`\min W`.

    **Constraints**

    .. math::
        \sum_{j\in N_i} x_{ij} = 1, \qquad x_{ij} \le y_j, \qquad
        W \ge \sum_{j\in N_i} h_i d_{ij} x_{ij} \ \forall i, \\
        \sum_j y_j = |E| + p, \qquad y_j = 1 \ (j \in E \setminus \text{closable}).

    Pairs that can never be used are removed first: those farther than a site that stays
    open, and those with fewer than :math:`|E|+p` candidates farther away. Origins that reach no
    candidate are excluded and listed in ``Plan.uncovered``
    (``details["unreachable_population"]``).

    Parameters
    ----------
    weighted
        Minimise the largest persons × minutes instead of minutes.
    tt, demand, p, candidates, existing, closable, solver, time_limit, gap
        As in :func:`accessplan.optimize.p_median`.

    Returns
    -------
    Plan
        ``objective`` in minutes (person-minutes when ``weighted``).

    References
    ----------
    Hakimi, S.L. (1965). Optimum distribution of switching centers in a communication network
    and some related graph theoretic problems. Operations Research 13(3), 462–475.
    Daskin, M.S. (2013). Network and Discrete Location: Models, Algorithms, and Applications,
    2nd ed. Wiley, chapter 5.
    """
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + check_time_limit(time_limit)
    data = prepare_location_data(
        tt, demand, candidates=candidates, existing=existing, closable=closable, p=p
    )
    w = data.weights
    unreachable = np.flatnonzero((np.diff(data.minutes.indptr) == 0) & (w > 0))
    if data.minutes.nnz == 0 or not (w[np.diff(data.minutes.indptr) > 0] > 0).any():
        raise InfeasibleError("p_center: no origin with persons reaches any candidate.")
    pairs = _useful_pairs(data)
    h = w if weighted else np.ones_like(w)
    model, _ = _p_center_model(data, pairs, h)
    info, x = solve_model(model, solver, time_limit=seconds_left(deadline), gap=gap, msg=msg)
    info = with_bound(info, _nearest_candidate_radius(data, h), "min")
    open_mask = x[: data.n_candidates] > 0.5
    a_rows, a_cols, a_min = nearest_open(data.minutes, open_mask)
    served = w[a_rows] > 0
    a_rows, a_cols, a_min = a_rows[served], a_cols[served], a_min[served]
    objective = float((h[a_rows] * a_min).max()) if a_rows.size else 0.0
    details = {
        "p": p,
        "weighted": weighted,
        "unreachable_population": float(w[unreachable].sum()),
        "method": "exact",
    }
    return build_plan(
        "p_center",
        data,
        open_mask,
        a_rows,
        a_cols,
        np.ones(a_rows.size),
        a_min,
        objective=objective,
        info=info,
        sense="min",
        gap=gap,
        covered_population=float(w[a_rows].sum()),
        uncovered_rows=unreachable,
        details=details,
        seconds=time.perf_counter() - t0,
    )


def _nearest_candidate_radius(data: LocationData, h: np.ndarray) -> float:
    """Largest (weighted) time from an origin with persons to its nearest candidate: no plan's
    radius is smaller."""
    minutes, w = data.minutes, data.weights
    has = (np.diff(minutes.indptr) > 0) & (w > 0)
    first = minutes.data[minutes.indptr[:-1][has]]
    return float((h[has] * first).max(initial=0.0))


def _useful_pairs(data: LocationData) -> sp.csr_array:
    """Pairs of origins with persons, cut after the first one where an open site is certain."""
    minutes, w = data.minutes, data.weights
    n, m = minutes.shape
    rows = np.repeat(np.arange(n), np.diff(minutes.indptr))
    rank = np.arange(rows.size) - minutes.indptr[rows]
    is_fixed = np.zeros(m, dtype=bool)
    is_fixed[data.fixed] = True
    certain = is_fixed[minutes.indices] | (rank + 1 >= m - data.p_total + 1)
    limit = np.full(n, np.inf)
    np.minimum.at(limit, rows[certain], minutes.data[certain])
    return keep_entries(minutes, (minutes.data <= limit[rows]) & (w[rows] > 0))


def _p_center_model(
    data: LocationData, pairs: sp.csr_array, h: np.ndarray
) -> tuple[LinearModel, np.ndarray]:
    """Columns ``y``, ``x`` (pairs), ``W``; rows: assignment, linking, radius, count."""
    m = data.n_candidates
    all_rows = np.repeat(np.arange(pairs.shape[0]), np.diff(pairs.indptr))
    model_rows, row_of_pair = np.unique(all_rows, return_inverse=True)
    n_i, n_x = model_rows.size, pairs.nnz
    col_lower = np.zeros(m)
    col_lower[data.fixed] = 1.0
    b = MipBuilder()
    y = b.add_columns(m, col_lower, 1.0, integer=True)
    x = b.add_columns(n_x, 0.0, 1.0)
    (radius,) = b.add_columns(1, 0.0, np.inf, cost=1.0)
    b.add_rows(row_of_pair, x, 1.0, np.ones(n_i), np.ones(n_i))  # sum_j x_ij = 1
    b.add_rows(  # x_ij - y_j <= 0
        np.concatenate([np.arange(n_x), np.arange(n_x)]),
        np.concatenate([x, y[pairs.indices]]),
        np.concatenate([np.ones(n_x), -np.ones(n_x)]),
        -np.inf,
        np.zeros(n_x),
    )
    b.add_rows(  # W - sum_j h_i d_ij x_ij >= 0
        np.concatenate([row_of_pair, np.arange(n_i)]),
        np.concatenate([x, np.full(n_i, radius)]),
        np.concatenate([-h[all_rows] * pairs.data, np.ones(n_i)]),
        np.zeros(n_i),
        np.inf,
    )
    b.add_rows(np.zeros(m), y, 1.0, data.p_total, data.p_total)  # count row
    model = b.linear_model("p_center", "min")
    return model, model_rows
