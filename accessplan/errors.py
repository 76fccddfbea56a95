"""Errors raised by accessplan.

Every error a user can cause derives from :class:`AccessplanError`. Messages name the file,
column, row or parameter at fault and say how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AccessplanError",
    "InfeasibleError",
    "InputError",
    "NetworkError",
    "ScenarioError",
    "SolverError",
]


class AccessplanError(Exception):
    """Base class of every error raised on purpose by accessplan."""


class InputError(AccessplanError, ValueError):
    """Bad input data or parameters: a file, column, row or argument that cannot be used."""


class NetworkError(AccessplanError):
    """A road network that cannot be routed on (empty after filtering, no CRS, no edges...)."""


class InfeasibleError(AccessplanError):
    """An optimisation model that has no feasible solution, detected before or by the solver."""


class SolverError(AccessplanError):
    """A solver that is missing, crashed, or returned no usable solution."""


class ScenarioError(AccessplanError):
    """An invalid scenario file or scenario object."""
