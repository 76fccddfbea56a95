"""Tests for accessplan.report (the offline HTML report) and accessplan.figures (PNG figures)."""

from __future__ import annotations

import base64
import html
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA
from shapely.geometry import Point, box

from accessplan.errors import InputError
from accessplan.figures import (
    A4_TEXT_WIDTH,
    plot_access_map,
    plot_access_maps,
    plot_budget_coverage,
    plot_lorenz,
    plot_travel_time_histogram,
)
from accessplan.maps import accessibility_map, external_references, format_number, offline_html
from accessplan.report import render_report, share_texts, solver_status_text, write_report

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


def test_lorenz_figure_says_how_many_unreached_persons_it_leaves_out(tmp_path):
    cells = make_cells()
    cells.loc[cells.index[2], "after"] = np.nan
    _, _, texts, _, _ = _legend_texts(
        lambda **kw: plot_lorenz(cells, tmp_path / "lorenz.png", **kw), tmp_path
    )
    persons = format_number(cells["population"].iloc[2])
    assert any(t.endswith(f"; {persons} persons not reached, left out)") for t in texts)
    assert not any("not reached" in t for t in texts if t.startswith("Before"))


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


# --- diagnostics in plain words ---------------------------------------------------------------


def make_accounting() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "category": [
                "within standard",
                "beyond standard",
                "no facility within cutoff",
                "too far from road",
            ],
            "persons": [1000.0, 1000.0, 1000.0, 1.0],
            "share": [0.3332, 0.3332, 0.3332, 0.0003],
        }
    )


def test_shares_shown_add_up_to_100_percent():
    texts = share_texts([1000.0, 1000.0, 1000.0, 1.0])
    assert sum(float(t.rstrip(" %")) for t in texts) == pytest.approx(100.0)
    assert texts == ["33.3 %", "33.3 %", "33.3 %", "0.1 %"]  # the 1 person is not hidden
    page = render_report(title="x", summary=make_summary(), accounting=make_accounting())
    table = re.search(r'<table id="accounting">(.*?)</table>', page).group(1)
    shown = re.findall(r'<td class="num">([\d.]+) %</td>', table)
    assert sum(float(s) for s in shown[:-1]) == pytest.approx(100.0) and shown[-1] == "100.0"
    assert "3,001 persons are counted" in page
    assert "reach no facility within the travel-time cutoff" in page


@pytest.mark.parametrize(
    ("status", "gap", "expected"),
    [
        ("optimal", 0.0, "proven optimal"),
        ("time_limit", 0.0123, "best found, within 1.23 % of the best possible"),
        ("heuristic", float("nan"), "how far it is from the best possible is unknown"),
        ("feasible", 1e-7, "within < 0.01 % of the best possible"),
    ],
)
def test_solver_status_is_in_plain_words_and_optimal_only_when_proven(status, gap, expected):
    text = solver_status_text(status, gap)
    assert expected in text
    assert ("optimal" in text) == (status == "optimal")
    page = render_report(
        title="x", summary=make_summary(), plan={"status": status, "gap": gap, "model": "mclp"}
    )
    paragraph = re.search(r'<p id="plan-status">(.*?)</p>', page).group(1)
    assert expected in html.unescape(paragraph)
    assert ("optimal" in paragraph) == (status == "optimal")


def test_warnings_come_first_and_excluded_facilities_give_their_reason():
    excluded = pd.DataFrame(
        {"id": ["F7", "F9"], "name": [HOSTILE, "Far clinic"], "reason": ["no location"] * 2}
    )
    components = pd.DataFrame(
        {"component": [0, 1], "persons": [900.0, 100.0], "facilities": [3, 0]}
    )
    page = render_report(
        title="Plan",
        summary=make_summary(),
        warnings=[f"1 persons too far from a road {HOSTILE}"],
        accounting=make_accounting(),
        excluded=excluded,
        components=components,
        label="Clinicians per 10,000 persons",
        unit="clinicians per 10,000 persons",
        higher_is_better=True,
    )
    body = page[page.index("<main>") :]
    assert body.index('id="warnings"') < body.index("<h1>") < body.index('id="diagnostics"')
    assert body.index('id="diagnostics"') < body.index('id="headline"')
    assert HOSTILE not in page and html.escape(HOSTILE) in page
    assert "2 facilities were excluded from the analysis (2 no location)" in page
    assert "The road network has 2 separate parts" in page
    assert (
        "Access measure: Clinicians per 10,000 persons, in clinicians per 10,000 persons "
        "(higher is better)."
    ) in page
    with pytest.raises(InputError, match=r"excluded: missing column\(s\) \['reason'\]"):
        render_report(title="x", summary=make_summary(), excluded=excluded.drop(columns="reason"))
    with pytest.raises(InputError, match=r"accounting: missing column\(s\) \['persons'\]"):
        render_report(title="x", summary=make_summary(), accounting=make_accounting()[["category"]])


def test_no_warnings_means_no_warning_box():
    page = render_report(title="x", summary=make_summary(), warnings=[])
    assert 'id="warnings"' not in page


# --- static maps: measure, unreachable classes, A4 layout -------------------------------------


def _legend_texts(fig_path_fn, tmp_path, **kwargs):
    """Texts of every legend of the figure drawn by ``fig_path_fn`` (captured before saving)."""
    from accessplan import figures

    captured = {}
    save = figures._save

    def capture(fig, path):
        captured["fig"] = fig
        return save(fig, path)

    figures._save = capture
    try:
        path = fig_path_fn(**kwargs)
    finally:
        figures._save = save
    fig = captured["fig"]
    texts = [
        t.get_text() for ax in fig.get_axes() if ax.get_legend() for t in ax.get_legend().texts
    ]
    titles = [ax.get_legend().get_title().get_text() for ax in fig.get_axes() if ax.get_legend()]
    suptitles = [sf._suptitle.get_text() for sf in fig.subfigs if sf._suptitle is not None]
    return path, fig, texts, titles, suptitles


def test_static_map_has_grey_classes_for_unreachable_cells_and_the_measure_in_its_title(tmp_path):
    cells = make_cells()
    cells["reach_before"] = "within standard"
    cells.loc[:2, "reach_before"] = "no facility within cutoff"
    cells.loc[3, "reach_before"] = "too far from road"
    cells["reach_after"] = cells["reach_before"]
    path, fig, texts, titles, suptitles = _legend_texts(
        lambda **kw: plot_access_map(cells, tmp_path / "before.png", **kw),
        tmp_path,
        layer="before",
        label="Clinicians per 10,000 persons",
        unit="per 10,000 persons",
        cutoff=30,
        facilities=make_facilities(),
    )
    assert fig.get_size_inches()[0] == pytest.approx(A4_TEXT_WIDTH)
    assert suptitles == ["Before the plan: Clinicians per 10,000 persons"]
    assert titles == ["Higher is better"]
    pop = cells["population"]
    assert f"No facility within 30 min ({pop[:3].sum():,.0f} persons)" in [
        t.replace("\n", " ") for t in texts
    ]
    assert any(t.startswith("Not on the road network") for t in texts)
    assert not any("new" in t for t in texts if t.startswith(("Clinic", "Robotic", "Digital")))
    assert path.read_bytes().startswith(b"\x89PNG")


def test_static_change_map_shows_new_facilities_and_lower_is_better(tmp_path):
    cells = make_cells()
    _, _, texts, titles, _ = _legend_texts(
        lambda **kw: plot_access_map(cells, tmp_path / "change.png", **kw),
        tmp_path,
        layer="change",
        label="Travel time",
        unit="minutes",
        higher_is_better=False,
        facilities=make_facilities(),
    )
    assert titles == ["Lower is better: blue is better (a\ndecrease), red is worse"]
    assert "Clinic, new (filled)" in texts
    assert any(t.startswith("capacity 5,000 clinicians") for t in texts)


def test_static_maps_reproject_any_crs_and_refuse_cells_without_one(tmp_path):
    cells = make_cells()
    for crs in (4326, 3879):
        assert plot_access_maps(cells.to_crs(crs), tmp_path / f"m{crs}.png").is_file()
    points = cells.set_geometry(cells.centroid)
    assert plot_access_map(points, tmp_path / "points.png").is_file()
    with pytest.raises(InputError, match=r"no CRS.*cells\.set_crs"):
        plot_access_map(cells.set_crs(None, allow_override=True), tmp_path / "x.png")
    with pytest.raises(InputError, match="layer='during'"):
        plot_access_map(cells, tmp_path / "x.png", layer="during")


def test_real_helsinki_polygons_in_epsg3879_render_in_map_report_and_figure(tmp_path):
    grid = gpd.read_file(
        SHARED_DATA / "helsinki" / "hsy_pop2015_cells_intersecting_pyrosm_bbox_epsg3879.gpkg"
    )
    cells = grid.rename(columns={"INDEX": "id", "ASUKKAITA": "population"})[
        ["id", "population", "geometry"]
    ]
    cells["before"] = np.linspace(0.0, 5.0, len(cells))
    cells["after"] = cells["before"] + 0.5
    assert cells.crs.to_epsg() == 3879
    m = accessibility_map(cells, label="Access", unit="clinicians per 10,000 persons")
    page = render_report(title="Helsinki", summary=make_summary(), map=m)
    assert external_references(page) == []
    assert plot_access_map(cells, tmp_path / "helsinki.png", layer="after").is_file()


def test_accounting_before_and_after_by_category_index_adds_up_in_each_column():
    accounting = pd.DataFrame(
        {"persons_before": [2.0, 1.0, 0.0], "persons_after": [3.0, 0.0, 0.0]},
        index=pd.Index(["within standard", "no facility within cutoff", "total"], name="category"),
    )
    page = render_report(title="x", summary=make_summary(), accounting=accounting)
    table = re.search(r'<table id="accounting">(.*?)</table>', page).group(1)
    assert "Before the plan: persons" in table and "After the plan: persons" in table
    assert "66.7 %" in table and "33.3 %" in table and table.count("100.0 %") == 3
    assert table.count("<tr>") == 3  # header, 2 categories; the given total row is replaced
    empty = render_report(title="x", summary=make_summary(), excluded=pd.DataFrame())
    assert "No facility was excluded." in empty
