"""Equity metrics against hand-computed tiny cases, zones, and the before/after comparison."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from accessplan.comparison import compare
from accessplan.equity import (
    by_zone,
    concentration_index,
    gini,
    lorenz_curve,
    origin_zones,
    palma_ratio,
    percentiles,
    share_below,
    share_beyond,
    summarize,
    theil_t,
    weighted_mean,
    weighted_median,
    weighted_quantile,
    zone_labels,
)
from accessplan.errors import InputError

IDS = list("abcd")
X = pd.Series([1.0, 2.0, 3.0, 10.0], index=IDS)
P = pd.Series([10.0, 20.0, 30.0, 40.0], index=IDS)


def test_weighted_mean_and_quantiles_by_hand():
    assert weighted_mean(X, P) == pytest.approx((10 + 40 + 90 + 400) / 100)
    # cumulative population shares: 0.1, 0.3, 0.6, 1.0
    assert weighted_median(X, P) == 3.0
    assert weighted_quantile(X, P, 0.1) == 1.0  # F(1) = 0.1 exactly
    assert weighted_quantile(X, P, 0.11) == 2.0
    assert weighted_quantile(X, P, 0.61) == 10.0
    assert percentiles(X, P, (30, 60)).to_dict() == {"p30": 2.0, "p60": 3.0}


def test_gini_equals_the_pairwise_mean_difference_formula():
    x, w = X.to_numpy(), P.to_numpy()
    pairwise = (w[:, None] * w[None, :] * np.abs(x[:, None] - x[None, :])).sum()
    expected = pairwise / (2 * w.sum() ** 2 * (w @ x / w.sum()))
    assert gini(X, P) == pytest.approx(expected, rel=1e-12)
    assert gini(pd.Series([5.0, 5.0]), pd.Series([1.0, 3.0])) == pytest.approx(0.0)
    # two equal groups, one holding everything: G = 1/2
    assert gini(pd.Series([0.0, 1.0]), pd.Series([1.0, 1.0])) == pytest.approx(0.5)


def test_theil_t_by_hand():
    # two equal groups with 1 and 3: mean 2, T = ½(½ ln ½) + ½(3/2 ln 3/2)
    expected = 0.5 * (0.5 * np.log(0.5)) + 0.5 * (1.5 * np.log(1.5))
    assert theil_t(pd.Series([1.0, 3.0]), pd.Series([5.0, 5.0])) == pytest.approx(expected)
    assert theil_t(pd.Series([0.0, 2.0]), pd.Series([1.0, 1.0])) == pytest.approx(np.log(2))


def test_palma_ratio_splits_the_straddling_origin():
    # top 10% of persons: 10 of d's 40 persons hold 10 each = 100 of 540;
    # bottom 40%: a (10), b (40) and 10 of c's persons (30) = 80 of 540.
    assert palma_ratio(X, P) == pytest.approx(100 / 80)


def test_lorenz_curve_points():
    curve = lorenz_curve(X, P)
    assert curve["population_share"].tolist() == pytest.approx([0, 0.1, 0.3, 0.6, 1.0])
    assert curve["value_share"].tolist() == pytest.approx([0, 10 / 540, 50 / 540, 140 / 540, 1.0])


def test_concentration_index_by_hand():
    # most deprived first: a (d=2, x=1) rank ¼, b (d=1, x=3) rank ¾; μ = 2
    # C = 2 · ½[(1-2)(¼-½) + (3-2)(¾-½)] / 2 = ¼ (access favours the less deprived)
    values = pd.Series([1.0, 3.0], index=["a", "b"])
    persons = pd.Series([1.0, 1.0], index=["a", "b"])
    assert concentration_index(values, persons, pd.Series({"a": 2.0, "b": 1.0})) == pytest.approx(
        0.25
    )
    assert concentration_index(values, persons, pd.Series({"a": 1.0, "b": 2.0})) == pytest.approx(
        -0.25
    )
    tied = pd.Series({"a": 1.0, "b": 1.0})  # equal scores share one rank: no gradient
    assert concentration_index(values, persons, tied) == pytest.approx(0.0)


def test_shares_beyond_minutes_and_below_threshold():
    minutes = pd.Series([10.0, 31.0, np.nan, 30.0], index=IDS)
    assert share_beyond(minutes, P, 30) == pytest.approx(0.5)  # b and unreachable c
    assert share_below(X, P, 3.0) == pytest.approx(0.3)


def test_by_zone_with_labels_and_with_polygons():
    labels = pd.Series(["n", "n", "s", "s"], index=IDS)
    table = by_zone(X, P, labels)
    assert table.loc["n", "mean"] == pytest.approx(50 / 30)
    assert table.loc["s", "gini"] == pytest.approx(gini(X[["c", "d"]], P[["c", "d"]]))
    points = gpd.GeoSeries(
        [Point(0.5, 0.5), Point(0.5, 0.7), Point(1.5, 0.5), Point(9, 9)], index=IDS, crs=3857
    )
    zones = gpd.GeoDataFrame(
        {"name": ["west", "east"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=3857
    )
    got = zone_labels(zones, points, zone_col="name")
    assert got.to_dict() == {"a": "west", "b": "west", "c": "east", "d": "(outside zones)"}
    poly = by_zone(X, P, zones, origins=points, zone_col="name")
    assert poly.loc["(outside zones)", "persons"] == 40.0
    with pytest.raises(InputError, match=r"origins \['d'\] \(of 1\) lie outside every zone"):
        zone_labels(zones, points, zone_col="name", outside=None)
    # a shared border goes to the first polygon of the layer, in the order of the ids asked
    on_border = gpd.GeoSeries([Point(1.0, 0.5), Point(0.5, 0.5)], index=["q", "p"], crs=3857)
    got = origin_zones(pd.Index(["p", "q"]), zones, origins=on_border, zone_col="name")
    assert got.tolist() == ["west", "west"]
    with pytest.raises(InputError, match="no label for origins"):
        origin_zones(pd.Index(["p", "x"]), pd.Series({"p": "west"}))


def test_origin_zones_checks_points_repeats_and_crs():
    zones = gpd.GeoDataFrame(
        {"name": ["west", "east"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)]
    )
    plane = gpd.GeoSeries([Point(1.5, 0.5), Point(9, 9)], index=["p", "far"])
    # neither has a CRS: one shared plane; labels from the index (east is row 1); the point
    # outside is not asked for
    assert origin_zones(pd.Index(["p"]), zones, origins=plane, outside=None).tolist() == [1]
    with pytest.raises(InputError, match=r"origins \['far'\] \(of 1\) lie outside"):
        origin_zones(pd.Index(["far"]), zones, origins=plane, outside=None)
    with pytest.raises(InputError, match=r"no point for origin ids \['q'\]"):
        origin_zones(pd.Index(["p", "q"]), zones, origins=plane)
    with pytest.raises(InputError, match="origins="):
        origin_zones(pd.Index(["p"]), zones)
    with pytest.raises(InputError, match=r"origin ids \['a'\] repeat"):
        origin_zones(pd.Index(["a"]), pd.Series(["n", "s"], index=["a", "a"]))
    with pytest.raises(InputError, match="CRS each"):
        origin_zones(pd.Index(["p"]), zones.set_crs(3857), origins=plane)


def test_summarize_has_every_metric():
    s = summarize(X, P, deprivation=pd.Series([4.0, 3, 2, 1], index=IDS), threshold=2.5)
    for key in ("mean", "p10", "p50", "p90", "gini", "theil_t", "palma", "concentration_index"):
        assert np.isfinite(s[key])
    assert s["share_below_threshold"] == pytest.approx(0.3)


def test_compare_reports_change_equity_and_persons_newly_within():
    after = X * 4
    result = compare(
        X,
        after,
        P,
        zones=pd.Series(["n", "n", "s", "s"], index=IDS),
        standard=30,
        minutes_before=pd.Series([10.0, 40.0, np.nan, 20.0], index=IDS),
        minutes_after=pd.Series([10.0, 25.0, 28.0, 35.0], index=IDS),
        threshold=3,
    )
    row = result.summary.loc["population-weighted mean"]
    assert row["before"] == pytest.approx(5.4) and row["pct_change"] == pytest.approx(300.0)
    assert result.summary.loc["gini", "change"] == pytest.approx(0.0, abs=1e-12)  # scaling
    assert result.summary.loc["persons newly within 30 min", "change"] == 50.0  # b and c
    assert result.summary.loc["persons no longer within 30 min", "change"] == 40.0  # d
    assert result.summary.loc["persons within 30 min", "after"] == 60.0
    assert result.per_origin["pct_change"].tolist() == pytest.approx([300.0] * 4)
    assert result.zones.loc["n", "newly_within"] == 20.0
    assert result.headline().startswith("population-weighted accessibility +300%")
    assert "50 persons newly within 30 min" in result.headline()


def test_not_reached_origins_are_left_out_of_means_and_counted():
    minutes = pd.Series([10.0, np.nan, 30.0, np.nan], index=IDS)  # b and d reach nothing
    assert weighted_mean(minutes, P) == pytest.approx((10 * 10 + 30 * 30) / 40)
    assert weighted_median(minutes, P) == 30.0
    s = summarize(minutes, P)
    assert s["persons"] == 40.0 and s["persons_not_reached"] == 60.0
    assert share_beyond(minutes, P, 20) == pytest.approx(0.9)  # c, and b and d unreached
    after = pd.Series([10.0, 20.0, 30.0, np.nan], index=IDS)  # b is now reached
    result = compare(minutes, after, P, zones=pd.Series(["n", "n", "s", "s"], index=IDS))
    row = result.summary.loc["persons not reached"]
    assert (row["before"], row["after"], row["change"]) == (60.0, 40.0, -20.0)
    assert result.summary.loc["population-weighted mean", "after"] == pytest.approx(
        (100 + 400 + 900) / 60
    )
    assert np.isnan(result.per_origin.loc["b", "change"])
    assert result.zones.loc["n", "mean_after"] == pytest.approx(500 / 30)
    assert result.zones.loc["s", "mean_before"] == 30.0
    assert "population-weighted" in result.headline()


def test_compare_from_zero_reports_infinite_percent_change():
    result = compare(pd.Series([0.0, 0.0]), pd.Series([1.0, 0.0]), pd.Series([1.0, 1.0]))
    assert result.per_origin["pct_change"].iloc[0] == np.inf
    assert (
        np.isnan(result.per_origin["pct_change"].iloc[1])
        or result.per_origin["pct_change"].iloc[1] == 0
    )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: weighted_mean(X, P.drop("a")), "demand"),
        (lambda: weighted_mean(X.replace(1.0, np.inf), P), "infinite for origin 'a'"),
        (lambda: weighted_mean(X * np.nan, P), "no persons to summarise"),
        (lambda: weighted_mean(X, P * 0), "demand sums to 0"),
        (lambda: weighted_quantile(X, P, 1.5), "quantile"),
        (lambda: theil_t(X - 5, P), ">= 0"),
        (lambda: share_beyond(X, P, 0), "standard"),
        (lambda: compare(X, X.rename({"a": "z"}), P), "different origin ids"),
        (lambda: compare(X, X, P, standard=30), "minutes_before"),
        (lambda: by_zone(X, P, pd.Series(["n"], index=["a"])), "no label"),
    ],
)
def test_bad_input_raises_input_error(call, match):
    with pytest.raises(InputError, match=match):
        call()
