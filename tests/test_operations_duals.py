"""Shadow prices of the operations model against finite differences (LP and fixed-integer MIP)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from accessplan.operations.duals import finite_difference_duals, pool_value_table
from accessplan.operations.rolling import State
from accessplan.operations.solve import solve_operations
from accessplan.operations.synthetic import default_types, synthetic_network


def problem_of(types, seed):
    network, base = synthetic_network(5, types=types, seed=seed, gamma=0.3, neighbours=2)
    demand = np.random.default_rng(seed).poisson(np.broadcast_to(base * 1.5, (4, *base.shape)))
    return network.problem(demand.astype(float), 0, State(np.asarray(network.initial, float)))


def assert_between_differences(duals, diffs):
    """A valid dual of a convex value function lies between its backward and forward
    differences; where the two agree (no break at the current right-hand side) it equals them."""
    agree = (diffs["forward"] - diffs["backward"]).abs() < 1e-6
    assert agree.mean() >= 0.5 and (diffs.loc[agree, "difference"].abs() > 1).any()
    for row in diffs.itertuples():
        dual = duals(row)
        assert row.backward - 1e-6 <= dual <= row.forward + 1e-6
        if abs(row.forward - row.backward) < 1e-6:
            assert dual == pytest.approx(row.difference, abs=1e-6)


def test_lp_pool_and_equity_duals_equal_finite_differences():
    types = tuple(replace(t, integer=False) for t in default_types())
    problem = problem_of(types, seed=11)
    plan = solve_operations(problem)
    assert plan.dual_source == "lp"
    diffs = finite_difference_duals(
        problem, periods=range(4), types=range(4), step=1e-3, gamma_step=1e-4
    )

    def dual(row):
        if row.row == "equity":
            return plan.equity_duals.iloc[row.period]
        return plan.pool_duals.loc[row.period, row.type]

    assert_between_differences(dual, diffs)
    # the pools are short in this instance: some unit is worth a penalty saved
    assert (plan.pool_duals.to_numpy() < -1).any()
    assert (diffs["row"] == "equity").sum() == 4


def test_mip_duals_with_integers_fixed_equal_finite_differences_of_that_lp():
    problem = problem_of(default_types(), seed=12)
    assert problem.integer_types.any()
    plan = solve_operations(problem)
    assert plan.dual_source == "mip_fixed"
    continuous = [j for j, t in enumerate(problem.types) if not t.integer]
    diffs = finite_difference_duals(
        problem, periods=range(4), types=continuous, step=1e-3, values=plan.values
    )
    assert_between_differences(lambda row: plan.pool_duals.loc[row.period, row.type], diffs)
    assert (plan.pool_duals[[problem.types[j].name for j in continuous]].to_numpy() < -1).any()


def test_pool_value_table_reads_duals_as_value_per_unit_and_clock():
    problem = problem_of(tuple(replace(t, integer=False) for t in default_types()), seed=13)
    plan = solve_operations(problem)
    table = pool_value_table(plan.pool_duals, 30.0, start=4)
    first = table[(table["period"] == 1) & (table["type"] == "nurses")].iloc[0]
    assert first["value_per_unit"] == pytest.approx(-plan.pool_duals.loc[1, "nurses"])
    assert first["hour"] == pytest.approx((1 + 4) * 0.5)
