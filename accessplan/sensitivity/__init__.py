"""Uncertainty of a scenario: its inputs drawn from distributions, access and plan re-run per draw.

A scenario's ``[sensitivity]`` section states the distributions of factors on demand, road
speeds, capacities and digital uptake (:mod:`~accessplan.sensitivity.distributions`);
:func:`run_sensitivity` re-runs access and the plan once per draw, seeded, on this machine or
as tasks on a Dask cluster, and reports intervals of the headline numbers and how often each
candidate site is chosen (:mod:`~accessplan.sensitivity.analysis`); the outputs (CSV and an
offline HTML page) are written by :mod:`~accessplan.sensitivity.outputs`.
"""

from accessplan.sensitivity.analysis import Sensitivity, run_sensitivity
from accessplan.sensitivity.distributions import Factor, parse_factor

__all__ = ["Factor", "Sensitivity", "parse_factor", "run_sensitivity"]
