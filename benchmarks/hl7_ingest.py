"""HL7 v2 results per second through the real MLLP listener (issue 5, SHC-03). Prints one JSON
object ``{"database", "messages", "single_conn_msgs_per_s", "eight_conn_msgs_per_s",
"lost"}``; progress and the machine's load on stderr.

    .venv/bin/python benchmarks/hl7_ingest.py [--messages 2000] [--database postgres|sqlite]
        [--workers N] [--processes N]

What is measured: ``countycare hl7-listen`` runs as its own process on a free loopback port
against the bench database; the messages are sent over TCP with python-hl7's ``MLLPClient``
(a client we did not write), each waiting for its ACK as analyzers do. First ``--messages``
messages on one connection, then ``--messages`` more spread over eight connections at once
(threads, one connection each). Every message is a five-part CBC as a Mindray-protocol
analyzer sends it (22 results, instrument settings and a histogram that are not stored,
PID-3 the national ID, OBR-3 the accession number) for one of the bench's lab orders, with
a control ID of its own; each is stored as observations and lab records, critical values
checked, an audit entry written, in one transaction.

``lost`` is counted from the database afterwards: messages sent minus messages stored as
accepted with their 22 observations (must be 0; every ACK must also be AA).

The bench database is PostgreSQL ``DATABASE_URL`` when that names a PostgreSQL database,
else ``bench_lab`` on COUNTYCARE_BENCH_PG (default postgres://postgres@127.0.0.1:5432);
with ``--database sqlite``, var/bench/bench_lab.sqlite3. The bench uses its own hospital,
lab center, village, residents and orders (codes BENCH-LAB-…). Target: ≥ 200 messages/s on
PostgreSQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seed_demo import countycare_command, env_for, log
from worklist_claims import database_url, pg_ensure_database, prepare, setup_django

PG_DATABASE = "bench_lab"
HOSPITAL_CODE = "BENCH-LAB-H"
VILLAGE_CODE = "BENCH-LAB-V"
REQUESTER = "bench_lab_requester"
RESIDENTS = 200
ORDERS = 400
RESULTS_PER_MESSAGE = 22
TARGET = 200

CBC = [  # code, name, value, unit, range, flag (Mindray-style "H~A", "~N")
    ("6690-2", "WBC", "6.52", "10*9/L", "3.50-9.50", "~N"),
    ("704-7", "BAS#", "0.03", "10*9/L", "0.00-0.06", "~N"),
    ("706-2", "BAS%", "0.4", "%", "0.0-1.0", "~N"),
    ("751-8", "NEU#", "4.11", "10*9/L", "1.80-6.30", "~N"),
    ("770-8", "NEU%", "63.0", "%", "40.0-75.0", "~N"),
    ("711-2", "EOS#", "0.12", "10*9/L", "0.02-0.52", "~N"),
    ("713-8", "EOS%", "1.8", "%", "0.4-8.0", "~N"),
    ("731-0", "LYM#", "1.92", "10*9/L", "1.10-3.20", "~N"),
    ("736-9", "LYM%", "29.4", "%", "20.0-50.0", "~N"),
    ("742-7", "MON#", "0.34", "10*9/L", "0.10-0.60", "~N"),
    ("5905-5", "MON%", "5.4", "%", "3.0-10.0", "~N"),
    ("789-8", "RBC", "4.21", "10*12/L", "4.30-5.80", "L~A"),
    ("718-7", "HGB", "118", "g/L", "130-175", "L~A"),
    ("4544-3", "HCT", "36.9", "%", "40.0-50.0", "L~A"),
    ("787-2", "MCV", "87.6", "fL", "82.0-100.0", "~N"),
    ("785-6", "MCH", "28.0", "pg", "27.0-34.0", "~N"),
    ("786-4", "MCHC", "320", "g/L", "316-354", "~N"),
    ("788-0", "RDW-CV", "13.1", "%", "11.0-16.0", "~N"),
    ("21000-5", "RDW-SD", "44.8", "fL", "35.0-56.0", "~N"),
    ("777-3", "PLT", "236", "10*9/L", "125-350", "~N"),
    ("32623-1", "MPV", "9.8", "fL", "6.5-12.0", "~N"),
    ("32207-3", "PDW", "16.2", "", "15.0-17.0", "~N"),
]
HISTOGRAM = "Qk1GAAAAAAAAAD4AAAAoAAAAAgAAAAIAAAABAAEAAAAAAAgAAAAAAAAAAAAAAAAAAAAAAAAA" * 20


def message(control_id: str, national_id: str, accession: str, when: dt.datetime) -> bytes:
    stamp = when.strftime("%Y%m%d%H%M%S")
    collected = (when - dt.timedelta(minutes=40)).strftime("%Y%m%d%H%M%S")
    segments = [
        f"MSH|^~\\&|BC-5390|BENCH-LAB|||{stamp}||ORU^R01|{control_id}|P|2.3.1||||||UNICODE",
        f"PID|1||{national_id}^^^^MR||基准^患者||19700301000000|Male",
        "PV1|1|门诊",
        f"OBR|1||{accession}|00001^Automated Count^99MRC||{collected}|{collected}|||||||"
        f"{collected}||||||||{stamp}||HM",
        "OBX|1|IS|08001^Take Mode^99MRC||O||||||F",
        "OBX|2|IS|08002^Blood Mode^99MRC||W||||||F",
        "OBX|3|NM|30525-0^Age^LN||56|yr|||||F",
    ]
    for i, (code, name, value, unit, ref, flag) in enumerate(CBC, start=4):
        segments.append(f"OBX|{i}|NM|{code}^{name}^LN||{value}|{unit}|{ref}|{flag}|||F")
    segments.append(
        f"OBX|{len(CBC) + 4}|ED|15000^WBC Histogram. BMP^99MRC||^Image^BMP^Base64^{HISTOGRAM}"
        "||||||F"
    )
    return ("\r".join(segments) + "\r").encode()


def bench_cast() -> dict:
    """The bench's own lead hospital with its lab center, a village, residents and lab
    orders (created once)."""
    from django.db import transaction

    from countycare.core import crypto
    from countycare.core import national_id as nid
    from countycare.organizations.models import Institution, InstitutionType, RoleAssignment, Staff
    from countycare.residents import pinyin
    from countycare.residents.models import Resident
    from countycare.telemed import catalog
    from countycare.telemed.models import CenterKind, ExamOrder, OrderStatus, Service

    with transaction.atomic():
        hospital, _ = Institution.objects.get_or_create(
            code=HOSPITAL_CODE,
            defaults={"name": "基准检验医院", "type": InstitutionType.GENERAL_HOSPITAL},
        )
        village, _ = Institution.objects.get_or_create(
            code=VILLAGE_CODE,
            defaults={
                "name": "基准检验村卫生室",
                "type": InstitutionType.VILLAGE_CLINIC,
                "parent": hospital,
            },
        )
        centers = {c.kind: c for c in catalog.install(hospital)}
        lab = centers[CenterKind.LAB]
        service = Service.objects.get(center=lab, code="LAB-CBC")
        have = Resident.objects.filter(home_village=village).count()
        new = []
        for i in range(have, RESIDENTS):
            born = dt.date(1950, 1, 1) + dt.timedelta(days=41 * i)
            number = nid.build("150627", born, i % 999)
            name = f"基准检验{i}"
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
        Resident.objects.bulk_create(new)
        requester, created = Staff.objects.get_or_create(
            username=REQUESTER, defaults={"full_name": REQUESTER, "employer": village}
        )
        if created:
            requester.set_unusable_password()
            requester.save()
            RoleAssignment.objects.create(
                staff=requester, role="village_doctor", institution=village
            )
        residents = list(Resident.objects.filter(home_village=village).order_by("pk"))
        have_orders = ExamOrder.objects.filter(service=service, accession_number__startswith="BL")
        now = dt.datetime.now(dt.UTC)
        ExamOrder.objects.bulk_create(
            ExamOrder(
                accession_number=f"BL{i:08d}",
                resident=residents[i % len(residents)],
                service=service,
                center=lab,
                requested_by=requester,
                requesting_institution=village,
                status=OrderStatus.SUBMITTED,
                submitted_at=now,
            )
            for i in range(have_orders.count(), ORDERS)
        )
    orders = ExamOrder.objects.filter(service=service, accession_number__startswith="BL")
    return {
        "orders": [
            (o.accession_number, o.resident.national_id)
            for o in orders.select_related("resident").order_by("accession_number")
        ]
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_listener(url: str, port: int, workers: int | None, processes: int) -> subprocess.Popen:
    args = [*countycare_command(), "hl7-listen", "--port", str(port)]
    if processes > 1:
        args += ["--processes", str(processes)]
    if workers:
        args += ["--workers", str(workers)]
    env = env_for(url)
    env["COUNTYCARE_LOG_LEVEL"] = "WARNING"
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if "Listening" not in line:
        proc.kill()
        raise SystemExit(f"the listener did not start: {line!r}")
    log(line.strip())
    return proc


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def listener_pids(proc: subprocess.Popen) -> list[int]:
    """The listener and its processes (hl7-listen --processes forks them)."""
    found = [proc.pid]
    for task in Path("/proc").glob("[0-9]*"):
        try:
            stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError, PermissionError):
            continue
        if int(stat[1]) == proc.pid:
            found.append(int(task.name))
    return found


def database_pids(url: str) -> list[int]:
    """The PostgreSQL backends serving the bench database (the listener's connections)."""
    if not url.startswith("postgres"):
        return []
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def send_all(port: int, payloads: list[bytes], acks: list[str]) -> None:
    from hl7.client import MLLPClient

    with MLLPClient("127.0.0.1", port) as client:
        for payload in payloads:
            reply = client.send(b"\x0b" + payload + b"\x1c\x0d")
            acks.append(reply.split(b"MSA|", 1)[1][:2].decode() if b"MSA|" in reply else "??")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="per phase")
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--workers", type=int, default=None, help="listener worker threads")
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="listener processes (hl7-listen --processes; default: one per CPU on PostgreSQL, "
        "as deployed — docs/lab.md — and 1 on SQLite)",
    )
    args = parser.parse_args()
    if args.processes is None:
        args.processes = (os.cpu_count() or 1) if args.database == "postgres" else 1

    url = database_url(args.database, PG_DATABASE)
    if url.startswith("postgres"):
        pg_ensure_database(url)
    prepare(url)
    setup_django(url)
    cast = bench_cast()
    orders = cast["orders"]
    run_id = uuid.uuid4().hex[:8].upper()
    now = dt.datetime.now()

    def payloads(phase: str, n: int) -> list[bytes]:
        out = []
        for i in range(n):
            accession, number = orders[i % len(orders)]
            out.append(message(f"{run_id}{phase}{i:06d}", number, accession, now))
        return out

    port = free_port()
    listener = start_listener(url, port, args.workers, args.processes)
    try:
        single_acks: list[str] = []
        batch = payloads("S", args.messages)
        send_all(port, batch[:20], [])  # warm up: the listener's first connections and caches
        started = time.perf_counter()
        send_all(port, batch[20:], single_acks)
        single = (len(batch) - 20) / (time.perf_counter() - started)
        log(f"one connection: {single:.0f} messages/s")

        eight = payloads("E", args.messages)
        send_all(port, eight[:8], [])  # warm up the listener's other workers' connections
        eight = eight[8:]
        parts = [eight[i::8] for i in range(8)]
        procs, backends = listener_pids(listener), database_pids(url)
        cpu_before = (cpu_seconds(procs), cpu_seconds(backends))
        acks: list[list[str]] = [[] for _ in range(8)]
        threads = [
            threading.Thread(target=send_all, args=(port, part, ack))
            for part, ack in zip(parts, acks, strict=True)
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        multi = len(eight) / (time.perf_counter() - started)
        log(f"eight connections: {multi:.0f} messages/s")
        backends = sorted(set(backends) | set(database_pids(url)))
        used = (cpu_seconds(procs) - cpu_before[0], cpu_seconds(backends) - cpu_before[1])
        per = [1000 * u / len(eight) for u in used]
        cpus = os.cpu_count() or 1
        log(
            f"CPU per message: listener {per[0]:.1f} ms, database {per[1]:.1f} ms; with "
            f"nothing else running, {cpus} CPUs would carry at most "
            f"{1000 * cpus / max(sum(per), 0.001):.0f} messages/s"
        )
    finally:
        listener.terminate()
        try:
            listener.wait(30)
        except subprocess.TimeoutExpired:
            listener.kill()

    from django.db.models import Count

    from countycare.lab.models import Hl7Message

    sent = 2 * args.messages
    stored = (
        Hl7Message.objects.filter(control_id__startswith=run_id, status="accepted")
        .annotate(n=Count("results"))
        .filter(n=RESULTS_PER_MESSAGE)
        .count()
    )
    not_aa = sum(1 for a in single_acks + [a for part in acks for a in part] if a != "AA")
    if not_aa:
        log(f"{not_aa} ACKs were not AA")
    load = os.getloadavg()
    log(f"load average (1, 5, 15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        f"on {os.cpu_count()} CPUs")  # fmt: skip
    print(
        json.dumps(
            {
                "database": "postgresql" if url.startswith("postgres") else "sqlite",
                "messages": args.messages,
                "single_conn_msgs_per_s": round(single, 1),
                "eight_conn_msgs_per_s": round(multi, 1),
                "lost": sent - stored,
            }
        )
    )


if __name__ == "__main__":
    main()
