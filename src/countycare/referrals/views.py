"""Pages of two-way referral and appointments (issue 6): the referral board of an
institution, the list, a new referral (up, down, out), the referral with the receiving and
referring sides' actions, the disease catalogs (upload), free slots and booking.

Reads go through ``selectors`` / ``scoped()`` (out of scope: 404); each write is one POST
calling one service, and a DomainError becomes a message on the page, never a 500."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from countycare.core import audit
from countycare.core.decorators import login_required
from countycare.core.errors import DomainError
from countycare.core.scoping import scoped
from countycare.organizations.models import Institution
from countycare.organizations.roles import Perm
from countycare.organizations.selectors import active_roles, primary_institution
from countycare.referrals import appointments, catalogs, selectors, services
from countycare.referrals.models import (
    AcceptMode,
    CatalogEntry,
    CatalogLevel,
    Direction,
    ReferralStatus,
    Urgency,
)
from countycare.residents import selectors as resident_selectors

S = ReferralStatus
PERMS = (Perm.REFER, Perm.RECEIVE_REFERRAL, Perm.MANAGE_SCHEDULES, Perm.MANAGE_MASTER_DATA)


def _p(perm: str) -> str:
    return f"countycare.{perm}"


def _require_any(user, *perms: str) -> None:
    if not (user.is_superuser or any(user.has_perm(_p(p)) for p in perms)):
        raise PermissionDenied(_("Your role does not take part in referrals."))


def _my_institutions(user) -> list[Institution]:
    ids = [inst for _role, inst, _path in active_roles(user)]
    return list(Institution.objects.filter(pk__in=ids).order_by("path"))


def _waiting(delta: dt.timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return _("%(m)d min") % {"m": minutes}
    hours = minutes // 60
    if hours < 48:
        return _("%(h)d h") % {"h": hours}
    return _("%(d)d days") % {"d": hours // 24}


# --- board ------------------------------------------------------------------------------------
@login_required
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    """Open referrals of an institution by state, waiting time, overdue first (REF-01), the
    unread hand-over notifications, and (for aggregate roles) this month's figures."""
    user = request.user
    _require_any(user, *PERMS, Perm.VIEW_AGGREGATES)
    mine = _my_institutions(user)
    chosen = None
    raw = request.GET.get("institution", "")
    if raw.isdigit():
        chosen = next((i for i in mine if i.pk == int(raw)), None)
        if chosen is None:
            raise Http404
    chosen = chosen or primary_institution(user)
    context: dict[str, Any] = {"institutions": mine, "institution": chosen}
    if chosen is not None and any(user.has_perm(_p(p)) for p in PERMS[:3]):
        data = selectors.board(user, chosen)
        for row in data["rows"]:
            row.waiting_text = _waiting(row.waiting)
        context.update(data)
        context["count_rows"] = [
            {"side": side, "status": S(st).label, "code": st, "n": n}
            for (side, st), n in sorted(data["counts"].items())
        ]
    if chosen is not None and user.has_perm(_p(Perm.VIEW_AGGREGATES)):
        today = timezone.localdate()
        context["figures"] = selectors.figures(chosen, today.replace(day=1), today)
    context["notifications"] = list(selectors.unread_notifications(user)[:20])
    if user.has_perm(_p(Perm.REFER)):
        query = request.GET.get("q", "").strip()
        context["q"] = query
        if query:
            context["found"] = list(resident_selectors.search_residents(user, query, limit=20))
        try:
            from countycare.telemed.selectors import open_alerts

            context["alerts"] = list(open_alerts(user)[:10])
        except ImportError:  # pragma: no cover — the Walking Hospital is not installed
            context["alerts"] = []
    return render(request, "referrals/board.html", context)


@login_required
@require_GET
def referral_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_any(user, *PERMS)
    qs = selectors.referrals_for(user).order_by("-requested_at", "-pk")
    direction = request.GET.get("direction", "")
    status = request.GET.get("status", "")
    if direction in Direction.values:
        qs = qs.filter(direction=direction)
    if status in S.values:
        qs = qs.filter(status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "referrals/list.html",
        {
            "page": page,
            "direction": direction,
            "status": status,
            "directions": Direction.choices,
            "statuses": S.choices,
        },
    )


# --- new referral -----------------------------------------------------------------------------
def _lines(text: str, keys: tuple[str, ...]) -> list[dict[str, str]]:
    """``血压|每周2次`` per line → [{"item": "血压", "frequency": "每周2次"}]."""
    out = []
    for line in (text or "").splitlines():
        parts = [p.strip() for p in line.replace("｜", "|").split("|")]
        if parts and parts[0]:
            out.append(dict(zip(keys, parts + [""] * len(keys), strict=False)))
    return out


@login_required
@require_http_methods(["GET", "POST"])
def referral_new(request: HttpRequest, resident: int) -> HttpResponse:
    user = request.user
    person = get_object_or_404(
        resident_selectors.residents_for(user).select_related("home_village"), pk=resident
    )
    direction = request.POST.get("direction") or request.GET.get("direction") or Direction.UP
    if direction not in Direction.values:
        raise Http404
    _require_any(user, Perm.RECEIVE_REFERRAL if direction == Direction.DOWN else Perm.REFER)
    from countycare.telemed.models import CriticalAlert, Report, ReportStatus

    reports = list(
        scoped(user, Report)
        .filter(order__resident=person, status=ReportStatus.SIGNED)
        .select_related("order__service")
        .order_by("-signed_at")[:20]
    )
    alert = None
    alert_id = request.POST.get("critical_alert") or request.GET.get("alert") or ""
    if alert_id.isdigit():
        alert = scoped(user, CriticalAlert).filter(pk=int(alert_id), resident=person).first()
    values: dict[str, Any] = {
        "urgency": "urgent" if alert else "routine",
        "reports": [str(r) for r in request.GET.getlist("report")],
        "diagnosis_code": "",
        "diagnosis_name": "",
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in request.POST}
        values["reports"] = request.POST.getlist("reports")
        try:
            common = {
                "reason": request.POST.get("reason", ""),
                "diagnosis_code": request.POST.get("diagnosis_code", ""),
                "diagnosis_name": request.POST.get("diagnosis_name", ""),
            }
            if direction == Direction.UP:
                referral = services.refer_up(
                    user, resident=person.pk, department=request.POST.get("department"),
                    urgency=request.POST.get("urgency", "routine"),
                    critical_alert=alert.pk if alert else None,
                    reports=request.POST.getlist("reports"), **common,
                )  # fmt: skip
            elif direction == Direction.OUT:
                referral = services.refer_out(
                    user, resident=person.pk, destination=request.POST.get("destination", ""),
                    urgency=request.POST.get("urgency", "routine"),
                    reports=request.POST.getlist("reports"), **common,
                )  # fmt: skip
            else:
                referral = services.refer_down(
                    user, resident=person.pk, to_institution=request.POST.get("to_institution"),
                    care_plan={
                        "follow_up_items": _lines(request.POST.get("follow_up_items", ""),
                                                  ("item", "frequency")),
                        "medicines": _lines(request.POST.get("medicines", ""),
                                            ("name", "dose", "frequency")),
                        "next_review_on": request.POST.get("next_review_on", ""),
                        "notes": request.POST.get("notes", ""),
                    },
                    **common,
                )  # fmt: skip
        except DomainError as exc:
            errors[exc.field or "__all__"] = str(exc.message)
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Referral %(n)s sent.") % {"n": referral.number})
            return redirect("referrals:detail", pk=referral.pk)
    context = {
        "resident": person,
        "direction": direction,
        "directions": Direction.choices,
        "urgencies": Urgency.choices,
        "departments": selectors.departments(),
        "targets": Institution.objects.filter(
            is_active=True,
            type__in=(
                "township_health_center",
                "community_health_center",
                "village_clinic",
                "community_health_station",
            ),
        ).order_by("path"),
        "reports": reports,
        "alert": alert,
        "values": values,
        "errors": errors,
    }
    return render(request, "referrals/new.html", context)


@login_required
@require_GET
def suggest(request: HttpRequest) -> HttpResponse:
    """htmx: is the typed diagnosis in the user's catalog? (REF-02)"""
    user = request.user
    _require_any(user, *PERMS)
    code = request.GET.get("diagnosis_code", "").strip()
    institution = primary_institution(user)
    result = None
    error = ""
    if code and institution is not None:
        try:
            result = services.suggestion(institution, code)
        except DomainError as exc:
            error = str(exc.message)
    return render(request, "referrals/_suggest.html", {"result": result, "error": error})


# --- one referral -----------------------------------------------------------------------------
@login_required
@require_GET
def referral_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    referral = selectors.referral_detail(user, pk)
    if referral is None:
        raise Http404
    audit.log(audit.Action.READ, actor=user, obj=referral)
    receiving = services.is_receiver(user, referral)
    referring = referral.referred_by_id == user.pk or services.acts_for(
        user,
        referral.from_institution,
        Perm.RECEIVE_REFERRAL if referral.direction == Direction.DOWN else Perm.REFER,
    )
    free = []
    if receiving and referral.direction == Direction.UP and referral.status == S.REQUESTED:
        free = (
            list(selectors.free_slots(referral.to_department)[:60])
            if referral.to_department
            else []
        )
    context = {
        "referral": referral,
        "due": selectors.due_at(referral),
        "overdue": selectors.is_overdue(referral),
        "receiving": receiving,
        "referring": referring,
        "approver": referral.direction == Direction.OUT and services.can_approve_out(user),
        "free_slots": free,
        "accept_modes": [m for m in AcceptMode.choices if m[0] != AcceptMode.FOLLOW_UP],
        "targets": Institution.objects.filter(
            is_active=True,
            type__in=("township_health_center", "community_health_center", "village_clinic"),
        ).order_by("path"),
        "today": timezone.localdate(),
        "reports": list(referral.reports.all()),
        "observations": list(referral.observations.all()),
    }
    return render(request, "referrals/detail.html", context)


ACTIONS = ("accept", "decline", "cancel", "arrive", "discharge", "approve")


@login_required
@require_POST
def referral_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404
    user = request.user
    if selectors.referral_detail(user, pk) is None:
        raise Http404
    post = request.POST
    try:
        if action == "accept":
            services.accept(
                user, pk, mode=post.get("mode", ""), slot=post.get("slot") or None,
                bed=post.get("bed", ""), admission_on=post.get("admission_on") or None,
            )  # fmt: skip
        elif action == "decline":
            services.decline(user, pk, reason=post.get("reason", ""))
        elif action == "cancel":
            services.cancel(user, pk, reason=post.get("reason", ""))
        elif action == "arrive":
            services.arrive(user, pk)
        elif action == "approve":
            services.approve(user, pk, reason=post.get("reason", ""))
        else:
            down = None
            if post.get("to_institution"):
                down = {
                    "to_institution": post.get("to_institution"),
                    "reason": post.get("down_reason", ""),
                    "care_plan": {
                        "follow_up_items": _lines(post.get("follow_up_items", ""),
                                                  ("item", "frequency")),
                        "medicines": _lines(post.get("medicines", ""),
                                            ("name", "dose", "frequency")),
                        "next_review_on": post.get("next_review_on", ""),
                        "notes": post.get("notes", ""),
                    },
                }  # fmt: skip
            services.discharge(user, pk, note=post.get("note", ""), down=down)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Saved."))
    return redirect("referrals:detail", pk=pk)


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    services.mark_read(request.user, request.POST.getlist("ids"))
    return redirect("referrals:board")


# --- catalogs ---------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def catalogs_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_any(user, *PERMS)
    row_errors: list[dict] = []
    can_upload = user.has_perm(_p(Perm.MANAGE_SCHEDULES))
    if request.method == "POST":
        if not can_upload:
            raise PermissionDenied
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, _("Choose a file."))
        else:
            try:
                result = catalogs.import_catalog(
                    user, upload.read(catalogs.MAX_UPLOAD_BYTES + 1), upload.name
                )
            except DomainError as exc:
                messages.error(request, str(exc.message))
                row_errors = exc.extra.get("rows", [])
            else:
                messages.success(
                    request,
                    _("Catalog updated: %(counts)s")
                    % {"counts": ", ".join(f"{CatalogLevel(k).label} {v}" for k, v in result.counts.items())},
                )  # fmt: skip
                for warning in result.warnings:
                    messages.warning(request, warning)
                return redirect("referrals:catalogs")
    level = request.GET.get("level", "")
    levels = []
    for value, label in CatalogLevel.choices:
        levels.append(
            {
                "value": value,
                "label": label,
                "own": CatalogEntry.objects.filter(catalog__level=value).count(),
                "total": CatalogEntry.objects.filter(
                    catalog__level__in=catalogs.levels_up_to(value)
                )
                .values("code")
                .distinct()
                .count(),
            }
        )
    entries = (
        CatalogEntry.objects.filter(catalog__level=level).order_by("code")
        if level in CatalogLevel.values
        else []
    )
    from countycare.organizations import policy
    from countycare.referrals import policy as referral_policy

    return render(
        request,
        "referrals/catalogs.html",
        {
            "levels": levels,
            "level": level,
            "entries": entries,
            "sizes": policy.value(referral_policy.CATALOG_SIZES) or {},
            "can_upload": can_upload,
            "row_errors": row_errors,
        },
    )


# --- appointments -----------------------------------------------------------------------------
@login_required
@require_GET
def appointment_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_any(user, *PERMS)
    qs = selectors.appointments_for(user).filter(
        slot__starts_at__gte=timezone.now() - dt.timedelta(days=1)
    )
    page = Paginator(qs.order_by("slot__starts_at", "pk"), 50).get_page(request.GET.get("page"))
    return render(request, "referrals/appointments.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def slots_page(request: HttpRequest) -> HttpResponse:
    """Free slots of a department for the next two weeks; book one for a resident (REF-03:
    reserved slots marked, bookable by family doctors until the cut-off)."""
    user = request.user
    _require_any(user, *PERMS)
    depts = list(selectors.departments())
    raw = request.POST.get("department") or request.GET.get("department") or ""
    dept = next((d for d in depts if str(d.pk) == raw), depts[0] if depts else None)
    resident = None
    rid = request.POST.get("resident") or request.GET.get("resident") or ""
    if rid.isdigit():
        resident = resident_selectors.residents_for(user).filter(pk=int(rid)).first()
    if request.method == "POST":
        try:
            appointments.book(user, slot=request.POST.get("slot"), resident=rid)
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Appointment booked."))
            return redirect("referrals:appointments")
    start = parse_date(request.GET.get("from", "") or "") or timezone.localdate()
    slots = list(selectors.free_slots(dept, days=14)) if dept else []
    family = services.is_family_doctor(user)
    days: dict[dt.date, list] = {}
    now = timezone.now()
    for slot in slots:
        slot.locked = slot.reserved and not family and now < appointments.reserved_until(slot)
        days.setdefault(timezone.localtime(slot.starts_at).date(), []).append(slot)
    return render(
        request,
        "referrals/slots.html",
        {
            "departments": depts,
            "department": dept,
            "days": sorted(days.items()),
            "resident": resident,
            "family": family,
            "start": start,
            "can_book": user.has_perm(_p(Perm.REFER)) and resident is not None,
        },
    )


APPOINTMENT_ACTIONS = ("cancel", "no-show", "attended")


@login_required
@require_POST
def appointment_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in APPOINTMENT_ACTIONS:
        raise Http404
    user = request.user
    if not selectors.appointments_for(user).filter(pk=pk).exists():
        raise Http404
    try:
        if action == "cancel":
            appointments.cancel(user, pk, reason=request.POST.get("reason", ""))
        elif action == "no-show":
            appointments.mark_no_show(user, pk)
        else:
            appointments.mark_attended(user, pk)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Saved."))
    return redirect("referrals:appointments")
