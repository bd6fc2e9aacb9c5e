"""Dashboards (ECharts), drill-down, the rows behind a number, facility standards, assessment,
statistics imports and the Excel exports (issue 9). Views parse the request, call selectors and
services, render; who sees what is decided in ``selectors``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import audit
from countycare.core.decorators import login_required
from countycare.core.errors import DomainError
from countycare.indicators import (
    assessment,
    exports,
    imports,
    periods,
    selectors,
    services,
    standards,
)
from countycare.indicators.compute import compute
from countycare.indicators.models import StatisticImport
from countycare.indicators.periods import Period
from countycare.indicators.registry import GROUPS, all_indicators, get, group_name
from countycare.organizations.roles import Perm

ROWS_LIMIT = 500


def _allowed(request: HttpRequest) -> None:
    if not selectors.can_view(request.user):
        raise PermissionDenied(_("Your role does not allow this action."))


def _period(request: HttpRequest) -> tuple[Period, str]:
    """The period asked for; a malformed one falls back to this year with a message."""
    text = request.GET.get("period", "")
    try:
        return periods.parse(text), ""
    except DomainError as exc:
        return periods.parse(""), str(exc.message)


def _context(request: HttpRequest) -> dict:
    _allowed(request)
    period, error = _period(request)
    institution = selectors.institution_for(request.user, request.GET.get("institution"))
    if error:
        messages.error(request, error)
    this_year = timezone.localdate().year
    choices = []
    for y in range(this_year, this_year - 3, -1):
        choices += [periods.year(y), periods.half(y, 2), periods.half(y, 1)]
    return {
        "period": period,
        # "place", not "institution": base.html sets that name for the top bar.
        "place": institution,
        "breadcrumbs": selectors.breadcrumbs(request.user, institution),
        "period_choices": [p for p in choices if p.start <= timezone.localdate()],
        "months": [periods.month(this_year, m) for m in range(1, 13)],
        "roots": selectors.roots(request.user),
    }


def _fmt(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:,.1f}" if unit == "%" else f"{value:,.2f}"


def _decorate(outcomes) -> list:
    for o in outcomes:
        o.shown = _fmt(o.value, o.indicator.unit)
        o.target_shown = _fmt(o.target, o.indicator.unit) if o.target is not None else ""
        o.unit_label = {"%": "%", "per_10000": _("per 10,000"), "count": "", "yuan": _("yuan")}.get(
            o.indicator.unit, o.indicator.unit
        )
    return outcomes


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """County (or subtree) overview: every indicator against its target, by group."""
    ctx = _context(request)
    outcomes = _decorate(services.outcomes_for(ctx["place"], ctx["period"]))
    groups = []
    for code in GROUPS:
        members = [
            o for o in outcomes if o.indicator.group == code and o.status != "not_applicable"
        ]
        if members:
            groups.append({"name": group_name(code), "outcomes": members})
    chart = [
        {"name": o.indicator.name, "value": o.value, "target": o.target, "met": o.met,
         "unit": o.unit_label}
        for o in outcomes
        if o.target is not None and o.value is not None and o.indicator.unit == "%"
    ]  # fmt: skip
    summary = {
        "with_target": sum(
            1 for o in outcomes if o.target is not None and o.status != "not_applicable"
        ),
        "met": sum(1 for o in outcomes if o.met),
        "not_met": sum(1 for o in outcomes if o.met is False),
        "no_data": sum(1 for o in outcomes if o.status in ("no_data", "pending")),
    }
    ctx.update(groups=groups, chart=chart, summary=summary,
               children=selectors.drill_children(ctx["place"]))  # fmt: skip
    return render(request, "indicators/dashboard.html", ctx)


def _trend(indicator, institution, period: Period) -> list[dict]:
    if period.kind == periods.MONTH:
        months, day = [], period
        for _i in range(12):
            months.insert(0, day)
            day = day.previous()
    else:
        months = period.months()
    today = timezone.localdate()
    out = []
    for month in months:
        if month.start > today:
            out.append({"period": month.code, "value": None, "target": None})
            continue
        o = services.outcome_for(indicator.code, institution, month)
        out.append({"period": month.code, "value": o.value, "target": o.target})
    return out


@login_required
def detail(request: HttpRequest, code: str) -> HttpResponse:
    """One indicator: its value and basis, the monthly trend, the ranking of the townships
    (or villages) below, with drill-down to each, and the way to the rows behind it."""
    indicator = get(code)
    if indicator is None:
        raise Http404
    ctx = _context(request)
    institution, period = ctx["place"], ctx["period"]
    outcome = _decorate([services.outcome_for(code, institution, period)])[0]
    children = []
    for child in selectors.drill_children(institution):
        if not indicator.applies_to(child):
            continue
        o = _decorate([services.outcome_for(code, child, period)])[0]
        children.append({"institution": child, "outcome": o})
    ranked = sorted(
        (c for c in children if c["outcome"].value is not None),
        key=lambda c: c["outcome"].value,
        reverse=indicator.direction == "higher",
    )
    way = indicator.ways[outcome.way] if outcome.way is not None else None
    ctx.update(
        indicator=indicator,
        outcome=outcome,
        children=children,
        ranking=[{"name": c["institution"].name, "value": c["outcome"].value} for c in ranked],
        trend=_trend(indicator, institution, period),
        has_rows=bool(way and way.rows),
        sources=[s for w in indicator.ways for s in w.sources],
    )
    return render(request, "indicators/detail.html", ctx)


@login_required
def rows(request: HttpRequest, code: str) -> HttpResponse:
    """The rows behind a number, scoped: records only for roles that see records (never the
    health-commission viewer), at most ROWS_LIMIT, the read audited."""
    indicator = get(code)
    if indicator is None:
        raise Http404
    ctx = _context(request)
    institution, period = ctx["place"], ctx["period"]
    outcome = compute(indicator, institution, period)
    if outcome.way is None or indicator.ways[outcome.way].rows is None:
        raise Http404
    from countycare.indicators.registry import Ctx

    qs = indicator.ways[outcome.way].rows(Ctx(institution, period))
    try:
        visible = selectors.rows_for(request.user, qs)
    except selectors.RowsNotAllowed:
        raise PermissionDenied(
            _("Your role sees aggregates only, not the records behind them.")
        ) from None
    total = visible.count()
    shown = list(visible[:ROWS_LIMIT])
    model = qs.model
    if getattr(model, "scope_paths", None):
        audit.log(
            "search",
            actor=request.user,
            object_type=model._meta.label_lower,
            institution=institution,
            detail={"indicator": code, "period": period.code, "rows": len(shown)},
        )
    ctx.update(indicator=indicator, outcome=_decorate([outcome])[0], rows=shown, total=total,
               limit=ROWS_LIMIT, model_name=model._meta.verbose_name_plural)  # fmt: skip
    return render(request, "indicators/rows.html", ctx)


@login_required
def standards_page(request: HttpRequest) -> HttpResponse:
    """What each grassroots institution lacks against the staffing and equipment standards."""
    ctx = _context(request)
    table = standards.compliance(ctx["place"])
    only = request.GET.get("show") != "all"
    ctx.update(
        rows=[r for r in table if not r.compliant] if only else table,
        total=len(table),
        compliant=sum(r.compliant for r in table),
        only_lacking=only,
    )
    return render(request, "indicators/standards.html", ctx)


@login_required
def assessment_page(request: HttpRequest) -> HttpResponse:
    """Half-yearly monitoring and annual assessment: scores per township (KPI-02, KPI-03)."""
    ctx = _context(request)
    ctx.update(
        assessments=assessment.assess_townships(ctx["place"], ctx["period"]),
        whole=assessment.assess(ctx["place"], ctx["period"]),
        weights=[(i, assessment.weight_of(i, assessment.weights())) for i in all_indicators() if i.policy_key],
    )  # fmt: skip
    return render(request, "indicators/assessment.html", ctx)


def _xlsx(request, content: bytes, name: str, detail: dict) -> HttpResponse:
    audit.log("export", actor=request.user, object_type="indicators", detail=detail)
    response = HttpResponse(content, content_type=exports.XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


@login_required
def export(request: HttpRequest) -> HttpResponse:
    """Excel: ``table=overview`` (every indicator; one sheet for the subtree and one per
    township), ``standards`` (the compliance table), ``assessment`` (scores)."""
    ctx = _context(request)
    institution, period = ctx["place"], ctx["period"]
    table = request.GET.get("table", "overview")
    title_tail = f"{institution.name} · {period.code}"
    if table == "overview":
        sheets = [("指标汇总", f"医共体监测指标（{title_tail}）", exports.INDICATOR_HEADER,
                   exports.indicator_rows(services.outcomes_for(institution, period)))]  # fmt: skip
        code = request.GET.get("code")
        indicator = get(code) if code else None
        kids = selectors.drill_children(institution)
        if indicator is not None:
            header = ["机构", "机构编码", "分子", "分母", "指标值", "目标值", "是否达标", "说明"]
            rows = []
            for child in kids:
                if indicator.applies_to(child):
                    o = services.outcome_for(indicator.code, child, period)
                    rows.append([child.name, child.code, o.numerator, o.denominator, o.value, o.target,
                                 exports.MET_ZH[o.met], exports.STATUS_ZH.get(o.status, "")])  # fmt: skip
            sheets.append(("分机构", f"{indicator.zh}（{title_tail}）", header, rows))
        content = exports.workbook(sheets)
        return _xlsx(request, content, f"indicators-{institution.code}-{period.code}",
                     {"table": table, "institution": institution.code, "period": period.code})  # fmt: skip
    if table == "standards":
        header = ["机构", "机构编码", "机构类别", "是否达标", "缺项", "依据"]
        rows = []
        for r in standards.compliance(institution):
            rows.append([
                r.institution.name, r.institution.code, r.category_label, "达标" if r.compliant else "未达标",
                "；".join(f"{c.label}（要求 {c.required}，现有 {c.actual}）" for c in r.lacks),
                "、".join(sorted({c.requirement for c in r.lacks})),
            ])  # fmt: skip
        content = exports.workbook(
            [
                (
                    "机构达标",
                    f"基层医疗卫生机构人员与设备达标情况（{institution.name}）",
                    header,
                    rows,
                )
            ]
        )
        return _xlsx(request, content, f"facility-standards-{institution.code}",
                     {"table": table, "institution": institution.code})  # fmt: skip
    if table == "assessment":
        header = ["机构", "机构编码", "综合得分", "达标指标数", "参与评分指标数", "未能评分指标"]
        rows = []
        for a in assessment.assess_townships(institution, period):
            rows.append([a.institution.name, a.institution.code, a.score, a.met, len(a.scored),
                         "、".join(o.indicator.zh for o in a.unassessed)])  # fmt: skip
        content = exports.workbook(
            [("考核得分", f"医共体成员单位考核得分（{title_tail}）", header, rows)]
        )
        return _xlsx(request, content, f"assessment-{institution.code}-{period.code}",
                     {"table": table, "institution": institution.code, "period": period.code})  # fmt: skip
    raise Http404


def _can_import(user) -> bool:
    return user.has_perm(f"countycare.{Perm.MANAGE_MASTER_DATA}")


@login_required
def imports_page(request: HttpRequest) -> HttpResponse:
    """Import periodic statistics (CSV or Excel): every problem listed, nothing half-written."""
    if not _can_import(request.user):
        raise PermissionDenied(_("Your role does not allow this action."))
    problems: list[str] = []
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            problems = [_("Choose a CSV or Excel file to import.")]
        else:
            try:
                batch = services.import_statistics(
                    user=request.user,
                    file_name=upload.name,
                    content=upload.read(imports.MAX_BYTES + 1),
                    source=request.POST.get("source", ""),
                )
            except DomainError as exc:
                problems = [str(exc.message), *exc.extra.get("problems", [])]
            else:
                messages.success(
                    request,
                    _("%(n)d figures imported from %(file)s.")
                    % {"n": batch.rows, "file": batch.file_name},
                )
                return redirect("indicators:imports")
    return render(
        request,
        "indicators/imports.html",
        {
            "problems": problems,
            "batches": StatisticImport.objects.select_related("imported_by")[:20],
            "metrics": [(code, label, "、".join(imports.METRIC_ZH.get(code, ()))) for code, label in imports.Metric.choices],
        },
        status=400 if problems else 200,
    )  # fmt: skip


@login_required
def import_template(request: HttpRequest) -> HttpResponse:
    if not _can_import(request.user):
        raise PermissionDenied(_("Your role does not allow this action."))
    response = HttpResponse(imports.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="statistics-template.csv"'
    return response
