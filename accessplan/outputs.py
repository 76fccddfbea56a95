"""Writing a scenario's outputs: GeoPackage, CSV, offline map and report, PNG figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["write_outputs"]


def write_outputs(result: Any, out_dir: Path) -> dict[str, Path]:
    """Write every output of ``result`` (a :class:`~accessplan.scenario.Result`) to ``out_dir``.

    Files: ``accessibility.gpkg`` (per cell: population, before, after, change, minutes),
    ``plan.gpkg`` and ``plan.csv`` (existing and new sites with type, cost, capacity and
    assigned population), ``summary.csv`` (headline metrics before/after), ``diagnostics.csv``
    (snapping and reachability), ``map.html``, ``report.html`` and PNG figures.

    Returns
    -------
    dict
        Output paths by name.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = result.scenario.config
    paths: dict[str, Path] = {}
    cells = result.cells
    paths["accessibility"] = _write_gpkg(cells, out_dir / "accessibility.gpkg", "accessibility")
    facilities = result.facilities
    paths["plan_gpkg"] = _write_gpkg(facilities, out_dir / "plan.gpkg", "sites")
    plan_csv = _plan_table(facilities)
    plan_csv.to_csv(out_dir / "plan.csv", index=False)
    paths["plan_csv"] = out_dir / "plan.csv"
    summary = result.summary_table()
    summary.to_csv(out_dir / "summary.csv", index=False)
    paths["summary"] = out_dir / "summary.csv"
    result.diagnostics.to_csv(out_dir / "diagnostics.csv")
    paths["diagnostics"] = out_dir / "diagnostics.csv"

    figures: list[tuple[Path, str]] = []
    if cfg["outputs"]["figures"]:
        figures = _write_figures(result, out_dir)
        paths.update({p.stem: p for p, _ in figures})
    fmap = None
    if cfg["outputs"]["map"] or cfg["outputs"]["report"]:
        fmap = _map(result)
    if cfg["outputs"]["map"]:
        from accessplan.maps import save_map

        paths["map"] = save_map(fmap, out_dir / "map.html")
    if cfg["outputs"]["report"]:
        paths["report"] = _report(result, summary, plan_csv, figures, fmap, out_dir / "report.html")
    return paths


def _write_gpkg(frame: Any, path: Path, layer: str) -> Path:
    if path.exists():
        path.unlink()
    frame.to_file(path, layer=layer, driver="GPKG")
    return path


def _plan_table(facilities: Any) -> pd.DataFrame:
    pts = facilities.to_crs("EPSG:4326")
    table = pd.DataFrame(facilities.drop(columns="geometry"))
    table["lon"] = pts.geometry.x.round(6).to_numpy()
    table["lat"] = pts.geometry.y.round(6).to_numpy()
    order = {"new": 0, "existing": 1}
    return table.sort_values(
        ["status", "type", "id"], key=lambda s: s.map(order) if s.name == "status" else s
    )


def _map(result: Any) -> Any:
    from accessplan.maps import accessibility_map

    return accessibility_map(
        result.cells,
        result.facilities,
        title=result.scenario.name,
        value_label="Clinicians per 10,000 persons (2SFCA)",
        context=result.context,
        attribution=result.attribution,
    )


def _write_figures(result: Any, out_dir: Path) -> list[tuple[Path, str]]:
    from accessplan import figures

    cells = result.cells
    standard = result.scenario.config["plan"]["standard"]
    cutoff = result.scenario.config["network"]["cutoff"]
    maps = figures.plot_access_maps(
        cells,
        out_dir / "access_maps.png",
        value_label="Clinicians per 10,000 persons",
        facilities=result.facilities,
        title=result.scenario.name,
    )
    lorenz = figures.plot_lorenz(cells, out_dir / "lorenz.png", value_label="access")
    hist = figures.plot_travel_time_histogram(
        cells,
        out_dir / "travel_time_histogram.png",
        before="minutes_before",
        after="minutes_after",
        cutoff=cutoff,
    )
    return [
        (maps, "Access before, after and the change (clinicians per 10,000 persons)"),
        (lorenz, "Lorenz curves of access before and after"),
        (hist, f"Travel time to the nearest facility (standard: {standard:g} min)"),
    ]


def _report(
    result: Any,
    summary: pd.DataFrame,
    plan_table: pd.DataFrame,
    figures: list[tuple[Path, str]],
    fmap: Any,
    path: Path,
) -> Path:
    from accessplan.report import write_report

    plan = result.plan
    cfg = result.scenario.config
    notes = [
        result.comparison.headline(),
        f"Plan: model {plan.model}, status {plan.status}, objective {plan.objective:,.6g}, "
        f"bound {plan.bound:,.6g}, gap {plan.gap:.3%}, solved in {plan.seconds:.1f} s "
        f"({plan.solver}).",
        f"Access measure: {cfg['access']['measure']} with a {cfg['access']['catchment']:g}-minute "
        f"catchment; digital supply reaches {cfg['access']['digital_access']:.0%} of each cell's "
        f"population and resolves {cfg['access']['effectiveness']:.0%} of needs.",
        f"Travel mode {cfg['network']['mode']}, cutoff {cfg['network']['cutoff']:g} min.",
    ]
    if cfg["scenario"]["description"]:
        notes.insert(0, cfg["scenario"]["description"])
    diagnostics = result.diagnostics.reset_index()
    diagnostics = diagnostics.rename(columns={"level_0": "run", "level_1": "input"})
    timings = pd.DataFrame(
        {"stage": list(result.timings), "seconds": list(result.timings.values())}
    )
    return write_report(
        path,
        title=result.scenario.name,
        summary=summary,
        tables={
            "New and existing sites": plan_table,
            "Snapping and reachability": diagnostics,
            "Run time by stage": timings,
        },
        figures=figures,
        map=fmap,
        notes=notes,
        attribution=result.attribution,
    )
