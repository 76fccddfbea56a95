"""Compiled sums over the stored pairs of a CSR pattern (the inner loops of the FCA family).

Both FCA steps are sums over the reachable pairs: per destination ``Σ_i W_ij x_i`` and per
origin ``Σ_j W_ij y_j``. With unit weights (a plain catchment) the weights need not exist at
all: the loops read only the CSR index arrays, so no array of ones is built or read. Large
patterns are split into row ranges of equal work, summed on several threads (the loops
release the GIL) and, for the per-destination sums, reduced in a fixed order, so results do
not depend on scheduling.
"""

from __future__ import annotations

import itertools

import numba
import numpy as np

from accessplan._shortest_paths import default_threads, thread_pool

#: Below this many stored pairs one thread is faster than splitting the work.
PARALLEL_MIN_PAIRS = 150_000

_NO_VALUES = np.empty(0, dtype=np.float64)


# Positions are cast to unsigned integers (``_U``) in the loops: numba then skips the
# negative-index wraparound it otherwise adds to every array access, which halves the time of
# these loops.
_U = numba.uint64


@numba.njit(cache=True, nogil=True)
def _row_kth(indptr, indices, data, allowed, k, out):  # pragma: no cover
    """``out[i]`` = the k-th smallest ``data`` of row ``i`` over allowed columns, else NaN."""
    buffer = np.empty(max(k, 1), dtype=np.float64)
    for i in range(indptr.size - 1):
        n = 0
        for e in range(_U(indptr[i]), _U(indptr[i + 1])):
            if not allowed[_U(indices[e])]:
                continue
            value = data[e]
            if n < k:  # keep the k smallest so far, sorted (insertion)
                j = n
                n += 1
            elif value < buffer[k - 1]:
                j = k - 1
            else:
                continue
            while j > 0 and buffer[j - 1] > value:
                buffer[j] = buffer[j - 1]
                j -= 1
            buffer[j] = value
        out[i] = buffer[k - 1] if n >= k else np.nan


def row_kth_smallest(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, allowed: np.ndarray, k: int
) -> np.ndarray:
    """Per row of a CSR matrix, the k-th smallest stored value in an allowed column.

    Parameters
    ----------
    indptr, indices, data
        CSR arrays (e.g. origins × destinations minutes).
    allowed
        Boolean per column: which columns count.
    k
        1 for the smallest, 2 for the second smallest...

    Returns
    -------
    numpy.ndarray
        One value per row; NaN where fewer than ``k`` allowed entries are stored.
    """
    out = np.empty(indptr.size - 1, dtype=np.float64)
    _row_kth(indptr, indices, data, np.ascontiguousarray(allowed, dtype=np.bool_), int(k), out)
    return out


@numba.njit(cache=True, nogil=True)
def _column_sums_range(indptr, indices, values, weighted, x, lo, hi, out):  # pragma: no cover
    for i in range(lo, hi):
        xi = x[i]
        if xi == 0.0:
            continue
        start, end = _U(indptr[i]), _U(indptr[i + 1])
        if weighted:
            for k in range(start, end):
                out[_U(indices[k])] += values[k] * xi
        else:
            # Four at a time, indices first: the loads of a row's columns do not wait on the
            # stores before them (a row holds each column once, so the order of additions
            # per column is unchanged).
            k, four = start, _U(4)
            while k + four <= end:
                j0, j1 = _U(indices[k]), _U(indices[k + _U(1)])
                j2, j3 = _U(indices[k + _U(2)]), _U(indices[k + _U(3)])
                out[j0] += xi
                out[j1] += xi
                out[j2] += xi
                out[j3] += xi
                k += four
            while k < end:
                out[_U(indices[k])] += xi
                k += _U(1)


@numba.njit(cache=True, nogil=True)
def _row_sums_range(indptr, indices, values, weighted, y, lo, hi, out):  # pragma: no cover
    # Four partial sums per row: the additions overlap instead of waiting on one another.
    # A row's sum then differs from the sequential one by a few units in the last place.
    one, two, three, four = _U(1), _U(2), _U(3), _U(4)
    for i in range(lo, hi):
        k, end = _U(indptr[i]), _U(indptr[i + 1])
        a0 = a1 = a2 = a3 = 0.0
        if weighted:
            while k + four <= end:
                a0 += values[k] * y[_U(indices[k])]
                a1 += values[k + one] * y[_U(indices[k + one])]
                a2 += values[k + two] * y[_U(indices[k + two])]
                a3 += values[k + three] * y[_U(indices[k + three])]
                k += four
            while k < end:
                a0 += values[k] * y[_U(indices[k])]
                k += one
        else:
            while k + four <= end:
                a0 += y[_U(indices[k])]
                a1 += y[_U(indices[k + one])]
                a2 += y[_U(indices[k + two])]
                a3 += y[_U(indices[k + three])]
                k += four
            while k < end:
                a0 += y[_U(indices[k])]
                k += one
        out[i] = (a0 + a1) + (a2 + a3)


@numba.njit(cache=True, nogil=True)
def _two_step_sums(indptr, indices, values, weighted, x, capacity, out):  # pragma: no cover
    """Both FCA steps in one call: ``D = Wᵀ x``, ``R = capacity / D`` (0 where ``D = 0``)."""
    demand_at = np.zeros((1, capacity.size))
    _column_sums_range(indptr, indices, values, weighted, x, 0, indptr.size - 1, demand_at[0])
    ratio = np.empty(capacity.size)
    _supply_ratio(demand_at, capacity, ratio)
    _row_sums_range(indptr, indices, values, weighted, ratio, 0, indptr.size - 1, out)


@numba.njit(cache=True, nogil=True)
def _supply_ratio(partial_demand, capacity, ratio):  # pragma: no cover
    """``ratio_j = capacity_j / Σ_k partial_demand[k, j]`` (0 where that sum is 0).

    The partial sums are added in row order, so the result does not depend on which thread
    finished first.
    """
    for j in range(capacity.size):
        d = 0.0
        for k in range(partial_demand.shape[0]):
            d += partial_demand[k, j]
        ratio[j] = capacity[j] / d if d > 0 else 0.0


def _threads() -> int:
    """Threads sharing large sums: the same count as the shortest-path searches use."""
    return default_threads()


def _run_shared(jobs: list[tuple]) -> None:
    """Run ``(function, *args)`` jobs on this thread and the pool's, each taking the next one.

    Nobody waits for a job to start: this thread works through the list too, so a busy pool
    (or a core taken by another process) only means that this thread runs more of the jobs.
    """
    taken = itertools.count()  # next() on it is atomic under the GIL

    def work() -> None:
        while (k := next(taken)) < len(jobs):
            function, *args = jobs[k]
            function(*args)

    threads = _threads()
    pool = thread_pool(threads)
    helpers = [pool.submit(work) for _ in range(min(threads, len(jobs)) - 1)]
    work()
    for helper in helpers:
        helper.result()


def _row_ranges(indptr: np.ndarray) -> list[tuple[int, int]]:
    """Row ranges holding about the same number of stored pairs, two per thread.

    Two per thread rather than one: a thread that starts late or runs slow leaves its second
    range to the others.
    """
    n_rows, nnz = indptr.size - 1, int(indptr[-1])
    parts = 1 if nnz < PARALLEL_MIN_PAIRS else 2 * _threads()
    if parts == 1:
        return [(0, n_rows)]
    cuts = np.searchsorted(indptr, [nnz * k // parts for k in range(1, parts)])
    bounds = [0, *cuts.tolist(), n_rows]
    return [(lo, hi) for lo, hi in itertools.pairwise(bounds) if hi > lo]


def _column_partials(
    ranges: list[tuple[int, int]],
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    weighted: bool,
    x: np.ndarray,
    n_columns: int,
) -> np.ndarray:
    """Per-column sums of each row range (one row per range), computed on the threads."""
    partial = np.zeros((len(ranges), n_columns))
    _run_shared(
        [
            (_column_sums_range, indptr, indices, values, weighted, x, lo, hi, part)
            for (lo, hi), part in zip(ranges, partial, strict=True)
        ]
    )
    return partial


def _row_sums_on_threads(
    ranges: list[tuple[int, int]],
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    weighted: bool,
    columns: list[np.ndarray],
    out: np.ndarray,
) -> None:
    """``out[c, i] = Σ_j W_ij columns[c][j]``, every column and row range a job of its own."""
    _run_shared(
        [
            (_row_sums_range, indptr, indices, values, weighted, col, lo, hi, o)
            for col, o in zip(columns, out, strict=True)
            for lo, hi in ranges
        ]
    )


def column_sums(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray | None,
    x: np.ndarray,
    n_columns: int,
) -> np.ndarray:
    """``Σ_i W_ij x_i`` for every column ``j`` (``W`` = ``values`` on the pattern, or 1).

    Parameters
    ----------
    indptr, indices
        CSR pattern (rows × ``n_columns``).
    values
        Weight of each stored pair (CSR order), or None for unit weights.
    x
        One value per row.
    n_columns
        Number of columns.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    weighted = values is not None
    vals = _NO_VALUES if values is None else np.ascontiguousarray(values, dtype=np.float64)
    n_rows = indptr.size - 1
    if indptr[-1] < PARALLEL_MIN_PAIRS:
        out = np.zeros(n_columns)
        _column_sums_range(indptr, indices, vals, weighted, x, 0, n_rows, out)
        return out
    ranges = _row_ranges(indptr)
    return _column_partials(ranges, indptr, indices, vals, weighted, x, n_columns).sum(axis=0)


def row_sums(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray | None,
    y: np.ndarray,
) -> np.ndarray:
    """``Σ_j W_ij y_j`` for every row ``i``; ``y`` is one value (1-d) or one row (2-d) per column.

    Parameters as in :func:`column_sums`; the result has one row per CSR row and the
    trailing shape of ``y``.
    """
    y = np.asarray(y, dtype=np.float64)
    weighted = values is not None
    vals = _NO_VALUES if values is None else np.ascontiguousarray(values, dtype=np.float64)
    n_rows = indptr.size - 1
    if y.ndim == 1 and indptr[-1] < PARALLEL_MIN_PAIRS:
        out = np.empty(n_rows)
        _row_sums_range(indptr, indices, vals, weighted, np.ascontiguousarray(y), 0, n_rows, out)
        return out
    columns = [np.ascontiguousarray(c) for c in y.reshape(y.shape[0], -1).T]
    out = np.empty((len(columns), n_rows))
    _row_sums_on_threads(_row_ranges(indptr), indptr, indices, vals, weighted, columns, out)
    return out[0] if y.ndim == 1 else out.T.reshape((n_rows, *y.shape[1:]))


def two_step_sums(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray | None,
    x: np.ndarray,
    capacity: np.ndarray,
) -> np.ndarray:
    """FCA for one column of capacity: ``A = W R`` with ``R_j = capacity_j / (Wᵀ x)_j``.

    ``R_j = 0`` where the weighted demand ``(Wᵀ x)_j`` is 0. Parameters as in
    :func:`column_sums`; ``capacity`` has one value per column. Small patterns run in one
    compiled call; large ones sum on several threads.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    capacity = np.ascontiguousarray(capacity, dtype=np.float64)
    weighted = values is not None
    vals = _NO_VALUES if values is None else np.ascontiguousarray(values, dtype=np.float64)
    out = np.empty(indptr.size - 1)
    if indptr[-1] < PARALLEL_MIN_PAIRS:
        _two_step_sums(indptr, indices, vals, weighted, x, capacity, out)
        return out
    ranges = _row_ranges(indptr)
    partial = _column_partials(ranges, indptr, indices, vals, weighted, x, capacity.size)
    ratio = np.empty(capacity.size)
    _supply_ratio(partial, capacity, ratio)
    _row_sums_on_threads(ranges, indptr, indices, vals, weighted, [ratio], out[None, :])
    return out
