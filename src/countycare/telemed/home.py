"""Home-page widgets of the Walking Hospital (core.home).

- ``telemed.village``: for requesters (village and township doctors) — open critical-value
  alerts, signed reports awaiting their acknowledgement, orders returned by a center.
- ``telemed.reader``: for readers — each of their centers with its queue and a link.
- ``telemed.tat``: for aggregate roles — a link card to the turnaround-time dashboard.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from countycare.core import home
from countycare.organizations.roles import Perm
from countycare.telemed import selectors
from countycare.telemed.models import HELD_STATES, OrderStatus

SHOWN = 5


@home.widget("telemed.village", template="telemed/home_village.html",
             perm=f"countycare.{Perm.REQUEST_EXAM}", order=5, width="full")  # fmt: skip
def village(request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    alerts = selectors.open_alerts(user)
    awaiting = selectors.awaiting_acknowledgement(user)
    returned = selectors.requested_orders(user, status=OrderStatus.RETURNED).filter(
        requested_by=user
    )
    return {
        "alerts": list(alerts[:SHOWN]),
        "alerts_count": alerts.count(),
        "awaiting": list(awaiting[:SHOWN]),
        "awaiting_count": awaiting.count(),
        "returned": list(returned[:SHOWN]),
        "returned_count": returned.count(),
        "can_ack_alert": user.has_perm(f"countycare.{Perm.ACK_CRITICAL}"),
    }


@home.widget("telemed.reader", template="telemed/home_reader.html",
             perm=f"countycare.{Perm.READ_EXAM}", order=5, width="full")  # fmt: skip
def reader(request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    centers = list(selectors.reader_centers(user))
    if not centers:
        return None
    rows = []
    for center in centers:
        qs = selectors.worklist(user, center).order_by()
        rows.append(
            {
                "center": center,
                "queued": qs.filter(status=OrderStatus.SUBMITTED).count(),
                "stat": qs.filter(status=OrderStatus.SUBMITTED, priority="stat").count(),
                "mine": qs.filter(status__in=HELD_STATES, claimed_by=user).count(),
            }
        )
    return {"rows": rows}


@home.widget("telemed.tat", template="telemed/home_tat.html",
             perm=f"countycare.{Perm.VIEW_AGGREGATES}", order=60)  # fmt: skip
def tat(request: HttpRequest) -> dict[str, Any] | None:
    try:
        url = reverse("telemed:tat")
    except NoReverseMatch:  # the dashboard is not installed
        return None
    try:
        pay_url = reverse("telemed:pay")
    except NoReverseMatch:
        pay_url = ""
    return {"tat_url": url, "pay_url": pay_url}


home.nav_item("telemed.orders", url="telemed:orders", label=_("My orders"),
              perm=f"countycare.{Perm.REQUEST_EXAM}", order=20,
              active=("telemed:orders", "telemed:order"))  # fmt: skip
home.nav_item("telemed.worklist", url="telemed:worklist-home", label=_("Worklist"),
              perm=f"countycare.{Perm.READ_EXAM}", order=21,
              active=("telemed:worklist", "telemed:worklist-home", "telemed:read"))  # fmt: skip
home.nav_item("telemed.alerts", url="telemed:alerts", label=_("Critical values"),
              perm=f"countycare.{Perm.ACK_CRITICAL}", order=22)  # fmt: skip
home.nav_item("telemed.tat", url="telemed:tat", label=_("Turnaround time"),
              perm=f"countycare.{Perm.VIEW_AGGREGATES}", order=80,
              active=("telemed:tat", "telemed:pay"))  # fmt: skip
