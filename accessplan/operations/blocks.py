"""Exact decomposition of the operations model into independent blocks of resource types.

No row of the model links two resource types except the equity rows, which link the critical
types. So the model is block diagonal: one block of the critical types (when the equity band
is on) and one block per other type, each an operations problem of its own over the same
facilities, periods, arcs and scenarios. Solving the blocks apart gives the same optimum (the
sum of the blocks' optima), the same duals and a basis of the whole (the union of theirs),
with several smaller LPs in place of one large one: the simplex's work grows faster than
linearly with the rows.

:func:`column_map` and :func:`row_map` give, for each column and row of a block, its position
in the whole model's layout, so solutions, duals and bases move between the two by indexing.
"""

from __future__ import annotations

import numpy as np

from accessplan.operations.model import Layout, OperationsProblem

__all__ = ["column_map", "row_map", "subproblem", "type_blocks"]


def type_blocks(problem: OperationsProblem) -> list[np.ndarray]:
    """Positions of the types of each block: the critical types together (with a band), then
    every other type alone."""
    m = problem.shape[3]
    linked = problem.critical_types if problem.has_equity else np.zeros(0, dtype=np.int64)
    blocks = [linked] if linked.size else []
    blocks += [np.array([j], dtype=np.int64) for j in range(m) if j not in set(linked.tolist())]
    return blocks


def subproblem(problem: OperationsProblem, types: np.ndarray) -> OperationsProblem:
    """The part of ``problem`` of the types at ``types`` (positions)."""
    js = np.asarray(types, dtype=np.int64)
    sub_types = tuple(problem.types[j] for j in js)
    critical = any(t.critical for t in sub_types)
    return OperationsProblem(
        facilities=problem.facilities,
        types=sub_types,
        demand=problem.demand[..., js],
        fixed=problem.fixed[..., js],
        pool=problem.pool[:, js],
        initial=problem.initial[:, js],
        arcs=problem.arcs,
        ramp=problem.ramp[:, js],
        unmet_cap=problem.unmet_cap[:, js],
        gamma=problem.gamma if critical else None,
        beta=problem.beta,
        smoothing=problem.smoothing,
        period_minutes=problem.period_minutes,
        arrivals=problem.arrivals[..., js],
        in_transit=problem.in_transit[:, js],
        probabilities=problem.probabilities,
        unit_cost=problem.unit_cost[:, js],
        fixed_cost=problem.fixed_cost[:, js],
        penalty=problem.penalty[:, js],
    )


def _cells(full: Layout, types: np.ndarray) -> np.ndarray:
    """Full cell index ``i * m + j`` of each block cell ``i * m_sub + j_sub``."""
    i = np.repeat(np.arange(full.n), types.size)
    return i * full.m + np.tile(types, full.n)


def column_map(
    full: Layout, sub: Layout, types: np.ndarray, problem: OperationsProblem
) -> np.ndarray:
    """Position in ``full`` of every column of the block ``sub`` (of the types ``types``)."""
    types = np.asarray(types, dtype=np.int64)
    out = np.empty(sub.num_col, dtype=np.int64)
    T = np.arange(sub.h)[:, None]
    cells_sub = np.arange(sub.cells)[None, :]
    cells_full = _cells(full, types)[None, :]
    for block in ("x", "a", "r"):
        out[sub.col(block, T, cells_sub)] = full.col(block, T, cells_full)
    if sub.e * sub.q:
        qfull = problem.transfer_types
        mine = [int(j) for j in types if j in set(qfull.tolist())]
        qpos = np.searchsorted(qfull, mine)  # transfer types are sorted positions
        k = np.arange(sub.e * sub.q)
        kfull = (k // sub.q) * full.q + qpos[k % sub.q]
        out[sub.col("z", T, k[None, :])] = full.col("z", T, kfull[None, :])
    for s in range(sub.s):
        for block in ("y", "u"):
            out[sub.col(block, T, cells_sub, s)] = full.col(block, T, cells_full, s)
        if sub.equity:
            for band in ("rho_max", "rho_min"):
                out[sub.col(band, T[:, 0], 0, s)] = full.col(band, T[:, 0], 0, s)
    return out


def row_map(full: Layout, sub: Layout, types: np.ndarray) -> np.ndarray:
    """Position in ``full`` of every row of the block ``sub``."""
    types = np.asarray(types, dtype=np.int64)
    out = np.empty(sub.num_row, dtype=np.int64)
    T = np.arange(sub.h)[:, None]
    cells_full = _cells(full, types)
    cover_sub = np.arange(sub.s * sub.cells)
    cover_full = (cover_sub // sub.cells) * full.cells + cells_full[cover_sub % sub.cells]
    out[sub.row("coverage", T, cover_sub[None, :])] = full.row("coverage", T, cover_full[None, :])
    out[sub.row("flow", T, np.arange(sub.cells)[None, :])] = full.row(
        "flow", T, cells_full[None, :]
    )
    out[sub.row("pool", T, np.arange(sub.m)[None, :])] = full.row("pool", T, types[None, :])
    if sub.equity:
        for block in ("equity_max", "equity_min"):
            k = np.arange(sub.s * sub.n)[None, :]
            out[sub.row(block, T, k)] = full.row(block, T, k)
        k = np.arange(sub.s)[None, :]
        out[sub.row("spread", T, k)] = full.row("spread", T, k)
    return out
