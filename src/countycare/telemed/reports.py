"""Signed reports: the canonical content, its SHA-256 seal, verification, and the printable PDF
(WeasyPrint with Noto CJK fonts) the village doctor hands over."""

from __future__ import annotations

import hashlib
import json
import logging

from django.core.files.base import ContentFile
from django.template.loader import render_to_string
from django.utils import timezone, translation

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
    """The report as PDF bytes. Chinese text needs a CJK font on the machine (Debian:
    fonts-noto-cjk); the stylesheet names Noto Sans CJK SC first."""
    from weasyprint import HTML

    from countycare.telemed.selectors import report_context

    with translation.override(language):
        html = render_to_string("telemed/report_pdf.html", report_context(report))
    return HTML(string=html).write_pdf()


def store_pdf(report_id: int) -> None:
    report = Report.objects.select_related("order").get(pk=report_id)
    if report.status != ReportStatus.SIGNED or report.pdf:
        return
    data = render_pdf(report)
    name = f"{report.order.accession_number}-v{report.version}.pdf"
    report.pdf.save(name, ContentFile(data), save=False)
    # Only the file field changes: the signed content (and its seal) stay as they are.
    Report.objects.filter(pk=report.pk).update(pdf=report.pdf.name)


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
