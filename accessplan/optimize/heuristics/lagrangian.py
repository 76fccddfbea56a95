"""Lagrangian lower bound and branch and bound of the p-median heuristic (Beasley 1993).

Relaxing the assignment constraints gives ``L(μ)``, a lower bound for every multiplier vector
``μ`` (formula in :mod:`accessplan.optimize.heuristics`); subgradient ascent raises it, and a
branch and bound on the open / closed decisions closes the gap where the ascent alone stalls.
The relaxed solutions seed interchange runs of :mod:`accessplan.optimize.heuristics.core`.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from accessplan.optimize.heuristics.core import (
    Closing,
    Core,
    Search,
    State,
    compiled,
    restart,
    sum_by,
)

_MAX_SUBGRADIENT_ITERATIONS = 5000  # at the root node
_NODE_ITERATIONS = 80
_NODE_BETA = 1.0
_ROOT_STALL = 100  # root: β halves after this many iterations without a better bound
_NODE_STALL = 20
_PRIMAL_EVERY = 10  # relaxed solutions tried as interchange starts: every 10th iteration
_PRIMAL_WINDOW = 0.10  # interchange from relaxed solutions within 10 % of the best plan


class Relaxation:
    """Lagrangian relaxation of the assignment constraints, with per-row multiplier caps.

    Multipliers stay within ``[0, cap_i]``; ``L(μ)`` is a valid lower bound for every ``μ``,
    so the caps only steer the ascent. Candidates in ``shut`` (closed at a node) never enter
    the relaxed open set and their pairs are ignored.
    """

    def __init__(self, core: Core, cap: np.ndarray, shut: np.ndarray | None = None) -> None:
        self.core = core
        self.cap = cap
        self.shut = np.zeros(core.m, dtype=bool) if shut is None else shut

    def without(self, shut: np.ndarray) -> Relaxation:
        """The same relaxation without the pairs of the candidates in ``shut``."""
        return Relaxation(self.core, self.cap, shut)

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
        rho = sum_by(cols[neg], core.w[rows[neg]] * diff[neg], core.m)
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
    relax: Relaxation,
    node: _Node,
    best: Search,
    deadline: float,
    closed: Closing,
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
        bound, beta, stall, ran = compiled().subgradient_ascent(
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


def initial_multipliers(core: Core, st: State) -> tuple[np.ndarray, np.ndarray, float]:
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
    step = compiled().lagrangian_step
    values = [
        step(*arrays, mu, shut, forced, free_idx, k, unserved, rho, is_open, g) for mu in starts
    ]
    return starts[0], np.nextafter(row_max, np.inf), max(values)


def branch_and_bound(
    core: Core,
    best: Search,
    deadline: float,
    closed: Closing,
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
    mu, cap, first_bound = initial_multipliers(core, best.state)
    best.bound = max(best.bound, core.round_bound(first_bound))
    if closed(best.state.objective, best.bound):
        return
    relax = Relaxation(core, cap)
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
            restart(core, best, rng, deadline)
    open_bounds = [b for b, _, _ in heap]
    best.bound = max(best.bound, min([settled, *open_bounds, best.state.objective]))


def _children(
    core: Core,
    node: _Node,
    asc: _Ascent,
    bound: float,
    best: Search,
    closed: Closing,
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
