"""Turnaround-time dashboard and performance-pay statements (issue 3, items 8 and 9)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import audit
from countycare.telemed import stats
from countycare.telemed.models import SharedCenter

DEFAULT_DAYS = 30


def _allowed(request: HttpRequest) -> None:
    if not stats.can_view(request.user):
        raise PermissionDenied(_("Your role does not allow this action."))


def _date(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _month(value: str | None) -> dt.date:
    today = timezone.localdate()
    try:
        return dt.date.fromisoformat(f"{value}-01") if value else today.replace(day=1)
    except ValueError:
        return today.replace(day=1)


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@login_required
def tat(request: HttpRequest) -> HttpResponse:
    """Median and p90 of waiting, reading and turnaround per center and priority, with the
    breaches of the policy's targets, for the orders submitted in the chosen days."""
    _allowed(request)
    today = timezone.localdate()
    date_to = _date(request.GET.get("to"), today)
    date_from = _date(request.GET.get("from"), date_to - dt.timedelta(days=DEFAULT_DAYS - 1))
    if date_from > date_to:
        date_from, date_to = date_to, date_from
    centers = SharedCenter.objects.filter(is_active=True).order_by("name")
    center = None
    if (chosen := request.GET.get("center", "")).isdigit():
        center = centers.filter(pk=int(chosen)).first()
    rows = stats.turnaround(
        request.user, _aware(date_from), _aware(date_to + dt.timedelta(days=1)), center=center
    )
    longest = max([r.total.p90 or 0 for r in rows] + [r.target_minutes for r in rows] + [1])
    for row in rows:
        # Bar widths (per cent of the longest) for the chart drawn in CSS.
        row.bar_median = round(100 * (row.total.median or 0) / longest, 1)
        row.bar_p90 = round(100 * (row.total.p90 or 0) / longest, 1)
        row.bar_target = round(100 * row.target_minutes / longest, 1)
    totals = {
        "orders": sum(r.orders for r in rows),
        "signed": sum(r.signed for r in rows),
        "breaches": sum(r.breaches for r in rows),
    }
    return render(
        request,
        "telemed/stats_tat.html",
        {
            "rows": rows,
            "totals": totals,
            "centers": centers,
            "center": center,
            "date_from": date_from,
            "date_to": date_to,
        },
    )


@login_required
def pay(request: HttpRequest) -> HttpResponse:
    """The month's performance credits per staff member and per institution (WH-05)."""
    _allowed(request)
    month = _month(request.GET.get("month"))
    statement = stats.pay_statement(request.user, month)
    return render(request, "telemed/stats_pay.html", {"statement": statement, "month": month})


@login_required
def pay_xlsx(request: HttpRequest) -> HttpResponse:
    """The month's statement as an Excel workbook (audited as an export)."""
    _allowed(request)
    month = _month(request.GET.get("month"))
    statement = stats.pay_statement(request.user, month)
    audit.log(
        "export",
        actor=request.user,
        object_type="telemed.performancecredit",
        detail={"month": f"{month:%Y-%m}", "staff_rows": len(statement.staff)},
    )
    response = HttpResponse(stats.pay_xlsx(statement), content_type=stats.XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="performance-pay-{month:%Y-%m}.xlsx"'
    return response
