"""Output folders: complete or absent, self-describing (manifest), refused or replaced whole.

A run writes into a temporary folder beside the target and renames it into place; the tests
check the manifest against sizes and sha256 computed here, that a folder holding files is
refused unless replaced (and that then nothing stale survives), that write errors name the
user's path, and that a run killed (SIGKILL) at several points leaves either the previous
complete run or the new complete run at the target, never a mix.
"""

from __future__ import annotations

import csv
import dataclasses
import errno
import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

import accessplan
from accessplan import outputs
from accessplan._sanitize import write_csv
from accessplan.errors import InputError
from accessplan.outputs import MANIFEST_NAME, TEMP_PREFIX, verify_outputs, write_outputs
from accessplan.scenario import Scenario

REPO = Path(__file__).resolve().parents[1]

#: A small synthetic scenario (about 3 s to run); figures off, map and report on.
TINY = {
    "scenario": {"name": "first run", "seed": 3},
    "inputs": {
        "region": "synthetic",
        "synthetic_nodes": 100,
        "synthetic_origins": 40,
        "synthetic_facilities": 2,
    },
    "network": {"cutoff": 60},
    "plan": {
        "budget": 1.0,
        "standard": 5,
        "n_candidates": 6,
        "min_distance_m": 300,
        "time_limit": 20,
        "persons_per_clinician": 100,
    },
    "outputs": {"figures": False},
}

SCENARIO_FILES = {
    "accessibility.gpkg",
    "plan.gpkg",
    "plan.csv",
    "summary.csv",
    "diagnostics.csv",
    "map.html",
    "report.html",
}
FIGURES = {
    "access_before.png",
    "access_after.png",
    "access_change.png",
    "lorenz.png",
    "travel_time_histogram.png",
}


@pytest.fixture(scope="module")
def result():
    return Scenario.from_dict(TINY).run()


def renamed(result, name: str, **outputs_section):
    """The same result under another scenario name (and output switches), without rerunning."""
    changes = {"scenario": {"name": name}}
    if outputs_section:
        changes["outputs"] = outputs_section
    return dataclasses.replace(result, scenario=result.scenario.with_changes(**changes))


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------ manifest
def test_manifest_lists_every_file_with_its_size_and_sha256(result, tmp_path):
    out = tmp_path / "out"
    before = datetime.now(UTC).replace(microsecond=0)
    paths = write_outputs(result, out)
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))

    on_disk = {p.name for p in out.iterdir()} - {MANIFEST_NAME}
    assert on_disk == SCENARIO_FILES
    assert {entry["path"] for entry in manifest["files"]} == on_disk
    for entry in manifest["files"]:
        path = out / entry["path"]
        assert entry["bytes"] == path.stat().st_size > 0
        assert entry["sha256"] == sha256(path)
    canonical = json.dumps(
        result.scenario.config, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert manifest["scenario_hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert manifest["scenario"] == "first run"
    assert manifest["accessplan_version"] == accessplan.__version__
    created = datetime.strptime(manifest["created_utc"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= created <= datetime.now(UTC)
    assert all(p.parent == out for p in paths.values())
    assert temporaries(tmp_path) == []
    assert verify_outputs(out)["scenario"] == "first run"


def test_scenario_hash_changes_with_the_scenario_and_only_with_it(result):
    same = outputs.scenario_hash(Scenario.from_dict(TINY).config)
    assert same == outputs.scenario_hash(result.scenario.config)
    other = outputs.scenario_hash(result.scenario.with_changes(plan={"budget": 2.0}).config)
    assert other != same


def test_verify_outputs_finds_a_changed_a_missing_and_an_extra_file(result, tmp_path):
    out = tmp_path / "out"
    write_outputs(result, out)
    (out / "plan.csv").write_text("id\n1\n")
    (out / "summary.csv").unlink()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError) as info:
        verify_outputs(out)
    message = str(info.value)
    assert "plan.csv differs" in message
    assert "summary.csv is missing" in message
    assert "notes.txt is not in the manifest" in message


# ------------------------------------------------------------------------------ refuse / replace
def test_a_folder_holding_any_file_is_refused_and_left_as_it_was(result, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match=r"holds 1 file.*'notes.txt'.*replace=True"):
        write_outputs(result, out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert temporaries(tmp_path) == []


def test_a_folder_holding_another_run_is_refused_naming_that_run(result, tmp_path):
    out = tmp_path / "out"
    write_outputs(result, out)
    first = sha256(out / MANIFEST_NAME)
    with pytest.raises(InputError, match=r"another run's outputs \(scenario 'first run'"):
        write_outputs(renamed(result, "second run"), out)
    assert sha256(out / MANIFEST_NAME) == first


def test_an_empty_existing_folder_is_used(result, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    write_outputs(result, out)
    assert verify_outputs(out)["scenario"] == "first run"


def test_replace_leaves_no_file_of_the_earlier_run(result, tmp_path):
    out = tmp_path / "out"
    write_outputs(renamed(result, "with figures", figures=True), out)
    assert {p.name for p in out.iterdir()} >= FIGURES
    (out / "notes.txt").write_text("stale")
    (out / "old").mkdir()
    (out / "old" / "x.csv").write_text("1")

    write_outputs(renamed(result, "without figures"), out, replace=True)
    assert {p.name for p in out.iterdir()} == SCENARIO_FILES | {MANIFEST_NAME}
    assert verify_outputs(out)["scenario"] == "without figures"
    assert temporaries(tmp_path) == []


def test_an_out_dir_naming_a_file_is_refused(result, tmp_path):
    target = tmp_path / "plan.csv"
    target.write_text("mine")
    with pytest.raises(InputError, match="is a file, not a folder"):
        write_outputs(result, target, replace=True)
    assert target.read_text() == "mine"


def test_replace_refuses_a_folder_that_holds_the_scenario_inputs(result, tmp_path):
    inputs = tmp_path / "project"
    inputs.mkdir()
    scenario_file = inputs / "town.toml"
    scenario_file.write_text("[plan]\nbudget = 1.0\n")
    from_file = dataclasses.replace(
        result, scenario=Scenario(result.scenario.config, source=str(scenario_file))
    )
    with pytest.raises(InputError, match="holds the scenario's input"):
        write_outputs(from_file, inputs, replace=True)
    assert scenario_file.exists()


# ------------------------------------------------------------------------------ write errors
@pytest.mark.parametrize("with_filename", [False, True])
def test_a_write_error_names_the_users_file_and_leaves_nothing(
    result, tmp_path, monkeypatch, with_filename
):
    out = tmp_path / "out"

    def disk_full(frame, path, **kwargs):
        if Path(path).name == "summary.csv":
            name = str(path) if with_filename else None
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)
        frame.to_csv(path, **kwargs)
        return Path(path)

    monkeypatch.setattr(outputs, "write_csv", disk_full)
    with pytest.raises(InputError) as info:
        write_outputs(result, out)
    message = str(info.value)
    assert f"could not write {out / 'summary.csv'}: No space left on device" in message
    assert "free disk space" in message
    assert TEMP_PREFIX not in message
    assert not out.exists()
    assert temporaries(tmp_path) == []


def test_a_full_disk_under_a_geopackage_is_reported_as_such(result, tmp_path, monkeypatch):
    import geopandas as gpd
    from pyogrio.errors import DataSourceError

    def full(self, path, **kwargs):
        raise DataSourceError(f"sqlite3_exec() failed: database or disk is full ({path})")

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", full)
    out = tmp_path / "out"
    with pytest.raises(InputError) as info:
        write_outputs(result, out)
    message = str(info.value)
    assert message.startswith(f"could not write {out / 'accessibility.gpkg'}: No space left")
    assert "free disk space" in message
    assert not out.exists()


def test_an_unwritable_parent_is_reported_before_writing(result, tmp_path, monkeypatch):
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if self.parent == tmp_path:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(InputError, match=r"cannot be written: creating a folder in .* fails"):
        outputs.check_output_dir(tmp_path / "out")


def test_a_temporary_folder_that_cannot_be_made_is_named_as_such(result, tmp_path, monkeypatch):
    def refused(real):
        name = str(real.parent / f"{TEMP_PREFIX}{real.name}-1-0a1b2c3d")
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)

    monkeypatch.setattr(outputs, "_new_temporary", refused)
    out = tmp_path / "out"
    with pytest.raises(InputError) as info:
        write_outputs(result, out)
    assert str(info.value).startswith(
        f"could not write a temporary folder beside {out}: Permission denied. Fix: check that "
        f"you may write to {tmp_path}"
    )


# ------------------------------------------------------------------------------ temporaries
def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_runs_temporary_folders_are_removed_by_the_next_run(result, tmp_path):
    dead = tmp_path / f"{TEMP_PREFIX}out-{dead_pid()}-0a1b2c3d"
    dead.mkdir()
    (dead / "plan.csv").write_text("half")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = tmp_path / f"{TEMP_PREFIX}out-{sleeper.pid}-0a1b2c3d"
        other_target = tmp_path / f"{TEMP_PREFIX}out-b-{dead_pid()}-0a1b2c3d"
        alive.mkdir()
        other_target.mkdir()
        write_outputs(result, tmp_path / "out")
        assert temporaries(tmp_path) == sorted([alive.name, other_target.name])
    finally:
        sleeper.kill()
        sleeper.wait()


# ------------------------------------------------------------------------------ kill test
CHILD = """
import os, pickle, sys, time
from pathlib import Path
from accessplan import outputs

result_file, target, marker, point, when = sys.argv[1:6]
result = pickle.loads(Path(result_file).read_bytes())
original = getattr(outputs, point)
calls = []

def note(path, text):  # whole or absent: the parent never reads a half-written marker
    Path(path + ".part").write_text(text)
    os.replace(path + ".part", path)

def pause(*args, **kwargs):
    calls.append(1)
    # _write_gpkg: stop before the second file; the others: at their only call.
    if point != "_write_gpkg" or len(calls) == 2:
        if when == "after":
            original(*args, **kwargs)
        note(marker, "here")
        time.sleep(120)
    return original(*args, **kwargs)

setattr(outputs, point, pause)
outputs.write_outputs(result, target, replace=True)
note(marker, "finished")
"""

#: (function, pause before or after it, which run the target holds after the kill)
KILL_POINTS = [
    ("_write_gpkg", "before", "previous"),  # accessibility.gpkg written, plan.gpkg not yet
    ("_write_manifest", "before", "previous"),  # every file written, no manifest yet
    ("_write_manifest", "after", "previous"),  # complete, not yet moved
    ("_move_into_place", "before", "previous"),
    ("_move_into_place", "after", "new"),  # swapped in, the previous run not yet removed
]


def kill_child_at(tmp_path: Path, result, target: Path, point: str, when: str) -> None:
    result_file = tmp_path / "result.pickle"
    result_file.write_bytes(pickle.dumps(result))
    marker = tmp_path / "marker"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(result_file), str(target), str(marker), point, when],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if not (marker.exists() and marker.read_text() == "here"):
            child.kill()
            pytest.fail(f"the child never paused: {child.communicate()[1]}")
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize(("point", "when", "holds"), KILL_POINTS)
def test_a_run_killed_mid_write_leaves_a_complete_run_never_a_mix(
    result, tmp_path, point, when, holds
):
    target = tmp_path / "out"
    write_outputs(renamed(result, "previous run", figures=True), target)
    kill_child_at(tmp_path, renamed(result, "new run"), target, point, when)

    manifest = verify_outputs(target)  # every file present and matching its checksum
    assert manifest["scenario"] == f"{holds} run"
    names = {p.name for p in target.iterdir()}
    assert (names >= FIGURES) == (holds == "previous")

    write_outputs(renamed(result, "next run"), target, replace=True)
    assert verify_outputs(target)["scenario"] == "next run"
    assert temporaries(tmp_path) == []


def test_a_first_run_killed_before_the_move_leaves_no_folder(result, tmp_path):
    target = tmp_path / "out"
    kill_child_at(tmp_path, result, target, "_write_manifest", "after")
    assert not target.exists()
    assert len(temporaries(tmp_path)) == 1
    write_outputs(result, target)
    assert temporaries(tmp_path) == []


# ------------------------------------------------------------------------------ CSV hygiene
def test_csv_cells_a_spreadsheet_would_evaluate_are_neutralised(tmp_path):
    frame = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"],
            "id": ["-12", "+3.5", "a", "b", "c", "d"],
            "change": [-0.5, -1.0, 2.0, -3.0, 0.0, -1e-3],
        }
    )
    path = write_csv(frame, tmp_path / "x.csv", index=False)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    assert [r[0] for r in rows] == [
        '\'=HYPERLINK("http://x","y")',
        "'+1+2",
        "'-2+3",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
    ]
    assert [r[1] for r in rows] == ["-12", "+3.5", "a", "b", "c", "d"]  # numbers stay numbers
    assert [float(r[2]) for r in rows] == frame["change"].tolist()
    assert rows[0][2] == "-0.5"
