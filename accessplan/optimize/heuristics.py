"""Scalable p-median and MCLP heuristics with proven Lagrangian bounds.

For instances too large for an exact MILP, a primal heuristic finds a good plan and a
Lagrangian relaxation proves how far from optimal it can be at most:

* **Greedy (add)** start: open, one at a time, the candidate that lowers the weighted cost the
  most (Kuehn & Hamburger 1963).
* **Vertex-substitution interchange** (Teitz & Bart 1968) in the "fast interchange" form of
  Whitaker (1983), evaluated for *all* swaps at once with the gain / loss / extra matrices of
  Resende & Werneck, "A fast swap-based local search procedure for location problems", Annals
  of Operations Research 150 (2007) 205–230. With each demand row's closest (``d1``) and
  second-closest (``d2``) open candidate, the profit of inserting ``f`` and removing ``g`` is::

      gain(f)     = Σ_i w_i · max(0, d1_i − c_if)
      loss(g)     = Σ_{i: φ1(i)=g} w_i · (d2_i − d1_i)
      extra(f, g) = Σ_{i: φ1(i)=g, c_if<d2_i} w_i · (d2_i − max(c_if, d1_i))
      profit(f, g) = gain(f) − loss(g) + extra(f, g)

  Every term is a sum over stored entries, so one pass over the sparse matrix (O(nnz)) scores
  every swap, and the best one is applied.
* **Lagrangian relaxation** of the assignment constraints with subgradient optimisation
  (Beasley, "Lagrangean heuristics for location problems", EJOR 65 (1993) 383–399): with
  multipliers ``λ_i = w_i μ_i``::

      L(μ) = Σ_i w_i μ_i + Σ_i w_i min(0, u − μ_i) + min_{|S|=p, S ⊇ fixed} Σ_{j∈S} ρ_j,
      ρ_j  = Σ_{i stored in column j} w_i · min(0, c_ij − μ_i)

  (the middle term only when an unserved cost ``u`` is given). ``L(μ)`` is a lower bound on
  the optimum for every ``μ``, so the bound reported is proven whatever the subgradient did.
  The relaxed solutions ``S`` seed further interchange runs (Beasley 1993).
* **MCLP** is solved as the p-median whose stored costs are 0 (covered) and whose unserved
  cost is 1 per person: its objective is the uncovered weight, and the Lagrangian lower bound
  on that is the upper bound on covered weight of Galvão & ReVelle, "A Lagrangean heuristic for
  the maximal covering location problem", EJOR 88 (1996) 114–123 (see also Galvão, Espejo &
  Boffey, EJOR 124 (2000) 377–389).

The inner loops (greedy, swap evaluation, closest / second-closest open option, the
Lagrangian subproblem and subgradient steps) run as compiled numba kernels over the row-sorted
CSR arrays (:mod:`accessplan.optimize._kernels`, ``nogil``, single-threaded): a row's entries
are sorted by cost, so each scan stops at the first entry at or above its threshold (the
multiplier ``μ_i``, the current cost, the second-closest open option). Vectorised numpy
versions of evaluation, swap profits and ``L(μ)`` are kept as the references the kernels are
tested against. The search is deterministic for a given seed when no time limit cuts it.
"""

from __future__ import annotations

import heapq
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import scipy.sparse as sp

from accessplan.errors import InfeasibleError, InputError
from accessplan.optimize._solve import relative_gap

__all__ = ["HeuristicResult", "mclp_heuristic", "p_median_heuristic"]

_MOVES_PER_CALL = 25  # interchange moves between deadline checks
_RESTARTS = 100  # perturbation restarts of the interchange before the Lagrangian phase
_RESTARTS_WITHOUT_GAIN = 30  # ... ending early after this many restarts without a better plan
_RESTART_SHARE = 0.15  # ... and within this share of the time limit
_MAX_SUBGRADIENT_ITERATIONS = 5000  # at the root node
_NODE_ITERATIONS = 80
_NODE_BETA = 1.0
_MAX_NODES = 400  # Lagrangian branch-and-bound nodes when no time limit is set
_ROOT_STALL = 100  # root: β halves after this many iterations without a better bound
_NODE_STALL = 20
_PRIMAL_EVERY = 10  # relaxed solutions tried as interchange starts: every 10th iteration
_PRIMAL_WINDOW = 0.10  # interchange from relaxed solutions within 10 % of the best plan


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


def _compiled() -> ModuleType:
    """The numba kernels, imported on first use so that importing the package stays quick."""
    from accessplan.optimize import _kernels

    return _kernels


# --------------------------------------------------------------------------- input checks
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


def _as_csr(matrix: object, what: str) -> sp.csr_array:
    """Stored entries of a sparse matrix, or the finite entries of a dense array, as CSR."""
    if sp.issparse(matrix):
        csr = sp.csr_array(matrix)
        if not csr.has_canonical_format:
            csr = csr.copy()
            csr.sort_indices()
            if not csr.has_canonical_format:
                raise InputError(f"{what} stores the same (row, column) pair twice; store it once.")
        return csr
    dense = np.asarray(matrix)
    if dense.ndim != 2:
        raise InputError(f"{what} must be a 2-D array (demand rows × candidates).")
    if dense.dtype == bool:
        mask = dense
    else:
        dense = dense.astype(np.float64, copy=False)
        mask = np.isfinite(dense)
    rows, cols = np.nonzero(mask)
    return sp.csr_array(
        (dense[rows, cols], cols.astype(np.int32), _indptr(rows, dense.shape[0])),
        shape=dense.shape,
    )


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(starts[i], ends[i])`` over i, vectorised."""
    lengths = ends - starts
    total = int(lengths.sum())
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return offsets + np.arange(total, dtype=np.int64)


def _sum_by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Float sums of ``values`` grouped by ``index`` (0..size-1), empty input included."""
    return np.bincount(index, values, size).astype(np.float64, copy=False)


def _indptr(rows: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n)))).astype(np.int64)


# --------------------------------------------------------------------------- the core problem
@dataclass
class _State:
    """Closest (d1, φ1) and second-closest (d2) open option per core row, and the cost."""

    d1: np.ndarray
    phi1: np.ndarray
    d2: np.ndarray
    objective: float
    prefix_end: np.ndarray  # per row: index of its second open entry (or the row's end)


class _Core:
    """Weighted p-median on row-sorted stored entries with an optional unserved option.

    Rows keep only entries with cost <= ``unserved`` (a dearer pair is never used), sorted by
    (cost, column) so the first open entry of a row is its closest open candidate, with a
    deterministic tie-break on the lower column.
    """

    def __init__(
        self,
        csr: sp.csr_array,
        w: np.ndarray,
        p: int,
        fixed: np.ndarray,
        unserved: float | None,
    ) -> None:
        n, m = csr.shape
        indptr = csr.indptr.astype(np.int64)
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        cols = csr.indices.astype(np.int64)
        data = csr.data.astype(np.float64)
        keep = w[rows] > 0
        if unserved is not None:
            keep &= data <= unserved
        rows, cols, data = rows[keep], cols[keep], data[keep]
        order = np.lexsort((cols, data, rows))
        rows, cols, data = rows[order], cols[order], data[order]
        self.m = m
        self.p = p
        self.fixed = fixed
        self.unserved = unserved
        # rows that carry weight: those with entries, or (given an unserved cost) all of them
        has_entry = np.zeros(n, dtype=bool)
        has_entry[rows] = True
        active = (w > 0) & (has_entry | (unserved is not None))
        self.row_ids = np.flatnonzero(active)
        new_id = np.full(n, -1, dtype=np.int64)
        new_id[self.row_ids] = np.arange(self.row_ids.size)
        self.rows = new_id[rows].astype(np.int32)
        self.cols = cols.astype(np.int32)
        self.data = data
        self.n = self.row_ids.size
        self.w = w[self.row_ids]
        self.indptr = _indptr(self.rows, self.n)
        self._by_column: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        max_c = float(data.max()) if data.size else 0.0
        if unserved is not None:
            self.none_cost = float(unserved)
        else:  # a penalty so large that leaving a reachable row unserved never pays
            w_min = float(self.w.min()) if self.n else 1.0
            self.none_cost = (max_c + 1.0) * (1.0 + float(self.w.sum()) / w_min)
        self.integral = bool(
            np.all(data == np.round(data))
            and np.all(self.w == np.round(self.w))
            and (unserved is None or float(unserved).is_integer())
        )
        self.iterations = 0

    def by_column(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stored entries grouped by candidate: (column pointers, rows, costs)."""
        if self._by_column is None:
            order = np.argsort(self.cols, kind="stable")
            col_ptr = np.concatenate(([0], np.cumsum(np.bincount(self.cols, minlength=self.m))))
            self._by_column = (col_ptr.astype(np.int64), self.rows[order], self.data[order])
        return self._by_column

    # ----------------------------------------------------------------- evaluation
    def evaluate(self, is_open: np.ndarray) -> _State:
        """Closest and second-closest open option of every row (compiled row scans)."""
        d1, d2 = np.empty(self.n), np.empty(self.n)
        phi1, prefix_end = np.empty(self.n, dtype=np.int64), np.empty(self.n, dtype=np.int64)
        objective = _compiled().closest_two(
            self.indptr,
            self.cols,
            self.data,
            self.w,
            is_open,
            self.none_cost,
            d1,
            phi1,
            d2,
            prefix_end,
        )
        return _State(d1, phi1, d2, objective, prefix_end)

    def evaluate_vectorised(self, is_open: np.ndarray) -> _State:
        """:meth:`evaluate` in vectorised numpy, O(nnz): the reference for the kernel."""
        op = is_open[self.cols]
        cs = np.concatenate(([0], np.cumsum(op, dtype=np.int64)))
        rank = cs[1:] - cs[self.indptr[:-1]][self.rows]
        first = np.flatnonzero(op & (rank == 1))
        second = np.flatnonzero(op & (rank == 2))
        d1 = np.full(self.n, self.none_cost)
        phi1 = np.full(self.n, -1, dtype=np.int64)
        d2 = np.full(self.n, self.none_cost)
        d1[self.rows[first]] = self.data[first]
        phi1[self.rows[first]] = self.cols[first]
        d2[self.rows[second]] = self.data[second]
        prefix_end = self.indptr[1:].copy()
        prefix_end[self.rows[second]] = second
        return _State(d1, phi1, d2, float(self.w @ d1), prefix_end)

    def prefix_entries(self, st: _State) -> np.ndarray:
        """Indices of every row's entries before its second open one (cost < d2 and ties)."""
        return _ranges(self.indptr[:-1], st.prefix_end)

    def open_mask(self, positions: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.m, dtype=bool)
        mask[positions] = True
        return mask

    # ----------------------------------------------------------------- greedy
    def greedy(self) -> np.ndarray:
        """Greedy add from the fixed candidates until p are open."""
        is_open = self.open_mask(self.fixed)
        _compiled().greedy_add(
            self.indptr, self.cols, self.data, self.w, is_open, self.none_cost, self.p
        )
        return is_open

    # ----------------------------------------------------------------- interchange
    def swap_profits(self, is_open: np.ndarray, st: _State) -> tuple[np.ndarray, np.ndarray]:
        """Profit of every (insert f, remove g) swap (Resende & Werneck 2007), and g's list.

        Vectorised numpy over the stored entries: the reference for the compiled
        :func:`accessplan.optimize._kernels.swap_profits` used by :meth:`local_search`.
        """
        removable = is_open.copy()
        removable[self.fixed] = False
        out_list = np.flatnonzero(removable)
        idx = self.prefix_entries(st)  # only entries cheaper than d2 can change a row's cost
        rows, cols, data, w_e = (
            self.rows[idx],
            self.cols[idx],
            self.data[idx],
            self.w[self.rows[idx]],
        )
        d1e = st.d1[rows]
        better = np.flatnonzero(data < d1e)
        gain = _sum_by(cols[better], (d1e[better] - data[better]) * w_e[better], self.m)
        served = st.phi1 >= 0
        loss = _sum_by(st.phi1[served], self.w[served] * (st.d2 - st.d1)[served], self.m)
        pos = np.full(self.m + 1, -1, dtype=np.int64)  # last slot: the unserved option
        pos[out_list] = np.arange(out_list.size)
        k = out_list.size
        d2e = st.d2[rows]
        g_of_entry = pos[st.phi1[rows]]
        sel = np.flatnonzero((data < d2e) & (g_of_entry >= 0) & ~is_open[cols])
        amount = w_e[sel] * (d2e[sel] - np.maximum(data[sel], d1e[sel]))
        extra = _sum_by(
            cols[sel].astype(np.int64) * k + g_of_entry[sel], amount, self.m * k
        ).reshape(self.m, k)
        profit = gain[:, None] - loss[out_list][None, :] + extra
        profit[is_open, :] = -np.inf
        return profit, out_list

    def local_search(
        self, is_open: np.ndarray, deadline: float, st: _State | None = None
    ) -> tuple[np.ndarray, _State]:
        """Best-improvement swaps until no swap lowers the cost (or the deadline passes)."""
        is_open = is_open.copy()
        removable = np.ones(self.m, dtype=bool)
        removable[self.fixed] = False
        d1, d2 = np.empty(self.n), np.empty(self.n)
        phi1, prefix_end = np.empty(self.n, dtype=np.int64), np.empty(self.n, dtype=np.int64)
        while True:
            objective, moves, done = _compiled().interchange(
                self.indptr,
                self.cols,
                self.data,
                self.w,
                is_open,
                removable,
                self.none_cost,
                _MOVES_PER_CALL,
                d1,
                phi1,
                d2,
                prefix_end,
            )
            self.iterations += moves
            if done or time.perf_counter() >= deadline:
                return is_open, _State(d1, phi1, d2, objective, prefix_end)

    # ----------------------------------------------------------------- Lagrangian
    def trivial_bound(self) -> float:
        """Σ_i w_i · (cheapest option of row i): a lower bound for any p."""
        st = self.evaluate(np.ones(self.m, dtype=bool))
        return st.objective

    def round_bound(self, bound: float) -> float:
        """Integral data: the optimum is an integer, so the bound rounds up."""
        if self.integral and math.isfinite(bound):
            return float(math.ceil(bound - 1e-9 * max(1.0, abs(bound))))
        return bound


@dataclass(frozen=True)
class _Closing:
    """When the gap is small enough to stop: ``objective − bound <= tol · |sign·objective +
    offset|`` (p-median: the full objective; MCLP: the covered weight)."""

    tolerance: float
    sign: float
    offset: float

    def threshold(self, objective: float) -> float:
        """The least bound that closes the gap of ``objective``."""
        scale = max(abs(self.sign * objective + self.offset), 1e-9)
        return objective - self.tolerance * scale

    def __call__(self, objective: float, bound: float) -> bool:
        return bound >= self.threshold(objective)


@dataclass
class _Search:
    """Best plan and bound found so far."""

    is_open: np.ndarray
    state: _State
    bound: float


def _solve_core(
    core: _Core,
    deadline: float,
    rng: np.random.Generator,
    closed: _Closing,
) -> _Search:
    """Greedy + interchange, perturbation restarts, then Lagrangian branch and bound.

    ``closed(objective, bound)`` says when the gap is small enough to stop.
    """
    t0 = time.perf_counter()
    is_open, st = core.local_search(core.greedy(), deadline)
    best = _Search(is_open, st, max(0.0, core.round_bound(core.trivial_bound())))
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
        since_gain = 0 if _restart(core, best, rng, deadline) else since_gain + 1
    max_nodes = _MAX_NODES if math.isinf(deadline) else sys.maxsize  # a time limit bounds it
    _branch_and_bound(core, best, deadline, closed, max_nodes, rng)
    return best


def _restart(core: _Core, best: _Search, rng: np.random.Generator, deadline: float) -> bool:
    """One perturbation restart of the interchange from the best plan; True if it improved."""
    if core.p == core.fixed.size or core.m == core.p:
        return False
    trial = _perturb(core, best.is_open, rng)
    trial, trial_st = core.local_search(trial, deadline)
    if trial_st.objective < best.state.objective:
        best.is_open, best.state = trial, trial_st
        return True
    return False


def _perturb(core: _Core, is_open: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Swap a random fifth (at least one) of the removable open candidates for closed ones."""
    removable = is_open.copy()
    removable[core.fixed] = False
    out_pool = np.flatnonzero(removable)
    in_pool = np.flatnonzero(~is_open)
    r = max(1, min(out_pool.size, in_pool.size, out_pool.size // 5))
    trial = is_open.copy()
    trial[rng.choice(out_pool, size=r, replace=False)] = False
    trial[rng.choice(in_pool, size=r, replace=False)] = True
    return trial


class _Relaxation:
    """Lagrangian relaxation of the assignment constraints, with per-row multiplier caps.

    Multipliers stay within ``[0, cap_i]``; ``L(μ)`` is a valid lower bound for every ``μ``,
    so the caps only steer the ascent. Candidates in ``shut`` (closed at a node) never enter
    the relaxed open set and their pairs are ignored.
    """

    def __init__(self, core: _Core, cap: np.ndarray, shut: np.ndarray | None = None) -> None:
        self.core = core
        self.cap = cap
        self.shut = np.zeros(core.m, dtype=bool) if shut is None else shut

    def without(self, shut: np.ndarray) -> _Relaxation:
        """The same relaxation without the pairs of the candidates in ``shut``."""
        return _Relaxation(self.core, self.cap, shut)

    def value(
        self, mu: np.ndarray, forced_open: np.ndarray, free: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """``L(μ)``, the relaxed open set S, the subgradient of each row, and ``ρ``.

        Vectorised numpy: the reference for :func:`accessplan.optimize._kernels.lagrangian_step`.
        ``forced_open`` are always in S; the rest of S is the ``p − |forced_open|``
        candidates of smallest ``ρ`` among ``free`` (ties: lower position).
        """
        core = self.core
        keep = ~self.shut[core.cols]
        rows, cols = core.rows[keep], core.cols[keep]
        diff = core.data[keep] - mu[rows]
        neg = np.flatnonzero(diff < 0)
        rho = _sum_by(cols[neg], core.w[rows[neg]] * diff[neg], core.m)
        free_idx = np.flatnonzero(free)
        k = core.p - int(forced_open.sum())
        chosen = free_idx[np.argsort(rho[free_idx], kind="stable")[:k]]
        is_open = forced_open.copy()
        is_open[chosen] = True
        value = float(core.w @ mu) + float(rho[is_open].sum())
        assigned = neg[is_open[cols[neg]]]
        count = np.bincount(rows[assigned], minlength=core.n).astype(np.float64)
        if core.unserved is not None:
            below = mu > core.unserved
            value += float(core.w[below] @ (core.unserved - mu[below]))
            count += below
        return value, is_open, 1.0 - count, rho


@dataclass
class _Node:
    """A branch of the search: candidates forced open / closed, and its proven bound."""

    bound: float
    forced_open: np.ndarray
    forced_closed: np.ndarray
    mu: np.ndarray
    depth: int


@dataclass
class _Ascent:
    """Outcome of a subgradient ascent at one node."""

    bound: float
    mu: np.ndarray
    is_open: np.ndarray
    rho: np.ndarray


def _ascend(
    relax: _Relaxation,
    node: _Node,
    best: _Search,
    deadline: float,
    closed: _Closing,
    *,
    iterations: int,
    beta: float,
    stall_limit: int,
    try_primal: Callable[[np.ndarray], None],
) -> _Ascent:
    """Subgradient optimisation of ``L(μ)`` at a node (Beasley 1993), Polyak steps.

    The step is ``β (UB − L) / Σ_i w_i g_i²`` along ``g`` in per-person multipliers
    ``μ = λ / w``; β halves after ``stall_limit`` iterations without a better bound. The
    iterations run compiled, :data:`_PRIMAL_EVERY` at a time; the relaxed solution after each
    batch is handed to ``try_primal`` to seed the interchange.
    """
    core = relax.core
    free_idx = np.flatnonzero(~(node.forced_open | node.forced_closed))
    k = core.p - int(node.forced_open.sum())
    mu = np.minimum(node.mu, relax.cap)
    best_mu, best_rho = mu.copy(), np.zeros(core.m)
    best_open, last_open = node.forced_open.copy(), node.forced_open.copy()
    unserved = -1.0 if core.unserved is None else core.unserved
    bound, stall, done = -np.inf, 0, 0
    while done < iterations and time.perf_counter() < deadline:
        batch = min(_PRIMAL_EVERY, iterations - done)
        upper = best.state.objective
        bound, beta, stall, ran = _compiled().subgradient_ascent(
            core.indptr, core.cols, core.data, *core.by_column(), core.w, mu, relax.cap, relax.shut,
            node.forced_open, free_idx, k, unserved, upper, closed.threshold(upper), batch,
            beta, stall, stall_limit, bound, best_mu, best_open, best_rho, last_open,
        )  # fmt: skip
        done += ran
        core.iterations += ran
        try_primal(last_open)
        if ran < batch or closed(best.state.objective, core.round_bound(bound)):
            break
    try_primal(best_open)
    return _Ascent(bound, best_mu, best_open, best_rho)


def _initial_multipliers(core: _Core, st: _State) -> tuple[np.ndarray, np.ndarray, float]:
    """Multipliers to start the ascent from, their caps, and a first proven bound.

    The ascent starts at each row's second-closest cost in the best plan (nearer the dual
    optimum of a p-median than the closest cost) and μ is capped at the row's dearest
    option. The bound is the larger ``L(μ)`` at the closest and the second-closest costs:
    at the closest costs ``L`` often proves an optimal MCLP plan at once.
    """
    row_max = np.full(core.n, core.none_cost)
    has = np.diff(core.indptr) > 0
    row_max[has] = np.maximum.reduceat(core.data, core.indptr[:-1][has])
    if core.unserved is not None:
        row_max = np.maximum(row_max, core.unserved)
    forced = core.open_mask(core.fixed)
    free_idx = np.flatnonzero(~forced)
    shut = np.zeros(core.m, dtype=bool)
    rho, is_open, g = np.empty(core.m), np.empty(core.m, dtype=bool), np.empty(core.n)
    unserved = -1.0 if core.unserved is None else core.unserved
    starts = [np.minimum(st.d2, row_max), np.minimum(st.d1, row_max)]
    arrays = (core.indptr, core.cols, core.data, *core.by_column(), core.w)
    k = core.p - core.fixed.size
    step = _compiled().lagrangian_step
    values = [
        step(*arrays, mu, shut, forced, free_idx, k, unserved, rho, is_open, g) for mu in starts
    ]
    return starts[0], np.nextafter(row_max, np.inf), max(values)


def _branch_and_bound(
    core: _Core,
    best: _Search,
    deadline: float,
    closed: _Closing,
    max_nodes: int,
    rng: np.random.Generator,
) -> None:
    """Lagrangian branch and bound on the open/closed decisions (Beasley 1993).

    Each node maximises ``L(μ)`` by subgradient ascent, warm-started from its parent; the
    penalty tests ``L + ρ_j − ρ_out`` (forcing j open) and ``L − ρ_j + ρ_in`` (forcing it
    closed) fix candidates whose other choice cannot beat the best plan; the remaining nodes
    branch on the open free candidate of most negative ``ρ``, best bound first. ``best.bound``
    ends as the smallest bound over the nodes not yet closed (a proven lower bound). Each
    node that branches is followed by one perturbation restart of the interchange, so the
    plan keeps improving where the tree is too large to close.
    """
    mu, cap, first_bound = _initial_multipliers(core, best.state)
    best.bound = max(best.bound, core.round_bound(first_bound))
    if closed(best.state.objective, best.bound):
        return
    relax = _Relaxation(core, cap)
    seen: set[bytes] = set()

    def try_primal(is_open: np.ndarray) -> None:
        key = np.packbits(is_open).tobytes()
        if key in seen:
            return
        seen.add(key)
        if np.count_nonzero(is_open & ~best.is_open) < 2:
            return  # one swap from the best plan, which is already swap-optimal
        start = core.evaluate(is_open)
        if start.objective > (1.0 + _PRIMAL_WINDOW) * best.state.objective:
            return
        cand, cand_st = core.local_search(is_open, deadline, start)
        if cand_st.objective < best.state.objective:
            best.is_open, best.state = cand, cand_st

    fixed_mask = core.open_mask(core.fixed)
    root = _Node(-np.inf, fixed_mask, np.zeros(core.m, dtype=bool), mu, 0)
    heap: list[tuple[float, int, _Node]] = [(-np.inf, 0, root)]
    sequence = 0
    settled = np.inf  # smallest bound among the branches already closed
    counter = 0
    while heap and counter < max_nodes and time.perf_counter() < deadline:
        _, _, node = heapq.heappop(heap)
        counter += 1
        if closed(best.state.objective, node.bound):
            settled = min(settled, node.bound)
            continue
        first = counter == 1
        local = relax.without(node.forced_closed) if node.forced_closed.any() else relax
        asc = _ascend(
            local,
            node,
            best,
            deadline,
            closed,
            iterations=_MAX_SUBGRADIENT_ITERATIONS if first else _NODE_ITERATIONS,
            beta=2.0 if first else _NODE_BETA,
            stall_limit=_ROOT_STALL if first else _NODE_STALL,
            try_primal=try_primal,
        )
        bound = max(node.bound, core.round_bound(asc.bound))
        if closed(best.state.objective, bound):
            settled = min(settled, bound)
            continue
        children, fixed_bound = _children(core, node, asc, bound, best, closed)
        settled = min(settled, fixed_bound)
        for child in children:
            sequence += 1
            heapq.heappush(heap, (child.bound, sequence, child))
        if children and time.perf_counter() < deadline:
            _restart(core, best, rng, deadline)
    open_bounds = [b for b, _, _ in heap]
    best.bound = max(best.bound, min([settled, *open_bounds, best.state.objective]))


def _children(
    core: _Core,
    node: _Node,
    asc: _Ascent,
    bound: float,
    best: _Search,
    closed: _Closing,
) -> tuple[list[_Node], float]:
    """Penalty tests, then the two branches of the node; and the least bound fixed away."""
    forced_open, forced_closed = node.forced_open.copy(), node.forced_closed.copy()
    free = ~(forced_open | forced_closed)
    chosen_free = np.flatnonzero(asc.is_open & free)
    other_free = np.flatnonzero(~asc.is_open & free)
    rho = asc.rho
    settled = np.inf
    if chosen_free.size and other_free.size:
        worst_in = rho[chosen_free].max()
        best_out = rho[other_free].min()
        open_alt = asc.bound + rho[other_free] - worst_in  # bound if j is forced open
        shut = np.array([closed(best.state.objective, core.round_bound(v)) for v in open_alt])
        if shut.any():
            settled = min(settled, float(core.round_bound(open_alt[shut].min())))
            forced_closed[other_free[shut]] = True
        close_alt = asc.bound - rho[chosen_free] + best_out  # bound if j is forced closed
        keep = np.array([closed(best.state.objective, core.round_bound(v)) for v in close_alt])
        if keep.any():
            settled = min(settled, float(core.round_bound(close_alt[keep].min())))
            forced_open[chosen_free[keep]] = True
    n_open = int(forced_open.sum())
    free = ~(forced_open | forced_closed)
    if n_open > core.p or n_open + int(free.sum()) < core.p:
        return [], settled  # no plan of p sites left in this branch
    if n_open == core.p or n_open + int(free.sum()) == core.p:
        leaf = forced_open | (free if n_open < core.p else False)
        st = core.evaluate(leaf)
        if st.objective < best.state.objective:
            best.is_open, best.state = leaf, st
        return [], min(settled, st.objective)
    branch_pool = np.flatnonzero(asc.is_open & free)
    if branch_pool.size == 0:
        branch_pool = np.flatnonzero(free)
    j = int(branch_pool[np.argmin(rho[branch_pool])])
    with_j, without_j = forced_open.copy(), forced_closed.copy()
    with_j[j] = True
    without_j[j] = True
    return [
        _Node(bound, with_j, forced_closed, asc.mu, node.depth + 1),
        _Node(bound, forced_open, without_j, asc.mu, node.depth + 1),
    ], settled


def _finish(
    core: _Core,
    full_csr: sp.csr_array,
    search: _Search,
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


# --------------------------------------------------------------------------- public API
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
    csr = _as_csr(cost, "cost")
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
    core = _Core(csr, w, p, fixed_pos, unserved_cost)
    # rows outside the core with weight: no entry at all (charged unserved_cost if given)
    outside = 0.0
    if unserved_cost is not None:
        in_core = np.zeros(n, dtype=bool)
        in_core[core.row_ids] = True
        outside = float(w[~in_core].sum()) * unserved_cost

    closed = _Closing(gap_tolerance, 1.0, outside)

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
    csr = _as_csr(cover, "cover")
    n, m = csr.shape
    covered_pairs = csr.data.astype(bool)
    zero_cost = sp.csr_array(
        (
            np.zeros(int(covered_pairs.sum())),
            csr.indices[covered_pairs],
            _indptr(np.repeat(np.arange(n), np.diff(csr.indptr))[covered_pairs], n),
        ),
        shape=(n, m),
    )
    w = _check_weights(weights, n)
    fixed_pos = _positions(fixed, m, "fixed")
    p = _check_p(p, m, fixed_pos.size)
    total = float(w.sum())
    core = _Core(zero_cost, w, p, fixed_pos, 1.0)

    closed = _Closing(gap_tolerance, -1.0, total)

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
