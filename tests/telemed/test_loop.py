"""The Walking Hospital loop through the services (WH-02, WH-03, WH-05, SHC-01): village
creates → reader claims → signs → village acknowledges; every transition stored; illegal
moves refused; signed reports sealed and immutable; performance credits written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from countycare.core.errors import Conflict, IllegalTransition, PermissionDenied, ValidationError
from countycare.core.models import AuditEntry
from countycare.core.scoping import scoped
from countycare.telemed import reports, services
from countycare.telemed.models import (
    ExamOrder,
    OrderStatus,
    OrderTransition,
    PayRole,
    PerformanceCredit,
    Report,
    SignedReportImmutable,
)

pytestmark = pytest.mark.django_db
S = OrderStatus


def test_full_loop(make_order, village_doctor, center_reader, ecg_center):
    order = make_order(priority="urgent", clinical_question="胸闷两天")
    assert order.status == S.SUBMITTED and order.submitted_at
    assert order.center == ecg_center and len(order.accession_number) == 16
    assert order.requesting_institution.code == "VA1"

    claimed = services.claim_next(center_reader, ecg_center)
    assert claimed.pk == order.pk and claimed.claimed_by == center_reader
    services.save_report(center_reader, order.pk, findings={"rhythm": "窦性心律"},
                         impression="大致正常")  # fmt: skip
    report = services.sign_report(center_reader, order.pk, impression="正常心电图")
    order.refresh_from_db()
    assert order.status == S.SIGNED and order.signed_at and report.signed_by == center_reader
    assert report.content_sha256 == reports.digest(report) and reports.verify(report)
    assert report.findings == {"rhythm": "窦性心律"}  # the preliminary draft was signed

    services.acknowledge(village_doctor, order.pk)
    order.refresh_from_db()
    assert order.status == S.ACKNOWLEDGED and order.acknowledged_by == village_doctor
    steps = list(order.transitions.values_list("from_status", "to_status"))
    assert steps == [("", "draft"), ("draft", "submitted"), ("submitted", "claimed"),
                     ("claimed", "preliminary"), ("preliminary", "signed"),
                     ("signed", "acknowledged")]  # fmt: skip
    assert all(t.actor_id for t in order.transitions.exclude(to_status="draft"))
    assert (
        AuditEntry.objects.filter(object_type="telemed.examorder", object_id=order.pk).count() >= 6
    )


def test_signed_report_is_immutable_and_amendment_is_a_new_version(
    make_order, village_doctor, center_reader, ecg_center
):
    order = make_order()
    services.claim(center_reader, order.pk)
    v1 = services.sign_report(center_reader, order.pk, impression="正常心电图")
    v1.impression = "改过的"
    with pytest.raises(SignedReportImmutable):
        v1.save()
    services.acknowledge(village_doctor, order.pk)
    with pytest.raises(ValidationError):
        services.amend_report(center_reader, order.pk, reason="", impression="x")
    v2 = services.amend_report(center_reader, order.pk, reason="漏报房早", impression="房性早搏")
    assert v2.version == 2 and v2.amendment_reason == "漏报房早" and reports.verify(v2)
    order.refresh_from_db()
    assert order.status == S.SIGNED  # the requester must acknowledge the amendment
    assert Report.objects.get(pk=v1.pk).impression == "正常心电图"
    # Tampering with the stored content breaks the seal.
    Report.objects.filter(pk=v2.pk).update(impression="篡改")
    assert not reports.verify(Report.objects.get(pk=v2.pk))


@pytest.mark.parametrize(
    "action",
    ["sign_without_claim", "claim_signed", "ack_unsigned", "submit_twice", "cancel_signed"],
)
def test_illegal_transitions_are_errors(action, make_order, village_doctor, center_reader):
    order = make_order()
    with pytest.raises((IllegalTransition, Conflict)):
        if action == "sign_without_claim":
            services.sign_report(center_reader, order.pk, impression="x")
        elif action == "claim_signed":
            services.claim(center_reader, order.pk)
            services.sign_report(center_reader, order.pk, impression="x")
            services.claim(center_reader, order.pk)
        elif action == "ack_unsigned":
            services.acknowledge(village_doctor, order.pk)
        elif action == "submit_twice":
            services.submit(village_doctor, order.pk)
        elif action == "cancel_signed":
            services.claim(center_reader, order.pk)
            services.sign_report(center_reader, order.pk, impression="x")
            services.cancel(village_doctor, order.pk, reason="不需要了")
    transitions = OrderTransition.objects.filter(order=order).count()
    order.refresh_from_db()
    assert transitions == order.transitions.count()  # nothing half-written


def test_order_to_a_center_that_does_not_offer_the_service(make_order, centers):
    with pytest.raises(ValidationError) as err:
        make_order(service="US-ABD", center=centers["ecg"].pk)
    assert err.value.code == "service_not_offered"
    assert not ExamOrder.objects.exists()


def test_unknown_service_and_priority(make_order):
    with pytest.raises(ValidationError):
        make_order(service="NOPE")
    with pytest.raises(ValidationError):
        make_order(priority="whenever")
    assert not ExamOrder.objects.exists()


def test_village_doctor_cannot_order_for_another_village(make_order, residents):
    with pytest.raises(ValidationError) as err:
        make_order(resident=residents["b1"].pk)
    assert err.value.code == "unknown_resident"


def test_reader_of_another_center_cannot_claim(make_order, make_reader):
    us_reader = make_reader("us_reader", kind="ultrasound")
    order = make_order()
    with pytest.raises(PermissionDenied):
        services.claim(us_reader, order.pk)


def test_worklist_order_and_two_readers_never_share(make_order, make_reader, center_reader,
                                                     ecg_center):  # fmt: skip
    routine = make_order()
    stat = make_order(priority="stat")
    urgent_low = make_order(priority="urgent")
    urgent_high = make_order(priority="urgent")
    services.set_triage(urgent_high.pk, 0.9, "疑似房颤")
    other = make_reader("reader2")
    taken = [services.claim_next(u, ecg_center).pk for u in (center_reader, other, center_reader,
                                                             other)]  # fmt: skip
    assert taken == [stat.pk, urgent_high.pk, urgent_low.pk, routine.pk]
    assert services.claim_next(other, ecg_center) is None
    with pytest.raises(Conflict):
        services.claim(other, stat.pk)  # held under center_reader's lease


def test_expired_lease_returns_to_the_queue(make_order, make_reader, center_reader, ecg_center):
    order = make_order()
    services.claim(center_reader, order.pk)
    ExamOrder.objects.filter(pk=order.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    other = make_reader("reader2")
    assert services.claim_next(other, ecg_center).pk == order.pk
    with pytest.raises(Conflict):  # the first reader lost it
        services.sign_report(center_reader, order.pk, impression="x")
    # and the periodic task path
    ExamOrder.objects.filter(pk=order.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert services.expire_leases() == 1
    order.refresh_from_db()
    assert order.status == S.SUBMITTED and order.claimed_by is None


def test_return_and_resubmit(make_order, village_doctor, center_reader):
    order = make_order()
    services.claim(center_reader, order.pk)
    with pytest.raises(ValidationError):
        services.return_order(center_reader, order.pk, reason="  ")
    services.return_order(center_reader, order.pk, reason="基线漂移严重，请重新采集")
    order.refresh_from_db()
    assert order.status == S.RETURNED and "重新采集" in order.status_reason
    services.resubmit(village_doctor, order.pk)
    order.refresh_from_db()
    assert order.status == S.SUBMITTED and order.claimed_by is None


def test_performance_credits_split_the_balance(make_order, village_doctor, center_reader):
    order = make_order()  # ECG12: fee 30, cost 8 → balance 22
    services.claim(center_reader, order.pk)
    services.sign_report(center_reader, order.pk, impression="正常心电图")
    credits = {c.role: c for c in PerformanceCredit.objects.filter(order=order)}
    assert credits[PayRole.EXAMINER].staff == village_doctor
    assert credits[PayRole.EXAMINER].amount == Decimal("8.80")  # 40 % (WH-05 policy default)
    assert credits[PayRole.READER].staff == center_reader
    assert sum(c.amount for c in credits.values()) == Decimal("22.00")
    services.amend_report(center_reader, order.pk, reason="补充", impression="正常心电图。")
    assert PerformanceCredit.objects.filter(order=order).count() == 4  # paid once


def test_scoping_of_orders(make_order, village_doctor_b1, township_doctor, center_reader,
                           residents, cast):  # fmt: skip
    order = make_order()
    assert scoped(township_doctor, ExamOrder).filter(pk=order.pk).exists()
    assert scoped(center_reader, ExamOrder).filter(pk=order.pk).exists()  # routed to its center
    assert not scoped(village_doctor_b1, ExamOrder).filter(pk=order.pk).exists()
    assert not scoped(cast["pharmacist"], ExamOrder).filter(pk=order.pk).exists()
    with pytest.raises(PermissionDenied):
        services.acknowledge(village_doctor_b1, order.pk)
