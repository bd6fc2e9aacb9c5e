"""Reads about institutions and staff, and the scope provider core.scoping calls."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from countycare.core.scoping import Scope
from countycare.organizations.models import Institution, RoleAssignment
from countycare.organizations.roles import COUNTY_WIDE_ROLES, ROLE_PERMISSIONS, ROLES_SEEING_RECORDS

_ROLES_ATTR = "_countycare_roles"


def active_roles(user) -> list[tuple[str, int, str]]:
    """(role, institution id, institution path) for the user's roles in force today; cached on
    the user object for the request."""
    cached = getattr(user, _ROLES_ATTR, None)
    if cached is None:
        cached = list(
            RoleAssignment.objects.active()
            .filter(staff_id=user.pk, institution__is_active=True)
            .values_list("role", "institution_id", "institution__path")
        )
        setattr(user, _ROLES_ATTR, cached)
    return cached


def role_names(user) -> set[str]:
    return {role for role, _, _ in active_roles(user)}


def permissions_of(user) -> set[str]:
    perms: set[str] = set()
    for role in role_names(user):
        perms |= ROLE_PERMISSIONS.get(role, frozenset())
    return perms


def _minimal_roots(paths: list[str]) -> list[str]:
    roots: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path.startswith(r) for r in roots):
            roots.append(path)
    return roots


def scope_of(user) -> Scope:
    """core.scoping's provider: superusers and county-wide roles see everything; other roles
    that see records see the subtrees of the institutions where they hold them."""
    if user.is_superuser:
        return Scope(county_wide=True)
    roles = active_roles(user)
    if any(role in COUNTY_WIDE_ROLES for role, _, _ in roles):
        return Scope(county_wide=True)
    roots = _minimal_roots([path for role, _, path in roles if role in ROLES_SEEING_RECORDS])
    if not roots:
        return Scope()
    condition = Q()
    for root in roots:
        condition |= Q(path__startswith=root)
    return Scope(institution_ids=Institution.objects.filter(condition).values("pk"))


def visible_institutions(user) -> QuerySet[Institution]:
    """Institutions whose records the user may see (for filters and pickers)."""
    scope = scope_of(user)
    if scope.county_wide:
        return Institution.objects.active()
    if scope.institution_ids is None:
        return Institution.objects.none()
    return Institution.objects.active().filter(pk__in=scope.institution_ids)


def residence_choices(user) -> QuerySet[Institution]:
    """Villages/communities a user may register residents in."""
    return visible_institutions(user).residences().order_by("path")


def primary_institution(user) -> Institution | None:
    roles = active_roles(user)
    if roles:
        return Institution.objects.filter(pk=roles[0][1]).first()
    return user.employer if getattr(user, "employer_id", None) else None
