"""The ``[compute]`` section and the arguments of accessplan.compute: errors name the key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from accessplan import compute
from accessplan.errors import InputError, ScenarioError
from accessplan.regions import synthetic_region
from accessplan.scenario import Scenario

BASE: dict[str, Any] = {"inputs": {"region": "synthetic"}}


def scenario(**section: Any) -> Scenario:
    raw = copy.deepcopy(BASE)
    raw["compute"] = section
    return Scenario.from_dict(raw)


def test_the_defaults_run_in_this_process():
    settings = scenario().config["compute"]
    assert settings == {
        "scheduler": None,
        "local_workers": None,
        "block_facilities": 500,
        "block_origins": 50_000,
    }
    with compute.scenario_cluster(settings) as client:
        assert client is None


@pytest.mark.parametrize(
    ("section", "words"),
    [
        (
            {"scheduler": "tcp://a:8786", "local_workers": 2},
            ["[compute]", "scheduler", "local_workers", "not both"],
        ),
        ({"local_workers": 0}, ["[compute]", "local_workers = 0", ">= 1"]),
        ({"block_facilities": "500"}, ["[compute]", "block_facilities must be int"]),
        ({"block_origins": 0}, ["[compute]", "block_origins = 0"]),
        ({"workers": 2}, ["unknown key 'workers' in [compute]"]),
    ],
)
def test_a_bad_compute_section_is_an_error_naming_the_key(section, words):
    with pytest.raises(ScenarioError) as info:
        scenario(**section)
    for word in words:
        assert word in str(info.value)


def test_bad_arguments_are_errors_naming_them():
    with pytest.raises(InputError, match="not both"), compute.cluster("tcp://a:1", local_workers=1):
        pass
    with (
        pytest.raises(InputError, match="local_workers must be a whole number"),
        compute.cluster(local_workers=0),
    ):
        pass
    region = synthetic_region(n_nodes=100, n_origins=20, n_facilities=2, seed=1)
    with pytest.raises(InputError, match="block_facilities must be a whole number >= 1"):
        compute.travel_times(
            None, region.population, region.facilities, client=object(), block_facilities=0
        )
    with (
        pytest.raises(InputError, match=r"client must be a distributed\.Client"),
        compute.scenario_cluster({}, object()),
    ):
        pass
