"""Writing a :class:`~accessplan.flows.simulator.Simulation` to a folder of files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from accessplan._sanitize import write_csv
from accessplan.errors import InputError
from accessplan.flows.database import EVENT_FIELDS

if TYPE_CHECKING:
    from accessplan.flows.simulator import Simulation

__all__ = ["write_jsonl", "write_simulation"]

_FORMATS = ("jsonl", "csv", "parquet")


def _records(day: pd.DataFrame) -> pd.DataFrame:
    out = day.loc[:, list(EVENT_FIELDS)].copy()
    out["acuity"] = out["acuity"].astype("Int64")
    return out


def write_jsonl(records: pd.DataFrame, path: Path) -> None:
    """``records`` as JSON Lines in row order (DuckDB's writer; missing values as null)."""
    import duckdb

    con = duckdb.connect()
    con.register("records_out", records.reset_index(drop=True).assign(_order=range(len(records))))
    fields = ", ".join(EVENT_FIELDS)
    con.execute(
        f"COPY (SELECT {fields} FROM records_out ORDER BY _order) TO '{_sql_path(path)}' "
        "(FORMAT json)"
    )
    con.close()


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _replace_into(path: Path, write: object) -> None:
    part = path.with_name(path.name + ".part")
    write(part)  # type: ignore[operator]
    os.replace(part, path)


def write_simulation(sim: Simulation, folder: Path, *, fmt: str = "jsonl") -> list[Path]:
    """See :meth:`Simulation.write`."""
    if fmt not in (*_FORMATS, "mixed"):
        raise InputError(f"fmt must be one of jsonl, csv, parquet, mixed; got {fmt!r}")
    events_dir = folder / "events"
    ref_dir = folder / "reference"
    events_dir.mkdir(parents=True, exist_ok=True)
    ref_dir.mkdir(parents=True, exist_ok=True)
    for name in ("facilities", "units", "staffing"):
        write_csv(getattr(sim, name), ref_dir / f"{name}.csv", index=False)
    (ref_dir / "settings.json").write_text(
        json.dumps({"local_tz": "Indian/Comoro"}), encoding="utf-8"
    )
    written = []
    files = sorted(sim.events["file"].unique())
    ext_of = {}
    for i, stem in enumerate(files):
        kind = _FORMATS[i % 3] if fmt == "mixed" else fmt
        ext_of[stem] = kind
        day = sim.events[sim.events["file"] == stem].sort_values("position")
        path = events_dir / f"{stem}.{kind}"
        if kind == "jsonl":
            rec = _records(day)
            _replace_into(path, lambda p, rec=rec: write_jsonl(rec, p))
        elif kind == "csv":
            rec = _records(day)
            _replace_into(path, lambda p, rec=rec: write_csv(rec, p, index=False))
        else:
            rec = _records(day)
            rec["age"] = rec["age"].astype(float)
            rec["origin_cell"] = rec["origin_cell"].astype(object).where(rec["origin_cell"].notna())
            _replace_into(path, lambda p, rec=rec: rec.to_parquet(p, index=False))
        written.append(path)
    dirty = sim.dirty.copy()
    dirty["file"] = [f"{stem}.{ext_of.get(stem, fmt)}" for stem in dirty["file"]]
    write_csv(dirty, folder / "dirty.csv", index=False)
    return written
