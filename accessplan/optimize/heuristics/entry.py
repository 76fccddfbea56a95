"""Public entry points of the heuristics: :func:`p_median_heuristic` and :func:`mclp_heuristic`."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from accessplan.errors import InfeasibleError, InputError
from accessplan.optimize._solve import relative_gap
from accessplan.optimize.heuristics.core import Closing, Core, Search, as_csr, restart, row_pointers
from accessplan.optimize.heuristics.lagrangian import branch_and_bound

_RESTARTS = 100  # perturbation restarts of the interchange before the Lagrangian phase
_RESTARTS_WITHOUT_GAIN = 30  # ... ending early after this many restarts without a better plan
_RESTART_SHARE = 0.15  # ... and within this share of the time limit
_MAX_NODES = 400  # Lagrangian branch-and-bound nodes when no time limit is set


@dataclass
class HeuristicResult:
    """Best plan found by a heuristic, with a proven bound on the optimum.

    Attributes
    ----------
    open
        Positions (columns of the cost or cover matrix) of the open candidates, sorted;
        fixed candidates included.
    objective
        p-median: population-weighted cost ``Σ_i w_i · min_open c_ij`` (person-minutes when
        costs are minutes and weights persons), plus ``unserved_cost · w_i`` for rows no open
        candidate reaches. MCLP: covered weight (persons).
    bound
        Proven Lagrangian bound on the optimum: lower bound for p-median, upper bound for MCLP.
    gap
        ``|bound − objective| / max(|objective|, |bound|)`` (see
        :func:`accessplan.optimize._solve.relative_gap`).
    seconds
        Wall-clock seconds.
    iterations
        Interchange moves plus subgradient iterations performed.
    assignment
        Per demand row, the position of the serving (closest; MCLP: a covering) open
        candidate, or -1 when none serves it.
    """

    open: np.ndarray
    objective: float
    bound: float
    gap: float
    seconds: float
    iterations: int
    assignment: np.ndarray


def _positions(values: Sequence[int], m: int, what: str) -> np.ndarray:
    arr = np.asarray(list(values), dtype=np.int64) if len(values) else np.zeros(0, np.int64)
    if arr.ndim != 1:
        raise InputError(f"{what} must be a flat sequence of candidate positions.")
    bad = arr[(arr < 0) | (arr >= m)]
    if bad.size:
        raise InputError(
            f"{what} holds position {int(bad[0])}, outside the {m} candidates (0..{m - 1}); "
            "give column positions of the cost matrix."
        )
    if np.unique(arr).size != arr.size:
        raise InputError(f"{what} repeats a candidate; list each fixed candidate once.")
    return np.sort(arr)


def _check_weights(weights: np.ndarray, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size != n:
        raise InputError(
            f"weights has {w.size} values but the matrix has {n} demand rows; give one weight "
            "(persons) per row."
        )
    if not np.all(np.isfinite(w)):
        row = int(np.flatnonzero(~np.isfinite(w))[0])
        raise InputError(f"weights row {row} is NaN or infinite; give a finite number of persons.")
    if w.size and w.min() < 0:
        row = int(np.argmin(w))
        raise InputError(f"weights row {row} is negative ({w[row]}); persons must be >= 0.")
    return w


def _check_p(p: int, m: int, n_fixed: int) -> int:
    if isinstance(p, bool) or int(p) != p:
        raise InputError(f"p must be a whole number of open sites, got {p!r}.")
    p = int(p)
    if p < 1 or p > m:
        raise InputError(f"p = {p} must lie between 1 and the number of candidates ({m}).")
    if p < n_fixed:
        raise InputError(
            f"p = {p} is smaller than the {n_fixed} fixed candidates; p counts every open "
            "site, fixed ones included."
        )
    return p


def _solve_core(
    core: Core,
    deadline: float,
    rng: np.random.Generator,
    closed: Closing,
) -> Search:
    """Greedy + interchange, perturbation restarts, then Lagrangian branch and bound.

    ``closed(objective, bound)`` says when the gap is small enough to stop.
    """
    t0 = time.perf_counter()
    is_open, st = core.local_search(core.greedy(), deadline)
    best = Search(is_open, st, max(0.0, core.round_bound(core.trivial_bound())))
    if core.n == 0 or closed(best.state.objective, best.bound):
        return best
    # restarts take at most a share of the time left, and stop once they stall
    restart_deadline = t0 + _RESTART_SHARE * (deadline - t0)
    restarts = since_gain = 0
    removable_count = core.p - core.fixed.size
    while (
        restarts < _RESTARTS
        and since_gain < _RESTARTS_WITHOUT_GAIN
        and time.perf_counter() < restart_deadline
        and removable_count > 0
        and core.m > core.p
        and time.perf_counter() < deadline
        and not closed(best.state.objective, best.bound)
    ):
        restarts += 1
        since_gain = 0 if restart(core, best, rng, deadline) else since_gain + 1
    max_nodes = _MAX_NODES if math.isinf(deadline) else sys.maxsize  # a time limit bounds it
    branch_and_bound(core, best, deadline, closed, max_nodes, rng)
    return best


def _finish(
    core: Core,
    full_csr: sp.csr_array,
    search: Search,
    n: int,
    unserved: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Open positions and the per-row assignment on the full matrix (all rows)."""
    open_pos = np.flatnonzero(search.is_open)
    indptr = full_csr.indptr.astype(np.int64)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    cols = full_csr.indices.astype(np.int64)
    data = full_csr.data.astype(np.float64)
    ok = search.is_open[cols]
    if unserved is not None:
        ok &= data <= unserved
    rows, cols, data = rows[ok], cols[ok], data[ok]
    order = np.lexsort((cols, data, rows))
    rows, cols = rows[order], cols[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    assignment = np.full(n, -1, dtype=np.int64)
    assignment[rows[first]] = cols[first]
    return open_pos, assignment


def _deadline(time_limit: float | None, t0: float) -> float:
    if time_limit is None:
        return math.inf
    if not time_limit > 0:
        raise InputError(f"time_limit must be a positive number of seconds, got {time_limit}.")
    return t0 + float(time_limit)


def p_median_heuristic(
    cost: sp.csr_array | np.ndarray,
    weights: np.ndarray,
    p: int,
    *,
    fixed: Sequence[int] = (),
    unserved_cost: float | None = None,
    time_limit: float | None = None,
    seed: int = 0,
    gap_tolerance: float = 1e-9,
) -> HeuristicResult:
    """p-median by greedy + fast interchange, with a proven Lagrangian lower bound.

    Minimises ``Σ_i w_i · min_{j open} c_ij`` over sets of ``p`` open candidates. Algorithms:
    greedy add, the fast swap-based interchange of Resende & Werneck (2007) (after Teitz & Bart
    1968 and Whitaker 1983), and Lagrangian relaxation of the assignment constraints with
    subgradient optimisation (Beasley 1993, EJOR 65), whose relaxed solutions seed further
    interchange runs; see the module docstring for the formulas.

    Parameters
    ----------
    cost
        Demand × candidate cost (minutes), a scipy sparse matrix whose STORED entries are the
        allowed pairs (a stored 0.0 is a 0-minute pair), or a dense array whose finite
        entries are allowed pairs (NaN/inf = not allowed).
    weights
        Persons per demand row (>= 0).
    p
        Number of open candidates, fixed ones included.
    fixed
        Candidate positions that stay open.
    unserved_cost
        Cost (minutes) charged per person of a row that no open candidate reaches. A row's
        cost is ``min(c_ij over open j, unserved_cost)``, so pairs dearer than it are never
        used. When None, every row with at least one stored entry must be served
        (:class:`InfeasibleError` if no plan found does so); rows with no stored entry are
        left out (cost 0, assignment -1) and the caller reports them.
    time_limit
        Seconds; the best plan found by then is returned with its gap. The greedy start
        always completes.
    seed
        Seed of the perturbation restarts; equal seeds give equal results (without a time
        limit).
    gap_tolerance
        Stop once the relative gap is at most this.

    Returns
    -------
    HeuristicResult
        ``objective`` in cost × weight units (person-minutes), ``bound`` a proven lower bound.

    Raises
    ------
    InputError
        Bad matrix, weights, p, fixed positions, negative costs or time limit.
    InfeasibleError
        ``unserved_cost`` is None and no plan found serves every reachable row.
    """
    t0 = time.perf_counter()
    deadline = _deadline(time_limit, t0)
    csr = as_csr(cost, "cost")
    n, m = csr.shape
    if csr.data.size and not np.all(np.isfinite(csr.data)):
        raise InputError("cost stores NaN or infinite entries; leave disallowed pairs unstored.")
    if csr.data.size and csr.data.min() < 0:
        raise InputError("cost holds negative entries; costs (minutes) must be >= 0.")
    w = _check_weights(weights, n)
    fixed_pos = _positions(fixed, m, "fixed")
    p = _check_p(p, m, fixed_pos.size)
    if unserved_cost is not None:
        unserved_cost = float(unserved_cost)
        if not (math.isfinite(unserved_cost) and unserved_cost >= 0):
            raise InputError(
                f"unserved_cost must be a finite cost >= 0 per person, got {unserved_cost}."
            )
    core = Core(csr, w, p, fixed_pos, unserved_cost)
    # rows outside the core with weight: no entry at all (charged unserved_cost if given)
    outside = 0.0
    if unserved_cost is not None:
        in_core = np.zeros(n, dtype=bool)
        in_core[core.row_ids] = True
        outside = float(w[~in_core].sum()) * unserved_cost

    closed = Closing(gap_tolerance, 1.0, outside)

    search = _solve_core(core, deadline, np.random.default_rng(seed), closed)
    if unserved_cost is None and np.any(search.state.phi1 < 0):
        unreached = core.row_ids[search.state.phi1 < 0]
        raise InfeasibleError(
            f"no plan with p = {p} open candidates was found that reaches every demand row; "
            f"{unreached.size} rows (first: row {int(unreached[0])}) stay unserved. Increase p, "
            "widen the travel-time cutoff, add candidates, or pass unserved_cost."
        )
    objective = search.state.objective + outside
    bound = min(search.bound, search.state.objective) + outside
    open_pos, assignment = _finish(core, csr, search, n, unserved_cost)
    return HeuristicResult(
        open=open_pos,
        objective=objective,
        bound=bound,
        gap=relative_gap(objective, bound),
        seconds=time.perf_counter() - t0,
        iterations=core.iterations,
        assignment=assignment,
    )


def mclp_heuristic(
    cover: sp.csr_array | np.ndarray,
    weights: np.ndarray,
    p: int,
    *,
    fixed: Sequence[int] = (),
    time_limit: float | None = None,
    seed: int = 0,
    gap_tolerance: float = 1e-9,
) -> HeuristicResult:
    """Maximal covering location by greedy + fast interchange, with a proven upper bound.

    Maximises the weight of demand rows covered by at least one of ``p`` open candidates
    (Church & ReVelle 1974). Solved as the p-median with cost 0 on covered pairs and 1 per
    person uncovered, by the same greedy + Resende–Werneck interchange; the Lagrangian
    relaxation of the coverage constraints ``z_i <= Σ_{j covers i} y_j`` (Galvão & ReVelle
    1996; Galvão, Espejo & Boffey 2000) gives the proven upper bound.

    Parameters
    ----------
    cover
        Boolean demand × candidate matrix, sparse (a stored True = the candidate covers the
        row within the standard) or dense.
    weights
        Persons per demand row (>= 0).
    p, fixed, time_limit, seed, gap_tolerance
        As in :func:`p_median_heuristic`.

    Returns
    -------
    HeuristicResult
        ``objective`` = covered weight (persons), ``bound`` a proven upper bound on it;
        ``assignment`` = a covering open candidate per row (the lowest position), or -1.
    """
    t0 = time.perf_counter()
    deadline = _deadline(time_limit, t0)
    csr = as_csr(cover, "cover")
    n, m = csr.shape
    covered_pairs = csr.data.astype(bool)
    zero_cost = sp.csr_array(
        (
            np.zeros(int(covered_pairs.sum())),
            csr.indices[covered_pairs],
            row_pointers(np.repeat(np.arange(n), np.diff(csr.indptr))[covered_pairs], n),
        ),
        shape=(n, m),
    )
    w = _check_weights(weights, n)
    fixed_pos = _positions(fixed, m, "fixed")
    p = _check_p(p, m, fixed_pos.size)
    total = float(w.sum())
    core = Core(zero_cost, w, p, fixed_pos, 1.0)

    closed = Closing(gap_tolerance, -1.0, total)

    search = _solve_core(core, deadline, np.random.default_rng(seed), closed)
    objective = total - search.state.objective
    bound = total - min(search.bound, search.state.objective)
    open_pos, assignment = _finish(core, zero_cost, search, n, 1.0)
    return HeuristicResult(
        open=open_pos,
        objective=objective,
        bound=bound,
        gap=relative_gap(objective, bound),
        seconds=time.perf_counter() - t0,
        iterations=core.iterations,
        assignment=assignment,
    )
