"""Reproduce the search for the embedded population raster's georeferencing offset.

Moves the uncorrected Ngazidja population by whole raster pixels and prints, for the best
shifts and for no shift, the share of persons within 300 m and 1 km of the OSM road network
(nodes every 50 m along the roads) and the persons within 1 km of the Ministry of Health
facilities. Run: ``.venv/bin/python data/check_population_offset.py`` (a few minutes).
"""

from __future__ import annotations

import numpy as np
import pyproj
from scipy.spatial import cKDTree

from accessplan.network import prepare_network
from accessplan.regions import load_region

PIXEL_DEG = 1 / 1200  # WorldPop 3 arc-second grid


def main() -> None:
    region = load_region("ngazidja", aggregate=1, correct_offset=False)
    persons = region.population["population"].to_numpy()
    graph = prepare_network(region.road_graph("walk"), "walk", max_edge_m=50)
    roads = cKDTree(np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)]))
    to_metres = pyproj.Transformer.from_crs("EPSG:4326", graph.graph["crs"], always_xy=True)
    fx, fy = to_metres.transform(region.facilities.geometry.x, region.facilities.geometry.y)
    facilities = cKDTree(np.column_stack([fx, fy]))
    lon = region.population.geometry.x.to_numpy()
    lat = region.population.geometry.y.to_numpy()

    def score(east: int, north: int) -> tuple[float, float, float, int, int]:
        x, y = to_metres.transform(lon + east * PIXEL_DEG, lat + north * PIXEL_DEG)
        xy = np.column_stack([x, y])
        distance, _ = roads.query(xy)
        near_facility = facilities.query_ball_point(xy, 1000, return_length=True) > 0
        return (
            persons[distance <= 1000].sum() / persons.sum(),
            persons[distance <= 300].sum() / persons.sum(),
            persons[near_facility].sum(),
            east,
            north,
        )

    # A coarse search over ±7 km, then every pixel around the best coarse shift.
    coarse = [score(e, n) for e in range(-60, 61, 6) for n in range(-72, 73, 6)]
    best = max(coarse)
    fine = [
        score(e, n)
        for e in range(best[3] - 5, best[3] + 6)
        for n in range(best[4] - 5, best[4] + 6)
    ]
    rows = [*coarse, *fine, score(0, 0)]
    rows.sort(reverse=True)
    print(
        "within 1 km of a road | within 300 m | persons within 1 km of a MoH facility"
        " | shift (east, north) pixels"
    )
    for row in rows[:5] + [r for r in rows if r[3] == 0 and r[4] == 0]:
        print(f"{row[0]:.3f} | {row[1]:.3f} | {row[2]:,.0f} | ({row[3]}, {row[4]})")


if __name__ == "__main__":
    main()
