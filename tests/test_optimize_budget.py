"""Budgeted multi-type siting: known answers by enumeration, properties, bad input."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pulp
import pytest
from scipy.optimize import linprog

from accessplan.errors import AccessplanError, InputError
from accessplan.optimize._solve import solve_problem
from accessplan.optimize.budget import SupplyOption, budget_sweep, budgeted_siting
from accessplan.traveltimes import TravelTimes

SITES = ["s0", "s1", "s2", "s3"]


def _instance(seed: int = 3, n: int = 9) -> tuple[TravelTimes, pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    minutes = rng.uniform(0.0, 40.0, size=(n, len(SITES))).round(1)
    minutes[rng.random(minutes.shape) < 0.2] = np.nan  # some pairs unreachable
    minutes[0, 0] = 0.0  # an origin at a site's door: reachable in 0 minutes
    origins = [f"o{i}" for i in range(n)]
    tt = TravelTimes.from_dense(minutes, origins, SITES)
    demand = pd.Series(rng.integers(5, 60, size=n).astype(float), index=origins)
    access = pd.Series(rng.uniform(0.2, 0.9, size=n).round(2), index=origins)
    return tt, demand, access


def _options(access: pd.Series | float, capacitated: bool) -> list[SupplyOption]:
    return [
        SupplyOption("clinic", 10.0, capacity=120.0 if capacitated else None, standard=20),
        SupplyOption("robotic", 4.0, capacity=45.0 if capacitated else None, standard=10),
        SupplyOption("digital", 3.0, capacity=40.0, digital_access=access, effectiveness=0.8),
    ]


def _configuration_value(
    tt: TravelTimes,
    demand: pd.Series,
    options: list[SupplyOption],
    config: tuple[int, ...],
    objective: str,
    penalty: float,
) -> float:
    """Best coverage (persons) or person-minutes of one fixed choice of site types, by LP in
    persons written independently of the model: f = persons served at a pair, g = persons
    served digitally, u = persons unserved."""
    dense = tt.to_dense(np.inf)
    P = demand.reindex(tt.origin_ids).to_numpy()
    digital = next(o for o in options if o.is_digital)
    a_e = (
        digital.digital_access.reindex(tt.origin_ids).to_numpy()
        if isinstance(digital.digital_access, pd.Series)
        else np.full(len(P), digital.digital_access)
    ) * digital.effectiveness
    opened = [(j, options[c - 1]) for j, c in enumerate(config) if c]
    physical = [(j, o) for j, o in opened if not o.is_digital]
    dig_cap = digital.effectiveness * sum(o.capacity for _, o in opened if o.is_digital)
    pairs = [
        (i, col, dense[i, j], dense[i, j] <= o.standard)
        for col, (j, o) in enumerate(physical)
        for i in range(len(P))
        if (dense[i, j] <= o.standard if objective == "coverage" else np.isfinite(dense[i, j]))
    ]
    n_f, n = len(pairs), len(P)
    n_var = n_f + n + (n if objective == "median" else 0)
    rows, rhs, eq_rows, eq_rhs = [], [], [], []
    for i in range(n):
        row = np.zeros(n_var)
        for p, (ii, _, _, _) in enumerate(pairs):
            if ii == i:
                row[p] = 1.0
        row[n_f + i] = 1.0
        if objective == "median":
            row[n_f + n + i] = 1.0
            eq_rows.append(row)
            eq_rhs.append(P[i])
        else:
            rows.append(row)
            rhs.append(P[i])
    for col, (_, o) in enumerate(physical):
        if o.capacity is not None:
            row = np.zeros(n_var)
            for p, (_, cc, _, _) in enumerate(pairs):
                if cc == col:
                    row[p] = 1.0
            rows.append(row)
            rhs.append(o.capacity)
    row = np.zeros(n_var)
    row[n_f : n_f + n] = 1.0
    rows.append(row)
    rhs.append(dig_cap)
    bounds = [(0, None)] * n_f + [(0, a_e[i] * P[i]) for i in range(n)]
    if objective == "median":
        bounds += [(0, None)] * n
        c = np.array([m for _, _, m, _ in pairs] + [0.0] * n + [penalty] * n)
    else:
        c = -np.array([1.0 if w else 0.0 for _, _, _, w in pairs] + [1.0] * n)
    res = linprog(
        c,
        A_ub=np.array(rows),
        b_ub=rhs,
        A_eq=np.array(eq_rows) if eq_rows else None,
        b_eq=eq_rhs or None,
        bounds=bounds,
    )
    assert res.status == 0
    return float(res.fun) if objective == "median" else -float(res.fun)


def _enumerate(tt, demand, options, budget, objective="coverage", penalty=0.0):
    """(best value, least cost among the best) over every choice of one option or none per
    site within the budget."""
    best, best_cost = None, None
    sign = -1 if objective == "median" else 1
    for config in itertools.product(range(len(options) + 1), repeat=len(SITES)):
        cost = sum(options[c - 1].cost for c in config if c)
        if cost > budget:
            continue
        value = sign * _configuration_value(tt, demand, options, config, objective, penalty)
        if best is None or value > best + 1e-7 or (abs(value - best) <= 1e-7 and cost < best_cost):
            best, best_cost = value, cost
    return sign * best, best_cost


@pytest.mark.parametrize("capacitated", [False, True])
@pytest.mark.parametrize("budget", [4.0, 9.0, 14.0, 23.0])
def test_coverage_matches_enumeration_of_every_site_type_choice(capacitated, budget):
    tt, demand, access = _instance()
    options = _options(access, capacitated)
    plan = budgeted_siting(tt, demand, options, budget)
    value, cost = _enumerate(tt, demand, options, budget)
    assert plan.objective == pytest.approx(value, rel=1e-7, abs=1e-6)
    assert plan.covered_population == pytest.approx(value, rel=1e-7, abs=1e-6)
    assert plan.cost == pytest.approx(cost)
    assert plan.status == "optimal" and plan.gap == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("capacitated", [False, True])
def test_median_objective_matches_enumeration(capacitated):
    tt, demand, access = _instance(seed=5)
    options = _options(access, capacitated)
    plan = budgeted_siting(tt, demand, options, 14.0, objective="median", unserved_minutes=60.0)
    value, cost = _enumerate(tt, demand, options, 14.0, "median", penalty=60.0)
    assert plan.objective == pytest.approx(value, rel=1e-7)
    assert plan.cost == pytest.approx(cost)


def test_hand_computed_two_robotic_units_beat_one_clinic():
    # Two villages 30 minutes apart, a candidate in each. A clinic (cost 10, 40-minute
    # standard) covers both; two robotic units (cost 6 each, 10-minute standard) too, but
    # cost 12. With budget 11 only the clinic covers everyone; with budget 6 one robotic
    # unit covers the larger village (70 persons) only.
    minutes = np.array([[0.0, 30.0], [30.0, 0.0]])
    tt = TravelTimes.from_dense(minutes, ["v1", "v2"], ["c1", "c2"])
    demand = pd.Series({"v1": 70.0, "v2": 30.0})
    options = [
        SupplyOption("clinic", 10.0, standard=40),
        SupplyOption("robotic", 6.0, standard=10),
    ]
    plan = budgeted_siting(tt, demand, options, 11.0)
    assert plan.covered_population == pytest.approx(100.0)
    assert list(plan.new_sites["type"]) == ["clinic"]
    assert plan.cost == 10.0
    small = budgeted_siting(tt, demand, options, 6.0)
    assert small.covered_population == pytest.approx(70.0)
    assert small.new_sites.index.tolist() == ["c1"]
    assert small.new_sites["type"].tolist() == ["robotic"]
    assert small.assignment["minutes"].tolist() == [0.0]  # a stored 0 is reachable
    assert small.uncovered.tolist() == ["v2"]


def test_coverage_never_decreases_with_budget_and_cost_stays_within():
    tt, demand, access = _instance(seed=11)
    options = _options(access, capacitated=True)
    budgets = [4.0, 7.0, 10.0, 13.0, 17.0, 22.0, 30.0, 40.0]
    table = budget_sweep(budgets, tt, demand, options)
    assert table["budget"].tolist() == budgets
    assert np.all(np.diff(table["covered_population"].to_numpy()) >= -1e-7)
    assert np.all(table["cost"].to_numpy() <= table["budget"].to_numpy() + 1e-9)
    counts = table[["n_clinic", "n_robotic", "n_digital"]].sum(axis=1)
    assert np.all(counts <= len(SITES))
    assert set(table.columns) >= {"coverage", "objective", "gap", "n_clinic", "cost"}


def test_digital_coverage_bounded_by_connected_share_and_capacity():
    tt, demand, access = _instance(seed=7)
    options = _options(access, capacitated=True)
    plan = budgeted_siting(tt, demand, options, 30.0)
    by_origin = plan.details["coverage_by_origin"]
    digital_persons = float((by_origin["digital_share"] * by_origin["population"]).sum())
    assert digital_persons == pytest.approx(plan.details["digital"]["covered_population"])
    e = 0.8
    a = access.reindex(by_origin.index).to_numpy()
    assert np.all(by_origin["digital_share"].to_numpy() <= a * e + 1e-9)
    assert digital_persons <= float((a * e * by_origin["population"]).sum()) + 1e-7
    n_digital = int((plan.new_sites["type"] == "digital").sum())
    assert digital_persons <= e * 40.0 * n_digital + 1e-7
    # no double counting: physical and digital shares of an origin never exceed 1
    total = by_origin["physical_share"] + by_origin["digital_share"]
    assert np.all(total.to_numpy() <= 1.0 + 1e-9)
    digital_sites = plan.sites[plan.sites["type"] == "digital"]
    assert digital_sites["assigned_population"].sum() == pytest.approx(digital_persons)


def test_zero_digital_access_never_buys_digital():
    tt, demand, _ = _instance(seed=7)
    options = _options(0.0, capacitated=True)
    for budget in (3.0, 10.0, 40.0):
        plan = budgeted_siting(tt, demand, options, budget)
        assert (plan.new_sites["type"] != "digital").all()
        assert plan.details["digital"]["covered_population"] == 0.0


def test_digital_alone_covers_connected_effective_share():
    # Nothing physical reachable: digital covers min(e * capacity, sum a e P).
    tt = TravelTimes.from_dense(np.full((3, 2), np.inf), ["a", "b", "c"], ["h1", "h2"])
    demand = pd.Series({"a": 100.0, "b": 50.0, "c": 10.0})
    access = pd.Series({"a": 0.5, "b": 1.0, "c": 0.0})
    hub = SupplyOption("digital", 5.0, capacity=60.0, digital_access=access, effectiveness=0.5)
    one = budgeted_siting(tt, demand, [hub], 5.0)
    assert one.covered_population == pytest.approx(30.0)  # 0.5 * 60 consultations
    two = budgeted_siting(tt, demand, [hub], 10.0)
    assert two.covered_population == pytest.approx(50.0)  # 0.5 * (50 + 50) connected
    assert len(two.new_sites) == 2


def test_existing_facilities_stay_open_and_cost_nothing():
    tt, demand, access = _instance()
    options = _options(access, capacitated=False)
    existing = pd.DataFrame({"type": ["clinic"]}, index=["s2"])
    plan = budgeted_siting(tt, demand, options, 4.0, existing=existing)
    assert "s2" in plan.sites.index and bool(plan.sites.at["s2", "existing"])
    assert plan.cost <= 4.0
    others = pd.DataFrame({"id": ["s0", "s1", "s3"]})
    baseline = budgeted_siting(tt, demand, options, 4.0, candidates=others)
    assert plan.covered_population >= baseline.covered_population - 1e-9
    with pytest.raises(InputError, match="existing facilities"):
        budgeted_siting(
            tt, demand, options, 4.0, existing=["s2"], candidates=pd.DataFrame({"id": ["s2", "s1"]})
        )
    with pytest.raises(InputError, match="candidates must be a DataFrame"):
        budgeted_siting(tt, demand, options, 4.0, candidates=["s0", "s1"])


def test_candidates_take_the_contract_of_every_location_model():
    """A candidate's type restricts the options it may host; existing facilities come as a
    table or as ids alike."""
    minutes = np.array([[1.0, 50.0], [50.0, 1.0]])
    tt = TravelTimes.from_dense(minutes, ["a", "b"], ["c1", "c2"])
    demand = pd.Series({"a": 10.0, "b": 30.0})
    options = [
        SupplyOption("clinic", 1.0, capacity=100.0, standard=10.0),
        SupplyOption("robotic", 1.0, capacity=5.0, standard=10.0),
    ]
    robotic_only = pd.DataFrame({"id": ["c1", "c2"], "type": ["clinic", "robotic"]})
    plan = budgeted_siting(tt, demand, options, 2.0, candidates=robotic_only)
    assert plan.sites["type"].to_dict() == {"c1": "clinic", "c2": "robotic"}
    assert plan.covered_population == pytest.approx(15.0)  # 10 by the clinic, 5 by the robot
    free = budgeted_siting(tt, demand, options, 2.0)
    assert free.covered_population == pytest.approx(40.0)
    with pytest.raises(InputError, match="supply_options"):
        budgeted_siting(tt, demand, options, 2.0, candidates=robotic_only.assign(cost=1.0))
    as_ids = budgeted_siting(tt, demand, options, 1.0, existing=["c1"])
    as_table = budgeted_siting(
        tt, demand, options, 1.0, existing=pd.DataFrame({"id": ["c1"], "type": ["clinic"]})
    )
    assert as_ids.covered_population == as_table.covered_population == pytest.approx(40.0)


def test_a_closable_facility_is_replaced_only_when_that_helps():
    """A closable robotic unit too small for its 30 persons is replaced by a clinic on its own
    site when the budget allows; a closable facility that does no harm stays open."""
    minutes = np.array([[1.0, 50.0], [50.0, 1.0]])
    tt = TravelTimes.from_dense(minutes, ["a", "b"], ["c1", "c2"])
    demand = pd.Series({"a": 10.0, "b": 30.0})
    options = [
        SupplyOption("clinic", 1.0, capacity=100.0, standard=10.0),
        SupplyOption("robotic", 1.0, capacity=5.0, standard=10.0),
    ]
    existing = pd.DataFrame({"id": ["c1", "c2"], "type": ["clinic", "robotic"], "capacity": 5.0})
    only_c2 = pd.DataFrame({"id": ["c2"]})
    replaced = budgeted_siting(
        tt, demand, options, 1.0, existing=existing, candidates=only_c2, closable=["c1", "c2"]
    )
    assert replaced.covered_population == pytest.approx(35.0)
    assert replaced.sites.loc["c2", "option"] == "clinic" and replaced.cost == 1.0
    assert replaced.details["closed"].tolist() == ["c2"] and "c1" in replaced.sites.index
    with pytest.raises(InputError, match="closable"):
        budgeted_siting(tt, demand, options, 1.0, existing=existing, closable=["c9"])


def test_site_cost_overrides_and_forbidden_options():
    minutes = np.array([[0.0, 5.0], [5.0, 0.0]])
    tt = TravelTimes.from_dense(minutes, ["a", "b"], ["c1", "c2"])
    demand = pd.Series({"a": 10.0, "b": 10.0})
    options = [SupplyOption("clinic", 10.0, standard=10)]
    costs = pd.DataFrame({"clinic": [np.nan, 4.0]}, index=["c1", "c2"])
    plan = budgeted_siting(tt, demand, options, 10.0, site_costs=costs)
    assert plan.new_sites.index.tolist() == ["c2"] and plan.cost == 4.0
    forbid = pd.DataFrame({"clinic": [np.inf]}, index=["c2"])
    only = budgeted_siting(tt, demand, options, 10.0, site_costs=forbid)
    assert only.new_sites.index.tolist() == ["c1"]


def test_cbc_finds_the_same_optimum_as_highs():
    tt, demand, access = _instance(seed=2)
    options = _options(access, capacitated=True)
    highs = budgeted_siting(tt, demand, options, 14.0)
    cbc = budgeted_siting(tt, demand, options, 14.0, solver="cbc")
    assert cbc.solver == "cbc" and highs.solver == "highs"
    assert cbc.objective == pytest.approx(highs.objective, rel=1e-6)
    assert cbc.cost == pytest.approx(highs.cost)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: SupplyOption("drone", 1.0, standard=5), "unknown"),
        (lambda: SupplyOption("clinic", -1.0, standard=5), "cost"),
        (lambda: SupplyOption("robotic", 1.0, capacity=-3.0, standard=5), "capacity"),
        (lambda: SupplyOption("clinic", 1.0), "standard"),
        (lambda: SupplyOption("digital", 1.0, effectiveness=1.5), "effectiveness"),
    ],
)
def test_bad_supply_options_are_rejected(make, match):
    with pytest.raises(InputError, match=match):
        make()


def test_budget_below_cheapest_option_is_rejected():
    tt, demand, access = _instance()
    with pytest.raises(InputError, match="below the cheapest option"):
        budgeted_siting(tt, demand, _options(access, False), 2.0)
    with pytest.raises(InputError, match="budget"):
        budgeted_siting(tt, demand, _options(access, False), -1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"candidates": pd.DataFrame({"id": ["nowhere"]})}, "not destinations"),
        ({"candidates": pd.DataFrame({"id": ["s0"], "type": ["drone"]})}, "drone"),
        ({"site_costs": pd.DataFrame({"drone": [1.0]}, index=["s0"])}, "not option names"),
        ({"site_costs": pd.DataFrame({"clinic": [-1.0]}, index=["s0"])}, "negative"),
        ({"objective": "fastest"}, "objective"),
        ({"objective": "maximin"}, "zones"),
        ({"existing": pd.DataFrame({"type": ["drone"]}, index=["s0"])}, "drone"),
        ({"existing": pd.DataFrame({"capacity": [-5.0]}, index=["s0"])}, "capacity"),
        ({"travel_cap": -1.0}, "travel_cap"),
    ],
)
def test_bad_inputs_name_the_cause(kwargs, match):
    tt, demand, access = _instance()
    with pytest.raises(AccessplanError, match=match):
        budgeted_siting(tt, demand, _options(access, False), 14.0, **kwargs)


def test_repeated_option_names_are_rejected():
    tt, demand, _ = _instance()
    twice = [SupplyOption("clinic", 1.0, standard=5)] * 2
    with pytest.raises(InputError, match="repeat"):
        budgeted_siting(tt, demand, twice, 10.0)


def test_plan_reports_sites_assignment_and_summary():
    tt, demand, access = _instance()
    plan = budgeted_siting(tt, demand, _options(access, True), 14.0)
    assert {"type", "option", "existing", "cost", "capacity", "assigned_population"} <= set(
        plan.sites.columns
    )
    physical = plan.sites[plan.sites["type"] != "digital"]
    load = plan.assignment.groupby("site")["persons"].sum()
    assert np.allclose(
        load.reindex(physical.index, fill_value=0.0), physical["assigned_population"]
    )
    assert (physical["assigned_population"] <= physical["capacity"] + 1e-6).all()
    assert plan.summary()["cost"] == plan.cost <= 14.0
    assert plan.details["counts"].sum() == len(plan.new_sites)


def test_highs_bound_through_pulp_has_the_objective_sign_and_constant():
    # max 3a + 2b + 5 with a + b <= 1.5, a, b integer in 0..1: optimum 3 + 5 = 8.
    prob = pulp.LpProblem("tiny_max", pulp.LpMaximize)
    a = prob.add_variable("a", lowBound=0, upBound=1, cat=pulp.LpInteger)
    b = prob.add_variable("b", lowBound=0, upBound=1, cat=pulp.LpInteger)
    prob += 3 * a + 2 * b + 5
    prob += a + b <= 1.5
    info = solve_problem(prob, "highs")
    assert info.objective == pytest.approx(8.0)
    assert info.bound == pytest.approx(8.0)
    assert info.gap == pytest.approx(0.0, abs=1e-9)
    # a minimisation keeps its sign too
    low = pulp.LpProblem("tiny_min", pulp.LpMinimize)
    c = low.add_variable("c", lowBound=0, upBound=4, cat=pulp.LpInteger)
    low += 2 * c - 7
    low += c >= 1.5
    info = solve_problem(low, "highs")
    assert info.objective == pytest.approx(-3.0) and info.bound == pytest.approx(-3.0)


def test_benchmark_quick_run_prints_table_and_floor():
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "bench_budget.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    first_cells = [line.split("|")[1].strip() for line in lines if line.startswith("|")]
    assert first_cells.count("capacitated") == 2  # array and PuLP routes
    assert first_cells.count("uncapacitated") == 2
    floors = [line for line in lines if line.startswith("floor ")]
    assert [f.split(":")[0] for f in floors] == [
        "floor demo_budget_under_20s_quick",
        "floor time-limit-honoured",
    ]
    assert all(f.endswith(("PASS", "FAIL")) for f in floors)


def test_origins_with_the_same_reach_are_merged_without_changing_the_optimum():
    # Every origin is split into two copies with the same travel times (a merge the model
    # makes internally): the optimum equals the enumeration on the original instance, and
    # every copy is reported with its own assignment within the capacities.
    tt, demand, access = _instance(seed=4)
    dense = tt.to_dense(np.nan)
    twins = [f"{o}_{half}" for o in tt.origin_ids for half in ("a", "b")]
    split = TravelTimes.from_dense(np.repeat(dense, 2, axis=0), twins, SITES)
    split_demand = pd.Series(
        np.repeat(demand.reindex(tt.origin_ids).to_numpy() / 2, 2), index=twins
    )
    split_access = pd.Series(np.repeat(access.reindex(tt.origin_ids).to_numpy(), 2), index=twins)
    for budget in (9.0, 14.0):
        value, cost = _enumerate(tt, demand, _options(access, True), budget)
        plan = budgeted_siting(split, split_demand, _options(split_access, True), budget)
        assert plan.objective == pytest.approx(value, rel=1e-7, abs=1e-6)
        assert plan.cost == pytest.approx(cost)
        assert plan.details["model"]["origin_classes"] <= len(tt.origin_ids)
        physical = plan.sites[plan.sites["type"] != "digital"]
        assert (physical["assigned_population"] <= physical["capacity"] + 1e-6).all()
        assert set(plan.assignment["origin"]) <= set(twins)


def test_a_gap_tolerance_keeps_the_plan_within_the_gap_of_the_optimum():
    tt, demand, access = _instance(seed=6, n=14)
    options = _options(access, capacitated=True)
    exact = budgeted_siting(tt, demand, options, 17.0)
    loose = budgeted_siting(tt, demand, options, 17.0, gap=0.05)
    assert loose.objective >= (1 - 0.05) * exact.objective - 1e-6
    assert loose.bound >= exact.objective - 1e-6  # the bound stays valid
    assert loose.gap <= 0.05 + 1e-9
    assert loose.cost <= 17.0 + 1e-9


def test_pooled_digital_hubs_take_sites_left_free_by_physical_options():
    tt, demand, access = _instance(seed=8)
    plan = budgeted_siting(tt, demand, _options(access, True), 23.0)
    new = plan.new_sites
    assert new.index.is_unique  # one option per site, hubs included
    # hubs that differ in cost by site are not pooled and give the same optimum
    costs = pd.DataFrame({"digital": [3.0 + 1e-9, np.nan, np.nan, np.nan]}, index=SITES)
    unpooled = budgeted_siting(tt, demand, _options(access, True), 23.0, site_costs=costs)
    assert unpooled.objective == pytest.approx(plan.objective, rel=1e-7)
