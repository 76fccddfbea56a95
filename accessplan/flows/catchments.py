"""Catchments from the accessibility engine: each population cell's nearest facility."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from accessplan.errors import InputError

if TYPE_CHECKING:
    from accessplan.regions import Region
    from accessplan.traveltimes import TravelTimes

__all__ = ["nearest_facility", "region_catchments"]


def nearest_facility(tt: TravelTimes) -> pd.Series:
    """Facility id (text) of the nearest facility of each origin, by travel time (minutes).

    Origins with no facility within the travel-time cutoff get NaN. Ties go to the first
    facility in ``tt``'s destination order.
    """
    matrix = tt.to_dense(fill=np.inf)
    if matrix.shape[1] == 0:
        raise InputError("travel times have no destinations; catchments need facilities")
    best = np.argmin(matrix, axis=1)
    reachable = np.isfinite(matrix[np.arange(matrix.shape[0]), best])
    ids = np.asarray([str(d) for d in tt.destination_ids], dtype=object)
    out = pd.Series(np.where(reachable, ids[best], None), index=tt.origin_ids, name="facility_id")
    return out.where(reachable)


def region_catchments(
    region: Region | None = None, *, mode: str = "drive", cutoff: float = 240.0
) -> tuple[Region, pd.Series]:
    """The region (default the embedded one) and its cells' nearest facilities.

    Routes population cells to facilities on the region's road network
    (:func:`accessplan.prepare_network`, :func:`accessplan.travel_times`, minutes up to
    ``cutoff``); takes a few seconds for the embedded region.
    """
    from accessplan.network import prepare_network
    from accessplan.regions import load_region
    from accessplan.traveltimes import travel_times

    region = region if region is not None else load_region()
    network = prepare_network(region.road_graph(mode), mode)  # type: ignore[arg-type]
    tt = travel_times(network, region.population, region.facilities, cutoff=cutoff)
    return region, nearest_facility(tt)
