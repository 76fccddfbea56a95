"""End to end through the command line, on four kinds of region a planner brings.

- the embedded region (``accessplan demo``);
- the whole Union of the Comoros from the raw shared files (``examples/comoros.toml``: the
  national road extract, the national WorldPop raster, the Ministry list as published with its
  two defective rows);
- central Helsinki on foot on the HSY 250 m polygons in EPSG:3879 (``examples/helsinki_walk.toml``);
- a synthetic archipelago of three islands written to ordinary files (GraphML roads, a
  GeoPackage of population points, a facility CSV), one island without any facility.

Each run asserts that every person is counted once (the reach categories add up to the input's
total), that every island with a facility gets routed results, that the GeoPackages carry a CRS,
and that the map and the report render offline in headless Chromium without an error or a
request leaving the page.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from conftest import NGAZIDJA_TIF, REPO, SHARED_DATA
from playwright.sync_api import sync_playwright
from test_browser import CHROMIUM, LAUNCH_ARGS, Visit

from accessplan.cli import main
from accessplan.regions import synthetic_islands

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROUTED = {"within standard", "beyond standard"}
COMOROS_TIF = SHARED_DATA / "region" / "comoros" / "com_ppp_2020_UNadj.tif"
HSY_SUBSET = SHARED_DATA / "helsinki" / "hsy_pop2015_cells_intersecting_pyrosm_bbox_epsg3879.gpkg"


def comoros_island(cells: gpd.GeoDataFrame) -> np.ndarray:
    """Island of each cell by the split of SOURCES.md §5 (lon/lat)."""
    lon = cells.geometry.bounds["minx"].to_numpy()
    return np.select([lon < 43.6, lon < 44.0], ["Ngazidja", "Mwali"], "Ndzuani")


def raster_total(path: Path) -> float:
    with rasterio.open(path) as src:
        values = src.read(1, masked=True).astype(np.float64)
    return float(values[values > 0].sum())


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def run_cli(args: list[str], capsys) -> str:
    status = main(args)
    printed = capsys.readouterr()
    assert status == 0, printed.err
    return printed.out + printed.err


def check_outputs(out: Path, total_persons: float, browser) -> gpd.GeoDataFrame:
    """The assertions every run shares; returns the cells with their reach categories."""
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {f["path"] for f in manifest["files"]}
    assert {"accessibility.gpkg", "plan.gpkg", "plan.csv", "map.html", "report.html"} <= listed
    assert listed == {p.name for p in out.iterdir() if p.name != "manifest.json"}

    cells = gpd.read_file(out / "accessibility.gpkg")
    sites = gpd.read_file(out / "plan.gpkg")
    assert cells.crs is not None and sites.crs is not None
    for column in ("reach_before", "reach_after"):
        persons = cells.groupby(column)["population"].sum()
        assert persons.sum() == pytest.approx(total_persons, rel=1e-9)
    assert cells["population"].sum() == pytest.approx(total_persons, rel=1e-9)

    for page_name in ("map.html", "report.html"):
        visit = Visit(browser, out / page_name)
        try:
            if page_name == "map.html":
                visit.page.wait_for_selector("path.leaflet-interactive", state="attached")
                assert visit.page.locator("path.leaflet-interactive").count() > 0
            assert visit.errors == [] and visit.external == [] and visit.dialogs == []
        finally:
            visit.close()
    return cells


def assert_routed_where_facilities(cells: gpd.GeoDataFrame, islands: np.ndarray, with_fac: set):
    """Every island with a facility has routed persons and no 'no facility on its network'."""
    for island in np.unique(islands):
        here = cells[islands == island]
        if island in with_fac:
            assert here.loc[here["reach_before"].isin(ROUTED), "population"].sum() > 0, island
            assert not (here["reach_before"] == "no facility on its network").any(), island
        else:
            assert (
                here["reach_before"].isin({"no facility on its network", "too far from road"}).all()
            ), island


def test_embedded_region_demo(tmp_path, capsys, browser):
    out = tmp_path / "demo"
    run_cli(["demo", "--out", str(out), "--quiet"], capsys)
    cells = check_outputs(out, raster_total(NGAZIDJA_TIF), browser)
    assert cells["reach_before"].isin(ROUTED).any()


def test_whole_comoros_from_the_raw_national_files(tmp_path, capsys, browser):
    out = tmp_path / "comoros"
    printed = run_cli(["run", str(REPO / "examples" / "comoros.toml"), "--out", str(out)], capsys)
    cells = check_outputs(out, raster_total(COMOROS_TIF), browser)
    islands = comoros_island(cells)
    assert_routed_where_facilities(cells, islands, {"Ngazidja", "Mwali", "Ndzuani"})
    within = cells.loc[cells["reach_before"] == "within standard", "population"].sum()
    assert within / cells["population"].sum() > 0.8  # all three islands routed (42.6 % if one)
    # The two defective Ministry rows are left out, said so, and listed in the report.
    assert "2 facility rows were left out" in printed
    report = (out / "report.html").read_text()
    assert "Bandra Mahal" in report and "Nkangani" in report
    diagnostics = pd.read_csv(out / "diagnostics.csv")
    excluded = diagnostics[diagnostics["section"] == "excluded facility"]
    assert set(excluded.loc[excluded["field"] == "id", "value"]) == {"4", "19"}
    networks = diagnostics[
        (diagnostics["section"] == "network component") & (diagnostics["field"] == "facilities")
    ]
    assert (networks["value"].astype(float) > 0).sum() == 3  # one road network per island
    plan = pd.read_csv(out / "plan.csv")
    assert len(plan[plan["status"] == "existing"]) == 64
    # The headline counts the persons off the road network as reaching no facility.
    summary = pd.read_csv(out / "summary.csv").set_index("metric")
    unreached = summary.loc[summary.index.str.startswith("Persons reaching no facility"), "before"]
    off_road = cells.loc[cells["reach_before"] == "too far from road", "population"].sum()
    assert off_road > 0 and float(unreached.iloc[0]) == pytest.approx(off_road)


def test_helsinki_on_foot_on_polygon_cells_in_epsg3879(tmp_path, capsys, browser):
    out = tmp_path / "helsinki"
    run_cli(["run", str(REPO / "examples" / "helsinki_walk.toml"), "--out", str(out)], capsys)
    total = float(gpd.read_file(HSY_SUBSET)["ASUKKAITA"].sum())
    cells = check_outputs(out, total, browser)
    assert set(cells.geom_type) == {"Polygon"}  # the HSY squares, not points
    assert cells.crs.to_epsg() == 3879  # the GeoPackage keeps the grid's own CRS
    assert cells["reach_before"].isin(ROUTED).any()


def write_archipelago(folder: Path) -> tuple[Path, float]:
    """Three islands as files a planner could have: GraphML, GeoPackage points, CSV."""
    import networkx as nx

    region = synthetic_islands(facilities_per_island=(4, 2, 0), n_nodes=225, n_origins=120, seed=5)
    roads = region.roads.copy()
    for _, _, data in roads.edges(data=True):
        data["oneway"] = str(data["oneway"])
    nx.write_graphml(roads, folder / "roads.graphml")
    region.population.to_crs(4326).to_file(folder / "population.gpkg", driver="GPKG")
    fac = region.facilities.to_crs(4326)
    pd.DataFrame(
        {
            "code": fac["id"],
            "label": fac["name"],
            "lon": fac.geometry.x,
            "lat": fac.geometry.y,
            "staff": fac["capacity"],
        }
    ).to_csv(folder / "facilities.csv", index=False)
    (folder / "islands.toml").write_text(
        """
[scenario]
name = "Three islands, one without a facility"

[inputs]
roads = "roads.graphml"
population = "population.gpkg"
facilities = "facilities.csv"
facility_id_col = "code"
facility_name_col = "label"
facility_capacity_col = "staff"

[network]
cutoff = 60

[plan]
model = "mclp"
p = 2
standard = 15
n_candidates = 15
min_distance_m = 300
"""
    )
    return folder / "islands.toml", float(region.population["population"].sum())


def test_synthetic_archipelago_with_an_island_without_facilities(tmp_path, capsys, browser):
    scenario, total = write_archipelago(tmp_path)
    out = tmp_path / "out"
    printed = run_cli(["run", str(scenario), "--out", str(out), "--quiet"], capsys)
    cells = check_outputs(out, total, browser)
    x = cells.to_crs(32738).geometry.centroid.x.to_numpy()
    islands = np.digitize(x, [x.min() + 15_000, x.min() + 35_000])  # 20 km between islands
    assert_routed_where_facilities(cells, islands, {0, 1})
    assert "no facility" in printed  # the warning on the terminal ...
    report = (out / "report.html").read_text()
    warning_at = report.find("no facility")
    assert 0 <= warning_at < report.find("Three islands, one without a facility</h1>")
