"""Before/after comparison of access: :func:`compare` and its :class:`Comparison`.

:func:`compare` turns a before and an after (access per origin, NaN where not reached) into
the figures behind a statement such as "population-weighted accessibility +300%": the
per-origin change, every metric of :func:`accessplan.equity.summarize` before and after,
persons within a travel-time standard, and optionally a table per zone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from accessplan.equity import origin_zones, summarize, values_and_persons, values_series
from accessplan.errors import InputError
from accessplan.traveltimes import TravelTimes, align_values

__all__ = ["Comparison", "compare"]


def _pct(before: np.ndarray | float, after: np.ndarray | float) -> np.ndarray:
    """Percent change; ±inf from 0, NaN from 0 to 0 and where either is NaN."""
    b, a = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, (a - b) / np.abs(b) * 100.0, np.sign(a - b) * np.inf)


@dataclass
class Comparison:
    """Result of :func:`compare`.

    Attributes
    ----------
    per_origin
        Indexed by origin id: ``before``, ``after``, ``change`` and ``pct_change`` (percent;
        ±inf from 0, NaN when both are 0 or either is not reached), plus ``minutes_before``,
        ``minutes_after`` and ``newly_within`` (bool) when travel times were given.
    summary
        One row per metric (index ``metric``) with columns ``before``, ``after``, ``change``,
        ``pct_change``.
    zones
        Per zone: ``persons``, ``mean_before``, ``mean_after``, ``change``, ``pct_change`` (and
        ``newly_within`` persons), or None without zones.
    label
        What the values are, as the headline words them (e.g. ``"2SFCA access (clinicians per
        10,000 persons)"``).
    standard
        The travel-time standard in minutes, if given.
    """

    per_origin: pd.DataFrame
    summary: pd.DataFrame
    zones: pd.DataFrame | None
    label: str = "accessibility"
    standard: float | None = None

    def headline(self) -> str:
        """One line such as ``"population-weighted accessibility +312% (0.41 → 1.69)"``."""
        row = self.summary.loc["population-weighted mean"]
        pct = row["pct_change"]
        pct_text = f"{pct:+.0f}%" if np.isfinite(pct) else ("new" if row["after"] else "unchanged")
        values = f"({row['before']:.3g} → {row['after']:.3g})"
        text = f"population-weighted {self.label} {pct_text} {values}"
        if self.standard is not None:
            newly = self.summary.loc[f"persons newly within {self.standard:g} min", "change"]
            text += f"; {newly:,.0f} persons newly within {self.standard:g} min"
        return text


def _minutes(value: pd.Series | TravelTimes, index: pd.Index, what: str) -> pd.Series:
    if isinstance(value, TravelTimes):
        from accessplan.measures import nearest

        value = nearest(value)
    series = values_series(value, what)
    missing = index.difference(series.index)
    if len(missing):
        raise InputError(f"{what} has no value for origins {[str(i) for i in missing[:5]]}.")
    return pd.to_numeric(series.reindex(index), errors="coerce")


def _within_rows(
    per_origin: pd.DataFrame, pop: pd.Series, standard: float, tb: pd.Series, ta: pd.Series
) -> dict[str, dict[str, float]]:
    """Persons and share within the standard before/after, newly and no longer within."""
    T = standard
    in_b, in_a = (tb <= T).to_numpy(), (ta <= T).to_numpy()  # NaN (unreachable) is not within
    per_origin["minutes_before"] = tb.to_numpy()
    per_origin["minutes_after"] = ta.to_numpy()
    per_origin["newly_within"] = in_a & ~in_b
    total = float(pop.sum())
    pb, pa = float(pop[in_b].sum()), float(pop[in_a].sum())
    newly = float(pop[in_a & ~in_b].sum())
    lost = float(pop[in_b & ~in_a].sum())
    return {
        f"persons within {T:g} min": {"before": pb, "after": pa, "change": pa - pb},
        f"share within {T:g} min": {
            "before": pb / total,
            "after": pa / total,
            "change": (pa - pb) / total,
        },
        f"persons newly within {T:g} min": {"before": np.nan, "after": np.nan, "change": newly},
        f"persons no longer within {T:g} min": {
            "before": np.nan,
            "after": np.nan,
            "change": lost,
        },
    }


def _zone_table(
    labels: pd.Series, pop: pd.Series, bx: np.ndarray, ax: np.ndarray, per_origin: pd.DataFrame
) -> pd.DataFrame:
    """Per zone: persons and the mean before/after over the persons reached."""
    p = pop.to_numpy()
    frame = pd.DataFrame(
        {
            "zone": labels.to_numpy(),
            "persons": p,
            "wb": np.where(np.isnan(bx), 0.0, p * np.nan_to_num(bx)),
            "pb": np.where(np.isnan(bx), 0.0, p),
            "wa": np.where(np.isnan(ax), 0.0, p * np.nan_to_num(ax)),
            "pa": np.where(np.isnan(ax), 0.0, p),
        },
        index=pop.index,
    )
    if "newly_within" in per_origin:
        frame["newly_within"] = p * per_origin["newly_within"].to_numpy()
    grouped = frame.groupby("zone", sort=True).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        grouped["mean_before"] = grouped["wb"] / grouped["pb"]
        grouped["mean_after"] = grouped["wa"] / grouped["pa"]
    grouped["change"] = grouped["mean_after"] - grouped["mean_before"]
    grouped["pct_change"] = _pct(grouped["mean_before"], grouped["mean_after"])
    cols = ["persons", "mean_before", "mean_after", "change", "pct_change"]
    if "newly_within" in grouped:
        cols.append("newly_within")
    return grouped[cols]


def compare(
    before: pd.Series | pd.DataFrame,
    after: pd.Series | pd.DataFrame,
    demand: pd.Series | float,
    *,
    zones: pd.Series | pd.DataFrame | None = None,
    origins: pd.DataFrame | pd.Series | None = None,
    zone_col: str | None = None,
    standard: float | None = None,
    minutes_before: pd.Series | TravelTimes | None = None,
    minutes_after: pd.Series | TravelTimes | None = None,
    threshold: float | None = None,
    deprivation: pd.Series | None = None,
    label: str = "accessibility",
) -> Comparison:
    """Before/after comparison of access: per-origin change and a summary of every metric.

    Parameters
    ----------
    before, after
        Access per origin (Series, or a measure's DataFrame: its ``total`` is used), same
        origin ids. NaN means not reached (e.g. minutes to the nearest facility beyond the
        cutoff): left out of the means, percentiles and indices, and counted in the row
        ``persons not reached``.
    demand
        Persons per origin id.
    zones, origins, zone_col
        Optional zones (labels per origin, or polygons + origin points) for a per-zone table.
    standard, minutes_before, minutes_after
        Travel-time standard T (minutes) and the minutes to the nearest facility before and
        after (Series, NaN = unreachable, or TravelTimes whose nearest destination is used):
        adds persons within T before/after and persons newly within T.
    threshold
        Access level; adds the share and persons below it.
    deprivation
        Deprivation score per origin; adds the concentration index.
    label
        Name of the values in the headline.

    Returns
    -------
    Comparison
        ``summary`` rows: population-weighted mean, median, p10, p90, gini, theil_t, palma,
        persons not reached (and concentration index, share/persons below threshold,
        persons/share within T, persons newly within T and persons no longer within T when
        asked).
    """
    b = values_series(before, "before")
    a = values_series(after, "after")
    if not b.index.sort_values().equals(a.index.sort_values()):
        raise InputError(
            "before and after have different origin ids; compute both for the same origins."
        )
    a = a.reindex(b.index)
    idx = b.index
    pop = pd.Series(align_values(demand, idx, "demand"), index=idx)
    bx, _ = values_and_persons(b, pop, keep_nan=True, what="before")
    ax, _ = values_and_persons(a, pop, keep_nan=True, what="after")
    per_origin = pd.DataFrame(
        {"before": bx, "after": ax, "change": ax - bx, "pct_change": _pct(bx, ax)}, index=idx
    )

    metrics: dict[str, tuple[float, float]] = {}
    sb = summarize(b, pop, deprivation=deprivation, threshold=threshold)
    sa = summarize(a, pop, deprivation=deprivation, threshold=threshold)
    names = {
        "mean": "population-weighted mean",
        "p50": "median",
        "persons_not_reached": "persons not reached",
    }
    for key in sb.index:
        if key == "persons":
            continue
        metrics[names.get(key, key)] = (sb[key], sa[key])
    if threshold is not None:
        metrics[f"persons below {threshold:g}"] = (
            float(pop[bx < threshold].sum()),
            float(pop[ax < threshold].sum()),
        )
    with np.errstate(invalid="ignore"):  # an index that is inf before and after has no change
        rows = {
            m: {"before": v[0], "after": v[1], "change": v[1] - v[0]} for m, v in metrics.items()
        }

    T = None
    if standard is not None or minutes_before is not None or minutes_after is not None:
        if standard is None or minutes_before is None or minutes_after is None:
            raise InputError(
                "persons within T minutes need standard=, minutes_before= and minutes_after=."
            )
        T = float(standard)
        if not (np.isfinite(T) and T > 0):
            raise InputError(f"standard must be a positive number of minutes, got {standard!r}.")
        tb = _minutes(minutes_before, idx, "minutes_before")
        ta = _minutes(minutes_after, idx, "minutes_after")
        rows.update(_within_rows(per_origin, pop, T, tb, ta))

    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary["pct_change"] = np.where(
        summary["before"].notna(), _pct(summary["before"], summary["after"]), np.nan
    )
    summary.index.name = "metric"

    zone_table = None
    if zones is not None:
        labels = origin_zones(idx, zones, origins=origins, zone_col=zone_col)
        zone_table = _zone_table(labels, pop, bx, ax, per_origin)
    return Comparison(per_origin, summary, zone_table, label, T)
