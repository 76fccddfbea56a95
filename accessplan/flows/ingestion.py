"""Ingestion: JSON Lines, CSV and Parquet files (or a folder of them) into the study database.

Exactly once
------------
Files are keyed by the SHA-256 of their content (``source_files``, the checkpoint table): a file
whose content was ingested before, under any name, adds nothing. Files are ingested in
transactions of whole files (one file, or consecutive small files up to a batch size) — raw
records, validation, quarantine, star schema and the files' checkpoint rows commit together or
not at all, so a process killed mid-ingest leaves the database as it was before the open
transaction and a restart ingests those files once. A batch that overlaps earlier ones (the
same events in a new file) is kept in ``raw_events`` as received, and each repeated event is
rejected as ``duplicate``: nothing is added to the validated layer or the star schema.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from accessplan.errors import InputError
from accessplan.flows.database import RULES, FlowDatabase, LayerCounts
from accessplan.flows.star import update_star
from accessplan.flows.validate import validate_batch

__all__ = ["FORMATS", "IngestReport", "follow_folder", "ingest", "ingest_folder"]

#: File name endings read, and the format each one is read as.
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}

#: Records per transaction at least, summed over whole files (see :func:`ingest`).
DEFAULT_BATCH_RECORDS = 200_000

#: Default minutes a timestamp may lie beyond its ingest time (clock skew between systems).
DEFAULT_FUTURE_TOLERANCE_MIN = 60.0


@dataclass
class IngestReport:
    """What one ingest did: files, events per layer and per rule, and the study's totals.

    ``counts`` holds this ingest's events: ``records`` (raw), ``validated``, ``rejected``,
    ``corrected`` (kept), ``normalised`` (kept, time zone converted) and one entry per rule.
    ``totals`` holds the whole study after the ingest.
    """

    ingested: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    totals: LayerCounts | None = None
    seconds: float = 0.0

    def add(self, batch: dict[str, int]) -> None:
        for key, n in batch.items():
            self.counts[key] = self.counts.get(key, 0) + int(n)

    @property
    def records(self) -> int:
        return self.counts.get("records", 0)

    def text(self) -> str:
        """The report as lines for a terminal: this ingest, then the study's totals."""
        c = self.counts
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"files ingested {len(self.ingested)}, already ingested (skipped) {len(self.skipped)}",
            f"this ingest: {c.get('records', 0):,} raw = {c.get('validated', 0):,} validated + "
            f"{c.get('rejected', 0):,} rejected ({c.get('corrected', 0):,} corrected and kept, "
            f"{c.get('normalised', 0):,} converted to UTC) in {self.seconds:.1f} s "
            f"({rate:,.0f} events/s)",
        ]
        lines += [f"  {rule:<28} {c.get(rule, 0):>8,}" for rule in RULES]
        if self.totals is not None:
            lines += ["study totals:", self.totals.text()]
        return "\n".join(lines)


def _file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"cannot ingest {path}: unknown format {path.suffix!r}; use one of "
            f"{', '.join(sorted(FORMATS))}"
        )
    return fmt


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_records(path: Path, data: bytes) -> pa.Table:
    """The records of one file as an Arrow table ``position`` (1-based), ``payload`` (text).

    JSON Lines: each non-blank line verbatim. CSV and Parquet: each row as a JSON object of its
    values as read (CSV values as text).
    """
    fmt = _file_format(path)
    if fmt == "jsonl":
        return _json_lines(data)
    try:
        if fmt == "csv":
            header = next(csv.reader(io.StringIO(data.decode("utf-8", errors="replace"))), [])
            table = pacsv.read_csv(
                pa.BufferReader(data),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in header},
                    strings_can_be_null=False,
                ),
            )
        else:
            table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise InputError(f"cannot read {path} as {fmt}: {exc}. Check the file.") from exc
    return _rows_as_json(table)


def _json_lines(data: bytes) -> pa.Table:
    """Non-empty lines of ``data`` without their line ends, built on the file's own buffer."""
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], newlines + 1]).astype(np.int64)
    if starts[-1] == len(buf):  # the file ends with a line end
        starts = starts[:-1]
    offsets = np.append(starts, len(buf))
    lines = pa.LargeStringArray.from_buffers(
        len(starts), pa.py_buffer(offsets.astype(np.int64)), pa.py_buffer(data)
    )
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:  # not UTF-8: decode with replacement characters
        text = data.decode("utf-8", errors="replace").split("\n")
        if text and text[-1] == "":
            text.pop()
        lines = pa.array(text, pa.large_string())
    lines = pc.utf8_rtrim(lines, characters="\r\n")
    positions = pa.array(np.arange(1, len(lines) + 1, dtype=np.int64))
    keep = pc.greater(pc.binary_length(lines), 0)
    return pa.table({"position": positions, "payload": lines}).filter(keep)


def _rows_as_json(table: pa.Table) -> pa.Table:
    import duckdb

    con = duckdb.connect()
    con.register("rows_in", table)
    fields = ", ".join(
        '"{0}" := "{0}"'.format(name.replace('"', '""')) for name in table.column_names
    )
    payload = con.sql(f"SELECT to_json(struct_pack({fields})) FROM rows_in").to_arrow_table()
    con.close()
    column = payload.column(0)
    positions = pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64))
    return pa.table({"position": positions, "payload": column.cast(pa.large_string())})


@dataclass
class _Received:
    """One file read before its transaction: path, bytes, content hash and records."""

    path: Path
    data: bytes
    digest: str
    records: pa.Table


def _ingest_group(
    db: FlowDatabase,
    group: Sequence[_Received],
    *,
    now: dt.datetime,
    future_tolerance_min: float,
    local_tz: str,
) -> dict[str, int]:
    """Files in one transaction (raw, validation, star, checkpoint); returns their counts."""
    con = db.con
    with db.transaction():
        file_id = int(db.scalar("SELECT coalesce(max(file_id), 0) + 1 FROM source_files"))
        first_raw = int(db.scalar("SELECT coalesce(max(raw_id), 0) + 1 FROM raw_events"))
        next_raw = first_raw
        batches = []
        for item in group:
            n = item.records.num_rows
            records = item.records.append_column(
                "raw_id", pa.array(np.arange(next_raw, next_raw + n, dtype=np.int64))
            )
            con.register("_records", records)
            con.execute(
                "INSERT INTO raw_events SELECT raw_id, ?, position, CAST(? AS TIMESTAMP), "
                "payload FROM _records",
                [file_id, now],
            )
            con.unregister("_records")
            con.execute(
                "INSERT INTO source_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    file_id,
                    item.digest,
                    str(item.path),
                    _file_format(item.path),
                    len(item.data),
                    item.path.stat().st_mtime,
                    n,
                    now,
                ],
            )
            batches.append(records.select(["raw_id", "payload"]))
            file_id += 1
            next_raw += n
        # validation reads the records from memory rather than back from raw_events
        con.register("_incoming", pa.concat_tables(batches))
        counts = validate_batch(
            con,
            first_raw_id=first_raw,
            now=now,
            future_tolerance_min=future_tolerance_min,
            local_tz=local_tz,
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _touched AS SELECT DISTINCT visit_id FROM "
            "validated_events WHERE raw_id >= ?",
            [first_raw],
        )
        con.unregister("_incoming")
        update_star(con)
    return {"records": next_raw - first_raw, **counts}


def ingest(
    db: FlowDatabase,
    paths: Iterable[str | Path],
    *,
    now: dt.datetime | None = None,
    future_tolerance_min: float = DEFAULT_FUTURE_TOLERANCE_MIN,
    local_tz: str | None = None,
    progress: bool = False,
    batch_records: int = DEFAULT_BATCH_RECORDS,
) -> IngestReport:
    """Ingest files into the study, skipping files whose content was ingested before.

    Files are taken in order and committed in groups: a file is never split, and a group is
    one transaction that closes once it holds ``batch_records`` records or more (a large file
    is a group of its own). A kill rolls back the open group only.

    Parameters
    ----------
    db
        The study (:func:`~accessplan.flows.open_database`); its reference facilities and units
        must be loaded (:meth:`~accessplan.flows.FlowDatabase.load_reference`).
    paths
        JSON Lines (``.jsonl``, ``.ndjson``), CSV or Parquet files of events.
    now
        Ingest time (UTC); default the clock. The ``future_timestamp`` rule compares with it.
    future_tolerance_min
        Minutes an event may lie beyond the ingest time (clock skew) before it is rejected.
    local_tz
        IANA time zone of timestamps written without an offset; default the study's setting
        (``local_tz``), else UTC.
    progress
        Show a progress bar (bytes) over the files.
    batch_records
        Records (events) per transaction at least, summed over whole files; 1 commits each
        file on its own. Small files in one transaction save its fixed cost (tenths of a
        second).

    Returns
    -------
    IngestReport
        Events per layer and per rule for this ingest, and the study's totals.
    """
    if not db.has_reference():
        raise InputError(
            f"study {db.path} has no reference facilities and units; load them first "
            "(FlowDatabase.load_reference, or `accessplan flows ingest --reference FOLDER`)"
        )
    files = [Path(p) for p in paths]
    for path in files:
        _file_format(path)
        if not path.is_file():
            raise InputError(f"cannot ingest {path}: no such file")
    tz = local_tz or db.setting("local_tz", "UTC") or "UTC"
    report = IngestReport()
    started = time.perf_counter()
    bar = _progress_bar(files, progress)
    group: list[_Received] = []
    seen: set[str] = set()

    def flush() -> None:
        if group:
            stamp = now or dt.datetime.now(dt.UTC)
            stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None) if stamp.tzinfo else stamp
            report.add(
                _ingest_group(
                    db, group, now=stamp, future_tolerance_min=future_tolerance_min, local_tz=tz
                )
            )
            report.ingested.extend(str(item.path) for item in group)
            group.clear()

    try:
        for path in files:
            data = path.read_bytes()
            digest = _sha256(data)
            known = db.scalar("SELECT count(*) FROM source_files WHERE sha256 = ?", [digest])
            if known or digest in seen:
                report.skipped.append(str(path))
            else:
                seen.add(digest)
                group.append(_Received(path, data, digest, read_records(path, data)))
                if sum(item.records.num_rows for item in group) >= batch_records:
                    flush()
            if bar is not None:
                bar.update(len(data))
        flush()
    finally:
        if bar is not None:
            bar.close()
    report.seconds = time.perf_counter() - started
    report.totals = db.layer_counts()
    return report


def _progress_bar(files: Sequence[Path], progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    total = sum(p.stat().st_size for p in files)
    return tqdm(total=total, unit="B", unit_scale=True, desc="ingest")


def folder_files(folder: str | Path) -> list[Path]:
    """Event files in ``folder`` (and below), sorted by path.

    Names starting with ``.`` and endings ``.tmp``/``.part`` are files still being written and
    are left for a later poll: a producer should write under such a name and rename when done.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"cannot ingest folder {root}: not a folder")
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in FORMATS and not p.name.startswith(".")
    )


def ingest_folder(db: FlowDatabase, folder: str | Path, **options: object) -> IngestReport:
    """Ingest every event file in ``folder`` not ingested before (see :func:`ingest`)."""
    return ingest(db, _new_files(db, folder_files(folder)), **options)  # type: ignore[arg-type]


def _new_files(db: FlowDatabase, files: list[Path]) -> list[Path]:
    """Files whose path, size and mtime are not in the checkpoint (cheap pre-filter)."""
    seen = {
        (path, int(size), float(mtime))
        for path, size, mtime in db.con.execute(
            "SELECT path, size_bytes, mtime FROM source_files"
        ).fetchall()
    }
    out = []
    for p in files:
        st = p.stat()
        if (str(p), int(st.st_size), float(st.st_mtime)) not in seen:
            out.append(p)
    return out


def follow_folder(
    db: FlowDatabase,
    folder: str | Path,
    *,
    poll_seconds: float = 2.0,
    max_polls: int | None = None,
    on_report: Callable[[IngestReport], None] | None = None,
    **options: object,
) -> IngestReport:
    """Poll ``folder`` and ingest new files as they appear, until ``max_polls`` or Ctrl-C.

    Each poll ingests the files not in the checkpoint table; a restart after a stop or a kill
    resumes where the committed checkpoint left off. ``on_report`` receives each poll's report
    that ingested something. Returns the combined report of all polls.
    """
    total = IngestReport()
    polls = 0
    started = time.perf_counter()
    try:
        while max_polls is None or polls < max_polls:
            report = ingest_folder(db, folder, **options)
            polls += 1
            total.ingested += report.ingested
            total.skipped += report.skipped
            total.add(report.counts)
            if report.ingested and on_report is not None:
                on_report(report)
            if max_polls is None or polls < max_polls:
                time.sleep(poll_seconds)
    except KeyboardInterrupt:
        pass
    total.seconds = time.perf_counter() - started
    total.totals = db.layer_counts()
    return total
