"""Covering models: maximal covering (MCLP), set covering (LSCP) and capacitated MCLP.

A person is *covered* when an open site lies within the standard ``S`` minutes of their origin
(a stored travel time ``<= S``).
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable

import numpy as np
import pandas as pd
import pulp
import scipy.sparse as sp

from accessplan.errors import InfeasibleError, InputError, SolverError
from accessplan.optimize._data import (
    LocationData,
    check_standard,
    check_time_limit,
    prepare_location_data,
    resolve_method,
)
from accessplan.optimize._mip import MipBuilder
from accessplan.optimize._solve import (
    LinearModel,
    SolveInfo,
    heuristic_outcome,
    seconds_left,
    solve_model,
    with_bound,
)
from accessplan.optimize.capacitated import capacitated_assignment_model
from accessplan.optimize.heuristics import mclp_heuristic
from accessplan.optimize.plan import Plan, build_plan, nearest_open
from accessplan.traveltimes import TravelTimes, keep_entries

__all__ = ["capacitated_mclp", "lscp", "mclp"]


def _cover_pairs(data: LocationData, standard: float, model: str) -> tuple[sp.csr_array, dict]:
    """Pairs within the standard, and the populations that reach no candidate / none within it."""
    check_standard(data.minutes, standard, model)
    within = keep_entries(data.minutes, data.minutes.data <= standard)
    w = data.weights
    unreachable = (np.diff(data.minutes.indptr) == 0) & (w > 0)
    uncoverable = (np.diff(within.indptr) == 0) & (w > 0)
    facts = {
        "standard": float(standard),
        "unreachable_population": float(w[unreachable].sum()),
        "uncoverable_population": float(w[uncoverable].sum()),
        "uncoverable": data.tt.origin_ids[np.flatnonzero(uncoverable)],
    }
    return within, facts


def coverable_population(data: LocationData, within: sp.csr_array) -> float:
    """Persons with a candidate within the standard: an upper bound of any plan's coverage."""
    return float(data.weights[np.diff(within.indptr) > 0].sum())


def _covered_by_fixed(within: sp.csr_array, fixed: np.ndarray) -> np.ndarray:
    """Boolean per origin: a site that stays open lies within the standard."""
    is_fixed = np.zeros(within.shape[1], dtype=bool)
    is_fixed[fixed] = True
    rows = np.repeat(np.arange(within.shape[0]), np.diff(within.indptr))
    return np.bincount(rows, weights=is_fixed[within.indices], minlength=within.shape[0]) > 0


def _coverage_plan(
    model: str,
    data: LocationData,
    within: sp.csr_array,
    open_mask: np.ndarray,
    objective: float | None,
    info: SolveInfo,
    sense: str,
    gap: float | None,
    details: dict,
    t0: float,
) -> Plan:
    rows, cols, mins = nearest_open(within, open_mask)
    w = data.weights
    covered = float(w[rows].sum())
    covered_mask = np.zeros(len(w), dtype=bool)
    covered_mask[rows] = True
    left = np.flatnonzero(~covered_mask & (w > 0))
    value = covered if objective is None else objective
    return build_plan(
        model,
        data,
        open_mask,
        rows,
        cols,
        np.ones(rows.size),
        mins,
        objective=value,
        info=info,
        sense=sense,
        gap=gap,
        covered_population=covered,
        uncovered_rows=left,
        details=details,
        seconds=time.perf_counter() - t0,
    )


def mclp(
    tt: TravelTimes,
    demand: pd.Series | float,
    p: int,
    standard: float,
    *,
    candidates: pd.DataFrame | None = None,
    existing: pd.DataFrame | Iterable[Hashable] = (),
    closable: Iterable[Hashable] = (),
    solver: str | pulp.LpSolver = "highs",
    time_limit: float | None = None,
    gap: float | None = None,
    method: str = "auto",
    seed: int = 0,
    msg: bool = False,
) -> Plan:
    r"""Maximal covering location problem: open ``p`` sites that cover the most persons.

    Church & ReVelle (1974).

    **Sets** — :math:`I` origins with persons; :math:`J` candidates; :math:`E` existing sites
    (open unless closable); :math:`N_i = \{j : d_{ij} \le S\}` candidates within the standard
    of :math:`i` (stored travel times only).

    **Parameters** — :math:`w_i` persons; :math:`d_{ij}` minutes; :math:`S` standard
    (minutes); :math:`p` sites to add.

    **Decision variables** — :math:`y_j \in \{0,1\}` site open; :math:`z_i \in [0,1]` origin
    covered (integral at the optimum once :math:`y` is).

    **Objective** — :math:`\max \sum_{i\in I} w_i z_i`.

    **Constraints**

    .. math:: z_i \le \sum_{j\in N_i} y_j \ \forall i, \qquad \sum_j y_j = |E| + p, \qquad
              y_j = 1 \ (j \in E \setminus \text{closable}).

    Origins with an empty :math:`N_i` cannot be covered by any candidate: they are left out of
    the model and listed in ``Plan.uncovered`` (``details["uncoverable_population"]``).
    Origins already covered by a site that stays open are counted as covered up front.

    Parameters
    ----------
    tt, demand, p, candidates, existing, closable, solver, time_limit, gap, method, seed
        As in :func:`accessplan.optimize.p_median` (``method="heuristic"`` runs greedy +
        vertex substitution with a Lagrangian bound).
    standard
        Service standard S in minutes (covered when the travel time is ``<= S``).

    Returns
    -------
    Plan
        ``objective`` and ``covered_population`` in persons; ``uncovered`` lists origins not
        within ``standard`` of an open site.

    Raises
    ------
    InfeasibleError
        When no candidate lies within ``standard`` of any origin.

    References
    ----------
    Church, R. & ReVelle, C. (1974). The maximal covering location problem. Papers of the
    Regional Science Association 32, 101–118.
    """
    t0 = time.perf_counter()
    tt.check_threshold(standard, "standard")
    data = prepare_location_data(
        tt, demand, candidates=candidates, existing=existing, closable=closable, p=p
    )
    deadline = None if time_limit is None else t0 + check_time_limit(time_limit)
    within, facts = _cover_pairs(data, standard, "mclp")
    chosen = resolve_method(method, within.nnz, "mclp")
    details = {"p": p, **facts, "method": chosen}
    if chosen == "exact":
        model = _mclp_model(data, within)
        try:
            info, x = solve_model(
                model, solver, time_limit=seconds_left(deadline), gap=gap, msg=msg
            )
        except SolverError:
            if time_limit is None:
                raise
            details["fallback"] = "the exact solver found no plan within the time limit"
            chosen = "heuristic"
        else:
            open_mask = x[: data.n_candidates] > 0.5
            info = with_bound(info, coverable_population(data, within), "max")
            return _coverage_plan(
                "mclp", data, within, open_mask, None, info, "max", gap, details, t0
            )
    cover = sp.csr_array(
        (np.ones(within.nnz, dtype=bool), within.indices, within.indptr), shape=within.shape
    )
    result = mclp_heuristic(
        cover,
        data.weights,
        data.p_total,
        fixed=tuple(int(j) for j in data.fixed),
        time_limit=seconds_left(deadline),
        seed=seed,
    )
    open_mask, info = heuristic_outcome(result, data.n_candidates)
    details["method"] = "heuristic"
    return _coverage_plan("mclp", data, within, open_mask, None, info, "max", gap, details, t0)


def _mclp_model(data: LocationData, within: sp.csr_array) -> LinearModel:
    """Columns ``y`` (candidates) then ``z`` (origins to cover); rows ``z_i - sum y <= 0``."""
    w = data.weights
    m = data.n_candidates
    done = _covered_by_fixed(within, data.fixed)
    open_rows = np.flatnonzero((np.diff(within.indptr) > 0) & (w > 0) & ~done)
    sub = within[open_rows]
    n_z = open_rows.size
    rows = np.repeat(np.arange(n_z), np.diff(sub.indptr))
    col_lower = np.zeros(m)
    col_lower[data.fixed] = 1.0
    b = MipBuilder()
    y = b.add_columns(m, col_lower, 1.0, integer=True)
    z = b.add_columns(n_z, 0.0, 1.0, cost=w[open_rows])
    # z_i - sum of the y_j within the standard of i <= 0
    b.add_rows(
        np.concatenate([np.arange(n_z), rows]),
        np.concatenate([z, y[sub.indices]]),
        np.concatenate([np.ones(n_z), -np.ones(sub.nnz)]),
        -np.inf,
        np.zeros(n_z),
    )
    b.add_rows(np.zeros(m), y, 1.0, data.p_total, data.p_total)  # count row
    return b.linear_model("mclp", "max", offset=float(w[done].sum()))


def lscp(
    tt: TravelTimes,
    demand: pd.Series | float,
    standard: float,
    *,
    candidates: pd.DataFrame | None = None,
    existing: pd.DataFrame | Iterable[Hashable] = (),
    closable: Iterable[Hashable] = (),
    minimize: str = "count",
    solver: str | pulp.LpSolver = "highs",
    time_limit: float | None = None,
    gap: float | None = None,
    msg: bool = False,
) -> Plan:
    r"""Location set covering: the fewest (or cheapest) sites that put everyone within S.

    Toregas, Swain, ReVelle & Bergman (1971).

    **Sets** — :math:`I` origins with persons that have at least one candidate within the
    standard; :math:`J` candidates; :math:`E` existing sites (open unless closable);
    :math:`N_i = \{j : d_{ij} \le S\}`.

    **Parameters** — :math:`c_j` = 1 (``minimize="count"``) or the candidate's ``cost``
    (``minimize="cost"``); sites that must stay open cost nothing in the objective.

    **Decision variables** — :math:`y_j \in \{0,1\}` site open.

    **Objective** — :math:`\min \sum_{j \in J \setminus E_{fixed}} c_j y_j`.

    **Constraints** — :math:`\sum_{j\in N_i} y_j \ge 1 \ \forall i \in I`;
    :math:`y_j = 1 \ (j \in E \setminus \text{closable})`.

    Origins that no candidate covers (empty :math:`N_i`) cannot satisfy the constraint: they are
    excluded from it, never silently — they are listed in ``Plan.uncovered`` and their persons
    in ``details["uncoverable_population"]``. Origins with zero persons impose nothing.

    Parameters
    ----------
    standard
        Service standard S in minutes.
    minimize
        ``"count"`` (number of sites) or ``"cost"`` (sum of the candidates' ``cost``).
    tt, demand, candidates, existing, closable, solver, time_limit, gap
        As in :func:`accessplan.optimize.p_median`.

    Returns
    -------
    Plan
        ``objective``: number (or cost) of the sites opened beyond those that must stay open.

    Raises
    ------
    InfeasibleError
        When no origin can be covered by any candidate within ``standard``.

    References
    ----------
    Toregas, C., Swain, R., ReVelle, C. & Bergman, L. (1971). The location of emergency service
    facilities. Operations Research 19(6), 1363–1373.
    """
    t0 = time.perf_counter()
    tt.check_threshold(standard, "standard")
    if minimize not in ("count", "cost"):
        raise InputError(f"lscp: minimize must be 'count' or 'cost', got {minimize!r}.")
    data = prepare_location_data(
        tt, demand, candidates=candidates, existing=existing, closable=closable
    )
    deadline = None if time_limit is None else t0 + check_time_limit(time_limit)
    within, facts = _cover_pairs(data, standard, "lscp")
    w = data.weights
    m = data.n_candidates
    done = _covered_by_fixed(within, data.fixed)
    need = np.flatnonzero((np.diff(within.indptr) > 0) & (w > 0) & ~done)
    sub = within[need]
    rows = np.repeat(np.arange(need.size), np.diff(sub.indptr))
    cost = np.ones(m) if minimize == "count" else data.candidates["cost"].to_numpy().copy()
    cost[data.fixed] = 0.0
    col_lower = np.zeros(m)
    col_lower[data.fixed] = 1.0
    b = MipBuilder()
    y = b.add_columns(m, col_lower, 1.0, integer=True, cost=cost)
    b.add_rows(rows, y[sub.indices], 1.0, np.ones(need.size), np.inf)  # every origin covered
    # every candidate open covers everything coverable
    model = b.linear_model("lscp", "min", start=np.ones(m))
    info, x = solve_model(model, solver, time_limit=seconds_left(deadline), gap=gap, msg=msg)
    info = with_bound(info, 0.0, "min")  # nothing costs less than no new site
    open_mask = x[:m] > 0.5
    objective = float(cost[open_mask].sum())
    details = {**facts, "minimize": minimize, "method": "exact"}
    return _coverage_plan("lscp", data, within, open_mask, objective, info, "min", gap, details, t0)


def capacitated_mclp(
    tt: TravelTimes,
    demand: pd.Series | float,
    p: int,
    standard: float,
    *,
    candidates: pd.DataFrame,
    existing: pd.DataFrame | Iterable[Hashable] = (),
    closable: Iterable[Hashable] = (),
    solver: str | pulp.LpSolver = "highs",
    time_limit: float | None = None,
    gap: float | None = None,
    msg: bool = False,
) -> Plan:
    r"""Capacitated MCLP: cover the most persons when each site serves at most its capacity.

    Current & Storbeck (1988); Pirkul & Schilling (1991). Demand may be split between sites.

    **Sets** — as in :func:`mclp`, with :math:`N_i = \{j : d_{ij} \le S\}`.

    **Parameters** — :math:`w_i` persons; :math:`Q_j` capacity in persons (NaN = unlimited);
    :math:`S` standard (minutes); :math:`p` sites to add.

    **Decision variables** — :math:`y_j \in \{0,1\}`; :math:`x_{ij} \in [0,1]` share of
    :math:`i` covered by :math:`j`.

    **Objective** — :math:`\max \sum_i \sum_{j\in N_i} w_i x_{ij}`.

    **Constraints**

    .. math::
        \sum_{j\in N_i} x_{ij} \le 1, \qquad x_{ij} \le y_j, \qquad
        \sum_i w_i x_{ij} \le Q_j y_j, \qquad \sum_j y_j = |E| + p, \qquad
        y_j = 1 \ (j \in E \setminus \text{closable}).

    Parameters are those of :func:`mclp`; ``candidates`` must carry ``capacity`` (persons).

    Returns
    -------
    Plan
        ``objective`` = ``covered_population`` = persons covered within capacity; shares in
        ``assignment`` may be below 1; ``uncovered`` lists origins not fully covered.

    References
    ----------
    Current, J.R. & Storbeck, J.E. (1988). Capacitated covering models. Environment and Planning
    B 15(2), 153–163.
    Pirkul, H. & Schilling, D.A. (1991). The maximal covering location problem with capacities on
    total workload. Management Science 37(2), 233–248.
    """
    t0 = time.perf_counter()
    tt.check_threshold(standard, "standard")
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
    within, facts = _cover_pairs(data, standard, "capacitated_mclp")
    model, rows, cols, d = capacitated_assignment_model(data, within, None, objective="cover")
    try:
        info, x = solve_model(model, solver, time_limit=seconds_left(deadline), gap=gap, msg=msg)
    except InfeasibleError as exc:  # only the count row can fail
        raise InfeasibleError(f"capacitated_mclp: {exc}") from exc
    m = data.n_candidates
    open_mask = x[:m] > 0.5
    share = x[m : m + rows.size]
    used = share > 1e-9
    w = data.weights
    covered_share = np.bincount(rows[used], weights=share[used], minlength=len(w))
    covered = float((w * covered_share).sum())
    left = np.flatnonzero((w > 0) & (covered_share < 1 - 1e-6))
    details = {"p": p, **facts, "method": "exact"}
    return build_plan(
        "capacitated_mclp",
        data,
        open_mask,
        rows[used],
        cols[used],
        share[used],
        d[used],
        objective=covered,
        info=with_bound(info, coverable_population(data, within), "max"),
        sense="max",
        gap=gap,
        covered_population=covered,
        uncovered_rows=left,
        details=details,
        seconds=time.perf_counter() - t0,
    )
