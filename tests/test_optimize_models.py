"""Location models on small inputs with answers known by enumeration, and bad input."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from accessplan.errors import AccessplanError, InfeasibleError, InputError
from accessplan.optimize import (
    capacitated_mclp,
    capacitated_p_median,
    lscp,
    mclp,
    p_center,
    p_median,
)
from accessplan.traveltimes import TravelTimes


def _instance(n: int = 14, m: int = 7, seed: int = 3, missing: float = 0.0):
    rng = np.random.default_rng(seed)
    minutes = rng.uniform(0, 50, (n, m)).round(2)
    if missing:
        minutes[rng.random((n, m)) < missing] = np.nan
    minutes[0, 0] = 0.0  # a stored zero is a reachable pair at the door
    tt = TravelTimes.from_dense(minutes, [f"o{i}" for i in range(n)], [f"s{j}" for j in range(m)])
    demand = pd.Series(rng.integers(1, 60, n).astype(float), index=tt.origin_ids)
    return tt, demand


def _brute_median(D: np.ndarray, w: np.ndarray, p: int, fixed=(), unserved=None) -> float:
    best = np.inf
    free = [j for j in range(D.shape[1]) if j not in fixed]
    for combo in combinations(free, p):
        cols = list(fixed) + list(combo)
        near = np.nanmin(np.where(np.isnan(D[:, cols]), np.inf, D[:, cols]), axis=1)
        if unserved is not None:
            near = np.minimum(near, unserved)
        reach = np.isfinite(np.nanmin(np.where(np.isnan(D), np.inf, D), axis=1))
        if unserved is None and not np.isfinite(near[reach]).all():
            continue
        best = min(best, float((w[reach] * near[reach]).sum()))
    return best


@pytest.mark.parametrize("p", [1, 2, 3])
def test_p_median_matches_enumeration(p):
    tt, demand = _instance()
    plan = p_median(tt, demand, p, method="exact")
    D = tt.to_dense(np.nan)
    assert plan.objective == pytest.approx(_brute_median(D, demand.to_numpy(), p))
    assert plan.status == "optimal" and plan.gap == 0.0
    assert len(plan.sites) == p
    assert plan.objective == pytest.approx(
        (plan.assignment["persons"] * plan.assignment["minutes"]).sum()
    )


def test_p_median_with_unreachable_pairs_and_unserved_cost():
    tt, demand = _instance(missing=0.5, seed=5)
    D = tt.to_dense(np.nan)
    plan = p_median(tt, demand, 2, unserved_minutes=30.0, method="exact")
    D30 = np.where(D <= 30.0, D, np.nan)
    w = demand.to_numpy()
    expected = _brute_median(D30, w, 2, unserved=30.0)
    reach_any = ~np.isnan(D).all(axis=1)
    reach30 = ~np.isnan(D30).all(axis=1)
    # Rows that reach a site only beyond 30 minutes pay 30 minutes per person.
    expected += float((w[reach_any & ~reach30] * 30.0).sum())
    assert plan.objective == pytest.approx(expected)
    assert set(plan.uncovered) >= set(tt.origin_ids[~reach_any])


def test_p_median_lists_unreachable_demand():
    minutes = np.array([[5.0, 9.0], [np.nan, np.nan], [7.0, 1.0]])
    tt = TravelTimes.from_dense(minutes, ["a", "b", "c"], ["x", "y"])
    demand = pd.Series({"a": 10.0, "b": 4.0, "c": 6.0})
    plan = p_median(tt, demand, 1, method="exact")
    assert list(plan.uncovered) == ["b"]
    assert plan.details["unreachable_population"] == 4.0
    assert plan.sites.index.tolist() == ["x"]  # 10*5 + 6*7 = 92 < 10*9 + 6*1 = 96
    assert plan.objective == 92.0
    assert plan.covered_population == 16.0 and plan.total_population == 20.0


def test_existing_sites_stay_open_and_p_counts_additions():
    tt, demand = _instance()
    plan = p_median(tt, demand, 2, existing=["s3"], method="exact")
    D = tt.to_dense(np.nan)
    assert "s3" in plan.sites.index and bool(plan.sites.loc["s3", "existing"])
    assert len(plan.new_sites) == 2
    assert plan.objective == pytest.approx(_brute_median(D, demand.to_numpy(), 2, fixed=(3,)))


def test_closable_existing_site_can_move():
    minutes = np.array([[1.0, 20.0, 2.0], [1.0, 20.0, 2.0]])
    tt = TravelTimes.from_dense(minutes, ["a", "b"], ["good", "bad", "other"])
    demand = pd.Series({"a": 1.0, "b": 1.0})
    kept = p_median(tt, demand, 0, existing=["bad"], candidates=None, method="exact")
    assert kept.sites.index.tolist() == ["bad"]
    moved = p_median(tt, demand, 0, existing=["bad"], closable=["bad"], method="exact")
    assert moved.sites.index.tolist() == ["good"] and moved.objective == 2.0


def test_p_median_cbc_agrees_with_highs():
    tt, demand = _instance(seed=8)
    a = p_median(tt, demand, 2, method="exact")
    b = p_median(tt, demand, 2, method="exact", solver="cbc")
    assert a.objective == pytest.approx(b.objective)


def test_cbc_runs_the_bundled_executable_else_the_one_on_the_path(monkeypatch, tmp_path):
    import pulp

    from accessplan.optimize import _solve

    bundled = _solve._cbc_path()
    solver = _solve.make_solver("cbc")
    assert isinstance(solver, pulp.COIN_CMD) and solver.path == bundled
    monkeypatch.setattr(pulp.apis.coin_api, "pulp_cbc_path", str(tmp_path / "absent"))
    monkeypatch.setattr(_solve.shutil, "which", lambda name: f"/opt/bin/{name}")
    assert _solve._cbc_path() == "/opt/bin/cbc"
    monkeypatch.setattr(_solve.shutil, "which", lambda name: None)
    with pytest.raises(InputError, match=r"pulp\[cbc\]"):
        _solve.make_solver("cbc")


def _brute_cover(D, w, p, S):
    cover = np.nan_to_num(D, nan=np.inf) <= S
    return max(
        float(w[cover[:, list(c)].any(axis=1)].sum()) for c in combinations(range(D.shape[1]), p)
    )


@pytest.mark.parametrize(("p", "S"), [(1, 15.0), (2, 20.0), (3, 10.0)])
def test_mclp_matches_enumeration(p, S):
    tt, demand = _instance(seed=11)
    plan = mclp(tt, demand, p, S, method="exact")
    assert plan.objective == pytest.approx(
        _brute_cover(tt.to_dense(np.nan), demand.to_numpy(), p, S)
    )
    assert plan.covered_population == pytest.approx(plan.objective)
    assert (plan.assignment["minutes"] <= S).all()
    assert plan.coverage == pytest.approx(plan.objective / demand.sum())


def test_lscp_matches_enumeration_and_reports_uncoverable():
    tt, demand = _instance(seed=2)
    D = tt.to_dense(np.nan)
    S = 12.0
    cover = np.nan_to_num(D, nan=np.inf) <= S
    coverable = cover.any(axis=1)
    plan = lscp(tt, demand, S)
    best = next(
        k
        for k in range(1, D.shape[1] + 1)
        if any(
            cover[coverable][:, list(c)].any(axis=1).all()
            for c in combinations(range(D.shape[1]), k)
        )
    )
    assert plan.objective == best == len(plan.sites)
    assert set(plan.uncovered) == set(tt.origin_ids[~coverable])
    assert plan.details["uncoverable_population"] == pytest.approx(demand[~coverable].sum())


def test_lscp_minimises_cost():
    minutes = np.array([[1.0, 1.0, np.nan], [np.nan, 1.0, 1.0]])
    tt = TravelTimes.from_dense(minutes, ["a", "b"], ["x", "y", "z"])
    cands = pd.DataFrame({"id": ["x", "y", "z"], "cost": [1.0, 5.0, 1.0]})
    demand = pd.Series({"a": 1.0, "b": 1.0})
    assert lscp(tt, demand, 2.0, candidates=cands).objective == 1  # y alone
    by_cost = lscp(tt, demand, 2.0, candidates=cands, minimize="cost")
    assert by_cost.objective == 2.0 and sorted(by_cost.sites.index) == ["x", "z"]


@pytest.mark.parametrize("weighted", [False, True])
def test_p_center_matches_enumeration(weighted):
    tt, demand = _instance(seed=4)
    D = tt.to_dense(np.nan)
    h = demand.to_numpy() if weighted else np.ones(len(demand))
    best = min(
        float((h * D[:, list(c)].min(axis=1)).max()) for c in combinations(range(D.shape[1]), 2)
    )
    plan = p_center(tt, demand, 2, weighted=weighted)
    assert plan.objective == pytest.approx(best)
    assert plan.status == "optimal"


def test_capacitated_p_median_respects_capacity():
    tt, demand = _instance(seed=6)
    cap = demand.sum() / 2.5
    cands = pd.DataFrame({"id": tt.destination_ids, "capacity": cap})
    plan = capacitated_p_median(tt, demand, 3, candidates=cands)
    free = p_median(tt, demand, 3, method="exact")
    assert (plan.sites["assigned_population"] <= cap + 1e-6).all()
    assert plan.objective >= free.objective - 1e-6
    assert plan.assignment.groupby("origin")["share"].sum().to_numpy() == pytest.approx(1.0)


def test_capacitated_p_median_charges_demand_beyond_capacity():
    # No cutoff and no unserved_minutes: persons the capacities cannot serve pay the longest
    # stored travel time each (the one default of every model with an unserved option).
    tt, demand = _instance(seed=6)
    cands = pd.DataFrame({"id": tt.destination_ids, "capacity": 1.0})
    plan = capacitated_p_median(tt, demand, 2, candidates=cands)
    longest = float(tt.matrix.data.max())
    served = plan.assignment["persons"].sum()
    assert served == pytest.approx(2.0)
    assert plan.details["unserved_minutes"] == longest
    unserved = plan.details["unserved_population"]
    assert unserved == pytest.approx(demand.sum() - plan.details["unreachable_population"] - 2.0)
    expected = (plan.assignment["persons"] * plan.assignment["minutes"]).sum() + unserved * longest
    assert plan.objective == pytest.approx(expected)


def test_capacitated_mclp_covers_at_most_capacity():
    tt, demand = _instance(seed=9)
    cands = pd.DataFrame({"id": tt.destination_ids, "capacity": 50.0})
    plan = capacitated_mclp(tt, demand, 2, 25.0, candidates=cands)
    free = mclp(tt, demand, 2, 25.0, method="exact")
    assert plan.objective <= min(free.objective, 100.0) + 1e-6
    assert (plan.sites["assigned_population"] <= 50.0 + 1e-6).all()
    assert plan.objective == pytest.approx(plan.assignment["persons"].sum())


def test_plan_supply_lists_open_sites_for_measures():
    tt, demand = _instance()
    cands = pd.DataFrame(
        {"id": tt.destination_ids, "type": "robotic", "capacity": 100.0, "name": list("abcdefg")}
    )
    plan = p_median(tt, demand, 2, candidates=cands, existing=["s0"], method="exact")
    supply = plan.supply(cands)
    assert list(supply.columns[:3]) == ["id", "type", "capacity"]
    assert len(supply) == 3 and set(supply["id"]) == set(plan.sites.index)
    assert "name" in supply.columns
    assert plan.cost == pytest.approx(2.0)  # default cost 1 per new site


# ---------------------------------------------------------------- bad input


def test_p_above_candidates_is_rejected():
    tt, demand = _instance()
    with pytest.raises(InputError, match="p = 8 is above"):
        p_median(tt, demand, 8)


def test_standard_below_every_time_is_reported():
    tt, demand = _instance()
    tt2 = TravelTimes.from_dense(tt.to_dense() + 5.0, tt.origin_ids, tt.destination_ids)
    with pytest.raises(InfeasibleError, match="standard of 1 minutes"):
        mclp(tt2, demand, 2, 1.0)
    with pytest.raises(InfeasibleError, match="no candidate lies within"):
        lscp(tt2, demand, 1.0)


@pytest.mark.parametrize("column", ["cost", "capacity"])
def test_negative_cost_or_capacity_is_rejected(column):
    tt, demand = _instance()
    cands = pd.DataFrame({"id": tt.destination_ids, column: [1.0] * 6 + [-2.0]})
    with pytest.raises(InputError, match=f"{column} of site 's6' is negative"):
        p_median(tt, demand, 2, candidates=cands)


def test_demand_ids_that_do_not_match_are_rejected():
    tt, demand = _instance()
    wrong = demand.rename(index={"o3": "zz"})
    with pytest.raises(AccessplanError, match="zz"):
        mclp(tt, wrong, 2, 20.0)


def test_unknown_candidate_and_existing_ids_are_rejected():
    tt, demand = _instance()
    with pytest.raises(InputError, match="not destination ids"):
        p_median(tt, demand, 1, candidates=pd.DataFrame({"id": ["s1", "nope"]}))
    with pytest.raises(InputError, match="not destination ids"):
        p_median(tt, demand, 1, existing=["ghost"])
    with pytest.raises(InputError, match="closable ids"):
        p_median(tt, demand, 1, closable=["s1"])


def test_digital_candidates_are_refused_by_travel_models():
    tt, demand = _instance()
    cands = pd.DataFrame({"id": tt.destination_ids, "type": ["digital"] + ["clinic"] * 6})
    with pytest.raises(InputError, match="digital"):
        p_median(tt, demand, 1, candidates=cands)


def test_bad_method_is_rejected():
    tt, demand = _instance()
    with pytest.raises(InputError, match="method"):
        p_median(tt, demand, 1, method="fast")


def test_heuristic_and_auto_methods_match_the_exact_plan():
    tt, demand = _instance(n=30, m=10, seed=12)
    exact = p_median(tt, demand, 3, method="exact")
    heur = p_median(tt, demand, 3, method="heuristic")
    auto = p_median(tt, demand, 3, method="auto")
    assert heur.details["method"] == "heuristic" and auto.details["method"] == "exact"
    assert heur.objective == pytest.approx(exact.objective)
    assert heur.bound <= heur.objective + 1e-6
    cover_exact = mclp(tt, demand, 2, 15.0, method="exact")
    cover_heur = mclp(tt, demand, 2, 15.0, method="heuristic")
    assert cover_heur.objective == pytest.approx(cover_exact.objective)
    assert cover_heur.status == "heuristic" and len(cover_heur.sites) == 2


def test_evaluate_plan_gives_two_step_fca_of_the_open_sites():
    from accessplan.measures import two_step_fca
    from accessplan.optimize.plan import evaluate_plan

    tt, demand = _instance()
    cands = pd.DataFrame({"id": tt.destination_ids, "capacity": 10.0})
    plan = p_median(tt, demand, 2, candidates=cands, method="exact")
    after = evaluate_plan(plan, tt, demand, "two_step_fca", standard=30.0)
    supply = pd.Series(10.0, index=plan.sites.index)
    expected = two_step_fca(tt.subset(destinations=plan.sites.index), demand, supply, 30.0)
    # in the registry's unit: clinicians per 10,000 persons
    assert np.allclose(after["total"].to_numpy(), expected.to_numpy() * 10_000, equal_nan=True)
