"""Reach categories, the account of every person, the per-network summary and the warnings."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest

from accessplan.errors import InputError
from accessplan.network import prepare_network
from accessplan.reach import (
    CATEGORIES,
    NOT_ON_NETWORK,
    component_summary,
    person_accounting,
    reach_categories,
    reach_warnings,
)
from accessplan.traveltimes import TravelTimes, travel_times

UTM = "EPSG:32738"
INF = np.inf


@pytest.fixture
def islands_tt() -> TravelTimes:
    """Six origins on three networks and off them; facilities f (network 0), g (network 1).

    o1: 10 min to f; o2: 40 min to f; o3: on network 0 but beyond the cutoff; o4: network 1
    reaches g in 0 minutes (at the door); o5: network 2, no facility there; o6: too far from road.
    """
    minutes = np.array([[10.0, INF], [40.0, INF], [INF, INF], [INF, 0.0], [INF, INF], [INF, INF]])
    return TravelTimes.from_dense(
        minutes,
        ["o1", "o2", "o3", "o4", "o5", "o6"],
        ["f", "g"],
        cutoff=60,
        origin_components=[0, 0, 0, 1, 2, None],
        destination_components=pd.Series({"g": 1, "f": 0}),
        component_nodes=pd.Series([50, 30, 25]),
    )


DEMAND = pd.Series({"o1": 100.0, "o2": 20.0, "o3": 3.0, "o4": 7.5, "o5": 40.0, "o6": 0.25})


def test_every_origin_gets_exactly_one_category(islands_tt):
    got = reach_categories(islands_tt, 30)
    assert list(got.index) == list(islands_tt.origin_ids)
    assert got.tolist() == [
        "within standard",
        "beyond standard",
        "no facility within cutoff",
        "within standard",
        "no facility on its network",
        "too far from road",
    ]
    assert list(got.cat.categories) == list(CATEGORIES)


def test_facilities_restrict_the_destinations_that_count(islands_tt):
    got = reach_categories(islands_tt, 30, facilities=["f"])
    assert got["o4"] == "no facility on its network"  # g is a candidate site, not a facility
    with pytest.raises(InputError, match=r"facilities \['zz'\]"):
        reach_categories(islands_tt, 30, facilities=["zz"])


def test_person_accounting_adds_up_to_the_demand(islands_tt):
    table = person_accounting(islands_tt, DEMAND, 30)
    assert list(table.index) == [*CATEGORIES, "total"]
    assert table["persons"].to_dict() == {
        "within standard": 107.5,
        "beyond standard": 20.0,
        "no facility within cutoff": 3.0,
        "no facility on its network": 40.0,
        "too far from road": 0.25,
        "total": 170.75,
    }
    categories = table.drop(index="total")
    assert math.fsum(categories["persons"]) == table.at["total", "persons"] == DEMAND.sum()
    assert categories["origins"].sum() == table.at["total", "origins"] == 6
    assert categories["share"].sum() == pytest.approx(1.0, abs=1e-15)
    assert table.attrs["standard"] == 30 and table.attrs["cutoff"] == 60


def test_accounting_is_exact_on_many_fractional_cells():
    rng = np.random.default_rng(5)
    n = 5_000
    minutes = np.where(rng.random((n, 3)) < 0.3, rng.uniform(0, 90, (n, 3)), INF)
    comps = rng.choice([0.0, 1.0, 2.0, np.nan], n, p=[0.5, 0.3, 0.15, 0.05])
    tt = TravelTimes.from_dense(
        np.where(np.isnan(comps)[:, None], INF, minutes),
        range(n),
        ["a", "b", "c"],
        cutoff=90,
        origin_components=comps,
        destination_components=[0, 0, 1],
    )
    demand = pd.Series(rng.uniform(0, 300, n) * 1.000001, index=range(n))
    table = person_accounting(tt, demand, 30)
    total = table.at["total", "persons"]
    assert math.fsum(table["persons"].iloc[:-1]) == total
    assert total == pytest.approx(math.fsum(demand), rel=1e-15)
    summary = component_summary(tt, demand, 30)
    assert math.fsum(summary["persons"]) == pytest.approx(total, rel=1e-15)
    assert math.fsum(summary["persons_within_standard"]) == pytest.approx(
        table.at["within standard", "persons"], rel=1e-15
    )


def test_component_summary_lists_every_network_and_the_points_off_it(islands_tt):
    table = component_summary(islands_tt, DEMAND, 30)
    assert table["component"].tolist() == [0, 1, 2, NOT_ON_NETWORK]
    assert table["nodes"].tolist() == [50, 30, 25, 0]
    assert table["origins"].tolist() == [3, 1, 1, 1]
    assert table["persons"].tolist() == [123.0, 7.5, 40.0, 0.25]
    assert table["facilities"].tolist() == [1, 1, 0, 0]
    assert table["persons_within_standard"].tolist() == [100.0, 7.5, 0.0, 0.0]


def test_from_long_without_components_is_one_network():
    df = pd.DataFrame({"origin": ["a", "b"], "destination": ["f", "f"], "minutes": [5.0, INF]})
    tt = TravelTimes.from_long(df)
    assert reach_categories(tt, 30).tolist() == ["within standard", "no facility within cutoff"]
    summary = component_summary(tt, pd.Series({"a": 1.0, "b": 2.0}), 30)
    assert summary["component"].tolist() == [0, NOT_ON_NETWORK]
    assert summary["nodes"].isna().tolist() == [True, False]


def test_standard_must_be_within_the_cutoff(islands_tt):
    reach_categories(islands_tt, 60)  # at the cutoff
    with pytest.raises(InputError, match=r"standard = 90.*cutoff >= 90"):
        person_accounting(islands_tt, DEMAND, 90)
    with pytest.raises(InputError, match="positive number of minutes"):
        reach_categories(islands_tt, -5)


def test_warnings_name_share_and_persons_of_each_unreached_group(islands_tt):
    table = person_accounting(islands_tt, DEMAND, 30)
    warnings = reach_warnings(table)
    assert len(warnings) == 2  # too far from road holds 0.15 %: below 1 %
    assert warnings[0].startswith("1.8 % of persons (3) reach no facility within the 60-minute")
    assert warnings[1].startswith("23.4 % of persons (40) live on a road network with no facility")
    assert len(reach_warnings(table, threshold=0.001)) == 3
    assert "too far" in reach_warnings(table, threshold=0.001)[2]
    assert reach_warnings(table, threshold=0.5) == []
    with pytest.raises(InputError, match="person_accounting"):
        reach_warnings(pd.DataFrame({"persons": [1.0]}))


def two_islands() -> nx.MultiDiGraph:
    """Two 4 × 4 walking grids (100 m blocks) 20 km apart, and a 2-node fragment."""
    G = nx.MultiDiGraph(crs=UTM)
    for island, x0 in enumerate((0.0, 20_000.0)):
        base = island * 100
        for r in range(4):
            for c in range(4):
                G.add_node(base + r * 4 + c, x=x0 + 100.0 * c, y=100.0 * r)
        for r in range(4):
            for c in range(4):
                for r2, c2 in ((r, c + 1), (r + 1, c)):
                    if r2 < 4 and c2 < 4:
                        a, b = base + r * 4 + c, base + r2 * 4 + c2
                        G.add_edge(a, b, length=100.0, highway="residential")
                        G.add_edge(b, a, length=100.0, highway="residential")
    G.add_node(900, x=10_000.0, y=0.0)
    G.add_node(901, x=10_050.0, y=0.0)
    G.add_edge(900, 901, length=50.0, highway="residential")
    G.add_edge(901, 900, length=50.0, highway="residential")
    return G


def test_end_to_end_on_two_islands():
    H = prepare_network(two_islands(), "walk", speeds=6.0, min_component_nodes=10)
    pts = gpd.GeoDataFrame(
        {"id": ["west", "east", "reef", "sea"], "population": [10.0, 20.0, 5.0, 1.0]},
        geometry=gpd.points_from_xy([0, 20_300, 10_020, 50_000], [0, 300, 0, 0]),
        crs=UTM,
    )
    clinic = gpd.GeoDataFrame({"id": ["c"]}, geometry=gpd.points_from_xy([100.0], [0.0]), crs=UTM)
    tt = travel_times(H, pts, clinic, cutoff=60)
    # The reef (beside the dropped fragment) is 9.7 km from a kept node: too far from road.
    assert tt.origin_components.tolist() == [0, 1, pd.NA, pd.NA]
    table = person_accounting(tt, pts.set_index("id")["population"], 30)
    assert table["persons"].to_dict() == {
        "within standard": 10.0,
        "beyond standard": 0.0,
        "no facility within cutoff": 0.0,
        "no facility on its network": 20.0,
        "too far from road": 6.0,
        "total": 36.0,
    }
    summary = component_summary(tt, pts.set_index("id")["population"], 30)
    assert summary["nodes"].tolist() == [16, 16, 0]
    assert summary["facilities"].tolist() == [1, 0, 0]
    assert "more than 2,000 m from any road" in reach_warnings(table)[-1]
