"""The rolling-horizon loop, its fallback and triggers, and robust plans."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from accessplan.operations.model import ResourceType
from accessplan.operations.robust import buffered_demand, sample_scenarios, unmet_on_scenarios
from accessplan.operations.rolling import (
    Forecast,
    Network,
    RollingConfig,
    State,
    proportional_allocation,
    rolling_horizon,
)
from accessplan.operations.solve import solve_operations
from accessplan.operations.synthetic import synthetic_network


def perfect(demand):
    def forecaster(start, h):
        return Forecast(demand[start : start + h])

    return forecaster, lambda t: demand[t]


def test_with_perfect_forecasts_the_rolling_plan_costs_the_full_horizon_optimum():
    network, base = synthetic_network(5, seed=21, gamma=None, neighbours=2)
    periods = 8
    rng = np.random.default_rng(22)
    demand = rng.poisson(np.broadcast_to(base * 1.3, (periods, *base.shape))).astype(float)
    full = solve_operations(network.problem(demand, 0, State(network.initial.copy())))
    forecaster, observe = perfect(demand)
    config = RollingConfig(horizon=periods, replan_every=1, threshold=None, gap=None)
    result = rolling_horizon(network, forecaster, observe, periods, config)
    assert len(full.transfers) > 0  # units in transit cross re-plans
    assert (result.decisions["trigger"] != "follow").all()
    assert result.total_cost == pytest.approx(full.objective, rel=1e-5)
    static = rolling_horizon(network, forecaster, observe, periods, config, policy="static")
    assert static.total_cost == pytest.approx(full.objective, rel=1e-5)
    assert static.mobile == pytest.approx(full.mobile)


def test_every_committed_decision_carries_its_rationale():
    network, base = synthetic_network(4, seed=23, neighbours=2)
    demand = np.broadcast_to(base * 1.6, (6, *base.shape)).copy()
    forecaster, observe = perfect(demand)
    config = RollingConfig(horizon=4, replan_every=2, threshold=None)
    result = rolling_horizon(network, forecaster, observe, 6, config)
    log = result.decisions
    assert log["trigger"].tolist() == [
        "start",
        "follow",
        "schedule",
        "follow",
        "schedule",
        "follow",
    ]
    assert {"binding", "equity_dual", "pool_dual_nurses", "dual_source"} <= set(log.columns)
    assert log["binding"].str.contains("pool").all()  # demand above supply: pools bind
    assert (log["pool_dual_nurses"] < 0).all()


def test_observed_demand_off_its_forecast_triggers_one_replan_until_rearmed():
    network, base = synthetic_network(3, seed=24, neighbours=1)
    periods = 8
    forecast = np.broadcast_to(base, (periods, *base.shape)).copy()
    actual = forecast.copy()
    actual[2:4] *= 2.0  # a surge for two periods: deviation 1.0
    config = RollingConfig(horizon=8, replan_every=None, threshold=0.3, hysteresis=0.5)
    result = rolling_horizon(
        network, lambda s, h: Forecast(forecast[s : s + h]), lambda t: actual[t], periods, config
    )
    triggers = result.decisions["trigger"].tolist()
    # the deviation at 2 triggers a re-plan at 3; at 3 it is still high but the trigger is
    # disarmed; at 4 it falls below 0.15 and re-arms, nothing else fires
    assert triggers == [
        "start",
        "follow",
        "follow",
        "event",
        "follow",
        "follow",
        "follow",
        "follow",
    ]
    assert result.decisions["deviation"].iloc[2] == pytest.approx(1.0)


def test_an_infeasible_horizon_falls_back_to_the_proportional_rule_and_logs_why():
    network, base = synthetic_network(3, seed=25, neighbours=1)
    network = replace(network, unmet_cap=0.0)  # demand far above supply: no plan exists
    demand = np.broadcast_to(base * 3, (3, *base.shape)).copy()
    forecaster, observe = perfect(demand)
    result = rolling_horizon(network, forecaster, observe, 3, RollingConfig(horizon=3))
    assert (result.decisions["status"] == "fallback").all()
    assert result.decisions["fallback"].str.contains("infeasible").all()
    state = State(np.asarray(network.initial, float))
    expected = proportional_allocation(network, demand[0], state, 0)
    assert result.mobile[0] == pytest.approx(expected)


def test_proportional_rule_shares_the_pool_by_need_beyond_fixed_units():
    beds = ResourceType("beds")
    network = Network(
        facilities=["a", "b", "c"],
        types=(beds,),
        fixed=np.array([[1.0], [2.0], [5.0]]),
        pool=np.array([6.0]),
        initial=np.zeros((3, 1)),
    )
    # need beyond fixed: 4, 8, 0 → 6 units shared 2, 4, 0
    x = proportional_allocation(
        network, np.array([[5.0], [10.0], [3.0]]), State(np.zeros((3, 1))), 0
    )
    assert x.ravel() == pytest.approx([2.0, 4.0, 0.0])


def test_robust_plans_leave_less_unmet_demand_than_nominal_on_sampled_scenarios():
    network, base = synthetic_network(6, seed=26, gamma=None, neighbours=2)
    network = replace(network, pool=network.pool * 1.6)  # room to hedge
    h = 4
    point = np.broadcast_to(base, (h, *base.shape)).copy()
    upper = point + 1.645 * np.sqrt(point) * 1.5
    state = State(np.asarray(network.initial, float))
    nominal = solve_operations(network.problem(point, 0, state))
    buffered = solve_operations(network.problem(buffered_demand(point, upper), 0, state))
    train = sample_scenarios(point, upper, 20, seed=1)
    two_stage = solve_operations(network.problem(train, 0, state))
    test = sample_scenarios(point, upper, 200, seed=2)
    fixed = network.fixed[None]
    unmet = {
        name: unmet_on_scenarios(plan.mobile, fixed, test).sum(axis=1).mean()
        for name, plan in (("nominal", nominal), ("buffer", buffered), ("two", two_stage))
    }
    assert unmet["buffer"] < 0.8 * unmet["nominal"]
    assert unmet["two"] < 0.8 * unmet["nominal"]


def test_sampled_scenarios_have_the_forecast_mean_and_interval_spread():
    point = np.full((2, 3, 1), 20.0)
    upper = point + 1.645 * 4.0  # a 90 % interval of a standard error of 4
    draws = sample_scenarios(point, upper, 4000, seed=3)
    assert draws.mean() == pytest.approx(20.0, rel=0.01)
    assert draws.std() == pytest.approx(4.0, rel=0.05)
    assert buffered_demand(point, upper, service_level=0.5) == pytest.approx(point)


def test_a_plan_stopped_at_the_time_limit_with_a_large_gap_is_not_committed(monkeypatch):
    import accessplan.operations.rolling as rolling

    network, base = synthetic_network(3, seed=27, neighbours=1)
    demand = np.broadcast_to(base, (2, *base.shape)).copy()
    real = rolling.solve_operations

    def stopped(*args, **kwargs):
        return replace(real(*args, **kwargs), status="time_limit", gap=0.2)

    monkeypatch.setattr(rolling, "solve_operations", stopped)
    forecaster, observe = perfect(demand)
    config = RollingConfig(horizon=2, max_gap=0.05)
    result = rolling_horizon(network, forecaster, observe, 2, config)
    assert result.decisions["status"].tolist() == ["fallback", "fallback"]
    assert result.decisions["fallback"].str.contains("gap 20.0% above max_gap 5.0%").all()
    lenient = rolling_horizon(network, forecaster, observe, 2, replace(config, max_gap=0.5))
    assert lenient.decisions["status"].iloc[0] == "time_limit"


def test_a_surge_at_one_facility_reads_in_full_and_expected_noise_does_not():
    from accessplan.operations.rolling import facility_deviation

    forecast = np.full((40, 2), 5.0)  # 40 facilities, two types: 10 units each
    upper = forecast + 2.0  # the interval expects up to 4 units more per facility
    actual = forecast.copy()
    actual[:, 0] += 3.0  # every facility 3 units above: inside its interval
    assert facility_deviation(actual, forecast, upper) == (0.0, -1)
    actual[17] *= 2.0  # one facility doubles: 26 units against 10, 12 beyond its interval
    deviation, where = facility_deviation(actual, forecast, upper)
    assert where == 17 and deviation == pytest.approx((26 - 10 - 4) / 10)
    # without an interval the whole deviation counts; a facility forecast at nothing reads
    # against one unit
    assert facility_deviation(actual, forecast)[0] == pytest.approx(1.6)
    none = np.zeros((3, 1))
    assert facility_deviation(np.array([[0.0], [2.0], [0.0]]), none) == (2.0, 1)
