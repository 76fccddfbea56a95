"""Benchmark: patient events → validated → star schema, accessplan.flows (DuckDB) vs pandas.

Events are JSON Lines files of complete visits (arrival, triage, admission, discharge) for 31
facilities × 3 departments, written by DuckDB straight from ``range()`` so that 10 M events
need no Python objects; 2 % of the visits are dirty (an exact duplicate of the arrival, an
impossible age, an unknown facility, in equal parts). ``--per-file`` events go to one file.

Both pipelines start from the same files and end with the visit fact:

- ``accessplan.flows``: :func:`accessplan.flows.ingest` into a fresh study file (raw layer,
  every validation rule, quarantine, star schema, checkpoint; a transaction per file of 1 M
  events) with
  2 DuckDB threads and a 3 GB memory limit;
- ``pandas``: the same steps written plainly — ``read_json(lines=True)`` per file, typing,
  UTC, deduplication by event id and content, unknown facility and department, future
  timestamps, discharge before admission, age correction, then one row per visit with waits
  and length of stay. It keeps no raw layer and no checkpoint, so it does less work.

``agree`` compares validated events, rejected events per rule and visits. The peer runs up to
``--peer-max`` events (pandas holds every event as Python-level objects; 10 M would pass the
6 GiB this machine allows). Each size runs in a fresh process (peak memory is that process's
high-water mark; imports happen before the clock starts), ``--repeats`` times (the median is
shown).

A second table backtests the forecasts on a simulated month of the embedded region (31
facilities, 2 % dirty events): ETS against seasonal naive, MASE on the last 168 hours.

Run: ``.venv/bin/python benchmarks/bench_flows.py`` (10 M events; ``--events 200000`` or
``ACCESSPLAN_BENCH_FLOWS_EVENTS=200000`` for a quick run, ``--no-forecast`` to skip the
backtest).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

import accessplan.flows as fl
from accessplan.flows.ingestion import folder_files
from benchmarks._harness import floor_line, measure, print_table

FLOOR_EVENTS_PER_S = 50_000.0
NOW = dt.datetime(2024, 6, 1)
FACILITIES = [str(i) for i in range(26, 57)]
DEPARTMENTS = ["emergency", "medicine", "surgery"]
RULES = ("duplicate", "unknown_facility", "impossible_age")


def reference() -> tuple[pd.DataFrame, pd.DataFrame]:
    facilities = pd.DataFrame({"facility_id": FACILITIES, "name": FACILITIES, "tier": "Tier3"})
    units = pd.DataFrame(
        [(f, d, 10) for f in FACILITIES for d in DEPARTMENTS],
        columns=["facility_id", "department", "beds"],
    )
    return facilities, units


_EVENTS = """
COPY (
  WITH v AS (SELECT range AS v, CAST(hash(range) >> 2 AS BIGINT) AS h FROM range({lo}, {hi})),
  e AS (
    SELECT v, k, h, event_type, minutes FROM v, (VALUES (0, 'arrival', 0), (1, 'triage', 9),
      (2, 'admission', 41), (3, 'discharge', 290)) t(k, event_type, minutes)
    UNION ALL  -- 2 % dirty visits: 1 in 150 repeats its arrival exactly
    SELECT v, 0, h, 'arrival', 0 FROM v WHERE v % 150 = 7
  )
  SELECT printf('E%011d', v * 4 + k) AS event_id, printf('V%010d', v) AS visit_id, event_type,
    CASE WHEN h % 2 = 0
      THEN strftime(TIMESTAMP '2024-03-04' + to_seconds(v * 12 + minutes * 60),
                    '%Y-%m-%dT%H:%M:%SZ')
      ELSE strftime(TIMESTAMP '2024-03-04 03:00' + to_seconds(v * 12 + minutes * 60),
                    '%Y-%m-%dT%H:%M:%S+03:00') END AS timestamp,
    CASE WHEN v % 150 = 11 AND k = 0 THEN 'X99' ELSE CAST(26 + h % 31 AS VARCHAR) END
      AS facility_id,
    ['emergency', 'medicine', 'surgery'][1 + (h // 31) % 3] AS department,
    CASE WHEN k = 1 THEN 1 + (h // 93) % 5 END AS acuity,
    CASE WHEN k = 0 THEN CASE WHEN v % 150 = 13 THEN 150 ELSE (h // 465) % 90 END END AS age,
    CASE WHEN k = 0 THEN CAST((h // 41850) % 5000 AS VARCHAR) END AS origin_cell
  FROM e ORDER BY v, k
) TO '{path}' (FORMAT json)
"""


def write_events(folder: Path, n_events: int, per_file: int) -> list[Path]:
    """JSON Lines files holding about ``n_events`` events (4 per visit, plus duplicates)."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    visits = int(n_events / (4 + 1 / 150))
    per_file_visits = max(1, int(per_file / (4 + 1 / 150)))
    con = duckdb.connect(config={"threads": 2})
    paths = []
    for i, lo in enumerate(range(0, visits, per_file_visits)):
        path = folder / f"events-{i:04d}.jsonl"
        hi = min(visits, lo + per_file_visits)
        con.execute(_EVENTS.format(lo=lo, hi=hi, path=path))
        paths.append(path)
    con.close()
    return paths


def run_flows(folder: str, db_path: str) -> dict[str, int]:
    """ingest → validated → star with accessplan.flows into a fresh study file."""
    for p in Path(db_path).parent.glob(Path(db_path).name + "*"):
        p.unlink()
    with fl.open_database(db_path, threads=2, memory_limit="3GB") as db:
        db.load_reference(*reference())
        fl.ingest(db, folder_files(folder), now=NOW)
        c = db.layer_counts()
        out = {"validated": c.validated, "visits": c.visits, "raw": c.raw}
        out.update({rule: c.rules.get(rule, 0) for rule in RULES})
    return out


def run_pandas(folder: str) -> dict[str, int]:
    """The same pipeline written plainly in pandas."""
    with warnings.catch_warnings():  # convert_dates=False: pandas 3 marks it deprecated
        warnings.simplefilter("ignore")
        frames = [
            pd.read_json(p, lines=True, dtype=False, convert_dates=False)
            for p in sorted(Path(folder).glob("*.jsonl"))
        ]
    raw = pd.concat(frames, ignore_index=True)
    del frames
    e = pd.DataFrame(
        {
            "event_id": raw["event_id"].astype(str),
            "visit_id": raw["visit_id"].astype(str),
            "event_type": raw["event_type"].astype(str),
            "ts": pd.to_datetime(raw["timestamp"], utc=True, errors="coerce").dt.tz_localize(None),
            "facility_id": raw["facility_id"].astype(str),
            "department": raw["department"].astype(str),
            "acuity": pd.to_numeric(raw["acuity"], errors="coerce"),
            "age": pd.to_numeric(raw["age"], errors="coerce"),
            "origin_cell": raw["origin_cell"],
        }
    )
    n_raw = len(raw)
    del raw
    content = ["event_id", "event_type", "ts", "facility_id", "department", "acuity", "age"]
    first = ~e.duplicated("event_id")
    same = e.duplicated(content)
    rule = pd.Series(pd.NA, index=e.index, dtype="object")
    rule[~first & same] = "duplicate"
    rule[~first & ~same] = "conflicting_duplicate"
    facilities, units = reference()
    open_rule = rule.isna()
    rule[open_rule & ~e["facility_id"].isin(facilities["facility_id"])] = "unknown_facility"
    open_rule = rule.isna()
    keys = ["facility_id", "department"]
    known_unit = pd.MultiIndex.from_frame(e[keys]).isin(pd.MultiIndex.from_frame(units[keys]))
    rule[open_rule & ~known_unit] = "unknown_department"
    rule[rule.isna() & (e["ts"] > NOW + pd.Timedelta(minutes=60))] = "future_timestamp"
    ok = rule.isna()
    adm = e[ok & (e["event_type"] == "admission")].groupby("visit_id")["ts"].min()
    is_dis = ok & (e["event_type"] == "discharge")
    before = e.loc[is_dis, "ts"] < e.loc[is_dis, "visit_id"].map(adm)
    rule[before[before].index] = "discharge_before_admission"
    bad_age = rule.isna() & ((e["age"] < 0) | (e["age"] > 120))
    valid = e[rule.isna()].copy()
    valid.loc[bad_age[rule.isna()].to_numpy(), "age"] = np.nan
    fact = valid.pivot_table(index="visit_id", columns="event_type", values="ts", aggfunc="min")
    fact["wait_minutes"] = (fact["admission"] - fact["arrival"]).dt.total_seconds() / 60
    fact["los_hours"] = (fact["discharge"] - fact["admission"]).dt.total_seconds() / 3600
    counts = rule.value_counts()
    out = {"validated": len(valid), "visits": len(fact), "raw": n_raw}
    out.update({r: int(counts.get(r, 0)) for r in RULES if r != "impossible_age"})
    out["impossible_age"] = int(bad_age.sum())
    return out


def forecast_backtest(seed: int = 0) -> pd.DataFrame:
    """The simulated month of the embedded region, ingested, then the MASE backtest."""
    from accessplan.flows.catchments import region_catchments
    from accessplan.flows.forecast import backtest
    from accessplan.flows.kpis import hourly_kpis
    from accessplan.flows.simulator import simulate

    region, catchment = region_catchments()
    sim = simulate(region.facilities, region.population, catchment, days=30, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        sim.write(Path(tmp) / "sim")
        with fl.open_database(Path(tmp) / "s.duckdb") as db:
            db.load_reference(sim.facilities, sim.units, sim.staffing)
            db.set_setting("local_tz", "Indian/Comoro")
            fl.ingest_folder(db, Path(tmp) / "sim" / "events", now=NOW)
            return backtest(hourly_kpis(db), holdout_h=168)


def _sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("ACCESSPLAN_BENCH_FLOWS_EVENTS", "200000,1000000,10000000")
    parser.add_argument("--events", default=default, help="comma-separated sizes (events)")
    parser.add_argument("--per-file", type=int, default=1_000_000, help="events per file")
    parser.add_argument("--peer-max", type=int, default=1_000_000, help="largest pandas size")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-forecast", action="store_true")
    args = parser.parse_args()
    rows, floor_rate = [], float("nan")
    with tempfile.TemporaryDirectory(prefix="bench_flows_") as tmp:
        for n in _sizes(args.events):
            folder = Path(tmp) / f"events_{n}"
            files = write_events(folder, n, args.per_file)
            flows = measure(
                run_flows,
                str(folder),
                str(Path(tmp) / "study.duckdb"),
                repeats=args.repeats,
                timeout=7200,
            )
            raw = flows.value["raw"]
            row = {
                "events": raw,
                "files": len(files),
                "flows s": flows.median,
                "flows events/s": raw / flows.median,
                "flows peak MiB": flows.peak_mib,
            }
            if n <= args.peer_max:
                peer = measure(run_pandas, str(folder), repeats=args.repeats, timeout=7200)
                row |= {
                    "pandas s": peer.median,
                    "pandas events/s": raw / peer.median,
                    "pandas peak MiB": peer.peak_mib,
                    "speed-up": peer.median / flows.median,
                    "agree": "yes" if peer.value == flows.value else f"NO {peer.value}",
                }
            else:
                row |= {"agree": "(peer not run)"}
            rows.append(row)
            floor_rate = raw / flows.median
            shutil.rmtree(folder)
    columns = [
        "events",
        "files",
        "flows s",
        "flows events/s",
        "flows peak MiB",
        "pandas s",
        "pandas events/s",
        "pandas peak MiB",
        "speed-up",
        "agree",
    ]
    print_table(rows, columns)
    if not args.no_forecast:
        bt = forecast_backtest()
        summary = [
            {
                "units": len(bt),
                "median MASE ETS": float(bt["mase_ets"].median()),
                "median MASE seasonal naive": float(bt["mase_seasonal_naive"].median()),
                "ETS better (share of units)": float(
                    (bt["mase_ets"] < bt["mase_seasonal_naive"]).mean()
                ),
                "90 % interval coverage": float(bt["interval_coverage"].mean()),
            }
        ]
        print()
        print_table(summary, list(summary[0]))
    floor_line(
        "flows ingest→validated→star",
        f"{floor_rate:,.0f} events/s at {rows[-1]['events']:,} events",
        f"{FLOOR_EVENTS_PER_S:,.0f}",
        floor_rate >= FLOOR_EVENTS_PER_S,
    )


if __name__ == "__main__":
    main()
