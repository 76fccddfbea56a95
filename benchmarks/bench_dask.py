"""Travel times and a measure on a Dask LocalCluster of 1 and 2 workers against one process.

The synthetic region of :func:`accessplan.national.synthetic_region_arrays` (seed 11; default
250k road nodes, 100k populated cells, 400 facilities, 45-minute cutoff) is prepared once
here; each configuration then runs in a fresh process (:mod:`benchmarks._harness`):

* ``single, 1 thread``: :func:`accessplan.travel_times` with ``workers=1``;
* ``single, default threads``: the same with one search thread per core;
* ``dask, N workers``: :func:`accessplan.compute.travel_times` on a LocalCluster of N worker
  processes (one thread each), facility blocks of ``--block`` destinations; the cluster is
  started and warmed up (one call) before the timed calls, and its start is not in the median.

After the travel times, ``nearest`` is computed on the result (single process) or by
:func:`accessplan.compute.measure` over origin blocks (cluster). Every configuration's
result is hashed (the CSR arrays' bytes and the nearest minutes): "identical" means the same
sha256 as ``single, 1 thread``. Peak memory: VmHWM of the calling process, and of the largest
worker process for the cluster rows. On a machine with 2 cores, 2 workers can at best halve
the time of one; the speed-up floor asks for a gain, not the ideal.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks._harness import floor_line, measure, print_table

COLUMNS = (
    "config",
    "nodes",
    "cells×facilities",
    "pairs",
    "median s",
    "nearest s",
    "speed-up",
    "peak MiB (caller)",
    "peak MiB (worker)",
    "identical",
)


def _peak_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    return float("nan")


def _digest(tt: Any, nearest: Any) -> str:
    m = tt.matrix
    h = hashlib.sha256()
    for part in (m.indptr.astype(np.int64), m.indices.astype(np.int64), m.data):
        h.update(np.ascontiguousarray(part).tobytes())
    h.update(np.ascontiguousarray(nearest.to_numpy(float)).tobytes())
    h.update("|".join(map(str, tt.destination_ids)).encode())
    return h.hexdigest()


def single(routing: Any, cells: Any, sites: Any, cutoff: float, threads: int | None) -> dict:
    """One process: travel times, then nearest; seconds of each."""
    from accessplan import travel_times
    from accessplan.measures.registry import compute

    t0 = time.perf_counter()
    tt = travel_times(routing, cells, sites, cutoff=cutoff, workers=threads)
    t1 = time.perf_counter()
    nearest = compute("nearest", tt, None, sites["capacity"])["total"]
    t2 = time.perf_counter()
    return {"tt": t1 - t0, "nearest": t2 - t1, "pairs": tt.nnz, "digest": _digest(tt, nearest)}


def on_cluster(
    routing: Any, cells: Any, sites: Any, cutoff: float, workers: int, block: int, repeats: int
) -> dict:
    """A LocalCluster of ``workers`` processes: warm-up call, then ``repeats`` timed calls."""
    from accessplan import compute

    with compute.cluster(local_workers=workers) as client:
        assert client is not None
        capacity = sites["capacity"]
        compute.travel_times(
            routing, cells, sites, cutoff=cutoff, client=client, block_facilities=block
        )
        tt_s, nearest_s = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            tt = compute.travel_times(
                routing, cells, sites, cutoff=cutoff, client=client, block_facilities=block
            )
            t1 = time.perf_counter()
            nearest = compute.measure("nearest", tt, None, capacity, client=client)["total"]
            t2 = time.perf_counter()
            tt_s.append(t1 - t0)
            nearest_s.append(t2 - t1)
        worker_peak = max(client.run(_peak_mib).values())
    return {
        "tt": statistics.median(tt_s),
        "nearest": statistics.median(nearest_s),
        "pairs": tt.nnz,
        "digest": _digest(tt, nearest),
        "worker_peak": worker_peak,
    }


def build(nodes: int, cells: int, facilities: int) -> tuple[Any, Any, Any]:
    from accessplan.national import synthetic_region_arrays
    from accessplan.roads import prepare_road_arrays

    region = synthetic_region_arrays(
        n_nodes=nodes, n_origins=cells, n_facilities=facilities, seed=11
    )
    routing = prepare_road_arrays(region.roads, "drive")
    return routing, region.population, region.facilities


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny region (seconds)")
    parser.add_argument("--nodes", type=int, default=250_000, help="road nodes")
    parser.add_argument("--cells", type=int, default=100_000, help="populated cells")
    parser.add_argument("--facilities", type=int, default=400, help="facilities")
    parser.add_argument("--cutoff", type=float, default=45.0, help="minutes")
    parser.add_argument("--block", type=int, default=None, help="facilities per task")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (median)")
    args = parser.parse_args(argv)
    if args.quick:
        args.nodes, args.cells, args.facilities, args.cutoff = 10_000, 4_000, 40, 20.0
    block = args.block or max(1, -(-args.facilities // 8))  # 8 tasks: 4 per worker at 2
    routing, cells, sites = build(args.nodes, args.cells, args.facilities)
    size = {
        "nodes": f"{routing.n_nodes:,}",
        "cells×facilities": f"{len(cells):,}×{len(sites):,}",
    }
    runs: dict[str, dict] = {}
    peaks: dict[str, float] = {}
    for label, threads in (("single, 1 thread", 1), ("single, default threads", None)):
        m = measure(single, routing, cells, sites, args.cutoff, threads, repeats=args.repeats)
        runs[label] = m.value | {"tt": m.median}
        peaks[label] = m.peak_mib
    for workers in (1, 2):
        label = f"dask, {workers} worker{'s' if workers > 1 else ''}"
        m = measure(
            on_cluster,
            routing,
            cells,
            sites,
            args.cutoff,
            workers,
            block,
            args.repeats,
            repeats=1,
        )
        runs[label] = m.value
        peaks[label] = m.peak_mib
    reference = runs["single, 1 thread"]
    rows = []
    for label, run in runs.items():
        rows.append(
            {
                "config": label,
                **size,
                "pairs": f"{run['pairs']:,}",
                "median s": run["tt"],
                "nearest s": run["nearest"],
                "speed-up": reference["tt"] / run["tt"],
                "peak MiB (caller)": peaks[label],
                "peak MiB (worker)": run.get("worker_peak", float("nan")),
                "identical": "yes" if run["digest"] == reference["digest"] else "NO",
            }
        )
    print(
        f"Travel times ({args.cutoff:g}-minute cutoff) and nearest on a Dask LocalCluster vs one "
        f"process, synthetic region (seed 11), {os.cpu_count()} cores, blocks of {block} "
        f"facilities; median of {args.repeats} repeats; speed-up = single, 1 thread / this; "
        "identical = same sha256 of the CSR arrays and the nearest minutes."
    )
    print_table(rows, COLUMNS)
    same = all(r["identical"] == "yes" for r in rows)
    floor_line("identical", "all configs" if same else "differ", "bit-for-bit equal", same)
    one, two = runs["dask, 1 worker"]["tt"], runs["dask, 2 workers"]["tt"]
    if not args.quick:  # a tiny region is all overhead: the gain shows on the full case
        floor_line("two_workers_faster", f"{one / two:.2f}x vs 1 worker", "> 1.2x", one / two > 1.2)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
