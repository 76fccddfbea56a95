"""HTML escaping shared by the offline map (:mod:`accessplan.maps`) and report."""

from __future__ import annotations

import html
from typing import Any

__all__ = ["esc"]


def esc(value: Any) -> str:
    """``value`` as text that is safe in HTML element content and quoted attribute values.

    ``&``, ``<``, ``>``, ``"`` and ``'`` are replaced by character references, so a string
    from data (a facility name, a column value, a title) is always shown as text.
    """
    return html.escape(str(value), quote=True)
