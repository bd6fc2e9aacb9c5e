"""Reads of the Walking Hospital, all scoped (core.scoping)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from countycare.core.scoping import scoped
from countycare.organizations import policy
from countycare.telemed import policy as telemed_policy
from countycare.telemed.models import (
    QUEUE_STATES,
    AlertStatus,
    CriticalAlert,
    ExamOrder,
    OrderStatus,
    Report,
    ReportStatus,
    SharedCenter,
)
from countycare.telemed.services import READING_ORDER


def reader_centers(user) -> QuerySet[SharedCenter]:
    if user.is_superuser:
        return SharedCenter.objects.filter(is_active=True)
    return SharedCenter.objects.filter(readers=user, is_active=True)


def worklist(user, center: SharedCenter | int, *, status: str | None = None) -> QuerySet:
    """A center's queue in reading order: priority, triage score, waiting time (oldest
    first). Orders held by a reader stay listed (with who holds them and until when)."""
    qs = scoped(user, ExamOrder).filter(
        center=center, status__in=[status] if status else QUEUE_STATES
    )
    return qs.select_related(
        "resident", "service", "requesting_institution", "claimed_by", "requested_by"
    ).order_by(*READING_ORDER)


def sla_minutes(order: ExamOrder) -> int:
    targets = policy.value(telemed_policy.TAT_TARGET_MINUTES) or {}
    by_priority = targets.get(order.center.kind) or {}
    return int(by_priority.get(order.priority, by_priority.get("routine", 120)))


def sla_due(order: ExamOrder) -> dt.datetime | None:
    if order.submitted_at is None:
        return None
    return order.submitted_at + dt.timedelta(minutes=sla_minutes(order))


def requested_orders(user, *, status: str | None = None) -> QuerySet:
    """Orders the user's institutions sent (the village side)."""
    qs = scoped(user, ExamOrder).select_related(
        "resident", "service", "center", "claimed_by", "requesting_institution"
    )
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-pk")


def awaiting_acknowledgement(user) -> QuerySet:
    return requested_orders(user, status=OrderStatus.SIGNED).filter(requested_by=user)


def current_report(order: ExamOrder) -> Report | None:
    """The signed version in force (the highest), else the preliminary draft."""
    signed = order.reports.filter(status=ReportStatus.SIGNED).order_by("-version").first()
    return signed or order.reports.order_by("-version").first()


def open_alerts(user) -> QuerySet:
    """Alerts to act on: the user's own open ones and, for the township and above, those of
    their area that are overdue (escalated, or open longer than the policy allows — so
    escalation shows even where no periodic worker runs)."""
    minutes = int(policy.value(telemed_policy.CRITICAL_ESCALATE_MINUTES))
    cutoff = timezone.now() - dt.timedelta(minutes=minutes)
    qs = scoped(user, CriticalAlert).exclude(status=AlertStatus.ACKNOWLEDGED)
    return (
        qs.filter(Q(notify=user) | Q(status=AlertStatus.ESCALATED) | Q(raised_at__lt=cutoff))
        .select_related("resident", "order", "notify", "institution")
        .order_by("raised_at")
    )


def report_context(report: Report) -> dict:
    order = report.order
    return {
        "report": report,
        "order": order,
        "resident": order.resident,
        "service": order.service,
        "center": order.center,
        "hospital": order.center.institution,
        "template_fields": [
            {"label": f.get("label", f.get("key")), "value": (report.findings or {}).get(f.get("key"), ""),
             "unit": f.get("unit", "")}
            for f in (order.service.report_template or [])
            if isinstance(f, dict) and (report.findings or {}).get(f.get("key"))
        ],
        "observations": list(order.observations.order_by("code")),
        "visit_observations": list(order.visit.observations.order_by("code")) if order.visit_id else [],
    }  # fmt: skip
