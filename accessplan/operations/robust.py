"""Robust plans: a buffer on the forecast, or a two-stage sample-average model over scenarios.

Buffer. Plan for :math:`\\hat D + \\eta` with :math:`\\eta = (U - \\hat D)\\,
z_{\\alpha} / z_{\\text{interval}}`: the forecast interval's upper bound :math:`U` gives the
standard error (a central interval of level ``interval`` is :math:`\\pm z_{interval}`
standard errors), and the service level :math:`\\alpha` the number of them to hold.

Two stages. Draw demand scenarios from gamma distributions with the forecast as mean and the
interval's standard error as standard deviation; the mobile units and transfers are decided
once (first stage), fixed units used and unmet demand per scenario (recourse), the objective
is the expected cost (see :class:`~accessplan.operations.model.OperationsProblem` with a
scenario axis).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from accessplan.errors import InputError

__all__ = [
    "buffered_demand",
    "forecast_sd",
    "quantile_scenarios",
    "sample_scenarios",
    "unmet_on_scenarios",
]


def forecast_sd(point: np.ndarray, upper: np.ndarray, interval: float = 0.9) -> np.ndarray:
    """Standard error implied by a central prediction interval of level ``interval``."""
    if not 0 < interval < 1:
        raise InputError(f"interval is {interval}; give the interval's level in (0, 1).")
    z = float(norm.ppf(0.5 + interval / 2))
    return np.maximum(np.asarray(upper, dtype=np.float64) - np.asarray(point), 0.0) / z


def buffered_demand(
    point: np.ndarray,
    upper: np.ndarray,
    *,
    service_level: float = 0.9,
    interval: float = 0.9,
) -> np.ndarray:
    """:math:`\\hat D + \\eta`: the demand to plan for to meet it with ``service_level``
    probability per cell under a normal forecast error (units)."""
    if not 0.5 <= service_level < 1:
        raise InputError(f"service_level is {service_level}; give a probability in [0.5, 1).")
    sd = forecast_sd(point, upper, interval)
    return (
        np.maximum(np.asarray(point, dtype=np.float64), 0.0) + float(norm.ppf(service_level)) * sd
    )


def sample_scenarios(
    point: np.ndarray,
    upper: np.ndarray,
    count: int,
    *,
    seed: int = 0,
    interval: float = 0.9,
) -> np.ndarray:
    """``count`` demand scenarios ``(count, *point.shape)``: gamma draws with mean ``point``
    and the interval's standard error (cells with zero mean stay zero)."""
    if count < 1:
        raise InputError(f"count is {count}; give at least one scenario.")
    mean = np.maximum(np.asarray(point, dtype=np.float64), 0.0)
    sd = forecast_sd(mean, upper, interval)
    rng = np.random.default_rng(seed)
    live = (mean > 0) & (sd > 0)
    shape = np.where(live, (mean / np.where(live, sd, 1.0)) ** 2, 1.0)
    scale = np.where(live, sd**2 / np.where(live, mean, 1.0), 0.0)
    draws = rng.gamma(np.broadcast_to(shape, (count, *mean.shape)), 1.0)
    out = draws * scale
    return np.where(live, out, mean)


def quantile_scenarios(
    point: np.ndarray, upper: np.ndarray, count: int, *, interval: float = 0.9
) -> np.ndarray:
    """``count`` comonotone scenarios ``(count, *point.shape)``: scenario ``k`` holds every
    cell's normal quantile of level ``(k + 0.5) / count`` (clipped at 0), each of probability
    ``1 / count``.

    The recourse of the model (fixed units used, unmet demand) is separable by cell except for
    the equity band, so with these scenarios the two-stage objective is each cell's expected
    cost under its forecast distribution, discretised: a deterministic plan on one quantile
    sees no gain in spreading scarce units over facilities whose demand is uncertain, this
    one does (diminishing returns of each extra unit at a facility).
    """
    if count < 1:
        raise InputError(f"count is {count}; give at least one scenario.")
    mean = np.maximum(np.asarray(point, dtype=np.float64), 0.0)
    sd = forecast_sd(mean, upper, interval)
    z = norm.ppf((np.arange(count) + 0.5) / count)
    shape = (count,) + (1,) * mean.ndim
    return np.maximum(mean[None] + z.reshape(shape) * sd[None], 0.0)


def unmet_on_scenarios(mobile: np.ndarray, fixed: np.ndarray, scenarios: np.ndarray) -> np.ndarray:
    """Unmet demand of a plan's mobile units on each scenario: ``max(D - x - f, 0)`` summed
    over facilities and types, one value per scenario and period ``(s, h)`` (units)."""
    gap = np.asarray(scenarios) - np.asarray(mobile)[None] - np.asarray(fixed)
    return np.maximum(gap, 0.0).sum(axis=(2, 3))
