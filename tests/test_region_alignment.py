"""The embedded population raster's georeferencing correction, checked against the roads."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from accessplan.network import prepare_network, routing_graph
from accessplan.regions import NGAZIDJA_POPULATION_OFFSET_PIXELS, load_region
from accessplan.snapping import projected_xy


def share_within(region, graph, metres: float) -> float:
    routing = routing_graph(graph)
    xy = projected_xy(region.population, routing.crs, "population")
    distance, _ = cKDTree(routing.xy).query(xy)
    persons = region.population["population"].to_numpy()
    return float(persons[distance <= metres].sum() / persons.sum())


def test_corrected_population_lies_along_the_roads(ngazidja):
    raw = load_region("ngazidja", correct_offset=False)
    graph = prepare_network(ngazidja.road_graph("drive"), "drive", max_edge_m=100)
    corrected_share = share_within(ngazidja, graph, 1_000)
    raw_share = share_within(raw, graph, 1_000)
    assert corrected_share > 0.72
    assert raw_share < 0.55
    assert corrected_share - raw_share > 0.2


def test_correction_moves_points_by_whole_pixels_and_keeps_ids_and_totals(ngazidja):
    raw = load_region("ngazidja", correct_offset=False)
    assert ngazidja.population["id"].tolist() == raw.population["id"].tolist()
    assert ngazidja.population["population"].sum() == raw.population["population"].sum()
    dx = ngazidja.population.geometry.x.to_numpy() - raw.population.geometry.x.to_numpy()
    dy = ngazidja.population.geometry.y.to_numpy() - raw.population.geometry.y.to_numpy()
    east, north = NGAZIDJA_POPULATION_OFFSET_PIXELS
    np.testing.assert_allclose(dx, east / 1200, atol=1e-9)
    np.testing.assert_allclose(dy, north / 1200, atol=1e-9)
