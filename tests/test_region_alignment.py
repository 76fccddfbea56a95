"""The embedded population raster is WorldPop's national raster, cell for cell, in place.

The embedded clip is the Ngazidja window of the national file (../shared/data SOURCES.md §5b,
§5c), so each of its cells must hold the national value of the cell at the same coordinates,
and its transform may differ from the national one only by a whole-pixel origin.
"""

from __future__ import annotations

import numpy as np
import rasterio
from conftest import NGAZIDJA_POPULATION, NGAZIDJA_TIF, SHARED_DATA

from accessplan.regions import load_region

NATIONAL_TIF = SHARED_DATA / "region" / "comoros" / "com_ppp_2020_UNadj.tif"
"""WorldPop 2020 UN-adjusted population of the Union of the Comoros (SOURCES.md §5b)."""


def national_window_of_clip() -> tuple[np.ndarray, np.ndarray, int, int]:
    """(clip values, national values under the clip, clip row 0 and column 0 in the national)."""
    with rasterio.open(NGAZIDJA_TIF) as clip, rasterio.open(NATIONAL_TIF) as national:
        clip_values = clip.read(1)
        row, col = national.index(*clip.xy(0, 0))  # centre of the clip's top-left cell
        window = rasterio.windows.Window(col, row, clip.width, clip.height)
        national_values = national.read(1, window=window)
    return clip_values, national_values, row, col


def test_embedded_raster_equals_the_national_raster_cell_for_cell():
    clip_values, national_values, row, col = national_window_of_clip()
    assert (row, col) == (0, 0)  # the Ngazidja box reaches past the national west/north edges
    np.testing.assert_array_equal(clip_values, national_values)


def test_embedded_transform_differs_from_the_national_only_by_a_whole_pixel_origin():
    with rasterio.open(NGAZIDJA_TIF) as clip, rasterio.open(NATIONAL_TIF) as national:
        a, b, c, d, e, f = clip.transform[:6]
        na, nb, nc, nd, ne, nf = national.transform[:6]
        assert (a, b, d, e) == (na, nb, nd, ne)
        assert clip.crs == national.crs
        assert (clip.dtypes[0], clip.nodata) == ("float32", -99999.0)
        columns = (c - nc) / na
        rows = (f - nf) / ne
    assert abs(columns - round(columns)) < 1e-6
    assert abs(rows - round(rows)) < 1e-6
    np.testing.assert_allclose(
        (c, f, c + 386 * a, f + 726 * e),
        (43.2279165, -11.3645831, 43.5495832, -11.9695831),
        atol=1e-7,
    )


def test_embedded_raster_counts_and_total():
    with rasterio.open(NGAZIDJA_TIF) as clip:
        values = clip.read(1)
        valid = values[values != clip.nodata]
    assert values.shape == (726, 386)
    assert valid.size == 123_287
    assert (valid > 0).all()
    assert round(float(valid.sum(dtype=np.float64))) == NGAZIDJA_POPULATION


def test_loaded_population_points_lie_at_the_national_cell_centres():
    region = load_region("ngazidja", aggregate=1)
    population = region.population
    assert len(population) == 123_287
    assert round(float(population["population"].sum())) == NGAZIDJA_POPULATION
    with rasterio.open(NATIONAL_TIF) as national:
        values = national.read(1)
        rows, cols = rasterio.transform.rowcol(
            national.transform, population.geometry.x.to_numpy(), population.geometry.y.to_numpy()
        )
    np.testing.assert_array_equal(
        values[np.asarray(rows), np.asarray(cols)],
        population["population"].to_numpy(dtype=np.float32),
    )
