"""Exactly once: replays, overlapping batches, a kill mid-ingest and a followed folder."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import accessplan.flows as fl
import accessplan.flows.ingestion as ingest_module

NOW = dt.datetime(2024, 3, 10)
ROOT = Path(__file__).resolve().parents[1]


def _visit_lines(first: int, count: int) -> list[str]:
    """``count`` complete visits (4 events each) with ids from ``first``."""
    lines = []
    for v in range(first, first + count):
        base = pd.Timestamp("2024-03-04 05:00") + pd.Timedelta(minutes=7 * v)
        for k, (kind, minutes) in enumerate(
            [("arrival", 0), ("triage", 5), ("admission", 30), ("discharge", 150)]
        ):
            rec = {
                "event_id": f"e{v}-{k}",
                "visit_id": f"v{v}",
                "event_type": kind,
                "timestamp": (base + pd.Timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "facility_id": "F1",
                "department": "emergency",
            }
            if kind == "triage":
                rec["acuity"] = 3
            lines.append(json.dumps(rec))
    return lines


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _study(path: Path) -> fl.FlowDatabase:
    db = fl.open_database(path)
    db.load_reference(
        pd.DataFrame({"facility_id": ["F1"], "name": ["One"], "tier": ["Tier3"]}),
        pd.DataFrame({"facility_id": ["F1"], "department": ["emergency"], "beds": [4]}),
    )
    return db


def _snapshot(db: fl.FlowDatabase) -> tuple[int, ...]:
    c = db.layer_counts()
    files = int(db.scalar("SELECT count(*) FROM source_files"))
    return (c.raw, c.validated, c.rejected, c.visits, files)


def test_reingesting_a_file_adds_nothing_under_any_name(tmp_path: Path) -> None:
    db = _study(tmp_path / "s.duckdb")
    a = _write(tmp_path / "a.jsonl", _visit_lines(0, 10))
    fl.ingest(db, [a], now=NOW)
    before = _snapshot(db)
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(a.read_bytes())
    report = fl.ingest(db, [a, copy], now=NOW)
    assert report.ingested == [] and report.skipped == [str(a), str(copy)]
    assert _snapshot(db) == before == (40, 40, 0, 10, 1)


def test_an_overlapping_batch_adds_nothing_to_validated_or_star(tmp_path: Path) -> None:
    db = _study(tmp_path / "s.duckdb")
    fl.ingest(db, [_write(tmp_path / "a.jsonl", _visit_lines(0, 10))], now=NOW)
    fact = db.sql("SELECT * FROM fact_visit ORDER BY visit_id")
    # events of visits 5-9 again, plus visits 10-11
    report = fl.ingest(db, [_write(tmp_path / "b.jsonl", _visit_lines(5, 7))], now=NOW)
    assert report.counts["duplicate"] == 20 and report.counts["validated"] == 8
    c = db.layer_counts()
    assert (c.raw, c.validated, c.rejected, c.visits) == (68, 48, 20, 12)
    after = db.sql(
        "SELECT * FROM fact_visit WHERE visit_id IN "
        f"({', '.join(repr(f'v{i}') for i in range(10))}) ORDER BY visit_id"
    )
    pd.testing.assert_frame_equal(after, fact)
    assert db.check_invariant() == []


def test_a_failure_inside_the_transaction_leaves_the_study_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _study(tmp_path / "s.duckdb")
    fl.ingest(db, [_write(tmp_path / "a.jsonl", _visit_lines(0, 5))], now=NOW)
    before = _snapshot(db)
    b = _write(tmp_path / "b.jsonl", _visit_lines(5, 5))

    def crash(con: object) -> int:
        raise KeyboardInterrupt  # as if killed after raw, validated and quarantine were written

    monkeypatch.setattr(ingest_module, "update_star", crash)
    with pytest.raises(KeyboardInterrupt):
        fl.ingest(db, [b], now=NOW)
    assert _snapshot(db) == before
    monkeypatch.undo()
    fl.ingest(db, [b], now=NOW)
    fl.ingest(db, [b], now=NOW)
    assert _snapshot(db) == (40, 40, 0, 10, 2) and db.check_invariant() == []


_KILLED_INGEST = """
import sys, datetime as dt
import accessplan.flows as fl
import accessplan.flows.ingestion as ingest_module
original = ingest_module.update_star
def slow(con):
    original(con)
    print("in transaction", flush=True)
    import time; time.sleep(60)
ingest_module.update_star = slow
db = fl.open_database(sys.argv[1])
fl.ingest(db, [sys.argv[2]], now=dt.datetime(2024, 3, 10))
"""


def test_a_process_killed_mid_ingest_leaves_a_consistent_study(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    db = _study(path)
    fl.ingest(db, [_write(tmp_path / "a.jsonl", _visit_lines(0, 5))], now=NOW)
    before = _snapshot(db)
    db.close()
    b = _write(tmp_path / "b.jsonl", _visit_lines(5, 5))
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_INGEST, str(path), str(b)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"in transaction"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    db = fl.open_database(path)
    assert _snapshot(db) == before and db.check_invariant() == []
    fl.ingest(db, [b], now=NOW)
    assert _snapshot(db) == (40, 40, 0, 10, 2)


def test_following_a_folder_ingests_each_new_file_once_across_restarts(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = tmp_path / "s.duckdb"
    db = _study(path)
    _write(inbox / "1.jsonl", _visit_lines(0, 3))
    _write(inbox / "2.jsonl.part", _visit_lines(3, 3))  # still being written: left alone
    first = fl.follow_folder(db, inbox, poll_seconds=0.0, max_polls=2, now=NOW)
    assert [Path(p).name for p in first.ingested] == ["1.jsonl"]
    db.close()
    os.replace(inbox / "2.jsonl.part", inbox / "2.jsonl")
    _write(inbox / "3.jsonl", _visit_lines(3, 3)[::-1])  # 2.jsonl's events in another order
    db = fl.open_database(path)  # restart
    second = fl.follow_folder(db, inbox, poll_seconds=0.0, max_polls=2, now=NOW)
    assert sorted(Path(p).name for p in second.ingested) == ["2.jsonl", "3.jsonl"]
    c = db.layer_counts()
    assert (c.validated, c.rejected, c.visits) == (24, 12, 6) and c.rules["duplicate"] == 12
    started = time.perf_counter()
    third = fl.follow_folder(db, inbox, poll_seconds=0.0, max_polls=1, now=NOW)
    assert third.ingested == [] and time.perf_counter() - started < 30
    assert db.layer_counts() == c
