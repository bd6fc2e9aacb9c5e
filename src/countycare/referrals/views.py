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
from countycare.organizations import policy
from countycare.organizations.models import Institution
from countycare.organizations.roles import Perm
from countycare.organizations.selectors import active_roles, primary_institution
from countycare.referrals import appointments, catalogs, selectors, services
from countycare.referrals import policy as referral_policy
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


def next_step(referral) -> str:
    """What the referral waits for, in words a doctor reads on the board."""
    r = referral
    if r.status == S.REQUESTED:
        return {
            Direction.UP: _("Waiting for the hospital's answer"),
            Direction.DOWN: _("Waiting to be taken over"),
            Direction.OUT: _("Waiting for approval"),
        }[r.direction]
    if r.status == S.ACCEPTED and r.direction == Direction.DOWN:
        return _("Taken over; waiting for the patient to report")
    if r.status == S.ACCEPTED and r.appointment_id:
        return _("Appointment %(time)s") % {
            "time": timezone.localtime(r.appointment.slot.starts_at).strftime("%m-%d %H:%M")
        }
    if r.status == S.ACCEPTED and r.admission_on:
        return _("Admission %(day)s, %(bed)s") % {
            "day": r.admission_on.strftime("%m-%d"),
            "bed": r.bed,
        }
    if r.status == S.ACCEPTED:
        return _("Emergency: the hospital is ready, patient on the way")
    if r.status == S.ARRIVED:
        return _("Arrived %(time)s; in care until discharge") % {
            "time": timezone.localtime(r.arrived_at).strftime("%m-%d %H:%M") if r.arrived_at else ""
        }
    return r.get_status_display()


# --- board ------------------------------------------------------------------------------------
@login_required
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    """Open referrals of an institution, received and sent, by state, with waiting time and
    the overdue ones first (policy timeouts, REF-01); critical values to refer, the unread
    hand-overs and (for aggregate roles) this month's figures."""
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
        depts = list(selectors.departments().filter(institution=chosen))
        dept = request.GET.get("department", "")
        incoming = data["incoming"]
        if dept.isdigit():
            incoming = [r for r in incoming if r.referral.to_department_id == int(dept)]
        for row in data["rows"]:
            row.waiting_text = _waiting(row.waiting)
            row.next_text = next_step(row.referral)
        context.update(data)
        context.update(incoming=incoming, board_departments=depts, department=dept)
        context["count_rows"] = {
            side: [
                {"status": S(st).label, "code": st, "n": n}
                for (sd, st), n in sorted(
                    data["counts"].items(), key=lambda kv: S.values.index(kv[0][1])
                )
                if sd == side
            ]
            for side in ("in", "out")
        }
        context["overdue_in"] = sum(1 for r in incoming if r.overdue)
        context["overdue_out"] = sum(1 for r in data["outgoing"] if r.overdue)
    if chosen is not None and user.has_perm(_p(Perm.VIEW_AGGREGATES)):
        today = timezone.localdate()
        context["figures"] = selectors.figures(chosen, today.replace(day=1), today)
    unread = selectors.unread_notifications(user)
    context["notifications"] = list(unread[:10])
    context["unread_count"] = unread.count()
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


def _lab_panels(user, person) -> list[dict[str, Any]]:
    """The resident's recognized lab results still valid, one checkbox per order (SHC-01):
    they travel with the referral instead of being repeated."""
    from countycare.lab.selectors import recognized_panels

    return [
        {
            "value": ",".join(str(r.observation_id) for r in panel.results),
            "panel": panel,
        }
        for panel in recognized_panels(user, person)
    ]


def _ids(values: list[str]) -> list[str]:
    return [part for value in values for part in value.split(",") if part.strip()]


@login_required
@require_http_methods(["GET", "POST"])
def referral_new(request: HttpRequest, resident: int) -> HttpResponse:
    """A new referral of one resident: upward (prefilled from a critical value when the
    doctor comes from one), downward with a care plan, or out of the county; the signed
    reports and the recognized lab results to send along are offered (SHC-01)."""
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
        alert = (
            scoped(user, CriticalAlert)
            .filter(pk=int(alert_id), resident=person)
            .select_related("observation", "order")
            .first()
        )
    lab_panels = _lab_panels(user, person) if direction != Direction.DOWN else []
    values: dict[str, Any] = {
        "urgency": "urgent" if alert else "routine",
        "reports": [str(r) for r in request.GET.getlist("report")],
        # Recognized results travel unless the doctor unticks them.
        "lab_panels": [p["value"] for p in lab_panels],
        "diagnosis_code": "",
        "diagnosis_name": "",
    }
    if alert is not None:
        values["reason"] = _("Critical value: %(message)s %(value)s (%(time)s)") % {
            "message": alert.message,
            "value": alert.value_shown,
            "time": timezone.localtime(alert.raised_at).strftime("%m-%d %H:%M"),
        }
        if alert.order_id:
            values["reports"] += [str(r.pk) for r in reports if r.order_id == alert.order_id]
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in request.POST}
        values["reports"] = request.POST.getlist("reports")
        values["lab_panels"] = request.POST.getlist("lab_panels")
        observations = _ids(values["lab_panels"])
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
                    reports=request.POST.getlist("reports"), observations=observations,
                    **common,
                )  # fmt: skip
            elif direction == Direction.OUT:
                referral = services.refer_out(
                    user, resident=person.pk, destination=request.POST.get("destination", ""),
                    urgency=request.POST.get("urgency", "routine"),
                    reports=request.POST.getlist("reports"), observations=observations,
                    **common,
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
        "directions": [
            (v, label)
            for v, label in Direction.choices
            if user.has_perm(_p(Perm.RECEIVE_REFERRAL if v == Direction.DOWN else Perm.REFER))
        ],
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
        "lab_panels": lab_panels,
        "diagnoses": catalogs.picker(),
        "review_days": policy.value(referral_policy.DOWN_REVIEW_DAYS),
        "alert": alert,
        "values": values,
        "errors": errors,
    }
    return render(request, "referrals/new.html", context)


@login_required
@require_GET
def suggest(request: HttpRequest) -> HttpResponse:
    """htmx: is the typed diagnosis in the catalog of the institution referring this
    resident? If not, say where it belongs and preselect the catalog's county department
    while the doctor has chosen none (REF-02)."""
    user = request.user
    _require_any(user, *PERMS)
    code = request.GET.get("diagnosis_code", "").strip()
    institution = None
    rid = request.GET.get("resident", "")
    if rid.isdigit():
        person = (
            resident_selectors.residents_for(user)
            .select_related("home_village")
            .filter(pk=int(rid))
            .first()
        )
        if person is not None:
            try:
                institution = services.institution_for(
                    user, Perm.REFER, serving=person.home_village
                )
            except DomainError:
                institution = None
    institution = institution or primary_institution(user)
    result = None
    error = ""
    if code and institution is not None:
        try:
            result = services.suggestion(institution, code)
        except DomainError as exc:
            error = str(exc.message)
    context: dict[str, Any] = {"result": result, "error": error}
    chosen = request.GET.get("department", "")
    if result and result["departments"] and not chosen and "department" in request.GET:
        context.update(
            departments=selectors.departments(),
            selected=str(result["departments"][0]["id"]),
            oob=True,
        )
    return render(request, "referrals/_suggest.html", context)


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
    answering = referral.status == S.REQUESTED or (
        referral.status == S.ACCEPTED and referral.accept_mode == AcceptMode.APPOINTMENT
    )
    if receiving and referral.direction == Direction.UP and answering and referral.to_department:
        free = list(selectors.free_slots(referral.to_department)[:60])
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
        "review_days": policy.value(referral_policy.DOWN_REVIEW_DAYS),
        "results": selectors.travelling_results(referral),
        "waiting": _waiting(timezone.now() - referral.requested_at),
        "children": list(
            selectors.referrals_for(user).filter(parent=referral).order_by("requested_at")
        ),
    }
    return render(request, "referrals/detail.html", context)


ACTIONS = ("accept", "decline", "cancel", "arrive", "discharge", "approve", "reschedule")


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
        elif action == "reschedule":
            services.reschedule(user, pk, slot=post.get("slot") or None,
                                reason=post.get("reason", ""))  # fmt: skip
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
    ids = request.POST.getlist("ids")
    if request.POST.get("all"):
        ids = list(selectors.unread_notifications(request.user).values_list("pk", flat=True))
    services.mark_read(request.user, ids)
    return redirect("referrals:board")


# --- catalogs ---------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def catalogs_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_any(user, *PERMS)
    row_errors: list[dict] = []
    can_upload = user.has_perm(_p(Perm.MANAGE_MASTER_DATA))
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
    entries = (
        CatalogEntry.objects.filter(catalog__level=level).order_by("code")
        if level in CatalogLevel.values
        else []
    )
    return render(
        request,
        "referrals/catalogs.html",
        {
            "levels": catalogs.level_summary(),
            "level": level,
            "entries": entries,
            "can_upload": can_upload,
            "row_errors": row_errors,
        },
    )


@login_required
@require_GET
def catalogs_export(request: HttpRequest) -> HttpResponse:
    """The catalogs as a CSV in the upload's format (UTF-8 with BOM, opens in Excel): the
    community office downloads, edits and uploads it again."""
    _require_any(request.user, *PERMS)
    response = HttpResponse(
        catalogs.export_csv().encode("utf-8-sig"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = "attachment; filename=disease-catalogs.csv"
    return response


# --- appointments -----------------------------------------------------------------------------
@login_required
@require_GET
def appointment_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_any(user, *PERMS)
    past = request.GET.get("when") == "past"
    since = timezone.now() - dt.timedelta(days=1)
    qs = selectors.appointments_for(user).select_related("referral", "booking_institution")
    if past:
        qs = qs.filter(slot__starts_at__lt=since).order_by("-slot__starts_at", "-pk")
    else:
        qs = qs.filter(slot__starts_at__gte=since).order_by("slot__starts_at", "pk")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    now = timezone.now()
    grace = dt.timedelta(minutes=int(policy.value(referral_policy.NO_SHOW_AFTER_MINUTES)))
    for a in page.object_list:
        a.hospital_side = services.acts_for(
            user, a.slot.session.department.institution, Perm.RECEIVE_REFERRAL
        )
        a.can_no_show = a.status == "booked" and now >= a.slot.starts_at + grace
    return render(request, "referrals/appointments.html", {"page": page, "past": past})


@login_required
@require_http_methods(["GET", "POST"])
def slots_page(request: HttpRequest) -> HttpResponse:
    """Free slots of a department for the next two weeks; pick one, confirm, booked for the
    resident (REF-03: reserved slots marked, bookable by family doctors until the cut-off)."""
    user = request.user
    _require_any(user, *PERMS)
    depts = list(selectors.departments())
    raw = request.POST.get("department") or request.GET.get("department") or ""
    dept = next((d for d in depts if str(d.pk) == raw), depts[0] if depts else None)
    resident = None
    rid = request.POST.get("resident") or request.GET.get("resident") or ""
    if rid.isdigit():
        resident = (
            resident_selectors.residents_for(user)
            .select_related("home_village")
            .filter(pk=int(rid))
            .first()
        )
    if request.method == "POST":
        try:
            appointment = appointments.book(user, slot=request.POST.get("slot"), resident=rid)
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(
                request,
                _("Appointment booked: %(resident)s, %(department)s, %(time)s.")
                % {
                    "resident": appointment.resident.name,
                    "department": appointment.slot.session.department,
                    "time": timezone.localtime(appointment.slot.starts_at).strftime(
                        "%Y-%m-%d %H:%M"
                    ),
                },
            )
            return redirect("referrals:appointments")
    slots = list(selectors.free_slots(dept, days=14)) if dept else []
    family = services.is_family_doctor(user)
    days: dict[dt.date, list] = {}
    now = timezone.now()
    chosen = None
    want = request.GET.get("slot", "")
    for slot in slots:
        slot.locked = slot.reserved and not family and now < appointments.reserved_until(slot)
        slot.opens_at = appointments.reserved_until(slot) if slot.locked else None
        days.setdefault(timezone.localtime(slot.starts_at).date(), []).append(slot)
        if str(slot.pk) == want and not slot.locked:
            chosen = slot
    return render(
        request,
        "referrals/slots.html",
        {
            "departments": depts,
            "department": dept,
            "days": sorted(days.items()),
            "resident": resident,
            "family": family,
            "chosen": chosen,
            "cutoff_hours": policy.value(referral_policy.RESERVED_CUTOFF_HOURS),
            "share": round(float(policy.value(referral_policy.RESERVED_SHARE)) * 100),
            "can_book": user.has_perm(_p(Perm.REFER)) and resident is not None,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def sessions_page(request: HttpRequest) -> HttpResponse:
    """Specialist clinic sessions (出诊排班) of the departments the user schedules: the next
    four weeks with booked/total, publish a session (its slots, REF-03's reserved share), call
    one off (停诊)."""
    user = request.user
    _require_any(user, Perm.MANAGE_SCHEDULES)
    depts = selectors.scheduled_departments(user)
    raw = request.POST.get("department") or request.GET.get("department") or ""
    dept = next((d for d in depts if str(d.pk) == raw), depts[0] if depts else None)
    share = round(float(policy.value(referral_policy.RESERVED_SHARE)) * 100)
    values: dict[str, Any] = {"slot_minutes": "15", "reserved_percent": str(share),
                              "start": "08:00", "end": "11:30"}  # fmt: skip
    errors: dict[str, str] = {}
    if request.method == "POST" and dept is not None:
        try:
            if request.POST.get("action") == "cancel":
                appointments.cancel_session(
                    user, request.POST.get("session"), reason=request.POST.get("reason", "")
                )
                messages.success(request, _("The session was called off; the bookers are told."))
            else:
                values = {k: request.POST.get(k, "") for k in request.POST}
                appointments.publish_session(
                    user, department=dept.pk, **_session_fields(request.POST)
                )
                messages.success(request, _("Session published with its slots."))
        except DomainError as exc:
            errors[exc.field or "__all__"] = str(exc.message)
            messages.error(request, str(exc.message))
        else:
            return redirect(f"{request.path}?department={dept.pk}")
    return render(
        request,
        "referrals/sessions.html",
        {
            "departments": depts,
            "department": dept,
            "sessions": list(selectors.sessions(dept, start=timezone.localdate(), days=28))
            if dept
            else [],
            "doctors": list(selectors.hospital_doctors(dept.institution)) if dept else [],
            "values": values,
            "errors": errors,
            "share": share,
            "today": timezone.localdate(),
            "now_dt": timezone.now(),
        },
    )


def _session_fields(post) -> dict[str, Any]:
    """The publish form's day, hours, minutes, doctor and reserved percent, typed; a field
    that does not parse is a ValidationError naming it."""
    from countycare.core.errors import ValidationError

    day = parse_date(post.get("day", "") or "")
    if day is None:
        raise ValidationError(_("Enter the day."), code="required", field="day")
    times = {}
    for name in ("start", "end"):
        try:
            times[name] = dt.time.fromisoformat(post.get(name, ""))
        except ValueError:
            raise ValidationError(_("Enter a time as HH:MM."), code="invalid", field=name) from None
    try:
        minutes = int(post.get("slot_minutes", ""))
    except ValueError:
        raise ValidationError(
            _("Minutes per slot: 5 to 240."), code="invalid", field="slot_minutes"
        ) from None
    try:
        percent = float(post.get("reserved_percent", "") or 0)
    except ValueError:
        raise ValidationError(
            _("Enter the reserved share in percent."), code="invalid", field="reserved_percent"
        ) from None
    return {
        "starts_at": timezone.make_aware(dt.datetime.combine(day, times["start"])),
        "ends_at": timezone.make_aware(dt.datetime.combine(day, times["end"])),
        "slot_minutes": minutes,
        "doctor": post.get("doctor") or None,
        "reserved_share": percent / 100,
    }


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
