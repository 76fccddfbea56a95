"""accessplan: where to add care, and how much better access gets.

The pipeline, one module per stage (each callable alone from a notebook):

inputs (:mod:`~accessplan.io`, :mod:`~accessplan.regions`) → network
(:mod:`~accessplan.network`) → snapping (:mod:`~accessplan.snapping`) → travel times
(:mod:`~accessplan.traveltimes`) → measures and equity (:mod:`~accessplan.measures`,
:mod:`~accessplan.equity`, before/after in :mod:`~accessplan.comparison`) → optimisation
(:mod:`~accessplan.optimize`) → scenario (:mod:`~accessplan.scenario`) → maps, report,
figures (:mod:`~accessplan.maps`, :mod:`~accessplan.report`, :mod:`~accessplan.figures`).
"""

from accessplan import (
    comparison,
    compute,
    equity,
    figures,
    flows,
    io,
    maps,
    measures,
    network,
    operations,
    optimize,
    regions,
    report,
)
from accessplan.comparison import Comparison, compare
from accessplan.equity import by_zone, summarize
from accessplan.errors import (
    AccessplanError,
    InfeasibleError,
    InputError,
    NetworkError,
    ScenarioError,
    SolverError,
)
from accessplan.flows import FlowDatabase
from accessplan.io import (
    cells_to_polygons,
    population_report,
    read_facilities,
    read_population,
    read_population_points,
    read_population_raster,
    read_roads,
)
from accessplan.maps import accessibility_map, display_map, save_map
from accessplan.measures import (
    MEASURES,
    CapacityCoverage,
    Decay,
    Measure,
    capacity_limited_coverage,
    coverage,
    cumulative,
    enhanced_two_step_fca,
    exponential_decay,
    fca_ratio,
    gaussian_decay,
    gaussian_two_step_fca,
    gravity,
    kernel_density_two_step_fca,
    linear_decay,
    nearest,
    power_decay,
    step_decay,
    three_step_fca,
    two_step_fca,
)
from accessplan.national import (
    BlockAccess,
    RegionArrays,
    access_in_blocks,
    read_region_arrays,
    synthetic_region_arrays,
)
from accessplan.network import RoutingGraph, prepare_network, routing_graph
from accessplan.operations import OperationsProblem, rolling_horizon, solve_operations
from accessplan.optimize import (
    Plan,
    ResourcePool,
    SupplyOption,
    allocate_resources,
    budget_sweep,
    budgeted_siting,
    capacitated_mclp,
    capacitated_p_median,
    evaluate_plan,
    lscp,
    mclp,
    p_center,
    p_median,
)
from accessplan.points import Points
from accessplan.regions import Region, load_region, synthetic_islands, synthetic_region
from accessplan.report import write_report
from accessplan.roads import RoadArrays, prepare_road_arrays, read_road_arrays
from accessplan.scenario import Result, Scenario, ScenarioCheck, run_batch
from accessplan.sensitivity import Sensitivity, run_sensitivity
from accessplan.snapping import Snapped, snap_points
from accessplan.supply import PHYSICAL_TYPES, SUPPLY_TYPES
from accessplan.traveltimes import TravelTimes, travel_times

__version__ = "0.1.0"

__all__ = [
    "MEASURES",
    "PHYSICAL_TYPES",
    "SUPPLY_TYPES",
    "AccessplanError",
    "BlockAccess",
    "CapacityCoverage",
    "Comparison",
    "Decay",
    "FlowDatabase",
    "InfeasibleError",
    "InputError",
    "Measure",
    "NetworkError",
    "OperationsProblem",
    "Plan",
    "Points",
    "Region",
    "RegionArrays",
    "ResourcePool",
    "Result",
    "RoadArrays",
    "RoutingGraph",
    "Scenario",
    "ScenarioCheck",
    "ScenarioError",
    "Sensitivity",
    "Snapped",
    "SolverError",
    "SupplyOption",
    "TravelTimes",
    "access_in_blocks",
    "accessibility_map",
    "allocate_resources",
    "budget_sweep",
    "budgeted_siting",
    "by_zone",
    "capacitated_mclp",
    "capacitated_p_median",
    "capacity_limited_coverage",
    "cells_to_polygons",
    "compare",
    "comparison",
    "compute",
    "coverage",
    "cumulative",
    "display_map",
    "enhanced_two_step_fca",
    "equity",
    "evaluate_plan",
    "exponential_decay",
    "fca_ratio",
    "figures",
    "flows",
    "gaussian_decay",
    "gaussian_two_step_fca",
    "gravity",
    "io",
    "kernel_density_two_step_fca",
    "linear_decay",
    "load_region",
    "lscp",
    "maps",
    "mclp",
    "measures",
    "nearest",
    "network",
    "operations",
    "optimize",
    "p_center",
    "p_median",
    "population_report",
    "power_decay",
    "prepare_network",
    "prepare_road_arrays",
    "read_facilities",
    "read_population",
    "read_population_points",
    "read_population_raster",
    "read_region_arrays",
    "read_road_arrays",
    "read_roads",
    "regions",
    "report",
    "rolling_horizon",
    "routing_graph",
    "run_batch",
    "run_sensitivity",
    "save_map",
    "snap_points",
    "solve_operations",
    "step_decay",
    "summarize",
    "synthetic_islands",
    "synthetic_region",
    "synthetic_region_arrays",
    "three_step_fca",
    "travel_times",
    "two_step_fca",
    "write_report",
]
