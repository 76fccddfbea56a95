# Over 600 lines on purpose: the roads, population and facility readers share their CRS, bbox,
# table, id and coordinate checks (facilities reuse population's table reader); a split would
# turn about 15 private helpers into cross-module seams.
"""Readers for the three inputs of an accessibility study: roads, population and facilities.

Every reader returns the ecosystem's own objects with a validated CRS:

* :func:`read_roads` → a ``networkx.MultiDiGraph`` (osmnx conventions) from an OSM PBF (pyrosm),
  an OSM XML file (osmnx), a GraphML file (osmnx) or a place name (osmnx, needs a connection).
* :func:`read_population_raster` → one point per populated raster cell (GeoTIFF, rasterio),
  optionally aggregated to coarser cells with the population total conserved.
* :func:`read_population` → points from a vector grid / point layer (GeoPackage, GeoJSON,
  Shapefile) or a CSV with lon/lat columns.
* :func:`read_facilities` → facilities or candidate sites with ``id``, ``name``, ``type`` and
  ``capacity``.

Bad input raises :class:`accessplan.errors.InputError` (or :class:`~accessplan.errors.NetworkError`
for a road network that cannot be used) with a message that names the file, column or row and
says how to fix it. Nothing is dropped silently: raster cells that are nodata, NaN or negative
are counted in a report (``gdf.attrs["report"]``), and facility rows excluded with
``on_invalid="report"`` are listed with their reason in ``gdf.attrs["excluded"]``.

Road graph contract
-------------------
``G.graph["crs"]`` is set (pyproj-compatible; OSM sources come in EPSG:4326); every node has
float ``x`` and ``y`` in that CRS; every edge has ``length`` (metres, float), ``highway`` (str,
the first value when OSM gives a list) and ``oneway`` (bool), and optionally ``maxspeed`` (the
raw OSM string), ``name``, ``osmid`` and ``geometry`` (the road's LineString in the graph CRS,
where the source has one). A two-way street is two directed edges. Node ids are ints (OSM ids,
or 0, 1, ... for files whose ids are not whole numbers, with the original in ``source_id``).
"""

from __future__ import annotations

import contextlib
import difflib
import io
import math
import warnings
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.ops import nearest_points

from accessplan.errors import InputError, NetworkError
from accessplan.network import MODES, CRSLike, check_mode, first_tag
from accessplan.supply import SUPPLY_TYPES, check_supply_types

if TYPE_CHECKING:
    from accessplan.points import Points

__all__ = [
    "MODES",
    "cells_to_polygons",
    "population_report",
    "read_facilities",
    "read_population",
    "read_population_points",
    "read_population_raster",
    "read_roads",
]

BBox = tuple[float, float, float, float]

_PYROSM_NETWORK_TYPE = {"drive": "driving", "walk": "walking", "bike": "cycling"}
_OSMNX_NETWORK_TYPE = {"drive": "drive", "walk": "walk", "bike": "bike"}
_VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml"}
_ROAD_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".xml", ".graphml")


# Ways excluded per mode, following the osmnx network filters ("drive", "walk", "bike"), used
# for sources that carry every way (OSM XML, GraphML).
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_EXCLUDED_HIGHWAY = {
    "drive": _words(
        "abandoned bridleway bus_guideway construction corridor cycleway elevator escalator "
        "footway no path pedestrian planned platform proposed raceway razed rest_area service "
        "services steps track"
    ),
    "walk": _words(
        "abandoned bus_guideway construction cycleway motorway motorway_link no planned "
        "platform proposed raceway razed rest_area services"
    ),
    "bike": _words(
        "abandoned bus_guideway construction corridor elevator escalator footway motorway "
        "motorway_link no planned platform proposed raceway razed rest_area services steps"
    ),
}
_EXCLUDED_TAG_VALUES = {
    "drive": {"motor_vehicle": {"no"}, "motorcar": {"no"}, "access": {"private", "no"}},
    "walk": {"foot": {"no"}, "access": {"private", "no"}},
    "bike": {"bicycle": {"no"}, "access": {"private", "no"}},
}
_TRUE_STRINGS = {"yes", "true", "1", "-1", "reversible"}


# ====================================================================== small helpers
def _where(source: object) -> str:
    """Human-readable name of a source for error messages."""
    if isinstance(source, str | Path):
        return f"file {str(source)!r}"
    return f"the given {type(source).__name__}"


def _check_bbox(bbox: BBox | None) -> BBox | None:
    if bbox is None:
        return None
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"bbox={bbox!r} must be four numbers (west, south, east, north) in degrees."
        ) from exc
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InputError(
            f"bbox={bbox!r} is not a valid (west, south, east, north) box in degrees "
            "longitude/latitude; west < east and south < north."
        )
    return west, south, east, north


def _check_crs(crs: Any, where: str) -> pyproj.CRS:
    """Return ``crs`` as a pyproj CRS, raising InputError when it is missing or unknown."""
    if crs is None:
        raise InputError(
            f"{where} has no coordinate reference system (CRS); set one in the file or pass "
            "crs=... (e.g. crs='EPSG:4326' for longitude/latitude)."
        )
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise InputError(
            f"{where} has an unknown CRS {str(crs)[:80]!r}; give an EPSG code or a WKT/PROJ "
            "string that pyproj understands."
        ) from exc


# Usual spellings of coordinate columns, offered when the named one is missing.
_COORDINATE_ALIASES = {
    "lon": ("lon", "long", "longitude", "lng", "x", "easting"),
    "lat": ("lat", "latitude", "y", "northing"),
}


def _close_match(col: str, columns: Iterable[Hashable], kind: str | None = None) -> str | None:
    """The available column most like ``col`` (a usual alias first), or None."""
    names = [str(c) for c in columns]
    lowered = {name.lower(): name for name in names}
    for alias in _COORDINATE_ALIASES.get(kind or "", ()):
        if alias in lowered and lowered[alias] != col:
            return lowered[alias]
    found = difflib.get_close_matches(col.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[found[0]] if found else None


def _missing_column(
    where: str,
    col: str,
    what: str,
    columns: Iterable[Hashable],
    argument: str | None = None,
    kind: str | None = None,
) -> InputError:
    columns = list(columns)
    match = _close_match(col, columns, kind)
    argument = argument or f"{what}_col"
    hint = (
        f"Did you mean {match!r}? Pass {argument}={match!r}"
        if match
        else (f"pass the right name with {argument}=...")
    )
    return InputError(
        f"{where} has no {what} column {col!r}; available columns: {columns}. {hint}."
    )


def _row_label(row: int, ids: np.ndarray | None) -> str:
    """``row 3 (id 'b')``: the data row counted from 1 (the first row after a CSV's header,
    the first feature of a vector file; ``row`` is 0-based) and, when known, the id as the user
    wrote it."""
    if ids is None:
        return f"row {row + 1}"
    return f"row {row + 1} (id {_plain(ids[row])!r})"


# ====================================================================== roads
def read_roads(
    source: str | Path,
    mode: str = "drive",
    *,
    bbox: BBox | None = None,
) -> nx.MultiDiGraph:
    """Read a road network for one travel mode.

    Parameters
    ----------
    source
        Path to an OSM PBF file (``.osm.pbf``, read with pyrosm), an OSM XML file (``.osm`` or
        ``.xml``, read with osmnx), a GraphML file (``.graphml``, as saved by
        ``osmnx.save_graphml``), or, when it is not an existing path, a place name geocoded and
        downloaded by ``osmnx.graph_from_place`` (needs an internet connection).
    mode
        ``"drive"``, ``"walk"`` or ``"bike"``. Ways not usable by the mode are left out (the
        pyrosm / osmnx network filters); for ``"walk"`` every way is usable in both directions.
    bbox
        Optional (west, south, east, north) box in degrees longitude/latitude; only the
        network inside it is kept.

    Returns
    -------
    networkx.MultiDiGraph
        Intersection-level graph in the source CRS (EPSG:4326 for OSM sources) following the
        road graph contract of this module: node ``x``/``y``; edge ``length`` (metres),
        ``highway``, ``oneway`` and optional ``maxspeed``. Every component is kept; choosing
        the largest strongly connected one is the job of :mod:`accessplan.network`.

    Raises
    ------
    InputError
        Unknown mode, bad bbox, missing, unreadable or truncated file.
    NetworkError
        No usable road for the mode inside the file or the bbox, a graph without CRS, or a
        place name that could not be downloaded.
    """
    check_mode(mode)
    bbox = _check_bbox(bbox)
    path = Path(source) if isinstance(source, str | Path) else None
    if path is None:
        raise InputError(
            f"read_roads needs a file path or a place name, got {type(source).__name__}; "
            "to use a graph you already have, pass it on directly."
        )
    name = str(source).lower()
    if not path.exists():
        if name.endswith(_ROAD_SUFFIXES):
            raise InputError(f"road file {str(path)!r} does not exist; check the path.")
        graph = _read_roads_place(str(source), mode)
        where = f"place {str(source)!r}"
    elif path.is_dir():
        raise InputError(f"road source {str(path)!r} is a folder; give the file inside it.")
    elif name.endswith(".pbf"):
        graph = _read_roads_pbf(path, mode, bbox)
        where = _where(path)
    elif name.endswith((".osm", ".xml")):
        graph = _simplify(_filter_mode(_read_roads_xml(path, mode), mode))
        where = _where(path)
    elif name.endswith(".graphml"):
        graph = _filter_mode(_read_roads_graphml(path), mode)
        where = _where(path)
    else:
        raise InputError(
            f"road file {str(path)!r} has an unknown format; use .osm.pbf, .osm/.xml or .graphml."
        )
    graph = _normalise_graph(graph, where)
    if bbox is not None:  # pyrosm's bounding box keeps whole ways; clip to the box itself
        graph = _clip_graph_to_bbox(graph, bbox)
    if graph.number_of_edges() == 0:
        raise NetworkError(
            f"{where} holds no road usable for mode={mode!r}"
            + (f" inside bbox={bbox}" if bbox else "")
            + "; check the file, the mode or the bbox."
        )
    graph.graph["mode"] = mode
    graph.graph["source"] = str(source)
    return graph


def _read_roads_pbf(path: Path, mode: str, bbox: BBox | None) -> nx.MultiDiGraph:
    from pyrosm import OSM

    where = _where(path)
    try:
        osm = OSM(str(path), bounding_box=list(bbox) if bbox else None)
        with warnings.catch_warnings():  # "no edges" becomes the NetworkError below
            warnings.filterwarnings("ignore", message="Could not find any", category=UserWarning)
            nodes, edges = osm.get_network(network_type=_PYROSM_NETWORK_TYPE[mode], nodes=True)
    except Exception as exc:  # pyrosm raises protobuf, OSError and its own errors
        raise InputError(
            f"{where} could not be read as an OSM PBF file ({type(exc).__name__}: "
            f"{str(exc)[:200]}); it may be truncated or not a PBF. Download or extract it again."
        ) from exc
    if edges is None or nodes is None or len(edges) == 0:
        raise NetworkError(
            f"{where} holds no road usable for mode={mode!r}"
            + (f" inside bbox={bbox}" if bbox else "")
            + "; check the file, the mode or the bbox."
        )
    try:
        # pyrosm prints "Building the NetworkX graph took …" to stdout; keep the caller's clean.
        with contextlib.redirect_stdout(io.StringIO()):
            return osm.to_graph(
                nodes, edges, graph_type="networkx", osmnx_compatible=True, retain_all=True
            )
    except Exception as exc:
        raise NetworkError(
            f"{where}: the roads for mode={mode!r} could not be built into a graph "
            f"({type(exc).__name__}: {str(exc)[:200]}); check the file."
        ) from exc


def _read_roads_xml(path: Path, mode: str) -> nx.MultiDiGraph:
    import osmnx

    try:
        return osmnx.graph.graph_from_xml(
            path, bidirectional=(mode == "walk"), simplify=False, retain_all=True
        )
    except Exception as exc:  # ElementTree ParseError, KeyError on malformed elements...
        raise InputError(
            f"{_where(path)} could not be read as OSM XML ({type(exc).__name__}: "
            f"{str(exc)[:200]}); it may be truncated or not OSM XML. Export it again."
        ) from exc


def _simplify(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Merge the nodes inside ways into intersection-to-intersection edges (osmnx)."""
    import osmnx

    if graph.number_of_edges() == 0:
        return graph
    # Junctions of different ways stay nodes, and isolated rings are kept (unlike the default).
    return osmnx.simplification.simplify_graph(
        graph, edge_attrs_differ=["osmid"], remove_rings=False
    )


def _read_roads_graphml(path: Path) -> nx.MultiDiGraph:
    import osmnx

    try:
        return osmnx.io.load_graphml(path)
    except Exception as exc:
        error = exc
    try:  # GraphML written by networkx or other tools, with typed attributes
        return nx.MultiDiGraph(nx.read_graphml(path, force_multigraph=True))
    except Exception as exc:
        raise InputError(
            f"{_where(path)} could not be read as GraphML ({type(error).__name__}: "
            f"{str(error)[:200]}); it may be truncated. Save it again with osmnx.save_graphml."
        ) from exc


def _read_roads_place(place: str, mode: str) -> nx.MultiDiGraph:
    import osmnx

    try:
        return osmnx.graph_from_place(
            place, network_type=_OSMNX_NETWORK_TYPE[mode], simplify=True, retain_all=True
        )
    except Exception as exc:  # no connection, geocoding failure, empty response
        raise NetworkError(
            f"road source {place!r} is not an existing file, and downloading it as a place "
            f"name with osmnx failed ({type(exc).__name__}: {str(exc)[:200]}). Give the path "
            "of a .osm.pbf/.osm/.graphml file, or check the place name and the connection."
        ) from exc


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value, for readable messages."""
    return value.item() if isinstance(value, np.generic) else value


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if _is_missing(value):
        return False
    return str(value).strip().lower() in _TRUE_STRINGS


def _usable(data: Mapping[str, Any], mode: str) -> bool:
    highway = first_tag(data.get("highway"))
    if _is_missing(highway) or str(highway) in _EXCLUDED_HIGHWAY[mode]:
        return False
    if str(data.get("area", "no")) == "yes":
        return False
    for tag, bad in _EXCLUDED_TAG_VALUES[mode].items():
        value = data.get(tag)
        if not _is_missing(value) and str(first_tag(value)) in bad:
            return False
    return True


def _filter_mode(graph: nx.MultiDiGraph, mode: str) -> nx.MultiDiGraph:
    """Keep the edges usable by ``mode``; for walking, add the reverse of one-way edges."""
    drop = [(u, v, k) for u, v, k, d in graph.edges(keys=True, data=True) if not _usable(d, mode)]
    graph.remove_edges_from(drop)
    if mode == "walk":
        missing = [
            (v, u, dict(d, oneway=False))
            for u, v, d in graph.edges(data=True)
            if not graph.has_edge(v, u)
        ]
        graph.add_edges_from(missing)
    graph.remove_nodes_from([n for n, deg in graph.degree() if deg == 0])
    return graph


def _normalise_graph(graph: nx.Graph, where: str) -> nx.MultiDiGraph:
    """Return a lean MultiDiGraph following the road graph contract of this module."""
    crs = graph.graph.get("crs")
    if crs is None:
        raise NetworkError(
            f"{where}: the road graph has no CRS (graph attribute 'crs'); set "
            "G.graph['crs'] (e.g. 'EPSG:4326') before saving it."
        )
    try:
        crs = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise NetworkError(
            f"{where}: the road graph has an unknown CRS {str(crs)[:80]!r}; set "
            "G.graph['crs'] to an EPSG code."
        ) from exc
    out = nx.MultiDiGraph(crs=crs.to_string())
    nodes = []
    for node, data in graph.nodes(data=True):
        try:
            x, y = float(data["x"]), float(data["y"])
        except (KeyError, TypeError, ValueError) as exc:
            raise NetworkError(
                f"{where}: node {node!r} has no numeric 'x'/'y' coordinates; every node needs "
                "them in the graph's CRS."
            ) from exc
        if not (math.isfinite(x) and math.isfinite(y)):
            raise NetworkError(f"{where}: node {node!r} has non-finite coordinates ({x}, {y}).")
        nodes.append((node, {"x": x, "y": y}))
    _check_node_degrees(nodes, crs, where)
    out.add_nodes_from(nodes)
    edges = []
    for u, v, data in graph.edges(data=True):
        try:
            length = float(first_tag(data["length"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise NetworkError(
                f"{where}: edge ({u!r}, {v!r}) has no numeric 'length' (metres); add edge "
                "lengths, e.g. with osmnx.distance.add_edge_lengths."
            ) from exc
        if not (math.isfinite(length) and length >= 0):
            raise NetworkError(
                f"{where}: edge ({u!r}, {v!r}) has length {length}; lengths must be finite "
                "metres >= 0."
            )
        highway = first_tag(data.get("highway"))
        attrs: dict[str, Any] = {
            "length": length,
            "highway": "unclassified" if _is_missing(highway) else str(highway),
            "oneway": _as_bool(data.get("oneway")),
        }
        for key in ("maxspeed", "name", "osmid"):
            value = first_tag(data.get(key))
            if not _is_missing(value):
                attrs[key] = value if key == "osmid" else str(value)
        geometry = data.get("geometry")
        if getattr(geometry, "geom_type", None) == "LineString":
            attrs["geometry"] = geometry  # the road's shape, used to place nodes along it
        edges.append((u, v, attrs))
    out.add_edges_from(edges)
    return _integer_node_ids(out)


def _check_node_degrees(nodes: list[tuple[Any, dict[str, float]]], crs: pyproj.CRS, where: str):
    """Node x/y in a lon/lat CRS must be degrees (not metres of another CRS)."""
    if not crs.is_geographic:
        return
    for node, xy in nodes:
        if abs(xy["x"]) > 180 or abs(xy["y"]) > 90:
            raise NetworkError(
                f"{where}: node {str(node)!r} has x={xy['x']:g}, y={xy['y']:g}, which cannot be "
                f"degrees in the graph's CRS {crs.to_string()}; set G.graph['crs'] to the CRS "
                "of the node coordinates (e.g. a UTM zone) before saving the graph."
            )


def _integer_node_ids(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Node ids as Python ints, which routing needs.

    GraphML read by networkx gives text ids: "123" becomes 123. Ids that are not whole numbers
    are numbered 0, 1, ... in the file's order, and the original id is kept in the node
    attribute ``source_id`` (str).
    """
    ids = list(graph.nodes)
    if all(isinstance(n, int | np.integer) and not isinstance(n, bool) for n in ids):
        return graph
    try:
        as_int = [int(str(n)) for n in ids]
    except ValueError:
        as_int = None
    if as_int is not None and len(set(as_int)) == len(ids):
        return nx.relabel_nodes(graph, dict(zip(ids, as_int, strict=True)), copy=True)
    mapping = {node: i for i, node in enumerate(ids)}
    nx.set_node_attributes(graph, {node: str(node) for node in ids}, "source_id")
    return nx.relabel_nodes(graph, mapping, copy=True)


def _clip_graph_to_bbox(graph: nx.MultiDiGraph, bbox: BBox) -> nx.MultiDiGraph:
    """Keep the nodes inside a lon/lat bbox (edges with both ends inside)."""
    ids = np.array(list(graph.nodes), dtype=object)
    xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)], dtype=float)
    to_lonlat = pyproj.Transformer.from_crs(graph.graph["crs"], "EPSG:4326", always_xy=True)
    if len(xy):
        lon, lat = to_lonlat.transform(xy[:, 0], xy[:, 1])
    else:
        lon, lat = np.empty(0), np.empty(0)
    west, south, east, north = bbox
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    return graph.subgraph(ids[np.asarray(inside, dtype=bool)].tolist()).copy()


# ====================================================================== population: raster
def read_population_raster(
    path: str | Path,
    *,
    aggregate: int = 1,
    bbox: BBox | None = None,
    band: int = 1,
) -> gpd.GeoDataFrame:
    """Read a population-count raster (GeoTIFF) as one point per populated cell.

    Parameters
    ----------
    path
        GeoTIFF (or any raster rasterio reads) whose cells hold persons per cell, with a CRS.
    aggregate
        Sum ``aggregate`` × ``aggregate`` blocks of cells into one coarser cell (e.g. 5 turns
        a 100 m grid into a 500 m grid). Blocks are aligned on the raster's top-left corner,
        and blocks cut by the raster edge sum the cells they have, so the population total is
        conserved exactly (up to floating-point rounding).
    bbox
        Optional (west, south, east, north) box in degrees longitude/latitude; only the
        (coarse) cells that intersect it are read.
    band
        Raster band holding the counts (1-based).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id`` (int64: ``row * n_cols + col`` of the output grid over the whole raster,
        so ids are stable whatever the bbox), ``row``, ``col``, ``population`` (persons, float,
        > 0) and the point geometry at each cell centre, in the raster CRS. Cells holding
        nodata, NaN, infinite or negative values are excluded and counted; zero-population
        cells are not points. ``gdf.attrs["cell_size"]`` is the output cell size (CRS units,
        width and height) and ``gdf.attrs["report"]`` the counts (see
        :func:`population_report`).

    Raises
    ------
    InputError
        Unreadable or truncated file, no CRS, a band that does not exist, a bad aggregate or
        bbox.
    """
    cells = _raster_cells(Path(path), aggregate, bbox, band)
    gdf = gpd.GeoDataFrame(
        {
            "id": cells.ids,
            "row": cells.rows,
            "col": cells.cols,
            "population": cells.population,
        },
        geometry=gpd.points_from_xy(cells.x, cells.y),
        crs=cells.crs,
    )
    gdf.attrs.update(cells.attrs)
    return gdf


def read_population_points(
    path: str | Path,
    *,
    aggregate: int = 1,
    bbox: BBox | None = None,
    band: int = 1,
) -> Points:
    """Read a population-count raster as :class:`~accessplan.points.Points` (arrays).

    The cells of :func:`read_population_raster` without a shapely point per cell: a 100 m
    grid of a country (10⁷ populated cells) takes about 40 bytes per cell. Same parameters,
    ids, ``row``/``col``/``population`` values, ``attrs`` and errors.
    """
    from accessplan.points import Points

    cells = _raster_cells(Path(path), aggregate, bbox, band)
    return Points(
        pd.Index(cells.ids),
        cells.x,
        cells.y,
        cells.crs,
        {"row": cells.rows, "col": cells.cols, "population": cells.population},
        dict(cells.attrs),
    )


@dataclass(frozen=True)
class _RasterCells:
    """Populated cells of a raster as arrays (see :func:`read_population_raster`)."""

    ids: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    population: np.ndarray
    x: np.ndarray
    y: np.ndarray
    crs: pyproj.CRS
    attrs: dict[str, Any]


def _raster_cells(path: Path, aggregate: int, bbox: BBox | None, band: int) -> _RasterCells:
    import rasterio
    from rasterio.windows import Window, from_bounds

    where = _where(path)
    if not isinstance(aggregate, int | np.integer) or aggregate < 1:
        raise InputError(f"aggregate={aggregate!r} must be a whole number of cells >= 1.")
    k = int(aggregate)
    bbox = _check_bbox(bbox)
    if not path.exists():
        raise InputError(f"population raster {str(path)!r} does not exist; check the path.")
    if path.is_dir():
        raise InputError(
            f"population raster {str(path)!r} is a folder, not a file; give the path of the "
            "file inside it (a GeoTIFF)."
        )
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(
            f"{where} could not be opened as a raster ({str(exc)[:200]}); it may be truncated "
            "or not a GeoTIFF. Download it again."
        ) from exc
    with src:
        crs = _check_crs(src.crs, where)
        if not 1 <= band <= src.count:
            raise InputError(f"{where} has {src.count} band(s); band={band} does not exist.")
        if src.transform.b != 0 or src.transform.d != 0:
            raise InputError(f"{where} is a rotated raster; warp it to a north-up grid first.")
        # Whole coarse blocks, aligned on the raster's top-left corner.
        row0, col0, nrows, ncols = 0, 0, src.height, src.width
        if bbox is not None:
            west, south, east, north = _bbox_in_crs(bbox, crs)
            win = from_bounds(west, south, east, north, transform=src.transform)
            r_lo = max(0, math.floor(win.row_off) // k * k)
            c_lo = max(0, math.floor(win.col_off) // k * k)
            r_hi = min(src.height, math.ceil(win.row_off + win.height))
            c_hi = min(src.width, math.ceil(win.col_off + win.width))
            r_hi = min(src.height, -(-r_hi // k) * k)
            c_hi = min(src.width, -(-c_hi // k) * k)
            if r_hi <= r_lo or c_hi <= c_lo:
                raise InputError(f"{where} has no cell inside bbox={bbox}; check the bbox.")
            row0, col0, nrows, ncols = r_lo, c_lo, r_hi - r_lo, c_hi - c_lo
        try:
            values = src.read(band, window=Window(col0, row0, ncols, nrows), masked=False)
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(
                f"{where} could not be read ({str(exc)[:200]}); the file is probably "
                "truncated. Download it again."
            ) from exc
        nodata = src.nodatavals[band - 1]
        transform = src.transform
        full_cols_out = -(-src.width // k)
    values = values.astype(np.float64, copy=False)
    report = _raster_report(values, nodata, where, band, k)
    valid = report.pop("_valid")
    clean = np.where(valid, values, 0.0)
    sums = _block_sums(clean, k)
    rows_out, cols_out = np.nonzero(sums > 0)
    population = sums[rows_out, cols_out]
    g_rows = rows_out + row0 // k
    g_cols = cols_out + col0 // k
    cell_w, cell_h = abs(transform.a) * k, abs(transform.e) * k
    xs = transform.c + (g_cols + 0.5) * transform.a * k
    ys = transform.f + (g_rows + 0.5) * transform.e * k
    report.update(
        points=int(population.size),
        population_total=float(population.sum()),
        cell_size=(cell_w, cell_h),
        crs=crs.to_string(),
    )
    return _RasterCells(
        ids=(g_rows.astype(np.int64) * full_cols_out + g_cols).astype(np.int64),
        rows=g_rows.astype(np.int64),
        cols=g_cols.astype(np.int64),
        population=population,
        x=np.asarray(xs, dtype=np.float64),
        y=np.asarray(ys, dtype=np.float64),
        crs=crs,
        attrs={"cell_size": (cell_w, cell_h), "report": report, "source": str(path)},
    )


def _bbox_in_crs(bbox: BBox, crs: pyproj.CRS) -> BBox:
    if crs.equals(pyproj.CRS.from_epsg(4326)):
        return bbox
    transformer = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    west, south, east, north = transformer.transform_bounds(*bbox)
    return (west, south, east, north)


def _raster_report(
    values: np.ndarray, nodata: float | None, where: str, band: int, k: int
) -> dict[str, Any]:
    """Count the cells that are nodata, NaN, infinite, negative, zero or populated."""
    is_nan = np.isnan(values)
    is_nodata = (
        np.zeros_like(is_nan)
        if nodata is None or (isinstance(nodata, float) and math.isnan(nodata))
        else (values == nodata)
    )
    is_inf = np.isinf(values)
    is_negative = (values < 0) & ~is_nodata & ~is_inf
    valid = ~(is_nan | is_nodata | is_inf | is_negative)
    return {
        "source": where,
        "band": band,
        "aggregate": k,
        "cells_read": int(values.size),
        "cells_valid": int(valid.sum()),
        "cells_populated": int((valid & (values > 0)).sum()),
        "cells_zero": int((valid & (values == 0)).sum()),
        "cells_nodata": int(is_nodata.sum()),
        "cells_nan": int((is_nan & ~is_nodata).sum()),
        "cells_infinite": int(is_inf.sum()),
        "cells_negative": int(is_negative.sum()),
        "negative_persons_excluded": float(values[is_negative].sum()),
        "_valid": valid,
    }


def _block_sums(values: np.ndarray, k: int) -> np.ndarray:
    """Sum k × k blocks; the last row/column of blocks may be partial (padded with zeros)."""
    if k == 1:
        return values
    nrows, ncols = values.shape
    pad_r, pad_c = (-nrows) % k, (-ncols) % k
    padded = np.pad(values, ((0, pad_r), (0, pad_c)))
    r, c = padded.shape
    return padded.reshape(r // k, k, c // k, k).sum(axis=(1, 3))


def population_report(population: gpd.GeoDataFrame) -> pd.Series:
    """Counts kept by a population reader: cells read, valid, nodata, NaN, negative, total.

    Parameters
    ----------
    population
        Output of :func:`read_population_raster` (or :func:`read_population`).

    Returns
    -------
    pandas.Series
        One entry per count; persons for ``population_total`` and
        ``negative_persons_excluded``.
    """
    report = population.attrs.get("report")
    if report is None:
        raise InputError(
            "this population table carries no report (attrs['report']); read it with "
            "accessplan.io.read_population_raster or read_population."
        )
    return pd.Series(report, dtype=object)


def cells_to_polygons(
    points: gpd.GeoDataFrame, cell_size: float | tuple[float, float] | None = None
) -> gpd.GeoDataFrame:
    """Square cell polygons centred on population points, for maps.

    Parameters
    ----------
    points
        Cell-centre points (e.g. from :func:`read_population_raster`).
    cell_size
        Cell width and height in CRS units (a number for square cells); default
        ``points.attrs["cell_size"]``.

    Returns
    -------
    geopandas.GeoDataFrame
        The same rows and columns with the cell polygons as geometry.
    """
    if cell_size is None:
        cell_size = points.attrs.get("cell_size")
        if cell_size is None:
            raise InputError(
                "cells_to_polygons: the points carry no attrs['cell_size']; pass cell_size= "
                "(CRS units)."
            )
    if isinstance(cell_size, tuple | list):
        w, h = (float(cell_size[0]), float(cell_size[1]))
    else:
        w = h = float(cell_size)
    x = points.geometry.x.to_numpy()
    y = points.geometry.y.to_numpy()
    polygons = shapely.box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
    out = gpd.GeoDataFrame(points.drop(columns="geometry"), geometry=polygons, crs=points.crs)
    out.attrs = dict(points.attrs)
    return out


# ====================================================================== population: vector
def read_population(
    path: str | Path | pd.DataFrame,
    population_col: str,
    *,
    id_col: str | None = None,
    lon_col: str = "lon",
    lat_col: str = "lat",
    crs: CRSLike | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read population points from a vector grid / point layer or a CSV with coordinates.

    Parameters
    ----------
    path
        GeoPackage, GeoJSON, Shapefile (any format pyogrio reads), a CSV with ``lon_col`` and
        ``lat_col`` columns, or a (Geo)DataFrame.
    population_col
        Column of persons per feature (numbers >= 0, no NaN).
    id_col
        Column of unique ids; default: the row number (0, 1, ...).
    lon_col, lat_col
        Coordinate columns of a CSV / DataFrame: longitude and latitude in degrees, or x
        (easting) and y (northing) when ``crs`` is projected.
    crs
        CRS of the CSV / DataFrame coordinate columns (default EPSG:4326), or the CRS of a
        vector file that carries none. A vector file's (or GeoDataFrame's) own CRS is kept;
        giving a different ``crs`` for it is an error.
    layer
        Layer of a multi-layer file (GeoPackage).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id``, ``population`` (persons, float), the source's other columns and point
        geometry, in the source CRS. Polygon features are reduced to their centroid, computed
        in a projected CRS (UTM) when the data are in degrees; the polygons are kept in the
        column ``cell``. ``attrs["report"]`` holds the counts and the total.

    Raises
    ------
    InputError
        Unreadable file or folder, missing column (with the closest available name), missing
        or unknown CRS, coordinates that cannot be degrees in a lon/lat CRS, no feature or a
        total of 0 persons, empty or invalid geometry, missing, non-numeric or negative
        population, duplicate ids.
    """
    where = _where(path)
    gdf, coordinate_cols = _read_table(path, lon_col, lat_col, crs, layer)
    gdf = gdf.reset_index(drop=True)
    if population_col not in gdf.columns:
        raise _missing_column(where, population_col, "population", _data_columns(gdf))
    if len(gdf) == 0:
        raise InputError(
            f"{where}" + (f" layer {layer!r}" if layer else "") + " has no feature (0 rows); "
            "check the file" + ("" if layer else ", or pass layer= for another layer") + "."
        )
    ids = _ids(gdf, id_col, where)
    label_ids = ids if id_col is not None else None
    _check_geometries(gdf, where, label_ids)
    beyond = _beyond_degrees(gdf)[2]
    if beyond.any():
        raise _not_degrees_error(gdf, where, coordinate_cols, label_ids, np.flatnonzero(beyond))
    pop = _population_values(gdf, population_col, where, label_ids)
    if pop.sum() == 0:
        raise InputError(
            f"{where}: column {population_col!r} sums to 0 persons over {len(gdf)} row(s); "
            "pass the column of persons per feature as population_col=."
        )
    geom_types = set(gdf.geom_type.unique())
    out = gdf.drop(columns=[c for c in ("id", "population") if c in gdf.columns])
    if geom_types <= {"Point"}:
        points = gdf.geometry
    elif geom_types <= {"Polygon", "MultiPolygon"}:
        points = _centroids(gdf.geometry, where)
        out["cell"] = gpd.GeoSeries(gdf.geometry.to_numpy(), index=gdf.index, crs=gdf.crs)
    else:
        raise InputError(
            f"{where}: population features must be points or polygons, found "
            f"{sorted(geom_types)}; convert the layer first."
        )
    out.insert(0, "id", ids)
    out.insert(1, "population", pop.to_numpy())
    out = gpd.GeoDataFrame(out.drop(columns="geometry"), geometry=points.to_numpy(), crs=gdf.crs)
    out.attrs["report"] = {
        "source": where,
        "points": len(out),
        "population_total": float(pop.sum()),
        "zero_population": int((pop == 0).sum()),
        "crs": out.crs.to_string(),
    }
    return out


def _population_values(
    gdf: pd.DataFrame, population_col: str, where: str, ids: np.ndarray | None
) -> pd.Series:
    """Persons per row as floats; raise naming the first missing, non-numeric or negative one."""
    raw = gdf[population_col]
    pop = pd.to_numeric(raw, errors="coerce").astype(float)
    values = pop.to_numpy()
    problems = {
        "missing": raw.isna().to_numpy(),
        "non-numeric": raw.notna().to_numpy() & np.isnan(values),
        "infinite": np.isinf(values),
        "negative": values < 0,
    }
    bad = np.logical_or.reduce(list(problems.values()))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        kind = next(name for name, mask in problems.items() if mask[row])
        raise InputError(
            f"{where}: column {population_col!r} has a {kind} population in "
            f"{_row_label(row, ids)} (value {_plain(raw.iloc[row])!r}); {int(bad.sum())} row(s) "
            "have a missing, non-numeric, infinite or negative population. Fix or remove those "
            "rows (persons are numbers >= 0)."
        )
    return pop


def _data_columns(gdf: pd.DataFrame) -> list[str]:
    return [c for c in gdf.columns if c != getattr(gdf, "_geometry_column_name", None)]


def _read_table(
    source: str | Path | pd.DataFrame, lon_col: str, lat_col: str, crs: Any, layer: str | None
) -> tuple[gpd.GeoDataFrame, tuple[str, str] | None]:
    """Read a vector file, a CSV with coordinates, or a (Geo)DataFrame into a GeoDataFrame.

    Returns the table and the names of the coordinate columns it was built from (None for a
    vector file or a GeoDataFrame).
    """
    where = _where(source)
    if isinstance(source, gpd.GeoDataFrame):
        gdf = source.copy()
        if gdf.geometry.name != "geometry":
            gdf = gdf.rename_geometry("geometry")
        return _with_crs(gdf, crs, where), None
    if isinstance(source, pd.DataFrame):
        return _points_from_columns(source, lon_col, lat_col, crs, where), (lon_col, lat_col)
    path = Path(source)
    if not path.exists():
        raise InputError(f"{where} does not exist; check the path.")
    suffix = path.suffix.lower()
    if path.is_dir() and suffix != ".gdb":  # a FileGDB is a folder; anything else is a mistake
        inside = sorted(p.name for p in path.iterdir() if p.suffix.lower() in _TABLE_SUFFIXES)
        raise InputError(
            f"{where} is a folder, not a file; give the path of the file inside it"
            + (f" (it holds {inside[:5]})." if inside else ".")
        )
    if suffix in {".csv", ".txt", ".tsv"}:
        frame = _read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        return _points_from_columns(frame, lon_col, lat_col, crs, where), (lon_col, lat_col)
    gdf = _read_vector(path, layer)
    if not isinstance(gdf, gpd.GeoDataFrame) or "geometry" not in gdf:
        frame = pd.DataFrame(gdf)
        return _points_from_columns(frame, lon_col, lat_col, crs, where), (lon_col, lat_col)
    if gdf.geometry.name != "geometry":
        gdf = gdf.rename_geometry("geometry")
    return _with_crs(gdf, crs, where), None


_TABLE_SUFFIXES = _VECTOR_SUFFIXES | {".csv", ".tsv", ".txt", ".tif", ".tiff"}


def _read_csv(path: Path, sep: str) -> pd.DataFrame:
    """pandas.read_csv with every reading failure as an InputError naming the file."""
    where = _where(path)
    try:
        return pd.read_csv(path, sep=sep)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{where} is not UTF-8 text ({exc.reason}); save it as UTF-8 "
            "(e.g. 'CSV UTF-8' in a spreadsheet) and read it again."
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{where} is empty (no header, no rows); check the file.") from exc
    except pd.errors.ParserError as exc:
        raise InputError(
            f"{where} could not be read as CSV ({str(exc)[:200]}); check the quoting and the "
            "number of fields on that line."
        ) from exc
    except OSError as exc:
        raise InputError(
            f"{where} could not be opened ({type(exc).__name__}: {exc.strerror or exc}); "
            "check the path and its permissions."
        ) from exc


def _read_vector(path: Path, layer: str | None) -> pd.DataFrame:
    """geopandas.read_file with every reading failure as an InputError naming the file."""
    import pyogrio

    where = _where(path)
    try:
        return gpd.read_file(path, layer=layer)
    except pyogrio.errors.DataLayerError as exc:
        try:
            layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
        except Exception:  # the layer list is only a hint
            layers = []
        raise InputError(
            f"{where} has no layer {layer!r} ({str(exc)[:120]}); pass layer= with one of {layers}."
        ) from exc
    except Exception as exc:  # pyogrio DataSourceError, OSError, GDAL errors...
        raise InputError(
            f"{where} could not be read as a vector file ({type(exc).__name__}: "
            f"{str(exc)[:160]}). It may be truncated, or not a GeoPackage/GeoJSON/Shapefile "
            "(a text file renamed?): export it again, or give a table of coordinates a .csv "
            "name and pass lon_col= and lat_col=."
        ) from exc


def _with_crs(gdf: gpd.GeoDataFrame, crs: Any, where: str) -> gpd.GeoDataFrame:
    """Keep the data's own CRS; use ``crs`` only for data without one (a conflict raises)."""
    if gdf.crs is None:
        return gdf.set_crs(_check_crs(crs, where))
    own = _check_crs(gdf.crs, where)
    if crs is not None and not own.equals(_check_crs(crs, "crs=")):
        raise InputError(
            f"{where} has its own CRS {own.to_string()!r}, but crs={str(crs)!r} was given; "
            "crs= is only for files without a CRS (the file's CRS is kept). Drop crs=, or fix "
            "the CRS stored in the file."
        )
    return gdf


def _points_from_columns(
    frame: pd.DataFrame, lon_col: str, lat_col: str, crs: Any, where: str
) -> gpd.GeoDataFrame:
    for col, kind in ((lon_col, "lon"), (lat_col, "lat")):
        if col not in frame.columns:
            raise _missing_column(
                where, col, "coordinate", frame.columns, argument=f"{kind}_col", kind=kind
            )
    crs = _check_crs("EPSG:4326" if crs is None else crs, where)
    x = pd.to_numeric(frame[lon_col], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(frame[lat_col], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    geometry = np.full(len(frame), None, dtype=object)
    geometry[ok] = shapely.points(x[ok], y[ok])
    return gpd.GeoDataFrame(frame.copy(), geometry=geometry, crs=crs)


def _beyond_degrees(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: x, y of point geometries (NaN otherwise) and whether the row cannot be degrees.

    A row cannot be degrees when its CRS is geographic and its bounds go beyond ±180 (x) or
    ±90 (y).
    """
    geom = gdf.geometry.to_numpy()
    x = np.full(len(gdf), np.nan)
    y = np.full(len(gdf), np.nan)
    points = shapely.get_type_id(geom) == 0  # missing geometries have id -1
    points &= ~shapely.is_empty(geom)
    x[points] = shapely.get_x(geom[points])
    y[points] = shapely.get_y(geom[points])
    if gdf.crs is None or not gdf.crs.is_geographic:
        return x, y, np.zeros(len(gdf), dtype=bool)
    with np.errstate(invalid="ignore"):
        xs, ys = _extreme_coordinates(geom)
        return x, y, (np.abs(xs) > 180) | (np.abs(ys) > 90)


def _extreme_coordinates(geom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per geometry: the x and the y farthest from 0 (NaN for missing or empty ones)."""
    bounds = shapely.bounds(geom)
    xs = np.where(np.abs(bounds[:, 0]) > np.abs(bounds[:, 2]), bounds[:, 0], bounds[:, 2])
    ys = np.where(np.abs(bounds[:, 1]) > np.abs(bounds[:, 3]), bounds[:, 1], bounds[:, 3])
    return xs, ys


def _not_degrees_error(
    gdf: gpd.GeoDataFrame,
    where: str,
    coordinate_cols: tuple[str, str] | None,
    ids: np.ndarray | None,
    rows: np.ndarray,
) -> InputError:
    """Coordinates in a lon/lat CRS beyond ±180° / ±90°: projected metres, or swapped columns."""
    xs, ys = _extreme_coordinates(gdf.geometry.to_numpy())
    row = int(rows[0])
    lon_bad = abs(xs[row]) > 180
    if coordinate_cols is None:
        column = "x (longitude)" if lon_bad else "y (latitude)"
    else:
        column = repr(coordinate_cols[0] if lon_bad else coordinate_cols[1])
    value = xs[row] if lon_bad else ys[row]
    text = (
        f"{where}: column {column} holds {value:g} in {_row_label(row, ids)} "
        f"({len(rows)} row(s) like it), which cannot be degrees in {gdf.crs.to_string()} "
        "(longitude is within ±180, latitude within ±90)."
    )
    swapped = (np.abs(ys[rows]) <= 180).all() and (np.abs(xs[rows]) <= 90).all()
    if coordinate_cols is not None and swapped:
        text += " Longitude and latitude look swapped: exchange lon_col= and lat_col=."
    elif coordinate_cols is not None:
        text += (
            " They look like projected coordinates (e.g. metres): pass crs= with the CRS of "
            "these columns (e.g. crs='EPSG:32738' for UTM zone 38S)."
        )
    else:
        text += (
            " The CRS stored with the data is wrong for its coordinates: set the right one "
            "(gdf.set_crs(..., allow_override=True)) and save it in the file."
        )
    return InputError(text)


def _check_geometries(gdf: gpd.GeoDataFrame, where: str, ids: np.ndarray | None = None) -> None:
    """Raise on the first missing, empty or invalid geometry."""
    missing = gdf.geometry.isna().to_numpy() | gdf.geometry.is_empty.to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise InputError(
            f"{where}: {_row_label(row, ids)} has an empty or missing geometry/coordinates "
            f"({int(missing.sum())} such row(s)); give it coordinates or remove it."
        )
    invalid = ~gdf.geometry.is_valid.to_numpy()
    if invalid.any():
        row = int(np.flatnonzero(invalid)[0])
        reason = shapely.is_valid_reason(gdf.geometry.iloc[row])
        raise InputError(
            f"{where}: {_row_label(row, ids)} has an invalid geometry ({reason}); repair it (e.g. "
            "shapely.make_valid) or remove the row."
        )


def _centroids(geometry: gpd.GeoSeries, where: str) -> gpd.GeoSeries:
    """Centroids computed in a metric CRS (UTM when the data are in degrees)."""
    if geometry.crs is not None and geometry.crs.is_geographic:
        utm = _utm_crs(geometry, where)
        return geometry.to_crs(utm).centroid.to_crs(geometry.crs)
    return geometry.centroid


def _rounded(values: Iterable[float]) -> tuple[float, ...]:
    return tuple(round(float(v), 3) for v in values)


def _utm_crs(geometry: gpd.GeoSeries, where: str) -> pyproj.CRS:
    """geopandas' UTM estimate, with its RuntimeError (no zone for these bounds) explained."""
    try:
        return geometry.estimate_utm_crs()
    except RuntimeError as exc:  # pyproj finds no UTM zone: bounds that are not degrees
        raise InputError(
            f"{where}: no UTM zone covers the bounds {_rounded(geometry.total_bounds)} in "
            f"{geometry.crs.to_string()}; the coordinates are probably not longitude/"
            "latitude. Give their real CRS (crs=...)."
        ) from exc


def _ids(gdf: pd.DataFrame, id_col: str | None, where: str) -> np.ndarray:
    """Unique, non-missing ids from ``id_col`` (default: the row number)."""
    if id_col is None:
        return np.arange(len(gdf), dtype=np.int64)
    if id_col not in gdf.columns:
        raise _missing_column(where, id_col, "id", _data_columns(gdf))
    ids = gdf[id_col]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise InputError(
            f"{where}: column {id_col!r} has no id in row {row + 1}; give every row one."
        )
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        rows = np.flatnonzero(ids.duplicated(keep=False).to_numpy())[:6].tolist()
        raise InputError(
            f"{where}: column {id_col!r} has duplicate ids {dup.unique()[:5].tolist()} "
            f"(rows {rows}); make the ids unique."
        )
    return ids.to_numpy()


# ====================================================================== facilities
Category = Mapping[str, Any]
"""One entry of ``categories=``: ``{"type": "clinic", "capacity": 2}`` (either key optional)."""


def read_facilities(
    source: str | Path | pd.DataFrame,
    *,
    id_col: str | None = None,
    name_col: str | None = None,
    type_col: str | None = None,
    default_type: str = "clinic",
    capacity_col: str | None = None,
    default_capacity: float = 1.0,
    category_col: str | None = None,
    categories: Mapping[Any, Category] | None = None,
    lon_col: str = "lon",
    lat_col: str = "lat",
    crs: CRSLike | None = None,
    layer: str | None = None,
    bounds: BBox | None = None,
    on_invalid: Literal["raise", "report"] = "raise",
    study_area: Any = None,
    study_area_crs: CRSLike = "EPSG:4326",
    study_area_margin: float = 5_000.0,
    on_outside: Literal["report", "raise"] = "report",
) -> gpd.GeoDataFrame:
    """Read facilities or candidate sites.

    Parameters
    ----------
    source
        Vector file (GeoPackage, GeoJSON, Shapefile...) of points, a CSV with ``lon_col`` and
        ``lat_col``, or a (Geo)DataFrame.
    id_col
        Column of unique ids; default the column ``id`` when there is one, else the row number.
    name_col
        Column of names; default the id as text. A missing name becomes the id as text.
    type_col
        Column of supply types (one of :data:`accessplan.supply.SUPPLY_TYPES`; case and
        surrounding spaces ignored); default ``default_type`` for every row. Missing values
        get ``default_type``.
    capacity_col
        Column of capacities (a number >= 0, in the unit the study uses, e.g. clinicians);
        default ``default_capacity`` for every row.
    category_col, categories
        A column of facility categories (e.g. a tier) and the table that turns each of its
        values into a ``type`` and a ``capacity``, e.g. ``category_col="Tier_name"``,
        ``categories={"Tier1 health post": {"type": "clinic", "capacity": 1}, ...}``. Keys
        match the column's values ignoring case and surrounding spaces (in a numeric
        column, ``1`` and ``"1"`` match ``1.0``). An entry without ``"type"`` or ``"capacity"``
        takes ``type_col`` / ``default_type`` or ``capacity_col`` / ``default_capacity``;
        an entry that sets one may not be combined with the column of the same thing. A value
        missing from ``categories`` raises (listing every such value); a row without a
        category is an invalid row (see ``on_invalid``).
    lon_col, lat_col, crs
        Coordinate columns of a CSV / DataFrame and their CRS (default EPSG:4326: longitude
        and latitude in degrees; with a projected ``crs`` they hold x and y), or the CRS of a
        vector file that has none. A vector file's own CRS is kept.
    layer
        Layer of a multi-layer file.
    bounds
        Optional (west, south, east, north) area in degrees longitude/latitude; rows outside
        it are invalid (e.g. a facility on another island, or a flipped coordinate sign).
    on_invalid
        What to do with rows without coordinates, with impossible coordinates (latitude beyond
        ±90°, longitude beyond ±180°, non-finite), outside ``bounds``, without a category, or
        with a missing or negative capacity: ``"raise"`` (default) raises naming the first
        such row; ``"report"`` leaves them out and lists them in ``gdf.attrs["excluded"]``.
    study_area
        The extent the study covers, to catch facilities that cannot be reached: a road graph
        (``networkx``; its ``graph["crs"]``), a GeoDataFrame / GeoSeries (e.g. the population;
        its CRS), a raster or vector file path (its bounds), a shapely geometry or a (west,
        south, east, north) box in ``study_area_crs``, or a list of these (their union). Graphs,
        tables and files count by their bounding box. Default None: no check.
    study_area_crs
        CRS of a shapely geometry or box given as ``study_area`` (default EPSG:4326).
    study_area_margin
        Metres beyond the study area within which a facility still counts as inside
        (default 5,000 m).
    on_outside
        What to do with facilities farther than ``study_area_margin`` from the study area:
        ``"report"`` (default) leaves them out and lists them in ``gdf.attrs["excluded"]``
        with their distance; ``"raise"`` raises naming the first one.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id``, ``name`` (str), ``type`` (str), ``capacity`` (float >= 0), the source's
        other columns, and point geometry in the source CRS. ``attrs["excluded"]`` is one
        DataFrame (empty when nothing was excluded) of every row left out, invalid or outside
        the study area: ``row`` (0-based data row), ``id``, ``name``, ``reason``, ``x`` and
        ``y`` (the row's coordinates as given, in the source CRS; NaN when missing), then
        ``type``, ``capacity`` and the source's other columns (a source column named ``row``,
        ``reason``, ``x`` or ``y`` gets the suffix ``_source`` there).

    Raises
    ------
    InputError
        Unreadable file, missing column (the message lists the available ones), missing or
        unknown CRS, coordinate columns that cannot be degrees in a lon/lat CRS (pass
        ``crs=``), duplicate or missing ids, a non-point or invalid geometry, an unknown type,
        category values missing from ``categories``, invalid rows when ``on_invalid="raise"``,
        rows outside the study area when ``on_outside="raise"``, and a bad ``study_area``.
    """
    _check_choice("on_invalid", on_invalid, ("raise", "report"))
    _check_choice("on_outside", on_outside, ("report", "raise"))
    if default_type not in SUPPLY_TYPES:
        raise InputError(
            f"default_type={default_type!r} is not a supply type; use one of {list(SUPPLY_TYPES)}."
        )
    default_capacity = _check_capacity(default_capacity, "default_capacity")
    table = _category_table(categories, category_col, type_col, capacity_col)
    bounds = _check_bbox(bounds)
    area = None if study_area is None else _study_area(study_area, study_area_crs)
    margin = _check_margin(study_area_margin)
    where = _where(source)
    gdf, coordinate_cols = _read_table(source, lon_col, lat_col, crs, layer)
    gdf = gdf.reset_index(drop=True)
    for col, what in (
        (name_col, "name"),
        (type_col, "type"),
        (capacity_col, "capacity"),
        (category_col, "category"),
    ):
        if col is not None and col not in gdf.columns:
            raise _missing_column(where, col, what, _data_columns(gdf))
    if id_col is None and "id" in gdf.columns:
        id_col = "id"
    ids = _ids(gdf, id_col, where)

    x, y, beyond = _beyond_degrees(gdf)
    located = np.isfinite(x) & np.isfinite(y)
    if beyond.any() and beyond.sum() == located.sum():  # no row can be degrees: a wrong CRS
        raise _not_degrees_error(gdf, where, coordinate_cols, ids, np.flatnonzero(beyond))
    category = None
    if category_col is not None:
        category = _categories_of_rows(gdf, category_col, table, where, ids)
    reasons = _facility_row_problems(gdf, where, capacity_col, bounds, category_col, category)
    invalid = reasons.notna().to_numpy()
    if invalid.any() and on_invalid == "raise":
        row = int(np.flatnonzero(invalid)[0])
        hint = " (if the coordinate columns are not degrees, pass crs=)" if beyond.any() else ""
        raise InputError(
            f"{where}: {_row_label(row, ids)} {reasons.iloc[row]}; "
            f"{int(invalid.sum())} row(s) have such problems{hint}. Fix them, or pass "
            "on_invalid='report' to leave them out and list them in attrs['excluded']."
        )
    out = _facility_columns(gdf, ids, name_col, type_col, default_type, capacity_col)
    if capacity_col is None:
        out["capacity"] = default_capacity
    if category is not None:
        _apply_categories(out, category, table)
    if area is not None:
        outside = _outside_study_area(out.geometry, ~invalid, area, margin)
        if outside.notna().any() and on_outside == "raise":
            row = int(np.flatnonzero(outside.notna().to_numpy())[0])
            raise InputError(
                f"{where}: {_row_label(row, ids)} {outside.iloc[row]}; "
                f"{int(outside.notna().sum())} row(s) lie outside. Check their coordinates "
                "(and crs=), widen study_area= or study_area_margin=, or pass "
                "on_outside='report' to leave them out and list them in attrs['excluded']."
            )
        reasons = reasons.where(reasons.notna(), outside)
    dropped = reasons.notna().to_numpy()
    kept = out.loc[~dropped].reset_index(drop=True)
    kept["capacity"] = kept["capacity"].astype(float)
    check_supply_types(kept["type"], where=f"{where} column {type_col or 'type'!r}")
    result = gpd.GeoDataFrame(kept, geometry="geometry", crs=gdf.crs)
    result.attrs["excluded"] = _excluded_rows(out, dropped, reasons, x, y)
    result.attrs["source"] = where
    return result


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f"{name}={value!r}; use one of {list(allowed)}.")


def _check_capacity(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number >= 0):
        raise InputError(f"{name}={value!r} must be a number >= 0.")
    return number


def _check_margin(value: Any) -> float:
    try:
        margin = float(value)
    except (TypeError, ValueError):
        margin = math.nan
    if not (math.isfinite(margin) and margin >= 0):
        raise InputError(f"study_area_margin={value!r} must be a distance in metres >= 0.")
    return margin


def _excluded_rows(
    out: gpd.GeoDataFrame, dropped: np.ndarray, reasons: pd.Series, x: np.ndarray, y: np.ndarray
) -> pd.DataFrame:
    """One row per excluded facility: row, id, name, reason, x/y as given, the other columns.

    ``row`` counts the file's data rows from 1 (the first row after a CSV's header, the first
    feature of a vector file).
    """
    head = pd.DataFrame(
        {
            "row": np.flatnonzero(dropped) + 1,
            "id": out["id"].to_numpy()[dropped],
            "name": out["name"].to_numpy()[dropped],
            "reason": reasons.to_numpy()[dropped],
            "x": x[dropped],
            "y": y[dropped],
        }
    )
    rest = pd.DataFrame(out.loc[dropped].drop(columns=["id", "name", "geometry"]))
    rest = rest.rename(columns={c: f"{c}_source" for c in rest.columns if c in head.columns})
    excluded = pd.concat([head, rest.reset_index(drop=True)], axis=1)
    excluded.attrs["crs"] = out.crs.to_string() if out.crs is not None else None
    return excluded


# ---------------------------------------------------------------------- categories
def _category_key(value: Any) -> Any:
    """A category value as matched: numbers as floats, text stripped and case-folded."""
    value = _plain(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return str(value).strip().casefold()


def _as_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _category_table(
    categories: Mapping[Any, Category] | None,
    category_col: str | None,
    type_col: str | None,
    capacity_col: str | None,
) -> dict[Any, tuple[Any, dict[str, Any]]]:
    """Validated ``categories``: matching key → (key as given, {"type"?, "capacity"?})."""
    if categories is None and category_col is None:
        return {}
    if categories is None or category_col is None:
        missing = "categories=" if categories is None else "category_col="
        raise InputError(
            f"category_col and categories go together; {missing} is missing. Give the column "
            "of categories (category_col='Tier_name') and the table of their types and "
            "capacities (categories={'Tier1 health post': {'type': 'clinic', 'capacity': 1}})."
        )
    if not isinstance(categories, Mapping) or not categories:
        raise InputError(
            f"categories={categories!r} must be a non-empty mapping of category value → "
            "{'type': ..., 'capacity': ...}."
        )
    table: dict[Any, tuple[Any, dict[str, Any]]] = {}
    for key, entry in categories.items():
        if not isinstance(entry, Mapping) or not entry or set(entry) - {"type", "capacity"}:
            raise InputError(
                f"categories[{key!r}]={entry!r} must be a mapping with 'type' and/or "
                "'capacity', e.g. {'type': 'clinic', 'capacity': 2}."
            )
        spec: dict[str, Any] = {}
        if "type" in entry:
            if type_col is not None:
                raise InputError(
                    f"categories[{key!r}] sets a type and type_col={type_col!r} too; use one."
                )
            kind = str(entry["type"]).strip().lower()
            if kind not in SUPPLY_TYPES:
                raise InputError(
                    f"categories[{key!r}] has type {entry['type']!r}; use one of "
                    f"{list(SUPPLY_TYPES)}."
                )
            spec["type"] = kind
        if "capacity" in entry:
            if capacity_col is not None:
                raise InputError(
                    f"categories[{key!r}] sets a capacity and capacity_col={capacity_col!r} "
                    "too; use one."
                )
            spec["capacity"] = _check_capacity(
                entry["capacity"], f"categories[{key!r}]['capacity']"
            )
        match = _category_key(key)
        if match in table:
            raise InputError(
                f"categories has keys {table[match][0]!r} and {key!r}, which match the same "
                "values (case and surrounding spaces are ignored); keep one."
            )
        table[match] = (key, spec)
    return table


def _categories_of_rows(
    gdf: pd.DataFrame,
    category_col: str,
    table: Mapping[Any, tuple[Any, dict[str, Any]]],
    where: str,
    ids: np.ndarray,
) -> pd.Series:
    """The matching key of each row's category (NaN where the row has none)."""
    raw = gdf[category_col]
    keys = raw.map(lambda v: np.nan if _is_missing(v) or pd.isna(v) else _category_key(v))
    if pd.api.types.is_numeric_dtype(raw):  # text keys (as a TOML table has) match numbers
        numbers = {_as_number(k): k for k in table if isinstance(k, str)}
        numbers.pop(None, None)
        keys = keys.map(lambda k: k if k in table else numbers.get(k, k))
    unmapped = keys.notna() & ~keys.isin(list(table))
    if unmapped.any():
        values = list(dict.fromkeys(_plain(v) for v in raw[unmapped]))
        row = int(np.flatnonzero(unmapped.to_numpy())[0])
        example = {str(v): {"type": "clinic", "capacity": 1} for v in values[:2]}
        raise InputError(
            f"{where}: column {category_col!r} has {len(values)} value(s) missing from "
            f"categories=: {values[:10]} (first in {_row_label(row, ids)}); categories= maps "
            f"{[k for k, _ in table.values()][:10]}. Add each value to categories=, e.g. "
            f"{example}."
        )
    return keys


def _apply_categories(
    out: pd.DataFrame, category: pd.Series, table: Mapping[Any, tuple[Any, dict[str, Any]]]
) -> None:
    """Set ``type`` and ``capacity`` from the categories table where an entry gives them."""
    for match, (_, spec) in table.items():
        rows = (category == match).to_numpy()
        for column in ("type", "capacity"):
            if column in spec:
                out.loc[rows, column] = spec[column]


def _facility_row_problems(
    gdf: gpd.GeoDataFrame,
    where: str,
    capacity_col: str | None,
    bounds: BBox | None,
    category_col: str | None = None,
    category: pd.Series | None = None,
) -> pd.Series:
    """One reason (str) per invalid row, NaN for valid rows. Non-point geometry raises."""
    reasons = pd.Series(np.nan, index=gdf.index, dtype=object)
    geom = gdf.geometry
    missing = (geom.isna() | geom.is_empty).to_numpy()
    reasons[missing] = "has no coordinates"
    present = ~missing
    types = geom.geom_type.to_numpy()
    not_point = present & (types != "Point")
    if not_point.any():
        first = int(np.flatnonzero(not_point)[0])
        raise InputError(
            f"{where}: row {first + 1} is a {types[first]}, not a point; facilities must be "
            "points. "
            "Convert them first (e.g. gdf.geometry = gdf.representative_point())."
        )
    x, y, impossible = _beyond_degrees(gdf)
    for row in np.flatnonzero(impossible):
        reasons.iloc[row] = f"has impossible coordinates (lon {x[row]}, lat {y[row]})"
    if bounds is not None:
        _add_bounds_problems(reasons, gdf.crs, x, y, present, bounds)
    if capacity_col is not None:
        cap = pd.to_numeric(gdf[capacity_col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(cap) | (cap < 0)
        for row in np.flatnonzero(bad & reasons.isna().to_numpy()):
            reasons.iloc[row] = (
                f"has a missing, non-numeric or negative capacity "
                f"({_plain(gdf[capacity_col].iloc[row])!r} in column {capacity_col!r})"
            )
    if category is not None:
        no_category = category.isna().to_numpy() & reasons.isna().to_numpy()
        reasons[no_category] = f"has no category (column {category_col!r} is empty)"
    return reasons


def _add_bounds_problems(
    reasons: pd.Series,
    crs: pyproj.CRS | None,
    x: np.ndarray,
    y: np.ndarray,
    present: np.ndarray,
    bounds: BBox,
) -> None:
    """Reason for each located row outside the lon/lat ``bounds``."""
    lon, lat = x, y
    if crs is not None and not crs.is_geographic:
        lon, lat = pyproj.Transformer.from_crs(crs, 4326, always_xy=True).transform(x, y)
        lon, lat = np.asarray(lon), np.asarray(lat)
    west, south, east, north = bounds
    outside = present & reasons.isna().to_numpy()
    outside &= ~((lon >= west) & (lon <= east) & (lat >= south) & (lat <= north))
    flipped = (-lat >= south) & (-lat <= north) & (lon >= west) & (lon <= east)
    for row in np.flatnonzero(outside):
        text = f"lies outside the area {bounds} (lon {lon[row]:.6f}, lat {lat[row]:.6f})"
        if np.isfinite(lat[row]) and lat[row] * (south + north) < 0:
            text += "; its latitude sign looks flipped"
            if flipped[row]:
                text += " (the flipped point would lie inside the area)"
        reasons.iloc[row] = text


# ---------------------------------------------------------------------- study area
class _StudyArea:
    """The study area in a metric CRS (for the margin) and in lon/lat (for distances)."""

    def __init__(self, metric: shapely.Geometry, crs: pyproj.CRS, label: str) -> None:
        self.metric = metric
        self.crs = crs
        self.label = label
        self.lonlat = gpd.GeoSeries([metric], crs=crs).to_crs(4326).iloc[0]


def _study_area(study_area: Any, default_crs: Any) -> _StudyArea:
    """Union of the extents of ``study_area``'s parts, in one metric CRS."""
    items = study_area if _is_collection(study_area) else [study_area]
    if not items:
        raise InputError("study_area=[] is empty; give a road graph, a table, a file or a box.")
    parts = [_study_area_part(item, default_crs) for item in items]
    crs_list = [crs for _, crs, _ in parts]
    if all(crs.is_projected and crs.equals(crs_list[0]) for crs in crs_list):
        metric = crs_list[0]
    else:
        boxes = [
            shapely.box(
                *pyproj.Transformer.from_crs(crs, 4326, always_xy=True).transform_bounds(
                    *geom.bounds
                )
            )
            for geom, crs, _ in parts
        ]
        metric = _utm_crs(gpd.GeoSeries(boxes, crs=4326), "study_area=")
    shapes = []
    for geom, crs, _ in parts:
        size = max(geom.bounds[2] - geom.bounds[0], geom.bounds[3] - geom.bounds[1])
        dense = shapely.segmentize(geom, size / 32) if size > 0 else geom  # curved when reprojected
        shapes.append(gpd.GeoSeries([dense], crs=crs).to_crs(metric).iloc[0])
    union = shapely.union_all(shapes)
    if union.is_empty or not np.isfinite(union.bounds).all():
        raise InputError(
            f"study_area={study_area!r} could not be placed on the map; check it and its CRS "
            "(study_area_crs=)."
        )
    labels = list(dict.fromkeys(label for _, _, label in parts))
    return _StudyArea(union, metric, " and ".join(labels))


def _is_collection(value: Any) -> bool:
    """A list/tuple of study-area parts (not a box of four numbers)."""
    if not isinstance(value, list | tuple):
        return False
    is_box = len(value) == 4 and all(
        isinstance(v, int | float | np.integer | np.floating) for v in value
    )
    return not is_box


def _study_area_part(item: Any, default_crs: Any) -> tuple[shapely.Geometry, pyproj.CRS, str]:
    """(geometry, its CRS, a label for messages) of one part of ``study_area``."""
    if isinstance(item, nx.Graph):
        xy = np.array([(d.get("x"), d.get("y")) for _, d in item.nodes(data=True)], dtype=float)
        crs = _check_crs(item.graph.get("crs"), "the road graph given as study_area")
        return _extent(xy, "the road graph given as study_area"), crs, "the roads"
    from accessplan.network import RoutingGraph

    if isinstance(item, RoutingGraph):
        crs = _check_crs(item.crs, "the routing graph given as study_area")
        return _extent(np.asarray(item.xy), "the routing graph"), crs, "the roads"
    if isinstance(item, gpd.GeoDataFrame | gpd.GeoSeries):
        where = "the table given as study_area"
        crs = _check_crs(item.crs, where)
        bounds = _table_bounds(item)
        label = "the population" if "population" in getattr(item, "columns", ()) else "the layer"
        return _extent(bounds, where), crs, label
    if isinstance(item, str | Path):
        return _file_extent(Path(item))
    if isinstance(item, shapely.Geometry):
        return item, _check_crs(default_crs, "study_area_crs="), "the study area"
    if isinstance(item, list | tuple) and not _is_collection(item):
        west, south, east, north = (float(v) for v in item)
        if not (west <= east and south <= north):
            raise InputError(
                f"study_area={tuple(item)!r} is not a (west, south, east, north) box: west <= "
                "east and south <= north."
            )
        crs = _check_crs(default_crs, "study_area_crs=")
        return shapely.box(west, south, east, north), crs, "the study area"
    raise InputError(
        f"study_area of type {type(item).__name__} is not understood; give a road graph, a "
        "GeoDataFrame, a raster or vector file path, a shapely geometry or a (west, south, "
        "east, north) box (with study_area_crs=), or a list of these."
    )


def _table_bounds(table: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """(2, 2) bounds of a table, by its cells where it has them: the ``cell`` polygons of
    :func:`read_population`, or half a cell around the points of
    :func:`read_population_raster` (``attrs["cell_size"]``)."""
    if isinstance(table, gpd.GeoDataFrame) and "cell" in table.columns:
        return gpd.GeoSeries(table["cell"]).total_bounds.reshape(2, 2)
    bounds = table.total_bounds.reshape(2, 2)
    cell_size = table.attrs.get("cell_size")
    if cell_size is not None:
        half = np.asarray(cell_size, dtype=float) / 2
        bounds = bounds + np.array([-half, half])
    return bounds


def _extent(xy: np.ndarray, where: str) -> shapely.Geometry:
    """Bounding box of (n, 2) coordinates."""
    finite = xy[np.isfinite(xy).all(axis=1)] if len(xy) else xy
    if len(finite) == 0:
        raise InputError(f"{where} has no coordinates; it cannot define a study area.")
    (west, south), (east, north) = finite.min(axis=0), finite.max(axis=0)
    return shapely.box(west, south, east, north)


def _file_extent(path: Path) -> tuple[shapely.Geometry, pyproj.CRS, str]:
    """Bounds and CRS of a raster or vector file given as study_area."""
    where = _where(path)
    if not path.is_file():
        raise InputError(f"study_area {where} does not exist or is not a file; check the path.")
    if path.suffix.lower() in (".tif", ".tiff", ".vrt", ".img"):
        import rasterio

        try:
            with rasterio.open(path) as src:
                bounds, crs = tuple(src.bounds), src.crs
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(
                f"study_area {where} could not be opened as a raster ({str(exc)[:160]})."
            ) from exc
        label = f"the raster {path.name!r}"
    else:
        import pyogrio

        try:
            info = pyogrio.read_info(path, force_total_bounds=True)
        except Exception as exc:  # pyogrio DataSourceError, OSError...
            raise InputError(
                f"study_area {where} could not be read as a vector file ({str(exc)[:160]})."
            ) from exc
        bounds, crs = tuple(info["total_bounds"]), info["crs"]
        label = f"the layer {path.name!r}"
    box = _extent(np.array(bounds, dtype=float).reshape(2, 2), f"study_area {where}")
    return box, _check_crs(crs, f"study_area {where}"), label


def _outside_study_area(
    points: gpd.GeoSeries, check: np.ndarray, area: _StudyArea, margin: float
) -> pd.Series:
    """A reason for each checked point farther than ``margin`` metres from the area, else NaN."""
    reasons = pd.Series(np.nan, index=points.index, dtype=object)
    rows = np.flatnonzero(check)
    if len(rows) == 0:
        return reasons
    subset = points.iloc[rows]
    far = ~(_metres_from_area(subset, area) <= margin)  # NaN (unprojectable) counts as far
    if not far.any():
        return reasons
    lonlat = subset[far].to_crs(4326)
    lon, lat = lonlat.x.to_numpy(), lonlat.y.to_numpy()
    geod = pyproj.Geod(ellps="WGS84")
    for row, x, y in zip(rows[far], lon, lat, strict=True):
        text = "lies outside the study area"
        if np.isfinite(x) and np.isfinite(y):
            nearest = nearest_points(area.lonlat, shapely.Point(x, y))[0]
            metres = geod.inv(x, y, nearest.x, nearest.y)[2]
            text += f": {_distance_text(metres)} from the extent of {area.label}"
        text += f" (margin {margin:,.0f} m)" + _position_hint(x, y, area, margin)
        reasons.iloc[row] = text
    return reasons


def _metres_from_area(points: gpd.GeoSeries, area: _StudyArea) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        projected = points.to_crs(area.crs).to_numpy()
    return np.asarray(shapely.distance(area.metric, projected), dtype=float)


def _position_hint(lon: float, lat: float, area: _StudyArea, margin: float) -> str:
    """Say when the point with the latitude sign flipped, or lon/lat swapped, lies inside."""
    if not (np.isfinite(lon) and np.isfinite(lat)):
        return ""
    candidates = {
        "; its latitude sign looks flipped (with the opposite sign it lies inside)": (lon, -lat),
        "; its longitude sign looks flipped (with the opposite sign it lies inside)": (-lon, lat),
        "; its longitude and latitude look swapped (swapped, it lies inside)": (lat, lon),
    }
    for text, (x, y) in candidates.items():
        if abs(x) <= 180 and abs(y) <= 90:
            point = gpd.GeoSeries([shapely.Point(x, y)], crs=4326)
            if _metres_from_area(point, area)[0] <= margin:
                return text
    return ""


def _distance_text(metres: float) -> str:
    if metres >= 10_000:
        return f"{metres / 1000:,.0f} km"
    if metres >= 1_000:
        return f"{metres / 1000:,.1f} km"
    return f"{metres:,.0f} m"


def _facility_columns(
    gdf: gpd.GeoDataFrame,
    ids: np.ndarray,
    name_col: str | None,
    type_col: str | None,
    default_type: str,
    capacity_col: str | None,
) -> gpd.GeoDataFrame:
    """The standard columns first, then the source's other columns, then geometry."""
    id_text = pd.Series(ids, index=gdf.index).astype(str)
    if name_col is None:
        names = id_text
    else:
        names = gdf[name_col].astype(object).where(gdf[name_col].notna(), id_text).astype(str)
    if type_col is None:
        types = pd.Series(default_type, index=gdf.index, dtype=object)
    else:
        raw = gdf[type_col].astype(object)
        types = raw.where(raw.isna(), raw.astype(str).str.strip().str.lower())
        types = types.fillna(default_type).astype(object)
    if capacity_col is None:
        capacity = pd.Series(np.nan, index=gdf.index, dtype=float)
    else:
        capacity = pd.to_numeric(gdf[capacity_col], errors="coerce").astype(float)
    standard = {"id": ids, "name": names.to_numpy(), "type": types.to_numpy()}
    standard["capacity"] = capacity.to_numpy()
    others = gdf.drop(columns=[c for c in ("id", "name", "type", "capacity") if c in gdf.columns])
    frame = pd.concat([pd.DataFrame(standard, index=gdf.index), others], axis=1)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=gdf.crs)
