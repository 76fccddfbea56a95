"""OR-Library p-median benchmark: pmed1–pmed40 solved exactly, against the published optima.

Run ``.venv/bin/python benchmarks/bench_pmedian.py`` (all 40 instances) or ``--quick`` (pmed1,
pmed2, pmed5). Each instance is read (last occurrence of a repeated edge counts, shortest paths
by Dijkstra), solved by :func:`accessplan.optimize.p_median` with ``method="exact"`` in a fresh
process, and compared with the optimum in ``../shared/data/pmed/pmed_optimal.csv``. For the
100-vertex instances, spopt's ``PMedian`` with HiGHS runs on the same matrix as a peer.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._harness import floor_line, measure, print_table

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pmed"


def solve_accessplan(name: str, time_limit: float) -> tuple[float, float, str, dict]:
    from accessplan.optimize import p_median
    from accessplan.optimize._orlib import read_pmed

    inst = read_pmed(DATA / f"{name}.txt")
    plan = p_median(
        inst.travel_times(), inst.demand(), inst.p, method="exact", time_limit=time_limit
    )
    lag = plan.details.get("lagrangian", {})
    return plan.objective, plan.bound, plan.status, {"closed": lag.get("closed_sites", 0)}


def solve_spopt(name: str) -> float:
    import pulp
    from spopt.locate import PMedian

    from accessplan.optimize._orlib import read_pmed

    inst = read_pmed(DATA / f"{name}.txt")
    model = PMedian.from_cost_matrix(inst.distances, inst.demand().to_numpy(), inst.p)
    model.solve(pulp.HiGHS(msg=False))
    return float(pulp.value(model.problem.objective))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="pmed1, pmed2 and pmed5 only")
    parser.add_argument("--repeats", type=int, default=1, help="runs per instance (median)")
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per instance")
    parser.add_argument("--no-peer", action="store_true", help="skip spopt")
    args = parser.parse_args(argv)
    from accessplan.optimize._orlib import read_optima

    optima = read_optima(DATA / "pmed_optimal.csv")
    names = ["pmed1", "pmed2", "pmed5"] if args.quick else [f"pmed{k}" for k in range(1, 41)]
    rows, at_optimum, t_start = [], 0, time.perf_counter()
    for name in names:
        header = (DATA / f"{name}.txt").read_text().split()[:3]
        n, p = int(header[0]), int(header[2])
        run = measure(solve_accessplan, name, args.time_limit, repeats=args.repeats)
        objective, bound, status, extra = run.value
        optimum = float(optima[name])
        ok = abs(objective - optimum) < 1e-6 and status == "optimal"
        at_optimum += ok
        row = {
            "instance": name,
            "n": n,
            "p": p,
            "objective": objective,
            "optimum": optimum,
            "gap_to_optimum_%": 100 * (objective - optimum) / optimum,
            "proven_gap_%": 100 * abs(objective - bound) / max(abs(objective), 1e-9),
            "status": status,
            "sites_fixed_closed": extra["closed"],
            "seconds": run.median,
            "peak_MiB": run.peak_mib,
            "at_optimum": "yes" if ok else "NO",
        }
        if n <= 100 and not args.no_peer:
            peer = measure(solve_spopt, name, repeats=args.repeats)
            row["spopt_highs_s"] = peer.median
            row["speedup_vs_spopt"] = peer.median / max(run.median, 1e-9)
            row["agree"] = "yes" if abs(peer.value - objective) < 1e-6 else "NO"
        rows.append(row)
        print(f"{name}: {objective:g} (optimum {optimum:g}) {run.median:.1f} s", flush=True)
    total = time.perf_counter() - t_start
    columns = [
        "instance",
        "n",
        "p",
        "objective",
        "optimum",
        "gap_to_optimum_%",
        "proven_gap_%",
        "status",
        "sites_fixed_closed",
        "seconds",
        "peak_MiB",
        "spopt_highs_s",
        "speedup_vs_spopt",
        "agree",
        "at_optimum",
    ]
    print_table(rows, columns)
    print(f"total wall time: {total:.1f} s for {len(names)} instances")
    floor_line(
        f"all {len(names)} at published optimum",
        f"{at_optimum}/{len(names)} at optimum in {total:.0f} s",
        f"{len(names)}/{len(names)}",
        at_optimum == len(names),
    )
    return 0 if at_optimum == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())
