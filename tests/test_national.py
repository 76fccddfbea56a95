"""Access over facility blocks equals access over the whole matrix."""

from __future__ import annotations

import numpy as np
import pytest

import accessplan as ap
from accessplan.errors import InputError
from accessplan.national import access_in_blocks


@pytest.fixture(scope="module")
def country():
    region = ap.synthetic_region_arrays(n_nodes=6_000, n_origins=3_000, n_facilities=37, seed=5)
    return region, ap.prepare_network(region.roads, "drive")


@pytest.mark.parametrize("cutoff, standard", [(20.0, None), (45.0, 15.0)])
def test_blocks_equal_the_whole_matrix(country, cutoff, standard):
    region, network = country
    persons = region.population["population"]
    tt = ap.travel_times(network, region.population, region.facilities, cutoff=cutoff)
    whole_2sfca = ap.two_step_fca(
        tt, persons, region.facilities["capacity"], standard=standard or cutoff
    )
    got = access_in_blocks(
        network,
        region.population,
        region.facilities,
        cutoff=cutoff,
        standard=standard,
        block_facilities=8,  # 5 blocks, the last one short
    )
    assert got.blocks == 5 and got.pairs == tt.matrix.nnz
    assert got.largest_block_pairs < tt.matrix.nnz
    table = got.table
    assert list(table.index) == list(region.population.ids)
    np.testing.assert_array_equal(table["nearest_minutes"], ap.nearest(tt).to_numpy())
    np.testing.assert_allclose(table["two_step_fca"], whole_2sfca.to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(table["facilities_within"], np.diff(tt.matrix.indptr))
    assert table["nearest_minutes"].isna().sum() == (np.diff(tt.matrix.indptr) == 0).sum()


def test_block_arguments_are_checked(country):
    region, network = country
    kw = {"cutoff": 30.0}
    with pytest.raises(InputError, match="standard is 45"):
        access_in_blocks(network, region.population, region.facilities, standard=45, **kw)
    with pytest.raises(InputError, match="block_facilities"):
        access_in_blocks(network, region.population, region.facilities, block_facilities=0, **kw)
    with pytest.raises(InputError, match="'beds'"):
        access_in_blocks(network, region.population, region.facilities, capacity="beds", **kw)
