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

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pulp
import scipy.sparse as sp

from accessplan.errors import AccessplanError, InfeasibleError, InputError, SolverError
from accessplan.optimize import fairness
from accessplan.optimize._data import check_time_limit as _check_time_limit
from accessplan.optimize._data import unserved_minutes as unserved_minutes_for
from accessplan.optimize._solve import (
    LinearModel,
    SolveInfo,
    highs_lp,
    is_feasible,
    relative_gap,
    settle,
    solve_model,
    with_bound,
)
from accessplan.optimize.plan import Plan
from accessplan.supply import PHYSICAL_TYPES, SUPPLY_TYPES
from accessplan.traveltimes import TravelTimes, align_values

__all__ = ["SupplyOption", "budget_sweep", "budgeted_siting"]

OBJECTIVES = ("coverage", "median", "maximin")
_EPS = 1e-9


@dataclass(frozen=True, eq=False)
class SupplyOption:
    """One kind of supply that a candidate site can host.

    Parameters
    ----------
    type
        ``"clinic"``, ``"robotic"`` or ``"digital"`` (see :mod:`accessplan.supply`).
    cost
        Cost of opening one (currency units, >= 0); per-site overrides through
        ``site_costs`` of :func:`budgeted_siting`.
    capacity
        Persons one site of this option can serve (> 0); None = uncapacitated. For a digital
        hub, persons it can consult, of whom the share ``effectiveness`` have their need
        resolved.
    standard_minutes
        Service standard: a physical site covers the origins within this many minutes.
        Required for ``clinic`` and ``robotic``; ignored for ``digital``.
    digital_access
        Digital only: connected share :math:`a_i` (0–1) of each origin's population, one
        number or a Series indexed by origin id.
    effectiveness
        Digital only: share :math:`e` (0–1) of the needs a digital consultation resolves.
    name
        Label of the option (default: the type); give distinct names to two options of the
        same type (e.g. a small and a large clinic).
    """

    type: str
    cost: float
    capacity: float | None = None
    standard_minutes: float | None = None
    digital_access: float | pd.Series = 1.0
    effectiveness: float = 1.0
    name: str | None = field(default=None)

    def __post_init__(self) -> None:
        if self.type not in SUPPLY_TYPES:
            raise InputError(
                f"SupplyOption type {self.type!r} is unknown; use one of {list(SUPPLY_TYPES)}."
            )
        label = self.label
        if not (np.isfinite(self.cost) and self.cost >= 0):
            raise InputError(
                f"SupplyOption {label!r}: cost is {self.cost}; give a cost >= 0 (currency units)."
            )
        if self.capacity is not None and not (np.isfinite(self.capacity) and self.capacity > 0):
            raise InputError(
                f"SupplyOption {label!r}: capacity is {self.capacity}; give a number of persons "
                "> 0, or None for an uncapacitated option."
            )
        if self.type in PHYSICAL_TYPES:
            std = self.standard_minutes
            if std is None or not (np.isfinite(std) and std >= 0):
                raise InputError(
                    f"SupplyOption {label!r}: a physical option needs standard_minutes (the "
                    f"service standard in minutes, >= 0); got {std}."
                )
        if not 0.0 <= self.effectiveness <= 1.0:
            raise InputError(
                f"SupplyOption {label!r}: effectiveness is {self.effectiveness}; give a share "
                "between 0 and 1."
            )
        if np.isscalar(self.digital_access) and not 0.0 <= float(self.digital_access) <= 1.0:  # type: ignore[arg-type]
            raise InputError(
                f"SupplyOption {label!r}: digital_access is {self.digital_access}; give a share "
                "between 0 and 1 (or a Series of shares per origin)."
            )

    @property
    def label(self) -> str:
        """The option's name, or its type when unnamed."""
        return self.name if self.name is not None else self.type

    @property
    def is_digital(self) -> bool:
        return self.type == "digital"


# ---------------------------------------------------------------------------------- inputs
@dataclass
class _Instance:
    """Checked inputs: one row per site–option column (new) or existing facility."""

    tt: TravelTimes
    population: np.ndarray
    columns: pd.DataFrame
    digital_share: np.ndarray
    effectiveness: float
    connected_population: float


def _check_options(options: Sequence[SupplyOption]) -> list[SupplyOption]:
    options = list(options)
    if not options:
        raise InputError("options is empty; give at least one SupplyOption.")
    for opt in options:
        if not isinstance(opt, SupplyOption):
            raise InputError(
                f"options must be SupplyOption objects; got {type(opt).__name__} ({opt!r})."
            )
    labels = [o.label for o in options]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise InputError(f"options {dup} repeat; give each SupplyOption a distinct name.")
    return options


def _digital_parameters(
    options: list[SupplyOption], origin_ids: pd.Index
) -> tuple[np.ndarray, float]:
    """Connected share a_i per origin and effectiveness e, shared by all digital options."""
    digital = [o for o in options if o.is_digital]
    if not digital:
        return np.zeros(len(origin_ids)), 0.0
    first = digital[0]
    access = align_values(first.digital_access, origin_ids, f"digital_access of {first.label!r}")
    if (access > 1).any():
        at = origin_ids[np.flatnonzero(access > 1)[0]]
        raise InputError(
            f"digital_access of {first.label!r} is above 1 for origin {at!r}; give shares 0–1."
        )
    for other in digital[1:]:
        same_e = other.effectiveness == first.effectiveness
        other_access = align_values(
            other.digital_access, origin_ids, f"digital_access of {other.label!r}"
        )
        if not (same_e and np.array_equal(other_access, access)):
            raise InputError(
                f"digital options {first.label!r} and {other.label!r} differ in digital_access "
                "or effectiveness; these describe the population, so give all digital options "
                "the same values."
            )
    return access, float(first.effectiveness)


def _existing_table(
    existing: pd.DataFrame | Iterable[Hashable] | None,
    tt: TravelTimes,
    options: list[SupplyOption],
) -> pd.DataFrame:
    cols = ["site", "option", "type", "cost", "capacity", "standard", "existing", "dest"]
    if existing is None:
        return pd.DataFrame(columns=cols)
    if isinstance(existing, pd.DataFrame):
        table = existing.copy()
        if "id" in table.columns:
            table = table.set_index("id")
    else:
        table = pd.DataFrame(index=pd.Index(list(existing)))
    if not table.index.is_unique:
        dup = table.index[table.index.duplicated()][:5].tolist()
        raise InputError(f"existing: ids {dup} repeat; list each existing facility once.")
    types = table["type"] if "type" in table.columns else pd.Series("clinic", index=table.index)
    unknown = ~types.isin(SUPPLY_TYPES)
    if unknown.any():
        at = types.index[unknown.to_numpy()][0]
        raise InputError(
            f"existing: facility {at!r} has type {types[at]!r}; use one of {list(SUPPLY_TYPES)}."
        )
    capacity = _optional_column(table, "capacity", "existing")
    standard = _optional_column(table, "standard_minutes", "existing")
    default_std = {o.type: o.standard_minutes for o in reversed(options) if not o.is_digital}
    rows = []
    for pos, site in enumerate(table.index):
        kind = str(types.iloc[pos])
        std = standard[pos]
        if kind != "digital" and np.isnan(std):
            if kind not in default_std:
                raise InputError(
                    f"existing: facility {site!r} is a {kind} but no standard_minutes is given "
                    f"and no {kind} option defines one; add a 'standard_minutes' column."
                )
            std = float(default_std[kind])  # type: ignore[arg-type]
        dest = tt.destination_ids.get_indexer([site])[0]
        if kind != "digital" and dest < 0:
            raise InputError(
                f"existing: facility {site!r} is not a destination of the travel times; "
                "compute travel times to it."
            )
        if kind == "digital" and not any(o.is_digital for o in options):
            raise InputError(
                f"existing: facility {site!r} is digital but no digital SupplyOption describes "
                "digital_access and effectiveness; add one (its cost does not matter here)."
            )
        rows.append((site, f"existing {kind}", kind, 0.0, capacity[pos], std, True, dest))
    return pd.DataFrame(rows, columns=cols)


def _optional_column(table: pd.DataFrame, col: str, where: str) -> np.ndarray:
    if col not in table.columns:
        return np.full(len(table), np.nan)
    values = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=np.float64)
    bad = (values < 0) | np.isinf(values)
    if col == "capacity":
        bad |= values == 0
    if bad.any():
        at = table.index[np.flatnonzero(bad)[0]]
        raise InputError(
            f"{where}: {col} of {at!r} is {values[np.flatnonzero(bad)[0]]}; give a positive "
            f"number (NaN for none)."
        )
    return values


def _candidate_ids(
    candidates: Iterable[Hashable] | None, tt: TravelTimes, existing_ids: pd.Index
) -> pd.Index:
    if candidates is None:
        return tt.destination_ids.difference(existing_ids, sort=False)
    ids = pd.Index(list(candidates))
    if not ids.is_unique:
        raise InputError(f"candidates repeat: {ids[ids.duplicated()][:5].tolist()}.")
    missing = ids.difference(tt.destination_ids)
    if len(missing):
        raise InputError(
            f"candidates {missing[:5].tolist()} are not destinations of the travel times; "
            "compute travel times to them."
        )
    clash = ids.intersection(existing_ids)
    if len(clash):
        raise InputError(
            f"candidates {clash[:5].tolist()} are existing facilities; existing sites stay "
            "open, so leave them out of the candidates."
        )
    return ids


def _new_columns(
    cand: pd.Index,
    tt: TravelTimes,
    options: list[SupplyOption],
    site_costs: pd.DataFrame | None,
) -> pd.DataFrame:
    labels = [o.label for o in options]
    costs = np.tile(np.array([o.cost for o in options], dtype=np.float64), (len(cand), 1))
    if site_costs is not None:
        costs = _apply_site_costs(costs, cand, labels, site_costs)
    allowed = np.isfinite(costs)
    site_pos, opt_pos = np.nonzero(allowed)
    return pd.DataFrame(
        {
            "site": cand.to_numpy()[site_pos],
            "option": np.array(labels, dtype=object)[opt_pos],
            "type": np.array([o.type for o in options], dtype=object)[opt_pos],
            "cost": costs[site_pos, opt_pos],
            "capacity": np.array([np.nan if o.capacity is None else o.capacity for o in options])[
                opt_pos
            ],
            "standard": np.array(
                [np.nan if o.is_digital else o.standard_minutes for o in options], dtype=float
            )[opt_pos],
            "existing": False,
            "dest": tt.destination_ids.get_indexer(cand)[site_pos],
        }
    )


def _apply_site_costs(
    costs: np.ndarray, cand: pd.Index, labels: list[str], site_costs: pd.DataFrame
) -> np.ndarray:
    if not isinstance(site_costs, pd.DataFrame):
        raise InputError(
            "site_costs must be a DataFrame indexed by candidate id with one column per option "
            "name (NaN = the option's cost, inf = option not allowed at that site)."
        )
    unknown_cols = [c for c in site_costs.columns if c not in labels]
    if unknown_cols:
        raise InputError(
            f"site_costs columns {unknown_cols} are not option names; use names among {labels}."
        )
    unknown_rows = site_costs.index.difference(cand)
    if len(unknown_rows):
        raise InputError(
            f"site_costs rows {unknown_rows[:5].tolist()} are not candidate sites; drop them "
            "or add them to the candidates."
        )
    costs = costs.copy()
    rows = cand.get_indexer(site_costs.index)
    for col in site_costs.columns:
        values = pd.to_numeric(site_costs[col], errors="coerce").to_numpy(dtype=np.float64)
        if (values < 0).any():
            at = site_costs.index[np.flatnonzero(values < 0)[0]]
            raise InputError(
                f"site_costs: cost of {col!r} at site {at!r} is negative; costs must be >= 0."
            )
        given = ~np.isnan(values)
        costs[rows[given], labels.index(col)] = values[given]
    return costs


def _prepare(
    tt: TravelTimes,
    demand: pd.Series | float,
    options: Sequence[SupplyOption],
    budget: float,
    candidates: Iterable[Hashable] | None,
    existing: pd.DataFrame | Iterable[Hashable] | None,
    site_costs: pd.DataFrame | None,
) -> _Instance:
    opts = _check_options(options)
    population = align_values(demand, tt.origin_ids, "demand")
    access, effectiveness = _digital_parameters(opts, tt.origin_ids)
    old = _existing_table(existing, tt, opts)
    cand = _candidate_ids(candidates, tt, pd.Index(old["site"]))
    new = _new_columns(cand, tt, opts, site_costs)
    _check_budget(budget, new)
    columns = pd.concat([old, new], ignore_index=True) if len(old) else new
    columns["existing"] = columns["existing"].astype(bool)
    return _Instance(
        tt=tt,
        population=population,
        columns=columns.reset_index(drop=True),
        digital_share=access * effectiveness,
        effectiveness=effectiveness,
        connected_population=float(access @ population),
    )


def _check_budget(budget: float, new: pd.DataFrame) -> None:
    if not (np.isfinite(budget) and budget >= 0):
        raise InputError(f"budget is {budget}; give a finite amount >= 0 (currency units).")
    if new.empty:
        raise InputError(
            "no candidate site can host any option (no candidates, or every cost is inf in "
            "site_costs); give candidate sites."
        )
    cheapest = new.loc[new["cost"].idxmin()]
    if budget < cheapest["cost"]:
        raise InputError(
            f"budget {budget:g} is below the cheapest option ({cheapest['option']!r} at site "
            f"{cheapest['site']!r}, cost {cheapest['cost']:g}); raise the budget to at least "
            f"{cheapest['cost']:g} or add cheaper options."
        )


# ---------------------------------------------------------------------------------- pairs
@dataclass
class _Pairs:
    """Reachable (origin, physical column) pairs within each column's reach."""

    origin: np.ndarray
    column: np.ndarray
    minutes: np.ndarray
    within_standard: np.ndarray


def _physical_pairs(inst: _Instance, reach: np.ndarray) -> _Pairs:
    """Vectorised: one sparse column slice for all physical columns, filtered by reach."""
    cols = inst.columns
    physical = np.flatnonzero(~cols["type"].eq("digital").to_numpy())
    csc = inst.tt.matrix.tocsc()
    sub = sp.coo_array(csc[:, cols["dest"].to_numpy()[physical]])
    column = physical[sub.col]
    keep = (sub.data <= reach[column]) & (inst.population[sub.row] > 0)
    standard = cols["standard"].to_numpy(dtype=np.float64)
    origin, column, minutes = sub.row[keep], column[keep], sub.data[keep]
    order = np.lexsort((column, minutes, origin))
    origin, column, minutes = origin[order], column[order], minutes[order]
    return _Pairs(origin, column, minutes, minutes <= standard[column])


# ---------------------------------------------------------------------------------- reduction
@dataclass
class _Reduced:
    """The model's index sets after the exact reductions.

    *Site groups* ``g``: the physical columns of one site with the same reach and standard
    (a clinic and a robotic unit with the same standard at one candidate share every pair);
    each existing facility is a group of its own. *Origin classes* ``c``: populated origins
    with the same pairs (groups, within-standard flags and, for the median objective,
    minutes), the same digital share and the same zone; their population is summed.
    """

    group_of_column: np.ndarray  # per column; -1 for digital columns
    n_groups: int
    class_of_origin: np.ndarray  # per origin; -1 for origins without population
    population: np.ndarray  # persons per class
    digital_share: np.ndarray  # a_i e per class
    zone_code: np.ndarray | None  # zone code per class
    pair_class: np.ndarray  # class-group pairs, sorted by class then group
    pair_group: np.ndarray
    pair_minutes: np.ndarray
    pair_within: np.ndarray

    @property
    def n_classes(self) -> int:
        return len(self.population)

    def pair_position(self, origin_class: np.ndarray, group: np.ndarray) -> np.ndarray:
        """Position of the class-group pair of each (class, group); -1 where there is none."""
        keys = self.pair_class.astype(np.int64) * self.n_groups + self.pair_group
        wanted = origin_class.astype(np.int64) * self.n_groups + group
        pos = np.searchsorted(keys, wanted)
        pos = np.minimum(pos, max(len(keys) - 1, 0))
        found = (len(keys) > 0) & (keys[pos] == wanted) if len(keys) else np.zeros(0, bool)
        return np.where(found, pos, -1)


def _site_groups(inst: _Instance, reach: np.ndarray) -> tuple[np.ndarray, int]:
    cols = inst.columns
    physical = ~cols["type"].eq("digital").to_numpy()
    keys = pd.DataFrame(
        {
            "site": cols["site"].to_numpy(),
            "reach": reach,
            "standard": cols["standard"].to_numpy(dtype=np.float64),
        }
    )[physical]
    group = np.full(len(cols), -1, dtype=np.int64)
    if physical.any():
        group[physical] = keys.groupby(["site", "reach", "standard"], sort=False).ngroup()
    return group, int(group.max() + 1) if physical.any() else 0


_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _mix(values: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of ``values ^ seed`` (uint64, wrapping arithmetic)."""
    v = values.astype(np.uint64) ^ np.uint64(seed)
    v = v + _MIX[0]
    v = (v ^ (v >> np.uint64(30))) * _MIX[1]
    v = (v ^ (v >> np.uint64(27))) * _MIX[2]
    return v ^ (v >> np.uint64(31))


def _reduce(
    inst: _Instance,
    pairs: _Pairs,
    reach: np.ndarray,
    zone_codes: np.ndarray | None,
    minutes_matter: bool,
) -> _Reduced:
    """Site groups and origin classes (exact: see :class:`_Reduced`)."""
    group_of_column, n_groups = _site_groups(inst, reach)
    # one pair per (origin, group): columns of one group share minutes
    group = group_of_column[pairs.column]
    key = pairs.origin.astype(np.int64) * max(n_groups, 1) + group
    key, first = np.unique(key, return_index=True)
    origin, minutes, within = (
        pairs.origin[first],
        pairs.minutes[first],
        pairs.within_standard[first],
    )
    group = group[first]
    populated = inst.population > 0
    classes = _origin_classes(
        origin, group, minutes if minutes_matter else None, within, inst, zone_codes
    )
    classes = classes if classes is not None else np.where(populated, np.cumsum(populated) - 1, -1)
    n_classes = int(classes.max() + 1) if populated.any() else 0
    reps = np.full(n_classes, -1, dtype=np.int64)
    members = np.flatnonzero(populated)
    reps[classes[members[::-1]]] = members[::-1]  # first member of each class
    rep_pair = reps[classes[origin]] == origin
    return _Reduced(
        group_of_column=group_of_column,
        n_groups=n_groups,
        class_of_origin=classes,
        population=np.bincount(
            classes[members], weights=inst.population[members], minlength=n_classes
        ),
        digital_share=inst.digital_share[reps],
        zone_code=None if zone_codes is None else zone_codes[reps],
        pair_class=classes[origin[rep_pair]],
        pair_group=group[rep_pair],
        pair_minutes=minutes[rep_pair],
        pair_within=within[rep_pair],
    )


def _origin_classes(
    origin: np.ndarray,
    group: np.ndarray,
    minutes: np.ndarray | None,
    within: np.ndarray,
    inst: _Instance,
    zone_codes: np.ndarray | None,
) -> np.ndarray | None:
    """Class of every populated origin (-1 for the others), numbered in order of first member.

    Origins are compared through two 64-bit hashes of their pair sets and origin-level
    values; the classes are then checked exactly, and None is returned (no merging) in the
    unlikely event of a hash collision.
    """
    n_orig = len(inst.population)
    token = group.astype(np.uint64) * np.uint64(2) + within.astype(np.uint64)
    if minutes is not None:
        token = token ^ _mix(minutes.astype(np.float64).view(np.uint64), 7)
    hashes = []
    for seed in (1, 2):
        h = _mix(token, seed)
        per_origin = np.zeros(n_orig, dtype=np.uint64)
        starts = np.flatnonzero(np.r_[True, origin[1:] != origin[:-1]]) if origin.size else []
        if len(starts):
            per_origin[origin[starts]] = np.add.reduceat(h, starts)
        share_bits = np.ascontiguousarray(inst.digital_share, dtype=np.float64).view(np.uint64)
        per_origin += _mix(share_bits, 11 + seed)
        per_origin += _mix(np.bincount(origin, minlength=n_orig).astype(np.uint64), 17 + seed)
        if zone_codes is not None:
            per_origin += _mix(zone_codes.astype(np.uint64), 23 + seed)
        hashes.append(per_origin)
    populated = np.flatnonzero(inst.population > 0)
    signature = np.stack([hashes[0][populated], hashes[1][populated]], axis=1)
    _, first, inverse = np.unique(signature, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    classes = np.full(n_orig, -1, dtype=np.int64)
    classes[populated] = rank[inverse]
    if not _classes_are_exact(classes, origin, group, minutes, within, inst, zone_codes):
        return None
    return classes


def _classes_are_exact(
    classes: np.ndarray,
    origin: np.ndarray,
    group: np.ndarray,
    minutes: np.ndarray | None,
    within: np.ndarray,
    inst: _Instance,
    zone_codes: np.ndarray | None,
) -> bool:
    """Every member of a class has the same pairs and origin values as the class's others."""
    populated = np.flatnonzero(inst.population > 0)
    n_classes = int(classes.max() + 1) if populated.size else 0
    counts = np.bincount(origin, minlength=len(classes))[populated]
    per_class = np.full(n_classes, -1, dtype=np.int64)
    per_class[classes[populated]] = counts
    if not np.array_equal(per_class[classes[populated]], counts):
        return False
    for values in (inst.digital_share, zone_codes):
        if values is None:
            continue
        first = np.zeros(n_classes, dtype=np.asarray(values).dtype)
        first[classes[populated]] = np.asarray(values)[populated]
        if not np.array_equal(first[classes[populated]], np.asarray(values)[populated]):
            return False
    fields = [classes[origin], group, within.astype(np.int64)]
    if minutes is not None:
        fields.append(minutes.astype(np.float64).view(np.int64))
    distinct = np.unique(np.stack(fields, axis=1), axis=0).shape[0] if origin.size else 0
    return distinct == int(per_class.sum())


# ---------------------------------------------------------------------------------- model
class _Builder:
    """Columns and constraint rows of an array-built model, added block by block."""

    def __init__(self) -> None:
        self.lower: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []
        self.n_cols = 0
        self.blocks: list[sp.csr_array] = []
        self.row_lower: list[np.ndarray] = []
        self.row_upper: list[np.ndarray] = []

    def add_columns(self, count: int, lower: Any, upper: Any, integer: bool = False) -> np.ndarray:
        start = self.n_cols
        self.lower.append(np.broadcast_to(np.asarray(lower, dtype=np.float64), (count,)).copy())
        self.upper.append(np.broadcast_to(np.asarray(upper, dtype=np.float64), (count,)).copy())
        self.integer.append(np.full(count, integer))
        self.n_cols += count
        return np.arange(start, start + count)

    def add_rows(self, rows: Any, cols: Any, vals: Any, lower: Any, upper: Any) -> None:
        """Rows from (local row, column, value) triplets; duplicates are summed."""
        lower = np.asarray(lower, dtype=np.float64)
        upper = np.asarray(upper, dtype=np.float64)
        sized = [v.size for v in (lower, upper) if v.ndim]
        n_rows = sized[0] if sized else 1
        lower = np.broadcast_to(lower, (n_rows,)).copy()
        upper = np.broadcast_to(upper, (n_rows,)).copy()
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        vals = np.broadcast_to(np.asarray(vals, dtype=np.float64), rows.shape)
        block = sp.csr_array((vals, (rows, cols)), shape=(n_rows, self.n_cols))
        self.add_block(block, lower, upper)

    def add_block(self, block: sp.csr_array, lower: np.ndarray, upper: np.ndarray) -> None:
        if block.shape[0] == 0:
            return
        self.blocks.append(sp.csr_array(block))
        self.row_lower.append(np.asarray(lower, dtype=np.float64))
        self.row_upper.append(np.asarray(upper, dtype=np.float64))

    def matrix(self) -> sp.csr_array:
        blocks = [
            sp.csr_array((b.data, b.indices, b.indptr), shape=(b.shape[0], self.n_cols))
            for b in self.blocks
        ]
        if not blocks:
            return sp.csr_array((0, self.n_cols))
        return sp.vstack(blocks, format="csr")

    def linear_model(self, name: str) -> LinearModel:
        return LinearModel(
            name=name,
            sense="max",
            c=np.zeros(self.n_cols),
            A=self.matrix(),
            row_lower=np.concatenate(self.row_lower) if self.row_lower else np.zeros(0),
            row_upper=np.concatenate(self.row_upper) if self.row_upper else np.zeros(0),
            col_lower=np.concatenate(self.lower),
            col_upper=np.concatenate(self.upper),
            integer=np.concatenate(self.integer),
        )


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
class _Model:
    """The array-built model and where each kind of variable sits in its column vector."""

    builder: _Builder
    red: _Reduced
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


def _group(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    return order, np.searchsorted(keys[order], np.arange(n + 1))


def _build(
    inst: _Instance,
    red: _Reduced,
    objective: str,
    budget: float,
    unserved_minutes: float,
) -> _Model:
    cols = inst.columns
    b = _Builder()
    is_new = ~cols["existing"].to_numpy()
    is_digital = cols["type"].eq("digital").to_numpy()
    cost = cols["cost"].to_numpy(dtype=np.float64)
    capacity = cols["capacity"].to_numpy(dtype=np.float64)
    hubs = _hub_classes(cols, is_new & is_digital)
    pooled = np.zeros(len(cols), dtype=bool)
    for members in hubs:
        pooled[members] = True
    binary = np.flatnonzero(is_new & ~pooled)
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
    return _Model(b, red, x, hubs, hub_var, w, y, z, u, coverage, stages)


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
    b: _Builder,
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
    b: _Builder,
    inst: _Instance,
    red: _Reduced,
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
    existing = cols["existing"].to_numpy()[physical]
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


def _aggregated_columns(b: _Builder, red: _Reduced, group_x: sp.csr_array) -> np.ndarray:
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
    b: _Builder,
    inst: _Instance,
    red: _Reduced,
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
    existing = inst.columns["existing"].to_numpy()
    fixed = float(e * cap[is_digital & existing].sum())
    b.add_rows(
        np.zeros(int(reach.sum()) + len(hub_vars)),
        np.concatenate([z[reach], hub_vars]),
        np.concatenate([red.population[reach], -e * cap[hub_units]]),
        -np.inf,
        fixed,
    )
    return z


def _class_rows(
    b: _Builder,
    red: _Reduced,
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
    b: _Builder, red: _Reduced, w: np.ndarray | None, y: np.ndarray | None, z: np.ndarray
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
    red: _Reduced,
    b: _Builder,
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


def _person_minutes_floor(red: _Reduced, unserved_minutes: float) -> float:
    """Lower bound on person-minutes: the share a_c e may be met digitally (0 minutes), the
    rest travels at least to the nearest reachable site or is charged the unserved minutes."""
    nearest = np.full(red.n_classes, float(unserved_minutes))
    np.minimum.at(nearest, red.pair_class, red.pair_minutes)
    return float((red.population * (1.0 - red.digital_share) * nearest).sum())


# ---------------------------------------------------------------------------------- start
def _greedy_start(inst: _Instance, model: _Model, budget: float) -> np.ndarray:
    """A feasible plan to start the solver from: existing sites serve first, then new options
    are opened by best persons served per unit of cost while the budget allows.

    Flows fill each open group's capacity in class order; digital hubs serve the connected
    share of the persons still unserved.
    """
    red, cols = model.red, inst.columns
    P = red.population
    remaining = P.copy()
    digital_left = red.digital_share * P
    flow = np.zeros(len(red.pair_class))
    digital = np.zeros(red.n_classes)
    order, bounds = _group(red.pair_group, red.n_groups)
    e = inst.effectiveness
    capacity = cols["capacity"].to_numpy(dtype=np.float64)
    is_digital = cols["type"].eq("digital").to_numpy()
    hub_capacity = e * np.where(np.isfinite(capacity), capacity, inst.connected_population)
    phys_capacity = np.where(np.isfinite(capacity), capacity, np.inf)

    def serve_group(g: int, cap: float) -> None:
        members = order[bounds[g] : bounds[g + 1]]
        take = _fill(remaining[red.pair_class[members]], cap)
        flow[members] += take
        remaining[red.pair_class[members]] -= take
        np.minimum(digital_left, remaining, out=digital_left)

    def serve_digital(cap: float) -> None:
        take = _fill(np.minimum(digital_left, remaining), cap)
        digital[:] += take
        remaining[:] -= take
        digital_left[:] -= take

    existing = cols["existing"].to_numpy()
    for k in np.flatnonzero(existing & ~is_digital):
        serve_group(int(red.group_of_column[k]), phys_capacity[k])
    if model.z.max(initial=-1) >= 0:
        serve_digital(float(hub_capacity[existing & is_digital].sum()))

    new = np.flatnonzero(~existing)
    site, _ = pd.factorize(cols["site"].to_numpy()[new])
    site_used = np.zeros(int(site.max()) + 1 if len(site) else 0, dtype=bool)
    opened = np.zeros(len(new), dtype=bool)
    cost = cols["cost"].to_numpy(dtype=np.float64)[new]
    reach = sp.csr_array(
        (np.ones(len(red.pair_class)), (red.pair_group, red.pair_class)),
        shape=(red.n_groups, red.n_classes),
    )
    has_z = model.z.max(initial=-1) >= 0
    left = float(budget)
    while True:
        reachable = np.append(reach @ remaining, 0.0)  # last: digital columns (no group)
        gain = np.where(
            is_digital[new],
            np.minimum(hub_capacity[new], np.minimum(digital_left, remaining).sum())
            if has_z
            else 0.0,
            np.minimum(phys_capacity[new], reachable[red.group_of_column[new]]),
        )
        allowed = ~opened & ~site_used[site] & (cost <= left + 1e-9) & (gain > 1e-9)
        if not allowed.any():
            break
        ratio = np.where(allowed, gain / np.maximum(cost, 1e-12), -np.inf)
        best = int(np.argmax(ratio))
        opened[best] = True
        site_used[site[best]] = True
        left -= cost[best]
        k = new[best]
        if is_digital[k]:
            serve_digital(float(hub_capacity[k]))
        else:
            serve_group(int(red.group_of_column[k]), phys_capacity[k])
    return _start_vector(model, new, opened, flow, digital, remaining)


def _fill(want: np.ndarray, cap: float) -> np.ndarray:
    """Serve ``want`` in order until ``cap`` persons are used up."""
    if not np.isfinite(cap):
        return want.copy()
    before = np.cumsum(want) - want
    return np.clip(cap - before, 0.0, want)


def _start_vector(
    model: _Model,
    new: np.ndarray,
    opened: np.ndarray,
    flow: np.ndarray,
    digital: np.ndarray,
    remaining: np.ndarray,
) -> np.ndarray:
    red = model.red
    P = np.where(red.population > 0, red.population, 1.0)
    start = np.zeros(model.builder.n_cols)
    is_var = model.x[new] >= 0
    start[model.x[new[is_var]]] = opened[is_var].astype(np.float64)
    opened_columns = new[opened]
    for members, var in zip(model.hubs, model.hub_var, strict=True):
        start[var] = float(np.isin(opened_columns, members).sum())
    if model.w is not None:
        start[model.w] = np.clip(flow / P[red.pair_class], 0.0, 1.0)
    physical = np.bincount(red.pair_class, weights=flow, minlength=red.n_classes) / P
    if model.y is not None:
        has = model.y >= 0
        start[model.y[has]] = np.clip(physical[has], 0.0, 1.0)
    has_z = model.z >= 0
    start[model.z[has_z]] = np.clip(digital[has_z] / P[has_z], 0.0, red.digital_share[has_z])
    if model.u is not None:
        start[model.u] = np.clip(remaining / P, 0.0, 1.0)
    return start


def _lp_dive(lp: LinearModel, seconds: float, up: bool) -> np.ndarray | None:
    """Fractional diving on the relaxation (HiGHS LP, warm-started between steps).

    Solve the LP relaxation; fix a fractional integer column and solve again, until every
    integer column is integral: general integers (hub counts) first, rounded up (``up``) or
    down, then the binary with the largest value, rounded up (down when that is infeasible).
    Returns a feasible solution of ``lp``, or None when none was reached within ``seconds``
    (every LP solve runs under the time left, and the dive stops when it is spent).
    """
    import highspy

    t_end = time.perf_counter() + seconds
    integer = np.asarray(lp.integer, dtype=bool)
    general = integer & (np.asarray(lp.col_upper) > 1)
    relaxed = replace(lp, integer=np.zeros(lp.num_col, dtype=bool), start=None)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(highs_lp(relaxed))
    optimal = highspy.HighsModelStatus.kOptimal

    def run() -> bool:
        left = t_end - time.perf_counter()
        if left <= 0:
            return False
        h.setOptionValue("time_limit", left)
        h.run()
        return h.getModelStatus() == optimal

    for _ in range(4 * int(integer.sum()) + 4):
        if not run():
            return None
        v = np.asarray(h.getSolution().col_value, dtype=np.float64)
        frac = integer & (np.abs(v - np.round(v)) > 1e-6)
        if not frac.any():
            v[integer] = np.round(v[integer])
            return v if is_feasible(lp, v, tol=1e-6) else None
        if (frac & general).any():
            j = int(np.flatnonzero(frac & general)[0])
            value = float(np.ceil(v[j]) if up else np.floor(v[j]))
        else:
            j = int(np.flatnonzero(frac)[np.argmax(v[frac])])
            value = 1.0
        h.changeColBounds(j, value, value)
        if not run():
            if time.perf_counter() >= t_end:
                return None
            value = np.floor(v[j]) if value > v[j] else np.ceil(v[j])
            h.changeColBounds(j, value, value)
    return None


def _stage_gap_for(folded: bool, rel_gap: float) -> float:
    """The solver's gap for a stage: a folded stage keeps a share of the gap for the fold."""
    return (1.0 - _FOLD_SHARE) * rel_gap if folded else rel_gap


def _relaxation_bound(lp: LinearModel, seconds: float | None) -> float:
    """Bound of the LP relaxation of ``lp`` (NaN when not solved within ``seconds``)."""
    if seconds is not None and seconds <= 0:
        return math.nan
    relaxed = replace(lp, integer=np.zeros(lp.num_col, dtype=bool), start=None)
    try:
        info, _ = solve_model(relaxed, "highs", time_limit=seconds)
    except AccessplanError:
        return math.nan
    return info.bound if info.status == "optimal" else math.nan


def _start_within_gap(lp: LinearModel, start: np.ndarray | None, bound: float, gap: float) -> bool:
    """True when ``start`` is already within ``gap`` of ``bound`` (the relaxation's)."""
    if start is None or not math.isfinite(bound):
        return False
    value = float(np.asarray(lp.c) @ start)
    return relative_gap(value, bound) <= gap


def _best_start(lp: LinearModel, candidates: list[np.ndarray | None]) -> np.ndarray | None:
    """The feasible candidate with the best objective value."""
    feasible = [v for v in candidates if v is not None and is_feasible(lp, v)]
    if not feasible:
        return None
    sign = 1.0 if lp.sense == "max" else -1.0
    return max(feasible, key=lambda v: sign * float(np.asarray(lp.c) @ v))


# ---------------------------------------------------------------------------------- solving
#: Share of the time limit (and at most this many seconds) spent diving for a start.
_DIVE_SHARE, _DIVE_SECONDS = 0.2, 10.0
#: With a good start the solver's time is better spent on the bound than on its heuristics
#: (on the demonstration region: 4 s instead of 13 s to a 0.3 % proven gap).
_WITH_START: dict[str, Any] = {
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_feasibility_jump": False,
}

#: With a gap tolerance g > 0 the cost tie-break is folded into the stage before it with a
#: weight that moves that stage's objective by at most this share of g (see _solve_stages).
_FOLD_SHARE = 0.1


def _solve_stages(
    model: _Model,
    budget: float,
    solver: str | pulp.LpSolver,
    deadline: float | None,
    gap: float | None,
    msg: bool,
) -> tuple[SolveInfo, np.ndarray, list[float]]:
    """Lexicographic solve: each stage is optimised with the earlier ones held at their value.

    The first stage is the model's objective; later stages only break ties (then the cost).
    Each stage starts from the previous stage's solution (the first from the greedy start);
    every step (LP relaxation, dives, each stage's solve) runs under the time left before
    ``deadline`` (a ``time.perf_counter()`` value; None = no limit), and a stage that finds
    no time or no solution keeps the earlier solution — the first keeps the start (greedy or
    dive) when the solver returns none. With a gap tolerance ``g > 0``, the closing cost
    stage is folded into the stage before it as ``objective -/+ eps * cost`` with
    ``eps * budget = 0.1 g L`` (``L`` a known lower bound of that stage's optimum): the
    stage's optimum moves by at most ``0.1 g L``, which the reported bound includes, and the
    solver runs to ``0.9 g``.

    Returns
    -------
    (info, solution, values)
        The first stage's solve report (objective and bound in its own unit; the bound is the
        solver's, else the LP relaxation's, else NaN), the column values, and the value of
        every stage at that solution.

    Raises
    ------
    SolverError
        When neither the start nor the solver gives a feasible plan before the deadline.
    """
    base = model.builder.linear_model("budgeted_siting")
    n = base.num_col
    rel_gap = 1e-9 if gap is None or gap <= 0 else float(gap)
    stages = model.stages
    current = model.start if model.start is not None and is_feasible(base, model.start) else None
    holds: list[tuple[np.ndarray, float, float]] = []
    first: SolveInfo | None = None

    def left() -> float | None:
        return None if deadline is None else deadline - time.perf_counter()

    s = 0
    while s < len(stages):
        stage = stages[s]
        c = stage.vector(n)
        floor = stage.floor
        if floor is None and stage.sense == "max" and current is not None:
            floor = float(c @ current)
        folded = (
            gap is not None
            and gap > 0
            and isinstance(solver, str)  # a solver object keeps its own gap setting
            and s == len(stages) - 2
            and stages[-1].name == "cost"
            and floor is not None
            and floor > 0
            and budget > 0
        )
        eps = _FOLD_SHARE * rel_gap * floor / budget if folded else 0.0
        cost = stages[-1].vector(n)
        signed = c - eps * cost if stage.sense == "max" else c + eps * cost
        lp = _with_holds(base, holds, signed, stage.sense, current)
        stage_gap = _stage_gap_for(folded, rel_gap)
        relaxation = math.nan
        if first is None and isinstance(solver, str) and solver.lower() == "highs":
            relaxation = _relaxation_bound(lp, left())
            total = left()
            dive_s = _DIVE_SECONDS if total is None else min(_DIVE_SHARE * total, _DIVE_SECONDS)
            greedy = _best_start(lp, [lp.start])
            dives = []
            if not _start_within_gap(lp, greedy, relaxation, stage_gap):
                dives = [_lp_dive(lp, dive_s / 2, up) for up in (False, True)]
            lp = replace(lp, start=_best_start(lp, [greedy, *dives]))
            if lp.start is not None:
                lp = replace(lp, highs_options=dict(_WITH_START))
        remaining = left()
        try:
            if remaining is not None and remaining <= 0:
                raise SolverError(f"no time left for stage {stage.name!r}")
            info, sol = solve_model(
                lp,
                solver,
                time_limit=None if remaining is None else remaining,
                gap=stage_gap,
                msg=msg,
            )
        except SolverError:
            if first is not None:
                break  # a tie-break stage without time or a solution keeps the last one
            if lp.start is None:
                raise SolverError(
                    "budgeted_siting: no feasible plan was found within the time limit; raise "
                    "time_limit."
                ) from None
            sol = np.asarray(lp.start, dtype=np.float64)
            info = SolveInfo("time_limit", float(c @ sol), math.nan, math.nan, 0.0, "start")
        if first is not None and not is_feasible(lp, sol, tol=1e-6):
            break  # e.g. a solver object stopped by its own time limit without values
        if first is None:
            value = float(c @ sol)
            bound = info.bound if math.isfinite(info.bound) else relaxation
            if folded and math.isfinite(bound):
                bound = bound + eps * budget if stage.sense == "max" else bound - eps * budget
            first = replace(
                info,
                objective=value,
                bound=bound,
                gap=relative_gap(value, bound) if folded or info.status != "optimal" else info.gap,
            )
        current = sol
        value = float(c @ sol)
        tol = 1e-9 * max(1.0, abs(value))
        holds.append(
            (c, value - tol, np.inf) if stage.sense == "max" else (c, -np.inf, value + tol)
        )
        s += 2 if folded else 1
    assert first is not None and current is not None
    values = [float(st.vector(n) @ current) for st in stages]
    return first, current, values


def _simple_bound(model: _Model) -> float:
    """A bound on the first stage that needs no solver: every class with a way to be covered
    covered in full (persons), a worst zone fully covered (share 1), or the person-minutes
    floor of the median."""
    stage = model.stages[0]
    if stage.name == "worst_zone":
        return 1.0
    if stage.name == "covered_population":
        coverable = np.diff(model.coverage.indptr) > 0
        return float(model.red.population[coverable].sum())
    return math.nan if stage.floor is None else float(stage.floor)


def _with_holds(
    base: LinearModel,
    holds: list[tuple[np.ndarray, float, float]],
    c: np.ndarray,
    sense: str,
    start: np.ndarray | None,
) -> LinearModel:
    A, lower, upper = base.A, base.row_lower, base.row_upper
    if holds:
        A = sp.vstack([A, sp.csr_array(np.vstack([h[0] for h in holds]))], format="csr")
        lower = np.concatenate([lower, [h[1] for h in holds]])
        upper = np.concatenate([upper, [h[2] for h in holds]])
    return replace(
        base,
        sense=sense,
        c=c,
        A=A,
        row_lower=lower,
        row_upper=upper,
        start=None if start is None else np.where(base.integer, np.round(start), start),
    )


# ---------------------------------------------------------------------------------- public
def budgeted_siting(
    tt: TravelTimes,
    demand: pd.Series | float,
    options: Sequence[SupplyOption],
    budget: float,
    *,
    objective: str = "coverage",
    candidates: Iterable[Hashable] | None = None,
    existing: pd.DataFrame | Iterable[Hashable] | None = None,
    site_costs: pd.DataFrame | None = None,
    zones: pd.Series | Any = None,
    origins: Any = None,
    zone_col: str | None = None,
    min_zone_coverage: float | Mapping[Hashable, float] | None = None,
    max_minutes: float | None = None,
    unmet_spread: float | None = None,
    unserved_minutes: float | None = None,
    solver: str | pulp.LpSolver = "highs",
    time_limit: float | None = None,
    gap: float | None = None,
    msg: bool = False,
) -> Plan:
    """Choose sites and supply types within a budget (maximal coverage or weighted time).

    **Model** (exact MILP, built only on the reachable pairs within each option's reach).

    *Sets.* Origins :math:`i \\in I`; candidate sites :math:`j \\in J`; options
    :math:`t \\in T` (clinic, robotic, digital, ... each a :class:`SupplyOption`); columns
    :math:`k = (j, t)` with :math:`t` allowed at :math:`j`, plus existing facilities
    :math:`k \\in E` (fixed open); physical columns :math:`K^{ph}`, digital columns
    :math:`K^{dig}`; reachable pairs :math:`N = \\{(i,k): k \\in K^{ph}, d_{ik} \\le r_k\\}`
    with reach :math:`r_k = \\min(s_t, \\text{max\\_minutes})` for the coverage objectives
    and :math:`r_k = \\text{max\\_minutes}` (default: every stored pair) for the median one.

    *Parameters.* :math:`P_i` persons; :math:`d_{ik}` minutes; standard :math:`s_k`;
    cost :math:`c_k` (currency) and budget :math:`B`; capacity :math:`Q_k` (persons,
    :math:`\\infty` when None; a digital hub without capacity counts as
    :math:`\\sum_i a_i P_i`); connected share :math:`a_i`, effectiveness :math:`e`;
    unserved penalty :math:`M` minutes (median only).

    *Variables.* :math:`x_k \\in \\{0,1\\}` open column :math:`k` (:math:`x_k = 1` for
    :math:`k \\in E`); :math:`w_{ik} \\in [0,1]` share of origin :math:`i` served physically by
    :math:`k`; :math:`z_i \\in [0, a_i e]` share of origin :math:`i` whose need is met
    digitally; :math:`u_i \\in [0,1]` unserved share (median). Coverage of origin :math:`i`:
    :math:`y_i = \\sum_{k: (i,k) \\in N, d_{ik} \\le s_k} w_{ik} + z_i`.

    *Constraints.*

    .. math::

        \\sum_{t} x_{(j,t)} \\le 1 \\;\\forall j, \\qquad
        \\sum_{k \\notin E} c_k x_k \\le B, \\qquad
        w_{ik} \\le x_k, \\qquad
        \\sum_i P_i w_{ik} \\le Q_k x_k \\;\\forall k \\in K^{ph},

        \\sum_k w_{ik} + z_i \\le 1 \\;(\\text{coverage}), \\qquad
        \\sum_k w_{ik} + z_i + u_i = 1 \\;(\\text{median}), \\qquad
        \\sum_i P_i z_i \\le e \\sum_{k \\in K^{dig}} Q_k x_k .

    Each person's need is met at most once — physically or digitally — so digital coverage
    never double-counts people covered physically, never exceeds :math:`\\sum_i a_i e P_i`, and
    never exceeds the effective digital capacity :math:`e \\sum Q_k x_k`. Without any
    physical capacity the coverage objectives use the classic MCLP aggregation
    :math:`y^{ph}_i \\le \\sum_{k: (i,k) \\in N} x_k` instead of the :math:`w` variables (same
    optimum, fewer variables) and assign each covered origin to its nearest open site.

    *Exact reductions* (same optimum, smaller model). The columns of one site with the same
    reach and standard form a *site group* :math:`g` with one flow :math:`w_{ig}`,
    :math:`w_{ig} \\le \\sum_{k \\in g} x_k` and :math:`\\sum_i P_i w_{ig} \\le \\sum_{k \\in g}
    \\min(Q_k, \\bar P_g) x_k` (:math:`\\bar P_g` the persons the group reaches), exact because
    a site hosts one option. The linking rows :math:`w_{ig} \\le \\sum x_k` are kept only for
    groups whose capacity cannot bind (the capacity row already closes the others). Origins
    with the same pairs (groups, within-standard flags and, for the median, minutes), digital
    share and zone form one *class* with their summed population (their flows are
    interchangeable); every member is reported with the class's shares. New digital hubs of
    equal cost and capacity that may stand at the same sites :math:`D` are *pooled* into an
    integer count :math:`n \\le |D|` with :math:`n + \\sum_{k \\text{ physical at } D} x_k
    \\le |D|`; the plan places them on the free sites of :math:`D` in candidate order.

    *Objective* (``objective``):

    * ``"coverage"``: maximise :math:`\\sum_i P_i y_i` (persons);
    * ``"median"``: minimise :math:`\\sum_{(i,k)} P_i d_{ik} w_{ik} + M \\sum_i P_i u_i`
      (person-minutes; needs met digitally travel 0 minutes);
    * ``"maximin"``: maximise the worst zone coverage :math:`\\min_z c_z` (needs ``zones``),
      then the covered population.

    Ties are broken lexicographically: with the objective held at its optimum, the cost
    :math:`\\sum c_k x_k` is minimised (so options that add nothing are never bought). With
    a gap tolerance :math:`g > 0` (and a solver named by string) the cost is instead folded
    into the objective with a weight :math:`\\varepsilon = 0.1 g L / B` (:math:`L` a proven
    lower bound of the optimum, e.g. the greedy start's value): the reported bound adds
    :math:`\\varepsilon B`, the solver runs to :math:`0.9 g`, so the reported gap stays within
    :math:`g`. The solver starts from the better of a greedy plan and two LP dives (hub
    counts rounded down and up); the time limit is shared by all stages.

    *Equity* (see :mod:`accessplan.optimize.fairness`; zone coverage
    :math:`c_z = \\sum_{i \\in z} P_i y_i / P_z`): ``min_zone_coverage``
    :math:`c_z \\ge m_z`; ``unmet_spread`` :math:`\\max_z (1-c_z) - \\min_z (1-c_z) \\le
    \\gamma`; ``max_minutes`` removes every pair longer than the cap.

    Parameters
    ----------
    tt
        Travel times (minutes), origins × destinations; candidate and existing sites are
        destinations.
    demand
        Persons per origin id (Series) or one number for every origin.
    options
        The supply options a candidate may host (at most one per site).
    budget
        Money available for new sites (currency units, same unit as the costs).
    objective
        ``"coverage"`` (default), ``"median"`` or ``"maximin"``.
    candidates
        Destination ids that may host a new site; default: every destination that is not an
        existing facility.
    existing
        Facilities that stay open: ids (clinics), or a DataFrame indexed by id (or with an
        ``id`` column) with optional columns ``type``, ``capacity`` (persons) and
        ``standard_minutes`` (default: the standard of the first option of the same type).
        Digital existing facilities need not be destinations.
    site_costs
        Per-site cost overrides: DataFrame indexed by candidate id, one column per option name;
        NaN keeps the option's cost, ``inf`` forbids the option at that site.
    zones, origins, zone_col
        Zones for the equity options and the per-zone report (see
        :func:`accessplan.optimize.fairness.zone_labels`).
    min_zone_coverage
        Minimum coverage share (0–1) of every zone, or a mapping zone → share.
    max_minutes
        Largest travel time (minutes) of any person served physically.
    unmet_spread
        Bound :math:`\\gamma` (0–1) on the spread of unmet shares between zones.
    unserved_minutes
        Median objective: minutes charged per unserved person; default ``max_minutes`` if
        given, else the travel-time cutoff, else the largest stored travel time to a site.
    solver, time_limit, gap, msg
        Solver choice (``"highs"``: arrays passed to highspy; ``"cbc"`` or a PuLP solver: the
        same model built with PuLP), seconds for all solve stages together, relative MIP gap
        and solver log; see :func:`accessplan.optimize._solve.solve_model`.

    Returns
    -------
    Plan
        ``sites`` (open sites with ``type``, ``option``, ``existing``, ``cost``,
        ``capacity``, ``standard_minutes``, ``assigned_population``), ``assignment``
        (physical), ``objective`` and ``bound`` of the main objective, ``cost``,
        ``covered_population`` (physical within the standard plus digital), and ``details``:
        ``"coverage_by_origin"`` (population and physical, digital and covered shares),
        ``"zones"`` (per-zone coverage when zones are given), ``"digital"`` (covered,
        connected and capacity figures), ``"counts"`` (new sites per option), ``"budget"``,
        ``"stages"`` (value of each lexicographic stage), ``"timing"`` (seconds spent
        preparing and building the model, ``"build"``, and solving it, ``"solve"``) and
        ``"model"`` (rows, columns, origin classes, site groups and class–group pairs).

    Raises
    ------
    InputError
        Unknown supply type, negative cost or capacity, budget below the cheapest option, ids
        that do not match, a bad objective or equity parameter.
    InfeasibleError
        A zone minimum that no choice of sites can meet (named), or equity constraints that
        the budget cannot satisfy.
    """
    t0 = time.perf_counter()
    if objective not in OBJECTIVES:
        raise InputError(f"objective {objective!r} is unknown; use one of {list(OBJECTIVES)}.")
    if max_minutes is not None:
        fairness._check_max_minutes(max_minutes)
    inst = _prepare(tt, demand, options, budget, candidates, existing, site_costs)
    labels = _zones_for(inst, zones, origins, zone_col, objective, min_zone_coverage, unmet_spread)
    reach = _reach(inst, objective, max_minutes)
    pairs = _physical_pairs(inst, reach)
    penalty = unserved_minutes_for(tt, unserved_minutes, max_minutes)
    if labels is not None and min_zone_coverage is not None:
        fairness.check_zone_minimum_reachable(
            _best_share(inst, pairs), inst.population, labels, min_zone_coverage
        )
    zone_codes = None if labels is None else pd.factorize(labels, sort=True)[0]
    red = _reduce(inst, pairs, reach, zone_codes, minutes_matter=objective == "median")
    model = _build(inst, red, objective, budget, penalty)
    model.start = _greedy_start(inst, model, budget)
    if labels is not None:
        _add_equity(model, labels, objective, min_zone_coverage, unmet_spread)
    t_solve = time.perf_counter()
    try:
        deadline = None if time_limit is None else t0 + _check_time_limit(time_limit)
        info, solution, stage_values = _solve_stages(model, budget, solver, deadline, gap, msg)
    except InfeasibleError as exc:
        raise InfeasibleError(
            f"no plan within budget {budget:g} meets the equity constraints "
            f"(min_zone_coverage={min_zone_coverage}, unmet_spread={unmet_spread}, "
            f"max_minutes={max_minutes}); raise the budget or relax them."
        ) from exc
    solve_seconds = time.perf_counter() - t_solve
    info = with_bound(info, _simple_bound(model), model.stages[0].sense)
    plan = _plan(
        inst, pairs, model, solution, info, gap, stage_values, labels, budget, objective, t0
    )
    plan.details["timing"] = {"build": t_solve - t0, "solve": solve_seconds}
    plan.details["model"] = {
        "rows": model.builder.linear_model("size").num_row,
        "columns": model.builder.n_cols,
        "origin_classes": model.red.n_classes,
        "site_groups": model.red.n_groups,
        "pairs": len(model.red.pair_class),
    }
    return plan


def _zones_for(
    inst: _Instance,
    zones: Any,
    origins: Any,
    zone_col: str | None,
    objective: str,
    min_zone_coverage: Any,
    unmet_spread: float | None,
) -> pd.Series | None:
    if zones is None:
        needs = [
            name
            for name, given in (
                ("objective='maximin'", objective == "maximin"),
                ("min_zone_coverage", min_zone_coverage is not None),
                ("unmet_spread", unmet_spread is not None),
            )
            if given
        ]
        if needs:
            raise InputError(f"{', '.join(needs)} needs zones=; give a zone label per origin.")
        return None
    return fairness.zone_labels(zones, inst.tt.origin_ids, origins=origins, zone_col=zone_col)


def _reach(inst: _Instance, objective: str, max_minutes: float | None) -> np.ndarray:
    cap = np.inf if max_minutes is None else float(max_minutes)
    if objective == "median":
        return np.full(len(inst.columns), cap)
    standard = inst.columns["standard"].to_numpy(dtype=np.float64)
    return np.minimum(np.where(np.isnan(standard), -1.0, standard), cap)


def _best_share(inst: _Instance, pairs: _Pairs) -> np.ndarray:
    """Largest coverable share of each origin with every candidate open (capacity ignored)."""
    best = np.zeros(len(inst.population))
    best[pairs.origin[pairs.within_standard]] = 1.0
    if inst.columns["type"].eq("digital").any():
        best = np.maximum(best, inst.digital_share)
    return best


def _add_equity(
    model: _Model,
    labels: pd.Series,
    objective: str,
    min_zone_coverage: Any,
    unmet_spread: float | None,
) -> None:
    """Zone rows over the class coverage (classes never mix zones)."""
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
    model: _Model, C: sp.csr_array, unmet_spread: float | None, objective: str
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


# ---------------------------------------------------------------------------------- result
def _plan(
    inst: _Instance,
    pairs: _Pairs,
    model: _Model,
    solution: np.ndarray,
    info: SolveInfo,
    gap: float | None,
    stage_values: list[float],
    labels: pd.Series | None,
    budget: float,
    objective: str,
    t0: float,
) -> Plan:
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


def _open_columns(cols: pd.DataFrame, model: _Model, solution: np.ndarray) -> np.ndarray:
    """Open flag per column; pooled hubs go to the free sites of D in candidate order."""
    is_open = cols["existing"].to_numpy().copy()
    var = model.x >= 0
    is_open[var] = solution[model.x[var]] > 0.5
    site = cols["site"].to_numpy()
    taken = set(site[is_open & ~cols["existing"].to_numpy()].tolist())
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


def _nearest_assignment(pairs: _Pairs, physical: np.ndarray, is_open: np.ndarray) -> pd.DataFrame:
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
    table = table.rename(columns={"standard": "standard_minutes"}).set_index("site")
    table.index.name = "id"
    return table[
        [
            "type",
            "option",
            "existing",
            "cost",
            "capacity",
            "standard_minutes",
            "assigned_population",
        ]
    ]


def _details(
    inst: _Instance,
    model: _Model,
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
    if labels is not None:
        details["zones"] = fairness.zone_table(covered_share, P, labels)
    return details


def budget_sweep(
    budgets: Iterable[float],
    tt: TravelTimes,
    demand: pd.Series | float,
    options: Sequence[SupplyOption],
    **kwargs: Any,
) -> pd.DataFrame:
    """Solve :func:`budgeted_siting` for each budget: what each budget buys.

    Parameters
    ----------
    budgets
        Budgets to try (currency units); solved in increasing order.
    tt, demand, options, **kwargs
        As for :func:`budgeted_siting`.

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``budget``, ``covered_population`` (persons), ``coverage`` (0–1),
        ``n_clinic``, ``n_robotic``, ``n_digital`` (new sites of each type), ``cost``,
        ``objective``, ``bound``, ``gap``, ``status``, ``mean_minutes``, ``seconds``; and
        one ``n_<option>`` column per option name that is not a type name.
    """
    rows = []
    for budget in sorted(float(b) for b in budgets):
        plan = budgeted_siting(tt, demand, options, budget, **kwargs)
        new = plan.new_sites
        row: dict[str, Any] = {
            "budget": budget,
            "covered_population": plan.covered_population,
            "coverage": plan.coverage,
        }
        for kind in SUPPLY_TYPES:
            row[f"n_{kind}"] = int((new["type"] == kind).sum())
        for opt in options:
            if opt.label not in SUPPLY_TYPES:
                row[f"n_{opt.label}"] = int((new["option"] == opt.label).sum())
        row.update(
            cost=plan.cost,
            objective=plan.objective,
            bound=plan.bound,
            gap=plan.gap,
            status=plan.status,
            mean_minutes=plan.mean_minutes,
            seconds=plan.seconds,
        )
        rows.append(row)
    return pd.DataFrame(rows)
