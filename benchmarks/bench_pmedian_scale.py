"""Scaling of the p-median / MCLP heuristics (greedy + interchange + Lagrangian bound).

Cases (seeded, synthetic Euclidean minutes at 40 km/h in a 30 km square, 1–500 persons per
demand point):

1. 2,000 × 200 dense, p = 10: accessplan against spopt ``PMedian`` + HiGHS in the same run
   (spopt measured once: it needs minutes). Same objective to 1e-6 relative, ≥ 50× faster;
   the floor uses the run that stops at a proven 0.1 % gap, the run to a 1e-9 gap is shown too.
2. 5,000 × 500 dense, p = 20: ≤ 0.1 % proven gap in under 60 s (run with a 60 s limit).
3. 100,000 × 2,000 sparse (the 200 nearest candidates of each demand point), p = 50:
   finishes in minutes (300 s limit) and reports its proven gap, which must be a bound that
   means something (≤ 10 %).
4. MCLP on the São José dos Campos SJC818 instance (Lorena & Pereira 2002) at S = 800 m and
   1,200 m, against the optima stored next to the data in ``../shared/data/mclp`` (read at
   run time, never copied: non-commercial licence).

Run: ``.venv/bin/python benchmarks/bench_pmedian_scale.py`` (``--quick`` for a small smoke run).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import scipy.sparse as sp

from benchmarks._harness import floor_line, measure, print_table

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SPEED_KMH = 40.0
SPOPT_TIMEOUT_S = 1800.0  # wall clock; spopt + HiGHS needs minutes on this instance
SIDE_M = 30_000.0
BIG_GAP_FLOOR = 0.10  # the large sparse run's proven gap must be a meaningful bound


# --------------------------------------------------------------------------- instances
def euclidean_instance(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Demand and candidate coordinates (metres) and persons per demand point."""
    rng = np.random.default_rng(seed)
    demand = rng.random((n, 2)) * SIDE_M
    sites = rng.random((m, 2)) * SIDE_M
    weights = rng.integers(1, 501, size=n).astype(float)
    return demand, sites, weights


def dense_minutes(demand: np.ndarray, sites: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import cdist

    return cdist(demand, sites) / 1000.0 / SPEED_KMH * 60.0


def nearest_minutes(demand: np.ndarray, sites: np.ndarray, k: int) -> sp.csr_array:
    """Sparse minutes to the k nearest candidates of each demand point."""
    from scipy.spatial import cKDTree

    dist, idx = cKDTree(sites).query(demand, k=k, workers=2)
    n = demand.shape[0]
    indptr = np.arange(0, n * k + 1, k)
    order = np.argsort(idx, axis=1)
    cols = np.take_along_axis(idx, order, axis=1).ravel()
    minutes = np.take_along_axis(dist, order, axis=1).ravel() / 1000.0 / SPEED_KMH * 60.0
    return sp.csr_array((minutes, cols, indptr), shape=(n, sites.shape[0]))


def sjc_instance(name: str, standard_m: float) -> tuple[sp.csr_array, np.ndarray]:
    lines = (SHARED_DATA / "mclp" / f"{name}.txt").read_text().split("\n")[1:]
    table = np.array([list(map(float, ln.split())) for ln in lines if ln.strip()])
    xy, demand = table[:, :2], table[:, 2]
    from scipy.spatial.distance import cdist

    return sp.csr_array(cdist(xy, xy) <= standard_m), demand


def sjc_optimum(name: str, standard_m: float, p: int) -> float:
    path = SHARED_DATA / "mclp" / "sjc_mclp_optimal_computed_highs.csv"
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["instance"] == name and float(row["S"]) == standard_m and int(row["p"]) == p:
                return float(row["optimal_covered_demand"])
    raise KeyError((name, standard_m, p))


# --------------------------------------------------------------------------- measured calls
def run_heuristic(
    n: int, m: int, p: int, seed: int, nearest: int | None, repeats: int, options: dict
) -> dict:
    """Build the instance once, then time ``p_median_heuristic`` ``repeats`` times."""
    from accessplan.optimize.heuristics import p_median_heuristic

    demand, sites, weights = euclidean_instance(n, m, seed)
    cost = (
        dense_minutes(demand, sites) if nearest is None else nearest_minutes(demand, sites, nearest)
    )
    nnz = cost.size if nearest is None else cost.nnz
    warm_kernels()  # load the compiled kernels in this process before timing, like an import
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = p_median_heuristic(cost, weights, p, **options)
        times.append(time.perf_counter() - t0)
    return {
        "seconds": times,
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "nnz": nnz,
        "iterations": result.iterations,
    }


def run_public_p_median(n: int, m: int, p: int, seed: int, repeats: int) -> dict:
    """The public ``p_median(..., method="auto")`` on the same instance, when it exists."""
    import pandas as pd

    from accessplan.optimize import median
    from accessplan.traveltimes import TravelTimes

    demand, sites, weights = euclidean_instance(n, m, seed)
    tt = TravelTimes.from_dense(dense_minutes(demand, sites), range(n), range(m))
    population = pd.Series(weights, index=tt.origin_ids)
    times, plan = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        plan = median.p_median(tt, population, p, method="auto")
        times.append(time.perf_counter() - t0)
    return {"seconds": times, "objective": plan.objective, "bound": plan.bound, "gap": plan.gap}


def run_spopt(n: int, m: int, p: int, seed: int) -> dict:
    """spopt ``PMedian.from_cost_matrix(...).solve(pulp.HiGHS(msg=False))``, build included."""
    import pulp
    from spopt.locate import PMedian

    demand, sites, weights = euclidean_instance(n, m, seed)
    cost = dense_minutes(demand, sites)
    t0 = time.perf_counter()
    model = PMedian.from_cost_matrix(cost, weights, p_facilities=p)
    model.solve(pulp.HiGHS(msg=False))
    seconds = time.perf_counter() - t0
    return {"seconds": [seconds], "objective": float(pulp.value(model.problem.objective))}


def run_mclp(name: str, standard_m: float, p: int, repeats: int) -> dict:
    from accessplan.optimize.heuristics import mclp_heuristic

    cover, demand = sjc_instance(name, standard_m)
    warm_kernels()
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = mclp_heuristic(cover, demand, p, time_limit=30.0)
        times.append(time.perf_counter() - t0)
    return {
        "seconds": times,
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "nnz": cover.nnz,
    }


# --------------------------------------------------------------------------- table
def _row(case: str, size: str, p: int, method: str, out: dict, peak: float, nnz: int) -> dict:
    med = statistics.median(out["seconds"])
    print(
        f"done: {case} {size} p={p} {method}: {med:.2f} s, objective {out['objective']:.6f}",
        file=sys.stderr,
        flush=True,
    )
    return {
        "case": case,
        "size": size,
        "p": p,
        "method": method,
        "repeats": len(out["seconds"]),
        "median_s": med,
        "Mnnz/s": nnz / med / 1e6 if med > 0 else float("nan"),
        "peak_MiB": peak,
        "objective": out["objective"],
        "bound": out.get("bound", float("nan")),
        "gap_%": 100 * out["gap"] if "gap" in out else float("nan"),
    }


def _public_p_median_available() -> bool:
    try:
        from accessplan.optimize import median
    except ImportError:
        return False
    return hasattr(median, "p_median")


def warm_kernels() -> None:
    """Compile (or load from numba's on-disk cache) the heuristics' kernels, before any
    timing: compiling is a one-off per installation (about 10 s), loading the cached kernels
    a one-off per process (about 0.4 s), like an import; neither is part of a solve."""
    from accessplan.optimize.heuristics import mclp_heuristic, p_median_heuristic

    rng = np.random.default_rng(0)
    cost, weights = rng.random((40, 8)), rng.random(40)
    p_median_heuristic(cost, weights, 3)
    p_median_heuristic(cost, weights, 3, unserved_cost=0.5)
    mclp_heuristic(cost < 0.3, weights, 2)


def main(quick: bool, extras: bool = True, cases: str = "gap,big,mclp,spopt") -> int:
    warm_kernels()
    if quick:
        cmp_size, gap_size, big_size = (300, 40, 5), (600, 60, 6), (3_000, 200, 20, 40)
        mclp_cases = [("SJC324", 800.0, 2)]
        repeats, big_limit = 1, 20.0
    else:
        cmp_size, gap_size, big_size = (2_000, 200, 10), (5_000, 500, 20), (100_000, 2_000, 50, 200)
        mclp_cases = [
            (s, S, p) for S in (800.0, 1200.0) for s, p in (("SJC818", 5), ("SJC818", 10))
        ]
        repeats, big_limit = 3, 300.0
    rows, floors = [], []

    if "gap" in cases:
        # 2. proven gap within a minute
        n2, m2, p2 = gap_size
        gap_run = measure(
            run_heuristic,
            n2,
            m2,
            p2,
            2,
            None,
            1,
            {"gap_tolerance": 1e-3, "time_limit": 60.0},
            repeats=1,
        )
        rows.append(
            _row(
                "0.1% gap",
                f"{n2:,}×{m2:,}",
                p2,
                "accessplan heuristic",
                gap_run.value,
                gap_run.peak_mib,
                n2 * m2,
            )
        )

    if "big" in cases:
        # 3. large sparse run
        n3, m3, p3, k3 = big_size
        big = measure(
            run_heuristic,
            n3,
            m3,
            p3,
            3,
            k3,
            1,
            {"gap_tolerance": 1e-3, "time_limit": big_limit},
            repeats=1,
            timeout=3600,
        )
        rows.append(
            _row(
                "large sparse",
                f"{n3:,}×{m3:,} ({k3} nearest)",
                p3,
                "accessplan heuristic",
                big.value,
                big.peak_mib,
                big.value["nnz"],
            )
        )

    mclp_ok = True
    if "mclp" in cases:
        # 4. MCLP, SJC
        for name, standard, pm in mclp_cases:
            res = measure(run_mclp, name, standard, pm, repeats, repeats=1)  # 30 s limit each
            row = _row(
                f"MCLP S={standard:g} m",
                name,
                pm,
                "accessplan heuristic",
                res.value,
                res.peak_mib,
                res.value["nnz"],
            )
            optimum = sjc_optimum(name, standard, pm)
            row["agree"] = res.value["objective"] == optimum
            row["optimum"] = optimum
            mclp_ok &= row["agree"]
            rows.append(row)

    if "spopt" in cases:
        # 1. against spopt
        n, m, p = cmp_size
        size = f"{n:,}×{m:,}"
        tolerance = {"gap_tolerance": 1e-3}
        ours = measure(run_heuristic, n, m, p, 1, None, repeats, tolerance, repeats=1, timeout=3600)
        rows.append(
            _row(
                "vs spopt",
                size,
                p,
                "accessplan heuristic, gap≤0.1%",
                ours.value,
                ours.peak_mib,
                n * m,
            )
        )
        if not quick and extras:  # the run to a 1e-9 proven gap, shown beside the floor run
            proof = measure(run_heuristic, n, m, p, 1, None, 1, {}, repeats=1, timeout=3600)
            rows.append(
                _row(
                    "vs spopt",
                    size,
                    p,
                    "accessplan heuristic, gap≤1e-9",
                    proof.value,
                    proof.peak_mib,
                    n * m,
                )
            )
        public = None
        if extras and _public_p_median_available():
            public = measure(run_public_p_median, n, m, p, 1, 1, repeats=1, timeout=3600)
            rows.append(
                _row(
                    "vs spopt",
                    size,
                    p,
                    "accessplan p_median auto",
                    public.value,
                    public.peak_mib,
                    n * m,
                )
            )
        try:
            peer = measure(run_spopt, n, m, p, 1, repeats=1, timeout=SPOPT_TIMEOUT_S)
            peer_row = _row(
                "vs spopt", size, p, "spopt PMedian + HiGHS", peer.value, peer.peak_mib, n * m
            )
            rows.append(peer_row)
            peer_obj, peer_s = peer.value["objective"], peer_row["median_s"]
        except TimeoutError:
            peer_obj, peer_s = float("nan"), SPOPT_TIMEOUT_S
            rows.append(
                {
                    "case": "vs spopt",
                    "size": size,
                    "p": p,
                    "method": f"spopt (timeout {SPOPT_TIMEOUT_S:g} s)",
                }
            )
        ours_s = statistics.median(ours.value["seconds"])
        for r in rows:
            if r.get("case") == "vs spopt" and "objective" in r and np.isfinite(peer_obj):
                r["agree"] = abs(r["objective"] - peer_obj) <= 1e-6 * abs(peer_obj)
                r["× spopt"] = peer_s / r["median_s"]

    columns = [
        "case",
        "size",
        "p",
        "method",
        "repeats",
        "median_s",
        "Mnnz/s",
        "peak_MiB",
        "objective",
        "bound",
        "gap_%",
        "optimum",
        "agree",
        "× spopt",
    ]
    print_table(rows, columns)

    if "spopt" in cases:
        same = bool(np.isfinite(peer_obj)) and abs(
            ours.value["objective"] - peer_obj
        ) <= 1e-6 * abs(peer_obj)
        floors.append(
            floor_line(
                f"p-median {size} p={p} same objective as spopt",
                f"{ours.value['objective']:.6f} vs {peer_obj:.6f}",
                "relative difference ≤ 1e-6",
                same,
            )
        )
        speedup = peer_s / ours_s
        floors.append(
            floor_line(
                f"p-median {size} p={p} speed vs spopt+HiGHS",
                f"{speedup:.1f}× ({ours_s:.2f} s vs {peer_s:.1f} s)",
                "≥ 50×",
                speedup >= 50,
            )
        )
    if "gap" in cases:
        g_s = statistics.median(gap_run.value["seconds"])
        floors.append(
            floor_line(
                f"p-median {n2:,}×{m2:,} p={p2} proven gap",
                f"{100 * gap_run.value['gap']:.4f} % in {g_s:.1f} s",
                "≤ 0.1 % in < 60 s",
                gap_run.value["gap"] <= 1e-3 and g_s < 60,
            )
        )
    if "big" in cases:
        b_s = statistics.median(big.value["seconds"])
        floors.append(
            floor_line(
                f"p-median {n3:,}×{m3:,} sparse heuristic",
                f"{b_s:.0f} s, proven gap {100 * big.value['gap']:.3f} %",
                "finishes in minutes, gap reported",
                b_s <= big_limit * 1.1 and np.isfinite(big.value["gap"]),
            )
        )
        floors.append(
            floor_line(
                f"p-median {n3:,}×{m3:,} sparse proven gap",
                f"{100 * big.value['gap']:.3f} %",
                f"≤ {100 * BIG_GAP_FLOOR:g} %",
                big.value["gap"] <= BIG_GAP_FLOOR,
            )
        )
    if "mclp" in cases:
        floors.append(
            floor_line(
                "MCLP SJC at the stored optima",
                f"{sum(r.get('agree') is True for r in rows if 'optimum' in r)}/{len(mclp_cases)}",
                "all",
                mclp_ok,
            )
        )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument(
        "--floors-only",
        action="store_true",
        help="leave out the rows that no floor needs (run to a 1e-9 gap, public p_median auto)",
    )
    parser.add_argument(
        "--cases", default="gap,big,mclp,spopt", help="comma-separated subset of the cases to run"
    )
    args = parser.parse_args()
    sys.exit(main(args.quick, extras=not args.floors_only, cases=args.cases))
