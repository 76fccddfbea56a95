"""Clip a population raster to a lon/lat box, keeping every value and the window's own transform.

The box is turned into a raster window (``rasterio.windows.from_bounds``), rounded to whole
pixels (offsets down, lengths to the nearest pixel) and intersected with the raster's extent;
that window is written with ``rasterio.windows.transform`` of the same window, so every pixel
keeps its coordinates. Values, dtype (float32) and nodata (-99999) are those of the source;
the output is deflate-compressed in the source's strips (with GDAL 3.10 the Ngazidja clip of
the WorldPop national raster is byte-identical to ``../shared/data/region/comoros/
ngazidja_ppp_2020_UNadj_clip.tif``, md5 ``19fca347f01947931e9c7cfa400d6ef5``).

Usage::

    .venv/bin/python data/clip_population.py SOURCE.tif OUTPUT.tif [--bbox W S E N]

``--bbox`` is west, south, east, north in degrees (default: the Ngazidja box,
43.20 -11.97 43.55 -11.33).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import rasterio
from rasterio import windows

NGAZIDJA_BBOX = (43.20, -11.97, 43.55, -11.33)
"""Ngazidja (Grande Comore) as (west, south, east, north), degrees (= accessplan.regions)."""


def clip_window(src: rasterio.DatasetReader, bbox: tuple[float, float, float, float]):
    """Whole-pixel window of ``bbox`` inside ``src``.

    Raises
    ------
    SystemExit
        When the box does not overlap the raster.
    """
    window = windows.from_bounds(*bbox, transform=src.transform)
    window = window.round_offsets().round_lengths()
    full = windows.Window(0, 0, src.width, src.height)
    try:
        return window.intersection(full)
    except rasterio.errors.WindowError as err:
        message = f"bbox {bbox} does not overlap {src.name!r} (bounds {tuple(src.bounds)})"
        raise SystemExit(message) from err


def clip(source: Path, output: Path, bbox: tuple[float, float, float, float]) -> None:
    """Write the window of ``bbox`` of ``source`` to ``output`` with the window's transform."""
    with rasterio.open(source) as src:
        window = clip_window(src, bbox)
        values = src.read(1, window=window)
        profile = src.profile.copy()
        profile.update(
            height=values.shape[0],
            width=values.shape[1],
            transform=windows.transform(window, src.transform),
            dtype="float32",
            nodata=-99999.0,
            compress="deflate",
        )
    with rasterio.open(output, "w", **profile) as dst:
        dst.write(values.astype("float32"), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument(
        "--bbox", type=float, nargs=4, default=NGAZIDJA_BBOX, metavar=("W", "S", "E", "N")
    )
    args = parser.parse_args()
    clip(args.source, args.output, tuple(args.bbox))


if __name__ == "__main__":
    main()
