"""The budget model's plan: open sites, assignment, coverage and details."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from accessplan.optimize import fairness
from accessplan.optimize._solve import SolveInfo, settle
from accessplan.optimize.budget.model import BudgetModel
from accessplan.optimize.budget.options import Instance
from accessplan.optimize.budget.reduction import Pairs
from accessplan.optimize.plan import Plan

#: Shares (0–1) at or below this count as zero in the reported plan.
_EPS = 1e-9


def budget_plan(
    inst: Instance,
    pairs: Pairs,
    model: BudgetModel,
    solution: np.ndarray,
    info: SolveInfo,
    gap: float | None,
    stage_values: list[float],
    labels: pd.Series | None,
    budget: float,
    objective: str,
    t0: float,
) -> Plan:
    """The :class:`~accessplan.optimize.plan.Plan` of a solved budget model.

    Parameters
    ----------
    inst, pairs, model
        The checked inputs, their reachable pairs and the model solved.
    solution, info, stage_values
        Column values, the first stage's solve report and the value of every stage.
    gap
        The gap tolerance asked for (decides whether the plan is reported optimal).
    labels
        Zone label per origin, or None (then no per-zone table).
    budget, objective
        As given to :func:`~accessplan.optimize.budgeted_siting`, for ``details``.
    t0
        ``time.perf_counter()`` at the start of the call (for ``seconds``).

    Returns
    -------
    Plan
        Open sites, physical assignment, coverage and the details listed in
        :func:`~accessplan.optimize.budgeted_siting`.
    """
    cols = inst.columns
    red = model.red
    P = inst.population
    n_orig = len(P)
    is_open = _open_columns(cols, model, solution)

    origin_class = red.class_of_origin
    populated = origin_class >= 0
    digital_share = np.zeros(n_orig)
    z_col = np.full(n_orig, -1, dtype=np.int64)
    z_col[populated] = model.z[origin_class[populated]]
    digital_share[z_col >= 0] = solution[z_col[z_col >= 0]]

    if model.w is not None:
        # every member of a class takes the class's shares on its own pairs
        pos = red.pair_position(origin_class[pairs.origin], red.group_of_column[pairs.column])
        share = np.where(pos >= 0, solution[model.w[np.maximum(pos, 0)]], 0.0)
        share = np.clip(np.where(is_open[pairs.column], share, 0.0), 0.0, 1.0)
        used = share > _EPS
        assign = pd.DataFrame(
            {"origin_pos": pairs.origin[used], "column": pairs.column[used], "share": share[used]}
        )
        assign["minutes"] = pairs.minutes[used]
        assign["within"] = pairs.within_standard[used]
    else:
        assert model.y is not None
        y_col = np.full(n_orig, -1, dtype=np.int64)
        y_col[populated] = model.y[origin_class[populated]]
        physical = np.zeros(n_orig)
        physical[y_col >= 0] = solution[y_col[y_col >= 0]]
        assign = _nearest_assignment(pairs, physical, is_open)
    assign["persons"] = assign["share"].to_numpy() * P[assign["origin_pos"].to_numpy()]

    within = assign[assign["within"]]
    physical_covered = np.bincount(
        within["origin_pos"].to_numpy(dtype=np.int64), weights=within["share"], minlength=n_orig
    )
    covered_share = np.clip(physical_covered + digital_share, 0.0, 1.0)
    digital_persons = float(digital_share @ P)

    sites = _site_table(cols, is_open, assign, digital_persons, inst.connected_population)
    assignment = pd.DataFrame(
        {
            "origin": inst.tt.origin_ids[assign["origin_pos"].to_numpy(dtype=np.int64)],
            "site": cols["site"].to_numpy()[assign["column"].to_numpy(dtype=np.int64)],
            "share": assign["share"].to_numpy(),
            "persons": assign["persons"].to_numpy(),
            "minutes": assign["minutes"].to_numpy(),
        }
    )
    persons = assignment["persons"].to_numpy()
    mean_minutes = (
        float(persons @ assignment["minutes"].to_numpy() / persons.sum())
        if persons.sum() > 0
        else np.nan
    )
    main_value = stage_values[0]
    settled = settle(info, main_value, model.stages[0].sense, gap)
    details = _details(inst, model, cols, is_open, physical_covered, digital_share, labels)
    details.update(budget=float(budget), objective=objective, stages=stage_values)
    return Plan(
        model="budget",
        sites=sites,
        assignment=assignment,
        objective=settled.objective,
        bound=settled.bound,
        gap=settled.gap,
        status=settled.status,
        solver=settled.solver,
        seconds=time.perf_counter() - t0,
        covered_population=float(covered_share @ P),
        total_population=float(P.sum()),
        mean_minutes=mean_minutes,
        cost=float(cols.loc[is_open & ~cols["existing"].to_numpy(), "cost"].sum()),
        uncovered=inst.tt.origin_ids[(P > 0) & (covered_share <= _EPS)],
        details=details,
    )


def _open_columns(cols: pd.DataFrame, model: BudgetModel, solution: np.ndarray) -> np.ndarray:
    """Open flag per column; pooled hubs go to the free sites of D in candidate order."""
    is_open = cols["existing"].to_numpy().copy()
    var = model.x >= 0
    is_open[var] = solution[model.x[var]] > 0.5
    site = cols["site"].to_numpy()
    decided = ~cols["existing"].to_numpy() | cols["closable"].to_numpy(dtype=bool)
    taken = set(site[is_open & decided].tolist())
    free = (
        [j for j, s in enumerate(site[model.hubs[0]].tolist()) if s not in taken]
        if model.hubs
        else []
    )
    for members, n_var in zip(model.hubs, model.hub_var, strict=True):
        count = int(np.rint(solution[n_var]))
        is_open[members[free[:count]]] = True
        free = free[count:]
    return is_open


def _nearest_assignment(pairs: Pairs, physical: np.ndarray, is_open: np.ndarray) -> pd.DataFrame:
    """Covered share of each origin, assigned to its nearest open site within reach."""
    open_pair = is_open[pairs.column]
    origin, column, minutes = (
        pairs.origin[open_pair],
        pairs.column[open_pair],
        pairs.minutes[open_pair],
    )
    first = np.ones(origin.size, dtype=bool)
    first[1:] = origin[1:] != origin[:-1]  # pairs are sorted by origin, then minutes
    origin, column, minutes = origin[first], column[first], minutes[first]
    share = np.clip(physical[origin], 0.0, 1.0)
    keep = share > _EPS
    return pd.DataFrame(
        {
            "origin_pos": origin[keep],
            "column": column[keep],
            "share": share[keep],
            "minutes": minutes[keep],
            "within": np.ones(int(keep.sum()), dtype=bool),
        }
    )


def _site_table(
    cols: pd.DataFrame,
    is_open: np.ndarray,
    assign: pd.DataFrame,
    digital_persons: float,
    unlimited: float,
) -> pd.DataFrame:
    load = np.bincount(
        assign["column"].to_numpy(dtype=np.int64), weights=assign["persons"], minlength=len(cols)
    )
    digital_open = is_open & cols["type"].eq("digital").to_numpy()
    if digital_open.any() and digital_persons > 0:
        # Digital needs are met by the pool of hubs; credit each hub by its capacity.
        cap = cols["capacity"].to_numpy(dtype=np.float64)
        weight = np.where(np.isfinite(cap), cap, unlimited) * digital_open
        load = load + digital_persons * weight / weight.sum()
    table = cols[is_open].copy()
    table["assigned_population"] = load[is_open]
    table = table.set_index("site")
    table.index.name = "id"
    return table[
        [
            "type",
            "option",
            "existing",
            "cost",
            "capacity",
            "standard",
            "assigned_population",
        ]
    ]


def _details(
    inst: Instance,
    model: BudgetModel,
    cols: pd.DataFrame,
    is_open: np.ndarray,
    physical_covered: np.ndarray,
    digital_share: np.ndarray,
    labels: pd.Series | None,
) -> dict[str, Any]:
    P = inst.population
    covered_share = np.clip(physical_covered + digital_share, 0.0, 1.0)
    by_origin = pd.DataFrame(
        {
            "population": P,
            "physical_share": physical_covered,
            "digital_share": digital_share,
            "covered_share": covered_share,
        },
        index=inst.tt.origin_ids,
    )
    digital_open = is_open & cols["type"].eq("digital").to_numpy()
    cap = cols["capacity"].to_numpy(dtype=np.float64)[digital_open]
    new = cols[is_open & ~cols["existing"].to_numpy()]
    details: dict[str, Any] = {
        "coverage_by_origin": by_origin,
        "counts": new["option"]
        .value_counts()
        .reindex(pd.unique(cols.loc[~cols["existing"], "option"]), fill_value=0),
        "digital": {
            "covered_population": float(digital_share @ P),
            "max_population": float(inst.digital_share @ P),
            "connected_population": inst.connected_population,
            "effectiveness": inst.effectiveness,
            "effective_capacity": float(
                inst.effectiveness
                * np.where(np.isfinite(cap), cap, inst.connected_population).sum()
            ),
        },
    }
    closed = cols["closable"].to_numpy(dtype=bool) & ~is_open
    details["closed"] = pd.Index(cols.loc[closed, "site"], name="id")
    if labels is not None:
        details["zones"] = fairness.zone_table(covered_share, P, labels)
    return details
