"""KPIs per facility × department × hour from the star schema (one SQL query in DuckDB).

For each unit (facility × department of the reference) and each UTC hour of ``dim_time``:

- ``arrivals``: visits arriving in the hour (visits);
- ``admissions``: visits admitted (taking a bed or treatment space) in the hour;
- ``left_without_being_seen``: visits arriving in the hour that left before admission;
- ``wait_median_min``, ``wait_p90_min``: median and 90th percentile (linear interpolation) of
  ``wait_minutes`` of the visits arriving in the hour that were admitted (minutes);
- ``los_mean_h``: mean length of stay of the visits arriving in the hour that were discharged
  (hours);
- ``census``: patients in a bed at the start of the hour (admitted at or before it, not yet
  discharged) and ``occupancy`` = census / beds. A stay without a discharge counts until the
  end of the data only if it began less than the unit's 99th-percentile length of stay before
  that end; an older one lost its discharge event (rejected or never sent) and is left out;
- ``staff``: clinicians on duty in the local hour (reference staffing), and
  ``arrivals_per_staff``.

``local_hour`` and ``local_dow`` (1 Monday … 7 Sunday) are in the study's time zone.
"""

from __future__ import annotations

import pandas as pd

from accessplan.errors import InputError
from accessplan.flows.database import FlowDatabase

__all__ = ["KPI_COLUMNS", "hourly_kpis", "unit_summary", "visit_table"]

KPI_COLUMNS = (
    "facility_id",
    "department",
    "hour",
    "local_hour",
    "local_dow",
    "arrivals",
    "admissions",
    "left_without_being_seen",
    "wait_median_min",
    "wait_p90_min",
    "los_mean_h",
    "census",
    "beds",
    "occupancy",
    "staff",
    "arrivals_per_staff",
)

_KPIS = """
WITH units AS (
  SELECT f.facility_key, f.facility_id, d.department_key, d.department, u.beds
  FROM ref_unit u JOIN dim_facility f USING (facility_id) JOIN dim_department d USING (department)
), hours AS (
  SELECT time_key, hour_start,
    timezone($tz, CAST(hour_start AS TIMESTAMPTZ)) AS local_start
  FROM dim_time
), arr AS (
  SELECT facility_key, department_key, arrival_time_key AS time_key, count(*) AS arrivals,
    count(*) FILTER (WHERE outcome = 'left') AS left_without_being_seen,
    median(wait_minutes) AS wait_median_min,
    quantile_cont(wait_minutes, 0.9) AS wait_p90_min,
    avg(los_hours) AS los_mean_h
  FROM fact_visit WHERE arrival IS NOT NULL GROUP BY ALL
), adm AS (
  SELECT facility_key, department_key,
    CAST(epoch(date_trunc('hour', admission)) // 3600 AS BIGINT) AS time_key,
    count(*) AS admissions
  FROM fact_visit WHERE admission IS NOT NULL GROUP BY ALL
), los99 AS (
  SELECT facility_key, department_key, quantile_cont(los_hours, 0.99) AS p99
  FROM fact_visit WHERE los_hours IS NOT NULL GROUP BY ALL
), stays AS (  -- an open stay older than the unit's 99th percentile stay lost its discharge
  SELECT v.facility_key, v.department_key, v.admission, v.discharge FROM fact_visit v
  LEFT JOIN los99 USING (facility_key, department_key)
  WHERE v.admission IS NOT NULL AND (v.discharge IS NOT NULL
    OR epoch(v.admission) >= (SELECT epoch(max(hour_start)) + 3600 FROM dim_time)
       - 3600 * coalesce(los99.p99, 0))
), moves AS (  -- +1 from the first hour start at or after admission, -1 likewise at discharge
  SELECT facility_key, department_key, time_key, sum(delta) AS delta FROM (
    SELECT facility_key, department_key, CAST(ceil(epoch(admission) / 3600) AS BIGINT) AS time_key,
      1 AS delta FROM stays
    UNION ALL
    SELECT facility_key, department_key, CAST(ceil(epoch(discharge) / 3600) AS BIGINT), -1
    FROM stays WHERE discharge IS NOT NULL
  ) GROUP BY ALL
), grid AS (
  SELECT u.*, h.time_key, h.hour_start, h.local_start FROM units u, hours h
), census AS (
  SELECT g.facility_key, g.department_key, g.time_key,
    sum(coalesce(m.delta, 0)) OVER (PARTITION BY g.facility_key, g.department_key
      ORDER BY g.time_key ROWS UNBOUNDED PRECEDING)
    + coalesce((SELECT sum(delta) FROM moves e WHERE e.facility_key = g.facility_key
        AND e.department_key = g.department_key
        AND e.time_key < (SELECT min(time_key) FROM dim_time)), 0) AS census
  FROM grid g LEFT JOIN moves m USING (facility_key, department_key, time_key)
)
SELECT g.facility_id, g.department, g.hour_start AS hour,
  hour(g.local_start) AS local_hour, isodow(g.local_start) AS local_dow,
  coalesce(a.arrivals, 0) AS arrivals, coalesce(d.admissions, 0) AS admissions,
  coalesce(a.left_without_being_seen, 0) AS left_without_being_seen,
  a.wait_median_min, a.wait_p90_min, a.los_mean_h,
  CAST(c.census AS BIGINT) AS census, g.beds,
  CASE WHEN g.beds > 0 THEN c.census / g.beds END AS occupancy,
  s.staff,
  CASE WHEN s.staff > 0 THEN coalesce(a.arrivals, 0) / s.staff END AS arrivals_per_staff
FROM grid g
LEFT JOIN arr a USING (facility_key, department_key, time_key)
LEFT JOIN adm d USING (facility_key, department_key, time_key)
LEFT JOIN census c USING (facility_key, department_key, time_key)
LEFT JOIN ref_staffing s ON s.facility_id = g.facility_id AND s.department = g.department
  AND s.hour_of_day = hour(g.local_start)
ORDER BY g.facility_id, g.department, g.hour_start
"""


def hourly_kpis(db: FlowDatabase, *, local_tz: str | None = None) -> pd.DataFrame:
    """KPIs per facility × department × hour (columns :data:`KPI_COLUMNS`; see module doc).

    Parameters
    ----------
    db
        A study with ingested events.
    local_tz
        IANA time zone for ``local_hour``/``local_dow`` and the staffing join; default the
        study's ``local_tz`` setting, else UTC.
    """
    if not db.scalar("SELECT count(*) FROM dim_time"):
        raise InputError(f"study {db.path} has no visits yet; ingest events first")
    tz = local_tz or db.setting("local_tz", "UTC") or "UTC"
    out = db.con.execute(_KPIS, {"tz": tz}).df()
    return out.loc[:, list(KPI_COLUMNS)]


def unit_summary(kpis: pd.DataFrame, fact: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per facility × department: totals and means over the hours of ``kpis``.

    ``arrivals``, ``admissions``, ``left_without_being_seen`` (visits), ``lwbs_share``,
    ``wait_median_min`` (median over hours with arrivals), ``occupancy_mean`` and
    ``occupancy_p90``, ``beds``; with ``fact`` (the visit fact joined with its facility and
    department ids) the medians come from visits rather than hours.
    """
    g = kpis.groupby(["facility_id", "department"], sort=True)
    out = pd.DataFrame(
        {
            "arrivals": g["arrivals"].sum(),
            "admissions": g["admissions"].sum(),
            "left_without_being_seen": g["left_without_being_seen"].sum(),
            "wait_median_min": g["wait_median_min"].median(),
            "wait_p90_min": g["wait_p90_min"].median(),
            "los_mean_h": g["los_mean_h"].mean(),
            "occupancy_mean": g["occupancy"].mean(),
            "occupancy_p90": g["occupancy"].quantile(0.9),
            "beds": g["beds"].first(),
        }
    )
    out["lwbs_share"] = out["left_without_being_seen"] / out["arrivals"].where(out["arrivals"] > 0)
    if fact is not None and len(fact):
        v = fact.groupby(["facility_id", "department"])
        out["wait_median_min"] = v["wait_minutes"].median().reindex(out.index)
        out["wait_p90_min"] = v["wait_minutes"].quantile(0.9).reindex(out.index)
        out["los_mean_h"] = v["los_hours"].mean().reindex(out.index)
    return out.reset_index()


def visit_table(db: FlowDatabase) -> pd.DataFrame:
    """The visit fact with its facility id and department name (one row per visit)."""
    return db.sql(
        "SELECT d.facility_id, p.department, f.* EXCLUDE (facility_key, department_key) "
        "FROM fact_visit f LEFT JOIN dim_facility d USING (facility_key) "
        "LEFT JOIN dim_department p USING (department_key) ORDER BY f.visit_id"
    )
