# Over 600 lines: five figure kinds that share the cell-map drawing, legends and A4 layout.
"""Static PNG figures for reports: access maps, Lorenz curves, travel-time histograms, sweeps.

Every function takes plain (Geo)DataFrames and a path, draws with matplotlib's Agg canvas
(no display, no global pyplot state, safe in worker processes) and returns the written path.
The cell maps use the same classes and colours as the HTML map (:mod:`accessplan.maps`).
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from accessplan import equity
from accessplan.errors import InputError
from accessplan.maps import (
    NEW_RING_COLOUR,
    NO_VALUE_COLOUR,
    TYPE_STYLES,
    AccessLayer,
    access_layers,
    format_number,
    marker_size,
    measure_title,
)

__all__ = [
    "A4_TEXT_WIDTH",
    "plot_access_map",
    "plot_access_maps",
    "plot_budget_coverage",
    "plot_lorenz",
    "plot_travel_time_histogram",
]

DPI = 150
_MARKERS = {"clinic": "s", "robotic": "D", "digital": "o"}
# PNG metadata fixed so that the same figure gives the same bytes on every run.
_PNG_METADATA = {"Software": None}


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=DPI, format="png", metadata=_PNG_METADATA)
    return path


def _column(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    if column not in frame.columns:
        raise InputError(f"{what}: missing column {column!r}; available: {list(frame.columns)}.")
    try:
        return pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}: column {column!r} must be numeric ({exc}).") from exc


# ---------------------------------------------------------------------------------------------
# Maps
# ---------------------------------------------------------------------------------------------

#: Width of a map figure in inches: the text width of an A4 page (≈ 17 cm).
A4_TEXT_WIDTH = 6.7
_MAP_FRACTION = 0.62  # share of the figure width given to the map, the rest to its legend
_LAYER_KEYS = ("before", "after", "change")


def _drawing_frame(cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``cells`` in a metric CRS for drawing: as given when projected, else its UTM zone."""
    if not isinstance(cells, gpd.GeoDataFrame):
        raise InputError(f"cells: expected a GeoDataFrame, got {type(cells).__name__}.")
    if cells.crs is None:
        raise InputError(
            "cells: the GeoDataFrame has no CRS, so it cannot be placed on a map; set it with "
            "cells.set_crs('EPSG:…') (the CRS of the population file)."
        )
    if len(cells) == 0:
        raise InputError("cells: no rows; pass at least one cell.")
    if cells.crs.is_geographic:
        return cells.to_crs(cells.estimate_utm_crs())
    return cells


def _draw_layer(
    ax: Axes, cells: gpd.GeoDataFrame, layer: AccessLayer, population: np.ndarray
) -> list[Patch]:
    """Fill every cell with its class (hatched grey for the special classes); legend handles."""
    points = bool(cells.geom_type.isin(["Point"]).all())
    n = len(layer.classes.colours)
    styles: list[dict[str, Any]] = [
        {"facecolor": colour, "edgecolor": "white", "linewidth": 0.25}
        for colour in layer.classes.colours
    ]
    styles += [
        {"facecolor": s.colour, "edgecolor": s.hatch_colour, "linewidth": 0, "hatch": s.hatch}
        if s.hatch
        else {"facecolor": s.colour, "edgecolor": "white", "linewidth": 0.25}
        for s in layer.specials
    ]
    for k, style in enumerate(styles):
        subset = cells[layer.index == k]
        if subset.empty:
            continue
        if points:
            subset.plot(ax=ax, markersize=9, **style)
        else:
            subset.plot(ax=ax, **style)
    none = cells[layer.index < 0]
    if not none.empty:
        none.plot(ax=ax, facecolor=NO_VALUE_COLOUR, edgecolor="white", linewidth=0.25)
    persons = layer.class_persons(population)
    handles = [
        Patch(
            facecolor=layer.classes.colours[k],
            edgecolor="#999999",
            linewidth=0.5,
            label=layer.classes.labels[k],
        )
        for k in layer.scale_order()
    ]
    handles += [
        Patch(
            facecolor=s.colour,
            edgecolor=s.hatch_colour if s.hatch else "#999999",
            linewidth=0.5,
            hatch=s.hatch,
            label=f"{s.label} ({format_number(persons[n + j])} persons)",
        )
        for j, s in enumerate(layer.specials)
    ]
    return handles


def _facility_points(size: float) -> float:
    """Matplotlib marker area (points²) of a facility whose HTML symbol is ``size`` pixels."""
    return (size * 0.3) ** 2


def _draw_facilities(
    ax: Axes,
    facilities: gpd.GeoDataFrame,
    crs: pyproj.CRS,
    *,
    include_new: bool,
    largest: float,
) -> list[Line2D]:
    """Small outlined facility symbols (area ∝ capacity); legend handles by type and status."""
    sited = facilities[facilities.geometry.notna() & ~facilities.geometry.is_empty].to_crs(crs)
    handles = []
    for status in ("existing", "new"):
        if status == "new" and not include_new:
            continue
        for kind, style in TYPE_STYLES.items():
            subset = sited[(sited["type"] == kind) & (sited["status"] == status)]
            if subset.empty:
                continue
            new = status == "new"
            area = [_facility_points(marker_size(c, largest)) for c in subset["capacity"]]
            zorder = 6 if new else 5
            ax.scatter(
                subset.geometry.x,
                subset.geometry.y,
                c="white",
                linewidths=2.4,
                edgecolors="white",
                marker=_MARKERS[kind],
                s=area,
                zorder=zorder - 0.5,
            )
            ax.scatter(
                subset.geometry.x,
                subset.geometry.y,
                c=style["colour"] if new else "none",
                edgecolors=NEW_RING_COLOUR if new else style["colour"],
                linewidths=1.1 if new else 1.3,
                marker=_MARKERS[kind],
                s=area,
                zorder=zorder,
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker=_MARKERS[kind],
                    markersize=6,
                    markerfacecolor=style["colour"] if new else "none",
                    markeredgecolor=NEW_RING_COLOUR if new else style["colour"],
                    markeredgewidth=1.1 if new else 1.3,
                    label=f"{style['label']}, {status}" + (" (filled)" if new else ""),
                )
            )
    return handles


def _size_handles(largest: float, capacity_unit: str) -> list[Line2D]:
    if not np.isfinite(largest):
        return []
    handles = []
    for value in sorted({largest / 4, largest}):
        size = marker_size(value, largest)
        unit = f" {capacity_unit}" if capacity_unit else ""
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="s",
                markersize=np.sqrt(_facility_points(size)),
                markerfacecolor="none",
                markeredgecolor="#555555",
                markeredgewidth=1.0,
                label=f"capacity {format_number(value)}{unit}",
            )
        )
    return handles


def _panel_height(cells: gpd.GeoDataFrame) -> float:
    """Height (inches) of one map panel so that the map keeps its shape at A4 text width."""
    west, south, east, north = cells.total_bounds
    aspect = (north - south) / max(east - west, 1e-9)
    return float(np.clip(A4_TEXT_WIDTH * _MAP_FRACTION * aspect, 2.6, 8.0)) + 0.7


def _layers_for(cells: gpd.GeoDataFrame, options: dict[str, Any]) -> list[AccessLayer]:
    reach: dict[str, Any] = {}
    for name in ("reach_before", "reach_after"):
        column = options.pop(name)
        reach[name] = column if column is not None and column in cells.columns else None
        if column is not None and column not in cells.columns and column != name:
            raise InputError(
                f"cells: missing column {column!r} ({name}); available: {list(cells.columns)}."
            )
    if options["after"] is None:
        reach["reach_after"] = None
    for column in [options["before"], options["after"]]:
        if column is not None and column not in cells.columns:
            raise InputError(f"cells: missing column {column!r}; available: {list(cells.columns)}.")
    return access_layers(cells, **options, **reach)


def _legend_lines(handles: Sequence[Patch | Line2D]) -> int:
    return sum(str(h.get_label()).count("\n") + 1 for h in handles)


def _section(text: str) -> Line2D:
    """An invisible legend entry that serves as a heading inside one legend."""
    return Line2D([], [], linestyle="none", marker="none", label=text)


def _panel_handles(
    layer: AccessLayer,
    handles: list[Patch],
    facility_handles: list[Line2D],
) -> list[Patch | Line2D]:
    out: list[Patch | Line2D] = [*handles]
    if facility_handles:
        note = "new: filled, gold edge" if layer.key != "before" else "new sites: after only"
        out += [_section(""), _section(f"Facilities (size: capacity;\n{note})"), *facility_handles]
    return out


def _draw_panel(
    subfig: SubFigure,
    frame: gpd.GeoDataFrame,
    layer: AccessLayer,
    population: np.ndarray,
    facilities: gpd.GeoDataFrame | None,
    largest: float,
    capacity_unit: str,
) -> None:
    map_ax, legend_ax = subfig.subplots(
        1, 2, gridspec_kw={"width_ratios": [_MAP_FRACTION, 1 - _MAP_FRACTION]}
    )
    handles = _draw_layer(map_ax, frame, layer, population)
    facility_handles: list[Line2D] = []
    if facilities is not None and len(facilities):
        facility_handles = _draw_facilities(
            map_ax, facilities, frame.crs, include_new=layer.key != "before", largest=largest
        )
        facility_handles += _size_handles(largest, capacity_unit)
    map_ax.set_axis_off()
    map_ax.set_aspect("equal")
    subfig.suptitle(
        f"{layer.title}: {textwrap.fill(layer.measure, 70)}", fontsize=9.5, x=0.01, ha="left"
    )
    legend_ax.set_axis_off()
    legend_ax.legend(
        handles=_panel_handles(layer, handles, facility_handles),
        title=_legend_title(layer),
        title_fontsize=7.5,
        loc="upper left",
        bbox_to_anchor=(0.0, 1.0),
        fontsize=7,
        frameon=False,
        borderaxespad=0,
        alignment="left",
        handlelength=1.8,
    )


def _legend_title(layer: AccessLayer) -> str:
    direction = layer.direction[:1].upper() + layer.direction[1:]
    return textwrap.fill(direction, 34)


def _wrap_labels(layers: list[AccessLayer]) -> list[AccessLayer]:
    """Special-class labels wrapped to fit the legend column of an A4-wide figure."""
    out = []
    for layer in layers:
        specials = tuple(
            dataclasses.replace(s, label=textwrap.fill(s.label, 32)) for s in layer.specials
        )
        out.append(dataclasses.replace(layer, specials=specials))
    return out


def plot_access_map(
    cells: gpd.GeoDataFrame,
    path: str | Path,
    *,
    layer: str = "change",
    before: str = "before",
    after: str | None = "after",
    change: str | None = "change",
    label: str | None = None,
    unit: str = "",
    higher_is_better: bool = True,
    cutoff: float | None = None,
    reach_before: str | None = "reach_before",
    reach_after: str | None = "reach_after",
    scheme: str = "quantile",
    classes: int = 6,
    facilities: gpd.GeoDataFrame | None = None,
    capacity_unit: str = "clinicians",
    title: str | None = None,
    value_label: str | None = None,
) -> Path:
    """One map (``layer``: ``"before"``, ``"after"`` or ``"change"``) as a PNG for an A4 page.

    The figure is :data:`A4_TEXT_WIDTH` inches wide: the map on the left, its legend (unit,
    direction, classes best first, persons in each grey class) and the facility legend on the
    right. Classes, colours and the meaning of every argument are those of
    :func:`accessplan.maps.accessibility_map`; cells in any CRS (polygons or points) are drawn
    in a metric CRS. New facilities are drawn on the after and change maps only.

    Raises
    ------
    InputError
        For cells without a CRS, a missing column, an unknown ``layer`` or reach category.
    """
    if layer not in _LAYER_KEYS:
        raise InputError(f"layer={layer!r}: use 'before', 'after' or 'change'.")
    if after is None and layer != "before":
        raise InputError(f"layer={layer!r} needs an after column; pass layer='before'.")
    return _plot_maps(
        cells,
        path,
        [layer],
        before=before,
        after=after,
        change=change,
        label=label,
        unit=unit,
        higher_is_better=higher_is_better,
        cutoff=cutoff,
        reach_before=reach_before,
        reach_after=reach_after,
        scheme=scheme,
        classes=classes,
        facilities=facilities,
        capacity_unit=capacity_unit,
        title=title,
        value_label=value_label,
    )


def plot_access_maps(
    cells: gpd.GeoDataFrame,
    path: str | Path,
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
    scheme: str = "quantile",
    classes: int = 6,
    facilities: gpd.GeoDataFrame | None = None,
    capacity_unit: str = "clinicians",
    title: str | None = None,
    value_label: str | None = None,
) -> Path:
    """Before, after and change maps stacked one above the other (one map per row), one PNG.

    Each row is as wide as an A4 text column, with its own legend; before and after share one
    classification so their colours compare. For a report, :func:`plot_access_map` writes
    each map as its own figure. ``after=None`` draws the baseline only. Arguments as in
    :func:`plot_access_map`.
    """
    keys = ["before"] if after is None else list(_LAYER_KEYS)
    return _plot_maps(
        cells,
        path,
        keys,
        before=before,
        after=after,
        change=change,
        label=label,
        unit=unit,
        higher_is_better=higher_is_better,
        cutoff=cutoff,
        reach_before=reach_before,
        reach_after=reach_after,
        scheme=scheme,
        classes=classes,
        facilities=facilities,
        capacity_unit=capacity_unit,
        title=title,
        value_label=value_label,
    )


def _plot_maps(
    cells: gpd.GeoDataFrame,
    path: str | Path,
    keys: list[str],
    *,
    facilities: gpd.GeoDataFrame | None,
    capacity_unit: str,
    title: str | None,
    label: str | None,
    value_label: str | None,
    **options: Any,
) -> Path:
    frame = _drawing_frame(cells)
    label = label if label is not None else (value_label if value_label is not None else "Access")
    layers = _wrap_labels(_layers_for(frame, {**options, "label": label}))
    population = _column(frame, "population", "cells")
    chosen = [layer for layer in layers if layer.key in keys]
    if facilities is not None and len(facilities) == 0:
        facilities = None
    if facilities is not None and facilities.crs is None:
        raise InputError("facilities: no CRS; set it with facilities.set_crs('EPSG:…').")
    largest = float("nan")
    if facilities is not None:
        capacity = pd.to_numeric(facilities["capacity"], errors="coerce").to_numpy(dtype=float)
        capacity = capacity[np.isfinite(capacity) & (capacity > 0)]
        largest = float(capacity.max()) if capacity.size else float("nan")
    heights = []
    for layer in chosen:
        n_lines = len(layer.classes.colours) + sum(s.label.count("\n") + 1 for s in layer.specials)
        if facilities is not None:
            n_lines += 12
        heights.append(max(_panel_height(frame), 0.155 * n_lines + 0.9))
    top = 0.35 if title else 0.0
    fig = Figure(figsize=(A4_TEXT_WIDTH, sum(heights) + top), layout="constrained")
    subfigs = fig.subfigures(len(chosen), 1, height_ratios=heights, squeeze=False)[:, 0]
    for subfig, layer in zip(subfigs, chosen, strict=True):
        _draw_panel(subfig, frame, layer, population, facilities, largest, capacity_unit)
    if title:
        fig.suptitle(textwrap.fill(title, 80), fontsize=11, x=0.02, ha="left")
    return _save(fig, path)


# ---------------------------------------------------------------------------------------------
# Lorenz curves and Gini
# ---------------------------------------------------------------------------------------------


def _lorenz_label(label: str, values: pd.Series, persons: pd.Series) -> str:
    text = f"{label} (Gini {equity.gini(values, persons):.3f}"
    left_out = float(persons[values.isna()].sum())
    if left_out > 0:
        text += f"; {format_number(left_out)} persons not reached, left out"
    return text + ")"


def plot_lorenz(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    population: str = "population",
    before: str = "before",
    after: str | None = "after",
    value_label: str = "access",
    label: str | None = None,
    unit: str = "",
) -> Path:
    """Lorenz curves of access before and after, with the Gini coefficient of each.

    Curves and coefficients come from :mod:`accessplan.equity` (population-weighted); values
    must be ≥ 0; NaN (not reached) is left out of the curve by :mod:`accessplan.equity`, and
    the legend says how many persons that is. ``label`` and
    ``unit`` name the measure in the title (``value_label`` is the older name of ``label``).
    """
    value_label = label if label is not None else value_label
    measure = measure_title(value_label, unit)
    persons = pd.Series(_column(frame, population, "lorenz"), index=frame.index)
    fig = Figure(figsize=(5.2, 5.0), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="#999999", linewidth=1, linestyle="--", label="Equal access")
    series = [("Before", before, "#7f7f7f")]
    if after is not None:
        series.append(("After", after, "#1d4e9e"))
    for label, column, colour in series:
        values = pd.Series(_column(frame, column, "lorenz"), index=frame.index, name=column)
        curve = equity.lorenz_curve(values, persons)
        ax.plot(
            curve["population_share"],
            curve["value_share"],
            color=colour,
            linewidth=2,
            label=_lorenz_label(label, values, persons),
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("Cumulative share of population (lowest access first)")
    ax.set_ylabel(f"Cumulative share of {value_label}")
    ax.set_title(textwrap.fill(f"Distribution of {measure}", 60), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    return _save(fig, path)


# ---------------------------------------------------------------------------------------------
# Travel-time histogram
# ---------------------------------------------------------------------------------------------


def plot_travel_time_histogram(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    population: str = "population",
    before: str = "before",
    after: str | None = "after",
    bin_minutes: float = 5.0,
    cutoff: float | None = None,
    what: str = "nearest facility",
) -> Path:
    """Population-weighted histogram of travel minutes, before and after.

    ``before``/``after`` hold minutes to the nearest facility per cell; NaN, infinity or more
    than ``cutoff`` minutes (if given) means not reachable. Unreachable persons are drawn as a
    separate bar to the right of the last bin and never dropped.
    """
    if bin_minutes <= 0:
        raise InputError(f"bin_minutes={bin_minutes}: use a positive number of minutes.")
    pop = _column(frame, population, "travel-time histogram")
    columns = [("Before", before, "#9a9a9a")]
    if after is not None:
        columns.append(("After", after, "#1d4e9e"))
    minutes = [_column(frame, col, "travel-time histogram") for _, col, _ in columns]
    finite = np.concatenate([m[np.isfinite(m)] for m in minutes])
    if (finite < 0).any():
        raise InputError("travel-time histogram: travel minutes must be ≥ 0.")
    top = cutoff if cutoff is not None else (float(finite.max()) if finite.size else bin_minutes)
    edges = np.arange(0.0, top + bin_minutes, bin_minutes)
    if edges.size < 2:
        edges = np.array([0.0, bin_minutes])
    width = bin_minutes / (len(columns) + 0.5)
    fig = Figure(figsize=(7.0, 4.0), layout="constrained")
    ax = fig.subplots()
    unreachable_x = edges[-1] + bin_minutes
    for i, ((label, _, colour), m) in enumerate(zip(columns, minutes, strict=True)):
        reach = np.isfinite(m) if cutoff is None else np.isfinite(m) & (m <= cutoff)
        counts, _ = np.histogram(np.minimum(m[reach], edges[-1]), bins=edges, weights=pop[reach])
        offset = (i - (len(columns) - 1) / 2) * width
        lost = float(pop[~reach].sum())
        ax.bar(
            edges[:-1] + bin_minutes / 2 + offset,
            counts,
            width=width,
            color=colour,
            label=f"{label}: {format_number(lost)} persons not reachable",
        )
        ax.bar(
            [unreachable_x + offset],
            [lost],
            width=width,
            color=colour,
            hatch="//",
            edgecolor="white",
        )
    ticks = [*edges, unreachable_x]
    labels = [format_number(t) for t in edges] + ["not\nreached"]
    ax.set_xticks(ticks, labels, fontsize=8)
    if len(ticks) > 12:
        ax.tick_params(axis="x", labelrotation=45)
    ax.set_xlabel(f"Travel time to {what} (minutes)")
    ax.set_ylabel("Persons")
    ax.set_title(f"Population by travel time to {what}", fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


# ---------------------------------------------------------------------------------------------
# Budget sweep
# ---------------------------------------------------------------------------------------------


def plot_budget_coverage(
    sweep: pd.DataFrame,
    path: str | Path,
    *,
    budget: str = "budget",
    coverage: str = "coverage",
    group: str | None = None,
    budget_label: str = "Budget",
    coverage_label: str = "Population covered",
    baseline: float | None = None,
) -> Path:
    """Coverage reached at each budget of a sweep (one line per ``group`` value, if given).

    ``coverage`` may be persons or a share; it is plotted as given. ``baseline`` draws the
    coverage before any addition as a horizontal reference line.
    """
    x = _column(sweep, budget, "budget sweep")
    y = _column(sweep, coverage, "budget sweep")
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.subplots()
    groups: Sequence[Any] = [None]
    if group is not None:
        if group not in sweep.columns:
            raise InputError(
                f"budget sweep: missing column {group!r}; available: {list(sweep.columns)}."
            )
        groups = list(pd.unique(sweep[group]))
    for g in groups:
        mask = np.ones(len(sweep), bool) if g is None else (sweep[group] == g).to_numpy()
        order = np.argsort(x[mask], kind="stable")
        ax.plot(
            x[mask][order],
            y[mask][order],
            marker="o",
            linewidth=2,
            label=None if g is None else str(g),
        )
    if baseline is not None:
        ax.axhline(baseline, color="#7f7f7f", linestyle="--", linewidth=1, label="Before")
    ax.set_xlabel(budget_label)
    ax.set_ylabel(coverage_label)
    ax.set_title(f"{coverage_label} by {budget_label.lower()}", fontsize=11)
    ax.grid(alpha=0.3)
    if group is not None or baseline is not None:
        ax.legend(fontsize=8)
    return _save(fig, path)
