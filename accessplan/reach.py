"""One account of every person: who reaches a facility, and why the others do not.

A travel-time matrix leaves a person's cell without any facility for different reasons, and
a plan must tell them apart: a cell too far from every road was never routed; a cell on an
island whose road network holds no facility cannot reach one by road whatever the cutoff; a
cell on a network that has a facility may simply be farther than the cutoff. Each origin gets
exactly one reach category (:data:`CATEGORIES`), decided in this order:

1. ``"too far from road"``: the origin is farther than ``max_snap_m`` from every road node
   (its component is NA); it was not routed.
2. ``"within standard"``: it reaches a facility in at most ``standard`` minutes.
3. ``"beyond standard"``: it reaches a facility within the cutoff, but none within the standard.
4. ``"no facility on its network"``: it reaches none, and its road network component holds no
   facility (a facility too far from the road is on no component).
5. ``"no facility within cutoff"``: it reaches none, though a facility is on its component:
   they are farther apart than the cutoff (or joined only by one-way roads the other way).

Facilities reached over a one-way road into another component count as reached (rules 2-3
read the travel times, not the labels). The components come from
:attr:`accessplan.TravelTimes.origin_components`; a matrix without them (built by
:meth:`~accessplan.TravelTimes.from_long`) is one component, with nobody too far from the road.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable

import numpy as np
import pandas as pd

from accessplan.errors import InputError
from accessplan.traveltimes import TravelTimes, align_values

__all__ = [
    "BEYOND_STANDARD",
    "CATEGORIES",
    "NOT_ON_NETWORK",
    "NO_FACILITY_ON_NETWORK",
    "NO_FACILITY_WITHIN_CUTOFF",
    "TOO_FAR_FROM_ROAD",
    "WITHIN_STANDARD",
    "component_summary",
    "person_accounting",
    "reach_categories",
    "reach_warnings",
]

WITHIN_STANDARD = "within standard"
BEYOND_STANDARD = "beyond standard"
NO_FACILITY_WITHIN_CUTOFF = "no facility within cutoff"
NO_FACILITY_ON_NETWORK = "no facility on its network"
TOO_FAR_FROM_ROAD = "too far from road"

#: The reach categories, best first; every origin has exactly one.
CATEGORIES: tuple[str, ...] = (
    WITHIN_STANDARD,
    BEYOND_STANDARD,
    NO_FACILITY_WITHIN_CUTOFF,
    NO_FACILITY_ON_NETWORK,
    TOO_FAR_FROM_ROAD,
)

#: Label of the row of :func:`component_summary` for the points too far from the road.
NOT_ON_NETWORK = "not on the network"

_TOTAL = "total"


def reach_categories(
    tt: TravelTimes,
    standard: float,
    *,
    facilities: Iterable[Hashable] | None = None,
) -> pd.Series:
    """The reach category of every origin (see the module docstring for the rules).

    Parameters
    ----------
    tt
        Travel times, minutes; its origin and destination components tell which road
        network each point is on.
    standard
        Service standard, minutes (at most ``tt.cutoff``).
    facilities
        Destination ids that are facilities (default: every destination of ``tt``), e.g.
        the existing facilities when ``tt`` also holds candidate sites.

    Returns
    -------
    pandas.Series
        Indexed by ``tt.origin_ids``, named ``"reach"``, a categorical of :data:`CATEGORIES`.

    Raises
    ------
    InputError
        If ``standard`` is not a positive number of minutes or exceeds ``tt.cutoff``, or a
        facility id is not a destination of ``tt``.
    """
    standard = _checked_standard(tt, standard)
    columns = _facility_columns(tt, facilities)
    nearest = _nearest_minutes(tt, columns)
    origin_component = tt.origin_components.to_numpy(dtype=np.float64, na_value=np.nan)
    served = tt.destination_components.iloc[columns].dropna().unique()
    has_facility = np.isin(origin_component, np.asarray(served, dtype=np.float64))
    code = np.select(
        [
            np.isnan(origin_component),
            nearest <= standard,
            np.isfinite(nearest),
            ~has_facility,
        ],
        [4, 0, 1, 3],
        default=2,
    )
    values = pd.Categorical.from_codes(code, categories=list(CATEGORIES))
    return pd.Series(values, index=tt.origin_ids, name="reach")


def person_accounting(
    tt: TravelTimes,
    demand: pd.Series | float,
    standard: float,
    *,
    facilities: Iterable[Hashable] | None = None,
) -> pd.DataFrame:
    """Persons and origins in each reach category, and their share of all persons.

    Parameters
    ----------
    tt, standard, facilities
        As in :func:`reach_categories`.
    demand
        Persons per origin (Series indexed by origin id, every origin given), or one number.

    Returns
    -------
    pandas.DataFrame
        Indexed by category (:data:`CATEGORIES`, all of them, in that order) and a last row
        ``"total"``; columns ``persons``, ``share`` (of the total persons, 0-1) and
        ``origins``. Every origin is in exactly one category, so the category rows add up to
        the total row: ``origins`` exactly, ``persons`` as ``math.fsum`` of the rows (each an
        exactly rounded ``math.fsum``), equal to ``demand.sum()`` up to floating-point
        rounding, and ``share`` sums to 1. ``attrs`` holds ``standard``, ``cutoff``
        (minutes) and ``max_snap_m`` (metres, when ``tt.diagnostics`` records it), for
        :func:`reach_warnings`.
    """
    categories = reach_categories(tt, standard, facilities=facilities)
    persons = align_values(demand, tt.origin_ids, "demand")
    codes = categories.cat.codes.to_numpy()
    rows = {
        name: (math.fsum(persons[codes == k]), int((codes == k).sum()))
        for k, name in enumerate(CATEGORIES)
    }
    total = math.fsum(p for p, _ in rows.values())
    table = pd.DataFrame(
        {
            "persons": [p for p, _ in rows.values()] + [total],
            "share": [p / total if total > 0 else 0.0 for p, _ in rows.values()]
            + [1.0 if total > 0 else 0.0],
            "origins": [n for _, n in rows.values()] + [len(codes)],
        },
        index=pd.Index([*CATEGORIES, _TOTAL], name="category"),
    )
    table.attrs = {
        "standard": float(standard),
        "cutoff": tt.cutoff,
        "max_snap_m": _max_snap_m(tt),
    }
    return table


def component_summary(
    tt: TravelTimes,
    demand: pd.Series | float,
    standard: float,
    *,
    facilities: Iterable[Hashable] | None = None,
) -> pd.DataFrame:
    """One row per road-network component, and one for the points not on the network.

    Parameters
    ----------
    tt, demand, standard, facilities
        As in :func:`person_accounting`.

    Returns
    -------
    pandas.DataFrame
        Columns ``component`` (the component number, or :data:`NOT_ON_NETWORK` for the
        points too far from the road), ``nodes`` (network nodes; NA when ``tt`` does not
        know them, 0 for the last row), ``origins``, ``persons``, ``facilities`` and
        ``persons_within_standard``. Components are listed largest first (by number), every
        known component even without persons. ``persons`` adds up to the total of
        :func:`person_accounting`; ``persons_within_standard`` to its ``"within standard"``
        row.
    """
    categories = reach_categories(tt, standard, facilities=facilities)
    columns = _facility_columns(tt, facilities)
    persons = align_values(demand, tt.origin_ids, "demand")
    within = (categories == WITHIN_STANDARD).to_numpy()
    o_comp = tt.origin_components.to_numpy(dtype=np.float64, na_value=np.nan)
    d_comp = tt.destination_components.iloc[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    nodes = tt.component_nodes
    known = set() if nodes is None else {int(c) for c in nodes.index}
    found = {int(c) for c in np.concatenate([o_comp, d_comp]) if not np.isnan(c)}
    records = []
    for c in sorted(known | found):
        on = o_comp == c
        records.append(
            {
                "component": c,
                "nodes": int(nodes.get(c, 0)) if nodes is not None else pd.NA,
                "origins": int(on.sum()),
                "persons": math.fsum(persons[on]),
                "facilities": int((d_comp == c).sum()),
                "persons_within_standard": math.fsum(persons[on & within]),
            }
        )
    off = np.isnan(o_comp)
    records.append(
        {
            "component": NOT_ON_NETWORK,
            "nodes": 0,
            "origins": int(off.sum()),
            "persons": math.fsum(persons[off]),
            "facilities": int(np.isnan(d_comp).sum()),
            "persons_within_standard": 0.0,
        }
    )
    table = pd.DataFrame.from_records(records)
    table["nodes"] = table["nodes"].astype("Int64")
    table["component"] = table["component"].astype(object)
    return table


def reach_warnings(accounting: pd.DataFrame, threshold: float = 0.01) -> list[str]:
    """Plain-language warnings for the persons a plan would otherwise miss.

    One sentence for each of ``"too far from road"``, ``"no facility on its network"`` and
    ``"no facility within cutoff"`` that holds at least ``threshold`` of all persons.

    Parameters
    ----------
    accounting
        The table of :func:`person_accounting`.
    threshold
        Smallest share of persons (0-1) worth a warning; default 0.01 (1 %).

    Returns
    -------
    list of str
        The warnings, in category order; empty when none applies.
    """
    if not (isinstance(threshold, int | float) and 0 <= threshold <= 1):
        raise InputError(f"threshold must be a share between 0 and 1, got {threshold!r}.")
    missing = [c for c in CATEGORIES if c not in accounting.index]
    if missing or not {"persons", "share"} <= set(accounting.columns):
        raise InputError(
            "accounting must be the table of accessplan.reach.person_accounting (rows per "
            f"category, columns persons and share); it lacks {missing or ['persons', 'share']}."
        )
    attrs = accounting.attrs
    cutoff, max_snap = attrs.get("cutoff"), attrs.get("max_snap_m")
    within_cutoff = f"within the {cutoff:g}-minute cutoff" if cutoff else "at all"
    road = f"more than {max_snap:,.0f} m from any road" if max_snap else "too far from any road"
    text = {
        TOO_FAR_FROM_ROAD: (
            f"live {road}: they were not routed and reach no facility in these results. Check "
            "that the road data covers them, or raise max_snap_m."
        ),
        NO_FACILITY_ON_NETWORK: (
            "live on a road network with no facility (another island, or roads the data does "
            "not join to the rest): no facility can be reached from there by road. Add a "
            "facility on that network, or check the roads and facilities cover it."
        ),
        NO_FACILITY_WITHIN_CUTOFF: (
            f"reach no facility {within_cutoff}, although their road network has one. Compute "
            "travel times with a larger cutoff to see how far they are."
        ),
    }
    out = []
    for category in CATEGORIES:
        if category not in text:
            continue
        sentence = text[category]
        share = float(accounting.at[category, "share"])
        persons = float(accounting.at[category, "persons"])
        if persons > 0 and share >= threshold:
            out.append(f"{100 * share:.1f} % of persons ({persons:,.0f}) {sentence}")
    return out


# ---------------------------------------------------------------------------- helpers
def _checked_standard(tt: TravelTimes, standard: float) -> float:
    try:
        value = float(standard)
    except (TypeError, ValueError):
        raise InputError(
            f"standard must be a positive number of minutes, got {standard!r}."
        ) from None
    if not (np.isfinite(value) and value > 0):
        raise InputError(f"standard must be a positive number of minutes, got {standard!r}.")
    tt.check_threshold(value, "standard")
    return value


def _facility_columns(tt: TravelTimes, facilities: Iterable[Hashable] | None) -> np.ndarray:
    """Positions of the facility destinations in ``tt`` (all of them when None)."""
    if facilities is None:
        return np.arange(len(tt.destination_ids))
    return tt.destination_positions(facilities, argument="facilities")


def _nearest_minutes(tt: TravelTimes, columns: np.ndarray) -> np.ndarray:
    """Minutes from each origin to its nearest facility (stored pairs only); inf if none."""
    m = tt.matrix if columns.size == tt.shape[1] else tt.matrix[:, columns]
    out = np.full(m.shape[0], np.inf)
    counts = np.diff(m.indptr)
    has = counts > 0
    if m.nnz:
        out[has] = np.minimum.reduceat(m.data, m.indptr[:-1][has])
    return out


def _max_snap_m(tt: TravelTimes) -> float | None:
    diag = tt.diagnostics
    if diag is None or "max_snap_m" not in getattr(diag, "columns", ()) or diag.empty:
        return None
    return float(diag["max_snap_m"].iloc[0])
