"""Memory-bounded travel times: block by block, in one or two passes, equal to the dense path."""

from __future__ import annotations

import numpy as np
import pytest

import accessplan._shortest_paths as shortest_paths
import accessplan.traveltimes as engine
from accessplan import Points, prepare_network, travel_times
from accessplan.errors import InputError
from accessplan.regions import synthetic_region


@pytest.fixture(scope="module")
def region():
    return synthetic_region(n_nodes=2_500, n_origins=900, n_facilities=30, seed=5)


@pytest.fixture(scope="module")
def roads(region):
    return prepare_network(region.roads, "drive")


def same_matrix(a, b) -> bool:
    ma, mb = a.matrix, b.matrix
    return (
        ma.shape == mb.shape
        and np.array_equal(ma.indptr, mb.indptr)
        and np.array_equal(ma.indices, mb.indices)
        and np.array_equal(ma.data, mb.data)  # bit for bit
    )


@pytest.fixture
def search_calls(monkeypatch):
    """Count the calls of the compiled searches (one per block of search nodes)."""
    calls = []
    real = shortest_paths.shortest_minutes

    def counted(*args, **kwargs):
        calls.append(args[1].size)
        return real(*args, **kwargs)

    monkeypatch.setattr(shortest_paths, "shortest_minutes", counted)
    return calls


@pytest.mark.parametrize("cutoff", [12.0, None])
@pytest.mark.parametrize("swap", [False, True], ids=["from-destinations", "from-origins"])
def test_blocks_in_one_or_two_passes_equal_the_dense_path(
    region, roads, monkeypatch, search_calls, cutoff, swap
):
    origins, destinations = region.population, region.facilities
    if swap:  # fewer origins than destinations: the searches run forward, from the origins
        origins, destinations = destinations, origins
    dense = travel_times(roads, origins, destinations, cutoff=cutoff)
    assert dense.nnz > 1_000
    monkeypatch.setattr(engine, "_DENSE_NODE_PAIRS", 0)
    search_calls.clear()
    one = travel_times(roads, origins, destinations, cutoff=cutoff, chunk_mib=0.02)
    blocks = len(search_calls)
    assert blocks >= 5  # really searched block by block
    search_calls.clear()
    two = travel_times(roads, origins, destinations, cutoff=cutoff, chunk_mib=0.02, memory_mib=1e-3)
    assert len(search_calls) == 2 * blocks  # counted, then searched again to fill
    assert same_matrix(one, dense)
    assert same_matrix(two, dense)
    assert two.diagnostics.equals(dense.diagnostics)


def test_points_arrays_route_like_geodataframes(region, roads):
    frame = travel_times(roads, region.population, region.facilities, cutoff=15)
    arrays = travel_times(
        roads,
        Points.from_geodataframe(region.population),
        Points.from_geodataframe(region.facilities),
        cutoff=15,
    )
    assert same_matrix(arrays, frame)
    assert list(arrays.origin_ids) == list(frame.origin_ids)
    assert arrays.diagnostics.equals(frame.diagnostics)


def test_memory_budget_must_be_positive(region, roads):
    with pytest.raises(InputError, match="memory_mib"):
        travel_times(roads, region.population, region.facilities, cutoff=15, memory_mib=0)
