"""Back into planning: observed visits per origin cell as demand, observed loads as capacity.

The accessibility measures and location models take demand per population cell (persons).
Observed patient flows give a better-informed demand: the visits that came from each cell. For a
cell *i* with population ``P_i`` (persons) and ``V_i`` visits over an observed period of ``D``
days, the utilisation rate (visits/person/year) is::

    u_i = V_i / P_i · 365 / D

and the observed demand (visits/year) is ``u_i · P_i``. :func:`demand_population` returns the
population table with its ``population`` column replaced by the observed demand, which every
measure and model accepts as it accepts persons.
"""

from __future__ import annotations

import pandas as pd

from accessplan.errors import InputError
from accessplan.flows.database import FlowDatabase

__all__ = ["demand_population", "facility_loads", "observed_days", "utilisation_rates"]


def observed_days(db: FlowDatabase) -> float:
    """Length of the observed period (days): the hours of ``dim_time`` / 24."""
    hours = int(db.scalar("SELECT count(*) FROM dim_time"))
    if hours == 0:
        raise InputError(f"study {db.path} has no visits yet; ingest events first")
    return hours / 24.0


def _visits_per_cell(db: FlowDatabase) -> pd.Series:
    rows = db.sql(
        "SELECT origin_cell, count(*) AS visits FROM fact_visit WHERE origin_cell IS NOT NULL "
        "AND arrival IS NOT NULL GROUP BY origin_cell"
    )
    return pd.Series(rows["visits"].to_numpy(float), index=rows["origin_cell"].astype(str))


def utilisation_rates(
    db: FlowDatabase,
    population: pd.DataFrame,
    *,
    id_col: str = "id",
    population_col: str = "population",
) -> pd.Series:
    """Visits per person per year from each population cell (visits/person/year).

    Parameters
    ----------
    db
        A study with ingested visits whose ``origin_cell`` holds the population cell ids.
    population
        The region's population cells (e.g. ``accessplan.load_region().population``).
    id_col, population_col
        Cell id and population (persons) columns.

    Returns
    -------
    pandas.Series
        Indexed by ``population[id_col]`` in its order: 0 for a cell with persons and no
        visits, NaN for a cell without persons.
    """
    for col in (id_col, population_col):
        if col not in population.columns:
            raise InputError(f"population lacks column {col!r}; pass id_col/population_col")
    ids = population[id_col]
    persons = pd.Series(population[population_col].to_numpy(float), index=ids)
    visits = _visits_per_cell(db).reindex(ids.astype(str).to_numpy()).fillna(0.0).to_numpy()
    rate = visits / persons.where(persons > 0) * 365.0 / observed_days(db)
    return pd.Series(
        rate.to_numpy(), index=pd.Index(ids, name=id_col), name="visits_per_person_year"
    )


def demand_population(
    population: pd.DataFrame,
    rates: pd.Series,
    *,
    id_col: str = "id",
    population_col: str = "population",
) -> pd.DataFrame:
    """``population`` with ``population_col`` replaced by observed demand (visits/year).

    The original persons are kept in ``persons``. Cells without a rate (no persons) get 0.
    """
    out = population.copy()
    rate = rates.reindex(out[id_col]).fillna(0.0).to_numpy()
    out["persons"] = out[population_col]
    out[population_col] = out[population_col].to_numpy(float) * rate
    return out


def facility_loads(db: FlowDatabase) -> pd.DataFrame:
    """Observed load per facility × department: visits per day, peak census and beds.

    ``visits_per_day`` (visits/day), ``census_p90`` and ``census_max`` (patients in beds at hour
    starts), ``beds`` — to check or set capacities in the planning models.
    """
    from accessplan.flows.kpis import hourly_kpis

    kpis = hourly_kpis(db)
    days = observed_days(db)
    g = kpis.groupby(["facility_id", "department"])
    return pd.DataFrame(
        {
            "visits_per_day": g["arrivals"].sum() / days,
            "census_p90": g["census"].quantile(0.9),
            "census_max": g["census"].max(),
            "beds": g["beds"].first(),
        }
    ).reset_index()
