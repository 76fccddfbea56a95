"""Candidate sites when the planner has none: k-means centres, populated cells, network nodes.

All functions take and return GeoDataFrames in a projected CRS (metres). The result has an
``id`` column (strings such as ``"kmeans-0"``), a ``type`` column and point geometries; compute
travel times to it and pass it as ``candidates=`` to a location model.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely import points

from accessplan.errors import InputError

__all__ = [
    "exclude_near",
    "kmeans_candidates",
    "network_node_candidates",
    "populated_cell_candidates",
]


def _check_projected(gdf: gpd.GeoDataFrame, what: str) -> None:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"{what} must be a GeoDataFrame, got {type(gdf).__name__}.")
    if gdf.crs is None or not gdf.crs.is_projected:
        raise InputError(
            f"{what} must be in a projected CRS (metres), got {gdf.crs}; use .to_crs() first."
        )


def _result(xy: np.ndarray, prefix: str, crs: object, site_type: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [f"{prefix}-{k}" for k in range(len(xy))], "type": site_type},
        geometry=points(xy) if len(xy) else [],
        crs=crs,
    )


def kmeans_candidates(
    population: gpd.GeoDataFrame,
    k: int,
    *,
    weight: str = "population",
    nodes: gpd.GeoDataFrame | None = None,
    seed: int = 0,
    site_type: str = "clinic",
) -> gpd.GeoDataFrame:
    """Population-weighted k-means centres, optionally snapped to the nearest network node.

    Parameters
    ----------
    population
        Points or cells (centroids are used) with a ``weight`` column of persons.
    k
        Number of centres.
    nodes
        Network nodes (points); when given, each centre moves to its nearest node and centres
        that land on the same node are merged (so fewer than ``k`` may come back).
    seed
        Random state of scikit-learn's ``KMeans``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id``, ``type``, ``geometry`` and, when snapped, ``node`` (the node's index) and
        ``snap_metres``.
    """
    from sklearn.cluster import KMeans

    _check_projected(population, "population")
    if weight not in population.columns:
        raise InputError(f"population has no column {weight!r} of persons.")
    w = pd.to_numeric(population[weight], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(w).all() or (w < 0).any():
        raise InputError(f"population column {weight!r} must hold numbers >= 0.")
    keep = w > 0
    if not (isinstance(k, int | np.integer) and 1 <= k <= int(keep.sum())):
        raise InputError(
            f"k = {k!r} must be a whole number between 1 and the {int(keep.sum())} populated "
            "points."
        )
    centroids = population.geometry.centroid
    xy = np.column_stack([centroids.x, centroids.y])[keep]
    from threadpoolctl import threadpool_limits

    model = KMeans(n_clusters=int(k), n_init=10, random_state=seed)
    # One thread: on a small machine shared with other work, scikit-learn's OpenMP threads
    # made this step 50× slower; one thread fits a few thousand points in a fraction of a second.
    with threadpool_limits(limits=1):
        model.fit(xy, sample_weight=w[keep])
    centres = model.cluster_centers_
    if nodes is None:
        return _result(centres, "kmeans", population.crs, site_type)
    _check_projected(nodes, "nodes")
    node_xy = np.column_stack([nodes.geometry.x, nodes.geometry.y])
    from scipy.spatial import cKDTree

    dist, at = cKDTree(node_xy).query(centres)
    unique, first = np.unique(at, return_index=True)
    order = np.sort(first)
    out = _result(node_xy[at[order]], "kmeans", population.crs, site_type)
    out["node"] = nodes.index[at[order]]
    out["snap_metres"] = dist[order]
    return out if unique.size else out.iloc[0:0]


def populated_cell_candidates(
    cells: gpd.GeoDataFrame,
    *,
    weight: str = "population",
    min_population: float = 1.0,
    site_type: str = "clinic",
) -> gpd.GeoDataFrame:
    """Centroids of the cells holding at least ``min_population`` persons.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id``, ``type``, ``population`` (of the cell) and ``geometry``.
    """
    _check_projected(cells, "cells")
    if weight not in cells.columns:
        raise InputError(f"cells have no column {weight!r} of persons.")
    w = pd.to_numeric(cells[weight], errors="coerce").to_numpy(dtype=np.float64)
    keep = np.flatnonzero(np.nan_to_num(w, nan=-1.0) >= min_population)
    c = cells.geometry.iloc[keep].centroid
    out = _result(np.column_stack([c.x, c.y]), "cell", cells.crs, site_type)
    out["population"] = w[keep]
    return out


def network_node_candidates(
    nodes: gpd.GeoDataFrame, spacing_metres: float, *, site_type: str = "clinic"
) -> gpd.GeoDataFrame:
    """Network nodes on a regular spacing: the node nearest to the centre of each grid square.

    Parameters
    ----------
    nodes
        Network nodes (points) in a projected CRS.
    spacing_metres
        Side of the grid squares (metres); one candidate per square that holds a node.
    """
    _check_projected(nodes, "nodes")
    if not spacing_metres > 0:
        raise InputError(f"spacing_metres must be positive, got {spacing_metres}.")
    xy = np.column_stack([nodes.geometry.x, nodes.geometry.y])
    cell = np.floor(xy / spacing_metres).astype(np.int64)
    centre = (cell + 0.5) * spacing_metres
    dist = np.hypot(*(xy - centre).T)
    order = np.lexsort((dist, cell[:, 1], cell[:, 0]))
    first = np.ones(order.size, dtype=bool)
    first[1:] = (np.diff(cell[order], axis=0) != 0).any(axis=1)
    chosen = order[first]
    out = _result(xy[chosen], "node", nodes.crs, site_type)
    out["node"] = nodes.index[chosen]
    return out


def exclude_near(
    candidates: gpd.GeoDataFrame, existing: gpd.GeoDataFrame, distance_metres: float
) -> gpd.GeoDataFrame:
    """Candidates farther than ``distance_metres`` from every existing facility.

    Raises
    ------
    InputError
        When the CRSs differ or are not projected, or the distance is negative.
    """
    _check_projected(candidates, "candidates")
    _check_projected(existing, "existing facilities")
    if candidates.crs != existing.crs:
        raise InputError("candidates and existing facilities are in different CRSs.")
    if not distance_metres >= 0:
        raise InputError(f"distance_metres must be >= 0, got {distance_metres}.")
    if len(existing) == 0 or len(candidates) == 0:
        return candidates.copy()
    from scipy.spatial import cKDTree

    c = candidates.geometry.centroid
    e = existing.geometry.centroid
    dist, _ = cKDTree(np.column_stack([e.x, e.y])).query(np.column_stack([c.x, c.y]))
    return candidates[dist > distance_metres].copy()
