"""The ``accessplan sensitivity`` command (listed in ``accessplan.cli._COMMAND_MODULES``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from accessplan._sanitize import terminal_text

__all__ = ["add_commands"]


def add_commands(sub: Any, common: argparse.ArgumentParser) -> dict[str, Any]:
    """Add ``sensitivity`` to the subcommands; return its handler."""
    parser = sub.add_parser(
        "sensitivity",
        parents=[common],
        help="re-run a scenario over draws of its inputs and report intervals",
        description=(
            "Run the scenario as written and once per draw of its [sensitivity] distributions "
            "(demand, road speeds, capacities, digital uptake), seeded; write intervals of the "
            "headline numbers and how often each candidate site is chosen (CSV and "
            "sensitivity.html) to --out, which appears complete or not at all."
        ),
    )
    parser.add_argument("scenario", type=Path, help="scenario TOML file with [sensitivity]")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--replace", action="store_true", help="replace an output folder that holds files"
    )
    parser.add_argument("--draws", type=int, default=None, help="override [sensitivity] draws")
    parser.add_argument("--seed", type=int, default=None, help="override [sensitivity] seed")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler", default=None, help="run the draws on the Dask scheduler at this address"
    )
    where.add_argument(
        "--local-workers",
        type=int,
        default=None,
        help="run the draws on a Dask cluster of this many processes started here",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    return {"sensitivity": _sensitivity}


def _sensitivity(args: argparse.Namespace) -> int:
    from accessplan.compute import cluster
    from accessplan.errors import AccessplanError
    from accessplan.outputs import check_output_dir, scenario_input_paths
    from accessplan.scenario import Scenario
    from accessplan.sensitivity.analysis import run_sensitivity

    scenario = Scenario.from_toml(args.scenario)
    inputs = scenario_input_paths(scenario.config, source=args.scenario)
    try:  # a folder that cannot receive the outputs is a bad command line (status 2)
        check_output_dir(args.out, replace=args.replace, protect=inputs)
    except AccessplanError as exc:
        print(f"accessplan: error: {terminal_text(str(exc))}", file=sys.stderr)
        return 2
    with cluster(args.scheduler, local_workers=args.local_workers) as client:
        analysis = run_sensitivity(
            scenario, draws=args.draws, seed=args.seed, client=client, progress=not args.quiet
        )
    analysis.write(args.out, replace=args.replace)
    lower, upper = analysis.percentiles
    _say(
        f"{scenario.name}: {len(analysis.factors)} draws; after the plan, the base run, the "
        f"mean of the draws and their {lower:g}th and {upper:g}th percentiles\n"
    )
    _say(analysis.table())
    _say(f"\nOutputs written to {os.path.join(args.out, '')}")
    return 0


def _say(text: str) -> None:
    """Print text that may hold data (names from the scenario) without control characters."""
    print(terminal_text(text))
