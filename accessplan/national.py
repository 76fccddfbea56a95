"""Regions held as arrays, for national studies: roads, population cells and facilities.

:class:`RegionArrays` is :class:`accessplan.Region` without per-node and per-cell Python
objects: the roads as :class:`~accessplan.roads.RoadArrays`, the population and the sites as
:class:`~accessplan.points.Points`. Everything downstream takes them as they are:
``prepare_network(region.roads, mode)`` gives the routing graph, :func:`accessplan.travel_times`
routes the points, and the measures take ``region.population["population"]`` and the
facilities' capacities as Series.

* :func:`read_region_arrays` reads a country: an OSM PBF, a population raster and a facility
  file.
* :func:`synthetic_region_arrays` generates the region of :func:`accessplan.synthetic_region`
  (same seed, same streets, people and sites) without building a networkx graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj

from accessplan.points import Points
from accessplan.roads import RoadArrays, read_road_arrays

__all__ = ["RegionArrays", "read_region_arrays", "synthetic_region_arrays"]


@dataclass(eq=False)
class RegionArrays:
    """A study area as arrays.

    Attributes
    ----------
    name
        Short name.
    roads
        The road network of one mode.
    population
        Populated cells: ids and ``population`` (persons).
    facilities
        Existing facilities: ids and ``capacity`` (clinicians), plus any numeric columns.
    candidates
        Candidate sites, or None.
    cell_size
        Side of a population cell (CRS units of the population), or None.
    description
        One paragraph on the data.
    """

    name: str
    roads: RoadArrays
    population: Points
    facilities: Points
    candidates: Points | None = None
    cell_size: float | None = None
    description: str = ""

    def summary(self) -> pd.Series:
        """Counts: nodes, edges, cells, persons, facilities and candidates."""
        return pd.Series(
            {
                "name": self.name,
                "road_nodes": self.roads.n_nodes,
                "road_edges": self.roads.n_edges,
                "population_points": len(self.population),
                "population_total": float(self.population.values["population"].sum()),
                "facilities": len(self.facilities),
                "candidates": 0 if self.candidates is None else len(self.candidates),
            },
            dtype=object,
        )


def read_region_arrays(
    roads: str | Path,
    population: str | Path,
    facilities: str | Path,
    *,
    mode: str = "drive",
    aggregate: int = 1,
    bbox: tuple[float, float, float, float] | None = None,
    name: str | None = None,
    facility_columns: dict[str, Any] | None = None,
) -> RegionArrays:
    """A country from its files, as arrays.

    Parameters
    ----------
    roads
        OSM PBF (:func:`accessplan.roads.read_road_arrays`).
    population
        Population-count raster (:func:`accessplan.io.read_population_points`).
    facilities
        Facility file read by :func:`accessplan.io.read_facilities` (its ``id`` and
        ``capacity`` columns become the values).
    mode, aggregate, bbox
        Travel mode of the roads; cells summed per ``aggregate`` × ``aggregate`` block;
        optional (west, south, east, north) box in degrees.
    name
        Short name (default: the PBF's file name).
    facility_columns
        Keyword arguments for :func:`accessplan.io.read_facilities` naming the facility file's
        columns, e.g. ``{"lon_col": "Long", "lat_col": "Lat", "capacity_col": "beds"}``.
    """
    from accessplan.io import read_facilities, read_population_points

    sites = read_facilities(facilities, **(facility_columns or {}))
    return RegionArrays(
        name=name or Path(roads).name.split(".")[0],
        roads=read_road_arrays(roads, mode, bbox=bbox),
        population=read_population_points(population, aggregate=aggregate, bbox=bbox),
        facilities=Points.from_geodataframe(sites, "id", what="facilities"),
        description=f"Roads {roads}, population {population}, facilities {facilities}.",
    )


def synthetic_region_arrays(
    *,
    n_nodes: int = 2_500,
    n_origins: int = 1_000,
    n_facilities: int = 20,
    n_candidates: int = 0,
    seed: int = 0,
    spacing_m: float = 200.0,
    arterial_every: int = 10,
    jitter: float = 0.15,
    remove_share: float = 0.05,
    n_towns: int = 5,
    rural_share: float = 0.2,
    facility_capacity: tuple[float, float] = (2.0, 20.0),
) -> RegionArrays:
    """The region of :func:`accessplan.synthetic_region` with the same arguments, as arrays.

    The streets, cells and sites are the same (same seeds and draws); only the containers
    differ, so a million-node region takes seconds and a few hundred MiB.
    """
    from accessplan.regions import (
        _NGAZIDJA_UTM,
        _SYNTHETIC_ORIGIN,
        _grid_arrays,
        synthetic_people,
    )

    crs = pyproj.CRS.from_user_input(_NGAZIDJA_UTM)
    side, x, y, edges, arterial = _grid_arrays(
        n_nodes=n_nodes,
        spacing_m=spacing_m,
        arterial_every=arterial_every,
        jitter=jitter,
        remove_share=remove_share,
        seed=seed,
        origin=_SYNTHETIC_ORIGIN,
    )
    u, v = edges[:, 0], edges[:, 1]
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    highway = pd.Categorical.from_codes(
        np.concatenate([arterial, arterial]).astype(np.int8), ["residential", "primary"]
    )
    roads = RoadArrays(
        node_ids=np.arange(side * side, dtype=np.int64),
        x=x,
        y=y,
        crs=crs,
        u=np.concatenate([u, v]),
        v=np.concatenate([v, u]),
        length_m=np.concatenate([length, length]),
        highway=highway,
        maxspeed_kph=np.full(2 * u.size, np.nan),
        source=f"synthetic grid {side}x{side} seed {seed}",
    )
    people = synthetic_people(
        side=side,
        spacing_m=spacing_m,
        n_origins=n_origins,
        n_facilities=n_facilities,
        n_candidates=n_candidates,
        seed=seed,
        n_towns=n_towns,
        rural_share=rural_share,
        facility_capacity=facility_capacity,
        crs=_NGAZIDJA_UTM,
    )
    population = Points(
        pd.Index(people.ids),
        people.x,
        people.y,
        crs,
        {"population": people.persons},
        {"cell_size": (people.cell_size, people.cell_size)},
    )

    candidates = people.candidates
    return RegionArrays(
        name=f"synthetic-{side}x{side}-seed{seed}",
        roads=roads,
        population=population,
        facilities=Points.from_geodataframe(people.facilities, "id", what="facilities"),
        candidates=None
        if candidates is None
        else Points.from_geodataframe(candidates, "id", what="candidates"),
        cell_size=people.cell_size,
        description=(
            f"Synthetic {side}×{side} street grid ({spacing_m:g} m spacing), {n_origins} "
            f"populated {people.cell_size:g} m cells, {n_facilities} facilities, seed {seed}."
        ),
    )
