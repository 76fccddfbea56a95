"""Cross-checks against PySAL ``access``: same inputs, results equal to 1e-9 relative.

``access`` is an independent implementation (pandas merges and group-bys over a long cost
table). Origins that reach nothing are NaN in ``access`` and 0 here; they are compared as 0.
Cases: hand-made tiny inputs, and the embedded Ngazidja region (road travel times from the
population cells to the Ministry of Health facilities, 60-minute cutoff).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from access import Access, weights

from accessplan.measures import (
    enhanced_two_step_fca,
    fca_ratio,
    gaussian_fca_decay,
    gaussian_two_step_fca,
    gravity,
    kernel_density_two_step_fca,
    power_decay,
    step_decay,
    three_step_fca,
    two_step_fca,
)
from accessplan.traveltimes import TravelTimes

logging.getLogger("access").setLevel(logging.WARNING)


def reference(tt: TravelTimes, demand: pd.Series, supply: pd.Series, neighbours=None) -> Access:
    cost = tt.to_long()
    kwargs = {}
    if neighbours is not None:
        kwargs = dict(
            neighbor_cost_df=neighbours.to_long(),
            neighbor_cost_origin="origin",
            neighbor_cost_dest="destination",
            neighbor_cost_name="minutes",
        )
    return Access(
        demand_df=pd.DataFrame(
            {"pop": demand.to_numpy()}, index=pd.Index(demand.index, name="geoid")
        ),
        demand_value="pop",
        supply_df=pd.DataFrame(
            {"cap": supply.to_numpy()}, index=pd.Index(supply.index, name="geoid")
        ),
        supply_value="cap",
        cost_df=cost,
        cost_origin="origin",
        cost_dest="destination",
        cost_name="minutes",
        **kwargs,
    )


def assert_same(ours: pd.Series, theirs: pd.DataFrame) -> None:
    ref = theirs.iloc[:, 0].reindex(ours.index)
    assert np.isfinite(ref.dropna()).all()
    np.testing.assert_allclose(ours.to_numpy(), ref.fillna(0.0).to_numpy(), rtol=1e-9, atol=0)


def check_all(tt: TravelTimes, demand: pd.Series, supply: pd.Series, catchment: float) -> None:
    ref = reference(tt, demand, supply)
    assert_same(two_step_fca(tt, demand, supply, catchment), ref.two_stage_fca(max_cost=catchment))
    assert_same(enhanced_two_step_fca(tt, demand, supply), ref.enhanced_two_stage_fca())
    steps = {20: 1.0, 40: 0.68, 60: 0.22}
    assert_same(
        enhanced_two_step_fca(tt, demand, supply, steps),
        ref.enhanced_two_stage_fca(weight_fn=weights.step_fn(steps)),
    )
    assert_same(three_step_fca(tt, demand, supply), ref.three_stage_fca())
    assert_same(
        three_step_fca(tt, demand, supply, standard=catchment),
        ref.three_stage_fca(max_cost=catchment),
    )
    assert_same(
        gravity(tt, supply, power_decay(1.5, scale=30, min_minutes=1)),
        ref.weighted_catchment(weight_fn=weights.gravity(scale=30, alpha=-1.5, min_dist=1)),
    )
    assert_same(
        gravity(tt, supply, lambda t: np.exp(-t * t / 800.0), standard=catchment),
        ref.weighted_catchment(weight_fn=weights.gaussian(20), max_cost=catchment),
    )
    g = gaussian_fca_decay(catchment)
    assert_same(
        gaussian_two_step_fca(tt, demand, supply, catchment),
        ref.two_stage_fca(max_cost=catchment, weight_fn=lambda t: float(g(np.array([t]))[0])),
    )
    kd = lambda t: 0.75 * (1 - (t / catchment) ** 2)  # noqa: E731
    assert_same(
        kernel_density_two_step_fca(tt, demand, supply, catchment),
        ref.two_stage_fca(max_cost=catchment, weight_fn=kd),
    )


def test_tiny_case_matches_access_including_the_catchment_boundary():
    # pairs at exactly 30 minutes sit on the catchment boundary (inclusive in both).
    minutes = np.array(
        [
            [5.0, 30.0, np.nan, 45.0],
            [30.0, 0.0, 12.0, np.nan],
            [np.nan, 10.0, 20.0, 60.0],
            [70.0, np.nan, 8.0, 31.0],
        ]
    )
    tt = TravelTimes.from_dense(minutes, ["a", "b", "c", "d"], ["w", "x", "y", "z"], cutoff=80)
    demand = pd.Series([120.0, 300.0, 45.0, 800.0], index=tt.origin_ids)
    supply = pd.Series([3.0, 10.0, 1.0, 7.0], index=tt.destination_ids)
    check_all(tt, demand, supply, 30)


def test_stepped_weight_matches_access_step_function_at_every_threshold():
    steps = {10: 1.0, 20: 0.68, 30: 0.22}
    fn = weights.step_fn(steps)
    t = np.array([0.0, 9.99, 10.0, 10.01, 20.0, 29.5, 30.0, 30.0001, 100.0])
    assert step_decay(steps)(t).tolist() == [fn(x) for x in t]


def test_fca_ratio_matches_access():
    rng = np.random.default_rng(3)
    pts_o, pts_d = rng.uniform(0, 30, (40, 2)), rng.uniform(0, 30, (8, 2))
    to_d = np.linalg.norm(pts_o[:, None] - pts_d[None], axis=2) * 2.0
    between = np.linalg.norm(pts_o[:, None] - pts_o[None], axis=2) * 2.0
    ids = [f"o{i}" for i in range(40)]
    tt = TravelTimes.from_dense(to_d, ids, [f"d{j}" for j in range(8)], cutoff=40)
    demand_tt = TravelTimes.from_dense(between, ids, ids, cutoff=40)
    demand = pd.Series(rng.integers(1, 1000, 40).astype(float), index=tt.origin_ids)
    supply = pd.Series(rng.integers(1, 20, 8).astype(float), index=tt.destination_ids)
    ref = reference(tt, demand, supply, neighbours=demand_tt)
    assert_same(fca_ratio(tt, demand, supply, 25, demand_tt=demand_tt), ref.fca_ratio(max_cost=25))


@pytest.fixture(scope="module")
def ngazidja() -> tuple[TravelTimes, pd.Series, pd.Series]:
    from accessplan.network import prepare_network
    from accessplan.regions import load_region
    from accessplan.traveltimes import travel_times

    region = load_region()
    graph = prepare_network(region.road_graph("drive"))
    tt = travel_times(graph, region.population, region.facilities, cutoff=60)
    demand = pd.Series(region.population["population"].to_numpy(float), index=tt.origin_ids)
    supply = pd.Series(region.facilities["capacity"].to_numpy(float), index=tt.destination_ids)
    return tt, demand, supply


@pytest.mark.slow
def test_embedded_region_matches_access(ngazidja):
    tt, demand, supply = ngazidja
    assert tt.shape[0] > 1000 and tt.nnz > 10_000
    positive = demand[demand > 0].index  # access divides 0 by 0 where a catchment is empty
    sub = tt.subset(origins=positive)
    check_all(sub, demand.loc[positive], supply, 30)


@pytest.mark.slow
def test_embedded_region_2sfca_invariant_and_digital(ngazidja):
    tt, demand, supply = ngazidja
    access = two_step_fca(tt, demand, supply, 30)
    reached = (tt.within(30).matrix.T @ (demand.to_numpy() > 0).astype(float)) > 0
    assert float((demand * access).sum()) == pytest.approx(
        float(supply.to_numpy()[reached].sum()), rel=1e-9
    )
    facilities = pd.DataFrame({"id": supply.index, "type": "clinic", "capacity": supply.to_numpy()})
    tele = pd.DataFrame([{"id": "tele", "type": "digital", "capacity": 40.0}])
    typed = two_step_fca(
        tt, demand, pd.concat([facilities, tele]), 30, digital_access=0.3, effectiveness=0.5
    )
    assert typed["clinic"].to_numpy() == pytest.approx(access.to_numpy(), rel=1e-12)
    assert float((demand * typed["digital"]).sum()) == pytest.approx(0.5 * 40.0, rel=1e-9)
