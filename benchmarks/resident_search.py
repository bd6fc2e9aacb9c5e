"""Latency of resident search (``residents.selectors.search_residents``) over the demo county
with N residents (default 300,000), as the community office admin (county-wide) and as a
village doctor (one village), with the queries people type: a surname, a full name, pinyin
initials, a phone prefix, a national ID. Prints one JSON object with median and p95 in
milliseconds, overall, per query kind and per user, for each backend; progress on stderr.

    .venv/bin/python benchmarks/resident_search.py [--residents 300000] [--queries 200]
        [--backend sqlite|postgres|both]

Target: p95 ≤ 50 ms on PostgreSQL. The bench databases (var/bench/resident_search.sqlite3,
PostgreSQL ``countycare_bench``) are seeded when they do not hold N residents, else reused.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seed_demo import (
    BENCH_VAR,
    env_for,
    log,
    pg_reachable,
    pg_recreate,
    pg_url,
    run,
)

TARGET_P95_MS = 50
KINDS = ("surname", "full_name", "initials", "phone_prefix", "national_id")
USERS = ("community_admin", "village_doctor")
WARMUP = 20


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _figures(values: list[float]) -> dict:
    return {
        "n": len(values),
        "median_ms": round(statistics.median(values), 2),
        "p95_ms": round(_percentile(values, 0.95), 2),
        "max_ms": round(max(values), 2),
    }


# --- Worker: runs inside a subprocess against one database -----------------------------------


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    import django

    django.setup()


def worker_count() -> None:
    _setup_django()
    from countycare.organizations.models import Staff
    from countycare.residents.models import Resident

    try:
        logins = Staff.objects.filter(username__in=USERS).count()
        count = Resident.objects.count() if logins == len(USERS) else -1
    except Exception:
        count = -1
    print(json.dumps({"residents": count}))


def _query_for(kind: str, resident) -> str | None:
    if kind == "surname":
        return resident.name[0]
    if kind == "full_name":
        return resident.name
    if kind == "initials":
        return resident.name_initials or None
    if kind == "phone_prefix":
        return resident.phone[:7] or None
    return resident.national_id


def _workload(rng: random.Random, queries: int) -> list[tuple[str, str, str]]:
    """(username, kind, text): each user searches for residents it can see."""
    from countycare.organizations.models import Staff
    from countycare.residents.models import Resident
    from countycare.residents.selectors import residents_for

    work = []
    per_user = queries // len(USERS)
    for username in USERS:
        user = Staff.objects.get(username=username)
        ids = list(residents_for(user).values_list("pk", flat=True))
        picked = rng.sample(ids, min(len(ids), per_user * 3))
        pool = list(Resident.objects.filter(pk__in=picked).order_by("pk"))
        rng.shuffle(pool)
        for index in range(per_user):
            kind = KINDS[index % len(KINDS)]
            for resident in pool:
                text = _query_for(kind, resident)
                if text:
                    pool.remove(resident)
                    pool.append(resident)  # prefer residents not used yet
                    work.append((username, kind, text))
                    break
    return work


def worker_measure(queries: int, seed: int) -> None:
    _setup_django()
    from django.db import connection

    from countycare.organizations.models import Staff
    from countycare.residents.selectors import search_residents

    rng = random.Random(seed)
    work = _workload(rng, queries)
    timings: dict[tuple[str, str], list[float]] = {}
    empty = 0

    def once(username: str, text: str) -> tuple[float, int]:
        # A fresh user per query, as a request has: its role lookup is part of the cost.
        user = Staff.objects.get(username=username)
        started = time.perf_counter()
        rows = list(search_residents(user, text))
        for row in rows:  # what the result list shows
            _ = (row.name, row.national_id_masked, row.home_village.name)
        return (time.perf_counter() - started) * 1000, len(rows)

    for username, _kind, text in rng.sample(work, min(WARMUP, len(work))):
        once(username, text)
    for username, kind, text in work:
        elapsed, found = once(username, text)
        timings.setdefault((username, kind), []).append(elapsed)
        empty += found == 0

    every = [t for values in timings.values() for t in values]
    result = {
        "vendor": connection.vendor,
        **_figures(every),
        "empty_results": empty,
        "by_kind": {
            kind: _figures([t for (_u, k), values in timings.items() if k == kind for t in values])
            for kind in KINDS
        },
        "by_user": {
            username: _figures(
                [t for (u, _k), values in timings.items() if u == username for t in values]
            )
            for username in USERS
        },
    }
    print(json.dumps(result))


# --- Driver ---------------------------------------------------------------------------------


def _worker(env: dict[str, str], *args: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _ensure_seeded(backend: str, env: dict[str, str], residents: int, seed: int) -> bool:
    """Seed the bench database unless it already holds ``residents`` residents. True when it
    was (re)seeded."""
    count = _worker(env, "count")["residents"]
    if count == residents:
        log(f"{backend}: reusing the bench database ({count} residents)")
        return False
    log(f"{backend}: bench database holds {count} residents; seeding {residents}")
    if backend == "sqlite":
        path = Path(env["DATABASE_URL"].removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        pg_recreate()
    run(["migrate", "--noinput", "-v", "0"], env)
    run(["demo", "--no-serve", "--residents", str(residents), "--seed", str(seed)], env)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=300_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--worker", choices=("count", "measure"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker == "count":
        worker_count()
        return
    if args.worker == "measure":
        worker_measure(args.queries, args.seed)
        return

    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    result: dict = {
        "residents": args.residents,
        "queries": args.queries,
        "target_p95_ms_postgres": TARGET_P95_MS,
        "backends": {},
    }
    for backend in backends:
        if backend == "sqlite":
            BENCH_VAR.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{BENCH_VAR / 'resident_search.sqlite3'}"
        else:
            reason = pg_reachable()
            if reason:
                log(reason)
                result["backends"][backend] = {"skipped": reason}
                continue
            url = pg_url()
        env = env_for(url)
        seeded = _ensure_seeded(backend, env, args.residents, args.seed)
        log(f"{backend}: measuring {args.queries} searches")
        figures = _worker(env, "measure", "--queries", str(args.queries), "--seed", str(args.seed))
        figures["seeded_now"] = seeded
        result["backends"][backend] = figures
        log(f"{backend}: median {figures['median_ms']} ms, p95 {figures['p95_ms']} ms")
    postgres = result["backends"].get("postgres", {})
    if "p95_ms" in postgres:
        result["postgres_meets_target"] = postgres["p95_ms"] <= TARGET_P95_MS
    print(json.dumps(result))


if __name__ == "__main__":
    main()
