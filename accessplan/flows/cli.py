"""``accessplan flows ...``: simulate, ingest (once or --follow), status, kpis, forecast, report.

Registered in :mod:`accessplan.cli` through ``add_commands``. Every command that reads a study
takes ``--db FILE``; the study file is created by the first ``ingest``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from accessplan._sanitize import terminal_text, write_csv
from accessplan.errors import InputError

__all__ = ["add_commands"]


def _say(text: str) -> None:
    print(terminal_text(text))


def add_commands(sub: Any, common: argparse.ArgumentParser) -> dict[str, Any]:
    """Add the ``flows`` command and its subcommands to ``sub``; return its handler."""
    flows = sub.add_parser(
        "flows",
        parents=[common],
        help="patient flows: simulate, ingest, validate, KPIs, forecasts and the flow report",
        description="Patient events into a DuckDB study: raw, validated and star-schema layers.",
    )
    actions = flows.add_subparsers(dest="flows_command", metavar="ACTION", required=True)

    sim = actions.add_parser(
        "simulate",
        parents=[common],
        help="simulate a month of events for the embedded region's facilities",
        description=(
            "Seeded events for the embedded region (31 facilities), with arrival rates from each "
            "facility's catchment population, finite beds and staff, optional surges and a share "
            "of dirty events; writes OUT/events/, OUT/reference/ and OUT/dirty.csv."
        ),
    )
    sim.add_argument("--out", type=Path, required=True, help="output folder")
    sim.add_argument("--days", type=int, default=30, help="days simulated (default 30)")
    sim.add_argument("--start", default="2024-03-04", help="first local day (YYYY-MM-DD)")
    sim.add_argument("--seed", type=int, default=0, help="random seed")
    sim.add_argument("--dirty-share", type=float, default=0.02, help="dirty share (0.02 = 2 %%)")
    sim.add_argument("--visits-per-person-year", type=float, default=0.6, help="visits/person/year")
    sim.add_argument(
        "--format", dest="fmt", default="jsonl", choices=["jsonl", "csv", "parquet", "mixed"]
    )
    sim.add_argument(
        "--outbreak",
        metavar="DAY:DAYS:FACTOR",
        action="append",
        default=[],
        help="an outbreak from day DAY (0-based) for DAYS days, rates × FACTOR",
    )
    sim.add_argument(
        "--accident",
        metavar="FACILITY:HOUR:COUNT",
        action="append",
        default=[],
        help="a road accident: COUNT casualties at FACILITY within 2 hours from HOUR",
    )

    ing = actions.add_parser(
        "ingest",
        parents=[common],
        help="ingest a folder (or files) of events into the study, exactly once",
        description=(
            "Ingest JSON Lines, CSV and Parquet files in transactions of whole files, keyed by "
            "content hash, so a file is ingested once. A folder written by `flows simulate` "
            "brings its reference data."
        ),
    )
    ing.add_argument("source", type=Path, nargs="+", help="folder(s) or event files")
    ing.add_argument("--db", type=Path, required=True, help="study database file (.duckdb)")
    ing.add_argument("--reference", type=Path, default=None, help="folder of reference CSVs")
    ing.add_argument("--follow", action="store_true", help="keep polling the folder")
    ing.add_argument("--poll", type=float, default=2.0, help="seconds between polls")
    ing.add_argument("--max-polls", type=int, default=None, help="stop after N polls")
    ing.add_argument("--tolerance", type=float, default=60.0, help="future tolerance (minutes)")
    ing.add_argument("--local-tz", default=None, help="time zone of offset-less timestamps")
    ing.add_argument(
        "--batch-records",
        type=int,
        default=200_000,
        help="events per transaction at least, whole files (1: a transaction per file)",
    )
    ing.add_argument("--quiet", action="store_true", help="no progress bar")

    for name, text in (
        ("status", "print the events per layer and per rule"),
        ("kpis", "KPIs per facility × department × hour"),
        ("forecast", "forecast arrivals with prediction intervals, and the MASE backtest"),
        ("report", "write the offline HTML flow report"),
        ("demand", "utilisation rates per origin cell of the embedded region"),
    ):
        p = actions.add_parser(name, parents=[common], help=text, description=text)
        p.add_argument("--db", type=Path, required=True, help="study database file (.duckdb)")
        if name != "status":
            p.add_argument("--out", type=Path, default=None, help="output file (CSV/HTML)")
        if name == "forecast":
            p.add_argument("--horizon", type=int, default=24, help="hours ahead")
    return {"flows": _dispatch}


def _dispatch(args: argparse.Namespace) -> int:
    handlers = {
        "simulate": _simulate,
        "ingest": _ingest,
        "status": _status,
        "kpis": _kpis,
        "forecast": _forecast,
        "report": _report,
        "demand": _demand,
    }
    return int(handlers[args.flows_command](args))


def _surges(args: argparse.Namespace) -> list[Any]:
    from accessplan.flows.simulate_units import Surge

    surges = []
    for text in args.outbreak:
        try:
            day, days, factor = text.split(":")
            surges.append(Surge("outbreak", int(day) * 24, int(days) * 24, factor=float(factor)))
        except ValueError as exc:
            raise InputError(
                f"--outbreak {text!r}: expected DAY:DAYS:FACTOR, e.g. 10:5:1.6"
            ) from exc
    for text in args.accident:
        try:
            fid, hour, count = text.split(":")
            surges.append(Surge("accident", int(hour), 2, count=int(count), facilities=(fid,)))
        except ValueError as exc:
            raise InputError(f"--accident {text!r}: expected FACILITY:HOUR:COUNT") from exc
    return surges


def _simulate(args: argparse.Namespace) -> int:
    from accessplan.flows.catchments import region_catchments
    from accessplan.flows.simulator import simulate

    region, catchment = region_catchments()
    sim = simulate(
        region.facilities,
        region.population,
        catchment,
        start=args.start,
        days=args.days,
        visits_per_person_year=args.visits_per_person_year,
        dirty_share=args.dirty_share,
        surges=_surges(args),
        seed=args.seed,
    )
    files = sim.write(args.out, fmt=args.fmt)
    kinds = sim.dirty["rule"].value_counts().sort_index()
    _say(
        f"{len(sim.events):,} events ({len(sim.dirty):,} dirty) for {len(sim.facilities)} "
        f"facilities over {args.days} days in {len(files)} files under {args.out}"
    )
    _say("\n".join(f"  {rule:<28} {n:>7,}" for rule, n in kinds.items()))
    return 0


def _read_reference(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None, dict]:
    ids = {"facility_id": str, "department": str}
    facilities = pd.read_csv(folder / "facilities.csv", dtype=str, keep_default_na=False)
    units = pd.read_csv(folder / "units.csv", dtype=ids)
    staffing_path = folder / "staffing.csv"
    staffing = pd.read_csv(staffing_path, dtype=ids) if staffing_path.is_file() else None
    settings_path = folder / "settings.json"
    settings = (
        json.loads(settings_path.read_text(encoding="utf-8")) if settings_path.is_file() else {}
    )
    return facilities, units, staffing, settings


def _ingest(args: argparse.Namespace) -> int:
    from accessplan.flows import database, ingestion

    reference = args.reference
    sources = []
    for src in args.source:
        if src.is_dir() and (src / "events").is_dir():
            reference = reference or (src / "reference")
            sources.append(src / "events")
        else:
            sources.append(src)
    with database.open_database(args.db) as db:
        if reference is not None:
            facilities, units, staffing, settings = _read_reference(reference)
            db.load_reference(facilities, units, staffing)
            if "local_tz" in settings:
                db.set_setting("local_tz", str(settings["local_tz"]))
        if args.local_tz:
            db.set_setting("local_tz", args.local_tz)
        options: dict[str, Any] = {
            "future_tolerance_min": args.tolerance,
            "progress": not args.quiet,
        }
        folders = [s for s in sources if s.is_dir()]
        files = [s for s in sources if not s.is_dir()]
        if args.follow:
            if len(folders) != 1 or files:
                raise InputError("--follow takes exactly one folder")

            def show(report: ingestion.IngestReport) -> None:
                _say(report.text().split("study totals:")[0].rstrip())

            report = ingestion.follow_folder(
                db,
                folders[0],
                poll_seconds=args.poll,
                max_polls=args.max_polls,
                on_report=show,
                **options,
            )
        else:
            paths = files + [p for f in folders for p in ingestion.folder_files(f)]
            report = ingestion.ingest(db, paths, **options)
        _say(report.text())
        problems = db.check_invariant()
    if problems:
        _say("invariant violated: " + "; ".join(problems))
        return 1
    return 0


def _status(args: argparse.Namespace) -> int:
    from accessplan.flows.database import open_database

    _require(args.db)
    with open_database(args.db) as db:
        _say(db.layer_counts().text())
    return 0


def _require(path: Path) -> None:
    if not path.is_file():
        raise InputError(f"no study database at {path}; run `accessplan flows ingest` first")


def _kpis(args: argparse.Namespace) -> int:
    from accessplan.flows.database import open_database
    from accessplan.flows.kpis import hourly_kpis, unit_summary, visit_table

    _require(args.db)
    with open_database(args.db) as db:
        kpis = hourly_kpis(db)
        summary = unit_summary(kpis, visit_table(db))
    if args.out is not None:
        write_csv(kpis, args.out, index=False)
        _say(f"hourly KPIs ({len(kpis):,} rows) written to {args.out}")
    busiest = kpis[kpis["arrivals"] > 0].head(10)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        _say(busiest.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        _say("\nper facility × department:")
        _say(
            summary.sort_values("arrivals", ascending=False)
            .head(15)
            .to_string(index=False, float_format=lambda v: f"{v:.2f}")
        )
    return 0


def _forecast(args: argparse.Namespace) -> int:
    from accessplan.flows.database import open_database
    from accessplan.flows.forecast import backtest, forecast_arrivals
    from accessplan.flows.kpis import hourly_kpis

    _require(args.db)
    with open_database(args.db) as db:
        kpis = hourly_kpis(db)
    fc = forecast_arrivals(kpis, horizon_h=args.horizon)
    bt = backtest(kpis)
    if args.out is not None:
        write_csv(fc, args.out, index=False)
        _say(f"forecasts ({len(fc):,} rows) written to {args.out}")
    with pd.option_context("display.width", 200):
        _say(fc.head(8).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        _say(
            f"\nbacktest over {len(bt)} units, last 168 h held out: median MASE ETS "
            f"{bt['mase_ets'].median():.3f}, seasonal naive "
            f"{bt['mase_seasonal_naive'].median():.3f}; "
            f"ETS better in {(bt['mase_ets'] < bt['mase_seasonal_naive']).mean():.0%} of units; "
            f"interval coverage {bt['interval_coverage'].mean():.0%}"
        )
    return 0


def _report(args: argparse.Namespace) -> int:
    from accessplan.flows.database import open_database
    from accessplan.flows.report import write_flow_report

    _require(args.db)
    out = args.out or args.db.with_name("flow_report.html")
    with open_database(args.db) as db:
        report = write_flow_report(db, out)
    for heading, answer, _ in report.sections:
        _say(f"{heading}: {answer}")
    _say(f"\nReport written to {out}")
    return 0


def _demand(args: argparse.Namespace) -> int:
    from accessplan.flows.database import open_database
    from accessplan.flows.demand import utilisation_rates
    from accessplan.regions import load_region

    _require(args.db)
    region = load_region()
    with open_database(args.db) as db:
        rates = utilisation_rates(db, region.population)
    if args.out is not None:
        write_csv(rates.rename("visits_per_person_year").reset_index(), args.out, index=False)
        _say(f"utilisation rates for {len(rates):,} cells written to {args.out}")
    _say(rates.describe().to_string())
    return 0
