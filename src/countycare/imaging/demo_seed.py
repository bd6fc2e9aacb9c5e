"""The demo county's imaging (issue 4): the township's two DICOM devices — ``DEMO_US`` (the
ultrasound of 札萨克镇中心卫生院, an "ultrasound AI assist" machine, WH-01) and ``DEMO_DR``
(its DR) — registered so a newcomer can push to ``countycare dicom-listen`` at once, and, with
traffic, the studies they sent today: a 30-frame ultrasound cine, a still and the device's AI
report (Comprehensive SR) on an abdominal ultrasound order of the demo village doctor's
village, a chest radiograph on a DR order, and one study nobody could match (the
reconciliation list). The images are real files nobody here made: pydicom's bundled test
files and the WG-04 chest radiograph shipped in ``imaging/data``; each gets the order's
patient, accession number and its own UIDs (derived from the seed), as a device that took the
exam from the worklist would send it.

Everything goes through ``imaging.services.store`` (the listener's own path: matching,
index, audit)."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
from django.utils import timezone
from django.utils.translation import gettext
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from countycare.demo.staff import DEMO_LOGINS, LEAD_HOSPITAL, ZASAKE
from countycare.demo.steps import step
from countycare.imaging import services
from countycare.imaging.models import DeviceAE, Instance
from countycare.organizations.models import Institution, RoleAssignment, Staff
from countycare.residents.models import Resident
from countycare.telemed import services as telemed_services
from countycare.telemed.models import CenterKind, ExamOrder, OrderStatus, SharedCenter

DATA = Path(__file__).resolve().parent / "data"
DEVICES = (
    ("DEMO_US", "US", "乡镇卫生院彩超（超声AI辅助）"),
    ("DEMO_DR", "DX", "乡镇卫生院DR"),
)


def _file(name: str) -> Path:
    return DATA / name if (DATA / name).exists() else Path(get_testdata_file(name))


def _dicom(name: str, seed: int, key: str, *, order: ExamOrder | None, study_key: str,
           **extra) -> bytes:  # fmt: skip
    ds = pydicom.dcmread(_file(name))
    ds.decode()  # text in the file's own character set, before it becomes UTF-8
    uid = lambda *parts: generate_uid(entropy_srcs=[f"countycare-demo:{seed}", *parts])  # noqa: E731
    ds.StudyInstanceUID = uid("study", study_key)
    ds.SeriesInstanceUID = uid("series", study_key, name)
    ds.SOPInstanceUID = uid("instance", key)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    today = timezone.localdate().strftime("%Y%m%d")
    ds.StudyDate = ds.ContentDate = today
    if order is not None:
        resident = order.resident
        ds.AccessionNumber = order.accession_number
        ds.PatientID = services.patient_id_for(resident)
        ds.PatientName = resident.name
        ds.PatientBirthDate = resident.birth_date.strftime("%Y%m%d")
        ds.PatientSex = resident.sex
        ds.SpecificCharacterSet = "ISO_IR 192"
    for keyword, value in extra.items():
        setattr(ds, keyword, value)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _order(doctor: Staff, village: Institution, service: str, seed: int) -> ExamOrder:
    """An open order of the demo village for ``service``, else a new one (submitted)."""
    found = (
        ExamOrder.objects.filter(
            requesting_institution=village, service__code=service,
            status__in=(OrderStatus.SUBMITTED, OrderStatus.CLAIMED, OrderStatus.PRELIMINARY),
            studies__isnull=True,
        )
        .order_by("-created_at")
        .first()
    )  # fmt: skip
    if found is not None:
        return found
    residents = list(
        Resident.objects.filter(home_village=village, deceased_on__isnull=True).order_by("pk")[:50]
    )
    resident = residents[(seed * 7 + len(service)) % len(residents)]
    question = {"US-ABD": "右上腹隐痛2天，胆囊结石？", "DR-CHEST": "咳嗽咳痰2周，肺部感染？"}
    return telemed_services.create_order(
        doctor, resident=resident.pk, service=service, clinical_question=question.get(service, "")
    )


@step("imaging", order=20)
def seed_imaging(seed: int, *, traffic: bool) -> str:
    township = Institution.objects.get(code=ZASAKE)
    devices = {}
    for ae_title, modality, description in DEVICES:
        devices[ae_title], _ = DeviceAE.objects.get_or_create(
            ae_title=ae_title,
            defaults={"institution": township, "modality": modality, "description": description},
        )
    # The demo reader reads radiographs too, so the DR study is on a worklist they see.
    reader_login = next(login for login in DEMO_LOGINS if login.username == "center_reader")
    reader = Staff.objects.filter(username=reader_login.username).first()
    imaging_center = SharedCenter.objects.filter(
        institution__code=LEAD_HOSPITAL, kind=CenterKind.IMAGING
    ).first()
    if reader is not None and imaging_center is not None:
        imaging_center.readers.add(reader)
    if not traffic:
        return "devices DEMO_US, DEMO_DR"

    doctor_login = next(login for login in DEMO_LOGINS if login.username == "village_doctor")
    doctor = Staff.objects.get(username=doctor_login.username)
    village = (
        RoleAssignment.objects.filter(staff=doctor, role="village_doctor")
        .select_related("institution")
        .first()
        .institution
    )
    if not Resident.objects.filter(home_village=village, deceased_on__isnull=True).exists():
        return "devices DEMO_US, DEMO_DR (no resident in the demo village: no studies)"
    before = Instance.objects.count()
    us_order = _order(doctor, village, "US-ABD", seed)
    us = devices["DEMO_US"]
    for key, name, extra in (
        ("us-cine", "examples_ybr_color.dcm", {"StudyDescription": "腹部超声"}),
        ("us-still", "examples_rgb_color.dcm", {"StudyDescription": "腹部超声"}),
        ("us-ai-sr", "test-SR.dcm", {"Manufacturer": "超声AI辅助诊断系统"}),
    ):
        outcome = services.store(
            _dicom(name, seed, key, order=us_order, study_key="us", **extra), device=us
        )
        assert outcome.ok, outcome.reason
    dr_order = _order(doctor, village, "DR-CHEST", seed)
    outcome = services.store(
        _dicom("RG1_J2KI.dcm", seed, "dr-chest", order=dr_order, study_key="dr",
               StudyDescription="胸部正位DR"),
        device=devices["DEMO_DR"],
    )  # fmt: skip
    assert outcome.ok, outcome.reason
    # A study typed in at the machine with a wrong accession number: nobody's order.
    outcome = services.store(
        _dicom("examples_palette.dcm", seed, "unmatched", order=None, study_key="unmatched",
               AccessionNumber="WH2511XXXXXXXX", PatientID="0042", PatientName="LI^MING"),
        device=us,
    )  # fmt: skip
    assert outcome.ok, outcome.reason
    stored = Instance.objects.count() - before
    return gettext(
        "devices DEMO_US, DEMO_DR; %(n)s instances on orders %(us)s (ultrasound + device AI "
        "report) and %(dr)s (DR), 1 study to reconcile"
    ) % {"n": stored, "us": us_order.accession_number, "dr": dr_order.accession_number}
