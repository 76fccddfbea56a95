"""Equity of access: population-weighted summaries, inequality indices, zones, before/after.

Every metric takes ``values`` (a Series per origin id: access, minutes...; a measure's
DataFrame is read through its ``total`` column) and ``demand`` (persons per origin id),
and weighs each origin by its persons. Zero-population origins carry no weight. A NaN value
means the origin is **not reached** (e.g. :func:`accessplan.measures.nearest` beyond the
cutoff): it is left out of every mean, percentile and index, and counted as not reached
(``persons_not_reached`` in :func:`summarize`, ``persons not reached`` in :func:`compare`).
Notation: ``x_i`` the value and ``P_i`` the persons of origin ``i``, ``W = Σ P_i``,
``μ = Σ P_i x_i / W``.

All metrics are also available by zone (:func:`by_zone`), with zones given as a Series of
zone labels per origin, or as a polygon layer plus the origin points (:func:`zone_labels`).
:func:`compare` turns a before and an after into the figures behind a statement such as
"population-weighted accessibility +300%".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from accessplan.errors import InputError
from accessplan.traveltimes import TravelTimes, align_values

__all__ = [
    "Comparison",
    "by_zone",
    "compare",
    "concentration_index",
    "gini",
    "lorenz_curve",
    "palma_ratio",
    "percentiles",
    "share_below",
    "share_beyond",
    "summarize",
    "theil_t",
    "weighted_mean",
    "weighted_median",
    "weighted_quantile",
    "zone_labels",
]

OUTSIDE = "(outside zones)"


# ---------------------------------------------------------------------- inputs
def _as_series(values: pd.Series | pd.DataFrame, what: str) -> pd.Series:
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


def _aligned(
    values: pd.Series | pd.DataFrame,
    demand: pd.Series | float,
    *,
    keep_nan: bool = False,
    what: str = "values",
) -> tuple[np.ndarray, np.ndarray]:
    """Values and persons as arrays in the order of the values' index (checked).

    A NaN value (not reached) gets weight 0 and value 0, so that every metric leaves it out;
    with ``keep_nan`` the values and weights are returned as they are.
    """
    series = _as_series(values, what)
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
    x, w = _aligned(values, demand, keep_nan=True)
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
    x, w = _aligned(values, demand)
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
    x, w = _aligned(values, demand)
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
    x, w = _aligned(values, demand)
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
    x, w = _aligned(values, demand)
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
    x, w = _aligned(values, demand)
    total = _total(w)
    series = _as_series(values, "values")
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
    t, w = _aligned(minutes, demand, keep_nan=True, what="minutes")
    beyond = np.isnan(t) | (t > T)
    return float(w[beyond].sum() / _total(w))


def share_below(
    values: pd.Series | pd.DataFrame, demand: pd.Series | float, threshold: float
) -> float:
    """Share (0–1) of the population with access below ``threshold`` c: ``Σ_{x_i < c} P_i / W``."""
    x, w = _aligned(values, demand)
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
    x, w = _aligned(values, demand)
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
    outside: str = OUTSIDE,
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
        Label given to origins in no zone (they are kept and reported, not dropped).

    Returns
    -------
    Series of labels indexed by origin id. A point on a shared border, or in overlapping
    zones, gets the first zone in the layer's order.
    """
    import geopandas as gpd

    if not isinstance(zones, gpd.GeoDataFrame):
        raise InputError("zones must be a GeoDataFrame of polygons (or a Series of labels).")
    points = (
        origins if isinstance(origins, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=origins)
    )
    if zones.crs is None or points.crs is None:
        raise InputError("zones and origin points need a CRS; set it with .set_crs(...).")
    if zone_col is not None and zone_col not in zones.columns:
        raise InputError(f"zones have no column {zone_col!r} (columns: {list(zones.columns)}).")
    labels = zones.index.to_series() if zone_col is None else zones[zone_col]
    layer = gpd.GeoDataFrame(
        {"_zone": labels.to_numpy(), "_rank": np.arange(len(zones))},
        geometry=zones.geometry.to_numpy(),
        crs=zones.crs,
    )
    pts = gpd.GeoDataFrame(
        {"_origin": np.arange(len(points))}, geometry=points.geometry.to_numpy(), crs=points.crs
    ).to_crs(zones.crs)
    joined = gpd.sjoin(pts, layer, how="left", predicate="intersects")
    joined = joined.sort_values(["_origin", "_rank"], kind="stable").drop_duplicates("_origin")
    out = pd.Series(joined["_zone"].to_numpy(), index=points.index, dtype=object)
    return out.where(out.notna(), outside)


def _labels_for(
    index: pd.Index,
    zones: pd.Series | pd.DataFrame,
    origins: pd.DataFrame | pd.Series | None,
    zone_col: str | None,
) -> pd.Series:
    if isinstance(zones, pd.Series) and not hasattr(zones, "geometry"):
        labels = zones
    else:
        if origins is None:
            raise InputError("zones given as polygons need the origin points (origins=...).")
        labels = zone_labels(zones, origins, zone_col=zone_col)
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
    series = _as_series(values, "values")
    labels = _labels_for(series.index, zones, origins, zone_col)
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


# ---------------------------------------------------------------------- before / after
def _pct(before: np.ndarray | float, after: np.ndarray | float) -> np.ndarray:
    """Percent change; ±inf from 0, NaN from 0 to 0 and where either is NaN."""
    b, a = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, (a - b) / np.abs(b) * 100.0, np.sign(a - b) * np.inf)


@dataclass
class Comparison:
    """Result of :func:`compare`.

    Attributes
    ----------
    per_origin
        Indexed by origin id: ``before``, ``after``, ``change`` and ``pct_change`` (percent;
        ±inf from 0, NaN when both are 0 or either is not reached), plus ``minutes_before``,
        ``minutes_after`` and ``newly_within`` (bool) when travel times were given.
    summary
        One row per metric (index ``metric``) with columns ``before``, ``after``, ``change``,
        ``pct_change``.
    zones
        Per zone: ``persons``, ``mean_before``, ``mean_after``, ``change``, ``pct_change`` (and
        ``newly_within`` persons), or None without zones.
    label
        What the values are, as the headline words them (e.g. ``"2SFCA access (clinicians per
        10,000 persons)"``).
    standard
        The travel-time standard in minutes, if given.
    """

    per_origin: pd.DataFrame
    summary: pd.DataFrame
    zones: pd.DataFrame | None
    label: str = "accessibility"
    standard: float | None = None

    def headline(self) -> str:
        """One line such as ``"population-weighted accessibility +312% (0.41 → 1.69)"``."""
        row = self.summary.loc["population-weighted mean"]
        pct = row["pct_change"]
        pct_text = f"{pct:+.0f}%" if np.isfinite(pct) else ("new" if row["after"] else "unchanged")
        values = f"({row['before']:.3g} → {row['after']:.3g})"
        text = f"population-weighted {self.label} {pct_text} {values}"
        if self.standard is not None:
            newly = self.summary.loc[f"persons newly within {self.standard:g} min", "change"]
            text += f"; {newly:,.0f} persons newly within {self.standard:g} min"
        return text


def _minutes(value: pd.Series | TravelTimes, index: pd.Index, what: str) -> pd.Series:
    if isinstance(value, TravelTimes):
        from accessplan.measures import nearest

        value = nearest(value)
    series = _as_series(value, what)
    missing = index.difference(series.index)
    if len(missing):
        raise InputError(f"{what} has no value for origins {[str(i) for i in missing[:5]]}.")
    return pd.to_numeric(series.reindex(index), errors="coerce")


def _within_rows(
    per_origin: pd.DataFrame, pop: pd.Series, standard: float, tb: pd.Series, ta: pd.Series
) -> dict[str, dict[str, float]]:
    """Persons and share within the standard before/after, newly and no longer within."""
    T = standard
    in_b, in_a = (tb <= T).to_numpy(), (ta <= T).to_numpy()  # NaN (unreachable) is not within
    per_origin["minutes_before"] = tb.to_numpy()
    per_origin["minutes_after"] = ta.to_numpy()
    per_origin["newly_within"] = in_a & ~in_b
    total = float(pop.sum())
    pb, pa = float(pop[in_b].sum()), float(pop[in_a].sum())
    newly = float(pop[in_a & ~in_b].sum())
    lost = float(pop[in_b & ~in_a].sum())
    return {
        f"persons within {T:g} min": {"before": pb, "after": pa, "change": pa - pb},
        f"share within {T:g} min": {
            "before": pb / total,
            "after": pa / total,
            "change": (pa - pb) / total,
        },
        f"persons newly within {T:g} min": {"before": np.nan, "after": np.nan, "change": newly},
        f"persons no longer within {T:g} min": {
            "before": np.nan,
            "after": np.nan,
            "change": lost,
        },
    }


def _zone_table(
    labels: pd.Series, pop: pd.Series, bx: np.ndarray, ax: np.ndarray, per_origin: pd.DataFrame
) -> pd.DataFrame:
    """Per zone: persons and the mean before/after over the persons reached."""
    p = pop.to_numpy()
    frame = pd.DataFrame(
        {
            "zone": labels.to_numpy(),
            "persons": p,
            "wb": np.where(np.isnan(bx), 0.0, p * np.nan_to_num(bx)),
            "pb": np.where(np.isnan(bx), 0.0, p),
            "wa": np.where(np.isnan(ax), 0.0, p * np.nan_to_num(ax)),
            "pa": np.where(np.isnan(ax), 0.0, p),
        },
        index=pop.index,
    )
    if "newly_within" in per_origin:
        frame["newly_within"] = p * per_origin["newly_within"].to_numpy()
    grouped = frame.groupby("zone", sort=True).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        grouped["mean_before"] = grouped["wb"] / grouped["pb"]
        grouped["mean_after"] = grouped["wa"] / grouped["pa"]
    grouped["change"] = grouped["mean_after"] - grouped["mean_before"]
    grouped["pct_change"] = _pct(grouped["mean_before"], grouped["mean_after"])
    cols = ["persons", "mean_before", "mean_after", "change", "pct_change"]
    if "newly_within" in grouped:
        cols.append("newly_within")
    return grouped[cols]


def compare(
    before: pd.Series | pd.DataFrame,
    after: pd.Series | pd.DataFrame,
    demand: pd.Series | float,
    *,
    zones: pd.Series | pd.DataFrame | None = None,
    origins: pd.DataFrame | pd.Series | None = None,
    zone_col: str | None = None,
    standard: float | None = None,
    minutes_before: pd.Series | TravelTimes | None = None,
    minutes_after: pd.Series | TravelTimes | None = None,
    threshold: float | None = None,
    deprivation: pd.Series | None = None,
    label: str = "accessibility",
) -> Comparison:
    """Before/after comparison of access: per-origin change and a summary of every metric.

    Parameters
    ----------
    before, after
        Access per origin (Series, or a measure's DataFrame: its ``total`` is used), same
        origin ids. NaN means not reached (e.g. minutes to the nearest facility beyond the
        cutoff): left out of the means, percentiles and indices, and counted in the row
        ``persons not reached``.
    demand
        Persons per origin id.
    zones, origins, zone_col
        Optional zones (labels per origin, or polygons + origin points) for a per-zone table.
    standard, minutes_before, minutes_after
        Travel-time standard T (minutes) and the minutes to the nearest facility before and
        after (Series, NaN = unreachable, or TravelTimes whose nearest destination is used):
        adds persons within T before/after and persons newly within T.
    threshold
        Access level; adds the share and persons below it.
    deprivation
        Deprivation score per origin; adds the concentration index.
    label
        Name of the values in the headline.

    Returns
    -------
    Comparison
        ``summary`` rows: population-weighted mean, median, p10, p90, gini, theil_t, palma,
        persons not reached (and concentration index, share/persons below threshold,
        persons/share within T, persons newly within T and persons no longer within T when
        asked).
    """
    b = _as_series(before, "before")
    a = _as_series(after, "after")
    if not b.index.sort_values().equals(a.index.sort_values()):
        raise InputError(
            "before and after have different origin ids; compute both for the same origins."
        )
    a = a.reindex(b.index)
    idx = b.index
    pop = pd.Series(align_values(demand, idx, "demand"), index=idx)
    bx, _ = _aligned(b, pop, keep_nan=True, what="before")
    ax, _ = _aligned(a, pop, keep_nan=True, what="after")
    per_origin = pd.DataFrame(
        {"before": bx, "after": ax, "change": ax - bx, "pct_change": _pct(bx, ax)}, index=idx
    )

    metrics: dict[str, tuple[float, float]] = {}
    sb = summarize(b, pop, deprivation=deprivation, threshold=threshold)
    sa = summarize(a, pop, deprivation=deprivation, threshold=threshold)
    names = {
        "mean": "population-weighted mean",
        "p50": "median",
        "persons_not_reached": "persons not reached",
    }
    for key in sb.index:
        if key == "persons":
            continue
        metrics[names.get(key, key)] = (sb[key], sa[key])
    if threshold is not None:
        metrics[f"persons below {threshold:g}"] = (
            float(pop[bx < threshold].sum()),
            float(pop[ax < threshold].sum()),
        )
    rows = {m: {"before": v[0], "after": v[1], "change": v[1] - v[0]} for m, v in metrics.items()}

    T = None
    if standard is not None or minutes_before is not None or minutes_after is not None:
        if standard is None or minutes_before is None or minutes_after is None:
            raise InputError(
                "persons within T minutes need standard=, minutes_before= and minutes_after=."
            )
        T = float(standard)
        if not (np.isfinite(T) and T > 0):
            raise InputError(f"standard must be a positive number of minutes, got {standard!r}.")
        tb = _minutes(minutes_before, idx, "minutes_before")
        ta = _minutes(minutes_after, idx, "minutes_after")
        rows.update(_within_rows(per_origin, pop, T, tb, ta))

    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary["pct_change"] = np.where(
        summary["before"].notna(), _pct(summary["before"], summary["after"]), np.nan
    )
    summary.index.name = "metric"

    zone_table = None
    if zones is not None:
        labels = _labels_for(idx, zones, origins, zone_col)
        zone_table = _zone_table(labels, pop, bx, ax, per_origin)
    return Comparison(per_origin, summary, zone_table, label, T)
