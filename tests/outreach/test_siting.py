"""Siting the circuit service points (OUT-01, issue 8): the solver against brute force, the
two objectives, constraints, bad input and the ``site-points`` command."""

from __future__ import annotations

import io
import itertools
import json
import random
from decimal import Decimal

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from countycare.outreach import siting
from countycare.outreach.siting_io import (
    SitingInputError,
    Village,
    haversine_matrix,
    parse_matrix_csv,
    parse_villages_csv,
)


def _instance(rng: random.Random, n: int) -> list[Village]:
    return [
        Village(
            f"V{i:02d}",
            f"村{i}",
            39.4 + rng.random() * 0.5,
            109.5 + rng.random() * 0.6,
            rng.randrange(0, 3000),
        )
        for i in range(n)
    ]


def _brute(d, w, k, objective, max_km, fixed=(), forbidden=(), existing=()):
    best = None
    candidates = [j for j in range(len(w)) if j not in forbidden and j not in existing]
    for comb in itertools.combinations(candidates, k):
        if not set(fixed) <= set(comb):
            continue
        near = d[:, [*comb, *existing]].min(axis=1)
        if objective == "median":
            if max_km is not None and not (near <= max_km).all():
                continue
            value = float((w * near).sum())
        else:
            value = -float(w[near <= max_km].sum())
        best = value if best is None else min(best, value)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_siting_equals_brute_force_on_small_instances(seed):
    """OUT-01: the HiGHS result is the true optimum (checked by enumerating every choice)
    for both objectives, with a distance limit and with required/excluded villages."""
    rng = random.Random(seed)
    for _ in range(8):
        n = rng.randrange(6, 11)
        k = rng.randrange(1, n - 1)
        villages = _instance(rng, n)
        d = haversine_matrix(villages)
        w = np.array([v.population for v in villages], dtype=float)
        objective = rng.choice(["median", "coverage"])
        max_km = rng.choice([None, 12.0, 25.0]) if objective == "median" else rng.choice([5.0, 9.0])
        fixed = [rng.randrange(n)] if rng.random() < 0.3 else []
        forbidden = [j for j in [rng.randrange(n)] if j not in fixed] if rng.random() < 0.3 else []
        if len(fixed) > k:
            continue
        expected = _brute(d, w, k, objective, max_km, fixed, forbidden)
        if expected is None:
            with pytest.raises(siting.SitingInfeasible):
                siting.solve(villages, d, k, objective=objective, max_km=max_km,
                             fixed=fixed, forbidden=forbidden)  # fmt: skip
            continue
        result = siting.solve(
            villages, d, k, objective=objective, max_km=max_km, fixed=fixed, forbidden=forbidden
        )
        got = result.objective if objective == "median" else -result.objective
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-6)
        assert result.gap == 0.0 and result.optimal
        assert len(result.chosen) == k
        assert set(fixed) <= set(result.chosen)
        assert not set(forbidden) & set(result.chosen)
        # Every village is assigned to a chosen point, and to its nearest one.
        for i, point in enumerate(result.assignment):
            assert point in result.chosen
            assert d[i, point] == pytest.approx(d[i, result.chosen].min())


@pytest.mark.parametrize("seed", range(4))
def test_existing_clinics_serve_without_counting_in_k(seed):
    """OUT-01 with existing clinics (the conditional p-median): they are open and serve
    their neighbours, k new points are chosen besides them — equal to brute force."""
    rng = random.Random(100 + seed)
    for _ in range(6):
        n = rng.randrange(7, 11)
        villages = _instance(rng, n)
        d = haversine_matrix(villages)
        w = np.array([v.population for v in villages], dtype=float)
        existing = rng.sample(range(n), rng.randrange(1, 3))
        k = rng.randrange(1, n - len(existing) - 1)
        objective = rng.choice(["median", "coverage"])
        max_km = None if objective == "median" else 7.0
        expected = _brute(d, w, k, objective, max_km, existing=existing)
        result = siting.solve(villages, d, k, objective=objective, max_km=max_km,
                              existing=existing)  # fmt: skip
        got = result.objective if objective == "median" else -result.objective
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-6)
        assert result.optimal and len(result.chosen) == k
        assert not set(result.chosen) & set(existing)
        assert result.existing == sorted(existing)
        # Villages are served by the nearest open place, existing clinics included.
        open_all = [*result.chosen, *existing]
        for i, point in enumerate(result.assignment):
            assert d[i, point] == pytest.approx(d[i, open_all].min())
        data = result.as_json(villages)
        assert data["existing"] == [villages[j].id for j in sorted(existing)]


def test_median_and_coverage_choose_differently():
    """OUT-01: p-median pulls points toward the big villages' distances; maximal covering
    only counts residents within the limit — a far hamlet matters to one, not the other."""
    villages = [
        Village("A", "", 39.00, 109.00, 1000),
        Village("B", "", 39.00, 109.02, 1000),  # ~1.7 km east of A
        Village("C", "", 39.00, 109.04, 1000),
        Village("D", "", 39.60, 109.00, 400),  # ~67 km north, alone
    ]
    d = haversine_matrix(villages)
    median = siting.solve(villages, d, 1)
    assert [villages[j].id for j in median.chosen] == ["B"]
    coverage = siting.solve(villages, d, 1, objective="coverage", max_km=2.0)
    assert coverage.objective == 3000  # B covers A, B and C
    two = siting.solve(villages, d, 2)
    assert "D" in [villages[j].id for j in two.chosen]  # the far hamlet gets its own point
    covering_two = siting.solve(villages, d, 2, objective="coverage", max_km=2.0)
    assert covering_two.objective == 3400


def test_heuristic_warm_start_and_bound_are_consistent():
    """The reported bound never exceeds the objective; the heuristic is never better."""
    rng = random.Random(42)
    villages = _instance(rng, 60)
    d = haversine_matrix(villages)
    result = siting.solve(villages, d, 12)
    assert result.optimal
    assert result.bound <= result.objective + 1e-6
    assert result.heuristic_objective >= result.objective - 1e-6
    # Against an exhaustive local optimum of the plain heuristic: the MIP is not worse.
    chosen = siting.greedy_interchange(
        d * np.array([v.population for v in villages])[:, None], 12, [], []
    )
    w = np.array([v.population for v in villages], dtype=float)
    assert float((w * d[:, chosen].min(axis=1)).sum()) >= result.objective - 1e-6


@pytest.mark.parametrize("seed", range(5))
def test_heuristic_reaches_a_swap_optimum(seed):
    """The warm start (lazy greedy + fast interchange priced in one pass) ends where no single
    swap of an open point for a closed one improves — checked by pricing every swap."""
    rng = random.Random(200 + seed)
    n = rng.randrange(12, 40)
    k = rng.randrange(2, n // 2)
    villages = _instance(rng, n)
    cost = haversine_matrix(villages) * np.array([v.population for v in villages])[:, None]
    fixed = [0] if seed % 2 else []
    forbidden = [1] if seed % 3 == 0 else []
    chosen = siting.greedy_interchange(cost, k, fixed, forbidden)
    assert len(chosen) == k and set(fixed) <= set(chosen) and not set(forbidden) & set(chosen)

    def total(points):
        return float(cost[:, list(points)].min(axis=1).sum())

    here = total(chosen)
    for r in chosen:
        if r in fixed:
            continue
        for c in range(n):
            if c in chosen or c in forbidden:
                continue
            swapped = [j for j in chosen if j != r] + [c]
            assert total(swapped) >= here - 1e-9 * here


def test_time_limit_reports_gap_honestly():
    """Stopped by the time limit the result is still a feasible choice of k points and the
    gap is what the bound proves (never claimed optimal without proof)."""
    rng = random.Random(3)
    villages = _instance(rng, 120)
    d = haversine_matrix(villages)
    result = siting.solve(villages, d, 30, time_limit=1e-4)
    assert len(result.chosen) == 30
    w = np.array([v.population for v in villages], dtype=float)
    assert result.objective == pytest.approx(float((w * d[:, result.chosen].min(axis=1)).sum()))
    if result.optimal:
        assert result.gap == 0.0
    else:
        assert result.status == "time_limit" and result.gap > 0


def test_infeasible_constraints_are_clear_errors():
    villages = _instance(random.Random(5), 8)
    d = haversine_matrix(villages)
    with pytest.raises(siting.SitingInfeasible, match=r"within 0\.5 km"):
        siting.solve(villages, d, 2, max_km=0.5)
    with pytest.raises(siting.SitingError, match="larger than the number of villages"):
        siting.solve(villages, d, 9)
    # k larger than the villages left once existing clinics and exclusions are taken out.
    with pytest.raises(siting.SitingError, match=r"k = 6 .* \(5 of 8\)"):
        siting.solve(villages, d, 6, existing=[0, 1], forbidden=[2])
    with pytest.raises(siting.SitingError, match="raise k to at least 3"):
        siting.solve(villages, d, 2, fixed=[0, 1, 2])
    with pytest.raises(
        siting.SitingError, match=r"both required \(or existing\) and excluded: V00"
    ):
        siting.solve(villages, d, 2, fixed=[0], forbidden=[0])
    with pytest.raises(siting.SitingError, match="needs --max-km"):
        siting.solve(villages, d, 2, objective="coverage")
    # A village no allowed point can reach is named.
    with pytest.raises(siting.SitingInfeasible, match="V03"):
        siting.solve(villages, d, 2, max_km=1.0, forbidden=[3])


def test_villages_file_errors_name_row_and_field():
    """Bad input (issue 8): missing coordinates, duplicate ids, negative populations."""
    text = (
        "id,name,lat,lon,population\n"
        "V1,甲村,39.5,109.8,1200\n"
        "V2,乙村,,109.7,800\n"
        "V1,丙村,39.6,109.9,300\n"
        "V4,丁村,39.6,109.9,-5\n"
        "V5,戊村,91,109.9,10\n"
    )
    with pytest.raises(SitingInputError) as info:
        parse_villages_csv(text)
    message = str(info.value)
    assert "row 3: lat is missing" in message
    assert "row 4: id 'V1' duplicates row 2" in message
    assert "row 5: population -5 is negative" in message
    assert "row 6: lat 91 is above 90" in message
    with pytest.raises(SitingInputError, match="missing column"):
        parse_villages_csv("id,name,lat,lon\nV1,a,1,2\n")
    villages = parse_villages_csv("\ufeffid,name,lat,lon,population\nV1,a,39.5,109.8,12\n")
    assert villages == [Village("V1", "a", 39.5, 109.8, 12)]


def test_matrix_file_long_and_square_and_asymmetric():
    villages = [Village(c, c, 39.0, 109.0 + i * 0.01, 100) for i, c in enumerate("ABC")]
    long = "from,to,minutes\nA,B,10\nB,A,30\nA,C,5\nC,A,5\nB,C,7\nC,B,7\n"
    m = parse_matrix_csv(long, villages)
    assert m[0, 1] == 10 and m[1, 0] == 30 and m[0, 0] == 0
    square = "id,A,B,C\nA,0,10,5\nB,30,0,7\nC,5,7,0\n"
    assert np.array_equal(parse_matrix_csv(square, villages), m)
    # With k = 1, B is reached from A in 10 but A from B in 30: the road matrix decides.
    result = siting.solve(villages, m, 1)
    assert villages[result.chosen[0]].id in {"A", "C"}
    with pytest.raises(SitingInputError, match="row 2: from 'X' is not a village id"):
        parse_matrix_csv("from,to,km\nX,B,3\n", villages)
    with pytest.raises(SitingInputError, match="negative"):
        parse_matrix_csv("from,to,km\nA,B,-3\n", villages)
    # Unreachable pairs (left out) are never used to serve a village.
    sparse = parse_matrix_csv("from,to,km\nA,B,1\nC,B,1\n", villages)
    result = siting.solve(villages, sparse, 1)
    assert villages[result.chosen[0]].id == "B"


def _write_villages(tmp_path, rows):
    path = tmp_path / "villages.csv"
    path.write_text(
        "id,name,lat,lon,population\n" + "".join(",".join(map(str, r)) + "\n" for r in rows),
        encoding="utf-8",
    )
    return str(path)


def test_command_json_has_exactly_the_issue_keys(tmp_path):
    """issue 8: ``{"chosen", "objective", "gap", "seconds", "assignment"}`` with village ids."""
    rng = random.Random(9)
    rows = [(v.id, v.name, v.lat, v.lon, v.population) for v in _instance(rng, 20)]
    path = _write_villages(tmp_path, rows)
    out = io.StringIO()
    call_command("site-points", "--k", "5", "--villages", path, "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert set(data) == {"chosen", "objective", "gap", "seconds", "assignment"}
    assert len(data["chosen"]) == 5 and data["gap"] == 0
    assert set(data["assignment"]) == {r[0] for r in rows}
    assert set(data["assignment"].values()) <= set(data["chosen"])
    out = io.StringIO()
    call_command("site-points", "--k", "5", "--villages", path, "--json",
                 "--objective", "coverage", "--max-km", "8", "--require", "V00,V01",
                 stdout=out)  # fmt: skip
    data = json.loads(out.getvalue())
    assert {"V00", "V01"} <= set(data["chosen"])
    assert data["objective"] <= sum(r[4] for r in rows)


def test_command_errors(tmp_path):
    path = _write_villages(tmp_path, [("V1", "a", 39.5, 109.8, 10), ("V2", "b", 39.6, 109.8, 5)])
    with pytest.raises(CommandError, match="k = 3 is larger"):
        call_command("site-points", "--k", "3", "--villages", path)
    with pytest.raises(CommandError, match="unknown village id"):
        call_command("site-points", "--k", "1", "--villages", path, "--require", "V9")
    with pytest.raises(CommandError, match="cannot read villages file"):
        call_command("site-points", "--k", "1", "--villages", str(tmp_path / "none.csv"))


def test_command_reads_the_tree_by_default(tree):
    for n, village in enumerate(tree.villages):
        village.latitude = Decimal("39.5") + Decimal(n) / 10
        village.longitude = Decimal("109.8")
        village.served_population = 100 * (n + 1)
        village.save()
    out = io.StringIO()
    call_command("site-points", "--k", "2", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert set(data["assignment"]) == {"VA1", "VA2", "VB1", "VB2"}
    assert len(data["chosen"]) == 2
