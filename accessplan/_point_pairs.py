"""Compiled expansion of node-to-node minutes into point-to-point minutes (CSR).

Every origin point takes the minutes of its network node to every destination point's node,
plus the two straight-line legs; pairs beyond the cutoff, or unreachable, are left out. One
pass writes the CSR arrays directly, where array expressions would build and scan the whole
dense points × points block several times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp

_U = numba.uint64  # unsigned positions: no negative-index wraparound code in the loop


@numba.njit(cache=True, nogil=True)
def _fill_pairs(
    node_minutes, o_ok, o_inv, o_leg, d_ok, d_inv, d_leg, cutoff, indptr, cols, data
):  # pragma: no cover
    """Write the kept pairs row by row; returns how many were kept.

    ``o_leg``/``d_leg`` hold the leg of each snapped point (in the order of ``o_ok``/``d_ok``);
    the total is ``(node minutes + origin leg) + destination leg``.
    """
    k = 0
    row = 0
    for a in range(o_ok.size):
        point = o_ok[a]
        while row < point:  # origins that did not snap keep an empty row
            row += 1
            indptr[row] = k
        minutes = node_minutes[_U(o_inv[a])]
        leg = o_leg[a]
        for b in range(d_ok.size):
            total = (minutes[_U(d_inv[b])] + leg) + d_leg[b]
            if total <= cutoff and total < np.inf:  # unreachable: inf; NaN fails both
                cols[k] = d_ok[b]
                data[k] = total
                k += 1
        row += 1
        indptr[row] = k
    while row < indptr.size - 1:
        row += 1
        indptr[row] = k
    return k


@dataclass(frozen=True)
class PointNodes:
    """Where the snapped points (origins or destinations) sit among the searched nodes.

    Attributes
    ----------
    ok
        Positions of the points that snapped to the network, increasing.
    inverse
        For each of them, its row (origins) or column (destinations) in the node-level minutes.
    leg_minutes
        Minutes between every point and its network node (one value per point).
    """

    ok: np.ndarray
    inverse: np.ndarray
    leg_minutes: np.ndarray


def expand_dense(
    node_minutes: np.ndarray,
    origins: PointNodes,
    destinations: PointNodes,
    cutoff: float | None,
    shape: tuple[int, int],
) -> sp.csr_array:
    """Point × point minutes (CSR, sorted) from node × node minutes and the points' legs.

    Parameters
    ----------
    node_minutes
        (origin nodes, destination nodes) minutes; inf where unreachable.
    origins, destinations
        The snapped points and their legs (minutes).
    cutoff
        Largest total minutes kept, or None for every reachable pair.
    shape
        (origin points, destination points).
    """
    o_ok, o_inv, o_leg = origins.ok, origins.inverse, origins.leg_minutes
    d_ok, d_inv, d_leg = destinations.ok, destinations.inverse, destinations.leg_minutes
    most = o_ok.size * d_ok.size
    index = np.int32 if max(most, *shape) < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(shape[0] + 1, dtype=index)
    cols = np.empty(most, dtype=index)
    data = np.empty(most, dtype=np.float64)
    limit = np.inf if cutoff is None else float(cutoff)
    kept = _fill_pairs(
        np.ascontiguousarray(node_minutes, dtype=np.float64),
        o_ok,
        o_inv,
        np.ascontiguousarray(o_leg[o_ok], dtype=np.float64),
        d_ok.astype(index),
        d_inv,
        np.ascontiguousarray(d_leg[d_ok], dtype=np.float64),
        limit,
        indptr,
        cols,
        data,
    )
    if kept < most:  # give back the room of the pairs left out
        cols, data = cols[:kept].copy(), data[:kept].copy()
    return sp.csr_array((data, cols, indptr), shape=shape)
