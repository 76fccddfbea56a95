"""The scenario file: its keys, their types and defaults, and validation with clear messages.

A scenario is a TOML file with the sections below; every key is optional except where noted,
and every unknown key is an error with a "did you mean" suggestion. Relative paths are read
relative to the scenario file's folder.

.. code-block:: toml

    [scenario]
    name = "Ngazidja: clinics, robotic and digital units under a budget"
    seed = 0

    [inputs]
    region = "ngazidja"          # the embedded region, or give the files below instead
    # roads = "roads.osm.pbf"    # .osm.pbf, .osm, .graphml
    # population = "pop.tif"     # GeoTIFF, or a vector/CSV file with population_col
    # facilities = "facilities.csv"

    [network]
    mode = "drive"
    cutoff = 90                  # minutes

    [access]
    measure = "two_step_fca"     # any name of accessplan.measures.MEASURES

    [supply.clinic]
    cost = 1.0
    capacity = 10_000

    [plan]
    model = "budget"
    budget = 5.0
    standard = 30                # minutes: the one service standard of the scenario

One name per concept (README "Conventions"): ``[plan] standard`` is the scenario's one
travel-time standard (minutes). The access measure uses it as its catchment, the comparison
counts "persons within" it, capacity-limited coverage grows catchments up to it, and every
location model and supply type uses it unless ``[supply.<type>] standard`` sets its own.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accessplan.errors import ScenarioError
from accessplan.measures.registry import MEASURES

__all__ = [
    "DEFAULT_SUPPLY",
    "RUN_SECTIONS",
    "SCHEMA",
    "SUPPLY_KEYS",
    "Key",
    "check_value",
    "read_scenario_file",
    "reference_markdown",
    "suggest",
    "validate_scenario_dict",
]


@dataclass(frozen=True)
class Key:
    """One scenario key: accepted Python types, default, choices, and what it means."""

    types: tuple[type, ...]
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    is_path: bool = False
    minimum: float | None = None
    maximum: float | None = None


_NUM = (int, float)
_MEASURES = tuple(MEASURES)
_MODELS = ("budget", "p_median", "mclp", "lscp", "p_center")
_TYPES = ("clinic", "robotic", "digital")

SCHEMA: dict[str, dict[str, Key]] = {
    "scenario": {
        "name": Key((str,), "accessplan scenario", "Title used in the report and map."),
        "seed": Key((int,), 0, "Seed of every random step (candidate generation, heuristics)."),
        "description": Key((str,), "", "Free text shown in the report."),
    },
    "inputs": {
        "region": Key(
            (str,),
            None,
            "Embedded region name ('ngazidja') or 'synthetic'; used when files are not given.",
            choices=("ngazidja", "synthetic"),
        ),
        "roads": Key((str,), None, "Road file: .osm.pbf, .osm or .graphml.", is_path=True),
        "population": Key((str,), None, "Population: GeoTIFF or vector/CSV file.", is_path=True),
        "population_col": Key((str,), "population", "Population column of a vector file."),
        "population_id_col": Key(
            (str,), None, "Id column of a population vector/CSV file; default the row number."
        ),
        "population_lon_col": Key((str,), "lon", "Longitude (or x) column of a population CSV."),
        "population_lat_col": Key((str,), "lat", "Latitude (or y) column of a population CSV."),
        "population_crs": Key(
            (str,),
            None,
            "CRS of a population CSV's coordinates (default EPSG:4326), or of a vector file "
            "without one, e.g. 'EPSG:32738'.",
        ),
        "aggregate": Key((int,), 5, "Sum k×k raster cells into one (5: 100 m → 500 m).", minimum=1),
        "facilities": Key((str,), None, "Existing facilities (points, CSV lon/lat).", is_path=True),
        "facility_id_col": Key(
            (str,), None, "Facility id column; default the column 'id' if any, else the row number."
        ),
        "facility_name_col": Key((str,), "name", "Facility name column."),
        "facility_type_col": Key((str,), None, "Facility type column (clinic/robotic/digital)."),
        "facility_capacity_col": Key((str,), None, "Facility capacity column (clinicians)."),
        "facility_lon_col": Key((str,), "lon", "Longitude column of a facility CSV."),
        "facility_lat_col": Key((str,), "lat", "Latitude column of a facility CSV."),
        "facility_crs": Key(
            (str,),
            None,
            "CRS of a facility CSV's coordinates (default EPSG:4326), or of a vector file "
            "without one.",
        ),
        "facility_category_col": Key(
            (str,), None, "Facility category column (e.g. a tier), mapped by facility_categories."
        ),
        "facility_categories": Key(
            (dict,),
            None,
            "Table category → {type, capacity}, e.g. "
            '{ "Tier1" = { type = "clinic", capacity = 1 } }.',
        ),
        "facility_study_area_margin_m": Key(
            _NUM,
            5_000.0,
            "Facilities farther than this from the population's extent are outside the study "
            "area, metres.",
            minimum=0,
        ),
        "facility_on_outside": Key(
            (str,),
            "report",
            "Facilities outside the study area: leave them out and list them, or stop with an "
            "error.",
            choices=("report", "raise"),
        ),
        "facility_on_invalid": Key(
            (str,),
            "raise",
            "Facility rows without usable coordinates: stop with an error, or leave them out and "
            "list them in the report.",
            choices=("raise", "report"),
        ),
        "default_capacity": Key(
            _NUM, 2.0, "Capacity (clinicians) of facilities without one.", minimum=0
        ),
        "candidates": Key((str,), None, "Candidate sites file; default: generated.", is_path=True),
        "synthetic_nodes": Key((int,), 2_500, "Road nodes of the synthetic region.", minimum=4),
        "synthetic_origins": Key(
            (int,), 1_000, "Population points of the synthetic region.", minimum=1
        ),
        "synthetic_facilities": Key((int,), 8, "Facilities of the synthetic region.", minimum=1),
    },
    "network": {
        "mode": Key((str,), "drive", "Travel mode.", choices=("walk", "bike", "drive")),
        "speed_kph": Key(
            _NUM, None, "One speed (km/h) for every edge (walk/bike, or drive).", minimum=0.1
        ),
        "cutoff": Key(_NUM, 120.0, "Largest travel time computed, minutes.", minimum=1),
        "max_snap_m": Key(
            _NUM,
            5_000.0,
            "Largest walk to the road network, metres (long rural walking legs are real).",
            minimum=1,
        ),
        "leg_speed_kph": Key(_NUM, 4.5, "Walking speed to and from the road, km/h.", minimum=0.1),
        "min_component_nodes": Key(
            (int,),
            20,
            "Keep the largest road component and every other of at least this many nodes "
            "(islands); smaller fragments are dropped.",
            minimum=1,
        ),
    },
    "access": {
        "measure": Key(
            (str,),
            "two_step_fca",
            "Accessibility measure (accessplan.measures.MEASURES); its catchment is [plan] "
            "standard. 2SFCA family: clinicians per 10,000 persons; gravity: gravity-weighted "
            "clinicians; cumulative: clinicians within the standard; nearest: minutes (lower "
            "is better).",
            choices=_MEASURES,
        ),
        "digital_access": Key(
            _NUM,
            0.3,
            "Share of each cell's population that can use digital care.",
            minimum=0,
            maximum=1,
        ),
        "effectiveness": Key(
            _NUM, 0.6, "Share of needs that a digital consultation resolves.", minimum=0, maximum=1
        ),
    },
    "plan": {
        "model": Key((str,), "budget", "Location model.", choices=_MODELS),
        "objective": Key(
            (str,),
            "coverage",
            "Budget model objective: persons covered, person-minutes, or the smallest zone "
            "coverage (maximin; needs [equity] zones).",
            choices=("coverage", "median", "maximin"),
        ),
        "budget": Key(_NUM, 5.0, "Budget for new sites, cost units.", minimum=0),
        "p": Key((int,), 5, "Number of new sites (p-median, MCLP, p-center).", minimum=1),
        "standard": Key(
            _NUM,
            30.0,
            "The service standard, minutes: catchment of the access measure, 'persons within', "
            "capacity-limited coverage, and the standard of every location model and supply "
            "type without its own. At most [network] cutoff.",
            minimum=0.1,
        ),
        "types": Key(
            (list,),
            list(_TYPES),
            "Supply types the budget model may add (the other models add clinics).",
        ),
        "candidates": Key(
            (str,), "kmeans", "How to generate candidates.", choices=("kmeans", "cells", "nodes")
        ),
        "n_candidates": Key((int,), 60, "Number of generated candidate sites.", minimum=1),
        "min_distance_m": Key(
            _NUM,
            1_000.0,
            "No candidate closer than this to an existing facility, metres.",
            minimum=0,
        ),
        "solver": Key((str,), "highs", "Solver.", choices=("highs", "cbc")),
        "time_limit": Key(_NUM, 120.0, "Solver time limit, seconds.", minimum=0.1),
        "gap": Key(_NUM, 0.005, "Relative MIP gap tolerance.", minimum=0, maximum=1),
        "persons_per_clinician": Key(
            _NUM, 1_000.0, "Persons one clinician can serve (capacity in persons).", minimum=1
        ),
    },
    "equity": {
        "zones": Key(
            (str,), None, "Zones file (polygons) for per-zone tables and constraints.", is_path=True
        ),
        "zone_col": Key((str,), "zone", "Zone name column of the zones file."),
        "min_zone_coverage": Key(
            _NUM, None, "Minimum covered share in every zone, 0–1.", minimum=0, maximum=1
        ),
        "travel_cap": Key(
            _NUM,
            None,
            "Cap on the travel time of any person the budget model assigns, minutes.",
            minimum=0.1,
        ),
        "unmet_spread": Key(
            _NUM,
            None,
            "Largest spread of unmet-demand shares between zones (budget model), 0–1.",
            minimum=0,
            maximum=1,
        ),
    },
    "outputs": {
        "map": Key((bool,), True, "Write map.html."),
        "report": Key((bool,), True, "Write report.html."),
        "figures": Key((bool,), True, "Write PNG figures."),
    },
}

#: Sections about where a scenario runs and what a sensitivity analysis varies; they never
#: change the result of one run (see :mod:`accessplan.compute`, :mod:`accessplan.sensitivity`).
RUN_SECTIONS: dict[str, dict[str, Key]] = {
    "compute": {
        "scheduler": Key(
            (str,), None, "Address of a running Dask scheduler, e.g. 'tcp://10.0.0.1:8786'."
        ),
        "local_workers": Key(
            (int,),
            None,
            "Start a Dask LocalCluster of this many worker processes (one thread each) here.",
            minimum=1,
        ),
        "block_facilities": Key((int,), 500, "Destinations per travel-time task.", minimum=1),
        "block_origins": Key(
            (int,),
            50_000,
            "Origins per measure task (and per travel-time task when searches start at the "
            "origins).",
            minimum=1,
        ),
    },
    "sensitivity": {
        "draws": Key((int,), 50, "Number of draws (runs with perturbed inputs).", minimum=1),
        "seed": Key((int,), 0, "Seed of the draws."),
        "lower": Key(_NUM, 5.0, "Lower percentile of the intervals.", minimum=0, maximum=100),
        "upper": Key(_NUM, 95.0, "Upper percentile of the intervals.", minimum=0, maximum=100),
        "demand": Key(
            (dict,),
            None,
            "Factor on each cell's population, e.g. { dist = 'lognormal', sigma = 0.1 }.",
        ),
        "speeds": Key((dict,), None, "Factor on every road speed (one per draw)."),
        "capacities": Key((dict,), None, "Factor on each facility's and supply type's capacity."),
        "digital_access": Key((dict,), None, "Factor on the digital uptake share (capped at 1)."),
    },
}

#: Keys of one ``[supply.<type>]`` table.
SUPPLY_KEYS: dict[str, Key] = {
    "cost": Key(_NUM, None, "Cost of one new unit, cost units (1 = one clinic).", minimum=0),
    "capacity": Key(_NUM, None, "Clinicians (or clinician-equivalents) of one unit.", minimum=0),
    "standard": Key(
        _NUM,
        None,
        "Service standard, minutes (physical types); default [plan] standard.",
        minimum=0.1,
    ),
    "digital_access": Key(
        _NUM, None, "Connected share of the population (digital).", minimum=0, maximum=1
    ),
    "effectiveness": Key(_NUM, None, "Share of needs resolved (digital).", minimum=0, maximum=1),
}

#: Default supply options: a clinic, a cheaper robotic unit with a smaller capacity, a digital hub.
DEFAULT_SUPPLY: dict[str, dict[str, float]] = {
    "clinic": {"cost": 1.0, "capacity": 6.0},
    "robotic": {"cost": 0.35, "capacity": 2.0},
    "digital": {"cost": 0.25, "capacity": 8.0},
}


def suggest(word: str, options: list[str]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``options``, else the list of them."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else f" Known keys: {', '.join(options)}."


def _has_key_type(value: Any, key: Key) -> bool:
    """Whether ``value`` is of one of ``key.types`` (a TOML boolean is not a number)."""
    return not (key.types == _NUM and isinstance(value, bool)) and isinstance(value, key.types)


def check_value(where: str, name: str, value: Any, key: Key, base: Path | None = None) -> Any:
    """``value`` of key ``name`` checked against ``key`` (type, choices, bounds, an existing
    file for a path, resolved against ``base``); a :class:`ScenarioError` naming ``where``."""
    if not _has_key_type(value, key):
        wanted = " or ".join(t.__name__ for t in key.types)
        raise ScenarioError(
            f"{where}: {name} must be {wanted}, got {type(value).__name__} {value!r}."
        )
    if key.choices is not None and value not in key.choices:
        raise ScenarioError(
            f"{where}: {name} = {value!r} is not one of {list(key.choices)}."
            + suggest(str(value), list(key.choices)).replace("Known keys", "Choices")
        )
    if key.minimum is not None and value < key.minimum:
        raise ScenarioError(f"{where}: {name} = {value!r} must be >= {key.minimum}.")
    if key.maximum is not None and value > key.maximum:
        raise ScenarioError(f"{where}: {name} = {value!r} must be <= {key.maximum}.")
    if key.is_path:
        path = Path(value)
        if not path.is_absolute() and base is not None:
            path = base / path
        if not path.exists():
            raise ScenarioError(f"{where}: {name} file {str(path)!r} does not exist.")
        return str(path)
    return value


def validate_scenario_dict(
    raw: dict[str, Any], *, source: str = "scenario", base: Path | None = None
) -> dict[str, dict[str, Any]]:
    """Check a parsed scenario and fill in defaults.

    Parameters
    ----------
    raw
        The parsed TOML (or an equivalent dict built in code).
    source
        Name used in messages (the file path).
    base
        Folder that relative paths are read from.

    Returns
    -------
    dict
        One dict per section with every key present (defaults filled), plus ``supply``: a dict
        type → {cost, capacity, standard, digital_access, effectiveness}.

    Raises
    ------
    ScenarioError
        For an unknown section or key (with a suggestion), a wrong type, a value out of range,
        a missing file (with its path), or inconsistent choices.
    """
    if not isinstance(raw, dict):
        raise ScenarioError(f"{source}: a scenario must be a table of sections.")
    sections = [*SCHEMA, *RUN_SECTIONS, "supply"]
    out: dict[str, dict[str, Any]] = {}
    for section in raw:
        if section not in sections:
            raise ScenarioError(
                f"{source}: unknown section [{section}].{suggest(section, sections)}"
            )
    for section, keys in (SCHEMA | RUN_SECTIONS).items():
        given = raw.get(section, {})
        if not isinstance(given, dict):
            raise ScenarioError(f"{source}: [{section}] must be a table, got {given!r}.")
        values = {}
        for name, value in given.items():
            if name not in keys:
                raise ScenarioError(
                    f"{source}: unknown key {name!r} in [{section}].{suggest(name, list(keys))}"
                )
            if value is None and keys[name].default is None:
                continue  # an optional key left unset (as in a config written back)
            values[name] = check_value(f"{source} [{section}]", name, value, keys[name], base)
        out[section] = {name: values.get(name, key.default) for name, key in keys.items()}
    out["supply"] = _validate_supply(raw.get("supply", {}), source)
    _check_consistency(out, source)
    return out


def _validate_supply(given: Any, source: str) -> dict[str, dict[str, Any]]:
    if not isinstance(given, dict):
        raise ScenarioError(f"{source}: [supply] must hold tables such as [supply.clinic].")
    supply = {t: dict(v) for t, v in DEFAULT_SUPPLY.items()}
    for type_name, table in given.items():
        if type_name not in _TYPES:
            raise ScenarioError(
                f"{source}: unknown supply type [supply.{type_name}]."
                + suggest(type_name, list(_TYPES))
            )
        if not isinstance(table, dict):
            raise ScenarioError(f"{source}: [supply.{type_name}] must be a table.")
        for name, value in table.items():
            if value is None:
                continue
            if name not in SUPPLY_KEYS:
                raise ScenarioError(
                    f"{source}: unknown key {name!r} in [supply.{type_name}]."
                    + suggest(name, list(SUPPLY_KEYS))
                )
            supply[type_name][name] = check_value(
                f"{source} [supply.{type_name}]", name, value, SUPPLY_KEYS[name], None
            )
    return supply


def _check_consistency(out: dict[str, dict[str, Any]], source: str) -> None:
    inputs = out["inputs"]
    files = [inputs[k] for k in ("roads", "population")]
    if any(files) and not all(files):
        raise ScenarioError(
            f"{source} [inputs]: give both roads and population files (or neither, to use a "
            "region)."
        )
    if not any(files) and inputs["region"] is None:
        inputs["region"] = "ngazidja"
    for t in out["plan"]["types"]:
        if t not in _TYPES:
            raise ScenarioError(
                f"{source} [plan]: types lists {t!r}; use any of {list(_TYPES)}."
                + suggest(str(t), list(_TYPES)).replace("Known keys", "Choices")
            )
    if not out["plan"]["types"]:
        raise ScenarioError(f"{source} [plan]: types is empty; list at least one supply type.")
    _check_thresholds(out, source)
    _check_run_sections(out, source)
    if out["plan"]["objective"] == "maximin" and not out["equity"]["zones"]:
        raise ScenarioError(
            f"{source} [plan]: objective = 'maximin' maximises the smallest zone coverage; set "
            "[equity] zones (a polygon file) or choose objective 'coverage' or 'median'."
        )


def _check_run_sections(out: dict[str, dict[str, Any]], source: str) -> None:
    """One way to run at most, and distributions the sensitivity analysis can draw from."""
    from accessplan.sensitivity.distributions import check_sensitivity

    compute = out["compute"]
    if compute["scheduler"] is not None and compute["local_workers"] is not None:
        raise ScenarioError(
            f"{source} [compute]: give scheduler (a running Dask cluster) or local_workers (a "
            "cluster started on this machine), not both."
        )
    check_sensitivity(out["sensitivity"], f"{source} [sensitivity]")


def _check_thresholds(out: dict[str, dict[str, Any]], source: str) -> None:
    """Every travel-time threshold within the cutoff: pairs beyond it are never computed."""
    cutoff = float(out["network"]["cutoff"])
    thresholds = [("[plan] standard", out["plan"]["standard"])]
    thresholds += [
        (f"[supply.{kind}] standard", spec.get("standard")) for kind, spec in out["supply"].items()
    ]
    thresholds.append(("[equity] travel_cap", out["equity"]["travel_cap"]))
    for where, value in thresholds:
        if value is not None and float(value) > cutoff:
            raise ScenarioError(
                f"{source} {where} = {value:g} minutes is beyond [network] cutoff = {cutoff:g}; "
                f"travel times are computed only up to the cutoff: raise [network] cutoff to at "
                f"least {value:g} or lower {where}."
            )


def read_scenario_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read and validate a TOML scenario file (see :data:`SCHEMA`)."""
    path = Path(path)
    if not path.exists():
        raise ScenarioError(f"scenario file {str(path)!r} does not exist.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}.") from exc
    return validate_scenario_dict(raw, source=str(path), base=path.parent)


def reference_markdown() -> str:
    """The scenario keys as Markdown tables (the README's scenario reference is this text)."""
    lines: list[str] = []
    for section, keys in SCHEMA.items():
        lines += [
            "",
            f"**[{section}]**",
            "",
            "| key | type | default | meaning |",
            "|---|---|---|---|",
        ]
        for name, key in keys.items():
            kinds = " or ".join(t.__name__ for t in key.types)
            choices = f" One of: {', '.join(key.choices)}." if key.choices else ""
            text = f"{key.help}{choices}".replace("|", "\\|")
            lines.append(f"| `{name}` | {kinds} | `{key.default!r}` | {text} |")
    lines += [
        "",
        "**[supply.clinic]**, **[supply.robotic]**, **[supply.digital]**",
        "",
        "| key | type | meaning |",
        "|---|---|---|",
    ]
    for name, key in SUPPLY_KEYS.items():
        lines.append(f"| `{name}` | {' or '.join(t.__name__ for t in key.types)} | {key.help} |")
    defaults = "; ".join(
        f"{kind}: " + ", ".join(f"{k} {v:g}" for k, v in spec.items())
        for kind, spec in DEFAULT_SUPPLY.items()
    )
    lines += ["", f"Defaults: {defaults}.", ""]
    return "\n".join(lines)
