"""Equity options: zone minimums, maximin, unmet-spread bound, travel-time cap, zones."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pulp
import pytest
from fairness_models import (
    add_maximin_coverage,
    add_min_zone_coverage,
    cap_travel_time,
    zone_coverage_expressions,
)
from scipy.optimize import linprog
from shapely.geometry import Point, box

from accessplan.errors import InfeasibleError, InputError
from accessplan.optimize import fairness
from accessplan.optimize.budget import SupplyOption, budgeted_siting
from accessplan.traveltimes import TravelTimes

# Zone A: three dense origins near sites s0/s1; zone B: three sparse origins near s2/s3.
MINUTES = np.array(
    [
        [2.0, 8.0, 40.0, 45.0],
        [6.0, 3.0, 38.0, 50.0],
        [9.0, 4.0, 35.0, 42.0],
        [40.0, 41.0, 5.0, 25.0],
        [44.0, 39.0, 22.0, 6.0],
        [50.0, 47.0, 14.0, 9.0],
    ]
)
ORIGINS = ["a1", "a2", "a3", "b1", "b2", "b3"]
SITES = ["s0", "s1", "s2", "s3"]
DEMAND = pd.Series([100.0, 80.0, 90.0, 20.0, 15.0, 25.0], index=ORIGINS)
ZONES = pd.Series(["A", "A", "A", "B", "B", "B"], index=ORIGINS)
OPTIONS = [
    SupplyOption("clinic", 10.0, standard=10),
    SupplyOption("robotic", 6.0, standard=5),
]


def _tt() -> TravelTimes:
    return TravelTimes.from_dense(MINUTES, ORIGINS, SITES)


def _zone_coverage(config: tuple[int, ...]) -> dict[str, float]:
    covered = np.zeros(len(ORIGINS), dtype=bool)
    for j, c in enumerate(config):
        if c:
            covered |= MINUTES[:, j] <= OPTIONS[c - 1].standard
    out = {}
    for zone in ("A", "B"):
        members = ZONES.eq(zone).to_numpy()
        out[zone] = float(DEMAND[members & covered].sum() / DEMAND[members].sum())
    return out


def test_zone_minimum_is_met_at_the_expense_of_total_coverage():
    free = budgeted_siting(_tt(), DEMAND, OPTIONS, 12.0, zones=ZONES)
    assert free.details["zones"].at["B", "coverage"] < 0.5
    fair = budgeted_siting(_tt(), DEMAND, OPTIONS, 12.0, zones=ZONES, min_zone_coverage={"B": 0.5})
    assert fair.details["zones"].at["B", "coverage"] >= 0.5 - 1e-9
    assert fair.covered_population <= free.covered_population + 1e-9
    # budget 12: a clinic at s0 or s1 covers zone A (270 persons), cheaper than two robotic
    # units; half of zone B (30 of 60 persons) needs the clinic at s3, which covers 40.
    assert free.covered_population == pytest.approx(270.0)
    assert fair.covered_population == pytest.approx(40.0)
    assert fair.new_sites.index.tolist() == ["s3"]


def test_impossible_zone_minimum_names_the_zone():
    minutes = MINUTES.copy()
    minutes[3:, :] = np.inf  # zone B reaches no candidate
    tt = TravelTimes.from_dense(minutes, ORIGINS, SITES)
    with pytest.raises(InfeasibleError, match="zone 'B'"):
        budgeted_siting(tt, DEMAND, OPTIONS, 30.0, zones=ZONES, min_zone_coverage=0.1)


def test_zone_minimum_beyond_the_budget_is_infeasible():
    with pytest.raises(InfeasibleError, match="budget 6"):
        budgeted_siting(_tt(), DEMAND, OPTIONS, 6.0, zones=ZONES, min_zone_coverage=0.6)


def test_maximin_matches_enumeration_of_every_choice():
    budget = 16.0
    best = max(
        min(_zone_coverage(config).values())
        for config in itertools.product(range(3), repeat=4)
        if sum(OPTIONS[c - 1].cost for c in config if c) <= budget
    )
    plan = budgeted_siting(_tt(), DEMAND, OPTIONS, budget, zones=ZONES, objective="maximin")
    assert plan.objective == pytest.approx(best)
    assert plan.details["zones"]["coverage"].min() == pytest.approx(best)


def test_unmet_spread_bound_holds_and_tightening_never_improves_coverage():
    covered = []
    for gamma in (1.0, 0.6, 0.3, 0.1, 0.0):
        plan = budgeted_siting(_tt(), DEMAND, OPTIONS, 12.0, zones=ZONES, unmet_spread=gamma)
        unmet = plan.details["zones"]["unmet"]
        assert unmet.max() - unmet.min() <= gamma + 1e-7
        covered.append(plan.covered_population)
    assert np.all(np.diff(covered) <= 1e-7)
    assert covered[0] > covered[-1]


def test_travel_time_cap_bounds_every_assignment():
    tt = _tt()
    plan = budgeted_siting(tt, DEMAND, OPTIONS, 20.0, objective="median", travel_cap=12.0)
    assert plan.assignment["minutes"].max() <= 12.0
    loose = budgeted_siting(tt, DEMAND, OPTIONS, 20.0, objective="median")
    assert loose.assignment["minutes"].max() > 12.0


def test_zone_labels_from_polygons_join_points_to_their_zone():
    zones = gpd.GeoDataFrame(
        {"name": ["west", "east"]}, geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)]
    )
    points = gpd.GeoSeries([Point(1, 1), Point(15, 5), Point(10, 5)], index=["p", "q", "r"])
    labels = fairness.zone_labels(zones, pd.Index(["q", "p", "r"]), origins=points, zone_col="name")
    assert labels.to_dict() == {"q": "east", "p": "west", "r": "west"}  # border: first polygon
    outside = gpd.GeoSeries([Point(1, 1), Point(50, 50)], index=["p", "x"])
    with pytest.raises(InputError, match="outside every zone"):
        fairness.zone_labels(zones, pd.Index(["p", "x"]), origins=outside, zone_col="name")
    with pytest.raises(InputError, match="origins="):
        fairness.zone_labels(zones, pd.Index(["p"]))


def test_zone_labels_series_must_cover_every_origin():
    with pytest.raises(InputError, match="no label"):
        fairness.zone_labels(pd.Series({"a": "A"}), pd.Index(["a", "b"]))


def test_constraint_functions_work_on_any_pulp_problem():
    # Two origins sharing one unit of service: maximise persons covered.
    prob = pulp.LpProblem("share", pulp.LpMaximize)
    y = [prob.add_variable(f"y{i}", lowBound=0, upBound=1) for i in range(3)]
    population = np.array([50.0, 30.0, 20.0])
    labels = pd.Series(["A", "B", "B"])
    prob += 50 * y[0] + 30 * y[1] + 20 * y[2]
    prob += y[0] + y[1] + y[2] <= 1.0
    zone_cov = zone_coverage_expressions(y, population, labels)
    add_min_zone_coverage(prob, zone_cov, {"B": 0.3})
    prob.solve(pulp.HiGHS(msg=False))
    assert pulp.value(zone_cov["B"]) == pytest.approx(0.3)
    assert y[1].varValue == pytest.approx(0.5)  # 0.3 of 50 persons, from the larger origin
    hi, lo = fairness.add_unmet_spread_bound(
        prob, {z: 1 - e for z, e in zone_cov.items()}, gamma=0.0
    )
    prob.solve(pulp.HiGHS(msg=False))
    assert pulp.value(zone_cov["A"]) == pytest.approx(pulp.value(zone_cov["B"]))
    assert hi.varValue == pytest.approx(lo.varValue)
    worst = add_maximin_coverage(prob, zone_cov)
    assert worst.upBound == 1.0


def test_maximin_rows_match_the_pulp_form_and_the_known_optimum():
    # One unit of service over three origins; zone A = origin 0 (50 persons), zone B = origins
    # 1 and 2 (30 and 20). max min(y0, (30 y1 + 20 y2) / 50) s.t. y0 + y1 + y2 <= 1 puts B's
    # share on the larger origin: y0 = 0.6 y1, y0 + y1 = 1, so the worst zone gets 0.375.
    population = np.array([50.0, 30.0, 20.0])
    labels = pd.Series(["A", "B", "B"])
    prob = pulp.LpProblem("maximin", pulp.LpMaximize)
    y = [prob.add_variable(f"y{i}", lowBound=0, upBound=1) for i in range(3)]
    prob += y[0] + y[1] + y[2] <= 1.0
    worst = add_maximin_coverage(prob, zone_coverage_expressions(y, population, labels))
    prob += worst
    prob.solve(pulp.HiGHS(msg=False))
    assert worst.varValue == pytest.approx(0.375)

    Z, zones = fairness.zone_share_matrix(population, labels)
    A, lower, upper = fairness.maximin_rows(Z)
    A = np.vstack([A.toarray(), [1.0, 1.0, 1.0, 0.0]])
    lower, upper = np.append(lower, -np.inf), np.append(upper, 1.0)
    rows = ~np.isinf(upper)
    A_ub = np.vstack([A[rows], -A[~np.isinf(lower)]])
    b_ub = np.concatenate([upper[rows], -lower[~np.isinf(lower)]])
    res = linprog([0.0, 0.0, 0.0, -1.0], A_ub=A_ub, b_ub=b_ub, bounds=[(0, 1)] * 4)
    assert list(zones) == ["A", "B"]
    assert -res.fun == pytest.approx(0.375)
    assert res.x[:3] == pytest.approx([0.375, 0.625, 0.0])


def test_cap_travel_time_forbids_long_pairs():
    prob = pulp.LpProblem("cap", pulp.LpMinimize)
    w = [prob.add_variable(f"w{k}", lowBound=0, upBound=1) for k in range(3)]
    assert cap_travel_time(w, np.array([5.0, 15.0, 30.0]), 15.0) == 1
    assert w[2].upBound == 0.0 and w[1].upBound == 1
    with pytest.raises(InputError, match="travel_cap"):
        cap_travel_time(w, np.array([1.0]), -2.0)


def test_zone_table_reports_coverage_and_unmet():
    table = fairness.zone_table(
        np.array([1.0, 0.5, 0.0]), np.array([10.0, 20.0, 0.0]), pd.Series(["A", "A", "C"])
    )
    assert table.at["A", "covered"] == 20.0
    assert table.at["A", "coverage"] == pytest.approx(20.0 / 30.0)
    assert np.isnan(table.at["C", "coverage"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_zone_coverage": 1.5}, "between 0 and 1"),
        ({"min_zone_coverage": {"Z": 0.2}}, "not populated zones"),
        ({"unmet_spread": -0.1}, "gamma"),
    ],
)
def test_bad_equity_parameters_are_rejected(kwargs, match):
    with pytest.raises(InputError, match=match):
        budgeted_siting(_tt(), DEMAND, OPTIONS, 12.0, zones=ZONES, **kwargs)


def test_equity_options_need_zones():
    with pytest.raises(InputError, match="zones"):
        budgeted_siting(_tt(), DEMAND, OPTIONS, 12.0, min_zone_coverage=0.5)
