"""Public entry points of the budget model: :func:`budgeted_siting` and :func:`budget_sweep`."""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import pulp

from accessplan.errors import InfeasibleError, InputError
from accessplan.optimize import fairness
from accessplan.optimize._data import check_time_limit
from accessplan.optimize._data import unserved_minutes as unserved_minutes_for
from accessplan.optimize._solve import with_bound
from accessplan.optimize.budget.model import add_equity, build_model
from accessplan.optimize.budget.options import OBJECTIVES, Instance, SupplyOption, prepare_instance
from accessplan.optimize.budget.reduction import (
    best_share,
    column_reach,
    physical_pairs,
    reduce_instance,
)
from accessplan.optimize.budget.result import budget_plan
from accessplan.optimize.budget.staged import greedy_start, simple_bound, solve_stages
from accessplan.optimize.plan import Plan
from accessplan.supply import SUPPLY_TYPES
from accessplan.traveltimes import TravelTimes


def budgeted_siting(
    tt: TravelTimes,
    demand: pd.Series | float,
    supply_options: Sequence[SupplyOption],
    budget: float,
    *,
    objective: str = "coverage",
    candidates: pd.DataFrame | None = None,
    existing: pd.DataFrame | Iterable[Hashable] | None = None,
    closable: Iterable[Hashable] = (),
    site_costs: pd.DataFrame | None = None,
    zones: pd.Series | Any = None,
    origins: Any = None,
    zone_col: str | None = None,
    min_zone_coverage: float | Mapping[Hashable, float] | None = None,
    travel_cap: float | None = None,
    unmet_spread: float | None = None,
    unserved_minutes: float | None = None,
    solver: str | pulp.LpSolver = "highs",
    time_limit: float | None = None,
    gap: float | None = None,
    msg: bool = False,
) -> Plan:
    """Choose sites and supply types within a budget (maximal coverage or weighted time).

    **Model** (exact MILP, built only on the reachable pairs within each option's reach).

    *Sets.* Origins :math:`i \\in I`; candidate sites :math:`j \\in J`; options
    :math:`t \\in T` (clinic, robotic, digital, ... each a :class:`SupplyOption`); columns
    :math:`k = (j, t)` with :math:`t` allowed at :math:`j`, plus existing facilities
    :math:`k \\in E` (fixed open); physical columns :math:`K^{ph}`, digital columns
    :math:`K^{dig}`; reachable pairs :math:`N = \\{(i,k): k \\in K^{ph}, d_{ik} \\le r_k\\}`
    with reach :math:`r_k = \\min(s_t, \\text{travel\\_cap})` for the coverage objectives
    and :math:`r_k = \\text{travel\\_cap}` (default: every stored pair) for the median one.

    *Parameters.* :math:`P_i` persons; :math:`d_{ik}` minutes; standard :math:`s_k`;
    cost :math:`c_k` (currency) and budget :math:`B`; capacity :math:`Q_k` (persons,
    :math:`\\infty` when None; a digital hub without capacity counts as
    :math:`\\sum_i a_i P_i`); connected share :math:`a_i`, effectiveness :math:`e`;
    unserved penalty :math:`M` minutes (median only).

    *Variables.* :math:`x_k \\in \\{0,1\\}` open column :math:`k` (:math:`x_k = 1` for
    :math:`k \\in E`); :math:`w_{ik} \\in [0,1]` share of origin :math:`i` served physically by
    :math:`k`; :math:`z_i \\in [0, a_i e]` share of origin :math:`i` whose need is met
    digitally; :math:`u_i \\in [0,1]` unserved share (median). Coverage of origin :math:`i`:
    :math:`y_i = \\sum_{k: (i,k) \\in N, d_{ik} \\le s_k} w_{ik} + z_i`.

    *Constraints.*

    .. math::

        \\sum_{t} x_{(j,t)} \\le 1 \\;\\forall j, \\qquad
        \\sum_{k \\notin E} c_k x_k \\le B, \\qquad
        w_{ik} \\le x_k, \\qquad
        \\sum_i P_i w_{ik} \\le Q_k x_k \\;\\forall k \\in K^{ph},

        \\sum_k w_{ik} + z_i \\le 1 \\;(\\text{coverage}), \\qquad
        \\sum_k w_{ik} + z_i + u_i = 1 \\;(\\text{median}), \\qquad
        \\sum_i P_i z_i \\le e \\sum_{k \\in K^{dig}} Q_k x_k .

    Each person's need is met at most once — physically or digitally — so digital coverage
    never double-counts people covered physically, never exceeds :math:`\\sum_i a_i e P_i`, and
    never exceeds the effective digital capacity :math:`e \\sum Q_k x_k`. Without any
    physical capacity the coverage objectives use the classic MCLP aggregation
    :math:`y^{ph}_i \\le \\sum_{k: (i,k) \\in N} x_k` instead of the :math:`w` variables (same
    optimum, fewer variables) and assign each covered origin to its nearest open site.

    *Exact reductions* (same optimum, smaller model). The columns of one site with the same
    reach and standard form a *site group* :math:`g` with one flow :math:`w_{ig}`,
    :math:`w_{ig} \\le \\sum_{k \\in g} x_k` and :math:`\\sum_i P_i w_{ig} \\le \\sum_{k \\in g}
    \\min(Q_k, \\bar P_g) x_k` (:math:`\\bar P_g` the persons the group reaches), exact because
    a site hosts one option. The linking rows :math:`w_{ig} \\le \\sum x_k` are kept only for
    groups whose capacity cannot bind (the capacity row already closes the others). Origins
    with the same pairs (groups, within-standard flags and, for the median, minutes), digital
    share and zone form one *class* with their summed population (their flows are
    interchangeable); every member is reported with the class's shares. New digital hubs of
    equal cost and capacity that may stand at the same sites :math:`D` are *pooled* into an
    integer count :math:`n \\le |D|` with :math:`n + \\sum_{k \\text{ physical at } D} x_k
    \\le |D|`; the plan places them on the free sites of :math:`D` in candidate order.

    *Objective* (``objective``):

    * ``"coverage"``: maximise :math:`\\sum_i P_i y_i` (persons);
    * ``"median"``: minimise :math:`\\sum_{(i,k)} P_i d_{ik} w_{ik} + M \\sum_i P_i u_i`
      (person-minutes; needs met digitally travel 0 minutes);
    * ``"maximin"``: maximise the worst zone coverage :math:`\\min_z c_z` (needs ``zones``),
      then the covered population.

    Ties are broken lexicographically: with the objective held at its optimum, the cost
    :math:`\\sum c_k x_k` is minimised (so options that add nothing are never bought). With
    a gap tolerance :math:`g > 0` (and a solver named by string) the cost is instead folded
    into the objective with a weight :math:`\\varepsilon = 0.1 g L / B` (:math:`L` a proven
    lower bound of the optimum, e.g. the greedy start's value): the reported bound adds
    :math:`\\varepsilon B`, the solver runs to :math:`0.9 g`, so the reported gap stays within
    :math:`g`. The solver starts from the better of a greedy plan and two LP dives (hub
    counts rounded down and up); the time limit is shared by all stages.

    *Equity* (see :mod:`accessplan.optimize.fairness`; zone coverage
    :math:`c_z = \\sum_{i \\in z} P_i y_i / P_z`): ``min_zone_coverage``
    :math:`c_z \\ge m_z`; ``unmet_spread`` :math:`\\max_z (1-c_z) - \\min_z (1-c_z) \\le
    \\gamma`; ``travel_cap`` removes every pair longer than the cap.

    Parameters
    ----------
    tt
        Travel times (minutes), origins × destinations; candidate and existing sites are
        destinations.
    demand
        Persons per origin id (Series) or one number for every origin.
    supply_options
        The supply options a candidate may host (at most one per site).
    budget
        Money available for new sites (currency units, same unit as the costs).
    objective
        ``"coverage"`` (default), ``"median"`` or ``"maximin"``.
    candidates
        Sites that may host a new option: a DataFrame with an ``id`` column (or index) of
        destination ids and an optional ``type`` (the one type the site may host; missing or
        NaN = any option), as for every location model; costs and capacities come from
        ``supply_options`` and ``site_costs``. Default: every destination that is not an
        existing facility.
    existing
        Facilities that stay open: a DataFrame with an ``id`` column (or index) and optional
        ``type`` (default clinic), ``capacity`` (persons) and ``standard`` (minutes; default:
        the standard of the first option of the same type), or ids (clinics). Digital
        existing facilities need not be destinations.
    closable
        Existing ids the plan may close (at no cost): the site may then host a new option
        when it is also a candidate. Among equally good and equally cheap plans, the one
        closing the fewest is chosen; ``details["closed"]`` lists those closed.
    site_costs
        Per-site cost overrides: DataFrame indexed by candidate id, one column per option name;
        NaN keeps the option's cost, ``inf`` forbids the option at that site.
    zones, origins, zone_col
        Zones for the equity options and the per-zone report (see
        :func:`accessplan.optimize.fairness.zone_labels`).
    min_zone_coverage
        Minimum coverage share (0–1) of every zone, or a mapping zone → share.
    travel_cap
        Largest travel time (minutes) of any person served physically.
    unmet_spread
        Bound :math:`\\gamma` (0–1) on the spread of unmet shares between zones.
    unserved_minutes
        Median objective: minutes charged per unserved person; default ``travel_cap`` if
        given, else the travel-time cutoff, else the largest stored travel time to a site.
    solver, time_limit, gap, msg
        Solver choice (``"highs"``: arrays passed to highspy; ``"cbc"`` or a PuLP solver: the
        same model built with PuLP), seconds for all solve stages together, relative MIP gap
        and solver log; see :func:`accessplan.optimize._solve.solve_model`.

    Returns
    -------
    Plan
        ``sites`` (open sites with ``type``, ``option``, ``existing``, ``cost``,
        ``capacity``, ``standard``, ``assigned_population``), ``assignment``
        (physical), ``objective`` and ``bound`` of the main objective, ``cost``,
        ``covered_population`` (physical within the standard plus digital), and ``details``:
        ``"coverage_by_origin"`` (population and physical, digital and covered shares),
        ``"zones"`` (per-zone coverage when zones are given), ``"digital"`` (covered,
        connected and capacity figures), ``"counts"`` (new sites per option), ``"budget"``,
        ``"stages"`` (value of each lexicographic stage), ``"timing"`` (seconds spent
        preparing and building the model, ``"build"``, and solving it, ``"solve"``) and
        ``"model"`` (rows, columns, origin classes, site groups and class–group pairs).

    Raises
    ------
    InputError
        Unknown supply type, negative cost or capacity, budget below the cheapest option, ids
        that do not match, a bad objective or equity parameter.
    InfeasibleError
        A zone minimum that no choice of sites can meet (named), or equity constraints that
        the budget cannot satisfy.
    """
    t0 = time.perf_counter()
    if objective not in OBJECTIVES:
        raise InputError(f"objective {objective!r} is unknown; use one of {list(OBJECTIVES)}.")
    if travel_cap is not None:
        fairness.check_travel_cap(travel_cap)
    _check_thresholds(tt, supply_options, travel_cap, unserved_minutes)
    inst = prepare_instance(
        tt, demand, supply_options, budget, candidates, existing, closable, site_costs
    )
    labels = _zones_for(inst, zones, origins, zone_col, objective, min_zone_coverage, unmet_spread)
    reach = column_reach(inst, objective, travel_cap)
    pairs = physical_pairs(inst, reach)
    penalty = unserved_minutes_for(tt, unserved_minutes, travel_cap)
    if labels is not None and min_zone_coverage is not None:
        fairness.check_zone_minimum_reachable(
            best_share(inst, pairs), inst.population, labels, min_zone_coverage
        )
    zone_codes = None if labels is None else pd.factorize(labels, sort=True)[0]
    red = reduce_instance(inst, pairs, reach, zone_codes, minutes_matter=objective == "median")
    model = build_model(inst, red, objective, budget, penalty)
    model.start = greedy_start(inst, model, budget)
    if labels is not None:
        add_equity(model, labels, objective, min_zone_coverage, unmet_spread)
    t_solve = time.perf_counter()
    try:
        deadline = None if time_limit is None else t0 + check_time_limit(time_limit)
        info, solution, stage_values = solve_stages(model, budget, solver, deadline, gap, msg)
    except InfeasibleError as exc:
        raise InfeasibleError(
            f"no plan within budget {budget:g} meets the equity constraints "
            f"(min_zone_coverage={min_zone_coverage}, unmet_spread={unmet_spread}, "
            f"travel_cap={travel_cap}); raise the budget or relax them."
        ) from exc
    solve_seconds = time.perf_counter() - t_solve
    info = with_bound(info, simple_bound(model), model.stages[0].sense)
    plan = budget_plan(
        inst, pairs, model, solution, info, gap, stage_values, labels, budget, objective, t0
    )
    plan.details["timing"] = {"build": t_solve - t0, "solve": solve_seconds}
    plan.details["model"] = {
        "rows": model.builder.n_rows,
        "columns": model.builder.n_cols,
        "origin_classes": model.red.n_classes,
        "site_groups": model.red.n_groups,
        "pairs": len(model.red.pair_class),
    }
    return plan


def _check_thresholds(
    tt: TravelTimes,
    supply_options: Sequence[SupplyOption],
    travel_cap: float | None,
    unserved_minutes: float | None,
) -> None:
    """No standard, ``travel_cap`` or ``unserved_minutes`` beyond the travel-time cutoff."""
    for option in supply_options:
        if isinstance(option, SupplyOption) and not option.is_digital:
            tt.check_threshold(option.standard, f"the standard of SupplyOption {option.label!r}")
    tt.check_threshold(travel_cap, "travel_cap")
    tt.check_threshold(unserved_minutes, "unserved_minutes")


def _zones_for(
    inst: Instance,
    zones: Any,
    origins: Any,
    zone_col: str | None,
    objective: str,
    min_zone_coverage: Any,
    unmet_spread: float | None,
) -> pd.Series | None:
    if zones is None:
        needs = [
            name
            for name, given in (
                ("objective='maximin'", objective == "maximin"),
                ("min_zone_coverage", min_zone_coverage is not None),
                ("unmet_spread", unmet_spread is not None),
            )
            if given
        ]
        if needs:
            raise InputError(f"{', '.join(needs)} needs zones=; give a zone label per origin.")
        return None
    return fairness.zone_labels(zones, inst.tt.origin_ids, origins=origins, zone_col=zone_col)


def budget_sweep(
    budgets: Iterable[float],
    tt: TravelTimes,
    demand: pd.Series | float,
    supply_options: Sequence[SupplyOption],
    **kwargs: Any,
) -> pd.DataFrame:
    """Solve :func:`budgeted_siting` for each budget: what each budget buys.

    Parameters
    ----------
    budgets
        Budgets to try (currency units); solved in increasing order.
    tt, demand, supply_options, **kwargs
        As for :func:`budgeted_siting`.

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``budget``, ``covered_population`` (persons), ``coverage`` (0–1),
        ``n_clinic``, ``n_robotic``, ``n_digital`` (new sites of each type), ``cost``,
        ``objective``, ``bound``, ``gap``, ``status``, ``mean_minutes``, ``seconds``; and
        one ``n_<option>`` column per option name that is not a type name.
    """
    rows = []
    for budget in sorted(float(b) for b in budgets):
        plan = budgeted_siting(tt, demand, supply_options, budget, **kwargs)
        new = plan.new_sites
        row: dict[str, Any] = {
            "budget": budget,
            "covered_population": plan.covered_population,
            "coverage": plan.coverage,
        }
        for kind in SUPPLY_TYPES:
            row[f"n_{kind}"] = int((new["type"] == kind).sum())
        for opt in supply_options:
            if opt.label not in SUPPLY_TYPES:
                row[f"n_{opt.label}"] = int((new["option"] == opt.label).sum())
        row.update(
            cost=plan.cost,
            objective=plan.objective,
            bound=plan.bound,
            gap=plan.gap,
            status=plan.status,
            mean_minutes=plan.mean_minutes,
            seconds=plan.seconds,
        )
        rows.append(row)
    return pd.DataFrame(rows)
