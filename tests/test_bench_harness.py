"""The benchmark harness: warm-up calls stay out of the median, short calls repeat to a budget."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._harness import measure, measure_interleaved  # noqa: E402


def test_warmup_calls_are_kept_apart_from_the_timed_calls() -> None:
    m = measure(time.sleep, 0.01, repeats=3, warmup=2)
    assert len(m.warmup_seconds) == 2 and len(m.seconds) == 3
    assert all(s >= 0.01 for s in m.seconds + m.warmup_seconds)
    assert m.value is None and m.peak_mib > 0


def test_min_seconds_repeats_in_groups_until_enough_time_is_measured() -> None:
    m = measure(time.sleep, 0.01, repeats=2, min_seconds=0.1)
    assert sum(m.seconds) >= 0.1
    assert len(m.seconds) % 2 == 0 and 10 <= len(m.seconds) <= 12
    assert m.warmup_seconds == []


def test_a_failing_call_is_reported_with_its_error() -> None:
    with pytest.raises(RuntimeError, match="ValueError"):
        measure(time.sleep, -1.0)


def test_cpu_time_is_recorded_for_every_timed_call() -> None:
    m = measure(time.sleep, 0.02, repeats=3, warmup=1)
    assert len(m.cpu_seconds) == 3
    assert all(0 <= c < 0.02 for c in m.cpu_seconds)  # sleeping takes no CPU
    assert m.median_cpu == sorted(m.cpu_seconds)[1]


def test_interleaved_rounds_pool_every_round_of_every_call() -> None:
    runs = measure_interleaved(
        {"short": (time.sleep, (0.005,)), "long": (time.sleep, (0.02,))},
        rounds=2,
        repeats=2,
        warmup=1,
    )
    assert set(runs) == {"short", "long"}
    for m in runs.values():
        assert len(m.seconds) == len(m.cpu_seconds) == 4 and len(m.warmup_seconds) == 2
    assert runs["long"].median > runs["short"].median >= 0.005
