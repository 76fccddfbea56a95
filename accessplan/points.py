"""Points held as arrays: population cells and facilities for regions of millions of points.

A :class:`geopandas.GeoDataFrame` keeps one shapely object per point: about 200 bytes each,
and seconds to build for 10⁷ cells. :class:`Points` keeps the ids, the coordinates and the
per-point values as numpy arrays (24 bytes per point plus the values), which is all the
travel-time engine and the measures need. Every function that takes point GeoDataFrames for
routing (:func:`accessplan.travel_times`, :func:`accessplan.snapping.snap_points`) also takes
:class:`Points`; :meth:`Points.to_geodataframe` builds the GeoDataFrame when a map or a file
needs one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyproj

from accessplan.errors import InputError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["Points"]


@dataclass(eq=False)
class Points:
    """Points with ids, coordinates in a CRS and per-point values, as arrays.

    Parameters
    ----------
    ids
        One id per point (the user's ids, unique), e.g. raster cell numbers.
    x, y
        Coordinates in ``crs`` (metres in a projected CRS, degrees in a geographic one).
    crs
        CRS of the coordinates (anything :meth:`pyproj.CRS.from_user_input` reads).
    values
        Per-point columns, e.g. ``{"population": persons}``; each as long as ``ids``.
    attrs
        Free metadata (``cell_size``, ``source``...), as :attr:`pandas.DataFrame.attrs`.
    """

    ids: pd.Index
    x: np.ndarray
    y: np.ndarray
    crs: pyproj.CRS
    values: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ids = pd.Index(self.ids)
        self.x = np.ascontiguousarray(self.x, dtype=np.float64)
        self.y = np.ascontiguousarray(self.y, dtype=np.float64)
        self.crs = pyproj.CRS.from_user_input(self.crs)
        n = len(self.ids)
        if self.x.shape != (n,) or self.y.shape != (n,):
            raise InputError(
                f"Points: x and y must each hold one coordinate per id ({n}); got "
                f"{self.x.shape} and {self.y.shape}."
            )
        self.values = {name: np.asarray(col) for name, col in self.values.items()}
        for name, col in self.values.items():
            if col.shape != (n,):
                raise InputError(
                    f"Points: column {name!r} has shape {col.shape}; give one value per point "
                    f"({n})."
                )

    @classmethod
    def from_arrays(
        cls,
        ids: Iterable[Hashable] | np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        crs: Any,
        **values: np.ndarray,
    ) -> Points:
        """Points from arrays: ``Points.from_arrays(ids, x, y, "EPSG:32738", population=p)``."""
        return cls(pd.Index(ids), np.asarray(x), np.asarray(y), crs, dict(values))

    @classmethod
    def from_geodataframe(
        cls, points: gpd.GeoDataFrame, id_col: str | None = "id", what: str = "points"
    ) -> Points:
        """The points of a point GeoDataFrame (ids from ``id_col``, else the index).

        Every numeric column other than the id and the geometry becomes a value column.
        """
        from accessplan.snapping import point_ids, projected_xy

        ids = point_ids(points, id_col, what)
        crs = pyproj.CRS.from_user_input(points.crs) if points.crs is not None else None
        if crs is None:
            projected_xy(points, pyproj.CRS.from_epsg(4326), what)  # raises the CRS error
        assert crs is not None
        xy = projected_xy(points, crs, what)
        skip = {id_col, points.geometry.name}
        values = {
            str(c): points[c].to_numpy()
            for c in points.columns
            if c not in skip and pd.api.types.is_numeric_dtype(points[c])
        }
        return cls(ids, xy[:, 0], xy[:, 1], crs, values, dict(points.attrs))

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        cols = ", ".join(self.values) or "no values"
        return f"Points({len(self)} points, {self.crs.to_string()}, {cols})"

    @property
    def columns(self) -> list[str]:
        """Names of the value columns."""
        return list(self.values)

    def __getitem__(self, name: str) -> pd.Series:
        """Column ``name`` as a Series indexed by id."""
        if name not in self.values:
            raise InputError(f"Points have no column {name!r}; columns: {self.columns}.")
        return pd.Series(self.values[name], index=self.ids, name=name)

    def xy_in(self, crs: pyproj.CRS, what: str = "points") -> np.ndarray:
        """(n, 2) coordinates in ``crs``.

        Raises
        ------
        InputError
            If a point has coordinates that are not finite or cannot be projected.
        """
        xy = np.column_stack([self.x, self.y])
        if self.crs != crs:
            to_target = pyproj.Transformer.from_crs(self.crs, crs, always_xy=True)
            xy = np.column_stack(to_target.transform(self.x, self.y))
        bad = ~np.isfinite(xy).all(axis=1)
        if bad.any():
            raise InputError(
                f"{what} id {self.ids[int(np.flatnonzero(bad)[0])]!r} has coordinates that are "
                "not finite or cannot be projected; fix or drop the point."
            )
        return xy

    def subset(self, keep: np.ndarray) -> Points:
        """The points at positions (or where the boolean mask) ``keep``."""
        return Points(
            self.ids[keep],
            self.x[keep],
            self.y[keep],
            self.crs,
            {k: v[keep] for k, v in self.values.items()},
            dict(self.attrs),
        )

    def to_geodataframe(self, id_col: str = "id") -> gpd.GeoDataFrame:
        """A point GeoDataFrame: ``id_col``, the value columns and the geometry."""
        import geopandas as gpd

        frame: Mapping[str, Any] = {id_col: self.ids.to_numpy(), **self.values}
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(self.x, self.y), crs=self.crs)
        gdf.attrs.update(self.attrs)
        return gdf
