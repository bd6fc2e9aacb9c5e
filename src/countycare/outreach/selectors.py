"""Reads of outreach, all scoped (core.scoping)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from countycare.core import audit
from countycare.core.scoping import scope_for, scoped
from countycare.organizations.models import Institution
from countycare.organizations.roles import Perm
from countycare.organizations.selectors import primary_institution
from countycare.outreach.models import (
    CircuitTeam,
    CircuitVisit,
    Dispatch,
    ServicePoint,
    SitingRun,
    VisitStatus,
)
from countycare.residents.models import DECLARED_KEY_POPULATIONS, KeyPopulation, Resident
from countycare.residents.selectors import key_population_q, key_populations_of


def can_plan(user) -> bool:
    return user.has_perm(f"countycare.{Perm.PLAN_OUTREACH}")


def can_view_reports(user) -> bool:
    return can_plan(user) or user.has_perm(f"countycare.{Perm.VIEW_AGGREGATES}")


def area_root(user) -> Institution | None:
    """The subtree a user's outreach reports cover: None (the county) for county-wide roles
    and aggregate viewers, else the institution where the user works."""
    if user.is_superuser or scope_for(user).county_wide:
        return None
    if user.has_perm(f"countycare.{Perm.VIEW_AGGREGATES}") and scope_for(user).is_empty:
        return None
    return primary_institution(user)


def siting_runs(user) -> QuerySet[SitingRun]:
    if not can_plan(user):
        return SitingRun.objects.none()
    return SitingRun.objects.select_related("created_by").order_by("-created_at", "-pk")


def teams(user) -> QuerySet[CircuitTeam]:
    qs = scoped(user, CircuitTeam) | CircuitTeam.objects.filter(members__staff=user)
    return qs.distinct().select_related("home").order_by("home__path", "name")


def visits(user) -> QuerySet[CircuitVisit]:
    """Visits the user may see: in scope, or of a team the user belongs to."""
    qs = scoped(user, CircuitVisit) | CircuitVisit.objects.filter(team__members__staff=user)
    return qs.distinct().select_related("team", "place", "team__home")


def my_visits(user, *, days_back: int = 14, days_ahead: int = 14) -> QuerySet[CircuitVisit]:
    today = timezone.localdate()
    qs = visits(user).filter(
        date__gte=today - dt.timedelta(days=days_back),
        date__lte=today + dt.timedelta(days=days_ahead),
    )
    if not can_plan(user):
        qs = qs.filter(team__members__staff=user)
    return qs.exclude(status=VisitStatus.CANCELLED).order_by("date", "team", "crew", "stop_order")


def dispatches(user) -> QuerySet[Dispatch]:
    qs = scoped(user, Dispatch) | Dispatch.objects.filter(staff=user)
    return qs.distinct().select_related("staff", "from_institution", "to_institution")


def current_points(root: Institution | None = None) -> QuerySet[ServicePoint]:
    qs = ServicePoint.objects.filter(retired_on__isnull=True).select_related(
        "institution", "village"
    )
    if root is not None:
        qs = qs.filter(village__path__startswith=root.path)
    return qs


def visit_villages(visit: CircuitVisit) -> list[Institution]:
    """Where the residents of a visit's place live: the place itself, or a service point's
    host village."""
    point = ServicePoint.objects.filter(institution=visit.place).select_related("village").first()
    return [point.village] if point else [visit.place]


def key_population_list(user, visit: CircuitVisit) -> list[dict]:
    """The key-population residents of the visit's village, for the team before it leaves
    (001 §12: elderly, left-behind children, poverty-return monitored, disabled, severe
    mental disorder …). Scoped; the read is audited once per list."""
    villages = visit_villages(visit)
    condition = Q()
    for key in (KeyPopulation.ELDERLY, KeyPopulation.CHILD, *DECLARED_KEY_POPULATIONS):
        condition |= key_population_q(key)
    residents = (
        scoped(user, Resident)
        .filter(home_village__in=villages)
        .filter(condition)
        .order_by("name")[:300]
    )
    rows = [{"resident": r, "populations": key_populations_of(r)} for r in residents]
    audit.log(
        audit.Action.SEARCH,
        actor=user,
        obj=visit,
        institution=visit.place,
        detail={"key_population_list": len(rows)},
    )
    return rows


def telemed_visits(user, visit: CircuitVisit) -> list[dict]:
    """Walking Hospital visits made on the circuit visit (linked when created, see
    services.link_encounter_on_save), with their vitals and exam orders; scoped to what the
    user may see of residents' records."""
    from countycare.telemed.models import ExamOrder, Visit

    linked = Visit.objects.filter(circuit_encounter__circuit_visit=visit)
    rows = []
    items = (
        scoped(user, Visit)
        .filter(pk__in=linked.values("pk"))
        .select_related("resident", "performed_by")
        .prefetch_related("observations")
        .order_by("visited_at", "pk")
    )
    orders = scoped(user, ExamOrder).filter(visit__in=linked).select_related("service")
    by_visit: dict[int, list] = {}
    for order in orders:
        by_visit.setdefault(order.visit_id, []).append(order)
    for item in items:
        rows.append(
            {
                "visit": item,
                "observations": len(item.observations.all()),
                "orders": by_visit.get(item.pk, []),
            }
        )
    if rows:  # residents' names and examinations: the read is audited
        audit.log(
            audit.Action.SEARCH,
            actor=user,
            obj=visit,
            institution=visit.place,
            detail={"circuit_encounters": [r["visit"].pk for r in rows]},
        )
    return rows
