"""Home-page widgets and main-navigation entries of the imaging app (core.home).

- ``imaging.reconcile``: for ``reconcile_studies`` — studies waiting for a person to link
  them to their order (shown only when some wait).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from countycare.core import home
from countycare.organizations.roles import Perm


@home.widget("imaging.reconcile", template="imaging/home_reconcile.html",
             perm=f"countycare.{Perm.RECONCILE_STUDIES}", order=56)  # fmt: skip
def reconcile(request: HttpRequest) -> dict[str, Any] | None:
    from countycare.imaging import selectors

    qs = selectors.unmatched(request.user)
    count = qs.count()
    if not count:
        return None
    return {"count": count, "latest": list(qs[:3])}


home.nav_item(
    "imaging.reconcile", url="imaging:reconcile", label=_("Study reconciliation"),
    perm=f"countycare.{Perm.RECONCILE_STUDIES}", order=46, active=("imaging:",),
)  # fmt: skip
