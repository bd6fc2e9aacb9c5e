"""Storing what devices send, without the network (issue 4, "Bad input"): statuses, nothing
half-stored, idempotency, matching and reconciliation (WH-02, WH-03)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.storage import default_storage
from django.db import OperationalError
from django.utils import timezone

from countycare.core.errors import IllegalTransition, PermissionDenied, ValidationError
from countycare.imaging import dicom, indexer, services
from countycare.imaging.models import Instance, Receipt, ReceiptState, Series, Study, StudyStatus
from countycare.telemed.models import Attachment
from tests.imaging.conftest import (
    ECG,
    SR_BASIC,
    SR_COMPREHENSIVE,
    US_CINE,
    US_PALETTE,
    dicom_bytes,
    for_order,
    real_file,
)

pytestmark = pytest.mark.django_db


def test_a_radiograph_is_indexed_with_its_header_facts(devices, make_order):
    order = make_order(service="DR-CHEST")
    outcome = services.store(dicom_bytes("DR", **for_order(order)), device=devices["DR"])
    assert outcome.ok and outcome.created
    instance = outcome.instance
    assert instance.kind == "image" and (instance.rows, instance.columns) == (1955, 1841)
    assert instance.photometric == "MONOCHROME1"
    assert instance.transfer_syntax_uid == "1.2.840.10008.1.2.4.91"  # JPEG 2000
    assert instance.window == [15000.0, 30000.0]
    assert instance.pixel_spacing == [] and instance.spacing_source == ""  # 0\0: uncalibrated
    study = instance.series.study
    assert study.order == order and study.center_kind == "imaging"
    assert study.patient_name == "Test Patient"


def test_storage_failure_answers_out_of_resources_and_indexes_nothing(
    devices, make_order, monkeypatch
):
    order = make_order(service="US-ABD")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(default_storage, "save", full_disk)
    outcome = services.store(dicom_bytes(US_CINE, **for_order(order)), device=devices["US"])
    assert outcome.status == dicom.OUT_OF_RESOURCES and "No space left" in outcome.reason
    assert not Receipt.objects.exists()  # nothing recorded: the device sends it again
    assert not Instance.objects.exists() and not Study.objects.exists()


def test_an_index_failure_indexes_nothing_and_the_receipt_waits_for_a_retry(
    devices, make_order, monkeypatch
):
    order = make_order(service="US-ABD")
    real_log = services.audit.log

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services.audit, "log", broken)
    outcome = services.store(dicom_bytes(US_CINE, **for_order(order)), device=devices["US"])
    # The device was answered success: the file is stored and its receipt committed ...
    assert outcome.ok and outcome.instance is None and "database went away" in outcome.reason
    receipt = Receipt.objects.get()
    assert receipt.state == ReceiptState.PENDING and receipt.attempts == 1
    assert "database went away" in receipt.error and receipt.available_at > timezone.now()
    assert default_storage.exists(receipt.file.name)
    # ... and nothing is half-indexed: no study, no series, no instance.
    assert not Instance.objects.exists() and not Study.objects.exists()
    assert not Series.objects.exists()
    # Not retried before its time; at its time it is indexed whole.
    assert indexer.drain() == 0
    monkeypatch.setattr(services.audit, "log", real_log)
    Receipt.objects.update(available_at=timezone.now())
    assert indexer.drain() == 1
    receipt.refresh_from_db()
    assert receipt.state == ReceiptState.INDEXED and receipt.error == ""
    assert receipt.instance.series.study.order == order
    assert receipt.instance.file.name == receipt.file.name


def test_a_database_error_at_receipt_answers_out_of_resources_and_keeps_no_file(
    devices, monkeypatch
):
    saved = []
    real_save = default_storage.save

    def save(name, content, *args, **kwargs):
        saved.append(real_save(name, content, *args, **kwargs))
        return saved[-1]

    def broken(self, *args, **kwargs):
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(default_storage, "save", save)
    monkeypatch.setattr(Receipt, "save", broken)
    outcome = services.receive(dicom_bytes(US_PALETTE), device=devices["US"])
    assert outcome.status == dicom.OUT_OF_RESOURCES and "disk I/O error" in outcome.reason
    assert saved and not default_storage.exists(saved[0])


def test_malformed_bytes_are_refused_with_cannot_understand(devices):
    outcome = services.store(b"\x00" * 128 + b"DICM" + b"\x02\x00garbage", device=devices["US"])
    assert outcome.status == dicom.CANNOT_UNDERSTAND
    truncated = real_file("MR_truncated.dcm").read_bytes()  # a real file cut short
    outcome = services.store(truncated, device=devices["US"])
    assert outcome.status == dicom.CANNOT_UNDERSTAND and "cut short" in outcome.reason
    # A compressed cine cut inside its fragments, or with its last delimiter missing.
    cine = dicom_bytes(US_CINE, PatientID="P1")
    for cut in (len(cine) - 4, len(cine) // 2):
        outcome = services.store(cine[:cut], device=devices["US"])
        assert outcome.status == dicom.CANNOT_UNDERSTAND and "cut short" in outcome.reason
    assert not Instance.objects.exists() and not Receipt.objects.exists()


def test_an_unsupported_sop_class_is_refused(devices):
    outcome = services.store(real_file("rtplan.dcm").read_bytes(), device=devices["US"])
    assert outcome.status == dicom.SOP_CLASS_NOT_SUPPORTED


def test_missing_study_identifiers_are_refused(devices):
    outcome = services.store(dicom_bytes(US_PALETTE, StudyInstanceUID=""), device=devices["US"])
    assert outcome.status == dicom.DATASET_DOES_NOT_MATCH
    assert "StudyInstanceUID" in outcome.reason


def test_the_same_sop_instance_uid_is_stored_once(devices, make_order):
    order = make_order(service="US-ABD")
    data = dicom_bytes(US_CINE, **for_order(order))
    first = services.store(data, device=devices["US"])
    second = services.store(data, device=devices["US"])
    assert first.created and not second.created and second.ok
    assert second.instance == first.instance
    assert Instance.objects.count() == 1 and Receipt.objects.count() == 1


def test_the_same_instance_received_twice_before_indexing_is_one_receipt(devices, make_order):
    order = make_order(service="US-ABD")
    data = dicom_bytes(US_CINE, **for_order(order))
    first = services.receive(data, device=devices["US"])
    folder = first.receipt.file.name.rsplit("/", 1)[0]
    files = set(default_storage.listdir(folder)[1])
    again = services.receive(data, device=devices["US"])  # the device retried: not indexed yet
    assert first.ok and first.created and again.ok and not again.created
    assert again.receipt == first.receipt and again.instance is None
    assert Receipt.objects.count() == 1
    assert set(default_storage.listdir(folder)[1]) == files  # the retry's copy was removed
    assert indexer.drain() == 1 and Instance.objects.count() == 1


def test_match_by_patient_and_date_without_accession(devices, make_order):
    order = make_order(service="US-ABD")
    today = timezone.localdate().strftime("%Y%m%d")
    data = dicom_bytes(
        US_PALETTE, AccessionNumber="", PatientID=services.patient_id_for(order.resident_id),
        StudyDate=today,
    )  # fmt: skip
    study = services.store(data, device=devices["US"]).instance.series.study
    assert study.order == order and study.match_method == "patient_date"


def test_two_open_orders_of_the_patient_are_not_guessed(devices, make_order):
    order = make_order(service="US-ABD")
    make_order(service="US-THY")
    data = dicom_bytes(
        US_PALETTE, AccessionNumber="", PatientID=services.patient_id_for(order.resident_id),
        StudyDate=timezone.localdate().strftime("%Y%m%d"),
    )  # fmt: skip
    study = services.store(data, device=devices["US"]).instance.series.study
    assert study.status == StudyStatus.UNMATCHED and study.order is None


def test_an_accession_of_another_patients_order_is_not_trusted(devices, make_order, residents):
    order = make_order(service="US-ABD")
    data = dicom_bytes(
        US_PALETTE, AccessionNumber=order.accession_number,
        PatientID=services.patient_id_for(residents["a2"]),
    )  # fmt: skip
    study = services.store(data, device=devices["US"]).instance.series.study
    assert study.status == StudyStatus.UNMATCHED


def test_the_platform_or_a_national_id_as_patient_id_finds_the_resident(residents):
    resident = residents["a1"]
    assert services.resident_for_patient_id(services.patient_id_for(resident)) == resident
    assert services.resident_for_patient_id(str(resident.national_id)) == resident
    assert services.resident_for_patient_id("not-an-id") is None
    assert services.resident_for_patient_id("1" * 18) is None  # fails the check digit


def test_sr_findings_are_read_from_the_content_tree(devices, make_order):
    order = make_order(service="US-ABD")
    instance = services.store(
        dicom_bytes(SR_COMPREHENSIVE, **for_order(order)), device=devices["US"]
    ).instance
    doc = instance.findings
    assert instance.kind == "sr" and doc["source"] == "sr"
    assert doc["title"] == "Diagnosis" and doc["completion"] == "COMPLETE"
    values = [(r.get("name"), r.get("value"), r.get("unit")) for r in doc["rows"]]
    assert ("Text Code", "A mass of", "") in values
    assert ("Diameter", "3", "cm") in values
    assert ("Code", "Sample Code 1", "") in values
    basic = services.store(dicom_bytes(SR_BASIC, **for_order(order)), device=devices["US"])
    assert basic.instance.findings["rows"][1]["value"] == "Enter text"


def test_reconciliation_links_an_unmatched_study_and_its_ecg(
    devices, make_order, center_reader, village_doctor
):
    order = make_order(service="ECG12")
    data = dicom_bytes(ECG, AccessionNumber="UNKNOWN000001", PatientID="X1")
    study = services.store(data, device=devices["US"]).instance.series.study
    assert study.status == StudyStatus.UNMATCHED and study.center_kind == "ecg"
    with pytest.raises(PermissionDenied):  # a village doctor does not reconcile
        services.link_study(village_doctor, study.pk, order=order.accession_number)
    with pytest.raises(ValidationError):
        services.link_study(center_reader, study.pk, order="WH000000NOPE")
    linked = services.link_study(center_reader, study.pk, order=order.accession_number)
    assert linked.order == order and linked.match_method == "manual"
    assert linked.reconciled_by == center_reader
    attachment = Attachment.objects.get(order=order)
    assert attachment.kind == "ecg"
    with pytest.raises(IllegalTransition):
        services.link_study(center_reader, study.pk, order=order.accession_number)


def test_reconciliation_rejects_with_a_reason(devices, centers, center_reader, community_admin):
    data = dicom_bytes(US_PALETTE, AccessionNumber="TESTSHOT", PatientID="PHANTOM")
    study = services.store(data, device=devices["US"]).instance.series.study
    with pytest.raises(ValidationError):
        services.reject_study(center_reader, study.pk, reason=" ")
    rejected = services.reject_study(center_reader, study.pk, reason="体模测试图像")
    assert rejected.status == StudyStatus.REJECTED and rejected.reject_reason == "体模测试图像"
    with pytest.raises(IllegalTransition):  # the community office still sees it
        services.reject_study(community_admin, study.pk, reason="again")
    # off the reader's reconciliation list
    from countycare.imaging import selectors

    assert not selectors.unmatched(center_reader).exists()


def test_a_study_on_a_signed_order_is_not_matched(devices, make_order):
    order = make_order(service="US-ABD")
    order.status = "signed"
    order.signed_at = timezone.now() - dt.timedelta(hours=1)
    order.save(update_fields=["status", "signed_at"])
    study = services.store(
        dicom_bytes(US_PALETTE, **for_order(order)), device=devices["US"]
    ).instance.series.study
    assert study.status == StudyStatus.UNMATCHED
