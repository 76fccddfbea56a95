"""Validation rules: raw records of one batch → validated events and quarantine, set-based SQL.

Rules, in order (a rejected record carries the first rule it fails):

``schema``
    Not a JSON object, a missing or empty ``event_id``, ``visit_id``, ``timestamp``,
    ``facility_id`` or ``department``, an ``event_type`` outside :data:`EVENT_TYPES`, a timestamp
    that does not parse, an ``acuity`` that is not an integer 1-5, or an ``age`` that is not a
    number.
``duplicate`` / ``conflicting_duplicate``
    An event id seen before (in an earlier batch or earlier in this one, among records that
    passed ``schema``): identical typed content (the same instant in any time zone counts as
    identical) is a duplicate; different content a conflicting duplicate. The first occurrence
    is the reference and is judged by the remaining rules like any other record.
``unknown_facility`` / ``unknown_department``
    A facility not in the reference facilities; a department the facility does not have.
``future_timestamp``
    A timestamp later than the ingest time plus the tolerance (minutes).
``discharge_before_admission``
    A discharge earlier than the validated admission of the same visit (or an admission later
    than the validated discharge).
``impossible_age`` (corrected, kept)
    An age below 0 or above :data:`MAX_AGE_YEARS` is set to unknown (NULL); the record stays in
    ``validated_events`` and a ``corrected`` row in ``quarantine`` keeps the original value.

Time zones: a timestamp with an offset (``+03:00``, ``Z``) is converted to UTC; one without is
read in the study's local time zone (``local_tz``) and converted. Validated times are UTC.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from accessplan.flows.database import EVENT_FIELDS, EVENT_TYPES

__all__ = ["MAX_AGE_YEARS", "run_statements", "validate_batch"]

#: Oldest plausible age (years); older or negative ages are corrected to unknown.
MAX_AGE_YEARS = 120

_TYPES = ", ".join(f"'{t}'" for t in EVENT_TYPES)
# Every field read as text, so that the rules see what was sent (a CSV's text, a JSON number).
_STRUCTURE = "{" + ", ".join(f'"{f}": "VARCHAR"' for f in EVENT_FIELDS) + "}"

# Typed view of the batch's raw records (`_incoming`: raw_id, payload; as inserted in raw),
# computed inside the judging query so the batch is materialised once.
_PARSE = f"""
WITH j AS (
  SELECT raw_id, CAST($now AS TIMESTAMP) AS ingested_at,
    try(from_json(payload, '{_STRUCTURE}')) AS p
  FROM _incoming
), f AS (
  SELECT raw_id, ingested_at, p IS NOT NULL AS is_object,
    NULLIF(trim(p.event_id), '') AS event_id,
    NULLIF(trim(p.visit_id), '') AS visit_id,
    lower(NULLIF(trim(p.event_type), '')) AS event_type,
    NULLIF(trim(p.timestamp), '') AS ts_text,
    NULLIF(trim(p.facility_id), '') AS facility_id,
    NULLIF(trim(p.department), '') AS department,
    NULLIF(trim(p.acuity), '') AS acuity_text,
    NULLIF(trim(p.age), '') AS age_text,
    NULLIF(trim(p.origin_cell), '') AS origin_cell
  FROM j
), t AS (
  SELECT *,
    timezone('UTC', TRY_CAST(replace(ts_text, ' ', 'T') AS TIMESTAMPTZ)) AS ts,
    TRY_CAST(acuity_text AS INTEGER) AS acuity,
    TRY_CAST(age_text AS DOUBLE) AS age_raw
  FROM f
)
SELECT * EXCLUDE (is_object, acuity_text, age_text),
  NOT regexp_matches(coalesce(ts_text, ''), '(Z|[+-]00(:?00)?)$') AS converted,
  CASE
    WHEN NOT is_object THEN 'not a JSON object'
    WHEN event_id IS NULL THEN 'event_id missing'
    WHEN visit_id IS NULL THEN 'visit_id missing'
    WHEN event_type IS NULL OR event_type NOT IN ({_TYPES})
      THEN 'event_type not one of {"/".join(EVENT_TYPES)}'
    WHEN ts_text IS NULL THEN 'timestamp missing'
    WHEN ts IS NULL THEN 'timestamp not ISO 8601'
    WHEN facility_id IS NULL THEN 'facility_id missing'
    WHEN department IS NULL THEN 'department missing'
    WHEN acuity_text IS NOT NULL AND (acuity IS NULL OR acuity NOT BETWEEN 1 AND 5)
      THEN 'acuity not an integer 1-5'
    WHEN age_text IS NOT NULL AND (age_raw IS NULL OR isnan(age_raw) OR isinf(age_raw))
      THEN 'age not a number'
  END AS schema_problem,
  hash(event_type, ts, facility_id, department, visit_id, acuity, age_raw, origin_cell)
    AS content_hash
FROM t
"""

# Judge every parsed record by the rules in order; `_judged.rule` is NULL for a kept record.
_JUDGE = f"""
CREATE OR REPLACE TEMP TABLE _judged AS
WITH parsed AS ({_PARSE}), ok AS (
  SELECT p.*, k.content_hash AS seen_hash,
    first_value(p.content_hash) OVER w AS first_hash,
    row_number() OVER w AS nth
  FROM parsed p LEFT JOIN event_keys k
    ON k.event_id = p.event_id AND p.schema_problem IS NULL
  WINDOW w AS (PARTITION BY p.event_id, p.schema_problem IS NULL ORDER BY p.raw_id)
), ruled AS (
  SELECT ok.*,
    CASE
      WHEN schema_problem IS NOT NULL THEN 'schema'
      WHEN seen_hash IS NOT NULL AND seen_hash = content_hash THEN 'duplicate'
      WHEN seen_hash IS NOT NULL THEN 'conflicting_duplicate'
      WHEN nth > 1 AND first_hash = content_hash THEN 'duplicate'
      WHEN nth > 1 THEN 'conflicting_duplicate'
      WHEN NOT EXISTS (SELECT 1 FROM ref_facility r WHERE r.facility_id = ok.facility_id)
        THEN 'unknown_facility'
      WHEN NOT EXISTS (SELECT 1 FROM ref_unit u
        WHERE u.facility_id = ok.facility_id AND u.department = ok.department)
        THEN 'unknown_department'
      WHEN ts > ingested_at + to_seconds(CAST($tolerance AS BIGINT)) THEN 'future_timestamp'
    END AS rule
  FROM ok
)
SELECT raw_id, event_id, visit_id, event_type, ts, facility_id, department, acuity, age_raw,
  origin_cell, content_hash, nth, seen_hash, ts_text, converted, rule,
  CASE WHEN rule = 'schema' THEN schema_problem
       WHEN rule = 'duplicate' THEN 'same content as an earlier record of this event id'
       WHEN rule = 'conflicting_duplicate' THEN 'differs from an earlier record of this event id'
       WHEN rule = 'unknown_facility' THEN 'facility_id ' || facility_id || ' not in reference'
       WHEN rule = 'unknown_department' THEN 'department ' || department || ' not at facility '
            || facility_id
       WHEN rule = 'future_timestamp' THEN 'timestamp ' || ts_text || ' after ingest time + '
            || CAST($tolerance AS VARCHAR) || ' s'
  END AS detail
FROM ruled
"""

# Discharges before the admission of the same visit (validated earlier or kept in this batch),
# and admissions after a validated discharge.
_ORDER = """
UPDATE _judged AS j SET rule = 'discharge_before_admission',
  detail = 'discharge ' || j.ts_text || ' before admission ' || strftime(a.ts, '%Y-%m-%dT%H:%M:%SZ')
FROM (
  SELECT visit_id, min(ts) AS ts FROM (
    SELECT visit_id, ts FROM validated_events WHERE event_type = 'admission'
      AND visit_id IN (SELECT visit_id FROM _judged WHERE event_type = 'discharge')
    UNION ALL
    SELECT visit_id, ts FROM _judged WHERE event_type = 'admission' AND rule IS NULL
  ) GROUP BY visit_id
) a
WHERE j.rule IS NULL AND j.event_type = 'discharge' AND j.visit_id = a.visit_id AND j.ts < a.ts;
UPDATE _judged AS j SET rule = 'discharge_before_admission',
  detail = 'admission ' || j.ts_text || ' after discharge ' || strftime(d.ts, '%Y-%m-%dT%H:%M:%SZ')
FROM (SELECT visit_id, min(ts) AS ts FROM validated_events WHERE event_type = 'discharge'
      AND visit_id IN (SELECT visit_id FROM _judged WHERE event_type = 'admission')
      GROUP BY visit_id) d
WHERE j.rule IS NULL AND j.event_type = 'admission' AND j.visit_id = d.visit_id AND j.ts > d.ts;
"""

_STORE = f"""
INSERT INTO quarantine
SELECT raw_id, rule, 'rejected', detail, $now FROM _judged WHERE rule IS NOT NULL;
INSERT INTO quarantine
SELECT raw_id, 'impossible_age', 'corrected',
  'age ' || CAST(age_raw AS VARCHAR) || ' outside 0-{MAX_AGE_YEARS} set to unknown', $now
FROM _judged WHERE rule IS NULL AND (age_raw < 0 OR age_raw > {MAX_AGE_YEARS});
INSERT INTO validated_events
SELECT raw_id, event_id, visit_id, event_type, ts, facility_id, department, acuity,
  CASE WHEN age_raw < 0 OR age_raw > {MAX_AGE_YEARS} THEN NULL ELSE age_raw END, origin_cell
FROM _judged WHERE rule IS NULL;
INSERT INTO event_keys
SELECT event_id, content_hash, raw_id FROM _judged
WHERE nth = 1 AND seen_hash IS NULL AND rule IS DISTINCT FROM 'schema';
"""

_NORMALISED = r"""
SELECT count(*) FILTER (WHERE converted) FROM _judged
WHERE rule IS NULL
"""


def run_statements(
    con: duckdb.DuckDBPyConnection, script: str, params: dict[str, object] | None = None
) -> None:
    """Run the ``;``-separated statements of ``script`` one by one (named ``$params``)."""
    for statement in script.split(";\n"):
        if statement.strip():
            names = {k: v for k, v in (params or {}).items() if f"${k}" in statement}
            con.execute(statement, names)


def validate_batch(
    con: duckdb.DuckDBPyConnection,
    *,
    first_raw_id: int,
    now: dt.datetime,
    future_tolerance_min: float,
    local_tz: str,
) -> dict[str, int]:
    """Validate the batch's raw events; write validated events, quarantine and event keys.

    Parameters
    ----------
    con
        Connection inside the caller's transaction, with the batch registered as
        ``_incoming`` (``raw_id``, ``payload``: the rows just inserted into ``raw_events``).
    first_raw_id
        First raw id of the batch.
    now
        Ingest time (UTC, naive) stamped on quarantine rows.
    future_tolerance_min
        Minutes a timestamp may lie beyond its ingest time before ``future_timestamp``.
    local_tz
        IANA time zone for timestamps without an offset.

    Returns
    -------
    dict
        ``{"validated": n, "rejected": n, "corrected": n, "normalised": n}`` for this batch
        (events; ``normalised``: kept events whose timestamp was not already UTC) plus one
        entry per rule that caught something.
    """
    tolerance = round(future_tolerance_min * 60)  # seconds
    con.execute("SET TimeZone = ?", [local_tz])  # for timestamps without an offset
    con.execute(_JUDGE, {"now": now, "tolerance": tolerance})
    con.execute("SET TimeZone = 'UTC'")
    run_statements(con, _ORDER)
    normalised = int((con.execute(_NORMALISED).fetchall()[0])[0])
    counts = dict(
        con.execute(
            "SELECT rule, count(*) FROM _judged WHERE rule IS NOT NULL GROUP BY rule "
            "UNION ALL SELECT 'impossible_age', count(*) FROM _judged WHERE rule IS NULL "
            f"AND (age_raw < 0 OR age_raw > {MAX_AGE_YEARS}) "
            "UNION ALL SELECT '_validated', count(*) FROM _judged WHERE rule IS NULL"
        ).fetchall()
    )
    run_statements(con, _STORE, {"now": now})
    validated = int(counts.pop("_validated", 0))
    rules = {rule: int(n) for rule, n in counts.items() if n}
    rejected = sum(n for rule, n in rules.items() if rule != "impossible_age")
    return {
        "validated": validated,
        "rejected": rejected,
        "corrected": rules.get("impossible_age", 0),
        "normalised": normalised,
        **rules,
    }
