"""Home-page widgets of the resident registry (core.home).

- ``residents.overview``: for roles that see records — residents in scope per key population,
  a quick search box and the registration button.
- ``residents.by_township``: for roles with ``view_aggregates`` — residents per township (one
  aggregate query). Roles that see records count their scope; the health-commission viewer
  (and the system admin), who see no rows at all, count the whole county: aggregates only,
  never a resident row.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Case, Count, F, Q, QuerySet, When
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from countycare.core import home
from countycare.core.scoping import scope_for
from countycare.organizations.models import Institution, InstitutionType
from countycare.organizations.roles import Perm
from countycare.organizations.selectors import residence_choices
from countycare.residents import selectors
from countycare.residents.models import KeyPopulation, KeyPopulationTag, Resident

# Columns of the per-township table besides the total: the two derived groups and the two
# most common declared ones.
TOWNSHIP_COLUMNS = (
    KeyPopulation.ELDERLY,
    KeyPopulation.CHILD,
    KeyPopulation.HYPERTENSION,
    KeyPopulation.TYPE2_DIABETES,
)


@home.widget("residents.overview", template="residents/home_overview.html",
             perm=f"countycare.{Perm.VIEW_RESIDENT}", order=10, width="full")  # fmt: skip
def overview(request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    scope = scope_for(user)
    # A role held where no one lives (a reader at the lead hospital) has nothing to count.
    if not (scope.county_wide or residence_choices(user).exists()):
        return None
    counts = selectors.key_population_counts(user)
    search = reverse("residents:search")
    tiles = [
        {
            "key": key.value,
            "label": key.label,
            "count": counts.get(key.value, 0),
            "url": f"{search}?{urlencode({'key_population': key.value})}",
        }
        for key in KeyPopulation
    ]
    return {
        "total": counts["total"],
        "tiles": tiles,
        "can_register": user.has_perm(f"countycare.{Perm.REGISTER_RESIDENT}"),
    }


def _aggregate_base(user) -> QuerySet[Resident]:
    """Residents the figures are computed over: the scope, or for a role that sees no rows
    but holds ``view_aggregates``, the whole county (the rows never leave this function:
    only counts do)."""
    if scope_for(user).is_empty:
        return Resident.objects.all()
    return selectors.residents_for(user)


def counts_by_township(base: QuerySet[Resident]) -> list[dict[str, Any]]:
    """Living residents per township (the village's parent; a resident registered at a
    community health center counts for that center), with the key-population columns, in
    one grouped query."""
    today = timezone.localdate()
    township = Case(
        When(
            home_village__type__in=(
                InstitutionType.TOWNSHIP_HEALTH_CENTER,
                InstitutionType.COMMUNITY_HEALTH_CENTER,
            ),
            then=F("home_village_id"),
        ),
        default=F("home_village__parent_id"),
    )
    columns: dict[str, Any] = {"total": Count("pk")}
    for key in TOWNSHIP_COLUMNS:
        columns[key.value] = Count("pk", filter=_population_q(key, today))
    rows = list(
        base.filter(deceased_on__isnull=True)
        .annotate(township=township)
        .values("township")
        .annotate(**columns)
        .order_by()
    )
    names = {
        pk: (area or name, short or name)
        for pk, name, short, area in Institution.objects.filter(
            pk__in=[r["township"] for r in rows]
        ).values_list("pk", "name", "short_name", "area_name")
    }
    for row in rows:
        row["name"], row["center"] = names.get(row["township"], ("—", ""))
    rows.sort(key=lambda r: r["name"])
    return rows


def population_counts(base: QuerySet[Resident]) -> dict[str, int]:
    """Living residents of ``base`` per key population, in one query."""
    today = timezone.localdate()
    columns: dict[str, Any] = {"total": Count("pk")}
    for key in KeyPopulation:
        columns[key.value] = Count("pk", filter=_population_q(key, today))
    return base.filter(deceased_on__isnull=True).aggregate(**columns)


def _population_q(key: KeyPopulation, today) -> Q:
    if key in (KeyPopulation.ELDERLY, KeyPopulation.CHILD):
        return selectors.derived_population_q(key, today)
    return Q(pk__in=KeyPopulationTag.objects.current(today).filter(tag=key).values("resident_id"))


@home.widget("residents.by_township", template="residents/home_by_township.html",
             perm=f"countycare.{Perm.VIEW_AGGREGATES}", order=30, width="full")  # fmt: skip
def by_township(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    scope = scope_for(user)
    base = _aggregate_base(user)
    rows = counts_by_township(base)
    tiles = []
    if scope.is_empty:
        # No overview widget for a role without rows: the county's key populations here.
        counts = population_counts(base)
        tiles = [{"label": k.label, "count": counts[k.value]} for k in KeyPopulation]
    keys = [k.value for k in TOWNSHIP_COLUMNS]
    for row in rows:
        row["cells"] = [row[k] for k in keys]
    return {
        "rows": rows,
        "total": sum(r["total"] for r in rows),
        "total_cells": [sum(r[k] for r in rows) for k in keys],
        "columns": [{"key": k.value, "label": k.label} for k in TOWNSHIP_COLUMNS],
        "county_wide": scope.is_empty or scope.county_wide,
        "tiles": tiles,
    }


home.nav_item("residents.search", url="residents:search", label=_("Residents"),
              perm="countycare.view_resident", order=10, active=("residents:",))  # fmt: skip
home.nav_item("residents.register", url="residents:register", label=_("Register resident"),
              perm="countycare.register_resident", order=11)  # fmt: skip
