"""The weighted p-median on row-sorted stored entries: evaluation, greedy add, interchange.

The primal half of the heuristics (see :mod:`accessplan.optimize.heuristics`): the problem as
arrays (:class:`Core`), the compiled closest / second-closest evaluation, the greedy start, the
fast swap interchange and its perturbation restarts, and the record of the best plan and bound
(:class:`Search`) that the Lagrangian branch and bound
(:mod:`accessplan.optimize.heuristics.lagrangian`) improves.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import scipy.sparse as sp

from accessplan.errors import InputError

_MOVES_PER_CALL = 25  # interchange moves between deadline checks


def compiled() -> ModuleType:
    """The numba kernels, imported on first use so that importing the package stays quick."""
    from accessplan.optimize import _kernels

    return _kernels


def as_csr(matrix: object, what: str) -> sp.csr_array:
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
        (dense[rows, cols], cols.astype(np.int32), row_pointers(rows, dense.shape[0])),
        shape=dense.shape,
    )


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(starts[i], ends[i])`` over i, vectorised."""
    lengths = ends - starts
    total = int(lengths.sum())
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return offsets + np.arange(total, dtype=np.int64)


def sum_by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Float sums of ``values`` grouped by ``index`` (0..size-1), empty input included."""
    return np.bincount(index, values, size).astype(np.float64, copy=False)


def row_pointers(rows: np.ndarray, n: int) -> np.ndarray:
    """CSR row pointers (int64, length ``n + 1``) of entries whose rows are ``rows``, sorted."""
    return np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n)))).astype(np.int64)


@dataclass
class State:
    """Closest (d1, φ1) and second-closest (d2) open option per core row, and the cost."""

    d1: np.ndarray
    phi1: np.ndarray
    d2: np.ndarray
    objective: float
    prefix_end: np.ndarray  # per row: index of its second open entry (or the row's end)


class Core:
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
        self.indptr = row_pointers(self.rows, self.n)
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
    def evaluate(self, is_open: np.ndarray) -> State:
        """Closest and second-closest open option of every row (compiled row scans)."""
        d1, d2 = np.empty(self.n), np.empty(self.n)
        phi1, prefix_end = np.empty(self.n, dtype=np.int64), np.empty(self.n, dtype=np.int64)
        objective = compiled().closest_two(
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
        return State(d1, phi1, d2, objective, prefix_end)

    def evaluate_vectorised(self, is_open: np.ndarray) -> State:
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
        return State(d1, phi1, d2, float(self.w @ d1), prefix_end)

    def prefix_entries(self, st: State) -> np.ndarray:
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
        compiled().greedy_add(
            self.indptr, self.cols, self.data, self.w, is_open, self.none_cost, self.p
        )
        return is_open

    # ----------------------------------------------------------------- interchange
    def swap_profits(self, is_open: np.ndarray, st: State) -> tuple[np.ndarray, np.ndarray]:
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
        gain = sum_by(cols[better], (d1e[better] - data[better]) * w_e[better], self.m)
        served = st.phi1 >= 0
        loss = sum_by(st.phi1[served], self.w[served] * (st.d2 - st.d1)[served], self.m)
        pos = np.full(self.m + 1, -1, dtype=np.int64)  # last slot: the unserved option
        pos[out_list] = np.arange(out_list.size)
        k = out_list.size
        d2e = st.d2[rows]
        g_of_entry = pos[st.phi1[rows]]
        sel = np.flatnonzero((data < d2e) & (g_of_entry >= 0) & ~is_open[cols])
        amount = w_e[sel] * (d2e[sel] - np.maximum(data[sel], d1e[sel]))
        extra = sum_by(
            cols[sel].astype(np.int64) * k + g_of_entry[sel], amount, self.m * k
        ).reshape(self.m, k)
        profit = gain[:, None] - loss[out_list][None, :] + extra
        profit[is_open, :] = -np.inf
        return profit, out_list

    def local_search(
        self, is_open: np.ndarray, deadline: float, st: State | None = None
    ) -> tuple[np.ndarray, State]:
        """Best-improvement swaps until no swap lowers the cost (or the deadline passes)."""
        is_open = is_open.copy()
        removable = np.ones(self.m, dtype=bool)
        removable[self.fixed] = False
        d1, d2 = np.empty(self.n), np.empty(self.n)
        phi1, prefix_end = np.empty(self.n, dtype=np.int64), np.empty(self.n, dtype=np.int64)
        while True:
            objective, moves, done = compiled().interchange(
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
                return is_open, State(d1, phi1, d2, objective, prefix_end)

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
class Closing:
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
class Search:
    """Best plan and bound found so far."""

    is_open: np.ndarray
    state: State
    bound: float


def restart(core: Core, best: Search, rng: np.random.Generator, deadline: float) -> bool:
    """One perturbation restart of the interchange from the best plan; True if it improved."""
    if core.p == core.fixed.size or core.m == core.p:
        return False
    trial = _perturb(core, best.is_open, rng)
    trial, trial_st = core.local_search(trial, deadline)
    if trial_st.objective < best.state.objective:
        best.is_open, best.state = trial, trial_st
        return True
    return False


def _perturb(core: Core, is_open: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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
