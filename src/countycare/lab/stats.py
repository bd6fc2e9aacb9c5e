"""Lab turnaround (issue 5, SHC-03, 001 §4): the share of results reported within the policy
target, specimen collected (OBR-7) → reported (OBR-22, else MSH-7, else the message's
arrival), per lab (the sending application|facility) and per test, for the results collected
in a period. The target is the Walking Hospital's policy number for the "lab" center kind by
the order's priority (``telemed_tat_target_minutes``; routine 120 minutes). Everything is one
grouped query; a result without a collection time is counted but not measured. Scope: the
orders the user may see in the telemed turnaround (telemed.stats.order_scope)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from countycare.lab import units
from countycare.lab.models import Analyzer, LabResult
from countycare.organizations import policy
from countycare.telemed import policy as telemed_policy
from countycare.telemed import stats as telemed_stats
from countycare.telemed.models import ExamOrder, Priority, Service

GROUPS = {"lab": "sender", "service": "order__service__code", "test": "code"}


@dataclass
class LabTatRow:
    key: str
    name: str
    results: int
    measured: int
    within: int
    median: int | None = None  # minutes, collected → reported, per specimen (message)
    p90: int | None = None

    @property
    def breaches(self) -> int:
        return self.measured - self.within

    @property
    def share(self) -> float | None:
        return self.within / self.measured if self.measured else None

    @property
    def percent(self) -> str:
        return "—" if self.share is None else f"{100 * self.share:.1f}"


def targets() -> dict[str, int]:
    """Minutes per priority for lab results (SHC-03)."""
    values = policy.value(telemed_policy.TAT_TARGET_MINUTES) or {}
    return {p: telemed_stats.target_minutes("lab", p, values) for p in Priority.values}


def results(user, start: dt.datetime, end: dt.datetime) -> QuerySet:
    orders = ExamOrder.objects.filter(telemed_stats.order_scope(user)).values("pk")
    # Typed-in device results (no message) are point-of-care: no lab turnaround.
    return LabResult.objects.filter(
        order_id__in=orders, collected_at__gte=start, collected_at__lt=end, message__isnull=False
    )


def turnaround(user, start: dt.datetime, end: dt.datetime, *, by: str = "lab") -> list[LabTatRow]:
    """Per lab (``by="lab"``: the sending analyzer or lab system), per ordered test
    (``by="service"``: 血常规, 尿常规, 血糖) or per analyte (``by="test"``: LOINC code), for
    results collected in [start, end)."""
    field = GROUPS[by]
    minutes = targets()
    target = Case(
        *(When(order__priority=p, then=Value(dt.timedelta(minutes=m))) for p, m in minutes.items()),
        default=Value(dt.timedelta(minutes=minutes.get(Priority.ROUTINE, 120))),
        output_field=DurationField(),
    )
    rows = (
        results(user, start, end)
        .annotate(
            done_at=Coalesce("reported_at", "arrived_at"),
            deadline=ExpressionWrapper(F("collected_at") + target, output_field=DateTimeField()),
        )
        .values(field)
        .annotate(
            results=Count("pk"),
            measured=Count("pk", filter=Q(collected_at__isnull=False)),
            within=Count("pk", filter=Q(done_at__lte=F("deadline"))),
        )
        .order_by(field)
    )
    if by == "test":
        sent = dict(results(user, start, end).values_list("code", "name").order_by("code", "name"))
        names = {code: units.NAMES.get(code) or name for code, name in sent.items()}
    elif by == "service":
        names = dict(Service.objects.filter(modality="lab").values_list("code", "name"))
    else:
        names = Analyzer.labels()
    minutes_of = _minutes(user, start, end, field)
    out = [
        LabTatRow(
            key=r[field],
            name=names.get(r[field], ""),
            results=r["results"],
            measured=r["measured"],
            within=r["within"],
            median=_quantile(minutes_of.get(r[field], []), 0.5),
            p90=_quantile(minutes_of.get(r[field], []), 0.9),
        )
        for r in rows
    ]
    return sorted(out, key=lambda r: (-r.results, r.name or r.key)) if by != "lab" else out


def _minutes(user, start, end, field: str) -> dict[str, list[float]]:
    """Collected → reported in minutes per group, once per specimen (an HL7 message)."""
    rows = (
        results(user, start, end)
        .filter(collected_at__isnull=False)
        .annotate(done_at=Coalesce("reported_at", "arrived_at"))
        .values_list(field, "message_id", "collected_at", "done_at")
        .distinct()
    )
    found: dict[str, list[float]] = {}
    for key, _message, collected, done in rows:
        found.setdefault(key, []).append((done - collected).total_seconds() / 60)
    return found


def _quantile(values: list[float], q: float) -> int | None:
    """The q-quantile (nearest rank), in whole minutes."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return round(ordered[rank - 1])


def summary(rows: list[LabTatRow]) -> dict:
    """The totals over the rows (per lab): results, measured, within, share in percent."""
    measured = sum(r.measured for r in rows)
    within = sum(r.within for r in rows)
    return {
        "results": sum(r.results for r in rows),
        "measured": measured,
        "within": within,
        "breaches": measured - within,
        "percent": f"{100 * within / measured:.1f}" if measured else "—",
    }
