"""Home-page widgets and main-navigation entries of the referrals app (core.home)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from countycare.core import home
from countycare.organizations.roles import Perm
from countycare.organizations.selectors import primary_institution
from countycare.referrals import selectors


def _takes_part(user) -> bool:
    return user.has_perm(f"countycare.{Perm.REFER}") or user.has_perm(
        f"countycare.{Perm.RECEIVE_REFERRAL}"
    )


@home.widget("referrals.board", template="referrals/home_board.html", order=15)
def board(request: HttpRequest) -> dict[str, Any] | None:
    """The user's institution's open referrals and the unread hand-overs."""
    user = request.user
    if not _takes_part(user):
        return None
    institution = primary_institution(user)
    if institution is None:
        return None
    data = selectors.board(user, institution)
    unread = selectors.unread_notifications(user)
    return {
        "incoming": len(data["incoming"]),
        "outgoing": len(data["outgoing"]),
        "overdue": data["overdue"],
        "unread": unread.count(),
        "notifications": list(unread[:5]),
    }


home.nav_item("referrals.board", url="referrals:board", label=_("Referrals"),
              perm=f"countycare.{Perm.REFER}", order=30, active=("referrals:",))  # fmt: skip
# Those who manage schedules and catalogs (institution and community admins) without referring.
home.nav_item("referrals.catalogs", url="referrals:catalogs", label=_("Catalogs and schedules"),
              perm=f"countycare.{Perm.MANAGE_SCHEDULES}", order=31,
              active=("referrals:catalogs", "referrals:slots", "referrals:sessions"))  # fmt: skip
