"""Parts of the simulator: profiles, surges, departments, beds and staff, and dirt injection."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from accessplan.errors import InputError

__all__ = [
    "LOCAL_UTC_OFFSET_H",
    "LOS_SIGMA",
    "Surge",
    "UnitPlan",
    "daily_profile",
    "department_for",
    "inject_dirt",
    "plan_units",
    "weekly_profile",
]

#: The embedded region's local time (Comoros, UTC+3, no daylight saving), hours.
LOCAL_UTC_OFFSET_H = 3
LOCAL_TZ = "Indian/Comoro"

# Relative arrivals by day of week (Monday first) and by local hour; each scaled to mean 1.
_WEEKLY = np.array([1.18, 1.06, 1.0, 1.0, 0.9, 0.92, 0.94])
_DAILY = np.array(
    [
        0.35,
        0.28,
        0.24,
        0.22,
        0.25,
        0.35,
        0.6,
        0.95,
        1.35,
        1.6,
        1.65,
        1.55,
        1.4,
        1.3,
        1.3,
        1.35,
        1.45,
        1.5,
        1.45,
        1.3,
        1.1,
        0.85,
        0.6,
        0.45,
    ]
)

# Departments by facility tier, and routing weights by age band (0-4, 5-14, 15-44, 45-64, 65+).
_TIER_DEPARTMENTS = {
    "Tier1": ("general", "maternity"),
    "Tier2": ("general", "maternity", "medicine"),
    "Tier3": ("emergency", "medicine", "surgery", "maternity", "paediatrics"),
    "Tier4": ("emergency", "medicine", "surgery", "maternity", "paediatrics"),
}
_ROUTING = {
    "general": (1.0, 1.0, 1.0, 1.0, 1.0),
    "emergency": (0.45, 0.45, 0.45, 0.45, 0.45),
    "medicine": (0.0, 0.0, 0.25, 0.35, 0.5),
    "surgery": (0.05, 0.1, 0.15, 0.15, 0.15),
    "maternity": (0.0, 0.0, 0.12, 0.0, 0.0),
    "paediatrics": (1.5, 1.0, 0.0, 0.0, 0.0),
}
# Patients one clinician can have in treatment at once, and day shift (local hours).
_PATIENTS_PER_STAFF = {"general": 1, "emergency": 2}
_INPATIENT_PER_STAFF = 6
_DAY_SHIFT = range(8, 20)
#: Spread of the log-normal length of stay (sigma of its logarithm).
LOS_SIGMA = 0.6
_MEAN_ACUITY_FACTOR = 0.02 * 1.6 + 0.10 * 1.3 + 0.35 * 1.0 + 0.38 * 0.8 + 0.15 * 0.6


def weekly_profile() -> np.ndarray:
    """Relative arrivals by day of week, Monday first (mean 1)."""
    return _WEEKLY / _WEEKLY.mean()


def daily_profile() -> np.ndarray:
    """Relative arrivals by local hour of day (mean 1)."""
    return _DAILY / _DAILY.mean()


@dataclass(frozen=True)
class Surge:
    """An outbreak (arrival rates × ``factor``) or a road accident (``count`` extra casualties).

    Parameters
    ----------
    kind
        ``"outbreak"`` or ``"accident"``.
    start_hour
        Hour of the period it starts (0 = local midnight of the first day).
    hours
        Duration (hours).
    factor
        Outbreak: multiplier of the arrival rate.
    count
        Accident: casualties (persons), acuity 1-2, arriving uniformly over ``hours``.
    facilities
        Facility ids affected (default: every facility for an outbreak, the first facility for
        an accident).
    """

    kind: str
    start_hour: int
    hours: int
    factor: float = 1.5
    count: int = 20
    facilities: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("outbreak", "accident"):
            raise InputError(f"Surge kind must be 'outbreak' or 'accident', got {self.kind!r}")
        if self.hours < 1 or self.start_hour < 0:
            raise InputError("Surge start_hour must be >= 0 and hours >= 1")

    def rows(self, facility_ids: Sequence[str]) -> np.ndarray:
        if self.facilities is None:
            return np.arange(len(facility_ids))
        index = {f: i for i, f in enumerate(facility_ids)}
        unknown = [f for f in self.facilities if str(f) not in index]
        if unknown:
            raise InputError(f"Surge facilities {unknown} are not among the simulated facilities")
        return np.array([index[str(f)] for f in self.facilities], dtype=int)

    def casualties(
        self, rng: np.random.Generator, facility_ids: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Facility rows, arrival minutes and acuity of an accident's casualties."""
        rows = self.rows(facility_ids) if self.facilities is not None else np.array([0])
        fac = rng.choice(rows, size=self.count)
        t = (self.start_hour + rng.random(self.count) * self.hours) * 60.0
        return fac, t, rng.integers(1, 3, size=self.count)


@dataclass(frozen=True)
class UnitPlan:
    """One facility × department: beds and servers open in each local hour."""

    facility_id: str
    department: str
    beds: int
    staff_by_hour: np.ndarray
    servers_by_hour: np.ndarray


def _tier(text: str) -> str:
    for tier in ("Tier4", "Tier3", "Tier2", "Tier1"):
        if tier.lower() in str(text).lower():
            return tier
    return "Tier1"


def _routing_probabilities(departments: Sequence[str]) -> np.ndarray:
    """Age band × department probabilities (rows sum to 1)."""
    w = np.array([_ROUTING[d] for d in departments], dtype=float).T
    w[w.sum(axis=1) == 0, 0] = 1.0
    return w / w.sum(axis=1, keepdims=True)


def plan_units(
    facilities: pd.DataFrame,
    rate: np.ndarray,
    los_median_h: dict[str, float],
    age_shares: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[tuple[str, str], UnitPlan]]:
    """Departments, beds and staff per facility, sized to the expected load.

    Beds: square-root staffing on the offered load ``L`` (mean arrivals/hour × mean length of
    stay, hours): ``ceil(L + 1.5 √L)``, at least 1. Staff on the day shift (08-20 local):
    ``ceil(beds / patients per clinician)``; at night half of it, at least 1. Servers in hour
    *h*: ``min(beds, staff(h) × patients per clinician)``.
    """
    unit_rows, staff_rows, plan = [], [], {}
    mean_factor = _MEAN_ACUITY_FACTOR * math.exp(LOS_SIGMA**2 / 2)
    for i, (fid, tier) in enumerate(
        zip(facilities["id"].astype(str), facilities["tier"], strict=True)
    ):
        departments = _TIER_DEPARTMENTS[_tier(tier)]
        share = age_shares @ _routing_probabilities(departments)
        for d, s in zip(departments, share, strict=True):
            load = rate[i].mean() * s * los_median_h[d] * mean_factor
            beds = max(1, math.ceil(load + 1.5 * math.sqrt(load)))
            per_staff = _PATIENTS_PER_STAFF.get(d, _INPATIENT_PER_STAFF)
            day = max(1, math.ceil(beds / per_staff))
            staff = np.array(
                [day if h in _DAY_SHIFT else max(1, math.ceil(day / 2)) for h in range(24)]
            )
            servers = np.minimum(beds, staff * per_staff)
            plan[(fid, d)] = UnitPlan(fid, d, beds, staff, servers)
            unit_rows.append((fid, d, beds))
            staff_rows += [(fid, d, h, float(staff[h])) for h in range(24)]
    units = pd.DataFrame(unit_rows, columns=["facility_id", "department", "beds"])
    staffing = pd.DataFrame(
        staff_rows, columns=["facility_id", "department", "hour_of_day", "staff"]
    )
    return units, staffing, plan


def department_for(
    rng: np.random.Generator, visits: pd.DataFrame, plan: dict[tuple[str, str], UnitPlan]
) -> np.ndarray:
    """A department for each visit, drawn by age band among its facility's departments."""
    by_facility: dict[str, list[str]] = {}
    for fid, d in plan:
        by_facility.setdefault(fid, []).append(d)
    band = np.searchsorted([5, 15, 45, 65], visits["age"].to_numpy(), side="right")
    out = np.empty(len(visits), dtype=object)
    fac = visits["facility_id"].to_numpy()
    for fid, departments in by_facility.items():
        p = _routing_probabilities(departments)
        for b in range(5):
            rows = np.nonzero((fac == fid) & (band == b))[0]
            if rows.size:
                out[rows] = np.asarray(departments, dtype=object)[
                    rng.choice(len(departments), size=rows.size, p=p[b])
                ]
    return out


def _pick_visits(
    rng: np.random.Generator, events: pd.DataFrame, quotas: dict[str, int]
) -> dict[str, np.ndarray]:
    """Distinct visits for each dirty kind, each with the event the kind needs."""
    visit_codes, visits = pd.factorize(events["visit_id"])
    type_codes, types = pd.factorize(events["event_type"])
    marks = np.zeros((len(visits), len(types)), dtype=bool)
    marks[visit_codes, type_codes] = True
    flags = pd.DataFrame(marks, index=visits, columns=list(types))
    order = rng.permutation(len(flags))
    needs = {
        "discharge_before_admission": ["admission", "discharge"],
        "future_timestamp": ["triage"],
    }
    free = np.ones(len(flags), dtype=bool)
    picked: dict[str, np.ndarray] = {}
    for kind, quota in quotas.items():
        need = [c for c in needs.get(kind, ["arrival"]) if c in flags.columns]
        ok = flags[need].all(axis=1).to_numpy() if need else np.zeros(len(flags), bool)
        candidates = order[(ok & free)[order]][:quota]
        free[candidates] = False
        picked[kind] = flags.index.to_numpy()[candidates]
    return picked


def inject_dirt(
    rng: np.random.Generator,
    events: pd.DataFrame,
    share: float,
    plan: dict[tuple[str, str], UnitPlan],
    kinds: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events with ``share`` × clean events dirty records; and the list of them (by ``_row``)."""
    total = round(share * len(events))
    quotas = {
        k: total // len(kinds) + (1 if i < total % len(kinds) else 0) for i, k in enumerate(kinds)
    }
    events = events.copy()
    events["bad_timestamp"] = None
    if total == 0:
        events["_row"] = np.arange(len(events))
        return events, pd.DataFrame({"_row": [], "event_id": [], "rule": []})
    picked = _pick_visits(rng, events, quotas)
    first = {
        kind: events.index[
            events["visit_id"].isin(picked[kind])
            & (events["event_type"] == ("triage" if kind == "future_timestamp" else "arrival"))
        ]
        for kind in kinds
    }
    events.loc[first["unknown_facility"], "facility_id"] = (
        "X" + events.loc[first["unknown_facility"], "facility_id"]
    )
    events.loc[first["unknown_department"], "department"] = "radiology"
    events.loc[first["future_timestamp"], "t_min"] += 30 * 365.25 * 1440
    events.loc[first["impossible_age"], "age"] = rng.choice(
        [-4.0, 150.0, 999.0, -1.0], size=len(first["impossible_age"])
    )
    events.loc[first["schema"], "bad_timestamp"] = "not-a-time"
    dba = events.index[
        events["visit_id"].isin(picked["discharge_before_admission"])
        & (events["event_type"] == "discharge")
    ]
    admitted = events[events["event_type"] == "admission"].set_index("visit_id")["t_min"]
    admission = events.loc[dba, "visit_id"].map(admitted).astype(float)
    events.loc[dba, "t_min"] = admission - rng.uniform(5, 120, dba.size)
    copies = []
    for kind, shift in (("duplicate", 0.0), ("conflicting_duplicate", 1.0)):
        source = events[events["visit_id"].isin(picked[kind])]
        one = source.groupby("visit_id").sample(n=1, random_state=rng).copy()
        one["t_min"] += shift * rng.uniform(5, 60, len(one))
        one["deliver_min"] += rng.uniform(0.5, 120, len(one))
        one["_kind"] = kind
        copies.append(one)
    events["_kind"] = None
    for kind in (
        "unknown_facility",
        "unknown_department",
        "future_timestamp",
        "impossible_age",
        "schema",
    ):
        events.loc[first[kind], "_kind"] = kind
    events.loc[dba, "_kind"] = "discharge_before_admission"
    events = pd.concat([events, *copies], ignore_index=True)
    events["_row"] = np.arange(len(events))
    dirty = events.loc[events["_kind"].notna(), ["_row", "event_id", "_kind"]].rename(
        columns={"_kind": "rule"}
    )
    return events.drop(columns="_kind"), dirty
