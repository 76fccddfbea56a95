"""The simulator: arrival rates as asked, queues that respect beds, dirt caught by its rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import accessplan.flows as fl
from accessplan.flows.simulate_units import daily_profile, weekly_profile
from accessplan.flows.simulator import Simulation, Surge, simulate

NOW = dt.datetime(2024, 6, 1)


def _world() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    facilities = pd.DataFrame(
        {
            "id": ["A", "B", "C"],
            "name": ["Post A", "Centre B", "Hospital C"],
            "tier": ["Tier1 health post", "Tier2 health center", "Tier3 provincial hospital"],
        }
    )
    cells = np.arange(1, 32)
    population = pd.DataFrame({"id": cells, "population": np.where(cells <= 30, 1000.0, 5.0)})
    catchment = pd.Series(np.repeat(["A", "B", "C", None], [10, 10, 10, 1]), index=cells)
    return facilities, population, catchment


def _sim(**options: object) -> Simulation:
    facilities, population, catchment = _world()
    return simulate(facilities, population, catchment, **options)  # type: ignore[arg-type]


def test_arrivals_match_the_requested_rates() -> None:
    sim = _sim(days=14, visits_per_person_year=10.0, dirty_share=0.0, seed=3)
    expected = 10_000 * 10.0 * 14 / 365  # persons × visits/person/year × years
    assert sim.expected_arrivals.to_dict() == pytest.approx({f: expected for f in "ABC"})
    arrivals = sim.events[sim.events["event_type"] == "arrival"]
    observed = arrivals.groupby("facility_id").size()
    assert (np.abs(observed - expected) < 4 * np.sqrt(expected)).all()
    # within the day and over the week, arrivals follow the profiles (4 binomial sd)
    local = pd.to_datetime(arrivals["timestamp"], utc=True).dt.tz_convert("Indian/Comoro")
    n = len(arrivals)
    for groups, share in (
        (local.dt.hour, daily_profile() / 24),
        (local.dt.day_of_week, weekly_profile() / 7),
    ):
        counts = groups.value_counts().sort_index().to_numpy()
        sd = np.sqrt(n * share * (1 - share))
        assert (np.abs(counts - n * share) < 4 * sd).all()


def test_queues_respect_beds_and_only_less_urgent_patients_leave() -> None:
    sim = _sim(days=7, visits_per_person_year=12.0, dirty_share=0.0, seed=1)
    e = sim.events
    e = e.assign(t=pd.to_datetime(e["timestamp"], utc=True))
    visits = e.pivot_table(index="visit_id", columns="event_type", values="t", aggfunc="first")
    unit = e.groupby("visit_id")[["facility_id", "department"]].first()
    acuity = e[e["event_type"] == "triage"].set_index("visit_id")["acuity"]
    visits = visits.join(unit).join(acuity)
    beds = sim.units.set_index(["facility_id", "department"])["beds"]
    for key, part in visits.dropna(subset=["admission"]).groupby(["facility_id", "department"]):
        start = part["admission"].to_numpy()
        end = part["discharge"].fillna(part["admission"].max() + pd.Timedelta(days=1000)).to_numpy()
        in_bed = ((start[None, :] <= start[:, None]) & (end[None, :] > start[:, None])).sum(1)
        assert in_bed.max() <= beds[key]
    left = visits.dropna(subset=["left"])
    assert len(left) > 0 and (left["acuity"] >= 3).all()
    seen = visits.dropna(subset=["admission"])
    assert (seen["admission"] >= seen["triage"]).all() and (seen["triage"] >= seen["arrival"]).all()
    assert (seen["admission"] - seen["arrival"]).max() > pd.Timedelta(minutes=30)  # queues form


def test_the_same_seed_gives_the_same_events() -> None:
    a, b = _sim(days=2, seed=5), _sim(days=2, seed=5)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert not a.events.equals(_sim(days=2, seed=6).events)


def test_surges_raise_rates_and_add_casualties() -> None:
    base = _sim(days=7, dirty_share=0.0, seed=2)
    outbreak = Surge("outbreak", start_hour=48, hours=24, factor=2.0, facilities=("B",))
    accident = Surge("accident", start_hour=100, hours=2, count=15, facilities=("C",))
    surged = _sim(days=7, dirty_share=0.0, seed=2, surges=[outbreak, accident])
    ratio = surged.hourly_rate / base.hourly_rate
    share_b = base.catchment_population["B"] / base.catchment_population.sum()
    assert ratio.iloc[48:72].to_numpy() == pytest.approx(1 + share_b)
    assert ratio.drop(ratio.index[48:72]).to_numpy() == pytest.approx(1.0)
    arrivals = surged.events[surged.events["event_type"] == "arrival"]
    assert len(arrivals) > len(base.events[base.events["event_type"] == "arrival"]) + 15 - 1


@pytest.mark.parametrize("fmt", ["mixed"])
def test_every_dirty_record_is_caught_by_exactly_its_rule(tmp_path: Path, fmt: str) -> None:
    sim = _sim(days=7, visits_per_person_year=4.0, dirty_share=0.04, seed=7)
    clean = len(sim.events) - int(
        sim.dirty["rule"].isin(["duplicate", "conflicting_duplicate"]).sum()
    )
    assert len(sim.dirty) == round(0.04 * clean)
    assert set(sim.dirty["rule"]) == set(fl.RULES)
    sim.write(tmp_path / "sim", fmt=fmt)
    db = fl.open_database(tmp_path / "study.duckdb")
    db.load_reference(sim.facilities, sim.units, sim.staffing)
    db.set_setting("local_tz", "Indian/Comoro")
    fl.ingest_folder(db, tmp_path / "sim" / "events", now=NOW)
    caught = db.sql(
        "SELECT s.path, r.position, q.rule FROM quarantine q JOIN raw_events r USING (raw_id) "
        "JOIN source_files s USING (file_id)"
    )
    caught["file"] = [Path(p).name for p in caught["path"]]
    injected = pd.read_csv(tmp_path / "sim" / "dirty.csv")
    key = ["file", "position", "rule"]
    got = sorted(map(tuple, caught[key].to_numpy().tolist()))
    want = sorted(map(tuple, injected[key].to_numpy().tolist()))
    assert got == want
    counts = db.layer_counts()
    assert counts.raw == len(sim.events) and counts.balanced and db.check_invariant() == []
