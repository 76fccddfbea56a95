"""The planner notebooks in notebooks/ run from top to bottom on the embedded data.

Each notebook is executed with nbclient in a kernel started from this interpreter (the
project's virtual environment) through a kernel spec written to a temporary folder, so nothing
is registered with Jupyter and no other Python can be picked up. The working directory is the
notebook's folder, as in Jupyter; outputs go to ``notebooks/out/`` (ignored by git).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL_NAME = "accessplan-tests"

#: Files each notebook writes (relative to notebooks/), checked after it runs.
EXPECTED_OUTPUTS = {
    "01_quickstart.ipynb": ["out/quickstart/map.html", "out/quickstart/map_minutes.html"],
    "02_digital_robotic_planning.ipynb": [
        "out/planning/map_clinics_only.html",
        "out/planning/map_robotic_only.html",
        "out/planning/map_digital_only.html",
        "out/planning/map_budgeted_mix.html",
        "out/planning/budget_coverage.png",
        "out/planning/scenario/summary.csv",
        "out/planning/scenario/map.html",
        "out/planning/scenario/report.html",
    ],
    "03_bring_your_own_region.ipynb": [
        "out/own_region/facilities.geojson",
        "out/own_region/scenario.toml",
        "out/own_region/run/summary.csv",
        "out/own_region/run/map.html",
    ],
    "04_patient_flows.ipynb": [
        "out/flows/kpis.csv",
        "out/flows/flow_report.html",
        "out/flows/utilisation.csv",
    ],
    "05_operations.ipynb": ["out/operations/operations.html"],
}


def _kernel_manager(folder: Path) -> KernelManager:
    """A kernel manager for this interpreter, with its spec in ``folder`` only."""
    spec_dir = folder / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "accessplan (tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def _stderr_text(nb: nbformat.NotebookNode) -> str:
    return "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
    )


def test_every_notebook_has_an_execution_test() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED_OUTPUTS)


@pytest.mark.parametrize("name", sorted(EXPECTED_OUTPUTS))
def test_notebook_is_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code cell"
    assert all(not c.outputs and c.execution_count is None for c in code), (
        f"{name} holds outputs; clear them before committing (nbmake/nbclient executes it)."
    )
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED_OUTPUTS))
def test_notebook_runs_top_to_bottom(name: str, tmp_path: Path) -> None:
    path = NOTEBOOKS / name
    nb = nbformat.read(path, as_version=4)
    started = time.time()
    client = NotebookClient(
        nb,
        km=_kernel_manager(tmp_path),
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails

    for relative in EXPECTED_OUTPUTS[name]:
        written = NOTEBOOKS / relative
        assert written.is_file(), f"{name} did not write {relative}"
        assert written.stat().st_size > 0, f"{name} wrote an empty {relative}"
        assert written.stat().st_mtime >= started - 1, f"{name} did not rewrite {relative}"
    stderr = _stderr_text(nb)
    assert "accessplan/" not in stderr, f"{name} raised warnings in accessplan:\n{stderr}"
