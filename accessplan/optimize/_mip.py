"""One builder for every array-built location model: columns and rows as arrays, never objects.

A model adds blocks of columns (bounds, integrality, objective coefficients) and blocks of
constraint rows (COO triplets: row within the block, column, value; or a sparse block), and
:meth:`MipBuilder.linear_model` assembles them into one :class:`~accessplan.optimize._solve.
LinearModel`, whose arrays go to highspy unchanged (see :func:`accessplan.optimize._solve.
solve_model`). Columns may be added after rows that do not mention them: every row block is
padded to the final number of columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from accessplan.optimize._solve import LinearModel

__all__ = ["MipBuilder"]


class MipBuilder:
    """Columns and rows of a mixed-integer linear model, collected block by block.

    Attributes
    ----------
    n_cols, n_rows
        Columns and rows added so far.

    Examples
    --------
    >>> b = MipBuilder()
    >>> y = b.add_columns(3, 0.0, 1.0, integer=True)
    >>> z = b.add_columns(1, 0.0, 1.0, cost=5.0)
    >>> rows = b.add_rows([0, 0, 0], y, 1.0, 2.0, 2.0)  # y0 + y1 + y2 = 2
    >>> b.linear_model("example", "max").num_row
    1
    """

    def __init__(self) -> None:
        self._lower: list[np.ndarray] = []
        self._upper: list[np.ndarray] = []
        self._integer: list[np.ndarray] = []
        self._cost: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []
        self._cols: list[np.ndarray] = []
        self._vals: list[np.ndarray] = []
        self._row_lower: list[np.ndarray] = []
        self._row_upper: list[np.ndarray] = []
        self.n_cols = 0
        self.n_rows = 0

    def add_columns(
        self,
        count: int,
        lower: Any = 0.0,
        upper: Any = 1.0,
        *,
        integer: bool = False,
        cost: Any = 0.0,
    ) -> np.ndarray:
        """Add ``count`` columns; return their positions.

        ``lower``, ``upper`` and ``cost`` are one number or one value per column (``±inf`` for
        no bound); ``integer`` makes every column of the block integral.
        """
        start = self.n_cols
        self._lower.append(_per_item(lower, count))
        self._upper.append(_per_item(upper, count))
        self._cost.append(_per_item(cost, count))
        self._integer.append(np.full(count, bool(integer)))
        self.n_cols += count
        return np.arange(start, start + count)

    def add_rows(
        self, rows: Any, cols: Any, vals: Any, lower: Any, upper: Any, *, n_rows: int | None = None
    ) -> np.ndarray:
        """Add rows ``lower <= sum of vals[k] * column cols[k] over rows[k] <= upper``.

        ``rows`` are positions within the block (0 = its first row); the block has
        ``n_rows`` rows (default: the length of ``lower`` or ``upper``, 1 when both are
        numbers). ``vals`` is one number or one value per triplet; repeated (row, column)
        triplets are summed. Returns the positions of the rows in the model.
        """
        lower = np.asarray(lower, dtype=np.float64)
        upper = np.asarray(upper, dtype=np.float64)
        if n_rows is None:
            sized = [v.size for v in (lower, upper) if v.ndim]
            n_rows = sized[0] if sized else 1
        rows = np.asarray(rows, dtype=np.int64)
        start = self.n_rows
        self._rows.append(rows + start)
        self._cols.append(np.asarray(cols, dtype=np.int64))
        self._vals.append(np.broadcast_to(np.asarray(vals, dtype=np.float64), rows.shape).copy())
        self._row_lower.append(_per_item(lower, n_rows))
        self._row_upper.append(_per_item(upper, n_rows))
        self.n_rows += n_rows
        return np.arange(start, start + n_rows)

    def add_block(self, block: Any, lower: Any, upper: Any) -> np.ndarray:
        """Add the rows of a sparse matrix ``block`` (its columns are model columns)."""
        coo = sp.coo_array(block)
        return self.add_rows(coo.row, coo.col, coo.data, lower, upper, n_rows=coo.shape[0])

    def matrix(self) -> sp.csc_array:
        """The constraint matrix (rows × columns), column-wise as highspy takes it."""
        if not self._rows:
            return sp.csc_array((self.n_rows, self.n_cols))
        return sp.coo_array(
            (
                np.concatenate(self._vals),
                (np.concatenate(self._rows), np.concatenate(self._cols)),
            ),
            shape=(self.n_rows, self.n_cols),
        ).tocsc()

    def costs(self) -> np.ndarray:
        """Objective coefficient of every column."""
        return _concat(self._cost)

    def linear_model(
        self,
        name: str,
        sense: str,
        *,
        c: Any = None,
        offset: float = 0.0,
        start: Any = None,
        highs_options: dict[str, Any] | None = None,
    ) -> LinearModel:
        """The model assembled: ``sense`` ``"min"`` or ``"max"`` of ``c @ x + offset``.

        ``c`` replaces the costs given with the columns (e.g. one objective per stage);
        ``start`` is a starting solution (one value per column) handed to the solver.
        """
        return LinearModel(
            name=name,
            sense=sense,
            c=self.costs() if c is None else np.asarray(c, dtype=np.float64),
            A=self.matrix(),
            row_lower=_concat(self._row_lower),
            row_upper=_concat(self._row_upper),
            col_lower=_concat(self._lower),
            col_upper=_concat(self._upper),
            integer=_concat(self._integer, dtype=bool),
            offset=float(offset),
            start=start,
            highs_options=dict(highs_options or {}),
        )


def _per_item(value: Any, count: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (count,)).copy()


def _concat(parts: list[np.ndarray], dtype: Any = np.float64) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)
