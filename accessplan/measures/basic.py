"""Measures without competition: nearest facility, cumulative opportunities, gravity, coverage.

How digital supply enters (``a_i`` = connected share of origin ``i``, ``e`` = effectiveness,
``S_d`` = digital capacity; see :mod:`accessplan.supply`):

* cumulative and gravity count the effective digital capacity reachable by a person of origin
  ``i`` without travel, with the weight of supply at the door (1):
  ``A_i^dig = a_i · e · Σ_d S_d``;
* coverage counts the persons whose needs digital supply can resolve, ``e · a_i · P_i``, for an
  origin that no physical facility covers (a physically covered person is not counted twice);
* nearest reports travel times only, so digital supply does not enter it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from functools import partial

import numpy as np
import pandas as pd

from accessplan.errors import InputError
from accessplan.measures._inputs import (
    PHYSICAL_COLUMNS,
    SupplyLike,
    assemble,
    check_minutes,
    decayed_weights,
    demand_values,
    digital_shares,
    parse_supply,
    per_type_product,
    weight_matrix,
)
from accessplan.measures.decay import Decay, as_decay, evaluate
from accessplan.traveltimes import TravelTimes

__all__ = ["coverage", "cumulative", "gravity", "nearest"]


def _kth_smallest(tt: TravelTimes, allowed: np.ndarray, k: int) -> np.ndarray:
    """The k-th smallest minutes of each origin over the ``allowed`` destinations (NaN where
    fewer than k are reachable), read row by row from the matrix: no per-pair copies."""
    from accessplan.measures._kernels import row_kth_smallest

    m = tt.matrix
    return row_kth_smallest(m.indptr, m.indices, m.data, allowed, k)


def nearest(
    tt: TravelTimes,
    supply: SupplyLike | None = None,
    *,
    k: int = 1,
    destinations: Iterable[Hashable] | None = None,
) -> pd.Series | pd.DataFrame:
    """Travel time (minutes) from each origin to its k-th nearest destination.

    ``t_i^(k)`` = the k-th smallest stored travel time of origin ``i``; NaN when fewer than
    ``k`` destinations are reachable within the matrix's cutoff (an unreachable origin: count
    it as not reached, never as 0 minutes).

    Parameters
    ----------
    tt
        Travel times (minutes).
    supply
        Optional capacity Series or facilities table: only destinations with a physical
        capacity > 0 count. With a facilities table the result has columns ``total`` (any
        physical type), ``clinic`` and ``robotic``; digital supply involves no travel and is
        left out.
    k
        1 for the nearest, 2 for the second nearest...
    destinations
        Optional destination ids to consider (e.g. only the existing facilities).

    Returns
    -------
    Series (minutes) indexed by origin id, or a DataFrame with one column per type.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"k must be a whole number >= 1, got {k!r}.")
    allowed = np.ones(len(tt.destination_ids), dtype=bool)
    if destinations is not None:
        pos = tt.destination_positions(destinations)
        allowed[:] = False
        allowed[pos] = True
    if supply is None:
        return pd.Series(_kth_smallest(tt, allowed, k), index=tt.origin_ids, name="minutes")
    sup = parse_supply(tt, supply)
    columns = {}
    for name, cap in (
        ("total", sup.physical_total),
        *zip(PHYSICAL_COLUMNS, sup.physical.T, strict=True),
    ):
        columns[name] = _kth_smallest(tt, allowed & (cap > 0), k)
    if not sup.typed:
        return pd.Series(columns["total"], index=tt.origin_ids, name="minutes")
    return pd.DataFrame(columns, index=tt.origin_ids)


def _digital_opportunities(
    tt: TravelTimes, digital_total: float, digital_access: pd.Series | float, effectiveness: float
) -> np.ndarray:
    a, e = digital_shares(tt, digital_access, effectiveness)
    return a * e * digital_total


def cumulative(
    tt: TravelTimes,
    supply: SupplyLike,
    standard: float,
    *,
    digital_access: pd.Series | float = 1.0,
    effectiveness: float = 1.0,
) -> pd.Series | pd.DataFrame:
    """Cumulative opportunities: supply reachable within ``standard`` minutes.

    ``A_i = Σ_j S_j · [t_ij ≤ T]`` (Wachs & Kumagai 1973), the boundary included; digital
    component ``a_i · e · Σ_d S_d`` (reached without travel by the connected share).

    Parameters
    ----------
    tt
        Travel times (minutes).
    supply
        Capacity Series indexed by destination id, or a facilities table (id, type, capacity).
    standard
        Threshold T in minutes (> 0).
    digital_access, effectiveness
        Connected share a_i (0–1; a number or a Series by origin id) and effectiveness e (0–1)
        of digital supply; used only when the facilities table has digital rows.

    Returns
    -------
    Series (units of supply) indexed by origin id, or DataFrame ``total``/``clinic``/
    ``robotic``/``digital``.
    """
    T = check_minutes(standard, "standard")
    sup = parse_supply(tt, supply)
    physical = per_type_product(weight_matrix(tt, T), sup.physical)
    digital = _digital_opportunities(tt, sup.digital_total, digital_access, effectiveness)
    return assemble(tt, sup, physical, digital, "cumulative")


def gravity(
    tt: TravelTimes,
    supply: SupplyLike,
    decay: Decay | Callable[[np.ndarray], np.ndarray],
    *,
    standard: float | None = None,
    digital_access: pd.Series | float = 1.0,
    effectiveness: float = 1.0,
) -> pd.Series | pd.DataFrame:
    """Gravity (Hansen 1959) access: supply weighted by a decay of travel time.

    ``A_i = Σ_{j: t_ij ≤ T} S_j f(t_ij)``; this is ``access.Access.weighted_catchment`` with
    ``weight_fn = f`` and ``max_cost = T``. Digital component ``a_i · e · Σ_d S_d`` (weight 1,
    the weight at the door of every decay with ``f(0) = 1``).

    Parameters
    ----------
    tt
        Travel times (minutes).
    supply
        Capacity Series or facilities table.
    decay
        A :class:`Decay` (e.g. ``power_decay(1.5)``, ``gaussian_decay(20)``) or any callable
        of an array of minutes returning weights >= 0.
    standard
        Optional largest travel time counted (minutes, inclusive); default all stored pairs.
    digital_access, effectiveness
        See :func:`cumulative`.
    """
    T = check_minutes(standard, "standard", allow_none=True)
    sup = parse_supply(tt, supply)
    W = decayed_weights(tt, T, partial(evaluate, as_decay(decay)))
    physical = per_type_product(W, sup.physical)
    digital = _digital_opportunities(tt, sup.digital_total, digital_access, effectiveness)
    return assemble(tt, sup, physical, digital, "gravity")


def coverage(
    tt: TravelTimes,
    demand: pd.Series | float,
    supply: SupplyLike | None,
    standard: float,
    *,
    digital_access: pd.Series | float = 1.0,
    effectiveness: float = 1.0,
) -> pd.Series | pd.DataFrame:
    """Persons covered: the population of each origin that reaches a facility within T minutes.

    ``C_i = P_i · [min_j t_ij ≤ T]`` over destinations with capacity > 0 (all destinations
    when ``supply`` is None). With a facilities table the columns are ``clinic`` and
    ``robotic`` (persons within T of that type), ``digital`` (``e · a_i · P_i`` when any
    digital capacity exists: persons whose needs digital care resolves) and ``total``: ``P_i``
    when physically covered, else the digital part (a person is counted once).

    Parameters
    ----------
    tt
        Travel times (minutes).
    demand
        Persons per origin (Series indexed by origin id).
    supply
        Capacity Series or facilities table, or None: every destination of ``tt`` counts
        (``coverage(tt, demand, None, 30)``).
    standard
        Service standard T in minutes (inclusive).
    digital_access, effectiveness
        See :func:`cumulative`.

    Returns
    -------
    Series of persons covered per origin, or a DataFrame with one column per type.
    """
    T = check_minutes(standard, "standard")
    P = demand_values(tt, demand)
    W = weight_matrix(tt, T)
    n = len(tt.origin_ids)
    if supply is None:
        reached = np.diff(W.indptr) > 0
        return pd.Series(P * reached, index=tt.origin_ids, name="covered")
    sup = parse_supply(tt, supply)
    physical = np.column_stack([P * ((W @ (s > 0).astype(float)) > 0) for s in sup.physical.T])
    if not sup.typed:
        return pd.Series(physical[:, 0], index=tt.origin_ids, name="covered")
    a, e = digital_shares(tt, digital_access, effectiveness)
    digital = e * a * P if sup.digital_total > 0 else np.zeros(n)
    physically_covered = physical.max(axis=1) > 0
    out = pd.DataFrame(
        {"clinic": physical[:, 0], "robotic": physical[:, 1], "digital": digital},
        index=tt.origin_ids,
    )
    total = np.where(physically_covered | (P == 0), P, digital)
    out.insert(0, "total", total)
    return out
