"""Scenario file validation: every error names the place and says how to fix it."""

from __future__ import annotations

import pytest

from accessplan.errors import ScenarioError
from accessplan.scenario.schema import read_scenario_file, validate_scenario_dict


def test_empty_scenario_gets_defaults_and_the_embedded_region():
    config = validate_scenario_dict({})
    assert config["inputs"]["region"] == "ngazidja"
    assert config["network"]["mode"] == "drive"
    assert config["plan"]["model"] == "budget"
    assert set(config["supply"]) == {"clinic", "robotic", "digital"}


def test_supply_tables_override_defaults_per_type():
    config = validate_scenario_dict({"supply": {"robotic": {"cost": 0.2, "capacity": 3000}}})
    assert config["supply"]["robotic"]["cost"] == 0.2
    assert config["supply"]["robotic"]["capacity"] == 3000
    assert config["supply"]["clinic"]["cost"] == 1.0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"netwrok": {}}, r"unknown section \[netwrok\]. Did you mean 'network'"),
        ({"network": {"cutof": 30}}, r"unknown key 'cutof' in \[network\]. Did you mean 'cutoff'"),
        ({"network": {"cutoff": "thirty"}}, r"cutoff must be int or float, got str"),
        ({"network": {"mode": "drvie"}}, r"mode = 'drvie' is not one of .* Did you mean 'drive'"),
        ({"network": {"cutoff": -5}}, r"cutoff = -5 must be >= 1"),
        ({"access": {"digital_access": 1.5}}, r"digital_access = 1.5 must be <= 1"),
        ({"plan": {"p": 2.5}}, r"p must be int, got float"),
        ({"plan": {"types": ["clinic", "robot"]}}, r"types lists 'robot'.*Did you mean 'robotic'"),
        ({"supply": {"robotics": {"cost": 1}}}, r"unknown supply type \[supply.robotics\]"),
        ({"supply": {"clinic": {"cots": 1}}}, r"unknown key 'cots' in \[supply.clinic\]"),
        ({"supply": {"clinic": {"cost": True}}}, r"cost must be int or float, got bool"),
        ({"inputs": {"roads": "/nowhere/roads.osm.pbf"}}, r"roads file '/nowhere/roads.osm.pbf'"),
        ({"outputs": {"map": "yes"}}, r"map must be bool"),
    ],
)
def test_invalid_scenarios_are_rejected_with_a_clear_message(raw, message):
    with pytest.raises(ScenarioError, match=message):
        validate_scenario_dict(raw, source="s.toml")


def test_roads_without_population_is_rejected(tmp_path):
    roads = tmp_path / "roads.osm.pbf"
    roads.write_bytes(b"x")
    with pytest.raises(ScenarioError, match="give both roads and population"):
        validate_scenario_dict({"inputs": {"roads": str(roads)}})


def test_relative_paths_are_read_from_the_scenario_folder(tmp_path):
    (tmp_path / "pop.tif").write_bytes(b"x")
    (tmp_path / "roads.osm.pbf").write_bytes(b"x")
    path = tmp_path / "s.toml"
    path.write_text('[inputs]\nroads = "roads.osm.pbf"\npopulation = "pop.tif"\n')
    config = read_scenario_file(path)
    assert config["inputs"]["population"] == str(tmp_path / "pop.tif")


def test_missing_and_malformed_files_name_the_path(tmp_path):
    with pytest.raises(ScenarioError, match="does not exist"):
        read_scenario_file(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[network\ncutoff = 3")
    with pytest.raises(ScenarioError, match=r"bad\.toml: not valid TOML"):
        read_scenario_file(bad)
