"""Equity constraints for the location and allocation models.

Zones are a Series of zone labels indexed by origin id (:func:`zone_labels` also accepts a
polygon layer and the origin points, joined spatially by :func:`accessplan.equity.origin_zones`).
:func:`zone_table` reports the coverage each zone got.

Notation: origin ``i`` has population :math:`P_i` (persons) and met share :math:`y_i` (0–1);
zone :math:`z` has population :math:`P_z = \\sum_{i \\in z} P_i` and coverage
:math:`c_z = \\sum_{i \\in z} P_i y_i / P_z`; its unmet share is :math:`u_z = 1 - c_z`.
Zones without population have no coverage and take part in no constraint.

Models held as arrays (:class:`accessplan.optimize._solve.LinearModel`, the budget model) take
the constraints as rows: :func:`zone_share_matrix` gives the matrix :math:`Z` with
:math:`c = Z y`, and :func:`min_zone_coverage_rows` (:math:`c_z \\ge m_z`),
:func:`maximin_rows` (a column :math:`t \\le c_z` for every zone, to maximise) and
:func:`unmet_spread_rows` (:math:`\\max_z u_z - \\min_z u_z \\le \\gamma`) return the
constraint rows (and the extra columns they need) for a matrix of zone coverage rows :math:`C`
(``C @ v`` = coverage of each zone for the model's column vector ``v``). The PuLP model of
:func:`accessplan.optimize.allocate_resources` adds the spread bound with
:func:`add_unmet_spread_bound`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pulp
import scipy.sparse as sp

from accessplan.equity import origin_zones
from accessplan.errors import InfeasibleError, InputError

__all__ = [
    "add_unmet_spread_bound",
    "check_travel_cap",
    "check_zone_minimum_reachable",
    "maximin_rows",
    "min_zone_coverage_rows",
    "minimum_per_zone",
    "unmet_spread_rows",
    "zone_labels",
    "zone_share_matrix",
    "zone_table",
]

Expression: TypeAlias = pulp.LpAffineExpression | pulp.LpVariable


def zone_labels(
    zones: pd.Series | Any,
    origin_ids: pd.Index,
    *,
    origins: Any = None,
    zone_col: str | None = None,
) -> pd.Series:
    """Zone label of every origin, in the order of ``origin_ids``.

    Parameters
    ----------
    zones
        Either a Series of zone labels indexed by origin id (every origin must have one), or a
        GeoDataFrame of zone polygons; then ``origins`` must give the origin points.
    origin_ids
        The origins of the model (``tt.origin_ids``).
    origins
        GeoSeries or GeoDataFrame of origin points indexed by origin id (only with polygon
        zones). Points are joined to the polygon that contains them; a point on a shared border
        or in overlapping polygons takes the first polygon in the layer's order.
    zone_col
        Column of the polygon layer holding the zone label; default: the layer's index.

    Raises
    ------
    InputError
        When an origin has no zone (missing label, or a point outside every polygon), or the
        ids do not match.
    """
    labels = origin_zones(origin_ids, zones, origins=origins, zone_col=zone_col, outside=None)
    return labels.rename("zone")


def minimum_per_zone(
    minimum: float | Mapping[Hashable, float], zones: Any
) -> dict[Hashable, float]:
    """The checked ``min_zone_coverage`` as a share per zone.

    Parameters
    ----------
    minimum
        One share (0–1) for every zone, or a mapping zone label → share (zones not listed have
        no minimum).
    zones
        The populated zone labels.

    Returns
    -------
    dict
        Zone label → minimum coverage share (0–1), for the zones with a minimum.

    Raises
    ------
    InputError
        On a share outside 0–1 or a label that is not among ``zones``.
    """
    zones = list(zones)
    if isinstance(minimum, Mapping):
        unknown = [z for z in minimum if z not in set(zones)]
        if unknown:
            raise InputError(
                f"min_zone_coverage names zones {unknown[:5]} that are not populated zones of "
                f"the origins (zones: {zones[:10]}); use the labels of the zones given."
            )
        wanted = {z: float(v) for z, v in minimum.items()}
    else:
        wanted = dict.fromkeys(zones, float(minimum))
    for label, share in wanted.items():
        if not 0.0 <= share <= 1.0:
            raise InputError(
                f"min_zone_coverage for zone {label!r} is {share}; give a share between 0 and 1."
            )
    return wanted


def add_unmet_spread_bound(
    prob: pulp.LpProblem,
    unmet_share: Mapping[Hashable, Expression],
    gamma: float,
    *,
    name: str = "spread",
) -> tuple[pulp.LpVariable, pulp.LpVariable]:
    """Bound the spread of unmet-demand ratios: :math:`\\max_z u_z - \\min_z u_z \\le \\gamma`.

    Linearised with two variables ``hi >= u_z`` and ``lo <= u_z`` for every zone and
    ``hi - lo <= gamma``.

    Parameters
    ----------
    unmet_share
        Unmet share :math:`u_z` (0–1) of every zone (or facility), as PuLP expressions;
        for a coverage share :math:`c_z` pass ``1 - c_z``.
    gamma
        Largest allowed difference between unmet shares (0–1); 0 forces equal ratios.

    Returns
    -------
    (hi, lo)
        The largest and smallest unmet share variables.
    """
    if not (np.isfinite(gamma) and 0.0 <= gamma <= 1.0):
        raise InputError(f"gamma (unmet_spread) is {gamma}; give a share between 0 and 1.")
    hi = prob.add_variable(f"{name}_hi", lowBound=0.0, upBound=1.0)
    lo = prob.add_variable(f"{name}_lo", lowBound=0.0, upBound=1.0)
    for k, expr in enumerate(unmet_share.values()):
        prob += hi >= expr, f"{name}_hi_{k}"
        prob += lo <= expr, f"{name}_lo_{k}"
    prob += hi - lo <= gamma, f"{name}_gamma"
    return hi, lo


def check_travel_cap(travel_cap: float) -> None:
    """Raise :class:`InputError` unless ``travel_cap`` is a finite number of minutes >= 0."""
    if not (np.isfinite(travel_cap) and travel_cap >= 0):
        raise InputError(f"travel_cap is {travel_cap}; give a number of minutes >= 0.")


def check_zone_minimum_reachable(
    best_share: np.ndarray,
    population: np.ndarray,
    labels: pd.Series,
    minimum: float | Mapping[Hashable, float],
) -> None:
    """Raise before solving when a zone minimum cannot be met even with every candidate open.

    Parameters
    ----------
    best_share
        Largest share (0–1) of each origin that any choice of sites could cover.

    Raises
    ------
    InfeasibleError
        Naming the first zone whose best possible coverage is below its minimum.
    """
    best = zone_table(best_share, population, labels)
    wanted = minimum_per_zone(minimum, best.index[best["population"] > 0])
    for label, share in wanted.items():
        reachable = float(best.at[label, "coverage"])
        if reachable < share - 1e-9:
            raise InfeasibleError(
                f"zone {label!r} can be covered at most {reachable:.1%} even with every "
                f"candidate open, below its minimum {share:.1%}; lower min_zone_coverage for "
                f"{label!r} or add candidate sites (or digital access) that reach it."
            )


def zone_table(
    covered_share: np.ndarray, population: np.ndarray, labels: pd.Series
) -> pd.DataFrame:
    """Per-zone population, covered persons, coverage share and unmet share.

    Returns
    -------
    pandas.DataFrame
        Indexed by zone label (sorted), columns ``population`` (persons), ``covered``
        (persons), ``coverage`` (0–1, NaN for a zone without population), ``unmet`` (0–1).
    """
    frame = pd.DataFrame(
        {
            "zone": labels.to_numpy(),
            "population": population,
            "covered": np.asarray(covered_share, dtype=np.float64) * population,
        }
    )
    table = frame.groupby("zone", sort=True)[["population", "covered"]].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        table["coverage"] = np.where(
            table["population"] > 0, table["covered"] / table["population"], np.nan
        )
    table["unmet"] = 1.0 - table["coverage"]
    table.index.name = "zone"
    return table


# ------------------------------------------------------------------------------ array forms
def zone_share_matrix(population: np.ndarray, labels: pd.Series) -> tuple[sp.csr_array, pd.Index]:
    """Matrix :math:`Z` (populated zones × origins) with :math:`Z_{zi} = P_i / P_z`.

    ``Z @ y`` is the coverage share :math:`c_z` of every populated zone for met shares
    :math:`y_i` (0–1) in the order of ``labels``.

    Returns
    -------
    (Z, zones)
        The sparse matrix and the zone labels of its rows (sorted).
    """
    population = np.asarray(population, dtype=np.float64)
    codes, uniques = pd.factorize(labels, sort=True)
    totals = np.bincount(codes, weights=population, minlength=len(uniques))
    populated = totals > 0
    row_of_zone = np.cumsum(populated) - 1
    keep = populated[codes] & (population > 0)
    origins = np.flatnonzero(keep)
    rows = row_of_zone[codes[keep]]
    Z = sp.csr_array(
        (population[keep] / totals[codes[keep]], (rows, origins)),
        shape=(int(populated.sum()), len(population)),
    )
    return Z, pd.Index(uniques[populated])


def min_zone_coverage_rows(
    zone_coverage: sp.csr_array, zones: pd.Index, minimum: float | Mapping[Hashable, float]
) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Rows :math:`c_z \\ge m_z`.

    Parameters
    ----------
    zone_coverage
        :math:`C` (zones × model columns): ``C @ v`` is the coverage share of each zone.
    zones
        Zone label of each row of ``zone_coverage``.
    minimum
        One share (0–1) for every zone, or a mapping zone label → share.

    Returns
    -------
    (A, lower, upper)
        Constraint rows over the model's columns with their bounds.
    """
    wanted = minimum_per_zone(minimum, zones)
    rows = zones.get_indexer(list(wanted))
    A = sp.csr_array(zone_coverage)[rows]
    return A, np.array(list(wanted.values()), dtype=np.float64), np.full(len(rows), np.inf)


def maximin_rows(zone_coverage: sp.csr_array) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Rows :math:`c_z - t \\ge 0` with one new column :math:`t` (0–1) appended last.

    Maximise the new column for maximin.

    Returns
    -------
    (A, lower, upper)
        Rows over the model's columns plus :math:`t` (one more column than ``zone_coverage``).
    """
    C = sp.csr_array(zone_coverage)
    t = sp.csr_array(-np.ones((C.shape[0], 1)))
    A = sp.hstack([C, t], format="csr")
    return A, np.zeros(C.shape[0]), np.full(C.shape[0], np.inf)


def unmet_spread_rows(
    zone_coverage: sp.csr_array, gamma: float
) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Rows bounding the spread of unmet shares, with two new columns ``hi``, ``lo`` appended.

    Array form of :func:`add_unmet_spread_bound` with :math:`u_z = 1 - c_z`:
    :math:`hi + c_z \\ge 1` (so :math:`hi \\ge u_z`), :math:`lo + c_z \\le 1`
    (:math:`lo \\le u_z`) for every zone and :math:`hi - lo \\le \\gamma`. Both new
    columns lie in 0–1.

    Returns
    -------
    (A, lower, upper)
        Rows over the model's columns plus ``hi`` and ``lo`` (two more columns).
    """
    if not (np.isfinite(gamma) and 0.0 <= gamma <= 1.0):
        raise InputError(f"gamma (unmet_spread) is {gamma}; give a share between 0 and 1.")
    C = sp.csr_array(zone_coverage)
    n_zones, n = C.shape
    ones = np.ones((n_zones, 1))
    zero = np.zeros((n_zones, 1))
    hi_rows = sp.hstack([C, sp.csr_array(ones), sp.csr_array(zero)], format="csr")
    lo_rows = sp.hstack([C, sp.csr_array(zero), sp.csr_array(ones)], format="csr")
    gap_row = sp.csr_array(([1.0, -1.0], ([0, 0], [n, n + 1])), shape=(1, n + 2))
    A = sp.vstack([hi_rows, lo_rows, gap_row], format="csr")
    lower = np.concatenate([np.ones(n_zones), np.full(n_zones, -np.inf), [-np.inf]])
    upper = np.concatenate([np.full(n_zones, np.inf), np.ones(n_zones), [gamma]])
    return A, lower, upper
