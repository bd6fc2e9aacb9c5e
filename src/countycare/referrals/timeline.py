"""Referrals on the resident's timeline: each referral, and the care plan of a downward
referral once the receiving institution took the patient over (REF-01)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from countycare.core import timeline
from countycare.core.scoping import scoped
from countycare.referrals.models import Direction, Referral, ReferralStatus


@timeline.register
def referral_events(resident, user):
    qs = (
        scoped(user, Referral)
        .filter(resident=resident)
        .select_related("to_institution", "to_department", "care_plan")
        .order_by("-requested_at")[:100]
    )
    for referral in qs:
        if referral.direction == Direction.UP:
            title = _("Upward referral to %(to)s (%(status)s)")
        elif referral.direction == Direction.DOWN:
            title = _("Downward referral to %(to)s (%(status)s)")
        else:
            title = _("Out-of-county referral to %(to)s (%(status)s)")
        url = reverse("referrals:detail", args=[referral.pk])
        yield timeline.TimelineEntry(
            at=referral.requested_at,
            kind="referral",
            title=title
            % {"to": referral.destination_name, "status": referral.get_status_display()},
            detail=f"{referral.diagnosis_code} {referral.diagnosis_name}",
            url=url,
        )
        plan = getattr(referral, "care_plan", None)
        if (
            referral.direction == Direction.DOWN
            and plan is not None
            and referral.status in (ReferralStatus.ACCEPTED, ReferralStatus.ARRIVED)
        ):
            items = "、".join(i.get("item", "") for i in plan.follow_up_items)
            medicines = "、".join(m.get("name", "") for m in plan.medicines)
            yield timeline.TimelineEntry(
                at=referral.answered_at or referral.requested_at,
                kind="care_plan",
                title=_("Care plan after discharge: next review %(day)s")
                % {"day": plan.next_review_on.isoformat()},
                detail="; ".join(x for x in (items, medicines) if x),
                url=url,
            )
