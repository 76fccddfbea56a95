"""Many scenarios at once: :func:`run_batch`, and :func:`format_table` for plain-text tables."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from accessplan._sanitize import write_csv
from accessplan.errors import AccessplanError, ScenarioError
from accessplan.outputs import output_folder
from accessplan.scenario.config import Scenario
from accessplan.scenario.result import SERVED_METRIC

if TYPE_CHECKING:
    from accessplan.compute import ClientLike

__all__ = ["format_table", "run_batch"]


def format_table(frame: pd.DataFrame) -> str:
    """A DataFrame as an aligned plain-text table with readable numbers."""

    def fmt(v: Any) -> str:
        if isinstance(v, bool | np.bool_):
            return str(v)
        if isinstance(v, int | np.integer):
            return f"{v:,}"
        if isinstance(v, float | np.floating):
            x = float(v)
            if not np.isfinite(x):
                return "—" if np.isnan(x) else ("+inf" if x > 0 else "-inf")
            return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.3g}" if abs(x) < 1 else f"{x:,.2f}"
        return str(v)

    cols = list(frame.columns)
    rows = [[fmt(v) for v in row] for row in frame.itertuples(index=False)]
    widths = [
        max(len(str(c)), *(len(r[i]) for r in rows)) if rows else len(str(c))
        for i, c in enumerate(cols)
    ]
    header = "  ".join(str(c).ljust(w) for c, w in zip(cols, widths, strict=True))
    # Numbers align right, text (the first column, names, reasons) aligns left.
    numeric = [
        i > 0 and pd.api.types.is_numeric_dtype(frame.dtypes.iloc[i]) for i in range(len(cols))
    ]
    body = [
        "  ".join(
            (v.rjust(w) if numeric[i] else v.ljust(w))
            for i, (v, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    return "\n".join([header, "-" * len(header), *body])


def _run_one(path: str, out_dir: str, in_task: bool = False) -> dict[str, Any]:
    """Run one scenario file into ``out_dir``; never raises (the error is reported).

    ``in_task``: the run is a task on a Dask cluster, so it runs in this process whatever its
    ``[compute]`` section asks.
    """
    t0 = time.perf_counter()
    row: dict[str, Any] = {"scenario": path}
    try:
        scenario = Scenario.from_toml(path)
        if in_task:
            from accessplan.scenario.run import Runner

            result = Runner(scenario, progress=False).run()
        else:
            result = scenario.run(progress=False)
        result.write(out_dir)
        plan = result.plan
        summary = result.summary_table().set_index("metric")
        mean_row = summary.index[summary.index.str.startswith("Access, population-weighted")][0]
        counts = plan.new_sites["type"].value_counts()
        row.update(
            status="ok",
            name=scenario.name,
            model=scenario.config["plan"]["model"],
            budget=scenario.config["plan"]["budget"],
            new_clinic=int(counts.get("clinic", 0)),
            new_robotic=int(counts.get("robotic", 0)),
            new_digital=int(counts.get("digital", 0)),
            cost=plan.cost,
            served_before=summary.loc[SERVED_METRIC, "before"],
            served_after=summary.loc[SERVED_METRIC, "after"],
            plan_covered_population=plan.covered_population,
            access_before=summary.loc[mean_row, "before"],
            access_after=summary.loc[mean_row, "after"],
            access_pct_change=summary.loc[mean_row, "pct_change"],
            gap=plan.gap,
            error="",
        )
    except AccessplanError as exc:
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # one broken scenario must not stop the batch
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    row["seconds"] = time.perf_counter() - t0
    row["out"] = out_dir
    return row


def _paths_in(out: Path, work: Path, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with paths inside the temporary batch folder ``work`` given inside ``out``."""
    row["out"] = str(row["out"]).replace(str(work), str(out), 1)
    row["error"] = str(row.get("error", "")).replace(str(work), str(out))
    return row


def _run_on_cluster(
    client: ClientLike,
    paths: list[str],
    targets: list[str],
    rows: dict[str, dict[str, Any]],
    finish: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """One task per scenario on the cluster; each row, finished, into ``rows`` by path."""
    from accessplan.compute import scenario_cluster

    with scenario_cluster({}, client) as dask:
        assert dask is not None
        futures = [
            dask.submit(_run_one, p, t, True, pure=False)
            for p, t in zip(paths, targets, strict=True)
        ]
        for p, row in zip(paths, dask.gather(futures), strict=True):
            rows[p] = finish(row)


def run_batch(
    scenarios: Iterable[str | Path],
    out_dir: str | Path,
    *,
    jobs: int = 1,
    progress: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    replace: bool = False,
    client: ClientLike | None = None,
) -> pd.DataFrame:
    """Run many scenario files, ``jobs`` at a time, each into ``out_dir/<file stem>/``.

    With a Dask ``client`` (or scheduler address) each scenario is one task on the cluster
    instead (``jobs`` is then not used); the workers write into the output folder, so on
    several machines it must be on storage they share.

    A scenario that fails is reported in the summary (``status`` = ``"failed"`` with its
    ``error``) and does not stop the others. Writes ``out_dir/batch_summary.csv`` and, when
    budgets differ, ``out_dir/budget_coverage.png``. Like one scenario's outputs, ``out_dir``
    appears complete (with ``manifest.json``) or not at all, and a folder that already holds
    files is refused unless ``replace`` is true (see :func:`accessplan.outputs.output_folder`).

    Returns
    -------
    pandas.DataFrame
        One row per scenario, in the order given.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed

    paths = [str(Path(p)) for p in scenarios]
    if not paths:
        raise ScenarioError("batch: give at least one scenario file.")
    stems = [Path(p).stem for p in paths]
    if len(set(stems)) != len(stems):
        raise ScenarioError("batch: two scenario files share a name; output folders would clash.")
    if jobs < 1:
        raise ScenarioError(f"batch: jobs must be >= 1, got {jobs}.")
    out = Path(out_dir)
    describe = {"kind": "batch", "scenarios": paths}
    with output_folder(out, replace=replace, describe=describe, protect=paths) as work:
        targets = [str(work / s) for s in stems]
        rows: dict[str, dict[str, Any]] = {}
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(paths), desc="scenarios", unit="scenario")
        if client is not None:
            _run_on_cluster(client, paths, targets, rows, lambda row: _paths_in(out, work, row))
            for p in paths:
                if bar is not None:
                    bar.update(1)
                if on_result:
                    on_result(rows[p])
        elif jobs == 1:
            for p, t in zip(paths, targets, strict=True):
                rows[p] = _paths_in(out, work, _run_one(p, t))
                if bar is not None:
                    bar.update(1)
                if on_result:
                    on_result(rows[p])
        else:
            import multiprocessing as mp

            context = mp.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                futures = {
                    pool.submit(_run_one, p, t): p for p, t in zip(paths, targets, strict=True)
                }
                for fut in as_completed(futures):
                    rows[futures[fut]] = _paths_in(out, work, fut.result())
                    if bar is not None:
                        bar.update(1)
                    if on_result:
                        on_result(rows[futures[fut]])
        if bar is not None:
            bar.close()
        summary = pd.DataFrame([rows[p] for p in paths])
        write_csv(summary, work / "batch_summary.csv", index=False)
        ok = summary[summary["status"] == "ok"]
        if len(ok) > 1 and ok["budget"].nunique() > 1:
            from accessplan.figures import plot_budget_coverage

            plot_budget_coverage(
                ok.sort_values("budget"),
                work / "budget_coverage.png",
                coverage="served_after",
                coverage_label="Persons served within the standard",
                baseline=float(ok["served_before"].iloc[0]),
            )
    return summary
