"""Latency of a reader's worklist with N pending orders (default 10,000): the web page
(``telemed:worklist``) and the API (``/api/v1/worklist/?center=``), each requested R times
(default 200) through ``django.test.Client`` as a logged-in reader of the center. Prints one
JSON object with median and p95 in milliseconds; progress on stderr.

    .venv/bin/python benchmarks/worklist_page.py [--orders 10000] [--requests 200]
        [--database postgres|sqlite]

The pending orders are 90 % queued and 10 % being read (held under a lease), priorities
5 % stat, 15 % urgent, 80 % routine. Also reports the PostgreSQL plan of the first page
(50 rows) of ``selectors.worklist``: which index it walks and whether it sorts. If a URL
does not resolve (the pages are built in parallel), that figure is the rendering of
``selectors.worklist``'s first page instead, and ``page_source`` / ``api_source`` say so.

Bench database: ``countycare_bench_worklist_page`` (see worklist_claims.py, whose bench
cast it reuses). Target: p95 ≤ 150 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seed_demo import log, pg_reachable
from worklist_claims import bench_cast, database_url, prepare, refill_queue, setup_django

PG_DATABASE = "countycare_bench_worklist_page"
TARGET_P95_MS = 150
WARMUP = 10
PAGE_ROWS = 50


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _hold_some(cast: dict, share: float, seed: int) -> int:
    """Put ``share`` of the queue under readers' leases (as while being read)."""
    import datetime as dt

    from django.utils import timezone

    from countycare.telemed.models import ExamOrder, OrderTransition

    rng = random.Random(seed)
    ids = list(ExamOrder.objects.filter(center_id=cast["center"]).values_list("pk", flat=True))
    held = rng.sample(ids, int(len(ids) * share))
    now = timezone.now()
    readers = cast["readers"]
    for index in range(0, len(held), 1000):
        chunk = held[index : index + 1000]
        reader = readers[(index // 1000) % len(readers)]
        ExamOrder.objects.filter(pk__in=chunk).update(
            status="claimed",
            claimed_by_id=reader,
            claimed_at=now,
            lease_expires_at=now + dt.timedelta(hours=8),
        )
        OrderTransition.objects.bulk_create(
            OrderTransition(order_id=pk, from_status="submitted", to_status="claimed",
                            actor_id=reader, at=now)
            for pk in chunk
        )  # fmt: skip
    return len(held)


def _plan(cast: dict, user) -> dict:
    """EXPLAIN of the first page of selectors.worklist (PostgreSQL)."""
    from django.db import connection

    from countycare.telemed import selectors

    if connection.vendor != "postgresql":
        return {}
    qs = selectors.worklist(user, cast["center"])[:PAGE_ROWS]
    plan = qs.explain(analyze=True)
    indexes = sorted({w for line in plan.splitlines() for w in line.split() if "exam_order" in w})
    return {
        "worklist_plan_indexes": indexes,
        "worklist_plan_sorts_queue": any(
            "Sort" in line and "Incremental" not in line and "Sort Key" not in line
            for line in plan.splitlines()
            if "telemed_examorder" in line or line.strip().startswith("->  Sort")
        ),
        "worklist_plan_ms": float(plan.rsplit("Execution Time:", 1)[1].split()[0]),
        "worklist_plan": plan.splitlines()[:12],
    }


def _time(fn, requests: int) -> list[float]:
    for _ in range(WARMUP):
        fn()
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    if args.database == "postgres" and (reason := pg_reachable()):
        log(reason)
        print(json.dumps({"database": "postgresql", "skipped": reason}))
        return
    url = database_url(args.database, PG_DATABASE)
    prepare(url)
    setup_django(url)
    from django.db import connection
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from countycare.organizations.models import Staff
    from countycare.telemed import selectors

    cast = bench_cast(4)
    refill_queue(cast, args.orders, args.seed, prefix="BP")
    held = _hold_some(cast, 0.10, args.seed)
    reader = Staff.objects.get(pk=cast["readers"][0])
    client = Client()
    client.force_login(reader)

    def selector_page() -> None:
        user = Staff.objects.get(pk=reader.pk)  # a fresh user per request, as a request has
        rows = list(selectors.worklist(user, cast["center"])[:PAGE_ROWS])
        for order in rows:
            _ = (
                order.resident.name,
                order.service.name,
                order.claimed_by,
                selectors.sla_due(order),
            )

    def get(path: str, **params) -> None:
        response = client.get(path, params)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")

    try:
        page_path = reverse("telemed:worklist", kwargs={"center": cast["center"]})
        get(page_path)
        page, page_source = (lambda: get(page_path)), page_path
    except (NoReverseMatch, RuntimeError) as exc:
        log(f"web page not measurable ({exc}); measuring selectors.worklist instead")
        page, page_source = selector_page, "selectors.worklist"
    api_path = "/api/v1/worklist/"
    try:
        get(api_path, center=cast["center"])
        api, api_source = (lambda: get(api_path, center=cast["center"])), api_path
    except RuntimeError as exc:
        log(f"API not measurable ({exc}); measuring selectors.worklist instead")
        api, api_source = selector_page, "selectors.worklist"

    log(f"measuring {args.requests} requests each ({connection.vendor})")
    page_ms = _time(page, args.requests)
    api_ms = _time(api, args.requests)
    result = {
        "database": connection.vendor,
        "pending_orders": args.orders,
        "page_p95_ms": round(_percentile(page_ms, 0.95), 1),
        "api_p95_ms": round(_percentile(api_ms, 0.95), 1),
        "page_median_ms": round(statistics.median(page_ms), 1),
        "api_median_ms": round(statistics.median(api_ms), 1),
        "requests": args.requests,
        "held_orders": held,
        "page_source": page_source,
        "api_source": api_source,
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": max(_percentile(page_ms, 0.95), _percentile(api_ms, 0.95)) <= TARGET_P95_MS,
        **_plan(cast, reader),
    }
    log(f"page p95 {result['page_p95_ms']} ms, API p95 {result['api_p95_ms']} ms")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
