"""Home-page widgets and main-navigation entries of the familydoctor app (core.home)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from countycare.core import home
from countycare.familydoctor import coverage, selectors
from countycare.familydoctor import policy as fd_policy
from countycare.organizations.roles import Perm
from countycare.organizations.selectors import primary_institution


@home.widget(
    "familydoctor.due", template="familydoctor/home_due.html",
    perm=f"countycare.{Perm.FOLLOW_UP}", order=18,
)  # fmt: skip
def due(request: HttpRequest) -> dict[str, Any] | None:
    """The user's chronic patients overdue and due for a follow-up, the referrals follow-ups
    suggest, and Walking Hospital visits to confirm as follow-ups."""
    user = request.user
    mine = selectors.my_teams(user).exists()
    counts = selectors.due_counts(user, doctor=user if mine else None)
    if not counts["patients"] and not mine:
        return None
    return {
        "counts": counts,
        "mine": mine,
        "suggestions": selectors.referral_suggestions(user).count(),
        "visits": selectors.visits_to_confirm(user).count(),
    }


@home.widget(
    "familydoctor.coverage", template="familydoctor/home_coverage.html",
    perm=f"countycare.{Perm.VIEW_AGGREGATES}", order=60,
)  # fmt: skip
def coverage_widget(request: HttpRequest) -> dict[str, Any] | None:
    from countycare.core.scoping import scope_for
    from countycare.organizations.models import Institution, InstitutionType

    user = request.user
    root = None
    if scope_for(user).county_wide:
        root = Institution.objects.filter(type=InstitutionType.COUNTY).order_by("pk").first()
    root = root or primary_institution(user)
    if root is None:
        return None
    today = timezone.localdate()
    start = dt.date(today.year, 1, 1)
    counts = coverage.totals(root, start, today, coverage._community(root))
    if not counts.residents:
        return None
    community = coverage._community(root)
    return {
        "root": root,
        "counts": counts,
        "target": coverage.target_for(fd_policy.COVERAGE_TARGET, today.year, community),
        "key_target": coverage.target_for(fd_policy.KEY_COVERAGE_TARGET, today.year, community),
        "year": today.year,
    }


home.nav_item("familydoctor.due", url="familydoctor:due", label=_("Family doctor"),
              perm=f"countycare.{Perm.FOLLOW_UP}", order=35, active=("familydoctor:",))  # fmt: skip
home.nav_item("familydoctor.coverage", url="familydoctor:coverage", label=_("Contract coverage"),
              perm=f"countycare.{Perm.VIEW_AGGREGATES}", order=36,
              active=("familydoctor:coverage", "familydoctor:fees"))  # fmt: skip
