"""Choosing the circuit service points (OUT-01, 001 §12: 50 points among 138 villages by
where residents live), solved to proven optimality.

Two objectives over the same villages:

* ``median`` — population-weighted p-median: minimise Σ population × km to the nearest
  chosen point (optionally with every village within ``max_km``);
* ``coverage`` — maximal covering: maximise the population living within ``max_km`` of a
  chosen point.

Both are one problem underneath: a p-median over a cost matrix ``C[i, j]`` (what village
``i`` costs when served from point ``j``: population × km, or population × [km > D]).

How it is solved:

1. **Heuristic warm start**: greedy addition, then vertex substitution (Teitz & Bart 1968)
   in Whitaker's fast-interchange form, vectorised with numpy: every (insert, remove) swap is
   priced at once per pass and the best improving one taken until none improves.
2. **MIP (HiGHS via highspy)**: the radius formulation of p-median (Elloumi 2010; García,
   Labbé & Marín 2011). For village ``i`` with sorted distinct costs ``D¹ < D² < …``::

       min Σ_i [ D¹_i + Σ_k (D^{k+1}_i − D^k_i) z_ik ]
       z_ik + Σ_{j : C_ij ≤ D^k_i} y_j ≥ 1,   Σ_j y_j = k,   y binary,  z ≥ 0

   It is truncated at the level of each village's heuristic assignment (plus a margin):
   the truncated model is a relaxation, so its bound is a valid lower bound; when its
   optimum serves every village within the truncated levels, the bound is tight and the
   solution is proven optimal; otherwise the levels of the villages that went past it are
   extended and the MIP solved again, warm-started from the best solution so far.

Under a time limit the best solution found is returned with its honest gap
``(objective − bound) / objective`` (for coverage, ``(bound − objective) / bound``)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.utils.translation import gettext as _

from countycare.core.errors import DomainError
from countycare.outreach.siting_io import Village

OBJECTIVES = ("median", "coverage")
_LEVEL_MARGIN = 6  # levels kept beyond the heuristic's assignment before the first solve


class SitingError(DomainError):
    """The instance cannot be solved as asked (k out of range, constraints that conflict)."""

    default_code = "siting"


class SitingInfeasible(SitingError):
    default_code = "siting_infeasible"


@dataclass
class SitingResult:
    objective_kind: str
    chosen: list[int]  # indexes into the villages, sorted
    assignment: list[int]  # for each village, the index of the point serving it
    objective: float  # person-km (median) or covered population (coverage)
    bound: float  # proven bound on the best possible objective
    gap: float  # relative, 0.0 when proven optimal
    seconds: float
    optimal: bool
    status: str  # "optimal", "time_limit"
    heuristic_objective: float
    heuristic_seconds: float
    mip_rounds: int
    distances: list[float] = field(default_factory=list)  # each village to its point
    existing: list[int] = field(default_factory=list)  # open already, not counted in k

    def as_json(self, villages: Sequence[Village]) -> dict:
        """The command's JSON (issue 8): ``chosen``, ``objective``, ``gap``, ``seconds``,
        ``assignment`` — village ids throughout."""
        data = {
            "chosen": [villages[j].id for j in self.chosen],
            "objective": round(self.objective, 6),
            "gap": round(self.gap, 9),
            "seconds": round(self.seconds, 3),
            "assignment": {v.id: villages[self.assignment[i]].id for i, v in enumerate(villages)},
        }
        if self.existing:
            data["existing"] = [villages[j].id for j in self.existing]
        return data


# --- heuristic --------------------------------------------------------------------------------


def _lazy_greedy(
    cost_t: np.ndarray, k: int, chosen: list[int], allowed: np.ndarray, big: float
) -> tuple[list[int], np.ndarray]:
    """Greedy addition with lazy evaluation (Minoux 1978): a point's gain only shrinks as
    points are added (the p-median objective is supermodular), so a stale gain is an upper
    bound and only the head of the queue is re-priced. ``cost_t`` is candidates × clients."""
    import heapq

    n_cand, n_clients = cost_t.shape
    current = cost_t[chosen].min(axis=0) if chosen else np.full(n_clients, big)
    taken = set(chosen)
    gains = np.maximum(current[None, :] - cost_t, 0.0).sum(axis=1)
    heap = [(-float(gains[j]), j) for j in range(n_cand) if allowed[j] and j not in taken]
    heapq.heapify(heap)
    while len(chosen) < k and heap:
        _neg, j = heapq.heappop(heap)
        gain = float(np.maximum(current - cost_t[j], 0.0).sum())
        if heap and gain < -heap[0][0] - 1e-12 * max(gain, 1.0):
            heapq.heappush(heap, (-gain, j))  # re-priced below the next bound: try again
            continue
        chosen.append(j)
        taken.add(j)
        current = np.minimum(current, cost_t[j])
    return chosen, current


def greedy_interchange(
    cost: np.ndarray, k: int, fixed: Sequence[int], forbidden: Sequence[int]
) -> list[int]:
    """Greedy addition then Teitz–Bart vertex substitution (fast interchange) on ``cost``
    (clients × candidates, finite). Fixed points stay, forbidden ones never enter.

    Each pass prices every (insert c, remove r) swap at once and takes the best improving one
    (Whitaker 1983). With ``d1``/``d2`` a client's costs to its nearest and second-nearest
    open point and ``f`` the nearest::

        profit(c, r) = gain(c) − base(r) + corr(c, r)
        gain(c)      = Σ_i max(d1_i − C_ic, 0)
        base(r)      = Σ_{i: f_i = r} (d2_i − d1_i)
        corr(c, r)   = Σ_{i: f_i = r, C_ic < d2_i} (d2_i − max(C_ic, d1_i))

    Only pairs with ``C_ic < d2_i`` contribute, i.e. each client's candidates ranked before
    its second-nearest open point: with the candidates presorted per client these are a few
    per client, so a pass costs O(clients × that rank) instead of O(clients × candidates ×
    points)."""
    n_clients, n_cand = cost.shape
    big = float(cost.max()) * 2 + 1.0
    allowed = np.ones(n_cand, dtype=bool)
    allowed[list(forbidden)] = False
    chosen = list(dict.fromkeys(int(j) for j in fixed))
    chosen, current = _lazy_greedy(np.ascontiguousarray(cost.T), k, chosen, allowed, big)
    fixed_set = set(fixed)
    if len(chosen) == len(fixed_set) or len(chosen) == int(allowed.sum()) or len(chosen) < 2:
        return sorted(chosen)
    total = float(current.sum())
    tolerance = 1e-12 * max(total, 1.0)
    order = np.argsort(cost, axis=1, kind="stable")  # candidates by cost, per client
    sorted_cost = np.take_along_axis(cost, order, axis=1)
    rows = np.arange(n_clients)
    p = len(chosen)
    for _pass in range(10 * n_cand):
        slot = np.full(n_cand, -1)
        slot[chosen] = np.arange(p)
        open_sorted = slot[order] >= 0
        rank1 = np.argmax(open_sorted, axis=1)
        open_sorted[rows, rank1] = False
        rank2 = np.argmax(open_sorted, axis=1)
        d1 = sorted_cost[rows, rank1]
        d2 = sorted_cost[rows, rank2]
        owner = slot[order[rows, rank1]]  # position in ``chosen`` of each client's nearest
        # The (client, candidate) pairs ranked before the second-nearest open point.
        lengths = rank2
        client = np.repeat(rows, lengths)
        starts = np.cumsum(lengths) - lengths
        rank = np.arange(int(lengths.sum())) - np.repeat(starts, lengths)
        cand = order[client, rank]
        c_cost = sorted_cost[client, rank]
        gain = np.bincount(cand, weights=np.maximum(d1[client] - c_cost, 0.0), minlength=n_cand)
        base = np.bincount(owner, weights=d2 - d1, minlength=p)
        corr = np.bincount(
            cand * p + owner[client],
            weights=d2[client] - np.maximum(c_cost, d1[client]),
            minlength=n_cand * p,
        ).reshape(n_cand, p)
        profit = gain[:, None] - base[None, :] + corr
        insertable = allowed.copy()
        insertable[chosen] = False
        profit[~insertable, :] = -np.inf
        for position, j in enumerate(chosen):
            if j in fixed_set:
                profit[:, position] = -np.inf
        flat = int(np.argmax(profit))
        c, r = divmod(flat, p)
        if not profit[c, r] > tolerance:
            break
        chosen[r] = c
    return sorted(chosen)


# --- exact ------------------------------------------------------------------------------------

_banner_shown = False


def _new_highs():
    """A silent HiGHS instance. HiGHS prints its banner to the process's stdout when the first
    instance is made, which would corrupt ``site-points --json``: swallow it at the fd level."""
    import highspy

    global _banner_shown
    if _banner_shown:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _banner_shown = True
    h.setOptionValue("output_flag", False)
    return h


def _costs(
    distances: np.ndarray, population: np.ndarray, objective: str, max_km: float | None
) -> np.ndarray:
    w = population.astype(float)[:, None]
    if objective == "coverage":
        # Unreachable (inf) is simply not covered.
        return np.where(distances <= max_km, 0.0, 1.0) * w
    cost = distances * w
    if max_km is not None:
        cost = np.where(distances <= max_km, cost, np.inf)
    # A village of no residents costs nothing anywhere, but must not be "served" from an
    # unreachable point either.
    cost = np.where(np.isnan(cost), np.where(np.isfinite(distances), 0.0, np.inf), cost)
    return cost


def solve(
    villages: Sequence[Village],
    distances: np.ndarray,
    k: int,
    *,
    objective: str = "median",
    max_km: float | None = None,
    fixed: Sequence[int] = (),
    forbidden: Sequence[int] = (),
    existing: Sequence[int] = (),
    time_limit: float | None = None,
    threads: int | None = None,
) -> SitingResult:
    """Choose ``k`` service points among ``villages`` (OUT-01). ``fixed``: indexes that must be
    among the k (current points kept, must-have villages); ``forbidden``: never chosen;
    ``existing``: places that already serve their neighbours (e.g. a township health center
    with a resident attending physician) — open, serving, and not counted in k (the
    conditional p-median). Raises SitingError / SitingInfeasible with a message naming what
    conflicts."""
    import highspy

    started = time.perf_counter()
    n = len(villages)
    if objective not in OBJECTIVES:
        raise SitingError(
            _("objective must be one of %(choices)s, not %(value)r")
            % {"choices": ", ".join(OBJECTIVES), "value": objective}
        )
    if objective == "coverage" and max_km is None:
        raise SitingError(_("the coverage objective needs --max-km (the covering distance)"))
    if max_km is not None and not max_km > 0:
        raise SitingError(_("--max-km must be positive, not %(value)s") % {"value": max_km})
    if k < 1:
        raise SitingError(_("k must be at least 1, not %(k)s") % {"k": k})
    existing = list(dict.fromkeys(int(i) for i in existing))
    fixed = [int(i) for i in dict.fromkeys(fixed) if int(i) not in set(existing)]
    forbidden = sorted({int(i) for i in forbidden})
    both = (set(fixed) | set(existing)) & set(forbidden)
    if both:
        names = ", ".join(villages[i].id for i in sorted(both))
        raise SitingError(
            _("village(s) both required (or existing) and excluded: %(ids)s") % {"ids": names}
        )
    hosts = n - len(forbidden) - len(existing)
    if k > hosts:
        raise SitingError(
            _(
                "k = %(k)s is larger than the number of villages that can host a new point "
                "(%(hosts)s of %(n)s)"
            )
            % {"k": k, "hosts": hosts, "n": n}
        )
    if len(fixed) > k:
        raise SitingError(
            _(
                "%(count)s points are required (current and must-have) but k = %(k)s; "
                "raise k to at least %(count)s"
            )
            % {"count": len(fixed), "k": k}
        )
    distances = np.asarray(distances, dtype=float)
    if distances.shape != (n, n):
        raise SitingError(
            _("distance matrix is %(rows)s×%(cols)s, expected %(n)s×%(n)s")
            % {"rows": distances.shape[0], "cols": distances.shape[-1], "n": n}
        )
    existing_set = set(existing)
    k_new = k
    k = k + len(existing)  # every open point below: the k new ones and the existing ones
    fixed = existing + fixed
    population = np.array([v.population for v in villages], dtype=float)
    cost = _costs(distances, population, objective, max_km)
    allowed = np.ones(n, dtype=bool)
    allowed[forbidden] = False
    reachable = np.isfinite(cost) & allowed[None, :]
    stranded = [i for i in range(n) if not reachable[i].any()]
    if stranded:
        names = ", ".join(f"{villages[i].id} {villages[i].name}".strip() for i in stranded[:10])
        if max_km is not None:
            message = _(
                "no allowed point within %(km)s km can serve village(s): %(ids)s; "
                "raise --max-km, allow more villages or fix the matrix"
            ) % {"km": f"{max_km:g}", "ids": names}
        else:
            message = _(
                "no allowed point can serve village(s): %(ids)s; allow more villages or fix "
                "the matrix"
            ) % {"ids": names}
        raise SitingInfeasible(message)

    # Heuristic on a finite copy: unreachable costs a penalty above any real total.
    finite = np.where(np.isfinite(cost), cost, np.nan)
    penalty = (np.nansum(finite) + 1.0) * 10.0
    heur_cost = np.where(np.isfinite(cost), cost, penalty)
    chosen = greedy_interchange(heur_cost, k, fixed, forbidden)
    heuristic_seconds = time.perf_counter() - started

    def actual(points: Sequence[int]) -> tuple[np.ndarray, float]:
        per = cost[:, list(points)].min(axis=1)
        return per, float(per.sum())

    best_points, (best_per, best_total) = chosen, actual(chosen)
    heuristic_total = best_total

    # Levels per client: sorted distinct finite costs over allowed candidates.
    levels: list[np.ndarray] = []
    orders: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    for i in range(n):
        cand = np.flatnonzero(reachable[i])
        row = cost[i, cand]
        order = np.argsort(row, kind="stable")
        sorted_row = row[order]
        uniq = np.unique(sorted_row)
        levels.append(uniq)
        orders.append(cand[order])
        counts.append(np.searchsorted(sorted_row, uniq, side="right"))
    full_reach = [not bool((allowed & ~reachable[i]).any()) for i in range(n)]

    def level_of(i: int, value: float) -> int:
        return int(np.searchsorted(levels[i], value, side="left"))

    depth = [
        min(len(levels[i]), level_of(i, best_per[i]) + 1 + _LEVEL_MARGIN)
        if np.isfinite(best_per[i])
        else len(levels[i])
        for i in range(n)
    ]

    bound = -np.inf
    status = "optimal"
    rounds = 0
    while True:
        rounds += 1
        remaining = None if time_limit is None else time_limit - (time.perf_counter() - started)
        if remaining is not None and remaining <= 0:
            status = "time_limit"
            break
        h = _new_highs()
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 1e-7)
        if threads:
            h.setOptionValue("threads", int(threads))
        if remaining is not None:
            h.setOptionValue("time_limit", float(remaining))
        # Columns: y_0..y_{n-1}, then z's.
        col_cost = [0.0] * n
        col_lower = [1.0 if j in set(fixed) else 0.0 for j in range(n)]
        col_upper = [0.0 if not allowed[j] else 1.0 for j in range(n)]
        offset = 0.0
        row_lower: list[float] = []
        starts: list[int] = []
        index: list[int] = []
        values: list[float] = []
        z_of: list[list[int]] = []
        for i in range(n):
            lv = levels[i]
            offset += float(lv[0])
            zs: list[int] = []
            for level in range(depth[i] - 1):
                z = len(col_cost)
                zs.append(z)
                col_cost.append(float(lv[level + 1] - lv[level]))
                col_lower.append(0.0)
                col_upper.append(1.0)
                starts.append(len(index))
                index.append(z)
                values.append(1.0)
                members = orders[i][: counts[i][level]]
                index.extend(int(j) for j in members)
                values.extend([1.0] * len(members))
                row_lower.append(1.0)
            z_of.append(zs)
            if not full_reach[i] and depth[i] == len(lv):
                # Some allowed points cannot serve i (beyond max_km): one of those that can
                # must be open.
                starts.append(len(index))
                members = orders[i]
                index.extend(int(j) for j in members)
                values.extend([1.0] * len(members))
                row_lower.append(1.0)
        starts.append(len(index))
        index.extend(range(n))
        values.extend([1.0] * n)
        row_lower.append(float(k))
        row_upper = [highspy.kHighsInf] * (len(row_lower) - 1) + [float(k)]
        num_cols = len(col_cost)
        h.addVars(num_cols, np.array(col_lower), np.array(col_upper))
        h.changeColsCost(num_cols, np.arange(num_cols, dtype=np.int32), np.array(col_cost))
        h.changeColsIntegrality(
            n,
            np.arange(n, dtype=np.int32),
            np.array([highspy.HighsVarType.kInteger] * n),
        )
        h.addRows(
            len(row_lower),
            np.array(row_lower),
            np.array(row_upper),
            len(index),
            np.array(starts, dtype=np.int32),
            np.array(index, dtype=np.int32),
            np.array(values),
        )
        h.changeObjectiveOffset(offset)
        # Warm start from the best solution so far.
        start = np.zeros(num_cols)
        start[list(best_points)] = 1.0
        for i in range(n):
            if np.isfinite(best_per[i]):
                reached = level_of(i, best_per[i])
                for level, z in enumerate(z_of[i]):
                    start[z] = 1.0 if reached > level else 0.0
            else:
                for z in z_of[i]:
                    start[z] = 1.0
        sol = highspy.HighsSolution()
        sol.col_value = list(start)
        sol.value_valid = True
        h.setSolution(sol)
        h.run()
        model_status = h.getModelStatus()
        info = h.getInfo()
        if model_status == highspy.HighsModelStatus.kInfeasible:
            if max_km is not None:
                message = _(
                    "no choice of %(k)s points serves every village within %(km)s km under "
                    "the given constraints; raise k or --max-km, or require fewer points"
                ) % {"k": k_new, "km": f"{max_km:g}"}
            else:
                message = _(
                    "no choice of %(k)s points serves every village under the given "
                    "constraints; raise k or require fewer points"
                ) % {"k": k_new}
            raise SitingInfeasible(message)
        has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
        bound = max(bound, float(info.mip_dual_bound))
        if has_solution:
            y = np.array(h.getSolution().col_value[:n])
            points = [int(j) for j in np.flatnonzero(y > 0.5)]
            per, total = actual(points)
            if total < best_total - 1e-9:
                best_points, best_per, best_total = points, per, total
            # Villages served beyond their truncated levels: extend them.
            past = [
                i
                for i in range(n)
                if depth[i] < len(levels[i]) and level_of(i, per[i]) >= depth[i] - 1
            ]
        else:
            past = []
        if model_status != highspy.HighsModelStatus.kOptimal:
            status = "time_limit"
            break
        if not past:
            break
        for i in past:
            depth[i] = min(len(levels[i]), level_of(i, per[i]) + 1 + _LEVEL_MARGIN)

    seconds = time.perf_counter() - started
    bound = min(bound, best_total) if status == "optimal" else bound
    gap = max(0.0, (best_total - bound) / best_total) if best_total > 0 else 0.0
    if gap < 1e-9:
        gap = 0.0
    points = sorted(best_points)
    point_d = distances[:, points]
    # Each village goes to the nearest chosen point it may use (within max_km for median).
    if objective == "median":
        served = np.where(np.isfinite(cost[:, points]), point_d, np.inf)
    else:
        served = point_d
    nearest = np.argmin(served, axis=1)
    assignment = [points[int(a)] for a in nearest]
    dist = [float(point_d[i, a]) for i, a in enumerate(nearest)]
    if objective == "coverage":
        total_pop = float(population.sum())
        objective_value = total_pop - best_total
        bound_value = total_pop - bound if np.isfinite(bound) else total_pop
        heuristic_value = total_pop - heuristic_total
        if bound_value > 0:
            gap = max(0.0, (bound_value - objective_value) / bound_value)
            gap = 0.0 if gap < 1e-9 else gap
    else:
        objective_value = best_total
        bound_value = bound if np.isfinite(bound) else 0.0
        heuristic_value = heuristic_total
    return SitingResult(
        objective_kind=objective,
        chosen=[j for j in points if j not in existing_set],
        existing=sorted(existing_set),
        assignment=assignment,
        objective=objective_value,
        bound=bound_value,
        gap=gap,
        seconds=seconds,
        optimal=gap == 0.0,
        status="optimal" if gap == 0.0 else status,
        heuristic_objective=heuristic_value,
        heuristic_seconds=heuristic_seconds,
        mip_rounds=rounds,
        distances=dist,
    )
