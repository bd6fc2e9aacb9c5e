"""Contracts, follow-ups and health checks on the resident's timeline (issue 7)."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import timeline
from countycare.core.scoping import scoped
from countycare.familydoctor.models import Contract, FollowUp, HealthCheck


def _at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


@timeline.register
def family_doctor_events(resident, user):
    for c in scoped(user, Contract).filter(resident=resident).select_related("team")[:20]:
        yield timeline.TimelineEntry(
            at=c.signed_at,
            kind="contract",
            title=_("Family-doctor contract with %(team)s (%(status)s)")
            % {"team": c.team, "status": c.get_status_display()},
            detail=f"{c.start_on:%Y-%m-%d} – {c.end_on:%Y-%m-%d}",
            url=reverse("familydoctor:contract", args=[c.pk]),
        )
    for f in scoped(user, FollowUp).filter(resident=resident)[:100]:
        detail = f.get_classification_display()
        if f.systolic_bp:
            detail = f"{detail} · {f.systolic_bp}/{f.diastolic_bp} mmHg"
        if f.fasting_glucose is not None:
            detail = f"{detail} · {f.fasting_glucose} mmol/L"
        yield timeline.TimelineEntry(
            at=_at(f.followed_on),
            kind="follow_up",
            title=_("%(program)s follow-up (%(method)s)")
            % {"program": f.get_program_display(), "method": f.get_method_display()},
            detail=str(detail),
            url=reverse("familydoctor:follow-up", args=[f.pk]),
        )
    for h in scoped(user, HealthCheck).filter(resident=resident)[:20]:
        yield timeline.TimelineEntry(
            at=_at(h.checked_on),
            kind="health_check",
            title=str(h.get_kind_display()),
            detail=_("Abnormal findings") if h.abnormal else "",
            url=reverse("familydoctor:health-check", args=[h.pk]),
        )
