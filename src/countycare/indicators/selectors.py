"""Reads of the indicators app: who sees which institutions' figures, drill-down children,
the rows behind a number.

Aggregates (VIEW_AGGREGATES: health commission, public-health officers, institution and
community admins; the superuser) for the subtrees where the role is held; county-wide roles
and the superuser for the whole county. The rows behind a number are resident or clinical
records only through ``scoped()`` and only for roles that see records — the health-commission
viewer sees aggregates, never a resident row."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from countycare.core.scoping import scope_for, scoped
from countycare.organizations.models import Institution, InstitutionType
from countycare.organizations.roles import ROLE_PERMISSIONS, Perm, Role
from countycare.organizations.selectors import active_roles

T = InstitutionType
DRILL_TOWNSHIPS = (T.TOWNSHIP_HEALTH_CENTER, T.COMMUNITY_HEALTH_CENTER)


def _aggregate_paths(user) -> list[str]:
    return [
        path
        for role, _inst, path in active_roles(user)
        if Perm.VIEW_AGGREGATES in ROLE_PERMISSIONS.get(role, frozenset())
        or role == Role.INSTITUTION_ADMIN
    ]


def roots(user) -> list[Institution]:
    """The institutions whose subtrees' figures ``user`` may see (topmost first)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    if user.is_superuser or scope_for(user).county_wide:
        return list(Institution.objects.active().filter(parent__isnull=True).order_by("path"))
    paths: list[str] = []
    for path in sorted(set(_aggregate_paths(user)), key=len):
        if not any(path.startswith(p) for p in paths):
            paths.append(path)
    return list(Institution.objects.active().filter(path__in=paths).order_by("path"))


def can_view(user) -> bool:
    return bool(roots(user))


def institution_for(user, code: str | None) -> Institution:
    """The institution asked for (by code; none: the user's first root) if the user may see
    its figures; else 404 (an existing institution outside the scope looks like none)."""
    visible = roots(user)
    if not visible:
        raise Http404
    if not code:
        return visible[0]
    institution = Institution.objects.filter(code=code.strip()).first()
    if institution is None or not any(institution.path.startswith(r.path) for r in visible):
        raise Http404
    return institution


def breadcrumbs(user, institution: Institution) -> list[Institution]:
    visible = roots(user)
    return [a for a in institution.ancestors() if any(a.path.startswith(r.path) for r in visible)]


def drill_children(institution: Institution) -> list[Institution]:
    """What to rank and drill into below an institution: the county's townships (through the
    medical community), a township's villages; hospitals beside the townships."""
    kids = list(Institution.objects.active().filter(parent=institution).order_by("path"))
    while len(kids) == 1 and kids[0].type in (T.MEDICAL_COMMUNITY, T.COUNTY):
        kids = list(Institution.objects.active().filter(parent=kids[0]).order_by("path"))
    # No indicator is computed for these (a CDC holds no visits; points and villages
    # without a clinic are counted in their township's figures).
    skip = (T.CIRCUIT_SERVICE_POINT, T.ELDERLY_CARE_INSTITUTION, T.VILLAGE, T.CDC)
    return [k for k in kids if k.type not in skip]


def townships(root: Institution) -> list[Institution]:
    return list(
        Institution.objects.active()
        .filter(path__startswith=root.path, type__in=DRILL_TOWNSHIPS)
        .order_by("path")
    )


def materialised_institutions() -> list[Institution]:
    """Where closed periods are stored ahead of time: the county, the medical communities,
    the county hospitals and the townships."""
    return list(
        Institution.objects.active()
        .filter(
            Q(parent__isnull=True)
            | Q(type__in=(T.MEDICAL_COMMUNITY, *DRILL_TOWNSHIPS, T.GENERAL_HOSPITAL))
        )
        .order_by("path")
    )


class RowsNotAllowed(Exception):
    """The rows behind this number are records the user's role may not see."""


def may_see_rows(user, model) -> bool:
    """Whether the rows behind a number (of ``model``) are for ``user`` at all."""
    from countycare.indicators.models import ImportedStatistic

    if model is ImportedStatistic:
        return True
    return bool(getattr(model, "scope_paths", None)) and user.has_perm(
        f"countycare.{Perm.VIEW_RESIDENT}"
    )


def rows_for(user, rows: QuerySet) -> QuerySet:
    """The rows behind a number that ``user`` may see: records through scoped() for roles
    that see records; aggregate rows (imported statistics, staff) for aggregate viewers."""
    from countycare.indicators.models import ImportedStatistic

    if rows.model is ImportedStatistic:  # figures per institution and month, no person in them
        return rows
    if not may_see_rows(user, rows.model):  # no scoping rule, or a role without records
        raise RowsNotAllowed
    return scoped(user, rows)
