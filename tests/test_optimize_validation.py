"""Validation against published optima (OR-Library, spopt San Francisco, SJC) and spopt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pulp
import pytest
import scipy.sparse as sp
from spopt.locate import LSCP, MCLP, PCenter, PMedian

from accessplan.errors import InputError
from accessplan.optimize import (
    SupplyOption,
    budgeted_siting,
    capacitated_mclp,
    capacitated_p_median,
    lscp,
    mclp,
    p_center,
    p_median,
)
from accessplan.optimize._orlib import read_optima, read_pmed
from accessplan.optimize.allocation import facility_demand
from accessplan.traveltimes import TravelTimes

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def test_orlib_reader_keeps_last_duplicate_edge(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("3 3 1\n1 2 5\n2 3 1\n2 1 2\n")
    inst = read_pmed(path)
    assert inst.p == 1 and inst.n == 3
    assert inst.distances[0, 1] == 2.0  # the last listing of edge 1–2 counts
    assert inst.distances[0, 2] == 3.0


@pytest.mark.parametrize("name", ["pmed1", "pmed2", "pmed6", "pmed11"])
def test_orlib_instances_reach_published_optimum(name):
    inst = read_pmed(DATA / "pmed" / f"{name}.txt")
    plan = p_median(inst.travel_times(), inst.demand(), inst.p, method="exact")
    assert plan.objective == read_optima(DATA / "pmed" / "pmed_optimal.csv")[name]
    assert plan.status == "optimal" and plan.gap == 0.0


def _random(n: int, m: int, seed: int):
    rng = np.random.default_rng(seed)
    D = rng.uniform(1, 40, (n, m)).round(3)
    w = rng.integers(1, 500, n).astype(float)
    tt = TravelTimes.from_dense(D, range(n), range(m))
    return D, w, tt, pd.Series(w, index=tt.origin_ids)


def _value(model) -> float:
    return float(pulp.value(model.problem.objective))


@pytest.mark.parametrize(("n", "m", "p", "seed"), [(30, 10, 3, 0), (40, 12, 4, 1), (25, 8, 2, 2)])
def test_objectives_agree_with_spopt(n, m, p, seed):
    D, w, tt, demand = _random(n, m, seed)
    solver = pulp.HiGHS(msg=False)
    S = 12.0
    pm = PMedian.from_cost_matrix(D, w, p).solve(solver)
    assert p_median(tt, demand, p, method="exact").objective == pytest.approx(_value(pm))
    mc = MCLP.from_cost_matrix(D, w, S, p).solve(solver)
    assert mclp(tt, demand, p, S, method="exact").objective == pytest.approx(_value(mc))
    ls = LSCP.from_cost_matrix(D, 20.0).solve(solver)
    assert lscp(tt, demand, 20.0).objective == pytest.approx(_value(ls))
    pc = PCenter.from_cost_matrix(D, p).solve(solver)
    assert p_center(tt, demand, p).objective == pytest.approx(_value(pc))


def _san_francisco():
    folder = DATA / "region" / "peers" / "spopt_sf"
    long = pd.read_csv(folder / "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
    matrix = long.pivot_table(index="DestinationName", columns="name", values="distance")
    matrix = matrix.sort_index().sort_index(axis=1)
    demand = long.groupby("DestinationName")["demand"].first().reindex(matrix.index)
    reference = pd.read_csv(folder / "sf_reference_optima.csv").set_index("model")
    return TravelTimes.from_dense(matrix), demand.astype(float), reference


def test_san_francisco_matches_spopt_published_optima():
    tt, demand, ref = _san_francisco()
    assert lscp(tt, demand, 5000).objective == ref.loc["LSCP", "objective"]
    cover = mclp(tt, demand, 4, 5000, method="exact")
    assert cover.objective == pytest.approx(ref.loc["MCLP", "objective"])
    median = p_median(tt, demand, 4, method="exact")
    assert median.objective == pytest.approx(ref.loc["PMedian", "objective"], rel=1e-9)
    assert median.mean_minutes == pytest.approx(2982.1268579890657, rel=1e-9)
    center = p_center(tt, demand, 4)
    assert center.objective == pytest.approx(ref.loc["PCenter", "objective"], rel=1e-9)


def _sjc(name: str) -> tuple[TravelTimes, pd.Series]:
    table = np.loadtxt(DATA / "mclp" / f"{name}.txt", skiprows=1)
    xy, w = table[:, :2], table[:, 2]
    D = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    ids = np.arange(1, len(w) + 1)
    return TravelTimes.from_dense(D, ids, ids, cutoff=1200.0), pd.Series(w, index=ids)


@pytest.mark.parametrize(("name", "S", "ps"), [("SJC324", 800, [2, 4]), ("SJC402", 1200, [2])])
def test_sjc_mclp_matches_computed_optima(name, S, ps):
    optima = pd.read_csv(DATA / "mclp" / "sjc_mclp_optimal_computed_highs.csv")
    tt, demand = _sjc(name)
    for p in ps:
        expected = optima.query("instance == @name and S == @S and p == @p")[
            "optimal_covered_demand"
        ]
        assert mclp(tt, demand, p, float(S), method="exact").objective == pytest.approx(
            float(expected.iloc[0])
        )


def test_benchmark_quick_run_reaches_optima():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_pmedian.py"), "--quick", "--no-peer"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "floor all 3 at published optimum: 3/3" in result.stdout


# --------------------------------------------------------------------------- cutoff thresholds
def _cutoff_30_instance():
    """Three origins, two sites, every pair within a travel-time cutoff of 30 minutes."""
    minutes = np.array([[5.0, 20.0], [12.0, 8.0], [28.0, 14.0]])
    tt = TravelTimes(sp.csr_array(minutes), ["o1", "o2", "o3"], ["s1", "s2"], cutoff=30.0)
    demand = pd.Series([10.0, 20.0, 30.0], index=tt.origin_ids)
    return tt, demand


_SITES_WITH_CAPACITY = pd.DataFrame({"id": ["s1", "s2"], "capacity": [100.0, 100.0]})


def _budget(tt, demand, **kwargs):
    """One clinic at s2 (14 minutes from the farthest origin) for a budget of one clinic."""
    clinic = SupplyOption("clinic", cost=1.0, standard=kwargs.pop("standard", 20.0))
    sites = pd.DataFrame({"id": ["s2"]})
    return budgeted_siting(tt, demand, [clinic], 1.0, candidates=sites, **kwargs)


_THRESHOLD_CALLS = {
    "mclp": ("standard", lambda tt, d, s: mclp(tt, d, 1, s)),
    "lscp": ("standard", lambda tt, d, s: lscp(tt, d, s)),
    "capacitated_mclp": (
        "standard",
        lambda tt, d, s: capacitated_mclp(tt, d, 1, s, candidates=_SITES_WITH_CAPACITY),
    ),
    "p_median": ("unserved_minutes", lambda tt, d, s: p_median(tt, d, 1, unserved_minutes=s)),
    "capacitated_p_median": (
        "unserved_minutes",
        lambda tt, d, s: capacitated_p_median(
            tt, d, 1, candidates=_SITES_WITH_CAPACITY, unserved_minutes=s
        ),
    ),
    "SupplyOption.standard": (
        "the standard of SupplyOption 'clinic'",
        lambda tt, d, s: _budget(tt, d, standard=s),
    ),
    "existing standard column": (
        "the standard of existing facility 's1'",
        lambda tt, d, s: _budget(
            tt, d, existing=pd.DataFrame({"id": ["s1"], "type": ["clinic"], "standard": [s]})
        ),
    ),
    "budgeted_siting travel_cap": ("travel_cap", lambda tt, d, s: _budget(tt, d, travel_cap=s)),
    "budgeted_siting unserved_minutes": (
        "unserved_minutes",
        lambda tt, d, s: _budget(tt, d, objective="median", unserved_minutes=s),
    ),
    "facility_demand travel_cap": (
        "travel_cap",
        lambda tt, d, s: facility_demand(tt, d, ["s1"], travel_cap=s),
    ),
}


@pytest.mark.parametrize("call", list(_THRESHOLD_CALLS))
def test_threshold_beyond_the_cutoff_is_an_error_naming_the_argument(call):
    tt, demand = _cutoff_30_instance()
    name, run = _THRESHOLD_CALLS[call]
    with pytest.raises(InputError) as err:
        run(tt, demand, 45.0)
    message = str(err.value)
    assert message.startswith(f"{name} = 45 minutes")
    assert "cutoff of 30 minutes" in message
    assert "cutoff >= 45" in message and f"or lower {name}" in message


@pytest.mark.parametrize("call", list(_THRESHOLD_CALLS))
def test_threshold_equal_to_the_cutoff_is_accepted(call):
    tt, demand = _cutoff_30_instance()
    _, run = _THRESHOLD_CALLS[call]
    result = run(tt, demand, 30.0)
    if call == "facility_demand travel_cap":
        assert result.sum() == pytest.approx(60.0)  # every origin within 30 minutes of s1
    else:
        assert result.covered_population == pytest.approx(60.0)  # one site reaches everyone
