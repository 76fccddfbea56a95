"""Shared timing harness for the benchmark scripts.

Each measured call runs in a fresh worker process (``spawn``), so the peak resident memory that
the operating system reports for it (``ru_maxrss``) belongs to that call alone, and peers do not
share warm caches. The worker runs the call ``repeats`` times and reports every duration; the
table shows the median.

Calls of a few milliseconds need more: the first calls in a process also pay for imports,
loading compiled code and the memory allocator's first growth, and one call is short enough
for timer and scheduler noise to matter. For them ``warmup`` calls run first (their durations
are kept apart, in ``Measurement.warmup_seconds``) and ``min_seconds`` keeps repeating until
that much time has been measured, as :mod:`timeit` does.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Measurement", "floor_line", "measure", "measure_interleaved", "print_table"]

#: Most timed calls ``min_seconds`` may ask for.
_MAX_REPEATS = 10_000


@dataclass
class Measurement:
    """Durations (seconds), peak RSS (MiB) and the last return value of a measured call.

    ``warmup_seconds`` holds the durations of the warm-up calls, the first one included; they
    are not in ``seconds`` nor in the median. ``cpu_seconds`` holds the CPU time of each timed
    call, summed over the process's threads.
    """

    seconds: list[float]
    peak_mib: float
    value: Any
    warmup_seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu_seconds) if self.cpu_seconds else float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def _peak_kib() -> float:
    """Peak resident memory of this process in KiB.

    ``VmHWM`` from ``/proc/self/status`` where it exists: ``ru_maxrss`` of a spawned child can
    start from the parent's resident size and overstate the child's own peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _timed_calls(
    fn: Callable[..., Any], args: tuple, count: int
) -> tuple[list[float], list[float], Any]:
    """Wall-clock and CPU seconds (this process, all threads) of ``count`` calls."""
    times, cpu, value = [], [], None
    for _ in range(count):
        t0, c0 = time.perf_counter(), time.process_time()
        value = fn(*args)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return times, cpu, value


def _worker(
    fn: Callable[..., Any], args: tuple, repeats: int, warmup: int, min_seconds: float, conn: Any
) -> None:
    try:
        warm, _, _ = _timed_calls(fn, args, warmup)
        times, cpu, value = _timed_calls(fn, args, repeats)
        while sum(times) < min_seconds and len(times) < _MAX_REPEATS:
            more, more_cpu, value = _timed_calls(fn, args, repeats)
            times += more
            cpu += more_cpu
        conn.send(("ok", (times, cpu, warm), _peak_kib() / 1024.0, value))
    except BaseException as exc:  # reported to the parent, which prints it in the table
        conn.send(("error", repr(exc), 0.0, None))
    finally:
        conn.close()


def measure(
    fn: Callable[..., Any],
    *args: Any,
    repeats: int = 3,
    warmup: int = 0,
    min_seconds: float = 0.0,
    timeout: float = 3600,
) -> Measurement:
    """Run ``fn(*args)`` in a fresh process; return times, peak RSS and the last value.

    ``warmup`` calls run first (timed, but kept out of the median); then ``repeats`` calls,
    repeated in groups of ``repeats`` until at least ``min_seconds`` have been timed. ``fn`` must be
    importable (a module-level function) and its value picklable.
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(fn, args, repeats, warmup, min_seconds, child))
    proc.start()
    child.close()
    if not parent.poll(timeout):
        proc.kill()
        raise TimeoutError(f"{getattr(fn, '__name__', fn)} did not finish in {timeout} s")
    status, payload, peak, value = parent.recv()
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{getattr(fn, '__name__', fn)} failed: {payload}")
    timed, cpu, warm = payload
    return Measurement(
        seconds=list(timed),
        peak_mib=float(peak),
        value=value,
        warmup_seconds=list(warm),
        cpu_seconds=list(cpu),
    )


def measure_interleaved(
    calls: dict[str, tuple[Callable[..., Any], tuple]],
    *,
    rounds: int = 3,
    **timing: Any,
) -> dict[str, Measurement]:
    """:func:`measure` each of ``calls`` in turn, ``rounds`` times over, and pool the rounds.

    On a shared machine the speed of the cores drifts over seconds; taking turns exposes every
    call to the same stretches of it, so the ratio of their medians is measured side by side.
    Each round is a fresh process; ``timing`` goes to :func:`measure`. The pooled
    ``Measurement`` holds the timed calls of every round, the warm-up calls of every round,
    the largest peak and the last value.
    """
    pooled: dict[str, Measurement] = {}
    for _ in range(rounds):
        for label, (fn, args) in calls.items():
            m = measure(fn, *args, **timing)
            if label not in pooled:
                pooled[label] = m
                continue
            p = pooled[label]
            p.seconds += m.seconds
            p.cpu_seconds += m.cpu_seconds
            p.warmup_seconds += m.warmup_seconds
            p.peak_mib = max(p.peak_mib, m.peak_mib)
            p.value = m.value
    return pooled


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Print rows as one aligned plain-text table (also valid Markdown)."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            if v != v:
                return "—"
            if abs(v) >= 1e5 or (abs(v) < 1e-3 and v != 0):
                return f"{v:.3g}"
            return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.1f}"
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) + " |")
    sys.stdout.flush()


def floor_line(name: str, measured: str, target: str, ok: bool) -> str:
    """The closing line for one floor: ``floor <name>: <measured> (needs <target>) PASS|FAIL``."""
    line = f"floor {name}: {measured} (needs {target}) {'PASS' if ok else 'FAIL'}"
    print(line)
    return line
