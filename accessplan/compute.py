"""The pipeline on a Dask cluster: travel times, measures, scenarios and draws as tasks.

What outgrows one machine runs as tasks of the ordinary single-process functions, so a
result on a cluster is the single-process result, bit for bit:

* :func:`travel_times` snaps every point once here (to choose the search direction exactly as
  :func:`accessplan.travel_times` would), broadcasts the :class:`~accessplan.network.RoutingGraph`
  and the side that is not split to every worker once, runs :func:`accessplan.travel_times`
  on one block of destinations (or of origins) per task and stitches the blocks back in the
  original order. Each shortest-path search of a block is the search the single call runs:
  the search direction is the same (a destination block is split only when the single call
  searches from the destinations), and a search does not depend on the other sources;
* :func:`measure` computes a row-separable measure (one origin's value reads only its own row
  of the matrix: ``nearest``, ``cumulative``, ``gravity``) over blocks of origins, and every
  other measure (the 2SFCA family shares each facility's ratio among all origins) in one task;
* :func:`accessplan.scenario.run_batch` and :func:`accessplan.sensitivity.run_sensitivity`
  take ``client=`` and submit one task per scenario or draw.

:func:`cluster` gives the client: one connected to a running scheduler
(``"tcp://host:8786"``), or a :class:`distributed.LocalCluster` of worker processes with one
thread each when asked for on one machine. A scenario's ``[compute]`` section states the same
(``scheduler``, ``local_workers``, ``block_facilities``, ``block_origins``); see
``docs/scaling.md`` for the sizes of tasks, data moved and results on a large cluster.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd
import scipy.sparse as sp

from accessplan.errors import InputError
from accessplan.measures.registry import Measure, get_measure
from accessplan.points import Points
from accessplan.traveltimes import TravelTimes

if TYPE_CHECKING:
    import geopandas as gpd
    import networkx as nx
    from distributed import Client

    from accessplan.network import RoutingGraph

__all__ = [
    "DEFAULT_BLOCK_FACILITIES",
    "DEFAULT_BLOCK_ORIGINS",
    "ROW_SEPARABLE",
    "ClientLike",
    "cluster",
    "measure",
    "scenario_cluster",
    "travel_times",
]

#: A :class:`distributed.Client`, or the address of a running scheduler (``"tcp://h:8786"``).
ClientLike: TypeAlias = "Client | str"
#: Destinations (facilities) per travel-time task.
DEFAULT_BLOCK_FACILITIES = 500
#: Origins (cells) per task of a measure, and per travel-time task when origins are split.
DEFAULT_BLOCK_ORIGINS = 50_000
#: Measures whose value for an origin reads only that origin's row of the matrix.
ROW_SEPARABLE = frozenset({"nearest", "cumulative", "gravity"})


# ------------------------------------------------------------------------------ the client
@contextmanager
def cluster(
    scheduler: str | None = None, *, local_workers: int | None = None
) -> Iterator[Client | None]:
    """A Dask client for the duration of a ``with`` block, closed at its end.

    Parameters
    ----------
    scheduler
        Address of a running scheduler, e.g. ``"tcp://10.0.0.1:8786"``.
    local_workers
        Without ``scheduler``: start a :class:`distributed.LocalCluster` of this many worker
        processes on this machine, one thread each.

    Yields
    ------
    distributed.Client or None
        None when neither is given: the caller runs in this process.

    Raises
    ------
    InputError
        Both given, ``local_workers`` < 1, or the scheduler cannot be reached.
    """
    if scheduler is not None and local_workers is not None:
        raise InputError(
            "give either scheduler (a running cluster) or local_workers (a cluster started on "
            "this machine), not both."
        )
    if scheduler is None and local_workers is None:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); start it "
                "(dask scheduler) or fix the address."
            ) from exc
        try:
            yield client
        finally:
            client.close()
        return
    assert local_workers is not None
    if isinstance(local_workers, bool) or int(local_workers) != local_workers or local_workers < 1:
        raise InputError(f"local_workers must be a whole number >= 1, got {local_workers!r}.")
    with (
        LocalCluster(
            n_workers=int(local_workers),
            threads_per_worker=1,
            processes=True,
            # No dashboard, and the scheduler's HTTP routes on a free port (not 8787,
            # which another cluster on the machine may hold).
            dashboard_address=":0",
            scheduler_kwargs={"dashboard": False},
        ) as local,
        Client(local) as client,
    ):
        yield client


@contextmanager
def scenario_cluster(
    settings: dict[str, Any], client: ClientLike | None = None
) -> Iterator[Client | None]:
    """The client of a scenario run: ``client`` when given, else the ``[compute]`` section's.

    ``settings`` is the validated ``[compute]`` section (``scheduler``, ``local_workers``).
    """
    if client is not None:
        with _connected(client) as given:
            yield given
        return
    with cluster(settings.get("scheduler"), local_workers=settings.get("local_workers")) as own:
        yield own


@contextmanager
def _connected(client: ClientLike) -> Iterator[Client]:
    """``client`` itself, or a client connected to the address ``client`` (closed after)."""
    if isinstance(client, str):
        with cluster(client) as connected:
            assert connected is not None
            yield connected
        return
    if not hasattr(client, "submit") or not hasattr(client, "scatter"):
        raise InputError(
            f"client must be a distributed.Client or a scheduler address, got "
            f"{type(client).__name__}."
        )
    yield client


# ------------------------------------------------------------------------------ travel times
def travel_times(
    network: nx.MultiDiGraph | RoutingGraph,
    origins: gpd.GeoDataFrame | Points,
    destinations: gpd.GeoDataFrame | Points,
    *,
    client: ClientLike,
    block_facilities: int = DEFAULT_BLOCK_FACILITIES,
    block_origins: int = DEFAULT_BLOCK_ORIGINS,
    origin_id_col: str | None = "id",
    destination_id_col: str | None = "id",
    population_col: str | None = "population",
    max_snap_m: float | None = None,
    leg_speed_kph: float | None = None,
    cutoff: float | None = None,
    workers: int = 1,
    **engine: Any,
) -> TravelTimes:
    """:func:`accessplan.travel_times` as tasks on a Dask cluster; the same result.

    Parameters
    ----------
    network, origins, destinations, cutoff, origin_id_col, destination_id_col, population_col,
    max_snap_m, leg_speed_kph
        As for :func:`accessplan.travel_times` (minutes, metres, km/h).
    client
        A :class:`distributed.Client`, or the address of a running scheduler.
    block_facilities
        Destinations per task when the searches run from the destinations (the usual case:
        fewer facility nodes than cell nodes).
    block_origins
        Origins per task when the searches run from the origins (more facility nodes than
        cell nodes).
    workers
        Threads of each task's searches (default 1: one task per worker thread).
    **engine
        Further keywords of :func:`accessplan.travel_times` (``chunk_mib``, ``memory_mib``:
        per task).

    Returns
    -------
    TravelTimes
        Equal to the single-process call: the same ids in the same order, the same stored
        pairs and minutes bit for bit, the same components and diagnostics; ``timings`` add
        up the seconds of every task.
    """
    from accessplan.network import routing_graph
    from accessplan.snapping import DEFAULT_LEG_SPEED_KPH, DEFAULT_MAX_SNAP_M
    from accessplan.traveltimes import snap_both

    for name, size in (("block_facilities", block_facilities), ("block_origins", block_origins)):
        _check_block(name, size)
    if engine.get("cache"):
        raise InputError("cache=True is not supported on a cluster; cache the stitched result.")
    routing = routing_graph(network)
    snap_kw = {
        "max_snap_m": DEFAULT_MAX_SNAP_M if max_snap_m is None else float(max_snap_m),
        "leg_speed_kph": DEFAULT_LEG_SPEED_KPH if leg_speed_kph is None else float(leg_speed_kph),
    }
    so, sd = snap_both(
        routing,
        origins,
        destinations,
        origin_id_col=origin_id_col,
        destination_id_col=destination_id_col,
        population_col=population_col,
        **snap_kw,
    )
    kw = {
        "cutoff": cutoff,
        "origin_id_col": origin_id_col,
        "destination_id_col": destination_id_col,
        "population_col": population_col,
        "workers": workers,
        **snap_kw,
        **engine,
    }
    # The single call searches from the destinations when they have no more distinct nodes;
    # a block of destinations then has fewer still, so its searches run the same way.
    from_destinations = _distinct_nodes(sd) <= _distinct_nodes(so)
    split, whole = (destinations, origins) if from_destinations else (origins, destinations)
    size = block_facilities if from_destinations else block_origins
    blocks = [_take(split, lo, min(lo + size, len(split))) for lo in range(0, len(split), size)]
    with _connected(client) as dask:
        graph_f, whole_f = dask.scatter([routing, whole], broadcast=True, hash=False)
        if from_destinations:
            futures = [dask.submit(_tt_task, graph_f, whole_f, b, kw, pure=False) for b in blocks]
        else:
            futures = [dask.submit(_tt_task, graph_f, b, whole_f, kw, pure=False) for b in blocks]
        parts: list[TravelTimes] = dask.gather(futures)
    result = _stitch(parts, by_destination=from_destinations, cutoff=cutoff)
    from accessplan.traveltimes import _diagnostics  # the engine's own table, for equality

    result.diagnostics = _diagnostics(result, so, sd, snap_kw["max_snap_m"])
    return result


def _check_block(name: str, size: Any) -> None:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise InputError(f"{name} must be a whole number >= 1, got {size!r}.")


def _distinct_nodes(snapped: Any) -> int:
    return int(np.unique(snapped.node[~snapped.too_far]).size)


def _take(points: gpd.GeoDataFrame | Points, lo: int, hi: int) -> gpd.GeoDataFrame | Points:
    """Rows ``lo:hi`` of a point GeoDataFrame or of :class:`Points`."""
    if isinstance(points, Points):
        return Points(
            points.ids[lo:hi],
            points.x[lo:hi],
            points.y[lo:hi],
            points.crs,
            {name: col[lo:hi] for name, col in points.values.items()},
            dict(points.attrs),
        )
    return points.iloc[lo:hi]


def _tt_task(
    routing: RoutingGraph,
    origins: gpd.GeoDataFrame | Points,
    destinations: gpd.GeoDataFrame | Points,
    kw: dict[str, Any],
) -> TravelTimes:
    """One task: the single-process engine on one block."""
    from accessplan.traveltimes import travel_times as single

    return single(routing, origins, destinations, **kw)


def _stitch(
    parts: Sequence[TravelTimes], *, by_destination: bool, cutoff: float | None
) -> TravelTimes:
    """The blocks side by side (destination blocks) or one above the other (origin blocks)."""
    first = parts[0]
    if by_destination:
        matrix = sp.hstack([p.matrix for p in parts], format="csr")
        o_ids, d_ids = (
            first.origin_ids,
            first.destination_ids.append([p.destination_ids for p in parts[1:]]),
        )
        o_comp = _component_array(first.origin_components)
        d_comp = np.concatenate([_component_array(p.destination_components) for p in parts])
    else:
        matrix = sp.vstack([p.matrix for p in parts], format="csr")
        o_ids, d_ids = (
            first.origin_ids.append([p.origin_ids for p in parts[1:]]),
            first.destination_ids,
        )
        o_comp = np.concatenate([_component_array(p.origin_components) for p in parts])
        d_comp = _component_array(first.destination_components)
    out = TravelTimes(
        matrix,
        o_ids,
        d_ids,
        cutoff=cutoff,
        origin_components=o_comp,
        destination_components=d_comp,
        component_nodes=first.component_nodes,
    )
    timings: dict[str, float] = {}
    for part in parts:
        for stage, seconds in part.timings.items():
            timings[stage] = timings.get(stage, 0.0) + seconds
    out.timings = timings
    return out


def _component_array(components: pd.Series) -> np.ndarray:
    return components.fillna(-1).to_numpy(np.int64)


# ------------------------------------------------------------------------------ measures
def measure(
    name_or_spec: str | Measure,
    tt: TravelTimes,
    demand: pd.Series | float | None,
    supply: pd.Series | pd.DataFrame,
    *,
    client: ClientLike,
    block_origins: int = DEFAULT_BLOCK_ORIGINS,
    **params: Any,
) -> pd.DataFrame:
    """:func:`accessplan.measures.compute` as tasks on a Dask cluster; the same values.

    A measure of :data:`ROW_SEPARABLE` runs on blocks of ``block_origins`` origins (rows of
    ``tt`` and their demand), one task each, and the blocks are joined in the origin order;
    any other measure runs whole, in one task. ``params`` are the measure's
    (``standard`` in minutes...).
    """
    from accessplan.measures.registry import compute

    _check_block("block_origins", block_origins)
    spec = get_measure(name_or_spec)
    with _connected(client) as dask:
        if spec.name not in ROW_SEPARABLE:
            future = dask.submit(compute, spec, tt, demand, supply, pure=False, **params)
            return future.result()
        supply_f = dask.scatter(supply, broadcast=True, hash=False)
        starts = range(0, len(tt.origin_ids), block_origins)
        blocks = [tt.origin_ids[lo : lo + block_origins] for lo in starts]
        # Each block's rows go to one worker (scattered, not embedded in the task graph).
        parts = dask.scatter([tt.subset(origins=ids) for ids in blocks], hash=False)
        futures = [
            dask.submit(
                compute,
                spec,
                part,
                demand.reindex(ids) if isinstance(demand, pd.Series) else demand,
                supply_f,
                pure=False,
                **params,
            )
            for part, ids in zip(parts, blocks, strict=True)
        ]
        frames: list[pd.DataFrame] = dask.gather(futures)
    if not frames:
        return compute(spec, tt, demand, supply, **params)
    return pd.concat(frames)
