"""Shared fixtures: the embedded region (parsed once per session) and small synthetic inputs."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine

from accessplan.regions import Region, load_region, synthetic_region

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
HELSINKI_PBF = SHARED_DATA / "helsinki" / "Helsinki.osm.pbf"
NGAZIDJA_DIR = REPO / "data" / "ngazidja"
NGAZIDJA_PBF = NGAZIDJA_DIR / "ngazidja.osm.pbf"
NGAZIDJA_TIF = NGAZIDJA_DIR / "ngazidja_ppp_2020_UNadj_clip.tif"
NGAZIDJA_MOH_CSV = NGAZIDJA_DIR / "comoros_who_kemri_public_health_facilities_2019.csv"

NGAZIDJA_POPULATION = 449_425.0
"""WorldPop 2020 UN-adjusted total on Ngazidja (data/README.md), persons."""


@pytest.fixture(scope="session")
def ngazidja() -> Region:
    """The embedded Ngazidja region (population aggregated to ~500 m), loaded once.

    Its road graphs are cached in the object, so each mode's PBF parse happens once per
    session. Treat it as read-only: copy a graph or table before changing it.
    """
    return load_region("ngazidja")


@pytest.fixture(scope="session")
def ngazidja_drive(ngazidja: Region):
    """The Ngazidja drive graph as read from the PBF (EPSG:4326), read-only."""
    return ngazidja.road_graph("drive")


@pytest.fixture(scope="session")
def small_region() -> Region:
    """A 20 × 20 synthetic grid (200 m spacing, UTM 38S) with 150 origins and 6 facilities."""
    return synthetic_region(n_nodes=400, n_origins=150, n_facilities=6, n_candidates=10, seed=7)


def write_raster(
    path: Path,
    values: np.ndarray,
    *,
    cell: float = 100.0,
    origin: tuple[float, float] = (500_000.0, 8_700_000.0),
    crs: str | None = "EPSG:32738",
    nodata: float | None = -99999.0,
) -> Path:
    """Write a single-band float32 GeoTIFF; row 0 is the top row, ``origin`` its top-left."""
    values = np.asarray(values, dtype=np.float32)
    profile = {
        "driver": "GTiff",
        "height": values.shape[0],
        "width": values.shape[1],
        "count": 1,
        "dtype": "float32",
        "transform": Affine(cell, 0.0, origin[0], 0.0, -cell, origin[1]),
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
    return path


def points_frame(n: int = 4, *, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    """``n`` points near Moroni with ``id`` (int), ``name`` and ``population`` columns."""
    lon = 43.25 + 0.01 * np.arange(n)
    lat = -11.70 - 0.01 * np.arange(n)
    return gpd.GeoDataFrame(
        {
            "id": np.arange(1, n + 1),
            "name": [f"site {i}" for i in range(1, n + 1)],
            "population": 100.0 * np.arange(1, n + 1),
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=crs,
    )


@pytest.fixture
def in_forked_child():
    """Run ``target(queue, *args)`` in a forked child and return what it put on ``queue``.

    The test fails if the child is still running after 60 s: it hung.
    """
    import multiprocessing as mp

    def run(target, *args):
        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=target, args=(queue, *args))
        child.start()
        child.join(timeout=60)
        hung = child.is_alive()
        if hung:
            child.kill()
        assert not hung, "the forked child hung"
        return queue.get(timeout=5)

    return run
