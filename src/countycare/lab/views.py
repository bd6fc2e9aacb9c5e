"""Lab turnaround page (issue 5, SHC-03)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.lab import stats

DEFAULT_DAYS = 30


def _date(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@login_required
def turnaround(request: HttpRequest) -> HttpResponse:
    """The share of lab results reported within the target, per lab and per test."""
    if not request.user.has_perm("countycare.view_aggregates"):
        raise PermissionDenied(_("Your role does not allow this action."))
    today = timezone.localdate()
    date_to = _date(request.GET.get("to"), today)
    date_from = _date(request.GET.get("from"), date_to - dt.timedelta(days=DEFAULT_DAYS - 1))
    if date_from > date_to:
        date_from, date_to = date_to, date_from
    start, end = _aware(date_from), _aware(date_to + dt.timedelta(days=1))
    by_lab = stats.turnaround(request.user, start, end, by="lab")
    by_test = stats.turnaround(request.user, start, end, by="test")
    return render(
        request,
        "lab/turnaround.html",
        {
            "by_lab": by_lab,
            "by_test": by_test,
            "target": stats.targets().get("routine"),
            "date_from": date_from,
            "date_to": date_to,
        },
    )
