"""Attachments: the exam itself as a file (WH-02) — PDF, JPEG/PNG, DICOM, ECG recordings.

The type is decided by the content (magic bytes; DICOM parsed with pydicom; images opened
with Pillow), never by the file name or the client's content type. The file is written to
storage before the row, inside the order's transaction; a failure removes the file, so a
dropped upload leaves neither an orphan row nor (for long) an orphan file. The same bytes
attached twice to an order are stored once (a retried upload returns the first)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _

from countycare.core import audit
from countycare.core.errors import IllegalTransition, PermissionDenied, ValidationError
from countycare.core.scoping import scoped
from countycare.organizations import policy
from countycare.telemed import policy as telemed_policy
from countycare.telemed.models import Attachment, AttachmentKind, ExamOrder, OrderStatus

# States in which the requester may still add files (after a return: the re-acquired exam).
OPEN_STATES = (OrderStatus.DRAFT, OrderStatus.SUBMITTED, OrderStatus.RETURNED)

# Other apps (ecg, imaging) register detectors for their formats: fn(head: bytes, fileobj)
# -> (kind, external_uid) or None.
Detector = Callable[[bytes, object], "tuple[str, str] | None"]
_detectors: list[Detector] = []


def register_detector(detector: Detector, *, first: bool = False) -> Detector:
    """``first``: ask before the built-in detectors (the ECG app reads DICOM waveforms
    before the generic DICOM detector takes them)."""
    if detector not in _detectors:
        if first:
            _detectors.insert(0, detector)
        else:
            _detectors.append(detector)
    return detector


def _detect_dicom(head: bytes, fileobj) -> tuple[str, str] | None:
    if len(head) < 132 or head[128:132] != b"DICM":
        return None
    import pydicom
    from pydicom.errors import InvalidDicomError

    fileobj.seek(0)
    try:
        ds = pydicom.dcmread(fileobj, stop_before_pixels=True)
    except (InvalidDicomError, Exception) as exc:
        raise ValidationError(
            _("The DICOM file cannot be read (%(error)s).") % {"error": str(exc)[:120]},
            code="bad_file",
            field="file",
        ) from None
    finally:
        fileobj.seek(0)
    uid = str(getattr(ds, "SOPInstanceUID", "") or "")
    if "WaveformSequence" in ds:  # a 12-lead ECG waveform object: the ECG center's kind
        return AttachmentKind.ECG, uid
    return AttachmentKind.DICOM, uid


def _detect_pdf(head: bytes, fileobj) -> tuple[str, str] | None:
    if not head.startswith(b"%PDF-"):
        return None
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(max(size - 2048, 0))
    tail = fileobj.read()
    fileobj.seek(0)
    if b"%%EOF" not in tail:
        raise ValidationError(
            _("The PDF is incomplete (the upload was cut off?). Send it again."),
            code="bad_file",
            field="file",
        )
    return AttachmentKind.PDF, ""


def _detect_image(head: bytes, fileobj) -> tuple[str, str] | None:
    kind = None
    if head.startswith(b"\xff\xd8\xff"):
        kind = AttachmentKind.JPEG
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = AttachmentKind.PNG
    if kind is None:
        return None
    from PIL import Image

    fileobj.seek(0)
    try:
        with Image.open(fileobj) as img:
            img.verify()
    except Exception:
        raise ValidationError(
            _("The image is damaged or incomplete. Take it again and send it."),
            code="bad_file",
            field="file",
        ) from None
    finally:
        fileobj.seek(0)
    return kind, ""


register_detector(_detect_dicom)
register_detector(_detect_pdf)
register_detector(_detect_image)


def detect(fileobj) -> tuple[str, str]:
    fileobj.seek(0)
    head = fileobj.read(512)
    fileobj.seek(0)
    for detector in _detectors:
        found = detector(head, fileobj)
        if found:
            return found
    raise ValidationError(
        _("This file type is not accepted. Send a PDF, a JPEG or PNG image, or a DICOM file."),
        code="unsupported_type",
        field="file",
    )


def _digest(fileobj) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    fileobj.seek(0)
    while chunk := fileobj.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return digest.hexdigest(), size


def add_attachment(actor, order_id, fileobj, *, name: str = "") -> tuple[Attachment, bool]:
    """Attach a file to an order. Returns (attachment, created)."""
    if not actor.has_perm("countycare.request_exam"):
        raise PermissionDenied(_("Your role does not allow this action."))
    if fileobj is None:
        raise ValidationError(_("Choose a file to upload."), code="required", field="file")
    limit = int(policy.value(telemed_policy.ATTACHMENT_MAX_MB)) * 1024 * 1024
    sha, size = _digest(fileobj)
    if size == 0:
        raise ValidationError(_("The file is empty."), code="empty", field="file")
    if size > limit:
        raise ValidationError(
            _("The file is %(size).1f MB; at most %(limit)d MB are accepted.")
            % {"size": size / 1048576, "limit": limit // 1048576},
            code="too_large",
            field="file",
        )
    kind, uid = detect(fileobj)
    name = (name or getattr(fileobj, "name", "") or "").rsplit("/", 1)[-1][:255]
    with transaction.atomic():
        order = scoped(actor, ExamOrder).select_for_update().filter(pk=order_id).first()
        if order is None:
            raise PermissionDenied(_("No such exam order in your area."), code="not_found")
        existing = order.attachments.filter(sha256=sha).first()
        if existing is not None:
            return existing, False
        if order.status not in OPEN_STATES:
            raise IllegalTransition(
                _("Files can no longer be added: the order is “%(status)s”.")
                % {"status": order.get_status_display()},
                extra={"status": order.status},
            )
        att = Attachment(
            order=order, kind=kind, original_name=name, size=size, sha256=sha,
            external_uid=uid, uploaded_by=actor,
            content_type={"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png",
                          "dicom": "application/dicom"}.get(kind, "application/octet-stream"),
        )  # fmt: skip
        att.file.save(sha, File(fileobj, name=sha), save=False)
        stored = att.file.name
        try:
            att.save()
            audit.log("create", actor=actor, obj=att, detail={"kind": kind, "size": size})
        except Exception:
            default_storage.delete(stored)
            raise
    return att, True


# States in which a device may still deliver the exam (the imaging app's DICOM listener): any
# state before the report is signed.
DEVICE_STATES = (*OPEN_STATES, OrderStatus.CLAIMED, OrderStatus.PRELIMINARY)


def add_device_attachment(
    order_id, fileobj, *, name: str = "", source: str = ""
) -> tuple[Attachment, bool]:
    """Attach a file a device delivered (no user: e.g. an ECG waveform C-STORE matched to the
    order by the imaging app). Same checks as :func:`add_attachment` except the user's; call
    inside the caller's transaction. Returns (attachment, created)."""
    limit = int(policy.value(telemed_policy.ATTACHMENT_MAX_MB)) * 1024 * 1024
    sha, size = _digest(fileobj)
    if size == 0 or size > limit:
        raise ValidationError(_("The file is empty or too large."), code="bad_file", field="file")
    kind, uid = detect(fileobj)
    with transaction.atomic():
        order = ExamOrder.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise PermissionDenied(_("No such exam order in your area."), code="not_found")
        existing = order.attachments.filter(sha256=sha).first()
        if existing is not None:
            return existing, False
        if order.status not in DEVICE_STATES:
            raise IllegalTransition(
                _("Files can no longer be added: the order is “%(status)s”.")
                % {"status": order.get_status_display()},
                extra={"status": order.status},
            )
        att = Attachment(
            order=order, kind=kind, original_name=name[:255], size=size, sha256=sha,
            external_uid=uid, uploaded_by=None,
            content_type="application/dicom" if kind in ("dicom", "ecg") else "application/octet-stream",
        )  # fmt: skip
        att.file.save(sha, File(fileobj, name=sha), save=False)
        stored = att.file.name
        try:
            att.save()
            audit.log("create", obj=att, detail={"kind": kind, "size": size, "source": source})
        except Exception:
            default_storage.delete(stored)
            raise
    return att, True
