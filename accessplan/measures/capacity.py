"""Capacity-limited coverage, in the manner of WHO AccessMod's geographic coverage analysis.

Algorithm (Ray & Ebener 2008, AccessMod 3; AccessMod 5 "geographic coverage analysis"):

1. Physical facilities are processed one at a time in a documented order: by default by
   descending capacity, ties by ascending id (``order="capacity"``); ``order="input"`` keeps
   the table's order, or give the ids in the order wanted.
2. Each facility's catchment grows by travel time from the facility: the origins it reaches
   (within ``standard`` minutes, boundary included) are taken from the nearest outwards, and
   each covers its *still uncovered* persons, until the facility's capacity (persons it can
   serve) is used up. Origins at the same travel time are one ring: when the capacity runs
   out inside a ring, every origin of the ring is covered in the same proportion (the cell
   split at the boundary is partially covered, without favouring one cell over another).
3. Covered persons are removed before the next facility, so nobody is covered twice.
4. Digital facilities come last (they neither displace nor double-count physical supply):
   their total capacity ``C = Σ_d S_d`` serves the connected share of the persons still
   uncovered, ``R_i = a_i U_i``, in proportion (``served_i = R_i · min(1, C / Σ_k R_k)``);
   the needs resolved, ``e · served_i``, count as covered. Each digital facility is credited
   with its share ``S_d / C`` of the persons served.

Ray, N. & Ebener, S. (2008). AccessMod 3.0: computing geographic coverage and accessibility
to health care services using anisotropic movement of patients. *International Journal of
Health Geographics* 7:63.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from accessplan.errors import InputError
from accessplan.measures._inputs import (
    PHYSICAL_COLUMNS,
    SupplyLike,
    check_minutes,
    demand_values,
    digital_shares,
    facility_table,
    pairs,
)
from accessplan.traveltimes import TravelTimes

__all__ = ["CapacityCoverage", "capacity_limited_coverage"]


@dataclass
class CapacityCoverage:
    """Result of :func:`capacity_limited_coverage`.

    Attributes
    ----------
    per_origin
        Indexed by origin id: ``population``, ``covered``, ``uncovered`` (persons) and the
        persons covered by each type ``clinic``, ``robotic``, ``digital``.
    per_facility
        Indexed by facility id, in processing order: ``type``, ``capacity``, ``order``
        (1 = first), ``served`` (persons served), ``covered`` (persons whose needs are
        resolved: equal to ``served`` for physical facilities, ``e · served`` for digital),
        ``capacity_left``, ``catchment_minutes`` (travel time at which the catchment stopped
        growing; NaN for digital or when nothing is reached) and ``exhausted``.
    standard
        Largest travel time of a catchment (minutes), or None for every stored pair.
    """

    per_origin: pd.DataFrame
    per_facility: pd.DataFrame
    standard: float | None

    @property
    def covered_population(self) -> float:
        """Persons covered in total."""
        return float(self.per_origin["covered"].sum())

    @property
    def total_population(self) -> float:
        """Persons in the demand."""
        return float(self.per_origin["population"].sum())

    @property
    def coverage(self) -> float:
        """Share (0–1) of the population covered."""
        total = self.total_population
        return self.covered_population / total if total else float("nan")


def _processing_order(table: pd.DataFrame, order: str | Iterable[Hashable]) -> pd.Index:
    physical = table[table["type"] != "digital"]
    if isinstance(order, str):
        if order == "input":
            return physical.index
        if order == "capacity":
            ranked = pd.DataFrame({"capacity": physical["capacity"].to_numpy()})
            try:
                ranked["id"] = physical.index.to_numpy()
                ranked = ranked.sort_values(
                    ["capacity", "id"], ascending=[False, True], kind="stable"
                )
            except TypeError:  # ids of mixed types: compare their text
                ranked["id"] = physical.index.astype(str).to_numpy()
                ranked = ranked.sort_values(
                    ["capacity", "id"], ascending=[False, True], kind="stable"
                )
            return physical.index[ranked.index.to_numpy()]
        raise InputError(f"order must be 'capacity', 'input' or a list of ids, got {order!r}.")
    wanted = pd.Index(list(order))
    wanted = wanted[~wanted.isin(table.index[table["type"] == "digital"])]
    if (
        not wanted.is_unique
        or len(wanted) != len(physical)
        or not wanted.isin(physical.index).all()
    ):
        raise InputError(
            "order must list every physical facility id exactly once (digital facilities are "
            f"always processed last); got {list(order)[:5]}... for facilities "
            f"{physical.index[:5].tolist()}..."
        )
    return wanted


def _fill_catchment(
    origins: np.ndarray, minutes: np.ndarray, remaining: np.ndarray, capacity: float
) -> tuple[np.ndarray, float, bool]:
    """Persons taken from each origin, by rings of equal minutes, until capacity is used.

    Returns (persons taken per origin, catchment minutes, whether capacity ran out).
    """
    rank = np.argsort(minutes, kind="stable")
    origins, minutes = origins[rank], minutes[rank]
    left = remaining[origins]
    ring_minutes, ring = np.unique(minutes, return_inverse=True)
    ring_persons = np.bincount(ring, weights=left, minlength=ring_minutes.size)
    cumulative = np.cumsum(ring_persons)
    share = (cumulative <= capacity).astype(np.float64)
    exhausted = not share.all()
    if exhausted:
        boundary = int(np.argmin(share))
        before = cumulative[boundary - 1] if boundary else 0.0
        share[boundary] = (capacity - before) / ring_persons[boundary]
        reach = float(ring_minutes[boundary])
    else:
        reach = float(ring_minutes[-1])
    taken = np.zeros_like(remaining)
    taken[origins] = left * share[ring]
    return taken, reach, exhausted


def capacity_limited_coverage(
    tt: TravelTimes,
    demand: pd.Series | float,
    supply: SupplyLike,
    standard: float | None = None,
    *,
    order: str | Iterable[Hashable] = "capacity",
    digital_access: pd.Series | float = 1.0,
    effectiveness: float = 1.0,
) -> CapacityCoverage:
    """Covered and uncovered persons when each facility can serve a limited number of persons.

    See the module docstring for the algorithm (AccessMod-style catchments grown by travel
    time, rings split in proportion at the boundary, nobody covered twice, digital last).

    Parameters
    ----------
    tt
        Travel times (minutes) from origins to the physical facilities.
    demand
        Persons per origin (Series indexed by origin id).
    supply
        Facilities table (id, type, capacity) or a capacity Series (all clinics). Capacity is
        in **persons** the facility can serve (convert clinicians with
        :func:`accessplan.supply.clinicians_to_persons`).
    standard
        Largest travel time of a catchment (minutes, inclusive); default every stored pair.
    order
        ``"capacity"`` (descending, ties by id), ``"input"``, or physical facility ids in the
        processing order.
    digital_access, effectiveness
        Connected share a_i (0–1) and effectiveness e (0–1) of digital supply.

    Returns
    -------
    CapacityCoverage
    """
    T = check_minutes(standard, "standard", allow_none=True)
    population = demand_values(tt, demand)
    table = facility_table(supply, "supply")
    sequence = _processing_order(table, order)
    columns = tt.destination_ids.get_indexer(sequence)
    if (columns < 0).any():
        missing = sequence[columns < 0][:5].tolist()
        raise InputError(
            f"facilities {missing} are not destinations of the travel times; compute travel "
            "times to them or drop them."
        )
    p = pairs(tt, T)
    by_column = np.argsort(p.cols, kind="stable")
    rows, minutes = p.rows[by_column], p.minutes[by_column]
    starts = np.concatenate(
        [[0], np.cumsum(np.bincount(p.cols, minlength=len(tt.destination_ids)))]
    )

    remaining = population.copy()
    by_type = {kind: np.zeros_like(population) for kind in (*PHYSICAL_COLUMNS, "digital")}
    records = []
    for rank, (fid, col) in enumerate(zip(sequence, columns, strict=True), start=1):
        kind, capacity = table.at[fid, "type"], float(table.at[fid, "capacity"])
        sl = slice(starts[col], starts[col + 1])
        if sl.start == sl.stop or capacity == 0:
            taken, reach, exhausted = np.zeros_like(remaining), np.nan, capacity == 0
            if sl.start != sl.stop:
                reach = float(minutes[sl].min())
        else:
            taken, reach, exhausted = _fill_catchment(rows[sl], minutes[sl], remaining, capacity)
        remaining = np.clip(remaining - taken, 0.0, None)
        by_type[kind] += taken
        served = float(taken.sum())
        records.append(
            (fid, kind, capacity, rank, served, served, capacity - served, reach, exhausted)
        )

    digital = table[table["type"] == "digital"]
    if len(digital):
        a, e = digital_shares(tt, digital_access, effectiveness)
        reachable = a * remaining
        total_capacity = float(digital["capacity"].sum())
        demand_left = float(reachable.sum())
        rate = min(1.0, total_capacity / demand_left) if demand_left > 0 else 0.0
        served_i = reachable * rate
        by_type["digital"] = e * served_i
        remaining = np.clip(remaining - e * served_i, 0.0, None)
        served_all = float(served_i.sum())
        for k, (fid, capacity) in enumerate(digital["capacity"].items(), start=len(records) + 1):
            served = served_all * capacity / total_capacity if total_capacity > 0 else 0.0
            left = capacity - served
            records.append(
                (
                    fid,
                    "digital",
                    capacity,
                    k,
                    served,
                    e * served,
                    left,
                    np.nan,
                    left <= 1e-9 * max(capacity, 1),
                )
            )

    covered = population - remaining
    per_origin = pd.DataFrame(
        {"population": population, "covered": covered, "uncovered": remaining, **by_type},
        index=tt.origin_ids,
    )
    per_facility = pd.DataFrame.from_records(
        records,
        columns=[
            "id",
            "type",
            "capacity",
            "order",
            "served",
            "covered",
            "capacity_left",
            "catchment_minutes",
            "exhausted",
        ],
    ).set_index("id")
    per_facility.index.name = None
    return CapacityCoverage(per_origin, per_facility, T)
