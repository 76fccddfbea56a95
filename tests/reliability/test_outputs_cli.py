"""Reliability of output folders and the command line: hostile and unlucky cases.

Each case here once went wrong without a clear word: a facility named ``=HYPERLINK(...)``
landed in plan.csv as a live formula; a run killed half-way left map.html of one run beside
plan.csv of another; a re-run without figures left the earlier PNGs in place; a folder holding
someone's files was written into; ``--out`` naming a file failed only after the whole
computation, with a traceback; Ctrl-C and disk errors printed tracebacks and left half a
folder; a scenario name holding escape sequences was sent to the terminal as such.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import inspect
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from accessplan import outputs
from accessplan.cli import main
from accessplan.regions import synthetic_region
from accessplan.scenario import Scenario, run_batch

REPO = Path(__file__).resolve().parents[2]

TINY = """
[scenario]
name = {name}
seed = 3

[inputs]
{inputs}

[network]
cutoff = 60

[plan]
budget = {budget}
standard = 5
n_candidates = 6
min_distance_m = 300
time_limit = 20
persons_per_clinician = 100

[outputs]
figures = {figures}
"""
SYNTHETIC = 'region = "synthetic"\nsynthetic_nodes = 100\nsynthetic_origins = 40\n'
SYNTHETIC += "synthetic_facilities = 2"
FIGURES = {
    "access_before.png",
    "access_after.png",
    "access_change.png",
    "lorenz.png",
    "travel_time_histogram.png",
}
#: Outputs that are the same bytes for the same result (GeoPackages hold a timestamp).
DETERMINISTIC = ("plan.csv", "summary.csv", "diagnostics.csv", "map.html", "report.html")


def scenario_file(folder: Path, stem: str, *, name: str | None = None, **keys) -> Path:
    values = {"name": f'"{name or stem}"', "inputs": SYNTHETIC, "budget": 1.0, "figures": "false"}
    values.update(keys)
    path = folder / f"{stem}.toml"
    path.write_text(TINY.format(**values), encoding="utf-8")
    return path


def replacing() -> dict[str, bool]:
    """``replace=True`` where writing takes it (so these cases also run on older code)."""
    return (
        {"replace": True}
        if "replace" in inspect.signature(outputs.write_outputs).parameters
        else {}
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Two different results (budgets 1 and 0.5), each computed once."""
    folder = tmp_path_factory.mktemp("results")
    first = Scenario.from_toml(scenario_file(folder, "previous", figures="true")).run()
    second = Scenario.from_toml(scenario_file(folder, "new", budget=0.5)).run()
    return first, second


def digests(folder: Path) -> dict[str, str]:
    return {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in DETERMINISTIC
        if (folder / name).exists()
    }


def child_paused_in_save_map(tmp_path: Path, code: str, args: list[str]) -> subprocess.Popen:
    """Start ``code`` in a child whose map writing pauses; return it once it paused."""
    marker = tmp_path / "paused"
    pause = (
        "import time\nfrom pathlib import Path\nimport accessplan.maps as maps\n"
        "def save_map(*a, **k):\n"
        f"    Path({str(marker)!r}).write_text('here')\n"
        "    time.sleep(120)\n"
        "maps.save_map = save_map\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", pause + code, *args],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not marker.exists():
        child.kill()
        pytest.fail(f"the child never reached the map: {child.communicate()[1]}")
    return child


# ------------------------------------------------------------------------------ CSV formulas
def test_formula_facility_names_land_in_plan_csv_as_text_and_numbers_stay_numbers(tmp_path):
    import osmnx as ox

    region = synthetic_region(n_nodes=100, n_origins=40, n_facilities=4, seed=5)
    ox.io.save_graphml(region.roads, tmp_path / "roads.graphml")
    population = region.population.to_crs("EPSG:4326")
    population[["id", "population", "geometry"]].to_file(tmp_path / "pop.gpkg")
    facilities = region.facilities.to_crs("EPSG:4326")
    hostile = ['=HYPERLINK("http://x","y")', "+SUM(1+1)", "@cmd", "-2+3"]
    pd.DataFrame(
        {
            "id": facilities["id"],
            "name": hostile,
            "capacity": facilities["capacity"],
            "lon": facilities.geometry.x,
            "lat": facilities.geometry.y,
        }
    ).to_csv(tmp_path / "facilities.csv", index=False)
    inputs = (
        'roads = "roads.graphml"\npopulation = "pop.gpkg"\nfacilities = "facilities.csv"\n'
        'facility_capacity_col = "capacity"'
    )
    scenario = scenario_file(tmp_path, "files", inputs=inputs)
    assert main(["run", str(scenario), "--out", str(tmp_path / "out"), "--quiet"]) == 0

    with open(tmp_path / "out" / "plan.csv", newline="", encoding="utf-8") as handle:
        plan = list(csv.DictReader(handle))
    existing = sorted(row["name"] for row in plan if row["status"] == "existing")
    assert existing == sorted("'" + name for name in hostile)
    latitudes = [row["lat"] for row in plan]  # south of the equator: negative numbers
    assert all(lat.startswith("-") and float(lat) < 0 for lat in latitudes)


def test_a_batch_summary_neutralises_a_formula_scenario_name(tmp_path):
    scenario = scenario_file(tmp_path, "calc", name="=cmd|' /C calc'!A0")
    summary = run_batch([scenario], tmp_path / "batch", progress=False)
    assert summary["status"].tolist() == ["ok"]
    with open(tmp_path / "batch" / "batch_summary.csv", newline="", encoding="utf-8") as handle:
        names = [row["name"] for row in csv.DictReader(handle)]
    assert names == ["'=cmd|' /C calc'!A0"]


# ------------------------------------------------------------------------------ folders
def test_a_run_killed_while_replacing_leaves_one_complete_run_never_a_mix(results, tmp_path):
    previous, new = results
    for result, folder in ((previous, "ref_previous"), (new, "ref_new")):
        result.write(tmp_path / folder)
    target = tmp_path / "out"
    previous.write(target)
    result_file = tmp_path / "new.pickle"
    result_file.write_bytes(pickle.dumps(new))
    code = (
        "import inspect, pickle, sys\nfrom accessplan import outputs\n"
        "result = pickle.loads(Path(sys.argv[1]).read_bytes())\n"
        "kw = {'replace': True} if 'replace' in "
        "inspect.signature(outputs.write_outputs).parameters else {}\n"
        "outputs.write_outputs(result, Path(sys.argv[2]), **kw)\n"
    )
    child = child_paused_in_save_map(tmp_path, code, [str(result_file), str(target)])
    child.send_signal(signal.SIGKILL)
    child.communicate()

    found = digests(target)
    assert found in (digests(tmp_path / "ref_previous"), digests(tmp_path / "ref_new")), "a mix"
    assert found == digests(tmp_path / "ref_previous")  # killed before the move: the old run
    assert {p.name for p in target.iterdir()} >= FIGURES
    outputs.verify_outputs(target)


def test_a_rerun_without_figures_leaves_no_png_of_the_earlier_run(results, tmp_path):
    previous, new = results
    previous.write(tmp_path / "out")
    assert {p.name for p in (tmp_path / "out").iterdir()} >= FIGURES
    new.write(tmp_path / "out", **replacing())
    assert not [p.name for p in (tmp_path / "out").iterdir() if p.suffix == ".png"]


@pytest.fixture
def precomputed(results, monkeypatch):
    """``Scenario.run`` returns the second result under the scenario read; records calls."""
    calls = []

    def run(self, *, progress=False):
        calls.append(self.name)
        return dataclasses.replace(results[1], scenario=self)

    monkeypatch.setattr(Scenario, "run", run)
    return calls


def test_someone_elses_files_are_not_written_into(tmp_path, precomputed, capsys):
    scenario = scenario_file(tmp_path, "town")
    out = tmp_path / "shared"
    out.mkdir()
    (out / "budget.xlsx").write_bytes(b"the ministry's spreadsheet")
    code = main(["run", str(scenario), "--out", str(out), "--quiet"])
    assert code == 2
    assert sorted(p.name for p in out.iterdir()) == ["budget.xlsx"]
    assert precomputed == []
    err = capsys.readouterr().err
    assert err.startswith("accessplan: error: ") and err.count("\n") == 1


def test_out_naming_a_file_is_refused_at_once_in_one_line(tmp_path, precomputed, capsys):
    scenario = scenario_file(tmp_path, "town")
    assert main(["run", str(scenario), "--out", str(scenario), "--quiet"]) == 2
    assert precomputed == []
    err = capsys.readouterr().err
    assert err == f"accessplan: error: output folder {scenario} is a file, not a folder; " + (
        "choose a folder path for the outputs (out_dir; --out on the command line).\n"
    )


def test_a_disk_error_is_one_line_naming_the_file(tmp_path, precomputed, capsys, monkeypatch):
    scenario = scenario_file(tmp_path, "town")
    real_to_csv = pd.DataFrame.to_csv

    def full_disk(self, path=None, *args, **kwargs):
        if path is not None and Path(path).name == "plan.csv":
            raise OSError(28, "No space left on device")
        return real_to_csv(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"could not write {out / 'plan.csv'}: No space left on device" in err
    assert not out.exists()


def test_ctrl_c_while_writing_leaves_no_half_folder(results, tmp_path):
    scenario = scenario_file(tmp_path, "town", budget=0.5)
    code = "import sys\nfrom accessplan.cli import main\n"
    code += "sys.exit(main(['run', 'town.toml', '--out', 'out']))\n"
    child = child_paused_in_save_map(tmp_path, code, [])
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130
    assert err == "accessplan: interrupted; no output written to out\n"
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert scenario.exists()


def test_an_unexpected_exception_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    def broken(self, **kwargs):
        raise KeyError("minutes_after")

    monkeypatch.setattr(Scenario, "run", broken)
    scenario = scenario_file(tmp_path, "town")
    assert main(["run", str(scenario), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "accessplan: error: unexpected KeyError: 'minutes_after'; this is a bug; please report "
        "it with the scenario file (rerun with --debug for the traceback)\n"
    )


def test_escape_sequences_in_a_scenario_name_do_not_reach_the_terminal(
    tmp_path, precomputed, capsys
):
    # The title rewrites the terminal's window title and clears the screen when printed raw.
    name = r'"\u001b]0;owned\u0007\u001b[2JTown\u009b31m"'
    scenario = scenario_file(tmp_path, "town")
    scenario.write_text(scenario.read_text().replace('"town"', name), encoding="utf-8")
    assert main(["run", str(scenario), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Town"
    assert not any(c in out for c in "\x1b\x07\x9b")
