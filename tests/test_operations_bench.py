"""The benchmark's PuLP peer: the operations model written plainly, an independent check."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pulp
import pytest

from accessplan.operations.rolling import State
from accessplan.operations.solve import solve_operations
from accessplan.operations.synthetic import synthetic_network

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_operations import national_types, pulp_model


@pytest.mark.parametrize(("n", "types", "scenarios"), [(5, None, 1), (4, "national", 2)])
def test_the_plain_pulp_model_has_the_array_models_optimum(n, types, scenarios):
    kinds = national_types() if types == "national" else None
    network, base = synthetic_network(n, types=kinds, seed=n, neighbours=2, gamma=0.2)
    rng = np.random.default_rng(n)
    shape = (scenarios, 5, *base.shape) if scenarios > 1 else (5, *base.shape)
    demand = rng.poisson(np.broadcast_to(1.3 * base, shape)).astype(float)
    problem = network.problem(demand, 0, State(np.asarray(network.initial, float)))
    plan = solve_operations(problem, gap=1e-9)
    model = pulp_model(problem)
    model.solve(pulp.HiGHS(msg=False, gapRel=1e-9))
    assert pulp.LpStatus[model.status] == "Optimal"
    assert pulp.value(model.objective) == pytest.approx(plan.objective, rel=1e-7)
    assert len(plan.transfers) > 0 and problem.has_equity
