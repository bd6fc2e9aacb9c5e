"""Home-page widget and main-navigation entry of the indicators app (core.home)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from countycare.core import home

home.nav_item("indicators.dashboard", url="indicators:dashboard", label=_("Indicators"),
              perm="countycare.view_aggregates", order=85, active=("indicators:",))  # fmt: skip


@home.widget("indicators.headline", template="indicators/home_widget.html",
             perm="countycare.view_aggregates", order=60)  # fmt: skip
def headline(request: HttpRequest) -> dict | None:
    """The headline targets of the user's top institution for the last stored year, from the
    stored values only (the home page never computes), judged against today's targets."""
    from countycare.indicators import selectors, services
    from countycare.indicators.models import IndicatorValue
    from countycare.indicators.periods import parse
    from countycare.indicators.registry import Ctx, get

    roots = selectors.roots(request.user)
    if not roots:
        return None
    stored = (
        IndicatorValue.objects.filter(
            institution=roots[0], version=services.catalog_version(), period__regex=r"^\d{4}$"
        )
        .exclude(status="not_applicable")
        .order_by("-period", "code")
    )
    latest = stored.values_list("period", flat=True).first()
    rows = []
    if latest:
        period = parse(latest)
        community = Ctx(roots[0], period).community_id
        for v in stored.filter(period=latest):
            indicator = get(v.code)
            if indicator is None:
                continue
            o = services.from_stored(indicator, v, period, community)
            if o.target is not None:
                rows.append({"name": indicator.name, "value": o.value, "target": o.target,
                             "met": o.met, "unit": "%" if indicator.unit == "%" else ""})  # fmt: skip
    return {"institution": roots[0], "period": latest, "rows": rows}
