"""Seconds to seed the demo county with N residents (default 300,000) into a fresh SQLite
file and a fresh PostgreSQL database. Only the ``countycare demo`` step is timed (the schema
is migrated first). Prints one JSON object; progress goes to stderr.

    .venv/bin/python benchmarks/seed_demo.py [--residents 300000] [--backend sqlite|postgres|both]

The PostgreSQL database ``countycare_bench`` is left seeded, so benchmarks/resident_search.py
can reuse it. COUNTYCARE_BENCH_PG names the server (default postgres://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# --- Helpers shared with resident_search.py ---------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
# Keys (field encryption, lookup hash) for the bench databases: one directory for every bench
# run, so a database seeded by one script can be searched by another.
BENCH_VAR = ROOT / "var" / "bench"
PG_SERVER = os.environ.get("COUNTYCARE_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PG_DATABASE = "countycare_bench"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def countycare_command() -> list[str]:
    script = Path(sys.executable).with_name("countycare")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "countycare.cli"]


def env_for(database_url: str) -> dict[str, str]:
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url
    env["COUNTYCARE_VAR_DIR"] = str(BENCH_VAR)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run(args: list[str], env: dict[str, str]) -> float:
    """Run ``countycare ARGS`` with its output on stderr; the seconds it took."""
    started = time.perf_counter()
    subprocess.run([*countycare_command(), *args], env=env, check=True, stdout=sys.stderr)
    return time.perf_counter() - started


def pg_url(database: str = PG_DATABASE) -> str:
    return f"{PG_SERVER.rstrip('/')}/{database}"


def pg_reachable() -> str | None:
    """None if the PostgreSQL server answers, else why not."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover
        return f"psycopg not installed: {exc}"
    try:
        with psycopg.connect(pg_url("postgres"), connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL unreachable at {PG_SERVER}: {exc}".strip()


def pg_recreate(database: str = PG_DATABASE) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg_url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def pg_size(database: str = PG_DATABASE) -> int | None:
    import psycopg

    try:
        with psycopg.connect(pg_url(database)) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            return int(row[0]) if row else None
    except Exception:
        return None


# --- This benchmark ---------------------------------------------------------------------------


def seed(database_url: str, residents: int, seed_value: int) -> float:
    env = env_for(database_url)
    log(f"migrating {database_url}")
    run(["migrate", "--noinput", "-v", "0"], env)
    log(f"seeding {residents} residents")
    return run(
        ["demo", "--no-serve", "--residents", str(residents), "--seed", str(seed_value)], env
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()

    result: dict = {
        "residents": args.residents,
        "seed": args.seed,
        "sqlite_seconds": None,
        "postgres_seconds": None,
        "python": platform.python_version(),
    }
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="countycare-bench-") as tmp:
            path = Path(tmp) / "seed.sqlite3"
            result["sqlite_seconds"] = round(
                seed(f"sqlite:///{path}", args.residents, args.seed), 1
            )
            result["sqlite_bytes"] = path.stat().st_size
    else:
        result["sqlite_skipped"] = "not requested"

    if args.backend in ("postgres", "both"):
        reason = pg_reachable()
        if reason:
            log(reason)
            result["postgres_skipped"] = reason
        else:
            pg_recreate()
            result["postgres_seconds"] = round(seed(pg_url(), args.residents, args.seed), 1)
            result["postgres_bytes"] = pg_size()
    else:
        result["postgres_skipped"] = "not requested"

    for backend in ("sqlite", "postgres"):
        seconds = result[f"{backend}_seconds"]
        if seconds:
            result[f"{backend}_residents_per_second"] = round(args.residents / seconds)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
