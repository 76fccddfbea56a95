"""Candidate generation: k-means centres, populated cells, spaced nodes, exclusion."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely import box, points

from accessplan.errors import InputError
from accessplan.optimize.candidates import (
    exclude_near,
    kmeans_candidates,
    network_node_candidates,
    populated_cell_candidates,
)

CRS = "EPSG:3067"


def _two_towns() -> gpd.GeoDataFrame:
    rng = np.random.default_rng(0)
    a = rng.normal([0, 0], 50, (40, 2))
    b = rng.normal([5000, 0], 50, (40, 2))
    pop = np.r_[np.full(40, 10.0), np.full(40, 30.0)]
    return gpd.GeoDataFrame({"population": pop}, geometry=points(np.r_[a, b]), crs=CRS)


def test_kmeans_finds_the_two_towns_and_is_seeded():
    pop = _two_towns()
    c1 = kmeans_candidates(pop, 2, seed=1)
    c2 = kmeans_candidates(pop, 2, seed=1)
    xs = np.sort(c1.geometry.x.to_numpy())
    assert xs[0] == pytest.approx(0, abs=40) and xs[1] == pytest.approx(5000, abs=40)
    assert c1.geometry.equals(c2.geometry) and c1["id"].is_unique


def test_kmeans_snaps_to_nearest_node():
    pop = _two_towns()
    nodes = gpd.GeoDataFrame(
        geometry=points([[10, 10], [4990, 0], [2500, 0]]), crs=CRS, index=[7, 8, 9]
    )
    out = kmeans_candidates(pop, 2, nodes=nodes)
    assert sorted(out["node"]) == [7, 8]
    assert (out["snap_metres"] < 60).all()


def test_populated_cells_above_threshold():
    cells = gpd.GeoDataFrame(
        {"population": [0.0, 5.0, 20.0]},
        geometry=[box(0, 0, 250, 250), box(250, 0, 500, 250), box(500, 0, 750, 250)],
        crs=CRS,
    )
    out = populated_cell_candidates(cells, min_population=5)
    assert out["population"].tolist() == [5.0, 20.0]
    assert out.geometry.x.tolist() == [375.0, 625.0]


def test_network_nodes_one_per_grid_square():
    xy = np.array([[10, 10], [490, 490], [260, 240], [1100, 50]])
    nodes = gpd.GeoDataFrame(geometry=points(xy), crs=CRS)
    out = network_node_candidates(nodes, 500)
    assert len(out) == 2  # squares (0,0) and (2,0)
    assert sorted(out["node"].tolist()) == [2, 3]  # (260,240) is nearest the first centre


def test_exclude_near_existing_facilities():
    cands = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=points([[0, 0], [1000, 0]]), crs=CRS)
    existing = gpd.GeoDataFrame(geometry=points([[100, 0]]), crs=CRS)
    assert exclude_near(cands, existing, 200)["id"].tolist() == ["b"]
    assert exclude_near(cands, existing, 50)["id"].tolist() == ["a", "b"]


def test_geographic_crs_is_rejected():
    pop = _two_towns().set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(InputError, match="projected CRS"):
        kmeans_candidates(pop, 2)
