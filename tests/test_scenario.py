"""Scenarios and the command line end to end: outputs, batch runs, determinism, escaping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from accessplan.cli import main
from accessplan.errors import ScenarioError
from accessplan.regions import synthetic_region
from accessplan.scenario import Scenario, run_batch

OUTPUTS = (
    "accessibility.gpkg",
    "plan.gpkg",
    "plan.csv",
    "summary.csv",
    "diagnostics.csv",
    "map.html",
    "report.html",
    "access_before.png",
    "access_after.png",
    "access_change.png",
    "lorenz.png",
    "travel_time_histogram.png",
)

SYNTHETIC = """
[scenario]
name = "Synthetic town: {name}"
seed = 3

[inputs]
region = "synthetic"
synthetic_nodes = 400
synthetic_origins = 200
synthetic_facilities = 3

[network]
mode = "drive"
cutoff = 60

[access]
digital_access = 0.4
effectiveness = 0.5

[plan]
model = "{model}"
budget = {budget}
p = 2
standard = 5
n_candidates = 12
min_distance_m = 300
time_limit = 60
persons_per_clinician = 100
"""


def write_synthetic(folder: Path, name: str, *, budget: float = 2.0, model: str = "budget") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(SYNTHETIC.format(name=name, budget=budget, model=model))
    return path


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    scenario = write_synthetic(folder, "base")
    out = folder / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    return scenario, out


def test_run_writes_every_output_on_a_synthetic_region(synthetic_run):
    _, out = synthetic_run
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0, name
    cells = gpd.read_file(out / "accessibility.gpkg")
    assert {"population", "before", "after", "change", "minutes_before", "minutes_after"} <= set(
        cells.columns
    )
    assert cells["population"].sum() == pytest.approx(
        synthetic_region(n_nodes=400, n_origins=200, n_facilities=3, seed=3)
        .population["population"]
        .sum()
    )
    np.testing.assert_allclose(cells["change"], cells["after"] - cells["before"])
    plan = pd.read_csv(out / "plan.csv")
    assert set(plan["status"]) == {"existing", "new"}
    assert plan.loc[plan["status"] == "new", "cost"].sum() <= 2.0 + 1e-9
    summary = pd.read_csv(out / "summary.csv")
    assert summary["metric"].str.contains("population-weighted mean").any()
    newly = summary[summary["metric"].str.startswith("persons newly within")].iloc[0]
    assert newly["before"] == 0 and newly["after"] == newly["change"] >= 0
    html = (out / "report.html").read_text()
    assert "Synthetic town: base" in html


def test_adding_supply_never_lowers_access(synthetic_run):
    _, out = synthetic_run
    cells = gpd.read_file(out / "accessibility.gpkg")
    assert (cells["after"] >= cells["before"] - 1e-12).all()
    reached = cells["minutes_before"].notna()
    assert (
        cells.loc[reached, "minutes_after"] <= cells.loc[reached, "minutes_before"] + 1e-9
    ).all()


def test_two_runs_give_identical_summary_and_gpkg_attributes(synthetic_run, tmp_path):
    scenario, out = synthetic_run
    again = tmp_path / "again"
    assert main(["run", str(scenario), "--out", str(again), "--quiet"]) == 0
    first = pd.read_csv(out / "summary.csv")
    second = pd.read_csv(again / "summary.csv")
    pd.testing.assert_frame_equal(first, second)
    for name in ("accessibility.gpkg", "plan.gpkg"):
        a = gpd.read_file(out / name).drop(columns="geometry")
        b = gpd.read_file(again / name).drop(columns="geometry")
        pd.testing.assert_frame_equal(a, b)
    assert (out / "summary.csv").read_bytes() == (again / "summary.csv").read_bytes()


def test_each_location_model_runs_from_a_scenario(tmp_path):
    for model in ("p_median", "mclp", "lscp", "p_center"):
        path = write_synthetic(tmp_path, model, model=model)
        result = Scenario.from_toml(path).run()
        assert result.plan.model.endswith(model.split("_")[-1]) or result.plan.model == model
        assert len(result.plan.sites) >= 3  # the existing facilities stay open


def test_batch_runs_a_budget_sweep_and_reports_a_failing_scenario(tmp_path):
    paths = [write_synthetic(tmp_path, f"budget_{b}", budget=b) for b in (0.5, 1.0, 3.0)]
    broken = tmp_path / "broken.toml"
    broken.write_text('[inputs]\nroads = "missing.osm.pbf"\npopulation = "missing.tif"\n')
    out = tmp_path / "sweep"
    summary = run_batch([*paths, broken], out, jobs=2, progress=False)
    assert summary["status"].tolist() == ["ok", "ok", "ok", "failed"]
    assert "missing.osm.pbf" in summary.loc[3, "error"]
    ok = summary[summary["status"] == "ok"]
    assert ok["plan_covered_population"].is_monotonic_increasing
    assert (ok["served_after"] >= ok["served_before"] - 1e-6).all()
    assert (out / "batch_summary.csv").exists()
    assert (out / "budget_coverage.png").stat().st_size > 0
    for b in (0.5, 1.0, 3.0):
        assert (out / f"budget_{b}" / "map.html").exists()


def test_cli_batch_exit_code_and_table(tmp_path, capsys):
    ok = write_synthetic(tmp_path, "one", budget=1.0)
    bad = tmp_path / "bad.toml"
    bad.write_text("[plan]\nbudjet = 3\n")
    code = main(["batch", str(ok), str(bad), "--out", str(tmp_path / "b"), "--quiet"])
    printed = capsys.readouterr().out
    assert code == 1
    assert "1 of 2 scenarios succeeded" in printed
    assert "Did you mean 'budget'" in pd.read_csv(tmp_path / "b" / "batch_summary.csv")["error"][1]


def test_cli_reports_invalid_scenario_with_a_clear_message(tmp_path, capsys):
    bad = tmp_path / "typo.toml"
    bad.write_text("[network]\ncutof = 30\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "unknown key 'cutof' in [network]. Did you mean 'cutoff'?" in err


@pytest.mark.parametrize(
    "args", [["--help"], ["demo", "--help"], ["run", "--help"], ["batch", "--help"]]
)
def test_every_command_has_help(args):
    done = subprocess.run(
        [sys.executable, "-m", "accessplan.cli", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "usage: accessplan" in done.stdout


def test_file_inputs_and_hostile_facility_names_are_escaped(tmp_path):
    import osmnx as ox

    region = synthetic_region(n_nodes=400, n_origins=150, n_facilities=3, seed=5)
    graph_path = tmp_path / "roads.graphml"
    ox.io.save_graphml(region.roads, graph_path)
    population = region.population.to_crs("EPSG:4326")
    population[["id", "population", "geometry"]].to_file(tmp_path / "pop.gpkg")
    facilities = region.facilities.to_crs("EPSG:4326")
    table = pd.DataFrame(
        {
            "id": facilities["id"],
            "name": ["<script>alert(1)</script>", "Clinic & <b>bold</b>", "Plain"],
            "capacity": facilities["capacity"],
            "lon": facilities.geometry.x,
            "lat": facilities.geometry.y,
        }
    )
    table.to_csv(tmp_path / "facilities.csv", index=False)
    scenario = tmp_path / "files.toml"
    scenario.write_text(
        '[inputs]\nroads = "roads.graphml"\npopulation = "pop.gpkg"\n'
        'facilities = "facilities.csv"\nfacility_capacity_col = "capacity"\n'
        "[plan]\nbudget = 1.0\nstandard = 5\nn_candidates = 10\n"
        "persons_per_clinician = 100\n"
        "min_distance_m = 300\n"
    )
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    for page in ("map.html", "report.html"):
        html = (out / page).read_text()
        assert "<script>alert(1)</script>" not in html
        assert "<b>bold</b>" not in html
    plan = pd.read_csv(out / "plan.csv")
    assert "<script>alert(1)</script>" in plan["name"].tolist()


def test_scenario_in_code_with_changes():
    base = Scenario.demo()
    changed = base.with_changes(plan={"budget": 9.0})
    assert changed.config["plan"]["budget"] == 9.0
    assert base.config["plan"]["budget"] == 5.0
    with pytest.raises(ScenarioError, match="Did you mean 'budget'"):
        base.with_changes(plan={"budgte": 1})


@pytest.mark.slow
def test_embedded_region_end_to_end(tmp_path):
    scenario = tmp_path / "ngazidja.toml"
    scenario.write_text(
        '[scenario]\nname = "Ngazidja small"\n[inputs]\nregion = "ngazidja"\naggregate = 10\n'
        "[plan]\nbudget = 3.0\nn_candidates = 20\ntime_limit = 60\n"
    )
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    summary = pd.read_csv(out / "summary.csv").set_index("metric")
    mean = summary.index[summary.index.str.contains("population-weighted mean")][0]
    assert summary.loc[mean, "after"] > summary.loc[mean, "before"] > 0
    cells = gpd.read_file(out / "accessibility.gpkg")
    assert cells["population"].sum() == pytest.approx(449_425, rel=1e-6)
    diagnostics = pd.read_csv(out / "diagnostics.csv")
    assert list(diagnostics.columns) == ["section", "item", "field", "value"]
    snapping = diagnostics[diagnostics["section"] == "snapping"]
    origins = snapping[snapping["item"] == "existing facilities / origins"]
    origins = origins.set_index("field")["value"].astype(float)
    assert origins["snapped_persons"] + origins["too_far_persons"] == pytest.approx(
        origins["persons"]
    )
    persons = diagnostics[diagnostics["section"] == "persons"]
    for when in ("before", "after"):
        counted = persons.loc[persons["field"] == f"persons_{when}", "value"].astype(float)
        assert counted.sum() == pytest.approx(449_425, rel=1e-6)  # every person once
        shares = persons.loc[persons["field"] == f"share_{when}", "value"].astype(float)
        assert shares.sum() == pytest.approx(1.0)
    components = diagnostics[diagnostics["section"] == "network component"]
    assert set(components["field"]) >= {"nodes", "persons", "facilities"}
