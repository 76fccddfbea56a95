"""The command line: exit statuses, one-line errors, --replace, Ctrl-C, control characters.

Most tests run ``main`` in this process with the scenario's computation replaced by one result
computed once (the CLI and output code around it are what is tested); the Ctrl-C tests run the
command in a child process and interrupt it at a known point.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accessplan import outputs
from accessplan.cli import main
from accessplan.errors import ScenarioError
from accessplan.outputs import MANIFEST_NAME, TEMP_PREFIX, verify_outputs
from accessplan.scenario import Scenario

REPO = Path(__file__).resolve().parents[1]

TINY_TOML = """
[scenario]
name = {name}
seed = 3

[inputs]
region = "synthetic"
synthetic_nodes = 100
synthetic_origins = 40
synthetic_facilities = 2

[network]
cutoff = 60

[plan]
budget = 1.0
standard = 5
n_candidates = 6
min_distance_m = 300
time_limit = 20
persons_per_clinician = 100

[outputs]
figures = false
"""


def write_scenario(folder: Path, name: str = '"town"', file: str = "town.toml") -> Path:
    path = folder / file
    path.write_text(TINY_TOML.format(name=name), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    """The tiny scenario's result, computed once."""
    folder = tmp_path_factory.mktemp("computed")
    return Scenario.from_toml(write_scenario(folder)).run()


@pytest.fixture
def no_compute(computed, monkeypatch):
    """``Scenario.run`` returns the precomputed result, under the scenario that was read."""
    calls = []

    def run(self, *, progress=False):
        calls.append(self.name)
        return dataclasses.replace(computed, scenario=self)

    monkeypatch.setattr(Scenario, "run", run)
    return calls


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A working folder holding town.toml; paths in the tests are relative to it."""
    monkeypatch.chdir(tmp_path)
    write_scenario(tmp_path)
    return tmp_path


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("accessplan: error: "), err
    return lines[0]


# ------------------------------------------------------------------------------ run / replace
def test_run_writes_a_complete_folder_and_names_the_users_path(project, no_compute, capsys):
    assert main(["run", "town.toml", "--out", "out"]) == 0
    assert no_compute == ["town"]
    assert verify_outputs(project / "out")["scenario"] == "town"
    assert (
        capsys.readouterr().out.rstrip().endswith(f"Outputs written to {os.path.join('out', '')}")
    )


def test_replace_swaps_out_a_folder_holding_files(project, no_compute, capsys):
    (project / "out").mkdir()
    (project / "out" / "notes.txt").write_text("stale")
    assert main(["run", "town.toml", "--out", "out", "--replace"]) == 0
    assert not (project / "out" / "notes.txt").exists()
    assert verify_outputs(project / "out")["scenario"] == "town"
    assert [p.name for p in project.iterdir() if p.name.startswith(TEMP_PREFIX)] == []


# ------------------------------------------------------------------------------ --out checks
def test_out_holding_files_is_refused_before_computing(project, no_compute, capsys):
    (project / "out").mkdir()
    (project / "out" / "notes.txt").write_text("keep")
    assert main(["run", "town.toml", "--out", "out"]) == 2
    line = error_line(capsys)
    assert "output folder out already holds 1 file" in line
    assert "--replace" in line
    assert no_compute == []
    assert (project / "out" / "notes.txt").read_text() == "keep"


def test_out_naming_a_file_is_refused_before_computing(project, no_compute, capsys):
    assert main(["run", "town.toml", "--out", "town.toml"]) == 2
    assert "output folder town.toml is a file, not a folder" in error_line(capsys)
    assert no_compute == []


def test_out_below_a_file_is_refused_before_computing(project, no_compute, capsys):
    assert main(["run", "town.toml", "--out", "town.toml/out"]) == 2
    line = error_line(capsys)
    assert "output folder town.toml/out cannot be created" in line
    assert "is a file, not a folder" in line
    assert no_compute == []


def test_out_in_a_read_only_folder_is_refused_before_computing(
    project, no_compute, capsys, monkeypatch
):
    real_mkdir = Path.mkdir
    locked = project / "locked"
    locked.mkdir()

    def read_only(self, *args, **kwargs):
        if self.parent == locked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    assert main(["run", "town.toml", "--out", "locked/out"]) == 2
    line = error_line(capsys)
    assert "output folder locked/out cannot be written" in line
    assert "Permission denied" in line
    assert no_compute == []


def test_demo_checks_its_out_folder_before_computing(project, capsys, monkeypatch):
    monkeypatch.setattr(Scenario, "run", lambda self, **kw: pytest.fail("computed"))
    (project / "out").mkdir()
    (project / "out" / "x").write_text("")
    assert main(["demo", "--out", "out"]) == 2
    assert "output folder out already holds" in error_line(capsys)


def test_replace_refuses_the_folder_holding_the_scenario_file(project, no_compute, capsys):
    assert main(["run", "town.toml", "--out", ".", "--replace"]) == 2
    assert "replacing it would delete" in error_line(capsys)
    assert (project / "town.toml").exists()


# ------------------------------------------------------------------------------ errors
def test_a_scenario_error_is_one_line_naming_the_file_and_key(project, capsys):
    (project / "bad.toml").write_text("[plan]\nbudjet = 3\n")
    assert main(["run", "bad.toml", "--out", "out"]) == 1
    line = error_line(capsys)
    assert "bad.toml" in line and "'budjet'" in line and "Did you mean 'budget'" in line
    assert not (project / "out").exists()


def test_a_write_error_is_one_line_naming_the_file_and_the_fix(
    project, no_compute, capsys, monkeypatch
):
    def refused(frame, path, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(outputs, "write_csv", refused)
    assert main(["run", "town.toml", "--out", "out"]) == 1
    line = error_line(capsys)
    assert f"could not write {os.path.join('out', 'plan.csv')}: Permission denied" in line
    assert "check that you may write to" in line
    assert TEMP_PREFIX not in line
    assert not (project / "out").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "town.toml", "--out", "out"],
        ["--debug", "run", "town.toml", "--out", "out"],
        ["run", "town.toml", "--out", "out", "--debug"],
    ],
)
def test_an_unexpected_exception_is_one_line_and_a_traceback_only_with_debug(
    project, capsys, monkeypatch, argv
):
    def broken(self, **kwargs):
        raise ValueError("boom\nsecond line")

    monkeypatch.setattr(Scenario, "run", broken)
    assert main(argv) == 1
    err = capsys.readouterr().err
    last = err.splitlines()[-1]
    assert last.startswith("accessplan: error: unexpected ValueError: boom second line; ")
    assert "this is a bug; please report it with the scenario file" in last
    debug = "--debug" in argv
    assert ("Traceback (most recent call last)" in err) == debug
    assert (len(err.splitlines()) == 1) == (not debug)


# ------------------------------------------------------------------------------ control chars
HOSTILE = "\x1b[31mRed\x1b[0m \x1b]0;title\x07town\x9b2J\x00\u202e"


def test_control_characters_from_the_scenario_are_not_printed(project, no_compute, capsys):
    toml_name = '"' + HOSTILE.encode("unicode_escape").decode("ascii").replace("\\x", "\\u00") + '"'
    write_scenario(project, name=toml_name, file="hostile.toml")
    assert Scenario.from_toml(project / "hostile.toml").name == HOSTILE
    assert main(["run", "hostile.toml", "--out", "out"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Red town"
    assert not any(c in out for c in "\x1b\x07\x9b\x00\u202e")


def test_control_characters_in_error_messages_are_not_printed(project, capsys, monkeypatch):
    def hostile(path):
        raise ScenarioError(f"{path}: facility {HOSTILE!s} is\x1b[2K broken")

    monkeypatch.setattr(Scenario, "from_toml", staticmethod(hostile))
    assert main(["run", "town.toml", "--out", "out"]) == 1
    line = error_line(capsys)
    assert line == "accessplan: error: town.toml: facility Red town is broken"


# ------------------------------------------------------------------------------ Ctrl-C
CHILD = """
import dataclasses, pickle, sys, time
from pathlib import Path
from accessplan import outputs
from accessplan.cli import main
from accessplan.scenario import Scenario

result_file, marker, point = sys.argv[1:4]
computed = pickle.loads(Path(result_file).read_bytes())

def pause():
    Path(marker).write_text("here")
    time.sleep(120)

def run(self, *, progress=False):
    if point == "compute":
        pause()
    return dataclasses.replace(computed, scenario=self)

original = outputs._write_manifest

def write_manifest(*args, **kwargs):
    if point == "write":
        pause()
    return original(*args, **kwargs)

Scenario.run = run
outputs._write_manifest = write_manifest
sys.exit(main(sys.argv[4:]))
"""


def interrupt_child(folder: Path, computed, point: str, argv: list[str]):
    """Run the command in a child, send SIGINT once it reached ``point``; return it done."""
    result_file = folder / "result.pickle"
    result_file.write_bytes(pickle.dumps(computed))
    marker = folder / "marker"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(result_file), str(marker), point, *argv],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if not marker.exists():
            child.kill()
            pytest.fail(f"the child never reached the pause: {child.communicate()[1]}")
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
        child.wait()
    return child.returncode, out, err


@pytest.mark.parametrize("point", ["compute", "write"])
def test_ctrl_c_exits_130_with_one_line_and_no_folder(project, computed, point):
    code, _, err = interrupt_child(project, computed, point, ["run", "town.toml", "--out", "out"])
    assert code == 130
    assert err == "accessplan: interrupted; no output written to out\n"
    assert not (project / "out").exists()
    assert [p.name for p in project.iterdir() if p.name.startswith(TEMP_PREFIX)] == []


def test_ctrl_c_during_a_replace_keeps_the_previous_run(project, computed, no_compute):
    assert main(["run", "town.toml", "--out", "out"]) == 0
    before = (project / "out" / MANIFEST_NAME).read_bytes()
    argv = ["run", "town.toml", "--out", "out", "--replace"]
    code, _, err = interrupt_child(project, computed, "write", argv)
    assert code == 130
    assert err.splitlines() == ["accessplan: interrupted; no output written to out"]
    assert (project / "out" / MANIFEST_NAME).read_bytes() == before
    verify_outputs(project / "out")


# ------------------------------------------------------------------------------ check
def test_check_prints_what_the_run_will_use_without_running(project, no_compute, capsys):
    assert main(["check", "town.toml"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Scenario check: town.toml\n")
    assert "cells 40" in out
    assert out.rstrip().endswith("OK: the scenario can run.")
    assert no_compute == []
    assert sorted(p.name for p in project.iterdir()) == ["town.toml"]  # nothing written


def test_check_exits_1_when_an_input_cannot_be_read(project, capsys):
    (project / "roads.graphml").write_text("not a graph")
    (project / "pop.gpkg").write_text("not a geopackage")
    inputs = '[inputs]\nroads = "roads.graphml"\npopulation = "pop.gpkg"\n'
    (project / "files.toml").write_text(inputs, encoding="utf-8")
    assert main(["check", "files.toml"]) == 1
    out = capsys.readouterr().out
    assert "Error: " in out and "roads.graphml" in out
    assert out.rstrip().endswith("The scenario cannot run.")


def test_check_reports_an_invalid_scenario_in_one_line(project, capsys):
    (project / "bad.toml").write_text("[network]\ncutof = 30\n")
    assert main(["check", "bad.toml"]) == 1
    line = error_line(capsys)
    assert "bad.toml" in line and "Did you mean 'cutoff'" in line


def test_check_checks_the_out_folder_too(project, no_compute, capsys):
    assert main(["check", "town.toml", "--out", "town.toml"]) == 2
    captured = capsys.readouterr()
    assert "OK: the scenario can run." in captured.out
    assert "output folder town.toml is a file, not a folder" in captured.err


def test_check_strips_control_characters_from_the_report(project, capsys):
    write_scenario(project, file="town\x1b[2J.toml")
    assert main(["check", "town\x1b[2J.toml"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Scenario check: town.toml\n")
    assert "\x1b" not in out


@pytest.mark.slow
def test_check_answers_in_seconds_on_the_embedded_region(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Scenario, "run", lambda self, **kw: pytest.fail("check ran the scenario"))
    scenario = tmp_path / "ngazidja.toml"
    scenario.write_text('[scenario]\nname = "Ngazidja"\n[inputs]\nregion = "ngazidja"\n')
    start = time.perf_counter()
    assert main(["check", str(scenario)]) == 0
    seconds = time.perf_counter() - start
    out = capsys.readouterr().out
    assert "persons 449,425" in out
    assert seconds < 60, f"check took {seconds:.0f} s"
