"""Writes of the imaging app (issue 4): storing what devices send, matching studies to exam
orders, reconciliation by a person.

:func:`receive` is the one way an object enters — the DICOM listener's C-STORE, and
:func:`store` (receive, then index at once: the demo, tests). It answers with the DICOM
status the device gets back. The header is checked (identifiers, kind, complete pixel data),
the file is written to storage, then one receipt row is committed (``Receipt``, unique SOP
Instance UID): only then is the answer success. A storage error answers failure and records
nothing; a retried C-STORE of a received instance succeeds without a second copy. The
indexer (``imaging.indexer``) turns receipts into Study/Series/Instance rows, each instance
atomically — never a half-indexed instance.

Matching (WH-02, WH-03): a new study belongs to the exam order whose accession number it
carries (the device took it from the modality worklist), else — when the device's patient ID
is the platform's (or a national ID number) — to the one open order of that resident for
that modality on the study's date. Anything else waits in the reconciliation list.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from dataclasses import dataclass

import pydicom
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
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
    Receipt,
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
    receipt: Receipt | None = None

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


def receive(
    source: bytes | dicom.Received,
    *,
    device: DeviceAE | None,
    association: Association | None = None,
    now: dt.datetime | None = None,
) -> StoreOutcome:
    """Receive one DICOM object sent by ``device`` — a C-STORE's dataset as pynetdicom
    received it, or a Part-10 byte string — and answer. Success means: the file is in file
    storage and its receipt is committed; the indexer does the rest. ``created`` is False
    for an instance received before (the receipt's unique SOP Instance UID decides)."""
    now = now or timezone.now()
    try:
        if isinstance(source, dicom.Received):
            header = dicom.read_received(source)
        else:
            header = dicom.read_header(source)
        f = dicom.identify(header.dataset, has_pixels=header.has_pixels)
    except dicom.DatasetProblem as problem:
        return StoreOutcome(problem.status, problem.reason)
    if isinstance(source, dicom.Received):
        meta = dicom.file_meta(
            f.sop_class_uid, f.sop_instance_uid, source.transfer_syntax, source.source_ae
        )
        data = b"".join((meta, source.dataset.getbuffer()))
    else:
        data = bytes(source)
    name = f"imaging/{f.study_instance_uid}/{f.sop_instance_uid}.dcm"
    try:
        stored_name = default_storage.save(name, ContentFile(data))
    except Exception as exc:
        log.error("storage refused %s: %s", f.sop_instance_uid, exc)
        return StoreOutcome(dicom.OUT_OF_RESOURCES, f"storage error: {exc}")
    receipt = Receipt(
        sop_instance_uid=f.sop_instance_uid, sop_class_uid=f.sop_class_uid,
        study_instance_uid=f.study_instance_uid, size=len(data), device=device,
        association=association, received_at=now, available_at=now,
    )  # fmt: skip
    receipt.file.name = stored_name
    try:
        if connection.in_atomic_block:  # (store() inside a caller's transaction)
            with transaction.atomic():
                receipt.save(force_insert=True)
        else:  # one INSERT: its own transaction
            receipt.save(force_insert=True)
    except IntegrityError:
        _discard(stored_name)
        earlier = Receipt.objects.filter(sop_instance_uid=f.sop_instance_uid).first()
        if earlier is None:  # pragma: no cover — not the unique UID (a device removed?)
            return StoreOutcome(dicom.OUT_OF_RESOURCES, "the receipt could not be recorded")
        return StoreOutcome(SUCCESS, "duplicate", earlier.instance, receipt=earlier)
    except Exception as exc:
        _discard(stored_name)
        log.exception("recording the receipt of %s failed", f.sop_instance_uid)
        return StoreOutcome(dicom.OUT_OF_RESOURCES, f"database error: {exc}")
    return StoreOutcome(SUCCESS, "", created=True, study_uid=f.study_instance_uid, receipt=receipt)


def store(
    source: bytes,
    *,
    device: DeviceAE | None,
    association: Association | None = None,
    now: dt.datetime | None = None,
) -> StoreOutcome:
    """Receive one object and index it at once (the demo, tests, imports): the outcome
    carries its instance — None when indexing failed, the receipt then waits for the
    indexer's retry with the error."""
    from countycare.imaging import indexer

    outcome = receive(source, device=device, association=association, now=now)
    if outcome.ok and outcome.receipt is not None and outcome.instance is None:
        indexer.run_batch(indexer.worker_name(), ids=[outcome.receipt.pk])
        receipt = Receipt.objects.select_related("instance").get(pk=outcome.receipt.pk)
        outcome.receipt, outcome.instance = receipt, receipt.instance
        if receipt.instance is None:
            outcome.reason = f"received; not indexed yet: {receipt.error}"
    return outcome


def _discard(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # pragma: no cover — best effort; an orphan file holds no index row
        log.exception("could not remove %s", name)


def findings_of(ds: pydicom.Dataset, f: dicom.Facts) -> dict:
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


STUDY_FIELDS = (
    "pk", "order_id", "order__resident_id", "order__requesting_institution_id",
    "order__requesting_institution__name", "institution_id", "institution__name", "modalities",
    "accession_number",
)  # fmt: skip


def study_row(values: tuple) -> dict:
    """A study as the indexer needs it, from ``values_list(*STUDY_FIELDS)``: no relation
    loads for the audit entry's resident and place."""
    pk, order_id, resident_id, req_id, req_name, inst_id, inst_name, modalities, acc = values
    place = _Place(req_id, req_name or "") if order_id else _Place(inst_id, inst_name or "")
    return {"pk": pk, "order_id": order_id, "resident_id": resident_id, "place": place,
            "modalities": modalities or "", "accession_number": acc or ""}  # fmt: skip


def new_study(f: dicom.Facts, device: DeviceAE | None, received_at) -> tuple[dict, Match]:
    """Create the study row of a study's first instance, matched to its order: (the row as
    :func:`study_row` gives it, the match)."""
    match = match_order(f)
    study = Study(
        study_instance_uid=f.study_instance_uid, device=device,
        institution=device.institution if device else None,
        accession_number=f.accession_number, patient_id=f.patient_id,
        patient_name=f.patient_name, patient_birth_date=f.patient_birth_date,
        patient_sex=f.patient_sex, study_date=f.study_date, study_time=f.study_time,
        description=f.study_description, modalities=f.modality, received_at=received_at,
        center_kind=f.center_kind,
    )  # fmt: skip
    if match.order is not None:
        study.order = match.order
        study.status = StudyStatus.MATCHED
        study.match_method = match.method
        study.center_kind = match.order.center.kind
    study.save(force_insert=True)
    order = match.order
    row = {
        "pk": study.pk,
        "order_id": study.order_id,
        "resident_id": order.resident_id if order else None,
        "place": _Place(order.requesting_institution_id, order.requesting_institution.name)
        if order
        else _Place(study.institution_id, study.institution.name if study.institution else ""),
        "modalities": study.modalities,
        "accession_number": study.accession_number,
    }
    return row, match


def attach_ecg(instance: Instance, order_id: int) -> None:
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
        attach_ecg(instance, order_obj.pk)
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
