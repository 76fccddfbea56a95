"""Open map.html and report.html in headless Chromium with networking disabled.

Checks that the offline map renders (non-blank screenshot, one SVG path per cell, layer-control
entries, facility markers), that nothing logs an error, that no request leaves the page, and
that a facility named ``<script>alert(1)</script>`` is shown as text and runs nothing.
Needs Debian's ``chromium`` (``make browser`` installs it) and the ``playwright`` package
(dev extras); Playwright drives the system browser, it downloads none.
"""

from __future__ import annotations

import io

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from playwright.sync_api import sync_playwright
from shapely.geometry import LineString, Point, box

from accessplan.figures import plot_lorenz
from accessplan.maps import accessibility_map, save_map
from accessplan.report import write_report

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Any host name resolves to nothing and any proxied request goes nowhere: no real traffic
    # even if a request slipped past the route that aborts it.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
]
HOSTILE = "<script>alert(1)</script>"
PWN = '<img src=x onerror="window.__pwned = 1">'
X0, Y0 = 385_400.0, 6_671_400.0  # EPSG:3067
NX, NY = 8, 6


def make_inputs() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    rng = np.random.default_rng(3)
    cells = gpd.GeoDataFrame(
        {
            "id": [f"c{i}_{j}" for i in range(NX) for j in range(NY)],
            "population": rng.integers(0, 900, NX * NY).astype(float),
        },
        geometry=[
            box(X0 + i * 250, Y0 + j * 250, X0 + (i + 1) * 250, Y0 + (j + 1) * 250)
            for i in range(NX)
            for j in range(NY)
        ],
        crs=3067,
    )
    cells["before"] = rng.gamma(2.0, 1.0, len(cells))
    cells.loc[4, "before"] = np.nan
    cells["after"] = cells["before"] + np.where(rng.random(len(cells)) < 0.4, 0.9, 0.0)
    cells["change"] = cells["after"] - cells["before"]
    facilities = gpd.GeoDataFrame(
        {
            "id": range(1, 8),
            "name": ["Kamppi clinic", HOSTILE, PWN, "Robot B", "Tele hub", "New tele", "New"],
            "type": ["clinic", "clinic", "robotic", "robotic", "digital", "digital", "clinic"],
            "capacity": [5000, 3000, 800, 800, 2000, 1500, 4000],
            "status": ["existing", "existing", "existing", "new", "existing", "new", "new"],
        },
        geometry=[
            Point(X0 + 300, Y0 + 300),
            Point(X0 + 1200, Y0 + 900),
            Point(X0 + 700, Y0 + 1300),
            Point(X0 + 1500, Y0 + 400),
            Point(X0 + 900, Y0 + 700),
            Point(X0 + 1100, Y0 + 1100),
            Point(X0 + 400, Y0 + 1200),
        ],
        crs=3067,
    )
    roads = gpd.GeoDataFrame(
        geometry=[
            LineString([(X0, Y0 + 700), (X0 + 2000, Y0 + 800)]),
            LineString([(X0 + 800, Y0), (X0 + 900, Y0 + 1500)]),
        ],
        crs=3067,
    )
    return cells, facilities, roads


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser")
    cells, facilities, roads = make_inputs()
    m = accessibility_map(cells, facilities, context=roads, title="Offline map test")
    map_path = save_map(m, out / "map.html")
    summary = pd.DataFrame(
        {"metric": ["Mean access", HOSTILE], "before": [1.0, 2.0], "after": [1.2, 2.5]}
    )
    report_path = write_report(
        out / "report.html",
        title=f"Report {HOSTILE}",
        summary=summary,
        tables={"Sites": pd.DataFrame(facilities.drop(columns="geometry"))},
        figures=[plot_lorenz(cells.fillna({"before": 0.0, "after": 0.0}), out / "lorenz.png")],
        map=m,
        notes=[PWN],
    )
    return {"map": map_path, "report": report_path, "cells": len(cells)}


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


class Visit:
    """One page load with every console message, page error, dialog and request recorded."""

    def __init__(self, browser, path):
        self.context = browser.new_context(viewport={"width": 1200, "height": 800}, offline=True)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.external: list[str] = []
        self.page.on(
            "console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None
        )
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", self._dialog)
        self.page.on("request", self._request)
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri(), wait_until="load")

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request(self, request):
        if not request.url.startswith(("file:", "data:", "about:")):
            self.external.append(request.url)

    def _route(self, route):
        if route.request.url.startswith(("file:", "data:", "about:")):
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def close(self):
        self.context.close()


def pixel_spread(png: bytes) -> tuple[float, int]:
    """Standard deviation of grey levels (0–255) and the number of distinct colours."""
    rgb = imread(io.BytesIO(png), format="png")[..., :3]
    levels = np.rint(rgb.reshape(-1, 3) * 255).astype(np.int64)
    packed = (levels[:, 0] << 16) | (levels[:, 1] << 8) | levels[:, 2]
    return float(rgb.mean(axis=2).std() * 255), len(np.unique(packed))


def test_map_renders_offline_with_all_layers_and_no_errors(browser, pages):
    visit = Visit(browser, pages["map"])
    page = visit.page
    try:
        page.wait_for_selector(".leaflet-control-layers-base label", state="attached")
        assert page.locator(".leaflet-apCells-pane path").count() == pages["cells"]
        drawn = page.eval_on_selector_all(
            ".leaflet-apCells-pane path", "ps => ps.filter(p => p.getBBox().width > 1).length"
        )
        assert drawn == pages["cells"]  # every cell is inside the initial view
        assert page.locator(".leaflet-apContext-pane path").count() == 2
        assert page.locator(".leaflet-control-layers-base label").count() == 3
        assert page.locator(".leaflet-control-layers-overlays label").count() == 3
        assert page.locator(".leaflet-marker-pane .ap-fac").count() == 7
        assert page.locator(".ap-legend .ap-swatch").count() >= 8
        spread, colours = pixel_spread(page.screenshot())
        assert spread > 10 and colours > 20
        assert visit.errors == [] and visit.dialogs == [] and visit.external == []
    finally:
        visit.close()


def test_switching_base_layer_swaps_the_legend(browser, pages):
    visit = Visit(browser, pages["map"])
    page = visit.page
    try:
        page.wait_for_selector(".leaflet-control-layers-base label", state="attached")
        visible = page.locator(".ap-legend [data-ap-scale]:visible h2")
        assert visible.inner_text().startswith("Change:")
        page.locator(".leaflet-control-layers-base label", has_text="Before: Access").click()
        assert visible.inner_text().startswith("Before:")
        assert page.locator(".leaflet-apCells-pane path").count() == pages["cells"]
        assert visit.errors == [] and visit.external == []
    finally:
        visit.close()


def test_hostile_facility_name_is_visible_text_and_runs_nothing(browser, pages):
    visit = Visit(browser, pages["map"])
    page = visit.page
    try:
        page.wait_for_selector(".leaflet-marker-pane .ap-fac", state="attached")
        page.locator(f'.ap-fac[title="{HOSTILE} (Clinic, existing)"]').click()
        popup = page.locator(".leaflet-popup-content h3").last
        assert popup.inner_text() == HOSTILE
        page.locator(f".ap-fac[title='{PWN} (Robotic unit, existing)']").click()
        assert popup.inner_text() == PWN
        assert page.evaluate("window.__pwned") is None
        assert visit.dialogs == [] and visit.errors == [] and visit.external == []
    finally:
        visit.close()


def test_report_renders_offline_with_map_figures_and_escaped_text(browser, pages):
    visit = Visit(browser, pages["report"])
    page = visit.page
    try:
        assert page.locator("h1").inner_text() == f"Report {HOSTILE}"
        assert PWN in page.locator("#notes").inner_text()
        widths = page.eval_on_selector_all("figure img", "imgs => imgs.map(i => i.naturalWidth)")
        assert widths and all(w > 100 for w in widths)
        srcdoc = next(f for f in page.frames if f.url == "about:srcdoc")
        srcdoc.wait_for_function(
            "n => document.querySelectorAll('.leaflet-apCells-pane path').length === n",
            arg=pages["cells"],
        )
        frame = page.frame_locator("iframe.map")
        assert frame.locator(".leaflet-apCells-pane path").count() == pages["cells"]
        assert frame.locator(".leaflet-control-layers-base label").count() == 3
        assert frame.locator(".leaflet-marker-pane .ap-fac").count() == 7
        spread, colours = pixel_spread(page.screenshot(full_page=True))
        assert spread > 10 and colours > 20
        assert page.evaluate("window.__pwned") is None
        assert visit.errors == [] and visit.dialogs == [] and visit.external == []
    finally:
        visit.close()


def test_recorders_catch_a_page_that_leaks_and_fails(browser, tmp_path):
    leaky = tmp_path / "leaky.html"
    leaky.write_text(
        '<html><body><img src="http://example.org/x.png">'
        '<script>console.error("broken"); alert("hi");</script></body></html>',
        encoding="utf-8",
    )
    visit = Visit(browser, leaky)
    try:
        assert any(url.startswith("http://example.org/") for url in visit.external)
        assert "broken" in visit.errors
        assert visit.dialogs == ["hi"]
        spread, _ = pixel_spread(visit.page.screenshot())
        assert spread < 10  # a near-blank page fails the non-blank check used above
    finally:
        visit.close()
