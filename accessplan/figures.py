"""Static PNG figures for reports: access maps, Lorenz curves, travel-time histograms, sweeps.

Every function takes plain (Geo)DataFrames and a path, draws with matplotlib's Agg canvas
(no display, no global pyplot state, safe in worker processes) and returns the written path.
The cell maps use the same classes and colours as the HTML map (:mod:`accessplan.maps`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from accessplan import equity
from accessplan.errors import InputError
from accessplan.maps import (
    NEW_RING_COLOUR,
    NO_VALUE_COLOUR,
    TYPE_STYLES,
    ColourClasses,
    diverging_classes,
    format_number,
    sequential_classes,
)

__all__ = [
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


def _draw_classes(ax: Any, cells: gpd.GeoDataFrame, classes: ColourClasses, values: np.ndarray):
    index = classes.classify(values)
    palette = np.array([*classes.colours, NO_VALUE_COLOUR])
    colours = palette[np.where(index < 0, len(classes.colours), index)]
    cells.plot(ax=ax, color=list(colours), edgecolor="white", linewidth=0.3)
    handles = [
        Patch(facecolor=colour, edgecolor="#999999", linewidth=0.5, label=label)
        for colour, label in classes.legend_rows()
    ]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=7,
        frameon=False,
        borderaxespad=0,
    )


def _draw_facilities(ax: Any, facilities: gpd.GeoDataFrame, crs: Any) -> list[Line2D]:
    sited = facilities[facilities.geometry.notna() & ~facilities.geometry.is_empty].to_crs(crs)
    handles = []
    for kind, style in TYPE_STYLES.items():
        for status in ("existing", "new"):
            subset = sited[(sited["type"] == kind) & (sited["status"] == status)]
            if subset.empty:
                continue
            new = status == "new"
            ax.scatter(
                subset.geometry.x,
                subset.geometry.y,
                marker=_MARKERS[kind],
                s=70 if new else 36,
                c=style["colour"],
                edgecolors=NEW_RING_COLOUR if new else "white",
                linewidths=2.0 if new else 0.8,
                zorder=5 if new else 4,
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker=_MARKERS[kind],
                    markersize=8 if new else 6,
                    markerfacecolor=style["colour"],
                    markeredgecolor=NEW_RING_COLOUR if new else "white",
                    markeredgewidth=2.0 if new else 0.8,
                    label=f"{style['label']}, {status}",
                )
            )
    return handles


def plot_access_maps(
    cells: gpd.GeoDataFrame,
    path: str | Path,
    *,
    before: str = "before",
    after: str | None = "after",
    change: str | None = "change",
    value_label: str = "Access",
    higher_is_better: bool = True,
    scheme: str = "quantile",
    classes: int = 6,
    facilities: gpd.GeoDataFrame | None = None,
    title: str | None = None,
) -> Path:
    """Before / after / change maps of the cells side by side, as one PNG.

    Before and after share one classification (so colours compare); the change uses a
    diverging scale centred on "no change", blue for improvements. Columns and options mean
    the same as in :func:`accessplan.maps.accessibility_map`; ``after=None`` draws the baseline
    only. Facilities (optional) are drawn on every panel, new ones with a gold edge.
    """
    if not isinstance(cells, gpd.GeoDataFrame) or cells.crs is None:
        raise InputError("cells: expected a GeoDataFrame with a CRS.")
    values = [_column(cells, before, "cells")]
    if after is not None:
        values.append(_column(cells, after, "cells"))
        values.append(
            _column(cells, change, "cells")
            if change is not None and change in cells.columns
            else values[1] - values[0]
        )
    unit_classes = sequential_classes(
        np.concatenate(values[:2]),
        k=classes,
        scheme=scheme,
        cmap="YlGnBu" if higher_is_better else "YlOrRd",
    )
    panels = [(f"Before: {value_label}", unit_classes)]
    if after is not None:
        panels.append((f"After: {value_label}", unit_classes))
        panels.append(
            (
                f"Change: {value_label}",
                diverging_classes(values[2], higher_is_better=higher_is_better),
            )
        )
    n = len(panels)
    fig = Figure(figsize=(5.2 * n, 4.6), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    handles: list[Line2D] = []
    for ax, (heading, panel_classes), panel_values in zip(axes, panels, values, strict=True):
        _draw_classes(ax, cells, panel_classes, panel_values)
        if facilities is not None and len(facilities):
            handles = _draw_facilities(ax, facilities, cells.crs)
        ax.set_title(heading, fontsize=10)
        ax.set_axis_off()
        ax.set_aspect("equal")
    if handles:
        fig.legend(
            handles=handles, loc="outside lower center", ncol=min(len(handles), 6), fontsize=7
        )
    if title:
        fig.suptitle(title, fontsize=12)
    return _save(fig, path)


# ---------------------------------------------------------------------------------------------
# Lorenz curves and Gini
# ---------------------------------------------------------------------------------------------


def plot_lorenz(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    population: str = "population",
    before: str = "before",
    after: str | None = "after",
    value_label: str = "access",
) -> Path:
    """Lorenz curves of access before and after, with the Gini coefficient of each.

    Curves and coefficients come from :mod:`accessplan.equity` (population-weighted); values
    must be finite and ≥ 0 (fill unreachable cells with 0 access first).
    """
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
            label=f"{label} (Gini {equity.gini(values, persons):.3f})",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("Cumulative share of population (lowest access first)")
    ax.set_ylabel(f"Cumulative share of {value_label}")
    ax.set_title(f"Distribution of {value_label}", fontsize=11)
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
