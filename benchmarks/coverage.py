"""Seconds to compute family-doctor contract coverage (issue 7, FD-01/FD-02) for every village,
every township and the county at once — all residents and each key population, this year —
over the demo county with N residents (default 300,000) on PostgreSQL. Prints one JSON object
``{"database", "residents", "seconds"}``; progress goes to stderr.

    .venv/bin/python benchmarks/coverage.py [--residents 300000] [--runs 5]

``seconds`` is the median of ``--runs`` computations after one warm-up (target ≤ 1 s). The
database ``bench_familydoctor`` on COUNTYCARE_BENCH_PG (default postgres://postgres@127.0.0.1:5432)
is seeded when it does not hold N residents with contracts — the demo county without the week
of traffic, then the family-doctor step with its traffic (teams, a year of contracts and
follow-ups) — and reused otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seed_demo import env_for, log, pg_reachable, pg_recreate, pg_url, run

DATABASE = "bench_familydoctor"
TARGET_SECONDS = 1.0


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    import django

    django.setup()


def worker_count() -> None:
    _setup_django()
    from countycare.familydoctor.models import Contract
    from countycare.residents.models import Resident

    try:
        count = Resident.objects.count() if Contract.objects.exists() else -1
    except Exception:
        count = -1
    print(json.dumps({"residents": count}))


def worker_traffic(seed: int) -> None:
    """The family-doctor step with its traffic over a county seeded without traffic."""
    _setup_django()
    from django.db import transaction

    from countycare.familydoctor.demo_seed import seed_familydoctor

    with transaction.atomic():
        summary = seed_familydoctor(seed, traffic=True)
    log(summary)
    print(json.dumps({"summary": summary}))


def worker_time(runs: int) -> None:
    _setup_django()
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from countycare.familydoctor import coverage
    from countycare.organizations.models import Institution

    county = Institution.objects.get(type="county")
    today = timezone.localdate()
    start, end = dt.date(today.year, 1, 1), dt.date(today.year, 12, 31)

    def once() -> tuple[float, coverage.Node]:
        began = time.perf_counter()
        node = coverage.tree(county, start, end)
        return time.perf_counter() - began, node

    _seconds, node = once()  # warm-up (plans, caches)
    villages = sum(len(t.children) or 1 for t in node.children)
    log(
        f"county: {node.counts.residents} residents, {node.counts.rate} % contracted, "
        f"key populations {node.counts.key_rate} %; {len(node.children)} townships, "
        f"{villages} villages"
    )
    times = [once()[0] for _ in range(runs)]
    log(f"runs: {', '.join(f'{t:.3f}' for t in times)} s")
    print(json.dumps({"database": connection.vendor, "seconds": statistics.median(times)}))


def _vacuum(database: str) -> None:
    """What autovacuum does soon after a bulk load, done now: the visibility map (index-only
    scans) and fresh statistics."""
    import psycopg

    with psycopg.connect(pg_url(database), autocommit=True) as conn:
        for table in ("familydoctor_contract", "residents_keypopulationtag", "residents_resident"):
            conn.execute(f"VACUUM ANALYZE {table}")  # fixed names


def _worker(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], env=env, check=True, capture_output=True, text=True
    )
    sys.stderr.write(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--worker", choices=("count", "traffic", "time"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "count":
        return worker_count()
    if args.worker == "traffic":
        return worker_traffic(args.seed)
    if args.worker == "time":
        return worker_time(args.runs)

    reason = pg_reachable()
    if reason:
        log(reason)
        sys.exit(1)
    env = env_for(pg_url(DATABASE))
    existing = -1
    try:
        existing = _worker(["--worker", "count"], env)["residents"]
    except subprocess.CalledProcessError:
        existing = -1
    if existing != args.residents:
        log(f"seeding {args.residents} residents into {DATABASE}")
        pg_recreate(DATABASE)
        run(["migrate", "--noinput", "-v", "0"], env)
        run(["demo", "--no-serve", "--no-traffic", "--residents", str(args.residents),
             "--seed", str(args.seed)], env)  # fmt: skip
        started = time.perf_counter()
        _worker(["--worker", "traffic", "--seed", str(args.seed)], env)
        log(f"family-doctor traffic: {time.perf_counter() - started:.1f} s")
        _vacuum(DATABASE)
    result = _worker(["--worker", "time", "--runs", str(args.runs)], env)
    print(
        json.dumps(
            {
                "database": result["database"],
                "residents": args.residents,
                "seconds": round(result["seconds"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
