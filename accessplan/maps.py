# Over 600 lines: about 600 of them are the map's CSS and JavaScript templates and docstrings;
# the code is one pipeline (classes, layers, folium map, offline HTML).
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
import dataclasses
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
from branca.element import Element, Figure, MacroElement
from jinja2 import Template
from matplotlib import colormaps
from matplotlib.colors import to_hex
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from accessplan._html import esc
from accessplan.errors import InputError
from accessplan.supply import SUPPLY_TYPES

__all__ = [
    "DEFAULT_ATTRIBUTION",
    "FACILITY_STATUSES",
    "LEAFLET_VERSION",
    "REACHED_CATEGORIES",
    "TYPE_STYLES",
    "UNREACHED_CATEGORIES",
    "AccessLayer",
    "ColourClasses",
    "SpecialClass",
    "access_layers",
    "accessibility_map",
    "display_map",
    "diverging_classes",
    "escape_json_for_script",
    "external_references",
    "format_number",
    "marker_size",
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


def measure_title(label: str, unit: str | None) -> str:
    """``"label (unit)"``, or the label alone when it already names its unit."""
    if not unit or unit.lower() in label.lower():
        return label
    return f"{label} ({unit})"


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

    def classify(self, values: ArrayLike) -> np.ndarray:
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


def _finite(values: ArrayLike) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    return v[np.isfinite(v)]


def sequential_classes(
    values: ArrayLike, *, k: int = 6, scheme: str = "quantile", cmap: str = "YlGnBu"
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
        ticks = np.asarray(MaxNLocator(nbins=k, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi))
        inner = ticks[(ticks > lo) & (ticks < hi)]
    else:
        raise InputError(f"scheme={scheme!r}: use 'quantile' or 'equal'.")
    edges = np.concatenate([[lo], inner, [hi]])
    text = _distinct_labels(edges)
    labels = tuple(f"{a} – {b}" for a, b in itertools.pairwise(text))
    colours = tuple(_sample_cmap(cmap, len(labels)))
    return ColourClasses(inner=tuple(float(x) for x in inner), colours=colours, labels=labels)


def diverging_classes(
    values: ArrayLike, *, k_side: int = 3, higher_is_better: bool = True, cmap: str = "RdBu"
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
    ticks = np.asarray(MaxNLocator(nbins=k_side, steps=[1, 2, 2.5, 5, 10]).tick_values(0, biggest))
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
# Reach categories and the classes of each map layer
# ---------------------------------------------------------------------------------------------

#: Reach categories (column ``reach_before``/``reach_after`` of the cells) of a cell that has a
#: facility within the travel-time cutoff; its access value is drawn on the colour scale.
REACHED_CATEGORIES: tuple[str, ...] = ("within standard", "beyond standard")
#: Reach categories of a cell that reaches no facility; each is drawn as its own grey class.
UNREACHED_CATEGORIES: dict[str, str] = {
    "no facility within cutoff": "unreached",
    "no facility on its network": "isolated",
    "too far from road": "off_network",
}
_HATCH_INK = "#6f6f6f"


@dataclass(frozen=True)
class SpecialClass:
    """A class outside the colour scale: no facility reached, zero access, missing value...

    ``hatch`` is a matplotlib hatch pattern (``"////"``, ``"xxx"``, ``"..."``) drawn in
    ``hatch_colour`` over ``colour``; the HTML map draws the same pattern as an SVG pattern.
    """

    key: str
    label: str
    colour: str
    hatch: str | None = None
    hatch_colour: str = _HATCH_INK


def _special_classes(cutoff: float | None, unit: str) -> dict[str, SpecialClass]:
    within = f"within {format_number(cutoff)} min" if cutoff is not None else "within the cutoff"
    zero = f"0 {unit}" if unit else "0"
    specials = [
        SpecialClass("zero", f"Zero access ({zero}), though a facility is reached", "#f3c6dd"),
        SpecialClass("missing", "No value (missing data)", "#a3a3a3"),
        SpecialClass("unreached", f"No facility {within}", "#d6d6d6", "////"),
        SpecialClass(
            "isolated", "No facility on its road network (isolated roads)", "#bdbdbd", "xxx"
        ),
        SpecialClass(
            "off_network",
            "Not on the road network (too far from a road)",
            "#dadada",
            "...",
            "#404040",
        ),
        SpecialClass("newly_reached", f"Newly reached: no facility {within} before", "#1b7837"),
        SpecialClass(
            "lost", f"No longer reached: no facility {within} after", "#8c1a10", "////", "#ffffff"
        ),
    ]
    return {s.key: s for s in specials}


@dataclass(frozen=True)
class AccessLayer:
    """One map layer (before, after or change): its classes and the class of every cell.

    ``index[i]`` is the class of cell ``i``: ``0 … len(classes.colours) - 1`` on the colour
    scale, ``len(classes.colours) + j`` for ``specials[j]``.
    """

    key: str
    title: str
    measure: str
    direction: str
    classes: ColourClasses
    specials: tuple[SpecialClass, ...]
    index: np.ndarray
    values: np.ndarray
    best_first: bool = True

    @property
    def heading(self) -> str:
        """Title and measure in one line, e.g. ``"Before the plan: Access (min)"``."""
        return f"{self.title}: {self.measure}"

    def class_labels(self) -> list[str]:
        """Label of every class index: the colour scale's, then the special classes'."""
        return [*self.classes.labels, *(s.label for s in self.specials)]

    def class_persons(self, population: np.ndarray) -> np.ndarray:
        """Persons in each class index (same order as :meth:`class_labels`)."""
        n = len(self.classes.colours) + len(self.specials)
        valid = self.index >= 0
        return np.bincount(self.index[valid], weights=population[valid], minlength=n)

    def scale_order(self) -> list[int]:
        """Colour-scale class indices from the best class to the worst."""
        order = list(range(len(self.classes.colours)))
        return order[::-1] if self.best_first else order


def _reach_keys(values: np.ndarray, reach: pd.Series | None, column: str | None) -> np.ndarray:
    """``"reached"``, ``"unreached"``, ``"isolated"`` or ``"off_network"`` for every cell."""
    keys = np.where(np.isfinite(values), "reached", "unreached").astype(object)
    if reach is None:
        return keys
    text = reach.astype("string").str.strip().str.lower()
    known = set(REACHED_CATEGORIES) | set(UNREACHED_CATEGORIES)
    unknown = sorted(set(text.dropna()) - known)
    if unknown:
        raise InputError(
            f"cells: column {column!r} has unknown reach categories {unknown}; "
            f"use {[*REACHED_CATEGORIES, *UNREACHED_CATEGORIES]}."
        )
    for category, key in UNREACHED_CATEGORIES.items():
        keys[(text == category).fillna(False).to_numpy()] = key
    keys[text.isin(REACHED_CATEGORIES).fillna(False).to_numpy()] = "reached"
    return keys


def _assign(
    scale: ColourClasses,
    special_keys: np.ndarray,
    scale_values: np.ndarray,
    catalogue: dict[str, SpecialClass],
) -> tuple[np.ndarray, tuple[SpecialClass, ...]]:
    """Class index per cell; ``special_keys`` is ``""`` where the colour scale applies."""
    index = scale.classify(scale_values)
    used = [k for k in catalogue if (special_keys == k).any()]
    n = len(scale.colours)
    for j, key in enumerate(used):
        index[special_keys == key] = n + j
    return index, tuple(catalogue[k] for k in used)


def access_layers(
    cells: pd.DataFrame,
    *,
    before: str = "before",
    after: str | None = "after",
    change: str | None = "change",
    reach_before: str | None = None,
    reach_after: str | None = None,
    label: str = "Access",
    unit: str = "",
    higher_is_better: bool = True,
    cutoff: float | None = None,
    scheme: str = "quantile",
    classes: int = 6,
) -> list[AccessLayer]:
    """The before, after and change layers of a map or figure, with every cell's class.

    A cell whose reach category says it reaches no facility (or whose value is NaN when there
    is no reach column) gets its own grey, hatched class, never the lowest access class; a
    cell that is reached but has zero access (``higher_is_better`` measures) and a reached
    cell without a value get their own classes too. Before and after share one colour scale,
    computed from the reached, non-zero values only; the change layer adds "newly reached"
    and "no longer reached" classes. Arguments are those of :func:`accessibility_map`.

    Returns
    -------
    list of AccessLayer
        ``[before]`` when ``after`` is None, else ``[before, after, change]``.
    """
    catalogue = _special_classes(cutoff, unit)
    measure = measure_title(label, unit)
    direction = "higher is better" if higher_is_better else "lower is better"
    states = [(before, reach_before)] + ([(after, reach_after)] if after is not None else [])
    values = [_numeric(cells, column, "cells") for column, _ in states]
    reach = [
        _reach_keys(v, cells[col] if col is not None else None, col)
        for v, (_, col) in zip(values, states, strict=True)
    ]
    specials = []
    for v, r in zip(values, reach, strict=True):
        key = np.where(r == "reached", "", r).astype(object)
        key[(r == "reached") & ~np.isfinite(v)] = "missing"
        if higher_is_better:
            key[(r == "reached") & (v == 0)] = "zero"
        specials.append(key)
    on_scale = np.concatenate([v[k == ""] for v, k in zip(values, specials, strict=True)])
    scale = sequential_classes(on_scale, k=classes, scheme=scheme, cmap="YlGnBu")
    if not higher_is_better:  # the best (lowest) values get the darkest blue
        scale = dataclasses.replace(scale, colours=scale.colours[::-1])
    titles = {"before": "Before the plan", "after": "After the plan"}
    layers = []
    for key_name, v, k in zip(("before", "after"), values, specials, strict=False):
        index, used = _assign(scale, k, np.where(k == "", v, np.nan), catalogue)
        layers.append(
            AccessLayer(
                key_name,
                titles[key_name],
                measure,
                direction,
                scale,
                used,
                index,
                v,
                best_first=higher_is_better,
            )
        )
    if after is None:
        return layers
    if change is not None and change in cells.columns:
        delta = _numeric(cells, change, "cells")
    else:
        delta = values[1] - values[0]
    both = (reach[0] == "reached") & (reach[1] == "reached")
    key = np.where(both, "", reach[1]).astype(object)
    key[both & ~np.isfinite(delta)] = "missing"
    key[(reach[0] != "reached") & (reach[1] == "reached")] = "newly_reached"
    key[(reach[0] == "reached") & (reach[1] != "reached")] = "lost"
    diverging = diverging_classes(delta[key == ""], higher_is_better=higher_is_better)
    index, used = _assign(diverging, key, np.where(key == "", delta, np.nan), catalogue)
    better = "an increase" if higher_is_better else "a decrease"
    layers.append(
        AccessLayer(
            "change",
            "Change (after − before)",
            measure,
            f"{direction}: blue is better ({better}), red is worse",
            diverging,
            used,
            index,
            delta,
            best_first=higher_is_better,
        )
    )
    return layers


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
    for column, allowed in (("type", SUPPLY_TYPES), ("status", FACILITY_STATUSES)):
        bad = ~facilities[column].isin(allowed)
        if bad.any():
            at = facilities.index[bad.to_numpy()][0]
            raise InputError(
                f"facilities: row {at!r} has {column} {facilities.at[at, column]!r}; "
                f"use one of {list(allowed)}."
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


def _rounded_geojson(geoms: gpd.GeoSeries, decimals: int = 6) -> list[dict | None]:
    """GeoJSON geometry dicts in WGS84 with coordinates rounded to ``decimals`` (1e-6° ≈ 0.1 m)."""
    arr = shapely.transform(np.asarray(geoms.to_crs(4326).array), lambda c: np.round(c, decimals))
    return [None if g is None or g.is_empty else json.loads(shapely.to_geojson(g)) for g in arr]


# ---------------------------------------------------------------------------------------------
# Map elements
# ---------------------------------------------------------------------------------------------

_CSS = """
html, body { height: 100%; }
body { display: flex; flex-direction: column; }
body > .folium-map { flex: 1 1 auto; height: auto !important; min-height: 240px; }
html body .leaflet-container { background: #eef1f4; font: 13px/1.35 system-ui, -apple-system,
  "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.ap-header { order: -1; flex: none; padding: 6px 14px 5px; background: #ffffff;
  border-bottom: 1px solid #cfd5dc; font: 13px/1.35 system-ui, -apple-system, "Segoe UI",
  Roboto, "Helvetica Neue", Arial, sans-serif; }
.ap-header h1 { font-size: 17px; margin: 0; font-weight: 600; color: #1a1a1a; }
.ap-header div { font-size: 12.5px; color: #4a4f57; }
.ap-legend { background: rgba(255,255,255,0.96); padding: 8px 10px; border-radius: 6px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.35); max-width: 300px; overflow-y: auto; }
.ap-legend h2 { font-size: 13px; margin: 0 0 2px 0; font-weight: 600; }
.ap-legend .ap-measure { font-size: 12px; margin: 0 0 1px 0; }
.ap-legend .ap-dir { font-size: 11.5px; color: #3b3f45; margin: 0 0 4px 0; font-weight: 600; }
.ap-legend .ap-block { margin-bottom: 8px; }
.ap-legend .ap-row { display: flex; align-items: center; gap: 6px; margin: 1px 0; }
.ap-legend .ap-swatch { width: 22px; height: 13px; border: 1px solid rgba(0,0,0,0.3);
  flex: none; }
.ap-legend .ap-persons { color: #555; }
.ap-legend .ap-sym { width: 30px; min-height: 22px; flex: none; display: flex;
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

_MARKER_MIN_PX = 16.0
_MARKER_MAX_PX = 34.0


def marker_size(capacity: Any, largest: float) -> float:
    """Side of a facility symbol in CSS pixels: its area grows with capacity (clinicians).

    ``largest`` is the largest capacity on the map; a missing or non-positive capacity gets the
    smallest symbol.
    """
    try:
        cap = float(capacity)
    except (TypeError, ValueError):
        cap = float("nan")
    if not math.isfinite(cap) or cap <= 0 or not math.isfinite(largest) or largest <= 0:
        return _MARKER_MIN_PX
    return _MARKER_MIN_PX + (_MARKER_MAX_PX - _MARKER_MIN_PX) * math.sqrt(min(cap / largest, 1))


def _facility_svg(kind: str, status: str, size: float = 24.0) -> tuple[str, float]:
    """Inline SVG of a facility marker and its width in CSS pixels (no fonts, no images).

    The symbol is drawn in a 24-unit box scaled to ``size`` pixels; a new facility gets a gold
    ring around it (the SVG is then a third wider).
    """
    colour = TYPE_STYLES[kind]["colour"]
    new = status == "new"
    c, r = 12.0, 8.5
    parts: list[str] = []
    if new:
        parts.append(
            f'<circle cx="{c}" cy="{c}" r="14.3" fill="none" stroke="{NEW_RING_COLOUR}" '
            'stroke-width="3"/>'
        )
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
            'stroke-width="1.5" stroke-dasharray="2.5 1.5"/>'
            f'<circle cx="{c}" cy="{c + 3}" r="1.3" fill="#fff"/>'
            f'<path d="M{c - 3} {c + 0.5}a4.2 4.2 0 0 1 6 0M{c - 5} {c - 1.7}a7 7 0 0 1 10 0" '
            'fill="none" stroke="#fff" stroke-width="1.4" stroke-linecap="round"/>'
        )
    box = "-4 -4 32 32" if new else "0 0 24 24"
    width = round(size * (32 / 24 if new else 1.0), 1)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{width:g}" '
        f'viewBox="{box}">{"".join(parts)}</svg>'
    )
    return svg, width


def _hatch_pattern_svg(special: SpecialClass) -> str:
    """SVG ``<pattern>`` drawing ``special``'s hatch (matplotlib-style code) over its colour."""
    ink, bg = special.hatch_colour, special.colour
    if special.hatch and "x" in special.hatch:
        marks = f'<path d="M0 0L8 8M8 0L0 8" stroke="{ink}" stroke-width="1"/>'
    elif special.hatch and "." in special.hatch:
        marks = "".join(f'<circle cx="{xy}" cy="{xy}" r="1" fill="{ink}"/>' for xy in (2, 6))
    else:
        marks = f'<path d="M-2 2L2 -2M0 8L8 0M6 10L10 6" stroke="{ink}" stroke-width="1.3"/>'
    return (
        f'<pattern id="ap-h-{special.key}" patternUnits="userSpaceOnUse" width="8" height="8">'
        f'<rect width="8" height="8" fill="{bg}"/>{marks}</pattern>'
    )


def _swatch_style(special: SpecialClass) -> str:
    """CSS background of a legend swatch that shows ``special`` as the map draws it."""
    if not special.hatch:
        return f"background:{special.colour}"
    ink, bg = special.hatch_colour, special.colour
    if "x" in special.hatch:
        image = (
            f"repeating-linear-gradient(45deg,{ink} 0 1px,transparent 1px 5px),"
            f"repeating-linear-gradient(-45deg,{ink} 0 1px,transparent 1px 5px)"
        )
    elif "." in special.hatch:
        image = f"radial-gradient({ink} 1px,transparent 1.2px)"
        return f"background:{image} 0 0/4px 4px,{bg}"
    else:
        image = f"repeating-linear-gradient(-45deg,{ink} 0 1.3px,transparent 1.3px 5px)"
    return f"background:{image},{bg}"


def _layer_palette(layer: AccessLayer) -> list[str]:
    """SVG fill of every class index of ``layer``: colours, or hatch patterns by reference."""
    return [
        *layer.classes.colours,
        *(f"url(#ap-h-{s.key})" if s.hatch else s.colour for s in layer.specials),
    ]


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
    """A Leaflet layer whose construction is trusted JS built by this module.

    In ``js``, each key of ``refs`` (e.g. ``"@H@"``) stands for the JS variable name of its
    element. ``control=False`` makes a layer that is neither in the layer control nor added to
    the map: a building block of another layer.
    """

    def __init__(
        self,
        name: str,
        js: str,
        *,
        overlay: bool,
        show: bool,
        refs: dict[str, Element] | None = None,
        control: bool = True,
    ) -> None:
        super().__init__(name=esc(name), overlay=overlay, control=control, show=show)
        self._name = "ap_layer"
        self._js = js
        self._refs = refs or {}
        self._template = Template(
            "{% macro script(this, kwargs) %}var {{ this.get_name() }} = {{ this.js }};"
            "{% endmacro %}"
        )

    @property
    def js(self) -> str:
        text = self._js
        for token, element in self._refs.items():
            text = text.replace(token, element.get_name())
        return text


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
          lab: {{ this.values['labels'] }}, nscale: {{ this.values['nscale'] }},
          unit: {{ this.values['unit'] }}, blank: {{ this.values['blank'] }},
          opacity: {{ this.values['opacity'] }}};
})();
"""


def _cell_layer_js(index: int) -> str:
    """JS expression building the cell layer coloured by layer number ``index`` (``@H@``)."""
    return f"""L.geoJSON(@H@.data, {{
  pane: 'apCells',
  pointToLayer: function (f, latlng) {{
    return L.circleMarker(latlng, {{pane: 'apCells', radius: 5}});
  }},
  style: function (f) {{
    var k = f.properties.k[{index}];
    return {{fillColor: k < 0 ? @H@.blank : @H@.pal[{index}][k],
            fillOpacity: @H@.opacity, color: '#ffffff', weight: 0.6, opacity: 0.7}};
  }},
  onEachFeature: function (f, layer) {{
    var H = @H@, p = f.properties, rows = '';
    for (var j = 0; j < H.names.length; j++) {{
      var v = p.v[j], k = p.k[j], t;
      if (k >= H.nscale[j]) {{ t = H.lab[j][k]; }}
      else {{ t = (j === 2 && v > 0 ? '+' : '') + H.fmt(v); }}
      rows += '<tr' + (j === {index} ? ' class="ap-cur"' : '') + '><td>' + H.names[j] +
        '</td><td class="ap-num">' + H.esc(t) + '</td></tr>';
    }}
    var body = '<div class="ap-tip"><b>Cell ' + H.esc(p.id) + '</b> (' + H.unit + ')<table>' +
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
      icon: L.divIcon({className: 'ap-fac ap-fac-' + p.status, html: p.svg,
                       iconSize: [p.size, p.size], iconAnchor: [p.size / 2, p.size / 2],
                       popupAnchor: [0, -p.size / 2], tooltipAnchor: [p.size / 2, 0]}),
      zIndexOffset: p.z, riseOnHover: true, keyboard: true, title: p.title,
      alt: p.title
    });
  },
  onEachFeature: function (f, layer) {
    layer.bindTooltip(f.properties.tip, {direction: 'right'});
    layer.bindPopup(f.properties.popup, {maxWidth: 340});
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
  map.attributionControl.setPrefix({{ this.values['prefix'] }});
  map.attributionControl.addAttribution({{ this.values['attribution'] }});
  var legend = L.control({position: 'bottomright'});
  var legendDiv = null;
  legend.onAdd = function () {
    legendDiv = L.DomUtil.create('div', 'ap-legend');
    legendDiv.innerHTML = {{ this.values['legend'] }};
    L.DomEvent.disableClickPropagation(legendDiv);
    L.DomEvent.disableScrollPropagation(legendDiv);
    return legendDiv;
  };
  legend.addTo(map);
  // The legend never runs under the layer control: it scrolls when the map is short.
  function fitLegend() {
    var control = map.getContainer().querySelector('.leaflet-top.leaflet-right');
    var used = control ? control.getBoundingClientRect().height : 0;
    legendDiv.style.maxHeight = Math.max(120, map.getSize().y - used - 40) + 'px';
  }
  map.on('resize', fitLegend);
  var layers = [{{ this.values['layers'] }}];
  function show(active) {
    var blocks = document.querySelectorAll('.ap-legend [data-ap-scale]');
    for (var i = 0; i < blocks.length; i++) {
      blocks[i].style.display = Number(blocks[i].getAttribute('data-ap-scale')) === active
        ? '' : 'none';
    }
    var only = document.querySelectorAll('.ap-legend [data-ap-after]');
    for (var j = 0; j < only.length; j++) { only[j].style.display = active === 0 ? 'none' : ''; }
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
    fitLegend();
    var right = Math.min(legendDiv.offsetWidth + 30, size.x * 0.4);
    map.fitBounds({{ this.values['bounds'] }}, {
      paddingTopLeft: [Math.min(50, size.x * 0.1), Math.min(20, size.y * 0.1)],
      paddingBottomRight: [right, Math.min(20, size.y * 0.1)],
      animate: false
    });
  }
  fitWhenSized(0);
})();
"""


def _sentence(direction: str) -> str:
    """``"higher is better"`` → ``"Higher is better (best class at the top)"``."""
    text = direction[:1].upper() + direction[1:]
    return text if ":" in text else f"{text} (best class at the top)"


def _legend_html(
    layers: list[AccessLayer],
    population: np.ndarray,
    facility_rows: list[tuple[str, str, bool]],
    size_rows: list[tuple[str, str]],
    note: str,
) -> str:
    """Legend: one block per layer (shown with its layer), then the facility symbols."""
    blocks = []
    for i, layer in enumerate(layers):
        persons = layer.class_persons(population)
        n = len(layer.classes.colours)
        rows = [
            f'<div class="ap-row"><span class="ap-swatch" style="background:'
            f'{layer.classes.colours[k]}"></span><span>{esc(layer.classes.labels[k])}</span></div>'
            for k in layer.scale_order()
        ]
        rows += [
            f'<div class="ap-row" data-ap-special="{esc(s.key)}"><span class="ap-swatch" '
            f'style="{_swatch_style(s)}"></span><span>{esc(s.label)} '
            f'<span class="ap-persons">({esc(format_number(persons[n + j]))} persons)</span>'
            "</span></div>"
            for j, s in enumerate(layer.specials)
        ]
        blocks.append(
            f'<div class="ap-block" data-ap-scale="{i}"><h2>{esc(layer.title)}</h2>'
            f'<div class="ap-measure">{esc(layer.measure)}</div>'
            f'<div class="ap-dir">{esc(_sentence(layer.direction))}</div>'
            f"{''.join(rows)}</div>"
        )
    if facility_rows:
        rows = [
            f'<div class="ap-row"{" data-ap-after" if after_only else ""}><span class="ap-sym">'
            f"{svg}</span><span>{esc(label)}</span></div>"
            for svg, label, after_only in facility_rows
        ]
        rows += [
            f'<div class="ap-row"><span class="ap-sym">{svg}</span><span>{esc(label)}</span></div>'
            for svg, label in size_rows
        ]
        if any(after_only for _, _, after_only in facility_rows):
            rows.append(
                '<div class="ap-note">New facilities (gold ring) are drawn on the After and '
                "Change layers only.</div>"
            )
        blocks.append(f'<div class="ap-block"><h2>Facilities</h2>{"".join(rows)}</div>')
    if note:
        blocks.append(f'<div class="ap-note">{esc(note)}</div>')
    return "".join(blocks)


def _popup_value(value: Any) -> tuple[str, bool]:
    is_number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
    if is_number:
        return format_number(value), True
    return ("—" if pd.isna(value) else str(value)), False


def _facility_popup(
    row: pd.Series, fields: Sequence[str], lonlat: tuple[float, float], capacity_unit: str
) -> str:
    kind = str(row["type"])
    lon, lat = lonlat
    capacity, _ = _popup_value(row["capacity"])
    lines = [
        ("Type", f"{TYPE_STYLES[kind]['label']}, {row['status']}", False),
        ("Capacity", f"{capacity} {capacity_unit}".strip(), True),
        ("Site (latitude, longitude)", f"{lat:.5f}, {lon:.5f}", False),
    ]
    lines += [(field, *_popup_value(row[field])) for field in fields]
    cells = "".join(
        f'<tr><td>{esc(name)}</td><td class="{"ap-num" if numeric else ""}">{esc(text)}</td></tr>'
        for name, text, numeric in lines
    )
    note = ""
    if kind == "digital":
        note = (
            "<div><i>Digital hub: serves the connected population everywhere; the site is "
            "shown for reference and does not enter travel times.</i></div>"
        )
    return f'<div class="ap-pop"><h3>{esc(row["name"])}</h3><table>{cells}</table>{note}</div>'


def _sited(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return facilities[facilities.geometry.notna() & ~facilities.geometry.is_empty]


def _largest_capacity(facilities: gpd.GeoDataFrame | None) -> float:
    if facilities is None or facilities.empty:
        return float("nan")
    cap = pd.to_numeric(facilities["capacity"], errors="coerce").to_numpy(dtype=float)
    cap = cap[np.isfinite(cap) & (cap > 0)]
    return float(cap.max()) if cap.size else float("nan")


def _facility_features(
    facilities: gpd.GeoDataFrame,
    status: str,
    fields: Sequence[str],
    largest: float,
    capacity_unit: str,
) -> dict:
    subset = _sited(facilities[facilities["status"] == status])
    geoms = _rounded_geojson(subset.geometry) if len(subset) else []
    lonlat = subset.geometry.to_crs(4326) if len(subset) else subset.geometry
    features = []
    for (_, row), geom, point in zip(subset.iterrows(), geoms, lonlat, strict=True):
        kind = str(row["type"])
        svg, size = _facility_svg(kind, status, marker_size(row["capacity"], largest))
        label = f"{TYPE_STYLES[kind]['label']}, {status}"
        features.append(
            {
                "type": "Feature",
                "geometry": geom,
                "properties": {
                    "svg": svg,
                    "size": size,
                    "status": status,
                    "z": 1000 if status == "new" else 0,
                    "title": f"{row['name']} ({label})",
                    "tip": f"<b>{esc(row['name'])}</b><br>{esc(label)}",
                    "popup": _facility_popup(row, fields, (point.x, point.y), capacity_unit),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _size_legend(largest: float, capacity_unit: str) -> list[tuple[str, str]]:
    """Two or three reference symbols: the largest capacity and round smaller ones."""
    if not math.isfinite(largest):
        return []
    ticks = MaxNLocator(nbins=3, steps=[1, 2, 2.5, 5, 10]).tick_values(0, largest)
    sizes = sorted({float(t) for t in ticks if 0 < t < largest * 0.9} | {largest})[-3:]
    rows = []
    for value in sizes:
        svg, _ = _facility_svg("clinic", "existing", marker_size(value, largest))
        unit = f" {capacity_unit}" if capacity_unit else ""
        rows.append((svg, f"capacity {format_number(value)}{unit}"))
    return rows


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


_DEFAULT_REACH = {"reach_before", "reach_after"}


def _reach_column(cells: pd.DataFrame, name: str | None, argument: str) -> str | None:
    """The reach-category column to use: ``name`` if present; the default name may be absent."""
    if name is None or name in cells.columns:
        return name
    if name in _DEFAULT_REACH:
        return None
    raise InputError(
        f"cells: missing column {name!r} ({argument}); available: {list(cells.columns)}; "
        f"pass {argument}=None to classify by the values alone."
    )


_CELL_GEOMETRIES = {"Polygon", "MultiPolygon", "Point"}


def accessibility_map(
    cells: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None = None,
    *,
    before: str = "before",
    after: str | None = "after",
    change: str | None = "change",
    label: str | None = None,
    unit: str = "",
    higher_is_better: bool = True,
    cutoff: float | None = None,
    reach_before: str | None = "reach_before",
    reach_after: str | None = "reach_after",
    title: str = "Access to care before and after the plan",
    value_label: str | None = None,
    scheme: str = "quantile",
    classes: int = 6,
    show: str = "change",
    context: gpd.GeoDataFrame | None = None,
    popup_fields: Sequence[str] | None = None,
    capacity_unit: str = "clinicians",
    attribution: str = DEFAULT_ATTRIBUTION,
    basemap: str | None = None,
) -> folium.Map:
    """Interactive map of access before and after a plan, with facilities, for offline use.

    Parameters
    ----------
    cells
        Population cells: polygons or points (any CRS; drawn in EPSG:4326) with columns
        ``id``, ``population`` (persons) and the access values named by ``before``, ``after``
        and ``change`` (in ``unit``; NaN means no facility within the cutoff unless a reach
        column says otherwise).
    facilities
        Points with columns ``id``, ``name``, ``type`` (``clinic``/``robotic``/``digital``),
        ``capacity`` (in ``capacity_unit``) and ``status`` (``existing``/``new``). The symbol
        shows the type, its area the capacity; new facilities (gold ring) are drawn on the
        after and change layers only. A digital unit without geometry is listed in the legend.
    before, after, change
        Column names. ``after=None`` draws a baseline-only map. If ``change`` is None or not a
        column, it is computed as ``after − before``.
    label, unit, higher_is_better
        The measure: its name (e.g. ``"Travel time to the nearest clinic"``), unit (e.g.
        ``"minutes"``) and direction. Nothing is inferred from the text of the label. With
        ``higher_is_better=False`` the colour scale flips (the lowest values are the darkest
        blue, listed first) and on the change layer a decrease is blue (better).
    cutoff
        Travel-time cutoff (minutes), named in the "no facility within … min" class.
    reach_before, reach_after
        Columns with each cell's reach category before / after (``"within standard"``,
        ``"beyond standard"``, ``"no facility within cutoff"``, ``"no facility on its
        network"``, ``"too far from road"``). The last three get their own grey, hatched
        classes whatever the value. The default names are used when present; None ignores
        them.
    title
        Map title, shown in a bar above the map (never under a control).
    value_label
        Older name of ``label``, used when ``label`` is None.
    scheme, classes
        Classification of before/after values (shared by both layers so they compare):
        ``"quantile"`` or ``"equal"`` with at most ``classes`` classes. Cells with zero
        access (reached, value 0, ``higher_is_better`` measures) form their own class.
    show
        Layer shown on opening: ``"before"``, ``"after"`` or ``"change"``.
    context
        Optional line geometries (roads) drawn thinly above the cells.
    popup_fields
        Facility columns listed in popups below type, capacity and site coordinates;
        default: every column except geometry.
    capacity_unit
        Unit of the facility ``capacity`` column, shown in popups and the size legend.
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
        For a missing column, missing CRS, wrong geometry type, unknown facility type or
        status, or an unknown reach category.
    """
    label = label if label is not None else (value_label if value_label is not None else "Access")
    value_cols = [before] + ([after] if after is not None else [])
    _check_frame(cells, "cells", ["id", "population", *value_cols], _CELL_GEOMETRIES)
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

    layers = access_layers(
        cells,
        before=before,
        after=after,
        change=change,
        reach_before=_reach_column(cells, reach_before, "reach_before"),
        reach_after=_reach_column(cells, reach_after, "reach_after") if after else None,
        label=label,
        unit=unit,
        higher_is_better=higher_is_better,
        cutoff=cutoff,
        scheme=scheme,
        classes=classes,
    )
    population = _numeric(cells, "population", "cells")
    class_index = np.column_stack([layer.index for layer in layers])
    values = np.column_stack([layer.values for layer in layers])

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
            cells["id"], population, geometry, values, class_index, strict=True
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
    root = m.get_root()
    assert isinstance(root, Figure)  # a folium.Map's root is always its Figure
    root.header.add_child(Element(f"<style>{_CSS}</style>"), name="ap_css")
    measure = measure_title(label, unit)
    direction = "higher is better" if higher_is_better else "lower is better"
    root.html.add_child(
        Element(
            f'<header class="ap-header"><h1>{esc(title)}</h1><div>{esc(measure)}, '
            f"{esc(direction)} — {esc(format_number(population.sum()))} persons in "
            f"{len(cells):,} cells</div></header>"
        ),
        name="ap_header",
    )
    patterns = {s.key: s for layer in layers for s in layer.specials if s.hatch}
    if patterns:
        root.html.add_child(
            Element(
                '<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
                + "".join(_hatch_pattern_svg(s) for s in patterns.values())
                + "</defs></svg>"
            ),
            name="ap_patterns",
        )
    if basemap is not None:
        folium.TileLayer(
            basemap, name="Online basemap", overlay=True, control=True, show=True
        ).add_to(m)
    m.add_child(_Script("ap_panes", _PANES_JS, map=m))

    helpers = _Script(
        "ap_cells",
        _HELPERS_JS,
        data=escape_json_for_script({"type": "FeatureCollection", "features": features}),
        palettes=escape_json_for_script([_layer_palette(layer) for layer in layers]),
        names=escape_json_for_script(
            [esc(n) for n in ["Before", "After", "Change"][: len(layers)]]
        ),
        labels=escape_json_for_script([layer.class_labels() for layer in layers]),
        nscale=escape_json_for_script([len(layer.classes.colours) for layer in layers]),
        unit=escape_json_for_script(esc(unit or label)),
        blank=escape_json_for_script(NO_VALUE_COLOUR),
        opacity="0.6" if basemap is not None else "0.82",
    )
    m.add_child(helpers)

    facility_rows: list[tuple[str, str, bool]] = []
    size_rows: list[tuple[str, str]] = []
    new_layer = None
    existing_layer = None
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
        largest = _largest_capacity(facilities)
        for status in FACILITY_STATUSES:
            data = _facility_features(facilities, status, fields, largest, capacity_unit)
            if not data["features"]:
                continue
            js = _FACILITY_JS.replace("{{DATA}}", escape_json_for_script(data))
            if status == "existing":
                existing_layer = _GeoJsonLayer("Existing facilities", js, overlay=True, show=True)
            else:
                new_layer = _GeoJsonLayer(
                    "New facilities", js, overlay=True, show=False, control=False
                )
                m.add_child(new_layer)
        present = set(zip(facilities["type"], facilities["status"], strict=True))
        for kind in SUPPLY_TYPES:
            for status in FACILITY_STATUSES:
                if (kind, status) in present:
                    facility_rows.append(
                        (
                            _facility_svg(kind, status, 20.0)[0],
                            f"{TYPE_STYLES[kind]['label']}, {status}",
                            status == "new",
                        )
                    )
        size_rows = _size_legend(largest, capacity_unit)
    note = _unsited_digital_note(facilities)

    shown = ["before", "after", "change"].index(show)
    base_names = ["Before the plan", "After the plan (with new sites)", "Change (after − before)"]
    base_layers = []
    for i in range(len(layers)):
        cell_layer = _GeoJsonLayer(
            f"cells {i}",
            _cell_layer_js(i),
            overlay=False,
            show=False,
            control=False,
            refs={"@H@": helpers},
        )
        m.add_child(cell_layer)
        refs: dict[str, Element] = {"@C@": cell_layer}
        members = "@C@"
        if new_layer is not None and i > 0:
            refs["@N@"] = new_layer
            members += ", @N@"
        group = _GeoJsonLayer(
            base_names[i], f"L.layerGroup([{members}])", overlay=False, show=i == shown, refs=refs
        )
        m.add_child(group)
        base_layers.append(group)

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
    if existing_layer is not None:
        m.add_child(existing_layer)

    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(
        _Script(
            "ap_decor",
            _DECOR_JS,
            map=m,
            prefix=escape_json_for_script(
                f'<a href="https://leafletjs.com" title="Leaflet {LEAFLET_VERSION}">Leaflet</a>'
            ),
            attribution=escape_json_for_script(esc(attribution)),
            legend=escape_json_for_script(
                _legend_html(layers, population, facility_rows, size_rows, note)
            ),
            layers=base_layers,
            shown=str(shown),
            bounds=escape_json_for_script([[south, west], [north, east]]),
        )
    )
    return m


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
