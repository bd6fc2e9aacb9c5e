"""Home-page widgets and main-navigation entries of the outreach app (core.home)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from countycare.core import home
from countycare.organizations.roles import Perm
from countycare.outreach import selectors


@home.widget("outreach.visits", template="outreach/home_visits.html",
             perm=f"countycare.{Perm.RECORD_OUTREACH}", order=40)  # fmt: skip
def upcoming_visits(request: HttpRequest) -> dict[str, Any] | None:
    """The user's circuit visits of the coming week (team members)."""
    rows = list(
        selectors.my_visits(request.user, days_back=0, days_ahead=7)
        .filter(team__members__staff=request.user)
        .distinct()[:6]
    )
    if not rows:
        return None
    return {"visits": rows}


home.nav_item("outreach.index", url="outreach:index", label=_("Outreach"),
              perm=f"countycare.{Perm.PLAN_OUTREACH}", order=60)  # fmt: skip
home.nav_item("outreach.visits", url="outreach:visits", label=_("Circuit visits"),
              perm=f"countycare.{Perm.RECORD_OUTREACH}", order=61)  # fmt: skip
