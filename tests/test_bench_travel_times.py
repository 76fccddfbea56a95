"""The travel-time benchmark runs end to end (``--quick``) and its peers agree with accessplan."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_travel_times.py"
TOOLS = ("accessplan", "networkx", "igraph", "pandana")
FLOORS = (
    "identical_results",
    "vs_networkx_30x",
    "vs_fastest_compiled_peer",
    "peak_memory_250k_under_8GiB",
)


@pytest.fixture(scope="module")
def quick_output() -> str:
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def _table_rows(output: str) -> list[list[str]]:
    lines = [line for line in output.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_quick_run_prints_one_table_with_every_tool_and_cutoff(quick_output: str) -> None:
    header, *rows = _table_rows(quick_output)
    assert header[:5] == ["case", "nodes", "origins×destinations", "cutoff", "tool"]
    assert "peak MiB" in header and "pairs/s" in header and "median s" in header
    seen = {(row[3], row[4].split(" ")[0]) for row in rows}
    assert seen == {(cutoff, tool) for cutoff in ("10 min", "none") for tool in TOOLS}
    median = header.index("median s")
    for row in rows:
        assert float(row[median].replace(",", "")) > 0


def test_quick_run_peers_agree_with_accessplan(quick_output: str) -> None:
    header, *rows = _table_rows(quick_output)
    agree = header.index("agree (max Δ min)")
    verdicts = [row[agree] for row in rows if not row[4].startswith("accessplan")]
    assert len(verdicts) == 6
    assert all(v.startswith("yes (") for v in verdicts), verdicts
    assert re.search(r"floor identical_results: .* PASS$", quick_output, re.MULTILINE)


def test_quick_run_ends_with_one_line_per_floor(quick_output: str) -> None:
    tail = quick_output.strip().splitlines()[-len(FLOORS) :]
    for line, name in zip(tail, FLOORS, strict=True):
        assert re.fullmatch(rf"floor {name}: .+ \(needs .+\) (PASS|FAIL)", line), line


def test_compare_reports_ties_at_the_cutoff_and_real_mismatches() -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_travel_times import compare

    # (0, 0) is a stored 0-minute pair; (1, 0) lies exactly at the 30-minute cutoff.
    reference = sp.csr_array(
        (np.array([0.0, 5.0, 30.0]), np.array([0, 1, 0]), np.array([0, 2, 3])), shape=(2, 2)
    )
    tie = sp.csr_array((np.array([0.0, 5.0]), np.array([0, 1]), np.array([0, 2, 2])), shape=(2, 2))
    result = compare(reference, tie, cutoff=30.0, tolerance=1e-6)
    assert result == {"max_delta": 0.0, "common": 2, "ties": 1, "mismatches": 0, "agree": True}

    wrong = sp.csr_array(
        (np.array([0.0, 5.5, 20.0]), np.array([0, 1, 1]), np.array([0, 2, 3])), shape=(2, 2)
    )
    result = compare(reference, wrong, cutoff=30.0, tolerance=1e-6)
    assert result["max_delta"] == pytest.approx(0.5)
    # 5 vs 5.5 differs; (1, 0) at 30 is a tie; (1, 1) at 20 min is kept by one side only.
    assert result["ties"] == 1
    assert result["mismatches"] == 2
    assert result["agree"] is False


def test_compare_restricts_the_reference_to_the_peer_destinations() -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_travel_times import compare

    reference = sp.csr_array(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    peer = sp.csr_array(np.array([[1.0, 3.0], [4.0, 6.0]]))
    result = compare(reference, peer, cutoff=None, tolerance=1e-6, columns=np.array([0, 2]))
    assert result["agree"] and result["common"] == 4
