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
where the source has one). A two-way street is two directed edges.
"""

from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely

from accessplan.errors import InputError, NetworkError
from accessplan.supply import SUPPLY_TYPES, check_supply_types

__all__ = [
    "MODES",
    "cells_to_polygons",
    "population_report",
    "read_facilities",
    "read_population",
    "read_population_raster",
    "read_roads",
]

Mode = Literal["drive", "walk", "bike"]
MODES: tuple[str, ...] = ("drive", "walk", "bike")
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


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InputError(f"mode={mode!r} is not a travel mode; use one of {list(MODES)}.")
    return mode


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


def _missing_column(where: str, col: str, what: str, columns: Iterable[Hashable]) -> InputError:
    return InputError(
        f"{where} has no {what} column {col!r}; available columns: {list(columns)}. "
        f"Pass the right name (e.g. {what}_col=...)."
    )


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
    _check_mode(mode)
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


def _first(value: Any) -> Any:
    """First element of a list-like OSM value (also a string like "['a', 'b']")."""
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


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
    highway = _first(data.get("highway"))
    if _is_missing(highway) or str(highway) in _EXCLUDED_HIGHWAY[mode]:
        return False
    if str(data.get("area", "no")) == "yes":
        return False
    for tag, bad in _EXCLUDED_TAG_VALUES[mode].items():
        value = data.get(tag)
        if not _is_missing(value) and str(_first(value)) in bad:
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
    out.add_nodes_from(nodes)
    edges = []
    for u, v, data in graph.edges(data=True):
        try:
            length = float(_first(data["length"]))
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
        highway = _first(data.get("highway"))
        attrs: dict[str, Any] = {
            "length": length,
            "highway": "unclassified" if _is_missing(highway) else str(highway),
            "oneway": _as_bool(data.get("oneway")),
        }
        for key in ("maxspeed", "name", "osmid"):
            value = _first(data.get(key))
            if not _is_missing(value):
                attrs[key] = value if key == "osmid" else str(value)
        geometry = data.get("geometry")
        if getattr(geometry, "geom_type", None) == "LineString":
            attrs["geometry"] = geometry  # the road's shape, used to place nodes along it
        edges.append((u, v, attrs))
    out.add_edges_from(edges)
    return out


def _clip_graph_to_bbox(graph: nx.MultiDiGraph, bbox: BBox) -> nx.MultiDiGraph:
    """Keep the nodes inside a lon/lat bbox (edges with both ends inside)."""
    ids = np.array(list(graph.nodes), dtype=object)
    xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)], dtype=float)
    to_lonlat = pyproj.Transformer.from_crs(graph.graph["crs"], "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(xy[:, 0], xy[:, 1]) if len(xy) else ([], [])
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
    import rasterio
    from rasterio.windows import Window, from_bounds

    path = Path(path)
    where = _where(path)
    if not isinstance(aggregate, int | np.integer) or aggregate < 1:
        raise InputError(f"aggregate={aggregate!r} must be a whole number of cells >= 1.")
    k = int(aggregate)
    bbox = _check_bbox(bbox)
    if not path.exists():
        raise InputError(f"population raster {str(path)!r} does not exist; check the path.")
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
    gdf = gpd.GeoDataFrame(
        {
            "id": (g_rows.astype(np.int64) * full_cols_out + g_cols).astype(np.int64),
            "row": g_rows.astype(np.int64),
            "col": g_cols.astype(np.int64),
            "population": population,
        },
        geometry=gpd.points_from_xy(xs, ys),
        crs=crs,
    )
    report.update(
        points=len(gdf),
        population_total=float(population.sum()),
        cell_size=(cell_w, cell_h),
        crs=crs.to_string(),
    )
    gdf.attrs["cell_size"] = (cell_w, cell_h)
    gdf.attrs["report"] = report
    gdf.attrs["source"] = str(path)
    return gdf


def _bbox_in_crs(bbox: BBox, crs: pyproj.CRS) -> BBox:
    if crs.equals(pyproj.CRS.from_epsg(4326)):
        return bbox
    transformer = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return tuple(transformer.transform_bounds(*bbox))  # type: ignore[return-value]


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
    w, h = (cell_size, cell_size) if np.isscalar(cell_size) else cell_size  # type: ignore[misc]
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
    crs: Any = None,
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
        Coordinate columns of a CSV / DataFrame (x and y in ``crs`` when it is projected).
    crs
        CRS of CSV coordinates (default EPSG:4326), or the CRS to assume for a vector file that
        carries none. A vector file's own CRS is kept.
    layer
        Layer of a multi-layer file (GeoPackage).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id``, ``population`` (persons, float), the source's other columns and point
        geometry. Polygon features are reduced to their centroid, computed in a projected CRS
        (UTM) when the data are in degrees; the polygons are kept in the column ``cell``.

    Raises
    ------
    InputError
        Unreadable file, missing column, missing/unknown CRS, empty or invalid geometry, NaN or
        negative population, duplicate ids.
    """
    where = _where(path)
    gdf = _read_table(path, lon_col, lat_col, crs, layer)
    if population_col not in gdf.columns:
        raise _missing_column(where, population_col, "population", _data_columns(gdf))
    _check_geometries(gdf, where)
    pop = pd.to_numeric(gdf[population_col], errors="coerce").astype(float)
    bad = ~np.isfinite(pop.to_numpy()) | (pop.to_numpy() < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{where}: column {population_col!r} has {int(bad.sum())} row(s) with a missing, "
            f"non-numeric, infinite or negative population (first: row {first}, value "
            f"{_plain(gdf[population_col].iloc[first])!r}); fix or remove those rows."
        )
    ids = _ids(gdf, id_col, where)
    geom_types = set(gdf.geom_type.unique())
    out = gdf.drop(columns=[c for c in ("id", "population") if c in gdf.columns])
    if geom_types <= {"Point"}:
        points = gdf.geometry
    elif geom_types <= {"Polygon", "MultiPolygon"}:
        points = _centroids(gdf.geometry)
        out["cell"] = gdf.geometry.to_numpy()
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


def _data_columns(gdf: pd.DataFrame) -> list[str]:
    return [c for c in gdf.columns if c != getattr(gdf, "_geometry_column_name", None)]


def _read_table(
    source: str | Path | pd.DataFrame, lon_col: str, lat_col: str, crs: Any, layer: str | None
) -> gpd.GeoDataFrame:
    """Read a vector file, a CSV with coordinates, or a (Geo)DataFrame into a GeoDataFrame."""
    where = _where(source)
    if isinstance(source, gpd.GeoDataFrame):
        gdf = source.copy()
        if gdf.geometry.name != "geometry":
            gdf = gdf.rename_geometry("geometry")
        if gdf.crs is None:
            gdf = gdf.set_crs(_check_crs(crs, where))
        return gdf
    if isinstance(source, pd.DataFrame):
        return _points_from_columns(source, lon_col, lat_col, crs, where)
    path = Path(source)
    if not path.exists():
        raise InputError(f"{where} does not exist; check the path.")
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt", ".tsv"}:
        try:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise InputError(
                f"{where} could not be read as CSV ({str(exc)[:200]}); check the file."
            ) from exc
        return _points_from_columns(frame, lon_col, lat_col, crs, where)
    try:
        gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio DataSourceError, DataLayerError...
        raise InputError(
            f"{where} could not be read as a vector file ({type(exc).__name__}: "
            f"{str(exc)[:200]}); it may be truncated or in an unknown format."
        ) from exc
    if not isinstance(gdf, gpd.GeoDataFrame) or "geometry" not in gdf:
        return _points_from_columns(pd.DataFrame(gdf), lon_col, lat_col, crs, where)
    if gdf.geometry.name != "geometry":
        gdf = gdf.rename_geometry("geometry")
    if gdf.crs is None:
        gdf = gdf.set_crs(_check_crs(crs, where))
    else:
        _check_crs(gdf.crs, where)
    return gdf


def _points_from_columns(
    frame: pd.DataFrame, lon_col: str, lat_col: str, crs: Any, where: str
) -> gpd.GeoDataFrame:
    for col in (lon_col, lat_col):
        if col not in frame.columns:
            raise InputError(
                f"{where} has no coordinate column {col!r}; available columns: "
                f"{list(frame.columns)}. Pass lon_col=... and lat_col=... ."
            )
    crs = _check_crs("EPSG:4326" if crs is None else crs, where)
    x = pd.to_numeric(frame[lon_col], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(frame[lat_col], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    geometry = np.full(len(frame), None, dtype=object)
    geometry[ok] = shapely.points(x[ok], y[ok])
    return gpd.GeoDataFrame(frame.copy(), geometry=geometry, crs=crs)


def _check_geometries(gdf: gpd.GeoDataFrame, where: str) -> None:
    """Raise on the first missing, empty or invalid geometry."""
    missing = gdf.geometry.isna().to_numpy() | gdf.geometry.is_empty.to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise InputError(
            f"{where}: row {row} has an empty or missing geometry/coordinates "
            f"({int(missing.sum())} such row(s)); give it coordinates or remove it."
        )
    invalid = ~gdf.geometry.is_valid.to_numpy()
    if invalid.any():
        row = int(np.flatnonzero(invalid)[0])
        reason = shapely.is_valid_reason(gdf.geometry.iloc[row])
        raise InputError(
            f"{where}: row {row} has an invalid geometry ({reason}); repair it (e.g. "
            "shapely.make_valid) or remove the row."
        )


def _centroids(geometry: gpd.GeoSeries) -> gpd.GeoSeries:
    """Centroids computed in a metric CRS (UTM when the data are in degrees)."""
    if geometry.crs is not None and geometry.crs.is_geographic:
        utm = geometry.estimate_utm_crs()
        return geometry.to_crs(utm).centroid.to_crs(geometry.crs)
    return geometry.centroid


def _ids(gdf: pd.DataFrame, id_col: str | None, where: str) -> np.ndarray:
    """Unique, non-missing ids from ``id_col`` (default: the row number)."""
    if id_col is None:
        return np.arange(len(gdf), dtype=np.int64)
    if id_col not in gdf.columns:
        raise _missing_column(where, id_col, "id", _data_columns(gdf))
    ids = gdf[id_col]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise InputError(f"{where}: column {id_col!r} has no id in row {row}; give every row one.")
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        rows = np.flatnonzero(ids.duplicated(keep=False).to_numpy())[:6].tolist()
        raise InputError(
            f"{where}: column {id_col!r} has duplicate ids {dup.unique()[:5].tolist()} "
            f"(rows {rows}); make the ids unique."
        )
    return ids.to_numpy()


# ====================================================================== facilities
def read_facilities(
    source: str | Path | pd.DataFrame,
    *,
    id_col: str | None = None,
    name_col: str | None = None,
    type_col: str | None = None,
    default_type: str = "clinic",
    capacity_col: str | None = None,
    default_capacity: float = 1.0,
    lon_col: str = "lon",
    lat_col: str = "lat",
    crs: Any = None,
    layer: str | None = None,
    bounds: BBox | None = None,
    on_invalid: Literal["raise", "report"] = "raise",
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
    lon_col, lat_col, crs
        Coordinate columns and their CRS for tables (default EPSG:4326), or the CRS to assume
        for a vector file that has none.
    layer
        Layer of a multi-layer file.
    bounds
        Optional (west, south, east, north) area in degrees longitude/latitude; rows outside
        it are invalid (e.g. a facility on another island, or a flipped coordinate sign).
    on_invalid
        What to do with rows without coordinates, with impossible coordinates (latitude beyond
        ±90°, longitude beyond ±180°, non-finite), outside ``bounds``, or with a missing or
        negative capacity: ``"raise"`` (default) raises naming the first such row;
        ``"report"`` leaves them out and lists each with its reason in
        ``gdf.attrs["excluded"]`` (a DataFrame; empty when nothing was excluded).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id``, ``name`` (str), ``type`` (str), ``capacity`` (float >= 0), the source's
        other columns, and point geometry; ``attrs["excluded"]`` as above.

    Raises
    ------
    InputError
        Unreadable file, missing column (the message lists the available ones), missing or
        unknown CRS, duplicate or missing ids, a non-point or invalid geometry, an unknown
        type, and invalid rows when ``on_invalid="raise"``.
    """
    if on_invalid not in ("raise", "report"):
        raise InputError(f"on_invalid={on_invalid!r}; use 'raise' or 'report'.")
    if default_type not in SUPPLY_TYPES:
        raise InputError(
            f"default_type={default_type!r} is not a supply type; use one of {list(SUPPLY_TYPES)}."
        )
    if not (math.isfinite(float(default_capacity)) and float(default_capacity) >= 0):
        raise InputError(f"default_capacity={default_capacity!r} must be a number >= 0.")
    bounds = _check_bbox(bounds)
    where = _where(source)
    gdf = _read_table(source, lon_col, lat_col, crs, layer).reset_index(drop=True)
    for col, what in ((name_col, "name"), (type_col, "type"), (capacity_col, "capacity")):
        if col is not None and col not in gdf.columns:
            raise _missing_column(where, col, what, _data_columns(gdf))
    if id_col is None and "id" in gdf.columns:
        id_col = "id"
    ids = _ids(gdf, id_col, where)

    reasons = _facility_row_problems(gdf, where, capacity_col, bounds)
    invalid = reasons.notna().to_numpy()
    if invalid.any() and on_invalid == "raise":
        row = int(np.flatnonzero(invalid)[0])
        raise InputError(
            f"{where}: row {row} (id {_plain(ids[row])!r}) {reasons.iloc[row]}; "
            f"{int(invalid.sum())} row(s) have such problems. Fix them, or pass "
            "on_invalid='report' to leave them out and list them in attrs['excluded']."
        )
    out = _facility_columns(gdf, ids, name_col, type_col, default_type, capacity_col)
    if capacity_col is None:
        out["capacity"] = float(default_capacity)
    excluded = pd.DataFrame(out.loc[invalid].drop(columns="geometry"))
    excluded.insert(0, "row", np.flatnonzero(invalid))
    excluded.insert(1, "reason", reasons[invalid].to_numpy())
    excluded = excluded.reset_index(drop=True)
    kept = out.loc[~invalid].reset_index(drop=True)
    kept["capacity"] = kept["capacity"].astype(float)
    check_supply_types(kept["type"], where=f"{where} column {type_col or 'type'!r}")
    result = gpd.GeoDataFrame(kept, geometry="geometry", crs=gdf.crs)
    result.attrs["excluded"] = excluded
    result.attrs["source"] = where
    return result


def _facility_row_problems(
    gdf: gpd.GeoDataFrame, where: str, capacity_col: str | None, bounds: BBox | None
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
        row = int(np.flatnonzero(not_point)[0])
        raise InputError(
            f"{where}: row {row} is a {types[row]}, not a point; facilities must be points. "
            "Convert them first (e.g. gdf.geometry = gdf.representative_point())."
        )
    x = np.full(len(gdf), np.nan)
    y = np.full(len(gdf), np.nan)
    x[present] = geom[present].x.to_numpy()
    y[present] = geom[present].y.to_numpy()
    if gdf.crs is not None and gdf.crs.is_geographic:
        impossible = present & ((np.abs(y) > 90) | (np.abs(x) > 180))
        for row in np.flatnonzero(impossible):
            reasons.iloc[row] = f"has impossible coordinates (lon {x[row]}, lat {y[row]})"
    lon, lat = x, y
    if bounds is not None:
        if gdf.crs is not None and not gdf.crs.is_geographic:
            lon, lat = pyproj.Transformer.from_crs(gdf.crs, 4326, always_xy=True).transform(x, y)
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
    if capacity_col is not None:
        cap = pd.to_numeric(gdf[capacity_col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(cap) | (cap < 0)
        for row in np.flatnonzero(bad & reasons.isna().to_numpy()):
            reasons.iloc[row] = (
                f"has a missing, non-numeric or negative capacity "
                f"({_plain(gdf[capacity_col].iloc[row])!r} in column {capacity_col!r})"
            )
    return reasons


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
