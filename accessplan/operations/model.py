"""The multi-period allocation model of staff, beds and mobile units, built as arrays for HiGHS.

**Sets.** Facilities :math:`i, k` (``n``), resource types :math:`j` (``m``), periods
:math:`t = 0 .. h-1` of ``period_minutes`` each, transfer arcs :math:`e = (i \\to k)` with a
delay :math:`\\tau_e \\ge 1` periods (from the road network), demand scenarios :math:`s` with
probability :math:`p_s` (one scenario: the nominal model).

**Parameters.** Demand :math:`\\hat D^s_{ij}(t)` (units of resource required), fixed units
:math:`\\bar f_{ij}`, mobile pool :math:`S_j(t)`, unit costs :math:`C_{ij}` (mobile, per period)
and :math:`C^f_{ij}` (fixed, per period), transfer cost :math:`T_{ej}`, penalty :math:`P_{ij}` per
unit of unmet demand with cap :math:`\\bar u_{ij}`, ramp limit :math:`\\Delta_{ij}` (units joining
or leaving service at a facility per period), equity band :math:`\\gamma` over the critical
types, discount :math:`\\beta`, smoothing weight :math:`H`, initial mobile units
:math:`x_{ij}(-1)`, arrivals :math:`A_{ij}(t)` and units in transit :math:`W_j(t)` of transfers
that left before the horizon.

**Variables.** Mobile units :math:`x_{ij}(t)`, units joining :math:`a_{ij}(t)` and leaving
:math:`r_{ij}(t)` service, transfers :math:`z_{ej}(t)` (types with ``transfers``; first stage,
shared by the scenarios), fixed units used :math:`y^s_{ij}(t)`, unmet demand
:math:`u^s_{ij}(t)` and the band :math:`\\bar\\rho^s(t), \\underline\\rho^s(t)` (second stage).

.. math::

    \\min \\sum_t \\beta^t \\Big[\\sum_{ij} C_{ij} x_{ij}(t) + \\sum_{ej} T_{ej} z_{ej}(t)
      + \\sum_s p_s \\sum_{ij} (C^f_{ij} y^s_{ij}(t) + P_{ij} u^s_{ij}(t))\\Big]
      + H \\sum_t \\Big[\\sum_{ij} (a_{ij}(t) + r_{ij}(t)) + 2 \\sum_{ej} z_{ej}(t)\\Big]

    x_{ij}(t) + y^s_{ij}(t) + u^s_{ij}(t) \\ge \\hat D^s_{ij}(t)            \\quad\\text{(coverage)}

    x_{ij}(t) = x_{ij}(t-1) + a_{ij}(t) - r_{ij}(t)
      + \\sum_{e = k \\to i} z_{ej}(t - \\tau_e) - \\sum_{e = i \\to k} z_{ej}(t) + A_{ij}(t)
      \\quad\\text{(flow with delays)}

    \\sum_i x_{ij}(t) + \\sum_e \\sum_{t - \\tau_e < t' \\le t} z_{ej}(t') \\le S_j(t) - W_j(t)
      \\quad\\text{(pool; dual: value of one more unit at } t)

    \\rho^s_i(t) = \\frac{\\sum_{j \\in crit} u^s_{ij}(t)}{\\sum_{j \\in crit} \\hat D^s_{ij}(t)},
      \\quad \\underline\\rho^s(t) \\le \\rho^s_i(t) \\le \\bar\\rho^s(t), \\quad
      \\bar\\rho^s(t) - \\underline\\rho^s(t) \\le \\gamma \\quad\\text{(equity; dual: cost of
      fairness)}

    0 \\le y \\le \\bar f, \\quad 0 \\le u \\le \\bar u, \\quad 0 \\le a, r \\le \\Delta, \\quad
      x, z \\ge 0, \\quad x, y, a, r, z \\in \\mathbb Z \\text{ for indivisible types.}

As in the source formulation, :math:`u` is the slack of the coverage row: with the equity
band an optimum may count as unmet demand that idle fixed units could meet, raising a
facility's unmet share towards the band's floor (levelling down) where serving the worst-off
facility costs more. The committed units :math:`x` are what the loop acts on; the unmet
demand and equity spread it reports are recomputed from the observed demand.

Where a type has no transfers the flow row with :math:`a, r \\le \\Delta` is the ramp limit
:math:`|x(t) - x(t-1)| \\le \\Delta`; the smoothing term is :math:`H \\sum |x(t) - x(t-1)|`
(a transfer changes two facilities). The band variables make the pairwise rows
:math:`\\rho_i - \\rho_k \\le \\gamma` linear in size. Formulation after J. R. Machireddy,
"Optimizing Healthcare Resource Allocation for Operational Efficiency and Cost Reduction Using
Real-Time Analytics" (section 3), with the two-stage sample-average form of its section 5.

Every block of columns and rows is laid out period-major and built with numpy index arithmetic
(no loop over variables), then passed to ``highspy.Highs.passModel`` in one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from accessplan.errors import InputError

__all__ = ["Arcs", "Layout", "OperationsProblem", "ResourceType", "build_arrays"]


@dataclass(frozen=True)
class ResourceType:
    """One resource type: staff category, beds, equipment or mobile units.

    Parameters
    ----------
    name
        Label, e.g. ``"nurses"``.
    unit_cost
        Cost of one mobile unit in service for one period (currency units).
    fixed_cost
        Cost of one fixed unit used for one period.
    penalty
        Cost of one unit of unmet demand for one period (> unit costs to be worth meeting).
    integer
        Indivisible units (staff, vehicles): integer decision variables.
    transfers
        Mobile units travel between facilities over the road network (transfer variables with
        delays); otherwise the type is re-allocated within the ramp limit. For a type with
        transfers the ramp bounds the units joining or leaving service at a facility from
        outside the network (ramp 0: units move only by transfer and are conserved).
    critical
        Counts in the equity band.
    transfer_cost_per_minute
        Cost of moving one unit one minute of driving (currency units per minute).
    """

    name: str
    unit_cost: float = 1.0
    fixed_cost: float = 0.0
    penalty: float = 100.0
    integer: bool = False
    transfers: bool = False
    critical: bool = False
    transfer_cost_per_minute: float = 0.0

    def __post_init__(self) -> None:
        for what in ("unit_cost", "fixed_cost", "penalty", "transfer_cost_per_minute"):
            value = float(getattr(self, what))
            if not (np.isfinite(value) and value >= 0):
                raise InputError(
                    f"resource type {self.name!r}: {what} is {value}; give a cost >= 0 "
                    "(currency units)."
                )


@dataclass(frozen=True)
class Arcs:
    """Facility-to-facility transfer arcs (positions into the facility list).

    Attributes
    ----------
    src, dst
        Facility positions (int arrays, ``src != dst``).
    minutes
        Driving time (minutes).
    periods
        Delay in periods, ``ceil(minutes / period_minutes)`` and at least 1.
    """

    src: np.ndarray
    dst: np.ndarray
    minutes: np.ndarray
    periods: np.ndarray

    @staticmethod
    def empty() -> Arcs:
        z = np.zeros(0, dtype=np.int64)
        return Arcs(z, z.copy(), np.zeros(0), z.copy())

    @staticmethod
    def from_minutes(src: Any, dst: Any, minutes: Any, period_minutes: float) -> Arcs:
        """Arcs with delays ``ceil(minutes / period_minutes)`` (at least one period)."""
        minutes = np.asarray(minutes, dtype=np.float64)
        periods = np.maximum(np.ceil(minutes / float(period_minutes) - 1e-9), 1).astype(np.int64)
        return Arcs(
            np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64), minutes, periods
        )

    def __len__(self) -> int:
        return int(self.src.size)


@dataclass
class OperationsProblem:
    """One horizon of the allocation model; arrays are (period, facility, type) unless noted.

    Parameters
    ----------
    facilities
        Facility ids (``n``).
    types
        Resource types (``m``).
    demand
        :math:`\\hat D`: units required, shape ``(h, n, m)``, or ``(s, h, n, m)`` for demand
        scenarios.
    fixed
        :math:`\\bar f`: fixed units, ``(n, m)`` or ``(h, n, m)``.
    pool
        :math:`S_j(t)`: mobile units available, ``(h, m)`` or ``(m,)``.
    initial
        :math:`x(-1)`: mobile units in service at each facility before the horizon, ``(n, m)``.
    arcs
        Transfer arcs (used by the types with ``transfers``).
    ramp
        :math:`\\Delta`: units joining or leaving service per period, ``(n, m)`` or ``(m,)``;
        ``inf`` = no limit.
    unmet_cap
        :math:`\\bar u`, ``(n, m)`` or ``(m,)``; ``inf`` = no cap.
    gamma
        Equity band on the unmet share of critical demand (0–1), None = no band.
    beta
        Discount per period (0 < beta <= 1).
    smoothing
        :math:`H`: cost per unit of change of a facility's mobile units (currency units).
    period_minutes
        :math:`\\Delta t` (minutes).
    arrivals
        :math:`A(t)`: units of earlier transfers arriving, ``(h, n, m)``; default none.
    in_transit
        :math:`W_j(t)`: units of earlier transfers still travelling, ``(h, m)``; default none.
    probabilities
        :math:`p_s`, default equal.
    unit_cost, fixed_cost, penalty
        Per facility and type ``(n, m)``; default from ``types``.
    """

    facilities: pd.Index
    types: tuple[ResourceType, ...]
    demand: np.ndarray
    fixed: np.ndarray
    pool: np.ndarray
    initial: np.ndarray
    arcs: Arcs = field(default_factory=Arcs.empty)
    ramp: Any = np.inf
    unmet_cap: Any = np.inf
    gamma: float | None = None
    beta: float = 1.0
    smoothing: float = 0.0
    period_minutes: float = 60.0
    arrivals: Any = None  # an array after __post_init__
    in_transit: Any = None  # an array after __post_init__
    probabilities: Any = None  # an array after __post_init__
    unit_cost: Any = None  # an array after __post_init__
    fixed_cost: Any = None  # an array after __post_init__
    penalty: Any = None  # an array after __post_init__

    def __post_init__(self) -> None:
        self.facilities = pd.Index(self.facilities)
        self.types = tuple(self.types)
        n, m = len(self.facilities), len(self.types)
        demand = np.asarray(self.demand, dtype=np.float64)
        if demand.ndim == 3:
            demand = demand[None]
        if demand.ndim != 4 or demand.shape[2:] != (n, m):
            raise InputError(
                f"demand has shape {np.shape(self.demand)}; give (periods, {n} facilities, "
                f"{m} types) or (scenarios, periods, {n}, {m})."
            )
        _check_finite(demand, "demand", nonnegative=True)
        self.demand = demand
        h = demand.shape[1]
        self.fixed = _shaped(self.fixed, (h, n, m), "fixed")
        pool = np.asarray(self.pool, dtype=np.float64)
        self.pool = np.broadcast_to(pool, (h, m)).copy() if pool.ndim <= 2 else pool
        _check_finite(self.pool, "pool", nonnegative=True)
        self.initial = _shaped(self.initial, (n, m), "initial")
        self.ramp = _shaped(self.ramp, (n, m), "ramp", finite=False)
        self.unmet_cap = _shaped(self.unmet_cap, (n, m), "unmet_cap", finite=False)
        self.arrivals = _shaped(
            0.0 if self.arrivals is None else self.arrivals, (h, n, m), "arrivals"
        )
        self.in_transit = _shaped(
            0.0 if self.in_transit is None else self.in_transit, (h, m), "in_transit"
        )
        s = demand.shape[0]
        p = np.full(s, 1.0 / s) if self.probabilities is None else self.probabilities
        self.probabilities = np.asarray(p, dtype=np.float64)
        if self.probabilities.shape != (s,) or abs(self.probabilities.sum() - 1) > 1e-9:
            raise InputError(f"probabilities: give {s} values >= 0 that sum to 1.")
        per_type = {
            "unit_cost": [t.unit_cost for t in self.types],
            "fixed_cost": [t.fixed_cost for t in self.types],
            "penalty": [t.penalty for t in self.types],
        }
        for name, default in per_type.items():
            value = getattr(self, name)
            setattr(self, name, _shaped(default if value is None else value, (n, m), name))
        if self.gamma is not None and not 0 <= float(self.gamma) <= 1:
            raise InputError(f"gamma is {self.gamma}; give an equity band 0–1 or None.")
        if not 0 < float(self.beta) <= 1:
            raise InputError(f"beta is {self.beta}; give a discount per period in (0, 1].")
        if not (np.isfinite(self.smoothing) and self.smoothing >= 0):
            raise InputError(f"smoothing is {self.smoothing}; give a cost >= 0 per unit moved.")
        a = self.arcs
        if len(a) and (
            a.src.min() < 0 or max(a.src.max(), a.dst.max()) >= n or np.any(a.src == a.dst)
        ):
            raise InputError("arcs: facility positions must be 0..n-1 and src != dst.")
        if len(a) and a.periods.min() < 1:
            raise InputError("arcs: every transfer takes at least one period.")

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(scenarios, periods, facilities, types)."""
        s, h, n, m = self.demand.shape
        return int(s), int(h), int(n), int(m)

    @property
    def transfer_types(self) -> np.ndarray:
        """Positions of the types whose units travel on arcs."""
        return np.flatnonzero([t.transfers for t in self.types]).astype(np.int64)

    @property
    def critical_types(self) -> np.ndarray:
        return np.flatnonzero([t.critical for t in self.types]).astype(np.int64)

    @property
    def integer_types(self) -> np.ndarray:
        return np.array([t.integer for t in self.types], dtype=bool)

    @property
    def has_equity(self) -> bool:
        return self.gamma is not None and self.critical_types.size > 0


def _shaped(value: Any, shape: tuple[int, ...], name: str, *, finite: bool = True) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    try:
        out = np.broadcast_to(arr, shape).copy()
    except ValueError as exc:
        raise InputError(
            f"{name} has shape {arr.shape}; give a number or an array broadcastable to {shape}."
        ) from exc
    _check_finite(out, name, nonnegative=True, finite=finite)
    return out


def _check_finite(arr: np.ndarray, name: str, *, nonnegative: bool, finite: bool = True) -> None:
    bad = np.isnan(arr) | (~np.isfinite(arr) if finite else False)
    if nonnegative:
        bad |= arr < 0
    if bad.any():
        where = tuple(int(v) for v in np.argwhere(bad)[0])
        raise InputError(f"{name}[{where}] is {arr[where]}; give finite values >= 0 (units).")


@dataclass(frozen=True)
class Layout:
    """Where each variable and row block sits (period-major)."""

    s: int
    h: int
    n: int
    m: int
    e: int
    q: int
    equity: bool
    cols_per_period: int
    rows: dict[str, tuple[int, int]]  # block → (start, rows per period)

    @property
    def cells(self) -> int:
        return self.n * self.m

    def col(self, block: str, t: Any, k: Any, s: Any = 0) -> Any:
        """Column of ``block`` at period ``t``, in-block position ``k`` (scenario ``s``)."""
        N = self.cells
        base = np.asarray(t) * self.cols_per_period
        if block == "x":
            return base + k
        if block == "a":
            return base + N + k
        if block == "r":
            return base + 2 * N + k
        if block == "z":
            return base + 3 * N + k
        second = base + 3 * N + self.e * self.q + np.asarray(s) * self.per_scenario
        if block == "y":
            return second + k
        if block == "u":
            return second + N + k
        if block == "rho_max":
            return second + 2 * N
        if block == "rho_min":
            return second + 2 * N + 1
        raise KeyError(block)

    @property
    def per_scenario(self) -> int:
        return 2 * self.cells + (2 if self.equity else 0)

    def row(self, block: str, t: Any, k: Any) -> Any:
        start, size = self.rows[block]
        return start + np.asarray(t) * size + k

    @property
    def num_col(self) -> int:
        return self.h * self.cols_per_period

    @property
    def num_row(self) -> int:
        start, size = self.rows["spread" if self.equity else "pool"]
        return start + self.h * size


@dataclass
class Arrays:
    """The model as arrays: ``row_lower <= A x <= row_upper``, ``col_lower <= x <= col_upper``."""

    layout: Layout
    c: np.ndarray
    A: sp.csc_array
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray


def build_arrays(problem: OperationsProblem) -> Arrays:
    """Columns, rows and objective of ``problem`` (see the module docstring), as arrays."""
    s, h, n, m = problem.shape
    N = n * m
    qtypes = problem.transfer_types
    arcs = problem.arcs if qtypes.size else Arcs.empty()
    e, q = len(arcs), int(qtypes.size)
    equity = problem.has_equity
    per_scenario = 2 * N + (2 if equity else 0)
    V = 3 * N + e * q + s * per_scenario
    rows: dict[str, tuple[int, int]] = {}
    start = 0
    for name, size in (
        ("coverage", s * N),
        ("flow", N),
        ("pool", m),
        ("equity_max", s * n if equity else 0),
        ("equity_min", s * n if equity else 0),
        ("spread", s if equity else 0),
    ):
        rows[name] = (start, size)
        start += h * size
    L = Layout(s, h, n, m, e, q, equity, V, rows)
    T = np.arange(h)
    cells = np.arange(N)
    disc = float(problem.beta) ** T  # (h,)
    integer_type = problem.integer_types
    int_cell = np.tile(integer_type, n)  # (N,)

    c = np.zeros(L.num_col)
    lo = np.zeros(L.num_col)
    up = np.full(L.num_col, np.inf)
    integ = np.zeros(L.num_col, dtype=bool)
    H = float(problem.smoothing)
    tc = (T[:, None], cells[None, :])
    # first stage: x, a, r
    cx = L.col("x", *tc)
    c[cx] = disc[:, None] * problem.unit_cost.ravel()[None, :]
    integ[cx] = int_cell[None, :]
    for block in ("a", "r"):
        col = L.col(block, *tc)
        c[col] = H
        up[col] = problem.ramp.ravel()[None, :]
        integ[col] = int_cell[None, :]
    if e * q:
        ez = np.arange(e * q)
        col = L.col("z", T[:, None], ez[None, :])
        types_z = qtypes[ez % q]
        arc_z = ez // q
        per_min = np.array([problem.types[j].transfer_cost_per_minute for j in qtypes])
        tcost = arcs.minutes[arc_z] * per_min[ez % q]
        c[col] = disc[:, None] * tcost[None, :] + 2 * H
        integ[col] = integer_type[types_z][None, :]
    # second stage: y, u (and the band) per scenario
    for sc in range(s):
        p = float(problem.probabilities[sc])
        col = L.col("y", T[:, None], cells[None, :], sc)
        c[col] = p * disc[:, None] * problem.fixed_cost.ravel()[None, :]
        up[col] = problem.fixed.reshape(h, N)
        integ[col] = int_cell[None, :]
        col = L.col("u", T[:, None], cells[None, :], sc)
        c[col] = p * disc[:, None] * problem.penalty.ravel()[None, :]
        up[col] = problem.unmet_cap.ravel()[None, :]
    parts_r: list[np.ndarray] = []
    parts_c: list[np.ndarray] = []
    parts_v: list[np.ndarray] = []

    def add(r: Any, col: Any, v: Any) -> None:
        r, col = np.broadcast_arrays(np.asarray(r), np.asarray(col))
        parts_r.append(r.ravel())
        parts_c.append(col.ravel())
        parts_v.append(np.broadcast_to(np.asarray(v, dtype=np.float64), r.shape).ravel())

    r_lo = np.full(L.num_row, -np.inf)
    r_up = np.full(L.num_row, np.inf)
    # coverage: x + y_s + u_s >= D_s
    for sc in range(s):
        rk = sc * N + cells
        rr = L.row("coverage", T[:, None], rk[None, :])
        add(rr, L.col("x", *tc), 1.0)
        add(rr, L.col("y", *tc, sc), 1.0)
        add(rr, L.col("u", *tc, sc), 1.0)
        r_lo[rr] = problem.demand[sc].reshape(h, N)
    # flow: x(t) - x(t-1) - a + r + out - in = A(t) (+ x(-1) at t = 0)
    rr = L.row("flow", *tc)
    add(rr, L.col("x", *tc), 1.0)
    add(rr[1:], L.col("x", T[:-1, None], cells[None, :]), -1.0)
    add(rr, L.col("a", *tc), -1.0)
    add(rr, L.col("r", *tc), 1.0)
    rhs = problem.arrivals.reshape(h, N).copy()
    rhs[0] += problem.initial.ravel()
    r_lo[rr] = rhs
    r_up[rr] = rhs
    # pool: sum_i x + units in transit <= S - W
    rp = L.row("pool", T[:, None], np.arange(m)[None, :])
    add(
        L.row("pool", T[:, None], np.tile(np.arange(m), n)[None, :]),
        L.col("x", *tc),
        1.0,
    )
    r_up[rp] = problem.pool - problem.in_transit
    if e * q:
        ez = np.arange(e * q)
        arc_z, types_z = ez // q, qtypes[ez % q]
        zc = L.col("z", T[:, None], ez[None, :])
        out_cell = arcs.src[arc_z] * m + types_z
        in_cell = arcs.dst[arc_z] * m + types_z
        tau = arcs.periods[arc_z]
        add(L.row("flow", T[:, None], out_cell[None, :]), zc, 1.0)
        arrive = T[:, None] + tau[None, :]
        ok = arrive < h
        add(L.row("flow", arrive[ok], np.broadcast_to(in_cell, ok.shape)[ok]), zc[ok], -1.0)
        for d in range(int(tau.max())):
            when = np.broadcast_to(T[:, None] + d, zc.shape)
            ok = (d < tau)[None, :] & (when < h)
            add(L.row("pool", when[ok], np.broadcast_to(types_z, ok.shape)[ok]), zc[ok], 1.0)
    if equity:
        crit = problem.critical_types
        for sc in range(s):
            dem = problem.demand[sc][:, :, crit].sum(axis=2)  # (h, n)
            inv = np.where(dem > 0, 1.0 / np.where(dem > 0, dem, 1.0), 0.0)
            fi = np.arange(n)
            for block, band, sign in (("equity_max", "rho_max", 1), ("equity_min", "rho_min", -1)):
                rr = L.row(block, T[:, None], sc * n + fi[None, :])
                ucols = L.col("u", T[:, None, None], (fi[:, None] * m + crit[None, :])[None], sc)
                add(
                    np.broadcast_to(rr[:, :, None], ucols.shape),
                    ucols,
                    np.broadcast_to(inv[:, :, None], ucols.shape),
                )
                add(rr, np.broadcast_to(L.col(band, T, 0, sc)[:, None], rr.shape), -1.0)
                live = dem > 0  # a facility without critical demand is outside the band
                if sign > 0:
                    r_up[rr[live]] = 0.0
                else:
                    r_lo[rr[live]] = 0.0
            rr = L.row("spread", T, sc)
            add(rr, L.col("rho_max", T, 0, sc), 1.0)
            add(rr, L.col("rho_min", T, 0, sc), -1.0)
            r_up[rr] = float(problem.gamma)  # type: ignore[arg-type]
            lo[L.col("rho_min", T, 0, sc)] = -np.inf
    A = sp.csc_array(
        (np.concatenate(parts_v), (np.concatenate(parts_r), np.concatenate(parts_c))),
        shape=(L.num_row, L.num_col),
    )
    A.sum_duplicates()
    A.sort_indices()
    return Arrays(L, c, A, r_lo, r_up, lo, up, integ)
