"""One self-contained HTML report: headline numbers, tables, figures and the offline map.

The page fetches nothing: figures are embedded as base64 PNG data URIs, the map is the offline
HTML of :func:`accessplan.maps.offline_html` inside an ``<iframe srcdoc>`` (escaped, and
sandboxed to scripts only), and the styles are inline. Every string from data (metric names,
table cells, captions, notes, titles, attribution) is HTML-escaped.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import folium
import numpy as np
import pandas as pd

from accessplan._html import esc
from accessplan.errors import InputError
from accessplan.maps import LEAFLET_VERSION, external_references, format_number, offline_html

if TYPE_CHECKING:
    from accessplan.optimize import Plan

#: What the report reads a plan's solver status from: a :class:`~accessplan.optimize.Plan`, or a
#: mapping with ``status`` and ``gap`` (optionally ``model``, ``solver``, ``seconds``).
PlanInfo: TypeAlias = "Plan | Mapping[str, Any]"

__all__ = ["CATEGORY_WORDS", "render_report", "share_texts", "solver_status_text", "write_report"]

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
.figgrid figure.wide img { max-width: min(100%, 1000px); }
figure { margin: 8px 0 12px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
iframe.map { width: 100%; height: 640px; border: 1px solid var(--line); border-radius: 6px; }
.notes p, .sources li { margin: 4px 0; }
.warnings { border: 2px solid var(--bad); background: #fdf0ef; border-radius: 8px;
  padding: 4px 16px 8px; margin: 0 0 16px; }
.warnings h2 { color: var(--bad); border: none; margin: 8px 0 4px; }
.measure { margin: 0 0 14px; font-weight: 600; }
tr.total td { font-weight: 600; border-top: 2px solid var(--line); }
footer { margin-top: 36px; color: var(--muted); font-size: 13px; }
"""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _cell(value: Any) -> tuple[str, bool]:
    """Escaped text of one table cell and whether it is numeric."""
    if _is_number(value):
        return esc(format_number(value)), True
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "—", False
    return esc(value), False


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
            f'<div class="name">{esc(row["metric"])}</div>'
            f'<div class="value">{esc(format_number(row["after"]))}</div>'
            f'<div class="from">before {esc(format_number(row["before"]))} · '
            f'<span class="{_direction(row)}">{arrow} {esc(_pct_text(row["pct_change"]))}'
            "</span></div></div>"
        )
    return f'<div class="cards">{"".join(cards)}</div>'


def _table_html(frame: pd.DataFrame, max_rows: int) -> str:
    show_index = not isinstance(frame.index, pd.RangeIndex)
    shown = frame.head(max_rows)
    head = "".join(
        f"<th>{esc(c)}</th>" for c in ([frame.index.name or ""] if show_index else [])
    ) + "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
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
    # a wide figure, or a tall stack of A4-wide maps, takes a whole row of the grid
    wide = ' class="wide"' if width > 1.8 * height or height > 1.3 * width else ""
    return (
        f'<figure{wide}><img src="data:image/png;base64,{encoded}" alt="{esc(caption)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def _as_list(text: str | Sequence[str] | None) -> list[str]:
    if text is None:
        return []
    if isinstance(text, str):
        return [text] if text else []
    return [str(t) for t in text]


# ---------------------------------------------------------------------------------------------
# Diagnostics in plain words: warnings, who is counted, excluded facilities, solver status
# ---------------------------------------------------------------------------------------------

#: Plain-words meaning of each reach category of the population accounting.
CATEGORY_WORDS: dict[str, str] = {
    "within standard": "reach a facility within the service standard",
    "beyond standard": "reach a facility within the cutoff, but beyond the standard",
    "no facility within cutoff": "reach no facility within the travel-time cutoff",
    "no facility on its network": "live on a road network part with no facility on it",
    "too far from road": "live too far from any road to be routed",
}


def solver_status_text(status: str, gap: float | None = None) -> str:
    """The plan's solver status in plain words; "optimal" only when the status says so.

    Parameters
    ----------
    status
        ``Plan.status``: ``"optimal"``, ``"time_limit"``, ``"feasible"``, ``"heuristic"``…
    gap
        Relative gap between the plan and the best proven bound (0.012 = 1.2 %); NaN or None
        when unknown.
    """
    if status == "optimal":
        return "proven optimal: no better plan exists under this model"
    reason = {
        "time_limit": "the solver stopped at its time limit",
        "feasible": "the solver stopped before proving it the best",
        "heuristic": "found by a heuristic search",
    }.get(status, f"solver status {status!r}")
    gap_value = float(gap) if gap is not None and _is_number(gap) else float("nan")
    if math.isfinite(gap_value):
        pct = abs(gap_value) * 100
        within = "< 0.01 %" if pct < 0.01 else f"{format_number(pct, 3)} %"
        return (
            f"best found, within {within} of the best possible ({reason}; not proven to be "
            "the best plan)"
        )
    return (
        f"best found; how far it is from the best possible is unknown ({reason}; not proven "
        "to be the best plan)"
    )


def _plan_value(plan: PlanInfo, name: str) -> Any:
    if isinstance(plan, Mapping):
        return plan.get(name)
    return getattr(plan, name, None)


def _plan_html(plan: PlanInfo) -> str:
    status = _plan_value(plan, "status")
    if status is None:
        raise InputError("plan: expected an object or mapping with a 'status' (and 'gap').")
    words = solver_status_text(str(status), _plan_value(plan, "gap"))
    details = []
    model = _plan_value(plan, "model")
    solver = _plan_value(plan, "solver")
    seconds = _plan_value(plan, "seconds")
    if model:
        details.append(f"model {model}")
    if solver:
        details.append(f"solver {solver}")
    if seconds is not None and _is_number(seconds) and math.isfinite(float(seconds)):
        details.append(f"{float(seconds):.1f} s")
    extra = f' <span class="more">({esc(", ".join(details))})</span>' if details else ""
    return f'<p id="plan-status"><b>The plan</b> is {esc(words)}.{extra}</p>'


def _largest_remainder(shares: np.ndarray, total: int) -> np.ndarray:
    """Round ``shares`` (summing to ``total``) to integers that still sum to ``total``."""
    floors = np.floor(shares).astype(int)
    short = total - int(floors.sum())
    order = np.argsort(-(shares - floors), kind="stable")
    floors[order[:short]] += 1
    return floors


def share_texts(persons: Sequence[float]) -> list[str]:
    """Shares of ``persons`` as percent texts with one decimal that add up to 100.0 %."""
    values = np.asarray(persons, dtype=float)
    total = float(values.sum())
    if total <= 0:
        return ["—"] * len(values)
    tenths = _largest_remainder(values / total * 1000, 1000)
    return [f"{t / 10:.1f} %" for t in tenths]


def _check_table(frame: Any, what: str, columns: Sequence[str]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{what}: expected a DataFrame, got {type(frame).__name__}.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{what}: missing column(s) {missing}; got {list(frame.columns)}.")
    return frame


def _accounting_columns(table: pd.DataFrame) -> list[tuple[str, str]]:
    """``(heading, column)`` of the person counts: before then after, or the one ``persons``."""
    if "persons_before" in table.columns:
        after = next((c for c in ("persons_after", "persons") if c in table.columns), None)
        pairs = [("Before the plan", "persons_before")]
        return pairs + ([("After the plan", after)] if after else [])
    if "persons_after" in table.columns:
        return [("After the plan", "persons_after")]
    if "persons" in table.columns:
        return [("Persons", "persons")]
    raise InputError(
        "accounting: missing column(s) ['persons'] (or 'persons_before'/'persons_after'); "
        f"got {list(table.columns)}."
    )


def _accounting_html(accounting: pd.DataFrame) -> str:
    if not isinstance(accounting, pd.DataFrame):
        raise InputError(f"accounting: expected a DataFrame, got {type(accounting).__name__}.")
    table = accounting
    if "category" not in table.columns:
        if isinstance(table.index, pd.RangeIndex):
            raise InputError(
                "accounting: missing column(s) ['category'] (or an index of categories); "
                f"got {list(table.columns)}."
            )
        table = table.rename_axis("category").reset_index()
    table = table[table["category"].astype(str).str.lower() != "total"]
    columns = _accounting_columns(table)
    counts = []
    for _, column in columns:
        try:
            counts.append(pd.to_numeric(table[column], errors="raise").to_numpy(dtype=float))
        except (TypeError, ValueError) as exc:
            raise InputError(f"accounting: column {column!r} must be numeric ({exc}).") from exc
    shares = [share_texts(c) for c in counts]
    head = "".join(f"<th>{esc(h)}: persons</th><th>share</th>" for h, _ in columns)
    rows = []
    for i, category in enumerate(table["category"]):
        words = CATEGORY_WORDS.get(str(category).strip().lower(), "")
        numbers = "".join(
            f'<td class="num">{esc(format_number(c[i]))}</td><td class="num">{esc(sh[i])}</td>'
            for c, sh in zip(counts, shares, strict=True)
        )
        rows.append(f"<tr><td>{esc(category)}</td><td>{esc(words)}</td>{numbers}</tr>")
    totals = "".join(
        f'<td class="num">{esc(format_number(c.sum()))}</td><td class="num">100.0 %</td>'
        for c in counts
    )
    rows.append(f'<tr class="total"><td>Total</td><td>every person counted once</td>{totals}</tr>')
    total = float(counts[-1].sum())
    return (
        f"<p>{esc(format_number(total))} persons are counted, each in one category:</p>"
        '<div class="tablewrap"><table id="accounting"><thead><tr><th>Category</th>'
        f"<th>Meaning</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _excluded_html(excluded: pd.DataFrame, max_rows: int) -> str:
    if isinstance(excluded, pd.DataFrame) and excluded.empty:
        return '<p id="excluded-none">No facility was excluded.</p>'
    table = _check_table(excluded, "excluded", ["reason"])
    n = len(table)
    # a reason may end with row details in parentheses: group by the words before them
    kinds = table["reason"].astype(str).str.split(" (", regex=False).str[0]
    reasons = "; ".join(f"{count} {reason}" for reason, count in kinds.value_counts().items())
    shown = [c for c in ("id", "name", "type", "reason") if c in table.columns]
    return (
        f'<p id="excluded-summary">{n:,} facilit{"y was" if n == 1 else "ies were"} excluded '
        f"from the analysis ({esc(reasons)}):</p>{_table_html(table[shown], min(max_rows, 50))}"
    )


def _warnings_html(warnings: Sequence[str]) -> str:
    items = "".join(f"<li>{esc(w)}</li>" for w in warnings)
    heading = "Warning" if len(warnings) == 1 else f"{len(warnings)} warnings"
    return (
        f'<section id="warnings" class="warnings" role="alert"><h2>{heading}: read before '
        f"using these results</h2><ul>{items}</ul></section>"
    )


def _diagnostics_html(
    accounting: pd.DataFrame | None,
    excluded: pd.DataFrame | None,
    components: pd.DataFrame | None,
    plan: PlanInfo | None,
    max_rows: int,
) -> str:
    parts = []
    if plan is not None:
        parts.append(_plan_html(plan))
    if accounting is not None:
        parts.append(_accounting_html(accounting))
    if excluded is not None:
        parts.append(_excluded_html(excluded, max_rows))
    if components is not None:
        frame = _check_table(components, "components", [])
        parts.append(
            f"<p>The road network has {len(frame):,} separate part{'s' if len(frame) != 1 else ''}"
            " (persons on a part without a facility reach none):</p>"
            + _table_html(frame, min(max_rows, 20))
        )
    if not parts:
        return ""
    heading = "<h2>Who is counted, and how the plan was found</h2>"
    return f'<section id="diagnostics">{heading}{"".join(parts)}</section>'


def _measure_text(label: str, unit: str, higher_is_better: bool | None) -> str:
    text = f"Access measure: {label}"
    if unit:
        text += f", in {unit}"
    if higher_is_better is not None:
        text += " (higher is better)" if higher_is_better else " (lower is better)"
    return text + "."


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
    label: str | None = None,
    unit: str = "",
    higher_is_better: bool | None = None,
    warnings: Sequence[str] | None = None,
    accounting: pd.DataFrame | None = None,
    components: pd.DataFrame | None = None,
    excluded: pd.DataFrame | None = None,
    plan: PlanInfo | None = None,
) -> str:
    """HTML text of the report; see :func:`write_report` for the parameters."""
    summary = _check_summary(summary)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body><main>",
    ]
    warning_list = _as_list(warnings)
    if warning_list:
        parts.append(_warnings_html(warning_list))
    parts.append(f"<h1>{esc(title)}</h1>")
    if subtitle:
        parts.append(f'<p class="subtitle">{esc(subtitle)}</p>')
    if label is not None:
        parts.append(
            f'<p class="measure" id="measure">'
            f"{esc(_measure_text(label, unit, higher_is_better))}</p>"
        )
    parts.append(_diagnostics_html(accounting, excluded, components, plan, max_rows))
    parts.append('<section id="headline"><h2>Headline numbers</h2>')
    parts.append(_headline_cards(summary))
    parts.append(_summary_table(summary))
    parts.append("</section>")
    if map is not None:
        parts.append(
            '<section id="map"><h2>Map</h2>'
            '<iframe class="map" title="Interactive map" sandbox="allow-scripts" '
            f'srcdoc="{esc(offline_html(map))}"></iframe>'
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
        parts.append(f"<section><h2>{esc(name)}</h2>{_table_html(frame, max_rows)}</section>")
    note_list = _as_list(notes)
    if note_list:
        paragraphs = "".join(f"<p>{esc(n)}</p>" for n in note_list)
        parts.append(f'<section class="notes" id="notes"><h2>Notes</h2>{paragraphs}</section>')
    sources = [
        *_as_list(attribution),
        f"Map library: Leaflet {LEAFLET_VERSION} (BSD 2-Clause licence), embedded in the page.",
    ]
    items = "".join(f"<li>{esc(s)}</li>" for s in sources)
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
    label: str | None = None,
    unit: str = "",
    higher_is_better: bool | None = None,
    warnings: Sequence[str] | None = None,
    accounting: pd.DataFrame | None = None,
    components: pd.DataFrame | None = None,
    excluded: pd.DataFrame | None = None,
    plan: PlanInfo | None = None,
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
    label, unit, higher_is_better
        The access measure, stated under the title (e.g. ``"Clinicians per 10,000 persons
        (2SFCA)"``, ``"clinicians per 10,000 persons"``, True). Nothing is inferred from the
        label's text.
    warnings
        Sentences shown in a red box at the very top of the page (none: no box).
    accounting
        Persons by reach category: ``category`` (column or index) and ``persons``, or
        ``persons_before`` and ``persons_after`` / ``persons`` (after); shares are recomputed
        from the persons so that the shares shown add up to 100.0 %; a ``total`` row is
        replaced by the sum of the rows.
    components
        One row per road-network component (any columns), shown as a table.
    excluded
        Facility rows left out of the analysis, with a ``reason`` column.
    plan
        The :class:`~accessplan.optimize.Plan` (or a mapping) with ``status`` and ``gap``
        (optionally ``model``, ``solver``, ``seconds``): stated in plain words, "proven optimal"
        only when ``status`` is ``"optimal"``.

    Raises
    ------
    InputError
        For a summary without ``metric``/``before``/``after``, a missing or non-PNG figure,
        a table that is not a DataFrame, an accounting table without ``category``/``persons``,
        an excluded table without ``reason``, a plan without ``status``, or a map that needs
        network resources.
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
        label=label,
        unit=unit,
        higher_is_better=higher_is_better,
        warnings=warnings,
        accounting=accounting,
        components=components,
        excluded=excluded,
        plan=plan,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
