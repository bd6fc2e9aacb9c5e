"""Small template helpers of the platform (core knows no domain app)."""

from __future__ import annotations

import datetime as dt

from django import template

register = template.Library()


@register.filter
def minutes(value: dt.timedelta | None) -> int:
    """A timedelta in whole minutes (for the lockout page: "try again in 15 minutes")."""
    if not isinstance(value, dt.timedelta):
        return 0
    return max(1, round(value.total_seconds() / 60))
