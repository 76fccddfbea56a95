"""Patient flows: events in, validated, modelled and forecast.

Stages, one module each: :mod:`~accessplan.flows.database` (the study's DuckDB file and its
layers), :mod:`~accessplan.flows.ingestion` (files and folders in, exactly once),
:mod:`~accessplan.flows.validate` (the rules), :mod:`~accessplan.flows.star` (visit fact and
dimensions), :mod:`~accessplan.flows.simulate` (a seeded event generator),
:mod:`~accessplan.flows.kpis` and :mod:`~accessplan.flows.forecast` (hourly KPIs, forecasts),
:mod:`~accessplan.flows.report` (offline HTML) and :mod:`~accessplan.flows.demand`
(utilisation rates per origin cell, back into planning).
"""

from accessplan.flows.database import (
    DEPARTMENTS,
    EVENT_TYPES,
    RULES,
    FlowDatabase,
    LayerCounts,
    open_database,
)
from accessplan.flows.ingestion import IngestReport, follow_folder, ingest, ingest_folder

__all__ = [
    "DEPARTMENTS",
    "EVENT_TYPES",
    "RULES",
    "FlowDatabase",
    "IngestReport",
    "LayerCounts",
    "follow_folder",
    "ingest",
    "ingest_folder",
    "open_database",
]
