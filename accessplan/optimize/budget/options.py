"""Supply options and the checked inputs of the budget model (candidates, existing sites, costs)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from accessplan.errors import InputError
from accessplan.optimize._data import closable_ids, existing_frame, site_frame
from accessplan.supply import PHYSICAL_TYPES, SUPPLY_TYPES, check_supply_types
from accessplan.traveltimes import TravelTimes, align_values

OBJECTIVES = ("coverage", "median", "maximin")


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
    standard
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
    standard: float | None = None
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
            std = self.standard
            if std is None or not (np.isfinite(std) and std >= 0):
                raise InputError(
                    f"SupplyOption {label!r}: a physical option needs standard (the "
                    f"service standard in minutes, >= 0); got {std}."
                )
        if not 0.0 <= self.effectiveness <= 1.0:
            raise InputError(
                f"SupplyOption {label!r}: effectiveness is {self.effectiveness}; give a share "
                "between 0 and 1."
            )
        share = self.digital_access
        # np.isscalar's type guard admits str and bytes, which float() is not typed to take
        if np.isscalar(share) and not 0.0 <= float(share) <= 1.0:  # type: ignore[arg-type]
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


@dataclass
class Instance:
    """Checked inputs of the budget model.

    Attributes
    ----------
    tt
        The travel times given (minutes).
    population
        Persons per origin, in the order of ``tt.origin_ids``.
    columns
        One row per site–option column (new) or existing facility: ``site``, ``option``,
        ``type``, ``cost``, ``capacity`` (persons, NaN = none), ``standard`` (minutes),
        ``existing``, ``closable`` and ``dest`` (destination position, -1 for none).
    digital_share
        Share :math:`a_i e` of each origin's need a digital hub can meet (0–1).
    effectiveness
        Share :math:`e` of the needs a digital consultation resolves (0–1).
    connected_population
        Persons connected to digital supply, :math:`\\sum_i a_i P_i`.
    """

    tt: TravelTimes
    population: np.ndarray
    columns: pd.DataFrame
    digital_share: np.ndarray
    effectiveness: float
    connected_population: float


def _check_options(options: Sequence[SupplyOption]) -> list[SupplyOption]:
    options = list(options)
    if not options:
        raise InputError("supply_options is empty; give at least one SupplyOption.")
    for opt in options:
        if not isinstance(opt, SupplyOption):
            raise InputError(
                f"supply_options must be SupplyOption objects; got {type(opt).__name__} ({opt!r})."
            )
    labels = [o.label for o in options]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise InputError(f"supply_options {dup} repeat; give each SupplyOption a distinct name.")
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
    closable: Iterable[Hashable],
    tt: TravelTimes,
    options: list[SupplyOption],
) -> pd.DataFrame:
    cols = ["site", "option", "type", "cost", "capacity", "standard", "existing", "closable"]
    cols.append("dest")
    table = existing_frame(existing)
    may_close = table.index.isin(closable_ids(closable, table.index))
    if len(table) == 0:
        return pd.DataFrame(columns=cols)
    types = table["type"] if "type" in table.columns else pd.Series("clinic", index=table.index)
    unknown = ~types.isin(SUPPLY_TYPES)
    if unknown.any():
        at = types.index[unknown.to_numpy()][0]
        raise InputError(
            f"existing: facility {at!r} has type {types[at]!r}; use one of {list(SUPPLY_TYPES)}."
        )
    capacity = _optional_column(table, "capacity", "existing")
    standard = _optional_column(table, "standard", "existing")
    for site, given in zip(table.index, standard, strict=True):
        if not np.isnan(given):
            tt.check_threshold(given, f"the standard of existing facility {str(site)!r}")
    default_std = {o.type: o.standard for o in reversed(options) if not o.is_digital}
    rows = []
    for pos, site in enumerate(table.index):
        kind = str(types.iloc[pos])
        std = standard[pos]
        if kind != "digital" and np.isnan(std):
            if kind not in default_std:
                raise InputError(
                    f"existing: facility {site!r} is a {kind} but no standard is given "
                    f"and no {kind} option defines one; add a 'standard' column."
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
        row = (site, f"existing {kind}", kind, 0.0, capacity[pos], std, True, may_close[pos], dest)
        rows.append(row)
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


def _candidate_sites(
    candidates: pd.DataFrame | None, tt: TravelTimes, existing: pd.DataFrame
) -> tuple[pd.Index, np.ndarray]:
    """Candidate ids and the one type each may host (None = any option's type)."""
    existing_ids = pd.Index(existing["site"])
    if candidates is None:
        ids = tt.destination_ids.difference(existing_ids, sort=False)
        return ids, np.full(len(ids), None, dtype=object)
    table = site_frame(candidates, "candidates")
    given = [c for c in ("cost", "capacity") if c in table.columns]
    if given:
        raise InputError(
            f"candidates: budgeted_siting takes costs and capacities from supply_options (and "
            f"site_costs for costs per site); drop the column(s) {given}."
        )
    ids = table.index
    missing = ids.difference(tt.destination_ids)
    if len(missing):
        raise InputError(
            f"candidates {[str(x) for x in missing[:5]]} are not destinations of the travel "
            "times; compute travel times to them."
        )
    fixed = pd.Index(existing.loc[~existing["closable"].astype(bool), "site"])
    clash = ids.intersection(fixed)
    if len(clash):
        raise InputError(
            f"candidates {[str(x) for x in clash[:5]]} are existing facilities that stay open; "
            "leave them out of the candidates, or list them in closable= so that a new option "
            "may replace them."
        )
    types = table["type"] if "type" in table.columns else pd.Series(None, index=ids)
    types = types.astype(object).where(types.notna(), None)
    check_supply_types(types.dropna(), "candidates")
    return ids, types.to_numpy(dtype=object)


def _new_columns(
    cand: pd.Index,
    site_types: np.ndarray,
    tt: TravelTimes,
    options: list[SupplyOption],
    site_costs: pd.DataFrame | None,
) -> pd.DataFrame:
    labels = [o.label for o in options]
    costs = np.tile(np.array([o.cost for o in options], dtype=np.float64), (len(cand), 1))
    if site_costs is not None:
        costs = _apply_site_costs(costs, cand, labels, site_costs)
    option_types = np.array([o.type for o in options], dtype=object)
    restricted = site_types != None  # noqa: E711 (elementwise on an object array)
    other_type = restricted[:, None] & (site_types[:, None] != option_types[None, :])
    costs[other_type] = np.inf
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
                [np.nan if o.is_digital else o.standard for o in options], dtype=float
            )[opt_pos],
            "existing": False,
            "closable": False,
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


def prepare_instance(
    tt: TravelTimes,
    demand: pd.Series | float,
    options: Sequence[SupplyOption],
    budget: float,
    candidates: pd.DataFrame | None,
    existing: pd.DataFrame | Iterable[Hashable] | None,
    closable: Iterable[Hashable],
    site_costs: pd.DataFrame | None,
) -> Instance:
    """Check the inputs of :func:`~accessplan.optimize.budgeted_siting` and tabulate them.

    Parameters
    ----------
    tt, demand, options, budget, candidates, existing, closable, site_costs
        As for :func:`~accessplan.optimize.budgeted_siting` (``options`` is its
        ``supply_options``).

    Returns
    -------
    Instance
        One column per allowed site–option pair and per existing facility.

    Raises
    ------
    InputError
        Naming the argument, site or option that is wrong and how to fix it.
    """
    opts = _check_options(options)
    population = align_values(demand, tt.origin_ids, "demand")
    access, effectiveness = _digital_parameters(opts, tt.origin_ids)
    old = _existing_table(existing, closable, tt, opts)
    cand, site_types = _candidate_sites(candidates, tt, old)
    new = _new_columns(cand, site_types, tt, opts, site_costs)
    _check_budget(budget, new)
    columns = pd.concat([old, new], ignore_index=True) if len(old) else new
    columns["existing"] = columns["existing"].astype(bool)
    columns["closable"] = columns["closable"].astype(bool)
    return Instance(
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
