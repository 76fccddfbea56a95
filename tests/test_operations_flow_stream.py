"""The demand stream from simulated patient flows (simulator → flows database → units)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accessplan.errors import InputError
from accessplan.flows.simulate_units import Surge
from accessplan.operations.evaluate import evaluate_policies
from accessplan.operations.flow_stream import facility_load, patient_flow_stream
from accessplan.operations.rolling import RollingConfig
from accessplan.operations.synthetic import region_network
from accessplan.regions import load_region


def test_facility_load_sums_census_and_arrivals_over_departments_in_network_order():
    hours = pd.to_datetime(["2024-03-04 00:00", "2024-03-04 01:00"])
    kpis = pd.DataFrame(
        {
            "facility_id": ["A", "A", "A", "B"],
            "department": ["general", "emergency", "general", "general"],
            "hour": [hours[0], hours[0], hours[1], hours[1]],
            "census": [2, 1, 0, 4],
            "arrivals": [1, 0, 3, np.nan],
        }
    )
    load = facility_load(kpis, ["B", "A"])
    assert list(load.columns) == ["B", "A"]
    assert load.to_numpy().tolist() == [[0.0, 4.0], [4.0, 3.0]]
    with pytest.raises(InputError, match="no units in the patient-flow study"):
        facility_load(kpis, ["A", "C"])


@pytest.fixture(scope="module")
def flows():
    region = load_region("ngazidja")
    network, base = region_network(region)
    ids = [str(f) for f in network.facilities]
    hit = tuple(ids[:3])
    outbreak = Surge("outbreak", 24, 24, factor=3.0, facilities=hit)
    stream = patient_flow_stream(
        region, network, base, days=3, history_days=7, surges=[outbreak], seed=4
    )
    return network, base, stream


def test_the_stream_is_whole_units_per_facility_and_type_for_every_hour(flows):
    network, base, stream = flows
    assert stream.demand.shape == (72, network.n, network.m)
    assert np.all(stream.demand >= 0) and np.all(stream.demand == np.round(stream.demand))
    assert stream.profile.shape == stream.demand.shape
    # the history sets the scale: over all facilities the demand is near the mean need
    ratio = stream.demand.sum() / (72 * base.sum())
    assert 0.7 < ratio < 1.4
    assert stream.surges[0].facilities == (0, 1, 2) and stream.surges[0].start == 24


def test_an_outbreak_raises_the_demand_of_its_facilities_only(flows):
    _, _, stream = flows
    during = stream.demand[30:48].sum(axis=(0, 2))  # the outbreak runs over hours 24-47
    before = stream.demand[6:24].sum(axis=(0, 2))  # the same hours of the day before
    hit = during[:3].sum() / max(before[:3].sum(), 1.0)
    rest = during[3:].sum() / max(before[3:].sum(), 1.0)
    assert hit > 1.5 * rest


def test_policies_run_on_the_patient_flow_stream_and_a_short_stream_is_refused(flows):
    network, base, stream = flows
    config = RollingConfig(horizon=4, replan_every=2, time_limit=5.0)
    seen = []

    def streams(seed):
        seen.append(seed)
        return stream

    evaluation = evaluate_policies(
        network,
        base,
        periods=6,
        seeds=(5,),
        config=config,
        policies=("proportional", "rolling"),
        streams=streams,
    )
    assert seen == [5]
    assert np.array_equal(evaluation.results["rolling"].demand, stream.demand[:6])
    with pytest.raises(InputError, match="has 72 periods; give at least 100"):
        evaluate_policies(network, base, periods=100, seeds=(0,), streams=streams)
