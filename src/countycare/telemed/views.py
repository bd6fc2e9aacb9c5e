"""Walking Hospital pages (issue 3; WH-02, WH-03, SHC-01/02): the village side (a visit
with the kit's vitals, an exam order with its files, my orders, the order with its report
and acknowledgement), the reader side (a center's worklist, claims, the reading page with
the report form, amendments) and critical values.

Reads go through ``telemed.selectors`` and ``scoped()`` (an object outside the user's scope
answers 404, never 403); every write is one POST calling one service, and a DomainError
becomes a message on the page, never a 500."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from countycare.core import audit
from countycare.core.decorators import login_required
from countycare.core.errors import DomainError
from countycare.core.scoping import scoped
from countycare.organizations.roles import Perm
from countycare.residents import selectors as resident_selectors
from countycare.residents.forms import add_domain_error
from countycare.telemed import attachments, critical, panels, reports, selectors, services
from countycare.telemed.forms import AlertAckForm, AmendForm, OrderForm, ReportForm, VisitForm
from countycare.telemed.models import (
    HELD_STATES,
    Attachment,
    AttachmentKind,
    CriticalAlert,
    ExamOrder,
    OrderStatus,
    Phrase,
    Report,
    ReportStatus,
    Visit,
)

S = OrderStatus
WORKLIST_ROWS = 50  # a reader works from the top; the total is shown
ORDERS_PAGE_SIZE = 50


# --- helpers ----------------------------------------------------------------------------------
def _require(user, perm: str) -> None:
    if not user.has_perm(f"countycare.{perm}"):
        raise PermissionDenied(_("Your role does not allow this action."))


def _is_htmx(request: HttpRequest) -> bool:
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def _error(request: HttpRequest, exc: DomainError) -> None:
    messages.error(request, str(exc.message))


def _order(request: HttpRequest, pk: int) -> ExamOrder:
    qs = scoped(request.user, ExamOrder).select_related(
        "resident", "resident__home_village", "service", "center", "center__institution",
        "requested_by", "requesting_institution", "claimed_by", "acknowledged_by", "visit",
    )  # fmt: skip
    return get_object_or_404(qs, pk=pk)


def _reads_for(user, order: ExamOrder) -> bool:
    return user.has_perm(f"countycare.{Perm.READ_EXAM}") and (
        selectors.reader_centers(user).filter(pk=order.center_id).exists()
    )


def _next_or(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _waiting(since, now) -> str:
    if since is None:
        return "—"
    minutes = max(int((now - since).total_seconds() // 60), 0)
    if minutes < 60:
        return _("%(m)d min") % {"m": minutes}
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    return _("%(d)d days") % {"d": hours // 24}


def _upload_all(request: HttpRequest, order: ExamOrder) -> bool:
    """Attach every uploaded file; False (and a message) at the first that fails."""
    for upload in request.FILES.getlist("files"):
        try:
            attachments.add_attachment(request.user, order.pk, upload, name=upload.name)
        except DomainError as exc:
            messages.error(
                request, _("%(name)s: %(error)s") % {"name": upload.name, "error": exc.message}
            )
            return False
    return True


# --- the village side: visits -----------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def visit_new(request: HttpRequest, resident: int) -> HttpResponse:
    """A new Walking Hospital visit with the kit's vitals (WH-02)."""
    user = request.user
    person = get_object_or_404(
        resident_selectors.residents_for(user).select_related("home_village"), pk=resident
    )
    _require(user, Perm.RECORD_VISIT)
    form = VisitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            visit = services.open_visit(
                user,
                resident=person.pk,
                setting=form.cleaned_data["setting"],
                complaint=form.cleaned_data["complaint"],
                note=form.cleaned_data["note"],
                vitals_data=form.vitals_data(),
            )
        except DomainError as exc:
            per_field = exc.extra.get("errors") or {}
            if per_field:
                for field, errors in per_field.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, str(error))
            else:
                add_domain_error(form, exc)
        else:
            messages.success(request, _("Visit saved."))
            return redirect("telemed:visit", pk=visit.pk)
    return render(request, "telemed/visit_new.html", {"form": form, "resident": person})


def _visit_context(request: HttpRequest, visit: Visit, order_form: OrderForm | None = None):
    user = request.user
    observations = list(visit.observations.order_by("observed_at", "pk"))
    order_of = {v.code: i for i, v in enumerate(services.vitals.VITALS)}
    observations.sort(key=lambda o: order_of.get(o.code, 99))
    alerts = (
        scoped(user, CriticalAlert)
        .filter(observation__visit=visit)
        .select_related("acknowledged_by")
        .order_by("raised_at")
    )
    orders = (
        scoped(user, ExamOrder).filter(visit=visit).select_related("service", "center")
    ).order_by("created_at")
    can_order = user.has_perm(f"countycare.{Perm.REQUEST_EXAM}")
    if can_order and order_form is None:
        order_form = OrderForm()
    return {
        "visit": visit,
        "resident": visit.resident,
        "observations": observations,
        "abnormal": [o for o in observations if o.flag not in ("", "N")],
        "alerts": list(alerts),
        "orders": list(orders),
        "order_form": order_form if can_order else None,
        "can_ack_alert": user.has_perm(f"countycare.{Perm.ACK_CRITICAL}"),
        "accept": "application/pdf,image/jpeg,image/png,application/dicom,.dcm,.pdf,.jpg,.jpeg,.png",
    }


@login_required
@require_GET
def visit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    visit = get_object_or_404(
        scoped(request.user, Visit).select_related(
            "resident", "resident__home_village", "institution", "performed_by"
        ),
        pk=pk,
    )
    return render(request, "telemed/visit.html", _visit_context(request, visit))


@login_required
@require_POST
def order_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Order an exam from a visit: the order is created as a draft, the files uploaded, and
    only then submitted — a failed upload leaves a draft (shown with the error, the files
    can be sent again), never a submitted order without its exam (WH-03)."""
    user = request.user
    visit = get_object_or_404(scoped(user, Visit).select_related("resident"), pk=pk)
    _require(user, Perm.REQUEST_EXAM)
    form = OrderForm(request.POST)
    if form.is_valid():
        try:
            order = services.create_order(
                user,
                resident=visit.resident_id,
                service=form.cleaned_data["service"],
                priority=form.cleaned_data["priority"],
                clinical_question=form.cleaned_data["clinical_question"],
                visit=visit.pk,
                submit=False,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if not _upload_all(request, order):
                messages.warning(
                    request,
                    _("The order is kept as a draft: add the file again, then submit it."),
                )
                return redirect("telemed:order", pk=order.pk)
            try:
                services.submit(user, order.pk)
            except DomainError as exc:
                _error(request, exc)
            else:
                messages.success(
                    request,
                    _("Order %(number)s sent to %(center)s.")
                    % {"number": order.accession_number, "center": order.center},
                )
            return redirect("telemed:order", pk=order.pk)
    context = _visit_context(request, visit, order_form=form)
    return render(request, "telemed/visit.html", context, status=400)


# --- the village side: orders -----------------------------------------------------------------
STATUS_FILTERS = [S.SUBMITTED, S.CLAIMED, S.PRELIMINARY, S.SIGNED, S.RETURNED, S.ACKNOWLEDGED,
                  S.DRAFT, S.CANCELLED]  # fmt: skip


@login_required
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    """My orders: what the user's institutions requested, newest first, by status."""
    user = request.user
    _require(user, Perm.REQUEST_EXAM)
    status = request.GET.get("status") or ""
    if status not in S.values:
        status = ""
    qs = selectors.requested_orders(user, status=status or None)
    page = Paginator(qs, ORDERS_PAGE_SIZE).get_page(request.GET.get("page"))
    counts = {}
    for row in selectors.requested_orders(user).order_by().values_list("status", flat=True):
        counts[row] = counts.get(row, 0) + 1
    chips = [(s, S(s).label, counts.get(s, 0)) for s in STATUS_FILTERS]
    return render(
        request,
        "telemed/order_list.html",
        {"page": page, "status": status, "chips": chips, "total": sum(counts.values())},
    )


@login_required
@require_GET
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The order: its transitions, files, report (signed: the seal and the PDF), and the
    actions the user may take in its state."""
    user = request.user
    order = _order(request, pk)
    audit.log(audit.Action.READ, actor=user, obj=order, detail={"view": "order"})
    report = selectors.current_report(order)
    versions = list(order.reports.filter(status=ReportStatus.SIGNED).order_by("-version"))
    requester = user.has_perm(f"countycare.{Perm.REQUEST_EXAM}")
    context = {
        "order": order,
        "resident": order.resident,
        "transitions": list(order.transitions.select_related("actor")),
        "attachments": list(order.attachments.all()),
        "report": report if report and report.status == ReportStatus.SIGNED else None,
        "draft_report": report if report and report.status != ReportStatus.SIGNED else None,
        "template_rows": _template_rows(order, report),
        "older_versions": versions[1:],
        "alerts": list(scoped(user, CriticalAlert).filter(order=order)),
        "can_upload": requester and order.status in attachments.OPEN_STATES,
        "can_submit": requester and order.status == S.DRAFT,
        "can_resubmit": requester and order.status == S.RETURNED,
        "can_cancel": requester and order.status in (S.DRAFT, S.SUBMITTED, S.RETURNED),
        "can_acknowledge": requester and order.status == S.SIGNED,
        "is_reader": _reads_for(user, order),
        "can_ack_alert": user.has_perm(f"countycare.{Perm.ACK_CRITICAL}"),
        "sla_due": selectors.sla_due(order),
        "accept": "application/pdf,image/jpeg,image/png,application/dicom,.dcm,.pdf,.jpg,.jpeg,.png",
        "panels": panels.render(order, "order", request),
    }
    return render(request, "telemed/order.html", context)


def _template_rows(order: ExamOrder, report: Report | None) -> list[dict[str, Any]]:
    if report is None:
        return []
    findings = report.findings or {}
    return [
        {"label": f.get("label") or f.get("key"), "value": findings.get(f.get("key"), ""),
         "unit": f.get("unit", "")}
        for f in order.service.report_template or []
        if isinstance(f, dict) and findings.get(f.get("key"))
    ]  # fmt: skip


def _order_action(request: HttpRequest, pk: int, action) -> HttpResponse:
    order = _order(request, pk)
    try:
        action(order)
    except DomainError as exc:
        _error(request, exc)
    return redirect(_next_or(request, reverse("telemed:order", args=[order.pk])))


@login_required
@require_POST
def order_upload(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(request, pk)
    if not request.FILES.getlist("files"):
        messages.error(request, _("Choose a file to upload."))
    elif _upload_all(request, order):
        messages.success(request, _("File uploaded."))
    return redirect("telemed:order", pk=order.pk)


@login_required
@require_POST
def order_submit(request: HttpRequest, pk: int) -> HttpResponse:
    def act(order):
        services.submit(request.user, order.pk)
        messages.success(request, _("Order sent to %(center)s.") % {"center": order.center})

    return _order_action(request, pk, act)


@login_required
@require_POST
def order_resubmit(request: HttpRequest, pk: int) -> HttpResponse:
    def act(order):
        services.resubmit(request.user, order.pk, note=request.POST.get("note", ""))
        messages.success(request, _("Order sent again to %(center)s.") % {"center": order.center})

    return _order_action(request, pk, act)


@login_required
@require_POST
def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    def act(order):
        services.cancel(request.user, order.pk, reason=request.POST.get("reason", ""))
        messages.success(request, _("Order cancelled."))

    return _order_action(request, pk, act)


@login_required
@require_POST
def order_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    def act(order):
        services.acknowledge(request.user, order.pk)
        messages.success(request, _("Report acknowledged."))

    return _order_action(request, pk, act)


@login_required
@require_GET
def attachment_file(request: HttpRequest, pk: int) -> HttpResponse:
    """An attachment's bytes for whoever may see its order (images and PDFs inline)."""
    att = get_object_or_404(scoped(request.user, Attachment).select_related("order"), pk=pk)
    try:
        handle = att.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    inline = att.kind in (AttachmentKind.JPEG, AttachmentKind.PNG, AttachmentKind.PDF)
    response = FileResponse(
        handle,
        content_type=att.content_type or "application/octet-stream",
        as_attachment=not inline,
        filename=att.original_name or f"{att.order.accession_number}-{att.pk}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def report_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The printable report (the paper the village doctor hands over)."""
    report = get_object_or_404(
        scoped(request.user, Report)
        .filter(status=ReportStatus.SIGNED)
        .select_related("order", "order__service", "order__center", "order__resident"),
        pk=pk,
    )
    audit.log(audit.Action.READ, actor=request.user, obj=report.order, detail={"view": "pdf"})
    pdf_response = getattr(reports, "pdf_response", None)
    if pdf_response is not None:
        return pdf_response(report)
    response = HttpResponse(reports.render_pdf(report), content_type="application/pdf")
    name = f"{report.order.accession_number}-v{report.version}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


# --- the reader side --------------------------------------------------------------------------
@login_required
@require_GET
def worklist_home(request: HttpRequest) -> HttpResponse:
    _require(request.user, Perm.READ_EXAM)
    centers = list(selectors.reader_centers(request.user))
    if len(centers) == 1:
        return redirect("telemed:worklist", center=centers[0].pk)
    counts = _queue_counts(request.user, centers)
    return render(
        request,
        "telemed/worklist_home.html",
        {"centers": [(c, counts.get(c.pk, {})) for c in centers]},
    )


def _queue_counts(user, centers) -> dict[int, dict[str, int]]:
    """Per center: queued (submitted) and held orders, and how many are overdue."""
    counts: dict[int, dict[str, int]] = {c.pk: {"queued": 0, "held": 0} for c in centers}
    for center in centers:
        qs = selectors.worklist(user, center).order_by()
        counts[center.pk]["queued"] = qs.filter(status=S.SUBMITTED).count()
        counts[center.pk]["held"] = qs.filter(status__in=HELD_STATES).count()
    return counts


def _reader_center(request: HttpRequest, center: int):
    _require(request.user, Perm.READ_EXAM)
    return get_object_or_404(selectors.reader_centers(request.user), pk=center)


def _worklist_context(request: HttpRequest, center) -> dict[str, Any]:
    user = request.user
    now = timezone.now()
    qs = selectors.worklist(user, center)
    rows = list(qs[:WORKLIST_ROWS])
    sla: dict[str, int] = {}
    for order in rows:
        order.center = center
        if order.priority not in sla:
            sla[order.priority] = selectors.sla_minutes(order)
        order.due = (
            order.submitted_at + dt.timedelta(minutes=sla[order.priority])
            if order.submitted_at
            else None
        )
        order.overdue = bool(order.due and order.due < now)
        order.waiting = _waiting(order.submitted_at, now)
        order.held = order.status in HELD_STATES and bool(
            order.lease_expires_at and order.lease_expires_at >= now
        )
        order.mine = order.held and order.claimed_by_id == user.pk
    total = qs.count() if len(rows) >= WORKLIST_ROWS else len(rows)
    return {
        "center": center,
        "centers": list(selectors.reader_centers(user)),
        "rows": rows,
        "total": total,
        "more": total > len(rows),
        "queued": sum(1 for o in rows if not o.held),
        "overdue": sum(1 for o in rows if o.overdue and not o.held),
        "now": now,
    }


@login_required
@require_GET
def worklist(request: HttpRequest, center: int) -> HttpResponse:
    """A center's worklist: a dense table in reading order, refreshed by htmx every 15 s."""
    found = _reader_center(request, center)
    context = _worklist_context(request, found)
    template = "telemed/_worklist_table.html" if _is_htmx(request) else "telemed/worklist.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@login_required
@require_POST
def claim_next(request: HttpRequest, center: int) -> HttpResponse:
    found = _reader_center(request, center)
    try:
        order = services.claim_next(request.user, found)
    except DomainError as exc:
        _error(request, exc)
        return redirect("telemed:worklist", center=found.pk)
    if order is None:
        messages.info(request, _("The worklist is empty: nothing to claim."))
        return redirect("telemed:worklist", center=found.pk)
    return redirect("telemed:read", pk=order.pk)


@login_required
@require_POST
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(request, pk)
    try:
        services.claim(request.user, order.pk)
    except DomainError as exc:
        _error(request, exc)
        return redirect("telemed:worklist", center=order.center_id)
    return redirect("telemed:read", pk=order.pk)


def _reading_context(
    request: HttpRequest, order: ExamOrder, *, form=None, amend_form=None
) -> dict[str, Any]:
    user = request.user
    now = timezone.now()
    report = selectors.current_report(order)
    signed = report if report and report.status == ReportStatus.SIGNED else None
    held = order.status in HELD_STATES and order.claimed_by_id == user.pk
    if form is None:
        form = ReportForm(
            initial=ReportForm.initial_from(report if not signed else None), service=order.service
        )
    if signed and amend_form is None:
        amend_form = AmendForm(initial=ReportForm.initial_from(signed), service=order.service)
    phrases = Phrase.objects.filter(center=order.center_id).filter(
        service__isnull=True
    ) | Phrase.objects.filter(center=order.center_id, service=order.service_id)
    phrases = list(phrases.order_by("sort", "pk"))
    visit_observations = list(order.visit.observations.all()) if order.visit_id else []
    prior = (
        scoped(user, Report)
        .filter(order__resident=order.resident_id, status=ReportStatus.SIGNED)
        .exclude(order=order)
        .select_related("order", "order__service", "signed_by")
        .order_by("-signed_at")[:10]
    )
    return {
        "order": order,
        "resident": order.resident,
        "attachments": list(order.attachments.all()),
        "panels": panels.render(order, "read", request),
        "visit_observations": visit_observations,
        "order_observations": list(order.observations.all()),
        "prior_reports": list(prior),
        "report": signed,
        "template_rows": _template_rows(order, signed),
        "form": form,
        "amend_form": amend_form,
        "phrases_findings": [p for p in phrases if p.section == Phrase.Section.FINDINGS],
        "phrases_impression": [p for p in phrases if p.section == Phrase.Section.IMPRESSION],
        "held": held,
        "held_by_other": order.status in HELD_STATES
        and order.claimed_by_id not in (None, user.pk)
        and bool(order.lease_expires_at and order.lease_expires_at >= now),
        "can_claim": order.status == S.SUBMITTED
        or (order.status in HELD_STATES and order.claimed_by_id != user.pk),
        "sla_due": selectors.sla_due(order),
        "waiting": _waiting(order.submitted_at, now),
    }


def _reading_order(request: HttpRequest, pk: int) -> ExamOrder:
    _require(request.user, Perm.READ_EXAM)
    order = _order(request, pk)
    if not _reads_for(request.user, order):
        raise Http404
    return order


@login_required
@require_GET
def read(request: HttpRequest, pk: int) -> HttpResponse:
    """The reading page: the exam, the resident's vitals and prior reports, the report."""
    order = _reading_order(request, pk)
    audit.log(audit.Action.READ, actor=request.user, obj=order, detail={"view": "read"})
    return render(request, "telemed/read.html", _reading_context(request, order))


@login_required
@require_POST
def report_save(request: HttpRequest, pk: int) -> HttpResponse:
    """Save preliminary (action=save) or sign (action=sign)."""
    user = request.user
    order = _reading_order(request, pk)
    form = ReportForm(request.POST, service=order.service)
    sign = request.POST.get("action") == "sign"
    if form.is_valid():
        try:
            if sign:
                services.sign_report(user, order.pk, **form.service_kwargs())
            else:
                services.save_report(user, order.pk, **form.service_kwargs())
        except DomainError as exc:
            field = {"findings": None}.get(exc.field or "", exc.field)
            form.add_error(field if field in form.fields else None, str(exc.message))
        else:
            if sign:
                messages.success(request, _("Report signed."))
                return redirect("telemed:order", pk=order.pk)
            messages.success(request, _("Preliminary report saved."))
            return redirect("telemed:read", pk=order.pk)
    order.refresh_from_db()
    return render(request, "telemed/read.html", _reading_context(request, order, form=form))


@login_required
@require_POST
def report_amend(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    order = _reading_order(request, pk)
    form = AmendForm(request.POST, service=order.service)
    if form.is_valid():
        try:
            services.amend_report(
                user, order.pk, reason=form.cleaned_data["reason"], **form.service_kwargs()
            )
        except DomainError as exc:
            add_domain_error(form, exc, {"findings": ""})
        else:
            messages.success(
                request, _("Amendment signed; the requester is asked to acknowledge it.")
            )
            return redirect("telemed:order", pk=order.pk)
    return render(request, "telemed/read.html", _reading_context(request, order, amend_form=form))


@login_required
@require_POST
def order_return(request: HttpRequest, pk: int) -> HttpResponse:
    order = _reading_order(request, pk)
    try:
        services.return_order(request.user, order.pk, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        _error(request, exc)
        return redirect("telemed:read", pk=order.pk)
    messages.success(
        request,
        _("Order %(number)s returned to the requester.") % {"number": order.accession_number},
    )
    return redirect("telemed:worklist", center=order.center_id)


@login_required
@require_POST
def order_release(request: HttpRequest, pk: int) -> HttpResponse:
    order = _reading_order(request, pk)
    try:
        services.release(request.user, order.pk, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        _error(request, exc)
        return redirect("telemed:read", pk=order.pk)
    messages.info(
        request,
        _("Order %(number)s released to the worklist.") % {"number": order.accession_number},
    )
    return redirect("telemed:worklist", center=order.center_id)


# --- critical values --------------------------------------------------------------------------
@login_required
@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require(user, Perm.ACK_CRITICAL)
    alerts = list(selectors.open_alerts(user)[:200])
    return render(request, "telemed/alerts.html", {"alerts": alerts, "ack_form": AlertAckForm()})


@login_required
@require_POST
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    alert = get_object_or_404(scoped(user, CriticalAlert), pk=pk)
    form = AlertAckForm(request.POST)
    form.is_valid()
    try:
        critical.acknowledge(user, alert.pk, action_taken=form.cleaned_data.get("action_taken", ""))
    except DomainError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("Critical value acknowledged."))
    return redirect(_next_or(request, reverse("telemed:alerts")))
