"""The `Plan`: what a location model chose, and what it is worth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from accessplan.optimize._solve import SolveInfo, settle

__all__ = ["Plan", "build_plan", "evaluate_plan", "nearest_open"]


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
        Best proven bound on the optimum (lower bound when minimising, upper when
        maximising), never beyond ``objective``; equals it when proven optimal. NaN when
        unknown.
    gap
        Relative gap ``|bound - objective| / max(|objective|, |bound|)``: 0 when proven
        optimal, 1 (100 %) when the objective is 0 and the bound is not; NaN when the bound is
        unknown. One definition for every model
        (:func:`accessplan.optimize._solve.relative_gap`).
    status
        ``"optimal"`` only when ``gap`` is proven within the gap the caller accepted (at least
        :data:`accessplan.optimize._solve.OPTIMAL_GAP`, 1e-6); otherwise ``"time_limit"``
        (best plan found when the time limit ran out), ``"heuristic"`` (a heuristic's plan
        with its proven bound) or ``"feasible"`` (a plan, not proven within the gap).
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
                "new_sites": len(self.new_sites),
                **{f"new_{t}": int(counts.get(t, 0)) for t in ("clinic", "robotic", "digital")},
                "cost": self.cost,
                "covered_population": self.covered_population,
                "coverage": self.coverage,
                "mean_minutes": self.mean_minutes,
            }
        )

    def supply(self, candidates: pd.DataFrame | None = None) -> pd.DataFrame:
        """Facilities table of the open sites, for re-evaluating accessibility ("after").

        Parameters
        ----------
        candidates
            Optional candidate table (``id`` column or index) whose other columns (geometry,
            names, opening hours...) are joined to the open sites.

        Returns
        -------
        pandas.DataFrame
            One row per open site with columns ``id``, ``type``, ``capacity`` (NaN when the
            model had none), ``existing`` and ``assigned_population`` (persons), plus the
            columns of ``candidates``.
        """
        cols = [
            c for c in ("type", "capacity", "existing", "assigned_population") if c in self.sites
        ]
        out = self.sites[cols].copy()
        out.index.name = "id"
        if candidates is not None:
            extra = candidates.set_index("id") if "id" in candidates.columns else candidates
            extra = extra.drop(columns=[c for c in cols if c in extra.columns])
            out = out.join(extra, how="left")
        return out.reset_index()

    def __repr__(self) -> str:
        return (
            f"Plan({self.model}: {len(self.sites)} open sites ({len(self.new_sites)} new), "
            f"objective {self.objective:.6g}, gap {self.gap:.3g}, status {self.status}, "
            f"{self.seconds:.2f} s)"
        )


def nearest_open(
    minutes: sp.csr_array, open_mask: np.ndarray, limit: float = np.inf
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest open site of every origin within ``limit`` minutes.

    ``minutes`` must have each row's stored entries sorted by minutes (as prepared by the
    models). Returns origin positions, candidate positions and minutes of the assigned pairs;
    origins with no open site within ``limit`` are absent.
    """
    rows = np.repeat(np.arange(minutes.shape[0]), np.diff(minutes.indptr))
    ok = np.flatnonzero(open_mask[minutes.indices] & (minutes.data <= limit))
    first_rows, first = np.unique(rows[ok], return_index=True)
    pick = ok[first]
    return first_rows, minutes.indices[pick], minutes.data[pick]


def build_plan(
    model: str,
    data: Any,
    open_mask: np.ndarray,
    assign_rows: np.ndarray,
    assign_cols: np.ndarray,
    assign_share: np.ndarray,
    assign_minutes: np.ndarray,
    *,
    objective: float,
    info: SolveInfo,
    sense: str,
    gap: float | None,
    covered_population: float = np.nan,
    uncovered_rows: np.ndarray | None = None,
    details: dict[str, Any] | None = None,
    seconds: float = 0.0,
) -> Plan:
    """Assemble a :class:`Plan` from a model's solution arrays.

    Parameters
    ----------
    data
        The model's :class:`accessplan.optimize._data.LocationData`.
    open_mask
        Boolean per candidate: open in the plan.
    assign_rows, assign_cols, assign_share, assign_minutes
        Assigned pairs: origin position, candidate position, share (0–1) of the origin's
        persons, minutes.
    objective
        Objective of the plan as built from the arrays (model unit).
    info, sense, gap
        The solver's :class:`~accessplan.optimize._solve.SolveInfo`, the model's sense
        (``"min"``/``"max"``) and the gap the caller accepted: bound, gap and status follow
        from them and ``objective`` (see :func:`accessplan.optimize._solve.settle`).
    uncovered_rows
        Origin positions not served (within the standard) by the plan.
    """
    tt, weights, cands = data.tt, data.weights, data.candidates
    persons = weights[assign_rows] * assign_share
    assigned = np.bincount(assign_cols, weights=persons, minlength=len(cands))
    sites = cands.loc[open_mask, ["type", "existing", "cost", "capacity"]].copy()
    sites["assigned_population"] = assigned[open_mask]
    sites.index.name = "id"
    assignment = pd.DataFrame(
        {
            "origin": tt.origin_ids[assign_rows],
            "site": cands.index[assign_cols],
            "share": assign_share,
            "persons": persons,
            "minutes": assign_minutes,
        }
    )
    served = persons.sum()
    mean_minutes = float((persons * assign_minutes).sum() / served) if served > 0 else np.nan
    if uncovered_rows is None:
        uncovered_rows = np.array([], dtype=np.int64)
    uncovered_rows = np.sort(np.asarray(uncovered_rows, dtype=np.int64))
    new = open_mask & ~cands["existing"].to_numpy()
    settled = settle(info, float(objective), sense, gap)
    return Plan(
        model=model,
        sites=sites,
        assignment=assignment,
        objective=settled.objective,
        bound=settled.bound,
        gap=settled.gap,
        status=settled.status,
        solver=settled.solver,
        seconds=float(seconds),
        covered_population=float(covered_population),
        total_population=float(weights.sum()),
        mean_minutes=mean_minutes,
        cost=float(cands["cost"].to_numpy()[new].sum()),
        uncovered=tt.origin_ids[uncovered_rows],
        details=dict(details or {}),
    )


def evaluate_plan(
    plan: Plan,
    tt: Any,
    demand: pd.Series,
    measure: Any = "two_step_fca",
    **params: Any,
) -> pd.DataFrame:
    """Accessibility with the plan's open sites as the supply ("after" values).

    Parameters
    ----------
    plan
        A location plan; its open sites (existing ones included) are the supply, with their
        ``capacity`` (a site without capacity counts as 1).
    tt
        Travel times (minutes) from the demand origins to at least the plan's sites.
    demand
        Persons per origin id.
    measure
        A name of :data:`accessplan.measures.MEASURES` (``"two_step_fca"``, ``"nearest"``...)
        or a :class:`~accessplan.measures.Measure`; ``params`` are its parameters
        (``standard=30`` minutes for most).

    Returns
    -------
    pandas.DataFrame
        Per origin, ``total`` and per-type columns in the measure's unit (see
        :func:`accessplan.measures.compute`).
    """
    from accessplan.measures import compute

    supply = plan.supply()[["id", "type", "capacity"]]
    supply["capacity"] = supply["capacity"].fillna(1.0)
    sub = tt.subset(destinations=supply["id"])
    return compute(measure, sub, demand, supply, **params)
