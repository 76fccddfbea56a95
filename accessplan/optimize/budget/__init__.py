"""Budgeted siting of several supply types: which clinics, robotic units and digital hubs to buy.

A candidate site can host at most one supply *option* (a :class:`SupplyOption`: a type with a
cost, a capacity and a service standard). :func:`budgeted_siting` chooses sites and options to
maximise the population covered (or minimise population-weighted travel time, or maximise the
worst zone's coverage) within a budget, keeping existing facilities open;
:func:`budget_sweep` repeats it over a list of budgets — "with budget B, how many robotic vs
physical clinics, where, and how much does coverage rise?".

Digital supply follows :mod:`accessplan.supply`: a digital hub is reached without travel, but
only by the connected share :math:`a_i` of each origin's population, and it resolves the share
:math:`e` (effectiveness) of the needs it serves, so its effective capacity is :math:`e S`.
A person's need is met once: by a physical site or — for at most the share :math:`a_i e` of the
origin — digitally, never both (no double counting), and needs met digitally use no physical
capacity.
"""

from accessplan.optimize.budget.options import SupplyOption
from accessplan.optimize.budget.siting import budget_sweep, budgeted_siting

__all__ = ["SupplyOption", "budget_sweep", "budgeted_siting"]
