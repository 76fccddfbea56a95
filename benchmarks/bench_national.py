"""National scale on one machine: a million-node country end to end, stage by stage.

Cases (each in a fresh process, so its memory is its own):

* ``synthetic-60`` and ``synthetic-120``: :func:`accessplan.synthetic_region_arrays` with
  1,000,000 nodes (a 1,017 × 1,017 street grid, seed 11), 1,000,000 populated cells, 3,000
  facilities and 300 candidate sites; travel times to the facilities with a 60- and a
  120-minute cutoff. Stages: region (generated as arrays), network
  (:func:`accessplan.prepare_network` on the arrays), travel times, 2SFCA (the cutoff as
  catchment), nearest facility, equity summary, and a budgeted plan: the 20 candidate sites
  (equal cost each, so a budget of 20 sites) that cover the most of the persons beyond the
  standard (the 90th percentile of the minutes to the nearest facility, so the farthest tenth),
  by :func:`accessplan.optimize.heuristics.mclp_heuristic` with its proven gap.
* ``networkx-path``: the peer for the first two stages, the same region through
  :func:`accessplan.synthetic_region` and the networkx graph (what a region took before arrays).
* ``comoros-60`` / ``comoros-120``: the whole Comoros from its files (OSM PBF, the WorldPop
  100 m raster of the three islands, the WHO–KEMRI facilities) by
  :func:`accessplan.read_region_arrays`, the same stages; ``comoros-graph`` the peer through
  :func:`accessplan.io.read_roads` and the networkx graph.
* ``network-5M``: a 5,000,000-node street grid alone, generated as arrays and prepared.
* ``population-10M``: a 3,500 × 3,500 raster of 0.0009° (about 100 m) cells, 9.8 million of
  them populated, read as arrays by :func:`accessplan.io.read_population_points`;
  ``population-frame`` the peer, the same raster as a point GeoDataFrame.
* ``engine-250k``: the 250k-node case of ``bench_travel_times.py`` (20,000 cells × 500
  facilities, seed 7, cutoffs 30 and 60 minutes) routed by the block path that large problems
  take and by the dense path, compared entry by entry (they must be identical).

Memory per stage: the peak resident set of the process during that stage (the kernel's
high-water mark is reset before each stage through ``/proc/self/clear_refs``).

Run ``python benchmarks/bench_national.py`` (about 15 minutes and 16 GiB at peak on 2 cores), or
``--quick`` for a 40,000-node rehearsal of every case in a minute.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._harness import floor_line, print_table

COMOROS = Path(__file__).resolve().parents[2] / "shared" / "data" / "region" / "comoros"
GIB = 1024.0


def _rss_mib(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return float(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass


class Stages:
    """Wall-clock seconds, peak RSS (MiB) and a note per stage of one pipeline."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    @contextmanager
    def stage(self, name: str, note: str = "") -> Iterator[dict[str, Any]]:
        _reset_peak()
        row: dict[str, Any] = {"stage": name, "note": note}
        t0 = time.perf_counter()
        yield row
        row["seconds"] = time.perf_counter() - t0
        row["peak_mib"] = _rss_mib("VmHWM")
        row["rss_after_mib"] = _rss_mib("VmRSS")
        self.rows.append(row)
        print(f"  {name}: {row['seconds']:.1f} s, peak {row['peak_mib'] / GIB:.2f} GiB", flush=True)


def _analyse(
    stages: Stages,
    network: Any,
    population: Any,
    facilities: Any,
    candidates: Any,
    cutoff: float,
    plan_sites: int,
) -> None:
    """Travel times, 2SFCA, nearest, equity and the budgeted plan of one region."""
    import accessplan as ap

    persons = population["population"]
    with stages.stage("travel times") as row:
        tt = ap.travel_times(network, population, facilities, cutoff=cutoff, max_snap_m=5000)
        row["note"] = f"{tt.matrix.nnz:,} pairs ≤ {cutoff:g} min"
    with stages.stage("2SFCA") as row:
        access = ap.two_step_fca(tt, persons, facilities["capacity"], standard=cutoff)
        row["note"] = f"mean {float(np.average(access.fillna(0), weights=persons)):.3g} /person"
    with stages.stage("nearest") as row:
        near = ap.nearest(tt)
        row["note"] = f"median {float(near.median()):.1f} min"
    _equity_and_plan(stages, network, population, near, candidates, plan_sites)


def _equity_and_plan(
    stages: Stages,
    network: Any,
    population: Any,
    near: Any,
    candidates: Any,
    plan_sites: int,
) -> None:
    """Equity of the minutes to the nearest facility and the budgeted plan."""
    import accessplan as ap
    from accessplan.optimize.heuristics import mclp_heuristic

    persons = population["population"]
    with stages.stage("equity") as row:
        summary = ap.summarize(near, persons, threshold=30.0)
        reached = float(summary["persons"])
        row["note"] = f"{reached:,.0f} persons reached, Gini {float(summary['gini']):.3f}"
    if candidates is None:
        return
    with stages.stage("plan") as row:
        # the standard the plan must meet: the time the farthest tenth of persons exceed
        standard = float(np.ceil(_weighted_quantile(near.to_numpy(), persons.to_numpy(), 0.9)))
        far = ~(near <= standard).to_numpy()
        ct = ap.travel_times(
            network, population, candidates, cutoff=standard, max_snap_m=5000
        ).matrix
        cover = ct.copy()
        cover.data = np.ones(cover.nnz, dtype=bool)
        weights = np.where(far, persons.to_numpy(dtype=float), 0.0)
        result = mclp_heuristic(cover, weights, plan_sites, time_limit=120.0, seed=0)
        row["note"] = (
            f"{plan_sites} of {len(candidates)} sites cover {result.objective:,.0f} of the "
            f"{weights.sum():,.0f} persons beyond {standard:g} min; gap {100 * result.gap:.2f} %"
        )
        row["gap"] = result.gap


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``values`` weighted by ``weights`` (NaN values: beyond all)."""
    order = np.argsort(np.where(np.isnan(values), np.inf, values), kind="stable")
    cumulative = np.cumsum(weights[order])
    at = int(np.searchsorted(cumulative, q * cumulative[-1]))
    return float(values[order][min(at, values.size - 1)])


def _synthetic_country(
    stages: Stages, n_nodes: int, n_cells: int, n_facilities: int
) -> tuple[Any, Any]:
    """Stages "region" and "network" of the synthetic country (seed 11, 300 candidates)."""
    import accessplan as ap

    with stages.stage("region") as row:
        region = ap.synthetic_region_arrays(
            n_nodes=n_nodes,
            n_origins=n_cells,
            n_facilities=n_facilities,
            n_candidates=300,
            seed=11,
        )
        row["note"] = f"{region.roads.n_nodes:,} nodes, {len(region.population):,} cells"
    with stages.stage("network") as row:
        network = ap.prepare_network(region.roads, "drive")
        row["note"] = f"{network.csr.shape[0]:,} nodes, {network.csr.nnz:,} edges"
    del region.roads
    return region, network


def synthetic_case(n_nodes: int, n_cells: int, n_facilities: int, cutoff: float) -> list[dict]:

    stages = Stages()
    region, network = _synthetic_country(stages, n_nodes, n_cells, n_facilities)
    _analyse(stages, network, region.population, region.facilities, region.candidates, cutoff, 20)
    return stages.rows


def synthetic_blocks_case(
    n_nodes: int, n_cells: int, n_facilities: int, cutoff: float, block: int
) -> list[dict]:
    """The synthetic country with access computed over facility blocks (no whole matrix)."""
    import pandas as pd

    from accessplan.national import access_in_blocks

    stages = Stages()
    region, network = _synthetic_country(stages, n_nodes, n_cells, n_facilities)
    with stages.stage("travel times + 2SFCA + nearest") as row:
        got = access_in_blocks(
            network,
            region.population,
            region.facilities,
            cutoff=cutoff,
            block_facilities=block,
            max_snap_m=5000,
        )
        row["note"] = (
            f"{got.pairs:,} pairs ≤ {cutoff:g} min in {got.blocks} blocks of {block} "
            f"(largest {got.largest_block_pairs:,}); routing {got.seconds['travel times']:.0f} s"
            f", measures {got.seconds['measures']:.0f} s"
        )
    near = pd.Series(got.table["nearest_minutes"], name="minutes")
    _equity_and_plan(stages, network, region.population, near, region.candidates, 20)
    return stages.rows


def network_only_case(n_nodes: int) -> list[dict]:
    """A large road network alone: generated as arrays and prepared for routing."""
    import accessplan as ap

    stages = Stages()
    with stages.stage("region") as row:
        region = ap.synthetic_region_arrays(
            n_nodes=n_nodes, n_origins=10_000, n_facilities=10, seed=11
        )
        row["note"] = f"{region.roads.n_nodes:,} nodes, {region.roads.n_edges:,} edges"
    with stages.stage("network") as row:
        network = ap.prepare_network(region.roads, "drive")
        row["note"] = f"{network.csr.shape[0]:,} nodes, {network.csr.nnz:,} edges"
    return stages.rows


def _write_population_raster(path: Path, side: int, seed: int) -> None:
    """A ``side`` × ``side`` raster of 100 m-ish cells (0.0009°), about 80 % populated."""
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(seed)
    persons = rng.gamma(0.8, 6.0, size=(side, side)).astype(np.float32)
    persons[rng.random((side, side)) < 0.2] = -99999.0  # nodata: sea, empty land
    profile = {
        "driver": "GTiff",
        "width": side,
        "height": side,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": from_origin(44.0, -12.0, 0.0009, 0.0009),
        "nodata": -99999.0,
        "compress": "deflate",
        "tiled": True,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(persons, 1)


def population_case(side: int, as_frame: bool) -> list[dict]:
    """A national 100 m population raster read as arrays (or, the peer, as a GeoDataFrame)."""
    import tempfile

    import accessplan as ap

    stages = Stages()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "population.tif"
        _write_population_raster(path, side, seed=5)
        name = "population (GeoDataFrame)" if as_frame else "population (arrays)"
        with stages.stage(name) as row:
            if as_frame:
                cells = ap.io.read_population_raster(path)
                total = float(cells["population"].sum())
            else:
                points = ap.io.read_population_points(path)
                cells, total = points, float(points["population"].sum())
            row["note"] = f"{len(cells):,} cells, {total:,.0f} persons"
    return stages.rows


def networkx_path_case(n_nodes: int, n_cells: int, n_facilities: int) -> list[dict]:
    import accessplan as ap

    stages = Stages()
    with stages.stage("region") as row:
        region = ap.synthetic_region(
            n_nodes=n_nodes, n_origins=n_cells, n_facilities=n_facilities, seed=11
        )
        row["note"] = f"{region.roads.number_of_nodes():,} nodes (networkx)"
    with stages.stage("network") as row:
        graph = ap.prepare_network(region.roads, "drive")
        row["note"] = f"{graph.number_of_nodes():,} nodes (networkx)"
    return stages.rows


def _comoros_files() -> tuple[Path, Path, Path]:
    return (
        COMOROS / "comores-latest.osm.pbf",
        COMOROS / "com_ppp_2020_UNadj.tif",
        COMOROS / "comoros_who_kemri_public_health_facilities_2019.csv",
    )


def comoros_case(cutoff: float) -> list[dict]:
    import accessplan as ap

    roads, population, facilities = _comoros_files()
    stages = Stages()
    with stages.stage("region") as row:
        region = ap.read_region_arrays(
            roads,
            population,
            facilities,
            name="comoros",
            facility_columns={
                "lon_col": "Long",
                "lat_col": "Lat",
                "name_col": "Facility name",
                "on_invalid": "report",
            },
        )
        row["note"] = (
            f"{region.roads.n_nodes:,} nodes, {len(region.population):,} cells of 100 m, "
            f"{len(region.facilities)} facilities"
        )
    with stages.stage("network") as row:
        network = ap.prepare_network(region.roads, "drive")
        row["note"] = f"{network.csr.nnz:,} edges, components {network.info['component_nodes']}"
    _analyse(stages, network, region.population, region.facilities, None, cutoff, 0)
    return stages.rows


def comoros_graph_case() -> list[dict]:
    import accessplan as ap

    roads, population, facilities = _comoros_files()
    stages = Stages()
    with stages.stage("region") as row:
        graph = ap.io.read_roads(roads, "drive")
        cells = ap.io.read_population_raster(population)
        sites = ap.read_facilities(facilities, lon_col="Long", lat_col="Lat", on_invalid="report")
        row["note"] = (
            f"{graph.number_of_nodes():,} nodes (networkx), {len(cells):,} cells and "
            f"{len(sites)} facilities as GeoDataFrames"
        )
    with stages.stage("network") as row:
        graph = ap.prepare_network(graph, "drive")
        row["note"] = f"{graph.number_of_nodes():,} nodes (networkx)"
    return stages.rows


def engine_case(n_nodes: int) -> list[dict]:
    """Block path against dense path on the bench_travel_times 250k case."""
    import accessplan as ap
    import accessplan.traveltimes as engine

    region = ap.synthetic_region(n_nodes=n_nodes, n_origins=20_000, n_facilities=500, seed=7)
    graph = ap.prepare_network(region.roads, "drive")
    rows = []
    for cutoff in (30.0, 60.0):
        stages = Stages()
        results = {}
        dense = engine._DENSE_NODE_PAIRS
        for path, limit in (("dense", dense), ("blocks", 0)):
            engine._DENSE_NODE_PAIRS = limit
            with stages.stage(f"{path} {cutoff:g} min") as row:
                tt = ap.travel_times(graph, region.population, region.facilities, cutoff=cutoff)
                row["note"] = f"{tt.matrix.nnz:,} pairs"
            results[path] = tt.matrix
        engine._DENSE_NODE_PAIRS = dense
        a, b = results["dense"], results["blocks"]
        identical = (
            a.shape == b.shape
            and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices)
            and np.array_equal(a.data, b.data)
        )
        for row in stages.rows:
            row["identical"] = identical
        rows += stages.rows
    return rows


def _child(fn: Callable[..., list[dict]], args: tuple, conn: Any) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as exc:
        conn.send(("error", repr(exc)))
    finally:
        conn.close()


def run_case(name: str, fn: Callable[..., list[dict]], *args: Any) -> list[dict]:
    """Run one case in a fresh process; its rows carry the case name."""
    print(f"{name} …", flush=True)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, args, child))
    proc.start()
    child.close()
    try:
        status, payload = parent.recv()
    except EOFError:  # killed, e.g. out of memory
        status, payload = "error", "the process ended without a result"
    proc.join()
    if status != "ok":
        payload = [{"stage": "failed", "note": f"{payload} (exit {proc.exitcode})"}]
    return [{"case": name, **row} for row in payload]


def cases(quick: bool) -> list[tuple[str, Callable[..., list[dict]], tuple]]:
    nodes, cells, sites = (40_000, 40_000, 300) if quick else (1_000_000, 1_000_000, 3_000)
    return [
        ("synthetic-60", synthetic_case, (nodes, cells, sites, 60.0)),
        ("synthetic-120", synthetic_blocks_case, (nodes, cells, sites, 120.0, sites // 6)),
        ("networkx-path", networkx_path_case, (nodes, cells, sites)),
        ("comoros-60", comoros_case, (60.0,)),
        ("comoros-120", comoros_case, (120.0,)),
        ("comoros-graph", comoros_graph_case, ()),
        ("engine-250k", engine_case, (20_000 if quick else 250_000,)),
        ("network-5M", network_only_case, (200_000 if quick else 5_000_000,)),
        ("population-10M", population_case, (700 if quick else 3_500, False)),
        ("population-frame", population_case, (700 if quick else 3_500, True)),
    ]


def _total(rows: list[dict], case: str, stages: tuple[str, ...] | None = None) -> float:
    picked = [r for r in rows if r["case"] == case and (stages is None or r["stage"] in stages)]
    if not picked or any(r["stage"] == "failed" for r in picked):
        return float("nan")
    return sum(r["seconds"] for r in picked)


def _peak(rows: list[dict], case: str) -> float:
    peaks = [r["peak_mib"] for r in rows if r["case"] == case and "peak_mib" in r]
    return max(peaks) if peaks else float("nan")


def table(rows: list[dict]) -> list[dict]:
    peers = {
        "synthetic-60": "networkx-path",
        "comoros-60": "comoros-graph",
        "population-10M": "population-frame",
    }
    out = []
    for r in rows:
        peer = peers.get(r["case"])
        ratio = ""
        if peer and r["stage"] in ("region", "network", "population (arrays)"):
            peer_stage = r["stage"].replace("arrays", "GeoDataFrame")
            theirs = _total(rows, peer, (peer_stage,))
            if r.get("seconds") and np.isfinite(theirs):
                ratio = f"{theirs / r['seconds']:.1f}×"
        out.append(
            {
                "case": r["case"],
                "stage": r["stage"],
                "seconds": round(r["seconds"], 2) if "seconds" in r else "",
                "peak GiB": round(r["peak_mib"] / GIB, 2) if "peak_mib" in r else "",
                "vs networkx": ratio,
                "identical": {True: "yes", False: "NO"}.get(r.get("identical"), ""),
                "result": r.get("note", ""),
            }
        )
    return out


def floors(rows: list[dict], quick: bool) -> list[str]:
    e2e = _total(rows, "synthetic-60")
    peak = _peak(rows, "synthetic-60") / GIB
    done_120 = not np.isnan(_total(rows, "synthetic-120"))
    engine = [r.get("identical") for r in rows if r["case"] == "engine-250k"]
    identical = bool(engine) and all(engine)
    big = [r for r in rows if r["case"] == "network-5M"]
    big_s = _total(rows, "network-5M")
    big_peak = _peak(rows, "network-5M") / GIB
    cells_s = _total(rows, "population-10M")
    cells_peak = _peak(rows, "population-10M") / GIB
    label = "quick " if quick else ""
    return [
        floor_line(f"{label}synthetic 60-min end to end", f"{e2e:.0f} s", "< 600 s", e2e < 600),
        floor_line(f"{label}synthetic 60-min peak RSS", f"{peak:.1f} GiB", "< 16 GiB", peak < 16),
        floor_line(
            f"{label}synthetic 120-min completes",
            "yes" if done_120 else "no",
            "yes",
            done_120,
        ),
        floor_line(
            f"{label}engine 250k identical to the dense path",
            "yes" if identical else "no",
            "yes",
            identical,
        ),
        floor_line(
            f"{label}5M-node network generated and prepared",
            f"{big_s:.0f} s, {big_peak:.1f} GiB" if big else "not run",
            "minutes, a few GiB (< 600 s, < 8 GiB)",
            bool(big) and big_s < 600 and big_peak < 8,
        ),
        floor_line(
            f"{label}10^7 population cells as arrays",
            f"{cells_s:.0f} s, {cells_peak:.1f} GiB",
            "done, < 4 GiB",
            np.isfinite(cells_s) and cells_peak < 4,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="40,000-node rehearsal")
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    args = parser.parse_args(argv)
    chosen = cases(args.quick)
    if args.cases:
        wanted = set(args.cases.split(","))
        chosen = [c for c in chosen if c[0] in wanted]
    rows: list[dict] = []
    for name, fn, fargs in chosen:
        rows += run_case(name, fn, *fargs)
    print()
    print(f"cores: {os.cpu_count()}")
    shown = table(rows)
    print_table(shown, list(shown[0]) if shown else [])
    floors(rows, args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
