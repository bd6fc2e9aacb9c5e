"""Circuit team members see the residents of the places their team visits in the coming
days, so a county specialist gets the key-population list of a village before the team
leaves (issue 8), without a role at that village."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from countycare.core.scoping import register_rule
from countycare.residents.models import Resident

LOOK_AHEAD_DAYS = 7


def _visited_villages(user):
    from countycare.outreach.models import CircuitVisit, ServicePoint, VisitStatus

    today = timezone.localdate()
    visits = CircuitVisit.objects.filter(
        team__members__staff=user,
        team__is_active=True,
        date__gte=today,
        date__lte=today + dt.timedelta(days=LOOK_AHEAD_DAYS),
    ).exclude(status=VisitStatus.CANCELLED)
    places = visits.values("place_id")
    hosts = ServicePoint.objects.filter(institution_id__in=places).values("village_id")
    return Q(home_village_id__in=places) | Q(home_village_id__in=hosts)


def _resident_rule(user, scope) -> Q:
    if not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    return _visited_villages(user)


register_rule(Resident, _resident_rule)


def _own_dispatch(prefix: str = ""):
    def rule(user, scope) -> Q:
        if not getattr(user, "is_authenticated", False):
            return Q(pk__in=[])
        return Q(**{f"{prefix}staff_id": user.pk})

    return rule


def _register_outreach_rules() -> None:
    from countycare.outreach.models import Dispatch, DispatchCheckIn

    # A dispatched doctor sees his own dispatches and check-ins wherever they are.
    register_rule(Dispatch, _own_dispatch())
    register_rule(DispatchCheckIn, _own_dispatch("dispatch__"))


_register_outreach_rules()
