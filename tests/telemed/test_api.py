"""The Walking Hospital through the REST API (issue 3, "Interfaces" and "Bad input"): the
end-to-end loop a village tablet and a reader's workstation drive, and every bad input
answering a clear JSON error (never a 500: the test client re-raises escaping exceptions)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from countycare.core.models import AuditEntry
from countycare.organizations.models import PolicyValue
from countycare.telemed import policy as telemed_policy
from countycare.telemed import services
from countycare.telemed.models import (
    Attachment,
    CriticalAlert,
    ExamOrder,
    Observation,
    OrderStatus,
    Visit,
)
from tests.telemed.test_pdf import assert_pdf_has, cjk_font_installed

pytestmark = pytest.mark.django_db
S = OrderStatus

ORDERS = "/api/v1/exam-orders/"
VISITS = "/api/v1/visits/"
WORKLIST = "/api/v1/worklist/"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def jpeg_bytes(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def upload(client, order_id, data: bytes, name: str):
    f = io.BytesIO(data)
    f.name = name
    return client.post(f"{ORDERS}{order_id}/attachments/", {"file": f}, format="multipart")


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["detail"], body
    return body


# --- The loop, end to end ---------------------------------------------------------------------


def test_end_to_end_village_to_reader_and_back(
    village_doctor, center_reader, residents, ecg_center, api, tree
):
    village, reader = api(village_doctor), api(center_reader)
    a1 = residents["a1"]

    # 1. A visit with what the kit measured (a critical SpO2 raises an alert).
    r = village.post(
        VISITS,
        {"resident": a1.pk, "setting": "home", "complaint": "胸闷两天", "systolic_bp": 150,
         "diastolic_bp": 95, "pulse": 88, "spo2": 88, "temperature": "36.8"},
        format="json", headers={"Idempotency-Key": "visit-1"},
    )  # fmt: skip
    assert r.status_code == 201, r.content
    visit = r.json()
    flags = {o["code"]: o["flag"] for o in visit["observations"]}
    assert flags["8480-6"] == "H" and flags["8867-4"] == "N" and flags["59408-5"] == "LL"
    assert village.get(f"{VISITS}{visit['id']}/").json()["observations"] == visit["observations"]

    # 2. The order as a draft (files first), retried with the same key: one order.
    body = {"resident": a1.pk, "service": "ECG12", "center": ecg_center.pk, "priority": "urgent",
            "clinical_question": "胸闷，排除心肌缺血", "visit": visit["id"], "submit": False}  # fmt: skip
    first = village.post(ORDERS, body, format="json", headers={"Idempotency-Key": "order-1"})
    assert first.status_code == 201, first.content
    order = first.json()
    assert order["status"] == "draft" and order["visit"] == visit["id"]
    again = village.post(ORDERS, body, format="json", headers={"Idempotency-Key": "order-1"})
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == order["id"]
    assert ExamOrder.objects.count() == 1
    changed = village.post(
        ORDERS, {**body, "priority": "stat"}, format="json", headers={"Idempotency-Key": "order-1"}
    )
    assert error(changed, 409)["code"] == "idempotency_key_reused"
    oid = order["id"]

    # 3. The exam itself: a real JPEG and a real DICOM file; a retried upload is not doubled.
    jpeg = jpeg_bytes()
    r = upload(village, oid, jpeg, "ecg-photo.jpg")
    assert r.status_code == 201, r.content
    assert r.json()["kind"] == "jpeg" and r.json()["size"] == len(jpeg)
    assert upload(village, oid, jpeg, "ecg-photo.jpg").status_code == 200
    with open(get_testdata_file("CT_small.dcm"), "rb") as f:
        dicom = f.read()
    r = upload(village, oid, dicom, "CT_small.dcm")
    assert r.status_code == 201, r.content
    assert r.json()["kind"] == "dicom" and r.json()["external_uid"]
    assert Attachment.objects.filter(order_id=oid).count() == 2
    r = village.post(f"{ORDERS}{oid}/submit/")
    assert r.status_code == 200 and r.json()["status"] == "submitted"

    # 4. The reader: worklist, claim next, preliminary, sign.
    listed = reader.get(WORKLIST, {"center": ecg_center.pk})
    assert listed.status_code == 200, listed.content
    row = listed.json()["results"][0]
    assert row["id"] == oid and row["priority"] == "urgent" and row["sla_due"]
    assert row["claimed_by"] is None
    claimed = reader.post(f"{WORKLIST}claim-next/", {"center": ecg_center.pk}, format="json")
    assert claimed.status_code == 200, claimed.content
    assert claimed.json()["id"] == oid and claimed.json()["status"] == "claimed"
    assert claimed.json()["claimed_by"]["id"] == center_reader.pk
    held = reader.get(WORKLIST, {"center": ecg_center.pk}).json()["results"][0]
    assert held["claimed_by"]["id"] == center_reader.pk and held["lease_expires_at"]
    empty = reader.post(f"{WORKLIST}claim-next/", {"center": ecg_center.pk}, format="json")
    assert empty.status_code == 204

    detail = reader.get(f"{ORDERS}{oid}/").json()
    assert {a["kind"] for a in detail["attachments"]} == {"jpeg", "dicom"}
    download = reader.get(detail["attachments"][0]["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == jpeg
    assert AuditEntry.objects.filter(
        action="read", object_type="telemed.attachment", actor=center_reader
    ).exists()

    r = reader.post(
        f"{ORDERS}{oid}/report/",
        {"findings": {"rhythm": "窦性心律", "rate": "88", "st_t": "V4-V6 ST段压低0.05mV"},
         "impression": "窦性心律，ST-T改变"},
        format="json",
    )  # fmt: skip
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "preliminary"
    r = reader.post(f"{ORDERS}{oid}/sign/", {"is_abnormal": True}, format="json")
    assert r.status_code == 200, r.content
    report = r.json()
    assert report["status"] == "signed" and report["seal_valid"] is True
    assert report["findings"]["rhythm"] == "窦性心律" and len(report["content_sha256"]) == 64
    assert report["signed_by"]["id"] == center_reader.pk

    # 5. Back at the village: the signed report, acknowledged; the PDF with Chinese text.
    seen = village.get(f"{ORDERS}{oid}/").json()
    assert seen["status"] == "signed" and seen["report"]["impression"] == "窦性心律，ST-T改变"
    steps = [(t["from_status"], t["to_status"]) for t in seen["transitions"]]
    assert steps[-1] == ("preliminary", "signed")
    ack = village.post(f"{ORDERS}{oid}/acknowledge/")
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    versions = village.get(f"{ORDERS}{oid}/reports/").json()
    assert [v["version"] for v in versions] == [1]
    pdf = village.get(seen["report"]["pdf_url"], headers={"Accept": "application/pdf"})
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    data = b"".join(pdf.streaming_content)
    assert data.startswith(b"%PDF-")
    if cjk_font_installed():
        assert_pdf_has(data, tree.lead_hospital.name, a1.name, "窦性心律，ST-T改变", "节律")

    # The critical SpO2 of the visit: listed and acknowledged through the API.
    alerts = village.get("/api/v1/critical-alerts/").json()["results"]
    assert [a["status"] for a in alerts] == ["open"]
    r = village.post(
        f"/api/v1/critical-alerts/{alerts[0]['id']}/acknowledge/",
        {"action_taken": "已吸氧，建议转诊上级医院"}, format="json",
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert village.get("/api/v1/critical-alerts/").json()["results"] == []

    # Reads of the order are audited like resident reads.
    assert AuditEntry.objects.filter(
        action="read", object_type="telemed.examorder", object_id=str(oid), actor=village_doctor
    ).exists()


def test_visit_create_is_idempotent_and_vitals_can_be_added(village_doctor, residents, api):
    client = api(village_doctor)
    body = {"resident": residents["a1"].pk, "pulse": 70}
    one = client.post(VISITS, body, format="json", headers={"Idempotency-Key": "v"})
    two = client.post(VISITS, body, format="json", headers={"Idempotency-Key": "v"})
    assert one.json()["id"] == two.json()["id"] and Visit.objects.count() == 1
    r = client.post(f"{VISITS}{one.json()['id']}/vitals/", {"glucose_random": 7.2}, format="json")
    assert r.status_code == 201, r.content
    assert [o["code"] for o in r.json()] == ["2339-0"]
    assert error(client.post(f"{VISITS}{one.json()['id']}/vitals/", {}, format="json"), 400)
    listed = client.get(VISITS, {"resident": residents["a1"].pk}).json()
    assert listed["count"] == 1 and len(listed["results"][0]["observations"]) == 2


def test_catalog_and_phrases(village_doctor, center_reader, health_commission_viewer, centers,
                             api):  # fmt: skip
    rows = api(village_doctor).get("/api/v1/centers/").json()
    ecg = next(c for c in rows if c["kind"] == "ecg")
    assert ecg["name"] == "远程心电中心"
    assert [s["code"] for s in ecg["services"]] == ["ECG12"]
    assert ecg["services"][0]["report_template"][0]["key"] == "rhythm"
    phrases = api(center_reader).get(f"/api/v1/centers/{ecg['id']}/phrases/")
    assert phrases.status_code == 200 and phrases.json()
    # An aggregate-only role does not use the Walking Hospital.
    assert api(health_commission_viewer).get("/api/v1/centers/").status_code == 403


def test_order_list_filters(village_doctor, make_order, centers, residents, api):
    ecg = make_order()
    dr = make_order(service="DR-CHEST")
    client = api(village_doctor)

    def ids(**params):
        response = client.get(ORDERS, params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids() == {ecg.pk, dr.pk}
    assert ids(center=centers["imaging"].pk) == {dr.pk}
    assert ids(status="submitted", resident=residents["a1"].pk) == {ecg.pk, dr.pk}
    assert ids(status="signed") == set()
    assert error(client.get(ORDERS, {"status": "nonsense"}), 400)["errors"]["status"]


def test_return_resubmit_release_cancel_and_amend(village_doctor, center_reader, make_order, api):
    village, reader = api(village_doctor), api(center_reader)
    oid = make_order().pk
    assert reader.post(f"{ORDERS}{oid}/claim/").json()["status"] == "claimed"
    assert error(reader.post(f"{ORDERS}{oid}/return/", {}, format="json"), 400)["field"] == "reason"
    r = reader.post(f"{ORDERS}{oid}/return/", {"reason": "图像质量差，请重新采集"}, format="json")
    assert r.json()["status"] == "returned" and r.json()["status_reason"]
    assert village.post(f"{ORDERS}{oid}/resubmit/", {"note": "已重做"}).json()["status"] == (
        "submitted"
    )
    reader.post(f"{ORDERS}{oid}/claim/")
    assert reader.post(f"{ORDERS}{oid}/release/").json()["status"] == "submitted"
    reader.post(f"{ORDERS}{oid}/claim/")
    reader.post(f"{ORDERS}{oid}/sign/", {"impression": "正常心电图"}, format="json")
    village.post(f"{ORDERS}{oid}/acknowledge/")
    r = reader.post(f"{ORDERS}{oid}/amend/", {"reason": "漏报", "impression": "房性早搏"},
                    format="json")  # fmt: skip
    assert r.status_code == 200 and r.json()["version"] == 2
    assert r.json()["amendment_reason"] == "漏报"
    versions = village.get(f"{ORDERS}{oid}/reports/").json()
    assert [v["version"] for v in versions] == [2, 1] and all(v["seal_valid"] for v in versions)
    assert village.get(f"{ORDERS}{oid}/").json()["status"] == "signed"  # acknowledge again
    v1 = village.get(f"{ORDERS}{oid}/pdf/", {"version": 1})
    assert v1.status_code == 200
    # Cancelling a signed order is not a move of the state machine.
    cancelled = make_order().pk
    r = village.post(f"{ORDERS}{cancelled}/cancel/", {"reason": "患者已转院"}, format="json")
    assert r.json()["status"] == "cancelled"
    assert error(village.post(f"{ORDERS}{oid}/cancel/", {"reason": "x"}, format="json"), 409)


# --- Bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vitals,field",
    [
        ({"systolic_bp": 1200, "diastolic_bp": 80}, "systolic_bp"),
        ({"spo2": 101}, "spo2"),
        ({"temperature": "abc"}, "temperature"),
        ({"systolic_bp": 80, "diastolic_bp": 90}, "diastolic_bp"),
        ({"pulse": "NaN"}, "pulse"),
    ],
)
def test_impossible_vitals_are_400_with_the_field(village_doctor, residents, api, vitals, field):
    r = api(village_doctor).post(VISITS, {"resident": residents["a1"].pk, **vitals}, format="json")
    assert field in error(r, 400)["errors"]
    assert not Visit.objects.exists() and not Observation.objects.exists()
    assert not CriticalAlert.objects.exists()


def test_order_to_a_center_that_does_not_offer_the_service(village_doctor, residents, centers, api):
    client = api(village_doctor)
    body = {"resident": residents["a1"].pk, "service": "ECG12", "center": centers["lab"].pk}
    r = client.post(ORDERS, body, format="json")
    assert error(r, 400)["code"] == "service_not_offered" and r.json()["field"] == "service"
    r = client.post(ORDERS, {**body, "service": "NO-SUCH", "center": None}, format="json")
    assert error(r, 400)["code"] == "unknown_service"
    r = client.post(ORDERS, {**body, "priority": "asap", "center": None}, format="json")
    assert "priority" in error(r, 400)["errors"]
    assert not ExamOrder.objects.exists()


def test_sign_without_claim_and_claim_of_a_signed_order(
    center_reader, make_order, make_reader, api
):
    reader = api(center_reader)
    oid = make_order().pk
    r = reader.post(f"{ORDERS}{oid}/sign/", {"impression": "正常"}, format="json")
    assert error(r, 409)["code"] == "not_claimed"
    reader.post(f"{ORDERS}{oid}/claim/")
    other = api(make_reader("reader2"))
    assert error(other.post(f"{ORDERS}{oid}/claim/"), 409)["code"] == "already_claimed"
    r = other.post(f"{ORDERS}{oid}/sign/", {"impression": "正常"}, format="json")
    assert error(r, 409)["code"] == "held_by_other"
    assert error(reader.post(f"{ORDERS}{oid}/sign/", {}, format="json"), 400)["field"] == (
        "impression"
    )
    r = reader.post(f"{ORDERS}{oid}/sign/", {"impression": "正常"}, format="json")
    assert r.status_code == 200
    assert error(other.post(f"{ORDERS}{oid}/claim/"), 409)["code"] == "illegal_transition"
    assert ExamOrder.objects.get(pk=oid).claimed_by == center_reader


def test_bad_attachments(village_doctor, make_order, api, tree):
    client = api(village_doctor)
    oid = make_order(submit=False).pk
    exe = b"MZ\x90\x00\x03" + b"\x00" * 200
    assert error(upload(client, oid, exe, "setup.exe"), 400)["code"] == "unsupported_type"
    r = upload(client, oid, "心电图结果正常".encode(), "report.jpg")
    assert error(r, 400)["code"] == "unsupported_type"
    truncated = jpeg_bytes((400, 300))[:300]
    assert error(upload(client, oid, truncated, "cut.jpg"), 400)["code"] == "bad_file"
    PolicyValue.objects.create(
        community=tree.community, key=telemed_policy.ATTACHMENT_MAX_MB, value=1
    )
    big = jpeg_bytes() + b"\x00" * (1024 * 1024)
    assert error(upload(client, oid, big, "big.jpg"), 400)["code"] == "too_large"
    assert "file" in error(client.post(f"{ORDERS}{oid}/attachments/", {}), 400)["errors"]
    assert not Attachment.objects.exists()
    # The draft never reached a reader: the failed uploads left no submitted order.
    assert ExamOrder.objects.get(pk=oid).status == S.DRAFT


def test_no_files_after_signature(village_doctor, center_reader, make_order, api):
    oid = make_order().pk
    services.claim(center_reader, oid)
    services.sign_report(center_reader, oid, impression="正常")
    r = upload(api(village_doctor), oid, jpeg_bytes(), "late.jpg")
    assert error(r, 409)["code"] == "illegal_transition"


def test_out_of_scope_is_404_like_missing(
    village_doctor_b1, village_doctor, center_reader, make_order, make_reader, api, residents
):
    oid = make_order().pk
    att, _ = services_attach(village_doctor, oid)
    other = api(village_doctor_b1)
    missing = 10**9
    for url in [f"{ORDERS}{oid}/", f"{ORDERS}{missing}/", f"{ORDERS}{oid}/reports/",
                f"{ORDERS}{oid}/pdf/", f"{ORDERS}{oid}/attachments/{att.pk}/"]:  # fmt: skip
        assert other.get(url).status_code == 404, url
    for verb in ["submit", "cancel", "acknowledge", "resubmit"]:
        r = other.post(f"{ORDERS}{oid}/{verb}/", {"reason": "x"}, format="json")
        assert r.status_code == 404, (verb, r.content)
    assert other.get(ORDERS).json()["count"] == 0
    assert upload(other, oid, jpeg_bytes(), "x.jpg").status_code == 404
    # The resident of another village cannot be ordered for either.
    r = other.post(ORDERS, {"resident": residents["a1"].pk, "service": "ECG12"}, format="json")
    assert error(r, 400)["code"] == "unknown_resident"
    # A reader of another center neither sees the order nor its worklist.
    us_reader = api(make_reader("us_reader", kind="ultrasound"))
    assert us_reader.get(f"{ORDERS}{oid}/").status_code == 404
    assert us_reader.post(f"{ORDERS}{oid}/claim/").status_code == 404
    ecg = ExamOrder.objects.get(pk=oid).center_id
    assert error(us_reader.get(WORKLIST, {"center": ecg}), 403)["code"] == "not_a_reader"
    r = us_reader.post(f"{WORKLIST}claim-next/", {"center": ecg}, format="json")
    assert error(r, 403)["code"] == "not_a_reader"
    # A village doctor has no worklist.
    assert api(village_doctor).get(WORKLIST, {"center": ecg}).status_code == 403
    assert "center" in error(api(center_reader).get(WORKLIST), 400)["errors"]


def services_attach(user, order_id):
    from countycare.telemed import attachments

    f = io.BytesIO(jpeg_bytes())
    f.name = "a.jpg"
    return attachments.add_attachment(user, order_id, f)


def test_unauthenticated_is_refused(api, make_order):
    oid = make_order().pk
    anonymous = api()
    for url in [ORDERS, f"{ORDERS}{oid}/", WORKLIST, VISITS, "/api/v1/centers/",
                "/api/v1/critical-alerts/", f"{ORDERS}{oid}/pdf/"]:  # fmt: skip
        assert anonymous.get(url).status_code in (401, 403), url
    assert anonymous.post(ORDERS, {}, format="json").status_code in (401, 403)
    assert anonymous.post(f"{ORDERS}{oid}/acknowledge/").status_code in (401, 403)


def test_pdf_before_signature_is_409(village_doctor, make_order, api):
    oid = make_order().pk
    assert error(api(village_doctor).get(f"{ORDERS}{oid}/pdf/"), 409)["code"] == "not_signed"


def test_malformed_bodies_are_400(village_doctor, center_reader, make_order, api, residents):
    village = api(village_doctor)
    oid = make_order().pk
    for url in [ORDERS, VISITS, f"{ORDERS}{oid}/cancel/"]:
        r = village.post(url, '{"resident": ', content_type="application/json")
        assert r.status_code == 400, url
    r = village.post(ORDERS, {"resident": "abc", "service": "ECG12"}, format="json")
    assert "resident" in error(r, 400)["errors"]
    reader = api(center_reader)
    reader.post(f"{ORDERS}{oid}/claim/")
    r = reader.post(f"{ORDERS}{oid}/report/", {"findings": {"nonsense": "x"}}, format="json")
    assert error(r, 400)["code"] == "unknown_field"
    r = reader.post(f"{ORDERS}{oid}/report/", {"findings": ["x"]}, format="json")
    assert "findings" in error(r, 400)["errors"]
    r = village.post("/api/v1/critical-alerts/abc/acknowledge/", {}, format="json")
    assert r.status_code == 404


def test_schema_lists_the_walking_hospital(village_doctor, api):
    schema = api(village_doctor).get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {
        "/api/v1/centers/",
        "/api/v1/visits/",
        "/api/v1/visits/{id}/vitals/",
        "/api/v1/exam-orders/",
        "/api/v1/exam-orders/{id}/attachments/",
        "/api/v1/exam-orders/{id}/attachments/{attachment_id}/",
        "/api/v1/exam-orders/{id}/sign/",
        "/api/v1/exam-orders/{id}/return/",
        "/api/v1/exam-orders/{id}/pdf/",
        "/api/v1/worklist/",
        "/api/v1/worklist/claim-next/",
        "/api/v1/critical-alerts/{id}/acknowledge/",
    } <= set(paths)
    create = paths["/api/v1/exam-orders/"]["post"]
    assert "submit: false" in create["description"]
    assert set(paths["/api/v1/exam-orders/{id}/attachments/"]) == {"get", "post"}


def test_file_errors_are_json_never_500(village_doctor, make_order, api):
    client = api(village_doctor)
    oid = make_order().pk
    r = client.get(f"{ORDERS}{oid}/pdf/", headers={"Accept": "application/pdf"})
    assert r.status_code == 409 and r["Content-Type"] == "application/json"
    assert r.json()["code"] == "not_signed"
    att, _ = services_attach(village_doctor, oid)
    att.file.storage.delete(att.file.name)  # lost from storage
    r = client.get(f"{ORDERS}{oid}/attachments/{att.pk}/")
    assert error(r, 404)


@pytest.mark.parametrize("bad", ["abc", "0", "99999999999999999999", "-1"])
def test_ids_that_are_not_ours_are_404(village_doctor, center_reader, make_order, api, bad):
    oid = make_order().pk
    village, reader = api(village_doctor), api(center_reader)
    assert village.get(f"{ORDERS}{bad}/").status_code == 404
    assert reader.post(f"{ORDERS}{bad}/claim/").status_code == 404
    assert village.get(f"{ORDERS}{oid}/attachments/{bad}/").status_code == 404
    assert village.post(f"/api/v1/critical-alerts/{bad}/acknowledge/").status_code == 404
    assert village.get(f"{VISITS}{bad}/").status_code == 404
    r = reader.post(f"{WORKLIST}claim-next/", {"center": bad}, format="json")
    assert "center" in error(r, 400)["errors"]


def test_dicom_ecg_waveform_is_an_ecg_attachment(village_doctor, residents, centers):
    """A DICOM 12-lead ECG waveform (pydicom's waveform_ecg.dcm) is kept as an ECG recording,
    with its SOP Instance UID, not as an image."""
    import io

    from pydicom.data import get_testdata_file

    from countycare.telemed import attachments, services

    order = services.create_order(village_doctor, resident=residents["a1"].pk, service="ECG12",
                                  submit=False)  # fmt: skip
    path = get_testdata_file("waveform_ecg.dcm")
    with open(path, "rb") as fh:
        data = fh.read()
    att, created = attachments.add_attachment(village_doctor, order.pk, io.BytesIO(data),
                                              name="ecg.dcm")  # fmt: skip
    assert created and att.kind == "ecg" and att.external_uid
