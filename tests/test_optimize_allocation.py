"""Resource allocation across facilities: known answers, pool duals, equity bound, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accessplan.errors import InfeasibleError, InputError
from accessplan.optimize.allocation import (
    ResourcePool,
    allocate_resources,
    facility_demand,
    lp_objective_with_pools,
)
from accessplan.optimize.budget import SupplyOption, budgeted_siting
from accessplan.traveltimes import TravelTimes

FACILITIES = pd.DataFrame(
    {"demand": [100.0, 50.0, 80.0], "type": ["clinic", "clinic", "robotic"]},
    index=["a", "b", "c"],
)
POOLS = [
    ResourcePool("doctors", unit_cost=1.0, productivity=10.0, available=5),
    ResourcePool("robots", 3.0, 20.0, 2, facility_types=("robotic",)),
    ResourcePool("digital_hours", 0.1, 1.0, 30, integer=False, max_share=0.3),
]


def test_hand_computed_allocation_and_pool_duals():
    plan = allocate_resources(FACILITIES, POOLS, unmet_penalty=2.0)
    # Every unit pays for itself (10 persons x 2 > 1, 20 x 2 > 3, 1 x 2 > 0.1), so all pools
    # are used: cost 5 + 6 + 3 = 14, served 50 + 40 + 30 = 120 of 230, penalty 2 x 110.
    assert plan.objective == pytest.approx(14.0 + 220.0)
    assert plan.cost == pytest.approx(14.0)
    assert plan.covered_population == pytest.approx(120.0)
    pools = plan.details["pools"]
    assert pools["used"].tolist() == pytest.approx([5.0, 2.0, 30.0])
    assert plan.details["pool_duals"].to_dict() == pytest.approx(
        {"doctors": -19.0, "robots": -37.0, "digital_hours": -1.9}
    )
    assert pools["value_per_unit"].tolist() == pytest.approx([19.0, 37.0, 1.9])
    assert plan.sites.at["c", "units_robots"] == 2.0
    assert plan.model == "allocation" and plan.status == "optimal"


def test_pool_duals_equal_the_gain_of_one_more_unit():
    plan = allocate_resources(FACILITIES, POOLS, unmet_penalty=2.0)
    base = lp_objective_with_pools(FACILITIES, POOLS, unmet_penalty=2.0)
    assert base == pytest.approx(plan.details["lp_objective"])
    for pool in POOLS:
        more = lp_objective_with_pools(
            FACILITIES, POOLS, unmet_penalty=2.0, extra_units={pool.name: 1.0}
        )
        assert more - base == pytest.approx(plan.details["pool_duals"][pool.name], abs=1e-7)


def _random_case(seed: int) -> tuple[pd.DataFrame, list[ResourcePool]]:
    rng = np.random.default_rng(seed)
    n = 6
    facilities = pd.DataFrame(
        {
            "demand": rng.integers(20, 200, n).astype(float),
            "baseline": rng.integers(0, 30, n).astype(float),
            "type": rng.choice(["clinic", "robotic"], n),
            "zone": rng.choice(["north", "south"], n),
        },
        index=[f"f{k}" for k in range(n)],
    )
    pools = [
        ResourcePool("doctors", 2.0, float(rng.integers(8, 15)), float(rng.integers(3, 9))),
        ResourcePool("robots", 5.0, 25.0, float(rng.integers(1, 4)), facility_types=("robotic",)),
        ResourcePool("hours", 0.2, 1.0, 40.0, integer=False, max_share=0.25),
    ]
    return facilities, pools


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("gamma", [None, 0.15])
def test_pool_duals_lie_between_one_sided_finite_differences(seed, gamma):
    facilities, pools = _random_case(seed)
    plan = allocate_resources(facilities, pools, unmet_penalty=3.0, gamma=gamma)
    step = 1e-3
    for pool in pools:

        def lp(extra, name=pool.name):
            return lp_objective_with_pools(
                facilities, pools, unmet_penalty=3.0, gamma=gamma, extra_units={name: extra}
            )

        base = lp(0.0)
        right = (lp(step) - base) / step
        left = (base - lp(-step)) / step if pool.available >= step else -np.inf
        dual = plan.details["pool_duals"][pool.name]
        assert left - 1e-5 <= dual <= right + 1e-5


def test_units_are_whole_and_within_pools_types_and_shares():
    facilities, pools = _random_case(1)
    pools = [*pools[:2], ResourcePool("hours", 0.2, 1.0, 40.0, integer=False, max_share=0.25)]
    pools[0] = ResourcePool("doctors", 2.0, 10.0, 6, max_per_facility=2)
    plan = allocate_resources(facilities, pools, unmet_penalty=3.0)
    units, served = plan.details["units"], plan.details["served"]
    assert np.allclose(units[["doctors", "robots"]], units[["doctors", "robots"]].round())
    assert (units.sum() <= pd.Series({p.name: p.available for p in pools}) + 1e-9).all()
    assert (units["doctors"] <= 2).all()
    assert (units.loc[facilities["type"] != "robotic", "robots"] == 0).all()
    assert (served["hours"] <= 0.25 * facilities["demand"] + 1e-7).all()
    assert (served["doctors"] <= 10.0 * units["doctors"] + 1e-7).all()
    total = served.sum(axis=1) + np.minimum(facilities["baseline"], facilities["demand"])
    assert np.allclose(total + plan.sites["unmet"], facilities["demand"])


def test_equity_bound_holds_and_tightening_never_lowers_cost():
    facilities, pools = _random_case(2)
    objectives = []
    for gamma in (1.0, 0.4, 0.2, 0.1):
        plan = allocate_resources(facilities, pools, unmet_penalty=3.0, gamma=gamma)
        ratios = plan.details["unmet_ratio"]
        assert set(ratios.index) == {"north", "south"}
        assert ratios.max() - ratios.min() <= gamma + 1e-7
        assert plan.details["spread"] <= gamma + 1e-7
        objectives.append(plan.objective)
    assert np.all(np.diff(objectives) >= -1e-7)


def test_spread_between_facilities_when_no_zones():
    plan = allocate_resources(FACILITIES, POOLS, unmet_penalty=2.0, gamma=0.05)
    ratios = plan.sites["unmet_ratio"]
    assert ratios.max() - ratios.min() <= 0.05 + 1e-7
    assert plan.objective >= 234.0 - 1e-7


def test_unreachable_equity_bound_is_infeasible():
    # f1 is fully served by its baseline, f2 has no one to serve it: ratios 0 and 1.
    facilities = pd.DataFrame(
        {"demand": [100.0, 100.0], "baseline": [100.0, 0.0]}, index=["f1", "f2"]
    )
    pools = [ResourcePool("doctors", 1.0, 10.0, 2)]
    with pytest.raises(InfeasibleError, match=r"gamma=0\.5"):
        allocate_resources(facilities, pools, unmet_penalty=5.0, gamma=0.5)


def test_zero_penalty_buys_nothing():
    plan = allocate_resources(FACILITIES, POOLS, unmet_penalty=0.0)
    assert plan.objective == pytest.approx(0.0)
    assert plan.details["units"].to_numpy().sum() == 0.0
    assert plan.details["pool_duals"].abs().max() == pytest.approx(0.0)


def test_facility_demand_assigns_origins_to_nearest_and_reports_the_rest():
    minutes = np.array([[5.0, 10.0], [12.0, 3.0], [np.inf, np.inf], [0.0, 0.0]])
    tt = TravelTimes.from_dense(minutes, ["o1", "o2", "o3", "o4"], ["f1", "f2"])
    demand = pd.Series({"o1": 10.0, "o2": 20.0, "o3": 7.0, "o4": 5.0})
    load = facility_demand(tt, demand, ["f1", "f2"])
    assert load.to_dict() == {"f1": 15.0, "f2": 20.0}  # o4's tie goes to the first site
    assert load.attrs["unassigned_origins"] == ["o3"]
    assert load.attrs["unassigned_population"] == 7.0


def test_allocation_from_a_budget_plan_uses_its_assigned_population():
    minutes = np.array([[0.0, 30.0], [30.0, 0.0], [5.0, 20.0]])
    tt = TravelTimes.from_dense(minutes, ["v1", "v2", "v3"], ["c1", "c2"])
    demand = pd.Series({"v1": 70.0, "v2": 30.0, "v3": 40.0})
    options = [SupplyOption("clinic", 10.0, standard=40)]
    plan = budgeted_siting(tt, demand, options, 10.0)
    alloc = allocate_resources(plan, [ResourcePool("doctors", 1.0, 50.0, 2)], unmet_penalty=1.0)
    assert alloc.sites["assigned_population"].sum() == pytest.approx(140.0)
    assert alloc.details["units"]["doctors"].sum() == 2.0
    assert alloc.covered_population == pytest.approx(100.0)
    assert len(alloc.assignment) == len(plan.assignment)


def test_cbc_gives_the_same_allocation_cost_and_duals():
    highs = allocate_resources(FACILITIES, POOLS, unmet_penalty=2.0, gamma=0.3)
    cbc = allocate_resources(FACILITIES, POOLS, unmet_penalty=2.0, gamma=0.3, solver="cbc")
    assert cbc.objective == pytest.approx(highs.objective, rel=1e-6)
    assert cbc.details["lp_objective"] == pytest.approx(highs.details["lp_objective"], rel=1e-6)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ResourcePool("doctors", -1.0, 10.0, 2), "unit_cost"),
        (lambda: ResourcePool("doctors", 1.0, 0.0, 2), "productivity"),
        (lambda: ResourcePool("doctors", 1.0, 10.0, -2), "available"),
        (lambda: ResourcePool("doctors", 1.0, 10.0, 2, max_share=1.5), "max_share"),
        (lambda: ResourcePool("doctors", 1.0, 10.0, 2, facility_types=("drone",)), "drone"),
    ],
)
def test_bad_pools_are_rejected(make, match):
    with pytest.raises(InputError, match=match):
        make()


@pytest.mark.parametrize(
    ("facilities", "kwargs", "match"),
    [
        (pd.DataFrame({"people": [1.0]}), {}, "'demand'"),
        (pd.DataFrame({"demand": [-1.0]}), {}, "negative"),
        (pd.DataFrame({"demand": [1.0], "type": ["drone"]}), {}, "drone"),
        (FACILITIES, {"unmet_penalty": -1.0}, "unmet_penalty"),
        (FACILITIES, {"gamma": 2.0}, "gamma"),
        (FACILITIES, {"zones": pd.Series({"a": "n"})}, "no label"),
    ],
)
def test_bad_allocation_inputs_name_the_cause(facilities, kwargs, match):
    kwargs = {"unmet_penalty": 1.0, **kwargs}
    with pytest.raises(InputError, match=match):
        allocate_resources(facilities, POOLS, **kwargs)


def test_repeated_pool_names_are_rejected():
    with pytest.raises(InputError, match="repeat"):
        allocate_resources(FACILITIES, [POOLS[0], POOLS[0]], unmet_penalty=1.0)
