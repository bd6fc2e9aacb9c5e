"""Signed reports: the canonical content, its SHA-256 seal, verification, and the printable PDF
(WeasyPrint with Noto CJK fonts) the village doctor hands over."""

from __future__ import annotations

import hashlib
import io
import json
import logging

from django.core.files.base import ContentFile
from django.http import FileResponse
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from countycare.core.errors import Conflict
from countycare.telemed import panels
from countycare.telemed.models import Report, ReportStatus

log = logging.getLogger(__name__)


def canonical_content(report: Report) -> bytes:
    """What the signature covers, as canonical JSON (sorted keys, no whitespace, UTF-8):
    the order's accession number, resident, service, the version and what the reader wrote,
    the signer and the signing time (UTC, ISO 8601)."""
    order = report.order
    content = {
        "accession_number": order.accession_number,
        "resident_id": order.resident_id,
        "service": order.service.code,
        "version": report.version,
        "findings": report.findings or {},
        "findings_text": report.findings_text,
        "impression": report.impression,
        "is_abnormal": report.is_abnormal,
        "amendment_reason": report.amendment_reason,
        "signed_by": report.signed_by.get_username() if report.signed_by_id else "",
        "signed_at": report.signed_at.astimezone(timezone.UTC).isoformat()
        if report.signed_at
        else "",
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def digest(report: Report) -> str:
    return hashlib.sha256(canonical_content(report)).hexdigest()


def seal(report: Report, *, signer, at) -> Report:
    """Sign the report: signer, time, SHA-256 of the canonical content. Saved; from now on
    Report.save refuses changes to its content (see :func:`verify`)."""
    report.status = ReportStatus.SIGNED
    report.signed_by = signer
    report.signed_at = at
    report.content_sha256 = digest(report)
    report.save()
    return report


def verify(report: Report) -> bool:
    """True when the stored content still matches the seal."""
    return report.status == ReportStatus.SIGNED and report.content_sha256 == digest(report)


# --- PDF ----------------------------------------------------------------------------------------
def render_pdf(report: Report, *, language: str = "zh-hans") -> bytes:
    """The report as PDF bytes (A4). Chinese text needs a CJK font on the machine (Debian:
    fonts-noto-cjk); the stylesheet names Noto Sans CJK SC first."""
    from weasyprint import HTML

    from countycare.telemed.selectors import report_context

    report = (
        Report.objects.select_related(
            "order__resident", "order__service", "order__center__institution",
            "order__requesting_institution", "order__requested_by", "order__visit",
            "signed_by", "author",
        ).get(pk=report.pk)
        if report.pk
        else report
    )  # fmt: skip
    context = report_context(report)
    context["age"] = _age_at(report)
    context["is_amendment"] = report.version > 1
    context["previous"] = (
        Report.objects.filter(
            order_id=report.order_id, status=ReportStatus.SIGNED, version__lt=report.version
        )
        .order_by("-version")
        .first()
        if report.version > 1
        else None
    )
    with translation.override(language):
        context["panels"] = panels.render(report.order, "pdf")
        html = render_to_string("telemed/report_pdf.html", context)
    return HTML(string=html).write_pdf()


def _age_at(report: Report) -> int | None:
    resident = report.order.resident
    if not getattr(resident, "birth_date", None):
        return None
    day = timezone.localtime(report.signed_at).date() if report.signed_at else timezone.localdate()
    return resident.age_on(day)


def store_pdf(report_id: int) -> Report:
    """Render a signed report's PDF once and keep it with the report (the signed content
    and its seal do not change: only the file field is set, and only while it is empty)."""
    report = Report.objects.select_related("order").get(pk=report_id)
    if report.status != ReportStatus.SIGNED or report.pdf:
        return report
    data = render_pdf(report)
    name = f"{report.order.accession_number}-v{report.version}.pdf"
    report.pdf.save(name, ContentFile(data), save=False)
    stored = report.pdf.name
    if not Report.objects.filter(pk=report.pk, pdf="").update(pdf=stored):
        # Rendered twice at once (two first downloads): keep the one stored first.
        report.pdf.storage.delete(stored)
        report = Report.objects.select_related("order").get(pk=report_id)
    return report


def pdf_response(report: Report) -> FileResponse:
    """The signed report's PDF as a download (inline, ``application/pdf``), rendered and
    stored on first request when no worker did it at signing. Raises Conflict for a
    report that is not signed (a draft is never printed)."""
    if report.status != ReportStatus.SIGNED:
        raise Conflict(_("Only a signed report can be printed."), code="not_signed")
    filename = f"{report.order.accession_number}-v{report.version}.pdf"
    try:
        if not report.pdf:
            report = store_pdf(report.pk)
        handle = report.pdf.open("rb")
    except OSError:  # storage unavailable or the file lost: still hand over the paper
        log.exception("could not store or read the PDF of report %s", report.pk)
        handle = io.BytesIO(render_pdf(report))
    response = FileResponse(handle, content_type="application/pdf", filename=filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"  # health data: never in a shared cache
    return response


def render_pdf_later(report_id: int) -> None:
    """Render and store the PDF in the background (Celery; eager in the embedded default).
    A failure is logged; the PDF is then rendered when first downloaded."""
    from django.conf import settings

    from countycare.telemed.tasks import render_report_pdf

    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # no workers: rendered on first download instead of holding up the signature
    try:
        render_report_pdf.delay(report_id)
    except Exception:
        log.exception("could not render the PDF of report %s", report_id)
