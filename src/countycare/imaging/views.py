"""Imaging pages (issue 4): rendered frames, the DICOM header, a study's page, the study as
DICOM (zip) and de-identified, the reconciliation list, and copying the device's AI findings
into the reader's report draft.

Every read goes through ``imaging.selectors`` (scoped: an object outside the user's scope
answers 404) and is audited: the header, downloads and pages each time; frames once per user
and study every few minutes (a cine loop is dozens of frame requests, one look)."""

from __future__ import annotations

import io
import logging
import zipfile

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from countycare.core import audit
from countycare.core.decorators import login_required
from countycare.core.errors import DomainError
from countycare.imaging import deid, findings, selectors, services
from countycare.imaging import render as rendering
from countycare.imaging.models import InstanceKind
from countycare.organizations.roles import Perm

log = logging.getLogger(__name__)
FRAME_AUDIT_SECONDS = 600


def _audit_view(request: HttpRequest, study, view: str, **detail) -> None:
    audit.log(audit.Action.READ, actor=request.user, obj=study, detail={"view": view, **detail})


def _audit_frames_once(request: HttpRequest, study) -> None:
    key = f"imaging:frames-audited:{request.user.pk}:{study.pk}"
    if cache.add(key, 1, FRAME_AUDIT_SECONDS):
        _audit_view(request, study, "frames")


def _number(value: str | None) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if abs(number) < 1e7 else None


@login_required
@require_GET
def frame(request: HttpRequest, pk: int, frame: int) -> HttpResponse:
    """One frame of an image as PNG/JPEG (cached in file storage)."""
    instance = selectors.instance(request.user, pk)
    if instance is None or not instance.is_image:
        raise Http404
    size = request.GET.get("size", "view")
    req = rendering.Request(
        frame=int(frame),
        size=size if size in rendering.SIZES else "view",
        center=_number(request.GET.get("wc")),
        width=_number(request.GET.get("ww")),
        auto=request.GET.get("voi") == "auto",
    )
    tag = f'"{rendering.etag(instance, req)}"'
    _audit_frames_once(request, instance.series.study)
    if request.headers.get("If-None-Match") == tag:
        return HttpResponseNotModified()
    try:
        data, content_type = rendering.render(instance, req)
    except rendering.RenderError as exc:
        log.warning("instance %s frame %s cannot be rendered: %s", pk, frame, exc)
        return HttpResponse(
            _("This image cannot be shown: %(error)s") % {"error": exc},
            status=422,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(data, content_type=content_type)
    response["Cache-Control"] = "private, max-age=86400"
    response["ETag"] = tag
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def header(request: HttpRequest, pk: int) -> HttpResponse:
    """The full DICOM header of an instance (pixel data left out), an HTML fragment."""
    instance = selectors.instance(request.user, pk)
    if instance is None:
        raise Http404
    _audit_view(request, instance.series.study, "header", instance=instance.sop_instance_uid)
    try:
        rows = rendering.header_rows(rendering.dataset(instance))
    except (OSError, ValueError) as exc:
        rows, error = [], str(exc)
    else:
        error = ""
    return render(
        request, "imaging/_header.html", {"instance": instance, "rows": rows, "error": error}
    )


@login_required
@require_GET
def study_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A study on its own page (for reconciliation, or a study without an order)."""
    study = selectors.study(request.user, pk)
    if study is None:
        raise Http404
    _audit_view(request, study, "study")
    images = selectors.image_instances(study)
    item = {
        "study": study,
        "script_id": f"imaging-items-{study.pk}",
        "images": images,
        "viewer": [selectors.viewer_item(i) for i in images],
        "documents": selectors.device_documents(study),
    }
    can_reconcile = request.user.has_perm(f"countycare.{Perm.RECONCILE_STUDIES}")
    return render(
        request,
        "imaging/study.html",
        {"study": study, "item": item, "held": False, "can_reconcile": can_reconcile},
    )


def _zip_response(files: list[tuple[str, bytes]], name: str, manifest: str = "") -> HttpResponse:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for filename, data in files:
            zf.writestr(filename, data)
        if manifest:
            zf.writestr("README.txt", manifest)
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _study_or_404(request: HttpRequest, pk: int):
    study = selectors.study(request.user, pk)
    if study is None:
        raise Http404
    return study


def _name(study) -> str:
    return study.order.accession_number if study.order_id else f"study-{study.pk}"


@login_required
@require_GET
def download(request: HttpRequest, pk: int) -> HttpResponse:
    """The study as the devices sent it: one DICOM file per instance, zipped."""
    study = _study_or_404(request, pk)
    files = []
    for i, inst in enumerate(selectors.instances_of(study), start=1):
        with inst.file.open("rb") as fh:
            files.append((f"{i:04d}_{inst.series.modality or 'OT'}.dcm", fh.read()))
    audit.log(
        audit.Action.EXPORT,
        actor=request.user, obj=study, detail={"view": "download", "files": len(files)},
    )  # fmt: skip
    return _zip_response(files, f"{_name(study)}-dicom.zip")


@login_required
@require_GET
def export(request: HttpRequest, pk: int) -> HttpResponse:
    """The study de-identified (PS3.15 Basic Application Level Confidentiality Profile) for
    teaching and quality control. SR documents and ECGs (free text, names) and images with
    burned-in annotation are left out, and the README says which."""
    study = _study_or_404(request, pk)
    engine = deid.Deidentifier()
    files, skipped = [], []
    for i, inst in enumerate(selectors.instances_of(study), start=1):
        if inst.kind not in (InstanceKind.IMAGE, InstanceKind.MULTIFRAME):
            skipped.append(
                _("%(n)04d %(kind)s: not an image (may hold names in its text)")
                % {"n": i, "kind": inst.get_kind_display()}
            )
            continue
        ds = rendering.dataset(inst)
        if deid.burned_in(ds):
            skipped.append(
                _("%(n)04d: Burned In Annotation = YES (pixel data not cleaned)") % {"n": i}
            )
            continue
        engine.deidentify(ds)
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)
        files.append((f"{i:04d}.dcm", out.getvalue()))
    manifest = "\n".join(
        [
            deid.METHOD,
            _(
                "De-identified export of %(n)d instance(s). Patient identity removed; dates, names, IDs and UIDs replaced per PS3.15 Table E.1-1; private attributes removed."
            )
            % {"n": len(files)},
            *([_("Left out:"), *skipped] if skipped else []),
        ]
    )
    audit.log(
        audit.Action.EXPORT,
        actor=request.user, obj=study,
        detail={"view": "deidentified", "files": len(files), "skipped": len(skipped)},
    )  # fmt: skip
    return _zip_response(files, f"deidentified-{study.pk}.zip", manifest)


@login_required
@require_GET
def reconcile(request: HttpRequest) -> HttpResponse:
    """The reconciliation list: studies no order could be found for."""
    if not request.user.has_perm(f"countycare.{Perm.RECONCILE_STUDIES}"):
        raise PermissionDenied
    studies = list(selectors.unmatched(request.user)[:200])
    return render(request, "imaging/reconcile.html", {"studies": studies})


@login_required
@require_POST
def link(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        study = services.link_study(request.user, pk, order=request.POST.get("order", ""))
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect(request.POST.get("back") or reverse("imaging:reconcile"))
    messages.success(
        request,
        _("Study linked to order %(acc)s.") % {"acc": study.order.accession_number},
    )
    return redirect("imaging:reconcile")


@login_required
@require_POST
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.reject_study(request.user, pk, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Study rejected."))
    return redirect("imaging:reconcile")


@login_required
@require_POST
def copy_findings(request: HttpRequest, pk: int) -> HttpResponse:
    """Copy a device's AI findings into the reader's report draft, labelled as device output
    (a preliminary save through telemed's own service: the reader still edits and signs)."""
    from countycare.telemed import selectors as telemed_selectors
    from countycare.telemed import services as telemed_services
    from countycare.telemed.models import ReportStatus

    instance = selectors.instance(request.user, pk)
    if instance is None or not instance.findings or instance.series.study.order_id is None:
        raise Http404
    order = instance.series.study.order
    text = findings.as_text(instance.findings)
    report = telemed_selectors.current_report(order)
    draft = report if report and report.status == ReportStatus.PRELIMINARY else None
    existing = draft.findings_text if draft else ""
    if text in existing:
        messages.info(request, _("The device findings are already in the report draft."))
        return redirect("telemed:read", pk=order.pk)
    try:
        telemed_services.save_report(
            request.user, order.pk,
            findings=draft.findings if draft else None,
            findings_text=(existing + "\n\n" + text).strip() if existing else text,
            impression=draft.impression if draft else "",
            is_abnormal=draft.is_abnormal if draft else False,
        )  # fmt: skip
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        audit.log(
            "update", actor=request.user, obj=instance.series.study,
            detail={"view": "copy_findings", "instance": instance.sop_instance_uid},
        )  # fmt: skip
        messages.success(
            request,
            _(
                "Device findings copied into the report draft, labelled as device output. Check them before signing."
            ),
        )
    return redirect("telemed:read", pk=order.pk)
