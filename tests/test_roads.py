"""Road networks as arrays: the same routing as the networkx path, from a graph, a generator
or an OSM PBF; regions and population rasters as arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import accessplan as ap
from accessplan.errors import InputError, NetworkError
from accessplan.national import synthetic_region_arrays
from accessplan.roads import RoadArrays, prepare_road_arrays, read_road_arrays
from tests.conftest import SHARED_DATA

COMOROS = SHARED_DATA / "region" / "comoros"
PBF = COMOROS / "comores-latest.osm.pbf"
KW = {"n_nodes": 2_500, "n_origins": 900, "n_facilities": 30, "n_candidates": 10, "seed": 5}


@pytest.fixture(scope="module")
def region():
    return ap.synthetic_region(**KW)


@pytest.fixture(scope="module")
def arrays():
    return synthetic_region_arrays(**KW)


@pytest.mark.parametrize("mode", ["drive", "walk"])
def test_arrays_of_a_graph_route_exactly_like_the_graph(region, mode):
    graph = ap.prepare_network(region.roads, mode, max_edge_m=150)
    routing = ap.prepare_network(RoadArrays.from_graph(region.roads), mode, max_edge_m=150)
    info = dict(graph.graph["accessplan"])
    assert info["nodes_added_along_edges"] > 100  # long edges really split
    assert routing.info == info
    a = ap.travel_times(graph, region.population, region.facilities, cutoff=20)
    b = ap.travel_times(routing, region.population, region.facilities, cutoff=20)
    assert a.nnz > 1_000
    assert a.equals(b, atol=1e-9)


def test_generated_arrays_are_the_synthetic_region(region, arrays):
    graph = ap.prepare_network(region.roads, "drive")
    routing = ap.prepare_network(arrays.roads, "drive")
    assert routing.info == graph.graph["accessplan"]
    frame = ap.travel_times(graph, region.population, region.facilities, cutoff=25)
    array = ap.travel_times(routing, arrays.population, arrays.facilities, cutoff=25)
    assert frame.equals(array, atol=1e-9)
    assert list(arrays.candidates.ids) == list(region.candidates["id"])
    np.testing.assert_array_equal(
        arrays.population["population"].to_numpy(), region.population["population"].to_numpy()
    )
    summary = arrays.summary()
    assert summary["population_points"] == 900 and summary["candidates"] == 10


def test_fragments_are_dropped_and_components_labelled():
    # two 2x2 squares far apart plus a lone two-node fragment
    x = np.array([0, 100, 0, 100, 5000, 5100, 5000, 5100, 9000, 9100], dtype=float)
    y = np.array([0, 0, 100, 100, 0, 0, 100, 100, 0, 0], dtype=float)
    square = [(0, 1), (1, 3), (3, 2), (2, 0)]
    pairs = square + [(a + 4, b + 4) for a, b in square] + [(8, 9)]
    u = np.array([a for a, b in pairs] + [b for a, b in pairs])
    v = np.array([b for a, b in pairs] + [a for a, b in pairs])
    roads = RoadArrays(
        np.arange(10) + 100,
        x,
        y,
        "EPSG:32738",
        u,
        v,
        np.hypot(x[u] - x[v], y[u] - y[v]),
        pd.Categorical(["residential"] * u.size),
        np.full(u.size, np.nan),
    )
    routing = prepare_road_arrays(roads, "walk", min_component_nodes=3, max_edge_m=None)
    assert routing.info["components"] == 2 and routing.info["fragments_removed"] == 1
    assert routing.n_nodes == 8 and set(routing.node_ids) == set(range(100, 108))
    assert sorted(np.bincount(routing.component).tolist()) == [4, 4]
    with pytest.raises(InputError, match="max_edge_m"):
        prepare_road_arrays(roads, "walk", max_edge_m=0)
    with pytest.raises(InputError, match="u and v"):
        RoadArrays(
            np.arange(2),
            x[:2],
            y[:2],
            "EPSG:32738",
            u,
            v,
            roads.length_m,
            roads.highway,
            roads.maxspeed_kph,
        )


def test_posted_speeds_win_over_class_speeds():
    x, y = np.array([0.0, 1000.0]), np.array([0.0, 0.0])
    roads = RoadArrays(
        np.array([1, 2]),
        x,
        y,
        "EPSG:32738",
        np.array([0, 1]),
        np.array([1, 0]),
        np.array([1000.0, 1000.0]),
        pd.Categorical(["primary", "primary"]),
        np.array([60.0, np.nan]),
    )
    routing = prepare_road_arrays(roads, "drive", max_edge_m=None, min_component_nodes=1)
    assert routing.csr[0, 1] == pytest.approx(1.0)  # 1 km at the posted 60 km/h
    assert routing.csr[1, 0] == pytest.approx(60 / 55)  # primary default, 55 km/h


def test_comoros_pbf_as_arrays_matches_the_graph_path():
    roads = read_road_arrays(PBF, "drive")
    routing = ap.prepare_network(roads, "drive")
    graph = ap.prepare_network(ap.io.read_roads(PBF, "drive"), "drive")
    # every node of a way is a node here, so the three islands have more nodes than the
    # simplified graph's, in the same order (Ngazidja, Ndzuani, Mwali)
    sizes = routing.info["component_nodes"]
    assert len(sizes) >= 3 and sizes[:3] == sorted(sizes[:3], reverse=True)
    region = ap.load_region("ngazidja")
    kw = {"cutoff": 60, "max_snap_m": 5000}
    a = ap.travel_times(graph, region.population, region.facilities, **kw).to_dense()
    b = ap.travel_times(routing, region.population, region.facilities, **kw).to_dense()
    both = np.isfinite(a) & np.isfinite(b)
    assert both.sum() > 0.97 * np.isfinite(a).sum()
    diff = np.abs(a[both] - b[both])
    assert np.median(diff) < 1.0  # minutes
    assert np.quantile(diff, 0.9) < 3.0


def test_pbf_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_road_arrays(tmp_path / "none.osm.pbf")
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"not a pbf at all")
    with pytest.raises((InputError, NetworkError), match=r"bad\.osm\.pbf"):
        read_road_arrays(bad)


def test_population_points_equal_the_raster_frame():
    path = COMOROS / "ngazidja_ppp_2020_UNadj_clip.tif"
    frame = ap.io.read_population_raster(path, aggregate=3)
    points = ap.io.read_population_points(path, aggregate=3)
    assert list(points.ids) == list(frame["id"])
    np.testing.assert_array_equal(points["population"].to_numpy(), frame["population"])
    np.testing.assert_array_equal(points.x, frame.geometry.x.to_numpy())
    assert points.attrs["report"] == frame.attrs["report"]
    back = points.to_geodataframe()
    assert back.crs == frame.crs and len(back) == len(frame)


def test_a_country_reads_as_arrays_with_the_facility_files_columns():
    columns = {"lon_col": "Long", "lat_col": "Lat", "on_invalid": "report"}
    facilities = COMOROS / "comoros_who_kemri_public_health_facilities_2019.csv"
    raster = COMOROS / "ngazidja_ppp_2020_UNadj_clip.tif"
    region = ap.read_region_arrays(PBF, raster, facilities, facility_columns=columns)
    sites = ap.read_facilities(facilities, **columns)
    assert region.name == "comores-latest"
    assert list(region.facilities.ids) == list(sites["id"])
    np.testing.assert_array_equal(region.facilities["capacity"], sites["capacity"])
    cells = ap.io.read_population_raster(raster)
    summary = region.summary()
    assert summary["population_points"] == len(cells)
    assert summary["population_total"] == pytest.approx(cells["population"].sum())
    assert summary["road_nodes"] == read_road_arrays(PBF, "drive").n_nodes
    with pytest.raises(InputError, match="Long"):
        ap.read_region_arrays(PBF, raster, facilities)  # the file's longitude is 'Long'
