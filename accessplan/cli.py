"""The ``accessplan`` command: ``demo``, ``run`` and ``batch``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from accessplan.errors import AccessplanError

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="accessplan",
        description=(
            "Where to add care and how much better access gets: travel-time accessibility, "
            "location models for clinics, robotic and digital units, and offline before/after "
            "maps and reports."
        ),
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="run the built-in scenario on the embedded region (Ngazidja, Comoros)",
        description=(
            "Baseline accessibility on the embedded region, then a budgeted plan adding clinics, "
            "robotic and digital units, then accessibility after; writes every output and prints "
            "the headline table."
        ),
    )
    demo.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    demo.add_argument("--budget", type=float, default=None, help="budget for new units")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")

    run = sub.add_parser(
        "run",
        help="run one scenario file",
        description="Run one TOML scenario file and write its outputs to --out.",
    )
    run.add_argument("scenario", type=Path, help="scenario TOML file")
    run.add_argument("--out", type=Path, required=True, help="output folder")
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    batch = sub.add_parser(
        "batch",
        help="run many scenario files in parallel (e.g. a budget sweep)",
        description=(
            "Run many scenarios in parallel; each writes to OUT/<scenario name>/, a failing "
            "scenario is reported and does not stop the others, and OUT/batch_summary.csv "
            "compares them."
        ),
    )
    batch.add_argument("scenarios", type=Path, nargs="+", help="scenario TOML files")
    batch.add_argument("--out", type=Path, required=True, help="output folder")
    batch.add_argument("--jobs", type=int, default=1, help="scenarios run at once (processes)")
    batch.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``accessplan`` command; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from accessplan import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    from accessplan import scenario

    try:
        if args.command == "demo":
            result = scenario.Scenario.demo(budget=args.budget).run(progress=not args.quiet)
            result.write(args.out)
            print(result.headline_table())
            print(f"\nOutputs written to {args.out}/")
            return 0
        if args.command == "run":
            result = scenario.Scenario.from_toml(args.scenario).run(progress=not args.quiet)
            result.write(args.out)
            print(result.headline_table())
            print(f"\nOutputs written to {args.out}/")
            return 0
        if args.command == "batch":
            summary = scenario.run_batch(
                args.scenarios, args.out, jobs=args.jobs, progress=not args.quiet
            )
            print(scenario.format_table(summary))
            failed = int((summary["status"] != "ok").sum())
            print(
                f"\n{len(summary) - failed} of {len(summary)} scenarios succeeded; "
                f"summary in {args.out}/batch_summary.csv"
            )
            return 1 if failed else 0
    except AccessplanError as exc:
        print(f"accessplan: error: {exc}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
