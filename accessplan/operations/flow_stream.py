"""A demand stream from simulated patient flows: events → database → hourly load → units.

The rolling-horizon loop can run on the patient-flow pipeline of :mod:`accessplan.flows`
instead of the Poisson streams of :mod:`accessplan.operations.streams`:

1. :func:`accessplan.flows.simulate` draws a seeded event stream for the region's facilities
   (catchments by travel time, daily and weekly profiles, queues, lengths of stay), with
   outbreaks (``surges``), over ``history_days`` and then the ``days`` evaluated;
2. the events are written as files and ingested into a DuckDB study
   (:func:`accessplan.flows.ingest`), exactly as a health system's feed would be;
3. :func:`accessplan.flows.hourly_kpis` gives, per facility and hour, the patients present
   (``census``, in a bed at the start of the hour) and arriving (``arrivals``); their sum is
   the facility's *load* (patients);
4. every patient needs the same units of each type wherever they are: the units of type ``j``
   required at facility ``i`` in period ``t`` are ``round(load_i(t) × r_j)`` with
   ``r_j = sum_i base_ij / sum_i mean load_i`` (the history's mean), so the region's mean need
   is the network's and each facility's follows its patients: one whose catchment outgrows its
   fixed units (sized from its capacity) needs mobile units.

The forecaster knows the history only: its profile is the mean load of each hour of the day
over the history days (Monday to Friday and weekends apart when the history holds both),
scaled like the demand; the level correction, interval and surges-not-foreseen are those of
:class:`~accessplan.operations.streams.DemandStream`, with the variance-to-mean ratio measured
on the history.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from accessplan.errors import InputError
from accessplan.operations.rolling import Network
from accessplan.operations.streams import DemandStream, Surge

__all__ = ["facility_load", "patient_flow_stream", "random_outbreaks"]


def facility_load(kpis: pd.DataFrame, facilities: Sequence[str]) -> pd.DataFrame:
    """Patients present or arriving per hour (rows, UTC) and facility (columns, in
    ``facilities`` order): ``census + arrivals`` summed over the departments (patients)."""
    kpis = kpis.assign(load=kpis["census"].fillna(0) + kpis["arrivals"].fillna(0))
    wide = kpis.pivot_table(
        index="hour", columns="facility_id", values="load", aggfunc="sum", fill_value=0.0
    )
    missing = [f for f in facilities if f not in wide.columns]
    if missing:
        raise InputError(
            f"facilities {missing[:5]} have no units in the patient-flow study; simulate or "
            "ingest events for every facility of the network."
        )
    return wide.loc[:, list(facilities)].astype(float)


def patient_flow_stream(
    region: Any,
    network: Network,
    base: np.ndarray,
    *,
    days: int = 14,
    history_days: int = 7,
    surges: Sequence[Any] = (),
    seed: int = 0,
    visits_per_person_year: float = 0.6,
    interval: float = 0.9,
    catchment: pd.Series | None = None,
) -> DemandStream:
    """The demand stream of a simulated patient flow (see the module docstring).

    Parameters
    ----------
    region
        The region whose facilities and population are simulated (its facility ids are the
        network's).
    network
        The operations network (hourly periods).
    base
        Mean units required per period ``(n, m)``, e.g. from
        :func:`~accessplan.operations.synthetic.region_network`.
    days, history_days
        Days evaluated, and days before them the forecaster learns from.
    surges
        :class:`accessplan.flows.Surge` events; ``start_hour`` counts from the first day
        evaluated.
    seed
        Seed of the simulation.
    visits_per_person_year
        Visits per person per year at the catchment's facility.
    interval
        Level of the forecasts' prediction interval.
    catchment
        Facility id of each population cell (default: the nearest by drive time).

    Returns
    -------
    DemandStream
        ``demand`` and ``profile`` of the ``days × 24`` periods evaluated.
    """
    from accessplan.flows.catchments import region_catchments
    from accessplan.flows.simulator import simulate

    if float(network.period_minutes) != 60.0:
        raise InputError(
            f"network.period_minutes is {network.period_minutes}; the patient-flow stream is "
            "hourly: build the network with period_minutes=60."
        )
    if days < 1 or history_days < 1:
        raise InputError(f"days={days}, history_days={history_days}: give at least 1 each.")
    base = np.asarray(base, dtype=np.float64)
    if base.shape != (network.n, network.m):
        raise InputError(f"base has shape {base.shape}; give ({network.n}, {network.m}).")
    if catchment is None:
        _, catchment = region_catchments(region)
    offset = 24 * history_days
    shifted = [replace(s, start_hour=int(s.start_hour) + offset) for s in surges]
    sim = simulate(
        region.facilities,
        region.population,
        catchment,
        days=history_days + days,
        visits_per_person_year=visits_per_person_year,
        dirty_share=0.0,
        surges=shifted,
        seed=seed,
    )
    ids = [str(f) for f in network.facilities]
    load = _ingested_load(sim, ids, 24 * (history_days + days)).to_numpy()
    history, evaluated = load[:offset], load[offset:]
    total = float(history.mean(axis=0).sum())
    if total <= 0:
        raise InputError(
            "the simulated history has no patients; raise visits_per_person_year or history_days."
        )
    per_patient = base.sum(axis=0) / total  # units of each type per patient (m,)
    demand = np.round(evaluated[:, :, None] * per_patient)
    profile = _hourly_profile(history, history_days, days)[:, :, None] * per_patient
    expected = _hourly_profile(history, 0, history_days)[:, :, None] * per_patient
    seen = np.round(history[:, :, None] * per_patient)
    live = expected > 0.5
    dispersion = (
        float(np.mean((seen - expected)[live] ** 2 / expected[live])) if live.any() else 1.0
    )
    return DemandStream(
        demand,
        profile,
        tuple(_stream_surge(s, ids) for s in surges if s.kind == "outbreak"),
        60.0,
        interval,
        dispersion=max(dispersion, 0.1),
    )


def _ingested_load(sim: Any, facilities: list[str], hours: int) -> pd.DataFrame:
    """Write ``sim``'s events, ingest them into a fresh study and read the hourly load of the
    ``hours`` hours from the simulation's first local midnight (hours without a patient: 0)."""
    from accessplan.flows.database import open_database
    from accessplan.flows.ingestion import folder_files, ingest
    from accessplan.flows.kpis import hourly_kpis
    from accessplan.flows.simulate_units import LOCAL_UTC_OFFSET_H

    with tempfile.TemporaryDirectory(prefix="accessplan-flows-") as tmp:
        folder = Path(tmp)
        sim.write(folder / "feed")
        with open_database(folder / "study.duckdb") as db:
            db.load_reference(sim.facilities, sim.units, sim.staffing)
            ingest(db, folder_files(folder / "feed" / "events"), progress=False)
            kpis = hourly_kpis(db)
    load = facility_load(kpis, facilities)
    first = pd.Timestamp(sim.start) - pd.Timedelta(hours=LOCAL_UTC_OFFSET_H)
    grid = pd.date_range(first, periods=hours, freq="h")
    load.index = pd.DatetimeIndex(load.index).tz_localize(None)
    return load.reindex(grid, fill_value=0.0)


def _hourly_profile(history: np.ndarray, first_day: int, days: int) -> np.ndarray:
    """Mean load of each hour of the day over the history, for the ``days`` days from day
    ``first_day`` of the simulation (which starts on a Monday): weekdays and weekend days
    apart when the history holds both."""
    by_day = history.reshape(-1, 24, history.shape[1])
    weekend = (np.arange(by_day.shape[0]) % 7) >= 5
    weekday_mean = by_day[~weekend].mean(axis=0) if (~weekend).any() else by_day.mean(axis=0)
    weekend_mean = by_day[weekend].mean(axis=0) if weekend.any() else weekday_mean
    dow = (first_day + np.arange(days)) % 7
    return np.concatenate([weekend_mean if d >= 5 else weekday_mean for d in dow], axis=0)


def _stream_surge(surge: Any, facilities: list[str]) -> Surge:
    rows = surge.rows(facilities)
    return Surge(int(surge.start_hour), int(surge.hours), tuple(int(r) for r in rows), surge.factor)


def random_outbreaks(
    facilities: Sequence[str],
    days: int,
    *,
    count: int,
    factor: float,
    hours: int,
    per_outbreak: int,
    seed: int,
) -> list[Any]:
    """``count`` seeded outbreaks (:class:`accessplan.flows.Surge`) of ``hours`` hours, arrival
    rates × ``factor`` at ``per_outbreak`` random facilities each, starting at random hours of
    the ``days`` days evaluated."""
    from accessplan.flows.simulate_units import Surge as FlowSurge

    rng = np.random.default_rng(seed)
    out = []
    last = max(24 * int(days) - max(int(hours) // 2, 1), 1)
    for _ in range(int(count)):
        start = int(rng.integers(0, last))
        where = rng.choice(
            len(facilities), size=min(int(per_outbreak), len(facilities)), replace=False
        )
        chosen = tuple(str(facilities[i]) for i in where)
        out.append(
            FlowSurge("outbreak", start, int(hours), factor=float(factor), facilities=chosen)
        )
    return out
