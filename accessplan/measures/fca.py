"""Floating catchment area (FCA) measures: supply-to-demand ratios with competition.

Semantics follow PySAL ``access`` (``access.fca``): a catchment ``T`` keeps pairs with
``t_ij ≤ T`` (boundary included); the same decay weight ``W_ij = f(t_ij)`` is applied in both
steps; results are raw (not normalised). Two conventions differ from ``access`` only where
``access`` returns inf/NaN: a facility whose weighted catchment holds no demand (``D_j = 0``)
gets ratio ``R_j = 0`` (its supply is reachable by nobody), and an origin that reaches no
facility gets access 0 (``access`` leaves it NaN).

Digital supply (see :mod:`accessplan.supply`) enters every ratio measure in the same way: it
is reached without travel by the connected share ``a_i`` of each origin's population and
resolves the share ``e`` of needs, so its component is

    ``A_i^dig = a_i · e · Σ_d S_d / Σ_k a_k P_k``   (0 when nobody is connected),

which adds to the physical components without changing them and satisfies
``Σ_i P_i A_i^dig = e Σ_d S_d`` (each unit of effective digital capacity counted once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

import numpy as np
import pandas as pd

from accessplan.errors import InputError
from accessplan.measures._inputs import (
    PairWeights,
    SupplyLike,
    aligned,
    assemble,
    check_minutes,
    decayed_weights,
    demand_values,
    digital_shares,
    parse_supply,
    per_type_product,
    weight_matrix,
    within_mask,
)
from accessplan.measures.decay import (
    E2SFCA_STEPS,
    THREE_STEP_STEPS,
    Decay,
    as_decay,
    evaluate,
    gaussian_fca_decay,
    kernel_density_decay,
    step_decay,
)
from accessplan.traveltimes import TravelTimes, align_values

__all__ = [
    "enhanced_two_step_fca",
    "fca_ratio",
    "gaussian_two_step_fca",
    "kernel_density_two_step_fca",
    "three_step_fca",
    "two_step_fca",
]

DecayLike = Decay | Callable[[np.ndarray], np.ndarray] | Mapping[float, float]


def digital_ratio(
    tt: TravelTimes,
    population: np.ndarray,
    digital_total: float,
    digital_access: pd.Series | float,
    effectiveness: float,
) -> np.ndarray:
    """Digital component ``a_i e Σ_d S_d / Σ_k a_k P_k`` per origin (0 if nobody connected)."""
    if digital_total == 0:
        return np.zeros(len(population))
    a, e = digital_shares(tt, digital_access, effectiveness)
    connected = float(np.dot(a, population))
    if digital_total == 0 or connected == 0:
        return np.zeros(len(population))
    return a * (e * digital_total / connected)


def _fca(
    tt: TravelTimes,
    demand: pd.Series | float,
    supply: SupplyLike,
    weights: PairWeights,
    digital_access: pd.Series | float,
    effectiveness: float,
    name: str,
) -> pd.Series | pd.DataFrame:
    """Both FCA steps on a sparse weight matrix ``W`` (origins × destinations).

    Step 1: ``D = Wᵀ P`` and ``R_j = S_j / D_j`` (0 where ``D_j = 0``); step 2: ``A = W R``,
    one product for all physical supply types that have capacity.
    """
    population = demand_values(tt, demand)
    if isinstance(supply, pd.Series):  # capacity by destination: clinics only, no digital supply
        capacity = aligned(supply, tt.destination_ids, "supply", allow_missing=True)
        access = weights.two_step(population, capacity)
        return pd.Series(access, index=tt.origin_ids, name=name, copy=False)
    sup = parse_supply(tt, supply)
    demand_at = weights.column_sums(population)
    has = demand_at > 0
    ratio = np.zeros_like(sup.physical)
    ratio[has] = sup.physical[has] / demand_at[has, None]
    physical = per_type_product(weights, ratio)
    digital = digital_ratio(tt, population, sup.digital_total, digital_access, effectiveness)
    return assemble(tt, sup, physical, digital, name)


def _weighted_fca(
    tt: TravelTimes,
    demand: pd.Series | float,
    supply: SupplyLike,
    standard: float | None,
    decay: Decay | None,
    digital_access: pd.Series | float,
    effectiveness: float,
    name: str,
) -> pd.Series | pd.DataFrame:
    weigh = None if decay is None else partial(evaluate, decay)
    W = decayed_weights(tt, standard, weigh)
    return _fca(tt, demand, supply, W, digital_access, effectiveness, name)


def two_step_fca(
    tt: TravelTimes,
    demand: pd.Series | float,
    supply: SupplyLike,
    standard: float | None,
    decay: DecayLike | None = None,
    *,
    digital_access: pd.Series | float = 1.0,
    effectiveness: float = 1.0,
) -> pd.Series | pd.DataFrame:
    """Two-step floating catchment area (2SFCA) supply per person.

    Step 1, per facility: ``R_j = S_j / Σ_{i: t_ij ≤ T} P_i W_ij``.
    Step 2, per origin: ``A_i = Σ_{j: t_ij ≤ T} R_j W_ij``, with ``W_ij = f(t_ij)`` (1 without
    a decay). Luo, W. & Wang, F. (2003), *Environment and Planning B* 30(6), 865–884; with a
    decay, the generalised 2SFCA of Luo & Qi (2009) and McGrail & Humphreys (2009). Same as
    ``access.Access.two_stage_fca(max_cost=T, weight_fn=f)``.

    Invariant: ``Σ_i P_i A_i = Σ_j S_j`` over the facilities with ``D_j > 0`` (the supply that
    at least one person can reach).

    Parameters
    ----------
    tt
        Travel times (minutes).
    demand
        Persons per origin (Series indexed by origin id).
    supply
        Capacity Series indexed by destination id, or a facilities table (id, type, capacity).
    standard
        Catchment T in minutes (> 0, inclusive), or None for every stored pair.
    decay
        Optional decay of minutes (a :class:`Decay`, a callable, or a steps mapping).
    digital_access, effectiveness
        Connected share a_i (0–1, number or Series by origin id) and effectiveness e (0–1) of
        digital supply; digital component as in the module docstring.

    Returns
    -------
    Series (supply per person) indexed by origin id, or a DataFrame with columns ``total``,
    ``clinic``, ``robotic``, ``digital`` when ``supply`` is a facilities table.
    """
    T = check_minutes(standard, "standard", allow_none=True)
    weight = None if decay is None else as_decay(decay)
    return _weighted_fca(tt, demand, supply, T, weight, digital_access, effectiveness, "2sfca")


def enhanced_two_step_fca(
    tt: TravelTimes,
    demand: pd.Series | float,
    supply: SupplyLike,
    steps: Mapping[float, float] | None = None,
    *,
    standard: float | None = None,
    digital_access: pd.Series | float = 1.0,
    effectiveness: float = 1.0,
) -> pd.Series | pd.DataFrame:
    """Enhanced 2SFCA (E2SFCA, Luo & Qi 2009): 2SFCA with stepped weights.

    ``W_ij = w_k`` for the first step ``t_ij ≤ T_k``, 0 beyond the last step; default steps
    ``{10: 1.0, 20: 0.68, 30: 0.22}`` (minutes: weight), the default of
    ``access.Access.enhanced_two_stage_fca``. Luo, W. & Qi, Y. (2009). An enhanced two-step
    floating catchment area (E2SFCA) method for measuring spatial accessibility to primary care
    physicians. *Health & Place* 15(4), 1100–1107.

    Parameters
    ----------
    steps
        ``{threshold minutes: weight}``, thresholds strictly increasing.
    standard
        Optional extra cap on minutes (default: the last step).
    Other parameters and the result as in :func:`two_step_fca`.
    """
    T = check_minutes(standard, "standard", allow_none=True)
    decay = step_decay(E2SFCA_STEPS if steps is None else steps)
    return _weighted_fca(tt, demand, supply, T, decay, digital_access, effectiveness, "e2sfca")


def gaussian_two_step_fca(
    tt: TravelTimes,
    demand: pd.Series | float,
    supply: SupplyLike,
    standard: float,
    *,
    digital_access: pd.Series | float = 1.0,
    effectiveness: float = 1.0,
) -> pd.Series | pd.DataFrame:
    """Gaussian 2SFCA (Dai 2010): 2SFCA with the Gaussian weight of :func:`gaussian_fca_decay`.

    ``W_ij = (exp(-½ (t_ij/T)²) - exp(-½)) / (1 - exp(-½))`` for ``t_ij ≤ T``, else 0.
    Dai, D. (2010), *Health & Place* 16(5), 1038–1052. Other parameters and the result as in
    :func:`two_step_fca`.
    """
    T = check_minutes(standard, "standard")
    decay = gaussian_fca_decay(T)
    return _weighted_fca(tt, demand, supply, T, decay, digital_access, effectiveness, "g2sfca")


def kernel_density_two_step_fca(
    tt: TravelTimes,
    demand: pd.Series | float,
    supply: SupplyLike,
    standard: float,
    *,
    digital_access: pd.Series | float = 1.0,
    effectiveness: float = 1.0,
) -> pd.Series | pd.DataFrame:
    """Kernel-density 2SFCA: 2SFCA with the Epanechnikov kernel ``¾ (1 - (t/t0)²)``, t ≤ t0.

    Guagliardo, M. F. (2004), *International Journal of Health Geographics* 3:3; kernel form
    of Dai & Wang (2011), *Landscape and Urban Planning* 102(2), 77–87. ``standard`` t0 is
    the catchment (the kernel's bandwidth) in minutes. Other parameters and the result as in
    :func:`two_step_fca`.
    """
    t0 = check_minutes(standard, "standard")
    decay = kernel_density_decay(t0)
    return _weighted_fca(tt, demand, supply, t0, decay, digital_access, effectiveness, "kd2sfca")


def three_step_fca(
    tt: TravelTimes,
    demand: pd.Series | float,
    supply: SupplyLike,
    steps: DecayLike | None = None,
    *,
    standard: float | None = None,
    digital_access: pd.Series | float = 1.0,
    effectiveness: float = 1.0,
) -> pd.Series | pd.DataFrame:
    """Three-step FCA (3SFCA, Wan, Zou & Sternberg 2012): 2SFCA with selection weights.

    Selection weight of destination ``j`` for origin ``i``:
    ``G_ij = W_ij / Σ_k W_ik`` over every destination ``k`` of ``tt`` (the catchment does not
    restrict this sum, as in ``access.fca.three_stage_fca``; restrict ``tt`` to the
    facilities with :meth:`TravelTimes.subset` if it also holds candidate sites). Then
    ``R_j = S_j / Σ_{i: t_ij ≤ T} P_i G_ij W_ij`` and ``A_i = Σ_{j: t_ij ≤ T} R_j G_ij W_ij``.
    Default weights ``{10: 0.962, 20: 0.704, 30: 0.377, 60: 0.042}``, the default of
    ``access.Access.three_stage_fca``. Wan, N., Zou, B. & Sternberg, T. (2012). A three-step
    floating catchment area method for analyzing spatial access to health services.
    *International Journal of Geographical Information Science* 26(6), 1073–1089.

    Parameters
    ----------
    steps
        ``{threshold minutes: weight}`` or any decay of minutes.
    standard
        Optional largest minutes counted in both steps (default all stored pairs).
    Other parameters and the result as in :func:`two_step_fca`.
    """
    T = check_minutes(standard, "standard", allow_none=True)
    decay = as_decay(THREE_STEP_STEPS if steps is None else steps, "steps")
    m = tt.matrix
    w_all = evaluate(decay, m.data)
    per_origin = weight_matrix(tt, None, w_all) @ np.ones(m.shape[1])
    w_sum = np.repeat(per_origin, np.diff(m.indptr))
    selection = np.divide(w_all, w_sum, out=np.zeros_like(w_all), where=w_sum > 0)
    combined = w_all * selection
    keep = within_mask(tt, T)
    if keep is not None:
        combined = combined[keep]
    W = weight_matrix(tt, weights=combined, keep=keep)
    return _fca(tt, demand, supply, W, digital_access, effectiveness, "3sfca")


def fca_ratio(
    tt: TravelTimes,
    demand: pd.Series | float,
    supply: SupplyLike,
    standard: float,
    *,
    demand_tt: TravelTimes,
    digital_access: pd.Series | float = 1.0,
    effectiveness: float = 1.0,
) -> pd.Series | pd.DataFrame:
    """Floating catchment ratio (FCA; Peng 1997): supply over demand around each origin.

    ``A_i = Σ_{j: t_ij ≤ T} S_j / Σ_{k: t'_ik ≤ T} P_k``, where ``t'`` are the travel times
    between demand locations (``demand_tt``, origins × origins, an origin reaching itself in 0
    minutes if it is to count its own population). Same as ``access.Access.fca_ratio``
    (``neighbor_cost_df`` = ``demand_tt``); 0 where the catchment holds no demand. Peng, Z.
    (1997). The jobs-housing balance and urban commuting. *Urban Studies* 34(8), 1215–1235.

    Parameters
    ----------
    demand_tt
        Travel times between demand locations: its origins and destinations are the origin
        ids of ``tt``.
    Other parameters and the result as in :func:`two_step_fca`; digital supply enters as in
    the module docstring.
    """
    T = check_minutes(standard, "standard")
    if not isinstance(demand_tt, TravelTimes):
        raise InputError("demand_tt must be a TravelTimes between the demand locations.")
    rows = demand_tt.origin_ids.get_indexer(tt.origin_ids)
    if (rows < 0).any():
        missing = tt.origin_ids[rows < 0][:5].tolist()
        raise InputError(
            f"origins {missing} of the travel times are not origins of demand_tt; compute "
            "demand_tt between all demand locations."
        )
    population = demand_values(tt, demand)
    neighbour_population = align_values(demand, demand_tt.destination_ids, "demand (demand_tt)")
    sup = parse_supply(tt, supply)
    W = weight_matrix(tt, T)
    supply_near = per_type_product(W, sup.physical)
    demand_near = (weight_matrix(demand_tt, T) @ neighbour_population)[rows]
    physical = np.zeros_like(supply_near)
    has = demand_near > 0
    physical[has] = supply_near[has] / demand_near[has, None]
    digital = digital_ratio(tt, population, sup.digital_total, digital_access, effectiveness)
    return assemble(tt, sup, physical, digital, "fca")
