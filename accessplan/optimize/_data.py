"""Input preparation shared by the location models: demand, candidates, existing sites, pairs.

Everything here works on the stored entries of the travel-time matrix (``data``, ``indices``,
``indptr``): a stored entry is a reachable pair (zero minutes included), an absent one is not.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from accessplan.errors import InfeasibleError, InputError
from accessplan.supply import check_supply_types
from accessplan.traveltimes import TravelTimes, align_values

__all__ = ["LocationData", "closable_ids", "existing_frame", "prepare_location_data", "site_frame"]

#: What every location model takes for its sites (one contract):
#: ``candidates`` a DataFrame with an ``id`` column (or index) and optional ``type``,
#: ``capacity`` and ``cost``; ``existing`` the same form (``id``, ``type``, optional
#: ``capacity``) or plain ids (clinics); ``closable`` the existing ids a model may close.


@dataclass
class LocationData:
    """Demand, candidates and reachable pairs of one location model, as arrays.

    Attributes
    ----------
    tt
        The travel times given.
    weights
        Persons per origin, in the order of ``tt.origin_ids``.
    candidates
        One row per candidate site, indexed by destination id, with columns ``type``, ``cost``,
        ``capacity`` (NaN = uncapacitated), ``existing`` and ``closable`` (bool).
    minutes
        CSR (origins × candidates) of minutes, stored entries = reachable pairs, each row's
        entries sorted by minutes (ties by candidate position).
    fixed
        Candidate positions forced open (existing facilities that may not close).
    p_total
        Number of sites open in the plan: existing sites plus the ``p`` sites to add.
    """

    tt: TravelTimes
    weights: np.ndarray
    candidates: pd.DataFrame
    minutes: sp.csr_array
    fixed: np.ndarray
    p_total: int

    @property
    def n_candidates(self) -> int:
        return len(self.candidates)

    @property
    def total_population(self) -> float:
        return float(self.weights.sum())


def site_frame(sites: pd.DataFrame, what: str) -> pd.DataFrame:
    """``sites`` (a DataFrame with an ``id`` column or index) indexed by id, geometry dropped.

    Raises
    ------
    InputError
        When ``sites`` is not a DataFrame or an id repeats; ``what`` names the argument.
    """
    if not isinstance(sites, pd.DataFrame):
        raise InputError(
            f"{what} must be a DataFrame with an 'id' column of destination ids; "
            f"got {type(sites).__name__}."
        )
    table = pd.DataFrame(sites).copy()
    if "id" in table.columns:
        table = table.set_index("id")
    if "geometry" in table.columns:
        table = table.drop(columns="geometry")
    table = pd.DataFrame(table)
    if not table.index.is_unique:
        dup = [str(x) for x in table.index[table.index.duplicated()][:5]]
        raise InputError(f"{what}: ids {dup} repeat; give each site once.")
    return table


def existing_frame(existing: pd.DataFrame | Iterable[Hashable] | None) -> pd.DataFrame:
    """``existing`` as a table indexed by id: a DataFrame as :func:`site_frame` takes it, or
    ids (then clinics without a capacity); an empty table for None."""
    if existing is None:
        return pd.DataFrame(index=pd.Index([]))
    if isinstance(existing, pd.DataFrame):
        return site_frame(existing, "existing")
    return site_frame(pd.DataFrame(index=pd.Index(list(existing))), "existing")


def closable_ids(closable: Iterable[Hashable], existing_ids: pd.Index) -> pd.Index:
    """``closable`` as an Index, checked: unique ids of existing facilities."""
    ids = pd.Index(list(closable))
    if not ids.is_unique:
        raise InputError(f"closable ids repeat: {[str(x) for x in ids[ids.duplicated()][:5]]}.")
    not_existing = ids.difference(existing_ids)
    if len(not_existing):
        raise InputError(
            f"closable ids {[str(x) for x in not_existing[:5]]} are not existing facilities; "
            "list them in existing= as well (only an existing facility can close)."
        )
    return ids


def prepare_location_data(
    tt: TravelTimes,
    demand: pd.Series | float,
    *,
    candidates: pd.DataFrame | None = None,
    existing: pd.DataFrame | Iterable[Hashable] | None = (),
    closable: Iterable[Hashable] = (),
    p: int | None = None,
    need_capacity: bool = False,
) -> LocationData:
    """Check and align the inputs of a location model.

    Parameters
    ----------
    tt
        Travel times in minutes, demand origins × candidate destinations.
    demand
        Persons per origin id (a Series indexed like ``tt.origin_ids``) or one number for all.
    candidates
        Candidate sites: a DataFrame with an ``id`` column (or index) of destination ids and
        optional ``type`` (default ``"clinic"``), ``cost`` (default 1) and ``capacity``
        (persons; default NaN = uncapacitated). Default: every destination.
    existing
        Facilities already open: a DataFrame like ``candidates`` (``id``, optional ``type``,
        ``capacity``) or destination ids; they stay open unless listed in ``closable``. They
        are added to the candidates if absent; a ``type`` or ``capacity`` given here replaces
        the candidate row's.
    closable
        Existing ids that the model may close.
    p
        Number of sites to add; None for models without a count (LSCP).
    need_capacity
        Require a ``capacity`` for every candidate (capacitated models).

    Raises
    ------
    InputError
        On ids that do not match, repeated ids, negative cost or capacity, an unknown type, a
        digital candidate (reached without travel: use the budget model), or ``p`` not in
        ``0 .. number of candidates that are not existing``.
    """
    weights = align_values(demand, tt.origin_ids, "demand")
    table = _candidate_table(tt, candidates, existing, closable, need_capacity)
    positions = tt.destination_ids.get_indexer(table.index)
    minutes = _select_columns(tt.matrix, positions)
    fixed = np.flatnonzero(table["existing"].to_numpy() & ~table["closable"].to_numpy())
    p_total = 0
    if p is not None:
        p_total = _check_p(p, table)
    return LocationData(tt, weights, table, minutes, fixed, p_total)


def _candidate_table(
    tt: TravelTimes,
    candidates: pd.DataFrame | None,
    existing: pd.DataFrame | Iterable[Hashable] | None,
    closable: Iterable[Hashable],
    need_capacity: bool,
) -> pd.DataFrame:
    old = existing_frame(existing)
    existing_ids = old.index
    closable_index = closable_ids(closable, existing_ids)
    if candidates is None:
        table = pd.DataFrame(index=tt.destination_ids.copy())
    else:
        table = site_frame(candidates, "candidates")
    extra = existing_ids.difference(table.index)
    if len(extra):
        table = pd.concat([table, pd.DataFrame(index=extra)])
    for col in ("type", "capacity", "cost"):
        if col in old.columns:
            given = old[col][old[col].notna()]
            if col not in table.columns:
                table[col] = np.nan if col != "type" else None
            table[col] = table[col].astype(object) if col == "type" else table[col]
            table.loc[given.index, col] = given.to_numpy()
    unknown = table.index.difference(tt.destination_ids)
    if len(unknown):
        what = "existing" if unknown.isin(existing_ids).all() and len(extra) else "candidate"
        raise InputError(
            f"{what} ids {[str(x) for x in unknown[:5]]} (of {len(unknown)}) are not "
            "destination ids of the travel times; compute travel times to those sites or drop "
            "them."
        )
    table["type"] = table["type"].fillna("clinic") if "type" in table else "clinic"
    check_supply_types(table["type"], "candidates")
    digital = table.index[table["type"].to_numpy() == "digital"]
    if len(digital):
        raise InputError(
            f"candidates {[str(x) for x in digital[:5]]} are digital: digital supply is reached "
            "without travel, so travel-time models cannot place it; use "
            "accessplan.optimize.budgeted_siting for mixed physical and digital supply."
        )
    table["cost"] = _non_negative(table, "cost", 1.0)
    table["capacity"] = _non_negative(table, "capacity", np.nan)
    if need_capacity and table["capacity"].isna().all():
        raise InputError(
            "capacitated model: candidates have no 'capacity' column (persons each site can "
            "serve); add one (NaN = unlimited for a site)."
        )
    table["existing"] = table.index.isin(existing_ids)
    table["closable"] = table.index.isin(closable_index)
    return table[["type", "cost", "capacity", "existing", "closable"]]


def _non_negative(table: pd.DataFrame, column: str, default: float) -> pd.Series:
    if column not in table:
        return pd.Series(default, index=table.index, dtype=np.float64)
    values = pd.to_numeric(table[column], errors="coerce")
    bad_text = values.isna() & table[column].notna()
    if bad_text.any():
        at = table.index[bad_text.to_numpy()][0]
        raise InputError(f"candidates: {column} of site {at!r} is not a number.")
    values = values.astype(np.float64)
    if column == "cost":
        values = values.fillna(default)
    negative = values < 0
    if negative.any():
        at = table.index[negative.to_numpy()][0]
        raise InputError(
            f"candidates: {column} of site {at!r} is negative ({values[at]}); it must be >= 0."
        )
    if np.isinf(values).any():
        at = table.index[np.isinf(values).to_numpy()][0]
        raise InputError(f"candidates: {column} of site {at!r} is infinite; give a number.")
    return values


def _check_p(p: int, table: pd.DataFrame) -> int:
    if isinstance(p, bool) or not isinstance(p, int | np.integer):
        raise InputError(f"p must be a whole number of sites to add, got {p!r}.")
    addable = int((~table["existing"]).sum() + table["closable"].sum())
    if p < 0:
        raise InputError(f"p must be >= 0 (number of sites to add), got {p}.")
    if p > addable:
        raise InputError(
            f"p = {p} is above the number of candidate sites that can be added ({addable}); "
            "lower p or give more candidates."
        )
    n_existing = int(table["existing"].sum())
    if n_existing + p == 0:
        raise InputError("p = 0 and no existing facility: the plan would open nothing.")
    return n_existing + int(p)


def _select_columns(matrix: sp.csr_array, positions: np.ndarray) -> sp.csr_array:
    """Columns ``positions`` of ``matrix`` (stored zeros kept), each row sorted by minutes."""
    n_rows = matrix.shape[0]
    new_col = np.full(matrix.shape[1], -1, dtype=np.int64)
    new_col[positions] = np.arange(len(positions))
    cols = new_col[matrix.indices]
    keep = cols >= 0
    rows = np.repeat(np.arange(n_rows), np.diff(matrix.indptr))[keep]
    cols, data = cols[keep], matrix.data[keep]
    order = np.lexsort((cols, data, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
    out = sp.csr_array((data, cols, indptr), shape=(n_rows, len(positions)))
    return out


def unserved_minutes(
    tt: TravelTimes, unserved_minutes: float | None, travel_cap: float | None = None
) -> float:
    """Minutes charged per person a location model leaves unserved.

    The one rule of every model with an unserved option (``p_median``,
    ``capacitated_p_median``, ``budgeted_siting(objective="median")``): ``unserved_minutes``
    when given; else ``travel_cap``; else the travel-time cutoff (nobody farther was
    computed); else the longest stored travel time (0 when none is stored).

    Raises
    ------
    InputError
        When ``unserved_minutes`` is not a finite number of minutes >= 0.
    """
    if unserved_minutes is not None:
        value = float(unserved_minutes)
        if not (np.isfinite(value) and value >= 0):
            raise InputError(
                f"unserved_minutes must be a finite number of minutes >= 0, got {unserved_minutes}."
            )
        return value
    if travel_cap is not None:
        return float(travel_cap)
    if tt.cutoff is not None:
        return float(tt.cutoff)
    data = tt.matrix.data
    return float(data.max()) if data.size else 0.0


#: Every model returns within ``time_limit`` plus this slack: the larger of
#: :data:`TIME_LIMIT_SLACK_SECONDS` and :data:`TIME_LIMIT_SLACK_SHARE` of the limit. The slack
#: covers what cannot be cut short once begun — preparing the inputs (selecting and sorting
#: the pairs: about 1 s per million on two busy cores), a heuristic's greedy start, one solver
#: call's overrun of its own limit (HiGHS's presolve does not look at the clock), assembling
#: the plan. Measured by benchmarks/bench_budget.py (floor ``time-limit-honoured``).
TIME_LIMIT_SLACK_SECONDS = 2.0
TIME_LIMIT_SLACK_SHARE = 0.10


def check_time_limit(time_limit: float) -> float:
    """``time_limit`` as seconds > 0, or :class:`InputError`."""
    value = float(time_limit)
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"time_limit must be a number of seconds > 0, got {time_limit}.")
    return value


def check_standard(minutes: sp.csr_array, standard: float, model: str) -> None:
    """Raise when no candidate lies within ``standard`` minutes of any origin."""
    if not (np.isfinite(standard) and standard >= 0):
        raise InputError(f"{model}: the standard must be a finite number of minutes >= 0.")
    if minutes.nnz == 0:
        raise InfeasibleError(
            f"{model}: no candidate is reachable from any origin; check the travel times."
        )
    if minutes.data.min() > standard:
        raise InfeasibleError(
            f"{model}: no candidate lies within the standard of {standard:g} minutes of any "
            f"origin (the shortest time is {minutes.data.min():g} minutes); raise the standard "
            "or add candidates closer to the population."
        )


#: ``method="auto"`` solves the exact model when the number of stored origin–candidate pairs
#: that enter it is at most this; above it, the heuristic (greedy + vertex substitution with a
#: Lagrangian bound) runs instead. Exact models of this size solve in seconds to a minute with
#: HiGHS on two cores.
AUTO_EXACT_MAX_PAIRS = 1_500_000


def resolve_method(method: str, n_pairs: int, model: str) -> str:
    """``"exact"`` or ``"heuristic"`` for ``method`` in exact/heuristic/auto."""
    if method not in ("auto", "exact", "heuristic"):
        raise InputError(f"{model}: method must be 'auto', 'exact' or 'heuristic', got {method!r}.")
    if method == "auto":
        return "exact" if n_pairs <= AUTO_EXACT_MAX_PAIRS else "heuristic"
    return method
