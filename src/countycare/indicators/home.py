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
    """The headline targets of the user's top institution for the last closed year, from the
    stored values only (the home page never computes)."""
    from countycare.indicators import selectors
    from countycare.indicators.models import IndicatorValue
    from countycare.indicators.registry import get

    roots = selectors.roots(request.user)
    if not roots:
        return None
    stored = (
        IndicatorValue.objects.filter(institution=roots[0], target__isnull=False)
        .exclude(status="not_applicable")
        .order_by("-period", "code")
    )
    latest = stored.values_list("period", flat=True).first()
    rows = []
    for v in stored.filter(period=latest) if latest else []:
        indicator = get(v.code)
        if indicator is not None:
            rows.append({"name": indicator.name, "value": v.value, "target": v.target, "met": v.met,
                         "unit": "%" if indicator.unit == "%" else ""})  # fmt: skip
    return {"institution": roots[0], "period": latest, "rows": rows}
