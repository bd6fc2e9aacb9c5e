"""The Walking Hospital on the resident's timeline: visits, exam orders and their reports,
critical values (result recognition: whoever may see the resident sees the signed report)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from countycare.core import timeline
from countycare.core.scoping import scoped
from countycare.telemed.models import CriticalAlert, ExamOrder, OrderStatus, Visit


@timeline.register
def telemed_events(resident, user):
    for visit in scoped(user, Visit).filter(resident=resident).select_related("institution")[:50]:
        shown = ", ".join(str(o) for o in visit.observations.all()[:6])
        yield timeline.TimelineEntry(
            at=visit.visited_at,
            kind="visit",
            title=_("Walking Hospital visit at %(place)s") % {"place": visit.institution},
            detail=shown,
            url=reverse("telemed:visit", args=[visit.pk]),
        )
    orders = scoped(user, ExamOrder).filter(resident=resident).select_related("service", "center")
    for order in orders[:100]:
        if order.status in (OrderStatus.SIGNED, OrderStatus.ACKNOWLEDGED):
            title = _("Report signed: %(service)s") % {"service": order.service}
            at = order.signed_at or order.created_at
        else:
            title = _("Exam order: %(service)s (%(status)s)") % {
                "service": order.service,
                "status": order.get_status_display(),
            }
            at = order.created_at
        yield timeline.TimelineEntry(
            at=at,
            kind="exam_order",
            title=title,
            detail=str(order.center),
            url=reverse("telemed:order", args=[order.pk]),
        )
    for alert in scoped(user, CriticalAlert).filter(resident=resident)[:50]:
        yield timeline.TimelineEntry(
            at=alert.raised_at,
            kind="critical_value",
            title=_("Critical value: %(message)s") % {"message": alert.message},
            detail=alert.value_shown,
        )
