"""accessplan: where to add care, and how much better access gets."""

from accessplan.errors import (
    AccessplanError,
    InfeasibleError,
    InputError,
    NetworkError,
    ScenarioError,
    SolverError,
)
from accessplan.optimize import Plan
from accessplan.supply import PHYSICAL_TYPES, SUPPLY_TYPES
from accessplan.traveltimes import TravelTimes

__version__ = "0.1.0"

__all__ = [
    "PHYSICAL_TYPES",
    "SUPPLY_TYPES",
    "AccessplanError",
    "InfeasibleError",
    "InputError",
    "NetworkError",
    "Plan",
    "ScenarioError",
    "SolverError",
    "TravelTimes",
]
