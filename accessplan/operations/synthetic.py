"""Networks for the operations model: from facility-to-facility minutes, or synthetic.

:func:`network_from_minutes` turns a facility × facility travel-time matrix (minutes, from
:func:`accessplan.travel_times` between facility points) and a mean demand per facility and
type into a :class:`~accessplan.operations.rolling.Network`: fixed units, mobile pools,
initial units and transfer arcs to each facility's nearest neighbours. :func:`synthetic_network`
does the same for random facility points in a square (straight-line minutes at a road speed),
for tests and for national-scale benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from accessplan.errors import InputError
from accessplan.operations.model import Arcs, ResourceType
from accessplan.operations.rolling import Network

__all__ = ["default_types", "nearest_arcs", "network_from_minutes", "synthetic_network"]


def default_types() -> tuple[ResourceType, ...]:
    """Four resource types: nurses and beds (re-allocated within the ramp), ventilators
    (critical, continuous), mobile clinics (indivisible, travel between facilities)."""
    return (
        ResourceType("nurses", unit_cost=3.0, fixed_cost=1.0, penalty=60.0, critical=True),
        ResourceType("beds", unit_cost=1.0, fixed_cost=0.5, penalty=40.0),
        ResourceType("ventilators", unit_cost=2.0, fixed_cost=1.0, penalty=80.0, critical=True),
        ResourceType(
            "mobile_clinics",
            unit_cost=4.0,
            fixed_cost=2.0,
            penalty=50.0,
            integer=True,
            transfers=True,
            transfer_cost_per_minute=0.2,
        ),
    )


def nearest_arcs(minutes: np.ndarray, neighbours: int, period_minutes: float) -> Arcs:
    """Arcs from each facility to its ``neighbours`` nearest others (finite minutes only)."""
    minutes = np.asarray(minutes, dtype=np.float64)
    n = minutes.shape[0]
    if minutes.shape != (n, n):
        raise InputError(f"minutes has shape {minutes.shape}; give a square facility matrix.")
    k = min(int(neighbours), n - 1)
    if k <= 0:
        return Arcs.empty()
    off = np.where(np.eye(n, dtype=bool), np.inf, minutes)
    off = np.where(np.isfinite(off), off, np.inf)
    dst = np.argsort(off, axis=1, kind="stable")[:, :k]
    src = np.repeat(np.arange(n), k)
    dst = dst.ravel()
    mins = off[src, dst]
    ok = np.isfinite(mins)
    return Arcs.from_minutes(src[ok], dst[ok], mins[ok], period_minutes)


def network_from_minutes(
    facilities: Sequence[Any] | pd.Index,
    minutes: np.ndarray,
    base_demand: np.ndarray,
    *,
    types: Sequence[ResourceType] | None = None,
    period_minutes: float = 60.0,
    neighbours: int = 4,
    fixed_share: float = 0.75,
    pool_share: float = 0.5,
    ramp_share: float = 0.25,
    gamma: float | None = 0.3,
    smoothing: float = 0.1,
) -> Network:
    """A network sized from the mean demand ``base_demand`` ``(n, m)`` (units per period).

    Fixed units are ``fixed_share`` of the mean demand (rounded down for indivisible types);
    each type's mobile pool is ``pool_share`` of its total mean demand, placed initially in
    proportion to the demand beyond the fixed units; the ramp of a type without transfers is
    ``ramp_share`` of a facility's mean demand per period (at least one unit); a type with
    transfers moves only by transfer (ramp 0).
    """
    types = tuple(default_types() if types is None else types)
    base = np.asarray(base_demand, dtype=np.float64)
    index = pd.Index(facilities)
    n, m = len(index), len(types)
    if base.shape != (n, m):
        raise InputError(f"base_demand has shape {base.shape}; give ({n} facilities, {m} types).")
    integer = np.array([t.integer for t in types])
    moves = np.array([t.transfers for t in types])
    fixed = fixed_share * base
    fixed = np.where(integer[None, :], np.floor(fixed), fixed)
    pool = pool_share * base.sum(axis=0)
    pool = np.where(integer, np.ceil(pool), pool)
    need = np.maximum(base - fixed, 0.0)
    share = need / np.maximum(need.sum(axis=0, keepdims=True), 1e-12)
    initial = share * pool[None, :]
    initial = np.where(integer[None, :], _round_keeping_sum(initial, pool), initial)
    ramp = np.maximum(ramp_share * base, 1.0)
    ramp = np.where(moves[None, :], 0.0, ramp)
    return Network(
        facilities=index,
        types=types,
        fixed=fixed,
        pool=pool,
        initial=initial,
        arcs=nearest_arcs(minutes, neighbours, period_minutes),
        ramp=ramp,
        gamma=gamma,
        smoothing=smoothing,
        period_minutes=period_minutes,
    )


def _round_keeping_sum(values: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Round each column down, then give the remaining units to the largest remainders."""
    down = np.floor(values)
    left = np.round(totals - down.sum(axis=0)).astype(np.int64)
    order = np.argsort(-(values - down), axis=0, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(values.shape[0])[:, None], axis=0)
    return down + (rank < left[None, :])


def synthetic_network(
    n: int = 8,
    *,
    types: Sequence[ResourceType] | None = None,
    seed: int = 0,
    extent_km: float = 60.0,
    speed_kph: float = 50.0,
    mean_demand: float = 10.0,
    **options: Any,
) -> tuple[Network, np.ndarray]:
    """A network of ``n`` random facilities in a square of ``extent_km``, and the base demand.

    Minutes are straight-line distance × 1.3 (road detour) at ``speed_kph``; base demand per
    facility and type is gamma-distributed around ``mean_demand`` units per period. Other
    keywords go to :func:`network_from_minutes`. Returns ``(network, base_demand)``.
    """
    if n < 1:
        raise InputError(f"n is {n}; give at least one facility.")
    types = tuple(default_types() if types is None else types)
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0.0, extent_km, size=(n, 2))
    km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    minutes = km * 1.3 / speed_kph * 60.0
    base = rng.gamma(4.0, mean_demand / 4.0, size=(n, len(types)))
    ids = pd.Index([f"F{i:04d}" for i in range(n)], name="facility")
    return network_from_minutes(ids, minutes, base, types=types, **options), base


#: Mean demand per clinician of the embedded region's facilities, per period and type
#: (nurses, beds, ventilators, mobile clinics), units.
DEMAND_PER_CLINICIAN = (1.2, 2.0, 0.3, 0.15)


def facility_minutes(region: Any, mode: str = "drive") -> tuple[pd.Index, np.ndarray]:
    """Facility ids and the facility × facility driving minutes of a region's road network.

    The road graph is prepared with :func:`accessplan.prepare_network` and the minutes come from
    :func:`accessplan.travel_times` between the facility points (``inf`` where unreachable).
    """
    from accessplan.network import Mode, check_mode, prepare_network
    from accessplan.traveltimes import travel_times

    graph = prepare_network(region.road_graph(mode), cast("Mode", check_mode(mode)))
    points = region.facilities[["id", "geometry"]].copy()
    points["id"] = points["id"].astype(str)
    tt = travel_times(graph, points, points, population_col=None)
    dense = np.asarray(tt.to_dense(), dtype=np.float64)
    order_o = tt.origin_ids.get_indexer(points["id"])
    order_d = tt.destination_ids.get_indexer(points["id"])
    minutes = dense[np.ix_(order_o, order_d)]
    minutes = np.where(np.isnan(minutes), np.inf, minutes)
    np.fill_diagonal(minutes, 0.0)
    return pd.Index(points["id"], name="facility"), minutes


def region_network(
    region: Any,
    *,
    mode: str = "drive",
    types: Sequence[ResourceType] | None = None,
    demand_per_clinician: Sequence[float] = DEMAND_PER_CLINICIAN,
    minutes: tuple[pd.Index, np.ndarray] | None = None,
    **options: Any,
) -> tuple[Network, np.ndarray]:
    """A network of a region's facilities with transfer times from its road network.

    Mean demand per period is the facility's ``capacity`` (clinicians, at least 1) times
    ``demand_per_clinician`` (one value per type); ``minutes`` reuses a
    :func:`facility_minutes` result. Other keywords go to :func:`network_from_minutes`.
    Returns ``(network, base_demand)``.
    """
    types = tuple(default_types() if types is None else types)
    per = np.asarray(demand_per_clinician, dtype=np.float64)
    if per.shape != (len(types),):
        raise InputError(
            f"demand_per_clinician has {per.size} values; give one per type ({len(types)})."
        )
    ids, mins = facility_minutes(region, mode) if minutes is None else minutes
    clinicians = np.maximum(
        pd.to_numeric(region.facilities["capacity"], errors="coerce").fillna(1.0).to_numpy(), 1.0
    )
    base = clinicians[:, None] * per[None, :]
    return network_from_minutes(ids, mins, base, types=types, **options), base
