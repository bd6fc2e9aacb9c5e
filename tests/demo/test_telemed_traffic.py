"""The demo county's week of Walking Hospital traffic (issue 3, "Done means"): every order
state, a legal history for each order, sealed reports, performance credits, critical values,
and what the demo logins see."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from countycare.demo import loader
from countycare.demo import telemed as demo_telemed
from countycare.demo.generator import build_plan
from countycare.organizations.models import Staff
from countycare.telemed import critical, reports, selectors
from countycare.telemed.models import (
    HELD_STATES,
    AlertStatus,
    CenterKind,
    CriticalAlert,
    CriticalRule,
    ExamOrder,
    Observation,
    OrderStatus,
    OrderTransition,
    PerformanceCredit,
    Report,
    ReportStatus,
    SharedCenter,
    Visit,
)
from countycare.telemed.services import TRANSITIONS

SEED = 11
RESIDENTS = 3000


@pytest.fixture(scope="module")
def plan():
    return build_plan(seed=SEED, residents=RESIDENTS)


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker, plan):
    """One county with its week for the read-only tests below (committed, flushed after)."""
    with django_db_blocker.unblock():
        loader.load(plan)
        now = timezone.now().replace(microsecond=0)
        summary = demo_telemed.load_traffic(SEED, now=now)
        yield summary, now
        loader.reset()


@pytest.fixture
def week(db, loaded):
    return loaded


def _snapshot():
    return (
        sorted(Counter(ExamOrder.objects.values_list("status", flat=True)).items()),
        sorted(Counter(CriticalAlert.objects.values_list("status", flat=True)).items()),
        sorted(
            ExamOrder.objects.values_list(
                "accession_number",
                "service__code",
                "priority",
                "status",
                "resident__national_id_hash",
            )
        ),
        Visit.objects.count(),
        Observation.objects.count(),
        OrderTransition.objects.count(),
        Report.objects.count(),
    )


def test_every_state_is_there_with_a_legal_history(week):
    summary, now = week
    statuses = Counter(ExamOrder.objects.values_list("status", flat=True))
    assert set(statuses) == set(OrderStatus.values)
    assert summary.orders == sum(statuses.values())
    # Most of the week was read and acknowledged.
    assert statuses[OrderStatus.ACKNOWLEDGED] > sum(statuses.values()) / 2

    history: dict[int, list[OrderTransition]] = {}
    for row in OrderTransition.objects.order_by("order_id", "at", "pk"):
        history.setdefault(row.order_id, []).append(row)
    for order in ExamOrder.objects.all():
        rows = history[order.pk]
        assert (rows[0].from_status, rows[0].to_status) == ("", OrderStatus.DRAFT)
        assert rows[0].actor_id == order.requested_by_id
        assert rows[0].at == order.created_at
        for before, after in itertools.pairwise(rows):
            assert after.from_status == before.to_status, order.accession_number
            assert (after.from_status, after.to_status) in TRANSITIONS
            assert before.at <= after.at
        assert rows[-1].to_status == order.status
        assert rows[-1].at <= now
        if order.visit_id:
            assert order.visit.visited_at <= order.created_at
        for row in rows:
            action = TRANSITIONS.get((row.from_status, row.to_status))
            if action in ("submit", "resubmit", "cancel", "acknowledge"):
                assert row.actor_id == order.requested_by_id
            if action in ("claim", "save", "sign", "return"):
                assert order.center.readers.filter(pk=row.actor_id).exists()
        if order.status in HELD_STATES:
            assert order.claimed_by_id and order.lease_expires_at > now
        if order.status == OrderStatus.RETURNED:
            assert order.status_reason and order.claimed_by_id is None
        if order.status == OrderStatus.CANCELLED:
            assert order.status_reason
        if order.status == OrderStatus.ACKNOWLEDGED:
            assert order.acknowledged_by_id == order.requested_by_id
            assert order.signed_at <= order.acknowledged_at
    assert any(
        r.reason == "基线漂移严重，请重新采集" for rows in history.values() for r in rows
    ) or (ExamOrder.objects.filter(status_reason__contains="请重新").exists())


def test_the_queue_has_orders_in_and_past_their_sla(week):
    _summary, now = week
    waiting = ExamOrder.objects.filter(status=OrderStatus.SUBMITTED).select_related("center")
    due = [selectors.sla_due(order) for order in waiting]
    assert any(d < now for d in due) and any(d > now for d in due)
    signed = ExamOrder.objects.filter(signed_at__isnull=False).select_related("center")
    within = [
        order.signed_at - order.submitted_at <= dt.timedelta(minutes=selectors.sla_minutes(order))
        for order in signed
    ]
    # Most meet the SLA, some breach it.
    assert 0.7 < sum(within) / len(within) < 1


def test_signed_reports_are_sealed_and_credited(week):
    signed_orders = ExamOrder.objects.filter(
        status__in=[OrderStatus.SIGNED, OrderStatus.ACKNOWLEDGED]
    ).select_related("service")
    for order in signed_orders:
        report = order.reports.get()
        assert report.status == ReportStatus.SIGNED
        assert reports.verify(report)
        assert report.signed_by_id == order.claimed_by_id
        assert report.signed_at == order.signed_at
        assert report.impression
        credits = list(order.credits.all())
        assert len(credits) == 4
        balance = order.service.fee - order.service.cost
        assert abs(sum(c.amount for c in credits) - balance) <= Decimal("0.02")
        assert {c.staff_id for c in credits} == {order.requested_by_id, order.claimed_by_id, None}
    # Preliminary reports exist only for orders being read; nothing else has a credit.
    assert (
        not Report.objects.filter(status=ReportStatus.PRELIMINARY)
        .exclude(order__status=OrderStatus.PRELIMINARY)
        .exists()
    )
    assert PerformanceCredit.objects.values("order").distinct().count() == signed_orders.count()


def test_critical_values_raise_alerts_in_each_state(week):
    _summary, now = week
    alerts = CriticalAlert.objects.select_related("observation", "rule")
    assert {a.status for a in alerts} == {
        AlertStatus.OPEN,
        AlertStatus.ESCALATED,
        AlertStatus.ACKNOWLEDGED,
    }
    for alert in alerts:
        assert alert.observation.is_critical
        assert alert.observation.flag in ("LL", "HH")
        assert alert.order_id and alert.order.visit_id == alert.observation.visit_id
        assert alert.township_id == alert.institution.parent_id
        if alert.status == AlertStatus.ACKNOWLEDGED:
            assert alert.raised_at < alert.acknowledged_at <= now
            assert alert.acknowledged_by_id == alert.notify_id and alert.action_taken
        if alert.status == AlertStatus.ESCALATED:
            assert alert.escalated_at <= now and alert.acknowledged_at is None
    # Only critical observations raised alerts, and each one did — as the rules say.
    assert Observation.objects.filter(is_critical=True).count() == alerts.count()
    for observation in Observation.objects.exclude(flag="N"):
        assert (critical.matching_rule(observation) is not None) == observation.is_critical
    codes = set(alerts.values_list("observation__code", flat=True))
    assert codes <= {"59408-5", "1558-6", "2339-0", "8480-6", "8462-4"}


def test_the_demo_logins_see_the_loop(week):
    doctor = Staff.objects.get(username="village_doctor")
    reader = Staff.objects.get(username="center_reader")
    own = ExamOrder.objects.filter(requested_by=doctor)
    assert len({o.status for o in own}) >= 5
    assert selectors.awaiting_acknowledgement(doctor).exists()
    open_alerts = list(selectors.open_alerts(doctor))
    assert any(a.notify_id == doctor.pk and a.status == AlertStatus.OPEN for a in open_alerts)

    kinds = {c.kind for c in selectors.reader_centers(reader)}
    assert kinds == {CenterKind.ECG, CenterKind.ULTRASOUND}
    ecg = SharedCenter.objects.get(kind=CenterKind.ECG)
    worklist = list(selectors.worklist(reader, ecg))
    assert any(o.status == OrderStatus.SUBMITTED for o in worklist)
    held = [o for o in worklist if o.claimed_by_id == reader.pk]
    assert len(held) == 1 and held[0].status == OrderStatus.CLAIMED
    # Every center has its readers (the notes name them) and the catalog is installed.
    for center in SharedCenter.objects.all():
        assert center.readers.exists(), center.name
        assert center.services.exists()


def test_volume_follows_the_villages_and_their_doctors():
    assert demo_telemed.visits_for(0, 150) == 0
    assert demo_telemed.visits_for(100, 150) == demo_telemed.MIN_VISITS
    assert demo_telemed.visits_for(10_000, 150) == 1200
    # 300,000 residents: as many visits as 150 doctors make in a week, not 36,000.
    assert demo_telemed.visits_for(300_000, 150) == 150 * 7 * demo_telemed.VISITS_PER_DOCTOR_DAY


def test_what_happens_depends_on_the_seed_not_the_hour(week):
    """Times are counted back from now; the states, services and readers are the seed's.

    The three moments share the local date: who is drawn is weighted by age, and a
    resident's birthday between two dates rightly changes the draw."""
    _summary, now = week
    centers = list(SharedCenter.objects.all())
    local = timezone.localtime(now)
    moments = [local.replace(hour=h, minute=m) for h, m in ((0, 3), (9, 17), (23, 41))]
    outcomes = []
    for at in [now, *moments]:
        traffic = demo_telemed.simulate(SEED, demo_telemed._world(centers, at))
        traffic.rows()
        outcomes.append(
            sorted(
                (d.order.service.code, d.order.priority, d.order.status, d.order.resident_id)
                for d in traffic.orders
            )
        )
    assert outcomes[0] == outcomes[1] == outcomes[2] == outcomes[3]
    assert Counter(o[2] for o in outcomes[0]) == Counter(
        ExamOrder.objects.values_list("status", flat=True)
    )


# Commits for real: the second load follows a flush (as `countycare demo --reset` does).
@pytest.mark.django_db(transaction=True)
def test_same_seed_same_week(plan):
    loader.reset()  # from an empty database, whatever ran before
    now = timezone.now().replace(microsecond=0)
    loader.load(plan)
    demo_telemed.load_traffic(SEED, now=now)
    first = _snapshot()
    loader.reset()
    assert not ExamOrder.objects.exists() and not Visit.objects.exists()
    assert CriticalRule.objects.exists()  # the reset restores the default rules
    loader.load(build_plan(seed=SEED, residents=RESIDENTS))
    demo_telemed.load_traffic(SEED, now=now)
    assert _snapshot() == first


@pytest.mark.django_db(transaction=True)
def test_demo_command_adds_the_week_and_reset_clears_it():
    out = io.StringIO()
    call_command("demo", "--no-serve", "--reset", "--residents", "500", stdout=out)
    assert ExamOrder.objects.count() >= demo_telemed.MIN_VISITS
    # The command reports the week (in whichever language is active).
    assert f"{Visit.objects.count()}" in out.getvalue()
    # The week's orders as reported; later demo steps (imaging's DR study) add their own.
    reported = re.search(r"检查申请 (\d+) 份|(\d+) exam orders", out.getvalue())
    assert reported, out.getvalue()
    week_orders = int(reported.group(1) or reported.group(2))
    assert demo_telemed.MIN_VISITS <= week_orders <= ExamOrder.objects.count()
    assert set(ExamOrder.objects.values_list("status", flat=True)) == set(OrderStatus.values)

    call_command(
        "demo", "--no-serve", "--reset", "--no-traffic", "--residents", "50", stdout=io.StringIO()
    )
    assert not ExamOrder.objects.exists() and not CriticalAlert.objects.exists()
    assert SharedCenter.objects.count() == 0
    assert CriticalRule.objects.exists()
