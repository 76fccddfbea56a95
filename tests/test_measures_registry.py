"""The measure registry: entries match their functions, compute scales and checks parameters."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from accessplan.errors import InputError
from accessplan.measures import (
    MEASURES,
    Measure,
    compute,
    cumulative,
    enhanced_two_step_fca,
    gaussian_decay,
    gravity,
    nearest,
    three_step_fca,
    two_step_fca,
)
from accessplan.traveltimes import TravelTimes

NAN = np.nan


@pytest.fixture
def tiny() -> tuple[TravelTimes, pd.Series, pd.DataFrame]:
    """3 origins × 3 destinations; origin c reaches nothing."""
    minutes = np.array([[5.0, 15.0, 50.0], [25.0, 0.0, 40.0], [NAN, NAN, NAN]])
    tt = TravelTimes.from_dense(minutes, ["a", "b", "c"], ["x", "y", "z"])
    demand = pd.Series({"a": 100.0, "b": 200.0, "c": 300.0})
    supply = pd.DataFrame(
        {"id": ["x", "y", "z"], "type": ["clinic", "robotic", "clinic"], "capacity": [10.0, 2, 5]}
    )
    return tt, demand, supply


@pytest.mark.parametrize("name", list(MEASURES))
def test_every_entry_names_parameters_its_function_takes(name):
    measure = MEASURES[name]
    signature = inspect.signature(measure.function)
    positional = list(signature.parameters)[: 3 if measure.uses_demand else 2]
    assert positional == (["tt", "demand", "supply"] if measure.uses_demand else ["tt", "supply"])
    for param in measure.params:
        assert param in signature.parameters, f"{name}: {param}"
    assert measure.name == name
    assert measure.unit not in measure.label  # maps and reports add the unit
    assert measure.unit in measure.headline


def test_compute_scales_the_2sfca_to_clinicians_per_10000_persons(tiny):
    tt, demand, supply = tiny
    raw = two_step_fca(tt, demand, supply, 30, digital_access=0.5)
    out = compute("two_step_fca", tt, demand, supply, standard=30, digital_access=0.5)
    pd.testing.assert_frame_equal(out, raw * 10_000)
    # a: x (10 clinicians) shared by a and b is 10/300; y (2) within reach of a and b too
    assert out.loc["a", "total"] == pytest.approx(10_000 * (10 / 300 + 2 / 300))


def test_e2sfca_and_3sfca_use_their_own_published_steps_scaled_to_the_standard(tiny):
    tt, demand, supply = tiny
    pd.testing.assert_frame_equal(
        compute("enhanced_two_step_fca", tt, demand, supply, standard=30),
        enhanced_two_step_fca(tt, demand, supply) * 10_000,
    )
    pd.testing.assert_frame_equal(
        compute("three_step_fca", tt, demand, supply, standard=30),
        three_step_fca(tt, demand, supply) * 10_000,
    )
    steps = {20.0: 0.962, 40.0: 0.704, 60.0: 0.377, 120.0: 0.042}
    pd.testing.assert_frame_equal(
        compute("three_step_fca", tt, demand, supply, standard=60),
        three_step_fca(tt, demand, supply, steps) * 10_000,
    )


def test_cumulative_gravity_and_nearest_are_unscaled_in_their_units(tiny):
    tt, demand, supply = tiny
    pd.testing.assert_frame_equal(
        compute("cumulative", tt, demand, supply, standard=20), cumulative(tt, supply, 20)
    )
    assert compute("cumulative", tt, None, supply, standard=20)["total"].tolist() == [12, 2, 0]
    pd.testing.assert_frame_equal(
        compute("gravity", tt, demand, supply, standard=20),
        gravity(tt, supply, gaussian_decay(10.0)),
    )
    minutes = compute("nearest", tt, demand, supply)
    pd.testing.assert_frame_equal(minutes, nearest(tt, supply))
    assert minutes["total"].tolist()[:2] == [5.0, 0.0] and np.isnan(minutes.loc["c", "total"])
    assert not MEASURES["nearest"].higher_is_better and MEASURES["nearest"].unit == "minutes"


def test_compute_refuses_unknown_measures_and_parameters(tiny):
    tt, demand, supply = tiny
    with pytest.raises(InputError, match=r"unknown measure 'two_step'.*two_step_fca"):
        compute("two_step", tt, demand, supply, standard=30)
    with pytest.raises(InputError, match=r"'nearest' takes no parameters, not \['standard'\]"):
        compute("nearest", tt, demand, supply, standard=30)
    with pytest.raises(InputError, match=r"needs \['standard'\]"):
        compute("cumulative", tt, demand, supply)
    with pytest.raises(InputError, match="needs the demand"):
        compute("two_step_fca", tt, None, supply, standard=30)


def test_a_new_measure_is_one_function_and_one_entry(tiny):
    tt, demand, supply = tiny

    def persons_per_facility(tt, demand, supply, *, standard):
        return cumulative(tt, supply, standard) * 0 + float(demand.sum())

    entry = Measure(
        name="persons",
        function=persons_per_facility,
        params=("standard",),
        unit="persons",
        label="Persons (test)",
        headline="persons",
        scale=2.0,
    )
    out = compute(entry, tt, demand, supply, standard=10)
    assert (out["total"] == 1200.0).all()
