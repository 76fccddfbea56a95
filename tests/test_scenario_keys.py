"""Every scenario key has its documented effect: two values of the key, and the effect seen.

The scenarios are tiny (a 12 × 12 synthetic street grid, 60 population points, walking), so
each run takes well under a second. Keys whose effect is on the files written are checked by
writing; keys that only reach the solver are checked on what the location model receives.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from accessplan import optimize
from accessplan.errors import AccessplanError, InputError, ScenarioError
from accessplan.measures import MEASURES
from accessplan.regions import synthetic_region
from accessplan.scenario import Scenario
from accessplan.scenario.inputs import read_inputs
from accessplan.scenario.result import NOT_REACHED_METRIC
from accessplan.scenario.run import prepare_graph
from accessplan.scenario.schema import SCHEMA, SUPPLY_KEYS

BASE: dict[str, dict[str, Any]] = {
    "scenario": {"name": "keys", "seed": 1},
    "inputs": {
        "region": "synthetic",
        "synthetic_nodes": 144,
        "synthetic_origins": 60,
        "synthetic_facilities": 2,
    },
    "network": {"mode": "walk", "cutoff": 60},
    "plan": {
        "budget": 1.0,
        "standard": 10,
        "n_candidates": 6,
        "min_distance_m": 200,
        "time_limit": 30,
        "persons_per_clinician": 100,
    },
    "outputs": {"map": False, "report": False, "figures": False},
}
_RUNS: dict[str, Any] = {}


def config(changes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    for section, values in changes.items():
        if section == "supply":
            for kind, table in values.items():
                raw.setdefault("supply", {}).setdefault(kind, {}).update(table)
        else:
            raw.setdefault(section, {}).update(values)
    return raw


def run(changes: dict[str, dict[str, Any]]) -> Any:
    """The result of BASE with ``changes`` (cached: each scenario runs once per session)."""
    key = json.dumps(changes, sort_keys=True, default=str)
    if key not in _RUNS:
        _RUNS[key] = Scenario.from_dict(config(changes)).run()
    return _RUNS[key]


def new_types(result: Any) -> set[str]:
    return set(result.plan.new_sites["type"])


def differs(a: pd.Series, b: pd.Series) -> bool:
    return not np.allclose(a.to_numpy(float), b.to_numpy(float), equal_nan=True)


# (section, key, value a, value b, effect(result a, result b) -> bool)
RUN_CASES: list[tuple[str, str, Any, Any, Callable[[Any, Any], bool]]] = [
    ("scenario", "name", "first", "second", lambda a, b: a.headline_table() != b.headline_table()),
    ("scenario", "seed", 1, 2, lambda a, b: differs(a.cells["population"], b.cells["population"])),
    ("inputs", "synthetic_origins", 60, 40, lambda a, b: (len(a.cells), len(b.cells)) == (60, 40)),
    (
        "inputs",
        "synthetic_facilities",
        2,
        3,
        lambda a, b: (
            (a.facilities["status"] == "existing").sum() == 2
            and (b.facilities["status"] == "existing").sum() == 3
        ),
    ),
    (
        "network",
        "mode",
        "walk",
        "drive",
        lambda a, b: b.cells["minutes_before"].mean() < a.cells["minutes_before"].mean(),
    ),
    (
        "network",
        "speed_kph",
        4.5,
        9.0,
        lambda a, b: b.cells["minutes_before"].mean() < a.cells["minutes_before"].mean(),
    ),
    (
        "network",
        "cutoff",
        60,
        12,
        lambda a, b: (
            a.cells["minutes_before"].notna().all() and b.cells["minutes_before"].isna().any()
        ),
    ),
    (
        "network",
        "leg_speed_kph",
        4.5,
        1.0,
        lambda a, b: (b.cells["minutes_before"] > a.cells["minutes_before"]).all(),
    ),
    (
        "access",
        "measure",
        "two_step_fca",
        "cumulative",
        lambda a, b: (
            differs(a.cells["before"], b.cells["before"]) and a.measure.unit != b.measure.unit
        ),
    ),
    (
        "access",
        "digital_access",
        0.3,
        0.8,
        lambda a, b: b.cells["after_digital"].sum() > a.cells["after_digital"].sum(),
    ),
    ("access", "effectiveness", 0.6, 0.2, lambda a, b: differs(a.cells["after"], b.cells["after"])),
    (
        "plan",
        "model",
        "budget",
        "p_median",
        lambda a, b: (a.plan.model, b.plan.model) == ("budget", "p_median"),
    ),
    (
        "plan",
        "objective",
        "coverage",
        "median",
        lambda a, b: (
            a.plan.details["objective"] == "coverage" and b.plan.details["objective"] == "median"
        ),
    ),
    (
        "plan",
        "budget",
        0.3,
        2.0,
        lambda a, b: a.plan.cost <= 0.3 + 1e-9 and b.plan.cost > 0.3 + 1e-9,
    ),
    (
        "plan",
        "standard",
        5,
        20,
        lambda a, b: (
            b.comparison.summary.loc["persons within 20 min", "before"]
            > a.comparison.summary.loc["persons within 5 min", "before"]
            and differs(a.cells["before"], b.cells["before"])
        ),
    ),
    (
        "plan",
        "types",
        ["clinic"],
        ["digital"],
        lambda a, b: new_types(a) <= {"clinic"} and new_types(b) == {"digital"},
    ),
    (
        "plan",
        "candidates",
        "kmeans",
        "nodes",
        lambda a, b: (
            not a.facilities.geometry.geom_equals(b.facilities.geometry).all()
            if len(a.facilities) == len(b.facilities)
            else True
        ),
    ),
    (
        "plan",
        "n_candidates",
        1,
        6,
        lambda a, b: set(a.plan.new_sites.index) <= {"site_001"} and len(b.plan.new_sites) > 0,
    ),
    (
        "plan",
        "persons_per_clinician",
        100,
        1000,
        lambda a, b: (
            b.cells["served_before"].sum() > a.cells["served_before"].sum()
            and np.allclose(b.facilities["capacity_persons"], 1000 * b.facilities["capacity"])
        ),
    ),
    (
        "plan",
        "solver",
        "highs",
        "cbc",
        lambda a, b: (a.plan.solver, b.plan.solver) == ("highs", "cbc"),
    ),
    (
        "supply",
        "cost",
        {"digital": {"cost": 0.25}},
        {"digital": {"cost": 2.0}},
        lambda a, b: "digital" in new_types(a) and "digital" not in new_types(b),
    ),
    (
        "supply",
        "capacity",
        {"robotic": {"capacity": 2}},
        {"robotic": {"capacity": 5}},
        lambda a, b: set(b.facilities.loc[b.facilities["type"] == "robotic", "capacity"]) == {5.0},
    ),
    (
        "supply",
        "standard",
        {"clinic": {"standard": 5}},
        {"clinic": {"standard": 25}},
        lambda a, b: (
            a.plan.sites.loc[a.plan.sites["type"] == "clinic", "standard"].eq(5).all()
            and b.plan.sites.loc[b.plan.sites["type"] == "clinic", "standard"].eq(25).all()
        ),
    ),
    (
        "supply",
        "digital_access",
        {"digital": {"digital_access": 0.1}},
        {"digital": {"digital_access": 0.9}},
        lambda a, b: a.plan.covered_population < b.plan.covered_population,
    ),
    (
        "supply",
        "effectiveness",
        {"digital": {"effectiveness": 0.1}},
        {"digital": {"effectiveness": 0.9}},
        lambda a, b: a.plan.covered_population < b.plan.covered_population,
    ),
]


def _changes(section: str, key: str, value: Any) -> dict[str, Any]:
    if section == "supply":
        return {"supply": value}
    extra = {"plan": {"model": "p_median", "p": 1}} if key == "p" else {}
    if section == "plan" and key == "types":
        extra = {"plan": {"budget": 2.0}}
    changes = {section: {key: value}}
    for s, values in extra.items():
        changes.setdefault(s, {}).update(values)
    return changes


@pytest.mark.parametrize(
    ("section", "key", "a", "b", "effect"),
    RUN_CASES,
    ids=[f"{s}.{k}" for s, k, *_ in RUN_CASES],
)
def test_key_changes_the_run(section, key, a, b, effect):
    assert effect(run(_changes(section, key, a)), run(_changes(section, key, b)))


def test_plan_p_sets_the_number_of_new_sites():
    one = run({"plan": {"model": "p_median", "p": 1}})
    three = run({"plan": {"model": "p_median", "p": 3}})
    assert (len(one.plan.new_sites), len(three.plan.new_sites)) == (1, 3)


def test_plan_standard_reaches_the_budget_model_and_every_physical_type():
    """The bug seen: standard 10 and 60 gave the same plan (the types kept 30 min)."""
    for standard in (5, 20):
        plan = run({"plan": {"standard": standard}}).plan
        physical = plan.sites[plan.sites["type"] != "digital"]
        assert (physical["standard"] == standard).all()
    assert differs(
        run({"plan": {"standard": 5}}).cells["served_after"],
        run({"plan": {"standard": 20}}).cells["served_after"],
    )


@pytest.mark.parametrize("model", ["mclp", "lscp"])
def test_plan_standard_reaches_the_single_type_coverage_models(model):
    a = run({"plan": {"model": model, "p": 1, "standard": 4}})
    b = run({"plan": {"model": model, "p": 1, "standard": 25}})
    assert a.plan.coverage < b.plan.coverage or len(a.plan.new_sites) > len(b.plan.new_sites)


def test_plan_min_distance_m_removes_candidates_near_facilities():
    run({"plan": {"min_distance_m": 0}})
    with pytest.raises(ScenarioError, match=r"\[plan\] min_distance_m"):
        Scenario.from_dict(config({"plan": {"min_distance_m": 50_000}})).run()


@pytest.fixture
def spy(monkeypatch):
    """The keyword arguments budgeted_siting receives (then it solves as usual)."""
    seen: dict[str, Any] = {}
    real = optimize.budgeted_siting

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        seen.clear()
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(optimize, "budgeted_siting", wrapper)
    return seen


@pytest.mark.parametrize(
    ("section", "key", "value", "argument", "expected"),
    [
        ("plan", "time_limit", 7.0, "time_limit", 7.0),
        ("plan", "gap", 0.02, "gap", 0.02),
        ("equity", "travel_cap", 15.0, "max_minutes", 15.0),
    ],
)
def test_solver_keys_reach_the_budget_model(spy, section, key, value, argument, expected):
    Scenario.from_dict(config({section: {key: value}})).run()
    # the budget model's travel-time cap: travel_cap (README Conventions), once max_minutes
    value_seen = spy.get("travel_cap", spy.get(argument)) if key == "travel_cap" else spy[argument]
    assert value_seen == expected


def test_equity_travel_cap_caps_every_assignment():
    result = Scenario.from_dict(
        config({"equity": {"travel_cap": 6.0}, "plan": {"objective": "median"}})
    ).run()
    assert result.plan.assignment["minutes"].max() <= 6.0 + 1e-9


@pytest.fixture(scope="module")
def zones_file(tmp_path_factory):
    region = synthetic_region(n_nodes=144, n_origins=60, n_facilities=2, seed=1)
    x0, y0, x1, y1 = region.population.total_bounds
    mid = (x0 + x1) / 2
    zones = gpd.GeoDataFrame(
        {"district": ["west", "east"], "code": ["W", "E"]},
        geometry=[box(x0 - 1, y0 - 1, mid, y1 + 1), box(mid, y0 - 1, x1 + 1, y1 + 1)],
        crs=region.population.crs,
    )
    path = tmp_path_factory.mktemp("zones") / "zones.gpkg"
    zones.to_file(path)
    return str(path)


def test_equity_zones_and_zone_col_give_a_zone_table(zones_file):
    none = run({})
    by_district = run({"equity": {"zones": zones_file, "zone_col": "district"}})
    by_code = run({"equity": {"zones": zones_file, "zone_col": "code"}})
    assert none.comparison.zones is None
    assert list(by_district.comparison.zones.index) == ["east", "west"]
    assert list(by_code.comparison.zones.index) == ["E", "W"]
    with pytest.raises(ScenarioError, match=r"\[equity\] zone_col"):
        run({"equity": {"zones": zones_file, "zone_col": "nope"}})


@pytest.mark.parametrize(
    ("key", "value", "argument"),
    [("min_zone_coverage", 0.3, "min_zone_coverage"), ("unmet_spread", 0.5, "unmet_spread")],
)
def test_equity_zone_constraints_reach_the_budget_model(spy, zones_file, key, value, argument):
    base = {"zones": zones_file, "zone_col": "district"}
    Scenario.from_dict(config({"equity": {**base, key: value}})).run()
    assert spy[argument] == value and spy["zone_col"] == "district"


def test_plan_objective_maximin_maximises_the_smallest_zone_coverage(zones_file):
    eq = {"zones": zones_file, "zone_col": "district"}
    maximin = run({"equity": eq, "plan": {"objective": "maximin"}})
    coverage = run({"equity": eq, "plan": {"objective": "coverage"}})
    assert maximin.plan.details["objective"] == "maximin"
    worst = [r.plan.details["zones"]["coverage"].min() for r in (maximin, coverage)]
    assert worst[0] >= worst[1] - 1e-9
    with pytest.raises(ScenarioError, match=r"maximin.*\[equity\] zones"):
        Scenario.from_dict(config({"plan": {"objective": "maximin"}}))


@pytest.mark.parametrize(
    ("key", "name"), [("map", "map.html"), ("report", "report.html"), ("figures", "lorenz.png")]
)
def test_outputs_keys_choose_the_files(tmp_path, key, name):
    on = run({"outputs": {key: True}})
    on.write(tmp_path / "on")
    run({}).write(tmp_path / "off")
    assert (tmp_path / "on" / name).exists() and not (tmp_path / "off" / name).exists()


def test_scenario_description_is_in_the_report(tmp_path):
    result = run({"scenario": {"description": "A plain sentence."}, "outputs": {"report": True}})
    result.write(tmp_path / "out")
    assert "A plain sentence." in (tmp_path / "out" / "report.html").read_text()


# ---------------------------------------------------------------- inputs from files
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The synthetic region as files: roads, population CSV (UTM x/y), facilities CSV."""
    import osmnx as ox

    folder = tmp_path_factory.mktemp("files")
    region = synthetic_region(n_nodes=144, n_origins=60, n_facilities=2, seed=1)
    ox.io.save_graphml(region.roads, folder / "roads.graphml")
    pop = region.population
    pd.DataFrame(
        {
            "cell_id": [f"c{i}" for i in range(len(pop))],
            "persons": pop["population"].to_numpy(),
            "x": pop.geometry.x,
            "y": pop.geometry.y,
        }
    ).to_csv(folder / "pop.csv", index=False)
    fac = region.facilities.to_crs("EPSG:4326")
    table = pd.DataFrame(
        {
            "code": ["A", "B", "C"],
            "label": ["Alpha", "Beta", "Far away"],
            "tier": ["big", "small", "small"],
            "staff": [4.0, 1.0, 1.0],
            "x": [*fac.geometry.x, 46.0],
            "y": [*fac.geometry.y, -13.0],
        }
    )
    table.to_csv(folder / "fac.csv", index=False)
    return folder


def files_config(folder: Any, **inputs: Any) -> dict[str, Any]:
    base = {
        "roads": str(folder / "roads.graphml"),
        "population": str(folder / "pop.csv"),
        "population_col": "persons",
        "population_lon_col": "x",
        "population_lat_col": "y",
        "population_crs": "EPSG:32738",
        "facilities": str(folder / "fac.csv"),
        "facility_id_col": "code",
        "facility_name_col": "label",
        "facility_lon_col": "x",
        "facility_lat_col": "y",
    }
    raw = config({})
    raw["inputs"] = {**base, **inputs}
    return Scenario.from_dict(raw).config


def test_population_keys_read_the_csv(files):
    inputs = read_inputs(files_config(files, population_id_col="cell_id"))
    assert inputs.population["id"].iloc[0] == "c0" or str(inputs.population["id"].iloc[0]) == "c0"
    assert inputs.population.crs.to_epsg() == 32738
    plain = read_inputs(files_config(files))
    assert str(plain.population["id"].iloc[0]) == "0"
    with pytest.raises(InputError, match=r"\[inputs\] population_col"):
        read_inputs(files_config(files, population_col="people"))


def test_population_crs_places_the_points(files):
    with pytest.raises(AccessplanError, match=r"\[inputs\] population_crs"):
        read_inputs(files_config(files, population_crs=None))


def test_facility_keys_read_the_csv(files):
    inputs = read_inputs(files_config(files, facility_capacity_col="staff"))
    assert list(inputs.facilities["name"]) == ["Alpha", "Beta"]
    assert list(read_inputs(files_config(files, facility_name_col="tier")).facilities["name"]) == [
        "big",
        "small",
    ]
    assert list(inputs.facilities["capacity"]) == [4.0, 1.0]
    default = read_inputs(files_config(files, default_capacity=3.0))
    assert set(default.facilities["capacity"]) == {3.0}
    categories = {"big": {"capacity": 9}, "small": {"capacity": 2}}
    tiers = read_inputs(
        files_config(files, facility_category_col="tier", facility_categories=categories)
    )
    assert list(tiers.facilities["capacity"]) == [9.0, 2.0]


def test_facility_type_col_sets_the_types(files, tmp_path):
    table = pd.read_csv(files / "fac.csv").assign(kind=["robotic", "clinic", "clinic"])
    table.to_csv(tmp_path / "typed.csv", index=False)
    typed = read_inputs(
        files_config(files, facilities=str(tmp_path / "typed.csv"), facility_type_col="kind")
    )
    assert list(typed.facilities["type"]) == ["robotic", "clinic"]


def test_facility_study_area_keys_leave_out_or_refuse_far_facilities(files):
    far = read_inputs(files_config(files))
    assert list(far.excluded["id"].astype(str)) == ["C"]
    near = read_inputs(files_config(files, facility_study_area_margin_m=2_000_000))
    assert len(near.facilities) == 3 and len(near.excluded) == 0
    with pytest.raises(InputError, match=r"Far away|C"):
        read_inputs(files_config(files, facility_on_outside="raise"))


def test_facility_on_invalid_and_crs(files, tmp_path):
    table = pd.read_csv(files / "fac.csv")
    table.loc[1, "x"] = np.nan
    table.to_csv(tmp_path / "bad.csv", index=False)
    bad = str(tmp_path / "bad.csv")
    with pytest.raises(InputError):
        read_inputs(files_config(files, facilities=bad))
    reported = read_inputs(files_config(files, facilities=bad, facility_on_invalid="report"))
    assert "B" in set(reported.excluded["id"].astype(str))
    # degrees read as UTM metres put every facility far outside the study area
    metres = read_inputs(files_config(files, facility_crs="EPSG:32738"))
    assert len(metres.facilities) == 0 and set(metres.excluded["id"].astype(str)) >= {"A", "B"}


def test_facility_lon_col_errors_name_the_scenario_key(files):
    with pytest.raises(InputError, match=r"\[inputs\] facility_lon_col") as info:
        read_inputs(files_config(files, facility_lon_col="lng"))
    assert "lon_col=" not in str(info.value)


def test_candidates_file_gives_the_candidate_sites(files, tmp_path):
    region = synthetic_region(n_nodes=144, n_origins=60, n_facilities=2, seed=1)
    sites = region.population.to_crs("EPSG:4326").iloc[[5, 25]]
    pd.DataFrame(
        {
            "id": ["s1", "s2"],
            "name": ["one", "two"],
            "lon": sites.geometry.x,
            "lat": sites.geometry.y,
        }
    ).to_csv(tmp_path / "cands.csv", index=False)
    result = run(
        {
            "inputs": {"candidates": str(tmp_path / "cands.csv")},
            "plan": {"budget": 3.0, "min_distance_m": 0},
        }
    )
    assert set(result.plan.new_sites.index) <= {"site_001", "site_002"}
    default = run({"plan": {"budget": 3.0, "min_distance_m": 0}})
    assert len(default.plan.new_sites) > 2


def test_inputs_aggregate_and_region_read_the_embedded_raster():
    coarse = Scenario.from_dict({"inputs": {"region": "ngazidja", "aggregate": 10}})
    fine = Scenario.from_dict({"inputs": {"region": "ngazidja", "aggregate": 20}})
    assert len(read_inputs(coarse.config).population) > len(read_inputs(fine.config).population)


def test_inputs_synthetic_nodes_sets_the_road_grid():
    small = Scenario.from_dict(config({"inputs": {"synthetic_nodes": 100}})).check()
    large = Scenario.from_dict(config({"inputs": {"synthetic_nodes": 144}})).check()
    assert small.counts["network_nodes"] < large.counts["network_nodes"]


def test_network_max_snap_m_flags_points_far_from_the_road():
    near = Scenario.from_dict(config({"network": {"max_snap_m": 5000}})).check()
    tight = Scenario.from_dict(config({"network": {"max_snap_m": 20}})).check()
    assert near.snapping.loc["population", "too_far"] == 0
    assert tight.snapping.loc["population", "too_far"] > 0


def test_network_min_component_nodes_keeps_or_drops_islands():
    region = synthetic_region(n_nodes=144, n_origins=60, n_facilities=2, seed=1)
    graph = region.roads.copy()
    x0 = max(d["x"] for _, d in graph.nodes(data=True)) + 5000
    island = {-1: (x0, 8_650_000.0), -2: (x0 + 100, 8_650_000.0), -3: (x0, 8_650_100.0)}
    for n, (x, y) in island.items():
        graph.add_node(n, x=x, y=y)
    for u, v in [(-1, -2), (-2, -3), (-3, -1)]:
        for a, b in ((u, v), (v, u)):
            graph.add_edge(a, b, length=100.0, highway="residential")
    net = {"mode": "walk", "speed_kph": None}
    kept = prepare_graph({"network": {**net, "min_component_nodes": 3}}, graph)
    dropped = prepare_graph({"network": {**net, "min_component_nodes": 20}}, graph)
    assert kept.number_of_nodes() > dropped.number_of_nodes()
    assert nx.number_strongly_connected_components(kept) == 2


def test_every_schema_key_is_covered_by_a_test_here():
    tested = {(s, k) for s, k, *_ in RUN_CASES}
    tested |= {
        ("plan", "p"),
        ("plan", "min_distance_m"),
        ("plan", "time_limit"),
        ("plan", "gap"),
        ("equity", "travel_cap"),
        ("equity", "zones"),
        ("equity", "zone_col"),
        ("equity", "min_zone_coverage"),
        ("equity", "unmet_spread"),
        ("plan", "objective"),
        ("outputs", "map"),
        ("outputs", "report"),
        ("outputs", "figures"),
        ("scenario", "description"),
        ("network", "max_snap_m"),
        ("network", "min_component_nodes"),
        ("inputs", "aggregate"),
        ("inputs", "region"),
        ("inputs", "candidates"),
        ("inputs", "synthetic_nodes"),
        ("inputs", "facilities"),
    }
    tested |= {
        ("inputs", k)
        for k in SCHEMA["inputs"]
        if k.startswith(("population", "facility", "roads", "default"))
    }
    missing = [(s, k) for s, keys in SCHEMA.items() for k in keys if (s, k) not in tested]
    assert missing == []
    assert {k for s, k, *_ in RUN_CASES if s == "supply"} == set(SUPPLY_KEYS)


@pytest.mark.parametrize("name", list(MEASURES))
def test_every_measure_runs_from_a_scenario_in_its_own_words(name, tmp_path):
    result = run({"access": {"measure": name}, "outputs": {"report": True, "map": True}})
    measure = MEASURES[name]
    assert result.measure is measure
    assert measure.headline in result.comparison.headline()
    summary = result.summary_table().set_index("metric")
    mean = summary.loc[f"Access, population-weighted mean ({measure.unit})"]
    assert bool(mean["higher_is_better"]) is measure.higher_is_better
    result.write(tmp_path / "out")
    for page in ("map.html", "report.html"):
        html = (tmp_path / "out" / page).read_text()
        assert measure.label in html and measure.unit in html, page
        assert "2SFCA" not in html or "2SFCA" in measure.label, page


@pytest.mark.slow
def test_nearest_runs_on_the_embedded_region_and_counts_the_unreached(tmp_path):
    """The bug seen: nearest stopped with "before is NaN for origin ...; fill it"."""
    raw = {
        "inputs": {"region": "ngazidja", "aggregate": 10},
        "access": {"measure": "nearest"},
        "plan": {"budget": 1.0, "n_candidates": 10, "time_limit": 60},
        "outputs": {"map": True, "report": True, "figures": False},
    }
    result = Scenario.from_dict(raw).run()
    cells = result.cells
    unreached = cells["before"].isna()
    assert unreached.any()  # cells too far from any road reach nothing: NaN minutes
    summary = result.summary_table().set_index("metric")
    lost = summary.loc[NOT_REACHED_METRIC]
    assert lost["before"] == pytest.approx(cells.loc[unreached, "population"].sum())
    assert not lost["higher_is_better"]
    mean = summary.loc["Access, population-weighted mean (minutes)"]
    reached = cells[~unreached]
    expected = np.average(reached["before"], weights=reached["population"])
    assert mean["before"] == pytest.approx(expected) and not mean["higher_is_better"]
    assert "travel time to the nearest facility (minutes)" in result.comparison.headline()
    categories = result.accounting
    assert categories["persons_before"].sum() == pytest.approx(cells["population"].sum())
    unrouted = categories[categories["category"] != "within standard"]
    unrouted = unrouted[unrouted["category"] != "beyond standard"]
    assert lost["before"] == pytest.approx(unrouted["persons_before"].sum())
    result.write(tmp_path / "out")
    html = (tmp_path / "out" / "map.html").read_text()
    assert "Travel time to the nearest facility" in html and "2SFCA" not in html


def test_check_reports_inputs_components_and_snapping_without_travel_times(files):
    report = Scenario.from_dict(config({})).check()
    assert report.ok and report.crs["network"] == "EPSG:32738"
    assert report.counts["cells"] == 60 and report.counts["facilities"] == 2
    assert report.components["persons"].sum() == pytest.approx(report.counts["persons"])
    assert report.components["facilities"].sum() == 2
    assert report.snapping.loc["population", "max_m"] >= report.snapping.loc["population", "p50_m"]
    assert "OK: the scenario can run." in report.text()
    raw = config({})
    raw["inputs"] = files_config(files)["inputs"] | {"facility_lon_col": "lng"}
    broken = Scenario.from_dict(raw).check()
    assert not broken.ok and "[inputs] facility_lon_col" in broken.errors[0]
    assert "cannot run" in broken.text()
    far = Scenario.from_dict({**raw, "inputs": files_config(files)["inputs"]}).check()
    assert list(far.excluded["id"].astype(str)) == ["C"] and any(
        "left out" in w for w in far.warnings
    )
