"""Lab results on the resident's timeline (issue 5): one entry per order's results (or per
typed-in device reading), marked when recognized across the community (SHC-01), linking to
the resident's lab results page."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from countycare.core import timeline
from countycare.lab import devices, selectors


@timeline.register
def lab_events(resident, user):
    groups: dict[tuple, list] = {}
    for r in selectors.resident_results(user, resident)[:200]:
        key = (r.order_id, r.message_id, r.taken_at)
        groups.setdefault(key, []).append(r)
    if not groups:
        return
    url = reverse("lab:resident-results", args=[resident.pk])
    for rows in list(groups.values())[:50]:
        first = rows[0]
        abnormal = [str(r.observation) for r in rows if r.observation.flag not in ("", "N")]
        if first.order_id and first.order:
            what = first.order.service.name
        else:
            kit = devices.device(first.device)
            what = str(kit.label) if kit else first.name
        title = (
            _("Lab results (recognized): %(what)s")
            if first.recognized
            else _("Lab results: %(what)s")
        ) % {"what": what}
        detail = (
            _("Abnormal: %(list)s") % {"list": ", ".join(abnormal[:4])}
            if abnormal
            else _("%(n)d results, all within range") % {"n": len(rows)}
        )
        yield timeline.TimelineEntry(
            at=first.taken_at, kind="lab_result", title=title, detail=detail, url=url
        )
