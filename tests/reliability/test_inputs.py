"""Bad inputs as users hand them over: every one ends in an InputError (or NetworkError) that
names the file, the column or row, and the argument that fixes it, never a raw library error."""

from __future__ import annotations

import re

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import SHARED_DATA, points_frame

from accessplan.errors import InputError, NetworkError
from accessplan.io import read_facilities, read_population, read_population_raster, read_roads
from accessplan.network import prepare_network, routing_graph

HSY_SUBSET = SHARED_DATA / "helsinki" / "hsy_pop2015_cells_intersecting_pyrosm_bbox_epsg3879.gpkg"


def utm_points_csv(path, *, columns=("lon", "lat")):
    """Three points near Moroni written as UTM 38S metres under lon/lat-like column names."""
    utm = points_frame(3).to_crs(32738)
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            columns[0]: utm.geometry.x,
            columns[1]: utm.geometry.y,
            "population": [1, 2, 3],
        }
    )
    frame.to_csv(path, index=False)
    return path


def three_node_graph(crs: str = "EPSG:4326", scale: float = 1.0) -> nx.MultiDiGraph:
    """A two-way path a - b - c with text node ids."""
    G = nx.MultiDiGraph(crs=crs)
    for node, (x, y) in {"a": (43.25, -11.70), "b": (43.26, -11.70), "c": (43.26, -11.71)}.items():
        G.add_node(node, x=x * scale, y=y * scale)
    for u, v, length in (("a", "b", 1090.0), ("b", "c", 1106.0)):
        for s, t in ((u, v), (v, u)):
            G.add_edge(s, t, length=length, highway="primary", oneway=False, maxspeed="50")
    return G


# ---------------------------------------------------------------------- coordinates and CRS
def test_projected_metres_in_lon_lat_columns_name_column_value_and_crs(tmp_path):
    path = utm_points_csv(tmp_path / "pop.csv")
    with pytest.raises(
        InputError,
        match=r"pop\.csv'?: column 'lon' holds 3\d{5}(\.\d+)? in row 1 .*cannot be degrees"
        r".*pass crs=",
    ):
        read_population(path, "population", id_col="id")


def test_projected_metres_in_facility_columns_name_crs(tmp_path):
    path = utm_points_csv(tmp_path / "fac.csv", columns=("x", "y"))
    with pytest.raises(InputError, match=r"column 'x' holds .* row 1 \(id 'a'\).*pass crs="):
        read_facilities(path, lon_col="x", lat_col="y", on_invalid="report")
    gdf = read_facilities(path, lon_col="x", lat_col="y", crs="EPSG:32738")
    assert gdf.crs.to_epsg() == 32738 and len(gdf) == 3


def test_polygons_in_metres_labelled_degrees_never_reach_the_utm_estimate():
    # geopandas.estimate_utm_crs raises "RuntimeError: Unable to determine UTM CRS" here.
    cells = gpd.GeoDataFrame(
        {"population": [10.0, 20.0]},
        geometry=[shapely.box(500_000, 8_700_000, 500_250, 8_700_250)] * 2,
        crs="EPSG:4326",
    )
    with pytest.raises(
        InputError, match=r"column x \(longitude\) holds 500250 .*CRS stored with the data is wrong"
    ):
        read_population(cells, "population")


def test_swapped_lon_lat_columns_are_named(tmp_path):
    path = tmp_path / "swapped.csv"
    pd.DataFrame({"lon": [-11.7, -11.8], "lat": [143.25, 143.3], "population": [1, 2]}).to_csv(
        path, index=False
    )
    with pytest.raises(InputError, match="look swapped: exchange lon_col= and lat_col="):
        read_population(path, "population")


def test_graph_in_metres_labelled_degrees_is_a_network_error(tmp_path):
    path = tmp_path / "metres.graphml"
    nx.write_graphml(three_node_graph(scale=100_000.0), path)
    with pytest.raises(NetworkError, match=r"metres\.graphml.*node 'a'.*cannot be degrees.*crs"):
        read_roads(path)


# ---------------------------------------------------------------------- files
def test_text_file_renamed_gpkg_is_named_with_the_fix(tmp_path):
    path = tmp_path / "zones.gpkg"
    path.write_text("id,population\n1,20\n")
    with pytest.raises(InputError, match=r"zones\.gpkg.*not a GeoPackage.*\.csv name"):
        read_population(path, "population")


def test_empty_population_layer_is_an_error(tmp_path):
    path = tmp_path / "empty.gpkg"
    gpd.GeoDataFrame({"population": []}, geometry=[], crs=4326).to_file(path)
    with pytest.raises(InputError, match=r"empty\.gpkg'? has no feature \(0 rows\)"):
        read_population(path, "population")


def test_population_of_zero_persons_is_an_error(tmp_path):
    path = tmp_path / "zero.gpkg"
    points_frame(3).assign(population=0.0).to_file(path)
    with pytest.raises(InputError, match=r"'population' sums to 0 persons over 3 row\(s\)"):
        read_population(path, "population")


def test_graphml_with_text_node_ids_can_be_routed(tmp_path):
    path = tmp_path / "text_ids.graphml"
    nx.write_graphml(three_node_graph(), path)
    G = read_roads(path)
    assert sorted(G.nodes) == [0, 1, 2]
    assert {d["source_id"] for _, d in G.nodes(data=True)} == {"a", "b", "c"}
    routing = routing_graph(prepare_network(G, "drive"))
    assert {0, 1, 2} <= set(routing.node_ids.tolist()) and routing.csr.nnz > 0


def test_graphml_with_numeric_text_ids_keeps_the_numbers(tmp_path):
    G = nx.relabel_nodes(three_node_graph(), {"a": "101", "b": "202", "c": "303"})
    path = tmp_path / "numbers.graphml"
    nx.write_graphml(G, path)
    assert sorted(read_roads(path).nodes) == [101, 202, 303]


@pytest.mark.parametrize("reader", ["population", "facilities", "roads", "raster"])
def test_folder_given_as_a_file(tmp_path, reader):
    (tmp_path / "pop.gpkg").mkdir()
    (tmp_path / "pop.gpkg" / "cells.gpkg").write_bytes(b"")
    folder = tmp_path / "pop.gpkg"
    with pytest.raises(InputError, match=r"pop\.gpkg'? is a folder.*file inside it"):
        if reader == "population":
            read_population(folder, "population")
        elif reader == "facilities":
            read_facilities(folder)
        elif reader == "raster":
            read_population_raster(folder)
        else:
            read_roads(folder)


@pytest.mark.parametrize("name", ["nothere.gpkg", "nothere.csv"])
def test_missing_file(tmp_path, name):
    with pytest.raises(InputError, match=re.escape(name) + "'? does not exist; check the path"):
        read_population(tmp_path / name, "population")


def test_missing_layer_lists_the_layers():
    with pytest.raises(
        InputError, match=r"no layer 'cells'.*layer= with one of \['pop2015_bbox'\]"
    ):
        read_population(HSY_SUBSET, "ASUKKAITA", layer="cells")


def test_csv_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("lon,lat,population,name\n43.25,-11.7,5,Mitsamiouli é\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1\.csv'? is not UTF-8 text.*save it as UTF-8"):
        read_population(path, "population")


def test_empty_csv(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputError, match=r"empty\.csv'? is empty"):
        read_facilities(path)


# ---------------------------------------------------------------------- columns and values
@pytest.mark.parametrize(
    ("columns", "missing", "match"),
    [(("longitude", "lat"), "lon", "longitude"), (("lon", "Latitude"), "lat", "Latitude")],
)
def test_missing_coordinate_column_names_the_close_match(tmp_path, columns, missing, match):
    path = tmp_path / "pop.csv"
    pd.DataFrame({columns[0]: [43.25], columns[1]: [-11.7], "population": [4]}).to_csv(
        path, index=False
    )
    with pytest.raises(
        InputError,
        match=rf"no coordinate column '{missing}'.*Did you mean '{match}'\? Pass "
        rf"{missing}_col='{match}'",
    ):
        read_population(path, "population")


def test_population_column_typo_names_the_close_match():
    with pytest.raises(InputError, match=r"no population column 'ASUKKAAT'.*'ASUKKAITA'"):
        read_population(HSY_SUBSET, "ASUKKAAT")


@pytest.mark.parametrize(
    ("value", "kind"), [("about 40", "non-numeric"), ("-3", "negative"), ("", "missing")]
)
def test_bad_population_value_names_the_row_by_the_users_id(tmp_path, value, kind):
    path = tmp_path / "pop.csv"
    path.write_text(f"cell,lon,lat,population\nC-1,43.25,-11.7,10\nC-2,43.26,-11.7,{value}\n")
    with pytest.raises(InputError, match=rf"{kind} population in row 2 \(id 'C-2'\)"):
        read_population(path, "population", id_col="cell")


def test_duplicate_ids_are_named_as_written(tmp_path):
    path = tmp_path / "pop.csv"
    path.write_text("cell,lon,lat,population\n7,43.25,-11.7,10\n7,43.26,-11.7,5\n")
    with pytest.raises(InputError, match=r"'cell' has duplicate ids \[7\] \(rows \[0, 1\]\)"):
        read_population(path, "population", id_col="cell")


def test_excluded_rows_of_every_kind_share_one_table():
    gdf = points_frame(4)
    gdf.loc[1, "geometry"] = None
    gdf.loc[2, "geometry"] = shapely.Point(43.27, 11.72)  # flipped latitude
    kept = read_facilities(
        gdf, on_invalid="report", study_area=(43.2, -11.8, 43.3, -11.6), study_area_margin=1000
    )
    excluded = kept.attrs["excluded"]
    assert kept["id"].tolist() == [1, 4]
    assert excluded["id"].tolist() == [2, 3]
    assert excluded["reason"][0] == "has no coordinates"
    assert excluded["reason"][1].startswith(
        "lies outside the study area: 2,579 km from the extent of the study area"
    )
    assert "latitude sign looks flipped" in excluded["reason"][1]
    assert excluded.loc[1, ["x", "y"]].tolist() == [43.27, 11.72]
    assert np.isnan(excluded.loc[0, "x"])
