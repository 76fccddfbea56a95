"""Snapping points to the road network: nearest node, off-network leg, diagnostics.

Every origin and destination is attached to its nearest network node (a k-d tree on node
coordinates in the network's metric CRS). The straight-line distance to that node is walked
at ``leg_speed_kph`` and added to the travel time. Points farther than ``max_snap_m`` are
flagged *too far*: they stay in the results (their rows or columns are empty) and are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from accessplan.errors import InputError
from accessplan.network import RoutingGraph

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

    from accessplan.points import Points

__all__ = ["DEFAULT_LEG_SPEED_KPH", "DEFAULT_MAX_SNAP_M", "Snapped", "snap_points"]

#: Walking speed (km/h) on the straight-line leg between a point and its nearest node.
DEFAULT_LEG_SPEED_KPH = 4.5
#: Largest distance (metres) from a point to the network that still counts as snapped.
DEFAULT_MAX_SNAP_M = 2_000.0


@dataclass(frozen=True)
class Snapped:
    """Points attached to a network.

    Attributes
    ----------
    ids : pandas.Index
        The points' ids, in input order.
    node : numpy.ndarray
        Position (row of the routing graph) of each point's nearest node.
    distance_m : numpy.ndarray
        Straight-line distance to that node, metres.
    leg_minutes : numpy.ndarray
        Time to walk that distance, minutes.
    too_far : numpy.ndarray
        True where ``distance_m > max_snap_m``: the point is not routed.
    persons : numpy.ndarray or None
        Population of each point when the input had a population column.
    """

    ids: pd.Index
    node: np.ndarray
    distance_m: np.ndarray
    leg_minutes: np.ndarray
    too_far: np.ndarray
    persons: np.ndarray | None = None

    def table(self) -> pd.DataFrame:
        """One row per point: node position, distance (m), leg (min), too_far, persons."""
        out = pd.DataFrame(
            {
                "node": self.node,
                "distance_m": self.distance_m,
                "leg_minutes": self.leg_minutes,
                "too_far": self.too_far,
            },
            index=self.ids,
        )
        if self.persons is not None:
            out["persons"] = self.persons
        return out


def point_ids(points: gpd.GeoDataFrame, id_col: str | None, what: str) -> pd.Index:
    """The ids of ``points``: column ``id_col`` when present, else the index."""
    if id_col is not None and id_col in points.columns:
        ids = pd.Index(points[id_col])
    elif id_col is not None and id_col != "id":
        raise InputError(
            f"{what} have no column {id_col!r} (columns: {list(points.columns)}); pass id_col."
        )
    else:
        ids = pd.Index(points.index)
    return _checked_ids(ids, what)


def _checked_ids(ids: pd.Index, what: str) -> pd.Index:
    """``ids`` if none is missing or repeated, else an InputError naming one."""
    if ids.hasnans:
        raise InputError(f"{what} have a missing id; give every row an id.")
    if not ids.is_unique:
        dup = ids[ids.duplicated()][:5].tolist()
        raise InputError(f"{what} ids are not unique: {dup} repeat. Make them unique.")
    return ids


def projected_xy(points: gpd.GeoDataFrame, crs: pyproj.CRS, what: str) -> np.ndarray:
    """(n, 2) coordinates of point geometries in ``crs`` (metres)."""
    if not isinstance(points, gpd.GeoDataFrame):
        raise InputError(f"{what} must be a GeoDataFrame of points, got {type(points).__name__}.")
    if points.crs is None:
        raise InputError(
            f"{what} have no CRS; set it with .set_crs('EPSG:4326') (or the CRS of the data)."
        )
    geom = points.geometry.to_numpy()
    empty = shapely.is_missing(geom) | shapely.is_empty(geom)
    if empty.any():
        raise InputError(
            f"{what} row {points.index[empty][0]!r} has an empty geometry; give it a point or "
            "remove the row."
        )
    not_point = shapely.get_type_id(geom) != shapely.GeometryType.POINT
    if not_point.any():
        at = int(np.flatnonzero(not_point)[0])
        raise InputError(
            f"{what} row {points.index[at]!r} is a {geom[at].geom_type}, not a point; convert "
            "with .representative_point() or .centroid (in a projected CRS) first."
        )
    xy = shapely.get_coordinates(geom)
    source = pyproj.CRS.from_user_input(points.crs)
    if source != crs:
        to_target = pyproj.Transformer.from_crs(source, crs, always_xy=True)
        xy = np.column_stack(to_target.transform(xy[:, 0], xy[:, 1]))
    if not np.isfinite(xy).all():
        at = points.index[~np.isfinite(xy).all(axis=1)][0]
        raise InputError(f"{what} row {at!r} has coordinates that cannot be projected.")
    return xy


def _nearest_nodes(
    tree: cKDTree, xy: np.ndarray, node_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distance to, and position of, each point's nearest node; ties go to the smaller node id.

    OSM often has two nodes at one spot (the two carriageways of a road, a bridge over a
    street) whose travel times differ; a k-d tree breaks such a tie by its own layout, which
    changes with every node added elsewhere, so the node id decides instead.
    """
    if len(node_ids) < 2:
        return tree.query(xy, k=1, workers=-1)
    distance, node = tree.query(xy, k=2, workers=-1)
    tie = distance[:, 1] == distance[:, 0]
    swap = tie & (node_ids[node[:, 1]] < node_ids[node[:, 0]])
    node[swap, 0] = node[swap, 1]
    return distance[:, 0], node[:, 0]


def snap_points(
    points: gpd.GeoDataFrame | Points,
    routing: RoutingGraph,
    *,
    id_col: str | None = "id",
    population_col: str | None = "population",
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    leg_speed_kph: float = DEFAULT_LEG_SPEED_KPH,
    what: str = "points",
) -> Snapped:
    """Attach each point to its nearest node of ``routing``.

    Parameters
    ----------
    points
        Point GeoDataFrame with a CRS (ids from column ``id_col``, or the index), or
        :class:`~accessplan.points.Points` (its ids).
    routing
        The network, from :func:`accessplan.network.routing_graph`; after
        :func:`accessplan.prepare_network` it holds only the kept components, so every point
        snaps to the nearest node of a kept road network, never to a dropped fragment.
    population_col
        Column of persons, used only for diagnostics (ignored if absent).
    max_snap_m
        Points farther than this (metres) from every node are flagged ``too_far``.
    leg_speed_kph
        Speed of the straight-line leg to the node, km/h.
    """
    if not max_snap_m > 0:
        raise InputError(f"max_snap_m must be a positive distance in metres, got {max_snap_m}.")
    if not leg_speed_kph > 0:
        raise InputError(f"leg_speed_kph must be positive, got {leg_speed_kph}.")
    from accessplan.points import Points

    if isinstance(points, Points):
        ids, xy = _checked_ids(points.ids, what), points.xy_in(routing.crs, what)
    else:
        ids, xy = point_ids(points, id_col, what), projected_xy(points, routing.crs, what)
    tree = getattr(routing, "tree", None)
    if tree is None:  # any object with node coordinates ``xy`` and a ``crs`` will do
        from scipy.spatial import cKDTree

        tree = cKDTree(routing.xy)
    node_ids = getattr(routing, "node_ids", None)
    node_ids = np.arange(len(routing.xy)) if node_ids is None else node_ids
    distance, node = _nearest_nodes(tree, xy, node_ids)
    persons = None
    if population_col is not None and population_col in points.columns:
        column = points[population_col]
        persons = pd.to_numeric(pd.Series(column), errors="coerce").to_numpy(float)
    return Snapped(
        ids=ids,
        node=np.asarray(node, dtype=np.int64),
        distance_m=np.asarray(distance, dtype=np.float64),
        leg_minutes=np.asarray(distance, dtype=np.float64) / (leg_speed_kph * 1000.0 / 60.0),
        too_far=np.asarray(distance > max_snap_m),
        persons=persons,
    )
