"""Computing indicators (the registry's ways) for a subtree and a period. Every measure is one
aggregate query in the database; nothing loops over rows in Python."""

from __future__ import annotations

import math
from decimal import Decimal

from countycare.indicators.models import IndicatorValue
from countycare.indicators.periods import Period
from countycare.indicators.registry import HIGHER, Ctx, Indicator, Outcome, Way, all_indicators
from countycare.organizations.models import Institution

Status = IndicatorValue.Status


def _number(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        value = float(value)
    value = float(value)
    return None if math.isnan(value) else value


def usable(way: Way, ctx: Ctx) -> str:
    """Status of one way for ``ctx``: ok, pending (an app missing or not yet exposing the
    figures) or no_data."""
    for source in way.sources:
        if source.pending or not source.installed:
            return Status.PENDING
    for source in way.sources:
        if source.has_data is not None and not source.has_data(ctx):
            return Status.NO_DATA
    return Status.OK


def choose_way(indicator: Indicator, ctx: Ctx) -> tuple[int | None, str]:
    statuses = []
    for index, way in enumerate(indicator.ways):
        status = usable(way, ctx)
        if status == Status.OK:
            return index, status
        statuses.append(status)
    if statuses and all(s == Status.PENDING for s in statuses):
        return None, Status.PENDING
    return None, Status.NO_DATA


def met(value: float | None, target: float | None, direction: str) -> bool | None:
    if value is None or target is None:
        return None
    return value >= target if direction == HIGHER else value <= target


def compute(
    indicator: Indicator, institution: Institution, period: Period, ctx: Ctx | None = None
) -> Outcome:
    """One indicator for the subtree of ``institution`` in ``period``. ``ctx``: shared by
    the indicators of one computation, so what several read (the encounter counts, another
    app's figures, the population) is queried once."""
    ctx = ctx or Ctx(institution, period)
    target, target_year = indicator.target_for(period.year, ctx.community_id)
    out = Outcome(indicator, Status.OK, target=target, target_year=target_year)
    if not indicator.applies_to(institution):
        # No value and no target: the indicator is not judged at this level.
        out.status = Status.NOT_APPLICABLE
        out.target = out.target_year = None
        return out
    index, status = choose_way(indicator, ctx)
    out.status = status
    if index is None:
        return out
    way = indicator.ways[index]
    out.way = index
    out.sources = [s.label for s in way.sources]
    out.numerator = _number(way.numerator(ctx)) or 0.0
    if way.denominator is None:
        out.value = out.numerator
    else:
        out.denominator = _number(way.denominator(ctx)) or 0.0
        if out.denominator == 0:
            # A division by zero is never shown as a number (issue 9, "Bad input").
            out.status = Status.NO_DATA
            out.value = None
        else:
            out.value = round(out.numerator / out.denominator * indicator.scale, 2)
    out.met = met(out.value, target, indicator.direction)
    return out


def compute_all(
    institution: Institution, period: Period, indicators: list[Indicator] | None = None
) -> list[Outcome]:
    ctx = Ctx(institution, period)
    return [compute(i, institution, period, ctx) for i in (indicators or all_indicators())]
