"""TravelTimes object and the travel-time engine: analytic grids, networkx agreement, errors."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from accessplan.errors import InputError, NetworkError
from accessplan.network import prepare_network, routing_graph
from accessplan.snapping import snap_points
from accessplan.traveltimes import TravelTimes, align_values, travel_times

UTM = "EPSG:32738"


def grid_graph(n: int = 5, spacing: float = 100.0, highway: str = "residential") -> nx.MultiDiGraph:
    """An n × n two-way street grid in metres; node id = row * n + col."""
    G = nx.MultiDiGraph(crs=UTM)
    for r in range(n):
        for c in range(n):
            G.add_node(r * n + c, x=c * spacing, y=r * spacing)
    for r in range(n):
        for c in range(n):
            for dr, dc in ((0, 1), (1, 0)):
                r2, c2 = r + dr, c + dc
                if r2 < n and c2 < n:
                    a, b = r * n + c, r2 * n + c2
                    G.add_edge(a, b, length=spacing, highway=highway)
                    G.add_edge(b, a, length=spacing, highway=highway)
    return G


def points(xy: list[tuple[float, float]], ids: list, population: list | None = None):
    data = {"id": ids}
    if population is not None:
        data["population"] = population
    return gpd.GeoDataFrame(
        data, geometry=gpd.points_from_xy([p[0] for p in xy], [p[1] for p in xy]), crs=UTM
    )


@pytest.fixture
def walk_grid() -> nx.MultiDiGraph:
    # 6 km/h = 100 m/min: each 100 m block takes exactly one minute.
    return prepare_network(grid_graph(), "walk", speeds=6.0)


# ------------------------------------------------------------------------ the object
def test_from_long_keeps_zero_minutes_and_unreachable_pairs_absent():
    df = pd.DataFrame(
        {"origin": ["a", "a", "b"], "destination": [1, 2, 1], "minutes": [0.0, 5.0, np.inf]}
    )
    tt = TravelTimes.from_long(df, origin_ids=["a", "b", "c"])
    assert tt.shape == (3, 2)
    assert tt.nnz == 2
    dense = tt.to_dense()
    assert dense[0, 0] == 0.0 and dense[0, 1] == 5.0
    assert np.isinf(dense[1]).all() and np.isinf(dense[2]).all()
    assert tt.reachable().toarray().tolist() == [[True, True], [False, False], [False, False]]


def test_to_long_round_trips_through_from_long():
    rng = np.random.default_rng(1)
    arr = rng.uniform(0, 50, (7, 4))
    arr[arr > 40] = np.inf
    arr[0, 0] = 0.0
    tt = TravelTimes.from_dense(arr, list("abcdefg"), [10, 20, 30, 40])
    back = TravelTimes.from_long(
        tt.to_long(), origin_ids=tt.origin_ids, destination_ids=tt.destination_ids
    )
    assert back.equals(tt)
    np.testing.assert_array_equal(back.to_dense(), arr)


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_save_load_round_trip_keeps_ids_zeros_and_cutoff(tmp_path, suffix):
    arr = np.array([[0.0, 12.5, np.inf], [3.0, np.inf, np.inf]])
    tt = TravelTimes.from_dense(arr, ["o1", "o2"], ["d1", "d2", "d3"], cutoff=30)
    loaded = TravelTimes.load(tt.save(tmp_path / f"tt{suffix}"))
    assert loaded.equals(tt)
    assert loaded.cutoff == 30
    assert list(loaded.destination_ids) == ["d1", "d2", "d3"]


def test_load_truncated_file_names_the_file(tmp_path):
    tt = TravelTimes.from_dense(np.ones((3, 3)), [1, 2, 3], [1, 2, 3])
    path = tt.save(tmp_path / "tt.npz")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(InputError, match=r"tt\.npz"):
        TravelTimes.load(path)


def test_matrix_is_held_with_32_bit_positions_and_the_same_values():
    rng = np.random.default_rng(3)
    rows, cols = rng.integers(0, 40, 300), rng.integers(0, 25, 300)
    wide = sp.csr_array(
        (rng.uniform(0, 90, 300), (rows.astype(np.int64), cols.astype(np.int64))), shape=(40, 25)
    )
    wide.indices, wide.indptr = wide.indices.astype(np.int64), wide.indptr.astype(np.int64)
    tt = TravelTimes(wide, range(40), range(25), cutoff=60.0)
    assert tt.matrix.indices.dtype == np.int32 and tt.matrix.indptr.dtype == np.int32
    expected = wide.toarray()
    expected[expected > 60.0] = 0.0
    np.testing.assert_array_equal(tt.matrix.toarray(), expected)
    again = TravelTimes(tt.matrix, tt.origin_ids, tt.destination_ids)
    assert np.shares_memory(again.matrix.indices, tt.matrix.indices)  # 32-bit already: no copy


def test_cutoff_drops_longer_pairs_and_within_narrows():
    tt = TravelTimes.from_dense(np.array([[5.0, 25.0, 45.0]]), ["o"], ["a", "b", "c"], cutoff=30)
    assert tt.nnz == 2
    assert tt.within(10).to_long()["destination"].tolist() == ["a"]
    assert tt.within(10).cutoff == 10


def test_subset_and_join_destinations():
    tt = TravelTimes.from_dense(np.array([[1.0, 2.0], [3.0, 4.0]]), ["x", "y"], ["a", "b"])
    sub = tt.subset(origins=["y"], destinations=["b"])
    assert sub.to_dense().tolist() == [[4.0]]
    new = TravelTimes.from_dense(np.array([[9.0], [0.0]]), ["x", "y"], ["new"])
    joined = tt.join_destinations(new)
    assert list(joined.destination_ids) == ["a", "b", "new"]
    assert joined.to_dense()[1, 2] == 0.0
    with pytest.raises(InputError, match="appear in both"):
        tt.join_destinations(tt)


@pytest.mark.parametrize(
    ("df", "message"),
    [
        (pd.DataFrame({"origin": [1], "destination": [1]}), "no column 'minutes'"),
        (pd.DataFrame({"origin": [1], "destination": [1], "minutes": [-2.0]}), "negative"),
        (
            pd.DataFrame({"origin": [1, 1], "destination": [2, 2], "minutes": [1.0, 2.0]}),
            "repeats the pair",
        ),
    ],
)
def test_from_long_rejects_bad_tables(df, message):
    with pytest.raises(InputError, match=message):
        TravelTimes.from_long(df)


def test_from_long_rejects_ids_outside_the_given_lists():
    df = pd.DataFrame({"origin": ["a", "zz"], "destination": [1, 1], "minutes": [1.0, 2.0]})
    with pytest.raises(InputError, match="'zz' is not among the given origin ids"):
        TravelTimes.from_long(df, origin_ids=["a", "b"])


def test_duplicate_ids_and_shape_mismatch_are_rejected():
    with pytest.raises(InputError, match="not unique"):
        TravelTimes(sp.csr_array((2, 1)), ["a", "a"], ["d"])
    with pytest.raises(InputError, match="shape"):
        TravelTimes(sp.csr_array((2, 2)), ["a", "b"], ["d"])


def test_align_values_checks_ids_and_values():
    ids = pd.Index(["a", "b"])
    np.testing.assert_array_equal(align_values(pd.Series({"b": 2, "a": 1}), ids, "demand"), [1, 2])
    with pytest.raises(InputError, match="demand ids \\['c'\\]"):
        align_values(pd.Series({"a": 1, "b": 2, "c": 3}), ids, "demand")
    with pytest.raises(InputError, match="no value for ids \\['b'\\]"):
        align_values(pd.Series({"a": 1}), ids, "demand")
    with pytest.raises(InputError, match="negative"):
        align_values(pd.Series({"a": 1, "b": -1}), ids, "supply")
    with pytest.raises(InputError, match="NaN"):
        align_values(pd.Series({"a": 1, "b": np.nan}), ids, "supply")


# ------------------------------------------------------------------------ the engine
def test_grid_times_equal_manhattan_blocks(walk_grid):
    # Points exactly on nodes: time = number of blocks (1 minute each).
    origins = points([(0, 0), (200, 100), (400, 400)], ["o1", "o2", "o3"])
    dests = points([(0, 0), (400, 0)], ["d1", "d2"])
    tt = travel_times(walk_grid, origins, dests)
    expected = np.array([[0.0, 4.0], [3.0, 3.0], [8.0, 4.0]])
    np.testing.assert_allclose(tt.to_dense(), expected, atol=1e-9)
    assert tt.to_dense()[0, 0] == pytest.approx(0.0, abs=1e-9)
    assert tt.nnz == 6


def test_off_network_leg_is_walked_at_leg_speed(walk_grid):
    # 60 m off the network at 4.5 km/h (75 m/min) adds 0.8 minutes on top of the route.
    origins = points([(0, -60)], ["o"])
    dests = points([(200, 0)], ["d"])
    tt = travel_times(walk_grid, origins, dests, leg_speed_kph=4.5)
    assert tt.to_dense()[0, 0] == pytest.approx(2.0 + 0.8, abs=1e-9)


def test_cutoff_applies_to_the_total_including_legs(walk_grid):
    origins = points([(0, -75)], ["o"])  # one-minute leg at 4.5 km/h
    dests = points([(200, 0), (300, 0)], ["near", "far"])
    tt = travel_times(walk_grid, origins, dests, cutoff=3.5)
    assert tt.to_long()["destination"].tolist() == ["near"]
    assert tt.to_long()["minutes"].iloc[0] == pytest.approx(3.0)


def test_points_too_far_are_kept_empty_and_counted(walk_grid):
    origins = points([(0, 0), (0, -5_000)], ["near", "sea"], population=[10, 25])
    dests = points([(100, 0)], ["d"])
    tt = travel_times(walk_grid, origins, dests, max_snap_m=500)
    assert list(tt.origin_ids) == ["near", "sea"]
    assert tt.to_dense()[1, 0] == np.inf
    diag = tt.diagnostics.loc["origins"]
    assert diag["too_far"] == 1 and diag["too_far_persons"] == 25
    assert diag["snapped"] == 1 and diag["snapped_persons"] == 10


def test_unreachable_within_cutoff_is_counted(walk_grid):
    origins = points([(0, 0), (400, 400)], ["a", "b"], population=[1, 7])
    dests = points([(0, 0)], ["d"])
    tt = travel_times(walk_grid, origins, dests, cutoff=5)
    diag = tt.diagnostics.loc["origins"]
    assert diag["unreachable"] == 1 and diag["unreachable_persons"] == 7


def test_oneway_edges_are_respected():
    G = grid_graph(n=2)
    G.remove_edge(1, 0)  # 0 -> 1 only; the way back goes round the block
    H = prepare_network(G, "walk", speeds=6.0)
    o = points([(100, 0)], ["at1"])
    d = points([(0, 0)], ["at0"])
    assert travel_times(H, o, d).to_dense()[0, 0] == pytest.approx(3.0)
    assert travel_times(H, d, o).to_dense()[0, 0] == pytest.approx(1.0)


def test_search_direction_does_not_change_results(walk_grid):
    rng = np.random.default_rng(3)
    many = points([tuple(p) for p in rng.uniform(-30, 430, (40, 2))], list(range(40)))
    few = points([tuple(p) for p in rng.uniform(-30, 430, (3, 2))], ["x", "y", "z"])
    forward = travel_times(walk_grid, few, many)  # fewer origins: forward search
    backward = travel_times(walk_grid, many, few)  # fewer destinations: reversed graph
    np.testing.assert_allclose(forward.to_dense(), backward.to_dense().T, atol=1e-9)


def test_engine_agrees_with_networkx_dijkstra_on_random_graph():
    rng = np.random.default_rng(7)
    G = nx.gnm_random_graph(300, 1200, seed=7, directed=True)
    H = nx.MultiDiGraph(crs=UTM)
    for n in G.nodes:
        H.add_node(n, x=float(rng.uniform(0, 5000)), y=float(rng.uniform(0, 5000)))
    for u, v in G.edges:
        H.add_edge(u, v, length=float(rng.uniform(50, 900)), highway="tertiary")
    R = prepare_network(H, "drive")
    origins = points([tuple(p) for p in rng.uniform(0, 5000, (60, 2))], list(range(60)))
    dests = points([tuple(p) for p in rng.uniform(0, 5000, (9, 2))], list("abcdefghi"))
    tt = travel_times(R, origins, dests, cutoff=12.0)
    routing = routing_graph(R)
    so, sd = snap_points(origins, routing), snap_points(dests, routing)
    rev = R.reverse(copy=False)
    expected = np.full(tt.shape, np.inf)
    for j in range(len(dests)):
        lengths = nx.single_source_dijkstra_path_length(
            rev, routing.node_ids[sd.node[j]], weight="minutes"
        )
        for i in range(len(origins)):
            net = lengths.get(routing.node_ids[so.node[i]], np.inf)
            total = so.leg_minutes[i] + net + sd.leg_minutes[j]
            if total <= 12.0:
                expected[i, j] = total
    got = tt.to_dense()
    assert np.array_equal(np.isfinite(got), np.isfinite(expected))
    finite = np.isfinite(expected)
    assert np.abs(got[finite] - expected[finite]).max() < 1e-6


def test_cache_reuses_identical_inputs(walk_grid, tmp_path):
    o = points([(0, 0), (100, 100)], ["a", "b"])
    d = points([(400, 400)], ["d"])
    first = travel_times(walk_grid, o, d, cache=True, cache_dir=tmp_path)
    files = list((tmp_path / "traveltimes").glob("*.npz"))
    assert len(files) == 1
    second = travel_times(walk_grid, o, d, cache=True, cache_dir=tmp_path)
    assert second.equals(first)
    third = travel_times(walk_grid, o, d, cutoff=5, cache=True, cache_dir=tmp_path)
    assert len(list((tmp_path / "traveltimes").glob("*.npz"))) == 2
    assert third.nnz == 0


def test_engine_rejects_unprepared_network_and_bad_points(walk_grid):
    raw = grid_graph()
    o = points([(0, 0)], ["a"])
    with pytest.raises(NetworkError, match="prepare_network"):
        travel_times(raw, o, o)
    no_crs = gpd.GeoDataFrame({"id": [1]}, geometry=gpd.points_from_xy([0], [0]))
    with pytest.raises(InputError, match="no CRS"):
        travel_times(walk_grid, no_crs, o)
    poly = gpd.GeoDataFrame({"id": [1]}, geometry=[o.geometry[0].buffer(5)], crs=UTM)
    with pytest.raises(InputError, match="not a point"):
        travel_times(walk_grid, poly, o)
    for hole in (None, o.geometry[0].buffer(5).centroid.buffer(-10)):  # missing, then empty
        gap = gpd.GeoDataFrame({"id": [1, 2]}, geometry=[o.geometry[0], hole], crs=UTM)
        with pytest.raises(InputError, match="row 1 has an empty geometry"):
            travel_times(walk_grid, gap, o)
    dup = points([(0, 0), (1, 1)], ["a", "a"])
    with pytest.raises(InputError, match="not unique"):
        travel_times(walk_grid, dup, o)
    with pytest.raises(InputError, match="cutoff"):
        travel_times(walk_grid, o, o, cutoff=0)


def random_points(rng, n, lo=-30, hi=430, prefix="p"):
    return points(
        [tuple(p) for p in rng.uniform(lo, hi, (n, 2))], [f"{prefix}{i}" for i in range(n)]
    )


def test_search_threads_and_blocks_give_identical_results(walk_grid):
    rng = np.random.default_rng(11)
    origins, dests = random_points(rng, 60, prefix="o"), random_points(rng, 25, prefix="d")
    one = travel_times(walk_grid, origins, dests, cutoff=6, workers=1)
    two = travel_times(walk_grid, origins, dests, cutoff=6, workers=2, chunk_mib=1e-4)
    assert two.equals(one)
    with pytest.raises(InputError, match="workers"):
        travel_times(walk_grid, origins, dests, workers=0)


def test_result_reports_the_seconds_of_each_stage(walk_grid):
    rng = np.random.default_rng(12)
    origins, dests = random_points(rng, 30, prefix="o"), random_points(rng, 5, prefix="d")
    tt = travel_times(walk_grid, origins, dests, cutoff=6)
    assert set(tt.timings) == {"snap", "search", "assemble"}
    assert all(seconds >= 0 for seconds in tt.timings.values())
    assert TravelTimes.from_dense(np.zeros((1, 1)), ["a"], ["b"]).timings == {}


def test_sparse_expansion_paths_match_the_dense_one(walk_grid, monkeypatch):
    import accessplan.traveltimes as engine

    rng = np.random.default_rng(12)
    origins, dests = random_points(rng, 50, prefix="o"), random_points(rng, 20, prefix="d")
    origins = pd.concat([origins, points([(0, 0)], ["at-node"])], ignore_index=True)
    dests = pd.concat([dests, points([(0, 0)], ["same-node"])], ignore_index=True)
    dense = travel_times(walk_grid, origins, dests, cutoff=5)
    assert dense.to_dense()[-1, -1] == 0.0
    monkeypatch.setattr(engine, "_DENSE_PAIRS", 0)
    sparse_points = travel_times(walk_grid, origins, dests, cutoff=5)
    monkeypatch.setattr(engine, "_DENSE_NODE_PAIRS", 0)
    sparse_nodes = travel_times(walk_grid, origins, dests, cutoff=5)
    for other in (sparse_points, sparse_nodes):
        assert other.nnz == dense.nnz
        np.testing.assert_allclose(other.to_dense(), dense.to_dense(), atol=1e-12)
    assert sparse_nodes.to_dense()[-1, -1] == 0.0


@pytest.mark.parametrize("cutoff", [None, 7.5])
def test_dense_expansion_equals_the_array_formula(cutoff):
    from accessplan._point_pairs import PointNodes, expand_dense

    rng = np.random.default_rng(21)
    node_minutes = rng.uniform(0, 10, (4, 3))
    node_minutes[1, 2] = node_minutes[3, 0] = np.inf  # unreachable node pairs
    o_ok = np.array([1, 2, 4, 5, 7])  # origins 0, 3, 6 and 8 did not snap
    d_ok = np.array([0, 2, 3, 5])
    o_inv, d_inv = rng.integers(0, 4, o_ok.size), np.array([0, 2, 1, 2])
    o_leg, d_leg = rng.uniform(0, 2, 9), rng.uniform(0, 2, 6)
    origins, destinations = PointNodes(o_ok, o_inv, o_leg), PointNodes(d_ok, d_inv, d_leg)
    got = expand_dense(node_minutes, origins, destinations, cutoff, (9, 6))
    total = np.full((9, 6), np.inf)
    total[np.ix_(o_ok, d_ok)] = (node_minutes[np.ix_(o_inv, d_inv)] + o_leg[o_ok, None]) + d_leg[
        d_ok
    ]
    keep = np.isfinite(total) & (total <= (np.inf if cutoff is None else cutoff))
    assert got.has_canonical_format and got.indices.dtype == np.int32
    np.testing.assert_array_equal(got.toarray() != 0, keep & (total != 0))
    rows, cols = np.nonzero(keep)
    np.testing.assert_array_equal(got[rows, cols], total[rows, cols])
    assert got.nnz == keep.sum()


# ------------------------------------------------------------------------ several networks
def three_islands() -> nx.MultiDiGraph:
    """Three random street networks 30 km apart (ids 0-, 1000-, 2000-) and a 2-node islet."""
    rng = np.random.default_rng(17)
    H = nx.MultiDiGraph(crs=UTM)
    for island, (n, m) in enumerate(((120, 420), (80, 300), (60, 220))):
        base, x0 = 1000 * island, 30_000.0 * island
        G = nx.gnm_random_graph(n, m, seed=island, directed=True)
        for v in G.nodes:
            H.add_node(base + v, x=x0 + float(rng.uniform(0, 3000)), y=float(rng.uniform(0, 3000)))
        for u, v in G.edges:
            H.add_edge(base + u, base + v, length=float(rng.uniform(50, 600)), highway="tertiary")
    H.add_node(9000, x=15_000.0, y=0.0)
    H.add_node(9001, x=15_100.0, y=0.0)
    for u, v in ((9000, 9001), (9001, 9000)):
        H.add_edge(u, v, length=100.0, highway="tertiary")
    return H


def island_points(rng, n: int, prefix: str, islands=(0, 1, 2)) -> gpd.GeoDataFrame:
    island = rng.choice(list(islands), n)
    xy = [
        (30_000.0 * k + x, y)
        for k, (x, y) in zip(island, rng.uniform(0, 3000, (n, 2)), strict=True)
    ]
    return points(xy, [f"{prefix}{i}" for i in range(n)])


def test_three_islands_agree_with_networkx_on_each_and_never_cross():
    R = prepare_network(three_islands(), "drive", max_edge_m=None)
    assert R.graph["accessplan"]["components"] >= 3 and 9000 not in R
    rng = np.random.default_rng(18)
    origins = island_points(rng, 70, "o")
    dests = island_points(rng, 12, "d", islands=(0, 1))  # island 2 has no facility
    tt = travel_times(R, origins, dests, cutoff=15.0)
    routing = routing_graph(R)
    so, sd = snap_points(origins, routing), snap_points(dests, routing)
    comp = nx.get_node_attributes(R, "component")
    o_comp = [comp[routing.node_ids[k]] for k in so.node]
    d_comp = [comp[routing.node_ids[k]] for k in sd.node]
    assert tt.origin_components.tolist() == o_comp
    assert tt.destination_components.tolist() == d_comp
    rev = R.reverse(copy=False)
    expected = np.full(tt.shape, np.inf)
    for j in range(len(dests)):
        lengths = nx.single_source_dijkstra_path_length(
            rev, routing.node_ids[sd.node[j]], weight="minutes"
        )
        for i in range(len(origins)):
            total = so.leg_minutes[i] + lengths.get(routing.node_ids[so.node[i]], np.inf)
            if total + sd.leg_minutes[j] <= 15.0:
                expected[i, j] = total + sd.leg_minutes[j]
    got = tt.to_dense()
    assert np.array_equal(np.isfinite(got), np.isfinite(expected))
    finite = np.isfinite(expected)
    assert finite.sum() > 50
    assert np.abs(got[finite] - expected[finite]).max() < 1e-6
    # Points on different islands never reach each other.
    island = np.floor(np.c_[origins.geometry.x] / 30_000.0)
    d_island = np.floor(dests.geometry.x.to_numpy() / 30_000.0)
    assert not np.isfinite(got[island != d_island[None, :]]).any()


def test_components_survive_subset_join_within_and_save_load(tmp_path, walk_grid):
    o = points([(0, 0), (0, -5_000), (400, 400)], ["a", "sea", "c"])
    d = points([(100, 0), (300, 300)], [1, 2])
    tt = travel_times(walk_grid, o, d, max_snap_m=500)
    assert tt.origin_components.tolist() == [0, pd.NA, 0]
    assert tt.origin_components.dtype == "Int64"
    assert tt.component_nodes.tolist() == [25]
    sub = tt.subset(origins=["c", "sea"], destinations=[2])
    assert sub.origin_components.tolist() == [0, pd.NA]
    assert list(sub.destination_components.index) == [2]
    new = TravelTimes.from_dense(np.ones((3, 1)), tt.origin_ids, ["new"])  # no components
    joined = tt.join_destinations(new)
    assert joined.origin_components.tolist() == [0, pd.NA, 0]
    assert joined.destination_components.tolist() == [0, 0, 0]
    assert tt.within(5).origin_components.tolist() == [0, pd.NA, 0]
    for suffix in (".npz", ".parquet"):
        back = TravelTimes.load(tt.save(tmp_path / f"tt{suffix}"))
        for got, want in (
            (back.origin_components, tt.origin_components),
            (back.destination_components, tt.destination_components),
            (back.component_nodes, tt.component_nodes),
        ):
            pd.testing.assert_series_equal(got, want, check_index_type=True, check_names=False)


def test_without_components_everything_is_one_network():
    tt = TravelTimes.from_long(pd.DataFrame({"origin": [1], "destination": ["x"], "minutes": [2]}))
    assert tt.origin_components.tolist() == [0]
    assert tt.destination_components.tolist() == [0]
    assert tt.component_nodes is None
    with pytest.raises(InputError, match="whole numbers"):
        TravelTimes.from_dense(np.ones((1, 1)), ["a"], ["b"], origin_components=["one"])
    with pytest.raises(InputError, match="no value for ids"):
        TravelTimes.from_dense(
            np.ones((2, 1)), ["a", "b"], ["x"], origin_components=pd.Series({"a": 0})
        )


def test_a_point_between_two_nodes_at_one_spot_snaps_to_the_smaller_id():
    for order in ((7, 3), (3, 7)):
        G = nx.MultiDiGraph(crs=UTM)
        for n in order:  # two nodes at the same spot, listed in either order
            G.add_node(n, x=0.0, y=0.0)
        G.add_node(5, x=100.0, y=0.0)
        for u in (3, 7):
            G.add_edge(u, 5, length=100.0, highway="residential")
            G.add_edge(5, u, length=100.0, highway="residential")
        routing = routing_graph(prepare_network(G, "walk", max_edge_m=None))
        snapped = snap_points(points([(0, -50)], ["p"]), routing)
        assert routing.node_ids[snapped.node[0]] == 3
