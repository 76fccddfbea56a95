"""Offline before/after accessibility maps.

:func:`accessibility_map` builds a folium map of population cells coloured by an access measure
before and after a plan, and by the change, with existing and new facilities on top.
:func:`save_map` (or :func:`offline_html`) writes it as one HTML file that makes no network
request: Leaflet (vendored in ``accessplan/assets/leaflet``, BSD 2-Clause) is inlined, folium's
default CDN resources (jQuery, Bootstrap, Font Awesome, awesome-markers) are not used and are
removed, the marker images referenced by ``leaflet.css`` are inlined as data URIs, and no tile
layer is added unless ``basemap`` is given.

Every string that comes from data (cell ids, facility names, column values, titles, attribution)
is HTML-escaped before it reaches the page, and all data is embedded as JSON that cannot close
its ``<script>`` element, so a facility named ``<script>alert(1)</script>`` is shown as text.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template
from matplotlib import colormaps
from matplotlib.colors import to_hex
from matplotlib.ticker import MaxNLocator

from accessplan.errors import InputError
from accessplan.supply import SUPPLY_TYPES

__all__ = [
    "DEFAULT_ATTRIBUTION",
    "FACILITY_STATUSES",
    "LEAFLET_VERSION",
    "TYPE_STYLES",
    "ColourClasses",
    "accessibility_map",
    "display_map",
    "diverging_classes",
    "escape_json_for_script",
    "external_references",
    "format_number",
    "offline_html",
    "save_map",
    "sequential_classes",
]

LEAFLET_VERSION = "1.9.4"
ASSETS_DIR = Path(__file__).resolve().parent / "assets"
LEAFLET_DIR = ASSETS_DIR / "leaflet"

DEFAULT_ATTRIBUTION = "Roads and facilities © OpenStreetMap contributors (ODbL)"
FACILITY_STATUSES: tuple[str, ...] = ("existing", "new")
NO_VALUE_COLOUR = "#c8c8c8"
NO_VALUE_LABEL = "no value (unreachable or missing)"
NEW_RING_COLOUR = "#ffc400"

#: Colour, label and marker shape of each supply type on maps and figures.
TYPE_STYLES: dict[str, dict[str, str]] = {
    "clinic": {"colour": "#1d4e9e", "label": "Clinic", "shape": "square"},
    "robotic": {"colour": "#e06000", "label": "Robotic unit", "shape": "diamond"},
    "digital": {"colour": "#7a3ea1", "label": "Digital hub", "shape": "circle"},
}

# ---------------------------------------------------------------------------------------------
# Number formatting and colour classes
# ---------------------------------------------------------------------------------------------


def format_number(value: float | None, digits: int = 3) -> str:
    """Format a number for people: ``digits`` significant digits, thousands separators.

    NaN, None and infinities are shown as an em dash. Integers of 1,000 or more keep all their
    digits (``12,345``), smaller magnitudes keep ``digits`` significant digits (``0.00123``).
    """
    if value is None:
        return "—"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "—"
    if v == 0:
        return "0"
    if abs(v) >= 10 ** (digits - 1):
        return f"{v:,.0f}"
    text = f"{v:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}×10^{int(exponent)}"
    return text


def _distinct_labels(values: np.ndarray) -> list[str]:
    """Format edges with as few significant digits as keep neighbouring edges distinct."""
    for digits in range(2, 8):
        labels = [format_number(v, digits) for v in values]
        if len(set(labels)) == len(labels):
            return labels
    return [repr(float(v)) for v in values]


@dataclass(frozen=True)
class ColourClasses:
    """A classification of values into coloured classes, with legend labels.

    ``inner`` are the inner class boundaries (ascending); a value ``v`` falls in class
    ``searchsorted(inner, v, side="right")``, so a value equal to a boundary goes to the upper
    class. ``special`` optionally holds the index of a class reserved for values whose absolute
    value is at most ``tolerance`` (the "no change" class of a diverging scale).
    """

    inner: tuple[float, ...]
    colours: tuple[str, ...]
    labels: tuple[str, ...]
    zero_class: int | None = None
    tolerance: float = 0.0

    def classify(self, values: Any) -> np.ndarray:
        """Class index of every value (``int``), ``-1`` for NaN or infinite values."""
        v = np.asarray(values, dtype=float)
        out = np.searchsorted(np.asarray(self.inner, dtype=float), v, side="right").astype(int)
        if self.zero_class is not None:
            out[np.abs(v) <= self.tolerance] = self.zero_class
        out[~np.isfinite(v)] = -1
        return out

    def legend_rows(self) -> list[tuple[str, str]]:
        """``(colour, label)`` rows from the highest class to the lowest, then "no value"."""
        rows = list(zip(self.colours, self.labels, strict=True))[::-1]
        return [*rows, (NO_VALUE_COLOUR, NO_VALUE_LABEL)]


def _sample_cmap(name: str, n: int, lo: float = 0.12, hi: float = 0.95) -> list[str]:
    cmap = colormaps[name]
    if n == 1:
        return [to_hex(cmap((lo + hi) / 2))]
    return [to_hex(cmap(x)) for x in np.linspace(lo, hi, n)]


def _finite(values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    return v[np.isfinite(v)]


def sequential_classes(
    values: Any, *, k: int = 6, scheme: str = "quantile", cmap: str = "YlGnBu"
) -> ColourClasses:
    """Classify ``values`` into at most ``k`` ordered classes for a sequential colour scale.

    Parameters
    ----------
    values
        Numbers in the measure's own unit; NaN and infinities are ignored (shown as "no value").
    k
        Largest number of classes. Fewer are used when values have fewer distinct levels.
    scheme
        ``"quantile"``: boundaries at the 1/k … (k-1)/k quantiles (classes of about equal cell
        counts, good for skewed measures); ``"equal"``: equal-width classes with round
        boundaries over [min, max].
    cmap
        Matplotlib colormap name, sampled from light to dark.
    """
    if k < 1:
        raise InputError(f"k={k}: use at least one class.")
    finite = _finite(values)
    if finite.size == 0:
        return ColourClasses(inner=(), colours=(NO_VALUE_COLOUR,), labels=("no data",))
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        return ColourClasses(
            inner=(), colours=tuple(_sample_cmap(cmap, 1)), labels=(format_number(lo),)
        )
    if scheme == "quantile":
        qs = np.quantile(finite, np.linspace(0, 1, k + 1)[1:-1])
        inner = np.unique(qs[(qs > lo) & (qs <= hi)])
    elif scheme == "equal":
        ticks = MaxNLocator(nbins=k, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
        inner = ticks[(ticks > lo) & (ticks < hi)]
    else:
        raise InputError(f"scheme={scheme!r}: use 'quantile' or 'equal'.")
    edges = np.concatenate([[lo], inner, [hi]])
    text = _distinct_labels(edges)
    labels = tuple(f"{a} – {b}" for a, b in itertools.pairwise(text))
    colours = tuple(_sample_cmap(cmap, len(labels)))
    return ColourClasses(inner=tuple(float(x) for x in inner), colours=colours, labels=labels)


def diverging_classes(
    values: Any, *, k_side: int = 3, higher_is_better: bool = True, cmap: str = "RdBu"
) -> ColourClasses:
    """Classify changes on a symmetric diverging scale centred on a "no change" class.

    Boundaries are round numbers from 0 to the largest absolute change, mirrored below zero;
    values within ``1e-9`` × the largest absolute change of zero form the middle class.
    Improvements are blue and deteriorations red: with ``higher_is_better=False`` (travel
    minutes) a negative change is the improvement.
    """
    finite = _finite(values)
    biggest = float(np.abs(finite).max()) if finite.size else 0.0
    if biggest == 0.0:
        return ColourClasses(
            inner=(), colours=("#f2f2f2",), labels=("no change",), zero_class=0, tolerance=0.0
        )
    ticks = MaxNLocator(nbins=k_side, steps=[1, 2, 2.5, 5, 10]).tick_values(0, biggest)
    positive = ticks[ticks > 0]
    positive = positive[: int(np.searchsorted(positive, biggest, side="left")) + 1]
    tolerance = 1e-9 * biggest
    # classes: -[p_n..p_{n-1}) ... [-p_1, -tol) | zero | (tol, p_1] ... (p_{n-1}, p_n]
    inner = [*(-positive[:-1][::-1]), -tolerance, tolerance, *positive[:-1]]
    n_side = len(positive)
    text = _distinct_labels(np.concatenate([[0.0], positive]))
    neg_labels = [f"−{text[i + 1]} to −{text[i]}" for i in range(n_side)][::-1]
    pos_labels = [f"+{text[i]} to +{text[i + 1]}" for i in range(n_side)]
    neg_labels[-1] = f"−{text[1]} to 0"
    pos_labels[0] = f"0 to +{text[1]}"
    side = _sample_cmap(cmap, 2 * n_side + 1, lo=0.08, hi=0.92)
    reds, blues = side[:n_side], side[n_side + 1 :]
    if higher_is_better:
        colours = [*reds, "#f2f2f2", *blues]
    else:
        colours = [*blues[::-1], "#f2f2f2", *reds[::-1]]
    return ColourClasses(
        inner=tuple(float(x) for x in inner),
        colours=tuple(colours),
        labels=(*neg_labels, "no change", *pos_labels),
        zero_class=n_side,
        tolerance=tolerance,
    )


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


def _check_frame(frame: Any, what: str, columns: Sequence[str], geom_types: set[str]) -> None:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{what}: expected a GeoDataFrame, got {type(frame).__name__}.")
    if len(frame) == 0:
        raise InputError(f"{what}: no rows; pass at least one.")
    if frame.crs is None:
        raise InputError(f"{what}: no CRS; set it with {what}.set_crs('EPSG:…') before mapping.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{what}: missing column(s) {missing}; available: {list(frame.columns)}.")
    gtypes = frame.geometry.geom_type
    bad = ~gtypes.isin(list(geom_types)) & frame.geometry.notna() & ~frame.geometry.is_empty
    if bad.any():
        at = frame.index[bad.to_numpy()][0]
        raise InputError(
            f"{what}: row {at!r} has a {gtypes[at]} geometry; expected one of {sorted(geom_types)}."
        )


def _numeric(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    try:
        return pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}: column {column!r} must be numeric ({exc}).") from exc


def _check_facilities(facilities: gpd.GeoDataFrame) -> None:
    _check_frame(facilities, "facilities", ["id", "name", "type", "capacity", "status"], {"Point"})
    bad_type = ~facilities["type"].isin(SUPPLY_TYPES)
    if bad_type.any():
        at = facilities.index[bad_type.to_numpy()][0]
        raise InputError(
            f"facilities: row {at!r} has type {facilities.at[at, 'type']!r}; "
            f"use one of {list(SUPPLY_TYPES)}."
        )
    bad_status = ~facilities["status"].isin(FACILITY_STATUSES)
    if bad_status.any():
        at = facilities.index[bad_status.to_numpy()][0]
        raise InputError(
            f"facilities: row {at!r} has status {facilities.at[at, 'status']!r}; "
            f"use one of {list(FACILITY_STATUSES)}."
        )
    no_site = facilities.geometry.isna() | facilities.geometry.is_empty
    physical_without_site = no_site & (facilities["type"] != "digital")
    if physical_without_site.any():
        at = facilities.index[physical_without_site.to_numpy()][0]
        raise InputError(
            f"facilities: row {at!r} ({facilities.at[at, 'type']}) has no geometry; "
            "clinics and robotic units need a point location."
        )


# ---------------------------------------------------------------------------------------------
# Safe embedding
# ---------------------------------------------------------------------------------------------

_JSON_UNSAFE = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def escape_json_for_script(obj: Any) -> str:
    """JSON text of ``obj`` that is safe inside an HTML ``<script>`` element.

    ``<``, ``>`` and ``&`` are written as ``\\u003c`` etc., so no string can close the script
    element or open a comment, whatever it holds. NaN and infinities become ``null``.
    """
    text = json.dumps(_json_ready(obj), ensure_ascii=False, allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_UNSAFE[m.group(0)], text)


def _json_ready(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_json_ready(v) for v in obj.tolist()]
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _rounded_geojson(geoms: gpd.GeoSeries, decimals: int = 6) -> list[dict | None]:
    """GeoJSON geometry dicts in WGS84 with coordinates rounded to ``decimals`` (1e-6° ≈ 0.1 m)."""
    arr = shapely.transform(np.asarray(geoms.to_crs(4326).array), lambda c: np.round(c, decimals))
    return [None if g is None or g.is_empty else json.loads(shapely.to_geojson(g)) for g in arr]


# ---------------------------------------------------------------------------------------------
# Map elements
# ---------------------------------------------------------------------------------------------

_CSS = """
html body .leaflet-container { background: #eef1f4; font: 13px/1.35 system-ui, -apple-system,
  "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.ap-title { position: absolute; top: 10px; left: 50%; transform: translateX(-50%);
  z-index: 800; background: rgba(255,255,255,0.94); padding: 6px 14px; border-radius: 6px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.35); pointer-events: none; text-align: center;
  max-width: 60%; }
.ap-title h1 { font-size: 16px; margin: 0; font-weight: 600; color: #1a1a1a; }
.ap-title div { font-size: 12px; color: #555; }
.ap-legend { background: rgba(255,255,255,0.95); padding: 8px 10px; border-radius: 6px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.35); max-width: 260px; }
.ap-legend h2 { font-size: 13px; margin: 0 0 4px 0; font-weight: 600; }
.ap-legend .ap-block { margin-bottom: 8px; }
.ap-legend .ap-row { display: flex; align-items: center; gap: 6px; margin: 1px 0;
  white-space: nowrap; }
.ap-legend .ap-swatch { width: 22px; height: 13px; border: 1px solid rgba(0,0,0,0.25);
  flex: none; }
.ap-legend .ap-sym { width: 22px; height: 22px; flex: none; display: flex;
  align-items: center; justify-content: center; }
.ap-legend .ap-note { color: #555; font-size: 11px; white-space: normal; margin-top: 2px; }
.ap-fac { background: none; border: none; }
.ap-fac svg { display: block; filter: drop-shadow(0 1px 1.5px rgba(0,0,0,0.5)); }
.ap-tip table, .ap-pop table { border-collapse: collapse; }
.ap-tip td, .ap-pop td { padding: 0 6px 0 0; vertical-align: top; }
.ap-tip td.ap-num, .ap-pop td.ap-num { text-align: right; font-variant-numeric: tabular-nums; }
.ap-tip .ap-cur { font-weight: 700; }
.ap-pop h3 { font-size: 14px; margin: 0 0 4px 0; }
.leaflet-control-layers-expanded { padding: 6px 10px 6px 6px; }
.leaflet-control-layers-base label, .leaflet-control-layers-overlays label { margin: 2px 0; }
"""


def _facility_svg(kind: str, status: str) -> tuple[str, int]:
    """Inline SVG of a facility marker and its size in CSS pixels (no fonts, no images)."""
    colour = TYPE_STYLES[kind]["colour"]
    new = status == "new"
    size = 32 if new else 24
    c = size / 2
    r = 8.5 if not new else 10.0
    parts: list[str] = []
    if new:
        parts.append(
            f'<circle cx="{c}" cy="{c}" r="{c - 1.5}" fill="none" stroke="{NEW_RING_COLOUR}" '
            'stroke-width="3"/>'
        )
    dash = ' stroke-dasharray="2.5 1.5"' if kind == "digital" else ""
    if kind == "clinic":
        parts.append(
            f'<rect x="{c - r}" y="{c - r}" width="{2 * r}" height="{2 * r}" rx="2" '
            f'fill="{colour}" stroke="#fff" stroke-width="1.5"/>'
            f'<path d="M{c - 1.6} {c - 5}h3.2v3.4h3.4v3.2h-3.4v3.4h-3.2v-3.4h-3.4v-3.2h3.4z" '
            'fill="#fff"/>'
        )
    elif kind == "robotic":
        q = r * 1.25
        parts.append(
            f'<path d="M{c} {c - q}L{c + q} {c}L{c} {c + q}L{c - q} {c}Z" fill="{colour}" '
            'stroke="#fff" stroke-width="1.5"/>'
            f'<rect x="{c - 3.5}" y="{c - 2.5}" width="7" height="5.5" rx="1" fill="#fff"/>'
            f'<circle cx="{c - 1.5}" cy="{c}" r="0.9" fill="{colour}"/>'
            f'<circle cx="{c + 1.5}" cy="{c}" r="0.9" fill="{colour}"/>'
            f'<path d="M{c} {c - 2.5}v-2" stroke="#fff" stroke-width="1.2"/>'
        )
    else:
        parts.append(
            f'<circle cx="{c}" cy="{c}" r="{r}" fill="{colour}" stroke="#fff" '
            f'stroke-width="1.5"{dash}/>'
            f'<circle cx="{c}" cy="{c + 3}" r="1.3" fill="#fff"/>'
            f'<path d="M{c - 3} {c + 0.5}a4.2 4.2 0 0 1 6 0M{c - 5} {c - 1.7}a7 7 0 0 1 10 0" '
            'fill="none" stroke="#fff" stroke-width="1.4" stroke-linecap="round"/>'
        )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}">{"".join(parts)}</svg>'
    )
    return svg, size


def _resolve_refs(value: Any) -> Any:
    """Element → its JS variable name (at render time, after ids are final); lists joined."""
    if isinstance(value, Element):
        return value.get_name()
    if isinstance(value, list):
        return ", ".join(_resolve_refs(v) for v in value)
    return value


class _Script(MacroElement):
    """A map-level script from a jinja template.

    ``values`` are trusted JS snippets built by this module, or elements (and lists of
    elements) that stand for their JS variable names.
    """

    def __init__(self, name: str, template: str, **values: Any) -> None:
        super().__init__()
        self._name = name
        self._values = values
        self._template = Template("{% macro script(this, kwargs) %}" + template + "{% endmacro %}")

    @property
    def values(self) -> dict[str, Any]:
        return {key: _resolve_refs(value) for key, value in self._values.items()}


class _GeoJsonLayer(folium.map.Layer):
    """A Leaflet ``L.geoJSON`` layer whose options are trusted JS built by this module.

    In ``js``, ``@REF@`` stands for the JS variable name of the element ``ref``.
    """

    def __init__(
        self, name: str, js: str, *, overlay: bool, show: bool, ref: Element | None = None
    ) -> None:
        super().__init__(name=_esc(name), overlay=overlay, control=True, show=show)
        self._name = "ap_layer"
        self._js = js
        self._ref = ref
        self._template = Template(
            "{% macro script(this, kwargs) %}var {{ this.get_name() }} = {{ this.js }};"
            "{% endmacro %}"
        )

    @property
    def js(self) -> str:
        return self._js if self._ref is None else self._js.replace("@REF@", self._ref.get_name())


_HELPERS_JS = """
var {{ this.get_name() }} = (function () {
  var ESC = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'};
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }
  function fmt(v, d) {
    d = d || 3;
    if (v === null || v === undefined || !isFinite(v)) { return '—'; }
    if (v === 0) { return '0'; }
    if (Math.abs(v) >= Math.pow(10, d - 1)) {
      return Math.round(v).toLocaleString('en-US');
    }
    var t = Number(v).toPrecision(d);
    if (t.indexOf('e') >= 0) { var p = t.split('e'); return p[0] + '×10^' + Number(p[1]); }
    return String(Number(t));
  }
  return {esc: esc, fmt: fmt, data: {{ this.values['data'] }},
          pal: {{ this.values['palettes'] }}, names: {{ this.values['names'] }},
          blank: {{ this.values['blank'] }}, opacity: {{ this.values['opacity'] }}};
})();
"""


def _cell_layer_js(helpers: str, index: int) -> str:
    """JS expression building the cell layer that colours by measure number ``index``."""
    return f"""L.geoJSON({helpers}.data, {{
  pane: 'apCells',
  style: function (f) {{
    var k = f.properties.k[{index}];
    return {{fillColor: k < 0 ? {helpers}.blank : {helpers}.pal[{index}][k],
            fillOpacity: {helpers}.opacity, color: '#ffffff', weight: 0.6, opacity: 0.7}};
  }},
  onEachFeature: function (f, layer) {{
    var H = {helpers}, p = f.properties, rows = '';
    for (var j = 0; j < H.names.length; j++) {{
      var v = p.v[j], t = (j === 2 && v > 0 ? '+' : '') + H.fmt(v);
      rows += '<tr' + (j === {index} ? ' class="ap-cur"' : '') + '><td>' + H.names[j] +
        '</td><td class="ap-num">' + H.esc(t) + '</td></tr>';
    }}
    var body = '<div class="ap-tip"><b>Cell ' + H.esc(p.id) + '</b><table>' +
      '<tr><td>Population</td><td class="ap-num">' + H.esc(H.fmt(p.pop)) + '</td></tr>' +
      rows + '</table></div>';
    layer.bindTooltip(body, {{sticky: true, direction: 'top', opacity: 0.95}});
    layer.on('mouseover', function () {{ layer.setStyle({{weight: 2.5, color: '#222222'}}); }});
    layer.on('mouseout', function () {{ layer.setStyle({{weight: 0.6, color: '#ffffff'}}); }});
  }}
}})"""


_FACILITY_JS = """L.geoJSON({{DATA}}, {
  pointToLayer: function (f, latlng) {
    var p = f.properties;
    return L.marker(latlng, {
      icon: L.divIcon({className: 'ap-fac', html: p.svg, iconSize: [p.size, p.size],
                       iconAnchor: [p.size / 2, p.size / 2],
                       popupAnchor: [0, -p.size / 2], tooltipAnchor: [p.size / 2, 0]}),
      zIndexOffset: p.z, riseOnHover: true, keyboard: true, title: p.title,
      alt: p.title
    });
  },
  onEachFeature: function (f, layer) {
    layer.bindTooltip(f.properties.tip, {direction: 'right'});
    layer.bindPopup(f.properties.popup, {maxWidth: 320});
  }
})"""

_CONTEXT_JS = """L.geoJSON({{DATA}}, {
  pane: 'apContext', interactive: false,
  style: function () { return {color: '#4a4a4a', weight: 1, opacity: 0.55}; }
})"""

_PANES_JS = """
{{ this.values['map'] }}.createPane('apCells');
{{ this.values['map'] }}.getPane('apCells').style.zIndex = 350;
{{ this.values['map'] }}.createPane('apContext');
{{ this.values['map'] }}.getPane('apContext').style.zIndex = 420;
{{ this.values['map'] }}.getPane('apContext').style.pointerEvents = 'none';
"""

_DECOR_JS = """
(function () {
  var map = {{ this.values['map'] }};
  var title = document.createElement('div');
  title.className = 'ap-title';
  title.innerHTML = {{ this.values['title'] }};
  map.getContainer().appendChild(title);
  map.attributionControl.setPrefix({{ this.values['prefix'] }});
  map.attributionControl.addAttribution({{ this.values['attribution'] }});
  var legend = L.control({position: 'bottomright'});
  legend.onAdd = function () {
    var div = L.DomUtil.create('div', 'ap-legend');
    div.innerHTML = {{ this.values['legend'] }};
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  };
  legend.addTo(map);
  var layers = [{{ this.values['layers'] }}];
  function show(active) {
    var blocks = document.querySelectorAll('.ap-legend [data-ap-scale]');
    for (var i = 0; i < blocks.length; i++) {
      blocks[i].style.display = Number(blocks[i].getAttribute('data-ap-scale')) === active
        ? '' : 'none';
    }
  }
  map.on('baselayerchange', function (e) {
    for (var i = 0; i < layers.length; i++) { if (layers[i] === e.layer) { show(i); } }
  });
  show({{ this.values['shown'] }});
  L.control.scale({imperial: false, position: 'bottomleft'}).addTo(map);
  map.options.zoomSnap = 0.25;
  // A map inside an iframe or a hidden tab can start with no size; fitting the bounds then
  // gives NaN coordinates, so wait until the container has been laid out.
  function fitWhenSized(tries) {
    map.invalidateSize(false);
    var size = map.getSize();
    if ((size.x < 50 || size.y < 50) && tries < 400) {
      setTimeout(function () { fitWhenSized(tries + 1); }, 25);
      return;
    }
    map.fitBounds({{ this.values['bounds'] }}, {
      paddingTopLeft: [Math.min(20, size.x * 0.1), Math.min(60, size.y * 0.2)],
      paddingBottomRight: [Math.min(270, size.x * 0.3), Math.min(20, size.y * 0.1)],
      animate: false
    });
  }
  fitWhenSized(0);
})();
"""


def _legend_html(
    scales: list[tuple[str, ColourClasses]], facility_rows: list[tuple[str, str]], note: str
) -> str:
    blocks = []
    for i, (heading, classes) in enumerate(scales):
        rows = "".join(
            f'<div class="ap-row"><span class="ap-swatch" style="background:{colour}"></span>'
            f"<span>{_esc(label)}</span></div>"
            for colour, label in classes.legend_rows()
        )
        blocks.append(
            f'<div class="ap-block" data-ap-scale="{i}"><h2>{_esc(heading)}</h2>{rows}</div>'
        )
    if facility_rows:
        rows = "".join(
            f'<div class="ap-row"><span class="ap-sym">{svg}</span><span>{_esc(label)}</span></div>'
            for svg, label in facility_rows
        )
        blocks.append(f'<div class="ap-block"><h2>Facilities</h2>{rows}</div>')
    if note:
        blocks.append(f'<div class="ap-note">{_esc(note)}</div>')
    return "".join(blocks)


def _facility_popup(row: pd.Series, fields: Sequence[str]) -> str:
    kind = str(row["type"])
    heading = _esc(row["name"])
    cells = []
    for field in fields:
        value = row[field]
        is_number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool | np.bool_
        )
        text = format_number(value) if is_number else ("—" if pd.isna(value) else str(value))
        cells.append(
            f'<tr><td>{_esc(field)}</td><td class="{"ap-num" if is_number else ""}">'
            f"{_esc(text)}</td></tr>"
        )
    note = ""
    if kind == "digital":
        note = (
            "<div><i>Digital hub: serves the connected population everywhere; the site is "
            "shown for reference and does not enter travel times.</i></div>"
        )
    return f'<div class="ap-pop"><h3>{heading}</h3><table>{"".join(cells)}</table>{note}</div>'


def _facility_features(facilities: gpd.GeoDataFrame, status: str, fields: Sequence[str]) -> dict:
    subset = facilities[
        (facilities["status"] == status)
        & facilities.geometry.notna()
        & ~facilities.geometry.is_empty
    ]
    geoms = _rounded_geojson(subset.geometry) if len(subset) else []
    features = []
    for (_, row), geom in zip(subset.iterrows(), geoms, strict=True):
        kind = str(row["type"])
        svg, size = _facility_svg(kind, status)
        label = f"{TYPE_STYLES[kind]['label']}, {status}"
        features.append(
            {
                "type": "Feature",
                "geometry": geom,
                "properties": {
                    "svg": svg,
                    "size": size,
                    "z": 1000 if status == "new" else 0,
                    "title": f"{row['name']} ({label})",
                    "tip": f"<b>{_esc(row['name'])}</b><br>{_esc(label)}",
                    "popup": _facility_popup(row, fields),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _unsited_digital_note(facilities: gpd.GeoDataFrame | None) -> str:
    if facilities is None:
        return ""
    no_site = facilities.geometry.isna() | facilities.geometry.is_empty
    unsited = facilities[no_site & (facilities["type"] == "digital")]
    if unsited.empty:
        return ""
    names = ", ".join(
        f"{n} ({s}, capacity {format_number(c)})"
        for n, s, c in zip(unsited["name"], unsited["status"], unsited["capacity"], strict=True)
    )
    return f"Digital units without a hub site (not drawn): {names}."


def _renumber_ids(root: Element) -> None:
    """Give every element a sequential id so that the same map renders to the same HTML."""
    counter = 0
    root._id = f"{counter:04d}"
    stack = [root]
    while stack:
        element = stack.pop()
        renamed: OrderedDict[str, Element] = OrderedDict()
        for key, child in element._children.items():
            old_name = child.get_name()
            counter += 1
            child._id = f"{counter:04d}"
            renamed[child.get_name() if key == old_name else key] = child
        element._children = renamed
        stack.extend(reversed(list(element._children.values())))


def accessibility_map(
    cells: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None = None,
    *,
    before: str = "before",
    after: str | None = "after",
    change: str | None = "change",
    title: str = "Access to care before and after the plan",
    value_label: str = "Access",
    higher_is_better: bool = True,
    scheme: str = "quantile",
    classes: int = 6,
    show: str = "change",
    context: gpd.GeoDataFrame | None = None,
    popup_fields: Sequence[str] | None = None,
    attribution: str = DEFAULT_ATTRIBUTION,
    basemap: str | None = None,
) -> folium.Map:
    """Interactive map of access before and after a plan, with facilities, for offline use.

    Parameters
    ----------
    cells
        Population cells: polygon geometries (any CRS) with columns ``id``, ``population``
        (persons) and the access values named by ``before``, ``after`` and ``change`` (in the
        measure's unit; NaN means no value, e.g. unreachable within the cutoff).
    facilities
        Points with columns ``id``, ``name``, ``type`` (``clinic``/``robotic``/``digital``),
        ``capacity`` and ``status`` (``existing``/``new``). Digital units are drawn at their hub
        site with a dashed circle; a digital unit without geometry is listed in the legend.
    before, after, change
        Column names. ``after=None`` draws a baseline-only map. If ``change`` is None or not a
        column, it is computed as ``after − before``.
    title, value_label
        Map title and the name of the measure with its unit, e.g. ``"Nearest clinic (min)"``.
    higher_is_better
        True for supply-per-person measures (dark = more access), False for travel minutes;
        on the change layer improvements are always blue and deteriorations red.
    scheme, classes
        Classification of before/after values (shared by both layers so they compare):
        ``"quantile"`` or ``"equal"`` with at most ``classes`` classes.
    show
        Layer shown on opening: ``"before"``, ``"after"`` or ``"change"``.
    context
        Optional line geometries (roads) drawn thinly above the cells.
    popup_fields
        Facility columns listed in popups; default: every column except geometry.
    attribution
        Data sources and licences shown in the map corner (plain text; escaped).
    basemap
        Opt-in online tile layer (a folium tile name such as ``"OpenStreetMap"`` or a URL
        template). Default None: the map makes no network request at all.

    Returns
    -------
    folium.Map
        Save it with :func:`save_map` to get a self-contained offline file.

    Raises
    ------
    InputError
        For a missing column, missing CRS, wrong geometry type, unknown facility type or status.
    """
    value_cols = [before] + ([after] if after is not None else [])
    _check_frame(cells, "cells", ["id", "population", *value_cols], {"Polygon", "MultiPolygon"})
    if show not in ("before", "after", "change"):
        raise InputError(f"show={show!r}: use 'before', 'after' or 'change'.")
    if after is None:
        show = "before"
    if facilities is not None and len(facilities) > 0:
        _check_facilities(facilities)
    elif facilities is not None:
        facilities = None
    if context is not None:
        _check_frame(context, "context", [], {"LineString", "MultiLineString"})

    values = [_numeric(cells, before, "cells")]
    if after is not None:
        values.append(_numeric(cells, after, "cells"))
        if change is not None and change in cells.columns:
            values.append(_numeric(cells, change, "cells"))
        else:
            values.append(values[1] - values[0])
    population = _numeric(cells, "population", "cells")

    unit_scale = sequential_classes(
        np.concatenate(values[:2]),
        k=classes,
        scheme=scheme,
        cmap="YlGnBu" if higher_is_better else "YlOrRd",
    )
    scales = [(f"Before: {value_label}", unit_scale)]
    if after is not None:
        scales.append((f"After: {value_label}", unit_scale))
        scales.append(
            (
                f"Change: {value_label}",
                diverging_classes(values[2], higher_is_better=higher_is_better),
            )
        )
    class_index = np.column_stack(
        [scale.classify(v) for (_, scale), v in zip(scales, values, strict=True)]
    )

    geometry = _rounded_geojson(cells.geometry)
    features = [
        {
            "type": "Feature",
            "geometry": geom,
            "properties": {
                "id": str(cid),
                "pop": float(pop),
                "v": [float(x) for x in row_values],
                "k": [int(x) for x in row_classes],
            },
        }
        for cid, pop, geom, row_values, row_classes in zip(
            cells["id"],
            population,
            geometry,
            np.column_stack(values),
            class_index,
            strict=True,
        )
        if geom is not None
    ]

    west, south, east, north = cells.to_crs(4326).total_bounds
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=13,
        tiles=None,
        control_scale=False,
        prefer_canvas=False,
    )
    m.get_root().header.add_child(Element(f"<style>{_CSS}</style>"), name="ap_css")
    if basemap is not None:
        folium.TileLayer(
            basemap, name="Online basemap", overlay=True, control=True, show=True
        ).add_to(m)
    m.add_child(_Script("ap_panes", _PANES_JS, map=m))

    layer_names = [heading for heading, _ in scales]
    helpers = _Script(
        "ap_cells",
        _HELPERS_JS,
        data=escape_json_for_script({"type": "FeatureCollection", "features": features}),
        palettes=escape_json_for_script([list(s.colours) for _, s in scales]),
        names=escape_json_for_script([_esc(n) for n in ["Before", "After", "Change"]]),
        blank=escape_json_for_script(NO_VALUE_COLOUR),
        opacity="0.6" if basemap is not None else "0.82",
    )
    m.add_child(helpers)
    shown = ["before", "after", "change"].index(show)
    cell_layers = []
    for i in range(len(scales)):
        layer = _GeoJsonLayer(
            layer_names[i], _cell_layer_js("@REF@", i), overlay=False, show=i == shown, ref=helpers
        )
        m.add_child(layer)
        cell_layers.append(layer)

    if context is not None:
        context_data = {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "geometry": g, "properties": {}}
                for g in _rounded_geojson(context.geometry)
                if g is not None
            ],
        }
        m.add_child(
            _GeoJsonLayer(
                "Roads",
                _CONTEXT_JS.replace("{{DATA}}", escape_json_for_script(context_data)),
                overlay=True,
                show=True,
            )
        )

    facility_rows: list[tuple[str, str]] = []
    if facilities is not None:
        fields = (
            list(popup_fields)
            if popup_fields is not None
            else [c for c in facilities.columns if c != facilities.geometry.name]
        )
        missing = [f for f in fields if f not in facilities.columns]
        if missing:
            raise InputError(
                f"popup_fields: {missing} are not facility columns; "
                f"available: {list(facilities.columns)}."
            )
        for status, label in (("existing", "Existing facilities"), ("new", "New facilities")):
            data = _facility_features(facilities, status, fields)
            if data["features"]:
                m.add_child(
                    _GeoJsonLayer(
                        label,
                        _FACILITY_JS.replace("{{DATA}}", escape_json_for_script(data)),
                        overlay=True,
                        show=True,
                    )
                )
        present = set(zip(facilities["type"], facilities["status"], strict=True))
        for kind in SUPPLY_TYPES:
            for status in FACILITY_STATUSES:
                if (kind, status) in present:
                    facility_rows.append(
                        (_facility_svg(kind, status)[0], f"{TYPE_STYLES[kind]['label']}, {status}")
                    )
    note = _unsited_digital_note(facilities)

    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(
        _Script(
            "ap_decor",
            _DECOR_JS,
            map=m,
            title=escape_json_for_script(
                f"<h1>{_esc(title)}</h1><div>{_esc(value_label)} — "
                f"{_esc(format_number(population.sum()))} persons in {len(cells):,} cells</div>"
            ),
            prefix=escape_json_for_script(
                f'<a href="https://leafletjs.com" title="Leaflet {LEAFLET_VERSION}">Leaflet</a>'
            ),
            attribution=escape_json_for_script(_esc(attribution)),
            legend=escape_json_for_script(_legend_html(scales, facility_rows, note)),
            layers=cell_layers,
            shown=str(shown),
            bounds=escape_json_for_script([[south, west], [north, east]]),
        )
    )
    return m


# ---------------------------------------------------------------------------------------------
# Offline rendering
# ---------------------------------------------------------------------------------------------

_SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"'][^>]*>\s*</script>", re.I)
_LINK_HREF = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']([^\"']+)[\"'][^>]*/?>", re.I)
# folium's default resources that maps built here never use (jQuery, Bootstrap, Font Awesome,
# awesome-markers): they are removed rather than inlined.
_UNUSED_DEFAULTS = (
    "jquery",
    "bootstrap",
    "awesome-markers",
    "fontawesome",
    "font-awesome",
    "leaflet.awesome.rotate",
    "glyphicons",
)


def _inline_script(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return "<script>" + text.replace("</script", "<\\/script") + "</script>"


def _leaflet_css() -> str:
    css = (LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match[str]) -> str:
        data = (LEAFLET_DIR / "images" / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", data_uri, css)
    return f"<style>{css}</style>"


def _replace_resource(url: str, kind: str) -> str:
    name = url.rsplit("/", 1)[-1].lower()
    lowered = url.lower()
    if "leaflet" in lowered and name in ("leaflet.js", "leaflet-src.js") and kind == "js":
        return _inline_script(LEAFLET_DIR / "leaflet.js")
    if "leaflet" in lowered and name == "leaflet.css" and kind == "css":
        return _leaflet_css()
    if any(token in lowered for token in _UNUSED_DEFAULTS):
        return ""
    raise InputError(
        f"the map loads {url!r} from the network, which an offline map cannot do; remove the "
        "element that needs it or vendor the file under accessplan/assets and inline it."
    )


class _ExternalRefs(HTMLParser):
    """Collects URLs a browser would fetch on load: script/img/iframe src, stylesheet href."""

    FETCHED: frozenset[tuple[str, str]] = frozenset(
        {
            ("script", "src"),
            ("img", "src"),
            ("iframe", "src"),
            ("source", "src"),
            ("video", "src"),
            ("audio", "src"),
            ("embed", "src"),
            ("link", "href"),
        }
    )

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if (tag, key) in self.FETCHED and value and not value.startswith(("data:", "#")):
                self.urls.append(value)


def external_references(page: str) -> list[str]:
    """URLs that ``page`` would fetch when loaded (in tags and in CSS ``url()``), if any."""
    parser = _ExternalRefs()
    parser.feed(page)
    css_urls = re.findall(r"url\(\s*['\"]?((?:https?:)?//[^'\")\s]+)", page)
    return parser.urls + css_urls


def offline_html(m: folium.Map) -> str:
    """Render ``m`` to a self-contained HTML page that makes no network request.

    Raises
    ------
    InputError
        If the map holds an element that needs a web resource that is not vendored.
    """
    _renumber_ids(m)
    page = m.get_root().render()
    page = _SCRIPT_SRC.sub(lambda mt: _replace_resource(mt.group(1), "js"), page)
    page = _LINK_HREF.sub(lambda mt: _replace_resource(mt.group(1), "css"), page)
    leftover = external_references(page)
    if leftover:
        raise InputError(
            f"the rendered map still references {leftover[:3]}; it would not work offline."
        )
    return page


def display_map(m: folium.Map, *, height: int = 520) -> Any:
    """Show ``m`` in a Jupyter notebook from its offline HTML (no CDN, works without a network).

    Displaying a folium map directly makes the notebook fetch Leaflet and its plugins from the
    internet; this renders :func:`offline_html` into a sandboxed ``<iframe srcdoc>`` instead.

    Returns
    -------
    IPython.display.HTML
    """
    from IPython.display import HTML

    page = html.escape(offline_html(m), quote=True)
    return HTML(
        f'<iframe srcdoc="{page}" sandbox="allow-scripts" '
        f'style="width:100%;height:{int(height)}px;border:0"></iframe>'
    )


def save_map(m: folium.Map, path: str | Path) -> Path:
    """Write ``m`` as one offline HTML file (UTF-8) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(offline_html(m), encoding="utf-8")
    return path
