"""The operations report: one offline HTML page of a rolling-horizon run.

Allocation heatmaps over time (facility × period, two per resource type: the mobile units in
service, and the share of demand left unmet), the transfers drawn on a map as
facility-to-facility lines, unmet demand and shadow prices (value of one more unit of each
pool) over time, the decisions log with its rationale, and optionally the policy comparison
table. Charts are inline SVG, so the page makes no network request; every string from data
(facility ids, type names, log text) is escaped with :func:`accessplan._html.esc`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from accessplan._html import esc
from accessplan.operations.rolling import RollingResult

__all__ = ["operations_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222}
main{max-width:1100px;margin:0 auto;padding:1.5rem}
h1{font-size:1.5rem;margin:.2rem 0}
h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}th{background:#f4f4f4}
td.t{text-align:left}.note{color:#555;font-size:.85rem}svg{display:block;margin:.5rem 0}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;
padding:.6rem 1rem}.card b{display:block;font-size:1.3rem}
"""
#: Most cells of a heatmap row (a fortnight of hours is drawn 2 hours a cell).
MAX_COLUMNS = 168
_PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666")


def _heatmap_svg(
    values: np.ndarray, rows: Sequence[str], title: str, *, colour: str, legend: str
) -> str:
    """``values`` (rows × periods) in 0–1 as cells from white (0) to ``colour`` (1, ``"red"``
    or ``"blue"``); beyond :data:`MAX_COLUMNS` periods each cell is the mean of a run of
    periods; ``legend`` says what the darkest cell means."""
    total = values.shape[1]
    size = max(-(-total // MAX_COLUMNS), 1)
    if size > 1:
        pad = np.full((values.shape[0], -total % size), np.nan)
        values = np.nanmean(np.hstack([values, pad]).reshape(values.shape[0], -1, size), axis=2)
    n, p = values.shape
    cw = max(2.0, min(12.0, 900.0 / max(p, 1)))
    ch, left, top = 10.0, 90.0, 18.0
    width, height = left + cw * p + 10, top + ch * n + 22
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'role="img" aria-label="{esc(title)}">',
        f'<text x="{left}" y="12" font-size="11">{esc(title)}</text>',
    ]
    v = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0)
    end = (200, 30, 30) if colour == "red" else (30, 90, 170)
    for i in range(n):
        parts.append(
            f'<text x="{left - 4}" y="{top + ch * i + 8}" font-size="8" '
            f'text-anchor="end">{esc(rows[i])}</text>'
        )
        for t in range(p):
            w = float(v[i, t])
            rgb = ",".join(str(round(250 - (250 - c) * w)) for c in end)
            parts.append(
                f'<rect x="{left + cw * t:.1f}" y="{top + ch * i:.1f}" width="{cw:.1f}" '
                f'height="{ch}" fill="rgb({rgb})"/>'
            )
    parts.append(
        f'<text x="{left}" y="{height - 6:.0f}" font-size="9">period 0 … {total - 1}'
        + (f", {size} periods a cell" if size > 1 else "")
        + f"; white = 0, darkest = {esc(legend)}</text></svg>"
    )
    return "".join(parts)


def _line_chart_svg(series: dict[str, np.ndarray], title: str, unit: str) -> str:
    """Lines over periods, one per series, with a legend and the y range."""
    width, height, left, right, top, bottom = 900.0, 220.0, 60.0, 150.0, 20.0, 30.0
    data = {k: np.nan_to_num(np.asarray(v, dtype=float)) for k, v in series.items()}
    p = max((len(v) for v in data.values()), default=1)
    hi = max((float(v.max()) for v in data.values() if v.size), default=1.0)
    lo = min((float(v.min()) for v in data.values() if v.size), default=0.0)
    lo, hi = min(lo, 0.0), max(hi, lo + 1e-9)
    span_x = width - left - right
    span_y = height - top - bottom

    def xy(t: int, value: float) -> str:
        x = left + span_x * t / max(p - 1, 1)
        y = top + span_y * (1 - (value - lo) / (hi - lo))
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'role="img" aria-label="{esc(title)}">',
        f'<text x="{left}" y="12" font-size="11">{esc(title)} ({esc(unit)})</text>',
        f'<line x1="{left}" y1="{top + span_y}" x2="{left + span_x}" y2="{top + span_y}" '
        'stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 8}" font-size="9" text-anchor="end">{hi:,.3g}</text>',
        f'<text x="{left - 4}" y="{top + span_y}" font-size="9" text-anchor="end">{lo:,.3g}</text>',
        f'<text x="{left}" y="{height - 8}" font-size="9">period 0</text>',
        f'<text x="{left + span_x}" y="{height - 8}" font-size="9" text-anchor="end">'
        f"period {p - 1}</text>",
    ]
    for k, (name, v) in enumerate(data.items()):
        colour = _PALETTE[k % len(_PALETTE)]
        points = " ".join(xy(t, float(val)) for t, val in enumerate(v))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" points="{points}"/>'
        )
        y = top + 12 * k + 8
        parts.append(
            f'<text x="{left + span_x + 10}" y="{y}" font-size="10" fill="{colour}">'
            f"{esc(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _map_svg(
    lonlat: np.ndarray, ids: Sequence[str], transfers: pd.DataFrame, unmet: np.ndarray
) -> str:
    """Facilities (circles sized by unmet demand) and transfers (lines, width by units)."""
    width, height, pad = 640.0, 520.0, 30.0
    lon, lat = lonlat[:, 0], lonlat[:, 1]
    kx = np.cos(np.deg2rad(float(np.mean(lat))))
    span = max(float(np.ptp(lon)) * kx, float(np.ptp(lat)), 1e-9)
    scale = (min(width, height) - 2 * pad) / span

    def pos(i: int) -> tuple[float, float]:
        return (
            pad + (lon[i] - lon.min()) * kx * scale,
            height - pad - (lat[i] - lat.min()) * scale,
        )

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        'role="img" aria-label="transfers between facilities">'
    ]
    where = {str(f): i for i, f in enumerate(ids)}
    if len(transfers):
        moved = transfers.groupby(["from", "to"], sort=True)["units"].sum()
        top = float(moved.max())
        for (a, b), units in moved.items():
            if str(a) not in where or str(b) not in where:
                continue
            (x1, y1), (x2, y2) = pos(where[str(a)]), pos(where[str(b)])
            w = 0.8 + 4.0 * float(units) / top
            parts.append(
                f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                f'stroke="#d95f02" stroke-opacity="0.7" stroke-width="{w:.2f}">'
                f"<title>{esc(a)} → {esc(b)}: {float(units):,.1f} units</title></line>"
            )
    biggest = max(float(np.max(unmet)), 1e-9) if unmet.size else 1.0
    for i, f in enumerate(ids):
        x, y = pos(i)
        r = 3.0 + 7.0 * float(unmet[i]) / biggest
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="#1b9e77" fill-opacity="0.75">'
            f"<title>{esc(f)}: unmet {float(unmet[i]):,.1f} units over the run</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(frame: pd.DataFrame, max_rows: int = 60) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in [frame.index.name or "", *frame.columns])
    body = []
    for idx, row in frame.head(max_rows).iterrows():
        cells = [f'<td class="t">{esc(idx)}</td>']
        for v in row:
            text = f"{v:,.4g}" if isinstance(v, float) else str(v)
            cells.append(
                f'<td class="t">{esc(text)}</td>' if isinstance(v, str) else f"<td>{esc(text)}</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f'<p class="note">{len(frame) - max_rows:,} more rows in the CSV files.</p>'
        if len(frame) > max_rows
        else ""
    )
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"


def operations_report(
    result: RollingResult,
    lonlat: np.ndarray,
    *,
    title: str = "Operations: rolling-horizon allocation",
    comparison: pd.DataFrame | None = None,
    attribution: str = "",
    notes: Sequence[str] = (),
) -> str:
    """The report page of ``result`` (see the module docstring).

    Parameters
    ----------
    result
        A run of :func:`~accessplan.operations.rolling.rolling_horizon`.
    lonlat
        Facility coordinates, ``(n, 2)`` longitude and latitude (degrees).
    title
        Page title (escaped).
    comparison
        A table of the policies side by side
        (:meth:`~accessplan.operations.evaluate.Evaluation.formatted`).
    attribution
        Data licence text shown at the foot.
    notes
        Extra paragraphs (escaped).
    """
    net = result.network
    ids = [str(f) for f in net.facilities]
    names = [t.name for t in net.types]
    periods = result.demand.shape[0]
    demand_total = float(result.demand.sum())
    unmet_total = float(result.unmet.sum())
    cards = [
        ("periods", f"{periods:,} × {net.period_minutes:g} min"),
        ("facilities × types", f"{len(ids)} × {len(names)}"),
        (
            "unmet demand",
            f"{unmet_total:,.0f} units ({100 * unmet_total / max(demand_total, 1e-9):.1f} %)",
        ),
        ("cost", f"{result.total_cost:,.0f}"),
        ("transfers", f"{len(result.transfers):,}"),
        ("re-plans", f"{int((~result.decisions['trigger'].isin(['follow', 'rule'])).sum()):,}"),
    ]
    parts = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{_CSS}</style></head><body><main><h1>{esc(title)}</h1>",
        '<div class="cards">'
        + "".join(f'<div class="card">{esc(k)}<b>{esc(v)}</b></div>' for k, v in cards)
        + "</div>",
    ]
    parts += [f'<p class="note">{esc(n)}</p>' for n in notes]
    if comparison is not None:
        parts.append("<h2>Policies side by side</h2>" + _table(comparison))
    parts.append("<h2>Allocation over time</h2>")
    parts.append(
        '<p class="note">Blue: mobile units in service at each facility (rows) in each period; '
        "red: the share of the facility's demand left unmet. Fixed units are not drawn.</p>"
    )
    for j, name in enumerate(names):
        most = float(result.mobile[:, :, j].max())
        parts.append(
            _heatmap_svg(
                result.mobile[:, :, j].T / max(most, 1e-9),
                ids,
                f"{name}: mobile units in service",
                colour="blue",
                legend=f"{most:,.3g} units",
            )
        )
        dem = result.demand[:, :, j]
        unmet_share = np.where(dem > 0, result.unmet[:, :, j] / np.where(dem > 0, dem, 1.0), 0.0)
        parts.append(
            _heatmap_svg(
                unmet_share.T,
                ids,
                f"{name}: share of demand unmet",
                colour="red",
                legend="all of the demand unmet",
            )
        )
    parts.append("<h2>Transfers on the map</h2>")
    parts.append(
        _map_svg(
            np.asarray(lonlat, dtype=float), ids, result.transfers, result.unmet.sum(axis=(0, 2))
        )
    )
    parts.append(
        '<p class="note">Lines: units moved between facilities over the run (hover for the '
        "count); circles: facilities, sized by their unmet demand.</p>"
    )
    parts.append("<h2>Unmet demand over time</h2>")
    parts.append(
        _line_chart_svg(
            {n: result.unmet[:, :, j].sum(axis=1) for j, n in enumerate(names)},
            "unmet demand",
            "units per period",
        )
    )
    duals = {
        n: -result.decisions[f"pool_dual_{n}"].to_numpy(dtype=float)
        for n in names
        if f"pool_dual_{n}" in result.decisions
    }
    if duals:
        parts.append("<h2>Shadow prices over time</h2>")
        parts.append(
            _line_chart_svg(duals, "value of one more unit of each pool", "currency units")
        )
        if "equity_dual" in result.decisions:
            parts.append(
                _line_chart_svg(
                    {"cost of fairness": -result.decisions["equity_dual"].to_numpy(dtype=float)},
                    "cost of the equity band per unit of band",
                    "currency units",
                )
            )
    parts.append("<h2>Decisions (first rows)</h2>")
    keep = [
        c
        for c in (
            "period",
            "trigger",
            "status",
            "seconds",
            "deviation",
            "deviation_facility",
            "binding",
            "fallback",
        )
        if c in result.decisions
    ]
    parts.append(_table(result.decisions[keep].set_index("period"), max_rows=48))
    if attribution:
        parts.append(f'<p class="note">{esc(attribution)}</p>')
    parts.append("</main></body></html>")
    return "".join(parts)
