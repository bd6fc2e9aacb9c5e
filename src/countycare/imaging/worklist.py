"""The Modality Worklist (C-FIND, PS3.4 K.6) answered from the platform's scheduled exam
orders, so a device picks the exam instead of typing the patient (WH-02, WH-04).

A device sees the orders of its own area only: those requested within its institution's
subtree (a township's DR sees its villages' orders, a village kit its village's) for the
modality it performs, still waiting for their images (draft, submitted, returned for
re-acquisition). The query's matching keys follow PS3.4 C.2.2.2: single value, wildcard
(``*`` ``?``) for names and IDs, date ranges, universal matching for empty keys; the answer
carries the keys the device asked for.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterator

from django.db.models import Q
from django.utils import timezone
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from countycare.imaging import dicom
from countycare.imaging.models import DeviceAE
from countycare.imaging.services import order_study_uid, patient_id_for
from countycare.telemed.models import ExamOrder, OrderStatus, Priority

SCHEDULED_STATES = (OrderStatus.DRAFT, OrderStatus.SUBMITTED, OrderStatus.RETURNED)
DICOM_MODALITY_OF_SERVICE = {"ultrasound": "US", "dr": "DX", "ecg": "ECG"}
PRIORITY = {Priority.STAT: "STAT", Priority.URGENT: "HIGH", Priority.ROUTINE: "ROUTINE"}
MAX_ANSWERS = 500


def _date_range(value: str) -> tuple[dt.date | None, dt.date | None] | None:
    """A DA matching key: ``D``, ``D1-D2``, ``-D2``, ``D1-``; None for universal matching."""
    value = (value or "").strip()
    if not value:
        return None

    def parse(part: str) -> dt.date | None:
        part = part.strip()
        if not part:
            return None
        return dt.date(int(part[:4]), int(part[4:6]), int(part[6:8]))

    if "-" in value:
        low, high = value.split("-", 1)
        return parse(low), parse(high)
    day = parse(value)
    return day, day


def _matches(pattern: str, value: str) -> bool:
    pattern = (pattern or "").strip()
    if not pattern or pattern == "*":
        return True
    if "*" in pattern or "?" in pattern:
        return fnmatch.fnmatchcase(value.upper(), pattern.upper())
    return value.strip().upper() == pattern.upper()


def _key(ds: Dataset, keyword: str) -> str:
    if keyword not in ds:
        return ""
    value = ds[keyword].value
    return "" if value is None else str(value)


def orders_for(device: DeviceAE, query: Dataset, *, today: dt.date | None = None):
    """The orders answering ``query`` for ``device``, oldest first."""
    steps = query.get("ScheduledProcedureStepSequence") or [Dataset()]
    step = steps[0] if len(steps) else Dataset()
    qs = (
        ExamOrder.objects.filter(status__in=SCHEDULED_STATES)
        .filter(
            Q(requesting_institution__path__startswith=device.institution.path)
            | Q(resident__home_village__path__startswith=device.institution.path)
        )
        .select_related("resident", "service", "requested_by", "requesting_institution")
    )
    modality = (_key(step, "Modality") or "").strip().upper() or (device.modality or "").upper()
    if modality:
        service_modality = dicom.ORDER_MODALITY_OF.get(modality)
        if service_modality is None:
            return ExamOrder.objects.none()
        qs = qs.filter(service__modality=service_modality)
    days = _date_range(_key(step, "ScheduledProcedureStepStartDate"))
    if days is not None:
        low, high = days
        if low is not None:
            start = timezone.make_aware(dt.datetime.combine(low, dt.time.min))
            qs = qs.filter(created_at__gte=start)
        if high is not None:
            end = timezone.make_aware(dt.datetime.combine(high + dt.timedelta(days=1), dt.time.min))
            qs = qs.filter(created_at__lt=end)
    accession = _key(query, "AccessionNumber").strip()
    if accession and "*" not in accession and "?" not in accession:
        qs = qs.filter(accession_number=accession.upper())
    return qs.order_by("created_at", "pk")


def _station_ae(step: Dataset, device: DeviceAE) -> str:
    return device.ae_title


def full_identifier(order: ExamOrder, device: DeviceAE) -> Dataset:
    """Every worklist attribute the platform knows for an order."""
    resident = order.resident
    local = timezone.localtime(order.submitted_at or order.created_at)
    modality = DICOM_MODALITY_OF_SERVICE.get(order.service.modality, device.modality or "OT")
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: residents' names in Chinese characters
    ds.PatientName = resident.name
    ds.PatientID = patient_id_for(resident)
    ds.IssuerOfPatientID = "COUNTYCARE"
    ds.PatientBirthDate = resident.birth_date.strftime("%Y%m%d")
    ds.PatientSex = {"M": "M", "F": "F"}.get(resident.sex, "O")
    ds.AccessionNumber = order.accession_number
    ds.ReferringPhysicianName = order.requested_by.get_full_name() or order.requested_by.username
    ds.StudyInstanceUID = order_study_uid(order)
    ds.RequestedProcedureID = order.accession_number
    ds.RequestedProcedureDescription = order.service.name
    ds.RequestedProcedurePriority = PRIORITY.get(order.priority, "ROUTINE")
    ds.ReasonForTheRequestedProcedure = (order.clinical_question or "")[:64]
    ds.AdmissionID = ""
    ds.CurrentPatientLocation = order.requesting_institution.name[:64]
    step = Dataset()
    step.Modality = modality
    step.ScheduledStationAETitle = _station_ae(step, device)
    step.ScheduledProcedureStepStartDate = local.strftime("%Y%m%d")
    step.ScheduledProcedureStepStartTime = local.strftime("%H%M%S")
    step.ScheduledPerformingPhysicianName = ""
    step.ScheduledProcedureStepDescription = order.service.name
    step.ScheduledProcedureStepID = order.accession_number
    step.ScheduledProcedureStepStatus = "SCHEDULED"
    ds.ScheduledProcedureStepSequence = Sequence([step])
    return ds


def restrict(full: Dataset, query: Dataset) -> Dataset:
    """The answer: the query's keys with the values the platform has (empty where it has
    none), recursing into sequence keys (PS3.4 C.2.2.1.3)."""
    out = Dataset()
    for element in query:
        keyword = element.keyword
        if not keyword or keyword == "SpecificCharacterSet":
            continue
        if element.VR == "SQ":
            items = full.get(keyword)
            template = element.value[0] if element.value else Dataset()
            if items:
                out[element.tag] = type(element)(
                    element.tag, "SQ", Sequence([restrict(item, template) for item in items])
                )
            else:
                out.add_new(element.tag, "SQ", Sequence())
        elif keyword in full:
            out[element.tag] = full[keyword]
        else:
            out.add_new(element.tag, element.VR, None)
    if "SpecificCharacterSet" in full:
        out.SpecificCharacterSet = full.SpecificCharacterSet
    return out


def _passes(full: Dataset, query: Dataset) -> bool:
    """The matching keys the database query did not already apply."""
    for keyword in ("PatientID", "PatientName", "AccessionNumber"):
        pattern = _key(query, keyword)
        if pattern and not _matches(pattern, _key(full, keyword)):
            return False
    steps = query.get("ScheduledProcedureStepSequence") or []
    if len(steps):
        step, have = steps[0], full.ScheduledProcedureStepSequence[0]
        for keyword in ("ScheduledStationAETitle", "Modality"):
            pattern = _key(step, keyword)
            if pattern and not _matches(pattern, _key(have, keyword)):
                return False
    return True


def answers(device: DeviceAE, query: Dataset) -> Iterator[Dataset]:
    """The worklist items for a device's C-FIND identifier."""
    count = 0
    for order in orders_for(device, query)[: MAX_ANSWERS * 2]:
        full = full_identifier(order, device)
        if not _passes(full, query):
            continue
        yield restrict(full, query)
        count += 1
        if count >= MAX_ANSWERS:
            return
