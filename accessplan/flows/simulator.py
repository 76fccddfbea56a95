"""A seeded patient-flow simulator: events for a region's facilities, with known dirt.

Model
-----
Arrivals at facility *f* in hour *h* are Poisson with rate (visits/hour)::

    λ_f(h) = P_f · r / 8760 · w[dow(h)] · d[hour(h)] · s_f(h)

where ``P_f`` is the population of *f*'s catchment (persons whose nearest facility by travel
time is *f*), ``r`` the visits per person per year, ``w`` and ``d`` weekly and daily profiles
(mean 1), and ``s_f`` an optional surge factor. Each visit gets an age, an acuity (1 most urgent
… 5), an origin cell (drawn from the catchment's cells by population) and a department (by age
and acuity among the facility's departments). Each facility × department is a first-come
first-served queue whose servers in hour *h* are ``min(beds, staff(h) · patients_per_staff)``:
when servers are busy, patients wait; a patient of acuity 3-5 whose wait exceeds an exponential
patience leaves without being seen. Length of stay is log-normal by department and acuity.

Dirty events
------------
A share ``dirty_share`` of the clean events is added or altered, split evenly over the rules of
:mod:`accessplan.flows.validate` (exact duplicates, conflicting duplicates, unknown facility,
unknown department, future timestamps, discharge before admission, impossible ages and schema
errors), on distinct visits so that each dirty record is caught by exactly the rule it was made
for. :attr:`Simulation.dirty` lists them by file and position.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from accessplan.errors import InputError
from accessplan.flows.database import EVENT_FIELDS
from accessplan.flows.simulate_units import (
    LOCAL_UTC_OFFSET_H,
    LOS_SIGMA,
    Surge,
    UnitPlan,
    daily_profile,
    department_for,
    plan_units,
    weekly_profile,
)

__all__ = ["Simulation", "Surge", "simulate"]

_ACUITY_MIX = np.array([0.02, 0.10, 0.35, 0.38, 0.15])
# Age bands (years) and their shares among visits.
_AGE_EDGES = np.array([0, 5, 15, 45, 65, 95])
_AGE_SHARES = np.array([0.16, 0.14, 0.40, 0.18, 0.12])
_LOS_MEDIAN_H = {
    "general": 0.75,
    "emergency": 4.0,
    "medicine": 60.0,
    "surgery": 48.0,
    "maternity": 30.0,
    "paediatrics": 36.0,
}
_LOS_ACUITY_FACTOR = np.array([1.6, 1.3, 1.0, 0.8, 0.6])
_PATIENCE_MEAN_MIN = np.array([np.inf, np.inf, 360.0, 180.0, 150.0])
_TRIAGE_MEAN_MIN = 10.0
DIRTY_KINDS = (
    "duplicate",
    "conflicting_duplicate",
    "unknown_facility",
    "unknown_department",
    "future_timestamp",
    "discharge_before_admission",
    "impossible_age",
    "schema",
)


@dataclass
class Simulation:
    """A simulated event stream with its reference data and the list of injected dirt.

    Attributes
    ----------
    events
        One row per record in delivery order: ``file`` (stem, one per local day), ``position``
        (1-based in the file) and the record's fields (``event_id``, ``visit_id``,
        ``event_type``, ``timestamp`` as ISO 8601 text, ``facility_id``, ``department``,
        ``acuity``, ``age``, ``origin_cell``).
    facilities, units, staffing
        Reference tables for :meth:`~accessplan.flows.FlowDatabase.load_reference`.
    dirty
        ``file``, ``position``, ``event_id``, ``rule``: each injected dirty record and the rule
        that must catch it.
    expected_arrivals
        Expected arrivals per facility (visits over the period), ``λ`` summed over hours.
    hourly_rate
        Expected arrivals per hour of the period (all facilities), the λ the draws came from.
    catchment_population
        Persons per facility catchment.
    """

    events: pd.DataFrame
    facilities: pd.DataFrame
    units: pd.DataFrame
    staffing: pd.DataFrame
    dirty: pd.DataFrame
    expected_arrivals: pd.Series
    hourly_rate: pd.Series
    catchment_population: pd.Series
    start: dt.datetime = field(default_factory=lambda: dt.datetime(2024, 3, 4))

    def write(self, folder: str | Path, *, fmt: str = "jsonl") -> list[Path]:
        """Write events (one file per day) and reference CSVs under ``folder``.

        ``fmt``: ``"jsonl"``, ``"csv"``, ``"parquet"`` or ``"mixed"`` (the three in turn by
        day). Writes ``events/<day>.<ext>``, ``reference/{facilities,units,staffing}.csv`` and
        ``dirty.csv``. Each file is written under a ``.part`` name and renamed when complete,
        so a folder being followed never shows half a file. Returns the event files.
        """
        from accessplan.flows.simulate_io import write_simulation

        return write_simulation(self, Path(folder), fmt=fmt)


def simulate(
    facilities: pd.DataFrame,
    population: pd.DataFrame,
    catchment: pd.Series,
    *,
    start: str | dt.date = "2024-03-04",
    days: int = 30,
    visits_per_person_year: float = 0.6,
    dirty_share: float = 0.02,
    surges: Sequence[Surge] = (),
    seed: int = 0,
) -> Simulation:
    """Simulate patient events for ``facilities`` serving ``population``.

    Parameters
    ----------
    facilities
        ``id``, ``name`` and ``tier`` (text with ``Tier1`` … ``Tier4``, which sets departments).
    population
        Population cells: ``id`` and ``population`` (persons).
    catchment
        Facility id of each population cell (index: cell id), e.g. from
        :func:`~accessplan.flows.catchments.nearest_facility`; cells absent or NaN send no one.
    start
        First local day (the region's local time, UTC+3) of the period.
    days
        Length of the period (days).
    visits_per_person_year
        Visits per person per year (visits/person/year) at the catchment's facility.
    dirty_share
        Dirty records as a share of clean events (0.02 = 2 %).
    surges
        :class:`Surge` events (outbreaks, road accidents).
    seed
        Seed of the random generator (same seed, same events).

    Returns
    -------
    Simulation
    """
    _check_arguments(days, visits_per_person_year, dirty_share)
    rng = np.random.default_rng(seed)
    start_day = pd.Timestamp(start).normalize()
    pop = _catchment_population(facilities, population, catchment)
    hours = days * 24
    rate = _hourly_rates(pop.to_numpy(), hours, visits_per_person_year, surges, list(pop.index))
    units, staffing, plan = plan_units(facilities, rate, _LOS_MEDIAN_H, _AGE_SHARES)
    visits = _arrivals(rng, rate, list(pop.index), population, catchment, surges)
    visits["department"] = department_for(rng, visits, plan)
    visits = _queue_all(rng, visits, plan)
    events = _visit_events(visits, hours, facilities)
    events, dirty = _add_dirt(rng, events, dirty_share, plan)
    events = _order_for_delivery(events, start_day)
    dirty = dirty.merge(events[["_row", "file", "position"]], on="_row")[
        ["file", "position", "event_id", "rule"]
    ]
    events = _with_timestamps(events, start_day).drop(columns=["_row", "t_min", "deliver_min"])
    hourly = pd.Series(
        rate.sum(axis=0),
        index=pd.date_range(
            start_day - pd.Timedelta(hours=LOCAL_UTC_OFFSET_H), periods=hours, freq="h"
        ),
        name="expected_arrivals",
    )
    return Simulation(
        events=events.reset_index(drop=True),
        facilities=_reference_facilities(facilities),
        units=units,
        staffing=staffing,
        dirty=dirty.sort_values(["file", "position"]).reset_index(drop=True),
        expected_arrivals=pd.Series(rate.sum(axis=1), index=pop.index, name="expected"),
        hourly_rate=hourly,
        catchment_population=pop,
        start=start_day.to_pydatetime(),
    )


def _check_arguments(days: int, rate: float, dirty_share: float) -> None:
    if int(days) < 1:
        raise InputError(f"days must be at least 1, got {days}")
    if not rate > 0:
        raise InputError(f"visits_per_person_year must be > 0 (visits/person/year), got {rate}")
    if not 0 <= dirty_share < 0.5:
        raise InputError(f"dirty_share must be in [0, 0.5) (0.02 = 2 %), got {dirty_share}")


def _catchment_population(
    facilities: pd.DataFrame, population: pd.DataFrame, catchment: pd.Series
) -> pd.Series:
    for col in ("id", "name", "tier"):
        if col not in facilities.columns:
            raise InputError(f"facilities lack column {col!r}; simulate needs id, name and tier")
    for col in ("id", "population"):
        if col not in population.columns:
            raise InputError(f"population lacks column {col!r}; simulate needs id and population")
    persons = pd.Series(population["population"].to_numpy(float), index=population["id"])
    served = catchment.reindex(persons.index)
    pop = persons.groupby(served.astype(str).where(served.notna())).sum()
    ids = facilities["id"].astype(str)
    return pop.reindex(ids, fill_value=0.0).rename("population").rename_axis("facility_id")


def _hourly_rates(
    pop: np.ndarray,
    hours: int,
    visits_per_person_year: float,
    surges: Sequence[Surge],
    facility_ids: list[str],
) -> np.ndarray:
    """λ (visits/hour), facilities × hours of the period (local hour 0 = the start day)."""
    h = np.arange(hours)
    profile = weekly_profile()[(h // 24) % 7] * daily_profile()[h % 24]
    rate = pop[:, None] * visits_per_person_year / 8760.0 * profile[None, :]
    for surge in surges:
        if surge.kind == "outbreak":
            rows = surge.rows(facility_ids)
            rate[rows, surge.start_hour : surge.start_hour + surge.hours] *= surge.factor
    return rate


def _arrivals(
    rng: np.random.Generator,
    rate: np.ndarray,
    facility_ids: list[str],
    population: pd.DataFrame,
    catchment: pd.Series,
    surges: Sequence[Surge],
) -> pd.DataFrame:
    """Poisson arrivals per facility and hour, with age, acuity and origin cell."""
    counts = rng.poisson(rate)
    fac_idx, hour_idx = np.nonzero(counts)
    reps = counts[fac_idx, hour_idx]
    fac = np.repeat(fac_idx, reps)
    t = (np.repeat(hour_idx, reps) + rng.random(reps.sum())) * 60.0
    acuity = rng.choice(5, size=fac.size, p=_ACUITY_MIX) + 1
    extra = [s.casualties(rng, facility_ids) for s in surges if s.kind == "accident"]
    for ef, et, ea in extra:
        fac, t, acuity = np.r_[fac, ef], np.r_[t, et], np.r_[acuity, ea]
    band = rng.choice(_AGE_SHARES.size, size=fac.size, p=_AGE_SHARES)
    age = _AGE_EDGES[band] + rng.random(fac.size) * (_AGE_EDGES[band + 1] - _AGE_EDGES[band])
    origin = _origin_cells(rng, fac, facility_ids, population, catchment)
    order = np.lexsort((t, fac))
    return pd.DataFrame(
        {
            "facility_id": np.asarray(facility_ids, dtype=object)[fac[order]],
            "t_arrival": t[order],
            "acuity": acuity[order],
            "age": np.floor(age[order]),
            "origin_cell": origin[order],
        }
    )


def _origin_cells(
    rng: np.random.Generator,
    fac: np.ndarray,
    facility_ids: list[str],
    population: pd.DataFrame,
    catchment: pd.Series,
) -> np.ndarray:
    cells = population["id"].to_numpy()
    served = catchment.reindex(cells).astype(str).where(catchment.reindex(cells).notna())
    weight = population["population"].to_numpy(float)
    out = np.empty(fac.size, dtype=object)
    for i, fid in enumerate(facility_ids):
        where = np.nonzero(fac == i)[0]
        mine = np.nonzero((served == fid).to_numpy())[0]
        if where.size and mine.size:
            p = weight[mine] / weight[mine].sum()
            out[where] = cells[mine[rng.choice(mine.size, size=where.size, p=p)]].astype(str)
    return out


def _queue_all(
    rng: np.random.Generator, visits: pd.DataFrame, plan: dict[tuple[str, str], UnitPlan]
) -> pd.DataFrame:
    """Triage, admission (or leaving) and discharge times (minutes from the start day)."""
    n = len(visits)
    acuity_i = visits["acuity"].to_numpy() - 1
    visits["t_triage"] = visits["t_arrival"] + rng.exponential(_TRIAGE_MEAN_MIN, n)
    median = visits["department"].map(_LOS_MEDIAN_H).to_numpy(float)
    los_h = median * _LOS_ACUITY_FACTOR[acuity_i] * np.exp(rng.normal(0.0, LOS_SIGMA, n))
    visits["los_min"] = los_h * 60.0
    visits["patience"] = rng.exponential(1.0, n) * _PATIENCE_MEAN_MIN[acuity_i]
    visits = visits.sort_values(["facility_id", "department", "t_triage"]).reset_index(drop=True)
    ready = visits["t_triage"].to_numpy()
    los = visits["los_min"].to_numpy()
    patience = visits["patience"].to_numpy()
    start = np.full(n, np.nan)
    groups = visits.groupby(["facility_id", "department"], sort=False).indices
    for key, rows in groups.items():
        servers = plan[key].servers_by_hour
        start[rows] = _fcfs_queue(ready[rows], los[rows], patience[rows], servers)
    visits["t_admission"] = start
    visits["t_discharge"] = start + los
    visits["t_left"] = np.where(np.isnan(start), ready + patience, np.nan)
    return visits


def _fcfs_queue(
    ready: np.ndarray, los: np.ndarray, patience: np.ndarray, servers_by_hour: np.ndarray
) -> np.ndarray:
    """Start times (minutes; NaN: left) of a first-come first-served multi-server queue.

    ``servers_by_hour[k % 24]`` servers are open in hour ``k``; a patient waits until fewer
    patients are in service than servers are open, or leaves once the wait exceeds patience.
    """
    ends: list[float] = []  # sorted end times of patients in service
    last_start = -math.inf
    out = np.full(ready.size, np.nan)
    for i in range(ready.size):
        t = max(ready[i], last_start)
        give_up = ready[i] + patience[i]
        while True:
            k = bisect.bisect_right(ends, t)
            if len(ends) - k < servers_by_hour[int(t // 60) % 24]:
                break
            next_hour = (t // 60 + 1) * 60
            t = min(ends[k], next_hour) if k < len(ends) else next_hour
            if t > give_up:
                break
        if t > give_up:
            continue
        out[i] = t
        last_start = t
        del ends[: bisect.bisect_right(ends, t)]
        bisect.insort(ends, t + los[i])
    return out


def _visit_events(visits: pd.DataFrame, hours: int, facilities: pd.DataFrame) -> pd.DataFrame:
    """Long table of events (one row per event) that happen before the end of the period."""
    end = hours * 60.0
    visits = visits.sort_values("t_arrival").reset_index(drop=True)
    visits["visit_id"] = [f"V{i:07d}" for i in range(1, len(visits) + 1)]
    kinds = {
        "arrival": "t_arrival",
        "triage": "t_triage",
        "admission": "t_admission",
        "discharge": "t_discharge",
        "left": "t_left",
    }
    parts = []
    for kind, col in kinds.items():
        part = visits[["visit_id", "facility_id", "department", col]].rename(columns={col: "t_min"})
        part["event_type"] = kind
        part["acuity"] = visits["acuity"] if kind == "triage" else np.nan
        part["age"] = visits["age"] if kind == "arrival" else np.nan
        part["origin_cell"] = visits["origin_cell"] if kind == "arrival" else None
        parts.append(part[part["t_min"].notna() & (part["t_min"] < end)])
    events = pd.concat(parts, ignore_index=True).sort_values(["t_min", "visit_id"])
    events["event_id"] = [f"E{i:08d}" for i in range(1, len(events) + 1)]
    hospital = facilities.set_index(facilities["id"].astype(str))["tier"].astype(str)
    events["utc_clock"] = events["facility_id"].map(hospital.str.contains("Tier3|Tier4"))
    events["deliver_min"] = events["t_min"]
    return events.reset_index(drop=True)


def _add_dirt(
    rng: np.random.Generator,
    events: pd.DataFrame,
    share: float,
    plan: dict[tuple[str, str], UnitPlan],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from accessplan.flows.simulate_units import inject_dirt

    return inject_dirt(rng, events, share, plan, DIRTY_KINDS)


def _order_for_delivery(events: pd.DataFrame, start_day: pd.Timestamp) -> pd.DataFrame:
    day = np.floor(events["deliver_min"].to_numpy() / 1440.0).astype(int)
    days = start_day + pd.to_timedelta(day, unit="D")
    events["file"] = days.strftime("events-%Y-%m-%d")
    events = events.sort_values(["file", "deliver_min", "event_id"]).reset_index(drop=True)
    events["position"] = events.groupby("file").cumcount() + 1
    return events


def _with_timestamps(events: pd.DataFrame, start_day: pd.Timestamp) -> pd.DataFrame:
    """ISO 8601 text: hospitals' clocks in UTC (``Z``), others in local time (``+03:00``)."""
    minutes = events["t_min"].to_numpy(float)
    local = np.datetime64(start_day.to_datetime64(), "s") + np.round(minutes * 60).astype(
        "timedelta64[s]"
    )
    utc = local - np.timedelta64(LOCAL_UTC_OFFSET_H, "h")
    text = np.where(
        events["utc_clock"].to_numpy(bool),
        np.char.add(np.datetime_as_string(utc, unit="s"), "Z"),
        np.char.add(np.datetime_as_string(local, unit="s"), f"+{LOCAL_UTC_OFFSET_H:02d}:00"),
    )
    bad = events["bad_timestamp"].notna().to_numpy()
    events["timestamp"] = np.where(bad, events["bad_timestamp"], text)
    columns = ["_row", "file", "position", *EVENT_FIELDS, "t_min", "deliver_min"]
    return events[columns]


def _reference_facilities(facilities: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "facility_id": facilities["id"].astype(str).to_numpy(),
            "name": facilities["name"].astype(str).to_numpy(),
            "tier": facilities["tier"].astype(str).to_numpy(),
        }
    )
