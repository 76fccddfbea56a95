"""The analytical layer: a visit fact with facility, department and time dimensions.

``fact_visit`` has one row per visit seen in ``validated_events``:

- ``arrival``, ``triage``, ``admission`` (the patient takes a bed or treatment space),
  ``discharge``, ``left_at`` (left without being seen), UTC;
- ``wait_minutes`` = admission − arrival (minutes), ``los_hours`` = discharge − admission
  (hours, the time a bed is held);
- ``acuity`` (1 most urgent … 5, from the triage event), ``age_band`` (from the arrival's age),
  ``origin_cell`` (population cell the patient came from), ``outcome`` (``discharged``,
  ``left``, ``admitted`` — in a bed at the end of the data — or ``waiting``);
- keys ``facility_key``, ``department_key`` and ``arrival_time_key`` (hours since 1970-01-01
  UTC, the key of ``dim_time``).

The fact is rebuilt for the visits a batch touched, so visits whose events arrive in different
files are complete once all their events are in.
"""

from __future__ import annotations

import duckdb

__all__ = ["AGE_BANDS", "rebuild_dimensions", "update_star"]

#: Age bands of the fact table (years), lower bound inclusive.
AGE_BANDS = (("0-4", 0, 5), ("5-14", 5, 15), ("15-44", 15, 45), ("45-64", 45, 65), ("65+", 65, 999))

_AGE_CASE = (
    "CASE "
    + " ".join(f"WHEN age >= {lo} AND age < {hi} THEN '{name}'" for name, lo, hi in AGE_BANDS)
    + " ELSE 'unknown' END"
)


def rebuild_dimensions(con: duckdb.DuckDBPyConnection) -> None:
    """Facility and department dimensions from the reference tables (keys by sorted id)."""
    con.execute("DELETE FROM dim_facility")
    con.execute(
        "INSERT INTO dim_facility SELECT row_number() OVER (ORDER BY facility_id), facility_id, "
        "name, tier FROM ref_facility"
    )
    con.execute("DELETE FROM dim_department")
    con.execute(
        "INSERT INTO dim_department SELECT row_number() OVER (ORDER BY department), department "
        "FROM (SELECT DISTINCT department FROM ref_unit)"
    )
    # Facts built before a reference change point at the new keys.
    con.execute(
        "UPDATE fact_visit f SET facility_key = d.facility_key FROM dim_facility d, "
        "(SELECT visit_id, arg_min(facility_id, ts) AS facility_id FROM validated_events "
        "GROUP BY visit_id) v WHERE v.visit_id = f.visit_id AND d.facility_id = v.facility_id"
    )


_FACT = f"""
INSERT INTO fact_visit
WITH v AS (
  SELECT visit_id,
    arg_min(facility_id, ts) AS facility_id,
    arg_min(department, ts) AS department,
    min(ts) FILTER (WHERE event_type = 'arrival') AS arrival,
    min(ts) FILTER (WHERE event_type = 'triage') AS triage,
    min(ts) FILTER (WHERE event_type = 'admission') AS admission,
    min(ts) FILTER (WHERE event_type = 'discharge') AS discharge,
    min(ts) FILTER (WHERE event_type = 'left') AS left_at,
    max(acuity) FILTER (WHERE event_type = 'triage') AS acuity,
    arg_min(age, ts) FILTER (WHERE event_type = 'arrival') AS age,
    arg_min(origin_cell, ts) FILTER (WHERE event_type = 'arrival') AS origin_cell
  FROM validated_events
  WHERE visit_id IN (SELECT visit_id FROM _touched)
  GROUP BY visit_id
)
SELECT v.visit_id, f.facility_key, d.department_key,
  CAST(epoch(date_trunc('hour', arrival)) // 3600 AS BIGINT),
  arrival, triage, admission, discharge, left_at,
  date_diff('second', arrival, admission) / 60.0,
  date_diff('second', admission, discharge) / 3600.0,
  acuity, {_AGE_CASE}, origin_cell,
  CASE WHEN left_at IS NOT NULL THEN 'left' WHEN discharge IS NOT NULL THEN 'discharged'
       WHEN admission IS NOT NULL THEN 'admitted' ELSE 'waiting' END
FROM v LEFT JOIN dim_facility f USING (facility_id) LEFT JOIN dim_department d USING (department)
"""

_TIME = """
INSERT INTO dim_time
SELECT CAST(epoch(h) // 3600 AS BIGINT), h, CAST(h AS DATE), isodow(h), hour(h), weekofyear(h),
  month(h), year(h)
FROM (SELECT unnest(generate_series(date_trunc('hour', min(arrival)),
        date_trunc('hour', max(arrival)), INTERVAL 1 HOUR)) AS h
      FROM fact_visit WHERE visit_id IN (SELECT visit_id FROM _touched) AND arrival IS NOT NULL)
WHERE h IS NOT NULL AND CAST(epoch(h) // 3600 AS BIGINT) NOT IN (SELECT time_key FROM dim_time)
"""


def update_star(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild the fact rows of the visits in temp table ``_touched``; extend ``dim_time``.

    Returns the number of visits rebuilt.
    """
    con.execute("DELETE FROM fact_visit WHERE visit_id IN (SELECT visit_id FROM _touched)")
    con.execute(_FACT)
    con.execute(_TIME)
    return int((con.execute("SELECT count(*) FROM _touched").fetchall()[0])[0])
