"""Greedy + interchange heuristics with Lagrangian bounds, against exact optima."""

from __future__ import annotations

import csv
import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pulp
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import shortest_path

from accessplan.errors import InfeasibleError, InputError
from accessplan.optimize.heuristics import (
    HeuristicResult,
    mclp_heuristic,
    p_median_heuristic,
)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


# --------------------------------------------------------------------------- references
def brute_force_p_median(
    cost: np.ndarray, weights: np.ndarray, p: int, fixed=(), unserved: float | None = None
) -> float:
    """Exact optimum by enumerating every p-subset; ``cost`` dense with inf = not allowed."""
    m = cost.shape[1]
    u = np.inf if unserved is None else unserved
    best = np.inf
    for subset in itertools.combinations(range(m), p):
        if not set(fixed) <= set(subset):
            continue
        per_row = np.minimum(cost[:, subset].min(axis=1), u)
        has_any = np.isfinite(cost).any(axis=1) & (weights > 0)  # rows that must be served
        if unserved is None:
            if not np.all(np.isfinite(per_row[has_any])):
                continue
            per_row = np.where(has_any, per_row, 0.0)
        best = min(best, float(weights @ per_row))
    return best


def brute_force_mclp(cover: np.ndarray, weights: np.ndarray, p: int, fixed=()) -> float:
    best = -np.inf
    for subset in itertools.combinations(range(cover.shape[1]), p):
        if set(fixed) <= set(subset):
            best = max(best, float(weights @ cover[:, subset].any(axis=1)))
    return best


def highs_p_median(
    cost: sp.csr_array, weights: np.ndarray, p: int, unserved: float | None
) -> float:
    """Exact p-median MILP (PuLP + HiGHS) on the stored pairs, with an unserved option."""
    coo = cost.tocoo()
    prob = pulp.LpProblem("pmedian", pulp.LpMinimize)
    y = [pulp.LpVariable(f"y{j}", cat="Binary") for j in range(cost.shape[1])]
    x = {
        (i, j): pulp.LpVariable(f"x{i}_{j}", lowBound=0)
        for i, j in zip(coo.row.tolist(), coo.col.tolist(), strict=True)
    }
    by_row: dict[int, list] = {}
    for (i, j), var in x.items():
        by_row.setdefault(i, []).append(var)
        prob += var <= y[j]
    z = {}
    for i in range(cost.shape[0]):
        if unserved is not None:
            z[i] = pulp.LpVariable(f"z{i}", lowBound=0)
            prob += pulp.lpSum(by_row.get(i, [])) + z[i] == 1
        elif i in by_row:
            prob += pulp.lpSum(by_row[i]) == 1
    prob += pulp.lpSum(y) == p
    prob += pulp.lpSum(
        weights[i] * c * x[i, j]
        for i, j, c in zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
    ) + pulp.lpSum(weights[i] * unserved * zi for i, zi in z.items())
    prob.solve(pulp.HiGHS(msg=False))
    assert pulp.LpStatus[prob.status] == "Optimal"
    return float(pulp.value(prob.objective))


def highs_mclp(cover: sp.csr_array, weights: np.ndarray, p: int) -> float:
    coo = cover.tocoo()
    prob = pulp.LpProblem("mclp", pulp.LpMaximize)
    y = [pulp.LpVariable(f"y{j}", cat="Binary") for j in range(cover.shape[1])]
    z = [pulp.LpVariable(f"z{i}", lowBound=0, upBound=1) for i in range(cover.shape[0])]
    covering: dict[int, list] = {}
    for i, j in zip(coo.row.tolist(), coo.col.tolist(), strict=True):
        covering.setdefault(i, []).append(y[j])
    for i, zi in enumerate(z):
        prob += zi <= pulp.lpSum(covering.get(i, []))
    prob += pulp.lpSum(y) == p
    prob += pulp.lpSum(weights[i] * zi for i, zi in enumerate(z))
    prob.solve(pulp.HiGHS(msg=False))
    assert pulp.LpStatus[prob.status] == "Optimal"
    return float(pulp.value(prob.objective))


def recomputed_p_median(
    cost: np.ndarray, weights: np.ndarray, open_pos: np.ndarray, unserved: float | None
) -> float:
    per_row = cost[:, open_pos].min(axis=1)
    if unserved is not None:
        per_row = np.minimum(per_row, unserved)
    else:
        per_row = np.where(np.isfinite(per_row), per_row, 0.0)
    return float(weights @ per_row)


def random_cost(rng: np.random.Generator, n: int, m: int, density: float = 1.0) -> np.ndarray:
    """Dense minutes with inf where a pair is not allowed; some exact zeros."""
    cost = rng.integers(0, 40, size=(n, m)).astype(float)
    cost[rng.random((n, m)) > density] = np.inf
    return cost


def to_sparse(cost: np.ndarray) -> sp.csr_array:
    """Stored entries = finite pairs, zeros kept as stored 0-minute entries."""
    rows, cols = np.nonzero(np.isfinite(cost))
    return sp.csr_array((cost[rows, cols], (rows, cols)), shape=cost.shape)


def load_pmed(number: int) -> tuple[np.ndarray, int]:
    """OR-Library pmed instance as a dense shortest-path matrix (last duplicate edge wins)."""
    lines = (SHARED_DATA / "pmed" / f"pmed{number}.txt").read_text().split("\n")
    n, n_edges, p = map(int, lines[0].split())
    edges = np.array([list(map(int, ln.split())) for ln in lines[1 : n_edges + 1]])
    a = np.minimum(edges[:, 0], edges[:, 1]) - 1
    b = np.maximum(edges[:, 0], edges[:, 1]) - 1
    key = a * n + b
    _, first_in_reversed = np.unique(key[::-1], return_index=True)
    last = key.size - 1 - first_in_reversed
    graph = sp.csr_array((edges[last, 2].astype(float), (a[last], b[last])), shape=(n, n))
    return shortest_path(graph, directed=False), p


def published_optimum(number: int) -> float:
    with open(SHARED_DATA / "pmed" / "pmed_optimal.csv", newline="") as fh:
        table = {row["instance"]: float(row["optimal_objective"]) for row in csv.DictReader(fh)}
    return table[f"pmed{number}"]


# --------------------------------------------------------------------------- p-median
@pytest.mark.parametrize("seed", range(12))
def test_p_median_equals_brute_force_optimum_and_bound_holds(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(6, 40)), int(rng.integers(4, 10))
    p = int(rng.integers(1, m))
    cost = random_cost(rng, n, m)
    weights = rng.integers(0, 9, size=n).astype(float)
    result = p_median_heuristic(cost, weights, p, seed=seed)
    optimum = brute_force_p_median(cost, weights, p)
    assert result.objective == pytest.approx(optimum, rel=1e-12, abs=1e-9)
    assert result.bound <= optimum + 1e-9
    assert result.open.size == p
    assert result.gap == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_p_median_with_unserved_cost_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n, m, p = 30, 8, 3
    cost = random_cost(rng, n, m, density=0.4)
    weights = rng.integers(1, 9, size=n).astype(float)
    result = p_median_heuristic(to_sparse(cost), weights, p, unserved_cost=25.0)
    optimum = brute_force_p_median(cost, weights, p, unserved=25.0)
    assert result.bound <= optimum + 1e-9 <= result.objective + 2e-9
    assert result.objective == pytest.approx(optimum, rel=1e-12)
    recomputed = recomputed_p_median(cost, weights, result.open, 25.0)
    assert result.objective == pytest.approx(recomputed, rel=1e-12)


def test_p_median_equals_highs_milp_on_sparse_instance() -> None:
    rng = np.random.default_rng(7)
    demand, sites = rng.random((150, 2)) * 20, rng.random((40, 2)) * 20
    minutes = np.hypot(*(demand[:, None, :] - sites[None, :, :]).transpose(2, 0, 1)) * 3
    minutes[minutes > 25] = np.inf  # a cutoff: pairs beyond 25 minutes are not stored
    weights = rng.integers(1, 300, size=150).astype(float)
    cost = to_sparse(minutes)
    result = p_median_heuristic(cost, weights, 6, unserved_cost=40.0)
    optimum = highs_p_median(cost, weights, 6, 40.0)
    assert result.objective == pytest.approx(optimum, rel=1e-7)
    assert result.bound <= optimum * (1 + 1e-9)


def test_assignment_names_the_closest_open_candidate() -> None:
    rng = np.random.default_rng(3)
    cost = random_cost(rng, 50, 12, density=0.5)
    weights = rng.integers(1, 5, size=50).astype(float)
    result = p_median_heuristic(to_sparse(cost), weights, 4, unserved_cost=30.0)
    sub = np.minimum(cost[:, result.open], np.inf)
    best = sub.min(axis=1)
    for i, j in enumerate(result.assignment):
        if j < 0:
            assert not best[i] <= 30.0
        else:
            assert j in result.open
            assert cost[i, j] == best[i]


def test_or_library_pmed1_reaches_published_optimum_with_proof() -> None:
    cost, p = load_pmed(1)
    result = p_median_heuristic(cost, np.ones(cost.shape[0]), p)
    assert result.objective == published_optimum(1) == 5819
    assert result.bound == result.objective  # integral data: the bound rounds up to it
    assert result.gap == 0.0


@pytest.mark.parametrize("number", [2, 4, 5])
def test_or_library_instances_reach_published_optimum(number: int) -> None:
    cost, p = load_pmed(number)
    result = p_median_heuristic(cost, np.ones(cost.shape[0]), p)
    assert result.objective == published_optimum(number)
    assert result.bound <= published_optimum(number)


def test_fixed_candidates_stay_open_and_count_toward_p() -> None:
    rng = np.random.default_rng(11)
    cost = random_cost(rng, 40, 9)
    weights = rng.integers(1, 9, size=40).astype(float)
    fixed = [0, 8]
    result = p_median_heuristic(cost, weights, 4, fixed=fixed)
    assert set(fixed) <= set(result.open.tolist())
    assert result.open.size == 4
    assert result.objective == pytest.approx(brute_force_p_median(cost, weights, 4, fixed=fixed))
    cover = np.isfinite(cost) & (cost < 10)
    covering = mclp_heuristic(cover, weights, 3, fixed=fixed)
    assert set(fixed) <= set(covering.open.tolist())
    assert covering.objective == pytest.approx(brute_force_mclp(cover, weights, 3, fixed=fixed))


def test_sparse_and_dense_inputs_agree() -> None:
    rng = np.random.default_rng(5)
    cost = random_cost(rng, 80, 15, density=0.6)
    weights = rng.integers(1, 50, size=80).astype(float)
    dense = p_median_heuristic(cost, weights, 5, unserved_cost=45.0)
    sparse = p_median_heuristic(to_sparse(cost), weights, 5, unserved_cost=45.0)
    assert dense.objective == sparse.objective
    np.testing.assert_array_equal(dense.open, sparse.open)
    np.testing.assert_array_equal(dense.assignment, sparse.assignment)
    cover = np.isfinite(cost) & (cost < 15)
    assert (
        mclp_heuristic(cover, weights, 4).objective
        == mclp_heuristic(sp.csr_array(cover), weights, 4).objective
    )


def test_stored_zero_minutes_count_as_reachable() -> None:
    cost = sp.csr_array(([0.0, 5.0, 0.0], ([0, 1, 1], [0, 0, 1])), shape=(2, 2))
    result = p_median_heuristic(cost, np.array([10.0, 1.0]), 1)
    assert result.objective == 5.0  # open candidate 0: row 0 at 0 minutes, row 1 at 5
    np.testing.assert_array_equal(result.open, [0])
    np.testing.assert_array_equal(result.assignment, [0, 0])


def test_same_seed_gives_identical_result() -> None:
    rng = np.random.default_rng(9)
    cost = random_cost(rng, 120, 30) + rng.random((120, 30))  # fractional minutes
    weights = rng.integers(1, 100, size=120).astype(float)
    first = p_median_heuristic(cost, weights, 5, seed=4)
    second = p_median_heuristic(cost, weights, 5, seed=4)
    assert first.objective == second.objective and first.bound == second.bound
    np.testing.assert_array_equal(first.open, second.open)
    np.testing.assert_array_equal(first.assignment, second.assignment)
    assert first.iterations == second.iterations


def test_time_limit_still_returns_a_valid_plan_with_its_gap() -> None:
    rng = np.random.default_rng(2)
    cost = random_cost(rng, 400, 60)
    weights = rng.integers(1, 100, size=400).astype(float)
    result = p_median_heuristic(cost, weights, 8, time_limit=1e-6)
    assert isinstance(result, HeuristicResult)
    assert result.open.size == 8
    assert result.objective == pytest.approx(recomputed_p_median(cost, weights, result.open, None))
    assert 0 <= result.bound <= result.objective
    assert result.gap == pytest.approx((result.objective - result.bound) / result.objective)
    covering = mclp_heuristic(cost < 10, weights, 5, time_limit=1e-6)
    assert covering.open.size == 5 and covering.bound >= covering.objective


def test_rows_without_any_pair_are_left_out_when_no_unserved_cost() -> None:
    cost = np.array([[1.0, np.inf], [np.inf, 2.0], [np.inf, np.inf]])
    result = p_median_heuristic(cost, np.array([1.0, 1.0, 7.0]), 2)
    assert result.objective == 3.0
    np.testing.assert_array_equal(result.assignment, [0, 1, -1])
    charged = p_median_heuristic(cost, np.array([1.0, 1.0, 7.0]), 2, unserved_cost=10.0)
    assert charged.objective == 73.0


def test_unreachable_rows_make_the_plan_infeasible_without_unserved_cost() -> None:
    cost = np.array([[1.0, np.inf, np.inf], [np.inf, 2.0, np.inf], [np.inf, np.inf, 3.0]])
    with pytest.raises(InfeasibleError, match="unserved_cost"):
        p_median_heuristic(cost, np.ones(3), 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p": 5}, "between 1 and the number of candidates"),
        ({"p": 0}, "between 1"),
        ({"p": 1, "fixed": [0, 1]}, "smaller than the 2 fixed"),
        ({"p": 2, "fixed": [3]}, "outside the 3 candidates"),
        ({"p": 2, "weights": np.array([1.0, -1.0])}, "negative"),
        ({"p": 2, "weights": np.ones(3)}, "one weight"),
        ({"p": 2, "time_limit": 0}, "time_limit"),
    ],
)
def test_bad_input_raises_input_error_naming_the_parameter(kwargs: dict, match: str) -> None:
    args = {"cost": np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 0.0]]), "weights": np.ones(2)}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        p_median_heuristic(args.pop("cost"), args.pop("weights"), args.pop("p"), **args)


def test_negative_cost_raises_input_error() -> None:
    with pytest.raises(InputError, match="negative"):
        p_median_heuristic(np.array([[1.0, -2.0]]), np.ones(1), 1)


# --------------------------------------------------------------------------- MCLP
@pytest.mark.parametrize("seed", range(12))
def test_mclp_equals_brute_force_optimum_and_bound_holds(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(6, 40)), int(rng.integers(4, 10))
    p = int(rng.integers(1, m))
    cover = rng.random((n, m)) < 0.25
    weights = rng.integers(0, 9, size=n).astype(float)
    result = mclp_heuristic(sp.csr_array(cover), weights, p, seed=seed)
    optimum = brute_force_mclp(cover, weights, p)
    assert result.objective == optimum
    assert result.bound >= optimum - 1e-9
    covered = cover[:, result.open].any(axis=1)
    assert float(weights @ covered) == result.objective
    assert np.all((result.assignment >= 0) == covered)


def test_mclp_equals_highs_milp() -> None:
    rng = np.random.default_rng(21)
    demand, sites = rng.random((300, 2)) * 10, rng.random((60, 2)) * 10
    distance = np.hypot(*(demand[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    cover = sp.csr_array(distance <= 1.5)
    weights = rng.integers(1, 100, size=300).astype(float)
    result = mclp_heuristic(cover, weights, 7)
    optimum = highs_mclp(cover, weights, 7)
    assert result.objective == pytest.approx(optimum)
    assert result.bound >= optimum - 1e-6


def test_mclp_sao_jose_dos_campos_324_reaches_computed_optimum() -> None:
    """SJC324 (Lorena & Pereira 2002), S = 800 m, against the optima stored with the data."""
    lines = (SHARED_DATA / "mclp" / "SJC324.txt").read_text().split("\n")[1:]
    table = np.array([list(map(float, ln.split())) for ln in lines if ln.strip()])
    xy, demand = table[:, :2], table[:, 2]
    distance = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    with open(SHARED_DATA / "mclp" / "sjc_mclp_optimal_computed_highs.csv", newline="") as fh:
        optima = {
            int(r["p"]): float(r["optimal_covered_demand"])
            for r in csv.DictReader(fh)
            if r["instance"] == "SJC324" and r["S"] == "800"
        }
    for p in (2, 3):
        result = mclp_heuristic(sp.csr_array(distance <= 800), demand, p)
        assert result.objective == optima[p]
        assert result.bound >= optima[p]


# --------------------------------------------------------------------------- properties
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 25),
    m=st.integers(2, 7),
    density=st.floats(0.2, 1.0),
    unserved=st.one_of(st.none(), st.floats(0.0, 50.0)),
)
def test_lagrangian_bounds_bracket_the_optimum(seed, n, m, density, unserved) -> None:
    rng = np.random.default_rng(seed)
    p = int(rng.integers(1, m + 1))
    cost = random_cost(rng, n, m, density)
    weights = rng.random(n) * 10
    optimum = brute_force_p_median(cost, weights, p, unserved=unserved)
    if not np.isfinite(optimum):
        with pytest.raises(InfeasibleError):
            p_median_heuristic(to_sparse(cost), weights, p, unserved_cost=unserved)
    else:
        result = p_median_heuristic(to_sparse(cost), weights, p, unserved_cost=unserved)
        tol = 1e-9 * max(1.0, optimum)
        assert result.bound <= optimum + tol
        assert optimum <= result.objective + tol
    cover = np.isfinite(cost) & (cost < 20)
    covering = mclp_heuristic(sp.csr_array(cover), weights, p)
    best_cover = brute_force_mclp(cover, weights, p)
    assert covering.objective <= best_cover + 1e-9 <= covering.bound + 2e-9


# --------------------------------------------------------------------------- compiled kernels
def random_core(seed: int, unserved: float | None, p: int = 4):
    """A heuristics core on a random sparse instance with ties and stored zeros."""
    from accessplan.optimize.heuristics.core import Core, as_csr

    rng = np.random.default_rng(seed)
    cost = random_cost(rng, 60, 15, density=0.5)
    weights = rng.integers(0, 9, size=60).astype(float)
    csr = as_csr(to_sparse(cost), "cost")
    return Core(csr, weights, p, np.zeros(0, dtype=np.int64), unserved), rng


@pytest.mark.parametrize(("seed", "unserved"), [(0, None), (1, 20.0), (2, 0.0), (3, None)])
def test_compiled_evaluation_matches_vectorised_reference(seed: int, unserved) -> None:
    core, rng = random_core(seed, unserved)
    for _ in range(5):
        is_open = np.zeros(core.m, dtype=bool)
        is_open[rng.choice(core.m, size=int(rng.integers(1, 6)), replace=False)] = True
        fast, ref = core.evaluate(is_open), core.evaluate_vectorised(is_open)
        assert fast.objective == pytest.approx(ref.objective, rel=1e-12)
        np.testing.assert_array_equal(fast.d1, ref.d1)
        np.testing.assert_array_equal(fast.phi1, ref.phi1)
        np.testing.assert_array_equal(fast.d2, ref.d2)
        np.testing.assert_array_equal(fast.prefix_end, ref.prefix_end)


@pytest.mark.parametrize(("seed", "unserved"), [(4, None), (5, 25.0), (6, None)])
def test_compiled_swap_profits_match_vectorised_reference(seed: int, unserved) -> None:
    from accessplan.optimize import _kernels

    core, rng = random_core(seed, unserved)
    is_open = np.zeros(core.m, dtype=bool)
    is_open[rng.choice(core.m, size=4, replace=False)] = True
    st = core.evaluate(is_open)
    reference, out_list = core.swap_profits(is_open, st)
    pos = np.full(core.m, -1, dtype=np.int64)
    pos[out_list] = np.arange(out_list.size)
    profit = np.empty((core.m, out_list.size))
    _kernels.swap_profits(
        core.indptr, core.cols, core.data, core.w, is_open, pos, st.d1, st.phi1, st.d2,
        st.prefix_end, profit,
    )  # fmt: skip
    np.testing.assert_allclose(profit, reference, rtol=1e-12, atol=1e-9)
    # and each profit is the true change of cost of that swap
    for f, t in [(f, t) for f in np.flatnonzero(~is_open) for t in range(out_list.size)]:
        trial = is_open.copy()
        trial[f], trial[out_list[t]] = True, False
        change = st.objective - core.evaluate(trial).objective
        assert profit[f, t] == pytest.approx(change, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_compiled_interchange_ends_at_a_swap_local_optimum(seed: int) -> None:
    core, rng = random_core(10 + seed, None if seed % 2 else 30.0)
    start = np.zeros(core.m, dtype=bool)
    start[rng.choice(core.m, size=core.p, replace=False)] = True
    is_open, st = core.local_search(start, np.inf)
    assert is_open.sum() == core.p
    assert st.objective == pytest.approx(core.evaluate_vectorised(is_open).objective, rel=1e-12)
    for f in np.flatnonzero(~is_open):
        for g in np.flatnonzero(is_open):
            trial = is_open.copy()
            trial[f], trial[g] = True, False
            assert core.evaluate_vectorised(trial).objective >= st.objective - 1e-9


def test_compiled_greedy_adds_the_best_candidate_each_step() -> None:
    core, _ = random_core(20, 25.0, p=5)
    chosen = np.zeros(core.m, dtype=bool)
    for _ in range(core.p):  # reference: try every closed candidate, keep the cheapest
        costs = []
        for j in range(core.m):
            trial = chosen.copy()
            trial[j] = True
            costs.append(np.inf if chosen[j] else core.evaluate_vectorised(trial).objective)
        chosen[int(np.argmin(costs))] = True
    np.testing.assert_array_equal(core.greedy(), chosen)


@pytest.mark.parametrize(("seed", "unserved"), [(30, None), (31, 15.0), (32, None)])
def test_compiled_lagrangian_step_matches_vectorised_reference(seed: int, unserved) -> None:
    from accessplan.optimize import _kernels
    from accessplan.optimize.heuristics.lagrangian import Relaxation

    core, rng = random_core(seed, unserved)
    shut = np.zeros(core.m, dtype=bool)
    shut[rng.choice(core.m, size=3, replace=False)] = True
    forced_open = np.zeros(core.m, dtype=bool)
    forced_open[np.flatnonzero(~shut)[0]] = True
    free = ~(shut | forced_open)
    relax = Relaxation(core, np.full(core.n, np.inf), shut)
    for _ in range(4):
        mu = rng.random(core.n) * 40
        value, is_open, g, rho = relax.value(mu, forced_open, free)
        rho_k, open_k, g_k = np.empty(core.m), np.empty(core.m, dtype=bool), np.empty(core.n)
        value_k = _kernels.lagrangian_step(
            core.indptr, core.cols, core.data, *core.by_column(), core.w, mu, shut, forced_open,
            np.flatnonzero(free), core.p - 1, -1.0 if unserved is None else unserved,
            rho_k, open_k, g_k,
        )  # fmt: skip
        assert value_k == pytest.approx(value, rel=1e-12, abs=1e-9)
        np.testing.assert_allclose(rho_k, rho, rtol=1e-12, atol=1e-9)
        np.testing.assert_array_equal(open_k, is_open)
        np.testing.assert_array_equal(g_k, g)


@pytest.mark.parametrize(("seed", "unserved"), [(40, None), (41, 18.0)])
def test_compiled_ascent_returns_the_exact_lagrangian_value_at_its_multipliers(
    seed: int, unserved
) -> None:
    from accessplan.optimize import _kernels
    from accessplan.optimize.heuristics.lagrangian import Relaxation, initial_multipliers

    core, _ = random_core(seed, unserved)
    _, st = core.local_search(core.greedy(), np.inf)
    mu, cap, first = initial_multipliers(core, st)
    shut, forced = np.zeros(core.m, dtype=bool), np.zeros(core.m, dtype=bool)
    best_mu, best_rho = mu.copy(), np.zeros(core.m)
    best_open, last_open = np.zeros(core.m, dtype=bool), np.zeros(core.m, dtype=bool)
    bound, _, _, done = _kernels.subgradient_ascent(
        core.indptr, core.cols, core.data, *core.by_column(), core.w, mu, cap, shut, forced,
        np.arange(core.m), core.p, -1.0 if unserved is None else unserved, st.objective,
        np.inf, 200, 2.0, 0, 20, -np.inf, best_mu, best_open, best_rho, last_open,
    )  # fmt: skip
    assert done > 1
    value, relaxed_open, _, rho = Relaxation(core, cap).value(best_mu, forced, ~forced)
    assert bound == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(best_rho, rho, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(best_open, relaxed_open)
    assert first <= st.objective + 1e-9
    assert bound <= st.objective + 1e-9  # a lower bound on the plan's cost, hence the optimum


# --------------------------------------------------------------------------- benchmark
def test_scaling_benchmark_quick_run_prints_its_floors() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_pmedian_scale.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    floors = [ln for ln in done.stdout.splitlines() if ln.startswith("floor ")]
    assert len(floors) >= 3
    assert "| case" in done.stdout
