"""The budget model's arrays: columns, rows and lexicographic stages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from accessplan.optimize import fairness
from accessplan.optimize._mip import MipBuilder
from accessplan.optimize.budget.options import Instance
from accessplan.optimize.budget.reduction import Reduced


@dataclass
class _Stage:
    """One objective of the lexicographic order: ``sense`` ("max"/"min") of ``coef @ v``."""

    sense: str
    coef: dict[int, float] | np.ndarray
    name: str
    floor: float | None = None  # a known lower bound of the stage's optimal value

    def vector(self, n: int) -> np.ndarray:
        out = np.zeros(n)
        if isinstance(self.coef, dict):
            out[list(self.coef)] = list(self.coef.values())
        else:
            out[: len(self.coef)] = self.coef
        return out


@dataclass
class BudgetModel:
    """The array-built model and where each kind of variable sits in its column vector."""

    builder: MipBuilder
    red: Reduced
    x: np.ndarray  # model column of each inst column (-1 = existing or pooled hub)
    hubs: list[np.ndarray]  # pooled digital hub classes (inst columns, in site order)
    hub_var: np.ndarray  # model column counting the hubs of each class
    w: np.ndarray | None  # model column of each class-group pair (flow formulation)
    y: np.ndarray | None  # model column of each class (aggregated formulation; -1 = none)
    z: np.ndarray  # model column of each class's digital share (-1 = none)
    u: np.ndarray | None  # model column of each class's unserved share (median)
    coverage: sp.csr_array  # classes × model columns: covered share of each class
    stages: list[_Stage]
    start: np.ndarray | None = None
    closable: np.ndarray | None = None  # per inst column: an existing facility that may close


def group_bounds(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``keys`` grouped by key value.

    Parameters
    ----------
    keys
        Integer key (0 .. n-1) of each item.
    n
        Number of keys.

    Returns
    -------
    (order, bounds)
        ``order[bounds[g]:bounds[g + 1]]`` are the positions with key ``g``, in their order.
    """
    order = np.argsort(keys, kind="stable")
    return order, np.searchsorted(keys[order], np.arange(n + 1))


def build_model(
    inst: Instance,
    red: Reduced,
    objective: str,
    budget: float,
    unserved_minutes: float,
) -> BudgetModel:
    """Build the budget MILP as arrays (see :func:`~accessplan.optimize.budgeted_siting`).

    Parameters
    ----------
    inst
        The checked inputs.
    red
        The reduced index sets (site groups, origin classes, class–group pairs).
    objective
        ``"coverage"``, ``"median"`` or ``"maximin"`` (the zone rows are added later by
        :func:`add_equity`).
    budget
        Money for new sites (currency units).
    unserved_minutes
        Minutes charged per unserved person (median objective).

    Returns
    -------
    BudgetModel
        The model and its lexicographic stages, without a start.
    """
    cols = inst.columns
    b = MipBuilder()
    is_new = ~cols["existing"].to_numpy()
    is_digital = cols["type"].eq("digital").to_numpy()
    cost = cols["cost"].to_numpy(dtype=np.float64)
    capacity = cols["capacity"].to_numpy(dtype=np.float64)
    hubs = _hub_classes(cols, is_new & is_digital)
    pooled = np.zeros(len(cols), dtype=bool)
    for members in hubs:
        pooled[members] = True
    closable = cols["closable"].to_numpy(dtype=bool)
    binary = np.flatnonzero((is_new | closable) & ~pooled)  # a closable facility may close
    x = np.full(len(cols), -1, dtype=np.int64)
    x[binary] = b.add_columns(len(binary), 0.0, 1.0, integer=True)
    hub_var = b.add_columns(len(hubs), 0.0, [len(m) for m in hubs], integer=True)
    hub_first = np.array([m[0] for m in hubs], dtype=np.int64)
    unit_var = np.concatenate([x[binary], hub_var])
    unit_cost = np.concatenate([cost[binary], cost[hub_first]])
    b.add_rows(np.zeros(len(unit_var)), unit_var, unit_cost, -np.inf, budget)
    _one_option_per_site(b, cols, x, binary, hubs, hub_var)

    capacitated = bool(np.isfinite(capacity[~is_digital]).any())
    # group_x: groups × model columns, -1 at the x of each new column of the group
    phys_new = binary[~is_digital[binary]]
    group_x = sp.csr_array(
        (-np.ones(len(phys_new)), (red.group_of_column[phys_new], x[phys_new])),
        shape=(red.n_groups, b.n_cols),
    )
    n_classes = red.n_classes
    w = y = None
    if objective == "median" or capacitated:
        w = _flow_columns(b, inst, red, group_x, x, capacity)
    else:
        y = _aggregated_columns(b, red, group_x)
    hub_units = np.concatenate([binary[is_digital[binary]], hub_first])
    hub_vars = np.concatenate([x[binary[is_digital[binary]]], hub_var])
    z = _digital_columns(b, inst, red, hub_units, hub_vars, is_digital, capacity)
    u = b.add_columns(n_classes, 0.0, 1.0) if objective == "median" else None
    _class_rows(b, red, w, y, z, u)
    coverage = _coverage_matrix(b, red, w, y, z)
    cost_stage = _Stage(
        "min", dict(zip(unit_var.tolist(), unit_cost.tolist(), strict=True)), "cost"
    )
    stages = _stages(objective, red, b, w, u, coverage, cost_stage, unserved_minutes)
    if closable.any():  # among the cheapest plans, close as few facilities as possible
        stages.append(_Stage("max", {int(k): 1.0 for k in x[closable]}, "kept"))
    return BudgetModel(b, red, x, hubs, hub_var, w, y, z, u, coverage, stages, closable=closable)


def _hub_classes(cols: pd.DataFrame, new_digital: np.ndarray) -> list[np.ndarray]:
    """New digital columns pooled by (cost, capacity), when that is exact; else [].

    A digital hub serves the same people wherever it stands, so hubs of equal cost and
    capacity differ only in the site they take. When every such class may stand at the same
    set of sites D (once per site), choosing hubs per site is equivalent to choosing a
    number n of each class with ``sum n + (physical options opened in D) <= |D|``: any such
    numbers fit on the sites of D left free by the physical options. This removes the
    symmetry between interchangeable hubs from the search.
    """
    positions = np.flatnonzero(new_digital)
    if positions.size == 0:
        return []
    table = cols.iloc[positions]
    keys = pd.MultiIndex.from_arrays(
        [table["cost"].to_numpy(dtype=np.float64), table["capacity"].fillna(np.inf).to_numpy()]
    )
    codes, _ = pd.factorize(keys)
    classes = [positions[codes == c] for c in range(int(codes.max()) + 1)]
    sites = [cols["site"].to_numpy()[m] for m in classes]
    first = set(sites[0].tolist())
    for members in sites:
        if len(set(members.tolist())) != len(members) or set(members.tolist()) != first:
            return []
    return classes


def _one_option_per_site(
    b: MipBuilder,
    cols: pd.DataFrame,
    x: np.ndarray,
    binary: np.ndarray,
    hubs: list[np.ndarray],
    hub_var: np.ndarray,
) -> None:
    """At most one option per site; pooled hubs take the sites of D left free."""
    site = cols["site"].to_numpy()
    codes, _ = pd.factorize(site[binary])
    counts = np.bincount(codes) if len(codes) else np.zeros(0, dtype=np.int64)
    multi = counts[codes] > 1
    if multi.any():
        row, _ = pd.factorize(codes[multi])
        b.add_rows(row, x[binary[multi]], 1.0, -np.inf, np.ones(int(row.max()) + 1))
    if hubs:
        in_d = np.isin(site[binary], site[hubs[0]])
        b.add_rows(
            np.zeros(int(in_d.sum()) + len(hub_var)),
            np.concatenate([x[binary[in_d]], hub_var]),
            1.0,
            -np.inf,
            float(len(hubs[0])),
        )


def _flow_columns(
    b: MipBuilder,
    inst: Instance,
    red: Reduced,
    group_x: sp.csr_array,
    x: np.ndarray,
    capacity: np.ndarray,
) -> np.ndarray:
    """w_cg (0–1) per class-group pair, a capacity row per capacitated group, and
    w_cg <= sum of the group's x where the capacity row does not already close the group.

    The capacity row :math:`\\sum_c P_c w_{cg} \\le \\sum_k Q_k x_k` alone forces every
    flow of a closed group to 0; the linking rows :math:`w_{cg} \\le \\sum_k x_k` only
    tighten the relaxation, which matters where a capacity exceeds the persons the group
    can reach (or is unlimited) and little where capacities bind, where they mostly slow
    every node of the search down. They are kept only for such non-binding groups.
    """
    n_pairs = len(red.pair_class)
    w = b.add_columns(n_pairs, 0.0, 1.0)
    group_x = sp.csr_array(
        (group_x.data, group_x.indices, group_x.indptr), shape=(red.n_groups, b.n_cols)
    )
    cols = inst.columns
    physical = np.flatnonzero(red.group_of_column >= 0)
    groups = red.group_of_column[physical]
    cap = capacity[physical]
    # persons each group can reach: the big-M of an uncapacitated option sharing a group
    reachable = np.bincount(
        red.pair_group, weights=red.population[red.pair_class], minlength=red.n_groups
    )
    loose = np.zeros(red.n_groups, dtype=bool)
    loose[groups[~(cap < reachable[groups])]] = True
    has_new = np.diff(group_x.indptr) > 0
    linked = np.flatnonzero((has_new & loose)[red.pair_group])
    links = sp.csr_array(group_x[red.pair_group[linked]])
    own = sp.csr_array(
        (np.ones(len(linked)), (np.arange(len(linked)), w[linked])), shape=links.shape
    )
    b.add_block(links + own, np.full(len(linked), -np.inf), np.zeros(len(linked)))

    capped = np.zeros(red.n_groups, dtype=bool)
    capped[groups[np.isfinite(cap)]] = True
    fixed_cap = np.zeros(red.n_groups)
    existing = (cols["existing"].to_numpy() & ~cols["closable"].to_numpy(dtype=bool))[physical]
    np.add.at(
        fixed_cap, groups[existing], np.where(np.isfinite(cap), cap, reachable[groups])[existing]
    )
    row_of_group = np.cumsum(capped) - 1
    in_capped = capped[red.pair_group]
    rows = [row_of_group[red.pair_group[in_capped]]]
    cols_ = [w[in_capped]]
    vals = [red.population[red.pair_class[in_capped]]]
    new = ~existing & capped[groups]
    rows.append(row_of_group[groups[new]])
    cols_.append(x[physical[new]])
    vals.append(-np.minimum(cap[new], reachable[groups[new]]))
    b.add_rows(
        np.concatenate(rows),
        np.concatenate(cols_),
        np.concatenate(vals),
        -np.inf,
        fixed_cap[capped],
    )
    return w


def _aggregated_columns(b: MipBuilder, red: Reduced, group_x: sp.csr_array) -> np.ndarray:
    """Uncapacitated coverage: y_c <= sum of x over the new columns that reach class c."""
    reached = np.zeros(red.n_classes, dtype=bool)
    reached[red.pair_class] = True
    y = np.full(red.n_classes, -1, dtype=np.int64)
    y[reached] = b.add_columns(int(reached.sum()), 0.0, 1.0)
    group_x = sp.csr_array(
        (group_x.data, group_x.indices, group_x.indptr), shape=(red.n_groups, b.n_cols)
    )
    by_existing = np.zeros(red.n_classes, dtype=bool)
    existing_group = np.diff(group_x.indptr) == 0  # a group without new columns is existing
    by_existing[red.pair_class[existing_group[red.pair_group]]] = True
    linked = reached & ~by_existing
    row_of_class = np.cumsum(linked) - 1
    sel = linked[red.pair_class]
    incidence = sp.csr_array(
        (np.ones(int(sel.sum())), (row_of_class[red.pair_class[sel]], red.pair_group[sel])),
        shape=(int(linked.sum()), red.n_groups),
    )
    block = incidence @ group_x  # -1 per reaching new column (groups have disjoint columns)
    block.data = np.maximum(block.data, -1.0)
    own = sp.csr_array(
        (np.ones(int(linked.sum())), (np.arange(int(linked.sum())), y[linked])), shape=block.shape
    )
    b.add_block(block + own, np.full(block.shape[0], -np.inf), np.zeros(block.shape[0]))
    return y


def _digital_columns(
    b: MipBuilder,
    inst: Instance,
    red: Reduced,
    hub_units: np.ndarray,
    hub_vars: np.ndarray,
    is_digital: np.ndarray,
    capacity: np.ndarray,
) -> np.ndarray:
    """z_c in [0, a_c e] and sum_c P_c z_c <= e * (open digital capacity).

    ``hub_vars`` are the model columns counting new hubs like column ``hub_units``.
    """
    z = np.full(red.n_classes, -1, dtype=np.int64)
    if not is_digital.any():
        return z
    reach = red.digital_share > 0
    if not reach.any():
        return z
    z[reach] = b.add_columns(int(reach.sum()), 0.0, red.digital_share[reach])
    e = inst.effectiveness
    cap = np.where(np.isfinite(capacity), capacity, inst.connected_population)
    stays = inst.columns["existing"].to_numpy() & ~inst.columns["closable"].to_numpy(dtype=bool)
    fixed = float(e * cap[is_digital & stays].sum())
    b.add_rows(
        np.zeros(int(reach.sum()) + len(hub_vars)),
        np.concatenate([z[reach], hub_vars]),
        np.concatenate([red.population[reach], -e * cap[hub_units]]),
        -np.inf,
        fixed,
    )
    return z


def _class_rows(
    b: MipBuilder,
    red: Reduced,
    w: np.ndarray | None,
    y: np.ndarray | None,
    z: np.ndarray,
    u: np.ndarray | None,
) -> None:
    """Each person's need is met once: physical + digital (+ unserved) shares of a class."""
    rows, cols = [], []
    if w is not None:
        rows.append(red.pair_class)
        cols.append(w)
    if y is not None:
        has = y >= 0
        rows.append(np.flatnonzero(has))
        cols.append(y[has])
    has_z = z >= 0
    rows.append(np.flatnonzero(has_z))
    cols.append(z[has_z])
    if u is not None:
        rows.append(np.arange(red.n_classes))
        cols.append(u)
    row = np.concatenate(rows)
    col = np.concatenate(cols)
    if u is not None:
        b.add_rows(row, col, 1.0, np.ones(red.n_classes), np.ones(red.n_classes))
        return
    terms = np.bincount(row, minlength=red.n_classes)
    several = terms > 1  # a single share is bounded by its own column bound
    keep = several[row]
    row_of_class = np.cumsum(several) - 1
    b.add_rows(row_of_class[row[keep]], col[keep], 1.0, -np.inf, np.ones(int(several.sum())))


def _coverage_matrix(
    b: MipBuilder, red: Reduced, w: np.ndarray | None, y: np.ndarray | None, z: np.ndarray
) -> sp.csr_array:
    rows, cols = [], []
    if w is not None:
        rows.append(red.pair_class[red.pair_within])
        cols.append(w[red.pair_within])
    if y is not None:
        rows.append(np.flatnonzero(y >= 0))
        cols.append(y[y >= 0])
    rows.append(np.flatnonzero(z >= 0))
    cols.append(z[z >= 0])
    row = np.concatenate(rows)
    return sp.csr_array(
        (np.ones(row.size), (row, np.concatenate(cols))), shape=(red.n_classes, b.n_cols)
    )


def _stages(
    objective: str,
    red: Reduced,
    b: MipBuilder,
    w: np.ndarray | None,
    u: np.ndarray | None,
    coverage: sp.csr_array,
    cost_stage: _Stage,
    unserved_minutes: float,
) -> list[_Stage]:
    if objective == "median":
        assert w is not None and u is not None
        c = np.zeros(b.n_cols)
        c[w] = red.population[red.pair_class] * red.pair_minutes
        c[u] = red.population * unserved_minutes
        floor = _person_minutes_floor(red, unserved_minutes)
        return [_Stage("min", c, "person_minutes", floor), cost_stage]
    covered = red.population @ coverage
    return [_Stage("max", np.asarray(covered).ravel(), "covered_population"), cost_stage]


def _person_minutes_floor(red: Reduced, unserved_minutes: float) -> float:
    """Lower bound on person-minutes: the share a_c e may be met digitally (0 minutes), the
    rest travels at least to the nearest reachable site or is charged the unserved minutes."""
    nearest = np.full(red.n_classes, float(unserved_minutes))
    np.minimum.at(nearest, red.pair_class, red.pair_minutes)
    return float((red.population * (1.0 - red.digital_share) * nearest).sum())


def add_equity(
    model: BudgetModel,
    labels: pd.Series,
    objective: str,
    min_zone_coverage: Any,
    unmet_spread: float | None,
) -> None:
    """Add the zone rows of the equity options to ``model`` (in place).

    Parameters
    ----------
    model
        The built model; its start, if any, is extended with the new columns.
    labels
        Zone label per origin.
    objective
        ``"maximin"`` adds the worst-zone column and puts its stage first.
    min_zone_coverage, unmet_spread
        As for :func:`~accessplan.optimize.budgeted_siting`; None = no such rows.

    Notes
    -----
    The rows act on the class coverage: origin classes never mix zones.
    """
    red, b = model.red, model.builder
    assert red.zone_code is not None
    _, uniques = pd.factorize(labels, sort=True)
    class_labels = pd.Series(np.asarray(uniques)[red.zone_code])
    Z, zones = fairness.zone_share_matrix(red.population, class_labels)
    C = sp.csr_array(Z @ model.coverage)
    if min_zone_coverage is not None:
        A, lo, up = fairness.min_zone_coverage_rows(C, zones, min_zone_coverage)
        b.add_block(A, lo, up)
    if unmet_spread is not None:
        A, lo, up = fairness.unmet_spread_rows(C, unmet_spread)
        b.add_columns(2, 0.0, 1.0)
        b.add_block(A, lo, up)
    if objective == "maximin":
        A, lo, up = fairness.maximin_rows(sp.csr_array(C, shape=(C.shape[0], b.n_cols)))
        (worst,) = b.add_columns(1, 0.0, 1.0)
        b.add_block(A, lo, up)
        model.stages.insert(0, _Stage("max", {int(worst): 1.0}, "worst_zone"))
    if model.start is not None:
        model.start = _equity_start(model, C, unmet_spread, objective)


def _equity_start(
    model: BudgetModel, C: sp.csr_array, unmet_spread: float | None, objective: str
) -> np.ndarray:
    """Extend the start with the spread and worst-zone columns it implies."""
    assert model.start is not None
    start = model.start
    cov = C @ start[: C.shape[1]] if C.shape[0] else np.zeros(0)
    extra = []
    if unmet_spread is not None:
        unmet = 1.0 - cov
        extra += [float(unmet.max(initial=0.0)), float(unmet.min(initial=0.0))]
    if objective == "maximin":
        extra.append(float(np.clip(cov.min(initial=1.0), 0.0, 1.0)))
    return np.concatenate([start, np.clip(extra, 0.0, 1.0)])
