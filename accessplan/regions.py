# Over 600 lines: the embedded region's loader (with the data defects it repairs) and the seeded
# synthetic generator, both building the Region defined here.
"""Study regions: the embedded default region (Ngazidja) and a seeded synthetic generator.

A :class:`Region` bundles what a study needs: roads, population points, existing facilities,
a boundary and the attribution the data's licences require.

* :func:`load_region` loads the embedded region **Ngazidja (Grande Comore)** from the
  repository's ``data/`` folder: the OpenStreetMap road network, the WorldPop 2020 population
  (100 m, aggregated to ~500 m by default) and the Ministry of Health facility list (Maina et
  al. 2019). See ``data/README.md`` for sources, licences and the known defects the loader
  handles.
* :func:`synthetic_region` builds a street grid with arterials, clustered population and
  facilities of any size, deterministic for a seed; :func:`synthetic_graph` builds the grid
  alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
import shapely.affinity
from scipy.sparse.csgraph import minimum_spanning_tree
from shapely.geometry import MultiPolygon, Polygon, box

from accessplan.errors import InputError
from accessplan.io import read_facilities, read_population_raster, read_roads
from accessplan.network import check_mode

__all__ = [
    "NGAZIDJA_BBOX",
    "NGAZIDJA_TIER_CAPACITY",
    "Region",
    "data_dir",
    "load_region",
    "synthetic_graph",
    "synthetic_islands",
    "synthetic_region",
]

NGAZIDJA_BBOX: tuple[float, float, float, float] = (43.20, -11.97, 43.55, -11.33)
"""Ngazidja (Grande Comore) as (west, south, east, north), degrees longitude/latitude."""

NGAZIDJA_TIER_CAPACITY: dict[str, float] = {
    "Tier1 health post": 2.0,
    "Tier2 health center": 8.0,
    "Tier3 provincial hospital": 30.0,
    "Tier4 central hospital": 100.0,
}
"""ASSUMED capacity of a Ministry of Health facility per tier, in clinicians (full-time
equivalent doctors, nurses and midwives seeing patients).

The Ministry list gives tiers but no staffing, so these numbers are planning assumptions, not
data: a health post run by a nurse and an aide, a health centre with a small team, a provincial
hospital and the national referral hospital (El-Maarouf, Moroni). Override them with
``load_region("ngazidja", tier_capacity={...})``.
"""

OSM_AMENITY_CAPACITY: dict[str, float] = {"hospital": 20.0, "clinic": 4.0, "doctors": 1.0}
"""ASSUMED capacity (clinicians) of an OpenStreetMap health feature by its tag; OSM carries no
staffing either. Features tagged only ``healthcare=*`` count as ``clinic``."""

NGAZIDJA_ATTRIBUTION = (
    "Roads and OSM health facilities © OpenStreetMap contributors (ODbL 1.0), Geofabrik "
    "extract 2021-04-08. Population: WorldPop (www.worldpop.org), Global High Resolution "
    "Population Denominators Project, 2020 UN-adjusted, CC BY 4.0, doi:10.5258/SOTON/WP00645. "
    "Public health facilities: Maina et al. 2019, Sci. Data 6:134, "
    "doi:10.1038/s41597-019-0142-2 (WHO GMP)."
)

_NGAZIDJA_FILES = {
    "roads": "ngazidja.osm.pbf",
    "population": "ngazidja_ppp_2020_UNadj_clip.tif",
    "facilities": "comoros_who_kemri_public_health_facilities_2019.csv",
    "osm_facilities": "comoros_osm_health_facilities_epsg4326.geojson",
}
_OSM_DUPLICATE_M = 60.0
_NGAZIDJA_UTM = "EPSG:32738"
_SYNTHETIC_ORIGIN = (400_000.0, 8_650_000.0)  # metres in UTM 38S, near the Comoros


# ====================================================================== the Region object
@dataclass
class Region:
    """Everything a study needs about one area.

    Attributes
    ----------
    name
        Short name of the region.
    roads
        Path of a road file (read per mode with :func:`accessplan.io.read_roads`) or a road
        graph already built (used for every mode).
    population
        Points with ``id`` and ``population`` (persons), in the CRS of the source.
    cell_size
        Side of a population cell in the population's CRS units (degrees for Ngazidja, metres
        for a synthetic region), or None when the points are not grid cells.
    facilities
        Existing facilities with ``id``, ``name``, ``type``, ``capacity`` (clinicians for
        Ngazidja) and point geometry.
    boundary
        Study area polygon in ``boundary_crs``.
    attribution
        Text the data licences require wherever results are shown.
    osm_facilities
        Optional second facility layer (OpenStreetMap health features for Ngazidja).
    candidates
        Optional candidate sites for new facilities.
    boundary_crs
        CRS of ``boundary``.
    description
        One paragraph on the data.
    """

    name: str
    roads: Path | nx.MultiDiGraph
    population: gpd.GeoDataFrame
    cell_size: float | None
    facilities: gpd.GeoDataFrame
    boundary: Polygon | MultiPolygon
    attribution: str
    osm_facilities: gpd.GeoDataFrame | None = None
    candidates: gpd.GeoDataFrame | None = None
    boundary_crs: str = "EPSG:4326"
    description: str = ""
    _graphs: dict[str, nx.MultiDiGraph] = field(default_factory=dict, init=False, repr=False)

    def road_graph(self, mode: str = "drive") -> nx.MultiDiGraph:
        """Road graph for ``mode`` (``drive``, ``walk`` or ``bike``), read once and cached.

        The cached graph is shared between calls: copy it before changing it in place.
        """
        check_mode(mode)
        if isinstance(self.roads, nx.MultiDiGraph):
            return self.roads
        if mode not in self._graphs:
            self._graphs[mode] = read_roads(self.roads, mode)
        return self._graphs[mode]

    def summary(self) -> pd.Series:
        """Counts for a quick look: population points and persons, facilities by type."""
        info: dict[str, Any] = {
            "name": self.name,
            "population_points": len(self.population),
            "population_total": float(self.population["population"].sum()),
            "cell_size": self.cell_size,
            "crs": self.population.crs.to_string() if self.population.crs else None,
            "facilities": len(self.facilities),
            "facility_capacity": float(self.facilities["capacity"].sum()),
        }
        if self.osm_facilities is not None:
            info["osm_facilities"] = len(self.osm_facilities)
        if self.candidates is not None:
            info["candidates"] = len(self.candidates)
        return pd.Series(info, dtype=object)


# ====================================================================== embedded region
def data_dir() -> Path:
    """Folder of the embedded data.

    The ``ACCESSPLAN_DATA`` environment variable wins; otherwise the ``data/`` folder of the
    source tree next to the package.

    Raises
    ------
    InputError
        When neither exists.
    """
    env = os.environ.get("ACCESSPLAN_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[1] / "data")
    for path in candidates:
        if path.is_dir():
            return path
    raise InputError(
        f"the embedded data folder was not found (looked in {[str(p) for p in candidates]}); "
        "set ACCESSPLAN_DATA to the repository's data/ folder."
    )


def load_region(
    name: str = "ngazidja",
    *,
    aggregate: int = 5,
    tier_capacity: Mapping[str, float] | None = None,
) -> Region:
    """Load an embedded region.

    Parameters
    ----------
    name
        ``"ngazidja"`` (Grande Comore, Union of the Comoros), the only embedded region.
    aggregate
        Population cells aggregated ``aggregate`` × ``aggregate`` (5 → ~500 m cells, 5,117
        populated; 1 → the full ~100 m WorldPop grid, 123,287 populated cells). The total,
        449,425 persons, is conserved.
    tier_capacity
        Capacity (clinicians) per ``Tier_name`` of the Ministry list, replacing the assumed
        :data:`NGAZIDJA_TIER_CAPACITY` for the tiers it names.

    Returns
    -------
    Region
        ``facilities``: the 31 Ministry of Health facilities on Ngazidja (type ``clinic``);
        the 35 other rows of the list (the two other islands, including the row without
        coordinates and the row with a flipped latitude sign) are listed with their reason in
        ``facilities.attrs["excluded"]``. ``osm_facilities``: core OSM health features on
        Ngazidja with node/way duplicates merged (listed in ``attrs["excluded"]``).
    """
    if name.lower() != "ngazidja":
        raise InputError(f"unknown embedded region {name!r}; the embedded region is 'ngazidja'.")
    folder = data_dir() / "ngazidja"
    paths = {key: folder / file for key, file in _NGAZIDJA_FILES.items()}
    for key, path in paths.items():
        if not path.exists():
            raise InputError(
                f"embedded {key} file {str(path)!r} is missing; run data/prepare_ngazidja.sh "
                "or set ACCESSPLAN_DATA to a complete data/ folder."
            )
    population = read_population_raster(paths["population"], aggregate=aggregate)
    facilities = _ngazidja_moh_facilities(paths["facilities"], tier_capacity)
    osm_facilities = _ngazidja_osm_facilities(paths["osm_facilities"])
    return Region(
        name="ngazidja",
        roads=paths["roads"],
        population=population,
        cell_size=float(population.attrs["cell_size"][0]),
        facilities=facilities,
        boundary=box(*NGAZIDJA_BBOX),
        attribution=NGAZIDJA_ATTRIBUTION,
        osm_facilities=osm_facilities,
        boundary_crs="EPSG:4326",
        description=(
            "Ngazidja (Grande Comore), Union of the Comoros: OpenStreetMap roads (2021), "
            "WorldPop 2020 UN-adjusted population (449,425 persons), and the 31 public "
            "facilities of the Ministry of Health list (Maina et al. 2019) with assumed "
            "capacities in clinicians per tier."
        ),
    )


def _ngazidja_moh_facilities(
    path: Path, tier_capacity: Mapping[str, float] | None
) -> gpd.GeoDataFrame:
    """Ministry of Health facilities on Ngazidja, with assumed capacity per tier."""
    capacities = dict(NGAZIDJA_TIER_CAPACITY)
    if tier_capacity:
        unknown = set(tier_capacity) - set(capacities)
        if unknown:
            raise InputError(
                f"tier_capacity names unknown tiers {sorted(unknown)}; the tiers are "
                f"{list(capacities)}."
            )
        capacities.update({k: float(v) for k, v in tier_capacity.items()})
    table = pd.read_csv(path)
    table["capacity"] = table["Tier_name"].map(capacities)
    table["tier"] = table["Tier_name"]
    facilities = read_facilities(
        _as_located_frame(table, path),
        id_col="row_id",
        name_col="Facility name",
        capacity_col="capacity",
        bounds=NGAZIDJA_BBOX,
        on_invalid="report",
    )
    facilities.attrs["source"] = f"file {str(path)!r}"
    facilities.attrs["capacity_unit"] = "clinicians (assumed per tier)"
    return facilities


def _as_located_frame(table: pd.DataFrame, path: Path) -> gpd.GeoDataFrame:
    """Points from the Lat/Long columns; rows without coordinates keep an empty geometry."""
    lon = pd.to_numeric(table["Long"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(table["Lat"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    geometry = np.full(len(table), None, dtype=object)
    geometry[ok] = shapely.points(lon[ok], lat[ok])
    gdf = gpd.GeoDataFrame(table, geometry=geometry, crs="EPSG:4326")
    gdf.attrs["source"] = str(path)
    return gdf


def _ngazidja_osm_facilities(path: Path) -> gpd.GeoDataFrame:
    """Core OSM health features on Ngazidja with node/way duplicates merged.

    The source layer covers the whole country; its ``core`` flag marks hospitals, clinics and
    doctors. The same facility is sometimes mapped twice, as a node and as a building way;
    features closer than 60 m are treated as one, keeping a named one (a node first).
    """
    layer = gpd.read_file(path)
    west, south, east, north = NGAZIDJA_BBOX
    on_island = layer.geometry.x.between(west, east) & layer.geometry.y.between(south, north)
    core = layer[on_island & layer["core"].astype(bool)].copy()
    tag = core["amenity"].fillna(core["healthcare"]).replace({"doctor": "doctors"})
    tag = tag.where(tag.isin(list(OSM_AMENITY_CAPACITY)), "clinic")
    core["capacity"] = tag.map(OSM_AMENITY_CAPACITY).astype(float)
    core["id"] = core["osm_type"].str[0] + core["osm_id"].astype(str)
    core = core.reset_index(drop=True)
    keep, duplicate_of = _merge_close_points(core, _OSM_DUPLICATE_M)
    facilities = read_facilities(
        core[keep].reset_index(drop=True), name_col="name", capacity_col="capacity"
    )
    dropped = core[~keep].drop(columns="geometry").copy()
    dropped.insert(
        0,
        "reason",
        [
            f"duplicate of {core['id'].iloc[j]} (within {_OSM_DUPLICATE_M:.0f} m)"
            for j in duplicate_of[~keep]
        ],
    )
    facilities.attrs["excluded"] = pd.DataFrame(dropped).reset_index(drop=True)
    facilities.attrs["source"] = f"file {str(path)!r}"
    facilities.attrs["capacity_unit"] = "clinicians (assumed per OSM tag)"
    return facilities


def _merge_close_points(points: gpd.GeoDataFrame, radius_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Group points closer than ``radius_m`` and keep one per group.

    Returns a keep mask and, per row, the position of the row kept for its group. The kept
    row is the first named one, nodes before ways, then by position.
    """
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    xy = np.column_stack(
        [points.to_crs(_NGAZIDJA_UTM).geometry.x, points.to_crs(_NGAZIDJA_UTM).geometry.y]
    )
    pairs = cKDTree(xy).query_pairs(radius_m, output_type="ndarray")
    n = len(points)
    adjacency = (
        sp.coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        if len(pairs)
        else sp.coo_array((n, n))
    )
    _, labels = connected_components(adjacency, directed=False)
    priority = pd.DataFrame(
        {
            "label": labels,
            "unnamed": points["name"].isna().to_numpy(),
            "way": (points["osm_type"] != "node").to_numpy(),
            "pos": np.arange(n),
        }
    ).sort_values(["label", "unnamed", "way", "pos"])
    first = priority.groupby("label")["pos"].first()
    duplicate_of = first.loc[labels].to_numpy()
    return duplicate_of == np.arange(n), duplicate_of


# ====================================================================== synthetic region
def synthetic_graph(
    *,
    n_nodes: int = 2_500,
    spacing_m: float = 200.0,
    arterial_every: int = 10,
    jitter: float = 0.15,
    remove_share: float = 0.05,
    seed: int = 0,
    origin: tuple[float, float] = _SYNTHETIC_ORIGIN,
    crs: str = _NGAZIDJA_UTM,
) -> nx.MultiDiGraph:
    """A seeded street grid with arterials, in a metric CRS.

    Parameters
    ----------
    n_nodes
        Approximate number of intersections; the grid is ``side × side`` with
        ``side = round(sqrt(n_nodes))`` (at least 2).
    spacing_m
        Distance between neighbouring intersections before jitter, metres.
    arterial_every
        Every ``arterial_every``-th row and column is a ``primary`` road; the rest are
        ``residential``.
    jitter
        Each intersection moves by up to ``jitter × spacing_m`` in x and y (uniform), so edge
        lengths differ; 0 gives an exact lattice.
    remove_share
        Share of residential street segments removed at random; removals that would split the
        grid are put back, so the graph stays strongly connected. 0 keeps every segment.
    seed
        Seed of the random generator; the same arguments give the same graph.
    origin
        Coordinates of node 0 (bottom-left), metres in ``crs``.
    crs
        A metric CRS (default UTM zone 38S, where the Comoros lie).

    Returns
    -------
    networkx.MultiDiGraph
        Nodes ``0 … side²-1`` (``row * side + col``) with ``x``, ``y`` (metres); both
        directions of every kept segment with ``length`` (metres, the straight distance),
        ``highway`` and ``oneway=False``. ``G.graph["crs"]`` is ``crs``.
    """
    side, x, y, edges, highway = _grid_arrays(
        n_nodes=n_nodes,
        spacing_m=spacing_m,
        arterial_every=arterial_every,
        jitter=jitter,
        remove_share=remove_share,
        seed=seed,
        origin=origin,
    )
    u, v = edges[:, 0], edges[:, 1]
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    graph = nx.MultiDiGraph(crs=crs, name=f"synthetic grid {side}x{side} seed {seed}")
    graph.add_nodes_from(
        (int(i), {"x": float(xi), "y": float(yi)})
        for i, xi, yi in zip(range(side * side), x.tolist(), y.tolist(), strict=True)
    )
    names = np.array(["residential", "primary"])[highway.astype(np.int8)]
    uu = np.concatenate([u, v]).tolist()
    vv = np.concatenate([v, u]).tolist()
    ll = np.concatenate([length, length]).tolist()
    hh = np.concatenate([names, names]).tolist()
    graph.add_edges_from(
        (a, b, 0, {"length": d, "highway": h, "oneway": False})
        for a, b, d, h in zip(uu, vv, ll, hh, strict=True)
    )
    return graph


def _grid_arrays(
    *,
    n_nodes: int,
    spacing_m: float,
    arterial_every: int,
    jitter: float,
    remove_share: float,
    seed: int,
    origin: tuple[float, float],
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Node coordinates and undirected segments (u < v) of the jittered grid."""
    if n_nodes < 4:
        raise InputError(f"n_nodes={n_nodes} is too small; use at least 4 (a 2 × 2 grid).")
    if not spacing_m > 0:
        raise InputError(f"spacing_m={spacing_m} must be a positive distance in metres.")
    if arterial_every < 1:
        raise InputError(f"arterial_every={arterial_every} must be a whole number >= 1.")
    if not 0 <= jitter < 0.5:
        raise InputError(f"jitter={jitter} must be in [0, 0.5) (a share of spacing_m).")
    if not 0 <= remove_share < 1:
        raise InputError(f"remove_share={remove_share} must be in [0, 1).")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    side = max(2, round(float(np.sqrt(n_nodes))))
    rows, cols = np.divmod(np.arange(side * side, dtype=np.int64), side)
    shift = rng.uniform(-jitter, jitter, size=(2, side * side)) * spacing_m
    x = origin[0] + cols * spacing_m + shift[0]
    y = origin[1] + rows * spacing_m + shift[1]

    ids = np.arange(side * side, dtype=np.int64).reshape(side, side)
    horizontal = np.column_stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()])
    vertical = np.column_stack([ids[:-1, :].ravel(), ids[1:, :].ravel()])
    edges = np.concatenate([horizontal, vertical])
    arterial = np.concatenate(
        [
            np.repeat(np.arange(side) % arterial_every == 0, side - 1),
            np.tile(np.arange(side) % arterial_every == 0, side - 1),
        ]
    )
    if remove_share > 0:
        removed = (~arterial) & (rng.random(len(edges)) < remove_share)
        removed &= ~_needed_for_connectivity(edges, removed, side * side)
        edges, arterial = edges[~removed], arterial[~removed]
    return side, x, y, edges, arterial


def _needed_for_connectivity(edges: np.ndarray, removed: np.ndarray, n: int) -> np.ndarray:
    """Removed segments that must be put back to keep the grid connected.

    A minimum spanning forest with kept segments weighing 1 and removed ones 2 uses a removed
    segment only where no kept path exists; those are the ones to put back.
    """
    weight = np.where(removed, 2.0, 1.0)
    graph = sp.coo_array((weight, (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    tree = minimum_spanning_tree(graph).tocoo()
    in_tree_removed = tree.data == 2.0
    needed_pairs = set(
        zip(tree.row[in_tree_removed].tolist(), tree.col[in_tree_removed].tolist(), strict=True)
    )
    if not needed_pairs:
        return np.zeros(len(edges), dtype=bool)
    lo = np.minimum(edges[:, 0], edges[:, 1])
    hi = np.maximum(edges[:, 0], edges[:, 1])
    keys = lo * n + hi
    needed_keys = np.array([min(a, b) * n + max(a, b) for a, b in needed_pairs], dtype=np.int64)
    return removed & np.isin(keys, needed_keys)


def synthetic_region(
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
) -> Region:
    """A seeded synthetic region: street grid, clustered population, facilities.

    Parameters
    ----------
    n_nodes, spacing_m, arterial_every, jitter, remove_share
        The street grid, as in :func:`synthetic_graph`.
    n_origins
        Number of populated cells (population points).
    n_facilities
        Number of existing facilities (type ``clinic``).
    n_candidates
        Number of candidate sites for new facilities (0: none); they avoid the facilities'
        cells.
    seed
        Seed; the same arguments give the same region. Grid, population and facilities use
        independent streams, so changing ``n_facilities`` leaves the population unchanged.
    n_towns
        Number of Gaussian towns the population clusters around.
    rural_share
        Share of the population cells drawn uniformly over the area instead of in towns.
    facility_capacity
        Range (low, high) of facility capacities (clinicians), drawn uniformly and rounded.

    Returns
    -------
    Region
        ``population``: points at the centres of distinct square cells (``cell_size`` metres,
        the grid spacing halved until there are at least four times as many cells as sites) with
        ``id`` 0…n_origins-1 and ``population`` (persons; more in town centres).
        ``facilities`` and ``candidates``: ``id`` (``"F0001"``, ``"C0001"`` …), ``name``,
        ``type``, ``capacity`` at cell centres drawn where people live.
    """
    if n_origins < 1 or n_facilities < 0 or n_candidates < 0:
        raise InputError(
            f"n_origins={n_origins}, n_facilities={n_facilities}, n_candidates={n_candidates}: "
            "need at least one origin and no negative counts."
        )
    graph = synthetic_graph(
        n_nodes=n_nodes,
        spacing_m=spacing_m,
        arterial_every=arterial_every,
        jitter=jitter,
        remove_share=remove_share,
        seed=seed,
    )
    crs = graph.graph["crs"]
    side = max(2, round(float(np.sqrt(n_nodes))))
    x0, y0 = _SYNTHETIC_ORIGIN
    extent = (side - 1) * spacing_m
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
        crs=crs,
    )
    cell = people.cell_size
    population = gpd.GeoDataFrame(
        {"id": people.ids, "population": people.persons},
        geometry=gpd.points_from_xy(people.x, people.y),
        crs=crs,
    )
    population.attrs["cell_size"] = (cell, cell)
    facilities, candidates = people.facilities, people.candidates
    return Region(
        name=f"synthetic-{side}x{side}-seed{seed}",
        roads=graph,
        population=population,
        cell_size=cell,
        facilities=facilities,
        boundary=box(x0, y0, x0 + extent, y0 + extent),
        attribution="Synthetic data generated by accessplan.regions.synthetic_region.",
        candidates=candidates,
        boundary_crs=crs,
        description=(
            f"Synthetic {side}×{side} street grid ({spacing_m:g} m spacing, arterials every "
            f"{arterial_every}), {n_origins} populated {cell:g} m cells around {n_towns} towns, "
            f"{n_facilities} facilities, seed {seed}."
        ),
    )


@dataclass(frozen=True)
class SyntheticPeople:
    """Populated cells (arrays) and sites of a synthetic region (see :func:`synthetic_region`)."""

    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    persons: np.ndarray
    cell_size: float
    facilities: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame | None


def synthetic_people(
    *,
    side: int,
    spacing_m: float,
    n_origins: int,
    n_facilities: int,
    n_candidates: int,
    seed: int,
    n_towns: int,
    rural_share: float,
    facility_capacity: tuple[float, float],
    crs: str,
) -> SyntheticPeople:
    """The population cells and sites of :func:`synthetic_region` over a ``side``² grid."""
    x0, y0 = _SYNTHETIC_ORIGIN
    extent = (side - 1) * spacing_m
    cell = float(spacing_m)
    while (extent / cell) ** 2 < 4 * (n_origins + n_facilities + n_candidates):
        cell /= 2
    n_cells = max(1, int(extent // cell))
    centres = x0 + (np.arange(n_cells) + 0.5) * cell
    streams = np.random.SeedSequence([seed, 2]).spawn(3)
    rng_pop, rng_fac, rng_cand = (np.random.default_rng(s) for s in streams)

    towns = _towns(rng_pop, n_towns, extent)
    density = _density(towns, n_cells, cell, rural_share)
    chosen = _weighted_sample(rng_pop, density, n_origins)
    rows, cols = np.divmod(chosen, n_cells)
    persons = np.round(rng_pop.lognormal(mean=3.0, sigma=0.8, size=n_origins) + 1.0)
    persons *= 1.0 + 4.0 * density[chosen] / density.max()

    taken = np.zeros(n_cells * n_cells, dtype=bool)
    facilities = _synthetic_sites(
        rng_fac,
        density,
        taken,
        n_facilities,
        "F",
        "Facility",
        facility_capacity,
        n_cells,
        cell,
        crs,
    )
    candidates = None
    if n_candidates:
        candidates = _synthetic_sites(
            rng_cand,
            density,
            taken,
            n_candidates,
            "C",
            "Candidate",
            facility_capacity,
            n_cells,
            cell,
            crs,
        )
    return SyntheticPeople(
        ids=np.arange(chosen.size, dtype=np.int64),
        x=centres[cols],
        y=y0 + (rows + 0.5) * cell,
        persons=np.round(persons),
        cell_size=cell,
        facilities=facilities,
        candidates=candidates,
    )


def _towns(rng: np.random.Generator, n_towns: int, extent: float) -> np.ndarray:
    """Town centres (x, y relative to the origin), spreads (metres) and weights."""
    n_towns = max(1, n_towns)
    centre = rng.uniform(0.1 * extent, 0.9 * extent, size=(n_towns, 2))
    spread = rng.uniform(0.04, 0.12, size=n_towns) * extent
    weight = rng.uniform(0.5, 1.5, size=n_towns)
    return np.column_stack([centre, spread, weight])


def _density(towns: np.ndarray, n_cells: int, cell: float, rural_share: float) -> np.ndarray:
    """Relative density per cell: a Gaussian mixture plus a uniform rural part (sums to 1)."""
    centres = (np.arange(n_cells) + 0.5) * cell
    gx = np.zeros((len(towns), n_cells))
    gy = np.zeros((len(towns), n_cells))
    for t, (cx, cy, s, _) in enumerate(towns):
        gx[t] = np.exp(-0.5 * ((centres - cx) / s) ** 2)
        gy[t] = np.exp(-0.5 * ((centres - cy) / s) ** 2)
    # separable Gaussians: density[row, col] = sum_t w_t gy_t[row] gx_t[col]
    town = np.einsum("t,tr,tc->rc", towns[:, 3], gy, gx).ravel()
    town /= town.sum()
    return (1 - rural_share) * town + rural_share / town.size


def _weighted_sample(rng: np.random.Generator, weight: np.ndarray, k: int) -> np.ndarray:
    """``k`` distinct positions drawn with probability proportional to ``weight``.

    Gumbel top-k: equivalent to successive weighted draws without replacement, in one
    vectorised step.
    """
    k = min(k, int((weight > 0).sum()))
    keys = np.log(np.maximum(weight, 1e-300)) + rng.gumbel(size=weight.size)
    keys[weight <= 0] = -np.inf
    top = np.argpartition(-keys, k - 1)[:k] if k else np.array([], dtype=np.int64)
    return np.sort(top)


def _synthetic_sites(
    rng: np.random.Generator,
    density: np.ndarray,
    taken: np.ndarray,
    n: int,
    prefix: str,
    label: str,
    capacity_range: tuple[float, float],
    n_cells: int,
    cell: float,
    crs: str,
) -> gpd.GeoDataFrame:
    """``n`` sites at distinct free cells drawn where people live; marks them taken."""
    weight = np.where(taken, 0.0, density)
    chosen = rng.permutation(_weighted_sample(rng, weight, n))
    taken[chosen] = True
    rows, cols = np.divmod(chosen, n_cells)
    low, high = capacity_range
    frame = pd.DataFrame(
        {
            "id": [f"{prefix}{i + 1:04d}" for i in range(len(chosen))],
            "name": [f"{label} {i + 1}" for i in range(len(chosen))],
            "type": "clinic",
            "capacity": np.round(rng.uniform(low, high, size=len(chosen))),
        }
    )
    return gpd.GeoDataFrame(
        frame,
        geometry=gpd.points_from_xy(
            _SYNTHETIC_ORIGIN[0] + (cols + 0.5) * cell, _SYNTHETIC_ORIGIN[1] + (rows + 0.5) * cell
        ),
        crs=crs,
    )


def synthetic_islands(
    *,
    facilities_per_island: Sequence[int] = (5, 3, 0),
    n_nodes: int = 400,
    n_origins: int = 200,
    gap_m: float = 20_000.0,
    seed: int = 0,
) -> Region:
    """A seeded archipelago: one synthetic region per island, with no road between islands.

    Each island is a :func:`synthetic_region` of its own seed, moved ``gap_m`` metres east of
    the previous one, so the road graph has one strongly connected component per island (like
    the three islands of the Comoros, or a region cut by a missing ferry).

    Parameters
    ----------
    facilities_per_island
        Facilities on each island; its length is the number of islands. An island with 0
        facilities tests what a study reports for people with no facility on their network.
    n_nodes, n_origins
        Road intersections and population cells of each island.
    gap_m
        Sea between the west edges of neighbouring islands, metres (larger than an island).
    seed
        Seed; the same arguments give the same archipelago.

    Returns
    -------
    Region
        Node ids are unique across islands; population ids ``0 … n-1`` run on across islands;
        facility ids are ``"I<k>-F0001"`` …; ``population["island"]`` and
        ``facilities["island"]`` hold the island number (1-based).
    """
    if not facilities_per_island:
        raise InputError("facilities_per_island is empty: give one count per island.")
    graph = nx.MultiDiGraph()
    populations, facilities, boxes = [], [], []
    crs = _NGAZIDJA_UTM
    next_node = 0
    for k, n_fac in enumerate(facilities_per_island):
        island = synthetic_region(
            n_nodes=n_nodes, n_origins=n_origins, n_facilities=int(n_fac), seed=seed + k
        )
        dx = k * gap_m
        roads = island.road_graph()
        crs = roads.graph["crs"]
        mapping = {node: next_node + i for i, node in enumerate(roads.nodes)}
        next_node += len(mapping)
        moved = nx.relabel_nodes(roads, mapping)
        for _, data in moved.nodes(data=True):
            data["x"] += dx
        graph.add_nodes_from(moved.nodes(data=True))
        graph.add_edges_from(moved.edges(keys=True, data=True))
        pop = island.population.copy()
        pop["geometry"] = pop.geometry.translate(xoff=dx)
        pop["island"] = k + 1
        populations.append(pop)
        fac = island.facilities.copy()
        fac["geometry"] = fac.geometry.translate(xoff=dx)
        fac["id"] = [f"I{k + 1}-{i}" for i in fac["id"]]
        fac["island"] = k + 1
        facilities.append(fac)
        boxes.append(shapely.affinity.translate(island.boundary, xoff=dx))
        cell = island.cell_size
    graph.graph["crs"] = crs
    graph.graph["name"] = f"synthetic archipelago of {len(facilities_per_island)} islands"
    population = gpd.GeoDataFrame(pd.concat(populations, ignore_index=True), crs=crs)
    population["id"] = np.arange(len(population), dtype=np.int64)
    population.attrs["cell_size"] = (cell, cell)
    return Region(
        name=f"synthetic-islands-{len(facilities_per_island)}-seed{seed}",
        roads=graph,
        population=population,
        cell_size=cell,
        facilities=gpd.GeoDataFrame(pd.concat(facilities, ignore_index=True), crs=crs),
        boundary=shapely.MultiPolygon(boxes),
        attribution="Synthetic data generated by accessplan.regions.synthetic_islands.",
        boundary_crs=crs,
        description=(
            f"{len(facilities_per_island)} synthetic islands {gap_m:g} m apart with no road "
            f"between them; facilities per island: {list(facilities_per_island)}; seed {seed}."
        ),
    )
