"""Turnaround time and performance pay of the Walking Hospital (issue 3, items 8 and 9).

Turnaround (SHC-03, WH-03): for the orders submitted in a period, per center and priority,
the minutes from submitted → claimed (waiting), claimed → signed (reading) and submitted →
signed (turnaround) with median and 90th percentile, and the breaches of the target in the
policy (``telemed_tat_target_minutes``, submitted → signed): signed late, and still open
past the target. ``claimed_at`` is the claim under which the order was signed (a reader who
released it, or whose lease expired, does not count). On PostgreSQL everything is one
grouped query (``percentile_cont``); elsewhere the percentiles are computed from the
timestamps fetched with ``values_list`` (no model instances).

Performance pay (WH-05, 000 §5(一)): the monthly statement per staff member and per
institution from the PerformanceCredit rows written at signing.

Who sees what (:func:`order_scope` / :func:`credit_scope`): county-wide roles and the
superuser everything; roles with ``view_aggregates`` and institution admins the orders
requested by, or read at, the institutions of their subtree (a township: its villages'
orders); readers the orders of their centers and their own pay.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.utils import timezone

from countycare.core.scoping import scope_for
from countycare.organizations import policy
from countycare.organizations.models import Institution
from countycare.organizations.roles import ROLE_PERMISSIONS, Perm, Role
from countycare.organizations.selectors import active_roles
from countycare.telemed import policy as telemed_policy
from countycare.telemed.models import (
    QUEUE_STATES,
    ExamOrder,
    PayRole,
    PerformanceCredit,
    Priority,
    SharedCenter,
)

PRIORITIES = (Priority.STAT, Priority.URGENT, Priority.ROUTINE)


# --- Who sees what ----------------------------------------------------------------------------
def _aggregate_paths(user) -> list[str]:
    """Paths of the institutions where the user holds a role that sees aggregates."""
    return [
        path
        for role, _inst, path in active_roles(user)
        if Perm.VIEW_AGGREGATES in ROLE_PERMISSIONS.get(role, frozenset())
        or role == Role.INSTITUTION_ADMIN
    ]


def _sees_everything(user) -> bool:
    return bool(user.is_superuser or scope_for(user).county_wide)


def can_view(user) -> bool:
    """The dashboard and the statements: aggregate viewers, institution admins, readers."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(
        _sees_everything(user)
        or _aggregate_paths(user)
        or SharedCenter.objects.filter(readers=user, is_active=True).exists()
    )


def order_scope(user) -> Q:
    """The orders whose turnaround the user may see (a Q over ExamOrder)."""
    if _sees_everything(user):
        return Q()
    q = Q(pk__in=[])
    for path in _aggregate_paths(user):
        q |= Q(requesting_institution__path__startswith=path)
        q |= Q(center__institution__path__startswith=path)
    reads = SharedCenter.objects.filter(readers=user, is_active=True).values("pk")
    return q | Q(center_id__in=reads)


def credit_scope(user) -> Q:
    """The performance credits the user may see: of the institutions in their subtree, and
    a reader's own."""
    if _sees_everything(user):
        return Q()
    q = Q(staff_id=user.pk)
    for path in _aggregate_paths(user):
        q |= Q(institution__path__startswith=path)
    return q


# --- Turnaround time --------------------------------------------------------------------------
def target_minutes(kind: str, priority: str, targets: dict | None = None) -> int:
    """The policy target, submitted → signed (as selectors.sla_minutes)."""
    if targets is None:
        targets = policy.value(telemed_policy.TAT_TARGET_MINUTES) or {}
    by_priority = targets.get(kind) or {}
    return int(by_priority.get(priority, by_priority.get("routine", 120)))


@dataclass
class Span:
    """Minutes of one interval over a group of orders."""

    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass
class TatRow:
    center: SharedCenter
    priority: str
    target_minutes: int
    orders: int = 0
    signed: int = 0
    wait: Span = field(default_factory=Span)  # submitted → claimed
    read: Span = field(default_factory=Span)  # claimed → signed
    total: Span = field(default_factory=Span)  # submitted → signed
    late_signed: int = 0  # signed after the target
    overdue_open: int = 0  # not yet signed, older than the target

    @property
    def breaches(self) -> int:
        return self.late_signed + self.overdue_open

    @property
    def priority_label(self) -> str:
        return Priority(self.priority).label

    @property
    def breach_share(self) -> float | None:
        """Breaches per order with a result due (signed, or open past its target)."""
        due = self.signed + self.overdue_open
        return self.breaches / due if due else None


def period_orders(user, start: dt.datetime, end: dt.datetime, center=None) -> QuerySet:
    qs = ExamOrder.objects.filter(order_scope(user), submitted_at__gte=start, submitted_at__lt=end)
    if center is not None:
        qs = qs.filter(center=center)
    return qs


def turnaround(
    user, start: dt.datetime, end: dt.datetime, *, center=None, now: dt.datetime | None = None
) -> list[TatRow]:
    """Per center and priority, for orders submitted in [start, end)."""
    now = now or timezone.now()
    targets = policy.value(telemed_policy.TAT_TARGET_MINUTES) or {}
    qs = period_orders(user, start, end, center)
    if connection.vendor == "postgresql":
        rows = _turnaround_pg(qs, targets, now)
    else:
        rows = _turnaround_fetched(qs, targets, now)
    centers = SharedCenter.objects.in_bulk({r.center for r in rows})
    for row in rows:
        row.center = centers[row.center]
    rank = {p: i for i, p in enumerate(PRIORITIES)}
    return sorted(rows, key=lambda r: (r.center.name, r.center.pk, rank.get(r.priority, 9)))


def _target_case(targets: dict) -> Case:
    """The target per order as an interval, from its center's kind and its priority."""
    whens = []
    for kind in {*targets, *SharedCenter.objects.values_list("kind", flat=True).distinct()}:
        for priority in PRIORITIES:
            minutes = target_minutes(kind, priority, targets)
            whens.append(
                When(
                    center__kind=kind,
                    priority=priority,
                    then=Value(dt.timedelta(minutes=minutes)),
                )
            )
    return Case(*whens, default=Value(dt.timedelta(minutes=120)), output_field=DurationField())


class _Percentile(Aggregate):
    """PostgreSQL ``percentile_cont(f) WITHIN GROUP (ORDER BY expr)`` (an interval here)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def _minutes(value: dt.timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 60, 1)


def _turnaround_pg(qs: QuerySet, targets: dict, now: dt.datetime) -> list[TatRow]:
    def span(a: str, b: str):
        return ExpressionWrapper(F(b) - F(a), output_field=DurationField())

    spans = {
        "wait": (span("submitted_at", "claimed_at"), Q(claimed_at__isnull=False)),
        "read": (span("claimed_at", "signed_at"), Q(signed_at__isnull=False, claimed_at__isnull=False)),
        "total": (span("submitted_at", "signed_at"), Q(signed_at__isnull=False)),
    }  # fmt: skip
    aggregates = {}
    for name, (expression, present) in spans.items():
        aggregates[f"{name}_n"] = Count("pk", filter=present)
        aggregates[f"{name}_median"] = _Percentile(expression, 0.5, filter=present)
        aggregates[f"{name}_p90"] = _Percentile(expression, 0.9, filter=present)
    due = ExpressionWrapper(F("submitted_at") + F("target"), output_field=DateTimeField())
    grouped = (
        qs.annotate(target=_target_case(targets), due=due)
        .values("center_id", "center__kind", "priority")
        .annotate(
            orders=Count("pk"),
            signed=Count("pk", filter=Q(signed_at__isnull=False)),
            late_signed=Count("pk", filter=Q(signed_at__gt=F("due"))),
            overdue_open=Count("pk", filter=Q(status__in=QUEUE_STATES, due__lt=now)),
            **aggregates,
        )
        .order_by()
    )
    rows = []
    for g in grouped:
        row = TatRow(
            center=g["center_id"],
            priority=g["priority"],
            target_minutes=target_minutes(g["center__kind"], g["priority"], targets),
            orders=g["orders"],
            signed=g["signed"],
            late_signed=g["late_signed"],
            overdue_open=g["overdue_open"],
        )
        for name in spans:
            setattr(
                row,
                name,
                Span(g[f"{name}_n"], _minutes(g[f"{name}_median"]), _minutes(g[f"{name}_p90"])),
            )
        rows.append(row)
    return rows


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks, as PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 1)


def _turnaround_fetched(qs: QuerySet, targets: dict, now: dt.datetime) -> list[TatRow]:
    rows: dict[tuple[int, str], TatRow] = {}
    minutes: dict[tuple[int, str], dict[str, list[float]]] = {}
    open_states = {s.value for s in QUEUE_STATES}
    fetched = qs.values_list(
        "center_id", "center__kind", "priority", "status", "submitted_at", "claimed_at", "signed_at"
    )
    for center_id, kind, priority, status, submitted, claimed, signed in fetched.iterator():
        key = (center_id, priority)
        row = rows.get(key)
        if row is None:
            row = rows[key] = TatRow(center_id, priority, target_minutes(kind, priority, targets))
            minutes[key] = {"wait": [], "read": [], "total": []}
        row.orders += 1
        due = submitted + dt.timedelta(minutes=row.target_minutes)
        if claimed:
            minutes[key]["wait"].append((claimed - submitted).total_seconds() / 60)
        if signed:
            row.signed += 1
            minutes[key]["total"].append((signed - submitted).total_seconds() / 60)
            if claimed:
                minutes[key]["read"].append((signed - claimed).total_seconds() / 60)
            row.late_signed += signed > due
        elif status in open_states and due < now:
            row.overdue_open += 1
    for key, row in rows.items():
        for name, values in minutes[key].items():
            setattr(row, name, Span(len(values), percentile(values, 0.5), percentile(values, 0.9)))
    return list(rows.values())


# --- Performance pay --------------------------------------------------------------------------
def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


@dataclass
class PayStatement:
    month: dt.date
    staff: list[dict]  # staff, institution, role: services, amount
    institutions: list[dict]  # institution, role: services, amount
    institution_totals: list[dict]  # institution: services, amount
    total: Decimal


def pay_statement(user, month: dt.date) -> PayStatement:
    """The month's credits in the user's scope: per staff member (and role), per institution
    and role, and per institution."""
    month = month_start(month)
    credits = PerformanceCredit.objects.filter(credit_scope(user), month=month)
    staff_rows = list(
        credits.filter(staff__isnull=False)
        .values("staff_id", "staff__full_name", "staff__username", "institution_id", "role")
        .annotate(services=Count("order_id", distinct=True), amount=Sum("amount"))
        .order_by("-amount", "staff__username", "role")
    )
    by_role = list(
        credits.values("institution_id", "role")
        .annotate(services=Count("order_id", distinct=True), amount=Sum("amount"))
        .order_by("institution_id", "role")
    )
    totals = list(
        credits.values("institution_id")
        .annotate(services=Count("order_id", distinct=True), amount=Sum("amount"))
        .order_by("-amount", "institution_id")
    )
    names = dict(
        Institution.objects.filter(
            pk__in={r["institution_id"] for r in by_role}
        ).values_list("pk", "name")
    )  # fmt: skip
    labels = dict(PayRole.choices)
    for row in (*staff_rows, *by_role, *totals):
        row["institution"] = names.get(row["institution_id"], "")
        if "role" in row:
            row["role_label"] = labels.get(row["role"], row["role"])
    for row in (*staff_rows, *by_role, *totals):
        # SQLite sums decimals as floats (3040.80000000000): back to yuan and fen.
        row["amount"] = Decimal(str(row["amount"] or 0)).quantize(Decimal("0.01"))
    for row in staff_rows:
        row["staff"] = row.pop("staff__full_name") or row["staff__username"]
    total = sum((r["amount"] for r in totals), Decimal(0))
    return PayStatement(month, staff_rows, by_role, totals, total)


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def pay_xlsx(statement: PayStatement) -> bytes:
    """The statement as an Excel workbook: one sheet per staff member rows, one per
    institution. Headers in Chinese (the finance office's form); amounts as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    labels = {
        PayRole.EXAMINER: "检查人员",
        PayRole.READER: "诊断医师",
        PayRole.EXAMINING_INSTITUTION: "检查机构",
        PayRole.READING_INSTITUTION: "诊断医院",
    }
    book = Workbook()
    sheet = book.active
    sheet.title = "个人绩效"
    month = f"{statement.month:%Y-%m}"
    sheet.append(["月份", "姓名", "用户名", "机构", "角色", "服务例数", "绩效金额（元）"])
    for r in statement.staff:
        sheet.append([
            month, r["staff"], r["staff__username"], r["institution"],
            labels.get(r["role"], r["role"]), r["services"], float(r["amount"]),
        ])  # fmt: skip
    institutions = book.create_sheet("机构绩效")
    institutions.append(["月份", "机构", "角色", "服务例数", "绩效金额（元）"])
    for r in statement.institutions:
        institutions.append([
            month, r["institution"], labels.get(r["role"], r["role"]), r["services"],
            float(r["amount"]),
        ])  # fmt: skip
    totals = book.create_sheet("机构合计")
    totals.append(["月份", "机构", "服务例数", "绩效金额（元）"])
    for r in statement.institution_totals:
        totals.append([month, r["institution"], r["services"], float(r["amount"])])
    totals.append([month, "合计", None, float(statement.total)])
    for ws in (sheet, institutions, totals):
        for cell in ws[1]:
            cell.font = Font(bold=True)
        last = ws.max_column
        for row in ws.iter_rows(min_row=2, min_col=last, max_col=last):
            row[0].number_format = "#,##0.00"
        ws.freeze_panes = "A2"
        for column in ws.columns:
            ws.column_dimensions[column[0].column_letter].width = 16
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
