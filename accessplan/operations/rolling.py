"""The rolling-horizon loop: read the state and the latest forecasts, solve, commit, re-plan.

Each epoch is one period ``t``. When a re-plan is due (on schedule every ``replan_every``
periods, at an event, or when the last plan runs out) the loop asks the forecaster for the
next ``horizon`` periods, solves the model from the current state (mobile units in place,
transfers under way), warm-started from the previous solution shifted by the periods
elapsed, and commits the plan's first period; otherwise it commits the next period of the
plan it holds. After the period the observed demand is compared with the forecast the plan
used: a relative deviation above ``threshold`` triggers a re-plan at the next epoch, and the
trigger re-arms only once the deviation has fallen below ``threshold * (1 - hysteresis)``.
A solve that finds no plan within ``time_limit`` falls back to the proportional rule
(:func:`proportional_allocation`), logged. Every decision is stored with its rationale: the
trigger, the solver status, the binding constraints and the shadow prices of the period.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from accessplan.errors import AccessplanError, InputError, SolverError
from accessplan.operations.model import Arcs, OperationsProblem, ResourceType
from accessplan.operations.solve import OperationsPlan, WarmStart, solve_operations

__all__ = [
    "POLICY_NAMES",
    "Forecast",
    "Network",
    "RollingConfig",
    "RollingResult",
    "State",
    "departures_of",
    "facility_deviation",
    "proportional_allocation",
    "rolling_horizon",
    "shift_warm_start",
]


#: The policies :func:`rolling_horizon` runs.
POLICY_NAMES = ("rolling", "static", "proportional", "hold")


@dataclass(frozen=True)
class Forecast:
    """Forecast demand for a window: ``point`` and optional ``upper`` bound, ``(h, n, m)``
    (units of resource required), or ``scenarios`` ``(s, h, n, m)`` for the two-stage model."""

    point: np.ndarray
    upper: np.ndarray | None = None
    scenarios: np.ndarray | None = None


#: One transfer started: source and destination positions, type position, delay (periods),
#: units, driving minutes.
Departure = tuple[int, int, int, int, float, float]

#: forecaster(start period, number of periods) -> Forecast
Forecaster = Callable[[int, int], Forecast]


@dataclass
class Network:
    """What stays the same from epoch to epoch: facilities, types, units, costs and arcs.

    ``pool`` is ``(m,)`` or one row per period of the whole run ``(P, m)`` (the last row
    repeats past its end); ``fixed`` is ``(n, m)``; the rest as in
    :class:`~accessplan.operations.model.OperationsProblem`.
    """

    facilities: pd.Index
    types: tuple[ResourceType, ...]
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

    @property
    def n(self) -> int:
        return len(self.facilities)

    @property
    def m(self) -> int:
        return len(self.types)

    def pool_at(self, start: int, h: int) -> np.ndarray:
        """Pool ``(h, m)`` for periods ``start .. start + h - 1``."""
        pool = np.asarray(self.pool, dtype=np.float64)
        if pool.ndim == 1:
            return np.broadcast_to(pool, (h, self.m)).copy()
        idx = np.minimum(np.arange(start, start + h), pool.shape[0] - 1)
        return pool[idx]

    def problem(
        self, demand: np.ndarray, start: int, state: State, **overrides: Any
    ) -> OperationsProblem:
        """The horizon from period ``start`` with ``demand`` ``(h, n, m)`` or ``(s, h, n, m)``."""
        h = demand.shape[-3]
        return OperationsProblem(
            facilities=self.facilities,
            types=self.types,
            demand=demand,
            fixed=self.fixed,
            pool=self.pool_at(start, h),
            initial=state.mobile,
            arcs=self.arcs,
            ramp=self.ramp,
            unmet_cap=self.unmet_cap,
            gamma=self.gamma,
            beta=self.beta,
            smoothing=self.smoothing,
            period_minutes=self.period_minutes,
            arrivals=state.arrivals_window(h),
            in_transit=state.transit_window(h),
            **overrides,
        )


@dataclass
class State:
    """Mobile units in service and the transfers under way, at the start of a period."""

    mobile: np.ndarray  # (n, m)
    arrivals: dict[int, np.ndarray] = field(default_factory=dict)  # offset -> (n, m)
    transit: dict[int, np.ndarray] = field(default_factory=dict)  # offset -> (m,)

    def arrivals_window(self, h: int) -> np.ndarray:
        out = np.zeros((h, *self.mobile.shape))
        for k, v in self.arrivals.items():
            if k < h:
                out[k] += v
        return out

    def transit_window(self, h: int) -> np.ndarray:
        out = np.zeros((h, self.mobile.shape[1]))
        for k, v in self.transit.items():
            if k < h:
                out[k] += v
        return out

    def advance(self, mobile: np.ndarray, departures: list[Departure]) -> State:
        """The state one period later, after ``mobile`` and ``departures``."""
        arrivals = {k - 1: v for k, v in self.arrivals.items() if k >= 1}
        transit = {k - 1: v for k, v in self.transit.items() if k >= 1}
        n, m = self.mobile.shape
        for _src, dst, j, tau, units, _minutes in departures:
            arr = arrivals.setdefault(tau - 1, np.zeros((n, m)))
            arr[dst, j] += units
            for d in range(tau - 1):
                tr = transit.setdefault(d, np.zeros(m))
                tr[j] += units
        return State(mobile.copy(), arrivals, transit)


@dataclass(frozen=True)
class RollingConfig:
    """Settings of the loop (periods unless noted).

    Parameters
    ----------
    horizon
        Periods solved at each re-plan.
    replan_every
        Scheduled re-plan interval (periods); ``None`` = only at events and plan end.
    threshold
        Relative deviation of one facility's demand from its forecast in one period, beyond the
        forecast's prediction interval (:func:`facility_deviation`), that triggers a re-plan
        (``None`` = no event trigger).
    hysteresis
        The trigger re-arms once the deviation falls below ``threshold * (1 - hysteresis)``.
    time_limit
        Seconds per solve; without a plan by then, the proportional rule.
    gap
        Relative MIP gap accepted.
    warm_start
        Start each solve from the previous solution (basis for LPs) shifted.
    buffer
        Robust buffer: plan for ``point + buffer * (upper - point)`` (0 = nominal, 1 = the
        upper forecast bound).
    scenarios
        Use the forecast's demand scenarios in the two-stage model.
    shrink
        Do not plan past the end of the run (the horizon shrinks towards it).
    quantiles
        Plan with this many comonotone quantile scenarios of the forecast distribution (the
        two-stage model, see :func:`~accessplan.operations.robust.quantile_scenarios`);
        0 = the point forecast (with ``buffer``).
    whole_units
        Plan for the forecast of an indivisible type rounded to whole units.
    max_gap
        A plan the solver stopped on (time limit) with a larger relative gap is not
        committed: the proportional rule is, logged.
    """

    horizon: int = 24
    replan_every: int | None = 4
    threshold: float | None = 0.25
    hysteresis: float = 0.5
    time_limit: float | None = 10.0
    gap: float | None = 1e-4
    warm_start: bool = True
    buffer: float = 0.0
    scenarios: bool = False
    shrink: bool = True
    quantiles: int = 0
    whole_units: bool = True
    max_gap: float = 0.05

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise InputError(f"horizon is {self.horizon}; give at least 1 period.")
        if self.replan_every is not None and self.replan_every < 1:
            raise InputError(f"replan_every is {self.replan_every}; give >= 1 period or None.")
        if self.threshold is not None and not self.threshold > 0:
            raise InputError(f"threshold is {self.threshold}; give a relative deviation > 0.")
        if not 0 <= self.hysteresis < 1:
            raise InputError(f"hysteresis is {self.hysteresis}; give a share in [0, 1).")


@dataclass
class RollingResult:
    """What the loop committed and observed, period by period.

    Attributes
    ----------
    mobile, fixed_used, unmet, demand, forecast
        ``(P, n, m)`` units committed / used / unmet / observed / forecast.
    transfers
        Transfers started (period, type, from, to, units, minutes, arrives).
    decisions
        One row per epoch: period, trigger (``schedule``, ``event``, ``plan_end``, ``start``
        or ``follow``), status, solve seconds, fallback reason, objective, binding constraints,
        pool and equity duals of the committed period, deviation observed (``deviation``, the
        largest over the facilities, :func:`facility_deviation`; ``deviation_facility``, where).
    cost
        Per period: ``mobile``, ``fixed``, ``unmet``, ``transfer``, ``smoothing``, ``total``
        (currency units, discounted like the model).
    """

    network: Network
    mobile: np.ndarray
    fixed_used: np.ndarray
    unmet: np.ndarray
    demand: np.ndarray
    forecast: np.ndarray
    changes: np.ndarray
    transfers: pd.DataFrame
    decisions: pd.DataFrame
    cost: pd.DataFrame

    @property
    def total_cost(self) -> float:
        return float(self.cost["total"].sum())


def shift_warm_start(
    warm: WarmStart, plan: OperationsPlan, new: OperationsProblem, k: int
) -> WarmStart | None:
    """``warm`` (from ``plan``) moved ``k`` periods earlier onto ``new``'s layout; the periods
    past the old horizon repeat its last period. None when the layouts differ in shape."""
    from accessplan.operations.model import build_arrays

    old = plan.arrays.layout
    arrays = build_arrays(new)
    L = arrays.layout
    if (old.cols_per_period, old.s, old.n, old.m) != (L.cols_per_period, L.s, L.n, L.m):
        return None
    src = np.minimum(np.arange(L.h) + k, old.h - 1)
    cols = warm.col_value.reshape(old.h, old.cols_per_period)[src].ravel()
    if warm.col_status is None or warm.row_status is None:
        return WarmStart(cols)
    cst = warm.col_status.reshape(old.h, old.cols_per_period)[src].ravel()
    rst = np.empty(L.num_row, dtype=np.int8)
    for name, (start, size) in L.rows.items():
        if size == 0:
            continue
        o_start = old.rows[name][0]
        block = warm.row_status[o_start : o_start + old.h * size].reshape(old.h, size)
        rst[start : start + L.h * size] = block[src].ravel()
    return WarmStart(cols, cst, rst)


def proportional_allocation(
    network: Network, forecast: np.ndarray, state: State, period: int
) -> np.ndarray:
    """The rule-based fallback for one period: mobile units ``(n, m)``.

    Types without transfers share the pool in proportion to each facility's need beyond its
    fixed units (never more than that need), within the ramp limit from the current units
    (the pool wins over the ramp when it shrinks); indivisible units are rounded down. Types
    with transfers stay where they are (the rule starts no transfer).
    """
    n, m = network.n, network.m
    need = np.maximum(forecast - network.fixed, 0.0)
    pool = network.pool_at(period, 1)[0]
    ramp = np.broadcast_to(np.asarray(network.ramp, dtype=np.float64), (n, m))
    prev = state.mobile + state.arrivals_window(1)[0]
    out = prev.copy()
    for j, kind in enumerate(network.types):
        if kind.transfers:
            continue
        total = need[:, j].sum()
        free = max(pool[j] - state.transit_window(1)[0, j], 0.0)
        target = need[:, j] * min(1.0, free / total) if total > 0 else np.zeros(n)
        low = np.maximum(prev[:, j] - ramp[:, j], 0.0)
        x = np.clip(target, low, prev[:, j] + ramp[:, j])
        if low.sum() > free:
            x = low * (free / low.sum()) if low.sum() > 0 else low
        elif x.sum() > free:
            extra = x - low
            x = low + extra * ((free - low.sum()) / extra.sum())
        out[:, j] = np.floor(x + 1e-9) if kind.integer else x
    return out


def rolling_horizon(
    network: Network,
    forecaster: Forecaster,
    observe: Callable[[int], np.ndarray],
    periods: int,
    config: RollingConfig | None = None,
    *,
    policy: str = "rolling",
) -> RollingResult:
    """Run the loop for ``periods`` periods.

    Parameters
    ----------
    network
        Facilities, types, fixed units, pools, costs and arcs.
    forecaster
        ``forecaster(start, h)`` → :class:`Forecast` of periods ``start .. start + h - 1``
        (the latest forecast available at ``start``).
    observe
        ``observe(t)`` → demand ``(n, m)`` observed in period ``t`` (units required).
    periods
        Periods to run.
    config
        Loop settings (:class:`RollingConfig`).
    policy
        ``"rolling"`` (the loop), ``"static"`` (one plan of the whole run from the first
        forecast, never re-planned), ``"proportional"`` (the rule every period) or ``"hold"``
        (the initial units kept where they are all run: a fixed roster).

    Returns
    -------
    RollingResult
    """
    config = config or RollingConfig()
    if policy not in POLICY_NAMES:
        raise InputError(f"policy is {policy!r}; use one of {list(POLICY_NAMES)}.")
    n, m = network.n, network.m
    state = State(np.asarray(network.initial, dtype=np.float64).copy())
    plan: OperationsPlan | None = None
    plan_start = 0
    plan_forecast: np.ndarray | None = None
    plan_upper: np.ndarray | None = None
    warm: WarmStart | None = None
    armed, event = True, False
    shape = (periods, n, m)
    mobile, fixed_used, unmet = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    demand, forecast_used, changes = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    upper_used = np.full(shape, np.nan)  # upper bound of the forecast's interval, if any
    log: list[dict[str, Any]] = []
    moves: list[pd.DataFrame] = []
    cost_rows: list[dict[str, float]] = []
    for t in range(periods):
        record: dict[str, Any] = {"period": t}
        trigger = _trigger(config, policy, t, plan, plan_start, event)
        departures: list[Departure] = []
        if policy in ("proportional", "hold"):
            fc = forecaster(t, 1).point[0]
            if policy == "hold":
                x = state.mobile + state.arrivals_window(1)[0]
            else:
                x = proportional_allocation(network, fc, state, t)
            record.update(trigger="rule", status="rule", seconds=0.0, fallback="")
            forecast_used[t] = fc
        else:
            if trigger != "follow":
                h = periods - t if policy == "static" else config.horizon
                if config.shrink:
                    h = min(h, periods - t)
                fc = forecaster(t, h)
                integer = np.array([k.integer for k in network.types], dtype=bool)
                planned = _planned_demand(fc, config, integer)
                t0 = time.perf_counter()
                try:
                    problem = network.problem(planned, t, state)
                    start = None
                    if config.warm_start and warm is not None and plan is not None:
                        start = shift_warm_start(warm, plan, problem, t - plan_start)
                    plan = solve_operations(
                        problem, time_limit=config.time_limit, gap=config.gap, warm=start
                    )
                    if plan.status != "optimal" and not plan.gap <= config.max_gap:
                        raise SolverError(
                            f"the solve stopped at {plan.status} with gap {plan.gap:.1%} above "
                            f"max_gap {config.max_gap:.1%}; raise time_limit or max_gap."
                        )
                    warm, plan_start = plan.warm, t
                    plan_forecast = fc.point
                    plan_upper = fc.upper
                    record.update(status=plan.status, objective=plan.objective, fallback="")
                except AccessplanError as exc:  # no plan within the budget: the rule
                    plan, warm = None, None
                    record.update(status="fallback", fallback=str(exc))
                record.update(trigger=trigger, seconds=time.perf_counter() - t0)
                event = False
            else:
                record.update(trigger="follow", status="follow", seconds=0.0, fallback="")
            if plan is None:
                fc_now = forecaster(t, 1).point[0]
                x = proportional_allocation(network, fc_now, state, t)
                forecast_used[t] = fc_now
            else:
                k = t - plan_start
                x = plan.mobile[k]
                forecast_used[t] = plan_forecast[k]  # type: ignore[index]
                if plan_upper is not None:
                    upper_used[t] = plan_upper[k]
                departures = departures_of(plan, k)
                record.update(_rationale(plan, k))
                if len(plan.transfers):
                    started = plan.transfers[plan.transfers["period"] == k].copy()
                    started["arrives"] += t - k
                    started["period"] = t
                    moves.append(started)
        actual = np.asarray(observe(t), dtype=np.float64)
        y = np.minimum(network.fixed, np.maximum(actual - x, 0.0))
        u = np.maximum(actual - x - network.fixed, 0.0)
        prev = state.mobile + state.arrivals_window(1)[0]
        delta = x - prev
        out_units = np.zeros((n, m))
        tcost = 0.0
        for src, _dst, j, _tau, units, minutes in departures:
            out_units[src, j] += units
            tcost += units * network.types[j].transfer_cost_per_minute * minutes
        change = np.abs(delta + out_units)  # joined or left service, not by transfer
        nz = sum(d[4] for d in departures)
        disc = float(network.beta) ** t
        unit = np.array([[k.unit_cost for k in network.types]])
        fixc = np.array([[k.fixed_cost for k in network.types]])
        pen = np.array([[k.penalty for k in network.types]])
        row = {
            "mobile": disc * float((unit * x).sum()),
            "fixed": disc * float((fixc * y).sum()),
            "unmet": disc * float((pen * u).sum()),
            "transfer": disc * tcost,
            "smoothing": float(network.smoothing) * (float(change.sum()) + 2 * nz),
        }
        row["total"] = sum(row.values())
        cost_rows.append(row)
        mobile[t], fixed_used[t], unmet[t], demand[t], changes[t] = x, y, u, actual, change
        deviation, where = facility_deviation(actual, forecast_used[t], upper_used[t])
        record["deviation"] = deviation
        record["deviation_facility"] = network.facilities[where] if where >= 0 else None
        if config.threshold is not None and policy == "rolling":
            if armed and deviation > config.threshold:
                event, armed = True, False
            elif not armed and deviation < config.threshold * (1 - config.hysteresis):
                armed = True
        record["event_next"] = event
        log.append(record)
        state = state.advance(x, departures)
    transfers = (
        pd.concat(moves, ignore_index=True)
        if moves
        else pd.DataFrame(columns=["period", "type", "from", "to", "units", "minutes", "arrives"])
    )
    return RollingResult(
        network,
        mobile,
        fixed_used,
        unmet,
        demand,
        forecast_used,
        changes,
        transfers,
        pd.DataFrame(log),
        pd.DataFrame(cost_rows, index=pd.RangeIndex(periods, name="period")),
    )


def _trigger(
    config: RollingConfig,
    policy: str,
    t: int,
    plan: OperationsPlan | None,
    plan_start: int,
    event: bool,
) -> str:
    if t == 0:
        return "start"
    if plan is None:
        return "fallback_retry" if policy == "rolling" else "plan_end"
    if t - plan_start >= plan.mobile.shape[0]:
        return "plan_end"
    if policy == "static":
        return "follow"
    if event:
        return "event"
    if config.replan_every is not None and (t - plan_start) >= config.replan_every:
        return "schedule"
    return "follow"


def _planned_demand(fc: Forecast, config: RollingConfig, integer: np.ndarray) -> np.ndarray:
    if config.scenarios and fc.scenarios is not None:
        planned = np.maximum(np.asarray(fc.scenarios, dtype=np.float64), 0.0)
    elif config.quantiles and fc.upper is not None:
        from accessplan.operations.robust import quantile_scenarios

        planned = quantile_scenarios(fc.point, fc.upper, config.quantiles)
    else:
        point = np.asarray(fc.point, dtype=np.float64)
        if config.buffer and fc.upper is not None:
            point = point + config.buffer * np.maximum(np.asarray(fc.upper) - point, 0.0)
        planned = np.maximum(point, 0.0)
    if config.whole_units and integer.any():
        # An indivisible type is needed in whole units; with whole demand its block of the
        # model is a network flow over time, whose LP optimum is integral (no branching).
        planned[..., integer] = np.floor(planned[..., integer] + 0.5)
    return planned


def departures_of(plan: OperationsPlan, k: int) -> list[Departure]:
    """The transfers ``plan`` starts in its period ``k``, as the state needs them."""
    z = plan.transfer_units[k]  # (e, q)
    ee, qq = np.nonzero(z > 1e-7)
    arcs, qtypes = plan.problem.arcs, plan.problem.transfer_types
    return [
        (
            int(arcs.src[e]),
            int(arcs.dst[e]),
            int(qtypes[q]),
            int(arcs.periods[e]),
            float(z[e, q]),
            float(arcs.minutes[e]),
        )
        for e, q in zip(ee, qq, strict=True)
    ]


def _rationale(plan: OperationsPlan, k: int) -> dict[str, Any]:
    binding = plan.binding(k)
    duals = plan.pool_duals.iloc[k]
    return {
        "binding": "; ".join(f"{r.constraint} (dual {r.dual:.4g})" for r in binding.itertuples()),
        "equity_dual": float(plan.equity_duals.iloc[k]),
        **{f"pool_dual_{name}": float(v) for name, v in duals.items()},
        "dual_source": plan.dual_source,
        "gap": plan.gap,
    }


def facility_deviation(
    actual: np.ndarray, forecast: np.ndarray, upper: np.ndarray | None = None
) -> tuple[float, int]:
    """The largest relative deviation of one facility's demand from its forecast, beyond the
    forecast's own prediction interval, and that facility's position (-1 when none deviates).

    Per facility ``i`` (demand summed over the types, units): ``max(|D_i - D_hat_i| - w_i, 0)
    / max(D_hat_i, 1)`` with ``w_i`` the interval's half-width above the point forecast
    (``upper - point`` summed over the types; 0 without an interval or where it is NaN). A
    surge at one facility reads in full however large the network; the noise the forecast
    itself expects does not.
    """
    d = np.asarray(actual, dtype=np.float64).sum(axis=1)
    f = np.asarray(forecast, dtype=np.float64).sum(axis=1)
    w = np.zeros_like(f)
    if upper is not None:
        width = np.asarray(upper, dtype=np.float64) - np.asarray(forecast, dtype=np.float64)
        w = np.nansum(np.maximum(width, 0.0), axis=1)
    excess = np.maximum(np.abs(d - f) - w, 0.0) / np.maximum(f, 1.0)
    if not excess.size or float(excess.max()) <= 0:
        return 0.0, -1
    where = int(np.argmax(excess))
    return float(excess[where]), where
