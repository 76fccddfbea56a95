"""The compact form (coverage rows folded into segment columns) against the model as built."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from accessplan.operations import solve as solve_module
from accessplan.operations.compact import certified, compact
from accessplan.operations.duals import _objective
from accessplan.operations.model import build_arrays
from accessplan.operations.rolling import State, departures_of, shift_warm_start
from accessplan.operations.solve import solve_arrays, solve_operations
from accessplan.operations.synthetic import default_types, synthetic_network


def problem_of(seed, *, types=None, gamma=None, scenarios=1, scale=1.4, n=6, h=5):
    network, base = synthetic_network(n, types=types, seed=seed, gamma=gamma, neighbours=2)
    shape = (scenarios, h, *base.shape) if scenarios > 1 else (h, *base.shape)
    demand = np.random.default_rng(seed).poisson(np.broadcast_to(scale * base, shape))
    return network.problem(demand.astype(float), 0, State(np.asarray(network.initial, float)))


CONTINUOUS = tuple(replace(t, integer=False) for t in default_types())


@pytest.mark.parametrize(
    ("case", "seed", "types", "gamma"),
    [
        ("continuous, no band", 3, CONTINUOUS, None),
        ("indivisible units with transfers, no band", 4, None, None),
        ("continuous with the band", 5, CONTINUOUS, 0.2),
        ("indivisible units with the band", 6, None, 0.2),
    ],
)
def test_the_folded_solve_has_the_optimum_of_the_model_as_built(
    case, seed, types, gamma, monkeypatch
):
    monkeypatch.setattr(solve_module, "FOLD_BAND_MIN_ROWS", 0)  # fold small models with a band
    problem = problem_of(seed, types=types, gamma=gamma)
    folded = solve_operations(problem, gap=1e-9, split=False, fold=True)
    full = solve_operations(problem, gap=1e-9, split=False, fold=False)
    assert folded.status == full.status == "optimal", case
    assert folded.objective == pytest.approx(full.objective, rel=1e-8, abs=1e-6), case
    # the folded plan meets the full model's rows and bounds
    arrays = build_arrays(problem)
    activity = arrays.A @ folded.values
    assert np.all(activity >= arrays.row_lower - 1e-6)
    assert np.all(activity <= arrays.row_upper + 1e-6)
    assert np.all(folded.values >= arrays.col_lower - 1e-9)
    assert np.all(folded.values <= arrays.col_upper + 1e-9)


def test_with_the_band_a_levelled_down_optimum_is_not_certified_and_the_full_model_is_solved(
    monkeypatch,
):
    """Where the full model counts as unmet what fixed units could meet (to lift a facility's
    unmet share to the band's floor) the compact optimum costs more; the certificate refuses it
    and the full model's optimum is returned."""
    network, base = synthetic_network(5, seed=5, neighbours=2, gamma=0.2)
    demand = np.random.default_rng(5).poisson(np.broadcast_to(1.3 * base, (5, *base.shape)))
    problem = network.problem(demand.astype(float), 0, State(np.asarray(network.initial, float)))
    arrays = build_arrays(problem)
    relaxed = replace(arrays, integer=np.zeros_like(arrays.integer))
    folded = compact(relaxed)
    assert folded is not None and not folded.exact
    h = solve_arrays(relaxed, None, None, None, False, fold=False)
    lone = solve_arrays(folded.arrays, None, None, None, False, fold=False)
    assert lone.objective + folded.constant > h.objective + 1e-6  # the fold is a restriction
    monkeypatch.setattr(solve_module, "FOLD_BAND_MIN_ROWS", 0)  # try the fold: it is refused
    run = solve_arrays(relaxed, None, None, None, False, fold=True)
    assert run.objective == pytest.approx(h.objective, rel=1e-9)


def test_coverage_duals_equal_finite_differences_of_the_demand():
    problem = problem_of(7, types=CONTINUOUS, scale=1.6)
    plan = solve_operations(problem, split=False)
    arrays = build_arrays(problem)
    assert compact(arrays) is not None
    L = arrays.layout
    rows = np.asarray(L.row("coverage", np.arange(L.h)[:, None], np.arange(L.cells)[None, :]))
    step, checked = 1e-3, 0
    for r in rows.ravel()[::7]:
        values = []
        for sign in (1, -1):
            lower = arrays.row_lower.copy()
            lower[r] += sign * step
            values.append(_objective(replace(arrays, row_lower=lower)))
        forward = (values[0] - plan.objective) / step
        backward = (plan.objective - values[1]) / step
        dual = plan.row_dual[r]
        assert backward - 1e-5 <= dual <= forward + 1e-5
        checked += abs(forward - backward) < 1e-6 and abs(dual) > 1
    assert checked >= 3  # some demand costs a penalty or a unit at the margin


def test_the_fold_does_not_apply_where_it_would_not_be_exact():
    assert compact(build_arrays(problem_of(8, scenarios=2))) is None  # demand scenarios
    dear_fixed = tuple(replace(t, fixed_cost=t.penalty + 1) for t in CONTINUOUS)
    assert compact(build_arrays(problem_of(8, types=dear_fixed))) is None
    fractional = problem_of(8)
    fractional.demand = fractional.demand + 0.5  # an indivisible type, half units
    assert compact(build_arrays(fractional)) is None
    assert compact(build_arrays(problem_of(8, gamma=0.2))) is None  # indivisible with a band


def test_the_certificate_accepts_the_optimum_and_refuses_a_worse_point():
    problem = problem_of(9, types=CONTINUOUS, gamma=0.3)
    arrays = build_arrays(problem)
    run = solve_arrays(arrays, None, None, None, False, fold=False)
    assert run.row_dual is not None and certified(arrays, run.values, run.row_dual)
    worse = run.values.copy()
    L = arrays.layout
    x = int(L.col("x", 0, 0))
    worse[x] += 1.0  # one more unit at the first cell: flow rows broken
    assert not certified(arrays, worse, run.row_dual)


def test_a_warm_resolve_through_the_fold_equals_a_cold_full_solve():
    network, base = synthetic_network(6, types=CONTINUOUS, seed=10, neighbours=2)
    demand = np.random.default_rng(10).poisson(np.broadcast_to(1.3 * base, (9, *base.shape)))
    demand = demand.astype(float)
    state = State(np.asarray(network.initial, float))
    plan = solve_operations(network.problem(demand[:6], 0, state))
    nxt = network.problem(demand[1:7], 1, state.advance(plan.mobile[0], departures_of(plan, 0)))
    warm = solve_operations(nxt, warm=shift_warm_start(plan.warm, plan, nxt, 1))
    cold = solve_operations(nxt, fold=False)
    assert warm.objective == pytest.approx(cold.objective, rel=1e-9)
