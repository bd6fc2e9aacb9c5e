"""Seconds to compute every indicator of the registry for one closed year, for the whole
county and for each township, on PostgreSQL, live (not from the stored values), over a county
of 300,000 residents and 2,000,000 encounters — or with ``--city`` 2,200,000 residents and
the encounters in proportion (14.7 million). Prints one JSON object::

    {"database", "residents", "encounters", "county_year_seconds", "per_township_seconds"}

    .venv/bin/python benchmarks/indicators.py [--city] [--residents N] [--encounters N]
        [--year 2025] [--reseed] [--repeat 3]

Targets: county_year_seconds ≤ 2 (county), ≤ 15 (``--city``). ``county_year_seconds`` is the
median of ``--repeat`` runs after a warm-up; ``per_township_seconds`` the mean over the
townships (each computed once). Per-indicator times of the county run and the machine load
go to stderr.

The database (``bench_indicators``, ``bench_indicators_city``; server COUNTYCARE_BENCH_PG,
default postgres://postgres@127.0.0.1:5432) is seeded when it does not hold the figures asked
for, else reused: the demo county's institutions, staff and residents with their
key-population tags (``countycare.demo`` generator and loader), its equipment register and a
year of imported monthly statistics (beds, satisfaction, referrals, new techniques: the
indicators app's demo step), then the encounters in one INSERT … SELECT (and their monthly
counts, ``indicators.services.refresh_encounter_months``, as an import would rebuild them): each resident about
6.7 a year, 8.5 % outside the county (insurance settlement), 28.5 % at the county hospitals,
the rest at the resident's own village clinic or township center; 7 % inpatient, 6 %
emergency; TCM at 36 % of grassroots and 15 % of hospital visits; the insurance fund paid."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seed_demo import BENCH_VAR, log, pg_reachable, pg_recreate, pg_url

ENCOUNTERS_PER_RESIDENT = 2_000_000 / 300_000


def _setup(database: str) -> None:
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    os.environ["DATABASE_URL"] = pg_url(database)
    os.environ["COUNTYCARE_VAR_DIR"] = str(BENCH_VAR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    import django

    django.setup()


def _seeded(residents: int, encounters: int, year: int) -> bool:
    from django.db import DatabaseError

    from countycare.clinical.models import Encounter
    from countycare.residents.models import Resident

    try:
        return (
            Resident.objects.count() == residents
            and Encounter.objects.count() == encounters
            and Encounter.objects.filter(date__year=year).count() == encounters
        )
    except DatabaseError:
        return False


def _seed_county(residents: int, seed: int, year: int) -> None:
    import random

    from django.core.management import call_command

    from countycare.demo.generator import build_plan
    from countycare.demo.loader import load
    from countycare.indicators import demo_seed, services

    call_command("migrate", "--noinput", verbosity=0, skip_checks=True)
    started = time.perf_counter()
    log(f"planning the demo county with {residents:,} residents")
    plan = build_plan(seed, residents)
    log("loading it")
    load(plan, progress=lambda m: log(f"  {m}"))
    rng = random.Random(f"bench-indicators-{seed}")
    demo_seed._equipment(rng)
    months = [dt.date(year, m, 1) for m in range(1, 13)]
    visit_metrics = {"outpatient_visits", "inpatient_admissions", "tcm_visits",
                     "out_of_county_visits", "insurance_fund_yuan"}  # fmt: skip
    rows = [r for r in demo_seed.statistics_rows(rng, months) if r[2] not in visit_metrics]
    lines = ["institution_code,month,metric,value"] + [",".join(map(str, r)) for r in rows]
    services.import_statistics(
        user=None, file_name="bench.csv", content=("\n".join(lines) + "\n").encode()
    )
    log(f"county seeded in {time.perf_counter() - started:.0f} s")


def _places() -> tuple[list[tuple[int, int, int]], list[int]]:
    """(residence id, its own care place, its township center) for each residence, and the
    county hospitals."""
    from countycare.organizations.models import (
        COUNTY_HOSPITAL_TYPES,
        Institution,
        InstitutionType,
    )

    T = InstitutionType
    nodes = {i.pk: i for i in Institution.objects.all()}

    def township(node):
        while node is not None:
            if node.type in (T.TOWNSHIP_HEALTH_CENTER, T.COMMUNITY_HEALTH_CENTER):
                return node
            node = nodes.get(node.parent_id)
        return None

    places = []
    for node in nodes.values():
        if node.type not in (T.VILLAGE_CLINIC, T.VILLAGE, T.COMMUNITY_HEALTH_STATION,
                             T.COMMUNITY_HEALTH_CENTER):  # fmt: skip
            continue
        town = township(node)
        local = node if node.type != T.VILLAGE else (town or node)
        places.append((node.pk, local.pk, (town or local).pk))
    hospitals = sorted(pk for pk, n in nodes.items() if n.type in COUNTY_HOSPITAL_TYPES)
    return places, hospitals


def _seed_encounters(count: int, year: int) -> None:
    from django.db import connection, transaction

    from countycare.clinical.models import Encounter, EncounterImport
    from countycare.organizations.models import GRASSROOTS_TYPES

    started = time.perf_counter()
    places, hospitals = _places()
    days = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    grassroots = ",".join(f"'{t}'" for t in GRASSROOTS_TYPES)
    meta = Encounter._meta
    table = meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {table}")
    batch = EncounterImport.objects.create(
        file_name="bench", sha256="", source="bench", rows=count, created=count,
        first_date=dt.date(year, 1, 1), last_date=dt.date(year, 12, 31),
    )  # fmt: skip
    # Bulk load: without the indexes and the foreign keys, which are built (and checked)
    # once afterwards instead of row by row.
    with connection.schema_editor() as editor:
        for index in meta.indexes:
            editor.remove_index(Encounter, index)
        for constraint in meta.constraints:
            editor.remove_constraint(Encounter, constraint)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        foreign_keys = cur.fetchall()
        for name, _definition in foreign_keys:
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_place (village int, local int, township int)")
        cur.executemany("INSERT INTO bench_place VALUES (%s, %s, %s)", places)
        cur.execute(
            "CREATE TEMP TABLE bench_res AS SELECT row_number() OVER (ORDER BY r.id) AS rn,"
            " r.id, r.home_village_id AS village, p.local, p.township"
            " FROM residents_resident r JOIN bench_place p ON p.village = r.home_village_id"
        )
        cur.execute("CREATE UNIQUE INDEX ON bench_res (rn)")
        cur.execute("SELECT count(*) FROM bench_res")
        n = cur.fetchone()[0]
        cur.execute("SELECT setseed(0.42)")
        log(f"inserting {count:,} encounters over {n:,} residents")
        cur.execute(
            f"""
            INSERT INTO {table} (source, number, kind, date, institution_id,
                institution_type, provider, resident_id, residence_id, tcm, total_cost,
                fund_paid, batch_id)
            SELECT 'bench', 'B' || x.g, k.kind, x.day, x.inst, COALESCE(i.type, ''),
                CASE WHEN x.inst IS NULL THEN '鄂尔多斯市中心医院' ELSE '' END,
                x.rid, x.village,
                x.inst IS NOT NULL AND x.t < CASE WHEN i.type IN ({grassroots})
                                             THEN 0.36 ELSE 0.15 END,
                round(k.fund / 0.68, 2), k.fund, %(batch)s
            FROM (
                SELECT g.g, r.id AS rid, r.village, g.w, g.v, g.t,
                    CASE WHEN g.u < 0.085 THEN NULL
                         WHEN g.u < 0.37 THEN (%(hospitals)s::int[])[1 + g.g %% %(nh)s]
                         WHEN g.v < 0.55 THEN r.local
                         ELSE r.township END AS inst,
                    DATE %(start)s + floor(g.d * %(days)s)::int AS day
                FROM (SELECT g, random() AS u, random() AS v, random() AS w,
                             random() AS d, random() AS t
                      FROM generate_series(1, %(count)s) AS g) AS g
                JOIN bench_res r ON r.rn = 1 + (g.g::bigint * 2654435761) %% %(n)s
            ) AS x
            LEFT JOIN organizations_institution i ON i.id = x.inst
            CROSS JOIN LATERAL (SELECT
                CASE WHEN x.w < 0.07 AND COALESCE(i.type, '') NOT IN
                          ('village_clinic', 'community_health_station') THEN 'inpatient'
                     WHEN x.w < 0.13 THEN 'emergency' ELSE 'outpatient' END AS kind,
                CASE WHEN x.w < 0.07 THEN round((2500 + x.v * 6000)::numeric, 2)
                     ELSE round((15 + x.v * 70)::numeric, 2) END AS fund) AS k
            """,
            {"batch": batch.pk, "hospitals": hospitals, "nh": len(hospitals),
             "start": dt.date(year, 1, 1), "days": days, "count": count, "n": n},
        )  # fmt: skip
    log(f"  inserted in {time.perf_counter() - started:.0f} s; building the indexes")
    with connection.schema_editor() as editor:
        for index in meta.indexes:
            editor.add_index(Encounter, index)
        for constraint in meta.constraints:
            editor.add_constraint(Encounter, constraint)
    with connection.cursor() as cur:
        for name, definition in foreign_keys:
            cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    with connection.cursor() as cur:
        cur.execute(f"VACUUM ANALYZE {table}")
        cur.execute("ANALYZE")
    log(f"encounters seeded in {time.perf_counter() - started:.0f} s")


def _timed(institution, period) -> tuple[float, list]:
    from countycare.indicators.compute import compute_all

    started = time.perf_counter()
    outcomes = compute_all(institution, period)
    return time.perf_counter() - started, outcomes


def _per_indicator(institution, period) -> list[tuple[str, float, str]]:
    from countycare.indicators.compute import compute
    from countycare.indicators.registry import all_indicators

    out = []
    for indicator in all_indicators():
        started = time.perf_counter()
        o = compute(indicator, institution, period)
        out.append((indicator.code, time.perf_counter() - started, f"{o.status} {o.value}"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", action="store_true", help="2.2M residents (target ≤ 15 s)")
    parser.add_argument("--residents", type=int, help="default 300,000 (2,200,000 with --city)")
    parser.add_argument("--encounters", type=int, help="default 6.67 per resident")
    parser.add_argument("--year", type=int, default=dt.date.today().year - 1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reseed", action="store_true", help="seed even if the data is there")
    args = parser.parse_args()
    residents = args.residents or (2_200_000 if args.city else 300_000)
    encounters = args.encounters or round(residents * ENCOUNTERS_PER_RESIDENT)
    database = "bench_indicators_city" if args.city else "bench_indicators"
    problem = pg_reachable()
    if problem:
        sys.exit(problem)
    _setup(database)
    from django.db import connection

    if args.reseed or not _seeded(residents, encounters, args.year):
        connection.close()
        from countycare.residents.models import Resident

        try:
            have = Resident.objects.count()
        except Exception:
            have = -1
        connection.close()
        if have != residents:
            log(f"recreating {database}")
            pg_recreate(database)
            _seed_county(residents, args.seed, args.year)
        _seed_encounters(encounters, args.year)
    from django.core.management import call_command
    from django.db.models import Sum

    from countycare.indicators import periods, selectors, services
    from countycare.indicators.models import EncounterMonth
    from countycare.organizations.models import Institution

    call_command("migrate", "--noinput", verbosity=0, skip_checks=True)
    months = EncounterMonth.objects.filter(month__year=args.year)
    if (months.aggregate(n=Sum("encounter_count"))["n"] or 0) != encounters:
        started = time.perf_counter()
        written = services.refresh_encounter_months(dt.date(args.year, m, 1) for m in range(1, 13))
        log(
            f"encounters counted per month: {written:,} rows in {time.perf_counter() - started:.1f} s"
        )
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {EncounterMonth._meta.db_table}")

    county = Institution.objects.filter(parent__isnull=True).order_by("path").first()
    period = periods.year(args.year)
    load = os.getloadavg()
    log(
        f"load average before timing: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)"
    )
    warm, _outcomes = _timed(county, period)
    runs = [_timed(county, period)[0] for _ in range(max(1, args.repeat))]
    townships = selectors.townships(county)
    per_township = [_timed(t, period)[0] for t in townships]
    for code, seconds, shown in _per_indicator(county, period):
        log(f"  {code:36} {seconds * 1000:8.1f} ms  {shown}")
    log(f"county: warm-up {warm:.2f} s, runs {', '.join(f'{r:.2f}' for r in runs)}; "
        f"{len(townships)} townships: {', '.join(f'{t:.2f}' for t in per_township)}")  # fmt: skip
    load = os.getloadavg()
    log(f"load average after timing: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(json.dumps({
        "database": f"postgresql {connection.cursor().connection.info.server_version // 10000}",
        "residents": residents,
        "encounters": encounters,
        "county_year_seconds": round(statistics.median(runs), 3),
        "per_township_seconds": round(statistics.mean(per_township), 3) if per_township else None,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
