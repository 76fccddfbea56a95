"""Capacitated assignment models: the capacitated p-median and the model it shares with MCLP.

:func:`capacitated_p_median` minimises person-minutes when each site serves at most its
capacity; :func:`capacitated_assignment_model` builds its arrays and, with
``objective="cover"``, those of :func:`accessplan.optimize.capacitated_mclp`.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable

import numpy as np
import pandas as pd
import pulp
import scipy.sparse as sp

from accessplan.errors import InfeasibleError
from accessplan.optimize._data import LocationData, check_time_limit, prepare_location_data
from accessplan.optimize._data import unserved_minutes as unserved_minutes_for
from accessplan.optimize._mip import MipBuilder
from accessplan.optimize._solve import LinearModel, seconds_left, solve_model, with_bound
from accessplan.optimize.median import fixed_charge, nearest_pair_bound, served_pairs, with_charge
from accessplan.optimize.plan import Plan, build_plan
from accessplan.traveltimes import TravelTimes

__all__ = ["capacitated_assignment_model", "capacitated_p_median"]


def capacitated_p_median(
    tt: TravelTimes,
    demand: pd.Series | float,
    p: int,
    *,
    candidates: pd.DataFrame,
    existing: pd.DataFrame | Iterable[Hashable] = (),
    closable: Iterable[Hashable] = (),
    solver: str | pulp.LpSolver = "highs",
    time_limit: float | None = None,
    gap: float | None = None,
    unserved_minutes: float | None = None,
    msg: bool = False,
) -> Plan:
    r"""Capacitated p-median: minimise weighted time when each site serves at most its capacity.

    The capacitated p-median (Mulvey & Beck 1984; Osman & Christofides 1994), with demand that
    may be split between sites, built on the stored pairs only.

    **Sets** — :math:`I` origins with persons that reach a candidate; :math:`J` candidates;
    :math:`E` existing sites (kept open unless closable); :math:`N_i` stored pairs of
    :math:`i` (within :math:`U` when given).

    **Parameters** — :math:`w_i` persons, :math:`d_{ij}` minutes, :math:`Q_j` capacity
    (persons; NaN = unlimited), :math:`p` sites to add, :math:`U` minutes per unserved person.

    **Decision variables** — :math:`y_j \in \{0,1\}`; :math:`x_{ij} \in [0,1]` share of
    :math:`i` served by :math:`j`; :math:`u_i \in [0,1]` share of :math:`i` unserved (only
    when :math:`U` is given).

    **Objective** — :math:`\min \sum_i \sum_{j\in N_i} w_i d_{ij} x_{ij} + \sum_i w_i U u_i`.

    **Constraints**

    .. math::
        \sum_{j\in N_i} x_{ij} + u_i = 1 \ \forall i, \qquad x_{ij} \le y_j, \qquad
        \sum_i w_i x_{ij} \le Q_j y_j \ \forall j, \\
        \sum_j y_j = |E| + p, \qquad y_j = 1 \ (j \in E \setminus \text{closable}).

    Parameters are those of :func:`p_median`; ``candidates`` must carry ``capacity``
    (persons).

    Returns
    -------
    Plan
        Shares in ``assignment`` may be below 1 (split demand); ``sites.assigned_population``
        never exceeds ``capacity``.

    References
    ----------
    Mulvey, J.M. & Beck, M.P. (1984). Solving capacitated clustering problems. European Journal
    of Operational Research 18(3), 339–348.
    Osman, I.H. & Christofides, N. (1994). Capacitated clustering problems by hybrid simulated
    annealing and tabu search. International Transactions in Operational Research 1(3), 317–336.
    """
    t0 = time.perf_counter()
    tt.check_threshold(unserved_minutes, "unserved_minutes")
    data = prepare_location_data(
        tt,
        demand,
        candidates=candidates,
        existing=existing,
        closable=closable,
        p=p,
        need_capacity=True,
    )
    deadline = None if time_limit is None else t0 + check_time_limit(time_limit)
    unserved = unserved_minutes_for(tt, unserved_minutes)
    minutes, unreachable = served_pairs(data, unserved)
    model, rows, cols, d = capacitated_assignment_model(data, minutes, unserved, objective="time")
    try:
        info, x = solve_model(model, solver, time_limit=seconds_left(deadline), gap=gap, msg=msg)
    except InfeasibleError as exc:
        raise InfeasibleError(
            f"capacitated_p_median: the capacities of {data.p_total} sites cannot serve every "
            f"reachable origin ({exc}); raise p or capacities, or pass unserved_minutes=."
        ) from exc
    m = data.n_candidates
    open_mask = x[:m] > 0.5
    share = x[m : m + rows.size]
    used = share > 1e-9
    w = data.weights
    served_share = np.bincount(rows[used], weights=share[used], minlength=len(w))
    left = np.flatnonzero((w > 0) & (served_share < 1 - 1e-6))
    objective = float((w[rows[used]] * d[used] * share[used]).sum())
    unserved_persons = float((w * np.clip(1 - served_share, 0, 1))[w > 0].sum()) - float(
        w[unreachable].sum()
    )
    if unserved is not None:
        objective += unserved_persons * unserved
    details = {
        "p": p,
        "unserved_minutes": unserved,
        "unreachable_population": float(w[unreachable].sum()),
        "unserved_population": max(unserved_persons, 0.0),
        "method": "exact",
    }
    return build_plan(
        "capacitated_p_median",
        data,
        open_mask,
        rows[used],
        cols[used],
        share[used],
        d[used],
        objective=objective,
        info=with_charge(
            with_bound(info, nearest_pair_bound(minutes, w), "min"),
            fixed_charge(data, minutes, unreachable, unserved),
        ),
        sense="min",
        gap=gap,
        covered_population=float((w[rows[used]] * share[used]).sum()),
        uncovered_rows=left,
        details=details,
        seconds=time.perf_counter() - t0,
    )


def capacitated_assignment_model(
    data: LocationData,
    minutes: sp.csr_array,
    unserved: float | None,
    *,
    objective: str,
) -> tuple[LinearModel, np.ndarray, np.ndarray, np.ndarray]:
    """Arrays of a capacitated assignment model; columns ``y``, ``x`` (pairs), then ``u``.

    ``objective="time"``: minimise person-minutes (capacitated p-median; with ``unserved``
    the rows are equalities with an unserved share). ``objective="cover"``: maximise persons
    assigned (capacitated MCLP; rows ``<= 1``, no unserved share).
    """
    w = data.weights
    m = data.n_candidates
    all_rows = np.repeat(np.arange(minutes.shape[0]), np.diff(minutes.indptr))
    keep = w[all_rows] > 0
    rows, cols, d = all_rows[keep], minutes.indices[keep], minutes.data[keep]
    model_rows, row_of_pair = np.unique(rows, return_inverse=True)
    n_i, n_x = model_rows.size, rows.size
    with_u = objective == "time" and unserved is not None
    n_u = n_i if with_u else 0
    cap = data.candidates["capacity"].to_numpy()
    capped = np.flatnonzero(~np.isnan(cap))
    col_lower = np.zeros(m)
    col_lower[data.fixed] = 1.0
    if objective == "time":
        sense, name = "min", "capacitated_p_median"
        x_cost, u_cost = w[rows] * d, w[model_rows] * (unserved or 0.0)
    else:
        sense, name = "max", "capacitated_mclp"
        x_cost, u_cost = w[rows], np.zeros(n_i)
    b = MipBuilder()
    y = b.add_columns(m, col_lower, 1.0, integer=True)
    x = b.add_columns(n_x, 0.0, 1.0, cost=x_cost)
    u = b.add_columns(n_u, 0.0, 1.0, cost=u_cost[:n_u])
    # assignment: sum_j x_ij (+ u_i) = 1 (p-median) or <= 1 (MCLP)
    assign_lower = 1.0 if objective == "time" else 0.0
    b.add_rows(
        np.concatenate([row_of_pair, np.arange(n_u)]),
        np.concatenate([x, u]),
        1.0,
        np.full(n_i, assign_lower),
        np.ones(n_i),
    )
    # linking: x_ij - y_j <= 0
    b.add_rows(
        np.concatenate([np.arange(n_x), np.arange(n_x)]),
        np.concatenate([x, y[cols]]),
        np.concatenate([np.ones(n_x), -np.ones(n_x)]),
        -np.inf,
        np.zeros(n_x),
    )
    # capacity: sum_i w_i x_ij - Q_j y_j <= 0 for capacitated sites
    cap_pos = np.full(m, -1)
    cap_pos[capped] = np.arange(capped.size)
    on_capped = cap_pos[cols] >= 0
    b.add_rows(
        np.concatenate([cap_pos[cols[on_capped]], np.arange(capped.size)]),
        np.concatenate([x[on_capped], y[capped]]),
        np.concatenate([w[rows[on_capped]], -cap[capped]]),
        -np.inf,
        np.zeros(capped.size),
    )
    b.add_rows(np.zeros(m), y, 1.0, data.p_total, data.p_total)  # count row
    model = b.linear_model(
        name,
        sense,
        start=_count_start(data, b.n_cols, int(u[0]) if with_u else None),
    )
    return model, rows, cols, d


def _count_start(data: LocationData, n_cols: int, u_first: int | None) -> np.ndarray:
    """A plan that satisfies the count row and serves nobody: the sites that must stay open,
    then the first others; every unserved share 1 (when the model has them). The solver
    ignores it when it breaks a row (a model without unserved shares must serve everyone)."""
    start = np.zeros(n_cols)
    is_open = np.zeros(data.n_candidates, dtype=bool)
    is_open[data.fixed] = True
    free = np.flatnonzero(~is_open)[: data.p_total - int(is_open.sum())]
    is_open[free] = True
    start[: data.n_candidates] = is_open
    if u_first is not None:
        start[u_first:] = 1.0
    return start
