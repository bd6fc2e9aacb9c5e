"""Reads of two-way referral and appointments. Rows of residents go through ``scoped()``;
the indicator figures (:func:`figures`) are counts over an institution subtree and a period,
never rows, for the indicators app (KPI-01, KPI-02).

For other apps:

* :func:`care_plans_for_family_doctor` — the downward referrals' care plans a family doctor
  (or the receiving institution's team) follows up, for the familydoctor app's lists.
* :func:`figures` — up/down/out counts, the lead hospital's downward-referral share and the
  out-of-county share over a subtree and period, for the indicators app.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from countycare.core.scoping import scoped
from countycare.organizations import policy
from countycare.organizations.models import Institution
from countycare.organizations.selectors import active_roles
from countycare.referrals import policy as referral_policy
from countycare.referrals.models import (
    Appointment,
    AppointmentStatus,
    CarePlan,
    ClinicSession,
    Department,
    Direction,
    Notification,
    Referral,
    ReferralStatus,
    Slot,
)

S = ReferralStatus
D = Direction

# Open: someone still has to act (accept, approve, receive the patient, discharge).
OPEN_Q = Q(status__in=[S.REQUESTED, S.ACCEPTED]) | Q(direction=D.UP, status=S.ARRIVED)


def referrals_for(user) -> QuerySet[Referral]:
    return scoped(user, Referral).select_related(
        "resident", "from_institution", "to_institution", "to_department", "referred_by"
    )


def referral_detail(user, pk: int) -> Referral | None:
    return (
        referrals_for(user)
        .select_related("care_plan", "appointment__slot", "handled_by", "parent")
        .prefetch_related("transitions__actor", "reports__order__service", "observations")
        .filter(pk=pk)
        .first()
    )


# --- result recognition -----------------------------------------------------------------------
@dataclass
class LabPanel:
    """The lab results of one order that travel with a referral, with their recognition
    window (lab policy ``lab_recognition_days``, SHC-01/SHC-02)."""

    name: str
    lab: str
    taken_at: dt.datetime | None
    valid_until: dt.datetime | None
    recognized: bool
    results: list = field(default_factory=list)

    @property
    def still_valid(self) -> bool:
        return bool(self.recognized and self.valid_until and self.valid_until >= timezone.now())


@dataclass
class TravellingResults:
    reports: list
    lab_panels: list[LabPanel]
    observations: list  # the others: vitals from the kit, the critical value

    def __bool__(self) -> bool:
        return bool(self.reports or self.lab_panels or self.observations)


def travelling_results(referral: Referral) -> TravellingResults:
    """What travels with a referral (result recognition, SHC-01): the signed reports, the lab
    results grouped by order with whether they are still recognized (no need to repeat them)
    and the other results. The referral itself was read through ``scoped()``."""
    from countycare.lab.models import LabResult
    from countycare.lab.selectors import with_validity

    observations = list(referral.observations.all().order_by("observed_at", "pk"))
    lab = {
        r.observation_id: r
        for r in with_validity(
            LabResult.objects.filter(observation__in=[o.pk for o in observations])
        ).select_related("order__service", "order__center__institution")
    }
    panels: dict[Any, LabPanel] = {}
    others = []
    for obs in observations:
        result = lab.get(obs.pk)
        if result is None:
            others.append(obs)
            continue
        order = result.order
        key = result.order_id or f"sender:{result.sender}:{result.taken_at}"
        panel = panels.get(key)
        if panel is None:
            panel = panels[key] = LabPanel(
                name=order.service.name if order else result.name,
                lab=str(order.center.institution) if order else result.sender,
                taken_at=result.taken_at,
                valid_until=result.valid_until,
                recognized=True,
            )
        panel.recognized = panel.recognized and result.recognized
        if result.valid_until and (
            panel.valid_until is None or result.valid_until < panel.valid_until
        ):
            panel.valid_until = result.valid_until
        panel.results.append(obs)
    return TravellingResults(
        reports=list(referral.reports.select_related("order__service").order_by("signed_at")),
        lab_panels=list(panels.values()),
        observations=others,
    )


# --- overdue ----------------------------------------------------------------------------------
def answer_due(referral: Referral) -> dt.datetime | None:
    """When the receiving side should have answered (policy timeouts, REF-02)."""
    if referral.status != S.REQUESTED:
        return None
    hours = policy.value(referral_policy.ANSWER_TIMEOUT_HOURS) or {}
    limit = hours.get(referral.direction)
    if isinstance(limit, dict):
        limit = limit.get(referral.urgency, limit.get("routine"))
    if limit is None:
        return None
    return referral.requested_at + dt.timedelta(hours=float(limit))


def arrival_due(referral: Referral) -> dt.datetime | None:
    """An accepted upward referral: the appointment time or admission day plus the grace."""
    if referral.direction != D.UP or referral.status != S.ACCEPTED:
        return None
    hours = float(policy.value(referral_policy.ARRIVAL_TIMEOUT_HOURS))
    if referral.appointment_id and referral.appointment is not None:
        start = referral.appointment.slot.starts_at
    elif referral.admission_on:
        start = timezone.make_aware(dt.datetime.combine(referral.admission_on, dt.time(8)))
    else:
        start = referral.answered_at or referral.requested_at
    return start + dt.timedelta(hours=hours)


def due_at(referral: Referral) -> dt.datetime | None:
    return answer_due(referral) or arrival_due(referral)


def is_overdue(referral: Referral, now: dt.datetime | None = None) -> bool:
    due = due_at(referral)
    return due is not None and (now or timezone.now()) > due


# --- board ------------------------------------------------------------------------------------
@dataclass
class BoardRow:
    referral: Referral
    side: str  # "in" (we receive it) or "out" (we sent it)
    waiting: dt.timedelta
    due: dt.datetime | None
    overdue: bool


def board(user, institution: Institution, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The referral board of an institution's subtree: open referrals it sent and receives,
    by state, with waiting time and the overdue ones first (policy timeouts)."""
    now = now or timezone.now()
    subtree = Institution.objects.subtree(institution).values("pk")
    qs = (
        referrals_for(user)
        .filter(OPEN_Q)
        .filter(Q(to_institution_id__in=subtree) | Q(from_institution_id__in=subtree))
        .select_related("appointment__slot")
    )
    rows: list[BoardRow] = []
    for referral in qs.order_by("requested_at")[:500]:
        incoming = referral.to_institution_id is not None and institution.contains(
            referral.to_institution
        )
        due = due_at(referral)
        rows.append(
            BoardRow(
                referral=referral,
                side="in" if incoming else "out",
                waiting=now - referral.requested_at,
                due=due,
                overdue=due is not None and now > due,
            )
        )
    rows.sort(key=lambda r: (not r.overdue, r.referral.requested_at))
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row.side, row.referral.status)
        counts[key] = counts.get(key, 0) + 1
    return {
        "rows": rows,
        "counts": counts,
        "overdue": sum(1 for r in rows if r.overdue),
        "incoming": [r for r in rows if r.side == "in"],
        "outgoing": [r for r in rows if r.side == "out"],
    }


# --- indicator figures (KPI-01, KPI-02) -------------------------------------------------------
def _period(start: dt.date, end: dt.date) -> Q:
    """Referrals made on days ``start`` … ``end`` (inclusive, county time)."""
    tz = timezone.get_current_timezone()
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return Q(requested_at__gte=lo, requested_at__lt=hi)


COUNTED = ~Q(status__in=[S.CANCELLED, S.DECLINED])


def figures(institution: Institution, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Counts of referrals made in the period by institutions of ``institution``'s subtree
    (cancelled and declined ones are not counted):

    * ``upward`` / ``downward`` / ``out_of_county``: referrals sent from the subtree;
    * ``lead_upward_received`` / ``lead_downward``: upward referrals the subtree's lead
      hospital(s) received and downward referrals they sent;
    * ``lead_downward_share`` (KPI-02, 牵头医院下转患者数量占比): the lead hospital's downward
      referrals over its two-way referrals (upward received + downward sent);
    * ``out_of_county_share``: out-of-county referrals over all referrals sent upward or out
      (what leaves the county of what needs a higher level; KPI-01's in-county visit rate).

    Shares are None when the denominator is 0. Numerators and denominators are returned so
    an indicator can be recomputed or re-aggregated."""
    subtree = Institution.objects.subtree(institution)
    base = Referral.objects.filter(_period(start, end)).filter(COUNTED)
    sent = base.filter(from_institution__in=subtree.values("pk"))
    by_direction = dict(
        sent.values_list("direction").annotate(n=Count("pk")).values_list("direction", "n")
    )
    leads = subtree.filter(is_lead_hospital=True).values("pk")
    lead_up = base.filter(direction=D.UP, to_institution__in=leads).count()
    lead_down = base.filter(direction=D.DOWN, from_institution__in=leads).count()
    up = by_direction.get(D.UP, 0)
    out = by_direction.get(D.OUT, 0)
    return {
        "institution": institution.pk,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "upward": up,
        "downward": by_direction.get(D.DOWN, 0),
        "out_of_county": out,
        "lead_upward_received": lead_up,
        "lead_downward": lead_down,
        "lead_downward_share": (lead_down / (lead_up + lead_down)) if lead_up + lead_down else None,
        "out_of_county_share": (out / (up + out)) if up + out else None,
    }


def downward_referral_share(institution: Institution, start: dt.date, end: dt.date):
    """KPI-02: the lead hospital's share of downward referrals (see :func:`figures`)."""
    return figures(institution, start, end)["lead_downward_share"]


def out_of_county_share(institution: Institution, start: dt.date, end: dt.date):
    return figures(institution, start, end)["out_of_county_share"]


# --- for the family-doctor app ----------------------------------------------------------------
def care_plans_for_family_doctor(
    user, *, due_before: dt.date | None = None, include_pending: bool = False
) -> QuerySet[CarePlan]:
    """The care plans of downward referrals the user follows up: the user's own (named as the
    family doctor) and those of the institutions in the user's scope, once the receiving
    institution accepted (``include_pending``: also those still to accept). Ordered by the
    next review date; ``due_before`` keeps the reviews due by that day."""
    states = [S.ACCEPTED, S.ARRIVED] + ([S.REQUESTED] if include_pending else [])
    referrals = scoped(user, Referral).filter(direction=D.DOWN, status__in=states)
    qs = CarePlan.objects.filter(referral__in=referrals.values("pk")).select_related(
        "referral", "referral__resident", "referral__from_institution",
        "referral__to_institution", "family_doctor",
    )  # fmt: skip
    if due_before is not None:
        qs = qs.filter(next_review_on__lte=due_before)
    return qs.order_by("next_review_on", "pk")


# --- notifications ----------------------------------------------------------------------------
def notifications_for(user) -> QuerySet[Notification]:
    """Hand-over messages to the user or to an institution where the user holds a role."""
    ids = [inst for _role, inst, _path in active_roles(user)]
    return Notification.objects.filter(Q(recipient=user) | Q(institution_id__in=ids))


def unread_notifications(user) -> QuerySet[Notification]:
    return (
        notifications_for(user)
        .filter(read_at__isnull=True)
        .select_related("referral", "referral__resident")
        .order_by("-created_at", "-pk")
    )


# --- appointments -----------------------------------------------------------------------------
def departments(*, taking_referrals: bool = True) -> QuerySet[Department]:
    qs = Department.objects.filter(is_active=True).select_related("institution")
    if taking_referrals:
        qs = qs.filter(takes_referrals=True)
    return qs.order_by("institution__path", "name")


def free_slots(
    department, *, start: dt.datetime | None = None, days: int = 14, limit: int = 500
) -> QuerySet[Slot]:
    """Slots of a department not held by an appointment, from ``start`` for ``days``."""
    start = start or timezone.now()
    held = Appointment.objects.filter(
        status__in=[AppointmentStatus.BOOKED, AppointmentStatus.ATTENDED, AppointmentStatus.NO_SHOW]
    ).values("slot_id")
    return (
        Slot.objects.filter(
            session__department=department,
            session__is_cancelled=False,
            starts_at__gt=start,
            starts_at__lt=start + dt.timedelta(days=days),
        )
        .exclude(pk__in=held)
        .select_related("session", "session__doctor")
        .order_by("starts_at")[:limit]
    )


def sessions(department, *, start: dt.date, days: int = 14) -> QuerySet[ClinicSession]:
    tz = timezone.get_current_timezone()
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    return (
        ClinicSession.objects.filter(
            department=department, starts_at__gte=lo, starts_at__lt=lo + dt.timedelta(days=days)
        )
        .select_related("doctor")
        .annotate(
            total=Count("slots", distinct=True),
            booked=Count(
                "slots__appointments",
                filter=Q(slots__appointments__status__in=["booked", "attended", "no_show"]),
                distinct=True,
            ),
        )
        .order_by("starts_at")
    )


def appointments_for(user) -> QuerySet[Appointment]:
    return scoped(user, Appointment).select_related(
        "resident", "slot", "slot__session", "slot__session__department",
        "slot__session__department__institution", "booked_by",
    )  # fmt: skip


def scheduled_departments(user) -> list[Department]:
    """The departments whose clinic sessions the user publishes (MANAGE_SCHEDULES through a
    role at the hospital or above it)."""
    from countycare.organizations.roles import ROLE_PERMISSIONS, Perm

    paths = [
        path
        for role, _inst, path in active_roles(user)
        if Perm.MANAGE_SCHEDULES in ROLE_PERMISSIONS.get(role, frozenset())
    ]
    if not paths and not user.is_superuser:
        return []
    return [
        d
        for d in departments(taking_referrals=False)
        if user.is_superuser or any(d.institution.path.startswith(p) for p in paths)
    ]


def hospital_doctors(institution: Institution) -> QuerySet:
    """Staff who receive referrals at the hospital (its specialists): who may sit a session."""
    from countycare.organizations.models import RoleAssignment, Staff

    ids = (
        RoleAssignment.objects.active()
        .filter(institution=institution, role="specialist")
        .values("staff_id")
    )
    return Staff.objects.filter(pk__in=ids, is_active=True).order_by("full_name", "pk")
