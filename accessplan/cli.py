"""The ``accessplan`` command: ``demo``, ``run``, ``batch`` and ``check``.

Exit status: 0 done; 1 an error in the scenario, the data or the run (one line
``accessplan: error: ...``, the traceback only with ``--debug``); 2 a bad command line (including
an output folder that cannot receive the run, found before anything is computed); 130
interrupted (Ctrl-C), with nothing written to the output folder. Everything printed that came
from data or the scenario file is stripped of control characters and escape sequences.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accessplan._sanitize import terminal_text
from accessplan.errors import AccessplanError

if TYPE_CHECKING:
    from accessplan.scenario.result import Result

__all__ = ["main"]

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
_BUG = "this is a bug; please report it with the scenario file"


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
    parser.add_argument("--debug", action="store_true", help="print tracebacks of errors")
    # On each subcommand too; SUPPRESS keeps a top-level --debug from being reset to False.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="print tracebacks"
    )
    replace_help = (
        "replace an output folder that already holds files (an earlier run's, or any); "
        "without it such a folder is refused"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="run the built-in scenario on the embedded region (Ngazidja, Comoros)",
        description=(
            "Baseline accessibility on the embedded region, then a budgeted plan adding clinics, "
            "robotic and digital units, then accessibility after; writes every output and prints "
            "the headline table."
        ),
    )
    demo.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    demo.add_argument("--replace", action="store_true", help=replace_help)
    demo.add_argument("--budget", type=float, default=None, help="budget for new units")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")

    run = sub.add_parser(
        "run",
        parents=[common],
        help="run one scenario file",
        description=(
            "Run one TOML scenario file and write its outputs to --out: the folder appears "
            "complete, with manifest.json listing every file and its sha256, or not at all."
        ),
    )
    run.add_argument("scenario", type=Path, help="scenario TOML file")
    run.add_argument("--out", type=Path, required=True, help="output folder")
    run.add_argument("--replace", action="store_true", help=replace_help)
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    batch = sub.add_parser(
        "batch",
        parents=[common],
        help="run many scenario files in parallel (e.g. a budget sweep)",
        description=(
            "Run many scenarios in parallel; each writes to OUT/<scenario name>/, a failing "
            "scenario is reported and does not stop the others, and OUT/batch_summary.csv "
            "compares them."
        ),
    )
    batch.add_argument("scenarios", type=Path, nargs="+", help="scenario TOML files")
    batch.add_argument("--out", type=Path, required=True, help="output folder")
    batch.add_argument("--replace", action="store_true", help=replace_help)
    batch.add_argument("--jobs", type=int, default=1, help="scenarios run at once (processes)")
    batch.add_argument("--quiet", action="store_true", help="no progress bar")

    check = sub.add_parser(
        "check",
        parents=[common],
        help="check a scenario file without running it",
        description=(
            "Read and validate a scenario file and its inputs, print what a run would use, and "
            "exit with status 1 if the run would fail. With --out, check the output folder too."
        ),
    )
    check.add_argument("scenario", type=Path, help="scenario TOML file")
    check.add_argument("--out", type=Path, default=None, help="output folder to check as well")
    check.add_argument("--replace", action="store_true", help="as for run")
    for module in _command_modules():
        _COMMANDS.update(module.add_commands(sub, common))
    return parser


#: Packages that add their own subcommands: each has ``add_commands(sub, common)``, which adds
#: its parsers to ``sub`` and returns ``{command name: handler(args) -> exit status}``.
_COMMAND_MODULES: tuple[str, ...] = (
    "accessplan.sensitivity.cli",
    "accessplan.flows.cli",
    "accessplan.operations.cli",
)


def _command_modules() -> list[Any]:
    import importlib

    return [importlib.import_module(name) for name in _COMMAND_MODULES]


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
    try:
        return _COMMANDS[args.command](args)
    except AccessplanError as exc:
        _debug_traceback(args)
        _error(str(exc))
        return 1
    except KeyboardInterrupt:
        out = getattr(args, "out", None)
        where = f"; no output written to {out}" if out is not None else ""
        print(terminal_text(f"accessplan: interrupted{where}"), file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # reading an input the checks could not foresee
        _debug_traceback(args)
        what = f" {os.fsdecode(exc.filename)}" if exc.filename is not None else ""
        _error(f"cannot use{what}: {exc.strerror or exc}. Check the file and try again.")
        return 1
    except Exception as exc:
        _debug_traceback(args)
        hint = "" if args.debug else " (rerun with --debug for the traceback)"
        _error(f"unexpected {type(exc).__name__}: {exc}; {_BUG}{hint}")
        return 1


# ------------------------------------------------------------------------------ commands
def _demo(args: argparse.Namespace) -> int:
    from accessplan.scenario import Scenario

    if not _output_folder_ok(args.out, args.replace, ()):
        return 2
    result = Scenario.demo(budget=args.budget).run(progress=not args.quiet)
    result.write(args.out, replace=args.replace)
    _print_result(result, args.out)
    return 0


def _run(args: argparse.Namespace) -> int:
    from accessplan.outputs import scenario_input_paths
    from accessplan.scenario import Scenario

    scenario = Scenario.from_toml(args.scenario)
    inputs = scenario_input_paths(scenario.config, source=args.scenario)
    if not _output_folder_ok(args.out, args.replace, inputs):
        return 2
    result = scenario.run(progress=not args.quiet)
    result.write(args.out, replace=args.replace)
    _print_result(result, args.out)
    return 0


def _batch(args: argparse.Namespace) -> int:
    from accessplan.scenario import format_table, run_batch

    if not _output_folder_ok(args.out, args.replace, args.scenarios):
        return 2
    summary = run_batch(
        args.scenarios, args.out, jobs=args.jobs, progress=not args.quiet, replace=args.replace
    )
    _say(format_table(summary))
    failed = int((summary["status"] != "ok").sum())
    _say(
        f"\n{len(summary) - failed} of {len(summary)} scenarios succeeded; "
        f"summary in {os.path.join(args.out, 'batch_summary.csv')}"
    )
    return 1 if failed else 0


def _check(args: argparse.Namespace) -> int:
    from accessplan.outputs import scenario_input_paths
    from accessplan.scenario import Scenario

    scenario = Scenario.from_toml(args.scenario)
    report = scenario.check()
    _say(report.text())
    status = 1 if report.errors else 0
    if args.out is not None:
        inputs = scenario_input_paths(scenario.config, source=args.scenario)
        if not _output_folder_ok(args.out, args.replace, inputs):
            return 2
        _say(f"Output folder {args.out}: can be written.")
    return status


_COMMANDS: dict[str, Any] = {"demo": _demo, "run": _run, "batch": _batch, "check": _check}


# ------------------------------------------------------------------------------ helpers
def _output_folder_ok(out: Path, replace: bool, protect: Iterable[str | Path]) -> bool:
    """Check ``--out`` before anything is computed; print the error and return False if not."""
    from accessplan.outputs import check_output_dir

    try:
        check_output_dir(out, replace=replace, protect=protect)
    except AccessplanError as exc:
        _error(str(exc))
        return False
    return True


def _print_result(result: Result, out: Path) -> None:
    _say(result.headline_table())
    _say(f"\nOutputs written to {os.path.join(out, '')}")


def _say(text: str) -> None:
    """Print text that may hold data (names, file content) without control characters."""
    print(terminal_text(text))


def _error(message: str) -> None:
    """One line on stderr: ``accessplan: error: message``."""
    line = " ".join(terminal_text(message).split("\n"))
    print(f"accessplan: error: {line}", file=sys.stderr)


def _debug_traceback(args: argparse.Namespace) -> None:
    if getattr(args, "debug", False):
        traceback.print_exc()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
