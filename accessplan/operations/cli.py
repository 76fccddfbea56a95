"""The ``accessplan operate`` command (listed in ``accessplan.cli._COMMAND_MODULES``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from accessplan._sanitize import terminal_text

__all__ = ["add_commands"]


def add_commands(sub: Any, common: argparse.ArgumentParser) -> dict[str, Any]:
    """Add ``operate`` to the subcommands; return its handler."""
    parser = sub.add_parser(
        "operate",
        parents=[common],
        help="simulate rolling-horizon operations of staff, beds and mobile units",
        description=(
            "Build the region's network of facilities (transfer times from its roads), simulate "
            "demand with surges, run the [operations] policy and (compare = true) every policy "
            "side by side; write CSVs and operations.html to --out, which appears complete or "
            "not at all."
        ),
    )
    parser.add_argument("scenario", type=Path, help="scenario TOML file with [operations]")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--replace", action="store_true", help="replace an output folder that holds files"
    )
    parser.add_argument("--days", type=float, default=None, help="override [operations] days")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    return {"operate": _operate}


def _operate(args: argparse.Namespace) -> int:
    from accessplan.errors import AccessplanError
    from accessplan.operations.scenario import read_operations_file, run_operations
    from accessplan.outputs import check_output_dir

    config = read_operations_file(args.scenario)
    try:  # a folder that cannot receive the outputs is a bad command line (status 2)
        check_output_dir(args.out, replace=args.replace, protect=[args.scenario])
    except AccessplanError as exc:
        print(f"accessplan: error: {terminal_text(str(exc))}", file=sys.stderr)
        return 2
    run = run_operations(config, progress=not args.quiet, days=args.days)
    run.write(args.out, replace=args.replace)
    print(terminal_text(run.headline()))
    print(terminal_text(f"\nOutputs written to {os.path.join(args.out, '')}"))
    return 0
