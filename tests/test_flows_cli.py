"""``accessplan flows``: simulate the embedded region, ingest twice, status, KPIs, demand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from accessplan.cli import main


def test_simulate_ingest_and_read_back_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, db = tmp_path / "sim", tmp_path / "study.duckdb"
    assert main(["flows", "simulate", "--out", str(out), "--days", "2", "--seed", "3"]) == 0
    said = capsys.readouterr().out
    assert "for 31 facilities over 2 days" in said
    dirty = pd.read_csv(out / "dirty.csv")
    assert main(["flows", "ingest", str(out), "--db", str(db), "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "raw = validated + rejected: yes" in said
    for rule, n in dirty["rule"].value_counts().items():
        assert f"  {rule:<28} {n:>8,}" in said
    assert main(["flows", "ingest", str(out), "--db", str(db), "--quiet"]) == 0
    assert "files ingested 0, already ingested (skipped) 2" in capsys.readouterr().out
    follow = ["flows", "ingest", str(out / "events"), "--db", str(db), "--follow"]
    assert main([*follow, "--poll", "0", "--max-polls", "2", "--quiet"]) == 0
    assert "this ingest: 0 raw = 0 validated + 0 rejected" in capsys.readouterr().out
    assert main(["flows", "status", "--db", str(db)]) == 0
    assert "visits (star)" in capsys.readouterr().out
    assert main(["flows", "kpis", "--db", str(db), "--out", str(tmp_path / "k.csv")]) == 0
    kpis = pd.read_csv(tmp_path / "k.csv")
    assert kpis[["facility_id", "department"]].drop_duplicates().shape[0] == 76
    assert main(["flows", "demand", "--db", str(db), "--out", str(tmp_path / "d.csv")]) == 0
    rates = pd.read_csv(tmp_path / "d.csv")
    assert len(rates) == 5117 and rates["visits_per_person_year"].max() > 0


def test_ingest_without_reference_data_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text('{"event_id": "a"}\n', encoding="utf-8")
    assert main(["flows", "ingest", str(events), "--db", str(tmp_path / "s.duckdb")]) == 1
    assert "no reference facilities" in capsys.readouterr().err
