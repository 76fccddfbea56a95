"""Sensitivity runs: seeded draws of demand, speeds, capacities and uptake, and their intervals."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from accessplan.cli import main
from accessplan.errors import ScenarioError
from accessplan.network import routing_graph
from accessplan.scenario import Scenario
from accessplan.sensitivity import run_sensitivity
from accessplan.sensitivity.analysis import (
    Perturbation,
    _PerturbedRunner,
    _RecordingRunner,
    draw_perturbation,
    perturbed_inputs,
)
from accessplan.sensitivity.distributions import parse_factor

P = 2
BASE: dict[str, dict[str, Any]] = {
    "scenario": {"name": "Sensitivity <town> & 'co'", "seed": 3},
    "inputs": {
        "region": "synthetic",
        "synthetic_nodes": 400,
        "synthetic_origins": 200,
        "synthetic_facilities": 3,
    },
    "network": {"mode": "drive", "cutoff": 30},
    "plan": {
        "model": "p_median",
        "p": P,
        "standard": 5,
        "n_candidates": 12,
        "min_distance_m": 300,
        "time_limit": 60,
        "persons_per_clinician": 100,
    },
    "outputs": {"map": False, "report": False, "figures": False},
}


def scenario(**sensitivity: Any) -> Scenario:
    raw = copy.deepcopy(BASE)
    raw["sensitivity"] = sensitivity
    return Scenario.from_dict(raw)


@pytest.fixture(scope="module")
def noisy():
    return run_sensitivity(
        scenario(
            draws=5,
            seed=11,
            demand={"dist": "lognormal", "sigma": 0.2},
            speeds={"dist": "uniform", "low": 0.8, "high": 1.2},
            capacities={"dist": "normal", "sd": 0.2},
            digital_access={"dist": "triangular", "low": 0.5, "mode": 1.0, "high": 1.5},
        )
    )


def test_the_same_seed_gives_the_same_draws_and_another_seed_others(noisy):
    again = run_sensitivity(noisy.scenario)
    pd.testing.assert_frame_equal(again.draws, noisy.draws, check_exact=True)
    pd.testing.assert_frame_equal(again.sites, noisy.sites, check_exact=True)
    pd.testing.assert_frame_equal(again.factors, noisy.factors, check_exact=True)
    other = run_sensitivity(noisy.scenario, seed=12, draws=2)
    assert not np.allclose(other.factors["speeds"], noisy.factors["speeds"].iloc[:2])


def test_the_draws_vary_what_they_state(noisy):
    factors = noisy.factors
    assert factors["speeds"].between(0.8, 1.2).all() and factors["speeds"].nunique() == 5
    assert factors["demand"].nunique() == 5  # the mean of 200 per-cell factors
    after = noisy.draws.set_index(["draw", "metric"])["after"].unstack("draw")
    mean_row = next(m for m in after.index if m.startswith("Access, population-weighted mean"))
    assert after.loc[mean_row].nunique() == 5


def test_zero_variance_distributions_reproduce_the_base_run_exactly():
    flat = run_sensitivity(
        scenario(
            draws=2,
            demand={"dist": "lognormal", "sigma": 0.0},
            speeds={"dist": "uniform", "low": 1.0, "high": 1.0},
            capacities={"dist": "fixed", "value": 1.0},
            digital_access={"dist": "normal", "sd": 0.0},
        )
    )
    base = flat.base.summary_table()[["metric", "before", "after", "change"]]
    for _, draw in flat.draws.groupby("draw"):
        rows = draw.drop(columns="draw").set_index("metric").loc[base["metric"]]
        pd.testing.assert_frame_equal(rows.reset_index(), base, check_exact=True)
    finite = flat.intervals.dropna(subset=["base"])
    assert (finite["lower"] == finite["base"]).all() and (finite["upper"] == finite["base"]).all()
    base_sites = set(flat.base.plan.new_sites.index)
    assert set(flat.sites.loc[flat.sites["times_chosen"] == 2, "site"]) == base_sites


def test_intervals_contain_the_base_value_for_small_symmetric_noise():
    small = run_sensitivity(
        scenario(
            draws=6,
            seed=5,
            demand={"dist": "uniform", "low": 0.97, "high": 1.03, "per": "all"},
            capacities={"dist": "uniform", "low": 0.97, "high": 1.03, "per": "all"},
        )
    )
    rows = small.intervals.dropna(subset=["base"])
    slack = 1e-9 * rows["base"].abs().clip(lower=1.0)
    assert ((rows["lower"] - slack <= rows["base"]) & (rows["base"] <= rows["upper"] + slack)).all()
    assert (rows["upper"] - rows["lower"] > 1e-6).any()  # the noise shows in some interval
    assert (rows["lower"] <= rows["mean"]).all() and (rows["mean"] <= rows["upper"]).all()


def test_each_draw_chooses_p_sites_so_the_counts_sum_to_p_times_draws(noisy):
    sites = noisy.sites
    assert int(sites["times_chosen"].sum()) == P * 5
    assert sites["share"].sum() == pytest.approx(P)
    assert len(sites) == 12 and sites["site"].is_unique  # every candidate, chosen or not
    assert sites["in_base_plan"].sum() == P


def test_a_draw_scales_persons_capacities_and_road_minutes_by_its_factors():
    runner = _RecordingRunner(scenario(demand={"dist": "fixed", "value": 2.0}), progress=False)
    runner.run()
    shared = runner.shared()
    factors = {
        "demand": parse_factor({"dist": "fixed", "value": 2.0}, "demand", "demand"),
        "speeds": parse_factor({"dist": "fixed", "value": 4.0}, "speeds", "speeds"),
        "capacities": parse_factor({"dist": "fixed", "value": 0.5}, "capacities", "capacities"),
    }
    change = draw_perturbation(factors, 0, 0, len(shared.inputs.population), 3)
    assert change.speed == 4.0 and change.type_capacity == {
        "clinic": 0.5,
        "robotic": 0.5,
        "digital": 0.5,
    }
    changed = perturbed_inputs(shared.inputs, change)
    np.testing.assert_array_equal(
        changed.population["population"], 2.0 * shared.inputs.population["population"]
    )
    np.testing.assert_array_equal(
        changed.cells["population"], 2.0 * shared.inputs.cells["population"]
    )
    np.testing.assert_array_equal(
        changed.facilities["capacity"], 0.5 * shared.inputs.facilities["capacity"].astype(float)
    )
    network = _PerturbedRunner(runner.scenario, shared, change)._network(shared.graph)
    np.testing.assert_array_equal(network.csr.data, routing_graph(shared.graph).csr.data / 4.0)
    assert perturbed_inputs(shared.inputs, Perturbation()).population is shared.inputs.population


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({"demand": {"dist": "lognorm", "sigma": 0.1}}, ["demand", "dist = 'lognorm'"]),
        ({"speeds": {"dist": "uniform", "low": 1.2, "high": 0.8}}, ["speeds", "low = 1.2"]),
        ({"capacities": {"dist": "lognormal"}}, ["capacities", "needs sigma"]),
        ({"digital_access": {"dist": "normal", "sd": -1}}, ["digital_access sd = -1"]),
        ({"demand": {"dist": "fixed", "per": "facility"}}, ["demand", "per = 'facility'"]),
        ({"demand": {"dist": "uniform", "low": 1, "high": 2, "scale": 2}}, ["demand", "'scale'"]),
        ({"speeds": {"dist": "normal", "sd": "0.1"}}, ["speeds sd", "finite number"]),
        ({"speeds": {"dist": "triangular", "low": 1, "mode": 3, "high": 2}}, ["speeds", "mode"]),
        ({"demand": 0.1}, ["[sensitivity]", "demand must be dict"]),
        ({"draws": 0}, ["[sensitivity]", "draws = 0"]),
        ({"lower": 95, "upper": 5}, ["[sensitivity]", "lower = 95"]),
        ({"drawz": 5}, ["'drawz'", "Did you mean 'draws'"]),
    ],
)
def test_a_bad_sensitivity_section_is_an_error_naming_the_key(section, words):
    with pytest.raises(ScenarioError) as info:
        scenario(**section)
    for word in words:
        assert word in str(info.value)


def test_a_section_that_varies_nothing_is_an_error():
    with pytest.raises(ScenarioError, match=r"\[sensitivity\]: no input is varied"):
        run_sensitivity(scenario(draws=3))


@pytest.fixture()
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raw = copy.deepcopy(BASE)
    lines = [
        "[scenario]\nname = \"Sensitivity <town> & 'co'\"\nseed = 3",
        '[inputs]\nregion = "synthetic"\nsynthetic_nodes = 400\nsynthetic_origins = 200\n'
        "synthetic_facilities = 3",
        '[network]\nmode = "drive"\ncutoff = 30',
        "[plan]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in raw["plan"].items()),
        "[sensitivity]\ndraws = 3\nseed = 1\n"
        'demand = { dist = "lognormal", sigma = 0.1 }\n'
        'speeds = { dist = "uniform", low = 0.9, high = 1.1 }',
    ]
    (tmp_path / "town.toml").write_text("\n\n".join(lines) + "\n")
    return tmp_path


def test_the_command_writes_intervals_sites_and_an_escaped_offline_page(project, capsys):
    assert main(["sensitivity", "town.toml", "--out", "out", "--quiet", "--draws", "2"]) == 0
    printed = capsys.readouterr().out
    assert "p5" in printed and "p95" in printed and "Outputs written to out" in printed
    out = project / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {f["path"] for f in manifest["files"]}
    assert {"sensitivity_intervals.csv", "sensitivity_sites.csv", "sensitivity.html"} <= listed
    intervals = pd.read_csv(out / "sensitivity_intervals.csv")
    assert {"metric", "quantity", "base", "mean", "lower", "upper"} <= set(intervals.columns)
    sites = pd.read_csv(out / "sensitivity_sites.csv")
    assert sites["times_chosen"].sum() == P * 2
    page = (out / "sensitivity.html").read_text()
    assert "Sensitivity &lt;town&gt; &amp; &#x27;co&#x27;" in page and "<town>" not in page
    assert "5th–95th percentile" in page and "How often each candidate site is chosen" in page
    for part in ("After the plan", "Before the plan", "Change"):  # no row numbers as a column
        head = page.split(f"{part}: base run and 5th–95th percentile</h2>", 1)[1]
        assert head.split("<th>", 2)[1].startswith("metric</th>")


def test_the_command_leaves_a_folder_holding_files_untouched(project, capsys):
    (project / "out").mkdir()
    (project / "out" / "keep.txt").write_text("mine")
    assert main(["sensitivity", "town.toml", "--out", "out", "--quiet"]) == 2
    assert "accessplan: error:" in capsys.readouterr().err
    assert [p.name for p in (project / "out").iterdir()] == ["keep.txt"]
