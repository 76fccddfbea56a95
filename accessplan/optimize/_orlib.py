"""Reader for Beasley's OR-Library uncapacitated p-median instances (pmed1–pmed40).

Format: a first line ``n_vertices n_edges p``, then one line ``i j cost`` per undirected edge
(vertices 1-based). Some vertex pairs appear more than once with different costs; the LAST
occurrence counts (it is the reading that reproduces the published optima). The distance
matrix is the all-pairs shortest paths of the graph; every vertex is both a client (weight 1)
and a candidate.

Reference: J.E. Beasley (1985), A note on solving large p-median problems, European Journal of
Operational Research 21, 270–273.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from accessplan.errors import InputError
from accessplan.traveltimes import TravelTimes

__all__ = ["PMedInstance", "read_optima", "read_pmed"]


@dataclass(frozen=True)
class PMedInstance:
    """An OR-Library p-median instance.

    Attributes
    ----------
    name
        File stem (``"pmed1"``).
    p
        Number of medians.
    distances
        Dense (n × n) shortest-path distances, integers stored as floats.
    n_edges
        Edges listed in the file (duplicates included).
    """

    name: str
    p: int
    distances: np.ndarray
    n_edges: int

    @property
    def n(self) -> int:
        return int(self.distances.shape[0])

    def travel_times(self) -> TravelTimes:
        """The distances as a complete :class:`TravelTimes` (vertex ids 1..n both ways)."""
        ids = np.arange(1, self.n + 1)
        return TravelTimes.from_dense(self.distances, ids, ids)

    def demand(self) -> pd.Series:
        """Weight 1 per vertex."""
        return pd.Series(1.0, index=np.arange(1, self.n + 1))


def read_pmed(path: str | Path) -> PMedInstance:
    """Read an OR-Library ``pmedN.txt`` file (last occurrence of a repeated edge wins).

    Raises
    ------
    InputError
        When the file is missing or its header or edge lines are malformed.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"OR-Library instance {path} does not exist.")
    numbers = np.array(path.read_text().split(), dtype=np.int64)
    if numbers.size < 3:
        raise InputError(f"{path}: the header 'n_vertices n_edges p' is missing.")
    n, n_edges, p = (int(v) for v in numbers[:3])
    edges = numbers[3:]
    if edges.size != 3 * n_edges:
        raise InputError(
            f"{path}: the header announces {n_edges} edges but {edges.size / 3:g} follow."
        )
    i, j, cost = edges.reshape(-1, 3).T
    if i.min() < 1 or j.min() < 1 or max(i.max(), j.max()) > n:
        raise InputError(f"{path}: an edge names a vertex outside 1..{n}.")
    lo, hi = np.minimum(i, j) - 1, np.maximum(i, j) - 1
    key = lo * n + hi
    # Last occurrence: unique over the reversed list keeps the first of the reversed order.
    _, last_rev = np.unique(key[::-1], return_index=True)
    last = key.size - 1 - last_rev
    lo, hi, cost = lo[last], hi[last], cost[last].astype(np.float64)
    graph = sp.coo_array((cost, (lo, hi)), shape=(n, n)).tocsr()
    distances = shortest_path(graph, method="D", directed=False)
    if not np.isfinite(distances).all():
        raise InputError(f"{path}: the graph is not connected.")
    return PMedInstance(path.stem, p, distances, n_edges)


def read_optima(path: str | Path) -> pd.Series:
    """Published optima from ``pmed_optimal.csv`` (columns ``instance``, ``optimal_objective``)."""
    table = pd.read_csv(path)
    return table.set_index("instance")["optimal_objective"].astype(float)
