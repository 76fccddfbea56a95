"""One self-contained HTML report: headline numbers, tables, figures and the offline map.

The page fetches nothing: figures are embedded as base64 PNG data URIs, the map is the offline
HTML of :func:`accessplan.maps.offline_html` inside an ``<iframe srcdoc>`` (escaped, and
sandboxed to scripts only), and the styles are inline. Every string from data (metric names,
table cells, captions, notes, titles, attribution) is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import math
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import folium
import numpy as np
import pandas as pd

from accessplan.errors import InputError
from accessplan.maps import LEAFLET_VERSION, external_references, format_number, offline_html

__all__ = ["render_report", "write_report"]

SUMMARY_COLUMNS = ("metric", "before", "after", "change", "pct_change")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_CSS = """
:root { --ink: #1b1f24; --muted: #5b6470; --line: #dde2e8; --good: #1d6b3a; --bad: #a3231f;
  --accent: #1d4e9e; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #f6f7f9;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; background: #fff;
  min-height: 100vh; box-shadow: 0 0 12px rgba(0,0,0,0.06); }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px;
  border-bottom: 2px solid var(--line); }
.subtitle { color: var(--muted); margin: 0 0 18px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr));
  gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card .name { color: var(--muted); font-size: 13px; }
.card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .from { color: var(--muted); font-size: 13px; }
.up { color: var(--good); } .down { color: var(--bad); } .flat { color: var(--muted); }
table { border-collapse: collapse; width: auto; max-width: 100%; font-size: 14px;
  margin: 6px 0 4px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left;
  vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.tablewrap { overflow-x: auto; }
.more { color: var(--muted); font-size: 13px; }
.figgrid { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr));
  gap: 16px; align-items: start; }
.figgrid figure.wide { grid-column: 1 / -1; }
figure { margin: 8px 0 12px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
iframe.map { width: 100%; height: 640px; border: 1px solid var(--line); border-radius: 6px; }
.notes p, .sources li { margin: 4px 0; }
footer { margin-top: 36px; color: var(--muted); font-size: 13px; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _cell(value: Any) -> tuple[str, bool]:
    """Escaped text of one table cell and whether it is numeric."""
    if _is_number(value):
        return _esc(format_number(value)), True
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "—", False
    return _esc(value), False


def _pct_text(pct: float) -> str:
    if not math.isfinite(pct):
        return "—"
    return f"{'+' if pct > 0 else ''}{format_number(pct)} %"


def _check_summary(summary: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(summary, pd.DataFrame):
        raise InputError(f"summary: expected a DataFrame, got {type(summary).__name__}.")
    missing = [c for c in ("metric", "before", "after") if c not in summary.columns]
    if missing:
        raise InputError(
            f"summary: missing column(s) {missing}; expected {list(SUMMARY_COLUMNS)} "
            f"(change and pct_change are computed if absent); got {list(summary.columns)}."
        )
    out = summary.copy()
    for column in ("before", "after"):
        try:
            out[column] = pd.to_numeric(out[column], errors="raise").astype(float)
        except (TypeError, ValueError) as exc:
            raise InputError(f"summary: column {column!r} must be numeric ({exc}).") from exc
    if "change" not in out.columns:
        out["change"] = out["after"] - out["before"]
    if "pct_change" not in out.columns:
        before = out["before"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            out["pct_change"] = np.where(before != 0, out["change"] / np.abs(before) * 100, np.nan)
    return out


def _direction(row: pd.Series) -> str:
    change = float(row["change"]) if _is_number(row["change"]) else float("nan")
    if not math.isfinite(change) or change == 0:
        return "flat"
    better = change > 0
    if "higher_is_better" in row.index and row["higher_is_better"] is not None:
        if not bool(row["higher_is_better"]):
            better = not better
        return "up" if better else "down"
    return "flat"


def _headline_cards(summary: pd.DataFrame) -> str:
    cards = []
    for _, row in summary.iterrows():
        arrow = "▲" if row["change"] > 0 else ("▼" if row["change"] < 0 else "■")
        cards.append(
            '<div class="card">'
            f'<div class="name">{_esc(row["metric"])}</div>'
            f'<div class="value">{_esc(format_number(row["after"]))}</div>'
            f'<div class="from">before {_esc(format_number(row["before"]))} · '
            f'<span class="{_direction(row)}">{arrow} {_esc(_pct_text(row["pct_change"]))}'
            "</span></div></div>"
        )
    return f'<div class="cards">{"".join(cards)}</div>'


def _table_html(frame: pd.DataFrame, max_rows: int) -> str:
    show_index = not isinstance(frame.index, pd.RangeIndex)
    shown = frame.head(max_rows)
    head = "".join(
        f"<th>{_esc(c)}</th>" for c in ([frame.index.name or ""] if show_index else [])
    ) + "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    rows = []
    for index, record in zip(shown.index, shown.itertuples(index=False, name=None), strict=True):
        values = ([index] if show_index else []) + list(record)
        cells = []
        for value in values:
            text, numeric = _cell(value)
            cells.append(f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    more = ""
    if len(frame) > max_rows:
        more = f'<div class="more">… {len(frame) - max_rows:,} more rows not shown.</div>'
    return (
        f'<div class="tablewrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{more}"
    )


def _summary_table(summary: pd.DataFrame) -> str:
    table = summary[["metric", "before", "after", "change"]].copy()
    table["% change"] = [_pct_text(p) for p in summary["pct_change"]]
    return _table_html(table, max_rows=len(table))


def _figure_html(item: Path | str | tuple[Path | str, str]) -> str:
    path, caption = item if isinstance(item, tuple) else (item, None)
    path = Path(path)
    if not path.is_file():
        raise InputError(f"figures: {path} does not exist; write the PNG before the report.")
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise InputError(f"figures: {path} is not a PNG file; only PNG figures are embedded.")
    caption = caption if caption is not None else path.stem.replace("_", " ").capitalize()
    encoded = base64.b64encode(data).decode("ascii")
    width, height = struct.unpack(">II", data[16:24])
    wide = ' class="wide"' if width > 1.8 * height else ""
    return (
        f'<figure{wide}><img src="data:image/png;base64,{encoded}" alt="{_esc(caption)}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _as_list(text: str | Sequence[str] | None) -> list[str]:
    if text is None:
        return []
    if isinstance(text, str):
        return [text] if text else []
    return [str(t) for t in text]


def render_report(
    *,
    title: str,
    summary: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame] | None = None,
    figures: Sequence[Path | str | tuple[Path | str, str]] = (),
    map: folium.Map | None = None,
    notes: str | Sequence[str] | None = None,
    attribution: str | Sequence[str] | None = None,
    subtitle: str | None = None,
    max_rows: int = 200,
) -> str:
    """HTML text of the report; see :func:`write_report` for the parameters."""
    summary = _check_summary(summary)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_esc(title)}</h1>",
    ]
    if subtitle:
        parts.append(f'<p class="subtitle">{_esc(subtitle)}</p>')
    parts.append('<section id="headline"><h2>Headline numbers</h2>')
    parts.append(_headline_cards(summary))
    parts.append(_summary_table(summary))
    parts.append("</section>")
    if map is not None:
        parts.append(
            '<section id="map"><h2>Map</h2>'
            '<iframe class="map" title="Interactive map" sandbox="allow-scripts" '
            f'srcdoc="{_esc(offline_html(map))}"></iframe>'
            '<p class="more">Switch between before, after and change with the layer control; '
            "hover a cell or click a facility for its figures.</p></section>"
        )
    if figures:
        parts.append('<section id="figures"><h2>Figures</h2><div class="figgrid">')
        parts.extend(_figure_html(item) for item in figures)
        parts.append("</div></section>")
    for name, frame in (tables or {}).items():
        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"tables[{name!r}]: expected a DataFrame, got {type(frame).__name__}.")
        parts.append(f"<section><h2>{_esc(name)}</h2>{_table_html(frame, max_rows)}</section>")
    note_list = _as_list(notes)
    if note_list:
        paragraphs = "".join(f"<p>{_esc(n)}</p>" for n in note_list)
        parts.append(f'<section class="notes" id="notes"><h2>Notes</h2>{paragraphs}</section>')
    sources = [
        *_as_list(attribution),
        f"Map library: Leaflet {LEAFLET_VERSION} (BSD 2-Clause licence), embedded in the page.",
    ]
    items = "".join(f"<li>{_esc(s)}</li>" for s in sources)
    parts.append(
        f'<section class="sources" id="sources"><h2>Data sources and licences</h2>'
        f"<ul>{items}</ul></section>"
    )
    parts.append(
        "<footer>Made with accessplan. This page is self-contained and works offline.</footer>"
    )
    parts.append("</main></body></html>")
    page = "\n".join(parts)
    leftover = external_references(page)
    if leftover:
        raise InputError(f"report: the page would fetch {leftover[:3]}; it must be offline.")
    return page


def write_report(
    path: str | Path,
    *,
    title: str,
    summary: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame] | None = None,
    figures: Sequence[Path | str | tuple[Path | str, str]] = (),
    map: folium.Map | None = None,
    notes: str | Sequence[str] | None = None,
    attribution: str | Sequence[str] | None = None,
    subtitle: str | None = None,
    max_rows: int = 200,
) -> Path:
    """Write one self-contained, offline HTML report and return its path.

    Parameters
    ----------
    path
        Output file (``report.html``); parent folders are created.
    title, subtitle
        Page title and an optional line under it (plain text; escaped).
    summary
        Headline metrics, one row each: ``metric`` (name with unit), ``before``, ``after`` and
        optionally ``change`` (after − before) and ``pct_change`` (percent, e.g. ``12.5`` for
        +12.5 %), both computed when absent. An optional boolean ``higher_is_better`` colours
        the change green (better) or red (worse).
    tables
        Further tables by heading (e.g. ``{"Chosen sites": plan_table}``); at most ``max_rows``
        rows of each are shown.
    figures
        PNG files (or ``(path, caption)`` pairs) embedded as base64; the caption defaults to
        the file name.
    map
        A folium map (from :func:`accessplan.maps.accessibility_map`), embedded offline.
    notes, attribution
        Paragraphs of notes, and data sources with their licences (plain text; escaped).

    Raises
    ------
    InputError
        For a summary without ``metric``/``before``/``after``, a missing or non-PNG figure,
        a table that is not a DataFrame, or a map that needs network resources.
    """
    page = render_report(
        title=title,
        summary=summary,
        tables=tables,
        figures=figures,
        map=map,
        notes=notes,
        attribution=attribution,
        subtitle=subtitle,
        max_rows=max_rows,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
