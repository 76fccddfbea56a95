"""Accessibility measures on a `TravelTimes`: who reaches care, and how much care per person.

Every measure takes a :class:`~accessplan.traveltimes.TravelTimes` (minutes, sparse), and
where needed ``demand`` (persons per origin id) and ``supply`` (capacity per destination id,
or a facilities table with columns ``id``, ``type``, ``capacity``). A capacity Series gives a
Series per origin; a facilities table gives a DataFrame with ``total`` and per-type columns
``clinic``, ``robotic``, ``digital`` (see :mod:`accessplan.supply` for the digital model and
each submodule for how digital supply enters each measure).

Modules: :mod:`~accessplan.measures.decay` (decay functions), :mod:`~accessplan.measures.basic`
(nearest, cumulative, gravity, coverage), :mod:`~accessplan.measures.fca` (2SFCA family, FCA
ratio), :mod:`~accessplan.measures.capacity` (capacity-limited coverage),
:mod:`~accessplan.measures.registry` (the measures a scenario can run, with unit, scale,
direction and labels, and :func:`compute`; its docstring says how to add a measure).

Argument order: ``tt``, then ``demand`` (if used), then ``supply`` (capacity in clinicians, or
persons for capacity-limited coverage), then ``standard`` (minutes); everything else by
keyword.
"""

from accessplan.measures.basic import coverage, cumulative, gravity, nearest
from accessplan.measures.capacity import CapacityCoverage, capacity_limited_coverage
from accessplan.measures.decay import (
    E2SFCA_STEPS,
    THREE_STEP_STEPS,
    Decay,
    exponential_decay,
    gaussian_decay,
    gaussian_fca_decay,
    kernel_density_decay,
    linear_decay,
    power_decay,
    step_decay,
)
from accessplan.measures.fca import (
    enhanced_two_step_fca,
    fca_ratio,
    gaussian_two_step_fca,
    kernel_density_two_step_fca,
    three_step_fca,
    two_step_fca,
)
from accessplan.measures.registry import MEASURES, Measure, compute, get_measure

__all__ = [
    "E2SFCA_STEPS",
    "MEASURES",
    "THREE_STEP_STEPS",
    "CapacityCoverage",
    "Decay",
    "Measure",
    "capacity_limited_coverage",
    "compute",
    "coverage",
    "cumulative",
    "enhanced_two_step_fca",
    "exponential_decay",
    "fca_ratio",
    "gaussian_decay",
    "gaussian_fca_decay",
    "gaussian_two_step_fca",
    "get_measure",
    "gravity",
    "kernel_density_decay",
    "kernel_density_two_step_fca",
    "linear_decay",
    "nearest",
    "power_decay",
    "step_decay",
    "three_step_fca",
    "two_step_fca",
]
