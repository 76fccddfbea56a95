"""The study database: one DuckDB file holding the raw, validated and analytical layers.

Layers
------
``raw_events``
    Every record exactly as received, append-only: ``raw_id`` (order of arrival), ``file_id``
    (the source file in ``source_files``), ``position`` (1-based record number in that file),
    ``ingested_at`` (UTC) and ``payload`` (a JSON Lines record byte for byte; a CSV or Parquet
    record as a JSON object of the values as read, untyped).
``validated_events``
    Typed events in UTC, one per event id, that passed every rule (impossible ages set to NULL).
``quarantine``
    One row per rejected raw record (``action = 'rejected'``, the first rule that caught it) and
    one row per correction of a kept record (``action = 'corrected'``).
star schema
    ``fact_visit`` (one row per visit) with ``dim_facility``, ``dim_department`` and
    ``dim_time`` (one row per hour).

Invariant (nothing is lost, corrections count once): every raw record is either in
``validated_events`` or rejected in ``quarantine``, never both::

    count(raw_events) = count(validated_events) + count(quarantine WHERE action = 'rejected')

A corrected record is counted in ``validated_events`` only; its ``corrected`` quarantine row is an
audit note, not a second copy. :meth:`FlowDatabase.check_invariant` verifies this by raw id.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from accessplan.errors import InputError

__all__ = [
    "DEPARTMENTS",
    "EVENT_FIELDS",
    "EVENT_TYPES",
    "RULES",
    "FlowDatabase",
    "LayerCounts",
    "open_database",
]

#: Event types a record may carry, in the order a visit goes through them.
EVENT_TYPES = ("arrival", "triage", "admission", "discharge", "left")

#: Fields of one event record, in the order the files hold them.
EVENT_FIELDS = (
    "event_id",
    "visit_id",
    "event_type",
    "timestamp",
    "facility_id",
    "department",
    "acuity",
    "age",
    "origin_cell",
)

#: Departments the simulator uses (any department named in the reference units is accepted).
DEPARTMENTS = ("general", "emergency", "medicine", "surgery", "maternity", "paediatrics")

#: Validation rules, in the order they are applied; a rejected record carries the first one.
RULES = (
    "schema",
    "duplicate",
    "conflicting_duplicate",
    "unknown_facility",
    "unknown_department",
    "future_timestamp",
    "discharge_before_admission",
    "impossible_age",
)

_DDL = """
CREATE TABLE IF NOT EXISTS source_files (
    file_id INTEGER, sha256 VARCHAR, path VARCHAR, format VARCHAR, size_bytes BIGINT,
    mtime DOUBLE, records BIGINT, ingested_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS raw_events (
    raw_id BIGINT, file_id INTEGER, position BIGINT, ingested_at TIMESTAMP, payload VARCHAR);
CREATE TABLE IF NOT EXISTS validated_events (
    raw_id BIGINT, event_id VARCHAR, visit_id VARCHAR, event_type VARCHAR, ts TIMESTAMP,
    facility_id VARCHAR, department VARCHAR, acuity INTEGER, age DOUBLE, origin_cell VARCHAR);
CREATE TABLE IF NOT EXISTS quarantine (
    raw_id BIGINT, rule VARCHAR, action VARCHAR, detail VARCHAR, quarantined_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS event_keys (event_id VARCHAR, content_hash UBIGINT, raw_id BIGINT);
CREATE TABLE IF NOT EXISTS ref_facility (facility_id VARCHAR, name VARCHAR, tier VARCHAR);
CREATE TABLE IF NOT EXISTS ref_unit (facility_id VARCHAR, department VARCHAR, beds INTEGER);
CREATE TABLE IF NOT EXISTS ref_staffing (
    facility_id VARCHAR, department VARCHAR, hour_of_day INTEGER, staff DOUBLE);
CREATE TABLE IF NOT EXISTS study_settings (key VARCHAR, value VARCHAR);
CREATE TABLE IF NOT EXISTS dim_facility (
    facility_key INTEGER, facility_id VARCHAR, name VARCHAR, tier VARCHAR);
CREATE TABLE IF NOT EXISTS dim_department (department_key INTEGER, department VARCHAR);
CREATE TABLE IF NOT EXISTS dim_time (
    time_key BIGINT, hour_start TIMESTAMP, date DATE, day_of_week INTEGER, hour_of_day INTEGER,
    week INTEGER, month INTEGER, year INTEGER);
CREATE TABLE IF NOT EXISTS fact_visit (
    visit_id VARCHAR, facility_key INTEGER, department_key INTEGER, arrival_time_key BIGINT,
    arrival TIMESTAMP, triage TIMESTAMP, admission TIMESTAMP, discharge TIMESTAMP,
    left_at TIMESTAMP, wait_minutes DOUBLE, los_hours DOUBLE, acuity INTEGER,
    age_band VARCHAR, origin_cell VARCHAR, outcome VARCHAR);
"""

#: Columns of the reference tables, as :meth:`FlowDatabase.load_reference` expects them.
REFERENCE_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "facilities": ("facility_id", "name", "tier"),
    "units": ("facility_id", "department", "beds"),
    "staffing": ("facility_id", "department", "hour_of_day", "staff"),
}


@dataclass(frozen=True)
class LayerCounts:
    """Records per layer (events) and per rule; ``balanced`` is the nothing-lost invariant.

    ``raw = validated + rejected``; ``corrected`` records are inside ``validated``.
    """

    raw: int
    validated: int
    rejected: int
    corrected: int
    visits: int
    rules: dict[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.raw == self.validated + self.rejected

    def text(self) -> str:
        """The counts as aligned lines for a terminal or a log."""
        lines = [
            f"raw events         {self.raw:>10,}",
            f"validated events   {self.validated:>10,}",
            f"rejected events    {self.rejected:>10,}",
            f"  (corrected, kept {self.corrected:>10,})",
            f"visits (star)      {self.visits:>10,}",
            f"raw = validated + rejected: {'yes' if self.balanced else 'NO'}",
            "per rule:",
        ]
        lines += [f"  {rule:<28} {self.rules.get(rule, 0):>8,}" for rule in RULES]
        return "\n".join(lines)


class FlowDatabase:
    """A study database file (DuckDB): open it with :func:`open_database`.

    Parameters
    ----------
    path
        The ``.duckdb`` file; created with every table if it does not exist.
    threads
        DuckDB worker threads (default: DuckDB's choice, the machine's cores).
    memory_limit
        DuckDB memory limit such as ``"2GB"`` (default: DuckDB's, 80 % of RAM).
    """

    def __init__(
        self, path: str | Path, *, threads: int | None = None, memory_limit: str | None = None
    ) -> None:
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise InputError(f"study database {self.path} is a folder; give a .duckdb file path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {}
        if threads is not None:
            config["threads"] = int(threads)
        if memory_limit is not None:
            config["memory_limit"] = memory_limit
        try:
            self.con = duckdb.connect(str(self.path), config=config)
        except duckdb.Error as exc:
            raise InputError(
                f"cannot open study database {self.path}: {exc}. Give a DuckDB file that no "
                "other process holds open, or a new path."
            ) from exc
        self.con.execute("SET TimeZone = 'UTC'")
        # ingest shows its own bar (tqdm); in Jupyter DuckDB refuses the setting without
        # ipywidgets, and then shows no bar of its own either
        with contextlib.suppress(duckdb.Error):
            self.con.execute("SET enable_progress_bar = false")
        self.con.execute(_DDL)

    # ---------------------------------------------------------------- context and basics
    def __enter__(self) -> FlowDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the DuckDB connection (the file stays consistent: every write is committed)."""
        self.con.close()

    def sql(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        """The result of a read query as a DataFrame."""
        return self.con.execute(query, params or []).df()

    def scalar(self, query: str, params: list[Any] | None = None) -> Any:
        rows = self.con.execute(query, params or []).fetchall()
        return rows[0][0] if rows else None

    def table(self, name: str) -> pd.DataFrame:
        """One table of the study (``fact_visit``, ``quarantine``, ...) as a DataFrame."""
        known = {r[0] for r in self.con.execute("SHOW TABLES").fetchall()}
        if name not in known:
            raise InputError(
                f"no table {name!r} in {self.path}; tables: {', '.join(sorted(known))}"
            )
        return self.con.execute(f'SELECT * FROM "{name}"').df()

    # ---------------------------------------------------------------- reference data
    def load_reference(
        self, facilities: pd.DataFrame, units: pd.DataFrame, staffing: pd.DataFrame | None = None
    ) -> None:
        """Set the known facilities, their departments with beds, and staff per hour of day.

        Parameters
        ----------
        facilities
            ``facility_id``, ``name``, ``tier``.
        units
            ``facility_id``, ``department``, ``beds`` (beds or treatment spaces, count).
        staffing
            ``facility_id``, ``department``, ``hour_of_day`` (0-23, local time of the data's
            UTC hours), ``staff`` (clinicians on duty, persons). Optional.

        Replaces earlier reference data and rebuilds the facility and department dimensions.
        """
        frames = {"facilities": facilities, "units": units}
        if staffing is not None:
            frames["staffing"] = staffing
        checked = {name: _reference_frame(name, df) for name, df in frames.items()}
        with self.transaction():
            for name, df in checked.items():
                table = {"facilities": "ref_facility", "units": "ref_unit"}.get(
                    name, "ref_staffing"
                )
                self.con.execute(f"DELETE FROM {table}")
                self.con.register("_ref", df)
                cols = ", ".join(REFERENCE_COLUMNS[name])
                self.con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _ref")
                self.con.unregister("_ref")
            from accessplan.flows.star import rebuild_dimensions

            rebuild_dimensions(self.con)

    def has_reference(self) -> bool:
        return bool(self.scalar("SELECT count(*) FROM ref_unit"))

    # ---------------------------------------------------------------- transactions
    def transaction(self) -> _Transaction:
        """``with db.transaction():`` commits on success and rolls back on any exception."""
        return _Transaction(self.con)

    # ---------------------------------------------------------------- counts
    def layer_counts(self) -> LayerCounts:
        """Events per layer and per rule over the whole study."""
        raw, validated, visits = self.con.execute(
            "SELECT (SELECT count(*) FROM raw_events), (SELECT count(*) FROM validated_events),"
            " (SELECT count(*) FROM fact_visit)"
        ).fetchall()[0]
        rows = self.con.execute(
            "SELECT rule, action, count(*) FROM quarantine GROUP BY ALL"
        ).fetchall()
        rejected = sum(n for _, action, n in rows if action == "rejected")
        corrected = sum(n for _, action, n in rows if action == "corrected")
        rules = {rule: 0 for rule in RULES}
        for rule, _, n in rows:
            rules[rule] = rules.get(rule, 0) + int(n)
        return LayerCounts(
            raw=int(raw),
            validated=int(validated),
            rejected=int(rejected),
            corrected=int(corrected),
            visits=int(visits),
            rules=rules,
        )

    def check_invariant(self) -> list[str]:
        """Problems with the nothing-lost invariant, checked by raw id (empty list: holds).

        Every raw id is in exactly one of ``validated_events`` and the rejected quarantine rows,
        each of those appears once, and every corrected row points at a validated event.
        """
        checks = {
            "raw ids in neither validated nor rejected": """
                SELECT count(*) FROM raw_events r WHERE NOT EXISTS
                  (SELECT 1 FROM validated_events v WHERE v.raw_id = r.raw_id)
                AND NOT EXISTS (SELECT 1 FROM quarantine q
                  WHERE q.raw_id = r.raw_id AND q.action = 'rejected')""",
            "raw ids both validated and rejected": """
                SELECT count(*) FROM validated_events v JOIN quarantine q
                  ON q.raw_id = v.raw_id AND q.action = 'rejected'""",
            "raw ids validated more than once": """
                SELECT count(*) FROM (SELECT raw_id FROM validated_events
                  GROUP BY raw_id HAVING count(*) > 1)""",
            "raw ids rejected more than once": """
                SELECT count(*) FROM (SELECT raw_id FROM quarantine WHERE action = 'rejected'
                  GROUP BY raw_id HAVING count(*) > 1)""",
            "corrected rows without their validated event": """
                SELECT count(*) FROM quarantine q WHERE q.action = 'corrected' AND NOT EXISTS
                  (SELECT 1 FROM validated_events v WHERE v.raw_id = q.raw_id)""",
            "event ids validated more than once": """
                SELECT count(*) FROM (SELECT event_id FROM validated_events
                  GROUP BY event_id HAVING count(*) > 1)""",
        }
        problems = []
        for what, query in checks.items():
            n = int(self.scalar(query))
            if n:
                problems.append(f"{what}: {n}")
        return problems

    def setting(self, key: str, default: str | None = None) -> str | None:
        value = self.scalar("SELECT value FROM study_settings WHERE key = ?", [key])
        return default if value is None else str(value)

    def set_setting(self, key: str, value: str) -> None:
        self.con.execute("DELETE FROM study_settings WHERE key = ?", [key])
        self.con.execute("INSERT INTO study_settings VALUES (?, ?)", [key, value])


class _Transaction:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def __enter__(self) -> None:
        self.con.execute("BEGIN TRANSACTION")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.con.execute("COMMIT")
        else:
            self.con.execute("ROLLBACK")


def _reference_frame(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the reference columns of ``name``, ids as text; InputError naming the gap."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"reference {name} must be a DataFrame, got {type(df).__name__}")
    columns = REFERENCE_COLUMNS[name]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"reference {name} lacks column(s) {', '.join(missing)}; it needs {', '.join(columns)}"
        )
    out = df.loc[:, list(columns)].copy()
    for col in ("facility_id", "department", "name", "tier"):
        if col in out:
            out[col] = out[col].astype(str)
    for col in ("beds", "hour_of_day", "staff"):
        if col in out:
            values = pd.to_numeric(out[col], errors="coerce")
            if values.isna().any() or (values < 0).any():
                row = int(values.index[(values.isna() | (values < 0)).to_numpy()][0])
                raise InputError(
                    f"reference {name}, column {col}, row {row}: {df[col].loc[row]!r} is not a "
                    "number >= 0"
                )
            out[col] = values
    return out.reset_index(drop=True)


def open_database(
    path: str | Path, *, threads: int | None = None, memory_limit: str | None = None
) -> FlowDatabase:
    """Open (or create) the study database at ``path``; see :class:`FlowDatabase`."""
    return FlowDatabase(path, threads=threads, memory_limit=memory_limit)
