"""Policies side by side on simulated demand streams: a table with confidence intervals.

Each seed draws one demand stream with surges: from the patient-flow simulator through the
flows database (:func:`~accessplan.operations.flow_stream.patient_flow_stream`, passed as
``streams``) or Poisson around a mean (:func:`~accessplan.operations.streams.simulate_stream`,
the default); each policy runs on it through
:func:`~accessplan.operations.rolling.rolling_horizon`:

* ``static``: the fixed roster: the initial allocation (mobile units placed in proportion to
  the mean need beyond the fixed units) kept all run, no re-planning, no transfers
  (``policy="hold"`` of the loop; a single optimal plan of a whole fortnight is also available,
  ``policy="static"``, but one solve of 336 hourly periods takes minutes);
* ``proportional``: the rule of :func:`~accessplan.operations.rolling.proportional_allocation`
  every period, on the latest one-period forecast;
* ``rolling``: the rolling-horizon loop (re-plans on schedule and on events) on the point
  forecasts;
* ``rolling_robust``: the same loop with the two-stage model over ``robust_quantiles``
  comonotone quantile scenarios of the forecast distribution
  (:func:`~accessplan.operations.robust.quantile_scenarios`): the expected cost of each
  facility's uncertain demand, so scarce units are spread where they are worth most.

Metrics per run: unmet demand (units × periods, and % of demand), cost (currency units, the
model's objective terms as committed), equity spread (mean over periods of the largest minus
the smallest unmet share of critical demand among facilities with critical demand,
percentage points), reallocations per day (units joining or leaving service plus units
transferred, per 24 hours), solve seconds per epoch (mean, and the largest) and fallbacks.
The table gives each metric's mean over seeds with a 95 % Student-t confidence interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from accessplan.errors import InputError
from accessplan.operations.rolling import Network, RollingConfig, RollingResult, rolling_horizon
from accessplan.operations.streams import DemandStream, simulate_stream

__all__ = ["METRICS", "POLICIES", "Evaluation", "evaluate_policies", "run_metrics"]

POLICIES = ("static", "proportional", "rolling", "rolling_robust")

#: Metric column → label of the table.
METRICS = {
    "unmet_units": "unmet demand (units × periods)",
    "unmet_pct": "unmet demand (% of demand)",
    "cost": "cost (currency units)",
    "equity_spread_pp": "equity spread (pp)",
    "reallocations_per_day": "reallocations per day (units)",
    "solve_s_per_epoch": "solve time per epoch (s)",
    "max_solve_s": "slowest solve (s)",
    "fallbacks": "fallbacks",
}


def run_metrics(result: RollingResult) -> dict[str, float]:
    """The metrics of one run (see the module docstring)."""
    network = result.network
    periods = result.demand.shape[0]
    days = periods * float(network.period_minutes) / (24 * 60)
    demand_total = float(result.demand.sum())
    crit = np.flatnonzero([t.critical for t in network.types])
    spread = 0.0
    if crit.size:
        dem = result.demand[:, :, crit].sum(axis=2)
        share = result.unmet[:, :, crit].sum(axis=2) / np.where(dem > 0, dem, 1.0)
        live = dem > 0
        hi = np.where(live, share, -np.inf).max(axis=1)
        lo = np.where(live, share, np.inf).min(axis=1)
        ok = live.any(axis=1)
        spread = 100.0 * float(np.mean((hi - lo)[ok])) if ok.any() else 0.0
    moved = float(result.transfers["units"].sum()) if len(result.transfers) else 0.0
    seconds = result.decisions["seconds"].to_numpy(dtype=float)
    solved = result.decisions["trigger"].isin(["follow", "rule"]).to_numpy()
    epochs = seconds[~solved] if (~solved).any() else seconds
    return {
        "unmet_units": float(result.unmet.sum()),
        "unmet_pct": 100.0 * float(result.unmet.sum()) / demand_total if demand_total else 0.0,
        "cost": result.total_cost,
        "equity_spread_pp": spread,
        "reallocations_per_day": (float(result.changes.sum()) + moved) / days,
        "solve_s_per_epoch": float(np.mean(epochs)) if epochs.size else 0.0,
        "max_solve_s": float(np.max(seconds)) if seconds.size else 0.0,
        "fallbacks": float((result.decisions["status"] == "fallback").sum()),
    }


@dataclass
class Evaluation:
    """Runs (one row per seed and policy with every metric), the first seed's results and
    stream."""

    runs: pd.DataFrame
    results: dict[str, RollingResult]
    stream: DemandStream

    def table(self, level: float = 0.95) -> pd.DataFrame:
        """Mean over seeds and a ``level`` confidence interval per policy and metric."""
        rows = []
        for (policy, metric), values in self.runs.melt(
            id_vars=["seed", "policy"], var_name="metric"
        ).groupby(["policy", "metric"], sort=False)["value"]:
            v = values.to_numpy(dtype=float)
            mean = float(v.mean())
            half = float("nan")  # one seed: no interval
            if v.size > 1:
                half = float(student_t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1))
                half /= np.sqrt(v.size)
            rows.append(
                {
                    "policy": policy,
                    "metric": metric,
                    "mean": mean,
                    "low": mean - half,
                    "high": mean + half,
                    "seeds": int(v.size),
                }
            )
        return pd.DataFrame(rows)

    def formatted(self, level: float = 0.95) -> pd.DataFrame:
        """Metrics as rows, policies as columns, each cell ``mean ± half-width``."""
        table = self.table(level)
        table["cell"] = [_cell(r.mean, (r.high - r.low) / 2) for r in table.itertuples()]
        wide = table.pivot(index="metric", columns="policy", values="cell")
        order = [m for m in METRICS if m in wide.index]
        wide = wide.loc[order, [p for p in POLICIES if p in wide.columns]]
        wide.index = [METRICS[m] for m in order]
        seeds = int(table["seeds"].max())
        wide.index.name = (
            f"metric (mean ± {level:.0%} CI, {seeds} seeds)"
            if seeds > 1
            else "metric (one seed: no confidence interval)"
        )
        return wide


def _cell(mean: float, half: float) -> str:
    digits = 3 if abs(mean) < 1 else (2 if abs(mean) < 100 else 0)
    if np.isnan(half):
        return f"{mean:,.{digits}f}"
    return f"{mean:,.{digits}f} ± {half:,.{digits}f}"


def evaluate_policies(
    network: Network,
    base: np.ndarray,
    *,
    periods: int,
    seeds: Sequence[int] = (0, 1, 2),
    config: RollingConfig | None = None,
    policies: Sequence[str] = POLICIES,
    robust_quantiles: int = 5,
    streams: Callable[[int], DemandStream] | None = None,
    **stream_options: Any,
) -> Evaluation:
    """Run ``policies`` on one simulated stream per seed (see the module docstring).

    Parameters
    ----------
    network
        Facilities, types, units and arcs.
    base
        Mean demand ``(n, m)`` (units per period) of the streams.
    periods
        Periods per run.
    seeds
        One stream per seed.
    config
        Settings of the rolling loop.
    policies
        Any of :data:`POLICIES`.
    robust_quantiles
        Quantile scenarios of ``rolling_robust``.
    streams
        ``streams(seed)`` → the demand stream of a seed, at least ``periods`` long (e.g. a
        :func:`~accessplan.operations.flow_stream.patient_flow_stream`); default a
        :func:`~accessplan.operations.streams.simulate_stream` of ``base``.
    stream_options
        Passed to :func:`~accessplan.operations.streams.simulate_stream` (surges, ...).
    """
    bad = [p for p in policies if p not in POLICIES]
    if bad:
        raise InputError(f"policies lists {bad}; use any of {list(POLICIES)}.")
    config = config or RollingConfig()
    rows = []
    results: dict[str, RollingResult] = {}
    stream = stream_first = None
    for seed in seeds:
        if streams is not None:
            stream = streams(int(seed))
            if stream.periods < periods:
                raise InputError(
                    f"the stream of seed {seed} has {stream.periods} periods; give at least "
                    f"{periods}."
                )
        else:
            stream = simulate_stream(
                base,
                periods,
                seed=int(seed),
                period_minutes=network.period_minutes,
                **stream_options,
            )
        for policy in policies:
            loop, cfg = {
                "static": ("hold", config),
                "rolling_robust": ("rolling", replace(config, quantiles=robust_quantiles)),
            }.get(policy, (policy, config))
            result = rolling_horizon(
                network, stream.forecast, stream.observe, periods, cfg, policy=loop
            )
            rows.append({"seed": int(seed), "policy": policy, **run_metrics(result)})
            if stream_first is None:
                results[policy] = result
        stream_first = stream if stream_first is None else stream_first
    if stream_first is None:
        raise InputError("seeds is empty; give at least one seed.")
    return Evaluation(pd.DataFrame(rows), results, stream_first)
