"""Equity of access: population-weighted summaries, inequality indices, zones, before/after.

Every metric takes ``values`` (a Series per origin id: access, minutes...; a measure's
DataFrame is read through its ``total`` column) and ``demand`` (persons per origin id),
and weighs each origin by its persons. Zero-population origins carry no weight. A NaN value
means the origin is **not reached** (e.g. :func:`accessplan.measures.nearest` beyond the
cutoff): it is left out of every mean, percentile and index, and counted as not reached
(``persons_not_reached`` in :func:`summarize`, ``persons not reached`` in
:func:`accessplan.comparison.compare`).
Notation: ``x_i`` the value and ``P_i`` the persons of origin ``i``, ``W = Σ P_i``,
``μ = Σ P_i x_i / W``.

All metrics are also available by zone (:func:`by_zone`), with zones given as a Series of
zone labels per origin, or as a polygon layer plus the origin points (:func:`zone_labels`).
The before/after comparison built on these metrics is :mod:`accessplan.comparison`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from accessplan.errors import InputError
from accessplan.traveltimes import align_values

__all__ = [
    "OUTSIDE",
    "by_zone",
    "concentration_index",
    "gini",
    "lorenz_curve",
    "origin_zones",
    "palma_ratio",
    "percentiles",
    "share_below",
    "share_beyond",
    "summarize",
    "theil_t",
    "values_and_persons",
    "values_series",
    "weighted_mean",
    "weighted_median",
    "weighted_quantile",
    "zone_labels",
]

#: Zone label of an origin in no zone polygon (see :func:`zone_labels`).
OUTSIDE = "(outside zones)"


# ---------------------------------------------------------------------- inputs
def values_series(values: pd.Series | pd.DataFrame, what: str = "values") -> pd.Series:
    """``values`` as a Series per origin id; a measure's DataFrame gives its ``total`` column.

    Raises
    ------
    InputError
        When ``values`` is neither a Series nor a table with a ``total`` column (named by
        ``what``).
    """
    if isinstance(values, pd.DataFrame):
        if "total" not in values.columns:
            raise InputError(
                f"{what} is a table without a 'total' column (columns: {list(values.columns)}); "
                "pass one column as a Series."
            )
        return values["total"]
    if not isinstance(values, pd.Series):
        raise InputError(f"{what} must be a pandas Series indexed by origin id.")
    return values


def _values(series: pd.Series, what: str) -> np.ndarray:
    if not series.index.is_unique:
        raise InputError(f"{what} has repeated origin ids; give one value per origin.")
    x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    if np.isinf(x).any():
        at = series.index[np.flatnonzero(np.isinf(x))[0]]
        raise InputError(f"{what} is infinite for origin '{at}'; give a finite value or NaN.")
    return x


def values_and_persons(
    values: pd.Series | pd.DataFrame,
    demand: pd.Series | float,
    *,
    keep_nan: bool = False,
    what: str = "values",
) -> tuple[np.ndarray, np.ndarray]:
    """Values and persons (``demand``) as arrays in the order of the values' index.

    The values are checked (one per origin, none infinite) and the persons aligned to them.
    A NaN value (not reached) gets weight 0 and value 0, so that every metric leaves it out;
    with ``keep_nan`` the values and weights are returned as they are.
    """
    series = values_series(values, what)
    x = _values(series, what)
    w = align_values(demand, series.index, "demand")
    if keep_nan:
        return x, w
    missing = np.isnan(x)
    if missing.any():
        x, w = np.where(missing, 0.0, x), np.where(missing, 0.0, w)
    return x, w


def _not_reached(values: pd.Series | pd.DataFrame, demand: pd.Series | float) -> float:
    """Persons whose value is NaN (not reached)."""
    x, w = values_and_persons(values, demand, keep_nan=True)
    return float(w[np.isnan(x)].sum())


def _total(w: np.ndarray) -> float:
    total = float(w.sum())
    if total <= 0:
        raise InputError(
            "no persons to summarise: the demand sums to 0 over the origins with a value "
            "(NaN values are not reached and carry no weight)."
        )
    return total


# ---------------------------------------------------------------------- central values
def weighted_mean(values: pd.Series | pd.DataFrame, demand: pd.Series | float) -> float:
    """Population-weighted mean ``μ = Σ P_i x_i / Σ P_i``."""
    x, w = values_and_persons(values, demand)
    return float(np.dot(w, x) / _total(w))


def weighted_quantile(
    values: pd.Series | pd.DataFrame, demand: pd.Series | float, q: float
) -> float:
    """Population-weighted quantile: the smallest ``x`` with ``F(x) ≥ q``.

    ``F(x) = Σ_{i: x_i ≤ x} P_i / W`` is the population's distribution function; this is the
    inverse-CDF definition (Hyndman & Fan 1996, type 1) with persons as weights: "q of the
    population have a value of at most this".

    Parameters
    ----------
    q
        Quantile in [0, 1] (0.5 for the median).
    """
    q = float(q)
    if not 0 <= q <= 1:
        raise InputError(f"quantile q must lie in [0, 1], got {q}.")
    x, w = values_and_persons(values, demand)
    total = _total(w)
    keep = w > 0
    x, w = x[keep], w[keep]
    order = np.argsort(x, kind="stable")
    cdf = np.cumsum(w[order]) / total
    at = min(int(np.searchsorted(cdf, q * (1 - 1e-12), side="left")), x.size - 1)
    return float(x[order][at])


def weighted_median(values: pd.Series | pd.DataFrame, demand: pd.Series | float) -> float:
    """Population-weighted median: :func:`weighted_quantile` at 0.5."""
    return weighted_quantile(values, demand, 0.5)


def percentiles(
    values: pd.Series | pd.DataFrame,
    demand: pd.Series | float,
    q: Sequence[float] = (10, 25, 50, 75, 90),
) -> pd.Series:
    """Population-weighted percentiles (``q`` in 0–100), indexed ``p10``, ``p25``..."""
    return pd.Series(
        {f"p{p:g}": weighted_quantile(values, demand, p / 100.0) for p in q}, dtype=float
    )


# ---------------------------------------------------------------------- inequality
def lorenz_curve(values: pd.Series | pd.DataFrame, demand: pd.Series | float) -> pd.DataFrame:
    """Lorenz curve points: cumulative population share vs cumulative share of the total.

    Origins sorted by increasing value; point ``k``: ``(Σ_{i≤k} P_i / W, Σ_{i≤k} P_i x_i /
    Σ P_i x_i)``, starting at (0, 0) and ending at (1, 1) (Lorenz 1905). Values must be >= 0.

    Returns
    -------
    DataFrame with columns ``population_share`` and ``value_share``.
    """
    x, w = values_and_persons(values, demand)
    _total(w)
    if (x < 0).any():
        raise InputError("Lorenz curve, Gini, Palma need values >= 0; negative values found.")
    keep = w > 0
    x, w = x[keep], w[keep]
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    mass = w * x
    pop_share = np.concatenate([[0.0], np.cumsum(w) / w.sum()])
    total = mass.sum()
    value_share = (
        np.concatenate([[0.0], np.cumsum(mass) / total])
        if total > 0
        else np.full(pop_share.size, np.nan)
    )
    return pd.DataFrame({"population_share": pop_share, "value_share": value_share})


def gini(values: pd.Series | pd.DataFrame, demand: pd.Series | float) -> float:
    """Population-weighted Gini coefficient (Gini 1912), 0 = equal, → 1 = concentrated.

    ``G = Σ_i Σ_j P_i P_j |x_i - x_j| / (2 W² μ)``, computed exactly from the Lorenz curve as
    ``G = 1 - Σ_k (X_k - X_{k-1}) (Y_k + Y_{k-1})`` (Brown's formula; exact for origins of equal
    value within). NaN when ``μ = 0``.
    """
    curve = lorenz_curve(values, demand)
    X, Y = curve["population_share"].to_numpy(), curve["value_share"].to_numpy()
    if np.isnan(Y).any():
        return float("nan")
    return float(1.0 - np.sum(np.diff(X) * (Y[1:] + Y[:-1])))


def theil_t(values: pd.Series | pd.DataFrame, demand: pd.Series | float) -> float:
    """Population-weighted Theil T index (Theil 1967): ``T = Σ_i (P_i/W) (x_i/μ) ln(x_i/μ)``.

    ``0 · ln 0 = 0``; 0 = equal, ``ln W``-like maximum when one group holds everything.
    Values must be >= 0; NaN when ``μ = 0``.
    """
    x, w = values_and_persons(values, demand)
    total = _total(w)
    if (x < 0).any():
        raise InputError("the Theil index needs values >= 0; negative values found.")
    mu = float(np.dot(w, x) / total)
    if mu == 0:
        return float("nan")
    r = x / mu
    terms = np.zeros_like(r)
    pos = r > 0
    terms[pos] = r[pos] * np.log(r[pos])
    return float(np.dot(w, terms) / total)


def palma_ratio(values: pd.Series | pd.DataFrame, demand: pd.Series | float) -> float:
    """Palma ratio (Cobham & Sumner 2013): share held by the top 10% over the bottom 40%.

    ``Palma = (1 - L(0.9)) / L(0.4)`` with ``L`` the Lorenz curve, linear between points (an
    origin straddling the 40th or 90th percentile of persons is split in proportion). inf when
    the bottom 40% hold nothing, NaN when nobody holds anything.
    """
    curve = lorenz_curve(values, demand)
    X, Y = curve["population_share"].to_numpy(), curve["value_share"].to_numpy()
    if np.isnan(Y).any():
        return float("nan")
    bottom = float(np.interp(0.4, X, Y))
    top = 1.0 - float(np.interp(0.9, X, Y))
    if bottom == 0:
        return float("inf") if top > 0 else float("nan")
    return top / bottom


def concentration_index(
    values: pd.Series | pd.DataFrame,
    demand: pd.Series | float,
    deprivation: pd.Series,
) -> float:
    """Concentration index of access against a deprivation score (Kakwani, Wagstaff & van
    Doorslaer 1997; O'Donnell et al. 2008, *Analyzing Health Equity Using Household Survey
    Data*, ch. 8).

    ``C = 2 Σ_i P_i (x_i - μ)(R_i - ½) / (W μ)``, where ``R_i`` is the fractional rank of origin
    ``i`` in the population ranked from the **most deprived** (highest score) to the least
    deprived: ``R_i = (persons ranked before i + P_i / 2) / W``, origins with equal scores sharing
    the mid rank of their group. ``C > 0``: access concentrated among the less deprived;
    ``C < 0``: among the more deprived; 0: no gradient. NaN when ``μ = 0``.

    Parameters
    ----------
    deprivation
        Deprivation score per origin id (higher = more deprived).
    """
    x, w = values_and_persons(values, demand)
    total = _total(w)
    series = values_series(values, "values")
    d = align_values(deprivation, series.index, "deprivation")
    mu = float(np.dot(w, x) / total)
    if mu == 0:
        return float("nan")
    levels, group = np.unique(-d, return_inverse=True)  # most deprived first
    group_w = np.bincount(group, weights=w, minlength=levels.size)
    before = np.concatenate([[0.0], np.cumsum(group_w)[:-1]])
    rank = (before + group_w / 2.0)[group] / total
    return float(2.0 * np.dot(w, (x - mu) * (rank - 0.5)) / (total * mu))


def share_beyond(
    minutes: pd.Series | pd.DataFrame, demand: pd.Series | float, standard: float
) -> float:
    """Share (0–1) of the persons farther than ``standard`` minutes: ``Σ_{t_i > T} P_i / W``.

    NaN minutes (nothing reachable, as :func:`accessplan.measures.nearest` reports) count as
    beyond; ``W`` is every person, reached or not.
    """
    T = float(standard)
    if not (np.isfinite(T) and T > 0):
        raise InputError(f"standard must be a positive number of minutes, got {standard!r}.")
    t, w = values_and_persons(minutes, demand, keep_nan=True, what="minutes")
    beyond = np.isnan(t) | (t > T)
    return float(w[beyond].sum() / _total(w))


def share_below(
    values: pd.Series | pd.DataFrame, demand: pd.Series | float, threshold: float
) -> float:
    """Share (0–1) of the population with access below ``threshold`` c: ``Σ_{x_i < c} P_i / W``."""
    x, w = values_and_persons(values, demand)
    return float(w[x < float(threshold)].sum() / _total(w))


# ---------------------------------------------------------------------- summaries and zones
def summarize(
    values: pd.Series | pd.DataFrame,
    demand: pd.Series | float,
    *,
    deprivation: pd.Series | None = None,
    threshold: float | None = None,
    q: Sequence[float] = (10, 50, 90),
) -> pd.Series:
    """Every metric at once: persons, mean, percentiles, Gini, Theil T, Palma, and when given
    the concentration index against ``deprivation`` and the share below ``threshold``.

    ``persons`` counts the persons with a value; ``persons_not_reached`` those whose value is
    NaN (left out of every other figure).
    """
    x, w = values_and_persons(values, demand)
    out = {
        "persons": float(w.sum()),
        "persons_not_reached": _not_reached(values, demand),
        "mean": weighted_mean(values, demand),
    }
    out.update(percentiles(values, demand, q).to_dict())
    nonneg = not (x < 0).any()
    out["gini"] = gini(values, demand) if nonneg else np.nan
    out["theil_t"] = theil_t(values, demand) if nonneg else np.nan
    out["palma"] = palma_ratio(values, demand) if nonneg else np.nan
    if deprivation is not None:
        out["concentration_index"] = concentration_index(values, demand, deprivation)
    if threshold is not None:
        out["share_below_threshold"] = share_below(values, demand, threshold)
    return pd.Series(out, dtype=float)


def zone_labels(
    zones: pd.DataFrame,
    origins: pd.DataFrame | pd.Series,
    *,
    zone_col: str | None = None,
    outside: str | None = OUTSIDE,
) -> pd.Series:
    """Zone label of each origin point, by spatial join with a polygon layer.

    Parameters
    ----------
    zones
        GeoDataFrame of polygons (districts...).
    origins
        GeoDataFrame or GeoSeries of origin points indexed by origin id; reprojected to the
        zones' CRS when they differ.
    zone_col
        Column of ``zones`` holding the label; default the zones' index.
    outside
        Label given to origins in no zone (they are kept and reported, not dropped); None:
        an origin in no zone is an error.

    Returns
    -------
    Series of labels indexed by origin id. A point on a shared border, or in overlapping
    zones, gets the first zone in the layer's order.

    Raises
    ------
    InputError
        When ``zones`` is not a polygon layer, a CRS is missing, ``zone_col`` is not a column,
        or (with ``outside=None``) an origin lies in no zone.
    """
    import geopandas as gpd

    if not isinstance(zones, gpd.GeoDataFrame):
        raise InputError("zones must be a GeoDataFrame of polygons (or a Series of labels).")
    points = (
        origins if isinstance(origins, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=origins)
    )
    if (zones.crs is None) != (points.crs is None):
        raise InputError(
            "zones and origin points need a CRS each (or neither, for one shared plane); set "
            "it with .set_crs(...)."
        )
    if zone_col is not None and zone_col not in zones.columns:
        raise InputError(
            f"zones have no column {zone_col!r} (columns: {list(zones.columns)}); pass the "
            "column holding the zone names as zone_col."
        )
    labels = zones.index.to_series() if zone_col is None else zones[zone_col]
    layer = gpd.GeoDataFrame(
        {"_zone": labels.to_numpy(), "_rank": np.arange(len(zones))},
        geometry=zones.geometry.to_numpy(),
        crs=zones.crs,
    )
    pts = gpd.GeoDataFrame(
        {"_origin": np.arange(len(points))}, geometry=points.geometry.to_numpy(), crs=points.crs
    )
    if zones.crs is not None:
        pts = pts.to_crs(zones.crs)
    joined = gpd.sjoin(pts, layer, how="left", predicate="intersects")
    joined = joined.sort_values(["_origin", "_rank"], kind="stable").drop_duplicates("_origin")
    out = pd.Series(joined["_zone"].to_numpy(), index=points.index, dtype=object)
    in_none = joined["_rank"].isna().to_numpy()
    if outside is None and in_none.any():
        bad = points.index[in_none]
        raise InputError(
            f"origins {[str(i) for i in bad[:5]]} (of {len(bad)}) lie outside every zone "
            "polygon; extend the zone layer or give zones as a Series of labels per origin."
        )
    return out.where(out.notna(), outside)


def origin_zones(
    origin_ids: pd.Index,
    zones: pd.Series | pd.DataFrame,
    *,
    origins: pd.DataFrame | pd.Series | None = None,
    zone_col: str | None = None,
    outside: str | None = OUTSIDE,
) -> pd.Series:
    """Zone label of every origin of ``origin_ids``, in that order.

    Parameters
    ----------
    origin_ids
        The origins to label (e.g. the index of the values, or ``tt.origin_ids``).
    zones
        A Series of zone labels indexed by origin id, or a polygon GeoDataFrame; then
        ``origins`` gives the origin points (see :func:`zone_labels`).
    origins, zone_col, outside
        As in :func:`zone_labels` (only with polygon zones).

    Raises
    ------
    InputError
        When an origin has no label (or no point, or, with ``outside=None``, lies in no
        polygon), an origin id repeats in a Series of labels, or polygon zones come without
        ``origins``.
    """
    index = origin_ids
    if isinstance(zones, pd.Series) and not hasattr(zones, "geometry"):
        labels = zones
        if not labels.index.is_unique:
            dup = [str(i) for i in labels.index[labels.index.duplicated()][:5]]
            raise InputError(f"zones: origin ids {dup} repeat; give one zone label per origin.")
    else:
        if origins is None:
            raise InputError(
                "zones is a polygon layer: also pass origins= (the origin points, indexed by "
                "origin id) so each origin can be placed in its zone."
            )
        no_point = index.difference(origins.index)
        if len(no_point):
            raise InputError(
                f"origins has no point for origin ids {[str(i) for i in no_point[:5]]} (of "
                f"{len(no_point)}); index the origin points by the origin ids."
            )
        points = origins[origins.index.isin(index)]
        labels = zone_labels(zones, points, zone_col=zone_col, outside=outside)
    missing = index.difference(labels.index)
    if len(missing):
        raise InputError(
            f"zones give no label for origins {[str(i) for i in missing[:5]]} "
            f"(of {len(missing)}); label "
            "every origin."
        )
    out = labels.reindex(index)
    if out.isna().any():
        raise InputError(f"zone label is missing for origin '{out.index[out.isna()][0]}'.")
    return out


def by_zone(
    values: pd.Series | pd.DataFrame,
    demand: pd.Series | float,
    zones: pd.Series | pd.DataFrame,
    *,
    origins: pd.DataFrame | pd.Series | None = None,
    zone_col: str | None = None,
    deprivation: pd.Series | None = None,
    threshold: float | None = None,
) -> pd.DataFrame:
    """:func:`summarize` within each zone: one row per zone label.

    ``zones`` is a Series of labels per origin id, or a polygon GeoDataFrame together with
    the origin points ``origins`` (see :func:`zone_labels`). Zones with no persons get NaN.
    """
    series = values_series(values, "values")
    labels = origin_zones(series.index, zones, origins=origins, zone_col=zone_col)
    pop = pd.Series(align_values(demand, series.index, "demand"), index=series.index)
    reached = series.notna()
    rows = {}
    for label, idx in labels.groupby(labels, sort=True).groups.items():
        if pop.loc[idx][reached.loc[idx]].sum() <= 0:
            rows[label] = pd.Series(
                {
                    "persons": 0.0,
                    "persons_not_reached": float(pop.loc[idx][~reached.loc[idx]].sum()),
                }
            )
            continue
        rows[label] = summarize(
            series.loc[idx],
            pop.loc[idx],
            deprivation=None if deprivation is None else deprivation.loc[idx],
            threshold=threshold,
        )
    out = pd.DataFrame(rows).T
    out.index.name = "zone"
    return out
