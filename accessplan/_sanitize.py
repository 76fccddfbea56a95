"""Neutralising text that another program would act on.

Two receivers act on text that came from data or a scenario file:

- a spreadsheet evaluates a CSV cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return as a formula (``=HYPERLINK(...)`` becomes a live link); :func:`write_csv`
  prefixes such cells with an apostrophe, which spreadsheets read as "this is text";
- a terminal acts on control characters and escape sequences (colours, cursor moves, window
  titles, hyperlinks); :func:`terminal_text` removes them from what the command line prints.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["FORMULA_PREFIXES", "neutralise_cell", "neutralise_frame", "terminal_text", "write_csv"]

#: First characters that make a spreadsheet evaluate a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# A string that is just a number ("-12", "+3.5", "-1e-3") is read as that number, not a formula.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

# Escape sequences are removed whole, so that "\x1b[31m" leaves no "[31m" behind: CSI
# (ESC [ or the C1 byte U+009B, parameters, final byte), OSC/DCS/PM/APC/SOS strings (up to BEL
# or ESC \), and two-character ESC sequences.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
)
# C0 controls except tab and newline, DEL, C1 controls, and the bidirectional overrides and
# isolates that reorder what a reader sees.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def neutralise_cell(value: Any) -> Any:
    """``value`` with a leading apostrophe if it is a string a spreadsheet would evaluate.

    Numbers (and strings that are just a number, such as ``"-12"``) are returned unchanged.
    """
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def _is_text(dtype: Any) -> bool:
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


def _neutralise_labels(labels: pd.Index) -> pd.Index:
    if isinstance(labels, pd.MultiIndex):
        return labels.set_levels(
            [_neutralise_labels(level) for level in labels.levels], verify_integrity=False
        )
    if _is_text(labels.dtype):
        return labels.map(neutralise_cell)
    return labels


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, column names and index labels are neutralised."""
    out = pd.DataFrame(frame).copy()
    for col in out.columns:
        dtype = out[col].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object)
            dtype = out[col].dtype
        if _is_text(dtype):
            out[col] = out[col].map(neutralise_cell)
    out.columns = _neutralise_labels(out.columns)
    out.index = _neutralise_labels(out.index)
    return out


def write_csv(frame: pd.DataFrame, path: str | Path, **to_csv_kwargs: Any) -> Path:
    """Write ``frame`` to ``path`` as CSV with every formula-like text cell neutralised.

    Keyword arguments go to :meth:`pandas.DataFrame.to_csv`. Lines end in CR LF (RFC 4180):
    with a bare LF line end, the csv writer would leave a cell holding a carriage return
    unquoted, and a spreadsheet would split the row there.
    """
    path = Path(path)
    to_csv_kwargs.setdefault("lineterminator", "\r\n")
    neutralise_frame(frame).to_csv(path, **to_csv_kwargs)
    return path


def terminal_text(text: object) -> str:
    """``str(text)`` without escape sequences or control characters (tab and newline stay)."""
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", str(text)))
