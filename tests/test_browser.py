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
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
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
        assert page.locator(".leaflet-control-layers-overlays label").count() == 2
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
        assert visible.inner_text() == "Change (after − before)"
        page.locator(".leaflet-control-layers-base label", has_text="Before the plan").click()
        assert visible.inner_text() == "Before the plan"
        assert page.locator(".leaflet-apCells-pane path").count() == pages["cells"]
        assert visit.errors == [] and visit.external == []
    finally:
        visit.close()


def open_popup(page, marker: str, attempts: int = 3) -> str:
    """Click a marker until its popup opens (a click during the map's pan animation can be
    lost on a loaded machine); the popup's heading text."""
    popup = page.locator(".leaflet-popup-content h3").last
    for attempt in range(attempts):
        page.locator(marker).click()
        try:
            popup.wait_for(state="visible", timeout=10_000)
            break
        except PlaywrightTimeoutError:
            if attempt == attempts - 1:
                raise
    return popup.inner_text()


def test_hostile_facility_name_is_visible_text_and_runs_nothing(browser, pages):
    visit = Visit(browser, pages["map"])
    page = visit.page
    try:
        page.wait_for_selector(".leaflet-marker-pane .ap-fac", state="attached")
        popup = page.locator(".leaflet-popup-content h3").last
        assert open_popup(page, f'.ap-fac[title="{HOSTILE} (Clinic, existing)"]') == HOSTILE
        page.locator(".leaflet-popup-close-button").click()
        popup.wait_for(state="detached")
        assert open_popup(page, f".ap-fac[title='{PWN} (Robotic unit, existing)']") == PWN
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


# --- layout, classes and new facilities -------------------------------------------------------


@pytest.fixture(scope="module")
def reach_map(tmp_path_factory):
    """A map with 2 unreachable, 1 off-network and 1 zero-access cell, and a very long title."""
    cells, facilities, _ = make_inputs()
    cells["reach_before"] = "within standard"
    cells.loc[[0, 1], "reach_before"] = "no facility within cutoff"
    cells.loc[2, "reach_before"] = "too far from road"
    cells.loc[[0, 1, 2], ["before", "after"]] = 0.0
    cells.loc[3, ["before", "after"]] = 0.0
    cells["reach_after"] = cells["reach_before"]
    cells["change"] = cells["after"] - cells["before"]
    title = "A long scenario title that would run under the layer control " * 2
    m = accessibility_map(
        cells,
        facilities,
        title=title,
        label="Clinicians per 10,000 persons",
        unit="clinicians per 10,000 persons",
        cutoff=30,
        show="before",
    )
    return save_map(m, tmp_path_factory.mktemp("reach") / "map.html")


def _box(page, selector):
    return page.locator(selector).first.bounding_box()


def _overlap(a, b) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize("width", [700, 1000, 1400])
def test_title_is_never_under_the_layer_control_or_the_legend(browser, reach_map, width):
    visit = Visit(browser, reach_map)
    page = visit.page
    try:
        page.set_viewport_size({"width": width, "height": 800})
        page.wait_for_selector(".leaflet-control-layers-base label", state="attached")
        title = _box(page, ".ap-header h1")
        assert title["width"] > 100
        for other in (".leaflet-control-layers", ".ap-legend", ".leaflet-control-zoom"):
            assert not _overlap(title, _box(page, other)), other
        top = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y).closest('.ap-header') !== null",
            [title["x"] + 5, title["y"] + title["height"] / 2],
        )
        assert top  # nothing is drawn over the title
        legend, control = _box(page, ".ap-legend"), _box(page, ".leaflet-control-layers")
        assert not _overlap(legend, control)
        assert visit.errors == [] and visit.external == []
    finally:
        visit.close()


def test_new_facilities_only_on_the_after_and_change_layers(browser, reach_map):
    visit = Visit(browser, reach_map)
    page = visit.page
    try:
        page.wait_for_selector(".leaflet-marker-pane .ap-fac", state="attached")
        new, existing = ".leaflet-marker-pane .ap-fac-new", ".leaflet-marker-pane .ap-fac-existing"
        assert page.locator(new).count() == 0 and page.locator(existing).count() == 4
        assert page.locator(".ap-legend [data-ap-after]:visible").count() == 0
        base = page.locator(".leaflet-control-layers-base label")
        base.filter(has_text="After the plan").click()
        assert page.locator(new).count() == 3 and page.locator(existing).count() == 4
        assert page.locator(".ap-legend [data-ap-after]:visible").count() == 3
        base.filter(has_text="Change").click()
        assert page.locator(new).count() == 3
        base.filter(has_text="Before the plan").click()
        assert page.locator(new).count() == 0
        page.locator(".ap-fac-existing").first.click()
        popup = page.locator(".leaflet-popup-content").last.inner_text()
        assert "Site (latitude, longitude)" in popup and "clinicians" in popup
        assert visit.errors == [] and visit.external == []
    finally:
        visit.close()


def test_unreachable_and_zero_cells_have_their_own_hatched_or_grey_fill(browser, reach_map):
    visit = Visit(browser, reach_map)
    page = visit.page
    try:
        page.wait_for_selector(".leaflet-apCells-pane path", state="attached")
        fills = page.eval_on_selector_all(
            ".leaflet-apCells-pane path", "ps => ps.map(p => p.getAttribute('fill'))"
        )
        # cells are drawn in input order: 0 and 1 unreached, 2 off the network, 3 zero access
        assert fills[0] == fills[1] == "url(#ap-h-unreached)"
        assert fills[2] == "url(#ap-h-off_network)"
        assert fills[3] == "#f3c6dd"
        assert page.locator("pattern#ap-h-unreached").count() == 1
        scale = set(fills[5:]) - {"url(#ap-h-unreached)", "url(#ap-h-off_network)", "#f3c6dd"}
        assert fills[3] not in scale and len(scale) >= 4
        legend = page.locator(".ap-legend [data-ap-scale]:visible").inner_text()
        assert "No facility within 30 min" in legend and "Not on the road network" in legend
        assert "Zero access (0 clinicians per 10,000 persons)" in legend
        assert "Higher is better (best class at the top)" in legend
        assert visit.errors == [] and visit.external == []
    finally:
        visit.close()
