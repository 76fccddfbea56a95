"""Lagrangian reduction of the exact p-median: a proven bound and the sites it fixes.

Relaxing the assignment constraints sum_j x_ij = 1 of the classic model with multipliers
lambda_i gives L(lambda) = sum_i lambda_i + (sum of the |E|+p smallest rho_j, forced sites
included), rho_j = sum_i min(0, w_i d_ij - lambda_i): a lower bound equal to the LP bound at
the best multipliers (Beasley 1993). With an upper bound UB from a plan, the classic
reduced-cost tests fix sites: a closed site whose opening would raise the bound above UB
stays closed, an open one whose closing would stays open. The exact model is then solved on
the surviving sites only, which on OR-Library instances removes most candidates. Any plan
outside the reduced space costs more than UB, so the reduced optimum is the global optimum.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["Reduction", "lagrangian_reduction"]


@dataclass
class Reduction:
    """Outcome of :func:`lagrangian_reduction`.

    Attributes
    ----------
    bound
        Proven lower bound (person-minutes of the served origins).
    upper, upper_open
        Person-minutes of the best plan seen, and its open flag per candidate.
    closed, forced
        Per candidate: proven closed, or proven open, in every plan better than ``upper``.
    iterations
        Subgradient iterations run.
    """

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


def lagrangian_reduction(
    minutes: sp.csr_array,
    weights: np.ndarray,
    p_total: int,
    fixed: np.ndarray,
    unserved: float | None,
    upper_open: np.ndarray | None,
    max_iter: int = 600,
    deadline: float | None = None,
) -> Reduction:
    """Subgradient ascent on ``L(lambda)``, then the reduced-cost tests (module docstring).

    Parameters
    ----------
    minutes
        Origins × candidates, stored pairs sorted by minutes within each row.
    weights
        Persons per origin.
    p_total
        Sites open in every plan (existing ones included).
    fixed
        Candidate positions that stay open.
    unserved
        Minutes charged per unserved person; None = every reachable origin is served.
    upper_open
        Open flag per candidate of a known plan (the first upper bound), or None.
    max_iter
        Most subgradient iterations.
    deadline
        ``time.perf_counter()`` value at which the ascent stops; None = no limit.

    Returns
    -------
    Reduction
        The bound, the best plan seen and the sites fixed closed or open.
    """
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
    closed = ~chosen & ~is_fixed & (best_bound + best_rho - worst_in > best_upper + tol)
    forced = chosen & ~is_fixed & (best_bound - best_rho + best_out > best_upper + tol)
    if best_open is None:
        best_open = chosen
    return Reduction(best_bound, best_upper, best_open, closed, forced, it)
