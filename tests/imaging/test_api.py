"""The imaging REST API: studies (scoped, audited, reconciliation actions with an
Idempotency-Key) and the device register (issue 4)."""

import pytest

from countycare.imaging import services
from countycare.imaging.models import DeviceAE, StudyStatus
from tests.imaging.conftest import US_CINE, US_PALETTE, dicom_bytes, for_order

pytestmark = pytest.mark.django_db


def test_studies_are_scoped_and_carry_their_instances(
    api, devices, make_order, center_reader, village_doctor, village_doctor_b1
):
    order = make_order(service="US-ABD")
    services.store(dicom_bytes(US_CINE, **for_order(order)), device=devices["US"])
    for user, expected in ((center_reader, 1), (village_doctor, 1), (village_doctor_b1, 0)):
        rows = api(user).get("/api/v1/imaging-studies/", {"order": order.pk}).json()["results"]
        assert len(rows) == expected, user
    study = api(center_reader).get("/api/v1/imaging-studies/").json()["results"][0]
    detail = api(center_reader).get(f"/api/v1/imaging-studies/{study['id']}/").json()
    assert detail["order_accession_number"] == order.accession_number
    instance = detail["series"][0]["instances"][0]
    assert instance["frames"] == 30 and instance["kind"] == "multiframe"
    assert api(village_doctor_b1).get(f"/api/v1/imaging-studies/{study['id']}/").status_code == 404
    bad = api(center_reader).get("/api/v1/imaging-studies/", {"status": "nope"})
    assert bad.status_code == 400


def test_link_through_the_api_is_idempotent(api, devices, make_order, center_reader):
    order = make_order(service="US-ABD")
    study = services.store(
        dicom_bytes(US_PALETTE, AccessionNumber="TYPO", PatientID="X"), device=devices["US"]
    ).instance.series.study
    client = api(center_reader)
    url = f"/api/v1/imaging-studies/{study.pk}/link/"
    first = client.post(url, {"order": order.accession_number}, format="json",
                        HTTP_IDEMPOTENCY_KEY="link-1")  # fmt: skip
    again = client.post(url, {"order": order.accession_number}, format="json",
                        HTTP_IDEMPOTENCY_KEY="link-1")  # fmt: skip
    assert first.status_code == 200 and first.json()["status"] == StudyStatus.MATCHED
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    conflict = client.post(url, {"order": order.accession_number}, format="json")
    assert conflict.status_code == 409  # already linked: a clear answer, not a 500
    missing = client.post(f"/api/v1/imaging-studies/{study.pk}/reject/", {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["errors"]


def test_device_register_for_interface_managers(api, tree, institution_admin, village_doctor):
    client = api(institution_admin)  # manages township A
    created = client.post(
        "/api/v1/imaging-devices/",
        {"ae_title": "TA_US2", "institution": tree.township_a.pk, "modality": "US"},
        format="json",
    )
    assert created.status_code == 201, created.content
    outside = client.post(
        "/api/v1/imaging-devices/",
        {"ae_title": "TB_US", "institution": tree.township_b.pk},
        format="json",
    )
    assert outside.status_code == 400 and "institution" in outside.json()["errors"]
    bad = client.post(
        "/api/v1/imaging-devices/",
        {"ae_title": "WAY-TOO-LONG-AE-TITLE", "institution": tree.township_a.pk},
        format="json",
    )
    assert bad.status_code == 400
    device = DeviceAE.objects.get(ae_title="TA_US2")
    off = client.patch(f"/api/v1/imaging-devices/{device.pk}/", {"is_active": False}, format="json")
    assert off.status_code == 200 and not DeviceAE.objects.get(pk=device.pk).is_active
    assert api(village_doctor).get("/api/v1/imaging-devices/").status_code == 403
