"""The p-median: open ``p`` sites that minimise population-weighted travel time.

:func:`p_median` takes a :class:`~accessplan.traveltimes.TravelTimes` of demand origins ×
candidate sites, persons per origin and the candidates, and returns a
:class:`~accessplan.optimize.plan.Plan`; the exact route is a Lagrangian reduction followed by
the compact model on the sites left. The accounting of unserved and unreachable persons here
(:func:`served_pairs`, :func:`fixed_charge`, :func:`with_charge`, :func:`nearest_pair_bound`)
is shared with the capacitated p-median (:mod:`accessplan.optimize.capacitated`).
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from dataclasses import replace

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
    seconds_left,
    solve_model,
)
from accessplan.optimize.heuristics import p_median_heuristic
from accessplan.optimize.median_reduction import lagrangian_reduction
from accessplan.optimize.plan import Plan, build_plan, nearest_open
from accessplan.traveltimes import TravelTimes, keep_entries

__all__ = ["p_median"]


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
    tt.check_threshold(unserved_minutes, "unserved_minutes")
    data = prepare_location_data(
        tt, demand, candidates=candidates, existing=existing, closable=closable, p=p
    )
    unserved = unserved_minutes_for(tt, unserved_minutes)
    minutes, unreachable = served_pairs(data, unserved)
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
            data, minutes, unreachable, unserved, seconds_left(deadline), gap, seed, details, t0
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
            data, minutes, unreachable, unserved, seconds_left(deadline), gap, seed, details, t0
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
        data, minutes, unreachable, unserved, seconds_left(deadline, 0.25), seed
    )
    red = lagrangian_reduction(
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
    remaining = seconds_left(deadline)
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
        info, x = solve_model(model, solver, time_limit=seconds_left(deadline), gap=gap, msg=msg)
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


def served_pairs(data: LocationData, unserved: float | None) -> tuple[sp.csr_array, np.ndarray]:
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
    :func:`fixed_charge` for what the plan's objective adds back.
    """
    return np.where(np.diff(minutes.indptr) > 0, weights, 0.0)


def nearest_pair_bound(minutes: sp.csr_array, weights: np.ndarray) -> float:
    """Person-minutes with every origin at its nearest candidate: a lower bound of any plan
    (rows of ``minutes`` sorted by minutes)."""
    has = np.diff(minutes.indptr) > 0
    first = minutes.data[minutes.indptr[:-1][has]]
    return float(weights[has] @ first)


def fixed_charge(
    data: LocationData, minutes: sp.csr_array, unreachable: np.ndarray, unserved: float | None
) -> float:
    """Person-minutes every plan pays for origins whose stored pairs all exceed ``unserved``
    (charged ``unserved`` per person): part of the plan's objective and of its bound."""
    if unserved is None:
        return 0.0
    idle = (np.diff(minutes.indptr) == 0) & (data.weights > 0)
    idle[unreachable] = False
    return float(data.weights[idle].sum() * unserved)


def with_charge(info: SolveInfo, charge: float) -> SolveInfo:
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
        "p_median",
        data,
        open_mask,
        rows,
        cols,
        np.ones(rows.size),
        mins,
        objective=objective,
        info=with_charge(info, fixed_charge(data, minutes, unreachable, unserved)),
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
    details["iterations"] = result.iterations
    return _median_plan(data, minutes, open_mask, unreachable, unserved, info, gap, details, t0)


_NO_HEURISTICS = {
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_feasibility_jump": False,
}
