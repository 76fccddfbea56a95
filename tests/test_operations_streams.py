"""Simulated demand streams, their forecasts, quantile scenarios and the evaluation table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from scipy.stats import t as student_t

from accessplan.errors import InputError
from accessplan.operations.evaluate import Evaluation, evaluate_policies
from accessplan.operations.robust import quantile_scenarios
from accessplan.operations.rolling import RollingConfig
from accessplan.operations.streams import Surge, simulate_stream
from accessplan.operations.synthetic import synthetic_network


def test_stream_follows_its_profile_and_surges_multiply_it():
    base = np.full((4, 2), 50.0)
    stream = simulate_stream(base, 24 * 7, seed=1, surges=1, surge_factor=3.0, surge_periods=40)
    (surge,) = stream.surges
    hours = np.arange(24 * 7)
    # Monday 14:00 is the daily peak (+35 %), Saturday is 0.85 of a weekday
    assert stream.profile[14, 0, 0] == pytest.approx(50 * 1.35)
    assert stream.profile[24 * 5 + 14, 0, 0] == pytest.approx(50 * 1.35 * 0.85)
    during = (hours >= surge.start + 10) & (hours < surge.start + surge.periods)
    hit = list(surge.facilities)
    ratio = stream.demand[during][:, hit].sum() / stream.profile[during][:, hit].sum()
    assert ratio == pytest.approx(3.0, rel=0.05)
    calm = [i for i in range(4) if i not in hit]
    ratio_calm = stream.demand[:, calm].sum() / stream.profile[:, calm].sum()
    assert ratio_calm == pytest.approx(1.0, rel=0.03)


def test_forecast_sees_a_surge_once_observed_and_lets_it_fade():
    base = np.full((3, 1), 40.0)
    stream = simulate_stream(base, 48, seed=2, surges=0)
    stream.surges = (Surge(10, 20, (0,), 2.0),)
    stream.demand = stream.profile * Surge(10, 20, (0,), 2.0).multiplier(48, 3)[:, :, None]
    before = stream.forecast(10, 5)
    assert before.point == pytest.approx(stream.profile[10:15])  # nothing seen yet
    seen = stream.forecast(20, 5)  # the six periods before 20 ran at twice the profile
    factor = seen.point[:, 0, 0] / stream.profile[20:25, 0, 0]
    level = (2 * 6 + 1) / (6 + 1)  # with one period of the profile as a prior at level 1
    assert factor == pytest.approx(1 + (level - 1) * 0.93 ** np.arange(5))
    assert seen.point[:, 1:] == pytest.approx(stream.profile[20:25, 1:])
    z = norm.ppf(0.95)
    assert seen.upper == pytest.approx(seen.point + z * np.sqrt(1.3 * seen.point))
    with pytest.raises(InputError, match="forecast of periods"):
        stream.forecast(48, 2)


def test_quantile_scenarios_are_the_forecast_quantiles_with_the_point_as_mean():
    point = np.full((2, 3, 1), 30.0)
    upper = point + norm.ppf(0.95) * 5.0  # standard error 5
    scen = quantile_scenarios(point, upper, 4)
    z = norm.ppf((np.arange(4) + 0.5) / 4)
    assert scen[:, 0, 0, 0] == pytest.approx(30 + 5 * z)
    assert scen.mean(axis=0) == pytest.approx(point)  # symmetric levels


def test_evaluation_table_is_the_mean_with_a_student_t_interval():
    runs = pd.DataFrame(
        {"seed": [0, 1, 2], "policy": ["rolling"] * 3, "unmet_units": [10.0, 14.0, 12.0]}
    )
    table = Evaluation(runs, {}, None).table()  # type: ignore[arg-type]
    row = table.iloc[0]
    half = student_t.ppf(0.975, 2) * np.std([10, 14, 12], ddof=1) / np.sqrt(3)
    assert row["mean"] == pytest.approx(12.0)
    assert (row["low"], row["high"]) == pytest.approx((12 - half, 12 + half))


def test_policies_run_side_by_side_on_the_same_streams():
    network, base = synthetic_network(5, seed=7, neighbours=2)
    config = RollingConfig(horizon=6, replan_every=3)
    ev = evaluate_policies(
        network, base, periods=12, seeds=[0, 1], config=config, surges=1, surge_periods=6
    )
    assert sorted(ev.runs["policy"].unique()) == sorted(
        ["static", "proportional", "rolling", "rolling_robust"]
    )
    assert len(ev.runs) == 8
    static = ev.results["static"]
    assert static.mobile == pytest.approx(np.broadcast_to(network.initial, static.mobile.shape))
    assert (ev.runs.loc[ev.runs["policy"] == "static", "reallocations_per_day"] == 0).all()
    demand = ev.results["rolling"].demand
    assert all(np.array_equal(r.demand, demand) for r in ev.results.values())
    wide = ev.formatted()
    assert list(wide.columns) == ["static", "proportional", "rolling", "rolling_robust"]
    assert " ± " in wide.iloc[0, 0]
