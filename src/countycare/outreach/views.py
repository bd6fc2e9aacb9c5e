"""Pages of outreach (issue 8): siting with its map, teams and schedules, recording circuit
visits, dispatches and check-ins, compliance, the annual summary and one's grassroots
service. Views parse, call one service or selector, render."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from countycare.core import audit
from countycare.core.errors import DomainError
from countycare.organizations.models import Staff
from countycare.organizations.roles import Perm
from countycare.organizations.selectors import visible_institutions
from countycare.outreach import (
    compliance,
    maps,
    scheduling,
    selectors,
    services,
    siting_services,
    summary,
)
from countycare.outreach.forms import (
    CheckInForm,
    DispatchForm,
    EndDispatchForm,
    ScheduleForm,
    SitingForm,
    VisitRecordForm,
    aware,
)
from countycare.outreach.models import (
    CircuitSchedule,
    CircuitVisit,
    MemberFunction,
    RunStatus,
    SitingRun,
    VisitStatus,
)


def _need(ok: bool) -> None:
    if not ok:
        raise PermissionDenied(_("Your role does not allow this action."))


def _year(request: HttpRequest) -> int:
    raw = request.GET.get("year", "")
    today = timezone.localdate()
    return int(raw) if raw.isdigit() and 2000 <= int(raw) <= today.year + 1 else today.year


def _labels(functions) -> list[str]:
    """Team functions by their names (the policy stores codes)."""
    names = dict(MemberFunction.choices)
    return [str(names.get(f, f)) for f in functions]


def _form_error(form, exc: DomainError) -> None:
    """The error beside its field; a file's row errors one per line (the first 20)."""
    field = exc.field if exc.field in form.fields else None
    rows = exc.extra.get("rows") or []
    if rows:
        for row in rows[:20]:
            form.add_error(field, str(row))
        if len(rows) > 20:
            form.add_error(field, _("… and %(n)s more rows.") % {"n": len(rows) - 20})
    else:
        form.add_error(field, str(exc.message))


@login_required
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    _need(selectors.can_view_reports(user) or user.has_perm(f"countycare.{Perm.RECORD_OUTREACH}"))
    today = timezone.localdate()
    context = {
        "can_plan": selectors.can_plan(user),
        "can_report": selectors.can_view_reports(user),
        "my_visits": list(selectors.my_visits(user, days_back=0, days_ahead=7)[:10]),
    }
    if context["can_report"]:
        root = selectors.area_root(user)
        start = dt.date(today.year, 1, 1)
        context["figures"] = compliance.figures(root, start, today)
        context["points"] = selectors.current_points(root).count()
    return render(request, "outreach/index.html", context)


# --- siting -----------------------------------------------------------------------------------


@login_required
def siting(request: HttpRequest) -> HttpResponse:
    _need(selectors.can_plan(request.user))
    initial = {"k": siting_services.default_k(), "objective": "median", "time_limit": 60}
    form = SitingForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        villages_file, matrix_file = data.get("villages_file"), data.get("matrix_file")
        try:
            run = siting_services.start_run(
                actor=request.user,
                k=data["k"],
                objective=data["objective"],
                max_km=data.get("max_km"),
                required=data["required"],
                excluded=data["excluded"],
                existing=data["existing"],
                keep_current=data["keep_current"],
                time_limit=data["time_limit"],
                villages_file=villages_file,
                villages_name=villages_file.name if villages_file else "",
                matrix_file=matrix_file,
                matrix_name=matrix_file.name if matrix_file else "",
                matrix_unit=data.get("matrix_unit") or "km",
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            return redirect("outreach:siting-run", pk=run.pk)
    return render(
        request,
        "outreach/siting.html",
        {
            "form": form,
            "runs": selectors.siting_runs(request.user)[:20],
            "villages": len(siting_services.tree_villages(siting_services.community_of())),
            "current": selectors.current_points().count(),
        },
    )


@login_required
def siting_run(request: HttpRequest, pk: int) -> HttpResponse:
    _need(selectors.can_plan(request.user))
    run = get_object_or_404(SitingRun, pk=pk)
    result = run.result or {}
    compare = result.get("compare", {})
    current = compare.get("current", {}).get("codes", [])
    by_id = {v["id"]: v for v in run.villages}
    served: dict[str, list[str]] = {}
    for vid, point in (result.get("assignment") or {}).items():
        served.setdefault(point, []).append(vid)
    existing = result.get("existing", [])
    points = []
    for code in [*result.get("chosen", []), *existing]:
        members = served.get(code, [])
        points.append(
            {
                "code": code,
                "name": by_id.get(code, {}).get("name", code),
                "villages": len(members),
                "population": sum(by_id[m]["population"] for m in members if m in by_id),
                "new": bool(current) and code not in current and code not in existing,
                "existing": code in existing,
            }
        )
    total = sum(v["population"] for v in run.villages) or 1
    dropped = sorted(set(current) - set(result.get("chosen", [])))

    def names(codes):
        return [f"{by_id[c]['name']} ({c})" if c in by_id else c for c in codes]

    return render(
        request,
        "outreach/siting_run.html",
        {
            "run": run,
            "result": result,
            "map": maps.siting_map(run.villages, result, current, _township_seats(run))
            if run.villages
            else None,
            "compare": compare,
            "points": points,
            "total_population": total,
            "unit": _("minutes") if run.matrix_unit == "minutes" else _("km"),
            "required": names(run.required),
            "excluded": names(run.excluded),
            "existing": names(existing),
            "dropped": names(dropped),
            "can_apply": run.status == RunStatus.DONE and run.applied_at is None
            and not run.source,
        },
    )  # fmt: skip


def _township_seats(run: SitingRun) -> list[tuple[str, float, float]]:
    """The township health centers of the run's county with coordinates (map landmarks);
    none for a run over an uploaded file of another area."""
    from countycare.organizations.models import Institution, InstitutionType

    if run.source:
        return []
    towns = (
        Institution.objects.active()
        .subtree(run.community)
        .filter(type=InstitutionType.TOWNSHIP_HEALTH_CENTER)
        .exclude(latitude=None)
        .exclude(longitude=None)
    )
    return [
        (t.area_name or t.short_name or t.name, float(t.latitude), float(t.longitude))
        for t in towns.order_by("code")
    ]


@login_required
@require_POST
def siting_apply(request: HttpRequest, pk: int) -> HttpResponse:
    _need(selectors.can_plan(request.user))
    run = get_object_or_404(SitingRun, pk=pk)
    try:
        points = siting_services.apply_run(actor=request.user, run=run)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(
            request, _("%(n)s circuit service points are now in force.") % {"n": len(points)}
        )
    return redirect("outreach:siting-run", pk=run.pk)


# --- teams and schedules ---------------------------------------------------------------------


@login_required
def teams(request: HttpRequest) -> HttpResponse:
    user = request.user
    _need(selectors.can_plan(user) or user.has_perm(f"countycare.{Perm.RECORD_OUTREACH}"))
    return render(
        request,
        "outreach/teams.html",
        {"teams": selectors.teams(user).prefetch_related("members__staff")},
    )


@login_required
def team(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    item = selectors.teams(user).filter(pk=pk).first()
    if item is None:
        raise Http404
    today = timezone.localdate()
    quarter_end = (today.replace(day=1) + dt.timedelta(days=92)).replace(day=1) - dt.timedelta(
        days=1
    )
    form = ScheduleForm(request.POST or None, initial={"start": today, "end": quarter_end})
    if request.method == "POST":
        _need(selectors.can_plan(user))
        if form.is_valid():
            try:
                schedule = scheduling.generate_schedule(
                    actor=user, team=item, start=form.cleaned_data["start"],
                    end=form.cleaned_data["end"],
                )  # fmt: skip
            except DomainError as exc:
                _form_error(form, exc)
            else:
                return redirect("outreach:schedule", pk=schedule.pk)
    return render(
        request,
        "outreach/team.html",
        {
            "team": item,
            "members": services.active_members(item, today),
            "places": scheduling.team_places(item),
            "schedules": item.schedules.all()[:10],
            "form": form,
            "can_plan": selectors.can_plan(user),
            "needed": _labels(scheduling.functions_needed(item.kind, item.home)),
        },
    )


@login_required
def schedule(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(CircuitSchedule.objects.select_related("team", "team__home"), pk=pk)
    if not selectors.teams(request.user).filter(pk=item.team_id).exists():
        raise Http404
    visits = (
        CircuitVisit.objects.filter(team=item.team, date__gte=item.start, date__lte=item.end)
        .select_related("place")
        .order_by("date", "crew", "stop_order")
    )
    visits = list(visits)
    ids = {s for v in visits for s in (v.planned_staff or [])}
    names = {s.pk: str(s) for s in Staff.objects.filter(pk__in=ids)}
    days: dict[dt.date, list[CircuitVisit]] = {}
    for v in visits:
        v.crew_names = "、".join(names[s] for s in v.planned_staff or [] if s in names)
        days.setdefault(v.date, []).append(v)
    return render(
        request,
        "outreach/schedule.html",
        {
            "schedule": item,
            "days": sorted(days.items()),
            "problems": [scheduling.problem_text(p) for p in item.problems],
            "count": len(visits),
        },
    )


# --- circuit visits ----------------------------------------------------------------------------


@login_required
def visits(request: HttpRequest) -> HttpResponse:
    user = request.user
    _need(selectors.can_plan(user) or user.has_perm(f"countycare.{Perm.RECORD_OUTREACH}"))
    return render(
        request,
        "outreach/visits.html",
        {"visits": selectors.my_visits(user)[:200], "today": timezone.localdate()},
    )


@login_required
def visit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    item = selectors.visits(user).filter(pk=pk).first()
    if item is None:
        raise Http404
    members = services.active_members(item.team, item.date)
    planned = [m.staff_id for m in members if m.staff_id in set(item.planned_staff or [])]
    morning = item.session != "pm"
    initial = {
        "arrived": dt.time(8, 30) if morning else dt.time(13, 30),
        "left": dt.time(12, 0) if morning else dt.time(17, 30),
        "attendees": [str(s) for s in planned or [m.staff_id for m in members]],
    }
    if item.status == VisitStatus.DONE:
        initial.update(
            arrived=timezone.localtime(item.arrived_at).time() if item.arrived_at else None,
            left=timezone.localtime(item.left_at).time() if item.left_at else None,
            attendees=[str(s) for s in item.attendance.values_list("staff_id", flat=True)],
            residents_served=item.residents_served,
            services=", ".join(item.services),
            note=item.note,
        )
    form = VisitRecordForm(request.POST or None, members=members, initial=initial)
    can_record = services.can_record(user, item)
    if request.method == "POST":
        _need(can_record)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.record_visit(
                    actor=user,
                    visit=item,
                    arrived_at=aware(item.date, data["arrived"]),
                    left_at=aware(item.date, data["left"]),
                    attendees=[int(a) for a in data["attendees"]],
                    residents_served=data["residents_served"],
                    services=data["services"],
                    note=data["note"],
                )
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("The visit is recorded."))
                return redirect("outreach:visit", pk=item.pk)
    key_population = (
        selectors.key_population_list(user, item)
        if user.has_perm(f"countycare.{Perm.VIEW_RESIDENT}")
        else None
    )
    return render(
        request,
        "outreach/visit.html",
        {
            "visit": item,
            "form": form,
            "can_record": can_record and item.date <= timezone.localdate(),
            "key_population": key_population,
            "telemed_visits": selectors.telemed_visits(user, item),
            "can_examine": user.has_perm(f"countycare.{Perm.RECORD_VISIT}"),
            "needed": _labels(scheduling.functions_needed(item.team.kind, item.team.home)),
        },
    )


# --- dispatch ----------------------------------------------------------------------------------


@login_required
def dispatches(request: HttpRequest) -> HttpResponse:
    user = request.user
    can_plan = selectors.can_plan(user)
    institutions = visible_institutions(user).order_by("path")
    staff = Staff.objects.filter(is_active=True, employer__in=institutions).order_by("full_name")
    form = DispatchForm(request.POST or None, institutions=institutions, staff=staff)
    if request.method == "POST":
        _need(can_plan)
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = services.create_dispatch(actor=user, **data)
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("The dispatch is planned."))
                return redirect("outreach:dispatch", pk=created.pk)
    rows = selectors.dispatches(user).order_by("-start")[:200]
    return render(
        request,
        "outreach/dispatches.html",
        {"dispatches": rows, "form": form if can_plan else None},
    )


@login_required
def dispatch(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    item = selectors.dispatches(user).filter(pk=pk).first()
    if item is None:
        raise Http404
    today = timezone.localdate()
    form = CheckInForm(
        request.POST or None,
        initial={"date": min(max(today, item.start), item.end), "arrived": dt.time(8, 0)},
    )
    can_check_in = services.can_check_in(user, item)
    can_end = selectors.can_plan(user) and item.end > today
    end_form = EndDispatchForm(
        request.POST if request.POST.get("action") == "end" else None,
        initial={"last_day": max(today, item.start)},
    )
    if request.method == "POST" and request.POST.get("action") == "end":
        _need(can_end)
        if end_form.is_valid():
            try:
                services.end_dispatch(
                    actor=user,
                    dispatch=item,
                    last_day=end_form.cleaned_data["last_day"],
                    reason=end_form.cleaned_data["reason"],
                )
            except DomainError as exc:
                _form_error(end_form, exc)
            else:
                messages.success(request, _("The dispatch is ended early."))
                return redirect("outreach:dispatch", pk=item.pk)
    elif request.method == "POST":
        _need(can_check_in)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.check_in(
                    actor=user,
                    dispatch=item,
                    date=data["date"],
                    arrived_at=aware(data["date"], data["arrived"]),
                    left_at=aware(data["date"], data["left"]) if data.get("left") else None,
                )
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("Checked in."))
                return redirect("outreach:dispatch", pk=item.pk)
    return render(
        request,
        "outreach/dispatch.html",
        {
            "dispatch": item,
            "check_ins": item.check_ins.order_by("-date")[:120],
            "findings": compliance.dispatch_findings(item),
            "form": form if can_check_in else None,
            "end_form": end_form if can_end else None,
        },
    )


# --- reports -----------------------------------------------------------------------------------


@login_required
def compliance_view(request: HttpRequest) -> HttpResponse:
    _need(selectors.can_view_reports(request.user))
    year = _year(request)
    root = selectors.area_root(request.user)
    findings = compliance.all_findings(root, year)
    return render(
        request,
        "outreach/compliance.html",
        {
            "year": year,
            "root": root,
            "breaches": [f for f in findings if f.level == compliance.BREACH],
            "warnings": [f for f in findings if f.level == compliance.WARNING],
            "points": compliance.service_point_rows(root, year),
        },
    )


@login_required
def summary_view(request: HttpRequest) -> HttpResponse:
    _need(selectors.can_view_reports(request.user))
    year = _year(request)
    root = selectors.area_root(request.user)
    result = summary.annual_summary(root, year)
    today = timezone.localdate()
    due_in = (result.due - today).days
    return render(
        request,
        "outreach/summary.html",
        {
            "summary": result,
            "year": year,
            "due_in": due_in,
            "due_passed": year == today.year and due_in < 0,
            "due_soon": year == today.year and 0 <= due_in <= 30,
        },
    )


@login_required
def summary_xlsx(request: HttpRequest) -> HttpResponse:
    _need(selectors.can_view_reports(request.user))
    year = _year(request)
    root = selectors.area_root(request.user)
    result = summary.annual_summary(root, year)
    audit.log(
        audit.Action.EXPORT,
        actor=request.user,
        object_type="outreach.annual_summary",
        object_id=year,
        institution=root,
    )
    response = HttpResponse(summary.summary_xlsx(result), content_type=summary.XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="outreach-summary-{year}.xlsx"'
    return response


@login_required
def me(request: HttpRequest) -> HttpResponse:
    year = _year(request)
    data = summary.grassroots_service(request.user, dt.date(year, 1, 1), dt.date(year, 12, 31))
    return render(request, "outreach/me.html", {"service": data, "year": year, "person": None})


@login_required
def staff_service(request: HttpRequest) -> HttpResponse:
    """OUT-10 on the staff records of the user's area: who served how long at the grassroots."""
    _need(selectors.can_view_reports(request.user))
    year = _year(request)
    root = selectors.area_root(request.user)
    return render(
        request,
        "outreach/staff_service.html",
        {"rows": summary.grassroots_table(root, year), "year": year, "root": root},
    )


@login_required
def staff_service_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _need(selectors.can_view_reports(request.user))
    year = _year(request)
    institutions = visible_institutions(request.user)
    person = Staff.objects.filter(pk=pk, employer__in=institutions).first()
    if person is None and selectors.area_root(request.user) is None:
        person = Staff.objects.filter(pk=pk).first()
    if person is None:
        raise Http404
    data = summary.grassroots_service(person, dt.date(year, 1, 1), dt.date(year, 12, 31))
    return render(request, "outreach/me.html", {"service": data, "year": year, "person": person})
