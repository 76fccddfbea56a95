"""Supply types shared by the measures and the optimisation models.

Every facility or candidate has a ``type``:

``clinic``
    Ordinary physical facility, reached by travel.
``robotic``
    Small automated or mobile physical unit, reached by travel; usually a smaller capacity and
    longer opening hours than a clinic.
``digital``
    Telemedicine. Reached without travel, but only by the share ``digital_access`` (0–1) of
    each origin's population that has connectivity, and it resolves only the share
    ``effectiveness`` (0–1) of the needs it serves.

Digital model (used by every measure and model). With population :math:`P_i`, connected share
:math:`a_i` and digital capacity :math:`S_d`, the connected demand is :math:`a_i P_i` and the
effective digital capacity is :math:`e S_d`. Physical supply keeps serving the whole population
as before (digital supply does not displace it), and the digital component of origin ``i`` is

.. math:: A_i^{dig} = a_i \\sum_d \\frac{e S_d}{\\sum_k a_k P_k},

so that :math:`\\sum_i P_i A_i^{dig} = e \\sum_d S_d`: each unit of effective digital capacity is
counted exactly once (no double counting), and :math:`a \\equiv 0` changes nothing.

Units. Capacity is counted in **clinicians** (full-time equivalent health workers) everywhere
a person reads it: facility tables, supply options, plans, maps and reports. The coverage and
location models need the **persons** a unit can serve; :func:`clinicians_to_persons` and
:func:`persons_to_clinicians` are the one conversion between the two, through
``persons_per_clinician`` (persons one clinician serves). Every caller goes through them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import numpy as np
import pandas as pd

from accessplan.errors import InputError

__all__ = [
    "PHYSICAL_TYPES",
    "SUPPLY_TYPES",
    "check_supply_types",
    "clinicians_to_persons",
    "persons_to_clinicians",
]

Capacity = TypeVar("Capacity", float, np.ndarray, pd.Series)

SUPPLY_TYPES: tuple[str, ...] = ("clinic", "robotic", "digital")
PHYSICAL_TYPES: frozenset[str] = frozenset({"clinic", "robotic"})


def check_supply_types(types: Iterable[str] | pd.Series, where: str = "facilities") -> pd.Series:
    """Return ``types`` as a Series, raising if any value is not a known supply type.

    Raises
    ------
    InputError
        Naming the first row whose type is unknown and listing the allowed types.
    """
    series = pd.Series(types) if not isinstance(types, pd.Series) else types
    bad = ~series.isin(SUPPLY_TYPES)
    if bad.any():
        at = series.index[bad.to_numpy()][0]
        raise InputError(
            f"{where}: row {at!r} has type {series[at]!r}; use one of {list(SUPPLY_TYPES)}."
        )
    return series


def _checked_rate(persons_per_clinician: float) -> float:
    try:
        rate = float(persons_per_clinician)
    except (TypeError, ValueError):
        rate = float("nan")
    if not (np.isfinite(rate) and rate > 0):
        raise InputError(
            f"persons_per_clinician must be a positive number of persons, got "
            f"{persons_per_clinician!r}."
        )
    return rate


def clinicians_to_persons(capacity: Capacity, persons_per_clinician: float) -> Capacity:
    """Persons served by ``capacity`` clinicians: ``capacity × persons_per_clinician``.

    Parameters
    ----------
    capacity
        Clinicians (a number, an array or a Series).
    persons_per_clinician
        Persons one clinician serves (> 0).

    Returns
    -------
    The same kind of object as ``capacity``, in persons.
    """
    return capacity * _checked_rate(persons_per_clinician)


def persons_to_clinicians(capacity: Capacity, persons_per_clinician: float) -> Capacity:
    """Clinicians needed for ``capacity`` persons: ``capacity / persons_per_clinician``.

    The inverse of :func:`clinicians_to_persons` (persons → clinicians).
    """
    return capacity / _checked_rate(persons_per_clinician)
