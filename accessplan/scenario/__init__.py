"""Scenarios end to end: inputs → network → travel times → baseline → plan → after → outputs.

A :class:`Scenario` holds a validated configuration (from a TOML file, see
:mod:`accessplan.scenario.schema`, or built in code). :meth:`Scenario.run` returns a
:class:`Result` holding the baseline, the plan, the situation after, and the before/after
comparison; :meth:`Result.write` writes the outputs a planner hands on (GeoPackage, CSV, the
offline map and report, PNG figures). :func:`run_batch` runs many scenarios in parallel.

Modules: :mod:`~accessplan.scenario.schema` (the keys and their validation),
:mod:`~accessplan.scenario.config` (:class:`Scenario`), :mod:`~accessplan.scenario.inputs`
(reading the inputs), :mod:`~accessplan.scenario.run` (the stages),
:mod:`~accessplan.scenario.reach` (reach accounting and warnings),
:mod:`~accessplan.scenario.check` (the preflight :meth:`Scenario.check`),
:mod:`~accessplan.scenario.result` (:class:`Result`, summary tables),
:mod:`~accessplan.scenario.batch` (:func:`run_batch`, :func:`format_table`).

Units. Facility capacity is counted in **clinicians** (full-time equivalent health workers);
each measure reports in the unit of its entry in :data:`accessplan.measures.MEASURES` (the
2SFCA family in **clinicians per 10,000 persons**, nearest in minutes...). The coverage and
location models need the persons a unit can serve, converted once by
:func:`accessplan.supply.clinicians_to_persons` with ``[plan] persons_per_clinician``.
"""

from accessplan.scenario.batch import format_table, run_batch
from accessplan.scenario.check import ScenarioCheck
from accessplan.scenario.config import Scenario
from accessplan.scenario.result import Result

__all__ = ["Result", "Scenario", "ScenarioCheck", "format_table", "run_batch"]
