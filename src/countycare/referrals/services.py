"""Writes of two-way referral (REF-01, REF-02, REF-04). Appointments: ``appointments.py``.

Each service is one transaction: it checks permission and scope, the referral's state, writes
the change, its ReferralTransition, the hand-over notification and the audit entry — or
raises a domain error and writes nothing. The machines, per direction::

    upward     requested ──accept──▶ accepted ──arrive──▶ arrived ──discharge──▶ discharged
                  │  └──decline──▶ declined       │
                  └──cancel──▶ cancelled ◀──cancel─┘        (emergency: created accepted)
    downward   requested ──accept──▶ accepted ──arrive──▶ arrived   (+ decline, cancel)
    out        requested ──approve──▶ approved               (+ decline, cancel;
                                                               emergency: created approved)
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from countycare.core import audit
from countycare.core.errors import IllegalTransition, PermissionDenied, ValidationError
from countycare.core.scoping import scoped
from countycare.organizations import policy
from countycare.organizations.models import Institution
from countycare.organizations.roles import ROLE_PERMISSIONS, Perm
from countycare.organizations.selectors import active_roles
from countycare.referrals import catalogs
from countycare.referrals import policy as referral_policy
from countycare.referrals.models import (
    AcceptMode,
    CarePlan,
    CatalogLevel,
    Department,
    Direction,
    Notification,
    Referral,
    ReferralStatus,
    ReferralTransition,
    Urgency,
)
from countycare.residents.models import Resident

S = ReferralStatus
D = Direction

# The legal moves per direction: (from, to) → action name.
TRANSITIONS: dict[str, dict[tuple[str, str], str]] = {
    D.UP: {
        (S.REQUESTED, S.ACCEPTED): "accept",
        (S.REQUESTED, S.DECLINED): "decline",
        (S.REQUESTED, S.CANCELLED): "cancel",
        (S.ACCEPTED, S.CANCELLED): "cancel",
        (S.ACCEPTED, S.ARRIVED): "arrive",
        (S.ARRIVED, S.DISCHARGED): "discharge",
    },
    D.DOWN: {
        (S.REQUESTED, S.ACCEPTED): "accept",
        (S.REQUESTED, S.DECLINED): "decline",
        (S.REQUESTED, S.CANCELLED): "cancel",
        (S.ACCEPTED, S.ARRIVED): "arrive",
    },
    D.OUT: {
        (S.REQUESTED, S.APPROVED): "approve",
        (S.REQUESTED, S.DECLINED): "decline",
        (S.REQUESTED, S.CANCELLED): "cancel",
    },
}
GRASSROOTS_LEVELS = (
    CatalogLevel.VILLAGE,
    CatalogLevel.TOWNSHIP,
    CatalogLevel.TOWNSHIP_BASIC,
    CatalogLevel.TOWNSHIP_RECOMMENDED,
)


# --- helpers ----------------------------------------------------------------------------------
def _require(actor, perm: str) -> None:
    if not actor.has_perm(f"countycare.{perm}"):
        raise PermissionDenied(_("Your role does not allow this action."))


def _not_found() -> PermissionDenied:
    return PermissionDenied(_("No such referral in your area."), code="not_found")


def _pk(value) -> int | None:
    try:
        pk = int(getattr(value, "pk", value))
    except (TypeError, ValueError):
        return None
    return pk if 0 < pk < 2**63 else None


def _text(value: Any, field: str, max_length: int, *, required: bool = False) -> str:
    text = ("" if value is None else str(value)).strip()
    if required and not text:
        raise ValidationError(_("This field is required."), code="required", field=field)
    if len(text) > max_length:
        raise ValidationError(
            _("At most %(n)d characters.") % {"n": max_length}, code="too_long", field=field
        )
    return text


def roles_with(actor, perm: str) -> list[tuple[str, int, str]]:
    """(role, institution id, path) of the actor's roles in force that carry ``perm``."""
    return [
        (role, inst, path)
        for role, inst, path in active_roles(actor)
        if perm in ROLE_PERMISSIONS.get(role, frozenset())
    ]


def acts_for(actor, institution: Institution, perm: str) -> bool:
    """Whether the actor holds ``perm`` through a role at ``institution`` or above it."""
    if actor.is_superuser:
        return True
    return any(institution.path.startswith(path) for _r, _i, path in roles_with(actor, perm))


def institution_for(actor, perm: str, *, serving: Institution | None = None) -> Institution:
    """The institution the actor works at for ``perm``: the deepest one whose subtree holds
    ``serving`` (the resident's village), else the first one."""
    candidates = roles_with(actor, perm)
    best = None
    for _role, inst, path in candidates:
        if serving is not None and not serving.path.startswith(path):
            continue
        if best is None or path.count("/") > best[1].count("/"):
            best = (inst, path)
    if best is None and candidates:
        best = (candidates[0][1], candidates[0][2])
    if best is None:
        raise PermissionDenied(_("You hold no role at an institution that makes referrals."))
    return Institution.objects.get(pk=best[0])


_FAMILY_DOCTOR_RULES: list = []


def register_family_doctor_rule(rule) -> None:
    """Let another app (the familydoctor app, by team membership) decide who counts as a
    family doctor for the reserved slots (REF-03). ``rule(user)`` answers True (a family
    doctor), False (not one) or None (no opinion); the first rule with an opinion decides,
    and without one the default rule of :func:`is_family_doctor` does."""
    if rule not in _FAMILY_DOCTOR_RULES:
        _FAMILY_DOCTOR_RULES.append(rule)


def unregister_family_doctor_rule(rule) -> None:
    if rule in _FAMILY_DOCTOR_RULES:
        _FAMILY_DOCTOR_RULES.remove(rule)


def is_family_doctor(user) -> bool:
    """REF-03: who may book the slots reserved for family doctors.

    Default rule (until the family-doctor teams decide it, see
    :func:`register_family_doctor_rule`): a person who holds, at a village clinic or a
    township/community health center, a role that signs family-doctor contracts
    (SIGN_CONTRACT: village and township doctors, the nurses and public-health staff of
    their teams). Hospital staff are not family doctors, whatever else they may do."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    for rule in _FAMILY_DOCTOR_RULES:
        answer = rule(user)
        if answer is not None:
            return bool(answer)
    ids = [inst for _r, inst, _p in roles_with(user, Perm.SIGN_CONTRACT)]
    if not ids:
        return False
    from countycare.organizations.models import GRASSROOTS_TYPES

    return Institution.objects.filter(pk__in=ids, type__in=GRASSROOTS_TYPES).exists()


def _resident(actor, resident) -> Resident:
    pk = _pk(resident)
    found = (
        scoped(actor, Resident).select_related("home_village").filter(pk=pk).first() if pk else None
    )
    if found is None:
        raise ValidationError(
            _("Unknown resident. Search the resident in your area first."),
            code="unknown_resident",
            field="resident",
        )
    if found.deceased_on:
        raise ValidationError(
            _("This resident is recorded as deceased."), code="deceased", field="resident"
        )
    return found


def _diagnosis(code: Any, name: Any) -> tuple[str, str]:
    code = catalogs.normalize_code(code)
    problem = catalogs.icd_error(code)
    if problem:
        raise ValidationError(problem, code="unknown_icd", field="diagnosis_code")
    name = _text(name, "diagnosis_name", 200) or catalogs.lookup_name(code)
    if not name:
        raise ValidationError(
            _("Enter the diagnosis name (%(code)s is in no catalog).") % {"code": code},
            code="required",
            field="diagnosis_name",
        )
    return code, name


def new_number(now=None) -> str:
    now = timezone.localtime(now or timezone.now())
    return f"RF{now:%y%m%d}{secrets.token_hex(4).upper()}"


def _notify(
    referral: Referral | None,
    institution: Institution | None,
    message: str,
    *,
    recipient=None,
    now=None,
    appointment=None,
) -> None:
    """A hand-over message about a referral (or, for a booking without one, an appointment)
    to an institution and, where known, one person."""
    Notification.objects.create(
        referral=referral,
        appointment=appointment,
        institution=institution,
        recipient=recipient,
        message=message[:300],
        created_at=now or timezone.now(),
    )


def _move(referral: Referral, to: str, actor, *, reason: str = "", now=None, **fields) -> None:
    frm = referral.status
    if (frm, to) not in TRANSITIONS[referral.direction]:
        raise IllegalTransition(
            _("A referral that is “%(frm)s” cannot become “%(to)s”.")
            % {"frm": S(frm).label, "to": S(to).label},
            extra={"status": frm},
        )
    now = now or timezone.now()
    referral.status = to
    for name, value in fields.items():
        setattr(referral, name, value)
    referral.save(update_fields=["status", "updated_at", *fields])
    ReferralTransition.objects.create(
        referral=referral, from_status=frm, to_status=to, actor=actor, at=now, reason=reason[:500]
    )
    # Acting on a referral answers the hand-overs about it that were addressed to the actor.
    from countycare.referrals.selectors import notifications_for

    notifications_for(actor).filter(referral=referral, read_at__isnull=True).update(
        read_at=now, read_by=actor
    )
    audit.log(
        "update",
        actor=actor,
        obj=referral,
        detail={"from": frm, "to": to, **({"reason": reason} if reason else {})},
    )


def _created(referral: Referral, actor, *, reason: str = "") -> None:
    ReferralTransition.objects.create(
        referral=referral,
        from_status="",
        to_status=referral.status,
        actor=actor,
        at=referral.requested_at,
        reason=reason[:500],
    )
    audit.log("create", actor=actor, obj=referral)


def _referral_for_update(actor, referral_id) -> Referral:
    pk = _pk(referral_id)
    referral = (
        scoped(actor, Referral)
        .select_for_update(of=("self",))
        .filter(pk=pk)
        .select_related("resident", "from_institution", "to_institution", "to_department")
        .first()
        if pk
        else None
    )
    if referral is None:
        raise _not_found()
    return referral


def _attach_results(actor, referral: Referral, reports: Iterable, observations: Iterable) -> None:
    """Link reports and results (result recognition, SHC-01): visible to the actor, of the
    same resident, reports signed."""
    from countycare.telemed.models import Observation, Report, ReportStatus

    report_ids = [p for p in (_pk(r) for r in reports or ()) if p]
    if report_ids:
        found = list(
            scoped(actor, Report).filter(
                pk__in=report_ids,
                order__resident_id=referral.resident_id,
                status=ReportStatus.SIGNED,
            )
        )
        if len(found) != len(set(report_ids)):
            raise ValidationError(
                _("Attach only signed reports of this resident from your area."),
                code="unknown_report",
                field="reports",
            )
        referral.reports.add(*found)
    observation_ids = [p for p in (_pk(o) for o in observations or ()) if p]
    if observation_ids:
        found_obs = list(
            scoped(actor, Observation).filter(
                pk__in=observation_ids, resident_id=referral.resident_id
            )
        )
        if len(found_obs) != len(set(observation_ids)):
            raise ValidationError(
                _("Attach only results of this resident from your area."),
                code="unknown_observation",
                field="observations",
            )
        referral.observations.add(*found_obs)


def suggestion(institution: Institution, code: str) -> dict[str, Any]:
    """REF-02: does ``institution`` treat this diagnosis by its catalog, and if not where it
    belongs (``up``: the county treats it; ``out``: no catalog in the county does)."""
    code = catalogs.normalize_code(code)
    problem = catalogs.icd_error(code)
    if problem:
        raise ValidationError(problem, code="unknown_icd", field="code")
    level = catalogs.level_of(institution)
    entry = catalogs.matching_entry(level, code)
    lowest = catalogs.lowest_level_treating(code)
    if entry is not None:
        advice, message = "", _("%(code)s is in your catalog: treat it here.") % {"code": code}
    elif lowest is None:
        advice = "out"
        message = _(
            "%(code)s is in no catalog of the county: consider an out-of-county referral."
        ) % {"code": code}
    else:
        advice = "up"
        message = _("%(code)s is outside your catalog (%(level)s treats it): refer upward.") % {
            "code": code,
            "level": CatalogLevel(lowest).label,
        }
    departments = []
    if advice == "up":
        names = catalogs.departments_treating(code)
        found = {
            (d.name, d.pk): d
            for d in Department.objects.filter(
                name__in=names, is_active=True, takes_referrals=True
            ).select_related("institution")
            if catalogs.level_of(d.institution) == CatalogLevel.COUNTY
        }
        # The catalog's department first, the lead hospital's before the others'.
        ordered = sorted(
            found.values(),
            key=lambda d: (names.index(d.name), not d.institution.is_lead_hospital, d.pk),
        )
        departments = [
            {"id": d.pk, "name": d.name, "institution": str(d.institution)} for d in ordered
        ]
    return {
        "code": code,
        "name": entry.name if entry else catalogs.lookup_name(code),
        "institution_level": level or "",
        "in_catalog": entry is not None,
        "lowest_level": lowest or "",
        "suggest": advice,
        "message": message,
        "departments": departments,
    }


def _department(to_institution, department) -> Department:
    dept_pk = _pk(department)
    dept = (
        Department.objects.select_related("institution").filter(pk=dept_pk).first()
        if dept_pk
        else None
    )
    if dept is None:
        raise ValidationError(
            _("Choose the department to refer to."), code="unknown_department", field="department"
        )
    if to_institution is not None:
        inst_pk = _pk(to_institution)
        if inst_pk != dept.institution_id:
            inst = Institution.objects.filter(pk=inst_pk).first()
            raise ValidationError(
                _("%(institution)s has no department “%(department)s” that takes referrals.")
                % {"institution": inst or _("This institution"), "department": dept.name},
                code="department_not_taken",
                field="department",
            )
    if not (dept.is_active and dept.takes_referrals):
        raise ValidationError(
            _("%(department)s does not take referrals.") % {"department": dept},
            code="department_not_taken",
            field="department",
        )
    if catalogs.level_of(dept.institution) != CatalogLevel.COUNTY:
        raise ValidationError(
            _("Upward referrals go to a county hospital."), code="not_county", field="department"
        )
    return dept


# --- upward -----------------------------------------------------------------------------------
@transaction.atomic
def refer_up(
    actor,
    *,
    resident,
    department,
    to_institution=None,
    reason: str,
    diagnosis_code: str,
    diagnosis_name: str = "",
    urgency: str = Urgency.ROUTINE,
    visit=None,
    critical_alert=None,
    reports: Iterable = (),
    observations: Iterable = (),
    now: dt.datetime | None = None,
) -> Referral:
    """Refer a resident from a village or township to a county department (REF-01, REF-02),
    with reason, diagnosis and the reports/results that travel with the patient. Whether the
    diagnosis lies outside the referring institution's catalog is recorded. An emergency is
    accepted at once (the receiving side is notified to prepare)."""
    from countycare.telemed.models import CriticalAlert, Visit

    _require(actor, Perm.REFER)
    resident = _resident(actor, resident)
    source = institution_for(actor, Perm.REFER, serving=resident.home_village)
    if catalogs.level_of(source) not in GRASSROOTS_LEVELS:
        raise ValidationError(
            _("Upward referrals start at a village clinic or township health center."),
            code="not_grassroots",
            field="resident",
        )
    dept = _department(to_institution, department)
    if urgency not in Urgency.values:
        raise ValidationError(_("Unknown urgency."), code="invalid_choice", field="urgency")
    code, name = _diagnosis(diagnosis_code, diagnosis_name)
    reason = _text(reason, "reason", 2000, required=True)
    alert = visit_row = None
    if critical_alert is not None:
        alert = (
            scoped(actor, CriticalAlert)
            .filter(pk=_pk(critical_alert), resident=resident)
            .select_related("observation")
            .first()
        )
        if alert is None:
            raise ValidationError(
                _("No such critical value of this resident in your area."),
                code="unknown_alert",
                field="critical_alert",
            )
    if visit is not None:
        visit_row = scoped(actor, Visit).filter(pk=_pk(visit), resident=resident).first()
        if visit_row is None:
            raise ValidationError(
                _("No such visit of this resident in your area."),
                code="unknown_visit",
                field="visit",
            )
    now = now or timezone.now()
    emergency = urgency == Urgency.EMERGENCY
    referral = Referral.objects.create(
        number=new_number(now),
        direction=D.UP,
        resident=resident,
        from_institution=source,
        to_institution=dept.institution,
        to_department=dept,
        urgency=urgency,
        reason=reason,
        diagnosis_code=code,
        diagnosis_name=name,
        outside_catalog=not catalogs.in_catalog(source, code),
        status=S.ACCEPTED if emergency else S.REQUESTED,
        referred_by=actor,
        visit=visit_row or (alert.observation.visit if alert and alert.observation else None),
        critical_alert=alert,
        accept_mode=AcceptMode.BED if emergency else "",
        requested_at=now,
        answered_at=now if emergency else None,
    )
    _created(referral, actor, reason=_("Emergency: accepted at once") if emergency else "")
    observations = list(observations or ())
    if alert is not None and alert.observation_id:
        observations.append(alert.observation_id)
    if referral.visit_id:
        # What the kit measured at the visit travels with the patient (SHC-01).
        observations += list(referral.visit.observations.values_list("pk", flat=True))
    _attach_results(actor, referral, reports, set(observations))
    if alert is not None:
        _acknowledge_alert(actor, alert, referral, dept)
    message = (
        _("Emergency referral on the way: %(resident)s, %(diagnosis)s → %(department)s")
        if emergency
        else _("New upward referral: %(resident)s, %(diagnosis)s → %(department)s")
    ) % {"resident": resident.name, "diagnosis": name, "department": dept.name}
    _notify(referral, dept.institution, message, now=now)
    return referral


def _acknowledge_alert(actor, alert, referral: Referral, dept: Department) -> None:
    """Referring the patient upward is the action taken on a critical value (WH-, REF-01):
    an alert still open is acknowledged with the referral named, so it does not escalate to
    the township as if nobody had acted."""
    from countycare.telemed import critical
    from countycare.telemed.models import AlertStatus

    if alert.status == AlertStatus.ACKNOWLEDGED or not actor.has_perm(
        f"countycare.{Perm.ACK_CRITICAL}"
    ):
        return
    critical.acknowledge(
        actor,
        alert.pk,
        action_taken=_("Referred upward: %(number)s → %(department)s")
        % {"number": referral.number, "department": dept},
    )


def is_receiver(actor, referral: Referral) -> bool:
    """The receiving side: RECEIVE_REFERRAL through a role at the receiving institution (or
    above it); for a downward referral also the family doctors there (FOLLOW_UP), who take
    the patient over."""
    if referral.to_institution is None:
        return False
    if acts_for(actor, referral.to_institution, Perm.RECEIVE_REFERRAL):
        return True
    return referral.direction == D.DOWN and acts_for(actor, referral.to_institution, Perm.FOLLOW_UP)


def _receiving(actor, referral: Referral) -> None:
    if not is_receiver(actor, referral):
        raise PermissionDenied(_("Only the receiving institution answers this referral."))


def _referring(actor, referral: Referral) -> None:
    if referral.referred_by_id == actor.pk:
        return
    perm = Perm.RECEIVE_REFERRAL if referral.direction == D.DOWN else Perm.REFER
    if not acts_for(actor, referral.from_institution, perm):
        raise PermissionDenied(_("Only the referring institution cancels this referral."))


@transaction.atomic
def accept(
    actor,
    referral_id,
    *,
    mode: str = "",
    slot=None,
    bed: str = "",
    admission_on: dt.date | str | None = None,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Referral:
    """The receiving side accepts: an upward referral with an appointment (a slot, booked for
    the resident) or a bed (ward/bed and admission date); a downward one takes the patient
    over (the care plan goes to the family doctor's list)."""
    referral = _referral_for_update(actor, referral_id)
    _receiving(actor, referral)
    if referral.direction == D.OUT:
        raise IllegalTransition(_("An out-of-county referral is approved, not accepted."))
    if (referral.status, S.ACCEPTED) not in TRANSITIONS[referral.direction]:
        _move(referral, S.ACCEPTED, actor)  # raises the clear IllegalTransition
    now = now or timezone.now()
    fields: dict[str, Any] = {"handled_by": actor, "answered_at": now}
    if referral.direction == D.DOWN:
        fields["accept_mode"] = AcceptMode.FOLLOW_UP
    elif mode == AcceptMode.APPOINTMENT:
        from countycare.referrals import appointments

        if slot is None:
            raise ValidationError(_("Choose the appointment slot."), code="required", field="slot")
        appointment = appointments.book(
            actor, slot=slot, resident=referral.resident_id, referral=referral, now=now
        )
        fields.update(accept_mode=AcceptMode.APPOINTMENT, appointment=appointment)
    elif mode == AcceptMode.BED:
        day = admission_on
        if isinstance(day, str):
            day = parse_date(day.strip()) if day.strip() else None
        if day is None:
            raise ValidationError(
                _("Enter the admission date."), code="required", field="admission_on"
            )
        if day < timezone.localdate(now):
            raise ValidationError(
                _("The admission date cannot be in the past."), code="past", field="admission_on"
            )
        fields.update(
            accept_mode=AcceptMode.BED,
            bed=_text(bed, "bed", 60, required=True),
            admission_on=day,
        )
    else:
        raise ValidationError(
            _("Accept with an appointment or a bed."), code="invalid_choice", field="mode"
        )
    _move(referral, S.ACCEPTED, actor, reason=_text(reason, "reason", 500), now=now, **fields)
    if referral.direction == D.DOWN:
        message = _("%(institution)s took over %(resident)s; the care plan is on its list.")
    elif referral.accept_mode == AcceptMode.BED:
        message = _("%(institution)s accepted %(resident)s: bed %(bed)s from %(day)s.")
    else:
        message = _("%(institution)s accepted %(resident)s: appointment %(time)s.")
    _notify(
        referral,
        referral.from_institution,
        message
        % {
            "institution": referral.to_institution,
            "resident": referral.resident.name,
            "bed": referral.bed,
            "day": referral.admission_on,
            "time": timezone.localtime(referral.appointment.slot.starts_at).strftime(
                "%Y-%m-%d %H:%M"
            )
            if referral.appointment_id
            else "",
        },
        recipient=referral.referred_by,
        now=now,
    )
    return referral


@transaction.atomic
def decline(actor, referral_id, *, reason: str, now: dt.datetime | None = None) -> Referral:
    """Decline with a reason the referring doctor reads (REF-01)."""
    referral = _referral_for_update(actor, referral_id)
    reason = _text(reason, "reason", 500, required=True)
    if referral.direction == D.OUT:
        _approver(actor, referral)
    else:
        _receiving(actor, referral)
    now = now or timezone.now()
    _move(referral, S.DECLINED, actor, reason=reason, now=now, handled_by=actor,
          answered_at=now, status_reason=reason)  # fmt: skip
    _notify(
        referral,
        referral.from_institution,
        _("Referral of %(resident)s declined: %(reason)s")
        % {"resident": referral.resident.name, "reason": reason},
        recipient=referral.referred_by,
        now=now,
    )
    return referral


@transaction.atomic
def cancel(actor, referral_id, *, reason: str, now: dt.datetime | None = None) -> Referral:
    """The referring side withdraws a referral (and its appointment)."""
    referral = _referral_for_update(actor, referral_id)
    reason = _text(reason, "reason", 500, required=True)
    _referring(actor, referral)
    now = now or timezone.now()
    _move(referral, S.CANCELLED, actor, reason=reason, now=now, status_reason=reason)
    if referral.appointment_id:
        from countycare.referrals import appointments

        appointments.release_for_referral(referral, actor, reason, now=now)
    if referral.to_institution_id:
        _notify(
            referral,
            referral.to_institution,
            _("Referral of %(resident)s withdrawn: %(reason)s")
            % {"resident": referral.resident.name, "reason": reason},
            now=now,
        )
    return referral


@transaction.atomic
def reschedule(
    actor, referral_id, *, slot, reason: str, now: dt.datetime | None = None
) -> Referral:
    """The receiving side moves an accepted upward referral to another appointment slot
    (the specialist cannot sit, the patient asked by phone): the new slot is booked, the old
    appointment cancelled, the referring doctor told. Not a state move — the referral stays
    accepted — so it is audited, not a transition."""
    from countycare.referrals import appointments

    referral = _referral_for_update(actor, referral_id)
    _receiving(actor, referral)
    if referral.direction != D.UP or referral.status != S.ACCEPTED:
        raise IllegalTransition(
            _("Only an accepted upward referral can be given another appointment."),
            extra={"status": referral.status},
        )
    reason = _text(reason, "reason", 300, required=True)
    if slot in (None, ""):
        raise ValidationError(_("Choose the appointment slot."), code="required", field="slot")
    now = now or timezone.now()
    old = referral.appointment
    # The old slot is freed first (the new one may be in the same session); if the new
    # booking fails — taken, reserved, past — the transaction undoes the release too.
    if old is not None:
        appointments.release_for_referral(referral, actor, reason, now=now)
    new = appointments.book(
        actor, slot=slot, resident=referral.resident_id, referral=referral, now=now
    )
    referral.appointment = new
    referral.accept_mode = AcceptMode.APPOINTMENT
    referral.save(update_fields=["appointment", "accept_mode", "updated_at"])
    when = timezone.localtime(new.slot.starts_at).strftime("%Y-%m-%d %H:%M")
    audit.log(
        "update",
        actor=actor,
        obj=referral,
        detail={"rescheduled": when, "from_appointment": old.pk if old else None,
                "reason": reason},
    )  # fmt: skip
    _notify(
        referral,
        referral.from_institution,
        _("New appointment for %(resident)s at %(institution)s: %(time)s (%(reason)s)")
        % {
            "resident": referral.resident.name,
            "institution": referral.to_institution,
            "time": when,
            "reason": reason,
        },
        recipient=referral.referred_by,
        now=now,
    )
    return referral


@transaction.atomic
def arrive(
    actor, referral_id, *, at: dt.datetime | None = None, now: dt.datetime | None = None
) -> Referral:
    """The patient arrived at the receiving institution."""
    referral = _referral_for_update(actor, referral_id)
    _receiving(actor, referral)
    now = now or timezone.now()
    at = at or now
    if at > now + dt.timedelta(minutes=10):
        raise ValidationError(_("The time cannot be in the future."), code="future", field="at")
    if at < (referral.answered_at or referral.requested_at):
        raise ValidationError(
            _("The patient cannot arrive before the referral was answered."),
            code="too_early",
            field="at",
        )
    _move(referral, S.ARRIVED, actor, now=at, arrived_at=at)
    if referral.appointment_id:
        from countycare.referrals import appointments

        appointments.attended_for_referral(referral, actor, now=at)
    _notify(
        referral,
        referral.from_institution,
        _("%(resident)s arrived at %(institution)s.")
        % {"resident": referral.resident.name, "institution": referral.to_institution},
        recipient=referral.referred_by,
        now=at,
    )
    return referral


def _care_plan_fields(data: dict[str, Any] | None, *, start: dt.date) -> dict[str, Any]:
    data = data or {}
    items = []
    for i, raw in enumerate(data.get("follow_up_items") or []):
        item = raw if isinstance(raw, dict) else {"item": raw}
        text = _text(item.get("item"), f"follow_up_items[{i}]", 100, required=True)
        items.append({"item": text, "frequency": _text(item.get("frequency"), "frequency", 60)})
    medicines = []
    for i, raw in enumerate(data.get("medicines") or []):
        med = raw if isinstance(raw, dict) else {"name": raw}
        medicines.append(
            {
                "name": _text(med.get("name"), f"medicines[{i}]", 100, required=True),
                "dose": _text(med.get("dose"), "dose", 60),
                "frequency": _text(med.get("frequency"), "frequency", 60),
            }
        )
    review = data.get("next_review_on")
    if isinstance(review, str):
        review = parse_date(review.strip()) if review.strip() else None
        if review is None and data.get("next_review_on", "").strip():
            raise ValidationError(
                _("Enter a date as YYYY-MM-DD."), code="invalid", field="next_review_on"
            )
    if review is None:
        review = start + dt.timedelta(days=int(policy.value(referral_policy.DOWN_REVIEW_DAYS)))
    if review < start:
        raise ValidationError(
            _("The next review cannot be in the past."), code="past", field="next_review_on"
        )
    if not items and not medicines:
        raise ValidationError(
            _("A care plan needs at least one follow-up item or medicine."),
            code="required",
            field="follow_up_items",
        )
    return {
        "follow_up_items": items,
        "medicines": medicines,
        "next_review_on": review,
        "notes": _text(data.get("notes"), "notes", 2000),
    }


@transaction.atomic
def refer_down(
    actor,
    *,
    resident=None,
    to_institution,
    reason: str,
    diagnosis_code: str = "",
    diagnosis_name: str = "",
    care_plan: dict[str, Any] | None = None,
    parent=None,
    now: dt.datetime | None = None,
) -> Referral:
    """Refer a stable chronic or rehabilitation patient down to a township/village with a care
    plan (REF-01). With ``parent`` (the upward referral of the stay) the resident and the
    diagnosis default to it."""
    _require(actor, Perm.RECEIVE_REFERRAL)
    up = None
    if parent is not None:
        up = scoped(actor, Referral).filter(pk=_pk(parent), direction=D.UP).first()
        if up is None:
            raise ValidationError(
                _("No such upward referral in your area."), code="unknown_referral", field="parent"
            )
        resident = resident or up.resident_id
        diagnosis_code = diagnosis_code or up.diagnosis_code
        diagnosis_name = diagnosis_name or up.diagnosis_name
    person = _resident(actor, resident)
    source = up.to_institution if up is not None else institution_for(actor, Perm.RECEIVE_REFERRAL)
    if catalogs.level_of(source) != CatalogLevel.COUNTY or not acts_for(
        actor, source, Perm.RECEIVE_REFERRAL
    ):
        raise PermissionDenied(_("Downward referrals start at a county hospital where you work."))
    target = Institution.objects.filter(pk=_pk(to_institution), is_active=True).first()
    if target is None or catalogs.level_of(target) not in GRASSROOTS_LEVELS:
        raise ValidationError(
            _("Refer down to a township health center or village clinic."),
            code="not_grassroots",
            field="to_institution",
        )
    code, name = _diagnosis(diagnosis_code, diagnosis_name)
    now = now or timezone.now()
    plan = _care_plan_fields(care_plan, start=timezone.localdate(now))
    family_doctor = (care_plan or {}).get("family_doctor")
    referral = Referral.objects.create(
        number=new_number(now),
        direction=D.DOWN,
        resident=person,
        from_institution=source,
        to_institution=target,
        reason=_text(reason, "reason", 2000, required=True),
        diagnosis_code=code,
        diagnosis_name=name,
        outside_catalog=not catalogs.in_catalog(target, code),
        referred_by=actor,
        parent=up,
        requested_at=now,
    )
    doctor = None
    if family_doctor:
        from django.contrib.auth import get_user_model

        doctor = get_user_model().objects.filter(pk=_pk(family_doctor), is_active=True).first()
        if doctor is None or not acts_for(doctor, target, Perm.FOLLOW_UP):
            raise ValidationError(
                _("The family doctor must work at the receiving institution."),
                code="unknown_doctor",
                field="family_doctor",
            )
    CarePlan.objects.create(referral=referral, family_doctor=doctor, **plan)
    _created(referral, actor)
    if up is not None:
        referral.reports.add(*up.reports.all())
    _notify(
        referral,
        target,
        _("Downward referral: %(resident)s (%(diagnosis)s) from %(institution)s, review %(day)s")
        % {
            "resident": person.name,
            "diagnosis": name,
            "institution": source,
            "day": plan["next_review_on"],
        },
        recipient=doctor,
        now=now,
    )
    return referral


@transaction.atomic
def discharge(
    actor,
    referral_id,
    *,
    at: dt.datetime | None = None,
    note: str = "",
    down: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> tuple[Referral, Referral | None]:
    """Discharge an arrived upward referral; with ``down`` (to_institution, reason, care_plan)
    refer the patient down in the same transaction."""
    referral = _referral_for_update(actor, referral_id)
    _require(actor, Perm.RECEIVE_REFERRAL)
    _receiving(actor, referral)
    now = now or timezone.now()
    at = at or now
    if at > now + dt.timedelta(minutes=10):
        raise ValidationError(_("The time cannot be in the future."), code="future", field="at")
    if referral.arrived_at and at < referral.arrived_at:
        raise ValidationError(
            _("The discharge cannot be before the arrival."), code="too_early", field="at"
        )
    _move(referral, S.DISCHARGED, actor, reason=_text(note, "note", 500), now=at, discharged_at=at)
    child = None
    if down:
        child = refer_down(
            actor,
            parent=referral.pk,
            to_institution=down.get("to_institution"),
            reason=down.get("reason") or _("Stable at discharge"),
            diagnosis_code=down.get("diagnosis_code", ""),
            diagnosis_name=down.get("diagnosis_name", ""),
            care_plan=down.get("care_plan"),
            now=at,
        )
    _notify(
        referral,
        referral.from_institution,
        _("%(resident)s discharged from %(institution)s.")
        % {"resident": referral.resident.name, "institution": referral.to_institution},
        recipient=referral.referred_by,
        now=at,
    )
    return referral, child


# --- out of county ----------------------------------------------------------------------------
@transaction.atomic
def refer_out(
    actor,
    *,
    resident,
    destination: str,
    reason: str,
    diagnosis_code: str,
    diagnosis_name: str = "",
    urgency: str = Urgency.ROUTINE,
    reports: Iterable = (),
    observations: Iterable = (),
    now: dt.datetime | None = None,
) -> Referral:
    """Register an out-of-county referral (REF-02): it counts against the in-county visit rate
    (KPI-01), so it needs approval; an emergency is approved at once and reviewed after."""
    _require(actor, Perm.REFER)
    person = _resident(actor, resident)
    source = institution_for(actor, Perm.REFER, serving=person.home_village)
    if urgency not in Urgency.values:
        raise ValidationError(_("Unknown urgency."), code="invalid_choice", field="urgency")
    code, name = _diagnosis(diagnosis_code, diagnosis_name)
    now = now or timezone.now()
    emergency = urgency == Urgency.EMERGENCY
    referral = Referral.objects.create(
        number=new_number(now),
        direction=D.OUT,
        resident=person,
        from_institution=source,
        destination=_text(destination, "destination", 200, required=True),
        urgency=urgency,
        reason=_text(reason, "reason", 2000, required=True),
        diagnosis_code=code,
        diagnosis_name=name,
        # Outside the county's catalogs altogether is the expected case for leaving it.
        outside_catalog=catalogs.lowest_level_treating(code) is None,
        status=S.APPROVED if emergency else S.REQUESTED,
        referred_by=actor,
        requested_at=now,
        answered_at=now if emergency else None,
    )
    _created(referral, actor, reason=_("Emergency: approved at once") if emergency else "")
    _attach_results(actor, referral, reports, observations)
    community = source.ancestors().filter(type="medical_community").first()
    _notify(
        referral,
        community,
        _("Out-of-county referral to approve: %(resident)s → %(destination)s")
        % {"resident": person.name, "destination": referral.destination},
        now=now,
    )
    return referral


def can_approve_out(actor) -> bool:
    """The community office, or whoever receives referrals at the lead hospital (its medical
    affairs), approves out-of-county referrals."""
    if actor.is_superuser or actor.has_perm(f"countycare.{Perm.MANAGE_MASTER_DATA}"):
        return True
    ids = [inst for _r, inst, _p in roles_with(actor, Perm.RECEIVE_REFERRAL)]
    return Institution.objects.filter(pk__in=ids, is_lead_hospital=True).exists()


def _approver(actor, referral: Referral) -> None:
    if not can_approve_out(actor):
        raise PermissionDenied(
            _("Out-of-county referrals are approved by the community office or the lead hospital.")
        )


@transaction.atomic
def approve(actor, referral_id, *, reason: str = "", now: dt.datetime | None = None) -> Referral:
    referral = _referral_for_update(actor, referral_id)
    _approver(actor, referral)
    now = now or timezone.now()
    _move(referral, S.APPROVED, actor, reason=_text(reason, "reason", 500), now=now,
          handled_by=actor, answered_at=now)  # fmt: skip
    _notify(
        referral,
        referral.from_institution,
        _("Out-of-county referral of %(resident)s approved.")
        % {"resident": referral.resident.name},
        recipient=referral.referred_by,
        now=now,
    )
    return referral


# --- notifications ----------------------------------------------------------------------------
@transaction.atomic
def mark_read(actor, notification_ids: Iterable) -> int:
    from countycare.referrals.selectors import notifications_for

    ids = [p for p in (_pk(n) for n in notification_ids) if p]
    return (
        notifications_for(actor)
        .filter(pk__in=ids, read_at__isnull=True)
        .update(read_at=timezone.now(), read_by=actor)
    )
