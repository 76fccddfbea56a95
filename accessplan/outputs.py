# Over 600 lines: atomic output folders (temporary folder, swap, manifest, fsync) and the
# writer of every output file, which must run inside them.
"""Writing a scenario's outputs: GeoPackage, CSV, offline map and report, PNG figures.

An output folder is never half-written nor mixed from two runs. A run writes into a temporary
folder beside the target (``.accessplan-tmp-<name>-<pid>-<token>``, in the same parent, so the
final move is a rename on one filesystem) and moves it into place only once every file and
``manifest.json`` are complete. Replacing an earlier run swaps the two folders in one step
where the system can (Linux ``renameat2``), then removes the old one; temporary folders left
by a killed run are removed by the next run to the same target.

``manifest.json`` describes the folder: the scenario's name and hash (sha256 of the validated
configuration as canonical JSON), the package version, the UTC time, and every file with its
size in bytes and sha256; :func:`verify_outputs` checks a folder against it.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import secrets
import shutil
import sys
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from accessplan._sanitize import write_csv
from accessplan.errors import InputError

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

    from accessplan.scenario.result import Result

__all__ = [
    "MANIFEST_NAME",
    "TEMP_PREFIX",
    "check_output_dir",
    "output_folder",
    "read_manifest",
    "scenario_hash",
    "verify_outputs",
    "write_outputs",
]

#: Name of the file that lists every output of a folder with its size and checksum.
MANIFEST_NAME = "manifest.json"
#: Prefix of the temporary folders a run writes into before moving them into place.
TEMP_PREFIX = ".accessplan-tmp-"
_REPLACE_HINT = "pass replace=True (--replace on the command line) to replace it"


# ------------------------------------------------------------------------------ public
def write_outputs(result: Result, out_dir: str | Path, *, replace: bool = False) -> dict[str, Path]:
    """Write every output of ``result`` (a :class:`~accessplan.scenario.Result`) to ``out_dir``.

    Files: ``accessibility.gpkg`` (per cell: population, before, after, change, minutes),
    ``plan.gpkg`` and ``plan.csv`` (existing and new sites with type, cost, capacity and
    assigned population), ``summary.csv`` (headline metrics before/after), ``diagnostics.csv``
    (snapping and reachability), ``map.html``, ``report.html``, PNG figures, and
    ``manifest.json`` (see the module docstring). The folder appears complete or not at all.

    Parameters
    ----------
    result
        The scenario's result.
    out_dir
        Output folder: new, empty, or (with ``replace``) holding files that are all removed.
    replace
        Replace a folder that already holds files (an earlier run's, or any).

    Returns
    -------
    dict
        Output paths by name (inside ``out_dir``).

    Raises
    ------
    InputError
        ``out_dir`` is a file, holds files and ``replace`` is false, holds the scenario's own
        input files, or cannot be written (the message names the file and the fix).
    """
    target = Path(out_dir)
    scenario = result.scenario
    describe = {
        "kind": "scenario",
        "scenario": scenario.name,
        "scenario_hash": scenario_hash(scenario.config),
        "scenario_source": str(scenario.source),
    }
    protect = scenario_input_paths(scenario.config, source=scenario.source)
    with output_folder(target, replace=replace, describe=describe, protect=protect) as folder:
        written = _write_files(result, folder, target)
    return {name: target / path.relative_to(folder) for name, path in written.items()}


def scenario_hash(config: dict[str, Any]) -> str:
    """sha256 (hex) of a validated scenario configuration as canonical JSON.

    Canonical: keys sorted, no whitespace, UTF-8; values that JSON cannot hold as such (paths)
    as their text.
    """
    text = json.dumps(
        config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def scenario_input_paths(config: dict[str, Any], *, source: str | Path | None = None) -> list[Path]:
    """The files a scenario reads (its TOML file, roads, population, facilities, ...)."""
    paths = [config.get("inputs", {}).get(k) for k in ("roads", "population", "facilities")]
    paths += [config.get("inputs", {}).get("candidates"), config.get("equity", {}).get("zones")]
    if source is not None and str(source) != "code":
        paths.append(source)
    return [Path(p) for p in paths if p]


def check_output_dir(
    out_dir: str | Path, *, replace: bool = False, protect: Iterable[str | Path] = ()
) -> Path:
    """Check that a run can write ``out_dir``, before anything is computed.

    Parameters
    ----------
    out_dir
        The output folder as the user gave it.
    replace
        Whether a folder holding files may be replaced.
    protect
        Files that must survive (the scenario's inputs): a folder holding one is not replaced.

    Returns
    -------
    pathlib.Path
        The folder's real path (symbolic links resolved), where the run will be moved.

    Raises
    ------
    InputError
        ``out_dir`` names a file, holds files and ``replace`` is false, would delete the
        current folder or a protected file when replaced, or its parent cannot be written.
    """
    target = Path(out_dir)
    real = Path(os.path.realpath(target))
    if real.exists() and not real.is_dir():
        raise InputError(
            f"output folder {target} is a file, not a folder; choose a folder path for the "
            "outputs (out_dir; --out on the command line)."
        )
    if real.is_dir() and _entries(real):
        if not replace:
            raise InputError(
                f"output folder {target} already holds {_describe_contents(real)}; "
                f"{_REPLACE_HINT}, or choose a new or empty folder."
            )
        _refuse_dangerous_replace(target, real, protect)
    _check_parent_writable(target, real)
    return real


@contextmanager
def output_folder(
    out_dir: str | Path,
    *,
    replace: bool = False,
    describe: dict[str, Any] | None = None,
    protect: Iterable[str | Path] = (),
) -> Iterator[Path]:
    """A temporary folder to write into; on success it gets a manifest and becomes ``out_dir``.

    On any exception (Ctrl-C included) the temporary folder is removed and ``out_dir`` is left
    as it was. ``OSError`` becomes :class:`~accessplan.errors.InputError` naming the file in
    ``out_dir`` (not the temporary folder) and the fix.

    Parameters
    ----------
    out_dir
        The output folder (see :func:`check_output_dir`).
    replace
        Replace a folder that already holds files.
    describe
        Extra manifest fields (e.g. ``scenario``, ``scenario_hash``).
    protect
        Files a replaced folder must not hold.

    Yields
    ------
    pathlib.Path
        The temporary folder, beside ``out_dir``.
    """
    target = Path(out_dir)
    protect = list(protect)
    real = check_output_dir(target, replace=replace, protect=protect)
    with _named_os_errors(None, target):
        real.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(real)
        work = _new_temporary(real)
    try:
        with _named_os_errors(work, target):
            yield work
            _write_manifest(work, describe or {})
            _sync_tree(work)
            _move_into_place(work, real, target, replace=replace, protect=protect)
    except BaseException:
        _remove_tree(work)
        raise
    # After a swap ``work`` holds the earlier run. The new run is in place: a Ctrl-C now only
    # leaves the earlier run's temporary folder, which the next run to this folder removes.
    with suppress(KeyboardInterrupt):
        _remove_tree(work)


def read_manifest(out_dir: str | Path) -> dict[str, Any]:
    """The parsed ``manifest.json`` of an output folder."""
    path = Path(out_dir) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(
            f"{path} does not exist: {out_dir} is not a complete output folder."
        ) from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} cannot be read as a manifest: {exc}.") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise InputError(f"{path} is not an accessplan manifest (no 'files' list).")
    return manifest


def verify_outputs(out_dir: str | Path) -> dict[str, Any]:
    """Check every file of an output folder against its manifest; return the manifest.

    Raises
    ------
    InputError
        A listed file is missing or differs in size or sha256, or a file is not listed.
    """
    folder = Path(out_dir)
    manifest = read_manifest(folder)
    listed = {entry["path"]: entry for entry in manifest["files"]}
    present = {rel for rel, _ in _files_below(folder)} - {MANIFEST_NAME}
    problems = [f"{rel} is missing" for rel in sorted(set(listed) - present)]
    problems += [f"{rel} is not in the manifest" for rel in sorted(present - set(listed))]
    for rel in sorted(set(listed) & present):
        size, digest = _size_and_sha256(folder / rel)
        if size != listed[rel]["bytes"] or digest != listed[rel]["sha256"]:
            problems.append(f"{rel} differs from the manifest ({size} bytes, sha256 {digest})")
    if problems:
        raise InputError(f"{folder} does not match its manifest: " + "; ".join(problems) + ".")
    return manifest


# ------------------------------------------------------------------------------ files
def _write_files(result: Result, folder: Path, target: Path) -> dict[str, Path]:
    """Every output file of ``result`` into ``folder``; OSErrors name the file in ``target``."""
    cfg = result.scenario.config
    paths: dict[str, Path] = {}

    def step(name: str) -> AbstractContextManager[None]:
        return _named_os_errors(folder, target, current=name)

    with step("accessibility.gpkg"):
        paths["accessibility"] = _write_gpkg(
            result.cells, folder / "accessibility.gpkg", "accessibility"
        )
    facilities = result.facilities
    with step("plan.gpkg"):
        paths["plan_gpkg"] = _write_gpkg(facilities, folder / "plan.gpkg", "sites")
    plan_csv = _plan_table(facilities)
    with step("plan.csv"):
        paths["plan_csv"] = write_csv(plan_csv, folder / "plan.csv", index=False)
    summary = result.summary_table()
    with step("summary.csv"):
        paths["summary"] = write_csv(summary, folder / "summary.csv", index=False)
    with step("diagnostics.csv"):
        paths["diagnostics"] = write_csv(
            result.diagnostics_table(), folder / "diagnostics.csv", index=False
        )

    figures: list[tuple[Path, str]] = []
    if cfg["outputs"]["figures"]:
        with _named_os_errors(folder, target):
            figures = _write_figures(result, folder)
        paths.update({p.stem: p for p, _ in figures})
    fmap = _map(result) if cfg["outputs"]["map"] or cfg["outputs"]["report"] else None
    if fmap is not None and cfg["outputs"]["map"]:
        from accessplan.maps import save_map

        with step("map.html"):
            paths["map"] = save_map(fmap, folder / "map.html")
    if cfg["outputs"]["report"]:
        with step("report.html"):
            paths["report"] = _report(
                result, summary, plan_csv, figures, fmap, folder / "report.html"
            )
    return paths


#: GDAL reports system failures as text; these become the OSError they are.
_GDAL_SYSTEM_ERRORS = {
    "no space left": errno.ENOSPC,
    "disk is full": errno.ENOSPC,  # SQLite, under GeoPackage: "database or disk is full"
    "permission denied": errno.EACCES,
    "read-only file system": errno.EROFS,
    "input/output error": errno.EIO,
}


def _write_gpkg(frame: Any, path: Path, layer: str) -> Path:
    from pyogrio.errors import DataLayerError, DataSourceError

    if path.exists():
        path.unlink()
    try:
        frame.to_file(path, layer=layer, driver="GPKG")
    except (DataSourceError, DataLayerError) as exc:
        text = str(exc).lower()
        for words, code in _GDAL_SYSTEM_ERRORS.items():
            if words in text:
                raise OSError(code, os.strerror(code), str(path)) from exc
        raise
    return path


def _files_below(folder: Path) -> list[tuple[str, Path]]:
    """Every regular file under ``folder`` as (POSIX relative path, path), sorted."""
    found = [(p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_file()]
    return sorted(found)


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _write_manifest(folder: Path, describe: dict[str, Any]) -> Path:
    from accessplan import __version__

    files = []
    for rel, path in _files_below(folder):
        if rel == MANIFEST_NAME:
            continue
        size, digest = _size_and_sha256(path)
        files.append({"path": rel, "bytes": size, "sha256": digest})
    manifest = {
        "format": "accessplan outputs",
        "format_version": 1,
        **describe,
        "accessplan_version": __version__,
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": files,
    }
    path = folder / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ checks
def _entries(folder: Path) -> list[str]:
    with os.scandir(folder) as it:
        return sorted(entry.name for entry in it)


def _describe_contents(folder: Path) -> str:
    """'another run's outputs (scenario ..., written ...)' or 'N entries (e.g. ...)'."""
    manifest_path = folder / MANIFEST_NAME
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            return (
                f"another run's outputs (scenario {str(manifest.get('scenario', '?'))!r}, "
                f"written {manifest.get('created_utc', '?')})"
            )
        except (OSError, ValueError, AttributeError):
            pass
    names = _entries(folder)
    shown = ", ".join(repr(n) for n in names[:3]) + (", ..." if len(names) > 3 else "")
    return f"{len(names)} file{'s' if len(names) != 1 else ''} or folders ({shown})"


def _refuse_dangerous_replace(target: Path, real: Path, protect: Iterable[str | Path]) -> None:
    """Refuse to replace a folder whose removal would delete the inputs or the working folder."""
    cwd = Path(os.path.realpath(Path.cwd()))
    if real == Path(real.anchor) or real == Path(os.path.realpath(Path.home())):
        raise InputError(f"output folder {target} is the root or home folder; choose a subfolder.")
    if cwd == real or real in cwd.parents:
        raise InputError(
            f"output folder {target} holds the current working folder; replacing it would "
            "delete it. Choose a subfolder for the outputs."
        )
    for path in protect:
        resolved = Path(os.path.realpath(path))
        if resolved == real or real in resolved.parents:
            raise InputError(
                f"output folder {target} holds the scenario's input {path}; replacing it "
                "would delete that file. Choose another output folder."
            )


def _check_parent_writable(target: Path, real: Path) -> None:
    """Create and remove a probe folder in the nearest existing folder above ``real``."""
    ancestor, shown = real.parent, target.parent  # ``shown``: the user's path, for messages
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor, shown = ancestor.parent, shown.parent
    if not ancestor.is_dir():
        raise InputError(
            f"output folder {target} cannot be created: {shown} is a file, not a folder. "
            "Choose another output folder."
        )
    probe = ancestor / f"{TEMP_PREFIX}{real.name}-{os.getpid()}-probe"
    try:
        probe.mkdir()
        probe.rmdir()
    except FileExistsError:
        pass
    except OSError as exc:
        raise InputError(
            f"output folder {target} cannot be written: creating a folder in "
            f"{_shown_folder(shown)} fails ({exc.strerror or exc}). Choose a folder you may "
            "write to."
        ) from exc


# ------------------------------------------------------------------------------ errors
@contextmanager
def _named_os_errors(
    work: Path | None, target: Path, *, current: str | None = None
) -> Iterator[None]:
    """Turn ``OSError`` into InputError naming the user's path and the fix."""
    try:
        yield
    except OSError as exc:
        raise InputError(_os_error_message(exc, work, target, current)) from exc


def _os_error_message(exc: OSError, work: Path | None, target: Path, current: str | None) -> str:
    def user_path(name: Any) -> str:
        text = os.fsdecode(name)
        return text.replace(str(work), str(target), 1) if work is not None else text

    if exc.filename is not None and Path(os.fsdecode(exc.filename)).name.startswith(TEMP_PREFIX):
        what = f"a temporary folder beside {target}"
    elif exc.filename is not None:
        what = user_path(exc.filename)
    elif current is not None:
        what = str(target / current)
    else:
        what = str(target)
    reason = exc.strerror or str(exc) or type(exc).__name__
    parent = _shown_folder(target.parent)
    if exc.errno == errno.ENOSPC:
        fix = f"free disk space on the drive of {parent}, or choose another output folder"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = f"check that you may write to {parent}, or choose another output folder"
    else:
        fix = "check the output folder and try again, or choose another output folder"
    return f"could not write {what}: {reason}. Fix: {fix}; nothing was written to {target}."


def _shown_folder(path: Path) -> str:
    return "the current folder" if str(path) in ("", ".") else str(path)


# ------------------------------------------------------------------------------ moving
def _new_temporary(real: Path) -> Path:
    """A new folder beside ``real``, named so that a later run can tell it is stale."""
    while True:
        work = real.parent / f"{TEMP_PREFIX}{real.name}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            work.mkdir()  # honours the umask, unlike tempfile.mkdtemp (0o700)
            return work
        except FileExistsError:
            continue


def _remove_stale_temporaries(real: Path) -> None:
    """Remove temporary folders of ``real`` whose process is gone (a killed run's)."""
    stem = f"{TEMP_PREFIX}{real.name}"
    for entry in real.parent.iterdir():
        parts = entry.name.rsplit("-", 2)
        if len(parts) != 3 or parts[0] != stem or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid != os.getpid() and _process_alive(pid):
            continue  # another run to the same folder is writing right now
        _remove_tree(entry)


def _process_alive(pid: int) -> bool:
    if os.name == "nt":
        return True  # os.kill(pid, 0) would end it on Windows: never remove others' folders
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _move_into_place(
    work: Path, real: Path, target: Path, *, replace: bool, protect: list[Any]
) -> None:
    """Make ``work`` the folder ``real``; an earlier run there ends up at ``work``."""
    if real.is_dir() and _entries(real):
        if not replace:
            raise InputError(
                f"output folder {target} received files while this run was writing "
                f"({_describe_contents(real)}); {_REPLACE_HINT}, or choose a new folder."
            )
        _refuse_dangerous_replace(target, real, protect)
        _swap(work, real)
    else:
        _rename_over_empty(work, real)
    _sync_folder(real.parent)


def _rename_over_empty(work: Path, real: Path) -> None:
    try:
        os.rename(work, real)  # POSIX: atomic, and replaces an empty folder
    except OSError:
        if not (real.is_dir() and not _entries(real)):
            raise
        real.rmdir()  # Windows cannot rename over an empty folder
        os.rename(work, real)


def _swap(work: Path, real: Path) -> None:
    """Exchange two folders, atomically where the system can."""
    if _exchange(work, real):
        return
    aside = _new_temporary(real)
    aside.rmdir()
    os.rename(real, aside)
    try:
        os.rename(work, real)
    except BaseException:
        os.rename(aside, real)
        raise
    os.rename(aside, work)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` in one step with Linux ``renameat2``; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False  # a filesystem without RENAME_EXCHANGE: two renames instead
    raise OSError(code, os.strerror(code), os.fsdecode(b))


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _sync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` to disk before it is moved into place."""
    for _, path in _files_below(folder):
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    for sub in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        _sync_folder(sub)


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # folders cannot be opened on Windows
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _plan_table(facilities: gpd.GeoDataFrame) -> pd.DataFrame:
    pts = facilities.to_crs("EPSG:4326")
    table = pd.DataFrame(facilities.drop(columns="geometry"))
    table["lon"] = pts.geometry.x.round(6).to_numpy()
    table["lat"] = pts.geometry.y.round(6).to_numpy()
    order = {"new": 0, "existing": 1}
    return table.sort_values(
        ["status", "type", "id"], key=lambda s: s.map(order) if s.name == "status" else s
    )


def _measure_args(result: Result) -> dict[str, Any]:
    """Label, unit and direction of the scenario's access measure, from the registry."""
    from accessplan.measures import get_measure

    measure = get_measure(result.scenario.config["access"]["measure"])
    return {
        "label": measure.label,
        "unit": measure.unit,
        "higher_is_better": measure.higher_is_better,
    }


def _map(result: Result) -> folium.Map:
    from accessplan.maps import accessibility_map

    return accessibility_map(
        result.cells,
        result.facilities,
        title=result.scenario.name,
        **_measure_args(result),
        cutoff=result.scenario.config["network"]["cutoff"],
        context=result.context,
        attribution=result.attribution,
    )


def _write_figures(result: Result, out_dir: Path) -> list[tuple[Path, str]]:
    """One A4-wide PNG per map layer, the Lorenz curves and the travel-time histogram."""
    from accessplan import figures
    from accessplan.maps import measure_title

    cells = result.cells
    standard = result.scenario.config["plan"]["standard"]
    cutoff = result.scenario.config["network"]["cutoff"]
    measure = _measure_args(result)
    titles = {
        "before": "Access before the plan",
        "after": "Access after the plan (with new sites)",
        "change": "Change in access (after − before)",
    }
    maps = [
        (
            figures.plot_access_map(
                cells,
                out_dir / f"access_{layer}.png",
                layer=layer,
                **measure,
                cutoff=cutoff,
                facilities=result.facilities,
                title=result.scenario.name,
            ),
            f"{caption}: {measure_title(measure['label'], measure['unit'])}",
        )
        for layer, caption in titles.items()
    ]
    lorenz = figures.plot_lorenz(
        cells, out_dir / "lorenz.png", label=measure["label"], unit=measure["unit"]
    )
    hist = figures.plot_travel_time_histogram(
        cells,
        out_dir / "travel_time_histogram.png",
        before="minutes_before",
        after="minutes_after",
        cutoff=cutoff,
    )
    return [
        *maps,
        (lorenz, "Lorenz curves of access before and after"),
        (hist, f"Travel time to the nearest facility (standard: {standard:g} min)"),
    ]


def _report(
    result: Result,
    summary: pd.DataFrame,
    plan_table: pd.DataFrame,
    figures: list[tuple[Path, str]],
    fmap: folium.Map | None,
    path: Path,
) -> Path:
    from accessplan.report import write_report

    plan = result.plan
    cfg = result.scenario.config
    catchment = cfg["plan"]["standard"]  # the scenario's one standard is the catchment
    notes = [
        result.comparison.headline(),
        f"Plan: model {plan.model}, objective {plan.objective:,.6g}, bound {plan.bound:,.6g} "
        f"({plan.solver}).",
        f"Access measure: {cfg['access']['measure']} with a {catchment:g}-minute "
        f"catchment; digital supply reaches {cfg['access']['digital_access']:.0%} of each cell's "
        f"population and resolves {cfg['access']['effectiveness']:.0%} of needs.",
        f"Travel mode {cfg['network']['mode']}, cutoff {cfg['network']['cutoff']:g} min.",
    ]
    if cfg["scenario"]["description"]:
        notes.insert(0, cfg["scenario"]["description"])
    diagnostics = result.diagnostics.reset_index()
    diagnostics = diagnostics.rename(columns={"level_0": "run", "level_1": "input"})
    timings = pd.DataFrame(
        {"stage": list(result.timings), "seconds": list(result.timings.values())}
    )
    return write_report(
        path,
        title=result.scenario.name,
        summary=summary,
        tables={
            "New and existing sites": plan_table,
            "Snapping and reachability": diagnostics,
            "Run time by stage": timings,
        },
        figures=figures,
        map=fmap,
        notes=notes,
        attribution=result.attribution,
        **_measure_args(result),
        plan=plan,
        warnings=getattr(result, "warnings", None),
        accounting=getattr(result, "accounting", None),
        components=getattr(result, "components", None),
        excluded=getattr(result, "excluded", None),
    )
