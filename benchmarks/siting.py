"""Circuit service point siting (OUT-01, issue 8): seconds to proven optimality and the gap,
for the demo county's 138 villages (k = 50) and a 1,000-village county (k = 300), side by
side with PySAL spopt's PMedian on the same instance in the same run. Prints one JSON object.

    .venv/bin/python benchmarks/siting.py [--seed 2024] [--large 1000] [--large-k 300]
        [--time-limit 60] [--spopt-time-limit 600] [--no-spopt] [--objective median|coverage]

Instances: the demo county's villages exactly as ``countycare demo --villages-csv`` writes
them (population-weighted, great-circle km); the large one is 1,000 villages drawn with a
fixed seed over a 100 × 120 km county (clustered around 12 township seats, log-normal
populations). Both solvers get the same population × km cost matrix.

spopt (the ``benchmarks`` extra: ``pip install -e '.[benchmarks]'``; not a dependency of
CountyCare itself) builds the classic
assignment formulation with PuLP and solves it with HiGHS through PuLP (``pulp.HiGHS``,
the same solver library CountyCare uses, so the comparison is of the formulation and the
warm start). Its figures are the wall time of ``solve`` (model building included) and the
objective it reaches (or its status when it stops at ``--spopt-time-limit``). Every figure
has its wall ``seconds`` and the process's ``cpu_seconds``; ``machine`` gives the cores and the
load average before and after, since the machine may be shared. Targets: 138/50 proven optimal in ≤ 1 s; 1,000/300 within 0.1 % gap
in ≤ 60 s; faster than spopt.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")


def demo_instance(seed: int):
    from countycare.demo.generator import export_villages_csv
    from countycare.outreach.siting_io import read_villages_csv

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "villages.csv"
        export_villages_csv(path, seed)
        return read_villages_csv(str(path))


def large_instance(n: int, seed: int):
    from countycare.outreach.siting_io import Village

    rng = random.Random(f"siting-bench:{seed}:{n}")
    seats = [(39.2 + rng.random() * 0.9, 109.3 + rng.random() * 1.4) for _ in range(12)]
    villages = []
    for i in range(n):
        lat, lon = seats[i % len(seats)]
        villages.append(
            Village(
                f"B{i:05d}",
                f"村{i}",
                lat + rng.gauss(0, 0.12),
                lon + rng.gauss(0, 0.15),
                int(rng.lognormvariate(6.6, 0.7)),
            )
        )
    return villages


def ours(villages, k: int, objective: str, max_km, time_limit: float) -> dict:
    from countycare.outreach import siting
    from countycare.outreach.siting_io import haversine_matrix

    d = haversine_matrix(villages)
    started, cpu = time.perf_counter(), time.process_time()
    result = siting.solve(villages, d, k, objective=objective, max_km=max_km, time_limit=time_limit)
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "objective": round(result.objective, 3),
        "gap": result.gap,
        "proven_optimal": result.optimal,
        "bound": round(result.bound, 3),
        "heuristic_objective": round(result.heuristic_objective, 3),
        "heuristic_seconds": round(result.heuristic_seconds, 3),
        "mip_rounds": result.mip_rounds,
        "_chosen": result.chosen,
    }


def spopt_pmedian(villages, k: int, time_limit: float) -> dict:
    try:
        import pulp
        from spopt.locate import PMedian
    except ImportError as exc:
        return {"skipped": f"spopt not installed ({exc.name}); pip install -e '.[benchmarks]'"}
    from countycare.outreach.siting_io import haversine_matrix

    d = haversine_matrix(villages)
    weights = np.array([v.population for v in villages], dtype=float)
    started, cpu = time.perf_counter(), time.process_time()
    model = PMedian.from_cost_matrix(d, weights, p_facilities=k, name="bench")
    built = time.perf_counter() - started
    solver = pulp.HiGHS(msg=False, timeLimit=time_limit)
    error = None
    try:
        model.solve(solver, results=False)
    except RuntimeError as exc:  # spopt raises when the solver stops without proof
        error = str(exc).split(".")[0]
    seconds = time.perf_counter() - started
    status = pulp.LpStatus[model.problem.status]
    chosen = [j for j, var in enumerate(model.fac_vars) if (var.value() or 0) > 0.5]
    objective = float((weights * d[:, chosen].min(axis=1)).sum()) if len(chosen) == k else math.nan
    out = {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "build_seconds": round(built, 3),
        "objective": None if math.isnan(objective) else round(objective, 3),
        "status": status,
        "time_limit": time_limit,
        "solver": "HiGHS via PuLP",
    }
    if error:
        out["error"] = error
    return out


def case(name, villages, k, args) -> dict:
    print(f"{name}: {len(villages)} villages, k = {k}", file=sys.stderr)
    mine = ours(villages, k, args.objective, args.max_km, args.time_limit)
    chosen = mine.pop("_chosen")
    print(f"  countycare: {json.dumps(mine)}", file=sys.stderr, flush=True)
    out = {
        "villages": len(villages),
        "k": k,
        "population": sum(v.population for v in villages),
        "countycare": mine,
    }
    if args.objective == "median" and not args.no_spopt:
        theirs = spopt_pmedian(villages, k, args.spopt_time_limit)
        out["spopt_pmedian"] = theirs
        if "seconds" in theirs:
            out["speedup_vs_spopt"] = round(theirs["seconds"] / max(mine["seconds"], 1e-6), 1)
            out["same_objective"] = theirs["objective"] is not None and math.isclose(
                theirs["objective"], mine["objective"], rel_tol=1e-6
            )
    print(f"  {json.dumps(out, ensure_ascii=False)}", file=sys.stderr)
    del chosen
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--large", type=int, default=1000)
    parser.add_argument("--large-k", type=int, default=300)
    parser.add_argument("--objective", choices=["median", "coverage"], default="median")
    parser.add_argument("--max-km", type=float, default=None)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--spopt-time-limit", type=float, default=600.0)
    parser.add_argument("--no-spopt", action="store_true")
    args = parser.parse_args()
    if args.objective == "coverage" and args.max_km is None:
        args.max_km = 3.0
    import django
    import highspy  # noqa: F401 — imported up front, as spopt's PuLP is (not timed)

    django.setup()
    load_before = [round(x, 2) for x in os.getloadavg()]
    results = {
        "benchmark": "siting",
        "objective": args.objective,
        "max_km": args.max_km,
        "time_limit": args.time_limit,
        "demo_138": case("demo county", demo_instance(args.seed), args.k, args),
    }
    if args.large:
        results[f"large_{args.large}"] = case(
            "large county", large_instance(args.large, args.seed), args.large_k, args
        )
    results["machine"] = {
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
