"""What the issue asks beyond the cycles (issue 6; REF-01 … REF-03): a notification for every
hand-over, overdue by the policy's timeouts, the catalog's department suggested, a referral
from a critical value acknowledging it, another appointment time, and the family-doctor
rule other apps may take over."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from countycare.core.errors import Conflict, IllegalTransition, PermissionDenied, ValidationError
from countycare.organizations.models import PolicyValue
from countycare.referrals import appointments, selectors, services
from countycare.referrals import policy as referral_policy
from countycare.referrals.models import Appointment, Notification, Referral
from countycare.telemed.models import AlertStatus, CriticalAlert

pytestmark = pytest.mark.django_db


def _up(doctor, residents, departments, **kw):
    kw.setdefault("resident", residents["a1"].pk)
    kw.setdefault("department", departments["心血管内科"].pk)
    kw.setdefault("reason", "胸闷加重")
    kw.setdefault("diagnosis_code", "I20.000")
    return services.refer_up(doctor, **kw)


def _inbox(institution=None, recipient=None):
    qs = Notification.objects.order_by("created_at", "pk")
    if institution is not None:
        qs = qs.filter(institution=institution)
    if recipient is not None:
        qs = qs.filter(recipient=recipient)
    return list(qs.values_list("message", flat=True))


def test_every_hand_over_notifies_the_other_side(
    catalog, tree, residents, departments, session, village_doctor, specialist, township_doctor,
    community_admin,
):  # fmt: skip
    """REF-01: sent → the hospital; accepted, arrived, discharged, declined → the referring
    doctor; withdrawn → the hospital; downward → the township, taken over → the hospital;
    out-of-county → the community office, approved → the referring doctor."""
    up = _up(village_doctor, residents, departments)
    assert len(_inbox(tree.lead_hospital)) == 1
    services.accept(specialist, up.pk, mode="appointment", slot=session.slots.first().pk)
    services.arrive(specialist, up.pk)
    _parent, down = services.discharge(
        specialist, up.pk,
        down={"to_institution": tree.township_a.pk, "care_plan": {"follow_up_items": ["血压"]}},
    )  # fmt: skip
    mine = _inbox(recipient=village_doctor)
    assert len(mine) == 3  # accepted, arrived, discharged
    assert all(residents["a1"].name in m for m in mine)
    assert len(_inbox(tree.township_a)) == 1  # the downward referral
    services.accept(township_doctor, down.pk)
    assert len(_inbox(recipient=specialist)) == 1  # taken over

    declined = _up(village_doctor, residents, departments)
    services.decline(specialist, declined.pk, reason="建议先完善检查")
    assert "建议先完善检查" in _inbox(recipient=village_doctor)[-1]
    withdrawn = _up(village_doctor, residents, departments)
    services.cancel(village_doctor, withdrawn.pk, reason="患者拒绝")
    assert "患者拒绝" in _inbox(tree.lead_hospital)[-1]

    out = services.refer_out(
        village_doctor, resident=residents["a1"].pk, destination="北京天坛医院",
        reason="需神经外科手术", diagnosis_code="C71.900", diagnosis_name="脑恶性肿瘤",
    )  # fmt: skip
    assert "北京天坛医院" in _inbox(tree.community)[-1]
    assert selectors.unread_notifications(community_admin).filter(referral=out).exists()
    services.approve(community_admin, out.pk)
    assert Notification.objects.filter(referral=out, recipient=village_doctor).exists()
    # Acting on it answered the community office's hand-over.
    assert not selectors.unread_notifications(community_admin).filter(referral=out).exists()
    # Each notification is seen where it is addressed, and marked read once.
    assert selectors.unread_notifications(village_doctor).count() == 5
    assert not selectors.unread_notifications(township_doctor).filter(referral=out).exists()
    ids = list(selectors.unread_notifications(village_doctor).values_list("pk", flat=True))
    assert services.mark_read(village_doctor, ids) == 5
    assert services.mark_read(village_doctor, ids) == 0


def test_overdue_by_the_policy_timeouts(catalog, tree, residents, departments, village_doctor,
                                        specialist):  # fmt: skip
    """REF-02 policy referral_answer_timeout_hours: routine 48 h, urgent 4 h to answer;
    downward 72 h to take over; an accepted patient 24 h after the appointment or admission;
    a county's own numbers override them."""
    now = timezone.now()
    routine = _up(village_doctor, residents, departments, now=now - dt.timedelta(hours=47))
    urgent = _up(village_doctor, residents, departments, urgency="urgent",
                 now=now - dt.timedelta(hours=5))  # fmt: skip
    assert not selectors.is_overdue(routine, now) and selectors.is_overdue(urgent, now)
    assert selectors.answer_due(routine) == routine.requested_at + dt.timedelta(hours=48)
    assert selectors.is_overdue(routine, now + dt.timedelta(hours=2))
    # An admission two days ago and the patient never came: overdue for arrival.
    services.accept(specialist, routine.pk, mode="bed", bed="3床", admission_on=timezone.localdate(),
                    now=now)  # fmt: skip
    routine.refresh_from_db()
    assert selectors.answer_due(routine) is None
    assert not selectors.is_overdue(routine, now)
    assert selectors.is_overdue(routine, now + dt.timedelta(days=2))
    # The county makes urgent referrals wait 8 hours.
    PolicyValue.objects.create(
        community=tree.community,
        key=referral_policy.ANSWER_TIMEOUT_HOURS,
        value={"up": {"routine": 48, "urgent": 8}, "down": 72, "out": 24},
    )
    assert not selectors.is_overdue(urgent, now)
    board = selectors.board(specialist, tree.lead_hospital, now=now + dt.timedelta(hours=4))
    assert [r.referral.pk for r in board["rows"] if r.overdue] == [urgent.pk]


def test_the_catalog_suggests_the_department(catalog, tree, departments):
    """REF-02: a diagnosis outside the village catalog is suggested upward, to the department
    the county catalog names (心血管内科 for an acute myocardial infarction)."""
    advice = services.suggestion(tree.village_a1, "I21.900")
    assert advice["suggest"] == "up"
    assert [d["id"] for d in advice["departments"]] == [departments["心血管内科"].pk]
    assert services.suggestion(tree.village_a1, "I10.x00")["departments"] == []


def test_the_suggest_fragment_preselects_the_department(web, catalog, residents, departments,
                                                        village_doctor):  # fmt: skip
    client = web(village_doctor)
    url = f"/referrals/suggest/?resident={residents['a1'].pk}&diagnosis_code=I21.900"
    html = client.get(url + "&department=").content.decode()
    assert 'hx-swap-oob="true"' in html
    assert f'<option value="{departments["心血管内科"].pk}" selected>' in html
    # The doctor's own choice is never overridden.
    html = client.get(url + f"&department={departments['骨科'].pk}").content.decode()
    assert "hx-swap-oob" not in html and "心血管内科" in html


def test_a_referral_from_a_critical_value_acknowledges_it(catalog, residents, departments,
                                                          village_doctor, critical_alert):  # fmt: skip
    """WH-/REF-01: referring the patient upward is the action taken on the critical value:
    the alert is acknowledged with the referral named and stops escalating."""
    referral = _up(village_doctor, residents, departments, urgency="urgent",
                   critical_alert=critical_alert.pk, diagnosis_code="I10.x00")  # fmt: skip
    alert = CriticalAlert.objects.get(pk=critical_alert.pk)
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.acknowledged_by == village_doctor
    assert referral.number in alert.action_taken
    assert alert.observation in referral.observations.all()
    # A second referral from the same (now acknowledged) alert is still possible.
    again = _up(village_doctor, residents, departments, critical_alert=critical_alert.pk)
    assert again.critical_alert_id == alert.pk


def test_another_appointment_time(catalog, residents, departments, session, village_doctor,
                                  specialist, township_doctor):  # fmt: skip
    """The hospital gives an accepted referral another time: the new slot is booked, the old
    one free again, the referring doctor told; a taken slot changes nothing."""
    referral = _up(village_doctor, residents, departments)
    first, second, third = list(session.slots.filter(reserved=False))[:3]
    services.accept(specialist, referral.pk, mode="appointment", slot=first.pk)
    old = Referral.objects.get(pk=referral.pk).appointment
    appointments.book(township_doctor, slot=third.pk, resident=residents["a2"].pk)
    with pytest.raises(Conflict) as caught:
        services.reschedule(specialist, referral.pk, slot=third.pk, reason="专家停诊")
    assert caught.value.code == "slot_taken"
    assert Appointment.objects.get(pk=old.pk).status == "booked"  # nothing changed
    with pytest.raises(ValidationError):
        services.reschedule(specialist, referral.pk, slot=second.pk, reason="")
    with pytest.raises(PermissionDenied):
        services.reschedule(village_doctor, referral.pk, slot=second.pk, reason="x")
    services.reschedule(specialist, referral.pk, slot=second.pk, reason="专家停诊")
    referral.refresh_from_db()
    assert referral.status == "accepted" and referral.appointment.slot == second
    assert Appointment.objects.get(pk=old.pk).status == "cancelled"
    assert first in selectors.free_slots(session.department)
    assert "专家停诊" in Notification.objects.filter(recipient=village_doctor).first().message
    services.arrive(specialist, referral.pk)
    with pytest.raises(IllegalTransition):
        services.reschedule(specialist, referral.pk, slot=first.pk, reason="x")


def test_the_family_doctor_rule_can_be_taken_over(village_doctor, specialist):
    """REF-03: by default the grassroots staff who sign contracts; a rule registered by
    another app (the family-doctor teams) decides when it has an opinion."""
    assert services.is_family_doctor(village_doctor) and not services.is_family_doctor(specialist)

    def teams(user):
        if user.username == "specialist":
            return True  # a specialist on a family-doctor team
        if user.username == "village_doctor":
            return False  # no team membership
        return None

    services.register_family_doctor_rule(teams)
    try:
        assert services.is_family_doctor(specialist)
        assert not services.is_family_doctor(village_doctor)
    finally:
        services.unregister_family_doctor_rule(teams)
    assert services.is_family_doctor(village_doctor)


def test_mark_all_hand_overs_read_from_the_board(web, catalog, residents, departments,
                                                 village_doctor, specialist):  # fmt: skip
    for _n in range(12):
        _up(village_doctor, residents, departments)
    client = web(specialist)
    page = client.get("/referrals/")
    assert len(page.context["notifications"]) == 10 and page.context["unread_count"] == 12
    client.post("/referrals/notifications/read/", {"all": "1"})
    assert not selectors.unread_notifications(specialist).exists()


def test_referrals_and_care_plans_on_the_resident_timeline(catalog, tree, residents,
                                                           departments, village_doctor,
                                                           specialist, township_doctor):  # fmt: skip
    """REF-01: every referral is on the resident's timeline; a downward referral's care plan
    once the township took the patient over — for whoever sees the resident."""
    from countycare.core import timeline

    up = _up(village_doctor, residents, departments)
    services.accept(specialist, up.pk, mode="bed", bed="2床", admission_on=timezone.localdate())
    services.arrive(specialist, up.pk)
    _up_again, down = services.discharge(
        specialist, up.pk,
        down={"to_institution": tree.township_a.pk,
              "care_plan": {"follow_up_items": ["血压"], "medicines": ["阿司匹林肠溶片"]}},
    )  # fmt: skip

    def kinds(user):
        return [e.kind for e in timeline.for_resident(residents["a1"], user)]

    assert kinds(village_doctor).count("referral") == 2 and "care_plan" not in kinds(village_doctor)
    services.accept(township_doctor, down.pk)
    entries = timeline.for_resident(residents["a1"], village_doctor)
    plan = next(e for e in entries if e.kind == "care_plan")
    assert "血压" in plan.detail and "阿司匹林肠溶片" in plan.detail
    assert any("上转" in e.title for e in entries) and any("下转" in e.title for e in entries)
