"""Scalable p-median and MCLP heuristics with proven Lagrangian bounds.

For instances too large for an exact MILP, a primal heuristic finds a good plan and a
Lagrangian relaxation proves how far from optimal it can be at most:

* **Greedy (add)** start: open, one at a time, the candidate that lowers the weighted cost the
  most (Kuehn & Hamburger 1963).
* **Vertex-substitution interchange** (Teitz & Bart 1968) in the "fast interchange" form of
  Whitaker (1983), evaluated for *all* swaps at once with the gain / loss / extra matrices of
  Resende & Werneck, "A fast swap-based local search procedure for location problems", Annals
  of Operations Research 150 (2007) 205–230. With each demand row's closest (``d1``) and
  second-closest (``d2``) open candidate, the profit of inserting ``f`` and removing ``g`` is::

      gain(f)     = Σ_i w_i · max(0, d1_i − c_if)
      loss(g)     = Σ_{i: φ1(i)=g} w_i · (d2_i − d1_i)
      extra(f, g) = Σ_{i: φ1(i)=g, c_if<d2_i} w_i · (d2_i − max(c_if, d1_i))
      profit(f, g) = gain(f) − loss(g) + extra(f, g)

  Every term is a sum over stored entries, so one pass over the sparse matrix (O(nnz)) scores
  every swap, and the best one is applied.
* **Lagrangian relaxation** of the assignment constraints with subgradient optimisation
  (Beasley, "Lagrangean heuristics for location problems", EJOR 65 (1993) 383–399): with
  multipliers ``λ_i = w_i μ_i``::

      L(μ) = Σ_i w_i μ_i + Σ_i w_i min(0, u − μ_i) + min_{|S|=p, S ⊇ fixed} Σ_{j∈S} ρ_j,
      ρ_j  = Σ_{i stored in column j} w_i · min(0, c_ij − μ_i)

  (the middle term only when an unserved cost ``u`` is given). ``L(μ)`` is a lower bound on
  the optimum for every ``μ``, so the bound reported is proven whatever the subgradient did.
  The relaxed solutions ``S`` seed further interchange runs (Beasley 1993).
* **MCLP** is solved as the p-median whose stored costs are 0 (covered) and whose unserved
  cost is 1 per person: its objective is the uncovered weight, and the Lagrangian lower bound
  on that is the upper bound on covered weight of Galvão & ReVelle, "A Lagrangean heuristic for
  the maximal covering location problem", EJOR 88 (1996) 114–123 (see also Galvão, Espejo &
  Boffey, EJOR 124 (2000) 377–389).

The inner loops (greedy, swap evaluation, closest / second-closest open option, the
Lagrangian subproblem and subgradient steps) run as compiled numba kernels over the row-sorted
CSR arrays (:mod:`accessplan.optimize._kernels`, ``nogil``, single-threaded): a row's entries
are sorted by cost, so each scan stops at the first entry at or above its threshold (the
multiplier ``μ_i``, the current cost, the second-closest open option). Vectorised numpy
versions of evaluation, swap profits and ``L(μ)`` are kept as the references the kernels are
tested against. The search is deterministic for a given seed when no time limit cuts it.
"""

from accessplan.optimize.heuristics.entry import (
    HeuristicResult,
    mclp_heuristic,
    p_median_heuristic,
)

__all__ = ["HeuristicResult", "mclp_heuristic", "p_median_heuristic"]
