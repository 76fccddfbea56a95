"""The compiled many-source search against scipy's Dijkstra (an independent implementation)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from accessplan._shortest_paths import _search_rows, bucket_width, shortest_minutes


def random_graph(n: int, m: int, seed: int, low: float = 0.01, high: float = 5.0) -> sp.csr_array:
    """A random directed graph of ``n`` nodes and about ``m`` edges (minutes in [low, high))."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, n, m)
    cols = rng.integers(0, n, m)
    keep = rows != cols
    minutes = rng.uniform(low, high, keep.sum())
    g = sp.coo_array((minutes, (rows[keep], cols[keep])), shape=(n, n)).tocsr()
    g.sum_duplicates()
    return g


@pytest.mark.parametrize("limit", [np.inf, 3.0, 7.5])
@pytest.mark.parametrize("threads", [1, 2])
def test_search_matches_scipy_dijkstra(limit: float, threads: int) -> None:
    g = random_graph(400, 1600, seed=1)
    rng = np.random.default_rng(2)
    sources = rng.choice(400, 60, replace=False)
    targets = rng.choice(400, 150, replace=False)
    ours = shortest_minutes(g, sources, targets, limit, threads=threads)
    ref = dijkstra(g, directed=True, indices=sources, limit=limit)[:, targets]
    np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(ours[finite], ref[finite], rtol=0, atol=1e-9)


def test_search_with_edges_much_shorter_than_the_bucket_is_still_exact() -> None:
    # Most edges are far below Δ (the 5 % quantile is taken from the long ones), so nodes are
    # rescanned inside a bucket; the result must still be the shortest paths.
    g = random_graph(300, 2400, seed=5, low=0.001, high=0.01)
    long = random_graph(300, 2400, seed=6, low=5.0, high=10.0)
    g = (g + long).tocsr()
    sources = np.arange(0, 300, 7)
    targets = np.arange(300)
    ours = shortest_minutes(g, sources, targets)
    ref = dijkstra(g, directed=True, indices=sources)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)


def test_search_retries_with_more_queue_entries_when_it_runs_out() -> None:
    g = random_graph(200, 1200, seed=3)
    sources = np.arange(0, 200, 3, dtype=np.int64)
    targets = np.arange(200)
    column = np.arange(200, dtype=np.int64)
    delta, n_buckets = bucket_width(g.data)
    out = np.full((sources.size, targets.size), np.inf)
    args = (g.indptr.astype(np.int64), g.indices.astype(np.int64), g.data)
    _search_rows(args, sources, column, np.inf, delta, n_buckets, out, capacity=4)
    np.testing.assert_allclose(out, dijkstra(g, indices=sources), rtol=0, atol=1e-9)


def test_unreachable_targets_and_zero_length_searches() -> None:
    g = sp.csr_array(([1.0, 2.0], ([0, 1], [1, 2])), shape=(4, 4))
    out = shortest_minutes(g, np.array([0, 3]), np.array([2, 3, 0]))
    np.testing.assert_array_equal(out, [[3.0, np.inf, 0.0], [np.inf, 0.0, np.inf]])
    assert shortest_minutes(g, np.array([], dtype=int), np.array([1])).shape == (0, 1)
    empty = sp.csr_array((3, 3))
    np.testing.assert_array_equal(
        shortest_minutes(empty, np.array([0, 1]), np.array([0, 2])),
        [[0.0, np.inf], [np.inf, np.inf]],
    )


def test_bucket_width_bounds_the_number_of_buckets() -> None:
    weights = np.r_[np.full(100, 1e-12), 60.0]
    delta, n_buckets = bucket_width(weights)
    assert delta == pytest.approx(60.0 / 65_536)
    assert n_buckets == 2**17  # 65,538 slots needed, rounded up to a power of two
    delta, n_buckets = bucket_width(np.array([0.5, 1.0, 3.9]))
    assert n_buckets >= 3.9 / delta + 2 and n_buckets & (n_buckets - 1) == 0
    assert bucket_width(np.array([]))[1] == 2


def _threaded_search_in_child(queue, graph) -> None:
    queue.put(shortest_minutes(graph, np.arange(6), np.arange(graph.shape[0]), threads=2))


def test_a_forked_child_searches_on_threads_of_its_own(in_forked_child) -> None:
    graph = random_graph(40, 120, seed=4)
    expected = shortest_minutes(graph, np.arange(6), np.arange(40), threads=2)  # pool exists
    np.testing.assert_array_equal(in_forked_child(_threaded_search_in_child, graph), expected)


def test_search_across_disconnected_components_matches_scipy() -> None:
    # Three random graphs side by side (block diagonal): nothing crosses between blocks.
    blocks = [random_graph(n, 4 * n, seed=s) for n, s in ((120, 3), (80, 4), (50, 5))]
    g = sp.block_diag(blocks, format="csr")
    rng = np.random.default_rng(6)
    sources = rng.choice(250, 40, replace=False)
    targets = rng.choice(250, 90, replace=False)
    for limit in (np.inf, 4.0):
        ours = shortest_minutes(g, sources, targets, limit, threads=2)
        ref = dijkstra(g, directed=True, indices=sources, limit=limit)[:, targets]
        np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(ref))
        finite = np.isfinite(ref)
        np.testing.assert_allclose(ours[finite], ref[finite], rtol=0, atol=1e-9)
    block_of = np.repeat([0, 1, 2], [120, 80, 50])
    across = block_of[sources][:, None] != block_of[targets][None, :]
    assert np.isinf(ours[across]).all()
