"""The foundation's timeline entries: registration and key-population tags."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import timeline
from countycare.core.scoping import scoped
from countycare.residents.models import KeyPopulationTag


def _at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


@timeline.register
def resident_events(resident, user):
    yield timeline.TimelineEntry(
        at=resident.registered_at,
        kind="registration",
        title=_("Registered in the resident registry"),
        detail=str(resident.home_village),
    )
    for tag in scoped(user, KeyPopulationTag).filter(resident=resident):
        yield timeline.TimelineEntry(
            at=_at(tag.recorded_on),
            kind="tag",
            title=_("Key population recorded: %(tag)s") % {"tag": tag.get_tag_display()},
            detail=tag.source,
        )
        if tag.ended_on:
            yield timeline.TimelineEntry(
                at=_at(tag.ended_on),
                kind="tag_ended",
                title=_("Key population ended: %(tag)s") % {"tag": tag.get_tag_display()},
                detail=tag.end_reason,
            )
