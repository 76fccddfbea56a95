"""The distributions of a ``[sensitivity]`` section: factors on demand, speeds, capacities, uptake.

Each of the four inputs takes a table such as ``demand = { dist = "lognormal", sigma = 0.1 }``.
Every draw is a **factor** on the scenario's own value (1 = as in the scenario):

========================= ========================================= ===========================
``dist``                  parameters                                the factor
========================= ========================================= ===========================
``"fixed"``               ``value`` (>= 0, default 1)               always ``value``
``"lognormal"``           ``sigma`` (>= 0)                          ``exp(sigma · z)``, median 1
``"normal"``              ``sd`` (>= 0)                             ``max(0, 1 + sd · z)``
``"uniform"``             ``low`` <= ``high`` (>= 0)                uniform on [low, high]
``"triangular"``          ``low`` <= ``mode`` <= ``high`` (>= 0)    triangular
========================= ========================================= ===========================

with ``z`` standard normal. What a factor multiplies:

* ``demand``: the persons of each cell, one factor per cell (``per = "cell"``, the default) or
  one for all cells (``per = "all"``);
* ``speeds``: every road speed (road minutes are divided by it; the walk to the road is not),
  one factor per draw;
* ``capacities``: each existing facility's capacity and each supply type's capacity (new
  units), one factor each (``per = "facility"``) or one for all (``per = "all"``);
* ``digital_access``: the share of the population that can use digital care (``[access]`` and
  ``[supply.digital]``), one factor per draw, the share capped at 1.

A draw's factors come from a generator seeded by ``(seed, draw, input)``: the same seed gives
the same factors whatever else is drawn, in whatever order the draws run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from accessplan.errors import ScenarioError

__all__ = ["DISTRIBUTIONS", "INPUTS", "Factor", "check_sensitivity", "parse_factor"]

#: Parameters of each distribution, with defaults (None: required).
DISTRIBUTIONS: dict[str, dict[str, float | None]] = {
    "fixed": {"value": 1.0},
    "lognormal": {"sigma": None},
    "normal": {"sd": None},
    "uniform": {"low": None, "high": None},
    "triangular": {"low": None, "mode": None, "high": None},
}
#: The inputs a draw varies, with the ``per`` choices of each (the first is the default).
INPUTS: dict[str, tuple[str, ...]] = {
    "demand": ("cell", "all"),
    "speeds": ("draw",),
    "capacities": ("facility", "all"),
    "digital_access": ("draw",),
}


@dataclass(frozen=True)
class Factor:
    """A distribution of factors (1 = the scenario's value) and what each draw covers.

    Attributes
    ----------
    dist
        A name of :data:`DISTRIBUTIONS`.
    params
        Its parameters (all given or defaulted).
    per
        ``"cell"``, ``"facility"``: one factor per item; ``"all"``, ``"draw"``: one per draw.
    """

    dist: str
    params: dict[str, float]
    per: str

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` factors (the same one repeated when :attr:`per` is one per draw)."""
        n = size if self.per in ("cell", "facility") else 1
        p = self.params
        if self.dist == "fixed":
            values = np.full(n, p["value"])
        elif self.dist == "lognormal":
            values = np.exp(p["sigma"] * rng.standard_normal(n))
        elif self.dist == "normal":
            values = np.maximum(0.0, 1.0 + p["sd"] * rng.standard_normal(n))
        elif self.dist == "uniform":
            values = rng.uniform(p["low"], p["high"], n) if p["high"] > p["low"] else _flat(p, n)
        else:
            values = (
                rng.triangular(p["low"], p["mode"], p["high"], n)
                if p["high"] > p["low"]
                else _flat(p, n)
            )
        return np.broadcast_to(values, (size,)).astype(float) if n == 1 else values


def _flat(params: dict[str, float], n: int) -> np.ndarray:
    """A distribution of zero width: its one value (a generator refuses ``low == high``)."""
    return np.full(n, params["low"])


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise ScenarioError(f"{where} must be a finite number, got {value!r}.")
    return float(value)


def parse_factor(spec: Any, where: str, name: str) -> Factor:
    """The :class:`Factor` of one input's table, e.g. ``{dist = "uniform", low = 0.8, high = 1.1}``.

    Parameters
    ----------
    spec
        The table as parsed from TOML.
    where
        Where it was written, for messages (``"scenario.toml [sensitivity] demand"``).
    name
        The input (a key of :data:`INPUTS`).

    Raises
    ------
    ScenarioError
        Naming the key: not a table, an unknown ``dist`` or parameter, a missing or negative
        parameter, ``low > high``, a ``mode`` outside [low, high], or an unknown ``per``.
    """
    if not isinstance(spec, dict):
        raise ScenarioError(
            f"{where} must be a table such as {{ dist = 'lognormal', sigma = 0.1 }}, got {spec!r}."
        )
    dist = spec.get("dist")
    if dist not in DISTRIBUTIONS:
        raise ScenarioError(f"{where}: dist = {dist!r} is not one of {list(DISTRIBUTIONS)}.")
    known = DISTRIBUTIONS[dist]
    unknown = sorted(set(spec) - {"dist", "per", *known})
    if unknown:
        raise ScenarioError(
            f"{where}: {unknown[0]!r} is not a parameter of dist = {dist!r}; it takes "
            f"{list(known)}"
            + (f" and per (one of {list(INPUTS[name])})." if len(INPUTS[name]) > 1 else ".")
        )
    params: dict[str, float] = {}
    for key, default in known.items():
        if key not in spec and default is None:
            raise ScenarioError(f"{where}: dist = {dist!r} needs {key} (a number >= 0).")
        value = _number(spec.get(key, default), f"{where} {key}")
        if value < 0:
            raise ScenarioError(f"{where} {key} = {value:g} must be >= 0 (it is a factor).")
        params[key] = value
    if dist in ("uniform", "triangular") and params["low"] > params["high"]:
        raise ScenarioError(
            f"{where}: low = {params['low']:g} is above high = {params['high']:g}; swap them."
        )
    if dist == "triangular" and not params["low"] <= params["mode"] <= params["high"]:
        raise ScenarioError(f"{where}: mode = {params['mode']:g} must lie between low and high.")
    per = spec.get("per", INPUTS[name][0])
    if per not in INPUTS[name]:
        raise ScenarioError(f"{where}: per = {per!r} is not one of {list(INPUTS[name])}.")
    return Factor(str(dist), params, str(per))


def check_sensitivity(section: dict[str, Any], where: str) -> dict[str, Factor]:
    """The factors of a validated ``[sensitivity]`` section, by input (those given).

    Raises
    ------
    ScenarioError
        For a bad distribution (see :func:`parse_factor`), or ``lower >= upper``.
    """
    if not section["lower"] < section["upper"]:
        raise ScenarioError(
            f"{where}: lower = {section['lower']:g} must be below upper = {section['upper']:g} "
            "(percentiles, e.g. 5 and 95)."
        )
    return {
        name: parse_factor(section[name], f"{where} {name}", name)
        for name in INPUTS
        if section.get(name) is not None
    }
