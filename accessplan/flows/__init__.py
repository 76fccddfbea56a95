"""Patient flows: events in, validated, modelled and forecast.

Stages, one module each: :mod:`~accessplan.flows.database` (the study's DuckDB file and its
layers), :mod:`~accessplan.flows.ingestion` (files and folders in, exactly once),
:mod:`~accessplan.flows.validate` (the rules), :mod:`~accessplan.flows.star` (visit fact and
dimensions), :mod:`~accessplan.flows.simulator` (a seeded event generator) with
:mod:`~accessplan.flows.catchments` (nearest-facility catchments from the road engine),
:mod:`~accessplan.flows.kpis` and :mod:`~accessplan.flows.forecast` (hourly KPIs, forecasts),
:mod:`~accessplan.flows.analysis` and :mod:`~accessplan.flows.report` (the five operational
questions, offline HTML) and :mod:`~accessplan.flows.demand` (utilisation rates per origin
cell, back into planning).
"""

from accessplan.flows.catchments import nearest_facility, region_catchments
from accessplan.flows.database import (
    DEPARTMENTS,
    EVENT_TYPES,
    RULES,
    FlowDatabase,
    LayerCounts,
    open_database,
)
from accessplan.flows.demand import demand_population, facility_loads, utilisation_rates
from accessplan.flows.forecast import backtest, forecast_arrivals
from accessplan.flows.ingestion import IngestReport, follow_folder, ingest, ingest_folder
from accessplan.flows.kpis import hourly_kpis, unit_summary, visit_table
from accessplan.flows.report import write_flow_report
from accessplan.flows.simulate_units import Surge
from accessplan.flows.simulator import Simulation, simulate

__all__ = [
    "DEPARTMENTS",
    "EVENT_TYPES",
    "RULES",
    "FlowDatabase",
    "IngestReport",
    "LayerCounts",
    "Simulation",
    "Surge",
    "backtest",
    "demand_population",
    "facility_loads",
    "follow_folder",
    "forecast_arrivals",
    "hourly_kpis",
    "ingest",
    "ingest_folder",
    "nearest_facility",
    "open_database",
    "region_catchments",
    "simulate",
    "unit_summary",
    "utilisation_rates",
    "visit_table",
    "write_flow_report",
]
