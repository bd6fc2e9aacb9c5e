"""Reporting periods (KPI-02: half-yearly monitoring, annual assessment, monthly trends):
``2025`` (a year), ``2025-H1`` / ``2025-H2`` (a half-year), ``2025-06`` (a month).

A period is a half-open range of local dates ``[start, end)``; ``start_at``/``end_at`` are the
same bounds as aware datetimes in the county's time zone (Asia/Shanghai), so timestamps stored
in UTC fall into the month a person in the county would say."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core.errors import ValidationError

YEAR, HALF, MONTH = "year", "half", "month"
_PATTERN = re.compile(r"^(?P<year>\d{4})(?:-(?:(?P<half>[Hh][12])|(?P<month>\d{2})))?$")


@dataclass(frozen=True, order=True)
class Period:
    start: dt.date
    end: dt.date  # exclusive
    kind: str

    @property
    def code(self) -> str:
        if self.kind == YEAR:
            return f"{self.start.year}"
        if self.kind == HALF:
            return f"{self.start.year}-H{1 if self.start.month == 1 else 2}"
        return f"{self.start:%Y-%m}"

    def __str__(self) -> str:
        return self.code

    @property
    def year(self) -> int:
        return self.start.year

    @property
    def start_at(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.start, dt.time.min))

    @property
    def end_at(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.end, dt.time.min))

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def is_closed(self, today: dt.date | None = None) -> bool:
        """Over: its last day is before today."""
        return self.end <= (today or timezone.localdate())

    def months(self) -> list[Period]:
        out, day = [], self.start
        while day < self.end:
            out.append(month(day.year, day.month))
            day = out[-1].end
        return out

    def containing(self) -> list[Period]:
        """This period and the longer ones that contain it (month → half-year → year)."""
        out = [self]
        if self.kind == MONTH:
            out.append(half(self.year, 1 if self.start.month <= 6 else 2))
        if self.kind in (MONTH, HALF):
            out.append(year(self.year))
        return out

    def previous(self) -> Period:
        if self.kind == YEAR:
            return year(self.year - 1)
        if self.kind == HALF:
            return half(self.year - 1, 2) if self.start.month == 1 else half(self.year, 1)
        day = self.start - dt.timedelta(days=1)
        return month(day.year, day.month)

    @property
    def label(self) -> str:
        if self.kind == YEAR:
            return _("year %(year)d") % {"year": self.year}
        if self.kind == HALF:
            if self.start.month == 1:
                return _("%(year)d first half") % {"year": self.year}
            return _("%(year)d second half") % {"year": self.year}
        return _("%(year)d-%(month)02d") % {"year": self.year, "month": self.start.month}


def year(y: int) -> Period:
    return Period(dt.date(y, 1, 1), dt.date(y + 1, 1, 1), YEAR)


def half(y: int, h: int) -> Period:
    if h == 1:
        return Period(dt.date(y, 1, 1), dt.date(y, 7, 1), HALF)
    return Period(dt.date(y, 7, 1), dt.date(y + 1, 1, 1), HALF)


def month(y: int, m: int) -> Period:
    start = dt.date(y, m, 1)
    end = dt.date(y + 1, 1, 1) if m == 12 else dt.date(y, m + 1, 1)
    return Period(start, end, MONTH)


def parse(text: str | None) -> Period:
    """``2025``, ``2025-H1``/``2025-H2`` or ``2025-06``; empty: the current year. Anything
    else is a ValidationError naming the accepted forms."""
    text = (text or "").strip()
    if not text:
        return year(timezone.localdate().year)
    m = _PATTERN.match(text)
    y = int(m["year"]) if m else 0
    if not m or not 1900 <= y <= 2999:
        raise ValidationError(
            _("“%(value)s” is not a period: use a year (2025), a half-year (2025-H1, 2025-H2) "
              "or a month (2025-06).") % {"value": text},
            code="period",
            field="period",
        )  # fmt: skip
    if m["half"]:
        return half(y, int(m["half"][1]))
    if m["month"]:
        mm = int(m["month"])
        if not 1 <= mm <= 12:
            raise ValidationError(
                _("“%(value)s”: the month must be 01 to 12.") % {"value": text},
                code="period",
                field="period",
            )
        return month(y, mm)
    return year(y)


def of_date(day: dt.date) -> list[Period]:
    """The month, half-year and year a day falls in."""
    return month(day.year, day.month).containing()
