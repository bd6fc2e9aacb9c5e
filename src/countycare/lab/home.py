"""Main-navigation entries and home-page widgets of the lab (core.home, issue 5).

- ``lab.dead_letters``: for ``manage_interfaces`` — HL7 messages waiting in the dead-letter
  list (shown only when some wait), with the last day's traffic.
- ``lab.breaches``: for ``view_aggregates`` — lab results reported later than the SHC-03
  target in the last 7 days.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from countycare.core import home
from countycare.organizations.roles import Perm


@home.widget("lab.dead_letters", template="lab/home_dead_letters.html",
             perm=f"countycare.{Perm.MANAGE_INTERFACES}", order=55)  # fmt: skip
def dead_letters(request: HttpRequest) -> dict[str, Any] | None:
    from countycare.lab import selectors

    counts = selectors.dead_letter_counts(request.user)
    if not counts["waiting"] and not any(counts["last_24h"].values()):
        return None
    latest = list(selectors.dead_letters(request.user)[:3])
    return {"counts": counts, "latest": latest}


@home.widget("lab.breaches", template="lab/home_breaches.html",
             perm=f"countycare.{Perm.VIEW_AGGREGATES}", order=61)  # fmt: skip
def breaches(request: HttpRequest) -> dict[str, Any] | None:
    from countycare.lab import selectors, stats

    end = timezone.now()
    start = end - dt.timedelta(days=7)
    rows = stats.turnaround(request.user, start, end, by="lab")
    measured = sum(r.measured for r in rows)
    if not measured:
        return None
    within = sum(r.within for r in rows)
    late = selectors.breaches(request.user, start, end)
    return {
        "measured": measured,
        "percent": f"{100 * within / measured:.1f}",
        "breach_orders": len(late),
        "target": stats.targets().get("routine"),
    }


home.nav_item("lab.turnaround", url="lab:turnaround", label=_("Lab turnaround"),
              perm="countycare.view_aggregates", order=81)  # fmt: skip
home.nav_item("lab.entry", url="lab:entry", label=_("Device results"),
              perm=f"countycare.{Perm.ENTER_RESULTS}", order=23,
              active=("lab:entry", "lab:entry-resident"))  # fmt: skip
home.nav_item("lab.dead_letters", url="lab:dead-letters", label=_("HL7 dead letters"),
              perm=f"countycare.{Perm.MANAGE_INTERFACES}", order=85,
              active=("lab:dead-letters", "lab:dead-letter"))  # fmt: skip
