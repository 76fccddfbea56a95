"""The allocation model with its coverage rows folded into segment columns: the same optimum,
about half the rows, and a simplex two to three times faster.

In the model of :mod:`accessplan.operations.model` (one demand scenario), the fixed units and
the unmet demand of a cell only make up what the mobile units :math:`x` leave of the demand
:math:`D`: given :math:`x`, the cheapest cover costs
:math:`C^f \\min(\\bar f, (D - x)^+) + P (D - \\bar f - x)^+`, convex in :math:`x` when
:math:`P \\ge C^f \\ge 0`. So :math:`x` is split into three segments, each in the column of
a variable it replaces:

* :math:`x_1 \\in [\\max(s_1 - \\bar u, 0), s_1]`, :math:`s_1 = (D - \\bar f)^+`, in the
  column of :math:`u` (cost :math:`C - P`; :math:`u = s_1 - x_1`);
* :math:`x_2 \\in [0, s_2]`, :math:`s_2 = \\min(\\bar f, D)`, in the column of :math:`y`
  (cost :math:`C - C^f`; :math:`y = s_2 - x_2`);
* :math:`x_3 \\ge 0`, in the column of :math:`x` (cost :math:`C`; units beyond the demand),

with :math:`x = x_1 + x_2 + x_3` wherever :math:`x` appeared (flow, pool) and
:math:`u = s_1 - x_1` in the equity rows. The coverage rows disappear and the objective differs
by the constant :math:`\\sum P s_1 + C^f s_2`. Every compact solution maps to a full one of the
same cost (:math:`x + y + u = D + x_3`), and every full solution is matched by a compact one
costing no more, so the optima agree. For an indivisible type the segments are integer, which
is exact when :math:`D`, :math:`\\bar f` and :math:`\\bar u` are whole units.

With the equity band the fold is a restriction: the full model may also count as unmet demand
that its fixed units could meet (a larger :math:`u` raises a facility's unmet share towards
the band's floor), which the segments cannot express. There a compact optimum, mapped back,
is the full model's optimum only when :func:`certified` finds it meets the full model's
optimality conditions (primal feasible, dual feasible, complementary); otherwise the full
model is solved.

Row duals carry over; the dual of a coverage row (the cost of one more unit of demand) is the
reduced cost of :math:`x_3`, within :math:`[0, P]` while the unmet demand is below its cap.
Bases move between the two forms by the values (a segment strictly inside its bounds is basic),
handed to HiGHS as an alien basis it repairs.

:func:`compact` returns None where the fold does not apply: an indivisible type with the
equity band, demand scenarios (the second stage differs by scenario), a penalty below the
fixed cost, bounds changed on :math:`x`, :math:`y` or :math:`u`, or an indivisible type with
fractional demand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from accessplan.operations.model import Arrays

__all__ = ["Compaction", "certified", "compact"]

#: Values within this of a bound sit on it (units).
TOL = 1e-9

LOWER, BASIC, UPPER = 0, 1, 2  # highspy.HighsBasisStatus codes


@dataclass(frozen=True)
class Compaction:
    """The compact model of ``full`` and the maps between the two.

    Attributes
    ----------
    full
        The model as built (:func:`~accessplan.operations.model.build_arrays`).
    arrays
        The compact model: the same columns (reinterpreted), the rows without coverage.
    rows
        Row of ``full`` of each compact row.
    x, y, u
        Columns of :math:`x, y, u` of every cell (period-major), the columns of
        :math:`x_3, x_2, x_1`.
    coverage
        Coverage row of every cell in ``full``.
    first, second
        :math:`s_1`, :math:`s_2` (units) per cell.
    constant
        Full objective minus compact objective (currency units).
    exact
        The optima agree by construction (no equity band); otherwise a compact optimum is
        the full model's only once :func:`certified`.
    """

    full: Arrays
    arrays: Arrays
    rows: np.ndarray
    x: np.ndarray
    y: np.ndarray
    u: np.ndarray
    coverage: np.ndarray
    first: np.ndarray
    second: np.ndarray
    constant: float
    exact: bool

    def to_full(self, values: np.ndarray) -> np.ndarray:
        """Full column values of compact ``values``."""
        out = np.asarray(values, dtype=np.float64).copy()
        x1, x2, x3 = out[self.u], out[self.y], out[self.x]
        out[self.x] = np.maximum(x1 + x2 + x3, 0.0)
        out[self.y] = np.maximum(self.second - x2, 0.0)
        out[self.u] = np.maximum(self.first - x1, 0.0)
        return out

    def from_full(self, values: np.ndarray) -> np.ndarray:
        """Compact column values of full ``values``: the segments filled in order from
        :math:`x` (the cheapest cover of the demand that :math:`x` leaves)."""
        out = np.asarray(values, dtype=np.float64).copy()
        x = np.maximum(out[self.x], 0.0)
        x1 = np.clip(x, self.arrays.col_lower[self.u], self.first)
        x2 = np.clip(x - x1, 0.0, self.second)
        out[self.u], out[self.y], out[self.x] = x1, x2, np.maximum(x - x1 - x2, 0.0)
        return out

    def row_dual_to_full(
        self, row_dual: np.ndarray, col_dual: np.ndarray, values: np.ndarray
    ) -> np.ndarray:
        """Full row duals at full ``values``: the compact rows' as they are; each coverage
        row's (the cost of one more unit of demand) the reduced cost of :math:`x_3` brought
        into the range the full columns' optimality conditions allow."""
        full = self.full
        out = np.full(full.A.shape[0], np.nan)
        out[self.rows] = row_dual
        band = np.nan_to_num(out)
        band[self.coverage] = 0.0
        # reduced costs in the full model before the coverage price: x, y and u
        base = {
            "x": np.asarray(col_dual)[self.x],
            "y": full.c[self.y],
            "u": full.c[self.u] - full.A[:, self.u].T @ band,
        }
        lo = np.zeros(self.x.size)
        hi = np.full(self.x.size, np.inf)
        for name, cols in (("x", self.x), ("y", self.y), ("u", self.u)):
            v, up, d = values[cols], full.col_upper[cols], base[name]
            at_lo, at_up = v <= TOL, v >= up - TOL
            hi = np.where(~at_up, np.minimum(hi, d), hi)  # may rise: price <= its cost
            lo = np.where(~at_lo, np.maximum(lo, d), lo)  # may fall: price >= its cost
        demand = full.row_lower[self.coverage]
        cover = values[self.x] + values[self.y] + values[self.u]
        hi = np.where(cover > demand + TOL * np.maximum(1.0, demand), 0.0, hi)  # row not tight
        out[self.coverage] = np.minimum(np.maximum(base["x"], lo), hi)
        return out

    def basis_from_full(
        self, values: np.ndarray, col_status: np.ndarray, row_status: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Compact column and row statuses of a full basis, at the compact ``values``
        (:meth:`from_full`); columns outside the cells keep their status."""
        col = np.asarray(col_status, dtype=np.int8).copy()
        col[self.u] = _segment_status(values[self.u], self.arrays.col_lower[self.u], self.first)
        col[self.y] = _segment_status(values[self.y], np.zeros(self.y.size), self.second)
        col[self.x] = _segment_status(
            values[self.x], np.zeros(self.x.size), np.full(self.x.size, np.inf)
        )
        return col, np.asarray(row_status, dtype=np.int8)[self.rows]

    def basis_to_full(
        self, values: np.ndarray, col_status: np.ndarray, row_status: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Full column and row statuses of a compact basis at compact ``values``."""
        full = self.to_full(values)
        col = np.asarray(col_status, dtype=np.int8).copy()
        up = self.full.col_upper
        col[self.x] = np.where(full[self.x] > TOL, BASIC, LOWER)
        col[self.y] = _segment_status(full[self.y], np.zeros(self.y.size), up[self.y])
        col[self.u] = _segment_status(full[self.u], np.zeros(self.u.size), up[self.u])
        row = np.full(self.full.A.shape[0], BASIC, dtype=np.int8)
        row[self.rows] = row_status
        row[self.coverage] = np.where(np.asarray(values)[self.x] > TOL, BASIC, LOWER)
        return col, row


def _segment_status(v: np.ndarray, lo: np.ndarray, up: np.ndarray) -> np.ndarray:
    at_up = np.isfinite(up) & (v >= up - TOL) & (up > lo + TOL)
    inside = (v > lo + TOL) & ~at_up
    return np.where(at_up, UPPER, np.where(inside, BASIC, LOWER)).astype(np.int8)


def compact(full: Arrays) -> Compaction | None:
    """The compact form of ``full`` (see the module docstring), or None where it does not
    apply."""
    L = full.layout
    if L.s != 1 or (L.equity and full.integer.any()):
        return None
    T = np.arange(L.h)[:, None]
    cells = np.arange(L.cells)[None, :]
    x = np.asarray(L.col("x", T, cells)).ravel()
    y = np.asarray(L.col("y", T, cells, 0)).ravel()
    u = np.asarray(L.col("u", T, cells, 0)).ravel()
    coverage = np.asarray(L.row("coverage", T, cells)).ravel()
    demand = full.row_lower[coverage]
    fixed, cap = full.col_upper[y], full.col_upper[u]
    cost_x, cost_y, cost_u = full.c[x], full.c[y], full.c[u]
    standard = (
        np.all(full.col_lower[np.concatenate([x, y, u])] == 0)
        and np.all(np.isinf(full.col_upper[x]))
        and np.all(np.isinf(full.row_upper[coverage]))
        and np.all(cost_u >= cost_y)
        and np.all(cost_y >= 0)
    )
    if not standard:
        return None
    whole = full.integer[x]
    if whole.any() and not all(
        _integral(v[whole]) for v in (demand, fixed, np.where(np.isfinite(cap), cap, 0.0))
    ):
        return None
    first = np.maximum(demand - fixed, 0.0)
    second = np.minimum(fixed, demand)
    coo = full.A.tocoo()
    is_cover = np.zeros(full.A.shape[0], dtype=bool)
    is_cover[coverage] = True
    keep = ~is_cover[coo.row]
    r, c, v = coo.row[keep], coo.col[keep], coo.data[keep]
    cell_of_x = np.full(full.A.shape[1], -1)
    cell_of_x[x] = np.arange(x.size)
    in_x = cell_of_x[c] >= 0
    cell_of_u = np.full(full.A.shape[1], -1)
    cell_of_u[u] = np.arange(u.size)
    in_u = cell_of_u[c] >= 0  # the equity rows
    shift = np.zeros(full.A.shape[0])
    np.add.at(shift, r[in_u], v[in_u] * first[cell_of_u[c[in_u]]])
    v = np.where(in_u, -v, v)  # u = s1 - x1
    kx = cell_of_x[c[in_x]]
    rows_all = np.concatenate([r, r[in_x], r[in_x]])
    cols_all = np.concatenate([c, y[kx], u[kx]])
    vals_all = np.concatenate([v, v[in_x], v[in_x]])
    kept_rows = np.flatnonzero(~is_cover)
    new_row = np.full(full.A.shape[0], -1)
    new_row[kept_rows] = np.arange(kept_rows.size)
    A = sp.csc_array(
        (vals_all, (new_row[rows_all], cols_all)), shape=(kept_rows.size, full.A.shape[1])
    )
    A.sum_duplicates()
    A.sort_indices()
    c_new = full.c.copy()
    c_new[y] = cost_x - cost_y
    c_new[u] = cost_x - cost_u
    lo, up = full.col_lower.copy(), full.col_upper.copy()
    lo[u] = np.maximum(first - cap, 0.0)
    up[u] = first
    up[y] = second
    integer = full.integer.copy()
    integer[y] = whole
    integer[u] = whole
    arrays = Arrays(
        L,
        c_new,
        A,
        (full.row_lower - shift)[kept_rows],
        (full.row_upper - shift)[kept_rows],
        lo,
        up,
        integer,
    )
    constant = float(cost_u @ first + cost_y @ second)
    return Compaction(
        full, arrays, kept_rows, x, y, u, coverage, first, second, constant, not L.equity
    )


def _integral(v: np.ndarray) -> bool:
    return bool(np.all(np.abs(v - np.round(v)) <= TOL))


def certified(arrays: Arrays, values: np.ndarray, row_dual: np.ndarray) -> bool:
    """Whether ``values`` with ``row_dual`` meet the optimality conditions of the LP
    ``arrays``: rows and columns within their bounds, reduced costs
    :math:`c - A^\top y` of the right sign at a bound and zero between, row duals likewise.
    Tolerances: 1e-7 relative to the largest bound (units) and cost (currency units)."""
    if np.any(~np.isfinite(row_dual)):
        return False
    A = arrays.A
    activity = A @ values
    scale_p = 1e-7 * max(1.0, float(np.max(np.abs(values), initial=0.0)))
    scale_d = 1e-7 * max(1.0, float(np.max(np.abs(arrays.c), initial=0.0)))
    lo_c, up_c = arrays.col_lower, arrays.col_upper
    lo_r, up_r = arrays.row_lower, arrays.row_upper
    primal = (
        np.all(values >= lo_c - scale_p)
        and np.all(values <= up_c + scale_p)
        and np.all(activity >= lo_r - scale_p)
        and np.all(activity <= up_r + scale_p)
    )
    if not primal:
        return False
    reduced = arrays.c - A.T @ row_dual
    return _signs_ok(values, lo_c, up_c, reduced, scale_p, scale_d) and _signs_ok(
        activity, lo_r, up_r, row_dual, scale_p, scale_d
    )


def _signs_ok(
    v: np.ndarray, lo: np.ndarray, up: np.ndarray, dual: np.ndarray, tp: float, td: float
) -> bool:
    """At the lower bound ``dual >= 0``, at the upper ``dual <= 0``, between them ``0``."""
    at_lo = v <= lo + tp
    at_up = v >= up - tp
    free = ~at_lo & ~at_up
    return bool(
        np.all(dual[at_lo & ~at_up] >= -td)
        and np.all(dual[at_up & ~at_lo] <= td)
        and np.all(np.abs(dual[free]) <= td)
    )
