# Over 600 lines: the TravelTimes object with its save/load formats, and the engine that builds
# it (travel_times), which fills the object's private id and component storage.
"""The `TravelTimes` object: origin × destination travel times in minutes, held sparse.

A stored entry means *reachable*: its value is the travel time in minutes, and it may be
exactly 0 (an origin at the facility's door). A missing entry means *not reachable* within
the cutoff. Code that reads the matrix must therefore work on the stored entries
(``matrix.data``, ``matrix.indices``, ``matrix.indptr``) and never treat an implicit zero as
"0 minutes". Nothing in accessplan calls ``eliminate_zeros`` on a travel-time matrix.

Every later stage (measures, optimisation, scenarios) takes a `TravelTimes`, so a matrix
computed elsewhere (r5py, OSRM, a ministry's table) can enter the pipeline through
:meth:`TravelTimes.from_long` or :meth:`TravelTimes.from_dense`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd
import scipy.sparse as sp

from accessplan.errors import InputError

if TYPE_CHECKING:
    import geopandas as gpd
    import networkx as nx

    from accessplan._point_pairs import PointNodes
    from accessplan.network import RoutingGraph
    from accessplan.points import Points
    from accessplan.snapping import Snapped

__all__ = ["TravelTimes", "align_values", "keep_entries", "travel_times"]

#: Network component per origin or destination: a Series by id, or one value per id in order
#: (NA or -1: not on the network).
ComponentValues: TypeAlias = "pd.Series | np.ndarray | Sequence[float | None]"


#: Kinds of id a TravelTimes holds (pandas ``infer_dtype`` name → kind kept by save/load).
_ID_KINDS = {
    "integer": "int",
    "floating": "float",
    "mixed-integer-float": "float",
    "string": "str",
    "empty": "str",
}


def _as_index(ids: Iterable[Hashable] | pd.Index, what: str) -> pd.Index:
    """``ids`` as a unique, complete pandas Index of integers, floats or strings (checked).

    A mix of integers and strings (facilities numbered 26, 27 joined with sites named
    ``"site_001"``) is allowed, and each id keeps its own type through :meth:`TravelTimes.save`;
    anything else (True/False, tuples, dates) is refused here rather than failing later.
    """
    index = pd.Index(ids)
    if isinstance(index, pd.MultiIndex):  # what pandas makes of tuples
        raise InputError(
            f"{what} must be integers, numbers or strings; id {index[0]} is a tuple. Convert "
            "them, e.g. ids.astype(str)."
        )
    if index.hasnans:
        raise InputError(f"{what} contain a missing value (NaN/None); give every row an id.")
    kind = pd.api.types.infer_dtype(index, skipna=False)
    if kind not in _ID_KINDS:
        bad = [i for i in index if _id_type(i) is None] if kind.startswith("mixed") else index
        if len(bad):
            raise InputError(
                f"{what} must be integers, numbers or strings; id {_id_text(bad[0])} is a "
                f"{type(bad[0]).__name__}. Convert them, e.g. ids.astype(str)."
            )
    if not index.is_unique:
        dup = index[index.duplicated()].unique()[:5].tolist()
        raise InputError(
            f"{what} are not unique: {[_id_text(i) for i in dup]} repeat. Make the ids unique."
        )
    return index


def _id_type(value: Any) -> str | None:
    """``"int"``, ``"float"`` or ``"str"``: the kind of one id; None for any other value."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return "int"
    if isinstance(value, float | np.floating):
        return "float"
    if isinstance(value, str):
        return "str"
    return None


def _id_sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers first, by value, then strings: an order for ids of mixed types."""
    if _id_type(value) == "str":
        return (1, 0.0, value)
    return (0, float(value), "")


def _one_of_each_type(index: pd.Index) -> list[Any]:
    seen: dict[type, Any] = {}
    for i in index:
        seen.setdefault(type(i), i)
    return list(seen.values())


def _id_text(value: Any) -> str:
    """An id or a cell as the user wrote it: ``'a'`` for text, ``5`` for a number."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


def _components(values: ComponentValues | None, ids: pd.Index, what: str) -> np.ndarray | None:
    """Component numbers aligned to ``ids`` as int64; -1 where not on the network.

    ``values``: a Series indexed by the ids, or one value per id in their order; NA (or -1)
    means not on the network.
    """
    if values is None:
        return None
    if isinstance(values, pd.Series):
        missing = ids.difference(values.index)
        if len(missing):
            raise InputError(
                f"{what} have no value for ids {[_id_text(i) for i in missing[:5]]}; give one "
                "component per id (NA where not on the network)."
            )
        values = values.reindex(ids)
    series = pd.Series(list(values), dtype=object)
    if len(series) != len(ids):
        raise InputError(f"{what} has {len(series)} values for {len(ids)} ids; give one per id.")
    absent = series.isna().to_numpy()
    numbers = pd.to_numeric(series.where(~absent, -1), errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(numbers) | (numbers < -1) | (numbers % 1 != 0)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{what} of id {_id_text(ids[at])} is {_id_text(series.iloc[at])}; components are "
            "whole numbers >= 0 (NA where not on the network)."
        )
    return numbers.astype(np.int64)


def _long_minutes(df: pd.DataFrame, col: str) -> np.ndarray:
    """Column ``col`` of a long table as float minutes: numbers >= 0 or inf, else an error."""
    raw = df[col]
    minutes = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(minutes))
    if bad.size:
        at = int(bad[0])
        value = raw.iloc[at]
        shown = "empty" if pd.isna(value) else _id_text(value)
        raise InputError(
            f"travel-time table column {col!r}, row {_id_text(df.index[at])}: {shown} is not a "
            f"number of minutes ({bad.size} such row(s)); write minutes as numbers, and leave "
            "an unreachable pair out (or give it inf)."
        )
    neg = np.flatnonzero(minutes < 0)
    if neg.size:
        raise InputError(
            f"travel-time table column {col!r}, row {_id_text(df.index[neg[0]])} has negative "
            f"minutes ({minutes[neg[0]]:g}); times must be >= 0."
        )
    return minutes


def _long_ids(df: pd.DataFrame, col: str, given: Iterable[Hashable] | None, what: str) -> pd.Index:
    """The ids of a long table's rows (or columns): ``given``, else the sorted distinct ids."""
    if given is not None:
        return _as_index(given, what)
    found = _as_index(pd.unique(df[col]), what)
    if _id_kind(found) == "mixed":
        return pd.Index(sorted(found, key=_id_sort_key), dtype=object)
    return found.sort_values()


class TravelTimes:
    """Origin × destination travel times in minutes, sparse (missing = not reachable).

    Parameters
    ----------
    matrix
        Sparse matrix of shape (n_origins, n_destinations); stored entries are travel times in
        minutes (finite, >= 0, zero allowed). Converted to CSR with sorted indices, held
        with 32-bit positions whenever they fit.
    origin_ids, destination_ids
        The user's ids of the rows and columns, unique, kept end to end.
    cutoff
        The largest travel time (minutes) that was searched, or None when the search was
        unlimited. Pairs beyond the cutoff are absent, not "infinitely far".
    diagnostics
        Optional table (one row per input) of how many points and persons were snapped,
        too far or unreachable, as made by :func:`accessplan.travel_times`.
    origin_components, destination_components
        Optional road-network component of each origin and destination (a Series indexed by
        the ids, or one value per id in their order): a whole number >= 0, or NA for a point
        too far from the road to be routed. Default: every point on component 0.
    component_nodes
        Optional number of network nodes of each component (Series indexed by component).

    Attributes
    ----------
    matrix : scipy.sparse.csr_array
        Minutes, origins in rows, destinations in columns.
    origin_ids, destination_ids : pandas.Index
    cutoff : float or None
    timings : dict of str to float
        Seconds spent per stage by :func:`accessplan.travel_times` (``snap``: points to
        nodes; ``search``: shortest paths between the nodes; ``assemble``: legs added, cutoff
        applied, point matrix built); empty for a matrix made otherwise.
    origin_components, destination_components : pandas.Series
        Component of each point (nullable ``Int64``, NA = too far from the road).
    component_nodes : pandas.Series or None
        Nodes per component, when known.
    """

    __slots__ = (
        "_component_nodes",
        "_destination_components",
        "_origin_components",
        "cutoff",
        "destination_ids",
        "diagnostics",
        "matrix",
        "origin_ids",
        "timings",
    )

    def __init__(
        self,
        matrix: sp.sparray | sp.spmatrix,
        origin_ids: Iterable[Hashable],
        destination_ids: Iterable[Hashable],
        *,
        cutoff: float | None = None,
        diagnostics: pd.DataFrame | None = None,
        origin_components: ComponentValues | None = None,
        destination_components: ComponentValues | None = None,
        component_nodes: pd.Series | None = None,
    ) -> None:
        self.origin_ids = _as_index(origin_ids, "origin ids")
        self.destination_ids = _as_index(destination_ids, "destination ids")
        csr = sp.csr_array(matrix, dtype=np.float64)
        if csr.shape != (len(self.origin_ids), len(self.destination_ids)):
            raise InputError(
                f"travel-time matrix has shape {csr.shape} but there are "
                f"{len(self.origin_ids)} origin ids and {len(self.destination_ids)} destination "
                "ids; give one id per row and per column."
            )
        if not csr.has_canonical_format:
            csr.sum_duplicates()
        if csr.data.size and not np.all(np.isfinite(csr.data)):
            raise InputError(
                "travel-time matrix holds NaN or infinite minutes as stored entries; leave "
                "unreachable pairs out instead."
            )
        if csr.data.size and csr.data.min() < 0:
            raise InputError("travel-time matrix holds negative minutes; times must be >= 0.")
        if cutoff is not None:
            cutoff = float(cutoff)
            if not cutoff > 0:
                raise InputError(f"cutoff must be a positive number of minutes, got {cutoff}.")
            if csr.data.size and csr.data.max() > cutoff:
                csr = keep_entries(csr, csr.data <= cutoff)
        self.matrix: sp.csr_array = _with_int32_index(csr)
        self.cutoff: float | None = cutoff
        self.diagnostics = diagnostics
        self.timings: dict[str, float] = {}
        self._origin_components = _components(
            origin_components, self.origin_ids, "origin components"
        )
        self._destination_components = _components(
            destination_components, self.destination_ids, "destination components"
        )
        self._component_nodes = (
            None if component_nodes is None else pd.Series(component_nodes, dtype=np.int64)
        )

    # ------------------------------------------------------------------ components
    @property
    def origin_components(self) -> pd.Series:
        """Road-network component of each origin (``Int64``; NA: too far from the road)."""
        return self._component_series(self._origin_components, self.origin_ids)

    @property
    def destination_components(self) -> pd.Series:
        """Road-network component of each destination (``Int64``; NA: too far from the road)."""
        return self._component_series(self._destination_components, self.destination_ids)

    @property
    def component_nodes(self) -> pd.Series | None:
        """Network nodes per component (index: component), or None when not known."""
        return None if self._component_nodes is None else self._component_nodes.copy()

    @staticmethod
    def _component_series(values: np.ndarray | None, ids: pd.Index) -> pd.Series:
        if values is None:
            return pd.Series(np.zeros(len(ids), dtype=np.int64), index=ids, dtype="Int64")
        out = pd.Series(values, index=ids, dtype="Int64")
        return out.mask(out < 0)

    def _component_kw(self, rows: Any = slice(None), cols: Any = slice(None)) -> dict[str, Any]:
        """The components of the rows and columns kept by a derived object."""
        o, d = self._origin_components, self._destination_components
        return {
            "origin_components": None if o is None else o[rows],
            "destination_components": None if d is None else d[cols],
            "component_nodes": self._component_nodes,
        }

    def check_threshold(self, minutes: float | None, name: str) -> None:
        """Raise when a threshold of ``minutes`` exceeds :attr:`cutoff`.

        Pairs beyond the cutoff were never computed, so a catchment, standard or ``within``
        above it would silently count only the pairs up to the cutoff. A threshold equal to the
        cutoff is fine. ``name`` is the caller's argument, for the message.

        Raises
        ------
        InputError
            Naming ``name``, the value, the cutoff and the fix.
        """
        if minutes is None or self.cutoff is None or not float(minutes) > self.cutoff:
            return
        v = float(minutes)
        raise InputError(
            f"{name} = {v:g} minutes is beyond the travel-time cutoff of {self.cutoff:g} "
            "minutes: pairs beyond the cutoff were never computed, so the result would be cut "
            f"short without a word. Compute travel times with cutoff >= {v:g} "
            f"(travel_times(..., cutoff={v:g})), or lower {name}."
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_long(
        cls,
        df: pd.DataFrame,
        *,
        origin_col: str = "origin",
        destination_col: str = "destination",
        minutes_col: str = "minutes",
        origin_ids: Iterable[Hashable] | None = None,
        destination_ids: Iterable[Hashable] | None = None,
        cutoff: float | None = None,
    ) -> TravelTimes:
        """Build from a long table with one row per origin–destination pair.

        Parameters
        ----------
        df
            Table with columns ``origin``, ``destination`` and ``minutes`` (names
            configurable). Minutes are numbers >= 0; ``inf`` means "not reachable" (as does
            leaving the pair out). Every origin and destination is on component 0 (see
            :attr:`origin_components`).
        origin_ids, destination_ids
            The full id lists, in order; default: the sorted unique ids found in ``df``.
            Give them when some origins or destinations reach nothing.
        cutoff
            Keep only pairs within this many minutes.

        Raises
        ------
        InputError
            On a missing column; minutes that are not a number (text such as ``"12 min"``,
            NaN, empty), or negative; a pair given twice (even as ``inf``); ids of mixed
            types; an id that is not in the given id lists. The message names the column and
            the row (``df``'s index label).
        """
        for col in (origin_col, destination_col, minutes_col):
            if col not in df.columns:
                raise InputError(
                    f"travel-time table has no column {col!r} (columns: {list(df.columns)}); "
                    f"rename the column or pass {col!r} through the *_col arguments."
                )
        minutes = _long_minutes(df, minutes_col)
        o_index = _long_ids(df, origin_col, origin_ids, "origin ids")
        d_index = _long_ids(df, destination_col, destination_ids, "destination ids")
        rows = o_index.get_indexer(df[origin_col])
        cols = d_index.get_indexer(df[destination_col])
        for pos, what, col in (
            (rows, "origin", origin_col),
            (cols, "destination", destination_col),
        ):
            bad = np.flatnonzero(pos < 0)
            if bad.size:
                raise InputError(
                    f"travel-time table row {_id_text(df.index[bad[0]])}: {what} "
                    f"{_id_text(df[col].iloc[bad[0]])} is not among the given {what} ids."
                )
        pair = rows.astype(np.int64) * max(len(d_index), 1) + cols
        uniq, first = np.unique(pair, return_index=True)
        if uniq.size != pair.size:
            dup_mask = np.ones(pair.size, bool)
            dup_mask[first] = False
            at = int(np.flatnonzero(dup_mask)[0])
            raise InputError(
                f"travel-time table row {_id_text(df.index[at])} repeats the pair "
                f"({_id_text(df[origin_col].iloc[at])}, {_id_text(df[destination_col].iloc[at])})"
                "; give each pair once."
            )
        keep = np.isfinite(minutes)
        rows, cols, minutes = rows[keep], cols[keep], minutes[keep]
        matrix = sp.coo_array((minutes, (rows, cols)), shape=(len(o_index), len(d_index)))
        return cls(matrix.tocsr(), o_index, d_index, cutoff=cutoff)

    @classmethod
    def from_dense(
        cls,
        minutes: np.ndarray | pd.DataFrame,
        origin_ids: Iterable[Hashable] | None = None,
        destination_ids: Iterable[Hashable] | None = None,
        *,
        cutoff: float | None = None,
        origin_components: ComponentValues | None = None,
        destination_components: ComponentValues | None = None,
        component_nodes: pd.Series | None = None,
    ) -> TravelTimes:
        """Build from a dense array of minutes; NaN or inf mean "not reachable".

        A DataFrame's index and columns are used as the ids unless ids are given. The
        components, optional, are as in the constructor.
        """
        if isinstance(minutes, pd.DataFrame):
            origin_ids = minutes.index if origin_ids is None else origin_ids
            destination_ids = minutes.columns if destination_ids is None else destination_ids
            minutes = minutes.to_numpy(dtype=np.float64)
        arr = np.asarray(minutes, dtype=np.float64)
        if arr.ndim != 2:
            raise InputError(f"dense travel times must be 2-D, got shape {arr.shape}.")
        origin_ids = range(arr.shape[0]) if origin_ids is None else origin_ids
        destination_ids = range(arr.shape[1]) if destination_ids is None else destination_ids
        finite = np.isfinite(arr)
        if cutoff is not None:
            finite &= arr <= cutoff
        rows, cols = np.nonzero(finite)
        matrix = sp.csr_array((arr[rows, cols], (rows, cols)), shape=arr.shape)
        return cls(
            matrix,
            origin_ids,
            destination_ids,
            cutoff=cutoff,
            origin_components=origin_components,
            destination_components=destination_components,
            component_nodes=component_nodes,
        )

    # ------------------------------------------------------------------ views
    @property
    def shape(self) -> tuple[int, int]:
        """(number of origins, number of destinations)."""
        return (len(self.origin_ids), len(self.destination_ids))

    @property
    def nnz(self) -> int:
        """Number of reachable origin–destination pairs."""
        return int(self.matrix.nnz)

    def to_long(self) -> pd.DataFrame:
        """Reachable pairs as a table with columns ``origin``, ``destination``, ``minutes``."""
        coo = self.matrix.tocoo()
        return pd.DataFrame(
            {
                "origin": self.origin_ids[coo.row],
                "destination": self.destination_ids[coo.col],
                "minutes": coo.data,
            }
        )

    def to_dense(self, fill: float = np.inf) -> np.ndarray:
        """Dense array of minutes (origins × destinations); unreachable pairs get ``fill``."""
        out = np.full(self.shape, fill, dtype=np.float64)
        coo = self.matrix.tocoo()
        out[coo.row, coo.col] = coo.data
        return out

    def to_frame(self, fill: float = np.inf) -> pd.DataFrame:
        """Dense DataFrame of minutes indexed by origin id, with one column per destination id."""
        return pd.DataFrame(
            self.to_dense(fill), index=self.origin_ids, columns=self.destination_ids
        )

    def reachable(self) -> sp.csr_array:
        """Boolean sparse matrix, True where the pair is reachable (zero minutes included)."""
        m = self.matrix
        return sp.csr_array(
            (np.ones(m.nnz, dtype=bool), m.indices.copy(), m.indptr.copy()), shape=m.shape
        )

    # ------------------------------------------------------------------ derived objects
    def within(self, minutes: float) -> TravelTimes:
        """A copy keeping only the pairs reachable within ``minutes``."""
        if not minutes > 0:
            raise InputError(f"minutes must be positive, got {minutes}.")
        self.check_threshold(minutes, "minutes")
        kept = keep_entries(self.matrix, self.matrix.data <= minutes)
        return TravelTimes(
            kept,
            self.origin_ids,
            self.destination_ids,
            cutoff=float(minutes),
            **self._component_kw(),
        )

    def subset(
        self,
        origins: Iterable[Hashable] | None = None,
        destinations: Iterable[Hashable] | None = None,
    ) -> TravelTimes:
        """A copy restricted to the given origin and/or destination ids (in the given order)."""
        rows = (
            slice(None) if origins is None else self._positions(origins, self.origin_ids, "origin")
        )
        cols = (
            slice(None)
            if destinations is None
            else self._positions(destinations, self.destination_ids, "destination")
        )
        matrix = self.matrix[rows, :][:, cols]
        o_ids = self.origin_ids if origins is None else self.origin_ids[rows]
        d_ids = self.destination_ids if destinations is None else self.destination_ids[cols]
        return TravelTimes(
            matrix, o_ids, d_ids, cutoff=self.cutoff, **self._component_kw(rows, cols)
        )

    def join_destinations(self, other: TravelTimes) -> TravelTimes:
        """Destinations of ``self`` followed by those of ``other`` (same origins, same order).

        Use it to add the travel times to new sites (a plan's clinics) to those of the
        existing facilities. Components are kept: the origins' from ``self`` (else
        ``other``), the destinations' from each side (component 0 for a side without them).
        """
        if not self.origin_ids.equals(other.origin_ids):
            raise InputError(
                "cannot join travel times with different origins; compute both for the same "
                "origin ids in the same order."
            )
        overlap = self.destination_ids.intersection(other.destination_ids)
        if len(overlap):
            raise InputError(
                f"destination ids {overlap[:5].tolist()} appear in both travel-time tables; "
                "rename the new sites."
            )
        cutoffs = [c for c in (self.cutoff, other.cutoff) if c is not None]
        matrix = sp.hstack([self.matrix, other.matrix], format="csr")
        sides = (self, other)
        known = [t for t in sides if t._origin_components is not None]
        d_known = any(t._destination_components is not None for t in sides)
        nodes = next((t._component_nodes for t in sides if t._component_nodes is not None), None)
        return TravelTimes(
            matrix,
            self.origin_ids,
            self.destination_ids.append(other.destination_ids),
            cutoff=min(cutoffs) if cutoffs else None,
            origin_components=known[0]._origin_components if known else None,
            destination_components=(
                np.concatenate(
                    [t.destination_components.fillna(-1).to_numpy(np.int64) for t in sides]
                )
                if d_known
                else None
            ),
            component_nodes=nodes,
        )

    def destination_positions(
        self, ids: Iterable[Hashable], *, argument: str = "destinations"
    ) -> np.ndarray:
        """Column of each of ``ids`` in the matrix, in the given order.

        ``argument`` is the caller's name for the ids, used in the error message.

        Raises
        ------
        InputError
            When an id is not a destination of this TravelTimes.
        """
        wanted = pd.Index(list(ids))
        pos = self.destination_ids.get_indexer(wanted)
        if (pos < 0).any():
            missing = [str(i) for i in wanted[pos < 0][:5]]
            raise InputError(
                f"{argument} {missing} are not destinations of the travel times; compute "
                f"travel times to them or leave them out of {argument}."
            )
        return pos

    @staticmethod
    def _positions(ids: Iterable[Hashable], index: pd.Index, what: str) -> np.ndarray:
        wanted = pd.Index(ids)
        pos = index.get_indexer(wanted)
        if (pos < 0).any():
            missing = wanted[pos < 0][:5].tolist()
            raise InputError(f"{what} ids {missing} are not in this TravelTimes.")
        return pos

    # ------------------------------------------------------------------ comparison, display
    def equals(self, other: TravelTimes, atol: float = 0.0) -> bool:
        """True when ids, reachable pairs and minutes (to ``atol``) are the same."""
        if not (
            self.origin_ids.equals(other.origin_ids)
            and self.destination_ids.equals(other.destination_ids)
        ):
            return False
        a, b = self.matrix, other.matrix
        if a.nnz != b.nnz:
            return False
        if not (np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)):
            return False
        return bool(np.allclose(a.data, b.data, rtol=0.0, atol=atol))

    def __repr__(self) -> str:
        cutoff = "none" if self.cutoff is None else f"{self.cutoff:g} min"
        return (
            f"TravelTimes({self.shape[0]} origins × {self.shape[1]} destinations, "
            f"{self.nnz} reachable pairs, cutoff {cutoff})"
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write to ``.npz`` (compact, exact) or ``.parquet`` (long table, ids in metadata).

        Returns the path written.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".npz":
            m = self.matrix
            np.savez_compressed(
                path,
                allow_pickle=False,
                data=m.data,
                indices=m.indices,
                indptr=m.indptr,
                shape=np.asarray(m.shape),
                **_ids_to_arrays(self.origin_ids, "origin_ids"),
                **_ids_to_arrays(self.destination_ids, "destination_ids"),
                cutoff=np.asarray(np.nan if self.cutoff is None else self.cutoff),
                **self._components_to_arrays(),
            )
        elif suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(self._long_for_parquet(), preserve_index=False)
            meta = {
                b"accessplan": json.dumps(
                    {
                        "origin_ids": _ids_to_json(self.origin_ids),
                        "destination_ids": _ids_to_json(self.destination_ids),
                        "cutoff": self.cutoff,
                        **{k: v.tolist() for k, v in self._components_to_arrays().items()},
                    }
                ).encode()
            }
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
            pq.write_table(table, path)
        else:
            raise InputError(f"cannot save travel times to {path}: use a .npz or .parquet name.")
        return path

    def _long_for_parquet(self) -> pd.DataFrame:
        """:meth:`to_long`; ids of mixed types as text, with their positions to read back."""
        long = self.to_long()
        coo = self.matrix.tocoo()
        for col, ids, pos in (
            ("origin", self.origin_ids, coo.row),
            ("destination", self.destination_ids, coo.col),
        ):
            if _id_kind(ids) == "mixed":  # Parquet columns hold one type
                long[col] = long[col].map(str)
                long[f"{col}_position"] = pos.astype(np.int64)
        return long

    def _components_to_arrays(self) -> dict[str, np.ndarray]:
        """Components as int64 arrays (-1: not on the network), only those known."""
        out = {}
        for name, values in (
            ("origin_components", self._origin_components),
            ("destination_components", self._destination_components),
        ):
            if values is not None:
                out[name] = values
        if self._component_nodes is not None:
            out["component_nodes"] = self._component_nodes.to_numpy(np.int64)
            out["component_index"] = self._component_nodes.index.to_numpy(np.int64)
        return out

    @staticmethod
    def _components_from(stored: Any) -> dict[str, Any]:
        """Constructor keywords from what :meth:`_components_to_arrays` wrote."""
        get = (
            stored.get
            if isinstance(stored, dict)
            else (lambda k: stored[k] if k in stored.files else None)
        )
        nodes, index = get("component_nodes"), get("component_index")
        return {
            "origin_components": get("origin_components"),
            "destination_components": get("destination_components"),
            "component_nodes": None if nodes is None else pd.Series(nodes, index=index),
        }

    @classmethod
    def load(cls, path: str | Path) -> TravelTimes:
        """Read a file written by :meth:`save`."""
        path = Path(path)
        if not path.exists():
            raise InputError(f"travel-time file {path} does not exist.")
        suffix = path.suffix.lower()
        try:
            if suffix == ".npz":
                with np.load(path, allow_pickle=False) as z:
                    matrix = sp.csr_array(
                        (z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"])
                    )
                    cutoff = float(z["cutoff"])
                    return cls(
                        matrix,
                        _ids_from_arrays(z, "origin_ids"),
                        _ids_from_arrays(z, "destination_ids"),
                        cutoff=None if np.isnan(cutoff) else cutoff,
                        **cls._components_from(z),
                    )
            if suffix == ".parquet":
                import pyarrow.parquet as pq

                table = pq.read_table(path)
                raw = (table.schema.metadata or {}).get(b"accessplan")
                if raw is None:
                    raise InputError(
                        f"{path} has no accessplan metadata; read it with pandas and use "
                        "TravelTimes.from_long instead."
                    )
                meta = json.loads(raw)
                o_ids = _ids_from_json(meta["origin_ids"])
                d_ids = _ids_from_json(meta["destination_ids"])
                long = table.to_pandas()
                for col, ids in (("origin", o_ids), ("destination", d_ids)):
                    if f"{col}_position" in long.columns:  # ids of mixed types
                        positions = long.pop(f"{col}_position").to_numpy()
                        long[col] = pd.Series(ids, dtype=object).to_numpy()[positions]
                tt = cls.from_long(
                    long, origin_ids=o_ids, destination_ids=d_ids, cutoff=meta["cutoff"]
                )
                return cls(
                    tt.matrix,
                    tt.origin_ids,
                    tt.destination_ids,
                    cutoff=tt.cutoff,
                    **cls._components_from(meta),
                )
        except InputError:
            raise
        except Exception as exc:  # a truncated or foreign file
            raise InputError(
                f"cannot read travel times from {path}: {exc}. The file may be truncated or "
                "not written by TravelTimes.save."
            ) from exc
        raise InputError(f"cannot load travel times from {path}: use a .npz or .parquet file.")


def _with_int32_index(csr: sp.csr_array) -> sp.csr_array:
    """``csr`` with 32-bit ``indices`` and ``indptr`` whenever they fit (no copy if they are).

    Half the memory of 64-bit positions, and the sums over the pairs read half as many bytes,
    which keeps them fast when other processes compete for the memory bandwidth.
    """
    if csr.indices.dtype == np.int32 and csr.indptr.dtype == np.int32:
        return csr
    if max(csr.nnz, *csr.shape) >= np.iinfo(np.int32).max:
        return csr
    return sp.csr_array(
        (csr.data, csr.indices.astype(np.int32), csr.indptr.astype(np.int32)), shape=csr.shape
    )


def keep_entries(csr: sp.csr_array, keep: np.ndarray) -> sp.csr_array:
    """Copy of ``csr`` with only the stored entries where ``keep`` is True.

    Stored zeros stay stored (a zero-minute pair is reachable); the order of each row's
    entries is kept, so a row sorted by minutes stays sorted.

    Parameters
    ----------
    csr
        A CSR matrix, e.g. of minutes (origins × destinations).
    keep
        Boolean per stored entry, in the order of ``csr.data``.

    Returns
    -------
    scipy.sparse.csr_array
        Same shape and index dtype as ``csr``.
    """
    rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))[keep]
    counts = np.bincount(rows, minlength=csr.shape[0])
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(csr.indptr.dtype)
    return sp.csr_array((csr.data[keep], csr.indices[keep], indptr), shape=csr.shape)


def _id_kind(ids: pd.Index) -> str:
    """``"int"``, ``"float"``, ``"str"`` or ``"mixed"`` (integers and strings, say)."""
    return _ID_KINDS.get(pd.api.types.infer_dtype(ids, skipna=False), "mixed")


_KIND_CODES = ("int", "float", "str")
_CASTS = {"int": int, "float": float, "str": str}


def _stored_id_type(value: Any) -> str:
    """The kind of one id of a mixed index, for storing it; other values are an error."""
    kind = _id_type(value)
    if kind is None:
        raise InputError(
            f"id {_id_text(value)} is neither a number nor text; use integer or string ids."
        )
    return kind


def _ids_to_arrays(ids: pd.Index, name: str) -> dict[str, np.ndarray]:
    """Ids as typed numpy arrays for ``.npz`` (no pickles); a mix also stores each id's kind."""
    kind = _id_kind(ids)
    if kind == "int":
        return {name: ids.to_numpy(dtype=np.int64)}
    if kind == "float":
        return {name: ids.to_numpy(dtype=np.float64)}
    out = {name: np.array([str(i) for i in ids], dtype=str)}
    if kind == "mixed":
        codes = [_KIND_CODES.index(_stored_id_type(i)) for i in ids]
        out[f"{name}_kinds"] = np.array(codes, dtype=np.uint8)
    return out


def _ids_from_arrays(stored: Any, name: str) -> list[Any]:
    """The ids written by :func:`_ids_to_arrays`."""
    values = stored[name].tolist()
    if f"{name}_kinds" not in stored.files:
        return values
    kinds = stored[f"{name}_kinds"].tolist()
    return [_CASTS[_KIND_CODES[k]](v) for v, k in zip(values, kinds, strict=True)]


def _ids_to_json(ids: pd.Index) -> dict[str, Any]:
    """Ids with their kind, for JSON (Parquet metadata, cache keys): ints stay ints."""
    kind = _id_kind(ids)
    if kind == "mixed":
        return {"kind": kind, "values": [_CASTS[_stored_id_type(i)](i) for i in ids]}
    return {"kind": kind, "values": [_CASTS[kind](i) for i in ids]}


def _ids_from_json(stored: dict[str, Any] | list[Any]) -> list[Any]:
    """The ids written by :func:`_ids_to_json` (or a plain list, as older files hold)."""
    if isinstance(stored, list):
        return stored
    if stored["kind"] == "mixed":  # JSON keeps integers, floats and strings apart
        return list(stored["values"])
    cast = _CASTS[stored["kind"]]
    return [cast(i) for i in stored["values"]]


def align_values(
    values: pd.Series | float | int,
    ids: pd.Index,
    what: str,
    *,
    allow_missing: bool = False,
    fill: float = 0.0,
) -> np.ndarray:
    """Values of a Series in the order of ``ids``, as floats, checked.

    Parameters
    ----------
    values
        A Series indexed by id (persons, capacity, shares...), or one number for every id.
    ids
        The order wanted (e.g. ``tt.origin_ids``).
    what
        Name used in error messages, e.g. ``"demand"`` or ``"supply"``.
    allow_missing
        If True, ids absent from ``values`` get ``fill``; otherwise they are an error.

    Raises
    ------
    InputError
        When an id of ``values`` is not in ``ids`` (or the reverse, unless ``allow_missing``),
        or a value is NaN, infinite or negative.
    """
    if np.isscalar(values):
        arr = np.full(len(ids), float(values))  # type: ignore[arg-type]
    else:
        series = pd.Series(values)
        if not series.index.is_unique:
            dup = series.index[series.index.duplicated()][:5].tolist()
            raise InputError(f"{what} has repeated ids {dup}; give one value per id.")
        if series.index.equals(ids):  # already aligned: no set operations needed
            return _checked_values(
                pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, copy=True),
                ids,
                what,
            )
        extra = series.index.difference(ids)
        if len(extra):
            raise InputError(
                f"{what} ids {extra[:5].tolist()} (of {len(extra)}) do not match any id of the "
                "travel times; compute travel times for them or drop them."
            )
        missing = ids.difference(series.index)
        if len(missing) and not allow_missing:
            raise InputError(
                f"{what} has no value for ids {missing[:5].tolist()} (of {len(missing)}); "
                "give a value for every id of the travel times (0 if none)."
            )
        arr = pd.to_numeric(series.reindex(ids), errors="coerce").to_numpy(dtype=np.float64)
        if len(missing):
            arr[ids.get_indexer(missing)] = fill
    return _checked_values(arr, ids, what)


def _checked_values(arr: np.ndarray, ids: pd.Index, what: str) -> np.ndarray:
    """``arr`` (one value per id of ``ids``) if every value is finite and >= 0."""
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(f"{what} is NaN or infinite for id {ids[np.flatnonzero(bad)[0]]!r}.")
    if (arr < 0).any():
        at = np.flatnonzero(arr < 0)[0]
        raise InputError(f"{what} is negative ({arr[at]}) for id {ids[at]!r}; it must be >= 0.")
    return arr


# ---------------------------------------------------------------------------- the engine

#: Bump when the engine's results change, so cached results are not reused.
_ENGINE_VERSION = "2"


def snap_both(
    routing: RoutingGraph,
    origins: gpd.GeoDataFrame | Points,
    destinations: gpd.GeoDataFrame | Points,
    *,
    origin_id_col: str | None,
    destination_id_col: str | None,
    population_col: str | None,
    max_snap_m: float,
    leg_speed_kph: float,
) -> tuple[Snapped, Snapped]:
    """Origins and destinations snapped to the routing graph, as :func:`travel_times` does.

    ``max_snap_m`` (metres) and ``leg_speed_kph`` (km/h) as there, already resolved.
    """
    from accessplan.snapping import snap_points

    sides = (
        ("origins", origins, origin_id_col),
        ("destinations", destinations, destination_id_col),
    )
    so, sd = (
        snap_points(
            points,
            routing,
            id_col=id_col,
            population_col=population_col,
            what=what,
            max_snap_m=max_snap_m,
            leg_speed_kph=leg_speed_kph,
        )
        for what, points, id_col in sides
    )
    return so, sd


def travel_times(
    network: nx.MultiDiGraph | RoutingGraph,
    origins: gpd.GeoDataFrame | Points,
    destinations: gpd.GeoDataFrame | Points,
    *,
    cutoff: float | None = None,
    origin_id_col: str | None = "id",
    destination_id_col: str | None = "id",
    population_col: str | None = "population",
    max_snap_m: float | None = None,
    leg_speed_kph: float | None = None,
    cache: bool = False,
    cache_dir: str | Path | None = None,
    chunk_mib: float = 256.0,
    memory_mib: float | None = None,
    progress: bool = False,
    workers: int | None = None,
) -> TravelTimes:
    """Origin × destination travel times (minutes) over a road network.

    Each point is snapped to its nearest node (:mod:`accessplan.snapping`); the time of a pair
    is ``leg(origin) + shortest path(node_o → node_d) + leg(destination)``. Shortest paths run
    in compiled code (bucket-queue searches bounded by the cutoff, see
    :mod:`accessplan._shortest_paths`), from whichever side has fewer distinct nodes (from the
    destinations on the reversed graph when they are fewer), in chunks that bound memory.

    Parameters
    ----------
    network
        A graph prepared by :func:`accessplan.prepare_network` (edges carry ``minutes``), or
        its :class:`~accessplan.network.RoutingGraph`.
    origins, destinations
        Point GeoDataFrames with a CRS (ids from ``*_id_col``, or the index), or
        :class:`~accessplan.points.Points` (their ids; for millions of cells).
    cutoff
        Largest travel time kept, minutes (total, legs included). None: no limit.
    population_col
        Column of persons used for the diagnostics (ignored where absent).
    max_snap_m
        Points farther than this from the network (metres, default 2,000) are not routed;
        they keep their row/column (empty) and are counted in the diagnostics.
    leg_speed_kph
        Speed on the straight-line legs to and from the network, km/h (default 4.5).
    cache, cache_dir
        When ``cache`` is True, results are stored as ``.npz`` under ``cache_dir`` (default:
        ``$ACCESSPLAN_CACHE_DIR`` or ``~/.cache/accessplan``), keyed by a hash of the network,
        the points, their ids and every parameter; identical inputs reuse the stored result.
    chunk_mib
        Memory (MiB) of one block of shortest-path rows.
    memory_mib
        Memory budget (MiB, default :data:`DEFAULT_MEMORY_MIB`) for the point pairs held
        between the searches and the result, beyond the result itself (12 bytes per pair) and
        one block of searches. Large problems search in blocks and write each block's pairs
        into the result; when the pairs outgrow the budget, the searches run a second time to
        fill the result instead of holding the pairs twice. Results do not depend on it.
    progress
        Show a progress bar over the blocks.
    workers
        Threads for the shortest-path searches (they share the graph). Default: one per
        core (at most 8) for searches of at least 10⁵ sources × nodes, else one. Results do
        not depend on it.

    Returns
    -------
    TravelTimes
        Minutes, with ``diagnostics``: per input (origins, destinations), how many points and
        persons were snapped, too far from the network, or reached nothing; and the network
        component of every point (``origin_components``, ``destination_components``: NA
        for a point too far from the road) with each component's nodes
        (``component_nodes``). Points on different components do not reach each other.
    """
    from accessplan.network import routing_graph
    from accessplan.snapping import DEFAULT_LEG_SPEED_KPH, DEFAULT_MAX_SNAP_M

    max_snap_m = DEFAULT_MAX_SNAP_M if max_snap_m is None else float(max_snap_m)
    leg_speed_kph = DEFAULT_LEG_SPEED_KPH if leg_speed_kph is None else float(leg_speed_kph)
    if cutoff is not None and not float(cutoff) > 0:
        raise InputError(f"cutoff must be a positive number of minutes, got {cutoff}.")
    if memory_mib is not None and not float(memory_mib) > 0:
        raise InputError(f"memory_mib must be a positive number of MiB, got {memory_mib}.")
    routing = routing_graph(network)
    snap_kw = {"max_snap_m": max_snap_m, "leg_speed_kph": leg_speed_kph}
    started = time.perf_counter()
    so, sd = snap_both(
        routing,
        origins,
        destinations,
        origin_id_col=origin_id_col,
        destination_id_col=destination_id_col,
        population_col=population_col,
        **snap_kw,
    )
    timings = {"snap": time.perf_counter() - started}
    key = None
    if cache:
        key = _cache_key(routing, so, sd, cutoff, snap_kw)
        path = _cache_path(cache_dir, key)
        if path.exists():
            cached = _with_components(TravelTimes.load(path), routing, so, sd)
            cached.diagnostics = _diagnostics(cached, so, sd, max_snap_m)
            return cached
    matrix = _route(
        routing,
        so,
        sd,
        cutoff,
        chunk_mib=chunk_mib,
        memory_mib=DEFAULT_MEMORY_MIB if memory_mib is None else float(memory_mib),
        progress=progress,
        workers=workers,
        timings=timings,
    )
    started = time.perf_counter()
    result = _with_components(TravelTimes(matrix, so.ids, sd.ids, cutoff=cutoff), routing, so, sd)
    result.diagnostics = _diagnostics(result, so, sd, max_snap_m)
    timings["assemble"] = timings.get("assemble", 0.0) + time.perf_counter() - started
    result.timings = timings
    if key is not None:
        path = _cache_path(cache_dir, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        result.save(tmp)
        tmp.replace(path)
    return result


def _with_components(
    tt: TravelTimes, routing: RoutingGraph, so: Snapped, sd: Snapped
) -> TravelTimes:
    """``tt`` with the network component of every snapped point (-1: too far from the road)."""
    component = routing.component
    sizes = routing.component_nodes
    tt._origin_components = np.where(so.too_far, -1, component[so.node])
    tt._destination_components = np.where(sd.too_far, -1, component[sd.node])
    tt._component_nodes = pd.Series(sizes, index=np.arange(sizes.size), dtype=np.int64)
    return tt


#: Below this many sources × nodes the searches take about a millisecond: one thread is faster.
_THREADED_SEARCH_MIN = 100_000


def _thread_count(workers: int | None, sources: int, nodes: int) -> int:
    """Threads for the shortest-path searches: ``workers``, else one per core (at most 8)."""
    from accessplan._shortest_paths import default_threads

    if workers is not None:
        if workers < 1:
            raise InputError(f"workers must be >= 1, got {workers}.")
        wanted = int(workers)
    elif sources * nodes < _THREADED_SEARCH_MIN:
        wanted = 1
    else:
        wanted = default_threads()
    return max(1, min(wanted, sources))


def _node_times(
    routing: RoutingGraph,
    sources: np.ndarray,
    targets: np.ndarray,
    reverse: bool,
    limit: float,
    *,
    chunk_mib: float,
    progress: bool,
    threads: int,
) -> np.ndarray:
    """Dense shortest-path minutes between nodes (sources × targets); inf beyond ``limit``.

    The searches run in compiled code (:mod:`accessplan._shortest_paths`: a bucket queue that
    stops at the limit or once every target is final, and touches only the nodes it reaches), on
    ``threads`` threads, in blocks of source rows of at most ``chunk_mib`` MiB of results.
    Results do not depend on the number of threads.
    """
    from accessplan._shortest_paths import shortest_minutes

    graph = routing.reverse_csr if reverse else routing.csr
    per_chunk = max(1, int(chunk_mib * 2**20 // (8 * max(targets.size, 1))))
    if progress:  # about 20 updates, each still worth splitting among the threads
        per_chunk = min(per_chunk, max(16 * threads, -(-sources.size // 20)))
    blocks = [sources[i : i + per_chunk] for i in range(0, sources.size, per_chunk)]
    out = np.empty((sources.size, targets.size), dtype=np.float64)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(blocks), desc="shortest paths", unit="block")
    try:
        row = 0
        for block in blocks:
            out[row : row + block.size] = shortest_minutes(
                graph, block, targets, limit, threads=threads
            )
            row += block.size
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return out


#: Default memory budget (MiB) of :func:`travel_times` for pairs held before the result.
DEFAULT_MEMORY_MIB = 2048.0

#: Largest number of origin × destination points expanded densely (else a sparse expansion).
_DENSE_PAIRS = 40_000_000
#: Largest node × node block kept dense (8 bytes each).
_DENSE_NODE_PAIRS = 60_000_000


def _route(
    routing: RoutingGraph,
    so: Snapped,
    sd: Snapped,
    cutoff: float | None,
    *,
    chunk_mib: float,
    memory_mib: float,
    progress: bool,
    workers: int | None = None,
    timings: dict[str, float] | None = None,
) -> sp.csr_array:
    """Point-level minutes (sparse): shortest paths between the snapped nodes, then legs.

    ``timings`` (if given) receives the seconds of the ``search`` and ``assemble`` stages, and
    adds to ``snap`` the time spent finding the distinct nodes of the points.
    """
    timings = {} if timings is None else timings
    started = time.perf_counter()
    n_o, n_d = so.ids.size, sd.ids.size
    o_ok = np.flatnonzero(~so.too_far)
    d_ok = np.flatnonzero(~sd.too_far)
    if o_ok.size == 0 or d_ok.size == 0:
        return sp.csr_array((n_o, n_d), dtype=np.float64)
    o_nodes, o_inv = np.unique(so.node[o_ok], return_inverse=True)
    d_nodes, d_inv = np.unique(sd.node[d_ok], return_inverse=True)
    limit = np.inf
    if cutoff is not None:
        limit = float(cutoff) - so.leg_minutes[o_ok].min() - sd.leg_minutes[d_ok].min()
        if limit < 0:
            return sp.csr_array((n_o, n_d), dtype=np.float64)
    # Finding the distinct nodes of the points belongs to snapping; the search starts here.
    timings["snap"] = timings.get("snap", 0.0) + time.perf_counter() - started
    started = time.perf_counter()
    from accessplan._point_pairs import PointNodes

    origins = PointNodes(o_ok, o_inv, so.leg_minutes)
    destinations = PointNodes(d_ok, d_inv, sd.leg_minutes)
    reverse = bool(d_nodes.size <= o_nodes.size)  # search from the destinations, reversed graph
    search_nodes, target_nodes = (d_nodes, o_nodes) if reverse else (o_nodes, d_nodes)
    threads = _thread_count(workers, search_nodes.size, routing.n_nodes)
    if search_nodes.size * target_nodes.size > _DENSE_NODE_PAIRS:
        from accessplan._bounded_routing import route_in_blocks

        try:
            return route_in_blocks(
                routing.reverse_csr if reverse else routing.csr,
                search_nodes,
                target_nodes,
                reverse,
                limit,
                origins,
                destinations,
                cutoff,
                (n_o, n_d),
                chunk_mib=chunk_mib,
                memory_mib=memory_mib,
                threads=threads,
                progress=progress,
            )
        finally:  # searches and expansion interleave: one stage
            timings["search"] = time.perf_counter() - started
            timings["assemble"] = 0.0
    node_minutes = _node_times(
        routing,
        search_nodes,
        target_nodes,
        reverse,
        limit,
        chunk_mib=chunk_mib,
        progress=progress,
        threads=threads,
    )
    if reverse:
        node_minutes = node_minutes.T
    timings["search"] = time.perf_counter() - started
    started = time.perf_counter()
    try:
        return _assemble(node_minutes, origins, destinations, cutoff, (n_o, n_d))
    finally:
        timings["assemble"] = time.perf_counter() - started


def _assemble(
    node_minutes: np.ndarray,
    origins: PointNodes,
    destinations: PointNodes,
    cutoff: float | None,
    shape: tuple[int, int],
) -> sp.csr_array:
    """Point-level minutes from dense node-level minutes.

    One compiled pass when the points × points block fits in memory, else a sparse expansion.
    """
    if origins.ok.size * destinations.ok.size <= _DENSE_PAIRS:
        from accessplan._point_pairs import expand_dense

        return expand_dense(node_minutes, origins, destinations, cutoff, shape)
    from accessplan._bounded_routing import expand_sparse

    return expand_sparse(node_minutes, origins, destinations, cutoff, shape)


def _diagnostics(tt: TravelTimes, so: Snapped, sd: Snapped, max_snap_m: float) -> pd.DataFrame:
    """Per input: points and persons snapped, too far from the network, or reaching nothing."""
    m = tt.matrix
    row_reach = np.diff(m.indptr) > 0
    col_reach = _column_counts(m) > 0
    records = {}
    for name, snapped, reach in (("origins", so, row_reach), ("destinations", sd, col_reach)):
        persons = (
            snapped.persons if snapped.persons is not None else np.full(snapped.ids.size, np.nan)
        )
        ok = ~snapped.too_far
        unreachable = ok & ~reach
        records[name] = {
            "points": snapped.ids.size,
            "persons": float(np.nansum(persons)),
            "snapped": int(ok.sum()),
            "snapped_persons": float(np.nansum(persons[ok])),
            "too_far": int(snapped.too_far.sum()),
            "too_far_persons": float(np.nansum(persons[snapped.too_far])),
            "unreachable": int(unreachable.sum()),
            "unreachable_persons": float(np.nansum(persons[unreachable])),
            "max_snap_distance_m": float(snapped.distance_m.max()) if snapped.ids.size else 0.0,
            "mean_leg_minutes": float(snapped.leg_minutes.mean()) if snapped.ids.size else 0.0,
            "max_snap_m": max_snap_m,
        }
    return pd.DataFrame.from_dict(records, orient="index")


def _column_counts(csr: sp.csr_array, step: int = 1 << 24) -> np.ndarray:
    """Stored entries per column, counted in slices (no 64-bit copy of all the indices)."""
    counts = np.zeros(csr.shape[1], dtype=np.int64)
    for start in range(0, csr.nnz, step):
        counts += np.bincount(csr.indices[start : start + step], minlength=csr.shape[1])
    return counts


def _cache_key(
    routing: RoutingGraph, so: Snapped, sd: Snapped, cutoff: float | None, params: dict
) -> str:
    import hashlib

    h = hashlib.sha256(_ENGINE_VERSION.encode())
    for arr in (routing.csr.indptr, routing.csr.indices, routing.csr.data, routing.xy):
        h.update(np.ascontiguousarray(arr).tobytes())
    for snapped in (so, sd):
        h.update(np.ascontiguousarray(snapped.node).tobytes())
        h.update(np.ascontiguousarray(snapped.distance_m).tobytes())
        h.update(json.dumps(_ids_to_json(snapped.ids)).encode())
    h.update(json.dumps({"cutoff": cutoff, **params}, sort_keys=True).encode())
    return h.hexdigest()[:32]


def _cache_path(cache_dir: str | Path | None, key: str) -> Path:
    import os

    root = (
        cache_dir or os.environ.get("ACCESSPLAN_CACHE_DIR") or Path.home() / ".cache" / "accessplan"
    )
    return Path(root) / "traveltimes" / f"{key}.npz"
