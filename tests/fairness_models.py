"""PuLP forms of the zone equity constraints, for tests.

The package builds its models as arrays (:mod:`accessplan.optimize.fairness` gives the rows);
these build the same constraints on any PuLP problem, so a test can state a small model in
PuLP terms and check the arrays and the solvers against it. Notation as in
:mod:`accessplan.optimize.fairness`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd
import pulp

from accessplan.optimize.fairness import Expression, check_travel_cap, minimum_per_zone


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
        Zone label per origin, same order (from :func:`accessplan.optimize.fairness.zone_labels`).
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
    """Require :math:`c_z \\ge m_z` for every zone (PuLP form of ``min_zone_coverage_rows``).

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
    wanted = minimum_per_zone(minimum, zone_coverage.keys())
    added = []
    for k, (label, share) in enumerate(wanted.items()):
        constraint = zone_coverage[label] >= share
        prob += constraint, f"{name}_{k}"
        added.append(constraint)
    return added


def add_maximin_coverage(
    prob: pulp.LpProblem,
    zone_coverage: Mapping[Hashable, pulp.LpAffineExpression],
    *,
    name: str = "maximin",
) -> pulp.LpVariable:
    """A variable ``t`` (0–1) with ``t <= c_z`` for every zone (PuLP form of ``maximin_rows``).

    Returns
    -------
    pulp.LpVariable
        The worst zone coverage; set the problem's objective to it (sense maximise).
    """
    worst = prob.add_variable(f"{name}_worst", lowBound=0.0, upBound=1.0)
    for k, expr in enumerate(zone_coverage.values()):
        prob += worst <= expr, f"{name}_{k}"
    return worst


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
