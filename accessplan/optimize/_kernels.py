"""Compiled inner loops of the p-median / MCLP heuristics (numba, nopython, no threads).

Every kernel works on the core's row-sorted CSR arrays: per demand row ``i`` the stored
entries ``indptr[i]:indptr[i+1]`` are ordered by (cost, column), so a row's entries below a
threshold form a prefix and loops stop at the first entry at or above it. Kernels are
``nogil`` so callers may run them from threads; none uses ``parallel=True``.
"""

from __future__ import annotations

import numba
import numpy as np


# --------------------------------------------------------------------------- Lagrangian
@numba.njit(cache=True, nogil=True)
def lagrangian_rho(indptr, cols, data, w, mu, shut, rho):
    """``ρ_j = Σ_i w_i · min(0, c_ij − μ_i)`` over the entries of candidates not shut."""
    rho[:] = 0.0
    for i in range(indptr.size - 1):
        mui = mu[i]
        wi = w[i]
        for e in range(indptr[i], indptr[i + 1]):
            c = data[e]
            if c >= mui:
                break
            j = cols[e]
            if not shut[j]:
                rho[j] += wi * (c - mui)


@numba.njit(cache=True, nogil=True)
def _select_open(rho, forced_open, free_idx, k, is_open):
    """Forced-open candidates plus the ``k`` free ones of smallest ρ (ties: lower position)."""
    is_open[:] = forced_open
    if k <= 0:
        return
    order = np.argsort(rho[free_idx], kind="mergesort")
    for t in range(k):
        is_open[free_idx[order[t]]] = True


@numba.njit(cache=True, nogil=True)
def lagrangian_step(
    indptr,
    cols,
    data,
    col_ptr,
    col_rows,
    col_data,
    w,
    mu,
    shut,
    forced_open,
    free_idx,
    k,
    unserved,
    rho,
    is_open,
    g,
):
    """``L(μ)``; fills ``ρ``, the relaxed open set and the subgradient ``g`` (per row).

    ``col_ptr``/``col_rows``/``col_data`` hold the same entries by column: the subgradient
    only needs the columns of the open set, a small share of the entries. ``unserved < 0``
    means no unserved option.
    """
    lagrangian_rho(indptr, cols, data, w, mu, shut, rho)
    _select_open(rho, forced_open, free_idx, k, is_open)
    value = 0.0
    for i in range(w.size):
        value += w[i] * mu[i]
        g[i] = 1.0
    for j in range(rho.size):
        if is_open[j] and not shut[j]:
            value += rho[j]
            for e in range(col_ptr[j], col_ptr[j + 1]):
                i = col_rows[e]
                if col_data[e] < mu[i]:
                    g[i] -= 1.0
    if unserved >= 0.0:
        for i in range(w.size):
            if mu[i] > unserved:
                value += w[i] * (unserved - mu[i])
                g[i] -= 1.0
    return value


@numba.njit(cache=True, nogil=True)
def subgradient_ascent(
    indptr,
    cols,
    data,
    col_ptr,
    col_rows,
    col_data,
    w,
    mu,
    cap,
    shut,
    forced_open,
    free_idx,
    k,
    unserved,
    upper,
    stop_at,
    iterations,
    beta,
    stall,
    stall_limit,
    best_bound,
    best_mu,
    best_open,
    best_rho,
    last_open,
):
    """Subgradient optimisation of ``L(μ)`` with Polyak steps (Beasley 1993).

    The step is ``β (upper − L) / Σ_i w_i g_i²`` along ``g``, in per-person multipliers;
    ``β`` halves after ``stall_limit`` iterations without a better bound; ``μ`` stays within
    ``[0, cap]``. ``mu`` is updated in place. The best bound, with its multipliers, relaxed
    open set and ``ρ``, goes to the ``best_*`` arrays when it beats ``best_bound``; the last
    relaxed open set to ``last_open``. Stops early once the best bound reaches ``stop_at``.

    Returns
    -------
    tuple
        (best bound, β, stall counter, iterations done).
    """
    m = best_rho.size
    rho = np.empty(m)
    is_open = np.empty(m, dtype=np.bool_)
    g = np.empty(w.size)
    done = 0
    for _ in range(iterations):
        if beta < 1e-4:
            break
        value = lagrangian_step(
            indptr,
            cols,
            data,
            col_ptr,
            col_rows,
            col_data,
            w,
            mu,
            shut,
            forced_open,
            free_idx,
            k,
            unserved,
            rho,
            is_open,
            g,
        )
        done += 1
        if value > best_bound + 1e-12 * max(1.0, abs(value)):
            best_bound = value
            best_mu[:] = mu
            best_open[:] = is_open
            best_rho[:] = rho
            stall = 0
        else:
            stall += 1
            if stall >= stall_limit:
                beta *= 0.5
                stall = 0
        last_open[:] = is_open
        if best_bound >= stop_at:
            break
        norm = 0.0
        for i in range(w.size):
            norm += w[i] * g[i] * g[i]
        if norm == 0.0:
            break  # the relaxed assignment is feasible, hence optimal at this node
        step = beta * max(upper - value, 0.0) / norm
        if step == 0.0:
            break
        for i in range(w.size):
            v = mu[i] + step * g[i]
            if v > cap[i]:
                v = cap[i]
            elif v < 0.0:
                v = 0.0
            mu[i] = v
    return best_bound, beta, stall, done


# --------------------------------------------------------------------------- interchange
@numba.njit(cache=True, nogil=True)
def closest_two(indptr, cols, data, w, is_open, none_cost, d1, phi1, d2, end2):
    """Closest (``d1``, ``φ1``) and second-closest (``d2``) open option per row; the cost.

    ``end2[i]`` is the index of the row's second open entry (or the row's end): the entries
    before it are the only ones a single swap can make a row use. Rows with no open entry
    get ``none_cost`` and ``φ1 = -1``.
    """
    total = 0.0
    for i in range(indptr.size - 1):
        a = none_cost
        b = none_cost
        f = -1
        stop = indptr[i + 1]
        for e in range(indptr[i], indptr[i + 1]):
            j = cols[e]
            if is_open[j]:
                if f < 0:
                    a = data[e]
                    f = j
                else:
                    b = data[e]
                    stop = e
                    break
        d1[i] = a
        phi1[i] = f
        d2[i] = b
        end2[i] = stop
        total += w[i] * a
    return total


@numba.njit(cache=True, nogil=True)
def swap_profits(indptr, cols, data, w, is_open, pos, d1, phi1, d2, end2, profit):
    """Profit of every (insert f, remove g) swap (Resende & Werneck 2007), in ``profit``.

    ``pos[j]`` is the column of ``profit`` of removable open candidate ``j`` (-1 otherwise);
    rows of open candidates are set to ``-inf``.
    """
    m, k = profit.shape
    gain = np.zeros(m)
    loss = np.zeros(m)
    profit[:, :] = 0.0
    for i in range(indptr.size - 1):
        wi = w[i]
        a = d1[i]
        b = d2[i]
        g = -1
        if phi1[i] >= 0:
            loss[phi1[i]] += wi * (b - a)
            g = pos[phi1[i]]
        for e in range(indptr[i], end2[i]):
            j = cols[e]
            if is_open[j]:
                continue
            c = data[e]
            if c < a:
                gain[j] += wi * (a - c)
            if g >= 0 and c < b:
                profit[j, g] += wi * (b - max(c, a))
    for j in range(m):
        for t in range(k):
            profit[j, t] = -np.inf if is_open[j] else profit[j, t] + gain[j]
    for j in range(m):
        if pos[j] >= 0:
            for f in range(m):
                profit[f, pos[j]] -= loss[j]


@numba.njit(cache=True, nogil=True)
def interchange(
    indptr, cols, data, w, is_open, removable, none_cost, max_moves, d1, phi1, d2, end2
):
    """Best-improvement swaps from ``is_open`` (updated in place) until none pays.

    Returns
    -------
    tuple
        (objective, moves made, whether a local optimum was reached).
    """
    m = is_open.size
    objective = closest_two(indptr, cols, data, w, is_open, none_cost, d1, phi1, d2, end2)
    pos = np.full(m, -1, dtype=np.int64)
    out = np.flatnonzero(is_open & removable)
    k = out.size
    if k == 0 or k == m:
        return objective, 0, True
    for t in range(k):
        pos[out[t]] = t
    profit = np.empty((m, k))
    moves = 0
    while moves < max_moves:
        swap_profits(indptr, cols, data, w, is_open, pos, d1, phi1, d2, end2, profit)
        best = -np.inf
        bf = -1
        bg = -1
        for f in range(m):
            for t in range(k):
                if profit[f, t] > best:
                    best = profit[f, t]
                    bf = f
                    bg = t
        if not best > 1e-12 * max(abs(objective), 1.0):
            return objective, moves, True
        g = out[bg]
        is_open[bf] = True
        is_open[g] = False
        new = closest_two(indptr, cols, data, w, is_open, none_cost, d1, phi1, d2, end2)
        if not new < objective:  # rounding made the predicted profit vanish: undo
            is_open[bf] = False
            is_open[g] = True
            closest_two(indptr, cols, data, w, is_open, none_cost, d1, phi1, d2, end2)
            return objective, moves, True
        objective = new
        moves += 1
        pos[g] = -1
        pos[bf] = bg
        out[bg] = bf
    return objective, moves, False


@numba.njit(cache=True, nogil=True)
def greedy_add(indptr, cols, data, w, is_open, none_cost, p):
    """Open, one at a time, the candidate that lowers the weighted cost most, until p open."""
    n = indptr.size - 1
    m = is_open.size
    current = np.full(n, none_cost)
    for i in range(n):
        for e in range(indptr[i], indptr[i + 1]):
            if is_open[cols[e]]:
                current[i] = data[e]
                break
    gain = np.empty(m)
    count = 0
    for j in range(m):
        if is_open[j]:
            count += 1
    while count < p:
        gain[:] = 0.0
        for i in range(n):
            ci = current[i]
            for e in range(indptr[i], indptr[i + 1]):
                c = data[e]
                if c >= ci:
                    break
                gain[cols[e]] += w[i] * (ci - c)
        best = -np.inf
        bj = -1
        for j in range(m):
            if not is_open[j] and gain[j] > best:
                best = gain[j]
                bj = j
        is_open[bj] = True
        count += 1
        for i in range(n):
            for e in range(indptr[i], indptr[i + 1]):
                if data[e] >= current[i]:
                    break
                if cols[e] == bj:
                    current[i] = data[e]
                    break
