"""The multi-period operations model: hand-solved instances and invariants of its plans."""

from __future__ import annotations

import numpy as np
import pytest

from accessplan.errors import InputError
from accessplan.operations.model import Arcs, OperationsProblem, ResourceType, build_arrays
from accessplan.operations.solve import solve_operations
from accessplan.operations.synthetic import synthetic_network

NURSES = ResourceType("nurses", unit_cost=1.0, fixed_cost=2.0, penalty=10.0)


def one_cell(demand: float, fixed: float, pool: float) -> OperationsProblem:
    return OperationsProblem(
        facilities=["a"],
        types=(NURSES,),
        demand=np.full((1, 1, 1), demand),
        fixed=fixed,
        pool=pool,
        initial=np.zeros((1, 1)),
    )


def test_one_cell_uses_fixed_then_mobile_then_leaves_the_rest_unmet():
    # demand 10, 4 fixed at 2 each, 3 mobile at 1 each, 3 unmet at 10 each: 8 + 3 + 30
    plan = solve_operations(one_cell(10, 4, 3))
    assert plan.objective == pytest.approx(41.0)
    assert plan.mobile.ravel() == pytest.approx([3.0])
    assert plan.fixed_used.ravel() == pytest.approx([4.0])
    assert plan.unmet.ravel() == pytest.approx([3.0])
    # one more mobile unit replaces a unit of unmet demand: 1 - 10
    assert plan.pool_duals.iloc[0, 0] == pytest.approx(-9.0)


def test_a_pool_larger_than_demand_is_not_binding():
    # a mobile unit (1) is cheaper than a fixed one (2): all 5 mobile, 5 of the 10 left idle
    plan = solve_operations(one_cell(5, 2, 10))
    assert plan.objective == pytest.approx(5.0)
    assert plan.fixed_used.ravel() == pytest.approx([0.0])
    assert plan.pool_duals.iloc[0, 0] == pytest.approx(0.0)
    assert plan.binding(0).empty


def test_ramp_limits_how_fast_units_move_between_facilities():
    # 5 beds all at a, all demand at b, ramp 2 per period: a keeps 3 then 1, b gets 2 then 4
    beds = ResourceType("beds", unit_cost=1.0, penalty=10.0)
    demand = np.array([[[0.0], [5.0]], [[0.0], [5.0]]])
    problem = OperationsProblem(
        facilities=["a", "b"],
        types=(beds,),
        demand=demand,
        fixed=0,
        pool=5,
        initial=np.array([[5.0], [0.0]]),
        ramp=2,
    )
    plan = solve_operations(problem)
    assert plan.mobile[:, :, 0] == pytest.approx(np.array([[3, 2], [1, 4]]))
    # period 0: 5 units + 3 unmet × 10; period 1: 5 units + 1 unmet × 10
    assert plan.objective == pytest.approx(35 + 15)


def test_a_transfer_arrives_after_its_delay_and_units_are_conserved():
    # two vans at a, demand of 2 at b in each of 4 periods, 90 min drive = 2 periods of 60 min:
    # send both at period 0, unmet 2 + 2 (× 10) while driving, then 2 vans at b (× 1) twice
    van = ResourceType("vans", unit_cost=1.0, penalty=10.0, integer=True, transfers=True)
    problem = OperationsProblem(
        facilities=["a", "b"],
        types=(van,),
        demand=np.tile(np.array([[0.0], [2.0]]), (4, 1, 1)),
        fixed=0,
        pool=2,
        initial=np.array([[2.0], [0.0]]),
        ramp=0,
        arcs=Arcs.from_minutes([0], [1], [90.0], 60.0),
    )
    plan = solve_operations(problem)
    assert plan.objective == pytest.approx(44.0)
    assert plan.mobile[:, :, 0] == pytest.approx(np.array([[0, 0], [0, 0], [0, 2], [0, 2]]))
    assert plan.transfers[["period", "from", "to", "units", "arrives"]].values.tolist() == [
        [0, "a", "b", 2.0, 2]
    ]
    assert plan.dual_source == "mip_fixed"


def test_equity_band_moves_units_to_the_cheaper_facility_at_a_known_cost():
    # 10 units for demand 10 + 10; unmet costs 10 at a and 5 at b. Without a band all units go
    # to a (objective 10 + 50). With band gamma: u_b - u_a = 10 gamma, u_a + u_b = 10, so
    # objective = 10 + 10 (5 - 5 gamma) + 5 (5 + 5 gamma) = 85 - 25 gamma.
    icu = ResourceType("icu", unit_cost=1.0, penalty=10.0, critical=True)

    def problem(gamma):
        return OperationsProblem(
            facilities=["a", "b"],
            types=(icu,),
            demand=np.full((1, 2, 1), 10.0),
            fixed=0,
            pool=10,
            initial=np.zeros((2, 1)),
            penalty=np.array([[10.0], [5.0]]),
            gamma=gamma,
        )

    free = solve_operations(problem(None))
    assert free.objective == pytest.approx(60.0)
    fair = solve_operations(problem(0.2))
    assert fair.objective == pytest.approx(85 - 25 * 0.2)
    assert fair.unmet[0, :, 0] == pytest.approx([4.0, 6.0])
    assert fair.equity_duals.iloc[0] == pytest.approx(-25.0)
    # one more unit at the band: half to each facility, saves 0.5 × 10 + 0.5 × 5, costs 1
    assert fair.pool_duals.iloc[0, 0] == pytest.approx(-6.5)
    assert set(fair.binding(0)["constraint"]) == {"pool icu", "equity band"}


def test_discount_weights_later_periods_less():
    # 1 unit of unmet demand in each of 3 periods, penalty 10, beta 0.5: 10 (1 + 0.5 + 0.25)
    problem = OperationsProblem(
        facilities=["a"],
        types=(NURSES,),
        demand=np.ones((3, 1, 1)),
        fixed=0,
        pool=0,
        initial=np.zeros((1, 1)),
        beta=0.5,
    )
    assert solve_operations(problem).objective == pytest.approx(17.5)


def test_smoothing_keeps_units_in_place_when_demand_dips_for_one_period():
    # a unit costs 1 per period; taking it out for the dip and back costs 2 H. H = 2: keep it.
    def plan(smoothing):
        problem = OperationsProblem(
            facilities=["a"],
            types=(NURSES,),
            demand=np.array([1.0, 0.0, 1.0]).reshape(3, 1, 1),
            fixed=0,
            pool=1,
            initial=np.ones((1, 1)),
            smoothing=smoothing,
        )
        return solve_operations(problem)

    assert plan(0.0).mobile.ravel() == pytest.approx([1, 0, 1])
    kept = plan(2.0)
    assert kept.mobile.ravel() == pytest.approx([1, 1, 1])
    assert kept.objective == pytest.approx(3.0)


@pytest.fixture(scope="module")
def mixed_plan():
    network, base = synthetic_network(7, seed=3, gamma=0.25, neighbours=3)
    rng = np.random.default_rng(4)
    h = 6
    demand = rng.poisson(np.broadcast_to(base * 1.4, (h, *base.shape))).astype(float)
    from accessplan.operations.rolling import State

    problem = network.problem(demand, 0, State(np.asarray(network.initial, dtype=float)))
    return network, problem, solve_operations(problem)


def test_mobile_units_are_conserved_with_units_in_transit(mixed_plan):
    _network, problem, plan = mixed_plan
    j = int(problem.transfer_types[0])
    assert len(plan.transfers) > 0
    arcs = problem.arcs
    h = problem.shape[1]
    in_transit = np.zeros(h)
    for row in plan.transfers[plan.transfers["type"] == problem.types[j].name].itertuples():
        in_transit[row.period : min(row.arrives, h)] += row.units
    total = plan.mobile[:, :, j].sum(axis=1) + in_transit
    # the type moves only by transfer (ramp 0), so its units neither appear nor vanish
    assert total == pytest.approx(np.full(h, problem.initial[:, j].sum()))
    assert arcs.periods.min() >= 1
    # per facility: x(t) = x(t-1) + arrivals - departures
    n = problem.shape[2]
    z = plan.transfer_units[:, :, 0]
    for t in range(h):
        prev = problem.initial[:, j] if t == 0 else plan.mobile[t - 1, :, j]
        out = np.bincount(arcs.src, weights=z[t], minlength=n)
        back = t - arcs.periods
        came = np.bincount(
            arcs.dst[back >= 0], weights=z[back[back >= 0], np.flatnonzero(back >= 0)], minlength=n
        )
        assert plan.mobile[t, :, j] == pytest.approx(prev - out + came)


def test_ramp_and_pool_hold_in_every_period(mixed_plan):
    _network, problem, plan = mixed_plan
    prev = np.concatenate([problem.initial[None], plan.mobile[:-1]])
    step = np.abs(plan.mobile - prev)
    for j, kind in enumerate(problem.types):
        if not kind.transfers:
            assert np.all(step[:, :, j] <= problem.ramp[None, :, j] + 1e-7)
    assert np.all(plan.mobile.sum(axis=1) <= problem.pool + 1e-7)
    integer = problem.integer_types
    assert plan.mobile[:, :, integer] == pytest.approx(np.round(plan.mobile[:, :, integer]))


def test_equity_band_holds_in_every_period(mixed_plan):
    _network, problem, plan = mixed_plan
    crit = problem.critical_types
    demand = problem.demand[0][:, :, crit].sum(axis=2)
    share = plan.unmet[:, :, crit].sum(axis=2) / demand
    spread = share.max(axis=1) - share.min(axis=1)
    assert np.all(spread <= problem.gamma + 1e-7)
    assert spread.max() > 0  # the band is exercised, not trivially met


def test_build_is_array_sized_and_matches_its_layout(mixed_plan):
    _network, problem, _plan = mixed_plan
    arrays = build_arrays(problem)
    L = arrays.layout
    _s, h, n, m = problem.shape
    assert L.num_col == h * (3 * n * m + len(problem.arcs) * L.q + 2 * n * m + 2)
    assert arrays.A.shape == (L.num_row, L.num_col)
    # every coverage row has x, y and u with coefficient 1
    start, size = L.rows["coverage"]
    cover = arrays.A.tocsr()[start : start + h * size]
    assert np.all(np.diff(cover.indptr) == 3) and np.all(cover.data == 1.0)


def test_bad_inputs_name_the_argument():
    with pytest.raises(InputError, match="demand"):
        OperationsProblem(["a"], (NURSES,), np.ones((2, 2, 1)), 0, 1, np.zeros((1, 1)))
    with pytest.raises(InputError, match="gamma"):
        OperationsProblem(["a"], (NURSES,), np.ones((2, 1, 1)), 0, 1, np.zeros((1, 1)), gamma=2)
    with pytest.raises(InputError, match="pool"):
        OperationsProblem(["a"], (NURSES,), np.ones((2, 1, 1)), 0, -1, np.zeros((1, 1)))


def test_blocks_of_types_solved_apart_give_the_whole_models_optimum_and_duals(mixed_plan):
    _network, problem, split = mixed_plan
    whole = solve_operations(problem, split=False)
    assert split.details["blocks"] == 3  # the critical types together, two types alone
    assert split.objective == pytest.approx(whole.objective, rel=1e-7)
    # continuous types: the same LP duals (an indivisible type's depend on which of its
    # equally good integer solutions was fixed)
    cont = [t.name for t in problem.types if not t.integer]
    assert split.pool_duals[cont].to_numpy() == pytest.approx(
        whole.pool_duals[cont].to_numpy(), abs=1e-6
    )
    assert split.equity_duals.to_numpy() == pytest.approx(whole.equity_duals.to_numpy(), abs=1e-6)
    # the assembled solution is feasible for the whole model's rows
    arrays = build_arrays(problem)
    activity = arrays.A @ split.values
    assert np.all(activity >= arrays.row_lower - 1e-6)
    assert np.all(activity <= arrays.row_upper + 1e-6)
    assert split.objective == pytest.approx(float(arrays.c @ split.values), rel=1e-9)
