"""Validation rules on hand-built events: each rule catches exactly its record, counted once."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

import accessplan.flows as fl

NOW = dt.datetime(2024, 3, 10)


def _event(eid: str, visit: str, kind: str, ts: str, **fields: object) -> dict[str, object]:
    rec: dict[str, object] = {
        "event_id": eid,
        "visit_id": visit,
        "event_type": kind,
        "timestamp": ts,
        "facility_id": "F1",
        "department": "emergency",
    }
    rec.update(fields)
    return rec


def _write(path: Path, records: list[dict[str, object] | str]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _study(tmp_path: Path, local_tz: str = "UTC") -> fl.FlowDatabase:
    db = fl.open_database(tmp_path / "study.duckdb")
    db.load_reference(
        pd.DataFrame({"facility_id": ["F1", "F2"], "name": ["One", "Two"], "tier": ["a", "b"]}),
        pd.DataFrame(
            {
                "facility_id": ["F1", "F1", "F2"],
                "department": ["emergency", "surgery", "general"],
                "beds": [2, 3, 1],
            }
        ),
    )
    db.set_setting("local_tz", local_tz)
    return db


def _rules(db: fl.FlowDatabase) -> dict[int, tuple[str, str]]:
    rows = db.sql(
        "SELECT r.position, q.rule, q.action FROM quarantine q JOIN raw_events r USING (raw_id)"
    )
    return {int(p): (rule, action) for p, rule, action in rows.itertuples(index=False)}


def test_each_rule_catches_exactly_its_record(tmp_path: Path) -> None:
    records: list[dict[str, object] | str] = [
        _event("e1", "v1", "arrival", "2024-03-04T08:00:00+03:00", age=34, origin_cell="7"),
        _event("e2", "v1", "triage", "2024-03-04T05:10:00Z", acuity=3),
        _event("e3", "v1", "admission", "2024-03-04T05:30:00Z"),
        _event("e4", "v1", "discharge", "2024-03-04T09:30:00Z"),
        # 5: the same instant as line 4 in another zone: a duplicate, not a conflict
        _event("e4", "v1", "discharge", "2024-03-04T12:30:00+03:00"),
        _event("e4", "v1", "discharge", "2024-03-04T10:30:00Z"),  # 6: conflicting
        _event("e5", "v2", "arrival", "2024-03-04T05:00:00Z", facility_id="F9"),  # 7
        _event("e6", "v3", "arrival", "2024-03-04T05:00:00Z", department="surgery"),  # kept
        _event("e7", "v3", "arrival", "2024-03-04T05:00:00Z", department="general"),  # 9
        _event("e8", "v4", "arrival", "2034-03-04T05:00:00Z"),  # 10: future
        _event("e9", "v5", "admission", "2024-03-04T06:00:00Z"),
        _event("e10", "v5", "discharge", "2024-03-04T05:59:00Z"),  # 12: before admission
        _event("e11", "v6", "arrival", "2024-03-04T05:00:00Z", age=150),  # 13: corrected
        "not json",  # 14
        _event("e12", "v7", "arrival", "yesterday"),  # 15: schema
        _event("e13", "v7", "triage", "2024-03-04T05:00:00Z", acuity=9),  # 16: schema
        _event("e14", "v7", "visit", "2024-03-04T05:00:00Z"),  # 17: schema
    ]
    db = _study(tmp_path)
    report = fl.ingest(db, [_write(tmp_path / "a.jsonl", records)], now=NOW)
    assert _rules(db) == {
        5: ("duplicate", "rejected"),
        6: ("conflicting_duplicate", "rejected"),
        7: ("unknown_facility", "rejected"),
        9: ("unknown_department", "rejected"),
        10: ("future_timestamp", "rejected"),
        12: ("discharge_before_admission", "rejected"),
        13: ("impossible_age", "corrected"),
        14: ("schema", "rejected"),
        15: ("schema", "rejected"),
        16: ("schema", "rejected"),
        17: ("schema", "rejected"),
    }
    c = report.counts
    assert (c["records"], c["validated"], c["rejected"], c["corrected"]) == (17, 7, 10, 1)
    assert c["schema"] == 4 and c["duplicate"] == 1 and c["conflicting_duplicate"] == 1
    totals = db.layer_counts()
    assert totals.raw == totals.validated + totals.rejected == 17 and totals.balanced
    assert db.check_invariant() == []
    # the corrected record is kept with an unknown age
    kept = db.sql("SELECT age FROM validated_events WHERE event_id = 'e11'")
    assert kept["age"].isna().all() and len(kept) == 1


def test_time_zones_are_normalised_to_utc(tmp_path: Path) -> None:
    records: list[dict[str, object] | str] = [
        _event("a", "v1", "arrival", "2024-03-04T08:00:00+03:00"),
        _event("b", "v2", "arrival", "2024-03-04T05:00:00Z"),
        _event("c", "v3", "arrival", "2024-03-04 08:00:00"),  # no offset: local time
        _event("d", "v4", "arrival", "2024-03-04T01:00:00-04:00"),
    ]
    db = _study(tmp_path, local_tz="Indian/Comoro")
    report = fl.ingest(db, [_write(tmp_path / "tz.jsonl", records)], now=NOW)
    ts = db.sql("SELECT event_id, ts FROM validated_events ORDER BY event_id")
    assert (ts["ts"] == pd.Timestamp("2024-03-04 05:00:00")).all()
    assert report.counts["normalised"] == 3  # all but the one already in UTC


def test_a_timestamp_within_the_tolerance_is_kept(tmp_path: Path) -> None:
    records: list[dict[str, object] | str] = [
        _event("a", "v1", "arrival", "2024-03-10T00:59:00Z"),
        _event("b", "v2", "arrival", "2024-03-10T01:01:00Z"),
    ]
    db = _study(tmp_path)
    fl.ingest(db, [_write(tmp_path / "f.jsonl", records)], now=NOW, future_tolerance_min=60)
    assert _rules(db) == {2: ("future_timestamp", "rejected")}


def test_discharge_is_checked_against_an_admission_of_an_earlier_file(tmp_path: Path) -> None:
    db = _study(tmp_path)
    first = _write(tmp_path / "1.jsonl", [_event("a", "v1", "admission", "2024-03-04T06:00:00Z")])
    second = _write(
        tmp_path / "2.jsonl",
        [
            _event("b", "v1", "discharge", "2024-03-04T05:00:00Z"),
            _event("c", "v1", "discharge", "2024-03-04T07:00:00Z"),
        ],
    )
    fl.ingest(db, [first, second], now=NOW)
    rule = db.sql(
        "SELECT q.rule, v.event_id FROM quarantine q, validated_events v "
        "WHERE v.event_type = 'discharge'"
    )
    assert rule.values.tolist() == [["discharge_before_admission", "c"]]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_csv_and_parquet_validate_like_json_lines(tmp_path: Path, fmt: str) -> None:
    records = [
        _event("a", "v1", "arrival", "2024-03-04T08:00:00+03:00", age=34, origin_cell="7"),
        _event("b", "v1", "triage", "2024-03-04T05:10:00Z", acuity=3),
        _event("c", "v1", "arrival", "2024-03-04T05:00:00Z", age=-2),
        _event("a", "v1", "arrival", "2024-03-04T05:00:00Z", age=34, origin_cell="7"),
    ]
    frame = pd.DataFrame(records)
    path = tmp_path / f"events.{fmt}"
    frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path, index=False)
    db = _study(tmp_path)
    fl.ingest(db, [path], now=NOW)
    other = _study(tmp_path / "j")
    fl.ingest(other, [_write(tmp_path / "j.jsonl", list(records))], now=NOW)
    columns = (
        "event_id, visit_id, event_type, ts, facility_id, department, acuity, age, origin_cell"
    )
    query = f"SELECT {columns} FROM validated_events ORDER BY event_id"
    pd.testing.assert_frame_equal(db.sql(query), other.sql(query))
    assert _rules(db) == {3: ("impossible_age", "corrected"), 4: ("duplicate", "rejected")}
