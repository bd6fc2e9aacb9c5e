"""Writes of the imaging app (issue 4): storing what devices send, matching studies to exam
orders, reconciliation by a person.

:func:`store` is the one way an instance enters: from the DICOM listener's C-STORE, and from
the demo. It answers with the DICOM status the device gets back. The file is written to
storage first, then the index rows in one transaction; if the index fails the file is removed,
and if storage fails nothing is indexed — never a half-stored instance. The SOP Instance UID
is the natural key: a retried C-STORE of a stored instance succeeds without a second copy.

Matching (WH-02, WH-03): a new study belongs to the exam order whose accession number it
carries (the device took it from the modality worklist), else — when the device's patient ID
is the platform's (or a national ID number) — to the one open order of that resident for
that modality on the study's date. Anything else waits in the reconciliation list.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import re
from dataclasses import dataclass

import pydicom
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import audit, crypto, national_id
from countycare.core.errors import DomainError, IllegalTransition, PermissionDenied, ValidationError
from countycare.core.scoping import scoped
from countycare.imaging import dicom, findings
from countycare.imaging.models import (
    Association,
    DeviceAE,
    Instance,
    InstanceKind,
    MatchMethod,
    Series,
    Study,
    StudyStatus,
)
from countycare.organizations.roles import Perm
from countycare.residents.models import Resident
from countycare.telemed.models import ExamOrder, OrderStatus

log = logging.getLogger(__name__)

SUCCESS = 0x0000
# Orders a device may still deliver images for (before the report is signed).
DELIVERABLE_STATES = (
    OrderStatus.DRAFT,
    OrderStatus.SUBMITTED,
    OrderStatus.RETURNED,
    OrderStatus.CLAIMED,
    OrderStatus.PRELIMINARY,
)
PATIENT_ID_PREFIX = "CC"
_PATIENT_ID = re.compile(rf"^{PATIENT_ID_PREFIX}(\d{{1,12}})$")


def patient_id_for(resident: Resident | int) -> str:
    """The Patient ID the platform gives devices in the modality worklist."""
    pk = resident.pk if isinstance(resident, Resident) else int(resident)
    return f"{PATIENT_ID_PREFIX}{pk:08d}"


def order_study_uid(order: ExamOrder) -> str:
    """The Study Instance UID the worklist hands out for an order (a 2.25 UUID-derived UID,
    the same for every query), so a device that uses it is matched even without the
    accession number."""
    from pydicom.uid import generate_uid

    return str(generate_uid(prefix=None, entropy_srcs=["countycare-order", order.accession_number]))


def resident_for_patient_id(value: str) -> Resident | None:
    value = (value or "").strip()
    found = _PATIENT_ID.match(value)
    if found:
        return Resident.objects.filter(pk=int(found.group(1))).first()
    if len(value) == 18:
        try:
            number = national_id.parse(value).number
        except (DomainError, ValueError, AttributeError):
            return None
        return Resident.objects.filter(national_id_hash=crypto.lookup_hash(number)).first()
    return None


@dataclass
class StoreOutcome:
    status: int
    reason: str = ""
    instance: Instance | None = None
    created: bool = False
    study_uid: str = ""

    @property
    def ok(self) -> bool:
        return self.status == SUCCESS


# --- matching ---------------------------------------------------------------------------------
@dataclass
class Match:
    order: ExamOrder | None
    method: str = ""
    note: str = ""


def match_order(f: dicom.Facts) -> Match:
    """The exam order a new study belongs to, or why none was chosen."""
    resident = resident_for_patient_id(f.patient_id) if f.patient_id else None
    if f.accession_number:
        order = ExamOrder.objects.filter(accession_number=f.accession_number).first()
        if order is not None:
            if resident is not None and resident.pk != order.resident_id:
                return Match(None, note="accession number of another patient's order")
            if order.status not in DELIVERABLE_STATES:
                return Match(None, note=f"order {order.accession_number} is {order.status}")
            return Match(order, MatchMethod.ACCESSION)
    if resident is None:
        return Match(None, note="unknown accession number and patient")
    modality = dicom.ORDER_MODALITY_OF.get(f.modality)
    day = f.study_date or timezone.localdate()
    start = timezone.make_aware(dt.datetime.combine(day - dt.timedelta(days=2), dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))
    candidates = ExamOrder.objects.filter(
        resident=resident, status__in=DELIVERABLE_STATES, created_at__gte=start, created_at__lt=end
    )
    if modality:
        candidates = candidates.filter(service__modality=modality)
    found = list(candidates.order_by("-created_at")[:2])
    if len(found) == 1:
        return Match(found[0], MatchMethod.PATIENT_DATE)
    if not found:
        return Match(None, note="no open order of this patient on the study date")
    return Match(None, note="several open orders of this patient on the study date")


# --- storing ----------------------------------------------------------------------------------
def read(data: bytes) -> pydicom.Dataset:
    """Parse a Part-10 byte string, keeping large values (pixel data) unread."""
    try:
        return pydicom.dcmread(io.BytesIO(data), defer_size=4096)
    except Exception as exc:
        raise dicom.DatasetProblem(dicom.CANNOT_UNDERSTAND, f"not a DICOM file: {exc}") from None


class _SpoolFile(File):
    """A received object already on local disk (pynetdicom's chunked receive): file
    storage on the same filesystem moves it into place instead of copying it."""

    def __init__(self, path: str) -> None:
        super().__init__(open(path, "rb"), name=os.path.basename(path))  # noqa: SIM115
        self._path = path

    def temporary_file_path(self) -> str:
        return self._path


def _sha256(source) -> tuple[str, int]:
    digest = hashlib.sha256()
    if isinstance(source, bytes | bytearray):
        digest.update(source)
        return digest.hexdigest(), len(source)
    size = 0
    with open(source, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def store(
    source: bytes | str | os.PathLike,
    *,
    device: DeviceAE | None,
    association: Association | None = None,
    now: dt.datetime | None = None,
) -> StoreOutcome:
    """Store one DICOM object sent by ``device``: a Part-10 byte string, or the path of the
    file pynetdicom received it into (moved into file storage, not copied)."""
    now = now or timezone.now()
    try:
        header = dicom.read_header(source)
        ds = header.dataset
        f = dicom.facts(ds, has_pixels=header.has_pixels)
    except dicom.DatasetProblem as problem:
        return StoreOutcome(problem.status, problem.reason)
    try:
        document = _findings(ds, f)
    except Exception as exc:  # a broken SR content tree: keep the object, say so in the log
        log.warning("findings of %s unreadable: %s", f.sop_instance_uid, exc)
        document = {}
    sha, size = _sha256(source)
    name = f"imaging/{f.study_instance_uid}/{f.sop_instance_uid}.dcm"
    content = ContentFile(source) if isinstance(source, bytes | bytearray) else _SpoolFile(source)
    try:
        with content:
            stored_name = default_storage.save(name, content)
    except Exception as exc:
        log.error("storage refused %s: %s", f.sop_instance_uid, exc)
        return StoreOutcome(dicom.OUT_OF_RESOURCES, f"storage error: {exc}")
    try:
        instance, created = _index(f, document, stored_name, sha, size, device, association, now)
    except Exception as exc:
        _discard(stored_name)
        log.exception("indexing %s failed", f.sop_instance_uid)
        return StoreOutcome(dicom.OUT_OF_RESOURCES, f"index error: {exc}")
    if not created:
        _discard(stored_name)
        return StoreOutcome(SUCCESS, "duplicate", instance, created=False)
    return StoreOutcome(SUCCESS, "", instance, created=True, study_uid=f.study_instance_uid)


def _discard(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # pragma: no cover — best effort; an orphan file holds no index row
        log.exception("could not remove %s", name)


def _findings(ds: pydicom.Dataset, f: dicom.Facts) -> dict:
    if f.kind == InstanceKind.REPORT:
        return findings.from_sr(ds)
    if f.kind in (InstanceKind.IMAGE, InstanceKind.MULTIFRAME):
        return findings.from_image(ds) or {}
    return {}


@dataclass(frozen=True)
class _Place:
    """Who an index row belongs to, for its audit entry (read once per instance)."""

    pk: int | None
    name: str

    def __str__(self) -> str:
        return self.name


def _index(f, document, stored_name, sha, size, device, association, now):
    """The index rows of one stored file, in one transaction: (instance, created). The hot
    path of the listener: a handful of statements, no lazy relation loads (benchmarks/
    dicom_ingest.py)."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                study = _study(f, device, now)
                found = list(
                    Series.objects.filter(series_instance_uid=f.series_instance_uid).values_list(
                        "pk", flat=True
                    )[:1]
                )
                series_id = found[0] if found else None
                if series_id is None:
                    series_id = Series.objects.create(
                        study_id=study["pk"], series_instance_uid=f.series_instance_uid,
                        modality=f.modality, number=f.series_number,
                        description=f.series_description, body_part=f.body_part,
                    ).pk  # fmt: skip
                instance = Instance(
                    series_id=series_id, sop_instance_uid=f.sop_instance_uid,
                    sop_class_uid=f.sop_class_uid, transfer_syntax_uid=f.transfer_syntax_uid,
                    kind=f.kind, number=f.instance_number, frames=f.frames, rows=f.rows,
                    columns=f.columns, photometric=f.photometric, pixel_spacing=f.spacing,
                    spacing_source=f.spacing_source, frame_time_ms=f.frame_time_ms,
                    window=f.window, size=size, sha256=sha, findings=document,
                    association=association, received_at=now,
                )  # fmt: skip
                instance.file.name = stored_name
                instance.save(force_insert=True)
                modalities = set(filter(None, study["modalities"].split(","))) | {f.modality}
                if study["modalities"] != ",".join(sorted(modalities)):
                    Study.objects.filter(pk=study["pk"]).update(
                        modalities=",".join(sorted(modalities))[:64], updated_at=now
                    )
                if association is None:
                    # Over the network the association's audit entry names what it stored
                    # (listener.on_ended); each instance keeps its association.
                    instance._audit_place = (study["resident_id"], study["place"])
                    audit.log(
                        "create", obj=instance,
                        detail={"ae": device.ae_title if device else "", "kind": f.kind,
                                "study": f.study_instance_uid},
                    )  # fmt: skip
                if f.kind == InstanceKind.ECG and study["order_id"]:
                    _attach_ecg(instance, study["order_id"])
                return instance, True
        except IntegrityError:
            # Another association stored the same instance (or created the same study or
            # series) at the same moment: look again.
            found = Instance.objects.filter(sop_instance_uid=f.sop_instance_uid).first()
            if found is not None:
                return found, False
    raise RuntimeError("could not index the instance")  # pragma: no cover


_STUDY_FIELDS = (
    "pk", "order_id", "order__resident_id", "order__requesting_institution_id",
    "order__requesting_institution__name", "institution_id", "institution__name", "modalities",
)  # fmt: skip


def _study_row(values: tuple) -> dict:
    pk, order_id, resident_id, req_id, req_name, inst_id, inst_name, modalities = values
    place = _Place(req_id, req_name or "") if order_id else _Place(inst_id, inst_name or "")
    return {"pk": pk, "order_id": order_id, "resident_id": resident_id, "place": place,
            "modalities": modalities or ""}  # fmt: skip


def _study(f: dicom.Facts, device: DeviceAE | None, now) -> dict:
    """The study row of an instance (created, and matched to its order, for the first)."""
    found = list(
        Study.objects.filter(study_instance_uid=f.study_instance_uid).values_list(*_STUDY_FIELDS)[
            :1
        ]
    )
    if found:
        return _study_row(found[0])
    match = match_order(f)
    study = Study(
        study_instance_uid=f.study_instance_uid, device=device,
        institution=device.institution if device else None,
        accession_number=f.accession_number, patient_id=f.patient_id,
        patient_name=f.patient_name, patient_birth_date=f.patient_birth_date,
        patient_sex=f.patient_sex, study_date=f.study_date, study_time=f.study_time,
        description=f.study_description, modalities=f.modality, received_at=now,
        center_kind=f.center_kind,
    )  # fmt: skip
    if match.order is not None:
        study.order = match.order
        study.status = StudyStatus.MATCHED
        study.match_method = match.method
        study.center_kind = match.order.center.kind
    study.save(force_insert=True)
    audit.log(
        "create", obj=study,
        detail={"matched": match.method or "", "note": match.note,
                "ae": device.ae_title if device else ""},
    )  # fmt: skip
    order = match.order
    return {
        "pk": study.pk,
        "order_id": study.order_id,
        "resident_id": order.resident_id if order else None,
        "place": _Place(order.requesting_institution_id, order.requesting_institution.name)
        if order
        else _Place(study.institution_id, study.institution.name if study.institution else ""),
        "modalities": study.modalities,
    }


def _attach_ecg(instance: Instance, order_id: int) -> None:
    """Hand an ECG waveform to the ECG app: it becomes the order's ECG attachment, whose
    upload the ECG app pre-reads (ecg.signals, after commit)."""
    from countycare.telemed.attachments import add_device_attachment

    with instance.file.open("rb") as fh:
        data = fh.read()
    try:
        with transaction.atomic():
            attachment, _ = add_device_attachment(
                order_id, io.BytesIO(data), name=f"{instance.sop_instance_uid}.dcm",
                source="dicom",
            )  # fmt: skip
    except DomainError as exc:
        log.warning("ECG %s not attached to order %s: %s", instance.pk, order_id, exc)
        return
    instance.attachment = attachment
    instance.save(update_fields=["attachment"])


# --- reconciliation ---------------------------------------------------------------------------
def _study_for(actor, study_id) -> Study:
    if not actor.has_perm(f"countycare.{Perm.RECONCILE_STUDIES}"):
        raise PermissionDenied(_("Your role does not allow this action."))
    try:
        pk = int(study_id)
    except (TypeError, ValueError):
        pk = None
    qs = scoped(actor, Study).select_for_update(of=("self",))
    study = qs.filter(pk=pk).first() if pk else None
    if study is None:
        raise PermissionDenied(_("No such study in your area."), code="not_found")
    return study


@transaction.atomic
def link_study(actor, study_id, *, order) -> Study:
    """Link an unmatched (or rejected) study to an exam order the actor can see; its ECG
    waveforms become the order's ECG attachments."""
    study = _study_for(actor, study_id)
    if study.status == StudyStatus.MATCHED:
        raise IllegalTransition(
            _("This study is already linked to order %(acc)s.")
            % {"acc": study.order.accession_number},
            extra={"status": study.status},
        )
    order_obj = _order_for(actor, order)
    if order_obj.status not in DELIVERABLE_STATES:
        raise IllegalTransition(
            _("Images can no longer be added: the order is “%(status)s”.")
            % {"status": order_obj.get_status_display()},
            extra={"status": order_obj.status},
        )
    before = study.status
    study.order = order_obj
    study.status = StudyStatus.MATCHED
    study.match_method = MatchMethod.MANUAL
    study.center_kind = order_obj.center.kind
    study.reconciled_by = actor
    study.reconciled_at = timezone.now()
    study.reject_reason = ""
    study.save()
    audit.log(
        "update", actor=actor, obj=study,
        detail={"from": before, "to": study.status, "order": order_obj.accession_number},
    )  # fmt: skip
    for instance in Instance.objects.filter(
        series__study=study, kind=InstanceKind.ECG, attachment__isnull=True
    ):
        _attach_ecg(instance, order_obj.pk)
    return study


def _order_for(actor, order) -> ExamOrder:
    qs = scoped(actor, ExamOrder).select_related("center")
    text = str(getattr(order, "pk", order) or "").strip()
    found = None
    if text.isdigit():
        found = qs.filter(pk=int(text)).first()
    if found is None and text:
        found = qs.filter(accession_number=text.upper()).first()
    if found is None:
        raise ValidationError(
            _("No such exam order in your area: give its accession number."),
            code="unknown_order",
            field="order",
        )
    return found


@transaction.atomic
def reject_study(actor, study_id, *, reason: str) -> Study:
    """Reject an unmatched study (a test shot, the wrong patient): it stays stored, off the
    reconciliation list, with who rejected it and why."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give a reason for rejecting."), code="required", field="reason")
    if len(reason) > 500:
        raise ValidationError(
            _("At most %(n)d characters.") % {"n": 500}, code="too_long", field="reason"
        )
    study = _study_for(actor, study_id)
    if study.status != StudyStatus.UNMATCHED:
        raise IllegalTransition(
            _("Only a study waiting for reconciliation can be rejected."),
            extra={"status": study.status},
        )
    study.status = StudyStatus.REJECTED
    study.reject_reason = reason
    study.reconciled_by = actor
    study.reconciled_at = timezone.now()
    study.save()
    audit.log("update", actor=actor, obj=study, detail={"to": study.status, "reason": reason})
    return study
