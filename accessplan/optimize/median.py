"""p-median models: minimise population-weighted travel time (uncapacitated and capacitated).

Both take a :class:`~accessplan.traveltimes.TravelTimes` of demand origins × candidate sites,
persons per origin and the candidates, and return a :class:`~accessplan.optimize.plan.Plan`.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pulp
import scipy.sparse as sp

from accessplan.errors import AccessplanError, InfeasibleError, SolverError
from accessplan.optimize._data import (
    LocationData,
    check_time_limit,
    prepare_location_data,
    resolve_method,
)
from accessplan.optimize._data import unserved_minutes as unserved_minutes_for
from accessplan.optimize._mip import MipBuilder
from accessplan.optimize._solve import (
    LinearModel,
    SolveInfo,
    heuristic_outcome,
    relative_gap,
    solve_model,
    with_bound,
)
from accessplan.optimize.heuristics import p_median_heuristic
from accessplan.optimize.plan import Plan, build_plan, nearest_open
from accessplan.traveltimes import TravelTimes, keep_entries

__all__ = ["capacitated_p_median", "p_median"]


def p_median(
    tt: TravelTimes,
    demand: pd.Series | float,
    p: int,
    *,
    candidates: pd.DataFrame | None = None,
    existing: pd.DataFrame | Iterable[Hashable] = (),
    closable: Iterable[Hashable] = (),
    solver: str | pulp.LpSolver = "highs",
    time_limit: float | None = None,
    gap: float | None = None,
    method: str = "auto",
    unserved_minutes: float | None = None,
    seed: int = 0,
    msg: bool = False,
) -> Plan:
    r"""p-median: open ``p`` sites that minimise the population-weighted travel time.

    Hakimi (1964) posed the problem on a network and showed that an optimum lies on the
    vertices; ReVelle & Swain (1970) gave the integer programme. This implementation solves the
    equivalent compact formulation of Cornuéjols, Nemhauser & Wolsey (1980) in the sparse form of
    Elloumi (2010), which has the same LP bound as the strong classic model but one continuous
    variable per *distinct* travel time of each origin instead of one per pair.

    **Sets** — :math:`I` origins with persons (:math:`w_i > 0`) that reach at least one
    candidate within :math:`U` minutes; :math:`J` candidate sites; :math:`E \subseteq J`
    existing sites that stay open;
    :math:`N_i = \{j : (i,j)\ \text{stored in the travel times}\}`.

    **Parameters** — :math:`w_i` persons; :math:`d_{ij}` minutes; :math:`p` sites to add;
    :math:`U` minutes charged per unserved person (``unserved_minutes``; default the travel-time
    cutoff, else the longest stored travel time: see
    :func:`accessplan.optimize._data.unserved_minutes`). For origin :math:`i`, the distinct times
    :math:`D_i^1 < \dots < D_i^{K_i}` of :math:`\{d_{ij} : j \in N_i\}` (times above
    :math:`U` dropped), and :math:`L_i^k = \{j : d_{ij} = D_i^k\}`.

    Origins with persons and no stored pair cost the same in every plan: they are left out of
    the objective and of its bound (``details["unreachable_population"]``). Origins whose stored
    pairs all exceed :math:`U` pay :math:`U` per person in every plan: the objective and the
    bound both include that constant.

    **Decision variables** — :math:`y_j \in \{0,1\}` site :math:`j` open;
    :math:`z_i^k \ge 0` equals 1 when no open site lies within :math:`D_i^k` of :math:`i`.

    **Objective**

    .. math:: \min \sum_{i\in I} w_i \Big( D_i^1 + \sum_{k=1}^{K_i-1} (D_i^{k+1}-D_i^k)\, z_i^k
              + (U - D_i^{K_i})\, z_i^{K_i} \Big)

    **Constraints**

    .. math::
        z_i^1 + \sum_{j\in L_i^1} y_j \ge 1, \qquad
        z_i^k - z_i^{k-1} + \sum_{j\in L_i^k} y_j \ge 0 \quad (k = 2..K_i), \\
        \sum_{j\in J} y_j = |E| + p, \qquad y_j = 1 \ (j \in E \setminus \text{closable}).

    Without :math:`U` the last level is fixed, :math:`z_i^{K_i} = 0` (every reachable origin is
    served). Levels that cannot matter are removed before solving: those at or beyond the
    nearest site that must stay open, and those with fewer than :math:`|E|+p` candidates
    farther away (some open site is always nearer). Each origin is then served by its nearest
    open site (the "closest assignment" holds at the optimum).

    Parameters
    ----------
    tt
        Travel times (minutes), demand origins × candidate sites.
    demand
        Persons per origin id.
    p
        Number of sites to add to the existing ones.
    candidates
        Candidate sites (``id`` matching destination ids; optional ``type``, ``cost``,
        ``capacity``). Default: every destination.
    existing
        Facilities already open: a DataFrame with ``id``, ``type`` and optional
        ``capacity`` (persons), or their ids; they stay open unless in ``closable``.
    closable
        Existing ids that may close: the plan then opens ``len(existing) + p`` sites in all,
        and may move closable sites elsewhere.
    solver
        ``"highs"`` (default, arrays passed to highspy), ``"cbc"``, or a PuLP solver.
    time_limit
        Seconds from the call, for every stage together; the best plan found by then is
        returned with its proven bound and gap (status ``"time_limit"``), within the limit plus
        :data:`~accessplan.optimize._data.TIME_LIMIT_SLACK_SECONDS` (or 10 % of it); a
        :class:`~accessplan.errors.SolverError` when no plan was found.
    gap
        Relative optimality gap accepted (0.001 = 0.1 %); default: proven optimal.
    method
        ``"exact"`` (the model above), ``"heuristic"`` (greedy + vertex substitution with a
        Lagrangian bound, :mod:`accessplan.optimize.heuristics`) or ``"auto"``: exact when at
        most :data:`~accessplan.optimize._data.AUTO_EXACT_MAX_PAIRS` stored pairs enter the
        model, heuristic above.
    unserved_minutes
        Minutes charged per person of a reachable origin left unserved (no open site within
        this time); pairs longer than it are never used. Default: the travel-time cutoff, else
        the longest stored travel time.
    seed
        Seed of the heuristic.

    Returns
    -------
    Plan
        ``objective`` in person-minutes; ``mean_minutes`` over served persons;
        ``covered_population`` = served persons; ``uncovered`` lists origins that reach no
        candidate (``details["unreachable_population"]``, not part of ``objective`` or
        ``bound``) or that the plan leaves unserved (``details["unserved_population"]``,
        charged ``unserved_minutes`` each).

    References
    ----------
    Hakimi, S.L. (1964). Optimum locations of switching centers and the absolute centers and
    medians of a graph. Operations Research 12(3), 450–459.
    ReVelle, C.S. & Swain, R.W. (1970). Central facilities location. Geographical Analysis
    2(1), 30–42.
    Cornuéjols, G., Nemhauser, G.L. & Wolsey, L.A. (1980). A canonical representation of simple
    plant location problems and its applications. SIAM J. Algebraic Discrete Methods 1, 261–272.
    Elloumi, S. (2010). A computational study of a new formulation for the p-median problem.
    Discrete Optimization 7, 161–180.
    """
    t0 = time.perf_counter()
    data = prepare_location_data(
        tt, demand, candidates=candidates, existing=existing, closable=closable, p=p
    )
    unserved = unserved_minutes_for(tt, unserved_minutes)
    minutes, unreachable = _served_pairs(data, unserved)
    chosen = resolve_method(method, minutes.nnz, "p_median")
    details: dict = {
        "p": p,
        "unserved_minutes": unserved,
        "unreachable_population": float(data.weights[unreachable].sum()),
        "method": chosen,
    }
    deadline = None if time_limit is None else t0 + check_time_limit(time_limit)
    if chosen == "heuristic":
        return _p_median_by_heuristic(
            data, minutes, unreachable, unserved, _seconds_left(deadline), gap, seed, details, t0
        )
    try:
        open_mask, info = _exact_p_median(
            data, minutes, unreachable, unserved, solver, deadline, gap, msg, seed, details
        )
    except InfeasibleError as exc:
        raise InfeasibleError(
            f"p_median: no {data.p_total} open sites can serve every reachable origin ({exc}); "
            "raise p or pass unserved_minutes= to allow unserved demand."
        ) from exc
    except SolverError:
        if time_limit is None:
            raise
        details["fallback"] = "the exact solver found no plan within the time limit"
        return _p_median_by_heuristic(
            data, minutes, unreachable, unserved, _seconds_left(deadline), gap, seed, details, t0
        )
    return _median_plan(data, minutes, open_mask, unreachable, unserved, info, gap, details, t0)


def _exact_p_median(
    data: LocationData,
    minutes: sp.csr_array,
    unreachable: np.ndarray,
    unserved: float | None,
    solver: str | pulp.LpSolver,
    deadline: float | None,
    gap: float | None,
    msg: bool,
    seed: int,
    details: dict,
) -> tuple[np.ndarray, SolveInfo]:
    """Lagrangian reduction (bound, plan, fixed sites), then the compact model on what is left.

    Every step runs under the time left before ``deadline`` (a ``time.perf_counter()`` value;
    None = no limit); when none is left for the compact model, or it finds no plan in time,
    the reduction's plan is returned with the proven bound.
    """
    t0 = time.perf_counter()
    m = data.n_candidates
    upper_open, heuristic_bound = _heuristic_upper_plan(
        data, minutes, unreachable, unserved, _seconds_left(deadline, 0.25), seed
    )
    red = _lagrangian_reduction(
        minutes, data.weights, data.p_total, data.fixed, unserved, upper_open, deadline=deadline
    )
    details["lagrangian"] = {
        "bound": red.bound,
        "heuristic_bound": heuristic_bound,
        "upper": red.upper,
        "iterations": red.iterations,
        "closed_sites": int(red.closed.sum()),
        "forced_sites": int(red.forced.sum()),
    }
    # Both are proven lower bounds: the reduction's ascent, and the heuristic's Lagrangian
    # branch and bound (which often closes the gap alone).
    proven = max(red.bound, heuristic_bound)
    tolerance = (gap or 0.0) * max(abs(red.upper), 1.0) + 1e-9 * max(abs(red.upper), 1.0)
    if red.upper - proven <= tolerance:
        seconds = time.perf_counter() - t0
        info = SolveInfo(
            "optimal",
            red.upper,
            proven,
            relative_gap(red.upper, proven),
            seconds,
            "lagrangian",
        )
        return red.upper_open, info
    remaining = _seconds_left(deadline)
    reduction_plan = SolveInfo(
        "time_limit",
        red.upper,
        proven,
        relative_gap(red.upper, proven),
        time.perf_counter() - t0,
        "lagrangian",
    )
    if remaining is not None and remaining <= _MIN_SOLVE_SECONDS:
        return red.upper_open, reduction_plan
    alive = np.flatnonzero(~red.closed)
    new_pos = np.full(m, -1)
    new_pos[alive] = np.arange(alive.size)
    sub = keep_entries(minutes, ~red.closed[minutes.indices])
    sub = sp.csr_array(
        (sub.data, new_pos[sub.indices], sub.indptr), shape=(sub.shape[0], alive.size)
    )
    sub_fixed = new_pos[np.union1d(data.fixed, np.flatnonzero(red.forced))]
    model = _elloumi_model(
        sub, data.weights, data.p_total, sub_fixed, unserved, start_open=red.upper_open[alive]
    )
    details["model_size"] = {"columns": model.num_col, "rows": model.num_row, "nnz": model.A.nnz}
    try:
        info, x = solve_model(model, solver, time_limit=_seconds_left(deadline), gap=gap, msg=msg)
    except SolverError:
        if remaining is None:
            raise
        return red.upper_open, reduction_plan
    open_mask = np.zeros(m, dtype=bool)
    open_mask[alive[x[: alive.size] > 0.5]] = True
    # Plans outside the reduced space cost more than the upper bound.
    bound = max(proven, min(info.bound, red.upper)) if np.isfinite(info.bound) else proven
    if red.upper < info.objective - 1e-9 * max(abs(red.upper), 1.0):
        open_mask, objective = red.upper_open, red.upper
    else:
        objective = info.objective
    status = info.status
    result_gap = relative_gap(objective, bound)
    if result_gap < 1e-9:
        result_gap, status = 0.0, "optimal"
    seconds = time.perf_counter() - t0
    return open_mask, SolveInfo(status, objective, bound, result_gap, seconds, info.solver)


#: Below this many seconds left, the exact stage is not started (its set-up alone takes longer).
_MIN_SOLVE_SECONDS = 0.05


def _seconds_left(deadline: float | None, share: float = 1.0) -> float | None:
    """``share`` of the seconds left before ``deadline`` (at least 1 ms); None without one."""
    if deadline is None:
        return None
    return max(share * (deadline - time.perf_counter()), 1e-3)


def _heuristic_upper_plan(
    data: LocationData,
    minutes: sp.csr_array,
    unreachable: np.ndarray,
    unserved: float | None,
    time_limit: float | None,
    seed: int,
) -> tuple[np.ndarray | None, float]:
    """Open sites of a heuristic plan (an upper bound for the reduction) and its proven bound.

    The heuristic stops as soon as its Lagrangian branch and bound proves the plan optimal;
    otherwise after ``time_limit`` seconds (30 s without one). ``(None, -inf)`` when the
    heuristic fails.
    """
    budget = 30.0 if time_limit is None else time_limit
    try:
        result = p_median_heuristic(
            minutes,
            model_weights(data.weights, minutes),
            data.p_total,
            fixed=tuple(int(j) for j in data.fixed),
            unserved_cost=unserved,
            time_limit=budget,
            seed=seed,
        )
    except AccessplanError:
        return None, -np.inf
    open_mask = np.zeros(data.n_candidates, dtype=bool)
    open_mask[np.asarray(result.open, dtype=np.int64)] = True
    return open_mask, float(result.bound)


def _served_pairs(data: LocationData, unserved: float | None) -> tuple[sp.csr_array, np.ndarray]:
    """Pairs that can serve (within ``unserved`` minutes) and origins that reach no candidate."""
    minutes = data.minutes
    unreachable = np.flatnonzero((np.diff(minutes.indptr) == 0) & (data.weights > 0))
    if unserved is not None and minutes.nnz and minutes.data.max() > unserved:
        minutes = keep_entries(minutes, minutes.data <= unserved)
    return minutes, unreachable


def model_weights(weights: np.ndarray, minutes: sp.csr_array) -> np.ndarray:
    """Persons per origin, 0 for origins without a pair in ``minutes``.

    Every solver stage (heuristic, Lagrangian reduction, MILP) sees only the origins that a
    plan can serve, so the objectives and bounds it reports leave out the others; see
    :func:`_fixed_charge` for what the plan's objective adds back.
    """
    return np.where(np.diff(minutes.indptr) > 0, weights, 0.0)


def nearest_pair_bound(minutes: sp.csr_array, weights: np.ndarray) -> float:
    """Person-minutes with every origin at its nearest candidate: a lower bound of any plan
    (rows of ``minutes`` sorted by minutes)."""
    has = np.diff(minutes.indptr) > 0
    first = minutes.data[minutes.indptr[:-1][has]]
    return float(weights[has] @ first)


def _fixed_charge(
    data: LocationData, minutes: sp.csr_array, unreachable: np.ndarray, unserved: float | None
) -> float:
    """Person-minutes every plan pays for origins whose stored pairs all exceed ``unserved``
    (charged ``unserved`` per person): part of the plan's objective and of its bound."""
    if unserved is None:
        return 0.0
    idle = (np.diff(minutes.indptr) == 0) & (data.weights > 0)
    idle[unreachable] = False
    return float(data.weights[idle].sum() * unserved)


def _with_charge(info: SolveInfo, charge: float) -> SolveInfo:
    """``info`` of the served origins, with the fixed charge added to objective and bound."""
    return replace(info, objective=info.objective + charge, bound=info.bound + charge)


def _elloumi_model(
    minutes: sp.csr_array,
    weights: np.ndarray,
    p_total: int,
    fixed: np.ndarray,
    unserved: float | None,
    start_open: np.ndarray | None = None,
) -> LinearModel:
    """Arrays of the compact p-median model (see :func:`p_median`); columns ``y`` then ``z``.

    ``start_open`` (open flag per candidate) becomes the solver's starting solution.
    """
    n, m = minutes.shape
    rows = np.repeat(np.arange(n), np.diff(minutes.indptr))
    keep = weights[rows] > 0
    rows, d, cand = rows[keep], minutes.data[keep], minutes.indices[keep]
    counts = np.bincount(rows, minlength=n)
    row_start = np.concatenate([[0], np.cumsum(counts)])[:-1]

    # Levels: runs of equal minutes within an origin (pairs are sorted by minutes per row).
    new_level = np.ones(d.size, dtype=bool)
    new_level[1:] = (rows[1:] != rows[:-1]) | (d[1:] != d[:-1])
    level = np.cumsum(new_level) - 1
    n_levels = int(level[-1]) + 1 if d.size else 0
    first_pair = np.flatnonzero(new_level)
    last_pair = np.append(first_pair[1:] - 1, d.size - 1) if d.size else first_pair
    lvl_row, lvl_d = rows[first_pair], d[first_pair]
    lvl_first = np.ones(n_levels, dtype=bool)
    lvl_first[1:] = lvl_row[1:] != lvl_row[:-1]
    lvl_last = np.ones(n_levels, dtype=bool)
    lvl_last[:-1] = lvl_row[1:] != lvl_row[:-1]
    within_count = last_pair - row_start[lvl_row] + 1

    # A level "stops" the chain when an open site is certain within it.
    is_fixed = np.zeros(m, dtype=bool)
    is_fixed[fixed] = True
    has_fixed = np.bincount(level, weights=is_fixed[cand], minlength=n_levels) > 0
    stop = has_fixed | (within_count >= m - p_total + 1)
    stops_so_far = np.cumsum(stop)
    before_row = np.concatenate([[0], stops_so_far])[:-1]
    row_base = np.zeros(n, dtype=np.int64)
    row_base[lvl_row[lvl_first]] = before_row[lvl_first]
    kept = (stops_so_far - row_base[lvl_row]) == 0
    z_of_level = np.cumsum(kept) - 1
    n_z = int(kept.sum())

    # Objective: D^1 per origin as a constant, then the steps between kept levels.
    w_level = weights[lvl_row]
    offset = float((w_level[lvl_first] * lvl_d[lvl_first]).sum())
    next_d = np.append(lvl_d[1:], np.nan)
    z_cost = np.zeros(n_levels)
    inner = kept & ~lvl_last
    z_cost[inner] = w_level[inner] * (next_d[inner] - lvl_d[inner])
    final = kept & lvl_last
    z_upper = np.ones(n_levels)
    if unserved is None:
        z_upper[final] = 0.0
    else:
        z_cost[final] = w_level[final] * (unserved - lvl_d[final])

    # Rows: one per kept level, then the count row.
    kept_levels = np.flatnonzero(kept)
    pair_kept = kept[level]
    y_rows = z_of_level[level[pair_kept]]
    y_cols = cand[pair_kept]
    z_rows = np.arange(n_z)
    has_prev = ~lvl_first[kept_levels]
    prev_rows = z_rows[has_prev]
    prev_z = z_of_level[kept_levels[has_prev] - 1]
    col_lower = np.zeros(m)
    col_lower[fixed] = 1.0
    b = MipBuilder()
    y = b.add_columns(m, col_lower, 1.0, integer=True)
    z = b.add_columns(n_z, 0.0, z_upper[kept_levels], cost=z_cost[kept_levels])
    # z_l + sum of y within level l - z_(l-1) >= 1 at an origin's first level, >= 0 after
    b.add_rows(
        np.concatenate([y_rows, z_rows, prev_rows]),
        np.concatenate([y[y_cols], z[z_rows], z[prev_z]]),
        np.concatenate([np.ones(y_rows.size), np.ones(n_z), -np.ones(prev_rows.size)]),
        np.where(lvl_first[kept_levels], 1.0, 0.0),
        np.full(n_z, np.inf),
        n_rows=n_z,
    )
    b.add_rows(np.zeros(m), y, 1.0, p_total, p_total)  # count row
    start = None
    if start_open is not None:
        nearest = np.full(n, np.inf)
        start_rows, _, start_minutes = nearest_open(minutes, start_open)
        nearest[start_rows] = start_minutes
        z_start = (nearest[lvl_row[kept_levels]] > lvl_d[kept_levels]).astype(np.float64)
        start = np.concatenate([start_open.astype(np.float64), z_start])
    return b.linear_model(
        "p_median",
        "min",
        offset=offset,
        start=start,
        # The start is a good plan: the solver's time is better spent on the bound.
        highs_options=_NO_HEURISTICS if start is not None else {},
    )


def _median_plan(
    data: LocationData,
    minutes: sp.csr_array,
    open_mask: np.ndarray,
    unreachable: np.ndarray,
    unserved: float | None,
    info: SolveInfo,
    gap: float | None,
    details: dict,
    t0: float,
    model: str = "p_median",
) -> Plan:
    """Plan with every origin at its nearest open site; objective recomputed from the sites."""
    rows, cols, mins = nearest_open(minutes, open_mask)
    w = data.weights
    served = np.zeros(len(w), dtype=bool)
    served[rows] = True
    left = np.flatnonzero(~served & (w > 0))
    left_reachable = np.setdiff1d(left, unreachable)
    objective = float((w[rows] * mins).sum())
    if unserved is not None:
        objective += float(w[left_reachable].sum() * unserved)
    details["unserved_population"] = float(w[left_reachable].sum())
    return build_plan(
        model,
        data,
        open_mask,
        rows,
        cols,
        np.ones(rows.size),
        mins,
        objective=objective,
        info=_with_charge(info, _fixed_charge(data, minutes, unreachable, unserved)),
        sense="min",
        gap=gap,
        covered_population=float(w[rows].sum()),
        uncovered_rows=left,
        details=details,
        seconds=time.perf_counter() - t0,
    )


def _p_median_by_heuristic(
    data: LocationData,
    minutes: sp.csr_array,
    unreachable: np.ndarray,
    unserved: float | None,
    time_limit: float | None,
    gap: float | None,
    seed: int,
    details: dict,
    t0: float,
) -> Plan:
    result = p_median_heuristic(
        minutes,
        model_weights(data.weights, minutes),
        data.p_total,
        fixed=tuple(int(j) for j in data.fixed),
        unserved_cost=unserved,
        time_limit=time_limit,
        seed=seed,
    )
    open_mask, info = heuristic_outcome(result, data.n_candidates)
    details["method"] = "heuristic"
    details["iterations"] = getattr(result, "iterations", None)
    return _median_plan(data, minutes, open_mask, unreachable, unserved, info, gap, details, t0)


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
    minutes, unreachable = _served_pairs(data, unserved)
    model, rows, cols, d = capacitated_assignment_model(data, minutes, unserved, objective="time")
    try:
        info, x = solve_model(model, solver, time_limit=_seconds_left(deadline), gap=gap, msg=msg)
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
        info=_with_charge(
            with_bound(info, nearest_pair_bound(minutes, w), "min"),
            _fixed_charge(data, minutes, unreachable, unserved),
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


# ---------------------------------------------------------------------------------------------
# Lagrangian reduction for the exact p-median
#
# Relaxing the assignment constraints sum_j x_ij = 1 of the classic model with multipliers
# lambda_i gives L(lambda) = sum_i lambda_i + (sum of the |E|+p smallest rho_j, forced sites
# included), rho_j = sum_i min(0, w_i d_ij - lambda_i): a lower bound equal to the LP bound at
# the best multipliers (Beasley 1993). With an upper bound UB from a plan, the classic
# reduced-cost tests fix sites: a closed site whose opening would raise the bound above UB
# stays closed, an open one whose closing would stays open. The exact model is then solved on
# the surviving sites only, which on OR-Library instances removes most candidates. Any plan
# outside the reduced space costs more than UB, so the reduced optimum is the global optimum.
# ---------------------------------------------------------------------------------------------


@dataclass
class _Reduction:
    bound: float
    upper: float
    upper_open: np.ndarray
    closed: np.ndarray
    forced: np.ndarray
    iterations: int


def _plan_cost(
    rows: np.ndarray,
    cols: np.ndarray,
    cost: np.ndarray,
    active: np.ndarray,
    open_mask: np.ndarray,
    unserved_cost: np.ndarray | None,
    n: int,
) -> float:
    """Person-minutes of a set of open sites (pairs sorted by minutes within each row)."""
    ok = open_mask[cols]
    first_rows, first = np.unique(rows[ok], return_index=True)
    per_row = np.full(n, np.inf)
    per_row[first_rows] = cost[ok][first]
    if unserved_cost is not None:
        per_row = np.minimum(per_row, unserved_cost)
    return float(per_row[active].sum())


def _lagrangian_reduction(
    minutes: sp.csr_array,
    weights: np.ndarray,
    p_total: int,
    fixed: np.ndarray,
    unserved: float | None,
    upper_open: np.ndarray | None,
    max_iter: int = 600,
    integral: bool = False,
    deadline: float | None = None,
) -> _Reduction:
    n, m = minutes.shape
    all_rows = np.repeat(np.arange(n), np.diff(minutes.indptr))
    keep = weights[all_rows] > 0
    rows, cols = all_rows[keep], minutes.indices[keep]
    cost = weights[rows] * minutes.data[keep]
    active = np.unique(rows)
    u_cost = None if unserved is None else weights * unserved
    is_fixed = np.zeros(m, dtype=bool)
    is_fixed[fixed] = True
    first = np.ones(rows.size, dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    lam = np.zeros(n)
    lam[rows[first]] = cost[first]

    def relaxed(rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(np.where(is_fixed, -np.inf, rho), kind="stable")
        chosen = np.zeros(m, dtype=bool)
        chosen[order[:p_total]] = True
        return chosen, order

    best_upper, best_open = np.inf, None
    if upper_open is not None:
        best_upper = _plan_cost(rows, cols, cost, active, upper_open, u_cost, n)
        best_open = upper_open
    best_bound, best_rho = -np.inf, np.zeros(m)
    step, stall, it = 2.0, 0, 0
    g_base = np.zeros(n)
    g_base[active] = 1.0
    for it in range(1, max_iter + 1):
        slack = cost - lam[rows]
        neg = slack < 0
        rho = np.bincount(cols[neg], slack[neg], minlength=m)
        chosen, _ = relaxed(rho)
        bound = float(lam[active].sum() + rho[chosen].sum())
        if u_cost is not None:
            bound += float(np.minimum(0.0, u_cost - lam)[active].sum())
        if it % 10 == 1 or best_open is None:
            value = _plan_cost(rows, cols, cost, active, chosen, u_cost, n)
            if value < best_upper:
                best_upper, best_open = value, chosen
        if bound > best_bound + 1e-12 * abs(bound):
            best_bound, best_rho, stall = bound, rho, 0
        else:
            stall += 1
            if stall >= 20:
                step, stall = step / 2, 0
        if best_upper - best_bound <= 1e-9 * max(abs(best_upper), 1.0) or step < 1e-3:
            break
        if deadline is not None and it % 10 == 0 and time.perf_counter() > deadline:
            break
        served = neg & chosen[cols]
        g = g_base - np.bincount(rows[served], minlength=n)
        if u_cost is not None:
            g -= u_cost < lam
        norm = float((g[active] ** 2).sum())
        if norm == 0:
            break
        lam = lam + step * (best_upper - bound) / norm * g
    chosen, order = relaxed(best_rho)
    free_in = order[:p_total][~is_fixed[order[:p_total]]]
    worst_in = best_rho[free_in].max() if free_in.size else np.inf
    best_out = best_rho[order[p_total]] if p_total < m else np.inf
    tol = 1e-9 * max(abs(best_upper), 1.0)
    if integral:
        # Integer person-minutes: only plans cheaper by at least 1 are worth keeping.
        tol = -1.0 + 1e-6
        if np.ceil(best_bound - 1e-6) >= best_upper:
            best_bound = best_upper
    closed = ~chosen & ~is_fixed & (best_bound + best_rho - worst_in > best_upper + tol)
    forced = chosen & ~is_fixed & (best_bound - best_rho + best_out > best_upper + tol)
    if best_open is None:
        best_open = chosen
    return _Reduction(best_bound, best_upper, best_open, closed, forced, it)


_NO_HEURISTICS = {
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_feasibility_jump": False,
}
