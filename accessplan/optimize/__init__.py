"""Location-allocation models: where to add clinics, robotic and digital units."""

from accessplan.optimize import fairness
from accessplan.optimize.allocation import (
    ResourcePool,
    allocate_resources,
    facility_demand,
    lp_objective_with_pools,
)
from accessplan.optimize.budget import SupplyOption, budget_sweep, budgeted_siting
from accessplan.optimize.capacitated import capacitated_p_median
from accessplan.optimize.center import p_center
from accessplan.optimize.coverage import capacitated_mclp, lscp, mclp
from accessplan.optimize.heuristics import HeuristicResult, mclp_heuristic, p_median_heuristic
from accessplan.optimize.median import p_median
from accessplan.optimize.plan import Plan, evaluate_plan

__all__ = [
    "HeuristicResult",
    "Plan",
    "ResourcePool",
    "SupplyOption",
    "allocate_resources",
    "budget_sweep",
    "budgeted_siting",
    "capacitated_mclp",
    "capacitated_p_median",
    "evaluate_plan",
    "facility_demand",
    "fairness",
    "lp_objective_with_pools",
    "lscp",
    "mclp",
    "mclp_heuristic",
    "p_center",
    "p_median",
    "p_median_heuristic",
]
