"""Writes of outreach: circuit teams and absences, recording circuit visits, dispatches and
their check-ins (issue 8). Each service validates the rule it implements (OUT-…) and raises
a domain error naming the field; nothing is half-written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import audit
from countycare.core.errors import Conflict, PermissionDenied, ValidationError
from countycare.core.scoping import scoped
from countycare.organizations.models import (
    COUNTY_HOSPITAL_TYPES,
    Institution,
    InstitutionType,
    Staff,
    TitleLevel,
)
from countycare.organizations.roles import Perm
from countycare.outreach import policy
from countycare.outreach.models import (
    Absence,
    CircuitTeam,
    CircuitVisit,
    Dispatch,
    DispatchCheckIn,
    DispatchKind,
    TeamMember,
    VisitAttendance,
    VisitStatus,
)

TITLE_RANK = {
    TitleLevel.NONE: 0,
    TitleLevel.JUNIOR: 1,
    TitleLevel.INTERMEDIATE: 2,
    TitleLevel.ASSOCIATE_SENIOR: 3,
    TitleLevel.SENIOR: 4,
}
TOWNSHIP_TYPES = (
    InstitutionType.TOWNSHIP_HEALTH_CENTER,
    InstitutionType.COMMUNITY_HEALTH_CENTER,
)
VILLAGE_TYPES = (InstitutionType.VILLAGE_CLINIC, InstitutionType.VILLAGE)


def _perm(user, perm: str) -> bool:
    return user.has_perm(f"countycare.{perm}")


def _require(user, perm: str) -> None:
    if not _perm(user, perm):
        raise PermissionDenied(_("You are not allowed to do this."))


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def absence_on(staff_id: int, day: dt.date) -> Absence | None:
    for absence in Absence.objects.filter(staff_id=staff_id, start__lte=day, end__gte=day):
        if absence.covers(day):
            return absence
    return None


# --- teams --------------------------------------------------------------------------------------


def active_members(team: CircuitTeam, day: dt.date) -> list[TeamMember]:
    return list(
        team.members.select_related("staff")
        .filter(valid_from__lte=day)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=day))
    )


def add_absence(
    *,
    actor,
    staff: Staff,
    start: dt.date,
    end: dt.date,
    weekdays: Sequence[int] = (),
    reason: str = "",
) -> Absence:
    _require(actor, Perm.PLAN_OUTREACH)
    if end < start:
        raise ValidationError(_("The end date is before the start date."), field="end")
    bad = [d for d in weekdays if d not in range(7)]
    if bad:
        raise ValidationError(_("Weekdays are 0 (Monday) to 6 (Sunday)."), field="weekdays")
    return Absence.objects.create(
        staff=staff, start=start, end=end, weekdays=sorted(set(weekdays)), reason=reason[:100]
    )


# --- circuit visits -----------------------------------------------------------------------------


def can_record(user, visit: CircuitVisit) -> bool:
    """Team members record their visits (RECORD_OUTREACH); planners in scope may too."""
    if user.is_superuser:
        return True
    if _perm(user, Perm.RECORD_OUTREACH) and visit.team.members.filter(staff=user).exists():
        return True
    return (
        _perm(user, Perm.PLAN_OUTREACH)
        and scoped(user, CircuitTeam).filter(pk=visit.team_id).exists()
    )


def record_visit(
    *,
    actor,
    visit: CircuitVisit,
    arrived_at: dt.datetime,
    left_at: dt.datetime,
    attendees: Iterable[int],
    residents_served: int = 0,
    services: Sequence[str] = (),
    note: str = "",
) -> CircuitVisit:
    """Record a circuit visit on the day (OUT-02/03/04): who came, arrival and departure,
    residents served and services given. Recording again replaces the record (a tablet's
    retry gives the same visit). A visit shorter than half a day or without the full team is
    recorded as it was; the compliance view counts it as not meeting OUT-04."""
    if not can_record(actor, visit):
        raise PermissionDenied(_("Only the team's members or its planners record this visit."))
    if visit.status == VisitStatus.CANCELLED:
        raise Conflict(_("This visit was cancelled."))
    today = timezone.localdate()
    if visit.date > today:
        raise ValidationError(_("A visit is recorded on the day, not before."), field="date")
    if timezone.is_naive(arrived_at) or timezone.is_naive(left_at):
        raise ValidationError(_("Times must carry a time zone."), field="arrived_at")
    if timezone.localtime(arrived_at).date() != visit.date:
        raise ValidationError(
            _("The arrival must be on the visit's day (%(day)s).") % {"day": visit.date},
            field="arrived_at",
        )
    if left_at <= arrived_at:
        raise ValidationError(_("The departure must be after the arrival."), field="left_at")
    if residents_served < 0:
        raise ValidationError(_("Residents served cannot be negative."), field="residents_served")
    attendee_ids = list(dict.fromkeys(int(a) for a in attendees))
    if not attendee_ids:
        raise ValidationError(_("Tick who came on the visit."), field="attendees")
    members = {m.staff_id: m for m in active_members(visit.team, visit.date)}
    for staff_id in attendee_ids:
        member = members.get(staff_id)
        if member is None:
            name = Staff.objects.filter(pk=staff_id).first()
            raise ValidationError(
                _("%(name)s is not a member of this team on %(day)s.")
                % {"name": name or staff_id, "day": visit.date},
                field="attendees",
            )
        absence = absence_on(staff_id, visit.date)
        if absence is not None:
            raise ValidationError(
                _("%(name)s is on leave on %(day)s (%(reason)s): correct the attendance.")
                % {
                    "name": member.staff,
                    "day": visit.date,
                    "reason": absence.reason or _("absence"),
                },
                field="attendees",
            )
    cleaned = [s.strip()[:60] for s in services if s and s.strip()]
    with transaction.atomic():
        visit = CircuitVisit.objects.select_for_update().get(pk=visit.pk)
        visit.arrived_at = arrived_at
        visit.left_at = left_at
        visit.residents_served = residents_served
        visit.services = cleaned
        visit.note = note[:300]
        visit.status = VisitStatus.DONE
        visit.recorded_by = actor
        visit.recorded_at = timezone.now()
        visit.save()
        visit.attendance.all().delete()
        VisitAttendance.objects.bulk_create(
            VisitAttendance(visit=visit, staff_id=s, function=members[s].function)
            for s in attendee_ids
        )
        audit.log(
            audit.Action.UPDATE,
            actor=actor,
            obj=visit,
            institution=visit.place,
            detail={"status": "done", "attendees": attendee_ids, "hours": round(visit.hours, 2)},
        )
    return visit


def mark_missed(*, actor, visit: CircuitVisit, note: str = "") -> CircuitVisit:
    if not can_record(actor, visit):
        raise PermissionDenied(_("Only the team's members or its planners record this visit."))
    if visit.status != VisitStatus.PLANNED:
        raise Conflict(_("Only a planned visit can be marked missed."))
    with transaction.atomic():
        CircuitVisit.objects.filter(pk=visit.pk, status=VisitStatus.PLANNED).update(
            status=VisitStatus.MISSED,
            note=note[:300],
            recorded_by=actor,
            recorded_at=timezone.now(),
        )
        visit.refresh_from_db()
        audit.log(audit.Action.UPDATE, actor=actor, obj=visit, detail={"status": "missed"})
    return visit


def circuit_visit_for(visit) -> CircuitVisit | None:
    """The circuit visit a Walking Hospital visit was made on: that day, at the resident's
    village (or the circuit service point it hosts), by a member of the visiting team. A
    visit by the village's own doctor counts only when marked as made at a circuit visit."""
    from countycare.telemed.models import VisitSetting

    village_id = visit.resident.home_village_id
    if village_id is None:
        return None
    if visit.setting != VisitSetting.CIRCUIT and visit.performed_by.employer_id == village_id:
        return None
    day = timezone.localtime(visit.visited_at).date()
    candidates = (
        CircuitVisit.objects.filter(date=day)
        .exclude(status__in=[VisitStatus.CANCELLED, VisitStatus.MISSED])
        .filter(Q(place_id=village_id) | Q(place__service_point__village_id=village_id))
        .filter(team__members__staff=visit.performed_by, team__members__valid_from__lte=day)
        .filter(Q(team__members__valid_until__isnull=True) | Q(team__members__valid_until__gte=day))
        .distinct()
        .order_by("pk")
    )
    return candidates.first()


def link_encounter_on_save(sender, instance, created, raw=False, **kwargs) -> None:
    """post_save of telemed.Visit: link a new Walking Hospital visit to its circuit visit."""
    if not created or raw:
        return
    from countycare.outreach.models import CircuitEncounter

    circuit = circuit_visit_for(instance)
    if circuit is not None:
        CircuitEncounter.objects.get_or_create(visit=instance, defaults={"circuit_visit": circuit})


# --- dispatch -----------------------------------------------------------------------------------


def _township(institution: Institution) -> bool:
    return institution.type in TOWNSHIP_TYPES


def create_dispatch(
    *,
    actor,
    staff: Staff,
    kind: str,
    from_institution: Institution,
    to_institution: Institution,
    start: dt.date,
    end: dt.date,
    days_per_week: int | None = None,
    min_hours_per_day: float | None = None,
    note: str = "",
) -> Dispatch:
    """Plan a dispatch, refusing one that cannot meet its rule (OUT-05 … OUT-09): the
    dates, a dispatch to the same institution, overlapping dispatches of one person, the title
    level, the 6-month minimum, 5 days a week and half a day a day."""
    _require(actor, Perm.PLAN_OUTREACH)
    if not actor.is_superuser and not (
        _in_scope(actor, from_institution) or _in_scope(actor, to_institution)
    ):
        raise PermissionDenied(_("Both institutions are outside your area."))
    if kind not in DispatchKind.values:
        raise ValidationError(_("Choose the kind of dispatch."), field="kind")
    if from_institution.pk == to_institution.pk:
        raise ValidationError(
            _("A dispatch goes to another institution, not to the one the doctor comes from."),
            field="to_institution",
        )
    if staff.employer_id and staff.employer_id == to_institution.pk:
        raise ValidationError(
            _("%(name)s already works at %(place)s: a dispatch goes to another institution.")
            % {"name": staff, "place": to_institution},
            field="to_institution",
        )
    if staff.employer_id and staff.employer_id != from_institution.pk:
        raise ValidationError(
            _("%(name)s works at %(employer)s, not at %(place)s: dispatch from the employer.")
            % {"name": staff, "employer": staff.employer, "place": from_institution},
            field="from_institution",
        )
    if end < start:
        raise ValidationError(_("The end date is before the start date."), field="end")
    days_per_week = (
        int(policy.number(policy.VILLAGE_DISPATCH_DAYS_PER_WEEK, to_institution))
        if days_per_week is None
        else days_per_week
    )
    min_hours = (
        float(policy.number(policy.DISPATCH_MIN_HOURS_PER_DAY, to_institution))
        if min_hours_per_day is None
        else float(min_hours_per_day)
    )
    if not 1 <= days_per_week <= 7:
        raise ValidationError(_("Days a week must be 1 to 7."), field="days_per_week")
    if not 0 < min_hours <= 24:
        raise ValidationError(_("Hours a day must be more than 0 and at most 24."),
                              field="min_hours_per_day")  # fmt: skip
    title = TITLE_RANK.get(staff.title_level or "", 0)
    if kind == DispatchKind.VILLAGE:
        # OUT-05: ≥ 5 days a week, ≥ half a day a day, ≥ 6 continuous months, same village.
        if to_institution.type not in VILLAGE_TYPES:
            raise ValidationError(_("OUT-05: this kind of dispatch goes to a village."),
                                  field="to_institution")  # fmt: skip
        need_days = int(policy.number(policy.VILLAGE_DISPATCH_DAYS_PER_WEEK, to_institution))
        if days_per_week < need_days:
            raise ValidationError(
                _(
                    "OUT-05: a doctor dispatched to a village works there at least %(n)s days a week."
                )
                % {"n": need_days},
                field="days_per_week",
            )
        months = int(policy.number(policy.VILLAGE_DISPATCH_MIN_MONTHS, to_institution))
    elif kind in (DispatchKind.TOWNSHIP, DispatchKind.LEAD_ATTENDING, DispatchKind.PUBLIC_HEALTH):
        if not _township(to_institution):
            raise ValidationError(
                _("%(rule)s: this kind of dispatch goes to a township or community health center.")
                % {"rule": "OUT-06" if kind == DispatchKind.TOWNSHIP else "OUT-07"},
                field="to_institution",
            )
        months = int(policy.number(policy.TOWNSHIP_DISPATCH_MIN_MONTHS, to_institution))
        if kind in (DispatchKind.TOWNSHIP, DispatchKind.LEAD_ATTENDING):
            # OUT-06: intermediate title or above; OUT-07/08: attending level or above.
            need = TITLE_RANK[policy.number(policy.TOWNSHIP_DISPATCH_MIN_TITLE, to_institution)]
            if title < need:
                raise ValidationError(
                    _("%(rule)s: %(name)s's title (%(title)s) is below intermediate (attending).")
                    % {
                        "rule": "OUT-06" if kind == DispatchKind.TOWNSHIP else "OUT-07",
                        "name": staff,
                        "title": staff.get_title_level_display() or _("none"),
                    },
                    field="staff",
                )
        if kind == DispatchKind.TOWNSHIP and from_institution.type not in (
            *COUNTY_HOSPITAL_TYPES,
            InstitutionType.CDC,
        ):
            raise ValidationError(_("OUT-06: county staff come from a county institution."),
                                  field="from_institution")  # fmt: skip
        if kind == DispatchKind.LEAD_ATTENDING and not from_institution.is_lead_hospital:
            raise ValidationError(_("OUT-07: these physicians come from the lead hospital."),
                                  field="from_institution")  # fmt: skip
        if kind == DispatchKind.PUBLIC_HEALTH and from_institution.type != InstitutionType.CDC:
            raise ValidationError(_("OUT-09: the public-health physician comes from the CDC."),
                                  field="from_institution")  # fmt: skip
        if kind == DispatchKind.PUBLIC_HEALTH:
            months = 0
    else:  # pragma: no cover — kinds are validated above
        months = 0
    if kind == DispatchKind.LEAD_ATTENDING:
        # OUT-07: each dispatch period of an attending physician lasts at least 180 days.
        need_days = int(policy.number(policy.LEAD_ATTENDING_DAYS_PER_YEAR, to_institution))
        if (end - start).days + 1 < need_days:
            raise ValidationError(
                _("OUT-07: an attending physician is dispatched for at least %(n)s days: end on "
                  "%(day)s or later.")
                % {"n": need_days, "day": start + dt.timedelta(days=need_days - 1)},
                field="end",
            )  # fmt: skip
    if months and end < add_months(start, months) - dt.timedelta(days=1):
        raise ValidationError(
            _("%(rule)s: a dispatch lasts at least %(n)s months: end on %(day)s or later.")
            % {
                "rule": "OUT-05" if kind == DispatchKind.VILLAGE else "OUT-06",
                "n": months,
                "day": add_months(start, months) - dt.timedelta(days=1),
            },
            field="end",
        )
    if kind == DispatchKind.VILLAGE:
        need_hours = float(policy.number(policy.DISPATCH_MIN_HOURS_PER_DAY, to_institution))
        if min_hours < need_hours:
            raise ValidationError(
                _("OUT-05: at least %(n)s hours (half a day) a day.") % {"n": need_hours},
                field="min_hours_per_day",
            )
    with transaction.atomic():
        # Lock the person's dispatches so two planners cannot book overlapping ones.
        Staff.objects.select_for_update().filter(pk=staff.pk).first()
        overlap = (
            Dispatch.objects.filter(staff=staff, start__lte=end, end__gte=start)
            .select_related("to_institution")
            .first()
        )
        if overlap is not None:
            raise Conflict(
                _(
                    "%(name)s is already dispatched to %(to)s from %(start)s to %(end)s; "
                    "the dates overlap."
                )
                % {
                    "name": staff,
                    "to": overlap.to_institution,
                    "start": overlap.start,
                    "end": overlap.end,
                },
                field="start",
            )
        dispatch = Dispatch.objects.create(
            staff=staff,
            kind=kind,
            from_institution=from_institution,
            to_institution=to_institution,
            start=start,
            end=end,
            days_per_week=days_per_week,
            min_hours_per_day=min_hours,
            note=note[:200],
            created_by=actor,
        )
        audit.log(audit.Action.CREATE, actor=actor, obj=dispatch, institution=to_institution)
    return dispatch


def end_dispatch(*, actor, dispatch: Dispatch, last_day: dt.date, reason: str) -> Dispatch:
    """End a dispatch before its planned end (recalled, ill, replaced): ``last_day`` becomes
    its end and the planned end is kept. Allowed whatever the rule — the compliance view then
    reports the dispatch as too short (OUT-05/06/07) with the reason given."""
    _require(actor, Perm.PLAN_OUTREACH)
    if not actor.is_superuser and not (
        _in_scope(actor, dispatch.from_institution) or _in_scope(actor, dispatch.to_institution)
    ):
        raise PermissionDenied(_("Both institutions are outside your area."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why the dispatch ends early."), field="reason")
    if not dispatch.start <= last_day < dispatch.end:
        raise ValidationError(
            _("The last day must be from %(start)s and before the planned end %(end)s.")
            % {"start": dispatch.start, "end": dispatch.end},
            field="last_day",
        )
    with transaction.atomic():
        dispatch = Dispatch.objects.select_for_update().get(pk=dispatch.pk)
        later = dispatch.check_ins.filter(date__gt=last_day).order_by("date").first()
        if later is not None:
            raise ValidationError(
                _("There is a check-in on %(day)s, after that last day.") % {"day": later.date},
                field="last_day",
            )
        old_end = dispatch.end
        dispatch.planned_end = dispatch.planned_end or old_end
        dispatch.end = last_day
        dispatch.end_reason = reason[:200]
        dispatch.save(update_fields=["planned_end", "end", "end_reason"])
        audit.log(
            audit.Action.UPDATE,
            actor=actor,
            obj=dispatch,
            institution=dispatch.to_institution,
            detail={"ended_early": last_day.isoformat(), "planned_end": old_end.isoformat()},
        )
    return dispatch


def _in_scope(user, institution: Institution) -> bool:
    from countycare.organizations.selectors import visible_institutions

    return visible_institutions(user).filter(pk=institution.pk).exists()


def can_check_in(user, dispatch: Dispatch) -> bool:
    if user.is_superuser or dispatch.staff_id == user.pk:
        return True
    return (_perm(user, Perm.PLAN_OUTREACH) or _perm(user, Perm.RECORD_OUTREACH)) and scoped(
        user, Dispatch
    ).filter(pk=dispatch.pk).exists()


def check_in(
    *,
    actor,
    dispatch: Dispatch,
    date: dt.date,
    arrived_at: dt.datetime,
    left_at: dt.datetime | None = None,
) -> DispatchCheckIn:
    """Record a dispatched day (attendance). The same day again updates it (idempotent)."""
    if not can_check_in(actor, dispatch):
        raise PermissionDenied(
            _("Only the dispatched doctor or the receiving institution checks in.")
        )
    if not dispatch.start <= date <= dispatch.end:
        raise ValidationError(
            _("%(day)s is outside the dispatch (%(start)s – %(end)s).")
            % {"day": date, "start": dispatch.start, "end": dispatch.end},
            field="date",
        )
    if date > timezone.localdate():
        raise ValidationError(_("A day is checked in on the day, not before."), field="date")
    if timezone.localtime(arrived_at).date() != date:
        raise ValidationError(_("The arrival must be on that day."), field="arrived_at")
    if left_at is not None and left_at <= arrived_at:
        raise ValidationError(_("The departure must be after the arrival."), field="left_at")
    absence = absence_on(dispatch.staff_id, date)
    if absence is not None:
        raise ValidationError(
            _("%(name)s is on leave on %(day)s (%(reason)s).")
            % {"name": dispatch.staff, "day": date, "reason": absence.reason or _("absence")},
            field="date",
        )
    with transaction.atomic():
        row, created = DispatchCheckIn.objects.update_or_create(
            dispatch=dispatch,
            date=date,
            defaults={"arrived_at": arrived_at, "left_at": left_at, "recorded_by": actor},
        )
        audit.log(
            audit.Action.CREATE if created else audit.Action.UPDATE,
            actor=actor,
            obj=row,
            institution=dispatch.to_institution,
        )
    return row
