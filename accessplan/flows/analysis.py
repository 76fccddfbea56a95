"""The five operational questions of the flow report, each answered by one table.

1. :func:`weekly_pattern` — how demand moves over the week and within the day;
2. :func:`absorbing_departments` — which departments take more admissions without slowing;
3. :func:`long_stay_pressure` — where long stays create capacity pressure;
4. :func:`staffing_gaps` — when peaks and staffing part ways;
5. :func:`experience_risk` — which departments carry the most patient-experience risk.

Each takes the :func:`~accessplan.flows.kpis.hourly_kpis` table (and the visit fact where
visit-level detail matters) and returns a plain DataFrame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "HIGH_OCCUPANCY",
    "absorbing_departments",
    "experience_risk",
    "long_stay_pressure",
    "staffing_gaps",
    "weekly_pattern",
]

#: Occupancy above which a unit is under pressure (share of beds).
HIGH_OCCUPANCY = 0.85
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def weekly_pattern(kpis: pd.DataFrame) -> pd.DataFrame:
    """Mean arrivals per hour (all units) by local day of week (rows) × local hour (columns)."""
    per_hour = kpis.groupby(["hour", "local_dow", "local_hour"], as_index=False)["arrivals"].sum()
    table = per_hour.pivot_table(
        index="local_dow", columns="local_hour", values="arrivals", aggfunc="mean"
    )
    table.index = [_DAYS[int(d) - 1] for d in table.index]
    return table


def absorbing_departments(kpis: pd.DataFrame, fact: pd.DataFrame) -> pd.DataFrame:
    """Per department: admissions per day and how much waits grow in its busiest hours.

    ``wait_busy_min`` and ``wait_quiet_min`` are the median waits (minutes) of visits arriving
    in the unit's busiest quarter of hours (by arrivals) and in the other hours;
    ``slowdown_min`` their difference. A department that takes many admissions with a small
    slowdown absorbs demand.
    """
    days = kpis["hour"].nunique() / 24.0
    fact = fact.dropna(subset=["arrival"]).copy()
    fact["hour"] = fact["arrival"].dt.floor("h")
    busy = kpis[["facility_id", "department", "hour", "arrivals"]].copy()
    threshold = busy.groupby(["facility_id", "department"])["arrivals"].transform(
        lambda a: a[a > 0].quantile(0.75) if (a > 0).any() else np.inf
    )
    busy["busy"] = busy["arrivals"] >= threshold
    fact = fact.merge(busy, on=["facility_id", "department", "hour"], how="left")
    rows = []
    for dep, part in fact.groupby("department"):
        waits = part.dropna(subset=["wait_minutes"])
        b = waits.loc[waits["busy"].fillna(False).astype(bool), "wait_minutes"]
        q = waits.loc[~waits["busy"].fillna(False).astype(bool), "wait_minutes"]
        rows.append(
            {
                "department": dep,
                "admissions_per_day": part["admission"].notna().sum() / days,
                "wait_median_min": waits["wait_minutes"].median(),
                "wait_busy_min": b.median() if len(b) else np.nan,
                "wait_quiet_min": q.median() if len(q) else np.nan,
            }
        )
    out = pd.DataFrame(rows)
    out["slowdown_min"] = out["wait_busy_min"] - out["wait_quiet_min"]
    return out.sort_values("admissions_per_day", ascending=False).reset_index(drop=True)


def long_stay_pressure(kpis: pd.DataFrame) -> pd.DataFrame:
    """Per unit: mean length of stay, occupancy and the time spent above 85 % of beds.

    ``hours_high_share`` is the share of hours at or above :data:`HIGH_OCCUPANCY`;
    ``pressure_bed_days`` weighs those hours by the unit's beds (bed-days under pressure), so a
    large ward full for a day counts more than one full bed. Units whose mean stay is a day or
    longer (``long_stays``) come first, then by bed-days under pressure.
    """
    k = kpis.assign(high=kpis["occupancy"] >= HIGH_OCCUPANCY)
    g = k.groupby(["facility_id", "department"])
    out = pd.DataFrame(
        {
            "beds": g["beds"].first(),
            "los_mean_h": g["los_mean_h"].mean(),
            "occupancy_mean": g["occupancy"].mean(),
            "occupancy_p90": g["occupancy"].quantile(0.9),
            "hours_high_share": g["high"].mean(),
            "pressure_bed_days": g["high"].sum() * g["beds"].first() / 24.0,
        }
    ).reset_index()
    out["long_stays"] = out["los_mean_h"] >= 24.0
    order = ["long_stays", "pressure_bed_days", "occupancy_mean"]
    return out.sort_values(order, ascending=False).reset_index(drop=True)


def staffing_gaps(kpis: pd.DataFrame) -> pd.DataFrame:
    """By local hour: share of the day's arrivals and of the day's staff, and their gap.

    ``gap`` = arrivals share − staff share (positive: more demand than staff in that hour);
    ``arrivals_per_staff`` = mean arrivals / mean staff in the hour (all units).
    """
    per_hour = kpis.groupby(["hour", "local_hour"], as_index=False).agg(
        arrivals=("arrivals", "sum"), staff=("staff", "sum")
    )
    by = per_hour.groupby("local_hour").agg(arrivals=("arrivals", "mean"), staff=("staff", "mean"))
    by["arrivals_share"] = by["arrivals"] / by["arrivals"].sum()
    by["staff_share"] = by["staff"] / by["staff"].sum()
    by["gap"] = by["arrivals_share"] - by["staff_share"]
    by["arrivals_per_staff"] = by["arrivals"] / by["staff"].where(by["staff"] > 0)
    return by.reset_index()


def experience_risk(
    kpis: pd.DataFrame, fact: pd.DataFrame, *, min_visits: int = 20
) -> pd.DataFrame:
    """Per unit with ``min_visits`` or more: left-without-being-seen share, waits, long stays.

    ``risk`` is the mean of the unit's percentile ranks (0-1) in left-without-being-seen
    share, 90th-percentile wait and 90th-percentile occupancy; highest first.
    """
    v = fact.dropna(subset=["arrival"]).groupby(["facility_id", "department"])
    out = pd.DataFrame(
        {
            "visits": v.size(),
            "lwbs_share": v["outcome"].apply(lambda o: float((o == "left").mean())),
            "wait_p90_min": v["wait_minutes"].quantile(0.9),
            "los_mean_h": v["los_hours"].mean(),
        }
    )
    occupancy = kpis.groupby(["facility_id", "department"])["occupancy"].quantile(0.9)
    out["occupancy_p90"] = occupancy.reindex(out.index)
    out = out[out["visits"] >= min_visits]
    ranks = out[["lwbs_share", "wait_p90_min", "occupancy_p90"]].rank(pct=True)
    out["risk"] = ranks.mean(axis=1)
    return out.reset_index().sort_values("risk", ascending=False).reset_index(drop=True)
