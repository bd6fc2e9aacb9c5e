"""Encounters on the resident's timeline: where and when he was seen, in or out of the
county (result recognition across the medical community starts from knowing the visit)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.clinical import selectors
from countycare.core import timeline


@timeline.register
def encounter_events(resident, user):
    for e in selectors.resident_encounters(user, resident)[:100]:
        where = e.institution.name if e.institution_id else e.provider
        title = (
            _("%(kind)s at %(where)s")
            if e.institution_id
            else _("%(kind)s outside the county: %(where)s")
        ) % {"kind": e.get_kind_display(), "where": where}
        detail = _("TCM/Mongolian-medicine service") if e.tcm else ""
        yield timeline.TimelineEntry(
            at=timezone.make_aware(dt.datetime.combine(e.date, dt.time(12))),
            kind="encounter",
            title=title,
            detail=detail,
        )
