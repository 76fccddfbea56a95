"""Many-source shortest paths to a set of target nodes, compiled, with a time limit.

``scipy.sparse.csgraph.dijkstra`` returns, for every source, a full row over *all* nodes
(initialised, filled and copied for each source) and orders the search with a Fibonacci heap,
whose unpredictable branches dominate on road networks. Routing to facilities needs less:
from each source, the minutes to a few hundred or thousand target nodes, within a cutoff that
a search usually reaches long before it covers the network. This module searches

* with a bucket queue instead of a heap: nodes are kept in buckets of width ``Δ`` minutes
  (Dial's algorithm generalised to real weights: Δ-stepping of Meyer & Sanders, "Δ-stepping:
  a parallelizable shortest path algorithm", J. Algorithms 49 (2003) 114–152, run
  sequentially). Buckets are scanned in order; inside one, a node is scanned again if its
  time drops, so the final times are exact shortest paths whatever ``Δ``. ``Δ`` is about the
  shortest edges, so a node is rarely scanned twice;
* touching only the nodes it reaches, and resetting just those for the next source;
* stopping at the limit, or once every target is final (its bucket is done); writing only
  the target columns of the result;

one thread per block of sources: the compiled loop releases the GIL, so threads share the
graph without copies. A time is the sum of the edge minutes along the path in path order, as
in scipy and networkx; the search order does not change it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numba
import numpy as np
import scipy.sparse as sp

# Positions are cast to unsigned integers (``_U``) in the loop: numba then skips the
# negative-index wraparound it otherwise adds to every array access.
_U = numba.uint64

#: Bucket width: this quantile of the edge minutes (a few percent of edges are shorter) …
_DELTA_QUANTILE = 0.05
#: … but no narrower than the longest edge over this many buckets (bounds the bucket array).
_MAX_BUCKETS = 65_536


@numba.njit(cache=True, nogil=True)
def _search_block(
    indptr,
    indices,
    weights,
    sources,
    target_column,
    n_targets,
    limit,
    delta,
    n_buckets,
    capacity,
    out,
):  # pragma: no cover
    """Shortest paths from each of ``sources``; ``out[s, target_column[v]]`` = minutes to ``v``.

    ``out`` must hold inf on entry; targets not reached within ``limit`` stay inf. Returns
    the number of sources done: fewer than all when the search of the next one needed more
    than ``capacity`` queue entries (its row is left untouched; call again, with more). Buckets
    are singly linked lists of entries (node, next) in a pool with a free list; bucket ``b``
    (absolute number ``⌊t / Δ⌋``) lives in slot ``b mod n_buckets``, which never collides
    because no edge spans ``n_buckets − 1`` buckets; ``n_buckets`` is a power of two, so the
    slot is a bit mask, not a division.
    """
    n = indptr.size - 1
    dist = np.full(n, np.inf)
    scanned = np.full(n, np.inf)  # the time at which a node was last scanned
    touched = np.empty(n, dtype=np.int64)
    head = np.full(n_buckets, -1, dtype=np.int64)
    mask = n_buckets - 1
    entry_node = np.empty(capacity, dtype=np.int64)
    entry_next = np.empty(capacity, dtype=np.int64)
    inverse = 1.0 / delta
    for s in range(sources.size):
        source = sources[s]
        dist[source] = 0.0
        touched[0] = source
        n_touched = 1
        entry_node[0] = source
        entry_next[0] = -1
        used = 1
        free = -1
        head[0] = 0
        pending = 1
        bucket = 0
        found = 0  # targets scanned: final once their bucket is done
        while pending > 0:
            slot = _U(bucket & mask)
            while head[slot] != -1:
                e = _U(head[slot])
                head[slot] = entry_next[e]
                entry_next[e] = free
                free = e
                pending -= 1
                u = _U(entry_node[e])
                du = dist[u]
                if du == scanned[u] or int(du * inverse) != bucket:
                    continue  # stale: u was scanned at this time, or moved to another bucket
                if scanned[u] == np.inf and target_column[u] >= 0:
                    found += 1
                scanned[u] = du
                for k in range(_U(indptr[u]), _U(indptr[u + _U(1)])):
                    v = _U(indices[k])
                    nd = du + weights[k]
                    if nd < dist[v] and nd <= limit:
                        if dist[v] == np.inf:
                            touched[n_touched] = v
                            n_touched += 1
                        dist[v] = nd
                        if free != -1:
                            f = _U(free)
                            free = entry_next[f]
                        elif used < capacity:
                            f = _U(used)
                            used += 1
                        else:  # out of entries: undo this search, let the caller retry
                            for t in range(n_touched):
                                dist[touched[t]] = np.inf
                                scanned[touched[t]] = np.inf
                            head[:] = -1
                            return s
                        target_slot = _U(int(nd * inverse) & mask)
                        entry_node[f] = v
                        entry_next[f] = head[target_slot]
                        head[target_slot] = f
                        pending += 1
            bucket += 1
            if found == n_targets and pending > 0:  # every target is final: stop early
                head[:] = -1
                break
        for t in range(n_touched):
            v = touched[t]
            col = target_column[v]
            if col >= 0:
                out[s, col] = dist[v]
            dist[v] = np.inf
            scanned[v] = np.inf
    return sources.size


def bucket_width(weights: np.ndarray) -> tuple[float, int]:
    """Bucket width ``Δ`` (minutes) and the number of bucket slots (a power of two)."""
    longest = float(weights.max()) if weights.size else 0.0
    if longest <= 0:
        return 1.0, 2
    delta = max(float(np.quantile(weights, _DELTA_QUANTILE)), longest / _MAX_BUCKETS)
    spans = int(longest / delta) + 2  # slots an edge can reach from the current bucket
    return delta, 1 << (spans - 1).bit_length()


@cache
def default_threads() -> int:
    """Threads used when none are asked for: one per core, at most 8.

    Cached: ``os.cpu_count()`` reads a file on Linux, which costs more than a small sum.
    """
    return max(1, min(os.cpu_count() or 1, 8))


def shortest_minutes(
    graph: sp.csr_array,
    sources: np.ndarray,
    targets: np.ndarray,
    limit: float = np.inf,
    *,
    threads: int = 1,
) -> np.ndarray:
    """Shortest-path minutes from each source node to each target node (dense, inf beyond).

    Parameters
    ----------
    graph
        Directed graph as CSR (``graph[u, v]`` = minutes of the edge u → v, all > 0).
    sources, targets
        Node positions; ``targets`` must not repeat.
    limit
        Largest minutes kept; farther targets stay inf.
    threads
        Threads sharing the sources (results do not depend on it).

    Returns
    -------
    numpy.ndarray
        (len(sources), len(targets)) minutes.
    """
    indptr = np.ascontiguousarray(graph.indptr, dtype=np.int64)
    indices = np.ascontiguousarray(graph.indices, dtype=np.int64)
    weights = np.ascontiguousarray(graph.data, dtype=np.float64)
    sources = np.ascontiguousarray(sources, dtype=np.int64)
    target_column = np.full(graph.shape[0], -1, dtype=np.int64)
    target_column[targets] = np.arange(targets.size)
    out = np.full((sources.size, targets.size), np.inf)
    if sources.size == 0 or targets.size == 0:
        return out
    delta, n_buckets = bucket_width(weights)
    args = (indptr, indices, weights)
    limit = float(limit)
    threads = max(1, min(int(threads), sources.size))
    if threads == 1:
        _search_rows(args, sources, target_column, limit, delta, n_buckets, out)
        return out
    # Many small blocks keep the threads busy to the end: searches differ in size.
    blocks = np.array_split(np.arange(sources.size), min(-(-sources.size // 8), 16 * threads))
    pool = thread_pool(threads)
    done = [
        pool.submit(_search_into, args, sources, rows, target_column, limit, delta, n_buckets, out)
        for rows in blocks
    ]
    for f in done:
        f.result()
    return out


@cache
def thread_pool(threads: int) -> ThreadPoolExecutor:
    """A pool of ``threads`` threads kept between calls, for the searches and the FCA sums.

    Starting threads costs about as much as a few small searches. Jobs on it never wait for
    one another, so callers may share it.
    """
    return ThreadPoolExecutor(threads, thread_name_prefix="accessplan")


# A forked child has none of its parent's threads: it starts pools of its own.
os.register_at_fork(after_in_child=thread_pool.cache_clear)


def _search_into(
    args: tuple[np.ndarray, np.ndarray, np.ndarray],
    sources: np.ndarray,
    rows: np.ndarray,
    target_column: np.ndarray,
    limit: float,
    delta: float,
    n_buckets: int,
    out: np.ndarray,
) -> None:
    """Search from ``sources[rows]`` into the rows ``rows`` (a contiguous range) of ``out``."""
    lo, hi = int(rows[0]), int(rows[-1]) + 1
    _search_rows(args, sources[lo:hi], target_column, limit, delta, n_buckets, out[lo:hi])


def _search_rows(
    args: tuple[np.ndarray, np.ndarray, np.ndarray],
    sources: np.ndarray,
    target_column: np.ndarray,
    limit: float,
    delta: float,
    n_buckets: int,
    out: np.ndarray,
    capacity: int | None = None,
) -> None:
    """:func:`_search_block` over all ``sources``, with more queue entries when one needs it.

    A node is queued once per drop of its time; with ``Δ`` near the shortest edge that is
    about once per edge, so the first capacity (default: edges + nodes) rarely needs to grow.
    """
    indptr, indices, _ = args
    n_targets = int(np.count_nonzero(target_column >= 0))
    if capacity is None:
        capacity = indices.size + indptr.size
    done = 0
    while done < sources.size:
        done += _search_block(
            *args,
            sources[done:],
            target_column,
            n_targets,
            limit,
            delta,
            n_buckets,
            capacity,
            out[done:],
        )
        capacity *= 2
