"""Many-to-many travel times whose memory follows the pairs returned, not nodes × points.

The searches of :func:`accessplan.travel_times` run from the side with fewer distinct nodes
(the *search nodes*) to every node of the other side (the *target nodes*). For a region with a
million populated cells and thousands of facilities, holding the node × node minutes before
turning them into point pairs needs many times the memory of the result. Here the searches run
in blocks of search nodes; each block is expanded to its point pairs at once (legs added,
cutoff applied) and written into the final CSR matrix of origins × destinations:

1. **One pass** while the pairs found so far fit in ``memory_mib``: each block's pairs are kept
   (16 bytes per pair), then scattered into the result, block by block.
2. **Two passes** once they do not: the kept pairs are dropped, the first pass only counts the
   pairs of each origin, the result is allocated at its exact size, and a second pass repeats
   the (deterministic) searches and writes each block into place.

Peak memory is then the graph, one block of searches (``chunk_mib``), at most ``memory_mib`` of
kept pairs and the result itself (12 bytes per pair: 32-bit destination, 64-bit minutes). The
minutes are those of the dense path to the last bit: the same searches, and each total is
``(node minutes + origin leg) + destination leg``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import scipy.sparse as sp

from accessplan._point_pairs import PointNodes

__all__ = ["expand_pairs", "expand_sparse", "ragged_arange", "route_in_blocks"]

#: Bytes per pair kept between the passes: origin row and destination column (int32 each) and
#: the minutes (float64).
_KEPT_PAIR_BYTES = 16

_NO_INT = np.empty(0, dtype=np.int64)
_NO_INT32 = np.empty(0, dtype=np.int32)
_NO_FLOAT = np.empty(0, dtype=np.float64)


def ragged_arange(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for each (s, n), vectorised."""
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    return np.arange(total) - np.repeat(ends - lengths, lengths) + np.repeat(starts, lengths)


@numba.njit(cache=True, nogil=True)
def _pair_kernel(
    node_ptr, d_idx, minutes, o_ok, o_inv, o_leg, d_ptr, d_points, d_leg, cutoff, rows, cols, total
):  # pragma: no cover
    """Count (``rows`` empty) or write the kept point pairs; returns how many are kept.

    Pairs come out by origin point (in the order of ``o_ok``), then by the node entries of its
    node, then by the destination points of each entry's node (in the order of ``d_points``).
    """
    fill = rows.size > 0
    k = 0
    for i in range(o_ok.size):
        r = o_ok[i]
        node = o_inv[i]
        for e in range(node_ptr[node], node_ptr[node + 1]):
            base = o_leg[r] + minutes[e]
            dn = d_idx[e]
            for q in range(d_ptr[dn], d_ptr[dn + 1]):
                c = d_points[q]
                t = base + d_leg[c]
                if t <= cutoff:
                    if fill:
                        rows[k] = r
                        cols[k] = c
                        total[k] = t
                    k += 1
    return k


def expand_pairs(
    o_idx: np.ndarray,
    d_idx: np.ndarray,
    minutes: np.ndarray,
    node_shape: tuple[int, int],
    origins: PointNodes,
    destinations: PointNodes,
    cutoff: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point pairs (rows, columns, minutes) from node pairs, legs added, cutoff applied.

    Parameters
    ----------
    o_idx, d_idx, minutes
        Reachable node pairs (origin node, destination node, minutes), sorted by ``o_idx``;
        positions as in ``origins.inverse`` and ``destinations.inverse``.
    node_shape
        (origin nodes, destination nodes) of the node-level positions.
    origins, destinations
        The points of those nodes and every point's leg (minutes).
    cutoff
        Largest total kept (minutes), or None.

    Returns
    -------
    rows, cols, total
        Origin and destination point positions (int64) and minutes of each kept pair, by
        origin point in the order of ``origins.ok``; each total is
        ``(origin leg + node minutes) + destination leg``.
    """
    node_ptr = np.searchsorted(o_idx, np.arange(node_shape[0] + 1))
    d_order = np.argsort(destinations.inverse, kind="stable")
    d_ptr = np.searchsorted(destinations.inverse[d_order], np.arange(node_shape[1] + 1))
    d_points = destinations.ok[d_order].astype(np.int64, copy=False)
    limit = np.inf if cutoff is None else float(cutoff)
    args = (
        node_ptr.astype(np.int64, copy=False),
        d_idx.astype(np.int64, copy=False),
        minutes.astype(np.float64, copy=False),
        origins.ok.astype(np.int64, copy=False),
        origins.inverse.astype(np.int64, copy=False),
        origins.leg_minutes.astype(np.float64, copy=False),
        d_ptr.astype(np.int64, copy=False),
        d_points,
        destinations.leg_minutes.astype(np.float64, copy=False),
        limit,
    )
    empty_i, empty_f = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    n = _pair_kernel(*args, empty_i, empty_i, empty_f)
    rows = np.empty(n, dtype=np.int64)
    cols = np.empty(n, dtype=np.int64)
    total = np.empty(n, dtype=np.float64)
    _pair_kernel(*args, rows, cols, total)
    return rows, cols, total


def expand_sparse(
    node_minutes: np.ndarray | sp.csr_array,
    origins: PointNodes,
    destinations: PointNodes,
    cutoff: float | None,
    shape: tuple[int, int],
) -> sp.csr_array:
    """Point-level minutes (CSR) from node-level minutes, without a dense point matrix."""
    if sp.issparse(node_minutes):
        coo = sp.csr_array(node_minutes).tocoo()  # CSR order: by origin node, then target
        o_idx, d_idx, minutes = coo.row, coo.col, coo.data
    else:
        o_idx, d_idx = np.nonzero(np.isfinite(node_minutes))
        minutes = node_minutes[o_idx, d_idx]
    rows, cols, total = expand_pairs(
        o_idx, d_idx, minutes, node_minutes.shape, origins, destinations, cutoff
    )
    return sp.coo_array((total, (rows, cols)), shape=shape).tocsr()


@dataclass(frozen=True)
class _NodeSide:
    """The points of one side, grouped by their node, to take those of a block of nodes."""

    points: PointNodes
    order: np.ndarray
    ptr: np.ndarray

    @classmethod
    def of(cls, points: PointNodes, n_nodes: int) -> _NodeSide:
        order = np.argsort(points.inverse, kind="stable")
        ptr = np.searchsorted(points.inverse[order], np.arange(n_nodes + 1))
        return cls(points, order, ptr)

    def block(self, lo: int, hi: int) -> PointNodes:
        """The points whose node is in ``lo:hi``, with node positions relative to ``lo``."""
        pick = self.order[self.ptr[lo] : self.ptr[hi]]
        return PointNodes(
            self.points.ok[pick], self.points.inverse[pick] - lo, self.points.leg_minutes
        )


#: What :func:`_block_pairs` does with each kept pair.
_COUNT, _SCATTER, _LIST = 0, 1, 2


@numba.njit(cache=True, nogil=True)
def _block_pairs(
    dist,
    b_ptr,
    b_points,
    t_ok,
    t_inv,
    o_leg,
    d_leg,
    block_is_origin,
    cutoff,
    mode,
    counts,
    cursor,
    indices,
    data,
    rows,
    cols,
    total,
):  # pragma: no cover
    """Point pairs of one block of searches; returns how many are kept.

    ``dist[b, t]`` holds the minutes from block node ``b`` to target node ``t`` (inf: beyond the
    search). ``b_points[b_ptr[b]:b_ptr[b + 1]]`` are the points at block node ``b``; target
    point ``t_ok[j]`` sits at target node ``t_inv[j]``. Each total is
    ``(origin leg + node minutes) + destination leg``; pairs above ``cutoff`` are left out.
    ``mode``: ``_COUNT`` adds one to ``counts[row]`` per pair; ``_SCATTER`` writes the pair at
    ``cursor[row]`` of the CSR arrays ``indices``/``data``; ``_LIST`` writes the ``k``-th pair
    into ``rows``/``cols``/``total``.
    """
    k = 0
    for b in range(dist.shape[0]):
        first, last = b_ptr[b], b_ptr[b + 1]
        if first == last:
            continue
        for j in range(t_ok.size):
            m = dist[b, t_inv[j]]
            if not m < np.inf:
                continue
            target = t_ok[j]
            for q in range(first, last):
                point = b_points[q]
                if block_is_origin:
                    row, col = point, target
                    t = (o_leg[point] + m) + d_leg[target]
                else:
                    row, col = target, point
                    t = (o_leg[target] + m) + d_leg[point]
                if t <= cutoff:
                    if mode == _COUNT:
                        counts[row] += 1
                    elif mode == _SCATTER:
                        at = cursor[row]
                        indices[at] = col
                        data[at] = t
                        cursor[row] = at + 1
                    else:
                        rows[k] = row
                        cols[k] = col
                        total[k] = t
                    k += 1
    return k


@dataclass(frozen=True)
class _Block:
    """One block of searches and the points on both sides, as :func:`_block_pairs` takes them."""

    dist: np.ndarray
    b_ptr: np.ndarray
    b_points: np.ndarray
    targets: PointNodes
    origins: PointNodes
    destinations: PointNodes
    block_is_origin: bool
    cutoff: float

    def pairs(
        self,
        mode: int,
        counts: np.ndarray = _NO_INT,
        csr: tuple[np.ndarray, np.ndarray, np.ndarray] = (_NO_INT, _NO_INT, _NO_FLOAT),
        out: tuple[np.ndarray, np.ndarray, np.ndarray] = (_NO_INT32, _NO_INT32, _NO_FLOAT),
    ) -> int:
        return int(
            _block_pairs(
                self.dist,
                self.b_ptr,
                self.b_points,
                self.targets.ok,
                self.targets.inverse,
                self.origins.leg_minutes,
                self.destinations.leg_minutes,
                self.block_is_origin,
                self.cutoff,
                mode,
                counts,
                *csr,
                *out,
            )
        )

    def listed(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``n`` kept pairs as (rows int32, columns int32, minutes)."""
        out = (np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n, np.float64))
        self.pairs(_LIST, out=out)
        return out


def route_in_blocks(
    graph: sp.csr_array,
    search_nodes: np.ndarray,
    target_nodes: np.ndarray,
    reverse: bool,
    limit: float,
    origins: PointNodes,
    destinations: PointNodes,
    cutoff: float | None,
    shape: tuple[int, int],
    *,
    chunk_mib: float,
    memory_mib: float,
    threads: int,
    progress: bool,
) -> sp.csr_array:
    """Origins × destinations minutes (CSR), searched and expanded block by block.

    Parameters
    ----------
    graph
        The routing CSR (reversed when ``reverse``: searches from the destinations).
    search_nodes, target_nodes
        Distinct nodes searched from and to: the destination nodes and the origin nodes when
        ``reverse``, else the other way round. ``origins.inverse`` indexes the origin nodes and
        ``destinations.inverse`` the destination nodes.
    limit
        Longest network time searched (minutes).
    cutoff
        Largest total kept (minutes), or None.
    shape
        (origin points, destination points).
    chunk_mib
        Memory of one block of searches (MiB of dense minutes to the target nodes).
    memory_mib
        Most memory for pairs kept between the passes (MiB); beyond it, two passes.
    threads, progress
        Search threads; a progress bar over the blocks.
    """
    per_block = max(1, int(chunk_mib * 2**20 // (8 * max(target_nodes.size, 1))))
    if progress:
        per_block = min(per_block, max(16 * threads, -(-search_nodes.size // 20)))
    starts = list(range(0, search_nodes.size, per_block))
    side = _NodeSide.of(origins if not reverse else destinations, search_nodes.size)
    targets = destinations if not reverse else origins
    limit_total = np.inf if cutoff is None else float(cutoff)

    def blocks(desc: str) -> Iterator[_Block]:
        from accessplan._shortest_paths import shortest_minutes

        bar = _bar(progress, len(starts), desc)
        try:
            for lo in starts:
                hi = min(lo + per_block, search_nodes.size)
                dist = shortest_minutes(
                    graph, search_nodes[lo:hi], target_nodes, limit, threads=threads
                )
                b_ptr = side.ptr[lo : hi + 1] - side.ptr[lo]
                b_points = side.order[side.ptr[lo] : side.ptr[hi]]
                yield _Block(
                    dist,
                    b_ptr,
                    side.points.ok[b_points],
                    targets,
                    origins,
                    destinations,
                    not reverse,
                    limit_total,
                )
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()

    counts = np.zeros(shape[0], dtype=np.int64)
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = []
    kept_bytes = 0
    budget = memory_mib * 2**20
    for block in blocks("shortest paths"):
        n = block.pairs(_COUNT, counts)
        if kept is not None:
            kept_bytes += n * _KEPT_PAIR_BYTES
            if kept_bytes > budget:
                kept = None  # too many to keep: count now, search again to fill
            else:
                kept.append(block.listed(n))
    result = _Filler(counts, shape)
    if kept is not None:
        while kept:
            result.add(*kept.pop(0))
    else:
        for block in blocks("shortest paths (filling)"):
            block.pairs(_SCATTER, csr=(result.cursor, result.indices, result.data))
    return result.matrix()


class _Filler:
    """A CSR matrix of known row lengths, filled by blocks of (row, column, minutes)."""

    def __init__(self, counts: np.ndarray, shape: tuple[int, int]) -> None:
        nnz = int(counts.sum())
        index = np.int32 if max(nnz, *shape) < np.iinfo(np.int32).max else np.int64
        self.indptr = np.zeros(shape[0] + 1, dtype=index)
        np.cumsum(counts, out=self.indptr[1:])
        self.cursor = self.indptr[:-1].astype(np.int64)
        self.indices = np.empty(nnz, dtype=index)
        self.data = np.empty(nnz, dtype=np.float64)
        self.shape = shape

    def add(self, rows: np.ndarray, cols: np.ndarray, minutes: np.ndarray) -> None:
        _scatter_rows(rows, cols, minutes, self.cursor, self.indices, self.data)

    def matrix(self) -> sp.csr_array:
        csr = sp.csr_array((self.data, self.indices, self.indptr), shape=self.shape)
        csr.sort_indices()  # in place, row by row
        return csr


@numba.njit(cache=True, nogil=True)
def _scatter_rows(rows, cols, minutes, cursor, indices, data):  # pragma: no cover
    """Append each pair at its row's cursor (pairs of one row keep their order)."""
    for k in range(rows.size):
        at = cursor[rows[k]]
        indices[at] = cols[k]
        data[at] = minutes[k]
        cursor[rows[k]] = at + 1


def _bar(progress: bool, total: int, desc: str) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="block")
