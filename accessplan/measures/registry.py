"""The measure registry: every accessibility measure a scenario can run, with its unit.

Each :class:`Measure` says which function computes it, which parameters it reads (named after
the scenario keys: ``standard`` is ``[plan] standard`` in minutes, ``digital_access`` and
``effectiveness`` are the ``[access]`` keys), the unit and scale of its value, whether higher
is better, and the words that label it on maps, figures, tables and the headline.
:func:`compute` runs a measure from the registry and returns its values scaled into that unit.
The scenario (its ``[access] measure`` choices), :func:`accessplan.optimize.evaluate_plan`, the
summary tables and the maps, report and figures read this registry; nothing else dispatches on
a measure's name.

Adding a measure
----------------
1. Write its function, ``f(tt, demand, supply, *, standard, digital_access, effectiveness)``,
   or ``f(tt, supply, *, ...)`` when it does not use demand. It returns per origin id a Series,
   or a DataFrame with a ``total`` column and per-type columns. Keyword parameters are named
   after the scenario keys it reads (take only those it needs). When a published measure has
   another signature (a decay, a table of steps), write a small function here that builds
   them from the scenario keys, as :func:`enhanced_two_step_fca_at_standard` does.
2. Add one :class:`Measure` entry to :data:`MEASURES`: name, function, params, uses_demand,
   unit, scale, higher_is_better, label, headline.

That is all: the scenario schema accepts the new name, and every output carries its unit,
label, colour direction and headline wording.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from accessplan.errors import InputError
from accessplan.measures.basic import cumulative, gravity, nearest
from accessplan.measures.decay import E2SFCA_STEPS, THREE_STEP_STEPS, gaussian_decay
from accessplan.measures.fca import (
    enhanced_two_step_fca,
    gaussian_two_step_fca,
    kernel_density_two_step_fca,
    three_step_fca,
    two_step_fca,
)
from accessplan.traveltimes import TravelTimes

__all__ = [
    "MEASURES",
    "PER_PERSONS",
    "REFERENCE_STANDARD",
    "Measure",
    "compute",
    "enhanced_two_step_fca_at_standard",
    "gaussian_gravity",
    "get_measure",
    "three_step_fca_at_standard",
]

#: The standard (minutes) at which the published E2SFCA and 3SFCA step weights are defined;
#: at another standard their thresholds scale by ``standard / REFERENCE_STANDARD``.
REFERENCE_STANDARD = 30.0
#: 2SFCA-family ratios (clinicians per person) are reported per this many persons.
PER_PERSONS = 10_000.0


@dataclass(frozen=True)
class Measure:
    """One accessibility measure of the registry.

    Attributes
    ----------
    name
        The name a scenario gives in ``[access] measure``.
    function
        Computes the raw values: ``function(tt, demand, supply, **params)`` when
        ``uses_demand``, else ``function(tt, supply, **params)``.
    params
        Keyword parameters of ``function``, each named after the scenario key it reads
        (``standard``: ``[plan] standard``, minutes; ``digital_access``, ``effectiveness``:
        ``[access]``).
    uses_demand
        Whether ``function`` takes the demand (persons per origin) after ``tt``.
    unit
        Unit of the scaled value, e.g. ``"clinicians per 10,000 persons"``, ``"minutes"``.
    scale
        The raw value is multiplied by this (10,000 for the 2SFCA family: clinicians per
        person → per 10,000 persons; 1 otherwise).
    higher_is_better
        True for supply per person; False for travel times.
    label
        Name of the measure without its unit, for map legends, figure axes and the report
        (which add the unit), e.g. ``"2SFCA access"``.
    headline
        Words after "population-weighted" in the headline sentence, with the unit.
    """

    name: str
    function: Callable[..., pd.Series | pd.DataFrame]
    params: tuple[str, ...]
    unit: str
    label: str
    headline: str
    scale: float = 1.0
    higher_is_better: bool = True
    uses_demand: bool = True


def _scaled_steps(steps: Mapping[float, float], standard: float) -> dict[float, float]:
    factor = float(standard) / REFERENCE_STANDARD
    return {minutes * factor: weight for minutes, weight in steps.items()}


def enhanced_two_step_fca_at_standard(
    tt: TravelTimes,
    demand: pd.Series | float,
    supply: pd.Series | pd.DataFrame,
    *,
    standard: float,
    digital_access: pd.Series | float = 1.0,
    effectiveness: float = 1.0,
) -> pd.Series | pd.DataFrame:
    """E2SFCA with the Luo & Qi (2009) steps scaled to the standard T (minutes).

    Weights ``{T/3: 1.0, 2T/3: 0.68, T: 0.22}``: at T = 30 the published
    ``{10: 1.0, 20: 0.68, 30: 0.22}``. See :func:`~accessplan.measures.enhanced_two_step_fca`.
    """
    steps = _scaled_steps(E2SFCA_STEPS, standard)
    return enhanced_two_step_fca(
        tt, demand, supply, steps, digital_access=digital_access, effectiveness=effectiveness
    )


def three_step_fca_at_standard(
    tt: TravelTimes,
    demand: pd.Series | float,
    supply: pd.Series | pd.DataFrame,
    *,
    standard: float,
    digital_access: pd.Series | float = 1.0,
    effectiveness: float = 1.0,
) -> pd.Series | pd.DataFrame:
    """3SFCA with the Wan, Zou & Sternberg (2012) weights scaled to the standard T (minutes).

    Weights ``{T/3: 0.962, 2T/3: 0.704, T: 0.377, 2T: 0.042}``: at T = 30 the published
    ``{10: 0.962, 20: 0.704, 30: 0.377, 60: 0.042}`` (the last step reaches twice the
    standard, as published). See :func:`~accessplan.measures.three_step_fca`.
    """
    steps = _scaled_steps(THREE_STEP_STEPS, standard)
    return three_step_fca(
        tt, demand, supply, steps, digital_access=digital_access, effectiveness=effectiveness
    )


def gaussian_gravity(
    tt: TravelTimes,
    supply: pd.Series | pd.DataFrame,
    *,
    standard: float,
    digital_access: pd.Series | float = 1.0,
    effectiveness: float = 1.0,
) -> pd.Series | pd.DataFrame:
    """Gravity access with a Gaussian decay of width half the standard: σ = T / 2 minutes.

    ``A_i = Σ_j S_j exp(-t_ij² / (2 σ²))`` over every stored pair (weight 0.14 at the
    standard). See :func:`~accessplan.measures.gravity`.
    """
    decay = gaussian_decay(float(standard) / 2.0)
    return gravity(tt, supply, decay, digital_access=digital_access, effectiveness=effectiveness)


def _fca_entry(name: str, function: Callable[..., Any], short: str) -> Measure:
    unit = f"clinicians per {PER_PERSONS:,.0f} persons"
    return Measure(
        name=name,
        function=function,
        params=("standard", "digital_access", "effectiveness"),
        unit=unit,
        label=f"{short} access",
        headline=f"{short} access ({unit})",
        scale=PER_PERSONS,
    )


#: Every measure a scenario can run, by name.
MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        _fca_entry("two_step_fca", two_step_fca, "2SFCA"),
        _fca_entry("enhanced_two_step_fca", enhanced_two_step_fca_at_standard, "E2SFCA"),
        _fca_entry("gaussian_two_step_fca", gaussian_two_step_fca, "Gaussian 2SFCA"),
        _fca_entry(
            "kernel_density_two_step_fca", kernel_density_two_step_fca, "kernel-density 2SFCA"
        ),
        _fca_entry("three_step_fca", three_step_fca_at_standard, "3SFCA"),
        Measure(
            name="gravity",
            function=gaussian_gravity,
            params=("standard", "digital_access", "effectiveness"),
            unit="gravity-weighted clinicians",
            label="Gravity access (Gaussian decay)",
            headline="gravity access (gravity-weighted clinicians)",
            uses_demand=False,
        ),
        Measure(
            name="cumulative",
            function=cumulative,
            params=("standard", "digital_access", "effectiveness"),
            unit="clinicians within the standard",
            label="Cumulative access",
            headline="clinicians within the standard",
            uses_demand=False,
        ),
        Measure(
            name="nearest",
            function=nearest,
            params=(),
            unit="minutes",
            label="Travel time to the nearest facility",
            headline="travel time to the nearest facility (minutes)",
            higher_is_better=False,
            uses_demand=False,
        ),
    )
}


def get_measure(name_or_spec: str | Measure) -> Measure:
    """The registry entry of ``name_or_spec`` (a name of :data:`MEASURES`, or a Measure)."""
    if isinstance(name_or_spec, Measure):
        return name_or_spec
    measure = MEASURES.get(name_or_spec) if isinstance(name_or_spec, str) else None
    if measure is None:
        raise InputError(
            f"unknown measure {name_or_spec!r}; use one of {list(MEASURES)} "
            "(accessplan.measures.MEASURES), or a Measure."
        )
    return measure


def _required(measure: Measure) -> list[str]:
    signature = inspect.signature(measure.function)
    return [
        p
        for p in measure.params
        if p in signature.parameters and signature.parameters[p].default is inspect.Parameter.empty
    ]


def compute(
    name_or_spec: str | Measure,
    tt: TravelTimes,
    demand: pd.Series | float | None,
    supply: pd.Series | pd.DataFrame,
    **params: Any,
) -> pd.DataFrame:
    """Compute a measure of the registry, scaled into its unit.

    Parameters
    ----------
    name_or_spec
        A name of :data:`MEASURES` (``"two_step_fca"``, ``"nearest"``...) or a :class:`Measure`.
    tt
        Travel times (minutes).
    demand
        Persons per origin id (ignored by measures that do not use it; may then be None).
    supply
        Capacity Series by destination id, or a facilities table (id, type, capacity in
        clinicians).
    **params
        The measure's parameters (:attr:`Measure.params`), e.g. ``standard=30`` (minutes).

    Returns
    -------
    pandas.DataFrame
        Per origin id: ``total`` and, for a facilities table, the per-type columns, in
        :attr:`Measure.unit` (raw values × :attr:`Measure.scale`). ``nearest`` is NaN where
        no facility is reachable.

    Raises
    ------
    InputError
        For an unknown measure, a parameter it does not take, or a missing one it needs.
    """
    measure = get_measure(name_or_spec)
    unknown = sorted(set(params) - set(measure.params))
    if unknown:
        takes = list(measure.params) or "no parameters"
        raise InputError(f"measure {measure.name!r} takes {takes}, not {unknown}.")
    missing = [p for p in _required(measure) if p not in params]
    if missing:
        raise InputError(f"measure {measure.name!r} needs {missing}, e.g. standard=30 (minutes).")
    if measure.uses_demand:
        if demand is None:
            raise InputError(f"measure {measure.name!r} needs the demand (persons per origin).")
        values = measure.function(tt, demand, supply, **params)
    else:
        values = measure.function(tt, supply, **params)
    frame = values.to_frame("total") if isinstance(values, pd.Series) else values
    return frame * measure.scale if measure.scale != 1.0 else frame
