"""The DICOM listener end to end with dcmtk as the device — echoscu, storescu and findscu, peers
we did not write — against a running listener (issue 4, "Done means"; WH-02, WH-04)."""

from __future__ import annotations

import time

import pydicom
import pytest
from django.utils import timezone

from countycare.imaging.models import Association, Instance, Receipt, Study, StudyStatus
from countycare.telemed.models import Attachment, AttachmentKind
from tests.imaging.conftest import (
    ECG,
    SR_COMPREHENSIVE,
    US_CINE,
    dcmtk,
    for_order,
    needs_dcmtk,
    real_file,
    storescu_args,
)

pytestmark = [needs_dcmtk, pytest.mark.django_db(transaction=True)]


def peer(listener):
    return ["127.0.0.1", str(listener.port)]


def push(listener, path, ae: str = "TEST_US"):
    """storescu as the device: proposes the file's own transfer syntax (and uncompressed)."""
    return run(
        listener, *storescu_args(path), ae, "-v", "-aec", "COUNTYCARE", *peer(listener), str(path)
    )


def run(listener, *args: str):
    """Run a dcmtk tool against the listener and wait until the listener has logged it."""
    result = dcmtk(*args)
    assert listener.settle(), "the listener did not finish the association"
    return result


def test_echoscu_succeeds_for_a_registered_device(listener, devices):
    result = run(listener, "echoscu", "-aet", "TEST_US", "-aec", "COUNTYCARE", *peer(listener))
    assert result.returncode == 0, result.stderr
    log = Association.objects.get()
    assert log.accepted and log.calling_ae == "TEST_US" and log.device == devices["US"]
    assert log.echoes == 1 and log.ended_at is not None


def test_an_unknown_calling_ae_is_refused_and_logged(listener, devices):
    result = run(listener, "echoscu", "-aet", "STRANGER", "-aec", "COUNTYCARE", *peer(listener))
    assert result.returncode != 0
    assert "Rejected" in result.stderr or "rejected" in result.stderr.lower()
    log = Association.objects.get()
    assert not log.accepted and "STRANGER" in log.reason
    # ... and the listener keeps serving the devices it knows.
    again = run(listener, "echoscu", "-aet", "TEST_US", "-aec", "COUNTYCARE", *peer(listener))
    assert again.returncode == 0, again.stderr


def test_storescu_pushes_a_multiframe_ultrasound_onto_its_order(
    listener, devices, make_order, write_dicom
):
    order = make_order(service="US-ABD")
    path = write_dicom(US_CINE, **for_order(order))
    result = push(listener, path)
    assert result.returncode == 0, result.stderr

    study = Study.objects.get()
    assert study.order == order and study.status == StudyStatus.MATCHED
    assert study.match_method == "accession" and study.device == devices["US"]
    instance = Instance.objects.get()
    assert instance.kind == "multiframe" and instance.frames == 30
    assert instance.spacing_source == "SequenceOfUltrasoundRegions"
    assert instance.pixel_spacing[1] == pytest.approx(0.5104970559477806)
    assert instance.frame_time_ms == pytest.approx(33.333)
    # The stored file is what the device sent: same dataset, same pixel bytes.
    with instance.file.open("rb") as fh:
        stored = pydicom.dcmread(fh)
    sent = pydicom.dcmread(path)
    assert stored.SOPInstanceUID == sent.SOPInstanceUID
    assert stored.PixelData == sent.PixelData
    assert Association.objects.get().stored == 1


def test_the_same_instance_sent_twice_is_stored_once(listener, devices, make_order, write_dicom):
    order = make_order(service="US-ABD")
    path = write_dicom(US_CINE, **for_order(order))
    for _ in range(2):
        result = push(listener, path)
        assert result.returncode == 0, result.stderr
    assert Instance.objects.count() == 1
    logs = list(Association.objects.order_by("started_at"))
    assert [(a.stored, a.duplicates) for a in logs] == [(1, 0), (0, 1)]


def test_an_unsupported_sop_class_is_refused_at_negotiation(listener, devices):
    # RT Plan is not an exam the Walking Hospital reads: no presentation context for it.
    result = run(listener, "storescu", "-aet", "TEST_US", "-aec", "COUNTYCARE", *peer(listener),
                   str(real_file("rtplan.dcm")))  # fmt: skip
    assert result.returncode != 0
    assert "presentation context" in (result.stderr + result.stdout).lower()
    assert not Instance.objects.exists()


def test_a_dataset_without_patient_or_accession_fails_with_a_status(listener, devices, write_dicom):
    path = write_dicom(US_CINE, PatientID="", AccessionNumber="")
    result = push(listener, path)
    assert result.returncode != 0
    assert "DataSetDoesNotMatchSOPClass" in result.stderr  # status 0xA900
    assert Association.objects.get().failed == 1
    assert not Instance.objects.exists() and not Study.objects.exists()


def test_an_ecg_waveform_is_handed_to_the_ecg_app(listener, devices, make_order, write_dicom):
    order = make_order(service="ECG12")
    path = write_dicom(ECG, **for_order(order))
    result = push(listener, path)
    assert result.returncode == 0, result.stderr
    instance = Instance.objects.get()
    assert instance.kind == "ecg"
    attachment = Attachment.objects.get(order=order)
    assert attachment.kind == AttachmentKind.ECG and instance.attachment == attachment
    assert attachment.external_uid == instance.sop_instance_uid
    from django.db import connection

    from countycare.ecg.models import EcgRecording

    # The ECG app takes the attachment over once its transaction commits (ecg.signals): give
    # that hand-off a moment rather than racing it, and say what was there if it never came.
    deadline = time.monotonic() + 15
    while not EcgRecording.objects.filter(attachment=attachment).exists():
        assert time.monotonic() < deadline, (
            f"no ECG recording for attachment {attachment.pk}; in_atomic_block="
            f"{connection.in_atomic_block}, receipts="
            f"{list(Receipt.objects.values_list('state', 'error'))}"
        )
        time.sleep(0.05)


def test_an_unmatched_study_waits_for_reconciliation(listener, devices, write_dicom):
    path = write_dicom(SR_COMPREHENSIVE, AccessionNumber="NOSUCHORDER1234", PatientID="X99")
    result = push(listener, path)
    assert result.returncode == 0, result.stderr
    study = Study.objects.get()
    assert study.status == StudyStatus.UNMATCHED and study.order is None
    assert study.institution == devices["US"].institution


def test_findscu_gets_todays_worklist_created_through_the_api(
    listener, devices, api, village_doctor, centers, residents, tmp_path
):
    client = api(village_doctor)
    made = []
    for service in ("US-ABD", "US-THY", "DR-CHEST"):
        response = client.post(
            "/api/v1/exam-orders/",
            {"resident": residents["a1"].pk, "service": service},
            format="json",
        )
        assert response.status_code == 201, response.content
        made.append(response.json()["accession_number"])
    # Another village's order (township B) is not on township A's devices' worklist.
    from countycare.telemed import services
    from tests.factories import with_role

    with_role(village_doctor, "village_doctor", residents["b1"].home_village)
    other = services.create_order(village_doctor, resident=residents["b1"].pk, service="US-ABD")

    today = timezone.localdate().strftime("%Y%m%d")
    out = tmp_path / "rsp"
    out.mkdir()
    result = run(listener,
        "findscu", "-W", "-aet", "TEST_US", "-aec", "COUNTYCARE", *peer(listener),
        "-k", "PatientName", "-k", "PatientID", "-k", "PatientBirthDate", "-k", "PatientSex",
        "-k", "AccessionNumber", "-k", "RequestedProcedureDescription", "-k", "StudyInstanceUID",
        "-k", f"ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate={today}",
        "-k", "ScheduledProcedureStepSequence[0].Modality=US",
        "-k", "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
        "-X", "-od", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answers = [pydicom.dcmread(p) for p in sorted(out.glob("*.dcm"))]
    accessions = sorted(a.AccessionNumber for a in answers)
    assert accessions == sorted(made[:2])  # the two ultrasounds, not the DR, not township B
    assert other.accession_number not in accessions
    item = answers[0]
    assert item.PatientName == residents["a1"].name  # UTF-8 Chinese name
    assert item.PatientID == f"CC{residents['a1'].pk:08d}"
    assert item.PatientBirthDate == residents["a1"].birth_date.strftime("%Y%m%d")
    step = item.ScheduledProcedureStepSequence[0]
    assert step.Modality == "US" and step.ScheduledStationAETitle == "TEST_US"
    assert Association.objects.get().finds == 1
