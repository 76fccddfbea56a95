"""``accessplan operate``: the [operations] section, the run end to end, the output folder."""

from __future__ import annotations

import json

import pytest

from accessplan.cli import main
from accessplan.errors import ScenarioError
from accessplan.maps import external_references
from accessplan.operations.scenario import read_operations_file

SHORT = """
[scenario]
name = "Ngazidja <b>operations</b> & co"
seed = 3

[inputs]
region = "ngazidja"

[operations]
days = 0.25
horizon = 6
replan_every = 2
seeds = 2
surges = 1
surge_hours = 3
"""


def write(tmp_path, text):
    path = tmp_path / "ops.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("dayz = 3", "unknown key 'dayz' in \\[operations\\]. Did you mean 'days'"),
        ("policy = 3", "policy must be str"),
        ("policy = 'rolling_robst'", "Did you mean 'rolling_robust'"),
        ("days = -1", "days = -1 must be >= 0.05"),
        ("compare = 1", "compare must be bool"),
        ("hysteresis = 1", "hysteresis = 1 must be < 1"),
        ("period_minutes = 30", "stream = 'patient_flows' needs period_minutes = 60"),
    ],
)
def test_a_bad_operations_key_is_an_error_naming_it(tmp_path, line, message):
    path = write(tmp_path, f"[operations]\n{line}\n")
    with pytest.raises(ScenarioError, match=message):
        read_operations_file(path)


def test_other_sections_are_validated_as_in_every_scenario(tmp_path):
    with pytest.raises(ScenarioError, match="unknown key 'nam' in \\[scenario\\]"):
        read_operations_file(write(tmp_path, "[scenario]\nnam = 'x'\n[operations]\n"))
    with pytest.raises(ScenarioError, match="no \\[operations\\] section"):
        read_operations_file(write(tmp_path, "[scenario]\nname = 'x'\n"))


def test_operate_runs_end_to_end_and_writes_a_complete_folder(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["operate", str(write(tmp_path, SHORT)), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "rolling_robust over 6 periods" in printed and "unmet demand" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {f["path"] for f in manifest["files"]}
    expected = {"allocation.csv", "transfers.csv", "decisions.csv", "costs.csv", "surges.csv"}
    assert expected | {"comparison.csv", "runs.csv", "operations.html"} <= listed
    page = (out / "operations.html").read_text()
    assert external_references(page) == []
    assert "&lt;b&gt;operations&lt;/b&gt; &amp; co" in page and "<b>operations</b>" not in page
    assert page.count("<svg") >= 4 + 1 + 1  # a heatmap per type, the map, the charts
    runs = (out / "runs.csv").read_text().splitlines()
    assert len(runs) == 1 + 2 * 4  # two seeds × four policies
    # the folder is left as it is without --replace (status 2), replaced with it
    before = (out / "manifest.json").read_bytes()
    assert main(["operate", str(tmp_path / "ops.toml"), "--out", str(out), "--quiet"]) == 2
    assert (out / "manifest.json").read_bytes() == before


def test_a_failing_run_leaves_the_output_folder_untouched(tmp_path, monkeypatch):
    import accessplan.operations.scenario as scenario

    def broken(*args, **kwargs):
        raise RuntimeError("report failed")

    monkeypatch.setattr(scenario, "operations_report", broken)
    out = tmp_path / "out"
    path = write(tmp_path, SHORT.replace("seeds = 2", "seeds = 1\ncompare = false"))
    assert main(["operate", str(path), "--out", str(out), "--quiet"]) == 1
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".accessplan-tmp-")]


def test_poisson_streams_run_at_any_period_length_and_patient_flows_need_hours(tmp_path, capsys):
    text = SHORT.replace("seeds = 2", "seeds = 1\ncompare = false")
    poisson = text + 'stream = "poisson"\nperiod_minutes = 30\n'
    out = tmp_path / "poisson"
    assert main(["operate", str(write(tmp_path, poisson)), "--out", str(out), "--quiet"]) == 0
    assert "over 12 periods of 30 min" in capsys.readouterr().out
    page = (out / "operations.html").read_text()
    assert "Demand: Poisson demand around the mean" in page
    flows = text + "period_minutes = 30\n"  # refused before anything is computed
    assert main(["operate", str(write(tmp_path, flows)), "--out", str(tmp_path / "f")]) == 1
    err = capsys.readouterr().err
    assert "[operations]: stream = 'patient_flows' needs period_minutes = 60" in err
    assert not (tmp_path / "f").exists()
