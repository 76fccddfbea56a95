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

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj

from accessplan.points import Points
from accessplan.roads import RoadArrays, read_road_arrays

__all__ = [
    "BlockAccess",
    "RegionArrays",
    "access_in_blocks",
    "read_region_arrays",
    "synthetic_region_arrays",
]


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


@dataclass
class BlockAccess:
    """Access of every origin, computed over blocks of facilities (:func:`access_in_blocks`).

    Attributes
    ----------
    table
        Per origin id: ``nearest_minutes`` (NaN: no facility within the cutoff),
        ``two_step_fca`` (supply units per person, 0 when none is in reach) and
        ``facilities_within`` (facilities within the cutoff).
    pairs
        Origin-facility pairs within the cutoff, over all blocks.
    blocks
        Facility blocks routed.
    seconds
        Wall-clock seconds of the ``"travel times"`` and the ``"measures"``.
    largest_block_pairs
        Pairs of the largest block (what was held in memory at once).
    """

    table: pd.DataFrame
    pairs: int
    blocks: int
    seconds: dict[str, float] = field(default_factory=dict)
    largest_block_pairs: int = 0


def access_in_blocks(
    network: Any,
    population: Points,
    facilities: Points,
    *,
    cutoff: float,
    standard: float | None = None,
    capacity: str = "capacity",
    block_facilities: int = 500,
    max_snap_m: float | None = None,
    progress: bool = False,
) -> BlockAccess:
    """Nearest facility, 2SFCA and facilities in reach without the whole matrix in memory.

    The travel times run for ``block_facilities`` facilities at a time and each block is
    reduced before the next: the nearest minutes are the minimum over the blocks (exactly
    :func:`accessplan.nearest` of the whole matrix), the 2SFCA is the sum over the blocks of
    :func:`accessplan.two_step_fca` (exact, since each facility's ratio reads only its own
    column; equal to the whole-matrix value up to the order of the floating-point sum). Memory
    is the graph, the points and one block's pairs (12 bytes each), whatever the cutoff.

    Parameters
    ----------
    network
        The routing graph (:func:`accessplan.prepare_network`).
    population
        Origins with a ``population`` value (persons).
    facilities
        Facilities with a ``capacity`` value (supply units, e.g. clinicians).
    cutoff
        Longest trip kept (minutes).
    standard
        Catchment of the 2SFCA (minutes); default the cutoff. Must not exceed it.
    capacity
        Name of the facilities' supply value.
    block_facilities
        Facilities per block (> 0).
    max_snap_m, progress
        As in :func:`accessplan.travel_times`.

    Returns
    -------
    BlockAccess
    """
    from accessplan.errors import InputError
    from accessplan.measures import nearest, two_step_fca
    from accessplan.traveltimes import travel_times

    standard = float(cutoff) if standard is None else float(standard)
    if standard > cutoff:
        raise InputError(
            f"standard is {standard:g} min but the cutoff is {cutoff:g} min; a catchment "
            "beyond the routed minutes would be cut silently. Raise the cutoff."
        )
    if int(block_facilities) < 1:
        raise InputError(f"block_facilities is {block_facilities}; give a positive count.")
    if capacity not in facilities.values:
        raise InputError(f"facilities have no {capacity!r} value; available: {facilities.columns}.")
    persons = population["population"]
    near = np.full(len(population), np.nan)
    access = np.zeros(len(population))
    within = np.zeros(len(population), dtype=np.int64)
    seconds = {"travel times": 0.0, "measures": 0.0}
    pairs = largest = 0
    starts = range(0, len(facilities), int(block_facilities))
    for lo in starts:
        block = facilities.subset(np.arange(lo, min(lo + int(block_facilities), len(facilities))))
        t0 = time.perf_counter()
        tt = travel_times(
            network, population, block, cutoff=cutoff, max_snap_m=max_snap_m, progress=progress
        )
        t1 = time.perf_counter()
        near = np.fmin(near, nearest(tt).to_numpy())
        access += two_step_fca(tt, persons, block[capacity], standard=standard).to_numpy()
        within += np.diff(tt.matrix.indptr)
        pairs += tt.matrix.nnz
        largest = max(largest, tt.matrix.nnz)
        del tt
        seconds["travel times"] += t1 - t0
        seconds["measures"] += time.perf_counter() - t1
    table = pd.DataFrame(
        {"nearest_minutes": near, "two_step_fca": access, "facilities_within": within},
        index=population.ids,
    )
    return BlockAccess(table, pairs, len(starts), seconds, largest)
