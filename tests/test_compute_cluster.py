"""On a 2-worker LocalCluster (processes): the same results as one process, bit for bit.

One cluster serves every check. Each check compares the cluster's result with the
single-process call on the same inputs, and the task stream shows that both workers ran
tasks (worker processes, not threads of this one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from distributed import get_task_stream

from accessplan import compute, prepare_network, synthetic_region
from accessplan import travel_times as single_travel_times
from accessplan.measures.registry import compute as single_measure
from accessplan.points import Points
from accessplan.scenario import Scenario, run_batch
from accessplan.sensitivity import run_sensitivity

SCENARIO = """
[scenario]
name = "Synthetic town on a cluster"
seed = 3

[inputs]
region = "synthetic"
synthetic_nodes = 400
synthetic_origins = 200
synthetic_facilities = 3

[network]
mode = "drive"
cutoff = 30

[plan]
model = "p_median"
p = 2
standard = 5
n_candidates = 12
min_distance_m = 300
time_limit = 60
persons_per_clinician = 100

[compute]
block_facilities = 4
block_origins = 64

[sensitivity]
draws = 2
seed = 2
demand = {{ dist = "lognormal", sigma = 0.1 }}
speeds = {{ dist = "uniform", low = 0.9, high = 1.1 }}

[outputs]
map = false
report = false
figures = {figures}
"""


def assert_identical(a, b):
    """Same ids, stored pairs, minutes (bit for bit), components and diagnostics."""
    assert a.origin_ids.equals(b.origin_ids) and a.destination_ids.equals(b.destination_ids)
    assert np.array_equal(a.matrix.indptr, b.matrix.indptr)
    assert np.array_equal(a.matrix.indices, b.matrix.indices)
    assert a.matrix.data.tobytes() == b.matrix.data.tobytes()
    assert a.cutoff == b.cutoff
    pd.testing.assert_series_equal(a.origin_components, b.origin_components)
    pd.testing.assert_series_equal(a.destination_components, b.destination_components)
    pd.testing.assert_frame_equal(a.diagnostics, b.diagnostics)


def workers_of(stream, prefix):
    return {t["worker"] for t in stream.data if str(t["key"]).strip("('").startswith(prefix)}


def check_travel_times_over_facility_blocks_equal_one_process(
    client, region, scenario_file, tmp_path
):
    reg, graph = region
    one = single_travel_times(graph, reg.population, reg.facilities, cutoff=8)
    assert 0 < one.nnz < one.shape[0] * one.shape[1]  # the cutoff leaves pairs out
    with get_task_stream(client) as stream:
        many = compute.travel_times(
            graph, reg.population, reg.facilities, cutoff=8, client=client, block_facilities=7
        )
    assert_identical(many, one)
    assert len(workers_of(stream, "_tt_task")) == 2  # 5 blocks, on both worker processes


def check_travel_times_over_origin_blocks_equal_one_process(
    client, region, scenario_file, tmp_path
):
    # More facility nodes than origin nodes: the searches start at the origins, so the
    # origins are split instead (a facility block would search from the other side).
    reg, graph = region
    few = reg.population.iloc[:25]
    one = single_travel_times(graph, few, reg.facilities, cutoff=8)
    many = compute.travel_times(
        graph, few, reg.facilities, cutoff=8, client=client, block_origins=6
    )
    assert_identical(many, one)


def check_travel_times_of_points_and_a_scheduler_address_equal_one_process(
    client, region, scenario_file, tmp_path
):
    reg, graph = region
    cells = Points.from_geodataframe(reg.population)
    one = single_travel_times(graph, cells, reg.facilities, cutoff=10)
    many = compute.travel_times(
        graph,
        cells,
        reg.facilities,
        cutoff=10,
        client=client.scheduler.address,
        block_facilities=11,
    )
    assert_identical(many, one)


def check_measures_over_origin_blocks_equal_one_process(client, region, scenario_file, tmp_path):
    reg, graph = region
    tt = single_travel_times(graph, reg.population, reg.facilities, cutoff=10)
    demand = reg.population.set_index("id")["population"].astype(float)
    supply = reg.facilities[["id", "type", "capacity"]]
    for name in ("nearest", "cumulative", "gravity", "two_step_fca"):
        params = {} if name == "nearest" else {"standard": 8.0}
        one = single_measure(name, tt, demand, supply, **params)
        with get_task_stream(client) as stream:
            many = compute.measure(
                name, tt, demand, supply, client=client, block_origins=50, **params
            )
        pd.testing.assert_frame_equal(many, one, check_exact=True)
        tasks = [t for t in stream.data if "compute" in str(t["key"])]
        assert len(tasks) == (8 if name in compute.ROW_SEPARABLE else 1), name


def check_a_scenario_runs_unchanged_on_the_cluster(client, region, scenario_file, tmp_path):
    scenario = Scenario.from_toml(scenario_file)
    one = scenario.run()
    many = scenario.run(client=client)
    pd.testing.assert_frame_equal(many.summary_table(), one.summary_table(), check_exact=True)
    cells = ["id", "population", "before", "after", "minutes_before", "minutes_after"]
    pd.testing.assert_frame_equal(many.cells[cells], one.cells[cells], check_exact=True)
    pd.testing.assert_frame_equal(many.plan.sites, one.plan.sites, check_exact=True)


def check_a_batch_runs_as_tasks_with_the_same_summary(client, region, scenario_file, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text(SCENARIO.format(figures="false").replace("p = 2", "p = 1"))
    paths = [scenario_file, other]
    one = run_batch(paths, tmp_path / "one", progress=False)
    many = run_batch(paths, tmp_path / "many", progress=False, client=client)
    assert list(many["status"]) == ["ok", "ok"]
    same = ["scenario", "status", "served_before", "served_after", "access_after", "cost"]
    pd.testing.assert_frame_equal(many[same], one[same], check_exact=True)
    assert (tmp_path / "many" / "other" / "summary.csv").is_file()


def check_sensitivity_draws_on_the_cluster_equal_one_process(
    client, region, scenario_file, tmp_path
):
    scenario = Scenario.from_toml(scenario_file)
    one = run_sensitivity(scenario)
    many = run_sensitivity(scenario, client=client)
    pd.testing.assert_frame_equal(many.draws, one.draws, check_exact=True)
    pd.testing.assert_frame_equal(many.intervals, one.intervals, check_exact=True)
    pd.testing.assert_frame_equal(many.sites, one.sites, check_exact=True)


CHECKS = (
    check_travel_times_over_facility_blocks_equal_one_process,
    check_travel_times_over_origin_blocks_equal_one_process,
    check_travel_times_of_points_and_a_scheduler_address_equal_one_process,
    check_measures_over_origin_blocks_equal_one_process,
    check_a_scenario_runs_unchanged_on_the_cluster,
    check_a_batch_runs_as_tasks_with_the_same_summary,
    check_sensitivity_draws_on_the_cluster_equal_one_process,
)


def test_on_one_two_worker_cluster_every_result_equals_one_process(tmp_path):
    # One test, so that one cluster serves every check even when the tests are spread over
    # several processes; each check names the behaviour it pins down.
    region = synthetic_region(n_nodes=900, n_origins=400, n_facilities=30, seed=5)
    graph = prepare_network(region.road_graph("drive"), "drive")
    scenario_file = tmp_path / "town.toml"
    scenario_file.write_text(SCENARIO.format(figures="false"))
    with compute.cluster(local_workers=2) as client:
        for check in CHECKS:
            folder = tmp_path / check.__name__
            folder.mkdir()
            check(client, (region, graph), scenario_file, folder)
