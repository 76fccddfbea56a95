"""The embedded Ngazidja region and the seeded synthetic region generator."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from conftest import NGAZIDJA_POPULATION, REPO

from accessplan.errors import InputError
from accessplan.regions import (
    NGAZIDJA_TIER_CAPACITY,
    Region,
    data_dir,
    load_region,
    synthetic_graph,
    synthetic_region,
)


# ====================================================================== Ngazidja
def test_ngazidja_population_is_aggregated_to_500m_and_keeps_the_total(ngazidja):
    assert isinstance(ngazidja, Region)
    pop = ngazidja.population
    assert pop["population"].sum() == pytest.approx(NGAZIDJA_POPULATION, abs=0.5)
    assert ngazidja.cell_size == pytest.approx(5 / 1200, rel=1e-6)  # degrees, ~460 m
    assert pop["id"].is_unique and (pop["population"] > 0).all()
    assert pop.crs.to_epsg() == 4326
    assert len(pop) == 5117


def test_ngazidja_full_grid_has_every_populated_100m_cell():
    region = load_region("ngazidja", aggregate=1)
    assert len(region.population) == 123_287
    assert region.population["population"].sum() == pytest.approx(NGAZIDJA_POPULATION, abs=0.5)


def test_ngazidja_moh_facilities_by_tier_with_assumed_capacity(ngazidja):
    fac = ngazidja.facilities
    assert len(fac) == 31
    assert fac["Tier_name"].value_counts().to_dict() == {
        "Tier1 health post": 23,
        "Tier2 health center": 5,
        "Tier3 provincial hospital": 2,
        "Tier4 central hospital": 1,
    }
    assert (fac["type"] == "clinic").all()
    expected = fac["Tier_name"].map(NGAZIDJA_TIER_CAPACITY)
    np.testing.assert_array_equal(fac["capacity"].to_numpy(), expected.to_numpy())
    central = fac[fac["Tier_name"] == "Tier4 central hospital"]
    assert "Maarouf" in central["name"].iloc[0]
    assert fac.within(ngazidja.boundary).all()


def test_ngazidja_defective_rows_are_reported_not_hidden(ngazidja):
    excluded = ngazidja.facilities.attrs["excluded"].set_index("id")
    assert len(excluded) == 66 - 31
    assert excluded.loc[4, "reason"] == "has no coordinates"
    assert "latitude sign looks flipped" in excluded.loc[19, "reason"]
    assert "Grande Comore" not in set(excluded["Admin1"])


def test_ngazidja_osm_facilities_merge_node_and_way_duplicates(ngazidja):
    osm = ngazidja.osm_facilities
    dropped = osm.attrs["excluded"]
    assert len(osm) + len(dropped) == 32  # core features on Ngazidja
    named = set(dropped["name"].dropna())
    assert named == {"Centre de santé de Mitsoudjé", "CMC Mitsamiouli", "Dispensaire Caritas"}
    assert osm["id"].is_unique
    assert set(osm["type"]) == {"clinic"}
    assert (osm.loc[osm["name"] == "Hopital Kaz", "capacity"] == 20.0).all()


def test_tier_capacity_can_be_overridden():
    region = load_region("ngazidja", tier_capacity={"Tier1 health post": 3})
    posts = region.facilities[region.facilities["Tier_name"] == "Tier1 health post"]
    assert (posts["capacity"] == 3.0).all()
    with pytest.raises(InputError, match=r"unknown tiers \['Tier9'\]"):
        load_region("ngazidja", tier_capacity={"Tier9": 1})


def test_ngazidja_attribution_names_every_source(ngazidja):
    text = ngazidja.attribution
    assert "© OpenStreetMap contributors" in text and "ODbL" in text
    assert "WorldPop" in text and "doi:10.5258/SOTON/WP00645" in text and "CC BY 4.0" in text
    assert "Maina et al. 2019" in text


def test_road_graph_is_read_once_per_mode(ngazidja, ngazidja_drive):
    assert ngazidja.road_graph("drive") is ngazidja_drive
    with pytest.raises(InputError, match="not a travel mode"):
        ngazidja.road_graph("boat")


def test_unknown_region_and_data_dir_override(monkeypatch, tmp_path):
    with pytest.raises(InputError, match="unknown embedded region 'mars'"):
        load_region("mars")
    monkeypatch.setenv("ACCESSPLAN_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    with pytest.raises(InputError, match=r"ngazidja\.osm\.pbf.*missing.*prepare_ngazidja"):
        load_region("ngazidja")
    monkeypatch.setenv("ACCESSPLAN_DATA", str(tmp_path / "absent"))
    assert data_dir() == REPO / "data"


def test_summary_counts(ngazidja):
    summary = ngazidja.summary()
    assert summary["facilities"] == 31
    assert summary["population_points"] == 5117
    assert summary["crs"] == "EPSG:4326"


# ====================================================================== synthetic
def test_synthetic_region_is_deterministic_for_a_seed():
    a = synthetic_region(n_nodes=900, n_origins=300, n_facilities=8, seed=5)
    b = synthetic_region(n_nodes=900, n_origins=300, n_facilities=8, seed=5)
    c = synthetic_region(n_nodes=900, n_origins=300, n_facilities=8, seed=6)
    assert a.population.equals(b.population)
    assert a.facilities.equals(b.facilities)
    assert nx.utils.graphs_equal(a.roads, b.roads)
    assert not a.population.equals(c.population)
    assert not nx.utils.graphs_equal(a.roads, c.roads)


def test_synthetic_graph_is_strongly_connected_despite_removed_streets():
    full = synthetic_graph(n_nodes=2_500, remove_share=0.0, seed=2)
    cut = synthetic_graph(n_nodes=2_500, remove_share=0.3, seed=2)
    assert nx.is_strongly_connected(cut)
    assert cut.number_of_nodes() == full.number_of_nodes() == 2_500
    assert cut.number_of_edges() < 0.8 * full.number_of_edges()


def test_exact_lattice_has_known_edges_and_lengths():
    G = synthetic_graph(n_nodes=100, spacing_m=150.0, jitter=0.0, remove_share=0.0)
    side = 10
    assert G.number_of_edges() == 2 * 2 * side * (side - 1)
    assert {d["length"] for *_, d in G.edges(data=True)} == {150.0}
    assert (G.nodes[side + 3]["x"] - G.nodes[0]["x"], G.nodes[side + 3]["y"] - G.nodes[0]["y"]) == (
        450.0,
        150.0,
    )
    assert G.graph["crs"] == "EPSG:32738"


def test_arterials_every_kth_row_and_column_are_primary():
    G = synthetic_graph(n_nodes=400, arterial_every=5, remove_share=0.0, jitter=0.0)
    side = 20
    for u, v, d in G.edges(data=True):
        (ru, cu), (rv, cv) = divmod(u, side), divmod(v, side)
        on_arterial = (ru == rv and ru % 5 == 0) or (cu == cv and cu % 5 == 0)
        assert d["highway"] == ("primary" if on_arterial else "residential")
        assert d["oneway"] is False


def test_removed_streets_are_never_arterials():
    G = synthetic_graph(n_nodes=900, arterial_every=6, remove_share=0.5, seed=4)
    primary = sum(1 for *_, d in G.edges(data=True) if d["highway"] == "primary")
    side = 30
    arterial_lines = len(range(0, side, 6))
    assert primary == 2 * 2 * arterial_lines * (side - 1)


def test_synthetic_population_and_sites(small_region):
    pop, fac, cand = small_region.population, small_region.facilities, small_region.candidates
    assert len(pop) == 150 and pop["id"].tolist() == list(range(150))
    assert (pop["population"] >= 1).all()
    assert pop.within(small_region.boundary).all()
    assert len(fac) == 6 and list(fac.columns[:4]) == ["id", "name", "type", "capacity"]
    assert fac["id"].tolist() == [f"F{i:04d}" for i in range(1, 7)]
    assert (fac["type"] == "clinic").all() and (fac["capacity"] >= 2).all()
    assert len(cand) == 10
    assert not set(map(tuple, np.c_[cand.geometry.x, cand.geometry.y])) & set(
        map(tuple, np.c_[fac.geometry.x, fac.geometry.y])
    )
    # distinct cells
    assert len(set(zip(pop.geometry.x, pop.geometry.y, strict=True))) == 150


def test_population_is_clustered_in_towns():
    region = synthetic_region(n_nodes=2_500, n_origins=1_000, seed=0)
    pop = region.population
    # the densest 10 % of points hold far more than 10 % of the people
    top = np.sort(pop["population"].to_numpy())[::-1][:100].sum()
    assert top / pop["population"].sum() > 0.2
    # people are not spread evenly: over 4 × 4 blocks, the fullest holds > 3× the mean
    x0, y0, x1, y1 = region.boundary.bounds
    blocks = {"bins": 4, "range": [[x0, x1], [y0, y1]]}
    counts, *_ = np.histogram2d(pop.geometry.x, pop.geometry.y, **blocks)
    persons, *_ = np.histogram2d(
        pop.geometry.x, pop.geometry.y, weights=pop["population"], **blocks
    )
    assert counts.max() > 2 * counts.mean()
    assert persons.max() > 3 * persons.mean()


def test_population_does_not_depend_on_the_number_of_facilities():
    a = synthetic_region(n_nodes=400, n_origins=100, n_facilities=2, seed=1)
    b = synthetic_region(n_nodes=400, n_origins=100, n_facilities=9, seed=1)
    assert a.population.equals(b.population)


def test_synthetic_region_graph_for_every_mode(small_region):
    G = small_region.road_graph("walk")
    assert G is small_region.road_graph("drive")
    assert G.number_of_nodes() == 400


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_nodes": 3}, "too small"),
        ({"spacing_m": 0.0}, "spacing_m"),
        ({"jitter": 0.6}, "jitter"),
        ({"remove_share": 1.0}, "remove_share"),
        ({"n_origins": 0}, "at least one origin"),
    ],
)
def test_bad_synthetic_parameters_are_explained(kwargs, message):
    with pytest.raises(InputError, match=message):
        synthetic_region(**kwargs)


def test_synthetic_islands_have_one_road_component_per_island_and_unique_ids():
    import networkx as nx

    from accessplan.regions import synthetic_islands

    region = synthetic_islands(facilities_per_island=(3, 2, 0), n_nodes=100, n_origins=50, seed=4)
    components = list(nx.strongly_connected_components(region.roads))
    assert len(components) == 3
    assert not nx.has_path(region.roads, next(iter(components[0])), next(iter(components[1])))
    assert region.population["id"].is_unique and len(region.population) == 150
    assert region.facilities["id"].is_unique
    assert region.facilities["island"].value_counts().to_dict() == {1: 3, 2: 2}
    xs = region.population.groupby("island").geometry.apply(lambda g: g.x.min())
    assert (xs.diff().dropna() > 10_000).all()
    again = synthetic_islands(facilities_per_island=(3, 2, 0), n_nodes=100, n_origins=50, seed=4)
    assert again.population.geometry.equals(region.population.geometry)
