"""Star schema integrity, hourly KPIs on a hand-built log, forecasts, demand and the report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import accessplan.flows as fl
from accessplan.flows.demand import demand_population, observed_days, utilisation_rates
from accessplan.flows.forecast import backtest, forecast_arrivals, mase, seasonal_naive
from accessplan.flows.kpis import hourly_kpis, visit_table
from accessplan.flows.report import write_flow_report
from accessplan.flows.simulator import simulate

NOW = dt.datetime(2024, 3, 10)

# Unit F1/emergency (2 beds, 3 staff at 08 and 09 UTC, 1 otherwise); times UTC on 2024-03-04.
#   v1 arrives 08:10, admitted 08:40, discharged 10:40  (wait 30 min, stay 2 h)
#   v2 arrives 08:20, admitted 09:20, discharged 09:50  (wait 60 min, stay 0.5 h)
#   v3 arrives 08:50, leaves 09:30 without being seen
#   v4 arrives 09:05, admitted 09:15, no discharge: older than the unit's 99th-percentile
#      stay (1.985 h) at the end of the data (12:00), so a lost discharge, out of the census
#   v5 arrives 11:30 from cell 2
_LOG = [
    ("v1", "arrival", "08:10"),
    ("v1", "triage", "08:15"),
    ("v1", "admission", "08:40"),
    ("v1", "discharge", "10:40"),
    ("v2", "arrival", "08:20"),
    ("v2", "admission", "09:20"),
    ("v2", "discharge", "09:50"),
    ("v3", "arrival", "08:50"),
    ("v3", "left", "09:30"),
    ("v4", "arrival", "09:05"),
    ("v4", "admission", "09:15"),
    ("v5", "arrival", "11:30"),
]


def _hand_built_study(tmp_path: Path) -> fl.FlowDatabase:
    lines = []
    for i, (visit, kind, hhmm) in enumerate(_LOG):
        rec: dict[str, object] = {
            "event_id": f"e{i}",
            "visit_id": visit,
            "event_type": kind,
            "timestamp": f"2024-03-04T{hhmm}:00Z",
            "facility_id": "F1",
            "department": "emergency",
        }
        if kind == "arrival":
            rec.update(age=40 if visit != "v3" else 70, origin_cell="2" if visit == "v5" else "1")
        if kind == "triage":
            rec["acuity"] = 2
        lines.append(json.dumps(rec))
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    db = fl.open_database(tmp_path / "study.duckdb")
    staffing = pd.DataFrame(
        {
            "facility_id": "F1",
            "department": "emergency",
            "hour_of_day": range(24),
            "staff": [3.0 if h in (8, 9) else 1.0 for h in range(24)],
        }
    )
    db.load_reference(
        pd.DataFrame({"facility_id": ["F1"], "name": ["One"], "tier": ["Tier3"]}),
        pd.DataFrame(
            {"facility_id": ["F1", "F1"], "department": ["emergency", "surgery"], "beds": [2, 4]}
        ),
        staffing,
    )
    fl.ingest(db, [path], now=NOW)
    return db


def test_kpis_of_a_hand_built_log(tmp_path: Path) -> None:
    db = _hand_built_study(tmp_path)
    k = hourly_kpis(db).set_index(["department", "hour"])
    e = k.loc["emergency"]
    hours = pd.date_range("2024-03-04 08:00", periods=4, freq="h")
    assert list(e.index) == list(hours)
    assert e["arrivals"].tolist() == [3, 1, 0, 1]
    assert e["admissions"].tolist() == [1, 2, 0, 0]
    assert e["left_without_being_seen"].tolist() == [1, 0, 0, 0]
    assert e["wait_median_min"].iloc[0] == pytest.approx(45.0)
    assert e["wait_p90_min"].iloc[0] == pytest.approx(57.0)  # 30 + 0.9 × (60 − 30)
    assert e["wait_median_min"].iloc[1] == pytest.approx(10.0)
    assert e["los_mean_h"].iloc[0] == pytest.approx(1.25)
    assert e["census"].tolist() == [0, 1, 1, 0]
    assert e["occupancy"].tolist() == [0.0, 0.5, 0.5, 0.0]
    assert e["staff"].tolist() == [3.0, 3.0, 1.0, 1.0]
    assert e["arrivals_per_staff"].tolist() == pytest.approx([1.0, 1 / 3, 0.0, 1.0])
    s = k.loc["surgery"]  # a unit without visits is still on the grid
    assert s["arrivals"].tolist() == [0, 0, 0, 0] and s["census"].tolist() == [0, 0, 0, 0]


def test_the_star_schema_is_complete_and_consistent(tmp_path: Path) -> None:
    db = _hand_built_study(tmp_path)
    orphans = db.scalar(
        "SELECT count(*) FROM fact_visit f WHERE f.facility_key NOT IN "
        "(SELECT facility_key FROM dim_facility) OR f.department_key NOT IN "
        "(SELECT department_key FROM dim_department) OR (f.arrival_time_key IS NOT NULL AND "
        "f.arrival_time_key NOT IN (SELECT time_key FROM dim_time))"
    )
    assert orphans == 0
    assert db.scalar("SELECT count(DISTINCT visit_id) FROM validated_events") == db.scalar(
        "SELECT count(*) FROM fact_visit"
    )
    v = visit_table(db).set_index("visit_id")
    assert v.loc["v1", "wait_minutes"] == 30 and v.loc["v1", "los_hours"] == 2
    assert v.loc["v1", "acuity"] == 2 and v.loc["v1", "age_band"] == "15-44"
    assert v.loc["v3", "outcome"] == "left" and v.loc["v3", "age_band"] == "65+"
    assert v.loc["v4", "outcome"] == "admitted" and v["facility_id"].eq("F1").all()
    keys = db.sql("SELECT time_key, hour_start FROM dim_time")
    assert (keys["time_key"] * 3600 == keys["hour_start"].astype("int64") // 10**6).all()


def test_utilisation_rates_per_origin_cell(tmp_path: Path) -> None:
    db = _hand_built_study(tmp_path)
    population = pd.DataFrame({"id": [1, 2, 3, 4], "population": [100.0, 50.0, 10.0, 0.0]})
    rates = utilisation_rates(db, population)
    days = observed_days(db)
    assert days == pytest.approx(4 / 24)
    assert list(rates.index) == [1, 2, 3, 4]
    expected = [4 / 100 * 365 / days, 1 / 50 * 365 / days, 0.0, np.nan]
    np.testing.assert_allclose(rates.to_numpy(), expected)
    demand = demand_population(population, rates)
    np.testing.assert_allclose(demand["population"], [4 * 365 / days, 365 / days, 0.0, 0.0])
    assert demand["persons"].tolist() == [100.0, 50.0, 10.0, 0.0]


def test_mase_and_seasonal_naive_on_known_numbers() -> None:
    train = np.array([1.0, 2.0, 3.0, 1.0, 2.0, 5.0])  # season 3: |diffs| 0, 0, 2 → scale 2/3
    assert seasonal_naive(train, 4, season=3).tolist() == [1.0, 2.0, 5.0, 1.0]
    assert mase(np.array([2.0, 2.0]), np.array([1.0, 3.0]), train, season=3) == pytest.approx(1.5)


def _seasonal_kpis(days: int = 14, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hours = pd.date_range("2024-03-04", periods=days * 24, freq="h")
    rate = 4 + 3 * np.sin(2 * np.pi * np.arange(len(hours)) / 24)
    return pd.DataFrame(
        {"facility_id": "F", "department": "d", "hour": hours, "arrivals": rng.poisson(rate)}
    )


def test_ets_forecasts_the_daily_pattern_and_beats_seasonal_naive() -> None:
    kpis = _seasonal_kpis()
    fc = forecast_arrivals(kpis, horizon_h=24, level=0.9)
    truth = 4 + 3 * np.sin(2 * np.pi * np.arange(14 * 24, 15 * 24) / 24)
    assert np.abs(fc["forecast"].to_numpy() - truth).max() < 1.5
    assert ((fc["lower"] <= fc["forecast"]) & (fc["forecast"] <= fc["upper"])).all()
    assert fc["hour"].iloc[0] == pd.Timestamp("2024-03-18 00:00")
    bt = backtest(kpis, holdout_h=72).iloc[0]
    assert bt["mase_ets"] < bt["mase_seasonal_naive"]
    assert 0.7 <= bt["interval_coverage"] <= 1.0


def test_the_flow_report_is_offline_and_escapes_data(tmp_path: Path) -> None:
    facilities = pd.DataFrame(
        {
            "id": ["<b>A</b>", "C"],
            "name": ["Post <i>A</i>", "Hospital C"],
            "tier": ["Tier1", "Tier3"],
        }
    )
    cells = np.arange(1, 21)
    population = pd.DataFrame({"id": cells, "population": 2000.0})
    catchment = pd.Series(np.repeat(["<b>A</b>", "C"], 10), index=cells)
    sim = simulate(facilities, population, catchment, days=5, visits_per_person_year=4.0, seed=4)
    sim.write(tmp_path / "sim")
    db = fl.open_database(tmp_path / "study.duckdb")
    db.load_reference(sim.facilities, sim.units, sim.staffing)
    db.set_setting("local_tz", "Indian/Comoro")
    fl.ingest_folder(db, tmp_path / "sim" / "events", now=dt.datetime(2024, 6, 1))
    report = write_flow_report(db, tmp_path / "flows.html")
    page = (tmp_path / "flows.html").read_text(encoding="utf-8")
    assert "<b>A</b>" not in page and "&lt;b&gt;A&lt;/b&gt;" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert len(report.sections) == 7 and page.count("data:image/png;base64,") == 3
    counts = db.layer_counts()
    assert f"{counts.raw:,} raw events" in page
