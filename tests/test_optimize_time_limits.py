"""Every location model under a tiny time limit still returns a valid plan with its bound and
gap (or a clear SolverError when no plan exists yet). Wall-clock times are measured in
benchmarks/bench_budget.py, not asserted here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accessplan.errors import SolverError
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
from accessplan.optimize.plan import Plan
from accessplan.traveltimes import TravelTimes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TINY = 1e-3


def _instance(n: int = 300, m: int = 40, seed: int = 3) -> tuple[TravelTimes, pd.Series]:
    rng = np.random.default_rng(seed)
    xy, sites = rng.random((n, 2)) * 60, rng.random((m, 2)) * 60
    minutes = np.hypot(*(xy[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    minutes[-3:, :] = np.nan  # origins that reach nothing
    tt = TravelTimes.from_dense(
        minutes, [f"o{i}" for i in range(n)], [f"s{j}" for j in range(m)], cutoff=40.0
    )
    return tt, pd.Series(rng.integers(1, 100, n).astype(float), index=tt.origin_ids)


def _check(plan: Plan, sense: str, n_sites: int | None = None) -> None:
    assert np.isfinite(plan.objective) and np.isfinite(plan.bound) and np.isfinite(plan.gap)
    tol = 1e-6 * max(abs(plan.objective), 1.0)
    if sense == "min":
        assert plan.bound <= plan.objective + tol
    else:
        assert plan.bound >= plan.objective - tol
    assert plan.status in ("optimal", "time_limit", "feasible", "heuristic")
    assert 0.0 <= plan.gap <= 1.0  # one relative gap for every model, 1 = 100 %
    if n_sites is not None:
        assert len(plan.sites) == n_sites


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_p_median_under_a_tiny_limit(method) -> None:
    tt, demand = _instance()
    plan = p_median(tt, demand, 5, method=method, time_limit=TINY)
    _check(plan, "min", 5)
    served = plan.assignment
    unserved = plan.details["unserved_population"] * plan.details["unserved_minutes"]
    assert plan.objective == pytest.approx((served["persons"] * served["minutes"]).sum() + unserved)


def test_capacitated_p_median_under_a_tiny_limit() -> None:
    tt, demand = _instance()
    cands = pd.DataFrame({"id": tt.destination_ids, "capacity": 900.0})
    plan = capacitated_p_median(tt, demand, 5, candidates=cands, time_limit=TINY)
    _check(plan, "min", 5)
    assert (plan.sites["assigned_population"] <= 900.0 + 1e-6).all()


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_mclp_under_a_tiny_limit(method) -> None:
    tt, demand = _instance()
    plan = mclp(tt, demand, 5, 10.0, method=method, time_limit=TINY)
    _check(plan, "max", 5)
    assert plan.objective == pytest.approx(plan.covered_population)


def test_capacitated_mclp_under_a_tiny_limit() -> None:
    tt, demand = _instance()
    cands = pd.DataFrame({"id": tt.destination_ids, "capacity": 900.0})
    plan = capacitated_mclp(tt, demand, 5, 10.0, candidates=cands, time_limit=TINY)
    _check(plan, "max", 5)


def test_capacitated_mclp_covering_nobody_yet_reports_a_gap_of_100_percent() -> None:
    tt, demand = _instance()
    cands = pd.DataFrame({"id": tt.destination_ids, "capacity": 900.0})
    plan = capacitated_mclp(tt, demand, 5, 10.0, candidates=cands, time_limit=0.01)
    if plan.objective == 0.0:  # the count-feasible start: nobody assigned
        assert plan.bound > 0 and plan.gap == 1.0
    assert 0.0 <= plan.gap <= 1.0


@pytest.mark.parametrize(
    ("objective", "bound", "gap"),
    [
        (0.0, 500.0, 1.0),
        (0.0, 0.0, 0.0),
        (90.0, 100.0, 0.1),
        (100.0, 90.0, 0.1),
        (5.0, np.nan, np.nan),
    ],
)
def test_relative_gap_divides_by_the_larger_of_objective_and_bound(objective, bound, gap) -> None:
    from accessplan.optimize._solve import relative_gap

    assert relative_gap(objective, bound) == pytest.approx(gap, nan_ok=True)


def test_lscp_under_a_tiny_limit() -> None:
    tt, demand = _instance()
    plan = lscp(tt, demand, 15.0, time_limit=TINY)
    _check(plan, "min")
    assert plan.uncovered.difference(plan.details["uncoverable"]).empty


def test_p_center_under_a_tiny_limit_plans_or_says_why() -> None:
    tt, demand = _instance()
    try:
        plan = p_center(tt, demand, 5, time_limit=TINY)
    except SolverError as exc:
        assert "time limit" in str(exc)
    else:
        _check(plan, "min", 5)


@pytest.mark.parametrize("objective", ["coverage", "median"])
def test_budgeted_siting_under_a_tiny_limit(objective) -> None:
    tt, demand = _instance()
    options = [
        SupplyOption("clinic", 1.0, capacity=2_000.0, standard=10.0),
        SupplyOption("robotic", 0.4, capacity=700.0, standard=10.0),
        SupplyOption("digital", 0.25, capacity=1_000.0, digital_access=0.3),
    ]
    plan = budgeted_siting(tt, demand, options, 4.0, objective=objective, time_limit=TINY)
    _check(plan, "max" if objective == "coverage" else "min")
    assert plan.cost <= 4.0 + 1e-9


def test_allocate_resources_under_a_tiny_limit() -> None:
    facilities = pd.Series([120.0, 80.0, 300.0], index=["a", "b", "c"])
    pools = [ResourcePool("doctors", 1.0, 25.0, 6.0), ResourcePool("robots", 2.0, 60.0, 2.0)]
    plan = allocate_resources(facilities, pools, unmet_penalty=1.0, time_limit=TINY)
    _check(plan, "min")


_QUIET_RUN = """
import numpy as np, pandas as pd
from accessplan.optimize import allocate_resources, mclp, p_median, ResourcePool
from accessplan.traveltimes import TravelTimes
rng = np.random.default_rng(0)
tt = TravelTimes.from_dense(rng.random((30, 6)) * 30, [f"o{i}" for i in range(30)],
                            [f"s{j}" for j in range(6)])
demand = pd.Series(1.0, index=tt.origin_ids)
p_median(tt, demand, 2, method="exact")
mclp(tt, demand, 2, 10.0, method="exact")
allocate_resources(pd.Series([10.0, 20.0], index=["a", "b"]),
                   [ResourcePool("doctors", 1.0, 25.0, 2.0)], unmet_penalty=1.0)
"""


def test_a_model_run_prints_nothing_not_even_the_highs_banner() -> None:
    """HiGHS prints its banner once per process, when the first instance is built: a fresh
    interpreter shows it where the models do not silence it (array route and PuLP route)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _QUIET_RUN], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == ""


def test_a_model_run_in_this_process_prints_nothing(capfd) -> None:
    tt, demand = _instance(60, 8)
    p_median(tt, demand, 2, method="exact")
    budgeted_siting(tt, demand, [SupplyOption("clinic", 1.0, standard=10.0)], 2.0, msg=False)
    out, _ = capfd.readouterr()
    assert out == ""
