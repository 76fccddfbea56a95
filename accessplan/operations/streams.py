"""Simulated demand streams with surges, and the forecasts a planner would have of them.

The interface the rolling-horizon loop needs of a patient-flow source is small:
:attr:`DemandStream.demand` (units of each resource type required per facility and period,
``(P, n, m)``), :meth:`DemandStream.forecast` (``start, h`` → a
:class:`~accessplan.operations.rolling.Forecast` with a point forecast and the upper bound of
a central prediction interval of level :attr:`DemandStream.interval`) and
:meth:`DemandStream.observe` (``t`` → the demand of period ``t``). Any other source with these
three members (a patient-flow simulator and its forecasts) can take its place.

**Demand.** Per period ``t`` of ``period_minutes`` the units required are Poisson with mean
``base × daily(t) × weekly(t) × surge(t)``: ``daily`` peaks in the early afternoon (±35 %),
``weekly`` is 0.85 on Saturdays and Sundays (the stream starts on a Monday at 00:00),
``surge`` is ``factor`` at the facilities of a surge while it lasts (reached over its first
quarter), 1 elsewhere.

**Forecast.** At ``start`` the forecaster knows the daily and weekly profile and the observed
demand up to ``start - 1``: per facility, the level ``L`` = (observed + q) / (profile mean +
q) over the last ``window`` periods, with ``q`` one period's profile mean (at least one unit)
as a prior at level 1 (1 before any observation); the point forecast for ``start + k`` is
``profile × (1 + (L - 1) decay^k)`` (a surge seen persists, then fades), the interval
``point ± z sqrt(max(point, 1) × dispersion)`` (a count's interval is at least one unit's).
Surges not yet started are not foreseen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from accessplan.errors import InputError
from accessplan.operations.rolling import Forecast

__all__ = ["DemandStream", "Surge", "simulate_stream"]


@dataclass(frozen=True)
class Surge:
    """A surge: from period ``start`` for ``periods`` periods, demand × ``factor`` at
    ``facilities`` (positions)."""

    start: int
    periods: int
    facilities: tuple[int, ...]
    factor: float

    def multiplier(self, total: int, n: int) -> np.ndarray:
        """``(total, n)`` factor on the mean demand (1 outside the surge)."""
        out = np.ones((total, n))
        ramp = max(self.periods // 4, 1)
        k = np.arange(self.periods)
        level = 1.0 + (self.factor - 1.0) * np.minimum((k + 1) / ramp, 1.0)
        t = self.start + k
        ok = t < total
        out[np.ix_(t[ok], np.asarray(self.facilities))] = level[ok, None]
        return out


@dataclass
class DemandStream:
    """A demand stream, its profile mean and its forecaster (see the module docstring).

    Attributes
    ----------
    demand
        Units required, ``(P, n, m)``.
    profile
        The mean without surges, ``(P, n, m)`` (what the forecaster knows in advance).
    surges
        The surges in the stream.
    interval
        Level of the forecasts' central prediction interval (0–1).
    window, decay, dispersion
        Forecaster settings: periods of the level estimate, fade of a level per period,
        variance over mean of the demand.
    """

    demand: np.ndarray
    profile: np.ndarray
    surges: tuple[Surge, ...]
    period_minutes: float = 60.0
    interval: float = 0.9
    window: int = 6
    decay: float = 0.93
    dispersion: float = 1.3

    @property
    def periods(self) -> int:
        return int(self.demand.shape[0])

    def observe(self, t: int) -> np.ndarray:
        """Demand of period ``t``, ``(n, m)`` (units required)."""
        return self.demand[t]

    def level(self, start: int) -> np.ndarray:
        """Observed over profile demand of each facility in the ``window`` before ``start``."""
        lo = max(start - self.window, 0)
        if start <= lo:
            return np.ones(self.demand.shape[1])
        seen = self.demand[lo:start].sum(axis=(0, 2))
        mean = self.profile[lo:start].sum(axis=(0, 2))
        # one period's expected demand (at least one unit) as a prior at level 1, so that a
        # facility expecting little does not read one patient as a surge
        prior = np.maximum(mean / (start - lo), 1.0)
        return (seen + prior) / (mean + prior)

    def forecast(self, start: int, h: int) -> Forecast:
        """Point forecast and upper interval bound for periods ``start .. start + h - 1``."""
        if not 0 <= start < self.periods or h < 1:
            raise InputError(
                f"forecast of periods {start}..{start + h - 1}: the stream has periods "
                f"0..{self.periods - 1}; give 0 <= start < {self.periods} and h >= 1."
            )
        idx = np.minimum(np.arange(start, start + h), self.periods - 1)
        fade = self.decay ** np.arange(h)
        factor = 1.0 + (self.level(start)[None, :] - 1.0) * fade[:, None]
        point = self.profile[idx] * factor[:, :, None]
        z = float(norm.ppf(0.5 + self.interval / 2))
        upper = point + z * np.sqrt(np.maximum(point, 1.0) * self.dispersion)
        return Forecast(point, upper)


def _profile(periods: int, period_minutes: float) -> np.ndarray:
    hours = np.arange(periods) * float(period_minutes) / 60.0
    daily = 1.0 + 0.35 * np.sin(2 * np.pi * ((hours % 24) - 8.0) / 24.0)
    weekend = ((hours // 24) % 7) >= 5
    return daily * np.where(weekend, 0.85, 1.0)


def simulate_stream(
    base: np.ndarray,
    periods: int,
    *,
    seed: int = 0,
    period_minutes: float = 60.0,
    surges: int = 3,
    surge_factor: float = 2.0,
    surge_periods: int = 24,
    surge_facilities: int = 3,
    interval: float = 0.9,
) -> DemandStream:
    """A seeded demand stream of ``periods`` periods around ``base`` ``(n, m)`` (units per
    period), with ``surges`` surges of ``surge_factor`` lasting ``surge_periods`` periods at
    ``surge_facilities`` random facilities each."""
    base = np.asarray(base, dtype=np.float64)
    if base.ndim != 2 or np.any(base < 0) or not np.all(np.isfinite(base)):
        raise InputError("base: give the mean demand per facility and type, (n, m), >= 0.")
    if periods < 1:
        raise InputError(f"periods is {periods}; give at least one period.")
    if surge_factor < 1 or surge_periods < 1 or surges < 0:
        raise InputError(
            "surges: give surges >= 0, surge_factor >= 1 and surge_periods >= 1 "
            f"(got {surges}, {surge_factor}, {surge_periods})."
        )
    rng = np.random.default_rng(seed)
    n = base.shape[0]
    profile = _profile(periods, period_minutes)[:, None, None] * base[None]
    events = []
    for _ in range(int(surges)):
        start = int(rng.integers(0, max(periods - surge_periods // 2, 1)))
        where = rng.choice(n, size=min(int(surge_facilities), n), replace=False)
        events.append(Surge(start, int(surge_periods), tuple(int(i) for i in where), surge_factor))
    mean = profile.copy()
    for surge in events:
        mean *= surge.multiplier(periods, n)[:, :, None]
    demand = rng.poisson(mean).astype(np.float64)
    return DemandStream(demand, profile, tuple(events), float(period_minutes), interval)
