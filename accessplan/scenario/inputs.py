"""Reading the inputs of a scenario run: a region, or road, population and facility files."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from accessplan.errors import AccessplanError

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["ARGUMENT_KEYS", "Inputs", "physical_facilities", "point_cells", "read_inputs"]

#: The one table between the file-reading arguments of :mod:`accessplan.io` and the
#: ``[inputs]`` keys that set them: messages raised while reading a scenario's files name the
#: key, not the Python argument.
ARGUMENT_KEYS: dict[str, dict[str, str]] = {
    "read_roads": {"mode": "[network] mode"},
    "read_population_raster": {"aggregate": "[inputs] aggregate"},
    "read_population": {
        "population_col": "[inputs] population_col",
        "id_col": "[inputs] population_id_col",
        "lon_col": "[inputs] population_lon_col",
        "lat_col": "[inputs] population_lat_col",
        "crs": "[inputs] population_crs",
    },
    "read_facilities": {
        "id_col": "[inputs] facility_id_col",
        "name_col": "[inputs] facility_name_col",
        "type_col": "[inputs] facility_type_col",
        "capacity_col": "[inputs] facility_capacity_col",
        "default_capacity": "[inputs] default_capacity",
        "category_col": "[inputs] facility_category_col",
        "categories": "[inputs] facility_categories",
        "lon_col": "[inputs] facility_lon_col",
        "lat_col": "[inputs] facility_lat_col",
        "crs": "[inputs] facility_crs",
        "on_invalid": "[inputs] facility_on_invalid",
        "study_area_margin": "[inputs] facility_study_area_margin_m",
        "on_outside": "[inputs] facility_on_outside",
    },
}


@dataclass
class Inputs:
    """What a run reads before the network stage."""

    name: str
    graph: nx.MultiDiGraph
    population: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    attribution: str
    candidates: gpd.GeoDataFrame | None = None
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)


def translate_message(message: str, reader: str) -> str:
    """``message`` with the Python arguments of ``reader`` replaced by their scenario keys."""
    for argument, key in ARGUMENT_KEYS[reader].items():
        message = re.sub(rf"\b{argument}\s*=\s*", f"{key} = ", message)
        message = re.sub(rf"(?<![\w\[]){argument}(?![\w\]])", key, message)
    # "pass ... with lon_col=..." reads "set [inputs] facility_lon_col" in a scenario
    return re.sub(r"\bpass ([\w ]*?)with (\[\w+\] \w+) = \.*", r"set \2", message)


@contextmanager
def scenario_keys(reader: str) -> Iterator[None]:
    """Re-raise an error of ``reader`` (same class) in the scenario's words."""
    try:
        yield
    except AccessplanError as exc:
        raise type(exc)(translate_message(str(exc), reader)) from exc


def _read(reader: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with scenario_keys(reader):
        return function(*args, **kwargs)


def read_inputs(cfg: dict[str, dict[str, Any]]) -> Inputs:
    """Read the roads, population, cells, facilities and candidates a scenario names."""
    from accessplan.io import cells_to_polygons

    inp = cfg["inputs"]
    if inp["roads"]:
        return _file_inputs(cfg)
    if inp["region"] == "synthetic":
        from accessplan.regions import synthetic_region

        region = synthetic_region(
            n_nodes=inp["synthetic_nodes"],
            n_origins=inp["synthetic_origins"],
            n_facilities=inp["synthetic_facilities"],
            seed=cfg["scenario"]["seed"],
        )
    else:
        from accessplan.regions import load_region

        region = load_region(inp["region"], aggregate=inp["aggregate"])
    population = region.population
    cells = (
        cells_to_polygons(population, region.cell_size)
        if region.cell_size
        else point_cells(population)
    )
    return Inputs(
        name=region.name,
        graph=region.road_graph(cfg["network"]["mode"]),
        population=population,
        cells=cells,
        facilities=physical_facilities(region.facilities),
        attribution=region.attribution,
        candidates=_candidates_file(inp) if inp["candidates"] else region.candidates,
        excluded=region.facilities.attrs.get("excluded", pd.DataFrame()),
    )


def _candidates_file(inp: dict[str, Any]) -> gpd.GeoDataFrame:
    """Candidate sites of ``[inputs] candidates`` (columns id, name, lon, lat or a vector)."""
    from accessplan import io

    try:
        return io.read_facilities(inp["candidates"], id_col="id", name_col="name")
    except AccessplanError as exc:
        raise type(exc)(f"[inputs] candidates: {exc}") from exc


def _file_inputs(cfg: dict[str, dict[str, Any]]) -> Inputs:
    from accessplan import io

    inp = cfg["inputs"]
    candidates = _candidates_file(inp) if inp["candidates"] else None
    graph = _read("read_roads", io.read_roads, inp["roads"], cfg["network"]["mode"])
    pop_path = Path(inp["population"])
    if pop_path.suffix.lower() in (".tif", ".tiff"):
        population = _read(
            "read_population_raster",
            io.read_population_raster,
            pop_path,
            aggregate=inp["aggregate"],
        )
        cells = io.cells_to_polygons(population)
    else:
        population = _read(
            "read_population",
            io.read_population,
            pop_path,
            inp["population_col"],
            id_col=inp["population_id_col"],
            lon_col=inp["population_lon_col"],
            lat_col=inp["population_lat_col"],
            crs=inp["population_crs"],
        )
        if "cell" in population.columns:
            cells = population.set_geometry("cell").drop(columns="geometry")
            cells = cells.rename_geometry("geometry")
            population = population.drop(columns="cell")
        else:
            cells = point_cells(population)
    excluded = pd.DataFrame()
    if inp["facilities"]:
        facilities = _read(
            "read_facilities",
            io.read_facilities,
            inp["facilities"],
            id_col=inp["facility_id_col"],
            name_col=inp["facility_name_col"],
            type_col=inp["facility_type_col"],
            capacity_col=inp["facility_capacity_col"],
            default_capacity=inp["default_capacity"],
            category_col=inp["facility_category_col"],
            categories=inp["facility_categories"],
            lon_col=inp["facility_lon_col"],
            lat_col=inp["facility_lat_col"],
            crs=inp["facility_crs"],
            on_invalid=inp["facility_on_invalid"],
            study_area=population,
            study_area_margin=inp["facility_study_area_margin_m"],
            on_outside=inp["facility_on_outside"],
        )
        excluded = facilities.attrs.get("excluded", pd.DataFrame())
    else:
        facilities = gpd.GeoDataFrame(
            {"id": [], "name": [], "type": [], "capacity": []},
            geometry=[],
            crs=population.crs,
        )
    return Inputs(
        name=pop_path.stem,
        graph=graph,
        population=population,
        cells=cells,
        facilities=physical_facilities(facilities),
        attribution="© OpenStreetMap contributors (ODbL 1.0); population and facilities: see "
        "the input files' licences.",
        candidates=candidates,
        excluded=excluded,
    )


def physical_facilities(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Existing facilities with the columns every stage uses, ids as strings."""
    out = facilities.copy()
    out["id"] = out["id"].astype(str)
    out["status"] = "existing"
    return out


def point_cells(points: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Square cells around population points (for maps), sized by their typical spacing."""
    from scipy.spatial import cKDTree

    metric = points.to_crs(points.estimate_utm_crs()) if points.crs.is_geographic else points
    xy = np.column_stack([metric.geometry.x, metric.geometry.y])
    side = 100.0
    if len(xy) > 1:
        distance, _ = cKDTree(xy).query(xy, k=2)
        side = float(np.median(distance[:, 1])) or side
    squares = metric.geometry.buffer(side / 2, cap_style="square")
    cells = gpd.GeoDataFrame(
        points.drop(columns="geometry"), geometry=squares.to_numpy(), crs=metric.crs
    )
    return cells.to_crs(points.crs)
