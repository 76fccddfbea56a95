"""Exact reductions of the budget model: reachable pairs, site groups and origin classes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from accessplan.optimize.budget.options import Instance


@dataclass
class Pairs:
    """Reachable (origin, physical column) pairs within each column's reach."""

    origin: np.ndarray
    column: np.ndarray
    minutes: np.ndarray
    within_standard: np.ndarray


def physical_pairs(inst: Instance, reach: np.ndarray) -> Pairs:
    """Vectorised: one sparse column slice for all physical columns, filtered by reach."""
    cols = inst.columns
    physical = np.flatnonzero(~cols["type"].eq("digital").to_numpy())
    csc = inst.tt.matrix.tocsc()
    sub = sp.coo_array(csc[:, cols["dest"].to_numpy()[physical]])
    column = physical[sub.col]
    keep = (sub.data <= reach[column]) & (inst.population[sub.row] > 0)
    standard = cols["standard"].to_numpy(dtype=np.float64)
    origin, column, minutes = sub.row[keep], column[keep], sub.data[keep]
    order = np.lexsort((column, minutes, origin))
    origin, column, minutes = origin[order], column[order], minutes[order]
    return Pairs(origin, column, minutes, minutes <= standard[column])


@dataclass
class Reduced:
    """The model's index sets after the exact reductions.

    *Site groups* ``g``: the physical columns of one site with the same reach and standard
    (a clinic and a robotic unit with the same standard at one candidate share every pair);
    each existing facility is a group of its own. *Origin classes* ``c``: populated origins
    with the same pairs (groups, within-standard flags and, for the median objective,
    minutes), the same digital share and the same zone; their population is summed.
    """

    group_of_column: np.ndarray  # per column; -1 for digital columns
    n_groups: int
    class_of_origin: np.ndarray  # per origin; -1 for origins without population
    population: np.ndarray  # persons per class
    digital_share: np.ndarray  # a_i e per class
    zone_code: np.ndarray | None  # zone code per class
    pair_class: np.ndarray  # class-group pairs, sorted by class then group
    pair_group: np.ndarray
    pair_minutes: np.ndarray
    pair_within: np.ndarray

    @property
    def n_classes(self) -> int:
        return len(self.population)

    def pair_position(self, origin_class: np.ndarray, group: np.ndarray) -> np.ndarray:
        """Position of the class-group pair of each (class, group); -1 where there is none."""
        keys = self.pair_class.astype(np.int64) * self.n_groups + self.pair_group
        wanted = origin_class.astype(np.int64) * self.n_groups + group
        pos = np.searchsorted(keys, wanted)
        pos = np.minimum(pos, max(len(keys) - 1, 0))
        found = (len(keys) > 0) & (keys[pos] == wanted) if len(keys) else np.zeros(0, bool)
        return np.where(found, pos, -1)


def _site_groups(inst: Instance, reach: np.ndarray) -> tuple[np.ndarray, int]:
    cols = inst.columns
    physical = ~cols["type"].eq("digital").to_numpy()
    keys = pd.DataFrame(
        {
            "site": cols["site"].to_numpy(),
            "reach": reach,
            "standard": cols["standard"].to_numpy(dtype=np.float64),
        }
    )[physical]
    group = np.full(len(cols), -1, dtype=np.int64)
    if physical.any():
        group[physical] = keys.groupby(["site", "reach", "standard"], sort=False).ngroup()
    return group, int(group.max() + 1) if physical.any() else 0


_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _mix(values: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of ``values ^ seed`` (uint64, wrapping arithmetic)."""
    v = values.astype(np.uint64) ^ np.uint64(seed)
    v = v + _MIX[0]
    v = (v ^ (v >> np.uint64(30))) * _MIX[1]
    v = (v ^ (v >> np.uint64(27))) * _MIX[2]
    return v ^ (v >> np.uint64(31))


def reduce_instance(
    inst: Instance,
    pairs: Pairs,
    reach: np.ndarray,
    zone_codes: np.ndarray | None,
    minutes_matter: bool,
) -> Reduced:
    """Site groups and origin classes (exact: see :class:`Reduced`)."""
    group_of_column, n_groups = _site_groups(inst, reach)
    # one pair per (origin, group): columns of one group share minutes
    group = group_of_column[pairs.column]
    key = pairs.origin.astype(np.int64) * max(n_groups, 1) + group
    key, first = np.unique(key, return_index=True)
    origin, minutes, within = (
        pairs.origin[first],
        pairs.minutes[first],
        pairs.within_standard[first],
    )
    group = group[first]
    populated = inst.population > 0
    classes = _origin_classes(
        origin, group, minutes if minutes_matter else None, within, inst, zone_codes
    )
    classes = classes if classes is not None else np.where(populated, np.cumsum(populated) - 1, -1)
    n_classes = int(classes.max() + 1) if populated.any() else 0
    reps = np.full(n_classes, -1, dtype=np.int64)
    members = np.flatnonzero(populated)
    reps[classes[members[::-1]]] = members[::-1]  # first member of each class
    rep_pair = reps[classes[origin]] == origin
    return Reduced(
        group_of_column=group_of_column,
        n_groups=n_groups,
        class_of_origin=classes,
        population=np.bincount(
            classes[members], weights=inst.population[members], minlength=n_classes
        ),
        digital_share=inst.digital_share[reps],
        zone_code=None if zone_codes is None else zone_codes[reps],
        pair_class=classes[origin[rep_pair]],
        pair_group=group[rep_pair],
        pair_minutes=minutes[rep_pair],
        pair_within=within[rep_pair],
    )


def _origin_classes(
    origin: np.ndarray,
    group: np.ndarray,
    minutes: np.ndarray | None,
    within: np.ndarray,
    inst: Instance,
    zone_codes: np.ndarray | None,
) -> np.ndarray | None:
    """Class of every populated origin (-1 for the others), numbered in order of first member.

    Origins are compared through two 64-bit hashes of their pair sets and origin-level
    values; the classes are then checked exactly, and None is returned (no merging) in the
    unlikely event of a hash collision.
    """
    n_orig = len(inst.population)
    token = group.astype(np.uint64) * np.uint64(2) + within.astype(np.uint64)
    if minutes is not None:
        token = token ^ _mix(minutes.astype(np.float64).view(np.uint64), 7)
    hashes = []
    for seed in (1, 2):
        h = _mix(token, seed)
        per_origin = np.zeros(n_orig, dtype=np.uint64)
        starts = (
            np.flatnonzero(np.r_[True, origin[1:] != origin[:-1]])
            if origin.size
            else np.empty(0, dtype=np.intp)
        )
        if len(starts):
            per_origin[origin[starts]] = np.add.reduceat(h, starts)
        share_bits = np.ascontiguousarray(inst.digital_share, dtype=np.float64).view(np.uint64)
        per_origin += _mix(share_bits, 11 + seed)
        per_origin += _mix(np.bincount(origin, minlength=n_orig).astype(np.uint64), 17 + seed)
        if zone_codes is not None:
            per_origin += _mix(zone_codes.astype(np.uint64), 23 + seed)
        hashes.append(per_origin)
    populated = np.flatnonzero(inst.population > 0)
    signature = np.stack([hashes[0][populated], hashes[1][populated]], axis=1)
    _, first, inverse = np.unique(signature, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    classes = np.full(n_orig, -1, dtype=np.int64)
    classes[populated] = rank[inverse]
    if not _classes_are_exact(classes, origin, group, minutes, within, inst, zone_codes):
        return None
    return classes


def _classes_are_exact(
    classes: np.ndarray,
    origin: np.ndarray,
    group: np.ndarray,
    minutes: np.ndarray | None,
    within: np.ndarray,
    inst: Instance,
    zone_codes: np.ndarray | None,
) -> bool:
    """Every member of a class has the same pairs and origin values as the class's others."""
    populated = np.flatnonzero(inst.population > 0)
    n_classes = int(classes.max() + 1) if populated.size else 0
    counts = np.bincount(origin, minlength=len(classes))[populated]
    per_class = np.full(n_classes, -1, dtype=np.int64)
    per_class[classes[populated]] = counts
    if not np.array_equal(per_class[classes[populated]], counts):
        return False
    for values in (inst.digital_share, zone_codes):
        if values is None:
            continue
        first = np.zeros(n_classes, dtype=np.asarray(values).dtype)
        first[classes[populated]] = np.asarray(values)[populated]
        if not np.array_equal(first[classes[populated]], np.asarray(values)[populated]):
            return False
    fields = [classes[origin], group, within.astype(np.int64)]
    if minutes is not None:
        fields.append(minutes.astype(np.float64).view(np.int64))
    distinct = np.unique(np.stack(fields, axis=1), axis=0).shape[0] if origin.size else 0
    return distinct == int(per_class.sum())


def column_reach(inst: Instance, objective: str, travel_cap: float | None) -> np.ndarray:
    """Reach of each column in minutes: the pairs a physical column may serve.

    Parameters
    ----------
    inst
        The checked inputs.
    objective
        ``"median"``: every pair up to ``travel_cap``; otherwise the column's standard, at
        most ``travel_cap``.
    travel_cap
        Largest travel time served (minutes); None = no cap.

    Returns
    -------
    numpy.ndarray
        Minutes per column of ``inst.columns``; -1 for digital columns (no pairs) under the
        coverage objectives.
    """
    cap = np.inf if travel_cap is None else float(travel_cap)
    if objective == "median":
        return np.full(len(inst.columns), cap)
    standard = inst.columns["standard"].to_numpy(dtype=np.float64)
    return np.minimum(np.where(np.isnan(standard), -1.0, standard), cap)


def best_share(inst: Instance, pairs: Pairs) -> np.ndarray:
    """Largest coverable share of each origin with every candidate open (capacity ignored)."""
    best = np.zeros(len(inst.population))
    best[pairs.origin[pairs.within_standard]] = 1.0
    if inst.columns["type"].eq("digital").any():
        best = np.maximum(best, inst.digital_share)
    return best
