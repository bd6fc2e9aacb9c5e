"""Appointments at the county hospitals (REF-03, REF-04): clinic sessions split into slots, a
share reserved for family doctors until a cut-off, booking on a resident's behalf,
cancellation, attendance and no-show.

No double booking, whatever the concurrency: the slot row is locked (``SELECT … FOR UPDATE``
on PostgreSQL) while the booking is checked and written, and the partial unique index
``appointment_one_per_slot`` (one live appointment per slot) refuses a second one in any
case — the loser gets a 409 "slot taken", never a second appointment.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import audit
from countycare.core.errors import Conflict, PermissionDenied, ValidationError
from countycare.core.scoping import scoped
from countycare.organizations import policy
from countycare.organizations.roles import Perm
from countycare.referrals import policy as referral_policy
from countycare.referrals.models import (
    HOLDING_STATES,
    Appointment,
    AppointmentStatus,
    ClinicSession,
    Department,
    Referral,
    Slot,
)
from countycare.referrals.services import (
    _pk,
    _require,
    _resident,
    _text,
    acts_for,
    institution_for,
    is_family_doctor,
)

A = AppointmentStatus
MAX_SLOTS_PER_SESSION = 200


def reserved_flags(n: int, share: float) -> list[bool]:
    """Which of ``n`` slots are reserved: ceil(n × share) of them (REF-03: at least the
    share), spread evenly over the session so family doctors get times all day long."""
    flags = []
    for i in range(n):
        flags.append(math.ceil(round((i + 1) * share, 9)) > math.ceil(round(i * share, 9)))
    return flags


@transaction.atomic
def publish_session(
    actor,
    *,
    department,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    slot_minutes: int,
    doctor=None,
    reserved_share: float | None = None,
) -> ClinicSession:
    """A specialist's clinic session with its slots; ``reserved_share`` defaults to the
    policy's (REF-03, 20 %) and may only be raised."""
    _require(actor, Perm.MANAGE_SCHEDULES)
    dept = Department.objects.select_related("institution").filter(pk=_pk(department)).first()
    if dept is None or not dept.is_active:
        raise ValidationError(
            _("Choose the department."), code="unknown_department", field="department"
        )
    if not acts_for(actor, dept.institution, Perm.MANAGE_SCHEDULES):
        raise PermissionDenied(_("You manage no schedules at %(h)s.") % {"h": dept.institution})
    if not isinstance(slot_minutes, int) or not 5 <= slot_minutes <= 240:
        raise ValidationError(
            _("Minutes per slot: 5 to 240."), code="invalid", field="slot_minutes"
        )
    now = timezone.now()
    if starts_at <= now:
        raise ValidationError(
            _("A session cannot start in the past."), code="past", field="starts_at"
        )
    if ends_at <= starts_at:
        raise ValidationError(
            _("The session must end after it starts."), code="invalid", field="ends_at"
        )
    horizon = int(policy.value(referral_policy.BOOKING_HORIZON_DAYS))
    if starts_at > now + dt.timedelta(days=horizon):
        raise ValidationError(
            _("Sessions are published at most %(n)d days ahead.") % {"n": horizon},
            code="too_far",
            field="starts_at",
        )
    count = int((ends_at - starts_at).total_seconds() // 60 // slot_minutes)
    if not 1 <= count <= MAX_SLOTS_PER_SESSION:
        raise ValidationError(
            _("A session holds 1 to %(n)d slots.") % {"n": MAX_SLOTS_PER_SESSION},
            code="invalid",
            field="slot_minutes",
        )
    floor = float(policy.value(referral_policy.RESERVED_SHARE))
    share = floor if reserved_share is None else float(reserved_share)
    if not floor <= share <= 1:
        raise ValidationError(
            _("At least %(p)d %% of slots are reserved for family doctors (REF-03).")
            % {"p": round(floor * 100)},
            code="below_policy",
            field="reserved_share",
        )
    doctor_row = None
    if doctor is not None:
        from django.contrib.auth import get_user_model

        doctor_row = get_user_model().objects.filter(pk=_pk(doctor), is_active=True).first()
        if doctor_row is None or not acts_for(doctor_row, dept.institution, Perm.RECEIVE_REFERRAL):
            raise ValidationError(
                _("The doctor must work at %(h)s.") % {"h": dept.institution},
                code="unknown_doctor",
                field="doctor",
            )
        clash = ClinicSession.objects.filter(
            doctor=doctor_row, is_cancelled=False, starts_at__lt=ends_at, ends_at__gt=starts_at
        ).exists()
        if clash:
            raise Conflict(
                _("%(doctor)s already has a session at that time.") % {"doctor": doctor_row},
                code="session_overlap",
                field="starts_at",
            )
    session = ClinicSession.objects.create(
        department=dept,
        doctor=doctor_row,
        starts_at=starts_at,
        ends_at=ends_at,
        slot_minutes=slot_minutes,
        reserved_share=Decimal(str(round(share, 3))),
        created_by=actor,
    )
    step = dt.timedelta(minutes=slot_minutes)
    Slot.objects.bulk_create(
        Slot(session=session, starts_at=starts_at + i * step, reserved=flag)
        for i, flag in enumerate(reserved_flags(count, share))
    )
    audit.log(
        "create", actor=actor, obj=session, institution=dept.institution, detail={"slots": count}
    )
    return session


def reserved_until(slot: Slot) -> dt.datetime:
    """When a reserved slot nobody took opens to every booker (REF-03 cut-off)."""
    hours = int(policy.value(referral_policy.RESERVED_CUTOFF_HOURS))
    return slot.starts_at - dt.timedelta(hours=hours)


def _lock_slot(slot_id) -> Slot:
    pk = _pk(slot_id)
    slot = (
        Slot.objects.select_for_update(of=("self",))
        .select_related("session", "session__department", "session__department__institution")
        .filter(pk=pk)
        .first()
        if pk
        else None
    )
    if slot is None:
        raise ValidationError(_("No such appointment slot."), code="unknown_slot", field="slot")
    return slot


@transaction.atomic
def book(
    actor, *, slot, resident, referral: Referral | None = None, now: dt.datetime | None = None
) -> Appointment:
    """Book a slot for a resident (REF-04), on the resident's behalf by a village doctor or
    family doctor, or by the receiving side when it accepts a referral. Reserved slots are
    for family doctors (or a family doctor's referral) until the cut-off (REF-03)."""
    if referral is None:
        _require(actor, Perm.REFER)
    person = _resident(actor, resident)
    locked = _lock_slot(slot)
    session = locked.session
    now = now or timezone.now()
    if session.is_cancelled:
        raise Conflict(_("This clinic session was cancelled."), code="cancelled", field="slot")
    if locked.starts_at <= now:
        raise ValidationError(
            _("This slot is in the past; choose a later one."), code="past", field="slot"
        )
    horizon = int(policy.value(referral_policy.BOOKING_HORIZON_DAYS))
    if locked.starts_at > now + dt.timedelta(days=horizon):
        raise ValidationError(
            _("Appointments are booked at most %(n)d days ahead.") % {"n": horizon},
            code="too_far",
            field="slot",
        )
    family = is_family_doctor(actor) or (
        referral is not None and is_family_doctor(referral.referred_by)
    )
    if locked.reserved and not family and now < reserved_until(locked):
        raise Conflict(
            _("This slot is reserved for family doctors until %(when)s.")
            % {"when": timezone.localtime(reserved_until(locked)).strftime("%Y-%m-%d %H:%M")},
            code="reserved",
            field="slot",
        )
    if Appointment.objects.filter(slot=locked, status__in=HOLDING_STATES).exists():
        raise Conflict(_("This slot is already booked."), code="slot_taken", field="slot")
    if Appointment.objects.filter(slot__session=session, resident=person, status=A.BOOKED).exists():
        raise Conflict(
            _("%(resident)s already has an appointment in this session.")
            % {"resident": person.name},
            code="already_booked",
            field="resident",
        )
    booking_from = (
        referral.from_institution
        if referral is not None and referral.direction == "up"
        else institution_for(
            actor,
            Perm.REFER if referral is None else Perm.RECEIVE_REFERRAL,
            serving=person.home_village,
        )
    )
    try:
        with transaction.atomic():
            appointment = Appointment.objects.create(
                slot=locked,
                resident=person,
                booked_by=actor,
                booking_institution=booking_from,
                by_family_doctor=family,
                booked_at=now,
            )
    except IntegrityError:
        # Another booking of the same slot committed first (the unique index decided).
        raise Conflict(_("This slot is already booked."), code="slot_taken", field="slot") from None
    audit.log("create", actor=actor, obj=appointment)
    return appointment


def _appointment_for_update(actor, appointment_id) -> Appointment:
    pk = _pk(appointment_id)
    found = (
        scoped(actor, Appointment)
        .select_for_update(of=("self",))
        .select_related("slot", "slot__session__department__institution", "resident")
        .filter(pk=pk)
        .first()
        if pk
        else None
    )
    if found is None:
        raise PermissionDenied(_("No such appointment in your area."), code="not_found")
    return found


def _set_status(appointment: Appointment, to: str, actor, reason: str = "", now=None) -> None:
    frm = appointment.status
    appointment.status = to
    appointment.status_changed_at = now or timezone.now()
    appointment.status_reason = reason[:300]
    appointment.save(update_fields=["status", "status_changed_at", "status_reason"])
    audit.log("update", actor=actor, obj=appointment, detail={"from": frm, "to": to})


@transaction.atomic
def cancel(actor, appointment_id, *, reason: str) -> Appointment:
    """Cancel a booked appointment (the booker's side or the hospital); the slot is free
    again at once."""
    appointment = _appointment_for_update(actor, appointment_id)
    reason = _text(reason, "reason", 300, required=True)
    hospital = appointment.slot.session.department.institution
    if not (
        appointment.booked_by_id == actor.pk
        or acts_for(actor, appointment.booking_institution, Perm.REFER)
        or acts_for(actor, hospital, Perm.RECEIVE_REFERRAL)
    ):
        raise PermissionDenied(_("Only the booking side or the hospital cancels it."))
    if appointment.status != A.BOOKED:
        raise Conflict(
            _("Only a booked appointment can be cancelled (this one is “%(s)s”).")
            % {"s": appointment.get_status_display()},
            code="illegal_transition",
        )
    referral = Referral.objects.filter(appointment=appointment).first()
    if referral is not None:
        # An accepted referral without its appointment would wait for a patient nobody
        # expects: the referral is withdrawn, or the hospital gives another time.
        raise Conflict(
            _(
                "This appointment belongs to referral %(number)s: the referring side withdraws "
                "the referral, the hospital gives another appointment there."
            )
            % {"number": referral.number},
            code="referral_appointment",
            extra={"referral": referral.pk},
        )
    _set_status(appointment, A.CANCELLED, actor, reason)
    if appointment.booked_by_id != actor.pk and not acts_for(
        actor, appointment.booking_institution, Perm.REFER
    ):
        _tell_booker(appointment, reason)
    return appointment


def _tell_booker(appointment: Appointment, reason: str, *, now=None) -> None:
    """The hospital cancelled a booking: the booking doctor and institution are told."""
    from countycare.referrals.services import _notify

    _notify(
        None,
        appointment.booking_institution,
        _("Appointment of %(resident)s at %(time)s (%(department)s) cancelled by the hospital: "
          "%(reason)s. Please book another time.")
        % {
            "resident": appointment.resident.name,
            "time": timezone.localtime(appointment.slot.starts_at).strftime("%m-%d %H:%M"),
            "department": appointment.slot.session.department,
            "reason": reason,
        },
        recipient=appointment.booked_by,
        appointment=appointment,
        now=now,
    )  # fmt: skip


@transaction.atomic
def cancel_session(actor, session_id, *, reason: str) -> ClinicSession:
    """Call a clinic session off (停诊): its slots close, the bookings made without a referral
    are cancelled and their bookers told. Patients of accepted referrals are given another
    time on their referrals first (``services.reschedule``) — the session is not cancelled
    while one is booked in it."""
    _require(actor, Perm.MANAGE_SCHEDULES)
    reason = _text(reason, "reason", 300, required=True)
    session = (
        ClinicSession.objects.select_for_update(of=("self",))
        .select_related("department__institution")
        .filter(pk=_pk(session_id))
        .first()
    )
    if session is None:
        raise ValidationError(_("No such clinic session."), code="unknown_session", field="session")
    hospital = session.department.institution
    if not acts_for(actor, hospital, Perm.MANAGE_SCHEDULES):
        raise PermissionDenied(_("You manage no schedules at %(h)s.") % {"h": hospital})
    if session.is_cancelled:
        raise Conflict(_("This clinic session was cancelled."), code="cancelled")
    booked = list(
        Appointment.objects.select_for_update(of=("self",))
        .filter(slot__session=session, status=A.BOOKED)
        .select_related("slot", "resident", "booking_institution", "booked_by")
    )
    referrals = list(
        Referral.objects.filter(appointment__in=booked).values_list("number", flat=True)
    )
    if referrals:
        raise Conflict(
            _("Give the referred patients another time first (referral %(numbers)s).")
            % {"numbers": "、".join(sorted(referrals))},
            code="referral_appointments",
            extra={"referrals": sorted(referrals)},
        )
    now = timezone.now()
    for appointment in booked:
        _set_status(appointment, A.CANCELLED, actor, reason, now=now)
        _tell_booker(appointment, reason, now=now)
    session.is_cancelled = True
    session.save(update_fields=["is_cancelled"])
    audit.log(
        "update",
        actor=actor,
        obj=session,
        institution=hospital,
        detail={"cancelled": True, "reason": reason, "appointments": len(booked)},
    )
    return session


def _hospital_side(actor, appointment: Appointment) -> None:
    hospital = appointment.slot.session.department.institution
    if not acts_for(actor, hospital, Perm.RECEIVE_REFERRAL):
        raise PermissionDenied(_("Only the hospital records attendance."))


@transaction.atomic
def mark_attended(actor, appointment_id) -> Appointment:
    appointment = _appointment_for_update(actor, appointment_id)
    _hospital_side(actor, appointment)
    if appointment.status not in (A.BOOKED, A.NO_SHOW):
        raise Conflict(_("This appointment is not booked."), code="illegal_transition")
    referral = Referral.objects.filter(appointment=appointment, status="accepted").first()
    if referral is not None:
        # The patient of an accepted referral came: that is the referral's arrival (which
        # marks the appointment attended and tells the referring doctor).
        from countycare.referrals import services

        services.arrive(actor, referral.pk)
        appointment.refresh_from_db()
        return appointment
    _set_status(appointment, A.ATTENDED, actor)
    return appointment


@transaction.atomic
def mark_no_show(actor, appointment_id, *, now: dt.datetime | None = None) -> Appointment:
    """The patient did not come: only once the slot has started (plus the policy's grace)."""
    appointment = _appointment_for_update(actor, appointment_id)
    _hospital_side(actor, appointment)
    if appointment.status != A.BOOKED:
        raise Conflict(_("This appointment is not booked."), code="illegal_transition")
    grace = int(policy.value(referral_policy.NO_SHOW_AFTER_MINUTES))
    if (now or timezone.now()) < appointment.slot.starts_at + dt.timedelta(minutes=grace):
        raise ValidationError(
            _("A patient can be marked absent only %(n)d minutes after the slot starts.")
            % {"n": grace},
            code="too_early",
        )
    _set_status(appointment, A.NO_SHOW, actor, now=now)
    referral = Referral.objects.filter(appointment=appointment).select_related("resident").first()
    if referral is not None:
        from countycare.referrals.services import _notify

        # The referring doctor follows the patient up (the referral shows as overdue).
        _notify(
            referral,
            referral.from_institution,
            _("%(resident)s did not come to the appointment at %(time)s (%(department)s).")
            % {
                "resident": appointment.resident.name,
                "time": timezone.localtime(appointment.slot.starts_at).strftime("%m-%d %H:%M"),
                "department": appointment.slot.session.department,
            },
            recipient=referral.referred_by,
            now=now,
        )
    return appointment


def release_for_referral(referral: Referral, actor, reason: str, *, now=None) -> None:
    """A cancelled referral frees its booked slot (inside the referral's transaction)."""
    appointment = Appointment.objects.select_for_update().filter(pk=referral.appointment_id).first()
    if appointment is not None and appointment.status == A.BOOKED:
        _set_status(appointment, A.CANCELLED, actor, reason, now=now)


def attended_for_referral(referral: Referral, actor, *, now=None) -> None:
    appointment = Appointment.objects.select_for_update().filter(pk=referral.appointment_id).first()
    if appointment is not None and appointment.status in (A.BOOKED, A.NO_SHOW):
        _set_status(appointment, A.ATTENDED, actor, now=now)
