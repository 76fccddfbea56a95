"""Accessibility measures: hand-computed cases, supply types, digital model, invariants, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accessplan.errors import AccessplanError, InputError
from accessplan.measures import (
    capacity_limited_coverage,
    coverage,
    cumulative,
    enhanced_two_step_fca,
    exponential_decay,
    fca_ratio,
    gaussian_decay,
    gaussian_fca_decay,
    gaussian_two_step_fca,
    gravity,
    kernel_density_decay,
    kernel_density_two_step_fca,
    linear_decay,
    nearest,
    power_decay,
    step_decay,
    three_step_fca,
    two_step_fca,
)
from accessplan.traveltimes import TravelTimes

ROOT = Path(__file__).resolve().parents[1]
NAN = np.nan


@pytest.fixture
def tiny() -> tuple[TravelTimes, pd.Series, pd.Series]:
    """3 origins × 3 destinations; b reaches y in exactly 0 minutes (a stored zero)."""
    minutes = np.array([[5.0, 15.0, NAN], [25.0, 0.0, 40.0], [NAN, 12.0, 8.0]])
    tt = TravelTimes.from_dense(minutes, ["a", "b", "c"], ["x", "y", "z"])
    demand = pd.Series({"a": 100.0, "b": 200.0, "c": 300.0})
    supply = pd.Series({"x": 10.0, "y": 20.0, "z": 5.0})
    return tt, demand, supply


def facilities(**extra: float) -> pd.DataFrame:
    rows = [("x", "clinic", 10.0), ("y", "robotic", 20.0), ("z", "clinic", 5.0)]
    rows += [(k, "digital", v) for k, v in extra.items()]
    return pd.DataFrame(rows, columns=["id", "type", "capacity"])


# ---------------------------------------------------------------------- nearest, cumulative
def test_nearest_reads_stored_zero_minutes_and_kth(tiny):
    tt, _, _ = tiny
    assert nearest(tt).to_dict() == {"a": 5.0, "b": 0.0, "c": 8.0}
    assert nearest(tt, k=2).to_dict() == {"a": 15.0, "b": 25.0, "c": 12.0}
    third = nearest(tt, k=3)
    assert np.isnan(third["a"]) and third["b"] == 40.0 and np.isnan(third["c"])


def test_nearest_by_type_ignores_zero_capacity_and_restricted_destinations(tiny):
    tt, _, _ = tiny
    fac = facilities(tele=50.0)
    fac.loc[fac["id"] == "z", "capacity"] = 0.0
    out = nearest(tt, supply=fac)
    assert list(out.columns) == ["total", "clinic", "robotic"]
    assert out["clinic"].iloc[:2].tolist() == [5.0, 25.0] and np.isnan(out.at["c", "clinic"])
    assert out.loc["c", "total"] == 12.0 and out.loc["b", "robotic"] == 0.0
    assert nearest(tt, destinations=["z"]).to_dict()["b"] == 40.0


def test_cumulative_counts_the_boundary_and_digital_for_connected_share(tiny):
    tt, _, supply = tiny
    assert cumulative(tt, supply, 15).to_dict() == {"a": 30.0, "b": 20.0, "c": 25.0}
    assert cumulative(tt, supply, 14.999).to_dict() == {"a": 10.0, "b": 20.0, "c": 25.0}
    typed = cumulative(tt, facilities(tele=40.0), 15, digital_access=0.5, effectiveness=0.5)
    assert typed.loc["a"].to_dict() == {
        "total": 40.0,
        "clinic": 10.0,
        "robotic": 20.0,
        "digital": 10.0,
    }


def test_gravity_sums_supply_times_decay(tiny):
    tt, _, supply = tiny
    decay = exponential_decay(0.1)
    out = gravity(tt, supply, decay)
    expected_b = 10 * np.exp(-2.5) + 20 * 1.0 + 5 * np.exp(-4.0)
    assert out["b"] == pytest.approx(expected_b, rel=1e-12)
    capped = gravity(tt, supply, decay, standard=30)
    assert capped["b"] == pytest.approx(10 * np.exp(-2.5) + 20, rel=1e-12)


def test_coverage_counts_persons_within_standard_once(tiny):
    tt, demand, _ = tiny
    assert coverage(tt, demand, None, 6).to_dict() == {"a": 100.0, "b": 200.0, "c": 0.0}
    out = coverage(tt, demand, facilities(tele=1.0), 6, digital_access=0.5, effectiveness=0.4)
    assert out.loc["a"].to_dict() == {
        "total": 100.0,
        "clinic": 100.0,
        "robotic": 0.0,
        "digital": 20.0,
    }
    assert out.loc["c", "total"] == pytest.approx(0.4 * 0.5 * 300)


# ---------------------------------------------------------------------- decay functions
def test_decay_functions_match_their_formulas():
    t = np.array([0.0, 0.5, 10.0, 20.0, 30.0, 31.0])
    steps = step_decay({10: 1.0, 20: 0.68, 30: 0.22})
    assert steps(t).tolist() == [1.0, 1.0, 1.0, 0.68, 0.22, 0.0]
    assert power_decay(2, scale=10, min_minutes=1)(t)[:3].tolist() == pytest.approx([100, 100, 1])
    assert gaussian_decay(10)(np.array([10.0]))[0] == pytest.approx(np.exp(-0.5))
    assert linear_decay(20)(t).tolist() == pytest.approx([1, 0.975, 0.5, 0, 0, 0])
    g = gaussian_fca_decay(30)(t)
    assert g[0] == 1.0 and g[4] == pytest.approx(0.0, abs=1e-15) and g[5] == 0.0
    k = kernel_density_decay(20)(t)
    assert k.tolist() == pytest.approx([0.75, 0.75 * (1 - 0.025**2), 0.5625, 0, 0, 0])


# ---------------------------------------------------------------------- FCA family
def test_two_step_fca_hand_computed(tiny):
    tt, demand, supply = tiny
    # Catchment 30: R_x = 10/300, R_y = 20/600, R_z = 5/300 (b–z at 40 min is outside).
    out = two_step_fca(tt, demand, supply, 30)
    assert out.to_dict() == pytest.approx({"a": 1 / 15, "b": 1 / 15, "c": 1 / 20}, rel=1e-14)
    wide = two_step_fca(tt, demand, supply, None)  # b–z counts: R_z = 5/500
    assert wide["b"] == pytest.approx(10 / 300 + 20 / 600 + 5 / 500, rel=1e-14)


def test_catchment_at_the_cutoff_keeps_every_stored_pair_and_beyond_it_is_an_error(tiny):
    _, demand, supply = tiny
    minutes = np.array([[5.0, 15.0, NAN], [25.0, 0.0, 40.0], [NAN, 12.0, 8.0]])
    full = TravelTimes.from_dense(minutes, ["a", "b", "c"], ["x", "y", "z"])
    cut = TravelTimes.from_dense(minutes, ["a", "b", "c"], ["x", "y", "z"], cutoff=30)
    at_cutoff = two_step_fca(cut, demand, supply, 30)
    pd.testing.assert_series_equal(two_step_fca(cut, demand, supply, None), at_cutoff)
    with pytest.raises(InputError, match="cutoff >= 45"):  # beyond the cutoff: never computed
        two_step_fca(cut, demand, supply, 45)
    pd.testing.assert_series_equal(two_step_fca(full, demand, supply, 30), at_cutoff)
    # Below the cutoff the catchment filters; b reaches y in a stored 0 minutes and counts.
    inner = two_step_fca(cut, demand, supply, 10)
    assert inner.to_dict() == pytest.approx({"a": 10 / 100, "b": 20 / 200, "c": 5 / 300})


def test_demand_in_any_id_order_gives_the_same_result(tiny):
    tt, demand, supply = tiny
    aligned = two_step_fca(tt, demand, supply, 30)
    shuffled = two_step_fca(tt, demand.iloc[::-1], supply.iloc[[2, 0, 1]], 30)
    pd.testing.assert_series_equal(shuffled, aligned)
    typed = enhanced_two_step_fca(tt, demand, facilities())
    assert typed["total"].to_numpy() == pytest.approx(
        enhanced_two_step_fca(tt, demand.iloc[::-1], supply)[typed.index].to_numpy(), rel=1e-14
    )


def test_enhanced_two_step_fca_hand_computed(tiny):
    tt, demand, supply = tiny
    # weights: a–x 1, a–y .68, b–x .22, b–y 1, c–y .68, c–z 1 (b–z 40 > 30: 0)
    dx, dy, dz = 100 + 0.22 * 200, 0.68 * 100 + 200 + 0.68 * 300, 300.0
    expected = {
        "a": 10 / dx + 0.68 * 20 / dy,
        "b": 0.22 * 10 / dx + 20 / dy,
        "c": 0.68 * 20 / dy + 5 / dz,
    }
    assert enhanced_two_step_fca(tt, demand, supply).to_dict() == pytest.approx(expected, rel=1e-14)


def test_three_step_fca_uses_selection_weights_over_all_destinations(tiny):
    tt, demand, supply = tiny
    w = {("a", "x"): 0.962, ("a", "y"): 0.704, ("b", "x"): 0.377, ("b", "y"): 0.962}
    w |= {("b", "z"): 0.042, ("c", "y"): 0.704, ("c", "z"): 0.962}
    total = {o: sum(v for (oo, _), v in w.items() if oo == o) for o in "abc"}
    gw = {k: v * v / total[k[0]] for k, v in w.items()}
    pop, cap = demand.to_dict(), supply.to_dict()
    d = {j: sum(pop[o] * v for (o, jj), v in gw.items() if jj == j) for j in "xyz"}
    expected = {o: sum(cap[j] / d[j] * v for (oo, j), v in gw.items() if oo == o) for o in "abc"}
    assert three_step_fca(tt, demand, supply).to_dict() == pytest.approx(expected, rel=1e-13)


def test_gaussian_and_kernel_density_fca_weight_the_catchment(tiny):
    tt, demand, supply = tiny
    for fn, decay in (
        (gaussian_two_step_fca, gaussian_fca_decay(30)),
        (kernel_density_two_step_fca, kernel_density_decay(30)),
    ):
        assert fn(tt, demand, supply, 30).to_numpy() == pytest.approx(
            two_step_fca(tt, demand, supply, 30, decay).to_numpy(), rel=1e-14
        )
    # The Gaussian weight of the a–y pair (15 of 30 min) enters by hand:
    g = (np.exp(-0.125) - np.exp(-0.5)) / (1 - np.exp(-0.5))
    gy = lambda t: (np.exp(-0.5 * (t / 30) ** 2) - np.exp(-0.5)) / (1 - np.exp(-0.5))  # noqa: E731
    dx = 100 * gy(5) + 200 * gy(25)
    dy = 100 * g + 200 * 1 + 300 * gy(12)
    expected_a = gy(5) * 10 / dx + g * 20 / dy
    assert gaussian_two_step_fca(tt, demand, supply, 30)["a"] == pytest.approx(
        expected_a, rel=1e-13
    )


def test_fca_ratio_divides_supply_by_demand_around_each_origin(tiny):
    tt, demand, supply = tiny
    between = TravelTimes.from_dense(
        np.array([[0.0, 10.0, 50.0], [10.0, 0.0, 20.0], [50.0, 20.0, 0.0]]),
        list("abc"),
        list("abc"),
    )
    out = fca_ratio(tt, demand, supply, 20, demand_tt=between)
    assert out.to_dict() == pytest.approx({"a": 30 / 300, "b": 20 / 600, "c": 25 / 500}, rel=1e-14)


def test_typed_result_is_total_plus_components_and_equals_plain_series(tiny):
    tt, demand, supply = tiny
    plain = two_step_fca(tt, demand, supply, 30)
    typed = two_step_fca(tt, demand, facilities(), 30)
    assert list(typed.columns) == ["total", "clinic", "robotic", "digital"]
    assert typed["total"].to_numpy() == pytest.approx(plain.to_numpy(), rel=1e-14)
    assert typed[["clinic", "robotic", "digital"]].sum(axis=1).to_numpy() == pytest.approx(
        typed["total"].to_numpy(), rel=1e-14
    )


def test_works_on_travel_times_built_from_a_long_table(tiny):
    tt, demand, supply = tiny
    long_tt = TravelTimes.from_long(
        tt.to_long(), origin_ids=tt.origin_ids, destination_ids=tt.destination_ids
    )
    assert two_step_fca(long_tt, demand, supply, 30).equals(two_step_fca(tt, demand, supply, 30))


# ---------------------------------------------------------------------- digital supply
RATIO_MEASURES = [
    lambda tt, d, s, **kw: two_step_fca(tt, d, s, 30, **kw),
    lambda tt, d, s, **kw: enhanced_two_step_fca(tt, d, s, **kw),
    lambda tt, d, s, **kw: three_step_fca(tt, d, s, **kw),
    lambda tt, d, s, **kw: gaussian_two_step_fca(tt, d, s, 30, **kw),
    lambda tt, d, s, **kw: kernel_density_two_step_fca(tt, d, s, 30, **kw),
]


@pytest.mark.parametrize("measure", RATIO_MEASURES)
def test_digital_component_follows_the_supply_formula(tiny, measure):
    tt, demand, _ = tiny
    share = pd.Series({"a": 0.9, "b": 0.5, "c": 0.1})
    out = measure(
        tt, demand, facilities(tele=30.0, app=10.0), digital_access=share, effectiveness=0.6
    )
    # A_i^dig = a_i e ΣS_d / Σ a_k P_k, so Σ P_i A_i^dig = e ΣS_d
    connected = 0.9 * 100 + 0.5 * 200 + 0.1 * 300
    assert out["digital"].to_dict() == pytest.approx(
        {o: share[o] * 0.6 * 40 / connected for o in "abc"}, rel=1e-14
    )
    assert float((demand * out["digital"]).sum()) == pytest.approx(0.6 * 40, rel=1e-14)
    without = measure(tt, demand, facilities())
    pd.testing.assert_frame_equal(out[["clinic", "robotic"]], without[["clinic", "robotic"]])
    off = measure(tt, demand, facilities(tele=30.0), digital_access=0.0, effectiveness=0.6)
    pd.testing.assert_frame_equal(off, without)
    half = measure(
        tt, demand, facilities(tele=30.0, app=10.0), digital_access=share, effectiveness=0.3
    )
    assert half["digital"].to_numpy() == pytest.approx(out["digital"].to_numpy() / 2, rel=1e-14)


def test_digital_facility_need_not_be_a_travel_time_destination(tiny):
    tt, _, _ = tiny
    assert "tele" not in tt.destination_ids
    out = cumulative(tt, facilities(tele=8.0), 30, digital_access=0.25, effectiveness=1.0)
    assert out["digital"].tolist() == [2.0, 2.0, 2.0]
    off = gravity(tt, facilities(tele=8.0), linear_decay(60), digital_access=0.0)
    assert (off["digital"] == 0).all()


# ---------------------------------------------------------------------- capacity-limited coverage
def test_capacity_limited_coverage_grows_catchments_and_splits_the_boundary_ring(tiny):
    tt, demand, _ = tiny
    fac = pd.DataFrame(
        {
            "id": ["x", "y", "z", "tele"],
            "type": ["clinic", "robotic", "clinic", "digital"],
            "capacity": [150.0, 120.0, 100.0, 50.0],
        }
    )
    res = capacity_limited_coverage(tt, demand, fac, digital_access=0.5, effectiveness=0.6)
    f = res.per_facility
    assert f.index.tolist() == ["x", "y", "z", "tele"]  # by capacity, digital last
    # x (150): a at 5 min fully (100), then b at 25 min partially (50 of 200).
    assert f.loc["x", ["served", "catchment_minutes", "exhausted"]].tolist() == [150.0, 25.0, True]
    assert f.loc["y", "served"] == 120.0 and f.loc["y", "catchment_minutes"] == 0.0
    assert f.loc["z", "served"] == 100.0  # c: 100 of 300
    # digital: connected uncovered persons 0.5·30 + 0.5·200 = 115 > 50 → rate 50/115
    assert f.loc["tele", "served"] == pytest.approx(50.0)
    assert f.loc["tele", "covered"] == pytest.approx(30.0)
    o = res.per_origin
    assert o.loc["b", "covered"] == pytest.approx(50 + 120 + 0.6 * 15 * 50 / 115)
    assert (o["covered"] + o["uncovered"]).to_numpy() == pytest.approx(o["population"].to_numpy())
    assert o[["clinic", "robotic", "digital"]].sum(axis=1).to_numpy() == pytest.approx(
        o["covered"].to_numpy()
    )
    assert res.covered_population == pytest.approx(f["covered"].sum())


def test_capacity_limited_coverage_ring_of_equal_minutes_is_split_in_proportion():
    tt = TravelTimes.from_dense(np.array([[5.0], [5.0], [1.0]]), ["p", "q", "r"], ["s"])
    demand = pd.Series({"p": 100.0, "q": 300.0, "r": 50.0})
    res = capacity_limited_coverage(tt, demand, pd.Series({"s": 250.0}))
    assert res.per_origin["covered"].to_dict() == pytest.approx({"p": 50.0, "q": 150.0, "r": 50.0})
    assert res.per_facility.loc["s", "catchment_minutes"] == 5.0


def test_capacity_limited_coverage_order_and_within():
    tt = TravelTimes.from_dense(np.array([[1.0, 2.0], [NAN, 3.0]]), ["u", "v"], ["s1", "s2"])
    demand = pd.Series({"u": 100.0, "v": 100.0})
    cap = pd.Series({"s1": 100.0, "s2": 100.0})
    by_id = capacity_limited_coverage(tt, demand, cap)  # tie on capacity: s1 first
    assert by_id.coverage == 1.0
    s2_first = capacity_limited_coverage(tt, demand, cap, order=["s2", "s1"])
    assert s2_first.per_origin["covered"].to_dict() == {"u": 100.0, "v": 0.0}
    assert s2_first.per_facility.loc["s1", "served"] == 0.0
    cap_s2 = pd.Series({"s1": 0.0, "s2": 200.0})
    near = capacity_limited_coverage(tt, demand, cap_s2, 2.5)
    assert near.per_origin["covered"].to_dict() == {"u": 100.0, "v": 0.0}


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda tt, d, s: two_step_fca(tt, d.rename({"a": "zz"}), s, 30), "demand ids"),
        (lambda tt, d, s: two_step_fca(tt, d, s.rename({"x": "nowhere"}), 30), "supply ids"),
        (lambda tt, d, s: two_step_fca(tt, d.drop("a"), s, 30), "no value"),
        (lambda tt, d, s: two_step_fca(tt, d.replace(100.0, NAN), s, 30), "NaN"),
        (lambda tt, d, s: two_step_fca(tt, d.replace(100.0, -1.0), s, 30), "negative"),
        (lambda tt, d, s: two_step_fca(tt, d, s.replace(10.0, NAN), 30), "supply is NaN"),
        (lambda tt, d, s: two_step_fca(tt, d, s.replace(10.0, -5.0), 30), "supply is negative"),
        (lambda tt, d, s: two_step_fca(tt, d, facilities().replace(10.0, NAN), 30), "capacity"),
        (lambda tt, d, s: two_step_fca(tt, d, facilities().replace(10.0, -1.0), 30), "capacity"),
        (lambda tt, d, s: two_step_fca(tt, d, s, 0), "standard"),
        (lambda tt, d, s: two_step_fca(tt, d, s, -10), "standard"),
        (lambda tt, d, s: cumulative(tt, s, float("nan")), "standard"),
        (
            lambda tt, d, s: enhanced_two_step_fca(tt, d, s, {20: 1.0, 10: 0.5}),
            "strictly increasing",
        ),
        (
            lambda tt, d, s: enhanced_two_step_fca(tt, d, s, {10: 1.0, 5: 0.5}),
            "increasing",
        ),
        (lambda tt, d, s: enhanced_two_step_fca(tt, d, s, {10: -1.0}), ">= 0"),
        (lambda tt, d, s: gravity(tt, s, power_decay(1.0, min_minutes=0)), "min_minutes"),
        (lambda tt, d, s: gravity(tt, s, lambda t: -t), ">= 0"),
        (lambda tt, d, s: nearest(tt, k=0), "k must"),
        (lambda tt, d, s: two_step_fca(tt, d, facilities().assign(type="drone"), 30), "type"),
        (lambda tt, d, s: two_step_fca(tt, d, facilities().drop(columns="type"), 30), "column"),
        (
            lambda tt, d, s: two_step_fca(tt, d, facilities(tele=1.0), 30, digital_access=1.5),
            "digital_access",
        ),
        (
            lambda tt, d, s: two_step_fca(tt, d, facilities(tele=1.0), 30, effectiveness=2),
            "effectiveness",
        ),
        (lambda tt, d, s: capacity_limited_coverage(tt, d, s, order=["x"]), "order"),
        (lambda tt, d, s: two_step_fca(tt, d, [1, 2, 3], 30), "Series"),
    ],
)
def test_bad_input_raises_a_clear_error(tiny, call, match):
    tt, demand, supply = tiny
    with pytest.raises(AccessplanError, match=match):
        call(tt, demand, supply)


def test_power_decay_rejects_zero_floor_with_input_error():
    with pytest.raises(InputError, match="min_minutes"):
        power_decay(1.5, min_minutes=0.0)


# ---------------------------------------------------------------------- properties
@st.composite
def problems(draw):
    n = draw(st.integers(1, 7))
    m = draw(st.integers(1, 5))
    minutes = np.array(
        draw(st.lists(st.one_of(st.none(), st.floats(0, 60)), min_size=n * m, max_size=n * m)),
        dtype=float,
    ).reshape(n, m)
    persons = st.one_of(st.just(0.0), st.floats(0.01, 1e4))  # no subnormal head counts
    demand = draw(st.lists(persons, min_size=n, max_size=n))
    supply = draw(st.lists(st.one_of(st.just(0.0), st.floats(0.01, 100)), min_size=m, max_size=m))
    tt = TravelTimes.from_dense(minutes, [f"o{i}" for i in range(n)], [f"d{j}" for j in range(m)])
    return tt, pd.Series(demand, index=tt.origin_ids), pd.Series(supply, index=tt.destination_ids)


@settings(max_examples=80, deadline=None)
@given(problems(), st.floats(1, 60))
def test_2sfca_population_weighted_sum_is_the_reachable_supply(problem, catchment):
    tt, demand, supply = problem
    access = two_step_fca(tt, demand, supply, catchment)
    within = tt.within(catchment).to_dense(fill=NAN)
    reached_by_someone = (~np.isnan(within) & (demand.to_numpy()[:, None] > 0)).any(axis=0)
    expected = float(supply.to_numpy()[reached_by_someone].sum())
    assert float((demand * access).sum()) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(problems(), st.floats(0.01, 100))
def test_scaling_all_supply_scales_every_measure(problem, factor):
    tt, demand, supply = problem
    for measure in (
        lambda s: two_step_fca(tt, demand, s, 30),
        lambda s: enhanced_two_step_fca(tt, demand, s),
        lambda s: three_step_fca(tt, demand, s),
        lambda s: gravity(tt, s, gaussian_decay(20)),
        lambda s: cumulative(tt, s, 30),
    ):
        assert measure(supply * factor).to_numpy() == pytest.approx(
            measure(supply).to_numpy() * factor, rel=1e-9, abs=1e-12
        )


@settings(max_examples=60, deadline=None)
@given(
    problems(),
    st.lists(st.one_of(st.none(), st.floats(0, 60))),
    st.floats(0, 100),
    st.floats(1, 60),
)
def test_adding_a_facility_never_lowers_cumulative_access(problem, new_minutes, capacity, within):
    tt, _, supply = problem
    n = tt.shape[0]
    col = np.array((new_minutes + [None] * n)[:n], dtype=float)[:, None]
    new = TravelTimes.from_dense(col, tt.origin_ids, ["new"])
    bigger = tt.join_destinations(new)
    before = cumulative(tt, supply, within)
    after = cumulative(bigger, pd.concat([supply, pd.Series({"new": capacity})]), within)
    assert (after.to_numpy() >= before.to_numpy() - 1e-12).all()


@settings(max_examples=25, deadline=None)
@given(problems(), st.floats(0, 1000), st.floats(0, 1))
def test_digital_with_no_connected_population_changes_nothing(problem, capacity, effectiveness):
    tt, demand, supply = problem
    fac = pd.DataFrame({"id": supply.index, "type": "clinic", "capacity": supply.to_numpy()})
    with_digital = pd.concat(
        [fac, pd.DataFrame([{"id": "tele", "type": "digital", "capacity": capacity}])]
    )
    for measure in (
        lambda f: two_step_fca(tt, demand, f, 30, digital_access=0.0, effectiveness=effectiveness),
        lambda f: three_step_fca(tt, demand, f, digital_access=0.0, effectiveness=effectiveness),
        lambda f: cumulative(tt, f, 30, digital_access=0.0, effectiveness=effectiveness),
        lambda f: coverage(tt, demand, f, 30, digital_access=0.0, effectiveness=effectiveness),
    ):
        pd.testing.assert_frame_equal(measure(with_digital), measure(fac))
    base = capacity_limited_coverage(tt, demand, fac, 30)
    more = capacity_limited_coverage(tt, demand, with_digital, 30, digital_access=0.0)
    pd.testing.assert_frame_equal(more.per_origin, base.per_origin)


@settings(max_examples=60, deadline=None)
@given(problems(), st.floats(1, 60))
def test_capacity_limited_coverage_conserves_persons_and_respects_capacity(problem, standard):
    tt, demand, supply = problem
    res = capacity_limited_coverage(tt, demand, supply, standard)
    o, f = res.per_origin, res.per_facility
    assert (o["covered"] >= -1e-9).all() and (o["uncovered"] >= -1e-9).all()
    assert (o["covered"] <= o["population"] * (1 + 1e-12) + 1e-9).all()
    assert (f["served"] <= f["capacity"] * (1 + 1e-12) + 1e-9).all()
    assert f["served"].sum() == pytest.approx(o["covered"].sum(), rel=1e-9, abs=1e-6)
    unlimited = coverage(tt, demand, None, standard)
    assert (o["covered"] <= unlimited + 1e-6).all()


# ---------------------------------------------------------------------- benchmark smoke run
def test_benchmark_script_runs_in_quick_mode():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_measures.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    floors = [line for line in out.stdout.splitlines() if line.startswith("floor ")]
    assert floors and all("agree" not in line or "yes" in line for line in floors)
    for name in ("2sfca", "e2sfca", "gravity"):
        assert f"floor speedup-{name}-synthetic-2000x100-vs-access: " in out.stdout
    assert "|     access |" in out.stdout and "| accessplan |" in out.stdout
