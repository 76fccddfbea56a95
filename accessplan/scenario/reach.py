"""Scenario-level reach accounting: who reaches care before and after, and plain warnings.

Every person is counted once in one reach category (:data:`accessplan.reach.CATEGORIES`)
per situation: before (the existing facilities) and after (with the plan's new sites). The
categories, the accounting, the component summary and the warnings are those of
:mod:`accessplan.reach`, at the scenario's ``[plan] standard``; warnings name the scenario
keys (``[network] max_snap_m``), and facility rows left out of the study add a warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from accessplan import reach

if TYPE_CHECKING:
    from accessplan.traveltimes import TravelTimes

__all__ = ["reach_extras", "scenario_warning"]

#: Python arguments named in :mod:`accessplan.reach` warnings → the scenario keys.
_WARNING_KEYS = {
    "max_snap_m": "[network] max_snap_m",
    "a larger cutoff": "a larger [network] cutoff",
}


def scenario_warning(text: str) -> str:
    """A warning of :mod:`accessplan.reach` in the scenario's words."""
    for argument, key in _WARNING_KEYS.items():
        text = text.replace(argument, key)
    return text


def _physical_ids(facilities: pd.DataFrame, tt: TravelTimes) -> list[str]:
    destinations = set(tt.destination_ids)
    ids = facilities.loc[facilities["type"] != "digital", "id"]
    return [i for i in ids if i in destinations]


def reach_extras(
    cfg: dict[str, dict[str, Any]],
    tt_existing: TravelTimes,
    tt_all: TravelTimes,
    demand: pd.Series,
    cells: pd.DataFrame,
    facilities: pd.DataFrame,
    excluded: pd.DataFrame,
) -> dict[str, Any]:
    """Reach categories of the cells (added in place), accounting, components and warnings.

    Returns
    -------
    dict
        ``accounting``: one row per reach category (column ``category``) with ``persons``,
        ``share`` and ``origins`` after the plan and ``persons_before``, ``share_before``,
        ``origins_before`` (every person in exactly one row: each column sums to the total);
        ``components``: :func:`accessplan.reach.component_summary` of the existing
        facilities, with ``facilities_after`` and ``persons_within_standard_after``;
        ``warnings``: plain-language strings.
    """
    standard = float(cfg["plan"]["standard"])
    after_ids = _physical_ids(facilities, tt_all)
    situations = {"before": (tt_existing, None), "after": (tt_all, after_ids)}
    tables, said = {}, {}
    for when, (tt, ids) in situations.items():
        categories = reach.reach_categories(tt, standard, facilities=ids)
        cells[f"reach_{when}"] = categories.reindex(cells["id"]).astype(str).to_numpy()
        tables[when] = reach.person_accounting(tt, demand, standard, facilities=ids)
        said[when] = [scenario_warning(w) for w in reach.reach_warnings(tables[when])]
    warnings = _before_and_after(said["before"], said["after"])
    accounting = _accounting_table(tables["before"], tables["after"])
    components = reach.component_summary(tt_existing, demand, standard)
    after = reach.component_summary(tt_all, demand, standard, facilities=after_ids)
    components["facilities_after"] = after["facilities"].to_numpy()
    components["persons_within_standard_after"] = after["persons_within_standard"].to_numpy()
    if len(excluded):
        warnings.append(excluded_warning(excluded))
    return {"accounting": accounting, "components": components, "warnings": warnings}


def _before_and_after(before: list[str], after: list[str]) -> list[str]:
    """One warning for what holds before and after the plan alike, else one for each."""
    both = [w for w in before if w in after]
    return (
        [f"Before and after the plan: {w}" for w in both]
        + [f"Before the plan: {w}" for w in before if w not in both]
        + [f"After the plan: {w}" for w in after if w not in both]
    )


def _accounting_table(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Category rows (no total row) of the accountings after and before the plan."""
    rows = [c for c in after.index if c != "total"]
    table = after.loc[rows, ["persons", "share", "origins"]].copy()
    for column in ("persons", "share", "origins"):
        table[f"{column}_before"] = before.loc[rows, column].to_numpy()
    table = table.rename_axis("category").reset_index()
    table.attrs = dict(before.attrs)
    return table


def excluded_warning(excluded: pd.DataFrame) -> str:
    """One sentence on the facility rows left out of the study, by reason."""
    detail = ""
    if "reason" in excluded.columns:
        reasons = excluded["reason"].astype(str).str.split(" (", regex=False).str[0].value_counts()
        detail = " (" + "; ".join(f"{n} × {r}" for r, n in reasons.items()) + ")"
    return (
        f"{len(excluded)} facility rows were left out of the study{detail}; they are listed "
        "in the report and in diagnostics.csv (Result.excluded in Python)."
    )
