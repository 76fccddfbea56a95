"""The :class:`Scenario` object: a validated configuration, read from TOML or built in code."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accessplan.scenario.schema import read_scenario_file, validate_scenario_dict

if TYPE_CHECKING:
    from accessplan.compute import ClientLike
    from accessplan.scenario.check import ScenarioCheck
    from accessplan.scenario.result import Result

__all__ = ["Scenario"]


@dataclass
class Scenario:
    """A validated scenario.

    Attributes
    ----------
    config
        One dict per section (``scenario``, ``inputs``, ``network``, ``access``, ``supply``,
        ``plan``, ``equity``, ``outputs``, and ``compute``, ``sensitivity``) with every key
        present; see :data:`accessplan.scenario.schema.SCHEMA` and ``RUN_SECTIONS``.
    source
        Where it came from (a file path, or ``"code"``).
    """

    config: dict[str, dict[str, Any]]
    source: str = "code"

    @classmethod
    def from_toml(cls, path: str | Path) -> Scenario:
        """Read and validate a TOML scenario file."""
        return cls(read_scenario_file(path), source=str(path))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, base: str | Path | None = None) -> Scenario:
        """Validate a scenario given as nested dicts (the TOML structure)."""
        return cls(
            validate_scenario_dict(raw, source="scenario", base=Path(base) if base else None)
        )

    @classmethod
    def demo(cls, *, budget: float | None = None) -> Scenario:
        """The built-in scenario on Ngazidja: a budget for clinics, robotic and digital units."""
        raw: dict[str, Any] = {
            "scenario": {
                "name": "Ngazidja: adding clinics, robotic and digital units under a budget",
                "description": (
                    "Baseline: the Ministry of Health facilities of Ngazidja (Grande Comore). "
                    "Plan: with a budget of clinic-equivalents, choose where to open clinics, "
                    "cheaper robotic units and digital (telemedicine) hubs so that the most "
                    "people are covered within the service standard."
                ),
            },
            "inputs": {"region": "ngazidja"},
            "plan": {"model": "budget"},
        }
        if budget is not None:
            raw["plan"]["budget"] = float(budget)
        return cls.from_dict(raw)

    @property
    def name(self) -> str:
        """The scenario's title."""
        return str(self.config["scenario"]["name"])

    def with_changes(self, **sections: dict[str, Any]) -> Scenario:
        """A copy with some keys changed, e.g. ``s.with_changes(plan={"budget": 8})``."""
        raw = copy.deepcopy(self.config)
        for section, values in sections.items():
            raw.setdefault(section, {}).update(values)
        if "supply" in raw:
            raw["supply"] = {t: dict(v) for t, v in raw["supply"].items()}
        return Scenario(validate_scenario_dict(raw, source=self.source), source=self.source)

    def check(self) -> ScenarioCheck:
        """Preflight in seconds: read the inputs, prepare the network, snap the points.

        No travel time is computed. Returns a :class:`~accessplan.scenario.check.ScenarioCheck`
        (CRS of each input, counts, persons and facilities per network component, snapping
        distances, excluded rows, warnings and errors; ``.text()`` renders it).
        """
        from accessplan.scenario.check import check_scenario

        return check_scenario(self)

    def run(self, *, progress: bool = False, client: ClientLike | None = None) -> Result:
        """Run every stage and return the :class:`Result`.

        With a Dask ``client`` (or scheduler address), or a ``[compute]`` section that asks
        for a cluster, travel times and row-separable measures run as tasks on it; the result
        is the same (see :mod:`accessplan.compute`).
        """
        from accessplan.compute import scenario_cluster
        from accessplan.scenario.run import Runner

        with scenario_cluster(self.config.get("compute", {}), client) as dask:
            return Runner(self, progress=progress, client=dask).run()
