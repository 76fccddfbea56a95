"""Reliability of travel times: no silent coercion, no silent truncation, no stale caches.

Each case here once gave a plausible-looking wrong answer without a word: minutes written
"12 min" read as unreachable, float ids written back as strings, a catchment beyond the cutoff
silently cut to the cutoff, travel times from a graph edited after it was routed once.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest

from accessplan import measures
from accessplan.errors import InputError
from accessplan.network import prepare_network, routing_graph
from accessplan.traveltimes import TravelTimes, travel_times

UTM = "EPSG:32738"


def line_network() -> nx.MultiDiGraph:
    """Three nodes 100 m apart on a two-way street, walked at 6 km/h: one minute a block."""
    G = nx.MultiDiGraph(crs=UTM)
    for n in range(3):
        G.add_node(n, x=100.0 * n, y=0.0)
    for u, v in ((0, 1), (1, 2)):
        G.add_edge(u, v, length=100.0, highway="residential")
        G.add_edge(v, u, length=100.0, highway="residential")
    return prepare_network(G, "walk", speeds=6.0, max_edge_m=None, min_component_nodes=1)


def points(xs: list[float], ids: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": ids}, geometry=gpd.points_from_xy(xs, [0.0] * len(xs)), crs=UTM)


# ------------------------------------------------------------------ no silent coercion
@pytest.mark.parametrize("bad", ["12 min", np.nan, None])
def test_from_long_rejects_minutes_that_are_not_numbers(bad):
    df = pd.DataFrame(
        {"origin": ["a", "b"], "destination": ["x", "x"], "minutes": [5.0, bad]},
        index=[10, 11],
    )
    with pytest.raises(InputError, match=r"column 'minutes'.*row 11"):
        TravelTimes.from_long(df)


def test_from_long_rejects_negative_minutes_and_repeated_pairs():
    df = pd.DataFrame({"origin": [1, 2], "destination": [1, 1], "minutes": [3.0, -1.0]})
    with pytest.raises(InputError, match="negative"):
        TravelTimes.from_long(df)
    dup = pd.DataFrame({"origin": [1, 1], "destination": [1, 1], "minutes": [3.0, np.inf]})
    with pytest.raises(InputError, match="repeats the pair"):
        TravelTimes.from_long(dup)


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
@pytest.mark.parametrize(
    ("origin_ids", "destination_ids"),
    [([3, 1, 2], [10, 20]), ([1.5, 2.5, 0.25], [7.0, 8.5]), (["o1", "o2", "o3"], ["d1", "2"])],
)
def test_ids_keep_their_type_through_save_and_load(tmp_path, suffix, origin_ids, destination_ids):
    arr = np.array([[0.0, 4.0], [np.inf, 2.5], [1.0, np.inf]])
    tt = TravelTimes.from_dense(arr, origin_ids, destination_ids, cutoff=30)
    back = TravelTimes.load(tt.save(tmp_path / f"tt{suffix}"))
    assert back.origin_ids.tolist() == origin_ids
    assert back.destination_ids.tolist() == destination_ids
    assert [type(i) for i in back.origin_ids.tolist()] == [type(i) for i in origin_ids]
    assert back.equals(tt)


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_integer_and_string_ids_together_keep_each_type(tmp_path, suffix):
    # Facilities numbered 26, 27 joined with candidate sites "site_001": a real mix.
    facilities = TravelTimes.from_dense(np.array([[3.0, np.inf]]), ["o"], [26, 27])
    sites = TravelTimes.from_dense(np.array([[5.0]]), ["o"], ["site_001"])
    both = facilities.join_destinations(sites)
    back = TravelTimes.load(both.save(tmp_path / f"tt{suffix}"))
    assert back.destination_ids.tolist() == [26, 27, "site_001"]
    assert [type(i) for i in back.destination_ids] == [int, int, str]
    assert back.equals(both)
    df = pd.DataFrame({"origin": [1, "a"], "destination": ["x", "x"], "minutes": [1.0, 2.0]})
    assert TravelTimes.from_long(df).origin_ids.tolist() == [1, "a"]  # sorted, no TypeError


@pytest.mark.parametrize("bad", [[(1, 2), (3, 4)], [True, False], [1, (2, 3)]])
def test_ids_that_are_not_numbers_or_strings_are_rejected_when_the_object_is_made(bad):
    with pytest.raises(InputError, match="origin ids must be integers, numbers or strings"):
        TravelTimes.from_dense(np.ones((2, 1)), bad, ["x"])


def test_a_graph_edited_after_routing_is_routed_again(tmp_path):
    G = line_network()
    o, d = points([0.0], ["o"]), points([200.0], ["d"])
    assert travel_times(G, o, d).to_dense()[0, 0] == pytest.approx(2.0)
    routing_graph(G)  # cached
    for key in G[1][2]:
        G[1][2][key]["minutes"] = 9.0  # same nodes, same edges: only the minutes changed
    assert travel_times(G, o, d).to_dense()[0, 0] == pytest.approx(10.0)
    cached = travel_times(G, o, d, cache=True, cache_dir=tmp_path)
    assert cached.to_dense()[0, 0] == pytest.approx(10.0)
    G.remove_edge(1, 2)
    G.add_edge(0, 2, length=100.0, highway="residential", minutes=1.0, speed_kph=6.0)
    again = travel_times(G, o, d, cache=True, cache_dir=tmp_path)
    assert again.to_dense()[0, 0] == pytest.approx(1.0)


# ------------------------------------------------------------------ no silent truncation
@pytest.fixture
def tt30() -> TravelTimes:
    minutes = np.array([[5.0, 25.0], [12.0, np.inf]])
    return TravelTimes.from_dense(minutes, ["a", "b"], ["x", "y"], cutoff=30)


SUPPLY = pd.Series({"x": 1.0, "y": 1.0})


def _fca(tt, value):
    return measures.two_step_fca(tt, 100.0, SUPPLY, standard=value)


def _gaussian(tt, value):
    return measures.gaussian_two_step_fca(tt, 100.0, SUPPLY, standard=value)


def _e2sfca(tt, value):
    return measures.enhanced_two_step_fca(tt, 100.0, SUPPLY, {value / 2: 1.0, value: 0.5})


def _cumulative(tt, value):
    return measures.cumulative(tt, supply=SUPPLY, standard=value)


def _coverage(tt, value):
    return measures.coverage(tt, demand=100.0, supply=None, standard=value)


def _capacity(tt, value):
    return measures.capacity_limited_coverage(tt, 100.0, SUPPLY * 500, standard=value)


def _within(tt, value):
    return tt.within(value)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (_fca, "standard"),
        (_gaussian, "standard"),
        (_e2sfca, "steps"),
        (_cumulative, "standard"),
        (_coverage, "standard"),
        (_capacity, "standard"),
        (_within, "minutes"),
    ],
)
def test_a_threshold_beyond_the_cutoff_is_an_error(tt30, call, name):
    with pytest.raises(InputError, match=rf"{name}.*45.*cutoff.*30.*cutoff >= 45"):
        call(tt30, 45.0)
    call(tt30, 30.0)  # at the cutoff: every stored pair counts, nothing was cut
