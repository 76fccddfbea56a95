"""Checked inputs shared by the measures: supply by type, demand, digital shares, pairs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, TypeAlias, overload

import numpy as np
import pandas as pd

from accessplan.errors import InputError
from accessplan.supply import check_supply_types
from accessplan.traveltimes import TravelTimes, align_values

PHYSICAL_COLUMNS: tuple[str, ...] = ("clinic", "robotic")
TYPED_COLUMNS: tuple[str, ...] = ("total", "clinic", "robotic", "digital")

SupplyLike: TypeAlias = pd.Series | pd.DataFrame


@dataclass(frozen=True)
class Supply:
    """Supply split by type, aligned to the travel-time destinations.

    Attributes
    ----------
    physical
        (n_destinations, 2) capacity of clinics (column 0) and robotic units (column 1).
    digital
        Capacity of each digital facility (no travel-time column needed).
    typed
        True when a facilities table (id/type/capacity) was given: results are DataFrames with
        ``total`` and per-type columns; False for a plain capacity Series: results are Series.
    """

    physical: np.ndarray
    digital: np.ndarray
    typed: bool

    @property
    def digital_total(self) -> float:
        return float(self.digital.sum())

    @property
    def physical_total(self) -> np.ndarray:
        return self.physical.sum(axis=1)


def facility_table(supply: SupplyLike, what: str = "supply") -> pd.DataFrame:
    """Facilities as a table indexed by id with columns ``type`` and ``capacity`` (checked).

    A Series (capacity by destination id) becomes a table of clinics.
    """
    if isinstance(supply, pd.DataFrame):
        missing = [c for c in ("type", "capacity") if c not in supply.columns]
        if missing:
            raise InputError(
                f"{what} table has no column(s) {missing} (columns: {list(supply.columns)}); "
                "give one row per facility with columns id, type and capacity."
            )
        ids = pd.Index(supply["id"]) if "id" in supply.columns else supply.index
        types = pd.Series(supply["type"].to_numpy(), index=ids)
        capacity = pd.to_numeric(
            pd.Series(supply["capacity"].to_numpy(), index=ids), errors="coerce"
        )
    elif isinstance(supply, pd.Series):
        ids = supply.index
        capacity = pd.to_numeric(supply, errors="coerce")
        types = pd.Series("clinic", index=ids)
    else:
        raise InputError(
            f"{what} must be a pandas Series of capacity indexed by destination id, or a "
            f"facilities DataFrame with columns id, type, capacity; got {type(supply).__name__}."
        )
    if ids.hasnans:
        raise InputError(f"{what} has a facility without id; give every facility an id.")
    if not ids.is_unique:
        dup = ids[ids.duplicated()].unique()[:5].tolist()
        raise InputError(f"{what} ids {dup} repeat; give each facility one row.")
    check_supply_types(types, what)
    cap = capacity.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(cap) | (cap < 0)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{what}: facility {ids[at]!r} has capacity {capacity.iloc[at]!r}; capacity must be "
            "a finite number >= 0."
        )
    return pd.DataFrame({"type": types.to_numpy(), "capacity": cap}, index=ids)


def parse_supply(tt: TravelTimes, supply: SupplyLike, what: str = "supply") -> Supply:
    """Align ``supply`` (capacity Series or facilities table) to the destinations of ``tt``.

    Physical facilities must be destinations of ``tt``; destinations without a facility have
    capacity 0. Digital facilities may be absent from ``tt`` (their travel times are not used).
    """
    typed = isinstance(supply, pd.DataFrame)
    if isinstance(supply, pd.Series):  # capacity by destination id: all clinics
        physical = np.zeros((len(tt.destination_ids), len(PHYSICAL_COLUMNS)))
        physical[:, 0] = aligned(supply, tt.destination_ids, what, allow_missing=True)
        return Supply(physical, np.zeros(0), False)
    table = facility_table(supply, what)
    physical = np.zeros((len(tt.destination_ids), len(PHYSICAL_COLUMNS)))
    is_digital = (table["type"] == "digital").to_numpy()
    phys = table[~is_digital]
    pos = tt.destination_ids.get_indexer(phys.index)
    if (pos < 0).any():
        missing = phys.index[pos < 0]
        raise InputError(
            f"{what} ids {missing[:5].tolist()} (of {len(missing)}) are not destinations of the "
            "travel times; compute travel times to these facilities or drop them."
        )
    for k, kind in enumerate(PHYSICAL_COLUMNS):
        mask = (phys["type"] == kind).to_numpy()
        physical[pos[mask], k] = phys["capacity"].to_numpy()[mask]
    return Supply(physical, table.loc[is_digital, "capacity"].to_numpy(), typed)


def aligned(
    values: pd.Series | float, ids: pd.Index, what: str, *, allow_missing: bool = False
) -> np.ndarray:
    """:func:`align_values`, with a fast path for a Series already in the order of ``ids``."""
    if isinstance(values, pd.Series) and (values.index is ids or values.index.equals(ids)):
        try:
            arr = values.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        # min() is NaN when any value is NaN, and NaN >= 0 is False: one pass checks both.
        if arr is not None and (arr.size == 0 or (arr.min() >= 0 and np.isfinite(arr.max()))):
            return arr
    return align_values(values, ids, what, allow_missing=allow_missing)


def demand_values(tt: TravelTimes, demand: pd.Series | float) -> np.ndarray:
    """Persons per origin, in the order of ``tt.origin_ids`` (every origin needs a value)."""
    return aligned(demand, tt.origin_ids, "demand")


def digital_shares(
    tt: TravelTimes, digital_access: pd.Series | float, effectiveness: float
) -> tuple[np.ndarray, float]:
    """Connected share a_i per origin (0–1) and the effectiveness e (0–1), checked."""
    a = aligned(digital_access, tt.origin_ids, "digital_access")
    if (a > 1).any():
        at = int(np.flatnonzero(a > 1)[0])
        raise InputError(
            f"digital_access is {a[at]} for origin {tt.origin_ids[at]!r}; it is a share of the "
            "population and must lie in [0, 1]."
        )
    e = float(effectiveness)
    if not (np.isfinite(e) and 0 <= e <= 1):
        raise InputError(f"effectiveness must lie in [0, 1], got {effectiveness!r}.")
    return a, e


@overload
def check_minutes(
    value: float | None, name: str, *, allow_none: Literal[False] = False
) -> float: ...
@overload
def check_minutes(value: float | None, name: str, *, allow_none: bool) -> float | None: ...
def check_minutes(value: float | None, name: str, *, allow_none: bool = False) -> float | None:
    """A positive, finite number of minutes (or None when allowed)."""
    if value is None:
        if allow_none:
            return None
        raise InputError(f"{name} is required: give a positive number of minutes.")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive number of minutes, got {value!r}.") from None
    if not (np.isfinite(v) and v > 0):
        raise InputError(f"{name} must be a positive number of minutes, got {value!r}.")
    return v


@dataclass(frozen=True)
class Pairs:
    """Reachable pairs as flat arrays: origin row, destination column, minutes."""

    rows: np.ndarray
    cols: np.ndarray
    minutes: np.ndarray


def within_mask(
    tt: TravelTimes, within: float | None, *, name: str = "standard"
) -> np.ndarray | None:
    """Which stored pairs of ``tt`` take ``≤ within`` minutes; None when all of them do.

    Every threshold of the measures (``standard``, a catchment, the reach of a decay) meets
    the travel times here, so this is where a threshold beyond ``tt.cutoff`` is refused
    (:meth:`TravelTimes.check_threshold`): the pairs beyond the cutoff were never computed, and
    counting only those up to it would cut the catchment short without a word. A threshold
    equal to the cutoff keeps every stored pair without reading the minutes.

    Raises
    ------
    InputError
        When ``within`` exceeds ``tt.cutoff`` (the message names ``name``).
    """
    tt.check_threshold(within, name)
    if within is None or (tt.cutoff is not None and tt.cutoff <= within):
        return None
    minutes = tt.matrix.data
    if not minutes.size or minutes.max() <= within:
        return None
    return minutes <= within


def pairs(tt: TravelTimes, within: float | None = None) -> Pairs:
    """Stored pairs of ``tt`` (zero minutes included), optionally only those ``≤ within``."""
    m = tt.matrix
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    cols, minutes = m.indices, m.data
    keep = within_mask(tt, within)
    if keep is not None:
        rows, cols, minutes = rows[keep], cols[keep], minutes[keep]
    return Pairs(rows, cols.astype(np.int64, copy=False), minutes)


@dataclass(frozen=True)
class PairWeights:
    """Weights ``W_ij`` on the kept pairs of a :class:`TravelTimes`, in CSR layout.

    ``values`` None means every kept pair weighs 1 (a plain catchment): the sums then read
    only the index arrays. ``W @ y`` sums over each origin's pairs, :meth:`column_sums` over
    each destination's; both run compiled (:mod:`accessplan.measures._kernels`).

    Attributes
    ----------
    indptr, indices
        CSR pattern of the kept pairs (origins × destinations).
    values
        Weight of each kept pair (CSR order), or None for unit weights.
    shape
        (origins, destinations).
    """

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray | None
    shape: tuple[int, int]

    def __matmul__(self, y: np.ndarray) -> np.ndarray:
        """``Σ_j W_ij y_j`` per origin (``y``: one value, or one row, per destination)."""
        from accessplan.measures._kernels import row_sums

        return row_sums(self.indptr, self.indices, self.values, np.asarray(y))

    def column_sums(self, x: np.ndarray) -> np.ndarray:
        """``Σ_i W_ij x_i`` per destination (``x``: one value per origin)."""
        from accessplan.measures._kernels import column_sums

        return column_sums(self.indptr, self.indices, self.values, x, self.shape[1])

    def two_step(self, x: np.ndarray, capacity: np.ndarray) -> np.ndarray:
        """``W R`` with ``R_j = capacity_j / Σ_i W_ij x_i`` (0 where that sum is 0)."""
        from accessplan.measures._kernels import two_step_sums

        return two_step_sums(self.indptr, self.indices, self.values, x, capacity)


def weight_matrix(
    tt: TravelTimes,
    within: float | None = None,
    weights: np.ndarray | None = None,
    *,
    keep: np.ndarray | None = None,
) -> PairWeights:
    """Weights on the reachable pairs (``≤ within``), same pattern as ``tt.matrix``.

    ``weights`` (one per kept pair, in CSR order) default to 1. Zero weights stay stored.
    ``keep`` is the mask of :func:`within_mask` when the caller has it already. The result
    shares the index arrays of ``tt.matrix`` when every pair is kept (no copy).
    """
    m = tt.matrix
    if keep is None:
        keep = within_mask(tt, within)
    indices, indptr = m.indices, m.indptr
    if keep is not None:
        kept_before = np.concatenate([[0], np.cumsum(keep)])
        indptr = kept_before[indptr].astype(indptr.dtype)
        indices = indices[keep]
    return PairWeights(indptr, indices, weights, m.shape)


def kept_minutes(
    tt: TravelTimes, within: float | None = None, *, keep: np.ndarray | None = None
) -> np.ndarray:
    """Minutes of the pairs kept by :func:`weight_matrix` (CSR order)."""
    if keep is None:
        keep = within_mask(tt, within)
    minutes = tt.matrix.data
    return minutes if keep is None else minutes[keep]


def decayed_weights(
    tt: TravelTimes,
    within: float | None,
    weigh: Callable[[np.ndarray], np.ndarray] | None,
    *,
    reach: float | None = None,
) -> PairWeights:
    """:func:`weight_matrix` with weights ``weigh(minutes)`` (1 when ``weigh`` is None).

    ``reach`` is the largest minutes the decay weighs above 0 (``Decay.reach``; read from
    ``weigh`` when it is ``functools.partial(evaluate, decay)``). Where ``within`` does not
    cap it, a reach beyond ``tt.cutoff`` is an error, as a threshold is: a step at 45 minutes
    on travel times cut at 30 would weigh none of the pairs it is meant for.
    """
    reach = _decay_reach(weigh) if reach is None else reach
    if reach is not None and (within is None or reach < within):
        tt.check_threshold(reach, _reach_name(weigh))
    keep = within_mask(tt, within)
    w = None if weigh is None else weigh(kept_minutes(tt, keep=keep))
    return weight_matrix(tt, weights=w, keep=keep)


def _decay_reach(weigh: Any) -> float | None:
    """``Decay.reach`` of the decay inside ``partial(evaluate, decay)``, else None."""
    decay = weigh.args[0] if isinstance(weigh, partial) and weigh.args else weigh
    reach = getattr(decay, "reach", None)
    return None if reach is None else float(reach)


def _reach_name(weigh: Any) -> str:
    decay = weigh.args[0] if isinstance(weigh, partial) and weigh.args else weigh
    name = getattr(decay, "name", "decay")
    return "steps" if name == "step" else f"the reach of the {name} decay"


def per_type_product(weights: PairWeights, per_type: np.ndarray) -> np.ndarray:
    """``weights @ per_type`` column by column (one value per destination and supply type).

    Types without any value give 0 without a product; the others share one sparse product.
    """
    out = np.zeros((weights.shape[0], per_type.shape[1]))
    present = np.flatnonzero(per_type.any(axis=0))
    if present.size == 1:
        out[:, present[0]] = weights @ per_type[:, present[0]]
    elif present.size:
        out[:, present] = weights @ per_type[:, present]
    return out


def per_origin_sum(p: Pairs, values: np.ndarray, n: int) -> np.ndarray:
    """Σ over each origin's pairs of ``values`` (one value per pair)."""
    return np.bincount(p.rows, weights=values, minlength=n)


def assemble(
    tt: TravelTimes, supply: Supply, physical: np.ndarray, digital: np.ndarray, name: str
) -> pd.Series | pd.DataFrame:
    """Result per origin: a Series (plain supply) or total + per-type columns (facilities)."""
    if not supply.typed:
        return pd.Series(physical[:, 0], index=tt.origin_ids, name=name)
    out = pd.DataFrame(
        {"clinic": physical[:, 0], "robotic": physical[:, 1], "digital": digital},
        index=tt.origin_ids,
    )
    out.insert(0, "total", physical[:, 0] + physical[:, 1] + digital)
    out.columns.name = name
    return out
