"""Equity constraints for the location and allocation models.

Each function adds constraints to a PuLP problem, given per-origin (or per-facility) expressions
of the share of demand that is met, so any model that has such expressions can reuse them:

* :func:`add_min_zone_coverage` — every zone covers at least a given share of its population;
* :func:`add_maximin_coverage` — a variable ``t <= coverage of every zone``, to maximise
  (the worst-off zone first);
* :func:`add_unmet_spread_bound` — ``max_z u_z - min_z u_z <= gamma``, with ``u_z`` the unmet
  share of zone ``z`` (the spread of unmet-demand ratios between zones);
* :func:`cap_travel_time` — no one is assigned to a site more than ``travel_cap`` away.

Zones are a Series of zone labels indexed by origin id (:func:`zone_labels` also accepts a
polygon layer and the origin points, joined spatially by :func:`accessplan.equity.origin_zones`).
:func:`zone_table` reports the coverage each zone got.

Notation: origin ``i`` has population :math:`P_i` (persons) and met share :math:`y_i` (0–1,
a PuLP expression); zone :math:`z` has population :math:`P_z = \\sum_{i \\in z} P_i` and
coverage :math:`c_z = \\sum_{i \\in z} P_i y_i / P_z`; its unmet share is :math:`u_z = 1 - c_z`.
Zones without population have no coverage and take part in no constraint.

Models held as arrays (:class:`accessplan.optimize._solve.LinearModel`) use the array forms of
the same constraints: :func:`zone_share_matrix` gives the matrix :math:`Z` with
:math:`c = Z y`, and :func:`min_zone_coverage_rows`, :func:`maximin_rows` and
:func:`unmet_spread_rows` return the constraint rows (and the extra columns they need) for a
matrix of zone coverage rows :math:`C` (``C @ v`` = coverage of each zone for the model's
column vector ``v``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pulp
import scipy.sparse as sp

from accessplan.equity import origin_zones
from accessplan.errors import InfeasibleError, InputError

__all__ = [
    "add_maximin_coverage",
    "add_min_zone_coverage",
    "add_unmet_spread_bound",
    "cap_travel_time",
    "check_zone_minimum_reachable",
    "maximin_rows",
    "min_zone_coverage_rows",
    "unmet_spread_rows",
    "zone_coverage_expressions",
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


def zone_coverage_expressions(
    coverage: Sequence[Expression | float],
    population: np.ndarray,
    labels: pd.Series,
) -> dict[Hashable, pulp.LpAffineExpression]:
    """Coverage share :math:`c_z` (0–1) of every populated zone, as PuLP expressions.

    Parameters
    ----------
    coverage
        Met share :math:`y_i` (0–1) of each origin, in the order of ``labels``.
    population
        Persons per origin, same order.
    labels
        Zone label per origin, same order (from :func:`zone_labels`).
    """
    codes, uniques = pd.factorize(labels, sort=True)
    totals = np.bincount(codes, weights=population, minlength=len(uniques))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    out: dict[Hashable, pulp.LpAffineExpression] = {}
    for z, label in enumerate(uniques):
        if totals[z] <= 0:
            continue
        members = order[bounds[z] : bounds[z + 1]]
        terms = [(coverage[i], population[i] / totals[z]) for i in members if population[i] > 0]
        out[label] = _weighted_sum(terms)
    return out


def _weighted_sum(terms: list[tuple[Expression | float, float]]) -> pulp.LpAffineExpression:
    expr = pulp.LpAffineExpression()
    for item, weight in terms:
        if isinstance(item, int | float | np.floating):
            expr.constant += float(item) * weight
        else:
            expr.addInPlace(item * weight)
    return expr


def add_min_zone_coverage(
    prob: pulp.LpProblem,
    zone_coverage: Mapping[Hashable, pulp.LpAffineExpression],
    minimum: float | Mapping[Hashable, float],
    *,
    name: str = "zone_min",
) -> list[pulp.LpConstraint]:
    """Require :math:`c_z \\ge m_z` for every zone.

    Parameters
    ----------
    minimum
        One share (0–1) for every zone, or a mapping zone label → share (zones not listed have
        no minimum).

    Raises
    ------
    InputError
        On a share outside 0–1 or a label that is not a populated zone.
    """
    wanted = _minimum_per_zone(minimum, zone_coverage.keys())
    added = []
    for k, (label, share) in enumerate(wanted.items()):
        constraint = zone_coverage[label] >= share
        prob += constraint, f"{name}_{k}"
        added.append(constraint)
    return added


def _minimum_per_zone(
    minimum: float | Mapping[Hashable, float], zones: Any
) -> dict[Hashable, float]:
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


def add_maximin_coverage(
    prob: pulp.LpProblem,
    zone_coverage: Mapping[Hashable, pulp.LpAffineExpression],
    *,
    name: str = "maximin",
) -> pulp.LpVariable:
    """A variable ``t`` (0–1) with ``t <= c_z`` for every zone; maximise it for maximin.

    Returns
    -------
    pulp.LpVariable
        The worst zone coverage; set the problem's objective to it (sense maximise).
    """
    worst = prob.add_variable(f"{name}_worst", lowBound=0.0, upBound=1.0)
    for k, expr in enumerate(zone_coverage.values()):
        prob += worst <= expr, f"{name}_{k}"
    return worst


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


def cap_travel_time(
    assignment: Sequence[pulp.LpVariable], minutes: np.ndarray, travel_cap: float
) -> int:
    """Forbid assignments longer than ``travel_cap`` (their variables get upper bound 0).

    Models that build only the pairs within the cap do not need this; it is for models whose
    assignment variables already exist. Returns the number of pairs forbidden.
    """
    check_travel_cap(travel_cap)
    too_far = np.flatnonzero(np.asarray(minutes, dtype=np.float64) > travel_cap)
    for k in too_far.tolist():
        assignment[k].upBound = 0.0
    return int(too_far.size)


def check_travel_cap(travel_cap: float) -> None:
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
    wanted = _minimum_per_zone(minimum, best.index[best["population"] > 0])
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
    """Rows :math:`c_z \\ge m_z` (array form of :func:`add_min_zone_coverage`).

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
    wanted = _minimum_per_zone(minimum, zones)
    rows = zones.get_indexer(list(wanted))
    A = sp.csr_array(zone_coverage)[rows]
    return A, np.array(list(wanted.values()), dtype=np.float64), np.full(len(rows), np.inf)


def maximin_rows(zone_coverage: sp.csr_array) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Rows :math:`c_z - t \\ge 0` with one new column :math:`t` (0–1) appended last.

    Array form of :func:`add_maximin_coverage`: maximise the new column for maximin.

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
