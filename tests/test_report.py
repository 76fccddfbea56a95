"""Tests for accessplan.report (the offline HTML report) and accessplan.figures (PNG figures)."""

from __future__ import annotations

import base64
import html
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from accessplan.errors import InputError
from accessplan.figures import (
    plot_access_maps,
    plot_budget_coverage,
    plot_lorenz,
    plot_travel_time_histogram,
)
from accessplan.maps import accessibility_map, external_references, offline_html
from accessplan.report import render_report, write_report

HOSTILE = "<script>alert(1)</script>"
X0, Y0 = 385_400.0, 6_671_400.0  # EPSG:3067


def make_cells(n: int = 5, seed: int = 1) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    cells = gpd.GeoDataFrame(
        {
            "id": [f"c{i}_{j}" for i in range(n) for j in range(n)],
            "population": rng.integers(1, 500, n * n).astype(float),
        },
        geometry=[
            box(X0 + i * 250, Y0 + j * 250, X0 + (i + 1) * 250, Y0 + (j + 1) * 250)
            for i in range(n)
            for j in range(n)
        ],
        crs=3067,
    )
    cells["before"] = rng.gamma(2.0, 1.0, n * n)
    cells["after"] = cells["before"] + np.where(rng.random(n * n) < 0.5, 0.7, 0.0)
    cells["change"] = cells["after"] - cells["before"]
    return cells


def make_facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": [1, 2, 3, 4],
            "name": ["Old clinic", HOSTILE, "Robot", "Tele"],
            "type": ["clinic", "clinic", "robotic", "digital"],
            "capacity": [5000, 3000, 800, 1500],
            "status": ["existing", "new", "new", "new"],
        },
        geometry=[
            Point(X0 + 100, Y0 + 100),
            Point(X0 + 900, Y0 + 600),
            Point(X0 + 300, Y0 + 1000),
            Point(X0 + 1100, Y0 + 1100),
        ],
        crs=3067,
    )


def make_summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "metric": ["Mean access (per 1,000 persons)", "Persons within 15 min", HOSTILE],
            "before": [1.2, 14_000, 0.36],
            "after": [1.5, 16_500, 0.31],
        }
    )


@pytest.fixture(scope="module")
def figure_paths(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    cells = make_cells()
    return [
        plot_access_maps(cells, out / "access_maps.png", facilities=make_facilities()),
        plot_lorenz(cells, out / "lorenz.png"),
    ]


# --- figures ----------------------------------------------------------------------------------


def test_lorenz_figure_refuses_unreachable_values_with_advice(tmp_path):
    cells = make_cells()
    cells.loc[cells.index[2], "after"] = np.nan
    with pytest.raises(InputError, match="fill it"):
        plot_lorenz(cells, tmp_path / "lorenz.png")


def test_access_maps_figure_accepts_baseline_only_and_checks_columns(tmp_path):
    cells = make_cells()
    assert plot_access_maps(cells, tmp_path / "base.png", after=None).is_file()
    with pytest.raises(InputError, match="missing column 'after'"):
        plot_access_maps(cells.drop(columns=["after", "change"]), tmp_path / "x.png")


def test_figures_are_png_files_and_identical_on_rerun(tmp_path, figure_paths):
    for path in figure_paths:
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    again = plot_lorenz(make_cells(), tmp_path / "lorenz.png")
    assert again.read_bytes() == figure_paths[1].read_bytes()


def test_histogram_and_sweep_write_pngs_and_check_columns(tmp_path):
    times = pd.DataFrame(
        {
            "population": [10.0, 20, 30, 40],
            "before": [3.0, 12, np.nan, 40],
            "after": [2.0, 8, 9, 25],
        }
    )
    path = plot_travel_time_histogram(times, tmp_path / "hist.png", cutoff=30)
    assert path.stat().st_size > 1000
    sweep = pd.DataFrame({"budget": [0, 1, 2], "coverage": [0.5, 0.6, 0.7]})
    assert plot_budget_coverage(sweep, tmp_path / "sweep.png", baseline=0.5).is_file()
    with pytest.raises(InputError, match="missing column 'mix'"):
        plot_budget_coverage(sweep, tmp_path / "x.png", group="mix")
    with pytest.raises(InputError, match="missing column 'minutes'"):
        plot_travel_time_histogram(times, tmp_path / "x.png", before="minutes")


# --- report -----------------------------------------------------------------------------------


def test_report_computes_change_and_percent_and_shows_headline_numbers():
    page = render_report(title="Plan", summary=make_summary())
    assert "16,500" in page and "14,000" in page
    assert "+25 %" in page and "+17.9 %" in page and "-13.9 %" in page
    assert "2,500" in page  # change of the second metric


def test_report_escapes_every_data_string():
    cells = make_cells()
    table = pd.DataFrame({"name": [HOSTILE], "capacity": [3000]})
    page = render_report(
        title=HOSTILE,
        subtitle=HOSTILE,
        summary=make_summary(),
        tables={HOSTILE: table},
        map=accessibility_map(cells, make_facilities(), title=HOSTILE),
        notes=[HOSTILE],
        attribution=HOSTILE,
    )
    assert HOSTILE not in page
    assert len(re.findall(r"<script", page)) == 0  # the report itself runs no script
    assert page.count(html.escape(HOSTILE)) >= 6


def test_report_embeds_figures_as_base64_and_the_offline_map_in_srcdoc(figure_paths):
    cells = make_cells()
    m = accessibility_map(cells, make_facilities())
    page = render_report(
        title="Plan",
        summary=make_summary(),
        figures=[figure_paths[0], (figure_paths[1], "Lorenz curves")],
        map=m,
    )
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert [base64.b64decode(i) for i in images] == [p.read_bytes() for p in figure_paths]
    assert "<figcaption>Lorenz curves</figcaption>" in page
    srcdoc = re.search(r'srcdoc="([^"]*)"', page).group(1)
    expected = offline_html(accessibility_map(cells, make_facilities()))
    assert html.unescape(srcdoc) == expected
    assert external_references(page) == []
    assert 'sandbox="allow-scripts"' in page


def test_write_report_writes_the_page_and_truncates_long_tables(tmp_path):
    long_table = pd.DataFrame({"site": range(30), "cost": np.arange(30) * 1000.0})
    path = write_report(
        tmp_path / "out" / "report.html",
        title="Plan",
        summary=make_summary(),
        tables={"Sites": long_table},
        max_rows=10,
        attribution=["Population: HSY (CC BY 4.0)"],
    )
    text = path.read_text(encoding="utf-8")
    assert "20 more rows not shown" in text
    assert "Population: HSY (CC BY 4.0)" in text
    assert "Leaflet 1.9.4 (BSD 2-Clause" in text


def test_report_input_errors_name_the_problem(tmp_path):
    with pytest.raises(InputError, match=r"missing column\(s\) \['after'\]"):
        render_report(title="x", summary=make_summary().drop(columns="after"))
    with pytest.raises(InputError, match="does not exist"):
        render_report(title="x", summary=make_summary(), figures=[tmp_path / "none.png"])
    not_png = tmp_path / "fig.png"
    not_png.write_text("hello")
    with pytest.raises(InputError, match="is not a PNG"):
        render_report(title="x", summary=make_summary(), figures=[not_png])
    with pytest.raises(InputError, match=r"tables\['Sites'\]: expected a DataFrame"):
        render_report(title="x", summary=make_summary(), tables={"Sites": [1, 2]})
