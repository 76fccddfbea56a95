"""``accessplan operate``: a scenario file with an ``[operations]`` section, run and written.

.. code-block:: toml

    [scenario]
    name = "Ngazidja: a fortnight of operations"
    seed = 0

    [inputs]
    region = "ngazidja"

    [operations]
    days = 14                 # simulated days
    policy = "rolling_robust" # rolling | rolling_robust | proportional | static
    horizon = 24              # periods per solve
    stream = "patient_flows"  # patient_flows | poisson
    surges = 4                # outbreaks in each stream

The other sections are validated as in every scenario (:mod:`accessplan.scenario.schema`);
every key of ``[operations]`` is listed in :data:`OPERATIONS_KEYS` with its type, default and
meaning, and a bad one is an error naming it. The run builds the region's network (transfer
times from its road network), simulates a demand stream with surges (patient flows through the
flows database, :mod:`accessplan.operations.flow_stream`, or Poisson), runs the chosen policy
and (with ``compare``) every policy over ``seeds`` streams, and writes the outputs into a
folder that appears complete or not at all (:func:`accessplan.outputs.output_folder`).
"""

from __future__ import annotations

import json
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from accessplan._sanitize import write_csv
from accessplan.errors import ScenarioError
from accessplan.operations.evaluate import POLICIES, Evaluation, evaluate_policies
from accessplan.operations.report import operations_report
from accessplan.operations.rolling import Network, RollingConfig, RollingResult
from accessplan.scenario.schema import Key, check_value, suggest, validate_scenario_dict

__all__ = ["OPERATIONS_KEYS", "OperationsRun", "read_operations_file", "run_operations"]

_NUM = (int, float)

OPERATIONS_KEYS: dict[str, Key] = {
    "days": Key(_NUM, 14.0, "Simulated days.", minimum=0.05, maximum=366),
    "period_minutes": Key(_NUM, 60.0, "Length of a period, minutes.", minimum=5, maximum=1440),
    "policy": Key((str,), "rolling_robust", "Policy whose run is reported.", choices=POLICIES),
    "compare": Key((bool,), True, "Also run every policy on the same streams (the table)."),
    "seeds": Key((int,), 1, "Streams of the comparison (seed, seed + 1, ...).", minimum=1),
    "horizon": Key((int,), 24, "Periods per solve.", minimum=1),
    "replan_every": Key((int,), 4, "Scheduled re-plan interval, periods.", minimum=1),
    "threshold": Key(
        _NUM,
        0.25,
        "Relative deviation of one facility's demand from its forecast, beyond the forecast "
        "interval, that re-plans.",
        minimum=0,
    ),
    "hysteresis": Key(_NUM, 0.5, "Share below threshold that re-arms the trigger.", minimum=0),
    "time_limit": Key(_NUM, 10.0, "Seconds per solve before the proportional rule.", minimum=0.01),
    "gap": Key(_NUM, 1e-4, "Relative MIP gap accepted.", minimum=0, maximum=1),
    "quantiles": Key(
        (int,), 5, "Quantile scenarios of the rolling_robust policy.", minimum=1, maximum=50
    ),
    "equity": Key((bool,), True, "Hold the equity band on critical types."),
    "equity_band": Key(
        _NUM, 0.3, "Largest spread of unmet shares of critical demand (0–1).", minimum=0, maximum=1
    ),
    "smoothing": Key(_NUM, 0.1, "Cost per unit of change of a facility's units.", minimum=0),
    "neighbours": Key((int,), 4, "Transfer arcs from each facility to its nearest.", minimum=1),
    "mode": Key((str,), "drive", "Travel mode of the transfer times.", choices=("drive",)),
    "fixed_share": Key(_NUM, 0.75, "Fixed units as a share of mean demand.", minimum=0),
    "pool_share": Key(_NUM, 0.5, "Mobile pool as a share of total mean demand.", minimum=0),
    "ramp_share": Key(_NUM, 0.25, "Ramp limit as a share of mean demand per period.", minimum=0),
    "stream": Key(
        (str,),
        "patient_flows",
        "Demand: simulated patient flows through the flows database, or Poisson around the mean.",
        choices=("patient_flows", "poisson"),
    ),
    "history_days": Key(
        (int,), 7, "Days of patient flows before the run the forecasts learn from.", minimum=1
    ),
    "visits_per_person_year": Key(
        _NUM, 0.6, "Visits per person per year of the patient flows.", minimum=0.001
    ),
    "surges": Key((int,), 4, "Surges in each stream.", minimum=0),
    "surge_factor": Key(_NUM, 2.0, "Demand multiplier during a surge.", minimum=1),
    "surge_hours": Key(_NUM, 24.0, "Length of a surge, hours.", minimum=1),
    "surge_facilities": Key((int,), 3, "Facilities hit by each surge.", minimum=1),
}


def validate_operations(given: Any, source: str) -> dict[str, Any]:
    """The ``[operations]`` table checked and completed with defaults."""
    where = f"{source} [operations]"
    if not isinstance(given, dict):
        raise ScenarioError(f"{source}: [operations] must be a table, got {given!r}.")
    out = {}
    for name, value in given.items():
        if name not in OPERATIONS_KEYS:
            raise ScenarioError(
                f"{source}: unknown key {name!r} in [operations]."
                + suggest(name, list(OPERATIONS_KEYS))
            )
        out[name] = check_value(where, name, value, OPERATIONS_KEYS[name])
    full = {name: out.get(name, key.default) for name, key in OPERATIONS_KEYS.items()}
    if full["hysteresis"] >= 1:
        raise ScenarioError(f"{where}: hysteresis = {full['hysteresis']!r} must be < 1.")
    if full["stream"] == "patient_flows" and float(full["period_minutes"]) != 60.0:
        raise ScenarioError(
            f"{where}: stream = 'patient_flows' needs period_minutes = 60 (hourly), got "
            f"{full['period_minutes']!r}; set period_minutes = 60 or stream = 'poisson'."
        )
    return full


def read_operations_file(path: str | Path) -> dict[str, Any]:
    """Read a scenario file with ``[operations]``: every section validated, defaults filled."""
    path = Path(path)
    if not path.exists():
        raise ScenarioError(f"scenario file {str(path)!r} does not exist.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}.") from exc
    if "operations" not in raw:
        raise ScenarioError(
            f"{path}: no [operations] section; add one (every key is optional, e.g. days = 14)."
        )
    rest = {k: v for k, v in raw.items() if k != "operations"}
    config: dict[str, Any] = validate_scenario_dict(rest, source=str(path), base=path.parent)
    if any(config["inputs"].get(k) for k in ("roads", "population", "facilities")):
        raise ScenarioError(
            f"{path} [inputs]: operate runs on an embedded region; remove roads, population and "
            "facilities and give region = 'ngazidja'."
        )
    if config["inputs"]["region"] != "ngazidja":
        raise ScenarioError(
            f"{path} [inputs]: region = {config['inputs']['region']!r}; operate needs a region "
            "with facility points and roads: region = 'ngazidja'."
        )
    config["operations"] = validate_operations(raw["operations"], str(path))
    return config


@dataclass
class OperationsRun:
    """A finished ``operate`` run: the reported policy's result, the comparison and inputs."""

    name: str
    config: dict[str, Any]
    network: Network
    lonlat: np.ndarray
    result: RollingResult
    evaluation: Evaluation
    seconds: float

    def headline(self) -> str:
        """A few lines for the terminal: the run and the comparison table."""
        ops = self.config["operations"]
        r = self.result
        lines = [
            f"{self.name}: {ops['policy']} over {r.demand.shape[0]} periods of "
            f"{ops['period_minutes']:g} min, {len(self.network.facilities)} facilities × "
            f"{len(self.network.types)} types, {len(self.evaluation.stream.surges)} surges "
            f"({self.seconds:.1f} s)",
            "",
            self.evaluation.formatted().to_string(),
        ]
        return "\n".join(lines)

    def write(self, out_dir: str | Path, *, replace: bool = False) -> dict[str, Path]:
        """Write CSVs, ``operations.html`` and the manifest; the folder is complete or untouched."""
        from accessplan.outputs import output_folder, scenario_hash

        target = Path(out_dir)
        describe = {
            "kind": "operations",
            "scenario": self.name,
            "scenario_hash": scenario_hash(self.config),
        }
        written: dict[str, Path] = {}
        with output_folder(target, replace=replace, describe=describe) as folder:
            for name, frame in self.tables().items():
                written[name] = write_csv(frame, folder / f"{name}.csv", index=False)
            page = operations_report(
                self.result,
                self.lonlat,
                title=self.name,
                comparison=self.evaluation.formatted(),
                attribution="Roads and facilities © OpenStreetMap contributors (ODbL); "
                "facilities: WHO/KEMRI public health facilities list (2019)",
                notes=[self.describe_stream()],
            )
            (folder / "operations.html").write_text(page, encoding="utf-8")
            written["report"] = folder / "operations.html"
            (folder / "scenario.json").write_text(
                json.dumps(self.config, indent=2, default=str), encoding="utf-8"
            )
            written["scenario"] = folder / "scenario.json"
        return {k: target / v.name for k, v in written.items()}

    def describe_stream(self) -> str:
        stream = self.evaluation.stream
        hits = "; ".join(
            f"from period {s.start} for {s.periods} periods × {s.factor:g} at "
            + ", ".join(str(self.network.facilities[i]) for i in s.facilities)
            for s in stream.surges
        )
        ops = self.config["operations"]
        source = (
            "patient flows (simulated events through the flows database)"
            if ops["stream"] == "patient_flows"
            else "Poisson demand around the mean"
        )
        shown = (
            f"The cards, heatmaps, map, charts and decisions show the {ops['policy']} policy on "
            f"the stream of seed {self.config['scenario']['seed']}"
        )
        if ops["compare"]:
            shown += f"; the table compares every policy over {ops['seeds']} stream(s)"
        return f"{shown}. Demand: {source}; surges: {hits or 'none'}."

    def tables(self) -> dict[str, pd.DataFrame]:
        """The CSV outputs as tables."""
        r, net = self.result, self.network
        periods = r.demand.shape[0]
        idx = pd.MultiIndex.from_product(
            [range(periods), [str(f) for f in net.facilities], [t.name for t in net.types]],
            names=["period", "facility", "type"],
        )
        allocation = pd.DataFrame(
            {
                "demand": r.demand.ravel(),
                "forecast": r.forecast.ravel(),
                "mobile": r.mobile.ravel(),
                "fixed_used": r.fixed_used.ravel(),
                "unmet": r.unmet.ravel(),
            },
            index=idx,
        ).reset_index()
        transfers = r.transfers.copy()
        for col in ("from", "to"):
            transfers[col] = transfers[col].astype(str)
        surges = pd.DataFrame(
            [
                {
                    "start": s.start,
                    "periods": s.periods,
                    "factor": s.factor,
                    "facilities": " ".join(str(net.facilities[i]) for i in s.facilities),
                }
                for s in self.evaluation.stream.surges
            ],
            columns=["start", "periods", "factor", "facilities"],
        )
        table = self.evaluation.table()
        return {
            "allocation": allocation,
            "transfers": transfers,
            "decisions": r.decisions,
            "costs": r.cost.reset_index(),
            "surges": surges,
            "comparison": table,
            "runs": self.evaluation.runs,
        }


def run_operations(
    config: dict[str, Any], *, progress: bool = False, days: float | None = None
) -> OperationsRun:
    """Run a validated configuration (:func:`read_operations_file`)."""
    from accessplan.operations.synthetic import region_network
    from accessplan.regions import load_region

    t0 = time.perf_counter()
    ops = dict(config["operations"])
    if days is not None:
        ops["days"] = check_value("--days", "days", float(days), OPERATIONS_KEYS["days"])
    config = {**config, "operations": ops}
    region = load_region(config["inputs"]["region"], aggregate=config["inputs"]["aggregate"])
    network, base = region_network(
        region,
        mode=ops["mode"],
        period_minutes=float(ops["period_minutes"]),
        neighbours=ops["neighbours"],
        fixed_share=float(ops["fixed_share"]),
        pool_share=float(ops["pool_share"]),
        ramp_share=float(ops["ramp_share"]),
        gamma=float(ops["equity_band"]) if ops["equity"] else None,
        smoothing=float(ops["smoothing"]),
    )
    periods = max(round(ops["days"] * 24 * 60 / ops["period_minutes"]), 1)
    loop = RollingConfig(
        horizon=ops["horizon"],
        replan_every=ops["replan_every"],
        threshold=float(ops["threshold"]) if ops["threshold"] > 0 else None,
        hysteresis=float(ops["hysteresis"]),
        time_limit=float(ops["time_limit"]),
        gap=float(ops["gap"]),
    )
    seed = int(config["scenario"]["seed"])
    seeds = [seed + k for k in range(ops["seeds"] if ops["compare"] else 1)]
    policies = POLICIES if ops["compare"] else (ops["policy"],)
    per_period = 60.0 / float(ops["period_minutes"])
    if progress:
        print(f"operate: {len(policies)} policies × {len(seeds)} streams of {periods} periods")
    streams = None
    if ops["stream"] == "patient_flows":
        streams = _flow_streams(region, network, base, ops, periods)
    evaluation = evaluate_policies(
        network,
        base,
        periods=periods,
        seeds=seeds,
        config=loop,
        policies=policies,
        robust_quantiles=ops["quantiles"],
        streams=streams,
        surges=ops["surges"],
        surge_factor=float(ops["surge_factor"]),
        surge_periods=max(round(ops["surge_hours"] * per_period), 1),
        surge_facilities=ops["surge_facilities"],
    )
    points = region.facilities.to_crs(4326)
    lonlat = np.column_stack([points.geometry.x.to_numpy(), points.geometry.y.to_numpy()])
    return OperationsRun(
        name=str(config["scenario"]["name"]),
        config=config,
        network=network,
        lonlat=lonlat,
        result=evaluation.results[ops["policy"]],
        evaluation=evaluation,
        seconds=time.perf_counter() - t0,
    )


def _flow_streams(
    region: Any, network: Network, base: np.ndarray, ops: dict[str, Any], periods: int
) -> Any:
    """``seed`` → the patient-flow stream of the run (random outbreaks of that seed)."""
    import math

    from accessplan.flows.catchments import region_catchments
    from accessplan.operations.flow_stream import patient_flow_stream, random_outbreaks

    days = max(math.ceil(periods / 24), 1)
    _, catchment = region_catchments(region)
    ids = [str(f) for f in network.facilities]

    def stream(seed: int) -> Any:
        outbreaks = random_outbreaks(
            ids,
            days,
            count=ops["surges"],
            factor=float(ops["surge_factor"]),
            hours=max(round(float(ops["surge_hours"])), 1),
            per_outbreak=ops["surge_facilities"],
            seed=seed,
        )
        return patient_flow_stream(
            region,
            network,
            base,
            days=days,
            history_days=ops["history_days"],
            surges=outbreaks,
            seed=seed,
            visits_per_person_year=float(ops["visits_per_person_year"]),
            catchment=catchment,
        )

    return stream
