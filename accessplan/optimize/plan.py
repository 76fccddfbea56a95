"""The `Plan`: what a location model chose, and what it is worth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Plan"]


@dataclass
class Plan:
    """Result of a location or allocation model.

    Attributes
    ----------
    model
        Model name: ``"p_median"``, ``"mclp"``, ``"lscp"``, ``"p_center"``,
        ``"capacitated_p_median"``, ``"capacitated_mclp"``, ``"budget"``, ``"allocation"``...
    sites
        One row per open site (existing facilities that stay open included), indexed by site id
        (the destination id of the travel times). Columns: ``type`` (clinic/robotic/digital),
        ``existing`` (bool), ``cost`` (currency units), ``capacity`` (same unit as the supply,
        NaN when uncapacitated), ``assigned_population`` (persons).
    assignment
        Long table, one row per (origin, site) with a positive share: columns ``origin``,
        ``site``, ``share`` (0–1 of the origin's population), ``persons``, ``minutes``.
        Origins served by nothing do not appear (see ``uncovered``).
    objective
        Objective value in the model's own unit (person-minutes for p-median, persons for
        MCLP, sites or cost for LSCP, minutes for p-center...).
    bound
        Best proven bound on the objective (lower bound when minimising, upper when
        maximising); equals ``objective`` when proven optimal. NaN when unknown.
    gap
        Relative gap ``|objective - bound| / max(|objective|, 1e-9)``; 0 when proven optimal.
    status
        ``"optimal"``, ``"time_limit"`` (best plan found within the time limit), ``"feasible"``
        or ``"heuristic"``.
    solver
        Solver or method used (``"highs"``, ``"cbc"``, ``"heuristic"``...).
    seconds
        Wall-clock seconds spent building and solving.
    covered_population
        Persons within the service standard of an open site (NaN when the model has none).
    total_population
        Persons in the demand.
    mean_minutes
        Population-weighted mean travel time (minutes) to the assigned site, over assigned
        persons.
    cost
        Total cost of the new sites (currency units).
    uncovered
        Origin ids that no open site serves within the standard (persons in ``demand``).
    details
        Model-specific extras (dual values, zone tables, parameters...).
    """

    model: str
    sites: pd.DataFrame
    assignment: pd.DataFrame
    objective: float
    bound: float = np.nan
    gap: float = np.nan
    status: str = "optimal"
    solver: str = ""
    seconds: float = 0.0
    covered_population: float = np.nan
    total_population: float = np.nan
    mean_minutes: float = np.nan
    cost: float = 0.0
    uncovered: pd.Index = field(default_factory=lambda: pd.Index([]))
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        """Share (0–1) of the population covered within the standard."""
        if not self.total_population:
            return np.nan
        return float(self.covered_population / self.total_population)

    @property
    def new_sites(self) -> pd.DataFrame:
        """The open sites that are not existing facilities."""
        return self.sites[~self.sites["existing"].astype(bool)]

    def summary(self) -> pd.Series:
        """Headline figures as a Series (for tables and reports)."""
        counts = self.new_sites["type"].value_counts()
        return pd.Series(
            {
                "model": self.model,
                "status": self.status,
                "solver": self.solver,
                "objective": self.objective,
                "bound": self.bound,
                "gap": self.gap,
                "seconds": self.seconds,
                "new_sites": int(len(self.new_sites)),
                **{f"new_{t}": int(counts.get(t, 0)) for t in ("clinic", "robotic", "digital")},
                "cost": self.cost,
                "covered_population": self.covered_population,
                "coverage": self.coverage,
                "mean_minutes": self.mean_minutes,
            }
        )

    def __repr__(self) -> str:
        return (
            f"Plan({self.model}: {len(self.sites)} open sites ({len(self.new_sites)} new), "
            f"objective {self.objective:.6g}, gap {self.gap:.3g}, status {self.status}, "
            f"{self.seconds:.2f} s)"
        )
