"""Routable road networks per travel mode: projection, speeds, edge minutes, components.

The functions here take the graphs produced by :mod:`accessplan.io` (OSM-style
``networkx.MultiDiGraph`` with ``length`` in metres and ``highway`` tags) and return a graph
whose every edge carries ``minutes`` (travel time) and ``speed_kph``, in a metric CRS. The graph
keeps every strongly connected component of at least ``min_component_nodes`` nodes (the road
network of each island of an archipelago, say); inside a component every node can reach every
other, and each node carries its component's number in the node attribute ``component``.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import networkx as nx
import numpy as np
import pyproj

from accessplan.errors import InputError, NetworkError

if TYPE_CHECKING:
    import scipy.sparse as sp
    from scipy.spatial import cKDTree

    from accessplan.roads import RoadArrays

__all__ = [
    "DEFAULT_DRIVE_SPEEDS_KPH",
    "DEFAULT_MIN_COMPONENT_NODES",
    "DEFAULT_MODE_SPEEDS_KPH",
    "MODES",
    "CRSLike",
    "RoutingGraph",
    "check_mode",
    "first_tag",
    "prepare_network",
    "routing_from_edges",
    "routing_graph",
]

#: What a ``crs`` argument accepts: anything :meth:`pyproj.CRS.from_user_input` reads
#: (a CRS, ``"EPSG:32738"``, ``32738``, a PROJ dict...).
CRSLike: TypeAlias = "pyproj.CRS | str | int | dict[str, Any]"

Mode = Literal["drive", "walk", "bike"]
#: The travel modes: each has its own road filter (:func:`accessplan.io.read_roads`) and speeds.
MODES: tuple[str, ...] = ("drive", "walk", "bike")

#: Constant speeds (km/h) of the non-motorised modes.
DEFAULT_MODE_SPEEDS_KPH: dict[str, float] = {"walk": 4.5, "bike": 12.0}

#: Free-flow driving speeds (km/h) by OSM ``highway`` class, used where an edge has no
#: ``maxspeed`` tag. Deliberately modest: they describe rural roads of mixed quality, not
#: motorways at their limit; override them with ``speeds=`` for a better local figure.
DEFAULT_DRIVE_SPEEDS_KPH: dict[str, float] = {
    "motorway": 90.0,
    "motorway_link": 50.0,
    "trunk": 70.0,
    "trunk_link": 40.0,
    "primary": 55.0,
    "primary_link": 35.0,
    "secondary": 45.0,
    "secondary_link": 30.0,
    "tertiary": 35.0,
    "tertiary_link": 25.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 25.0,
    "track": 15.0,
}
_DRIVE_FALLBACK_KPH = 20.0

#: Smallest strongly connected component kept by :func:`prepare_network` (nodes). A real road
#: network, even that of a small island, has hundreds of nodes: the Union of the Comoros drive
#: graph has three components of 3,111, 2,168 and 829 nodes (Ngazidja, Ndzuani, Mwali) and
#: otherwise only fragments of 1 or 2 nodes; the central Helsinki walk graph has fragments of
#: up to about a dozen nodes (courtyards, one-way dead ends, footways mapped apart from the
#: street grid). Twenty keeps every real network and drops the fragments, which would
#: otherwise attract the points beside them and leave them reaching nothing.
DEFAULT_MIN_COMPONENT_NODES = 20


def prepare_network(
    G: nx.MultiDiGraph | RoadArrays,
    mode: Mode = "drive",
    *,
    speeds: float | Mapping[str, float] | None = None,
    crs: CRSLike | None = None,
    min_component_nodes: int = DEFAULT_MIN_COMPONENT_NODES,
    largest_component: bool = False,
    max_edge_m: float | None = 250.0,
) -> nx.MultiDiGraph | RoutingGraph:
    """Make a road graph routable for one travel mode.

    Parameters
    ----------
    G
        Graph with ``G.graph["crs"]``, node ``x``/``y`` and edge ``length`` (metres) and
        ``highway`` (OSM class), as returned by :func:`accessplan.io.read_roads` or
        :func:`accessplan.regions.synthetic_region`. Not modified. Or, for a large region,
        :class:`~accessplan.roads.RoadArrays` (:func:`accessplan.roads.read_road_arrays`):
        prepared on arrays by :func:`accessplan.roads.prepare_road_arrays`, which returns the
        :class:`RoutingGraph` directly.
    mode
        ``"walk"``, ``"bike"`` or ``"drive"``.
    speeds
        Walk/bike: one speed in km/h (default 4.5 and 12). Drive: a mapping from ``highway``
        class to km/h that overrides :data:`DEFAULT_DRIVE_SPEEDS_KPH` where an edge has no
        usable ``maxspeed`` tag (a ``"_fallback"`` key sets the speed of unknown classes); or
        one number for every edge.
    crs
        Metric CRS to project to. Default: keep the graph's CRS if it is already projected,
        otherwise the UTM zone of the graph's centre (pyproj).
    min_component_nodes
        Keep the largest strongly connected component and every other of at least this many
        nodes (default :data:`DEFAULT_MIN_COMPONENT_NODES`, 20; counted after ``max_edge_m``
        splits long edges); drop the smaller fragments. Each kept node gets the node attribute
        ``component``: 0 for the largest component, 1 for the next, and so on. Points snap to
        the nearest kept node; travel times between two components are absent (unreachable),
        unless one-way roads join them in one direction.
    largest_component
        Keep only the largest strongly connected component (the behaviour before
        ``min_component_nodes``): an archipelago's other islands are then dropped.
    max_edge_m
        Split edges longer than this (metres) into equal pieces, placing nodes along the road's
        shape (its ``geometry``, else the straight line). OSM graphs have nodes only at
        intersections, so a village beside a long rural road would otherwise snap to an
        intersection kilometres away. Both directions of a two-way road share the new nodes.
        None keeps the graph as it is.

    Returns
    -------
    networkx.MultiDiGraph or RoutingGraph
        For road arrays, their :class:`RoutingGraph` (its ``info`` holds the counts below).
        For a graph, a new graph in a metric CRS whose edges carry ``speed_kph`` and
        ``minutes`` and whose nodes carry ``component``. ``G.graph["accessplan"]`` records
        ``components`` (how many were kept), ``component_nodes`` (nodes of each, largest first),
        ``fragments_removed`` (components dropped) and ``nodes_removed`` (their nodes).

    Raises
    ------
    NetworkError
        If the graph has no CRS, no nodes or edges, or nothing is left after filtering.
    InputError
        If the mode, a speed or ``min_component_nodes`` is invalid.
    """
    from accessplan.roads import RoadArrays, prepare_road_arrays

    if isinstance(G, RoadArrays):
        return prepare_road_arrays(
            G,
            mode,
            speeds=speeds,
            crs=crs,
            min_component_nodes=min_component_nodes,
            largest_component=largest_component,
            max_edge_m=max_edge_m,
        )
    check_mode(mode)
    _check_graph(G)
    H = _project(G, crs)
    _add_speeds(H, mode, speeds)
    _add_minutes(H)
    added = 0
    if max_edge_m is not None:
        if not max_edge_m > 0:
            raise InputError(f"max_edge_m must be a positive length in metres, got {max_edge_m}.")
        added = _densify(H, float(max_edge_m))
    smallest = _check_min_component_nodes(min_component_nodes)
    n_before = H.number_of_nodes()
    H, kept, dropped = _keep_components(H, smallest, largest_component)
    if H.number_of_edges() == 0:
        raise NetworkError(
            f"the {mode} network has no edges within its connected components; check the road "
            "file covers the study area and the mode's road filter."
        )
    H.graph["mode"] = mode
    H.graph["accessplan"] = {
        "mode": mode,
        "nodes_removed": n_before - H.number_of_nodes(),
        "nodes_added_along_edges": added,
        "nodes": H.number_of_nodes(),
        "edges": H.number_of_edges(),
        "components": len(kept),
        "component_nodes": kept,
        "fragments_removed": dropped,
        "min_component_nodes": smallest,
    }
    return H


def check_mode(mode: str) -> str:
    """``mode`` itself when it is one of :data:`MODES`.

    Raises
    ------
    InputError
        For any other mode, naming the ones there are.
    """
    if mode not in MODES:
        raise InputError(f"mode={mode!r} is not a travel mode; use one of {list(MODES)}.")
    return mode


def _check_min_component_nodes(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(
            f"min_component_nodes must be a whole number of nodes >= 1, got {value!r}."
        )
    return int(value)


def _check_graph(G: nx.MultiDiGraph) -> None:
    if not isinstance(G, nx.MultiDiGraph):
        raise NetworkError(
            f"expected a networkx.MultiDiGraph road graph, got {type(G).__name__}; load roads "
            "with accessplan.read_roads."
        )
    if G.number_of_nodes() == 0 or G.number_of_edges() == 0:
        raise NetworkError(
            "the road network has no nodes or no edges; check the road file and the area or "
            "mode filter used to read it."
        )
    if G.graph.get("crs") is None:
        raise NetworkError(
            "the road network has no CRS (G.graph['crs']); set it, e.g. "
            "G.graph['crs'] = 'EPSG:4326' for OSM longitude/latitude."
        )
    missing = [(u, v) for u, v, d in G.edges(data=True) if "length" not in d or "highway" not in d]
    if missing:
        raise NetworkError(
            f"{len(missing)} road edges lack 'length' (metres) or 'highway', e.g. edge "
            f"{missing[0]}; read roads with accessplan.read_roads or add these attributes."
        )


def _project(G: nx.MultiDiGraph, crs: CRSLike | None) -> nx.MultiDiGraph:
    import osmnx as ox

    try:
        source = pyproj.CRS.from_user_input(G.graph["crs"])
    except pyproj.exceptions.CRSError as exc:
        raise NetworkError(f"the road network's CRS {G.graph['crs']!r} is unknown: {exc}") from exc
    if crs is None and source.is_projected:
        return G.copy()
    if crs is not None:
        target = pyproj.CRS.from_user_input(crs)
        if not target.is_projected:
            raise InputError(f"crs {crs!r} is not a projected (metric) CRS; give e.g. a UTM zone.")
        if target == source:
            return G.copy()
        return ox.projection.project_graph(G, to_crs=target)
    return ox.projection.project_graph(G)


def _add_speeds(G: nx.MultiDiGraph, mode: str, speeds: float | Mapping[str, float] | None) -> None:
    if mode in DEFAULT_MODE_SPEEDS_KPH or isinstance(speeds, int | float):
        if isinstance(speeds, Mapping):
            raise InputError(f"speeds for mode {mode!r} must be one number in km/h.")
        value = float(speeds) if speeds is not None else DEFAULT_MODE_SPEEDS_KPH[mode]
        if not value > 0:
            raise InputError(f"speed must be a positive number of km/h, got {value}.")
        nx.set_edge_attributes(G, value, "speed_kph")
        return
    import osmnx as ox

    table = dict(DEFAULT_DRIVE_SPEEDS_KPH)
    fallback = _DRIVE_FALLBACK_KPH
    if speeds is not None:
        table.update({k: float(v) for k, v in speeds.items() if k != "_fallback"})
        fallback = float(speeds.get("_fallback", fallback))
    bad = {k: v for k, v in table.items() if not v > 0}
    if bad or not fallback > 0:
        raise InputError(f"driving speeds must be positive km/h; got {bad or fallback}.")
    highway_types = {first_tag(d["highway"]) for _, _, d in G.edges(data=True)}
    hwy_speeds = {h: table.get(h, fallback) for h in highway_types}
    has_maxspeed = any(d.get("maxspeed") not in (None, "") for _, _, d in G.edges(data=True))
    if has_maxspeed:
        ox.routing.add_edge_speeds(G, hwy_speeds=hwy_speeds, fallback=fallback)
    else:
        for _, _, d in G.edges(data=True):
            d["speed_kph"] = hwy_speeds[first_tag(d["highway"])]


def first_tag(value: Any) -> Any:
    """First element of a list-like OSM tag value, such as ``highway=["primary", "trunk"]``.

    A merged edge holds a list; GraphML stores that list as its text ``"['primary', 'trunk']"``,
    which is read back as a list too. An empty list gives None; any other value is returned as
    it is.
    """
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def _add_minutes(G: nx.MultiDiGraph) -> None:
    for u, v, k, d in G.edges(keys=True, data=True):
        length = float(d["length"])
        speed = float(d["speed_kph"])
        if not np.isfinite(length) or length < 0:
            raise NetworkError(f"edge ({u}, {v}, {k}) has an invalid length {length} m.")
        if not (np.isfinite(speed) and speed > 0):
            raise NetworkError(f"edge ({u}, {v}, {k}) has an invalid speed {speed} km/h.")
        d["minutes"] = length / (speed * 1000.0 / 60.0)


def _densify(G: nx.MultiDiGraph, max_edge_m: float) -> int:
    """Split edges longer than ``max_edge_m`` in place; return the number of nodes added."""
    from shapely.geometry import LineString

    ints = [n for n in G.nodes if isinstance(n, int | np.integer)]
    next_id = int(max(ints)) + 1 if ints else 0
    shared: dict[tuple[Any, Any, float], tuple[Any, list[Any]]] = {}
    long_edges = [
        (u, v, k, d)
        for u, v, k, d in G.edges(keys=True, data=True)
        if d["length"] > max_edge_m and u != v
    ]
    added = 0
    for u, v, k, d in long_edges:
        pieces = int(np.ceil(d["length"] / max_edge_m))
        key = (min(u, v, key=repr), max(u, v, key=repr), round(float(d["length"]), 2))
        if key in shared:
            start, inner = shared[key]
            inner = inner if start == u else inner[::-1]
        else:
            a, b = G.nodes[u], G.nodes[v]
            geom = d.get("geometry")
            if geom is None or geom.is_empty:
                geom = LineString([(a["x"], a["y"]), (b["x"], b["y"])])
            elif _is_reversed(geom, a, b):
                geom = LineString(list(geom.coords)[::-1])
            inner = []
            for i in range(1, pieces):
                point = geom.interpolate(i / pieces, normalized=True)
                G.add_node(next_id, x=float(point.x), y=float(point.y), interpolated=True)
                inner.append(next_id)
                next_id += 1
            added += len(inner)
            shared[key] = (u, inner)
        chain = [u, *inner, v]
        attrs = {name: value for name, value in d.items() if name != "geometry"}
        attrs["length"] = d["length"] / pieces
        attrs["minutes"] = d["minutes"] / pieces
        G.remove_edge(u, v, k)
        G.add_edges_from((chain[i], chain[i + 1], dict(attrs)) for i in range(pieces))
    return added


def _is_reversed(geom: Any, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    x0, y0 = geom.coords[0]
    return (x0 - a["x"]) ** 2 + (y0 - a["y"]) ** 2 > (x0 - b["x"]) ** 2 + (y0 - b["y"]) ** 2


def _ordered_components(components: list[Any], node_key: Any) -> list[Any]:
    """Components largest first; ties by their smallest node (``node_key``): a stable order."""
    return sorted(components, key=lambda c: (-len(c), min(node_key(n) for n in c)))


def _keep_components(
    G: nx.MultiDiGraph, smallest: int, largest_only: bool
) -> tuple[nx.MultiDiGraph, list[int], int]:
    """``G`` without the strongly connected components under ``smallest`` nodes, labelled.

    Returns the graph (``G`` itself when nothing is dropped), the node count of each kept
    component (largest first; its position is the ``component`` label) and the number of
    components dropped.
    """
    ordered = _ordered_components(list(nx.strongly_connected_components(G)), _node_order)
    # The largest component is always kept: a small network is still a network.
    kept = ordered[:1] + ([] if largest_only else [c for c in ordered[1:] if len(c) >= smallest])
    dropped = len(ordered) - len(kept)
    if dropped:
        G = G.subgraph(set().union(*kept)).copy()
    for label, nodes in enumerate(kept):
        for n in nodes:
            G.nodes[n]["component"] = label
    return G, [len(c) for c in kept], dropped


def _node_order(node: Any) -> tuple[int, Any]:
    """Sort key of a node id: numbers by value, anything else by its text."""
    if isinstance(node, int | float | np.integer | np.floating):
        return (0, node)
    return (1, str(node))


def component_labels(csr: sp.csr_array, node_ids: np.ndarray) -> np.ndarray:
    """Strongly connected component of each node of a routing matrix, numbered as in
    :func:`prepare_network`: 0 for the largest, ties broken by the smallest node id.

    Parameters
    ----------
    csr
        Node × node sparse matrix of edge minutes.
    node_ids
        Id of each row.
    """
    from scipy.sparse.csgraph import connected_components

    if node_ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    count, raw = connected_components(csr, directed=True, connection="strong")
    sizes = np.bincount(raw, minlength=count)
    smallest_id = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(smallest_id, raw, node_ids.astype(np.int64))
    order = np.lexsort((smallest_id, -sizes))
    rank = np.empty(count, dtype=np.int64)
    rank[order] = np.arange(count)
    return rank[raw]


class RoutingGraph:
    """Compact arrays of a prepared network for compiled shortest paths.

    Attributes
    ----------
    csr : scipy.sparse.csr_array
        Node × node matrix of edge minutes (the fastest of parallel edges).
    node_ids : numpy.ndarray
        OSM (or synthetic) node id of each row/column.
    xy : numpy.ndarray
        (n_nodes, 2) node coordinates in metres, in ``crs``.
    crs : pyproj.CRS
        The network's metric CRS.
    """

    __slots__ = (
        "__weakref__",
        "_component",
        "_reverse",
        "_tree",
        "crs",
        "csr",
        "info",
        "node_ids",
        "xy",
    )

    def __init__(
        self, csr: sp.csr_array, node_ids: np.ndarray, xy: np.ndarray, crs: pyproj.CRS
    ) -> None:
        self.csr = csr
        self.node_ids = node_ids
        self.xy = xy
        self.crs = crs
        self._tree: cKDTree | None = None
        self._reverse: sp.csr_array | None = None
        self._component: np.ndarray | None = None
        #: What preparation did (as ``G.graph["accessplan"]``), for a graph prepared as arrays.
        self.info: dict[str, Any] = {}

    @property
    def component(self) -> np.ndarray:
        """Strongly connected component of each node (int, 0 = largest), computed once.

        Numbered as the ``component`` node attribute of :func:`prepare_network`.
        """
        if self._component is None:
            self._component = component_labels(self.csr, self.node_ids)
        return self._component

    @property
    def component_nodes(self) -> np.ndarray:
        """Number of nodes of each component (position = component number)."""
        return np.bincount(self.component) if self.n_nodes else np.zeros(0, dtype=np.int64)

    @property
    def tree(self) -> cKDTree:
        """k-d tree of the node coordinates (``scipy.spatial.cKDTree``), built once."""
        if self._tree is None:
            from scipy.spatial import cKDTree

            self._tree = cKDTree(self.xy)
        return self._tree

    @property
    def reverse_csr(self) -> sp.csr_array:
        """The reversed graph (``csr`` transposed, CSR): searches towards a node, built once."""
        if self._reverse is None:
            self._reverse = self.csr.T.tocsr()
        return self._reverse

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_ids.size)


#: id(graph) -> ((fingerprint, graph), its RoutingGraph); the graph is held so its id stays its own.
_ROUTING_CACHE: dict[int, tuple[tuple[tuple[Any, ...], nx.MultiDiGraph], RoutingGraph]] = {}


def routing_graph(G: nx.MultiDiGraph | RoutingGraph, weight: str = "minutes") -> RoutingGraph:
    """The :class:`RoutingGraph` of a prepared network (cached per graph object and contents).

    The cache holds the last graph converted. It is reused only while the graph's nodes, their
    coordinates, its edges and their ``weight`` are unchanged: one pass over the graph (about a
    third of a conversion) compares a fingerprint of them, so a graph edited in place (an edge's
    minutes changed, a road closed and another opened) is converted again.

    Raises
    ------
    NetworkError
        If the graph has not been prepared (no ``minutes`` on its edges, or no metric CRS).
    """
    if isinstance(G, RoutingGraph):
        return G
    crs = pyproj.CRS.from_user_input(G.graph.get("crs")) if G.graph.get("crs") else None
    if crs is None or not crs.is_projected:
        raise NetworkError(
            "the network is not in a metric CRS; call accessplan.prepare_network(G, mode) first."
        )
    nodes = np.fromiter(G.nodes, dtype=np.int64, count=G.number_of_nodes())
    xy = np.array([(d["x"], d["y"]) for _, d in G.nodes(data=True)], dtype=np.float64)
    edges = list(G.edges(data=weight))
    stamp = (weight, str(crs), hash(nodes.tobytes()), hash(xy.tobytes()), hash(tuple(edges)))
    key = id(G)
    hit = _ROUTING_CACHE.get(key)
    if hit is not None and hit[0] == (stamp, G):
        return hit[1]
    routing = _build_routing(nodes, xy, edges, crs, weight)
    _ROUTING_CACHE.clear()
    _ROUTING_CACHE[key] = ((stamp, G), routing)
    return routing


def _build_routing(
    nodes: np.ndarray,
    xy: np.ndarray,
    edges: list[tuple[Any, Any, float | None]],
    crs: pyproj.CRS,
    weight: str,
) -> RoutingGraph:
    """The :class:`RoutingGraph` of nodes, coordinates and ``(u, v, weight)`` edges."""

    position = {n: i for i, n in enumerate(nodes.tolist())}
    m = len(edges)
    rows = np.empty(m, dtype=np.int64)
    cols = np.empty(m, dtype=np.int64)
    minutes = np.empty(m, dtype=np.float64)
    for i, (u, v, w) in enumerate(edges):
        if w is None:
            raise NetworkError(
                f"edge ({u}, {v}) has no {weight!r}; call accessplan.prepare_network(G, mode) "
                "first."
            )
        rows[i], cols[i], minutes[i] = position[u], position[v], w
    return routing_from_edges(nodes, xy, rows, cols, minutes, crs)


def routing_from_edges(
    nodes: np.ndarray,
    xy: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    minutes: np.ndarray,
    crs: pyproj.CRS,
) -> RoutingGraph:
    """The :class:`RoutingGraph` of nodes (ids, coordinates) and directed edges as arrays.

    ``rows``/``cols`` are node positions, ``minutes`` the edge times. Parallel edges keep the
    fastest; self-loops are dropped (they never shorten a path).
    """
    import scipy.sparse as sp

    m = rows.size
    order = np.lexsort((minutes, cols, rows))
    rows, cols, minutes = rows[order], cols[order], minutes[order]
    first = np.ones(m, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    first &= rows != cols
    rows, cols, minutes = rows[first], cols[first], minutes[first]
    # A zero-minute edge would vanish from a sparse graph; a tiny positive time keeps it.
    minutes = np.maximum(minutes, 1e-12)
    csr = sp.csr_array((minutes, (rows, cols)), shape=(nodes.size, nodes.size))
    return RoutingGraph(csr, nodes, xy, crs)
