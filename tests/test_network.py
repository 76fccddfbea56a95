"""Network preparation: speeds per mode, minutes, projection, largest component, errors."""

from __future__ import annotations

import networkx as nx
import pyproj
import pytest

from accessplan.errors import InputError, NetworkError
from accessplan.network import (
    DEFAULT_DRIVE_SPEEDS_KPH,
    first_tag,
    prepare_network,
    routing_graph,
)


def line_graph(crs: str = "EPSG:32738", highway: str = "primary", **edge_attrs) -> nx.MultiDiGraph:
    G = nx.MultiDiGraph(crs=crs)
    G.add_node(1, x=0.0, y=0.0)
    G.add_node(2, x=1000.0, y=0.0)
    G.add_edge(1, 2, length=1000.0, highway=highway, **edge_attrs)
    G.add_edge(2, 1, length=1000.0, highway=highway, **edge_attrs)
    return G


def edge_minutes(G: nx.MultiDiGraph) -> list[float]:
    return sorted(d["minutes"] for _, _, d in G.edges(data=True))


def test_walk_and_bike_use_constant_speeds():
    assert edge_minutes(prepare_network(line_graph(), "walk", max_edge_m=None)) == pytest.approx(
        [1000 / 75] * 2
    )
    assert edge_minutes(
        prepare_network(line_graph(), "bike", max_edge_m=None, speeds=15)
    ) == pytest.approx([4.0] * 2)


def test_drive_uses_highway_class_defaults_and_overrides():
    G = prepare_network(line_graph(highway="primary"), "drive", max_edge_m=None)
    expected = 1000 / (DEFAULT_DRIVE_SPEEDS_KPH["primary"] * 1000 / 60)
    assert edge_minutes(G) == pytest.approx([expected] * 2)
    G2 = prepare_network(
        line_graph(highway="primary"), "drive", max_edge_m=None, speeds={"primary": 60}
    )
    assert edge_minutes(G2) == pytest.approx([1.0, 1.0])
    G3 = prepare_network(
        line_graph(highway="footway_like"), "drive", max_edge_m=None, speeds={"_fallback": 30}
    )
    assert edge_minutes(G3) == pytest.approx([2.0, 2.0])


def test_merged_highway_tags_take_the_first_class_also_as_graphml_text():
    expected = 1000 / (DEFAULT_DRIVE_SPEEDS_KPH["primary"] * 1000 / 60)
    for tag in (["primary", "residential"], "['primary', 'residential']"):
        G = prepare_network(line_graph(highway=tag), "drive", max_edge_m=None)
        assert edge_minutes(G) == pytest.approx([expected] * 2)
    assert first_tag([]) is None
    assert first_tag("[not a list") == "[not a list"
    assert first_tag(("trunk", "primary")) == "trunk"


def test_drive_prefers_maxspeed_tag_over_class_default():
    G = line_graph(highway="residential", maxspeed="60")
    H = prepare_network(G, "drive", max_edge_m=None)
    assert edge_minutes(H) == pytest.approx([1.0, 1.0])


def test_geographic_graph_is_projected_to_utm():
    G = nx.MultiDiGraph(crs="EPSG:4326")
    G.add_node(1, x=43.25, y=-11.70)
    G.add_node(2, x=43.26, y=-11.70)
    for u, v in ((1, 2), (2, 1)):
        G.add_edge(u, v, length=1090.0, highway="primary")
    H = prepare_network(G, "walk", max_edge_m=None)
    crs = pyproj.CRS.from_user_input(H.graph["crs"])
    assert crs.is_projected and "UTM zone 38S" in crs.name
    xs = sorted(d["x"] for _, d in H.nodes(data=True))
    assert xs[1] - xs[0] == pytest.approx(1090, rel=0.01)


def test_largest_strong_component_is_kept_and_counted():
    G = line_graph()
    G.add_node(3, x=5000.0, y=0.0)
    G.add_edge(2, 3, length=10.0, highway="primary")  # 3 can be reached but not left
    H = prepare_network(G, "walk", max_edge_m=None)
    assert set(H.nodes) == {1, 2}
    assert H.graph["accessplan"]["nodes_removed"] == 1


def test_routing_graph_keeps_fastest_parallel_edge():
    G = line_graph()
    G.add_edge(1, 2, length=500.0, highway="primary")
    R = routing_graph(prepare_network(G, "walk", max_edge_m=None, speeds=6.0))
    assert R.csr.nnz == 2
    assert sorted(R.csr.data.tolist()) == pytest.approx([5.0, 10.0])


@pytest.mark.parametrize(
    ("graph", "error", "message"),
    [
        (nx.MultiDiGraph(crs="EPSG:4326"), NetworkError, "no nodes"),
        (line_graph(crs=None), NetworkError, "no CRS"),
        (nx.DiGraph(), NetworkError, "MultiDiGraph"),
    ],
)
def test_bad_networks_are_rejected(graph, error, message):
    with pytest.raises(error, match=message):
        prepare_network(graph, "walk")


def test_edges_without_length_or_class_are_rejected():
    G = line_graph()
    del G.edges[1, 2, 0]["length"]
    with pytest.raises(NetworkError, match="lack 'length'"):
        prepare_network(G, "walk", max_edge_m=None)


def test_bad_mode_and_speeds_are_rejected():
    with pytest.raises(InputError, match="not a travel mode"):
        prepare_network(line_graph(), "fly")
    with pytest.raises(InputError, match="positive"):
        prepare_network(line_graph(), "walk", max_edge_m=None, speeds=0)
    with pytest.raises(InputError, match="positive"):
        prepare_network(line_graph(), "drive", max_edge_m=None, speeds={"primary": -5})
    with pytest.raises(InputError, match="not a projected"):
        prepare_network(line_graph(), "walk", max_edge_m=None, crs="EPSG:4326")


def test_long_edges_are_split_along_their_shape_and_share_nodes_both_ways():
    from shapely.geometry import LineString

    G = line_graph()
    bent = LineString([(0, 0), (500, 500), (1000, 0)])  # the road bends north
    for u, v in ((1, 2), (2, 1)):
        G.edges[u, v, 0]["geometry"] = bent if u == 1 else LineString(bent.coords[::-1])
    H = prepare_network(G, "walk", speeds=6.0, max_edge_m=300)
    assert H.graph["accessplan"]["nodes_added_along_edges"] == 3  # 4 pieces, shared both ways
    new = [n for n, d in H.nodes(data=True) if d.get("interpolated")]
    assert len(new) == 3
    assert max(H.nodes[n]["y"] for n in new) > 300  # placed on the bend, not the chord
    assert sum(d["minutes"] for u, v, d in H.edges(data=True)) == pytest.approx(20.0)
    assert nx.shortest_path_length(H, 1, 2, weight="minutes") == pytest.approx(10.0)
    assert nx.shortest_path_length(H, 2, 1, weight="minutes") == pytest.approx(10.0)


def test_max_edge_m_must_be_positive():
    with pytest.raises(InputError, match="max_edge_m"):
        prepare_network(line_graph(), "walk", max_edge_m=0)


def archipelago() -> nx.MultiDiGraph:
    """Three two-way rings of 30, 25 and 21 nodes far apart, a 2-node fragment, a dead end."""
    G = nx.MultiDiGraph(crs="EPSG:32738")
    for base, size, x0 in ((0, 30, 0.0), (100, 25, 50_000.0), (200, 21, 90_000.0)):
        for i in range(size):
            G.add_node(base + i, x=x0 + 100.0 * i, y=0.0)
        for i in range(size):
            u, v = base + i, base + (i + 1) % size
            G.add_edge(u, v, length=100.0, highway="residential")
            G.add_edge(v, u, length=100.0, highway="residential")
    G.add_node(300, x=20_000.0, y=0.0)
    G.add_node(301, x=20_100.0, y=0.0)
    G.add_edge(300, 301, length=100.0, highway="residential")
    G.add_edge(301, 300, length=100.0, highway="residential")
    G.add_node(400, x=-500.0, y=0.0)
    G.add_edge(0, 400, length=100.0, highway="residential")  # one-way dead end
    return G


def test_every_component_of_enough_nodes_is_kept_and_labelled():
    H = prepare_network(archipelago(), "walk", max_edge_m=None)
    info = H.graph["accessplan"]
    assert info["components"] == 3 and info["component_nodes"] == [30, 25, 21]
    assert info["fragments_removed"] == 2 and info["nodes_removed"] == 3
    assert info["min_component_nodes"] == 20
    assert 300 not in H and 400 not in H
    labels = nx.get_node_attributes(H, "component")
    assert {labels[n] for n in range(30)} == {0}
    assert {labels[n] for n in range(100, 125)} == {1}
    assert {labels[n] for n in range(200, 221)} == {2}
    # The routing graph numbers the components the same way (scipy, not networkx).
    R = routing_graph(H)
    assert [labels[n] for n in R.node_ids.tolist()] == R.component.tolist()
    assert R.component_nodes.tolist() == [30, 25, 21]


def test_min_component_nodes_and_largest_component_choose_what_is_kept():
    assert prepare_network(archipelago(), "walk", max_edge_m=None, min_component_nodes=2).graph[
        "accessplan"
    ]["component_nodes"] == [30, 25, 21, 2]
    only = prepare_network(archipelago(), "walk", max_edge_m=None, largest_component=True)
    assert only.graph["accessplan"]["component_nodes"] == [30]
    tiny = prepare_network(line_graph(), "walk", max_edge_m=None)  # 2 nodes: still kept
    assert tiny.graph["accessplan"]["component_nodes"] == [2]
    for bad in (0, 2.5, True):
        with pytest.raises(InputError, match="min_component_nodes"):
            prepare_network(archipelago(), "walk", max_edge_m=None, min_component_nodes=bad)


def test_routing_cache_follows_edits_of_the_graph():
    H = prepare_network(line_graph(), "walk", max_edge_m=None, speeds=6.0)
    first = routing_graph(H)
    assert routing_graph(H) is first  # unchanged: reused
    H.edges[1, 2, 0]["minutes"] = 3.0
    edited = routing_graph(H)
    assert edited is not first
    assert sorted(edited.csr.data.tolist()) == pytest.approx([3.0, 10.0])
    H.nodes[2]["x"] = 2000.0
    assert routing_graph(H).xy[:, 0].tolist() == [0.0, 2000.0]
