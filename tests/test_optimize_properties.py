"""Properties every location model must keep on random small instances.

Each instance has an origin that reaches no candidate, so the unreachable demand is always
there. For every model: the bound lies on the right side of the objective, "optimal" means a
proven gap within the accepted one, the objective recomputed from the chosen sites equals the
reported one, and — where enumeration is cheap — the optimum equals brute force.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accessplan.errors import InfeasibleError
from accessplan.optimize import (
    ResourcePool,
    SupplyOption,
    allocate_resources,
    budgeted_siting,
    capacitated_mclp,
    capacitated_p_median,
    lscp,
    mclp,
    p_center,
    p_median,
)
from accessplan.optimize._solve import OPTIMAL_GAP
from accessplan.optimize.plan import Plan
from accessplan.traveltimes import TravelTimes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SETTINGS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def instances(draw: st.DrawFn) -> tuple[TravelTimes, pd.Series, np.ndarray]:
    """Travel times (NaN = no pair) with 3–6 origins × 2–4 sites; the last origin reaches
    nothing; persons are whole numbers (some zero)."""
    n = draw(st.integers(3, 6))
    m = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    minutes = rng.integers(0, 60, size=(n, m)).astype(float)
    minutes[rng.random((n, m)) < 0.3] = np.nan
    minutes[-1, :] = np.nan
    persons = rng.integers(0, 50, size=n).astype(float)
    persons[-1] = draw(st.integers(1, 50))
    origins = [f"o{i}" for i in range(n)]
    sites = [f"s{j}" for j in range(m)]
    cutoff = draw(st.sampled_from([None, 45.0]))
    tt = TravelTimes.from_dense(minutes, origins, sites, cutoff=cutoff)
    return tt, pd.Series(persons, index=origins), tt.to_dense(np.nan)


def assert_honest(plan: Plan, sense: str, gap: float | None = None) -> None:
    """Bound on the right side, gap recomputed from it, status "optimal" only when proven."""
    tol = 1e-6 * max(abs(plan.objective), 1.0)
    assert np.isfinite(plan.bound), plan
    if sense == "min":
        assert plan.bound <= plan.objective + tol, plan
    else:
        assert plan.bound >= plan.objective - tol, plan
    expected_gap = abs(plan.objective - plan.bound) / max(abs(plan.objective), 1e-9)
    assert plan.gap == pytest.approx(expected_gap, abs=1e-9)
    if plan.status == "optimal":
        assert plan.gap <= max(gap or 0.0, OPTIMAL_GAP) + 1e-12, plan
    assert plan.status in ("optimal", "time_limit", "feasible", "heuristic")


def nearest(D: np.ndarray, open_sites: tuple[int, ...]) -> np.ndarray:
    """Minutes from each origin to its nearest open site (NaN when none is reached)."""
    sub = D[:, list(open_sites)]
    return np.where(
        np.isnan(sub).all(axis=1), np.nan, np.nanmin(np.nan_to_num(sub, nan=np.inf), axis=1)
    )


def median_cost(D: np.ndarray, w: np.ndarray, open_sites: tuple[int, ...], u: float) -> float:
    """Person-minutes of the origins with a stored pair; pairs beyond ``u`` are not used and an
    unserved person pays ``u``."""
    reach = ~np.isnan(D).all(axis=1)
    Du = np.where(np.less_equal(D, u), D, np.nan)
    near = nearest(Du, open_sites)
    return float((w[reach] * np.where(np.isnan(near[reach]), u, near[reach])).sum())


def default_unserved(tt: TravelTimes) -> float:
    return float(tt.cutoff) if tt.cutoff is not None else float(tt.matrix.data.max())


def has_pairs(tt: TravelTimes) -> bool:
    return tt.matrix.nnz > 0


# ------------------------------------------------------------------------------ p-median
@SETTINGS
@given(instances(), st.integers(1, 2), st.sampled_from(["exact", "heuristic"]))
def test_p_median_is_honest_and_matches_enumeration(inst, p, method) -> None:
    tt, demand, D = inst
    p = min(p, D.shape[1])
    if not has_pairs(tt):
        return
    plan = p_median(tt, demand, p, method=method)
    assert_honest(plan, "min")
    u = default_unserved(tt)
    w = demand.to_numpy()
    chosen = tuple(tt.destination_ids.get_indexer(plan.sites.index))
    assert plan.objective == pytest.approx(median_cost(D, w, chosen, u), abs=1e-6)
    best = min(median_cost(D, w, s, u) for s in itertools.combinations(range(D.shape[1]), p))
    if method == "exact" or plan.status == "optimal":
        assert plan.objective == pytest.approx(best, abs=1e-6)
        assert plan.status in ("optimal", "heuristic") and plan.gap == 0.0
    assert plan.bound <= best + 1e-6


def test_p_median_with_demand_that_reaches_nothing_is_proven_at_its_true_bound() -> None:
    """3 origins × 2 sites, one origin reaching nothing: objective and bound agree (before the
    fix the bound included the unreachable origin's 100 × 60 person-minutes: 7,300 > 1,300)."""
    D = np.array([[10.0, 20.0], [5.0, np.nan], [np.nan, np.nan]])
    tt = TravelTimes.from_dense(D, ["a", "b", "c"], ["s1", "s2"], cutoff=60.0)
    demand = pd.Series([100.0, 60.0, 100.0], index=["a", "b", "c"])
    for method in ("exact", "heuristic"):
        plan = p_median(tt, demand, 1, method=method)
        assert plan.objective == pytest.approx(1300.0)
        assert plan.bound == pytest.approx(1300.0) and plan.gap == 0.0
        assert plan.details["unreachable_population"] == 100.0
        assert "c" in plan.uncovered


@SETTINGS
@given(instances(), st.integers(1, 2))
def test_capacitated_p_median_is_honest(inst, p) -> None:
    tt, demand, D = inst
    p = min(p, D.shape[1])
    if not has_pairs(tt):
        return
    cands = pd.DataFrame({"id": tt.destination_ids, "capacity": 40.0})
    plan = capacitated_p_median(tt, demand, p, candidates=cands)
    assert_honest(plan, "min")
    assert plan.status == "optimal"
    u = default_unserved(tt)
    a = plan.assignment
    unserved = plan.details["unserved_population"]
    recomputed = float((a["persons"] * a["minutes"]).sum()) + unserved * u
    assert plan.objective == pytest.approx(recomputed, abs=1e-6)
    assert (plan.sites["assigned_population"] <= 40.0 + 1e-6).all()
    # With capacities that never bind it is the uncapacitated optimum.
    loose = capacitated_p_median(
        tt, demand, p, candidates=cands.assign(capacity=float(demand.sum()) + 1.0)
    )
    free = p_median(tt, demand, p, method="exact")
    assert loose.objective == pytest.approx(free.objective, abs=1e-6)
    assert plan.objective >= free.objective - 1e-6


# ------------------------------------------------------------------------------ covering
def covered(D: np.ndarray, w: np.ndarray, open_sites: tuple[int, ...], standard: float) -> float:
    within = (D[:, list(open_sites)] <= standard).any(axis=1)
    return float(w[within].sum())


@SETTINGS
@given(instances(), st.integers(1, 2), st.sampled_from(["exact", "heuristic"]))
def test_mclp_is_honest_and_matches_enumeration(inst, p, method) -> None:
    tt, demand, D = inst
    p = min(p, D.shape[1])
    standard = 30.0
    if not (np.nan_to_num(D, nan=np.inf) <= standard).any():
        return
    plan = mclp(tt, demand, p, standard, method=method)
    assert_honest(plan, "max")
    w = demand.to_numpy()
    chosen = tuple(tt.destination_ids.get_indexer(plan.sites.index))
    assert plan.objective == pytest.approx(covered(D, w, chosen, standard))
    best = max(covered(D, w, s, standard) for s in itertools.combinations(range(D.shape[1]), p))
    if method == "exact" or plan.status == "optimal":
        assert plan.objective == pytest.approx(best)
    assert plan.bound >= best - 1e-6


@SETTINGS
@given(instances(), st.integers(1, 2))
def test_capacitated_mclp_is_honest(inst, p) -> None:
    tt, demand, D = inst
    p = min(p, D.shape[1])
    standard = 30.0
    if not (np.nan_to_num(D, nan=np.inf) <= standard).any():
        return
    cands = pd.DataFrame({"id": tt.destination_ids, "capacity": 30.0})
    plan = capacitated_mclp(tt, demand, p, standard, candidates=cands)
    assert_honest(plan, "max")
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(plan.assignment["persons"].sum())
    loose = capacitated_mclp(
        tt, demand, p, standard, candidates=cands.assign(capacity=float(demand.sum()) + 1.0)
    )
    w = demand.to_numpy()
    best = max(covered(D, w, s, standard) for s in itertools.combinations(range(D.shape[1]), p))
    assert loose.objective == pytest.approx(best)


@SETTINGS
@given(instances())
def test_lscp_is_honest_and_matches_enumeration(inst) -> None:
    tt, demand, D = inst
    standard = 30.0
    w = demand.to_numpy()
    coverable = (np.nan_to_num(D, nan=np.inf) <= standard).any(axis=1) & (w > 0)
    if not coverable.any():
        return
    plan = lscp(tt, demand, standard)
    assert_honest(plan, "min")
    assert plan.status == "optimal"
    assert plan.objective == len(plan.sites)
    m = D.shape[1]
    best = min(
        k
        for k in range(1, m + 1)
        for s in itertools.combinations(range(m), k)
        if covered(D, w, s, standard) == pytest.approx(float(w[coverable].sum()))
    )
    assert plan.objective == best


@SETTINGS
@given(instances(), st.integers(1, 2))
def test_p_center_is_honest_and_matches_enumeration(inst, p) -> None:
    tt, demand, D = inst
    p = min(p, D.shape[1])
    w = demand.to_numpy()
    rows = ~np.isnan(D).all(axis=1) & (w > 0)
    if not rows.any():
        return

    def radius(s: tuple[int, ...]) -> float:
        near = nearest(D, s)[rows]
        return np.inf if np.isnan(near).any() else float(near.max())

    best = min(radius(s) for s in itertools.combinations(range(D.shape[1]), p))
    if not np.isfinite(best):
        with pytest.raises(InfeasibleError):
            p_center(tt, demand, p)
        return
    plan = p_center(tt, demand, p)
    assert_honest(plan, "min")
    assert plan.status == "optimal"
    chosen = tuple(tt.destination_ids.get_indexer(plan.sites.index))
    assert plan.objective == pytest.approx(radius(chosen))
    assert plan.objective == pytest.approx(best)


# ------------------------------------------------------------------------------ budget
@SETTINGS
@given(instances(), st.sampled_from([1.0, 2.0]), st.sampled_from(["coverage", "median"]))
def test_budgeted_siting_is_honest_and_matches_enumeration(inst, budget, objective) -> None:
    tt, demand, D = inst
    if not has_pairs(tt):
        return
    standard = 30.0
    options = [SupplyOption("clinic", cost=1.0, standard=standard)]
    plan = budgeted_siting(tt, demand, options, budget, objective=objective)
    sense = "max" if objective == "coverage" else "min"
    assert_honest(plan, sense)
    assert plan.status == "optimal"
    w = demand.to_numpy()
    chosen = tuple(tt.destination_ids.get_indexer(plan.new_sites.index))
    k = int(budget)
    subsets = [s for r in range(k + 1) for s in itertools.combinations(range(D.shape[1]), r)]
    if objective == "coverage":
        assert plan.objective == pytest.approx(covered(D, w, chosen, standard))
        best = max(covered(D, w, s, standard) for s in subsets)
        assert plan.objective == pytest.approx(best)
    else:
        # The budget model charges every unserved person, unreachable ones included.
        u = default_unserved(tt)
        unreachable = float(w[np.isnan(D).all(axis=1)].sum()) * u

        def cost(s: tuple[int, ...]) -> float:
            return median_cost(D, w, s, u) + unreachable if s else float(w.sum()) * u

        a = plan.assignment
        recomputed = float((a["persons"] * a["minutes"]).sum())
        recomputed += (float(w.sum()) - float(a["persons"].sum())) * u
        assert plan.objective == pytest.approx(recomputed, rel=1e-6)
        assert plan.objective == pytest.approx(min(cost(s) for s in subsets), rel=1e-6)


# ------------------------------------------------------------------------------ allocation
@SETTINGS
@given(st.integers(0, 2**31 - 1), st.sampled_from([None, 0.05]))
def test_allocate_resources_is_honest(seed, gap) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 5))
    facilities = pd.DataFrame(
        {
            "id": [f"f{i}" for i in range(n)],
            "type": "clinic",
            "demand": rng.integers(0, 200, size=n).astype(float),
            "baseline": rng.integers(0, 50, size=n).astype(float),
        }
    )
    pools = [
        ResourcePool(
            "doctors",
            unit_cost=float(rng.integers(1, 5)),
            productivity=30.0,
            available=float(rng.integers(0, 6)),
        ),
        ResourcePool("hours", unit_cost=0.5, productivity=2.0, available=40.0, integer=False),
    ]
    plan = allocate_resources(facilities, pools, unmet_penalty=1.0, gap=gap)
    assert_honest(plan, "min", gap)
    units = plan.details["units"]
    unit_cost = pd.Series({p.name: p.unit_cost for p in pools})
    recomputed = float((units * unit_cost).sum().sum()) + float(plan.sites["unmet"].sum())
    assert plan.objective == pytest.approx(recomputed, abs=1e-6)
