"""Appointment bookings per second with C clients booking at once (default 16), each a
separate process with its own database connection, racing for the same specialist slots
through ``referrals.appointments.book``, and how many slots the database holds two live
appointments for (must be 0). Prints one JSON object on stdout,

    {"database": "postgresql", "clients": 16, "bookings_per_s": …, "double_bookings": 0}

and the details (bookings, slot-taken conflicts, latency, load) on stderr.

    .venv/bin/python benchmarks/appointments.py [--clients 16] [--sessions 24]
        [--seconds 20] [--database postgres|sqlite]

What is measured: every client process sets Django up itself, waits at a barrier for the
others, then books in a loop for ``--seconds`` or until no free slot is left: it reads the
department's first 48 free slots (``selectors.free_slots``), picks one at random — 16
clients over the same few dozen rows collide often, as booking clerks do on the week's
first free times — and books it for the next of its residents. A "slot taken" or "already
booked" answer (409) is counted as a conflict and the client tries again; only successful
bookings count in ``bookings_per_s``. The clients are village doctors of one bench village
(family doctors, so the reserved 20 % are theirs too); the sessions are published with
``publish_session`` before the run (``--sessions`` × 200 slots of 5 minutes).

``double_bookings`` is counted from the database afterwards: slots of the bench department
with more than one live (booked/attended/no-show) appointment, plus slots two clients both
reported as booked by them.

The bench database is ``bench_referrals`` on COUNTYCARE_BENCH_PG (default
postgres://postgres@127.0.0.1:5432), dropped, created and migrated afresh on every run (it
holds nothing else); with ``--database sqlite``, var/bench/bench_referrals.sqlite3 (a
comparison figure: SQLite serializes the writers). The bench's own hospital, department,
village, doctors and residents carry the codes BENCH-REF-….
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

from seed_demo import BENCH_VAR, env_for, log, pg_reachable, pg_recreate, pg_url, run

DATABASE = "bench_referrals"
HOSPITAL_CODE = "BENCH-REF-H"
VILLAGE_CODE = "BENCH-REF-V"
DEPARTMENT = "基准心血管内科"
RESIDENTS_PER_CLIENT = 400
SLOTS_PER_SESSION = 200
SLOT_MINUTES = 5
PICK_AMONG = 48


def database_url(database: str) -> str:
    if database == "sqlite":
        BENCH_VAR.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{BENCH_VAR / (DATABASE + '.sqlite3')}"
    return pg_url(DATABASE)


def setup_django(url: str) -> None:
    os.environ.update(env_for(url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    import django

    django.setup()


# --- The bench cast ---------------------------------------------------------------------------


def bench_cast(clients: int) -> dict:
    """The bench's hospital (a county general hospital), its department and scheduler, a
    village clinic with ``clients`` village doctors and their residents. Returns ids."""
    from django.db import transaction

    from countycare.core import crypto
    from countycare.core import national_id as nid
    from countycare.organizations.models import (
        Institution,
        InstitutionType,
        RoleAssignment,
        Staff,
    )
    from countycare.referrals.models import Department
    from countycare.residents import pinyin
    from countycare.residents.models import Resident

    with transaction.atomic():
        hospital, _ = Institution.objects.get_or_create(
            code=HOSPITAL_CODE,
            defaults={"name": "基准测试县医院", "type": InstitutionType.GENERAL_HOSPITAL},
        )
        village, _ = Institution.objects.get_or_create(
            code=VILLAGE_CODE,
            defaults={
                "name": "基准测试村卫生室",
                "type": InstitutionType.VILLAGE_CLINIC,
                "parent": hospital,
            },
        )
        department, _ = Department.objects.get_or_create(institution=hospital, name=DEPARTMENT)

        def staff(username: str, role: str, at) -> Staff:
            user, created = Staff.objects.get_or_create(
                username=username, defaults={"full_name": username, "employer": at}
            )
            if created:
                user.set_unusable_password()
                user.save()
                RoleAssignment.objects.create(staff=user, role=role, institution=at)
            return user

        scheduler = staff("bench_ref_scheduler", "institution_admin", hospital)
        doctors = [
            staff(f"bench_ref_doctor{i}", "village_doctor", village).pk
            for i in range(1, clients + 1)
        ]
        want = clients * RESIDENTS_PER_CLIENT
        have = Resident.objects.filter(home_village=village).count()
        surnames = "王李张刘陈杨赵黄周吴"
        new = []
        for i in range(have, want):
            born = dt.date(1940, 1, 1) + dt.timedelta(days=(11 * i) % 25000)
            number = nid.build("150627", born, i % 999)
            name = f"{surnames[i % 10]}预约{i}"
            new.append(
                Resident(
                    national_id=number,
                    national_id_hash=crypto.lookup_hash(number),
                    national_id_masked=nid.mask(number),
                    name=name,
                    name_pinyin=pinyin.full(name),
                    name_initials=pinyin.initials(name),
                    sex="M" if i % 2 else "F",
                    birth_date=born,
                    home_village=village,
                )
            )
        Resident.objects.bulk_create(new, batch_size=2000)
    residents = list(
        Resident.objects.filter(home_village=village).order_by("pk").values_list("pk", flat=True)
    )
    return {
        "department": department.pk,
        "scheduler": scheduler.pk,
        "doctors": doctors,
        "residents": residents,
    }


def fresh_sessions(cast: dict, sessions: int) -> int:
    """Remove the bench department's appointments and sessions; publish ``sessions`` new ones
    (one a day from tomorrow, 200 slots of 5 minutes, 20 % reserved). Returns the slots."""
    from django.utils import timezone

    from countycare.organizations.models import Staff
    from countycare.referrals import appointments
    from countycare.referrals.models import Appointment, ClinicSession, Slot

    dept = cast["department"]
    Appointment.objects.filter(slot__session__department_id=dept).delete()
    Slot.objects.filter(session__department_id=dept).delete()
    ClinicSession.objects.filter(department_id=dept).delete()
    scheduler = Staff.objects.get(pk=cast["scheduler"])
    day = timezone.localdate() + dt.timedelta(days=1)
    for i in range(sessions):
        start = timezone.make_aware(
            dt.datetime.combine(day + dt.timedelta(days=i % 27), dt.time(0, 5 + (i // 27) * 2))
        )
        appointments.publish_session(
            scheduler,
            department=dept,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=SLOTS_PER_SESSION * SLOT_MINUTES),
            slot_minutes=SLOT_MINUTES,
        )
    return Slot.objects.filter(session__department_id=dept).count()


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


# --- One client process -----------------------------------------------------------------------


def client_process(url, index, doctor_id, residents, department_id, barrier, seconds, out):
    setup_django(url)
    from django.db import connection

    from countycare.core.errors import Conflict
    from countycare.organizations.models import Staff
    from countycare.referrals import appointments, selectors
    from countycare.referrals.models import Department

    doctor = Staff.objects.get(pk=doctor_id)
    department = Department.objects.get(pk=department_id)
    rng = random.Random(index)
    backend = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
    booked: list[int] = []
    latencies: list[float] = []
    conflicts = 0
    errors: list[str] = []
    person = 0
    barrier.wait()
    cpu_server = _cpu_seconds(backend)
    began = time.time()
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        free = list(
            selectors.free_slots(department, days=60, limit=PICK_AMONG).values_list("pk", flat=True)
        )
        if not free:
            break
        slot = rng.choice(free)
        resident = residents[person % len(residents)]
        t0 = time.perf_counter()
        try:
            appointments.book(doctor, slot=slot, resident=resident)
        except Conflict as exc:
            conflicts += 1
            if exc.code == "already_booked":
                person += 1
            elif exc.code != "slot_taken":
                errors.append(f"{exc.code}: {exc.message}")
            continue
        except Exception as exc:  # reported on stderr
            errors.append(repr(exc))
            if len(errors) > 100:
                break
            continue
        latencies.append(time.perf_counter() - t0)
        booked.append(slot)
        person += 1
    ended = time.time()
    server = _cpu_seconds(backend) - cpu_server if backend else None
    connection.close()
    out.put(
        {
            "booked": booked,
            "latencies": latencies,
            "conflicts": conflicts,
            "errors": errors,
            "began": began,
            "ended": ended,
            "cpu_server": server,
        }
    )


def double_bookings(department_id: int, reported: list[list[int]]) -> int:
    """Slots with more than one live appointment in the database, and slots two clients both
    reported as theirs."""
    from django.db.models import Count

    from countycare.referrals.models import HOLDING_STATES, Appointment

    in_db = set(
        Appointment.objects.filter(
            slot__session__department_id=department_id, status__in=HOLDING_STATES
        )
        .values("slot_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("slot_id", flat=True)
    )
    seen: set[int] = set()
    both: set[int] = set()
    for slots in reported:
        mine = set(slots)
        both |= seen & mine
        seen |= mine
    return len(in_db | both)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    args = parser.parse_args()

    url = database_url(args.database)
    if args.database == "postgres":
        reason = pg_reachable()
        if reason:
            log(reason)
            print(json.dumps({"database": "postgresql", "skipped": reason}))
            return
        pg_recreate(DATABASE)  # the bench's own database, created fresh each run
    else:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    log(f"migrating {url}")
    run(["migrate", "--noinput", "-v", "0"], env_for(url))
    setup_django(url)
    from django.db import connection

    cast = bench_cast(args.clients)
    slots = fresh_sessions(cast, args.sessions)
    vendor = connection.vendor
    connection.close()
    log(f"{slots} slots published; {args.clients} clients starting ({vendor})")

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(args.clients + 1)
    out = ctx.Queue()
    share = RESIDENTS_PER_CLIENT
    procs = [
        ctx.Process(
            target=client_process,
            args=(
                url,
                i,
                doctor,
                cast["residents"][i * share : (i + 1) * share],
                cast["department"],
                barrier,
                args.seconds,
                out,
            ),
        )
        for i, doctor in enumerate(cast["doctors"][: args.clients])
    ]
    for p in procs:
        p.start()
    barrier.wait()
    outcomes = [out.get() for _ in procs]
    for p in procs:
        p.join()

    began = min(o["began"] for o in outcomes)
    ended = max(o["ended"] for o in outcomes)
    elapsed = ended - began
    bookings = sum(len(o["booked"]) for o in outcomes)
    doubled = double_bookings(cast["department"], [o["booked"] for o in outcomes])
    latencies = [t * 1000 for o in outcomes for t in o["latencies"]]
    errors = [e for o in outcomes for e in o["errors"]]
    connection.close()

    detail = {
        "bookings": bookings,
        "slots": slots,
        "conflicts": sum(o["conflicts"] for o in outcomes),
        "seconds": round(elapsed, 2),
        "book_median_ms": round(statistics.median(latencies), 2) if latencies else None,
        "book_p95_ms": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 2)
        if latencies
        else None,
        "bookings_per_client": sorted(len(o["booked"]) for o in outcomes),
        "server_cpu_s": round(sum(o["cpu_server"] or 0 for o in outcomes), 2),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    log(json.dumps(detail, ensure_ascii=False))
    print(
        json.dumps(
            {
                "database": vendor,
                "clients": args.clients,
                "bookings_per_s": round(bookings / elapsed, 1) if elapsed > 0 else None,
                "double_bookings": doubled,
            }
        )
    )


if __name__ == "__main__":
    main()
