"""The operations model: the embedded region's re-solve, a national network, and a PuLP peer.

* **Embedded region**: the 31 facilities of Ngazidja × 4 resource types (nurses, beds,
  ventilators, mobile clinics) × a 24-period horizon of 60 minutes; transfer times τ from
  the drive network (:func:`accessplan.prepare_network`, :func:`accessplan.travel_times`
  between the facility points, arcs to each facility's 4 nearest). Timed: the first solve
  (build + solve, cold) and one warm re-solve (the next epoch: the state after the committed
  period, the horizon moved on by one, the previous solution and basis shifted).
* **National network**: 500 synthetic facilities in a 600 km square × 10 types (two moving by
  transfer on arcs to the 4 nearest) × 48 periods; one cold build + solve.
* **PuLP peer**: the same model written plainly with PuLP (a variable and a constraint at a
  time) and solved by PuLP's HiGHS interface at the same gap, in the same run, on the
  embedded instance and on a 120-facility × 10-type × 24-period one.

Every call runs in a fresh process (:mod:`benchmarks._harness`); the table shows the median of
the repeats, the peak resident memory, the ratio to the peer and whether the objectives agree
(within the MIP gap). Demand: Poisson around 1.2 × the mean, seeded.

Run: ``.venv/bin/python benchmarks/bench_operations.py`` (``--quick``: one repeat, no
national run).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from typing import Any

import numpy as np

from benchmarks._harness import floor_line, measure, print_table

GAP = 1e-4
WARM_TARGET = 0.5
NATIONAL_TARGET = 30.0
PEER_RATIO = 10.0
#: Seconds the national solve may take (the dual simplex has no feasible plan before it ends).
NATIONAL_LIMIT = 900.0
#: Consecutive warm re-solves timed on the embedded region.
WARM_EPOCHS = 6


def national_types() -> tuple[Any, ...]:
    """The four default types and six more: five staff categories and ambulances (transfers)."""
    from accessplan.operations.model import ResourceType
    from accessplan.operations.synthetic import default_types

    staff = tuple(
        ResourceType(
            f"staff_{k}",
            unit_cost=2.0 + 0.3 * k,
            fixed_cost=1.0,
            penalty=50.0 + 5 * k,
            critical=k < 2,
        )
        for k in range(5)
    )
    ambulances = ResourceType(
        "ambulances",
        unit_cost=5.0,
        fixed_cost=2.0,
        penalty=70.0,
        integer=True,
        transfers=True,
        transfer_cost_per_minute=0.3,
    )
    return (*default_types(), *staff, ambulances)


def embedded_instance() -> dict[str, Any]:
    """The embedded region's network (τ from its drive network) and a 25-period demand."""
    from accessplan.operations.synthetic import region_network
    from accessplan.regions import load_region

    t0 = time.perf_counter()
    network, base = region_network(load_region("ngazidja"))
    seconds = time.perf_counter() - t0
    shape = (24 + WARM_EPOCHS + 1, *base.shape)
    demand = np.random.default_rng(0).poisson(np.broadcast_to(1.2 * base, shape))
    return {"network": network, "demand": demand.astype(float), "tau_seconds": seconds}


def synthetic_instance(n: int, periods: int, seed: int = 1) -> dict[str, Any]:
    from accessplan.operations.synthetic import synthetic_network

    network, base = synthetic_network(
        n, types=national_types(), seed=seed, extent_km=600.0, neighbours=4, mean_demand=8.0
    )
    demand = np.random.default_rng(seed).poisson(
        np.broadcast_to(1.2 * base, (periods, *base.shape))
    )
    return {"network": network, "demand": demand.astype(float)}


def _problem(instance: dict[str, Any], h: int) -> Any:
    from accessplan.operations.rolling import State

    network = instance["network"]
    return network.problem(instance["demand"][:h], 0, State(np.asarray(network.initial, float)))


def array_cold(instance: dict[str, Any], h: int, time_limit: float | None = None) -> dict[str, Any]:
    """Build + solve one horizon (no start, no duals), within ``time_limit`` seconds.

    The solve builds the arrays of the whole model and of each independent block of types,
    and solves the blocks apart, two at a time (:mod:`accessplan.operations.blocks`), each
    through its compact form where exact (:mod:`accessplan.operations.compact`); the builds
    are inside ``solve_s``.
    """
    from accessplan.operations.solve import solve_operations

    problem = _problem(instance, h)
    plan = solve_operations(problem, gap=GAP, duals=False, time_limit=time_limit)
    return {
        "build_s": float("nan"),
        "solve_s": plan.seconds,
        "objective": plan.objective,
        "bound": plan.bound,
        "status": plan.status,
        "columns": plan.arrays.A.shape[1],
        "rows": plan.arrays.A.shape[0],
    }


def array_warm(instance: dict[str, Any], h: int, epochs: int = WARM_EPOCHS) -> dict[str, Any]:
    """``epochs`` consecutive warm re-solves as the loop makes them (each timed alone): commit
    the first period, move the state on (units in place, transfers under way), shift the
    solution and basis by one period and solve the next horizon, with its duals."""
    from accessplan.operations.rolling import State, departures_of, shift_warm_start
    from accessplan.operations.solve import solve_operations

    network, demand = instance["network"], instance["demand"]
    plan = solve_operations(_problem(instance, h), gap=GAP)
    state = State(np.asarray(network.initial, float))
    times = []
    for t in range(1, epochs + 1):
        state = state.advance(plan.mobile[0], departures_of(plan, 0))
        t0 = time.perf_counter()
        problem = network.problem(demand[t : t + h], t, state)
        start = shift_warm_start(plan.warm, plan, problem, 1)
        plan = solve_operations(problem, gap=GAP, warm=start)
        times.append(time.perf_counter() - t0)
    return {
        "build_s": float("nan"),
        "solve_s": float(np.median(times)),
        "max_s": float(np.max(times)),
        "objective": plan.objective,
        "bound": plan.bound,
        "status": plan.status,
        "columns": plan.arrays.A.shape[1],
        "rows": plan.arrays.A.shape[0],
    }


def pulp_cold(instance: dict[str, Any], h: int) -> dict[str, Any]:
    """The same horizon built variable by variable with PuLP and solved by ``pulp.HiGHS``."""
    import pulp

    t0 = time.perf_counter()
    model = pulp_model(_problem(instance, h))
    built = time.perf_counter() - t0
    model.solve(pulp.HiGHS(msg=False, gapRel=GAP))
    value = pulp.value(model.objective)
    return {
        "build_s": built,
        "solve_s": time.perf_counter() - t0 - built,
        "objective": float(value),
        "bound": float("nan"),
        "status": pulp.LpStatus[model.status].lower(),
        "columns": len(model.variables()),
        "rows": len(model.constraints),
    }


def pulp_model(problem: Any) -> Any:
    """The operations model (:mod:`accessplan.operations.model`) written plainly with PuLP."""
    import pulp

    s, h, n, m = problem.shape
    types, arcs = problem.types, problem.arcs
    qtypes = [int(j) for j in problem.transfer_types]
    H, disc = float(problem.smoothing), [float(problem.beta) ** t for t in range(h)]

    def bound(v: float) -> float | None:
        return None if not np.isfinite(v) else float(v)

    def cat(j: int) -> str:
        return "Integer" if types[j].integer else "Continuous"

    prob = pulp.LpProblem("operations", pulp.LpMinimize)
    x, a, r, z, y, u = {}, {}, {}, {}, {}, {}
    for t in range(h):
        for i in range(n):
            for j in range(m):
                x[t, i, j] = pulp.LpVariable(f"x_{t}_{i}_{j}", 0, None, cat(j))
                ramp = bound(problem.ramp[i, j])
                a[t, i, j] = pulp.LpVariable(f"a_{t}_{i}_{j}", 0, ramp, cat(j))
                r[t, i, j] = pulp.LpVariable(f"r_{t}_{i}_{j}", 0, ramp, cat(j))
                for sc in range(s):
                    fixed = float(problem.fixed[t, i, j])
                    y[sc, t, i, j] = pulp.LpVariable(f"y_{sc}_{t}_{i}_{j}", 0, fixed, cat(j))
                    cap = bound(problem.unmet_cap[i, j])
                    u[sc, t, i, j] = pulp.LpVariable(f"u_{sc}_{t}_{i}_{j}", 0, cap)
        for e in range(len(arcs)):
            for j in qtypes:
                z[t, e, j] = pulp.LpVariable(f"z_{t}_{e}_{j}", 0, None, cat(j))
    equity = problem.has_equity
    hi = {(sc, t): pulp.LpVariable(f"hi_{sc}_{t}", 0) for sc in range(s) for t in range(h)}
    lo = {(sc, t): pulp.LpVariable(f"lo_{sc}_{t}", None) for sc in range(s) for t in range(h)}
    cost = []
    for t in range(h):
        for i in range(n):
            for j in range(m):
                cost.append(disc[t] * problem.unit_cost[i, j] * x[t, i, j])
                cost.append(H * a[t, i, j] + H * r[t, i, j])
                for sc in range(s):
                    p = float(problem.probabilities[sc]) * disc[t]
                    cost.append(p * problem.fixed_cost[i, j] * y[sc, t, i, j])
                    cost.append(p * problem.penalty[i, j] * u[sc, t, i, j])
        for e in range(len(arcs)):
            for j in qtypes:
                per_min = types[j].transfer_cost_per_minute
                cost.append((disc[t] * arcs.minutes[e] * per_min + 2 * H) * z[t, e, j])
    prob += pulp.lpSum(cost)
    for t in range(h):
        for i in range(n):
            for j in range(m):
                for sc in range(s):
                    cover = x[t, i, j] + y[sc, t, i, j] + u[sc, t, i, j]
                    prob += cover >= float(problem.demand[sc, t, i, j])
                flow = x[t, i, j] - a[t, i, j] + r[t, i, j]
                if t > 0:
                    flow -= x[t - 1, i, j]
                for e in range(len(arcs)):
                    if j in qtypes and arcs.src[e] == i:
                        flow += z[t, e, j]
                    if j in qtypes and arcs.dst[e] == i and t - arcs.periods[e] >= 0:
                        flow -= z[t - arcs.periods[e], e, j]
                rhs = float(problem.arrivals[t, i, j]) + (problem.initial[i, j] if t == 0 else 0)
                prob += flow == float(rhs)
        for j in range(m):
            used = [x[t, i, j] for i in range(n)]
            if j in qtypes:
                for e in range(len(arcs)):
                    for d in range(int(arcs.periods[e])):
                        if t - d >= 0:
                            used.append(z[t - d, e, j])
            prob += pulp.lpSum(used) <= float(problem.pool[t, j] - problem.in_transit[t, j])
        if equity:
            crit = [int(j) for j in problem.critical_types]
            for sc in range(s):
                for i in range(n):
                    dem = float(sum(problem.demand[sc, t, i, j] for j in crit))
                    if dem <= 0:
                        continue
                    share = pulp.lpSum(u[sc, t, i, j] * (1.0 / dem) for j in crit)
                    prob += share - hi[sc, t] <= 0
                    prob += share - lo[sc, t] >= 0
                prob += hi[sc, t] - lo[sc, t] <= float(problem.gamma)
    return prob


def _row(case: str, route: str, size: str, m: Any, peer: Any | None) -> dict[str, Any]:
    v = m.value
    total = v["solve_s"] if "max_s" in v else m.median
    row: dict[str, Any] = {
        "case": case,
        "route": route,
        "size (n×m×h)": size,
        "columns": f"{v['columns']:,}",
        "rows": f"{v['rows']:,}",
        "median_s": total,
        "build_s": v["build_s"],
        "solve_s": v["solve_s"],
        "cols/s": v["columns"] / total,
        "peak_MiB": m.peak_mib,
        "objective": f"{v['objective']:,.2f}",
        "status": v["status"],
    }
    if peer is not None:
        row["x_vs_pulp"] = peer.median / total
        a, b = v["objective"], peer.value["objective"]
        row["agree"] = abs(a - b) <= 2 * GAP * max(abs(a), abs(b)) + 1e-6
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat, no national run")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    embedded = embedded_instance()
    medium = synthetic_instance(120, 24, seed=2)
    rows: list[dict[str, Any]] = []
    timing = {"repeats": repeats, "timeout": 1800}
    cold = measure(array_cold, embedded, 24, warmup=1, **timing)
    warm = measure(array_warm, embedded, 24, **timing)
    peer = measure(pulp_cold, embedded, 24, repeats=1, timeout=1800)
    size = "31×4×24"
    rows.append(_row("embedded", "array cold", size, cold, peer))
    rows.append(
        _row("embedded", f"array warm re-solve (median of {WARM_EPOCHS})", size, warm, None)
    )
    rows.append(_row("embedded", "pulp cold", size, peer, None))
    mid_cold = measure(array_cold, medium, 24, **timing)
    mid_peer = measure(pulp_cold, medium, 24, repeats=1, timeout=1800)
    rows.append(_row("synthetic", "array cold", "120×10×24", mid_cold, mid_peer))
    rows.append(_row("synthetic", "pulp cold", "120×10×24", mid_peer, None))
    national, national_error = None, ""
    if not args.quick:
        try:
            national = measure(
                array_cold,
                synthetic_instance(500, 48),
                48,
                NATIONAL_LIMIT,
                repeats=1,
                timeout=NATIONAL_LIMIT + 600,
            )
            rows.append(_row("national", "array cold", "500×10×48", national, None))
        except (RuntimeError, TimeoutError) as exc:
            national_error = str(exc)
            rows.append({"case": "national", "route": "array cold", "status": "no plan"})
    columns = [
        "case",
        "route",
        "size (n×m×h)",
        "columns",
        "rows",
        "median_s",
        "build_s",
        "solve_s",
        "cols/s",
        "peak_MiB",
        "objective",
        "status",
        "x_vs_pulp",
        "agree",
    ]
    print(
        f"operations model, gap {GAP:g}, median of {repeats} run(s) (PuLP: 1); "
        f"τ from the drive network in {embedded['tau_seconds']:.1f} s"
    )
    print_table(rows, columns)
    resolve = warm.value["solve_s"]
    floor_line(
        "embedded_warm_resolve",
        f"median {resolve:.3f} s, slowest {warm.value['max_s']:.3f} s of {WARM_EPOCHS} epochs",
        f"< {WARM_TARGET:g} s",
        resolve < WARM_TARGET,
    )
    if national_error:
        floor_line(
            "national_500x10x48",
            f"no plan within {NATIONAL_LIMIT:g} s ({national_error[:120]})",
            f"< {NATIONAL_TARGET:g} s",
            False,
        )
    if national is not None:
        floor_line(
            "national_500x10x48",
            f"{national.median:.1f} s ({national.value['status']})",
            f"< {NATIONAL_TARGET:g} s",
            national.median < NATIONAL_TARGET and national.value["status"] == "optimal",
        )
    for name, ours, theirs in (("embedded", cold, peer), ("synthetic_120", mid_cold, mid_peer)):
        ratio = theirs.median / ours.median
        a, b = ours.value["objective"], theirs.value["objective"]
        agree = abs(a - b) <= 2 * GAP * max(abs(a), abs(b)) + 1e-6
        floor_line(
            f"pulp_peer_{name}",
            f"{ratio:.1f}x faster, objectives {'agree' if agree else 'differ'}",
            f">= {PEER_RATIO:g}x and equal objective",
            ratio >= PEER_RATIO and agree,
        )


if __name__ == "__main__":
    main()
