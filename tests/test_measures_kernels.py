"""Compiled sums over a CSR pattern against scipy's sparse products on the same arrays."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from accessplan.measures import _kernels
from accessplan.measures._kernels import column_sums, row_sums


def random_pattern(n_rows: int, n_cols: int, density: float, seed: int) -> sp.csr_array:
    m = sp.random_array((n_rows, n_cols), density=density, format="csr", rng=seed)
    m.data[:] = np.random.default_rng(seed).uniform(0.1, 2.0, m.nnz)
    return m


@pytest.fixture(params=["one thread", "threads"])
def split(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "threads":  # small problems take the threaded path too
        monkeypatch.setattr(_kernels, "PARALLEL_MIN_PAIRS", 1)
    return request.param


@pytest.mark.parametrize("weighted", [False, True])
def test_column_sums_equal_the_transposed_product(weighted: bool, split: str) -> None:
    m = random_pattern(3000, 70, 0.1, seed=1)
    x = np.random.default_rng(2).uniform(0, 100, 3000)
    x[::7] = 0.0  # rows without demand are skipped, not mis-summed
    ones = sp.csr_array((np.ones(m.nnz), m.indices, m.indptr), shape=m.shape)
    ref = (m if weighted else ones).T @ x
    ours = column_sums(m.indptr, m.indices, m.data if weighted else None, x, m.shape[1])
    np.testing.assert_allclose(ours, ref, rtol=1e-13)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("width", [None, 1, 3])
def test_row_sums_equal_the_product(weighted: bool, width: int | None, split: str) -> None:
    m = random_pattern(2500, 90, 0.1, seed=3)
    rng = np.random.default_rng(4)
    y = rng.uniform(0, 5, 90) if width is None else rng.uniform(0, 5, (90, width))
    ones = sp.csr_array((np.ones(m.nnz), m.indices, m.indptr), shape=m.shape)
    ref = (m if weighted else ones) @ y
    ours = row_sums(m.indptr, m.indices, m.data if weighted else None, y)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-13)


def test_empty_rows_and_an_empty_pattern_sum_to_zero() -> None:
    m = sp.csr_array(([1.0, 1.0], ([0, 0], [1, 2])), shape=(4, 3))
    np.testing.assert_array_equal(row_sums(m.indptr, m.indices, None, np.ones(3)), [2, 0, 0, 0])
    empty = sp.csr_array((5, 2))
    np.testing.assert_array_equal(column_sums(empty.indptr, empty.indices, None, np.ones(5), 2), 0)
    np.testing.assert_array_equal(row_sums(empty.indptr, empty.indices, None, np.ones(2)), 0)


def test_row_ranges_split_the_work_evenly_and_cover_every_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_kernels, "_threads", lambda: 4)
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_PAIRS", 1)
    indptr = np.r_[0, np.cumsum(np.r_[np.full(100, 1), np.full(10, 1000)])]
    ranges = _kernels._row_ranges(indptr)
    assert ranges[0][0] == 0 and ranges[-1][1] == 110
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    work = [int(indptr[hi] - indptr[lo]) for lo, hi in ranges]
    assert max(work) <= 4000


@pytest.mark.parametrize("weighted", [False, True])
def test_two_step_sums_equal_the_two_products(weighted: bool, split: str) -> None:
    m = random_pattern(2000, 60, 0.1, seed=5)
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 100, 2000)
    capacity = rng.uniform(0, 10, 60)
    capacity[:3] = 0.0
    w = m if weighted else sp.csr_array((np.ones(m.nnz), m.indices, m.indptr), shape=m.shape)
    demand_at = w.T @ x
    ratio = np.divide(capacity, demand_at, out=np.zeros(60), where=demand_at > 0)
    ours = _kernels.two_step_sums(m.indptr, m.indices, m.data if weighted else None, x, capacity)
    np.testing.assert_allclose(ours, w @ ratio, rtol=1e-12)


def test_two_step_sums_give_zero_ratio_where_no_demand_reaches() -> None:
    # Column 1 is reached only by a row without persons: its supply goes to nobody.
    m = sp.csr_array(([1.0, 1.0, 1.0], ([0, 1, 1], [0, 0, 1])), shape=(2, 2))
    out = _kernels.two_step_sums(m.indptr, m.indices, None, np.array([4.0, 0.0]), np.ones(2))
    np.testing.assert_allclose(out, [0.25, 0.25])


def _threaded_sums_in_child(queue) -> None:
    m = random_pattern(3000, 70, 0.1, seed=9)
    queue.put(float(column_sums(m.indptr, m.indices, None, np.ones(3000), 70).sum()))


def test_a_forked_child_sums_on_threads_of_its_own(
    monkeypatch: pytest.MonkeyPatch, in_forked_child
) -> None:
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_PAIRS", 1)
    m = random_pattern(3000, 70, 0.1, seed=9)
    column_sums(m.indptr, m.indices, None, np.ones(3000), 70)  # the parent's pool now exists
    assert in_forked_child(_threaded_sums_in_child) == pytest.approx(m.nnz)
