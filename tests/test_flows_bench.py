"""The benchmark's two pipelines agree on a small run (pandas is an independent reference)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_flows import run_flows, run_pandas, write_events  # noqa: E402


def test_duckdb_and_pandas_pipelines_agree_on_generated_events(tmp_path: Path) -> None:
    files = write_events(tmp_path / "events", 6_000, per_file=2_000)
    assert len(files) == 3
    flows = run_flows(str(tmp_path / "events"), str(tmp_path / "study.duckdb"))
    assert flows == run_pandas(str(tmp_path / "events"))
    visits = int(6_000 / (4 + 1 / 150))
    assert flows["visits"] == visits
    assert flows["duplicate"] == len(range(7, visits, 150)) and flows["impossible_age"] > 0
    assert flows["raw"] == flows["validated"] + flows["duplicate"] + flows["unknown_facility"]
