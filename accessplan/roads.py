"""Road networks as arrays, for countries: OSM PBF or generator straight to a routable graph.

A ``networkx.MultiDiGraph`` holds a Python dict per node and per edge: about 6 GiB for a
million nodes. For a national network, :class:`RoadArrays` keeps one array per attribute
(node ids and coordinates; directed edges as node positions, length, highway class, posted
speed), and :func:`prepare_road_arrays` does on those arrays what
:func:`accessplan.prepare_network` does on a graph: projection, speeds and minutes per mode,
long edges split, strongly connected components kept and labelled. It returns the
:class:`~accessplan.network.RoutingGraph` that :func:`accessplan.travel_times` routes on.

:func:`read_road_arrays` reads an OSM PBF with pyrosm's decoder (its node and way arrays, no
GeoDataFrame of ways) and applies pyrosm's network filter of the mode to every way at once.
Unlike :func:`accessplan.io.read_roads`, every node of a way stays a node (no simplification):
points then snap to the road's real shape, and edges are the short segments between nodes.

networkx stays the interface for small graphs and for a user's own graph
(:meth:`RoadArrays.from_graph` converts one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyproj

from accessplan.errors import InputError, NetworkError
from accessplan.network import (
    _DRIVE_FALLBACK_KPH,
    DEFAULT_DRIVE_SPEEDS_KPH,
    DEFAULT_MIN_COMPONENT_NODES,
    DEFAULT_MODE_SPEEDS_KPH,
    CRSLike,
    RoutingGraph,
    check_mode,
    component_labels,
    routing_from_edges,
)

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["RoadArrays", "prepare_road_arrays", "read_road_arrays"]

#: Earth radius (metres) of the great-circle edge lengths, as in osmnx.
_EARTH_RADIUS_M = 6_371_009.0


@dataclass(eq=False)
class RoadArrays:
    """A road network as arrays: nodes, and one row per directed edge.

    Attributes
    ----------
    node_ids : numpy.ndarray
        int64 id of each node (OSM node ids, or the generator's).
    x, y : numpy.ndarray
        Node coordinates in ``crs`` (degrees for OSM, metres for a projected CRS).
    crs : pyproj.CRS
        CRS of the coordinates.
    u, v : numpy.ndarray
        Positions (into the node arrays) of each edge's start and end; a two-way road has
        both directions.
    length_m : numpy.ndarray
        Edge length, metres.
    highway : pandas.Categorical
        OSM ``highway`` class of each edge.
    maxspeed_kph : numpy.ndarray
        Posted speed, km/h (NaN where the way has no usable ``maxspeed`` tag).
    source : str
        Where the network came from (a file path or the generator).
    """

    node_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    crs: pyproj.CRS
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    highway: pd.Categorical
    maxspeed_kph: np.ndarray
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.crs = pyproj.CRS.from_user_input(self.crs)
        n, m = self.node_ids.size, self.u.size
        if not (self.x.size == self.y.size == n):
            raise InputError(f"RoadArrays: x and y need one value per node ({n}).")
        if not (self.v.size == self.length_m.size == len(self.highway) == m):
            raise InputError(f"RoadArrays: every edge array needs one value per edge ({m}).")
        if self.maxspeed_kph.size != m:
            raise InputError(f"RoadArrays: maxspeed_kph needs one value per edge ({m}).")
        if m and (min(self.u.min(), self.v.min()) < 0 or max(self.u.max(), self.v.max()) >= n):
            raise InputError("RoadArrays: u and v must be node positions in 0..n_nodes-1.")

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_ids.size)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return int(self.u.size)

    def __repr__(self) -> str:
        return (
            f"RoadArrays({self.n_nodes:,} nodes, {self.n_edges:,} directed edges, "
            f"{self.crs.to_string()}, {self.source or 'no source'})"
        )

    def nbytes(self) -> int:
        """Memory of the arrays, bytes."""
        arrays = (self.node_ids, self.x, self.y, self.u, self.v, self.length_m, self.maxspeed_kph)
        return sum(a.nbytes for a in arrays) + int(self.highway.codes.nbytes)

    @classmethod
    def from_graph(cls, G: nx.MultiDiGraph) -> RoadArrays:
        """The arrays of a road graph with node ``x``/``y``, edge ``length`` and ``highway``.

        Numeric ``maxspeed`` tags are kept (km/h); others read as absent.
        """
        from accessplan.network import first_tag

        if G.graph.get("crs") is None:
            raise NetworkError("the road graph has no CRS; set G.graph['crs'] first.")
        nodes = list(G.nodes)
        position = {n: i for i, n in enumerate(nodes)}
        try:
            node_ids = np.array(nodes, dtype=np.int64)
        except (TypeError, ValueError) as exc:
            raise NetworkError(
                "RoadArrays need integer node ids; relabel the graph "
                "(networkx.convert_node_labels_to_integers) first."
            ) from exc
        x = np.array([d["x"] for _, d in G.nodes(data=True)], dtype=np.float64)
        y = np.array([d["y"] for _, d in G.nodes(data=True)], dtype=np.float64)
        edges = list(G.edges(data=True))
        u = np.array([position[a] for a, _, _ in edges], dtype=np.int64)
        v = np.array([position[b] for _, b, _ in edges], dtype=np.int64)
        length = np.array([float(d["length"]) for _, _, d in edges], dtype=np.float64)
        highway = pd.Categorical([str(first_tag(d.get("highway"))) for _, _, d in edges])
        maxspeed = _parse_maxspeed(pd.Series([d.get("maxspeed") for _, _, d in edges]))
        return cls(node_ids, x, y, G.graph["crs"], u, v, length, highway, maxspeed, "graph")


# ------------------------------------------------------------------------------ preparing
def prepare_road_arrays(
    roads: RoadArrays,
    mode: str = "drive",
    *,
    speeds: float | Mapping[str, float] | None = None,
    crs: CRSLike | None = None,
    min_component_nodes: int = DEFAULT_MIN_COMPONENT_NODES,
    largest_component: bool = False,
    max_edge_m: float | None = 250.0,
) -> RoutingGraph:
    """Make road arrays routable for one mode, as :func:`accessplan.prepare_network` does.

    Parameters are those of :func:`accessplan.prepare_network`. Long edges are split along
    the straight line between their nodes (arrays keep every node of a way, so the line is the
    road's shape). Parallel edges keep the fastest.

    Returns
    -------
    RoutingGraph
        With ``component`` labels (0 = largest) and ``info``: the counts that
        ``G.graph["accessplan"]`` holds after :func:`accessplan.prepare_network`.
    """
    from accessplan.network import _check_min_component_nodes

    check_mode(mode)
    if roads.n_edges == 0:
        raise NetworkError(f"{roads.source or 'the road network'} has no edges.")
    target = _target_crs(roads, crs)
    x, y = _projected(roads, target)
    minutes = roads.length_m / (_edge_speeds(roads, mode, speeds) * 1000.0 / 60.0)
    u, v, length = roads.u, roads.v, roads.length_m
    node_ids = roads.node_ids
    added = 0
    if max_edge_m is not None:
        if not max_edge_m > 0:
            raise InputError(f"max_edge_m must be a positive length in metres, got {max_edge_m}.")
        node_ids, x, y, u, v, length, minutes, added = _split_long_edges(
            node_ids, x, y, u, v, length, minutes, float(max_edge_m)
        )
    smallest = _check_min_component_nodes(min_component_nodes)
    n_before = node_ids.size
    graph = routing_from_edges(node_ids, np.column_stack([x, y]), u, v, minutes, target)
    labels = component_labels(graph.csr, node_ids)
    sizes = np.bincount(labels)
    kept_label = np.zeros(sizes.size, dtype=bool)
    kept_label[0] = True
    if not largest_component:
        kept_label |= sizes >= smallest
    keep = kept_label[labels]
    if not keep.all():
        new_position = np.cumsum(keep) - 1
        edge_keep = keep[u] & keep[v]
        u, v = new_position[u[edge_keep]], new_position[v[edge_keep]]
        minutes = minutes[edge_keep]
        node_ids, x, y, labels = node_ids[keep], x[keep], y[keep], labels[keep]
        graph = routing_from_edges(node_ids, np.column_stack([x, y]), u, v, minutes, target)
    graph._component = labels  # labels of the kept components keep their order: 0, 1, ...
    if graph.csr.nnz == 0:
        raise NetworkError(f"the {mode} network has no edges within its connected components.")
    graph.info = {
        "mode": mode,
        "nodes_removed": int(n_before - node_ids.size),
        "nodes_added_along_edges": int(added),
        "nodes": int(node_ids.size),
        "edges": int(graph.csr.nnz),
        "components": int(kept_label.sum()),
        "component_nodes": sizes[kept_label].tolist(),
        "fragments_removed": int((~kept_label).sum()),
        "min_component_nodes": smallest,
    }
    return graph


def _target_crs(roads: RoadArrays, crs: CRSLike | None) -> pyproj.CRS:
    if crs is not None:
        target = pyproj.CRS.from_user_input(crs)
        if not target.is_projected:
            raise InputError(f"crs {crs!r} is not a projected (metric) CRS; give e.g. a UTM zone.")
        return target
    if roads.crs.is_projected:
        return roads.crs
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    lon, lat = _lonlat(roads)
    west, east, south, north = lon.min(), lon.max(), lat.min(), lat.max()
    centre = AreaOfInterest(
        (west + east) / 2, (south + north) / 2, (west + east) / 2, (south + north) / 2
    )
    found = query_utm_crs_info(datum_name="WGS 84", area_of_interest=centre)
    if not found:
        raise NetworkError("no UTM zone found for the road network; pass crs=.")
    return pyproj.CRS.from_epsg(int(found[0].code))


def _lonlat(roads: RoadArrays) -> tuple[np.ndarray, np.ndarray]:
    if roads.crs.is_geographic:
        return roads.x, roads.y
    to_geo = pyproj.Transformer.from_crs(roads.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_geo.transform(roads.x, roads.y)
    return np.asarray(lon), np.asarray(lat)


def _projected(roads: RoadArrays, target: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    if roads.crs == target:
        return roads.x, roads.y
    transform = pyproj.Transformer.from_crs(roads.crs, target, always_xy=True)
    x, y = transform.transform(roads.x, roads.y)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise NetworkError(f"some road nodes cannot be projected to {target.to_string()}.")
    return x, y


def _edge_speeds(
    roads: RoadArrays, mode: str, speeds: float | Mapping[str, float] | None
) -> np.ndarray:
    """km/h of every edge: the mode's speed, or for driving the posted speed, else the class's."""
    if mode in DEFAULT_MODE_SPEEDS_KPH or isinstance(speeds, int | float):
        if isinstance(speeds, Mapping):
            raise InputError(f"speeds for mode {mode!r} must be one number in km/h.")
        value = float(speeds) if speeds is not None else DEFAULT_MODE_SPEEDS_KPH[mode]
        if not value > 0:
            raise InputError(f"speed must be a positive number of km/h, got {value}.")
        return np.full(roads.n_edges, value)
    table = dict(DEFAULT_DRIVE_SPEEDS_KPH)
    fallback = _DRIVE_FALLBACK_KPH
    if speeds is not None:
        table.update({k: float(v) for k, v in speeds.items() if k != "_fallback"})
        fallback = float(speeds.get("_fallback", fallback))
    bad = {k: v for k, v in table.items() if not v > 0}
    if bad or not fallback > 0:
        raise InputError(f"driving speeds must be positive km/h; got {bad or fallback}.")
    by_class = np.array([table.get(str(c), fallback) for c in roads.highway.categories])
    speed = by_class[roads.highway.codes] if by_class.size else np.full(roads.n_edges, fallback)
    posted = roads.maxspeed_kph
    return np.where(np.isfinite(posted) & (posted > 0), posted, speed)


def _split_long_edges(
    node_ids: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    length: np.ndarray,
    minutes: np.ndarray,
    max_edge_m: float,
) -> tuple[Any, ...]:
    """Edges longer than ``max_edge_m`` split into equal pieces; both directions share nodes.

    New nodes get ids above the largest id, in the order of the segments (lower node id, upper
    node id, length to the centimetre), placed on the straight line between the two nodes.
    """
    from accessplan._bounded_routing import ragged_arange

    long = (length > max_edge_m) & (u != v)
    if not long.any():
        return node_ids, x, y, u, v, length, minutes, 0
    lu, lv, ll = u[long], v[long], length[long]
    lo, hi = np.minimum(lu, lv), np.maximum(lu, lv)
    key = np.column_stack([lo, hi, np.round(ll * 100).astype(np.int64)])
    segments, segment_of = np.unique(key, axis=0, return_inverse=True)
    segment_of = segment_of.ravel()
    # pieces from the length of the segment's first edge, as a graph split would count them
    first_edge = np.full(segments.shape[0], -1, dtype=np.int64)
    first_edge[segment_of[::-1]] = np.arange(segment_of.size)[::-1]
    pieces = np.ceil(ll[first_edge] / max_edge_m).astype(np.int64)
    inner = pieces - 1
    base = np.concatenate([[0], np.cumsum(inner)[:-1]]) + node_ids.size  # first new position
    n_new = int(inner.sum())
    # coordinates of the new nodes: from the segment's lower node towards its upper node
    seg_rep = np.repeat(np.arange(segments.shape[0]), inner)
    step = ragged_arange(np.ones(segments.shape[0], dtype=np.int64), inner)
    share = step / pieces[seg_rep]
    a, b = segments[seg_rep, 0], segments[seg_rep, 1]
    new_x = x[a] + (x[b] - x[a]) * share
    new_y = y[a] + (y[b] - y[a]) * share
    start_id = int(node_ids.max()) + 1 if node_ids.size else 0
    new_ids = np.arange(start_id, start_id + n_new, dtype=np.int64)
    # the chain of each long edge: k-th piece from chain[k] to chain[k + 1]
    p = pieces[segment_of]
    forward = lu == segments[segment_of, 0]
    edge_rep = np.repeat(np.arange(lu.size), p)
    k = ragged_arange(np.zeros(lu.size, dtype=np.int64), p)
    seg_base = base[segment_of][edge_rep]
    pe = p[edge_rep]
    fwd = forward[edge_rep]

    def chain(at: np.ndarray) -> np.ndarray:
        inner_node = np.where(fwd, seg_base + at - 1, seg_base + pe - 1 - at)
        return np.where(at == 0, lu[edge_rep], np.where(at == pe, lv[edge_rep], inner_node))

    piece_u, piece_v = chain(k), chain(k + 1)
    piece_length = ll[edge_rep] / pe
    piece_minutes = minutes[long][edge_rep] / pe
    short = ~long
    return (
        np.concatenate([node_ids, new_ids]),
        np.concatenate([x, new_x]),
        np.concatenate([y, new_y]),
        np.concatenate([u[short], piece_u]),
        np.concatenate([v[short], piece_v]),
        np.concatenate([length[short], piece_length]),
        np.concatenate([minutes[short], piece_minutes]),
        n_new,
    )


# ------------------------------------------------------------------------------ reading PBF
def read_road_arrays(
    path: str | Path, mode: str = "drive", *, bbox: tuple[float, float, float, float] | None = None
) -> RoadArrays:
    """Read the roads of one mode from an OSM PBF straight into :class:`RoadArrays`.

    Parameters
    ----------
    path
        An ``.osm.pbf`` file.
    mode
        ``"drive"``, ``"walk"`` or ``"bike"``: pyrosm's network filter of the mode (the
        ``highway`` classes, ``access``/mode tags, ``area``, ``service``) picks the ways;
        ``oneway`` (and roundabouts) give one direction, except when walking.
    bbox
        Optional (west, south, east, north) in degrees: ways with a node inside are read.

    Raises
    ------
    InputError
        If the file is missing or cannot be read as a PBF.
    NetworkError
        If no way is usable for the mode.
    """
    path = Path(path)
    check_mode(mode)
    if not path.is_file():
        raise InputError(f"road file {str(path)!r} does not exist; check the path.")
    from pyrosm.pbfreader import parse_osm_data

    try:
        nodes, ways, *_ = parse_osm_data(
            str(path),
            list(bbox) if bbox else None,
            exclude_relations=True,
            unix_time_filter=None,
            keep_metadata=False,
            complete_relations=False,
            steps=None,
        )
    except Exception as exc:  # the decoder raises protobuf, zlib, OSError and its own errors
        raise InputError(
            f"road file {str(path)!r} could not be read as an OSM PBF ({type(exc).__name__}: "
            f"{str(exc)[:200]}); it may be truncated. Download or extract it again."
        ) from exc
    tags = _WayTags(ways)
    usable = tags.usable(mode)
    if not usable.any():
        raise NetworkError(f"road file {str(path)!r} holds no road usable for mode={mode!r}.")
    return _edges_of_ways(nodes, ways, tags, usable, mode, str(path))


class _WayTags:
    """The tags of every way as string ids, one lookup per key."""

    def __init__(self, ways: Any) -> None:
        self.strings: list[str] = list(ways.strings)
        self.ids = {s: i for i, s in enumerate(self.strings)}
        self.n = len(ways.ids)
        counts = np.diff(np.asarray(ways.tags_off))
        self.way_of_tag = np.repeat(np.arange(self.n), counts)
        self.keys = np.asarray(ways.keys)
        self.vals = np.asarray(ways.vals)

    def value(self, key: str) -> np.ndarray:
        """String id of each way's ``key`` value (-1 where absent)."""
        out = np.full(self.n, -1, dtype=np.int64)
        key_id = self.ids.get(key)
        if key_id is not None:
            hit = self.keys == key_id
            out[self.way_of_tag[hit]] = self.vals[hit]
        return out

    def matches(self, key: str, test: Any) -> np.ndarray:
        """True where the way's ``key`` value satisfies ``test(text)``."""
        values = self.value(key)
        present = np.unique(values[values >= 0])
        good = np.zeros(len(self.strings) + 1, dtype=bool)
        good[present] = [bool(test(self.strings[i])) for i in present]
        return good[values]  # -1 reads the last slot: False

    def text(self, key: str) -> pd.Series:
        values = self.value(key)
        table = np.array([*self.strings, None], dtype=object)
        return pd.Series(table[values])

    def usable(self, mode: str) -> np.ndarray:
        """Ways kept by pyrosm's network filter of ``mode``."""
        from pyrosm.config.osm_filters import AccessRule, get_osm_filter

        rules = get_osm_filter({"drive": "driving", "walk": "walking", "bike": "cycling"}[mode])
        keep = self.value("highway") >= 0
        for key, rule in rules.items():
            if isinstance(rule, AccessRule):
                keep &= ~self._closed(rule)
            else:
                keep &= ~self.matches(key, rule.__contains__)
        return keep

    def _closed(self, rule: Any) -> np.ndarray:
        """The most specific access key a way carries decides whether it is closed."""
        decided = np.zeros(self.n, dtype=bool)
        closed = np.zeros(self.n, dtype=bool)
        from pyrosm.config.osm_filters import _CLOSED

        for key in rule.keys:
            present = self.value(key) >= 0
            now = present & ~decided
            closed |= now & self.matches(key, _CLOSED.__contains__)
            decided |= present
        return closed


def _edges_of_ways(
    nodes: dict[str, np.ndarray],
    ways: Any,
    tags: _WayTags,
    usable: np.ndarray,
    mode: str,
    source: str,
) -> RoadArrays:
    """Directed edges between consecutive nodes of the usable ways."""
    refs = np.asarray(ways.refs)
    offsets = np.asarray(ways.refs_off)
    lengths = np.diff(offsets)
    way_rows = np.flatnonzero(usable & (lengths >= 2))
    seg_counts = lengths[way_rows] - 1
    from accessplan._bounded_routing import ragged_arange

    first = ragged_arange(offsets[way_rows], seg_counts)
    a_id, b_id = refs[first], refs[first + 1]
    seg_way = np.repeat(way_rows, seg_counts)
    node_order = np.argsort(nodes["id"], kind="stable")
    sorted_ids = nodes["id"][node_order]

    def position(ids: np.ndarray) -> np.ndarray:
        at = np.searchsorted(sorted_ids, ids)
        at = np.minimum(at, sorted_ids.size - 1)
        found = sorted_ids[at] == ids
        return np.where(found, node_order[at], -1)

    a, b = position(a_id), position(b_id)
    present = (a >= 0) & (b >= 0) & (a != b)  # nodes outside the file or bbox: segment dropped
    a, b, seg_way = a[present], b[present], seg_way[present]
    used, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    a, b = inverse[: a.size], inverse[a.size :]
    lon, lat = nodes["lon"][used], nodes["lat"][used]
    length = _great_circle_m(lon[a], lat[a], lon[b], lat[b])
    direction = _directions(tags, mode)[seg_way]  # 1 forward, -1 reverse, 0 both
    fwd, rev = direction >= 0, direction <= 0
    u = np.concatenate([a[fwd], b[rev]])
    v = np.concatenate([b[fwd], a[rev]])
    way_of_edge = np.concatenate([seg_way[fwd], seg_way[rev]])
    highway = tags.text("highway").str.split(";").str[0].to_numpy()
    maxspeed = _parse_maxspeed(tags.text("maxspeed"))
    return RoadArrays(
        node_ids=nodes["id"][used].astype(np.int64),
        x=lon,
        y=lat,
        crs=pyproj.CRS.from_epsg(4326),
        u=u.astype(np.int64),
        v=v.astype(np.int64),
        length_m=np.concatenate([length[fwd], length[rev]]),
        highway=pd.Categorical(highway[way_of_edge]),
        maxspeed_kph=maxspeed[way_of_edge],
        source=source,
    )


def _directions(tags: _WayTags, mode: str) -> np.ndarray:
    """Per way: 1 one way forward, -1 one way against the node order, 0 both ways."""
    out = np.zeros(tags.n, dtype=np.int8)
    if mode == "walk":
        return out
    forward = tags.matches("oneway", lambda s: s in ("yes", "true", "1"))
    backward = tags.matches("oneway", lambda s: s in ("-1", "reverse"))
    roundabout = tags.matches("junction", lambda s: s in ("roundabout", "circular"))
    both = tags.matches("oneway", lambda s: s in ("no", "false", "0"))
    out[forward | (roundabout & ~both & ~backward)] = 1
    out[backward] = -1
    return out


def _parse_maxspeed(values: pd.Series) -> np.ndarray:
    """km/h of ``maxspeed`` tags: ``50``, ``50 km/h``, ``30 mph``, ``50;70`` (the first)."""
    text = values.astype("string").str.split(";").str[0].str.strip().str.lower()
    number = pd.to_numeric(text.str.extract(r"^(\d+(?:\.\d+)?)", expand=False), errors="coerce")
    mph = text.str.contains("mph", na=False).to_numpy()
    kph = number.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(mph, kph * 1.609344, kph)


def _great_circle_m(
    lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
) -> np.ndarray:
    """Haversine distance, metres (osmnx's formula and radius)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi, dlam = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
