"""Dashboards (ECharts), drill-down, the rows behind a number, facility standards, assessment,
statistics imports and the Excel exports (issue 9). Views parse the request, call selectors and
services, render; who sees what is decided in ``selectors``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

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
from countycare.organizations.models import COUNTY_HOSPITAL_TYPES
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
    """Counts whole, with thousands separators; rates and money to two decimals (a rate of
    89.99 % must not read 90.0 % beside a target of 90 % it misses)."""
    if value is None:
        return "—"
    return f"{value:,.0f}" if unit == "count" else f"{value:,.2f}"


def _fmt_part(value) -> str:
    """A numerator or denominator: a count, or an amount of money."""
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _decorate(outcomes) -> list:
    for o in outcomes:
        o.shown = _fmt(o.value, o.indicator.unit)
        o.numerator_shown = _fmt_part(o.numerator)
        o.denominator_shown = _fmt_part(o.denominator)
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
    children = selectors.drill_children(ctx["place"])
    ctx.update(
        groups=groups,
        chart=chart,
        chart_height=80 + 28 * len(chart),
        summary=summary,
        township_children=[c for c in children if c.type not in COUNTY_HOSPITAL_TYPES],
        hospital_children=[c for c in children if c.type in COUNTY_HOSPITAL_TYPES],
    )
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
        if not month.is_closed(today):
            # A month still running is not a point of the trend (a day's figures would read
            # as a jump); the dashboard shows it to date.
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
    higher = indicator.direction == "higher"
    ranked = sorted(
        (c for c in children if c["outcome"].value is not None),
        key=lambda c: -c["outcome"].value if higher else c["outcome"].value,
    )
    for rank, c in enumerate(ranked, start=1):
        c["rank"] = rank
    # The table in ranking order; those without a value after them.
    children = ranked + [c for c in children if c["outcome"].value is None]
    way = (
        indicator.ways[outcome.way]
        if outcome.way is not None and outcome.way < len(indicator.ways)
        else None
    )
    county = ctx["roots"][0].name if ctx["roots"] else ""
    from countycare.indicators.registry import Ctx

    ctx.update(
        indicator=indicator,
        outcome=outcome,
        children=children,
        ranking=[
            {
                "name": _short(c["institution"], county),
                "value": c["outcome"].value,
                "target": outcome.target,
            }
            for c in ranked
        ],
        ranking_height=70 + 30 * len(ranked),
        trend=_trend(indicator, institution, period),
        has_rows=bool(way and way.rows)
        and selectors.may_see_rows(request.user, way.rows(Ctx(institution, period)).model),
        used_sources=list(way.sources) if way else [],
        other_sources=[s for w in indicator.ways if w is not way for s in w.sources],
    )
    return render(request, "indicators/detail.html", ctx)


def _short(institution, county: str) -> str:
    """A name for a chart's axis: the short name, else the name without the county's."""
    if institution.short_name:
        return institution.short_name
    name = institution.name
    return name[len(county) :] if county and name.startswith(county) and name != county else name


def _yes(value: bool) -> str:
    return _("yes") if value else _("no")


def _row_table(model) -> tuple[list[str], object]:
    """Headers and a row → cells function for the rows behind a number."""
    from countycare.indicators.models import ImportedStatistic

    if model is ImportedStatistic:
        return [_("Institution"), _("Month"), _("Metric"), pgettext("indicator", "Value")], lambda r: [
            r.institution.name, f"{r.month:%Y-%m}", r.get_metric_display(),
            int(r.value) if r.value == r.value.to_integral_value() else r.value,
        ]  # fmt: skip
    if model._meta.label_lower == "clinical.encounter":
        return [_("Date"), _("Kind of encounter"), _("Institution seen at"),
                _("Residence on the day"), _("Resident"), _("TCM"),
                _("Insurance fund paid (yuan)")], lambda r: [
            r.date.isoformat(), r.get_kind_display(),
            r.institution.name if r.institution_id else f"{r.provider}（{_('outside the county')}）",
            r.residence.name if r.residence_id else "—", r.resident.name if r.resident_id else "—",
            _yes(r.tcm), r.fund_paid,
        ]  # fmt: skip
    return [_("Record")], lambda r: [str(r)]


def _rows_behind(request: HttpRequest, code: str):
    """The rows behind a number the user may see: records only through scoped() for roles
    that see records (never the health-commission viewer); aggregate rows for the others."""
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
    if qs.model._meta.label_lower == "clinical.encounter":
        visible = visible.select_related("institution", "residence", "resident")
    return ctx, indicator, outcome, visible, qs.model


@login_required
def rows(request: HttpRequest, code: str) -> HttpResponse:
    """The rows behind a number, scoped, at most ROWS_LIMIT, the read audited."""
    ctx, indicator, outcome, visible, model = _rows_behind(request, code)
    total = visible.count()
    shown = list(visible[:ROWS_LIMIT])
    if getattr(model, "scope_paths", None):
        audit.log(
            "search",
            actor=request.user,
            object_type=model._meta.label_lower,
            institution=ctx["place"],
            detail={"indicator": code, "period": ctx["period"].code, "rows": len(shown)},
        )
    headers, cells = _row_table(model)
    ctx.update(indicator=indicator, outcome=_decorate([outcome])[0], headers=headers,
               rows=[cells(r) for r in shown], total=total, limit=ROWS_LIMIT,
               model_name=model._meta.verbose_name_plural)  # fmt: skip
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
    place, period = ctx["place"], ctx["period"]
    rows = assessment.assess_townships(place, period)
    for a in rows:
        for s in a.scored:
            _decorate([s.outcome])
    from countycare.indicators.registry import Ctx

    configured = assessment.weights(Ctx(place, period).community_id)
    ctx.update(
        assessments=rows,
        whole=assessment.assess(place, period),
        weights=[(i, assessment.weight_of(i, configured)) for i in all_indicators() if i.policy_key],
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
            trend = [
                [t["period"], t["value"], t["target"]]
                for t in _trend(indicator, institution, period)
            ]
            sheets.append(("逐月趋势", f"{indicator.zh}逐月趋势（{title_tail}）",
                           ["月份", "指标值", "目标值"], trend))  # fmt: skip
        content = exports.workbook(sheets)
        return _xlsx(request, content, f"indicators-{institution.code}-{period.code}",
                     {"table": table, "institution": institution.code, "period": period.code})  # fmt: skip
    if table == "rows":
        return _rows_export(request, request.GET.get("code", ""))
    if table == "standards":
        header = ["机构", "机构编码", "机构类别", "是否达标", "缺项", "依据"]
        rows = []
        with translation.override("zh-hans"):  # the commission's forms are Chinese
            table_rows = standards.compliance(institution)
            for r in table_rows:
                rows.append([
                    r.institution.name, r.institution.code, r.category_label,
                    "达标" if r.compliant else "未达标", "；".join(c.lack_text for c in r.lacks),
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
        content = exports.workbook(exports.assessment_sheets(institution, period))
        return _xlsx(request, content, f"assessment-{institution.code}-{period.code}",
                     {"table": table, "institution": institution.code, "period": period.code})  # fmt: skip
    raise Http404


def _rows_export(request: HttpRequest, code: str) -> HttpResponse:
    """The rows behind a number as Excel: aggregate rows for aggregate viewers; records only
    for roles that may export residents' data (EXPORT_RESIDENTS), scoped and audited."""
    ctx, indicator, _outcome, visible, model = _rows_behind(request, code)
    records = bool(getattr(model, "scope_paths", None))
    if records and not request.user.has_perm(f"countycare.{Perm.EXPORT_RESIDENTS}"):
        raise PermissionDenied(_("Your role may not export residents' records."))
    headers, cells = _row_table(model)
    place, period = ctx["place"], ctx["period"]
    rows = [cells(r) for r in visible[: exports.MAX_ROWS]]
    content = exports.workbook([(
        "明细", f"{indicator.zh}：{model._meta.verbose_name_plural}（{place.name} · {period.label}）",
        headers, rows,
    )])  # fmt: skip
    return _xlsx(request, content, f"rows-{indicator.code}-{place.code}-{period.code}",
                 {"table": "rows", "indicator": code, "institution": place.code,
                  "period": period.code, "rows": len(rows), "records": records})  # fmt: skip


def _can_import(user) -> bool:
    return user.has_perm(f"countycare.{Perm.MANAGE_MASTER_DATA}")


def _encounters_installed() -> bool:
    from django.apps import apps

    return apps.is_installed("countycare.clinical")


@login_required
def imports_page(request: HttpRequest) -> HttpResponse:
    """Import monthly statistics or encounters (CSV or Excel): every problem listed, nothing
    half-written. Encounters go to the clinical app (its service validates and stores them)."""
    if not _can_import(request.user):
        raise PermissionDenied(_("Your role does not allow this action."))
    problems: list[str] = []
    kind = request.POST.get("kind", "statistics")
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            problems = [_("Choose a CSV or Excel file to import.")]
        else:
            try:
                if kind == "encounters" and _encounters_installed():
                    from countycare.clinical import imports as encounter_imports
                    from countycare.clinical import services as clinical

                    batch = clinical.import_encounters(
                        user=request.user,
                        file_name=upload.name,
                        content=upload.read(encounter_imports.MAX_BYTES + 1),
                        source=request.POST.get("source", ""),
                    )
                    done = _("%(n)d encounters imported from %(file)s (%(new)d new).") % {
                        "n": batch.rows, "file": batch.file_name, "new": batch.created}  # fmt: skip
                else:
                    batch = services.import_statistics(
                        user=request.user,
                        file_name=upload.name,
                        content=upload.read(imports.MAX_BYTES + 1),
                        source=request.POST.get("source", ""),
                    )
                    done = _("%(n)d figures imported from %(file)s.") % {
                        "n": batch.rows, "file": batch.file_name}  # fmt: skip
            except DomainError as exc:
                problems = [str(exc.message), *exc.extra.get("problems", [])]
            else:
                messages.success(request, done)
                return redirect("indicators:imports")
    encounter_batches = []
    if _encounters_installed():
        from countycare.clinical.models import EncounterImport

        encounter_batches = EncounterImport.objects.select_related("imported_by")[:10]
    return render(
        request,
        "indicators/imports.html",
        {
            "problems": problems,
            "failed_kind": kind if problems else "",
            "batches": StatisticImport.objects.select_related("imported_by")[:20],
            "encounters": _encounters_installed(),
            "encounter_batches": encounter_batches,
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


@login_required
def encounter_template(request: HttpRequest) -> HttpResponse:
    if not _can_import(request.user) or not _encounters_installed():
        raise PermissionDenied(_("Your role does not allow this action."))
    from countycare.clinical import imports as encounter_imports

    response = HttpResponse(
        encounter_imports.template_csv(), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="encounters-template.csv"'
    return response
