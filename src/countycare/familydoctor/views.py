"""Pages of family-doctor contracts and chronic follow-up (issue 7): the follow-ups due and
overdue (per team, per family doctor), contracts (sign, renew, terminate, consent), follow-up
and health-check forms prefilled from Walking Hospital visits, the referral a follow-up
suggests, coverage against the year's targets, unsigned key-population residents, the fee split
and its Excel file, the teams.

Reads go through ``selectors`` / ``scoped()`` (out of scope: 404) and are audited; each write
is one POST calling one service, a DomainError becomes a message beside its field, never a 500;
a page's one-time token makes a resubmission harmless (core.idempotency)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from countycare.core import audit, idempotency
from countycare.core.decorators import login_required
from countycare.core.errors import DomainError
from countycare.core.scoping import scope_for, scoped
from countycare.familydoctor import coverage, fees, selectors, services
from countycare.familydoctor import followup as rules
from countycare.familydoctor import policy as fd_policy
from countycare.familydoctor.forms import (
    MED_KEYS,
    ContractForm,
    FollowUpForm,
    HealthCheckForm,
    ReferForm,
    RenewForm,
    TerminateForm,
    add_domain_error,
    lines_of,
)
from countycare.familydoctor.models import (
    CheckKind,
    Contract,
    ContractStatus,
    Program,
    Team,
    TeamMember,
)
from countycare.organizations import policy
from countycare.organizations.models import Institution, InstitutionType
from countycare.organizations.roles import Perm
from countycare.organizations.selectors import active_roles, primary_institution, residence_choices
from countycare.residents import selectors as resident_selectors
from countycare.residents.models import KeyPopulation

PAGE_SIZE = 50


def _p(perm: str) -> str:
    return f"countycare.{perm}"


def _require(user, *perms: str) -> None:
    if not (user.is_superuser or any(user.has_perm(_p(p)) for p in perms)):
        raise PermissionDenied(_("Your role does not take part in family-doctor work."))


def _resident(request: HttpRequest, pk: int):
    return get_object_or_404(
        resident_selectors.residents_for(request.user).select_related("home_village"), pk=pk
    )


def _run_once(request, form, operation: str, payload: dict, action) -> tuple[Any, bool]:
    """Run ``action`` once per page token (a double tap or a resend saves nothing twice)."""
    token = form.cleaned_data.get("token")
    if not token:
        return action(), False
    outcome = idempotency.run(
        user=request.user,
        key=token,
        operation=operation,
        payload=payload,
        action=lambda: (201, {"id": action().pk}),
    )
    return outcome.body["id"], outcome.replayed


def _year(request) -> int:
    raw = request.GET.get("year", "")
    today = timezone.localdate()
    if raw.isdigit() and 2000 <= int(raw) <= today.year + 1:
        return int(raw)
    return today.year


def _aggregate_root(request) -> Institution:
    """The institution a coverage or fee page is for: one in the user's area or under an
    institution where the user holds a role (aggregate roles included); default the user's
    own institution (the county for county-wide roles)."""
    user = request.user
    scope = scope_for(user)
    paths = [path for _r, _i, path in active_roles(user)]
    raw = request.GET.get("institution", "")
    if raw.isdigit():
        found = Institution.objects.filter(pk=int(raw)).first()
        if found is None:
            raise Http404
        if not (scope.county_wide or any(found.path.startswith(p) for p in paths)):
            raise Http404
        return found
    if scope.county_wide:
        county = Institution.objects.filter(type=InstitutionType.COUNTY).order_by("pk").first()
        if county is not None:
            return county
    home = primary_institution(user)
    if home is None:
        raise PermissionDenied(_("You hold no role at an institution."))
    return home


# --- due lists ------------------------------------------------------------------------------
@login_required
@require_GET
def due(request: HttpRequest) -> HttpResponse:
    """Follow-ups due and overdue (FD-08) per team and per family doctor, the referrals the
    follow-ups suggest, Walking Hospital visits to confirm, care plans of downward referrals,
    and the health checks due this year."""
    user = request.user
    _require(user, Perm.FOLLOW_UP, Perm.SIGN_CONTRACT)
    today = timezone.localdate()
    teams = list(selectors.teams_for(user))
    team = None
    raw_team = request.GET.get("team", "")
    if raw_team.isdigit():
        team = next((t for t in teams if t.pk == int(raw_team)), None)
        if team is None:
            raise Http404
    doctor = None
    mine = request.GET.get("mine", "")
    if mine == "1":
        doctor = user
    raw_doctor = request.GET.get("doctor", "")
    members: list[TeamMember] = []
    if team is not None:
        members = list(team.members.select_related("staff"))
        if raw_doctor.isdigit():
            member = next((m for m in members if m.staff_id == int(raw_doctor)), None)
            if member is None:
                raise Http404
            doctor = member.staff
    program = request.GET.get("program", "")
    if program not in Program.values:
        program = ""
    status = request.GET.get("status", "overdue")
    if status not in ("overdue", "due", "all"):
        status = "overdue"
    rows = selectors.due_list(
        user, team=team, doctor=doctor, program=program or None, status=status, day=today
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = selectors.due_counts(user, team=team, doctor=doctor, program=program or None)
    audit.log(
        audit.Action.SEARCH,
        actor=user,
        object_type="familydoctor.followup",
        detail={"list": "due", "status": status, "team": team.pk if team else None,
                "count": page.paginator.count},
    )  # fmt: skip
    context: dict[str, Any] = {
        "page": page,
        "teams": teams,
        "team": team,
        "members": members,
        "doctor": doctor,
        "mine": mine == "1",
        "program": program,
        "programs": Program.choices,
        "status": status,
        "counts": counts,
        "today": today,
        "required": int(policy.value(fd_policy.FOLLOW_UPS_PER_YEAR)),
        "suggestions": list(selectors.referral_suggestions(user)[:20]),
        "visits": list(selectors.visits_to_confirm(user)[:20]),
        "checks_due": selectors.health_checks_due(user).count(),
    }
    try:
        from countycare.referrals import selectors as referral_selectors

        context["care_plans"] = list(
            referral_selectors.care_plans_for_family_doctor(
                user, due_before=today + dt.timedelta(days=7)
            )[:20]
        )
    except ImportError:  # pragma: no cover — referrals not installed
        context["care_plans"] = []
    return render(request, "familydoctor/due.html", context)


@login_required
@require_GET
def checks_due(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require(user, Perm.FOLLOW_UP)
    page = Paginator(selectors.health_checks_due(user), PAGE_SIZE).get_page(request.GET.get("page"))
    audit.log(audit.Action.SEARCH, actor=user, object_type="familydoctor.healthcheck",
              detail={"list": "checks_due", "count": page.paginator.count})  # fmt: skip
    return render(request, "familydoctor/checks_due.html", {"page": page})


# --- contracts ------------------------------------------------------------------------------
@login_required
@require_GET
def contract_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require(user, Perm.SIGN_CONTRACT, Perm.FOLLOW_UP, Perm.MANAGE_TEAMS)
    qs = selectors.contracts_for(user).select_related(
        "resident", "resident__home_village", "team", "doctor"
    )
    status = request.GET.get("status", "")
    if status in ContractStatus.values:
        qs = qs.filter(status=status)
    teams = list(selectors.teams_for(user))
    raw_team = request.GET.get("team", "")
    team = next((t for t in teams if raw_team.isdigit() and t.pk == int(raw_team)), None)
    if team is not None:
        qs = qs.filter(team=team)
    query = request.GET.get("q", "").strip()[:50]
    if query:
        found = resident_selectors.search_residents(user, query, limit=None)
        qs = qs.filter(resident__in=found.values("pk"))
    if request.GET.get("ending") == "1":
        today = timezone.localdate()
        window = int(policy.value(fd_policy.RENEWAL_WINDOW_DAYS))
        qs = qs.filter(status=ContractStatus.ACTIVE, end_on__lte=today + dt.timedelta(days=window))
    page = Paginator(qs.order_by("-start_on", "-pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    audit.log(audit.Action.SEARCH, actor=user, object_type="familydoctor.contract",
              detail={"list": "contracts", "q": query[:20], "count": page.paginator.count})  # fmt: skip
    return render(
        request,
        "familydoctor/contracts.html",
        {
            "page": page,
            "statuses": ContractStatus.choices,
            "status": status,
            "teams": teams,
            "team": team,
            "q": query,
            "ending": request.GET.get("ending") == "1",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def contract_new(request: HttpRequest, resident: int) -> HttpResponse:
    user = request.user
    _require(user, Perm.SIGN_CONTRACT)
    person = _resident(request, resident)
    teams = list(selectors.teams_serving(person))
    current = selectors.contract_in_force(user, person)
    if request.method == "POST":
        form = ContractForm(teams, request.POST, request.FILES)
        if form.is_valid():
            d = form.cleaned_data

            def sign():
                return services.sign_contract(
                    user, resident=person.pk, team=d["team"], doctor=d.get("doctor"),
                    packages=d["packages"], consent_method=d["consent_method"],
                    consent=form.consent(), start_on=d.get("start_on"),
                )  # fmt: skip

            try:
                pk, replayed = _run_once(
                    request, form, "familydoctor.sign-page",
                    {"resident": person.pk, **form.payload()}, sign,
                )  # fmt: skip
            except DomainError as exc:
                add_domain_error(form, exc)
                if exc.code in ("idempotency_key_reused", "idempotency_key"):
                    form.renew_token()
            else:
                if replayed:
                    messages.info(request, _("This contract was already saved."))
                else:
                    messages.success(request, _("Contract signed."))
                return redirect("familydoctor:contract", pk=pk)
    else:
        form = ContractForm(teams)
        audit.log(audit.Action.READ, actor=user, obj=person, detail={"view": "contract_form"})
    return render(
        request,
        "familydoctor/contract_new.html",
        {"resident": person, "form": form, "teams": teams, "current": current},
    )


@login_required
@require_GET
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    contract = selectors.contract_detail(user, pk)
    if contract is None:
        raise Http404
    audit.log(audit.Action.READ, actor=user, obj=contract)
    today = timezone.localdate()
    window = int(policy.value(fd_policy.RENEWAL_WINDOW_DAYS))
    can_sign = user.has_perm(_p(Perm.SIGN_CONTRACT))
    renewable = (
        can_sign
        and contract.status in (ContractStatus.ACTIVE, ContractStatus.EXPIRED)
        and not hasattr(contract, "renewal")
        and contract.end_on - dt.timedelta(days=window) <= today
    )
    return render(
        request,
        "familydoctor/contract.html",
        {
            "contract": contract,
            "in_force": contract.in_force_on(today),
            "renewal": getattr(contract, "renewal", None),
            "renewable": renewable,
            "renew_form": RenewForm() if renewable else None,
            "terminable": can_sign
            and contract.status in (ContractStatus.ACTIVE, ContractStatus.RENEWED),
            "terminate_form": TerminateForm(),
            "follow_ups": selectors.follow_ups_for(user).filter(contract=contract)[:20],
        },
    )


@login_required
@require_GET
def contract_consent(request: HttpRequest, pk: int) -> HttpResponse:
    contract = selectors.contract_detail(request.user, pk)
    if contract is None or not contract.consent_file:
        raise Http404
    audit.log(audit.Action.READ, actor=request.user, obj=contract, detail={"file": "consent"})
    name = contract.consent_file.name.rsplit("/", 1)[-1]
    return FileResponse(contract.consent_file.open("rb"), filename=name)


@login_required
@require_POST
def contract_renew(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    _require(user, Perm.SIGN_CONTRACT)
    contract = selectors.contract_detail(user, pk)
    if contract is None:
        raise Http404
    form = RenewForm(request.POST, request.FILES)
    if form.is_valid():
        d = form.cleaned_data
        try:
            new_pk, _replayed = _run_once(
                request, form, "familydoctor.renew-page", {"contract": pk, **form.payload()},
                lambda: services.renew_contract(
                    user, pk, consent_method=d["consent_method"], consent=form.consent()
                ),
            )  # fmt: skip
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Contract renewed."))
            return redirect("familydoctor:contract", pk=new_pk)
    else:
        messages.error(request, _("Check the renewal form."))
    return redirect("familydoctor:contract", pk=pk)


@login_required
@require_POST
def contract_terminate(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    _require(user, Perm.SIGN_CONTRACT)
    if selectors.contract_detail(user, pk) is None:
        raise Http404
    form = TerminateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose the reason for ending the contract."))
        return redirect("familydoctor:contract", pk=pk)
    d = form.cleaned_data
    try:
        services.terminate_contract(user, pk, reason=d["reason"], note=d["note"], on=d["on"])
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Contract terminated."))
    return redirect("familydoctor:contract", pk=pk)


# --- follow-ups -----------------------------------------------------------------------------
def _locked_from_visit(user, person, visit_id) -> tuple[Any, dict, list]:
    try:
        visit, observations = services.visit_observations(user, person, visit_id)
    except DomainError:
        raise Http404 from None
    values = services.measures_of(observations)
    return visit, {k: f"{v.normalize():f}" for k, v in values.items()}, observations


@login_required
@require_http_methods(["GET", "POST"])
def follow_up_new(request: HttpRequest, resident: int) -> HttpResponse:
    user = request.user
    _require(user, Perm.FOLLOW_UP)
    person = _resident(request, resident)
    program = request.POST.get("program") or request.GET.get("program") or ""
    if program not in Program.values:
        tags = [kp["key"] for kp in resident_selectors.key_populations_of(person)]
        program = next((p for p in Program.values if p in tags), Program.HYPERTENSION)
    raw_visit = request.POST.get("visit") or request.GET.get("visit") or ""
    visit, locked, observations = (None, {}, [])
    if raw_visit.isdigit():
        visit, locked, observations = _locked_from_visit(user, person, int(raw_visit))
    last = selectors.resident_follow_ups(user, person, program=program).first()
    if request.method == "POST":
        form = FollowUpForm(program, request.POST, locked=locked)
        if form.is_valid():
            kwargs = form.service_kwargs()
            try:
                pk, replayed = _run_once(
                    request, form, "familydoctor.follow-up-page",
                    {"resident": person.pk, **form.payload()},
                    lambda: services.record_follow_up(user, resident=person.pk, **kwargs),
                )  # fmt: skip
            except DomainError as exc:
                add_domain_error(form, exc)
                if exc.code in ("idempotency_key_reused", "idempotency_key"):
                    form.renew_token()
            else:
                if replayed:
                    messages.info(request, _("This follow-up was already saved."))
                else:
                    messages.success(request, _("Follow-up saved."))
                return redirect("familydoctor:follow-up", pk=pk)
    else:
        initial: dict[str, Any] = {"followed_on": timezone.localdate()}
        if visit is not None:
            initial.update(visit=visit.pk, followed_on=timezone.localdate(visit.visited_at),
                           method="home" if visit.setting == "home" else "clinic")  # fmt: skip
        if last is not None:
            # Carry the medication over: the doctor confirms or changes it.
            initial["medications"] = lines_of(last.medications, MED_KEYS)
            initial["adherence"] = last.adherence
        form = FollowUpForm(program, initial=initial, locked=locked)
        audit.log(audit.Action.READ, actor=user, obj=person, detail={"view": "follow_up_form"})
    from countycare.telemed.models import Visit

    recent_visits = list(
        scoped(user, Visit)
        .filter(resident=person, visited_at__gte=timezone.now() - dt.timedelta(days=30))
        .prefetch_related("observations")
        .order_by("-visited_at")[:5]
    )
    tags = {kp["key"] for kp in resident_selectors.key_populations_of(person)}
    return render(
        request,
        "familydoctor/follow_up_new.html",
        {
            "resident": person,
            "form": form,
            "program": program,
            "programs": [(p, label) for p, label in Program.choices if p in tags],
            "visit": visit,
            "observations": observations,
            "locked": locked,
            "recent_visits": recent_visits,
            "last": last,
            "contract": selectors.contract_in_force(user, person),
            "max_weeks": int(policy.value(fd_policy.LONG_PRESCRIPTION_MAX_WEEKS)),
            "is_smd": program == Program.SEVERE_MENTAL_DISORDER,
            "is_dm": program == Program.TYPE2_DIABETES,
            "lifestyle_fields": [form[k] for k in FollowUpForm.LIFESTYLE],
        },
    )


@login_required
@require_GET
def follow_up_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    follow_up = selectors.follow_up_detail(user, pk)
    if follow_up is None:
        raise Http404
    audit.log(audit.Action.READ, actor=user, obj=follow_up)
    rule_set = rules.Rules.current(services.community_of(follow_up.institution))
    symptom_labels = dict(rules.SYMPTOMS[follow_up.program])
    danger_labels = dict(rules.DANGER_SIGNS[follow_up.program])
    lifestyle = [
        (rules.LIFESTYLE[k][0], rules.SALT_LABELS.get(v, v) if k == "salt" else v)
        for k, v in follow_up.lifestyle.items()
        if k in rules.LIFESTYLE
    ]
    return render(
        request,
        "familydoctor/follow_up.html",
        {
            "f": follow_up,
            "symptoms": [symptom_labels.get(s, s) for s in follow_up.symptoms],
            "danger_signs": [danger_labels.get(s, s) for s in follow_up.danger_signs],
            "triggers": [rule_set.trigger_text(t) for t in follow_up.referral_triggers],
            "lifestyle": lifestyle,
            "prescription": getattr(follow_up, "long_prescription", None),
            "can_refer": user.has_perm(_p(Perm.REFER)) and user.has_perm(_p(Perm.FOLLOW_UP)),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def follow_up_refer(request: HttpRequest, pk: int) -> HttpResponse:
    """The upward referral a follow-up's triggers suggest, prefilled (reason from the triggers
    and measurements, the program's diagnosis, urgency, the department the catalog names) and
    sent through the referrals app's service (REF-01, FD-08)."""
    from countycare.referrals import selectors as referral_selectors
    from countycare.referrals import services as referral_services
    from countycare.referrals.models import Urgency

    user = request.user
    _require(user, Perm.REFER)
    follow_up = selectors.follow_up_detail(user, pk)
    if follow_up is None:
        raise Http404
    if follow_up.referral_id:
        return redirect("referrals:detail", pk=follow_up.referral_id)
    departments = list(referral_selectors.departments().select_related("institution"))
    code, name = services.PROGRAM_DIAGNOSIS[follow_up.program]
    suggested = None
    institution = primary_institution(user)
    if institution is not None:
        try:
            advice = referral_services.suggestion(institution, code)
            suggested = next(iter(advice.get("departments") or []), None)
        except DomainError:
            suggested = None
    if request.method == "POST":
        form = ReferForm(departments, Urgency.choices, request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                referral = services.refer_from(
                    user, follow_up.pk, department=d["department"], reason=d["reason"],
                    diagnosis_code=d["diagnosis_code"], diagnosis_name=d["diagnosis_name"],
                    urgency=d["urgency"],
                )  # fmt: skip
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("Referral %(n)s sent.") % {"n": referral.number})
                return redirect("referrals:detail", pk=referral.pk)
    else:
        form = ReferForm(
            departments,
            Urgency.choices,
            initial={
                "reason": services.suggested_reason(follow_up),
                "diagnosis_code": code,
                "diagnosis_name": name,
                "urgency": "urgent" if follow_up.referral_urgency == "urgent" else "routine",
                "department": suggested["id"] if suggested else None,
            },
        )
    return render(
        request, "familydoctor/refer.html", {"f": follow_up, "form": form, "suggested": suggested}
    )


# --- health checks --------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def health_check_new(request: HttpRequest, resident: int) -> HttpResponse:
    from countycare.telemed.models import Report, ReportStatus

    user = request.user
    _require(user, Perm.FOLLOW_UP)
    person = _resident(request, resident)
    raw_visit = request.POST.get("visit") or request.GET.get("visit") or ""
    visit, locked, observations = (None, {}, [])
    if raw_visit.isdigit():
        visit, locked, observations = _locked_from_visit(user, person, int(raw_visit))
    since = timezone.now() - dt.timedelta(days=90)
    reports = list(
        scoped(user, Report)
        .filter(order__resident=person, status=ReportStatus.SIGNED, signed_at__gte=since)
        .select_related("order__service")
        .order_by("-signed_at")[:20]
    )
    elderly = person.age >= int(policy.value(policy.ELDERLY_AGE))
    if request.method == "POST":
        form = HealthCheckForm(reports, request.POST, locked=locked)
        if form.is_valid():
            kwargs = form.service_kwargs()
            try:
                pk, _replayed = _run_once(
                    request, form, "familydoctor.check-page",
                    {"resident": person.pk, **form.payload()},
                    lambda: services.record_health_check(user, resident=person.pk, **kwargs),
                )  # fmt: skip
            except DomainError as exc:
                add_domain_error(form, exc)
                if exc.code in ("idempotency_key_reused", "idempotency_key"):
                    form.renew_token()
            else:
                messages.success(request, _("Health check saved."))
                return redirect("familydoctor:health-check", pk=pk)
    else:
        initial: dict[str, Any] = {
            "kind": CheckKind.ELDERLY if elderly else CheckKind.CHRONIC,
            "checked_on": timezone.localdate(),
            "reports": [r.pk for r in reports],
        }
        found = {"blood_pressure"} if "systolic_bp" in locked else set()
        codes = {o.code for o in observations}
        for item, (_label, item_codes) in rules.CHECK_ITEMS.items():
            if codes & set(item_codes):
                found.add(item)
        for r in reports:
            kind = getattr(r.order.service, "modality", "") or ""
            if "ecg" in kind.lower():
                found.add("ecg")
            if "us" in kind.lower() or "ultra" in kind.lower():
                found.add("ultrasound")
        initial["items_done"] = sorted(found)
        if visit is not None:
            initial.update(visit=visit.pk, checked_on=timezone.localdate(visit.visited_at))
        form = HealthCheckForm(reports, initial=initial, locked=locked)
        audit.log(audit.Action.READ, actor=user, obj=person, detail={"view": "health_check_form"})
    return render(
        request,
        "familydoctor/health_check_new.html",
        {"resident": person, "form": form, "visit": visit, "locked": locked},
    )


@login_required
@require_GET
def health_check_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from countycare.familydoctor.models import HealthCheck

    user = request.user
    check = (
        scoped(user, HealthCheck)
        .select_related("resident", "resident__home_village", "institution", "performed_by")
        .prefetch_related("reports__order__service")
        .filter(pk=pk)
        .first()
    )
    if check is None:
        raise Http404
    audit.log(audit.Action.READ, actor=user, obj=check)
    items = [(label, code in check.items_done) for code, (label, _c) in rules.CHECK_ITEMS.items()]
    return render(request, "familydoctor/health_check.html", {"check": check, "items": items})


# --- coverage -------------------------------------------------------------------------------
def _row(node: coverage.Node, target: float | None, key_target: float | None, rise: float):
    c, prev = node.counts, node.previous
    rate, key_rate = c.rate, c.key_rate
    prev_rate = prev.rate if prev is not None else None
    change = round(rate - prev_rate, 1) if rate is not None and prev_rate is not None else None
    return {
        "institution": node.institution,
        "counts": c,
        "rate": rate,
        "key_rate": key_rate,
        "met": rate is not None and target is not None and rate >= target,
        "key_met": key_rate is not None and key_target is not None and key_rate >= key_target,
        "change": change,
        # FD-02: +1 point a year at least, until the target is met.
        "rise_short": change is not None
        and change < rise
        and not (target is not None and rate is not None and rate >= target),
        "is_village": node.institution.type not in coverage.LEVEL_TYPES and not node.children,
    }


@login_required
@require_GET
def coverage_page(request: HttpRequest) -> HttpResponse:
    """Contract coverage of all residents and of each key population for a village, township
    or the county against the year's targets (FD-01/FD-02), with the year before."""
    user = request.user
    _require(user, Perm.VIEW_AGGREGATES, Perm.SIGN_CONTRACT, Perm.FOLLOW_UP, Perm.MANAGE_TEAMS)
    root = _aggregate_root(request)
    year = _year(request)
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    community = coverage._community(root)
    target = coverage.target_for(fd_policy.COVERAGE_TARGET, year, community)
    key_target = coverage.target_for(fd_policy.KEY_COVERAGE_TARGET, year, community)
    rise = float(policy.value(fd_policy.COVERAGE_MIN_ANNUAL_RISE, community))
    node = coverage.tree(root, start, end, previous=True)
    head = _row(node, target, key_target, rise)
    children = sorted(
        (_row(child, target, key_target, rise) for child in node.children),
        key=lambda r: r["institution"].path,
    )
    populations = [
        {
            "key": key,
            "label": KeyPopulation(key).label,
            "residents": node.counts.groups[key][0],
            "contracted": node.counts.groups[key][1],
            "rate": node.counts.group_rate(key),
            "met": (node.counts.group_rate(key) or 0) >= (key_target or 0),
        }
        for key in coverage.POPULATIONS
        if node.counts.groups[key][0]
    ]
    chart = [
        {
            "name": r["institution"].short_name or r["institution"].name,
            "value": r["rate"],
            "key": r["key_rate"],
            "target": target,
            "key_target": key_target,
            "met": r["met"],
        }
        for r in children
    ]
    parents = list(root.ancestors().exclude(pk=root.pk)) if root.path else []
    visible_paths = [p for _r, _i, p in active_roles(user)]
    crumbs = [
        p
        for p in parents
        if scope_for(user).county_wide or any(p.path.startswith(v) for v in visible_paths)
    ]
    return render(
        request,
        "familydoctor/coverage.html",
        {
            "root": root,
            "year": year,
            "years": list(range(timezone.localdate().year, timezone.localdate().year - 4, -1)),
            "head": head,
            "rows": children,
            "target": target,
            "key_target": key_target,
            "rise": rise,
            "populations": populations,
            "chart": chart,
            "crumbs": crumbs,
            "day": coverage.reference_day(start, end),
            "can_list": user.has_perm(_p(Perm.SIGN_CONTRACT)),
        },
    )


@login_required
@require_GET
def unsigned(request: HttpRequest) -> HttpResponse:
    """Key-population residents without a contract in force: the teams' visiting list."""
    user = request.user
    _require(user, Perm.SIGN_CONTRACT)
    village = None
    raw = request.GET.get("village", "")
    villages = list(residence_choices(user))
    if raw.isdigit():
        village = next((v for v in villages if v.pk == int(raw)), None)
        if village is None:
            raise Http404
    population = request.GET.get("population", "")
    if population not in KeyPopulation.values:
        population = ""
    qs = selectors.unsigned_key_population(user, village=village, population=population)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    audit.log(
        audit.Action.SEARCH, actor=user, object_type="residents.resident",
        detail={"list": "unsigned_key_population", "village": village.pk if village else None,
                "population": population, "count": page.paginator.count},
    )  # fmt: skip
    today = timezone.localdate()
    rows = []
    for person in page:
        rows.append(
            {"resident": person, "groups": resident_selectors.key_populations_of(person, today)}
        )
    return render(
        request,
        "familydoctor/unsigned.html",
        {
            "page": page,
            "rows": rows,
            "villages": villages,
            "village": village,
            "population": population,
            "populations": KeyPopulation.choices,
        },
    )


# --- fee split ------------------------------------------------------------------------------
def _period(request) -> tuple[dt.date, dt.date]:
    year = _year(request)
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    for name in ("start", "end"):
        raw = request.GET.get(name, "")
        try:
            day = dt.date.fromisoformat(raw) if raw else None
        except ValueError:
            day = None
        if day is not None:
            start, end = (day, end) if name == "start" else (start, day)
    if end < start:
        start, end = end, start
    return start, end


@login_required
@require_GET
def fee_split(request: HttpRequest) -> HttpResponse:
    """Contract fee income per team and its allocation (FD-04), exportable to Excel."""
    user = request.user
    _require(user, Perm.MANAGE_TEAMS, Perm.VIEW_AGGREGATES)
    root = _aggregate_root(request)
    start, end = _period(request)
    teams = (
        Team.objects.filter(institution__path__startswith=root.path)
        .select_related("institution")
        .order_by("institution__path", "name")
    )
    rows = fees.allocate(teams, start, end)
    if request.GET.get("format") == "xlsx":
        audit.log(audit.Action.EXPORT, actor=user, object_type="familydoctor.team",
                  detail={"export": "fee_split", "start": str(start), "end": str(end),
                          "institution": root.pk})  # fmt: skip
        response = HttpResponse(
            fees.workbook(rows, start, end),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="contract-fees-{start:%Y%m%d}-{end:%Y%m%d}.xlsx"'
        )
        return response
    totals = {
        "income": sum(r.income for r in rows),
        "staff": sum(r.staff_amount for r in rows),
        "institution": sum(r.institution_amount for r in rows),
        "contracts": sum(r.contracts for r in rows),
    }
    return render(
        request,
        "familydoctor/fees.html",
        {
            "root": root,
            "rows": rows,
            "start": start,
            "end": end,
            "totals": totals,
            "minimum": float(policy.value(fd_policy.TEAM_FEE_SHARE_MIN)),
            "year": start.year,
        },
    )


@login_required
@require_GET
def teams(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require(user, Perm.SIGN_CONTRACT, Perm.FOLLOW_UP, Perm.MANAGE_TEAMS, Perm.VIEW_AGGREGATES)
    today = timezone.localdate()
    qs = selectors.teams_for(user).prefetch_related(
        Prefetch("members", queryset=TeamMember.objects.select_related("staff")),
        "villages",
    )
    counts = dict(
        Contract.objects.filter(selectors.in_force_q(today), team__in=qs.values("pk"))
        .values_list("team_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return render(
        request,
        "familydoctor/teams.html",
        {"teams": [(t, counts.get(t.pk, 0)) for t in qs], "today": today},
    )
