"""Two-way referral through the services (issue 6; REF-01, REF-02): the full upward and
downward cycles, emergencies, out-of-county approval, illegal moves and bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from countycare.core.errors import IllegalTransition, PermissionDenied, ValidationError
from countycare.core.scoping import scoped
from countycare.referrals import selectors, services
from countycare.referrals.models import (
    Appointment,
    Notification,
    Referral,
    ReferralStatus,
    ReferralTransition,
)
from countycare.residents.models import Resident
from countycare.telemed.models import Report

pytestmark = pytest.mark.django_db
S = ReferralStatus


def _up(village_doctor, residents, departments, **kw):
    kw.setdefault("resident", residents["a1"].pk)
    kw.setdefault("department", departments["心血管内科"].pk)
    kw.setdefault("reason", "血压控制不佳，胸闷")
    kw.setdefault("diagnosis_code", "I20.000")
    kw.setdefault("diagnosis_name", "不稳定型心绞痛")
    return services.refer_up(village_doctor, **kw)


def test_full_upward_and_downward_cycle(
    catalog, tree, residents, departments, session, village_doctor, specialist,
    township_doctor, signed_report, critical_alert,
):  # fmt: skip
    """REF-01: village → county (with the critical value and the signed ECG report linked,
    not copied), accepted with an appointment, arrival, discharge with a downward referral
    and care plan, accepted by the township; every move recorded with actor and time."""
    referral = _up(
        village_doctor, residents, departments,
        critical_alert=critical_alert.pk, reports=[signed_report.pk],
    )  # fmt: skip
    assert referral.status == S.REQUESTED
    assert referral.from_institution == tree.village_a1
    assert referral.to_institution == tree.lead_hospital
    # I20.0 is outside the village catalog (recommended-level township and up): suggested.
    assert referral.outside_catalog
    # Result recognition: the very report and the critical observation, by reference.
    assert list(referral.reports.all()) == [signed_report]
    assert critical_alert.observation in referral.observations.all()
    assert referral.observations.count() == 2  # SBP and DBP of the visit
    assert Report.objects.count() == 1
    # The specialist at the lead hospital sees the patient and the report through the referral.
    assert scoped(specialist, Resident).filter(pk=residents["a1"].pk).exists()
    assert scoped(specialist, Report).filter(pk=signed_report.pk).exists()
    assert Notification.objects.filter(institution=tree.lead_hospital, referral=referral).exists()

    slot = session.slots.filter(reserved=True).first()
    services.accept(specialist, referral.pk, mode="appointment", slot=slot.pk)
    referral.refresh_from_db()
    assert referral.status == S.ACCEPTED and referral.appointment.slot == slot
    # REF-03: the family doctor's referral may use a reserved slot.
    assert referral.appointment.by_family_doctor
    assert Notification.objects.filter(recipient=village_doctor, referral=referral).exists()

    services.arrive(specialist, referral.pk)
    assert Appointment.objects.get(pk=referral.appointment_id).status == "attended"
    up, down = services.discharge(
        specialist,
        referral.pk,
        down={
            "to_institution": tree.township_a.pk,
            "reason": "病情稳定，回基层康复",
            "care_plan": {
                "follow_up_items": [{"item": "血压", "frequency": "每周2次"}, "心电图"],
                "medicines": [{"name": "阿司匹林肠溶片", "dose": "100 mg", "frequency": "每日1次"}],
                "notes": "低盐饮食",
            },
        },
    )
    assert up.status == S.DISCHARGED and up.discharged_at
    assert down.direction == "down" and down.parent == up and down.status == S.REQUESTED
    assert down.diagnosis_code == "I20.000"
    assert list(down.reports.all()) == [signed_report]
    plan = down.care_plan
    assert plan.follow_up_items[1] == {"item": "心电图", "frequency": ""}
    # FD-08: review within two weeks by default.
    assert plan.next_review_on == timezone.localdate() + dt.timedelta(days=14)
    # Not yet on the family doctor's list before the township accepts it.
    assert not selectors.care_plans_for_family_doctor(township_doctor).exists()
    services.accept(township_doctor, down.pk)
    assert list(selectors.care_plans_for_family_doctor(township_doctor)) == [plan]
    # The village doctor of A1 also follows the resident (scope includes the resident).
    assert list(selectors.care_plans_for_family_doctor(village_doctor)) == [plan]

    moves = list(
        ReferralTransition.objects.filter(referral=up).values_list("from_status", "to_status")
    )
    assert moves == [("", "requested"), ("requested", "accepted"), ("accepted", "arrived"),
                     ("arrived", "discharged")]  # fmt: skip
    assert all(t.actor_id and t.at for t in ReferralTransition.objects.filter(referral=up))


def test_accept_with_a_bed_and_decline(catalog, residents, departments, village_doctor, specialist):
    r1 = _up(village_doctor, residents, departments)
    with pytest.raises(ValidationError) as caught:
        services.accept(specialist, r1.pk, mode="bed", bed="心内科 12床")
    assert caught.value.field == "admission_on"
    with pytest.raises(ValidationError) as caught:
        services.accept(specialist, r1.pk, mode="bed", bed="12床",
                        admission_on=timezone.localdate() - dt.timedelta(days=1))  # fmt: skip
    assert caught.value.code == "past"
    services.accept(specialist, r1.pk, mode="bed", bed="心内科 12床",
                    admission_on=timezone.localdate().isoformat())  # fmt: skip
    r1.refresh_from_db()
    assert (r1.status, r1.accept_mode, r1.bed) == (S.ACCEPTED, "bed", "心内科 12床")

    r2 = _up(village_doctor, residents, departments)
    with pytest.raises(ValidationError):
        services.decline(specialist, r2.pk, reason=" ")
    services.decline(specialist, r2.pk, reason="本院无床位，建议转蒙医医院")
    # Issue 6, bad input: accepting an already declined referral is a 409.
    with pytest.raises(IllegalTransition) as caught:
        services.accept(specialist, r2.pk, mode="bed", bed="1", admission_on=timezone.localdate())
    assert caught.value.status_code == 409
    assert Notification.objects.filter(recipient=village_doctor, referral=r2).count() == 1


def test_emergency_goes_straight_to_accepted(catalog, residents, departments, village_doctor):
    r = _up(village_doctor, residents, departments, urgency="emergency",
            diagnosis_code="I21.900", diagnosis_name="")  # fmt: skip
    assert r.status == S.ACCEPTED and r.answered_at
    assert r.diagnosis_name == "急性心肌梗死"  # from the catalog
    t = r.transitions.get()
    assert (t.from_status, t.to_status, t.actor) == ("", "accepted", village_doctor)


def test_bad_referrals(catalog, tree, residents, departments, village_doctor, specialist,
                       other_hospital_specialist):  # fmt: skip
    """Issue 6, bad input: a department the institution does not take, one that takes no
    referrals, an unknown ICD code, another village's resident; nothing is written."""
    with pytest.raises(ValidationError) as caught:
        _up(village_doctor, residents, departments,
            to_institution=other_hospital_specialist.employer.pk)  # fmt: skip
    assert (caught.value.field, caught.value.code) == ("department", "department_not_taken")
    with pytest.raises(ValidationError) as caught:
        _up(village_doctor, residents, departments, department=departments["体检中心"].pk)
    assert caught.value.field == "department"
    with pytest.raises(ValidationError) as caught:
        _up(village_doctor, residents, departments, diagnosis_code="K99.900")
    assert caught.value.field == "diagnosis_code"
    with pytest.raises(ValidationError) as caught:
        _up(village_doctor, residents, departments, resident=residents["b1"].pk)
    assert caught.value.field == "resident"
    with pytest.raises(ValidationError) as caught:
        _up(village_doctor, residents, departments, reason="")
    assert caught.value.field == "reason"
    assert not Referral.objects.exists()
    # Only the receiving institution answers.
    r = _up(village_doctor, residents, departments)
    with pytest.raises(PermissionDenied):
        services.accept(other_hospital_specialist, r.pk, mode="bed", bed="1",
                        admission_on=timezone.localdate())  # fmt: skip
    with pytest.raises(PermissionDenied):
        services.decline(village_doctor, r.pk, reason="x")


def test_suggestion(catalog, tree):
    """REF-02: the platform suggests referring when a diagnosis is outside the catalog."""
    assert services.suggestion(tree.village_a1, "I10.x00")["suggest"] == ""
    up = services.suggestion(tree.village_a1, "I50.900")
    assert (up["in_catalog"], up["suggest"], up["lowest_level"]) == (False, "up", "township_basic")
    assert services.suggestion(tree.lead_hospital, "C71.900")["suggest"] == "out"
    with pytest.raises(ValidationError):
        services.suggestion(tree.village_a1, "ZZZ")


def test_out_of_county_needs_approval(catalog, tree, residents, village_doctor, specialist,
                                      community_admin, township_doctor):  # fmt: skip
    """REF-02/KPI-01: out-of-county referrals are registered with a reason and approved."""
    r = services.refer_out(
        village_doctor, resident=residents["a1"].pk, destination="北京朝阳医院",
        reason="脑肿瘤需神经外科手术", diagnosis_code="C71.900", diagnosis_name="脑恶性肿瘤",
    )  # fmt: skip
    assert r.status == S.REQUESTED and r.outside_catalog and r.to_institution is None
    with pytest.raises(PermissionDenied):
        services.approve(township_doctor, r.pk)
    services.approve(community_admin, r.pk, reason="县域内无法诊治")
    r.refresh_from_db()
    assert r.status == S.APPROVED and r.handled_by == community_admin
    with pytest.raises(IllegalTransition):
        services.approve(community_admin, r.pk)
    e = services.refer_out(
        village_doctor, resident=residents["a1"].pk, destination="鄂尔多斯市中心医院",
        reason="严重多发伤", diagnosis_code="T07.x00", diagnosis_name="多处损伤", urgency="emergency",
    )  # fmt: skip
    assert e.status == S.APPROVED


def test_cancel_frees_the_slot(catalog, residents, departments, session, village_doctor,
                               specialist):  # fmt: skip
    r = _up(village_doctor, residents, departments)
    slot = session.slots.first()
    services.accept(specialist, r.pk, mode="appointment", slot=slot.pk)
    services.cancel(village_doctor, r.pk, reason="患者改期")
    r.refresh_from_db()
    assert r.status == S.CANCELLED and r.appointment.status == "cancelled"
    assert slot in selectors.free_slots(session.department)


def test_village_doctor_cannot_reach_another_village(catalog, residents, departments,
                                                      village_doctor, village_doctor_b1):  # fmt: skip
    """Scoping: a village doctor never sees another village's referrals or acts on them."""
    r = _up(village_doctor, residents, departments)
    assert not selectors.referrals_for(village_doctor_b1).filter(pk=r.pk).exists()
    assert selectors.referral_detail(village_doctor, r.pk) is not None
    with pytest.raises(PermissionDenied) as caught:
        services.cancel(village_doctor_b1, r.pk, reason="x")
    assert caught.value.code == "not_found"
