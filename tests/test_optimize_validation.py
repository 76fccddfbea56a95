"""Validation against published optima (OR-Library, spopt San Francisco, SJC) and spopt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pulp
import pytest
from spopt.locate import LSCP, MCLP, PCenter, PMedian

from accessplan.optimize import lscp, mclp, p_center, p_median
from accessplan.optimize._orlib import read_optima, read_pmed
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
