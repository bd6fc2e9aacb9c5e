"""Claims per second from one center's worklist (``telemed.services.claim_next``) with R
readers claiming at once as separate processes (default 8) over N queued orders (default
100,000), and how many orders were claimed twice (must be 0). Prints one JSON object;
progress on stderr.

    .venv/bin/python benchmarks/worklist_claims.py [--readers 8] [--orders 100000]
        [--seconds 20] [--database postgres|sqlite]

What is measured: each reader process sets Django up itself, waits for the others, then
calls ``claim_next`` in a loop for ``--seconds`` (or until the queue is empty). A claimed
order stays held under its lease (30 minutes, longer than the run), as while it is being
read, so it leaves the queue; reading and signing are not part of the figure. The queue is
refilled with ``bulk_create`` before every run (priorities 5 % stat, 15 % urgent, 80 %
routine; a tenth with a triage score; waiting times spread over two days).

``double_claims`` is computed from the database afterwards: orders with more than one
"claimed" transition in the run, orders whose holder is not the reader of their claim
transition (a holder overwritten), and orders two readers both reported as theirs.

The bench database is PostgreSQL ``DATABASE_URL`` when that names a PostgreSQL database,
else ``countycare_bench_worklist`` on COUNTYCARE_BENCH_PG (default
postgres://postgres@127.0.0.1:5432); with ``--database sqlite``,
var/bench/countycare_bench_worklist.sqlite3
(a comparison figure: SQLite serializes writers with BEGIN IMMEDIATE). The bench uses its
own hospital, center, service, requester and readers (codes BENCH-…), so it leaves other
data alone. Target: ≥ 1,000 claims/s on PostgreSQL with 8 readers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seed_demo import BENCH_VAR, env_for, log, pg_reachable, pg_url, run

PG_DATABASE = "countycare_bench_worklist"
TARGET_CLAIMS_PER_S = 1000
HOSPITAL_CODE = "BENCH-H"
VILLAGE_CODE = "BENCH-V"
SERVICE_CODE = "BENCH-ECG12"
REQUESTER = "bench_requester"
RESIDENTS = 200


def database_url(database: str, name: str = PG_DATABASE) -> str:
    """The bench database: ``name`` on the bench server (or DATABASE_URL when it names a
    PostgreSQL database), or var/bench/``name``.sqlite3."""
    if database == "sqlite":
        BENCH_VAR.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{BENCH_VAR / (name + '.sqlite3')}"
    env = os.environ.get("DATABASE_URL", "")
    if env.startswith(("postgres://", "postgresql://")):
        return env
    return pg_url(name)


def pg_ensure_database(url: str) -> None:
    """Create the database named by ``url`` if it does not exist (never drops anything)."""
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not found:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(url: str) -> None:
    os.environ.update(env_for(url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    import django

    django.setup()


def prepare(url: str) -> None:
    """Migrate the bench database (idempotent)."""
    if url.startswith("postgres"):
        pg_ensure_database(url)
    log(f"migrating {url}")
    run(["migrate", "--noinput", "-v", "0"], env_for(url))


# --- The bench cast: a hospital with an ECG center, a village, residents, readers ----------


def bench_cast(readers: int) -> dict:
    """Create (or find) the bench's own institutions, center, service, residents, requester
    and ``readers`` readers. Returns their ids."""
    from django.db import transaction

    from countycare.core import crypto
    from countycare.core import national_id as nid
    from countycare.organizations.models import (
        Institution,
        InstitutionType,
        RoleAssignment,
        Staff,
    )
    from countycare.residents import pinyin
    from countycare.residents.models import Resident
    from countycare.telemed.models import CenterKind, Modality, Service, SharedCenter

    with transaction.atomic():
        hospital, _ = Institution.objects.get_or_create(
            code=HOSPITAL_CODE,
            defaults={"name": "基准测试医院", "type": InstitutionType.GENERAL_HOSPITAL},
        )
        village, _ = Institution.objects.get_or_create(
            code=VILLAGE_CODE,
            defaults={
                "name": "基准测试村卫生室",
                "type": InstitutionType.VILLAGE_CLINIC,
                "parent": hospital,
            },
        )
        center, _ = SharedCenter.objects.get_or_create(
            institution=hospital, kind=CenterKind.ECG, defaults={"name": "基准远程心电中心"}
        )
        service, _ = Service.objects.get_or_create(
            code=SERVICE_CODE,
            defaults={
                "center": center,
                "name": "十二导联心电图（基准）",
                "modality": Modality.ECG,
                "fee": 30,
                "cost": 8,
            },
        )
        have = Resident.objects.filter(home_village=village).count()
        surnames = "王李张刘陈杨赵黄周吴"
        new = []
        for i in range(have, RESIDENTS):
            number = nid.build("150627", dt.date(1950, 1, 1) + dt.timedelta(days=37 * i), i % 999)
            name = f"{surnames[i % 10]}基准{i}"
            new.append(
                Resident(
                    national_id=number,
                    national_id_hash=crypto.lookup_hash(number),
                    national_id_masked=nid.mask(number),
                    name=name,
                    name_pinyin=pinyin.full(name),
                    name_initials=pinyin.initials(name),
                    sex="M" if i % 2 else "F",
                    birth_date=dt.date(1950, 1, 1) + dt.timedelta(days=37 * i),
                    home_village=village,
                )
            )
        Resident.objects.bulk_create(new)

        def staff(username: str, role: str, at) -> Staff:
            user, created = Staff.objects.get_or_create(
                username=username, defaults={"full_name": username, "employer": at}
            )
            if created:
                user.set_unusable_password()
                user.save()
                RoleAssignment.objects.create(staff=user, role=role, institution=at)
            return user

        requester = staff(REQUESTER, "village_doctor", village)
        reader_ids = []
        for i in range(1, readers + 1):
            reader = staff(f"bench_reader{i}", "center_reader", hospital)
            center.readers.add(reader)
            reader_ids.append(reader.pk)
    return {
        "hospital": hospital.pk,
        "village": village.pk,
        "center": center.pk,
        "service": service.pk,
        "requester": requester.pk,
        "readers": reader_ids,
        "residents": list(
            Resident.objects.filter(home_village=village).values_list("pk", flat=True)
        ),
    }


def refill_queue(cast: dict, orders: int, seed: int, prefix: str = "BQ") -> None:
    """Empty the bench center's queue and fill it with ``orders`` submitted orders."""
    from django.db import connection
    from django.utils import timezone

    from countycare.telemed.models import PRIORITY_RANK, ExamOrder, OrderTransition

    center = cast["center"]
    with connection.cursor() as cursor:
        t = OrderTransition._meta.db_table
        o = ExamOrder._meta.db_table
        cursor.execute(
            f"DELETE FROM {t} WHERE order_id IN (SELECT id FROM {o} WHERE center_id = %s)",
            [center],
        )
        cursor.execute(f"DELETE FROM {o} WHERE center_id = %s", [center])
    rng = random.Random(seed)
    now = timezone.now()
    started = time.perf_counter()
    batch: list[ExamOrder] = []
    for i in range(orders):
        roll = rng.random()
        priority = "stat" if roll < 0.05 else "urgent" if roll < 0.20 else "routine"
        batch.append(
            ExamOrder(
                accession_number=f"{prefix}{i:010d}",
                resident_id=rng.choice(cast["residents"]),
                service_id=cast["service"],
                center_id=center,
                priority=priority,
                priority_rank=PRIORITY_RANK[priority],
                requested_by_id=cast["requester"],
                requesting_institution_id=cast["village"],
                status="submitted",
                triage_score=round(rng.random() * 10, 2) if rng.random() < 0.1 else 0,
                submitted_at=now - dt.timedelta(seconds=rng.randrange(2 * 86400)),
            )
        )
        if len(batch) == 5000:
            ExamOrder.objects.bulk_create(batch)
            batch = []
    ExamOrder.objects.bulk_create(batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {ExamOrder._meta.db_table}")
            cursor.execute(f"VACUUM ANALYZE {OrderTransition._meta.db_table}")
    log(f"queued {orders} orders in {time.perf_counter() - started:.1f} s")


def _cpu_seconds(pid: int | None) -> float:
    """CPU seconds (user + system) of a local process, e.g. the PostgreSQL backend serving a
    reader (0 when it cannot be read: a remote server)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


# --- One reader process -------------------------------------------------------------------


def reader_process(url, reader_id, center_id, barrier, deadline_s, results) -> None:
    setup_django(url)
    from django.db import connection

    from countycare.organizations.models import Staff
    from countycare.telemed import services

    user = Staff.objects.get(pk=reader_id)
    backend = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
    latencies: list[float] = []
    taken: list[int] = []
    errors: list[str] = []
    barrier.wait()
    cpu_client, cpu_server = time.process_time(), _cpu_seconds(backend)
    started = time.perf_counter()
    began_at = time.time()
    while time.perf_counter() - started < deadline_s:
        t0 = time.perf_counter()
        try:
            order = services.claim_next(user, center_id)
        except Exception as exc:  # reported in the JSON
            errors.append(repr(exc))
            if len(errors) > 100:
                break
            continue
        latencies.append(time.perf_counter() - t0)
        if order is None:
            break
        taken.append(order.pk)
    ended_at = time.time()
    cpu_client = time.process_time() - cpu_client
    cpu_server = _cpu_seconds(backend) - cpu_server if backend else None
    connection.close()
    results.put(
        {
            "reader": reader_id,
            "taken": taken,
            "latencies": latencies,
            "errors": errors,
            "began": began_at,
            "ended": ended_at,
            "cpu_client": cpu_client,
            "cpu_server": cpu_server,
        }
    )


def double_claims(center_id: int, since: dt.datetime, reported: list[list[int]]) -> dict:
    from django.db.models import Count

    from countycare.telemed.models import ExamOrder, OrderTransition

    claims = OrderTransition.objects.filter(
        order__center_id=center_id, to_status="claimed", at__gte=since
    )
    twice = set(
        claims.values("order_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("order_id", flat=True)
    )
    actor_of = dict(claims.values_list("order_id", "actor_id"))
    holder = dict(
        ExamOrder.objects.filter(pk__in=list(actor_of)).values_list("pk", "claimed_by_id")
    )
    overwritten = {pk for pk, actor in actor_of.items() if holder.get(pk) != actor}
    seen: set[int] = set()
    both: set[int] = set()
    for pks in reported:
        mine = set(pks)
        both |= seen & mine
        seen |= mine
    return {
        "orders": twice | overwritten | both,
        "claim_transitions": len(actor_of) + sum(1 for _ in twice),
        "distinct_claimed": len(seen),
    }


def _per_claim(seconds: float, claims: int) -> float | None:
    return round(seconds * 1000 / claims, 3) if claims and seconds else None


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    url = database_url(args.database)
    if args.database == "postgres":
        reason = pg_reachable()
        if reason:
            log(reason)
            print(json.dumps({"database": "postgresql", "skipped": reason}))
            return
    prepare(url)
    setup_django(url)
    from django.db import connection
    from django.utils import timezone

    from countycare.telemed.models import ExamOrder

    cast = bench_cast(args.readers)
    refill_queue(cast, args.orders, args.seed)
    vendor = connection.vendor
    connection.close()

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(args.readers + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=reader_process,
            args=(url, reader_id, cast["center"], barrier, args.seconds, results),
        )
        for reader_id in cast["readers"][: args.readers]
    ]
    for p in procs:
        p.start()
    since = timezone.now()
    log(f"{args.readers} readers starting ({vendor})")
    barrier.wait()
    outcomes = [results.get() for _ in procs]
    for p in procs:
        p.join()

    began = min(o["began"] for o in outcomes)
    ended = max(o["ended"] for o in outcomes)
    claims = sum(len(o["taken"]) for o in outcomes)
    latencies = [t * 1000 for o in outcomes for t in o["latencies"]]
    errors = [e for o in outcomes for e in o["errors"]]
    found = double_claims(cast["center"], since, [o["taken"] for o in outcomes])
    left = ExamOrder.objects.filter(center_id=cast["center"], status="submitted").count()
    connection.close()

    elapsed = ended - began
    result = {
        "database": vendor,
        "readers": args.readers,
        "orders": args.orders,
        "claims_per_s": round(claims / elapsed, 1) if elapsed > 0 else None,
        "double_claims": len(found["orders"]),
        "claims": claims,
        "seconds": round(elapsed, 2),
        "claim_median_ms": round(statistics.median(latencies), 2) if latencies else None,
        "claim_p95_ms": round(_percentile(latencies, 0.95), 2) if latencies else None,
        "claims_per_reader": sorted(len(o["taken"]) for o in outcomes),
        "distinct_orders_claimed": found["distinct_claimed"],
        "queue_left": left,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        # CPU per claim (reader processes; their PostgreSQL backends when the server is local)
        # and the machine: on a small or busy machine the claims compete for the cores.
        "client_cpu_ms_per_claim": _per_claim(sum(o["cpu_client"] for o in outcomes), claims),
        "server_cpu_ms_per_claim": _per_claim(sum(o["cpu_server"] or 0 for o in outcomes), claims),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "target_claims_per_s": TARGET_CLAIMS_PER_S,
        "meets_target": bool(claims / elapsed >= TARGET_CLAIMS_PER_S) if elapsed > 0 else False,
    }
    log(
        f"{vendor}: {result['claims_per_s']} claims/s, double claims {result['double_claims']}, "
        f"p95 {result['claim_p95_ms']} ms"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
