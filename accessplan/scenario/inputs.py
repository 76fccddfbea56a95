"""Reading the inputs of a scenario run: a region, or road, population and facility files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

__all__ = ["Inputs", "physical_facilities", "point_cells", "read_inputs"]


@dataclass
class Inputs:
    """What a run reads before the network stage."""

    name: str
    graph: Any
    population: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    attribution: str
    candidates: gpd.GeoDataFrame | None = None


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
        candidates=region.candidates,
    )


def _file_inputs(cfg: dict[str, dict[str, Any]]) -> Inputs:
    from accessplan import io

    inp = cfg["inputs"]
    graph = io.read_roads(inp["roads"], cfg["network"]["mode"])
    pop_path = Path(inp["population"])
    if pop_path.suffix.lower() in (".tif", ".tiff"):
        population = io.read_population_raster(pop_path, aggregate=inp["aggregate"])
        cells = io.cells_to_polygons(population)
    else:
        population = io.read_population(pop_path, inp["population_col"])
        if "cell" in population.columns:
            cells = population.set_geometry("cell").drop(columns="geometry")
            cells = cells.rename_geometry("geometry")
            population = population.drop(columns="cell")
        else:
            cells = point_cells(population)
    if inp["facilities"]:
        facilities = io.read_facilities(
            inp["facilities"],
            id_col=inp["facility_id_col"],
            name_col=inp["facility_name_col"],
            type_col=inp["facility_type_col"],
            capacity_col=inp["facility_capacity_col"],
            default_capacity=inp["default_capacity"],
            lon_col=inp["facility_lon_col"],
            lat_col=inp["facility_lat_col"],
            on_invalid=inp["facility_on_invalid"],
        )
    else:
        facilities = gpd.GeoDataFrame(
            {"id": [], "name": [], "type": [], "capacity": []},
            geometry=[],
            crs=population.crs,
        )
    candidates = None
    if inp["candidates"]:
        candidates = io.read_facilities(inp["candidates"], id_col="id", name_col="name")
    return Inputs(
        name=pop_path.stem,
        graph=graph,
        population=population,
        cells=cells,
        facilities=physical_facilities(facilities),
        attribution="© OpenStreetMap contributors (ODbL 1.0); population and facilities: see "
        "the input files' licences.",
        candidates=candidates,
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
