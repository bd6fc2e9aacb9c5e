"""Appointments (issue 6; REF-03, REF-04): the reserved share, the cut-off, booking on a
resident's behalf, past and full slots, cancellation and no-show."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from countycare.core.errors import Conflict, PermissionDenied, ValidationError
from countycare.organizations.models import PolicyValue
from countycare.referrals import appointments, selectors, services
from countycare.referrals import policy as referral_policy
from countycare.referrals.models import Appointment, Slot
from tests.factories import StaffFactory, with_role
from tests.referrals.conftest import tomorrow_at

pytestmark = pytest.mark.django_db


def test_reserved_share_is_at_least_the_policy():
    """REF-03: ceil(n × 20 %) slots, spread over the session."""
    assert appointments.reserved_flags(10, 0.2) == [True, False, False, False, False] * 2
    assert sum(appointments.reserved_flags(7, 0.2)) == 2  # 1.4 → 2: never below the share
    assert sum(appointments.reserved_flags(20, 0.25)) == 5


def test_publish_session(session, departments, hospital_admin, specialist, village_doctor):
    assert session.slots.count() == 10 and session.slots.filter(reserved=True).count() == 2
    with pytest.raises(ValidationError) as caught:
        appointments.publish_session(
            hospital_admin, department=departments["骨科"], starts_at=tomorrow_at(8),
            ends_at=tomorrow_at(9), slot_minutes=15, reserved_share=0.1,
        )  # fmt: skip
    assert caught.value.field == "reserved_share"
    with pytest.raises(ValidationError) as caught:
        appointments.publish_session(
            hospital_admin, department=departments["骨科"], starts_at=tomorrow_at(8, days=-2),
            ends_at=tomorrow_at(9, days=-2), slot_minutes=15,
        )  # fmt: skip
    assert caught.value.code == "past"
    with pytest.raises(Conflict):  # the specialist already sits in 心血管内科 then
        appointments.publish_session(
            hospital_admin, department=departments["骨科"], doctor=specialist,
            starts_at=tomorrow_at(9, days=5), ends_at=tomorrow_at(11, days=5), slot_minutes=15,
        )  # fmt: skip
    with pytest.raises(PermissionDenied):
        appointments.publish_session(
            village_doctor, department=departments["骨科"], starts_at=tomorrow_at(13),
            ends_at=tomorrow_at(14), slot_minutes=15,
        )  # fmt: skip


@pytest.fixture
def hospital_clerk(tree):
    """Books for walk-in patients at the lead hospital: not a family doctor."""
    user = StaffFactory(username="clerk", employer=tree.lead_hospital)
    with_role(user, "specialist", tree.lead_hospital)
    return user


def test_reserved_slots_for_family_doctors_until_the_cutoff(
    session, residents, village_doctor, township_doctor, specialist
):
    """REF-03: family doctors book reserved slots before the cut-off; others cannot, until
    the cut-off passes."""
    assert services.is_family_doctor(village_doctor) and services.is_family_doctor(township_doctor)
    assert not services.is_family_doctor(specialist)
    reserved = list(session.slots.filter(reserved=True))
    # A specialist booking a resident the lead hospital receives — not a family doctor.
    referral = services.refer_up(
        village_doctor, resident=residents["a1"].pk, department=session.department.pk,
        reason="复查", diagnosis_code="I10.x00", diagnosis_name="原发性高血压",
    )  # fmt: skip
    referral.referred_by = specialist  # as if the hospital itself had referred
    with pytest.raises(Conflict) as caught:
        appointments.book(specialist, slot=reserved[0].pk, resident=residents["a1"].pk,
                          referral=referral)  # fmt: skip
    assert caught.value.code == "reserved"
    with pytest.raises(Conflict):
        appointments.book(specialist, slot=reserved[0].pk, resident=residents["a1"].pk)
    # A family doctor may.
    a = appointments.book(village_doctor, slot=reserved[0].pk, resident=residents["a1"].pk)
    assert a.by_family_doctor
    # After the cut-off (48 h before the start by default) the reservation lapses.
    PolicyValue.objects.create(
        community_id=session.department.institution.parent_id,
        key=referral_policy.RESERVED_CUTOFF_HOURS,
        value=1,
    )
    later = reserved[1].starts_at - dt.timedelta(minutes=30)
    b = appointments.book(township_doctor, slot=reserved[1].pk, resident=residents["a2"].pk,
                          now=later)  # fmt: skip
    assert b.pk


def test_booking_rules(session, residents, village_doctor, township_doctor, specialist):
    """Issue 6, bad input: a slot in the past, a full (taken) slot, a second appointment in
    the same session, another village's resident."""
    free = list(session.slots.filter(reserved=False))
    a = appointments.book(village_doctor, slot=free[0].pk, resident=residents["a1"].pk)
    assert (a.status, a.booking_institution.code) == ("booked", "VA1")
    with pytest.raises(Conflict) as caught:
        appointments.book(township_doctor, slot=free[0].pk, resident=residents["a2"].pk)
    assert caught.value.code == "slot_taken"
    with pytest.raises(Conflict) as caught:
        appointments.book(village_doctor, slot=free[1].pk, resident=residents["a1"].pk)
    assert caught.value.code == "already_booked"
    with pytest.raises(ValidationError) as caught:
        appointments.book(village_doctor, slot=free[1].pk, resident=residents["b1"].pk)
    assert caught.value.field == "resident"
    with pytest.raises(ValidationError) as caught:
        appointments.book(township_doctor, slot=free[1].pk, resident=residents["a2"].pk,
                          now=free[1].starts_at + dt.timedelta(minutes=1))  # fmt: skip
    assert caught.value.code == "past"
    with pytest.raises(ValidationError):
        appointments.book(township_doctor, slot=999999, resident=residents["a2"].pk)


def test_the_database_refuses_a_second_live_appointment(session, residents, village_doctor,
                                                        tree):  # fmt: skip
    """The constraint behind "no double booking" holds without the service's checks."""
    slot = session.slots.first()
    now = timezone.now()
    kw = {"slot": slot, "booked_by": village_doctor, "booking_institution": tree.village_a1,
              "booked_at": now}  # fmt: skip
    Appointment.objects.create(resident=residents["a1"], **kw)
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(resident=residents["a2"], **kw)
    # A cancelled one does not hold the slot.
    Appointment.objects.update(status="cancelled")
    Appointment.objects.create(resident=residents["a2"], **kw)


def test_cancel_and_no_show(session, residents, village_doctor, specialist, village_doctor_b1):
    slot, other = list(session.slots.filter(reserved=False))[:2]
    a = appointments.book(village_doctor, slot=slot.pk, resident=residents["a1"].pk)
    with pytest.raises(PermissionDenied):  # another village's doctor cannot even see it
        appointments.cancel(village_doctor_b1, a.pk, reason="x")
    appointments.cancel(village_doctor, a.pk, reason="患者外出")
    assert slot in selectors.free_slots(session.department)
    with pytest.raises(Conflict):
        appointments.cancel(village_doctor, a.pk, reason="again")
    b = appointments.book(village_doctor, slot=other.pk, resident=residents["a1"].pk)
    with pytest.raises(ValidationError) as caught:
        appointments.mark_no_show(specialist, b.pk)
    assert caught.value.code == "too_early"
    with pytest.raises(PermissionDenied):
        appointments.mark_no_show(village_doctor, b.pk, now=other.starts_at + dt.timedelta(hours=1))
    b = appointments.mark_no_show(specialist, b.pk, now=other.starts_at + dt.timedelta(hours=1))
    assert b.status == "no_show"
    assert Slot.objects.get(pk=other.pk) not in selectors.free_slots(session.department)


def test_a_referrals_appointment_moves_with_the_referral(
    catalog, session, residents, departments, village_doctor, specialist
):
    """An accepted referral's appointment is not cancelled on its own (the referral would
    wait for nobody): the referral is withdrawn or given another time. A no-show tells the
    referring doctor; "attended" is the referral's arrival."""
    from countycare.referrals.models import Notification

    slot = session.slots.filter(reserved=False).first()
    referral = services.refer_up(
        village_doctor, resident=residents["a1"].pk, department=departments["心血管内科"].pk,
        reason="胸闷", diagnosis_code="I20.000",
    )  # fmt: skip
    services.accept(specialist, referral.pk, mode="appointment", slot=slot.pk)
    referral.refresh_from_db()
    with pytest.raises(Conflict) as caught:
        appointments.cancel(village_doctor, referral.appointment_id, reason="改期")
    assert caught.value.code == "referral_appointment" and referral.number in caught.value.message
    assert referral.appointment.status == "booked"

    appointments.mark_no_show(
        specialist, referral.appointment_id, now=slot.starts_at + dt.timedelta(hours=1)
    )
    note = Notification.objects.filter(referral=referral, recipient=village_doctor).first()
    assert residents["a1"].name in note.message
    referral.refresh_from_db()
    assert referral.status == "accepted"
    # The patient came late after all: attended → the referral arrived.
    appointments.mark_attended(specialist, referral.appointment_id)
    referral.refresh_from_db()
    assert referral.status == "arrived" and referral.appointment.status == "attended"


def test_calling_a_session_off(catalog, session, residents, departments, village_doctor,
                               specialist, hospital_admin):  # fmt: skip
    """停诊: the direct bookings are cancelled and their bookers told; a referred patient is
    given another time on the referral first, else the session stays."""
    from countycare.referrals.models import Notification

    direct, for_referral, later_slot = list(session.slots.filter(reserved=False))[:3]
    booking = appointments.book(village_doctor, slot=direct.pk, resident=residents["a1"].pk)
    referral = services.refer_up(
        village_doctor, resident=residents["a1"].pk, department=session.department.pk,
        reason="胸闷", diagnosis_code="I20.000",
    )  # fmt: skip
    with pytest.raises(Conflict):  # a1 already booked in this session
        services.accept(specialist, referral.pk, mode="appointment", slot=for_referral.pk)
    appointments.cancel(village_doctor, booking.pk, reason="改约")
    services.accept(specialist, referral.pk, mode="appointment", slot=for_referral.pk)
    with pytest.raises(PermissionDenied):
        appointments.cancel_session(village_doctor, session.pk, reason="专家外出")
    with pytest.raises(Conflict) as caught:
        appointments.cancel_session(hospital_admin, session.pk, reason="专家外出")
    assert caught.value.code == "referral_appointments" and referral.number in caught.value.message
    services.cancel(village_doctor, referral.pk, reason="患者改去蒙医院")
    # A booking made without a referral, then the session is called off.
    booking = appointments.book(village_doctor, slot=later_slot.pk, resident=residents["a1"].pk)
    with pytest.raises(ValidationError):
        appointments.cancel_session(hospital_admin, session.pk, reason=" ")
    appointments.cancel_session(hospital_admin, session.pk, reason="专家外出")
    booking.refresh_from_db()
    assert booking.status == "cancelled" and booking.status_reason == "专家外出"
    note = Notification.objects.get(appointment=booking)
    assert note.recipient == village_doctor and "专家外出" in note.message
    assert not selectors.free_slots(session.department).exists()
    with pytest.raises(Conflict):
        appointments.book(village_doctor, slot=direct.pk, resident=residents["a1"].pk)


def test_the_hospital_cancelling_tells_the_booker(session, residents, village_doctor,
                                                  specialist):  # fmt: skip
    from countycare.referrals.models import Notification

    slot = session.slots.filter(reserved=False).first()
    booking = appointments.book(village_doctor, slot=slot.pk, resident=residents["a1"].pk)
    appointments.cancel(specialist, booking.pk, reason="设备检修")
    note = Notification.objects.get(appointment=booking)
    assert note.recipient == village_doctor and note.institution == booking.booking_institution
    assert note in selectors.unread_notifications(village_doctor)
    # The booker cancelling their own booking tells nobody.
    again = appointments.book(village_doctor, slot=slot.pk, resident=residents["a1"].pk)
    appointments.cancel(village_doctor, again.pk, reason="患者不去了")
    assert not Notification.objects.filter(appointment=again).exists()


def test_sessions_page_publishes_and_calls_off(web, session, departments, hospital_admin,
                                               specialist):  # fmt: skip
    from countycare.referrals.models import ClinicSession

    client = web(hospital_admin)
    dept = departments["骨科"]
    page = client.get(f"/referrals/appointments/sessions/?department={dept.pk}")
    assert page.status_code == 200 and specialist in page.context["doctors"]
    day = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    form = {"department": dept.pk, "action": "publish", "day": day, "start": "08:00",
            "end": "10:00", "slot_minutes": "15", "reserved_percent": "10", "doctor": ""}  # fmt: skip
    page = client.post("/referrals/appointments/sessions/", form)
    assert page.status_code == 200 and "reserved_share" in page.context["errors"]
    form["reserved_percent"] = "25"
    r = client.post("/referrals/appointments/sessions/", form)
    assert r.status_code == 302
    created = ClinicSession.objects.get(department=dept)
    assert created.slots.count() == 8 and created.slots.filter(reserved=True).count() == 2
    form["start"] = "8 点"
    page = client.post("/referrals/appointments/sessions/", form)
    assert "start" in page.context["errors"]
    r = client.post("/referrals/appointments/sessions/", {
        "department": dept.pk, "action": "cancel", "session": created.pk, "reason": "专家外出",
    })  # fmt: skip
    assert r.status_code == 302 and ClinicSession.objects.get(pk=created.pk).is_cancelled
    assert web(specialist).get("/referrals/appointments/sessions/").status_code == 403
