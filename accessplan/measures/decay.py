"""Distance-decay functions of travel time (minutes → weight ≥ 0).

Every factory returns a :class:`Decay`, a vectorised callable that maps an array of minutes to
an array of weights. Any other callable of minutes can be used wherever a decay is accepted;
it is called once on the array of all travel times (a scalar-only function is applied element
by element, which is slower).

The weights follow PySAL ``access`` (``access.weights``) where it defines them:
:func:`power_decay` is its ``gravity`` weight, :func:`gaussian_decay` its ``gaussian`` and
:func:`step_decay` its ``step_fn`` (a time equal to a threshold gets that threshold's weight;
beyond the last threshold the weight is 0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accessplan.errors import InputError

__all__ = [
    "E2SFCA_STEPS",
    "THREE_STEP_STEPS",
    "Decay",
    "exponential_decay",
    "gaussian_decay",
    "gaussian_fca_decay",
    "kernel_density_decay",
    "linear_decay",
    "power_decay",
    "step_decay",
]

#: Default E2SFCA weights (Luo & Qi 2009), the default of ``access.enhanced_two_stage_fca``.
E2SFCA_STEPS: dict[float, float] = {10.0: 1.0, 20.0: 0.68, 30.0: 0.22}
#: Default 3SFCA weights (Wan, Zou & Sternberg 2012), the default of ``access.three_stage_fca``.
THREE_STEP_STEPS: dict[float, float] = {10.0: 0.962, 20.0: 0.704, 30.0: 0.377, 60.0: 0.042}


@dataclass(frozen=True)
class Decay:
    """A named, vectorised decay function: minutes (array) → weights (array).

    Attributes
    ----------
    name
        Short name (``"power"``, ``"gaussian"``...).
    fn
        The function on a float array of minutes.
    params
        Its parameters, for display and reports.
    reach
        Largest travel time (minutes) with a positive weight, or None when unbounded.
    checked
        True when the weights are finite and >= 0 by construction (the factories here), so
        the measures need not check them; False for user functions.
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)
    reach: float | None = None
    checked: bool = True

    def __call__(self, minutes: np.ndarray | float) -> np.ndarray:
        return self.fn(np.asarray(minutes, dtype=np.float64))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.name}_decay({args})"


def _positive(value: float, name: str) -> float:
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise InputError(f"{name} must be a positive number of minutes, got {value}.")
    return value


def power_decay(beta: float, *, scale: float = 1.0, min_minutes: float = 1.0) -> Decay:
    """Power (gravity) decay ``f(t) = (max(t, t_min) / s) ** -beta``.

    Same as ``access.weights.gravity(scale=s, alpha=-beta, min_dist=t_min)``. The floor
    ``min_minutes`` (default 1 minute) avoids the infinite weight at 0 minutes.

    Parameters
    ----------
    beta
        Decay exponent (> 0 for a decreasing weight).
    scale
        Minutes that get weight 1.
    min_minutes
        Times below this are treated as this many minutes; must be > 0.
    """
    scale = _positive(scale, "scale")
    floor = _positive(min_minutes, "min_minutes")
    beta = float(beta)
    return Decay(
        "power",
        lambda t: np.power(np.maximum(t, floor) / scale, -beta),
        {"beta": beta, "scale": scale, "min_minutes": floor},
    )


def exponential_decay(beta: float) -> Decay:
    """Negative exponential decay ``f(t) = exp(-beta t)`` (beta per minute, ≥ 0)."""
    beta = float(beta)
    if not (np.isfinite(beta) and beta >= 0):
        raise InputError(f"beta must be a number >= 0 (per minute), got {beta}.")
    return Decay("exponential", lambda t: np.exp(-beta * t), {"beta": beta})


def gaussian_decay(sigma: float) -> Decay:
    """Gaussian decay ``f(t) = exp(-t² / (2 σ²))``, ``f(0) = 1`` (``access.weights.gaussian``)."""
    sigma = _positive(sigma, "sigma")
    return Decay("gaussian", lambda t: np.exp(-t * t / (2.0 * sigma**2)), {"sigma": sigma})


def linear_decay(standard: float) -> Decay:
    """Linear decay ``f(t) = max(0, 1 - t / T)``: 1 at the door, 0 from ``T`` minutes on."""
    T = _positive(standard, "standard")
    return Decay("linear", lambda t: np.clip(1.0 - t / T, 0.0, None), {"standard": T}, T)


def _check_steps(steps: Mapping[float, float]) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(steps, Mapping) or len(steps) == 0:
        raise InputError(
            f"steps must be a non-empty mapping {{minutes: weight}}, got {steps!r}; "
            "e.g. {10: 1.0, 20: 0.68, 30: 0.22}."
        )
    bounds = np.asarray([float(k) for k in steps], dtype=np.float64)
    weights = np.asarray([float(v) for v in steps.values()], dtype=np.float64)
    if not np.all(np.isfinite(bounds)) or bounds[0] <= 0:
        raise InputError(f"step thresholds must be positive minutes, got {list(steps)}.")
    if np.any(np.diff(bounds) <= 0):
        raise InputError(
            f"step thresholds {list(steps)} are not strictly increasing; list them from the "
            "nearest to the farthest, each once."
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise InputError(f"step weights must be finite and >= 0, got {list(steps.values())}.")
    return bounds, weights


def step_decay(steps: Mapping[float, float]) -> Decay:
    """Stepped decay: ``f(t) = w_k`` for the first threshold ``T_k`` with ``t ≤ T_k``.

    Beyond the last threshold the weight is 0. Same as ``access.weights.step_fn`` (a time
    equal to a threshold belongs to that step).

    Parameters
    ----------
    steps
        ``{threshold minutes: weight}`` with strictly increasing thresholds, e.g. the E2SFCA
        default ``{10: 1.0, 20: 0.68, 30: 0.22}``.
    """
    bounds, weights = _check_steps(steps)
    padded = np.append(weights, 0.0)

    def fn(t: np.ndarray) -> np.ndarray:
        # step index = number of thresholds strictly below t; a few comparisons beat a
        # binary search per time when the steps are few
        if bounds.size > 16:
            return padded[np.searchsorted(bounds, t, side="left")]
        index = np.zeros(t.shape, dtype=np.intp)
        for bound in bounds:
            index += t > bound
        return padded[index]

    return Decay(
        "step",
        fn,
        {"steps": dict(zip(bounds.tolist(), weights.tolist(), strict=True))},
        float(bounds[-1]),
    )


def gaussian_fca_decay(standard: float) -> Decay:
    """Gaussian weight of the Gaussian 2SFCA (Dai 2010), 1 at the door and 0 at the catchment.

    ``f(t) = (exp(-½ (t/t0)²) - exp(-½)) / (1 - exp(-½))`` for ``t ≤ t0``, 0 beyond, with
    ``t0`` = ``standard`` (minutes).

    Dai, D. (2010). Black residential segregation, disparities in spatial access to health care
    facilities, and late-stage breast cancer diagnosis in metropolitan Detroit. *Health &
    Place* 16(5), 1038–1052.
    """
    t0 = _positive(standard, "standard")
    e_half = np.exp(-0.5)

    def fn(t: np.ndarray) -> np.ndarray:
        w = (np.exp(-0.5 * (t / t0) ** 2) - e_half) / (1.0 - e_half)
        return np.where(t <= t0, w, 0.0)

    return Decay("gaussian_fca", fn, {"standard": t0}, t0)


def kernel_density_decay(standard: float) -> Decay:
    """Epanechnikov kernel of the kernel-density 2SFCA: ``f(t) = ¾ (1 - (t/t0)²)``, 0 beyond t0.

    Guagliardo, M. F. (2004). Spatial accessibility of primary care: concepts, methods and
    challenges. *International Journal of Health Geographics* 3:3 (kernel density estimation of
    supply); the kernel form as used in the KD2SFCA of Dai, D. & Wang, F. (2011), *Landscape
    and Urban Planning* 102(2), 77–87. ``standard`` t0 is the bandwidth (minutes). The constant
    ¾ cancels in every 2SFCA ratio.
    """
    t0 = _positive(standard, "standard")
    return Decay(
        "kernel_density",
        lambda t: np.where(t <= t0, 0.75 * (1.0 - (t / t0) ** 2), 0.0),
        {"standard": t0},
        t0,
    )


def as_decay(
    decay: Callable[..., Any] | Mapping[float, float] | None, what: str = "decay"
) -> Decay:
    """Turn ``decay`` (a Decay, a callable of minutes, a steps mapping, or None) into a Decay.

    None means weight 1 everywhere (a plain catchment).
    """
    if decay is None:
        return Decay("none", lambda t: np.ones_like(t))
    if isinstance(decay, Decay):
        return decay
    if isinstance(decay, Mapping):
        return step_decay(decay)
    if callable(decay):
        return Decay(getattr(decay, "__name__", "custom"), _vectorised(decay), checked=False)
    raise InputError(
        f"{what} must be a decay function of minutes (e.g. gaussian_decay(20)), a steps "
        f"mapping {{minutes: weight}} or None, got {type(decay).__name__}."
    )


def _vectorised(fn: Callable[..., Any]) -> Callable[[np.ndarray], np.ndarray]:
    def call(t: np.ndarray) -> np.ndarray:
        try:
            out = np.asarray(fn(t), dtype=np.float64)
        except (TypeError, ValueError):
            out = None
        if out is None or out.shape != t.shape:
            # A function of one number: applied element by element (slow, but exact).
            out = np.fromiter((float(fn(float(x))) for x in t), dtype=np.float64, count=t.size)
        return out

    return call


def evaluate(decay: Decay, minutes: np.ndarray, what: str = "decay") -> np.ndarray:
    """Weights of ``decay`` at ``minutes``, checked finite and >= 0."""
    w = decay(minutes)
    if decay.checked and decay.name != "power":
        return w
    if w.shape != minutes.shape:
        raise InputError(f"{what} {decay!r} returned shape {w.shape} for {minutes.shape} times.")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{what} {decay!r} gives weight {w[at]} at {minutes[at]} minutes; weights must be "
            "finite and >= 0 (for a power decay, raise min_minutes above 0)."
        )
    return w
