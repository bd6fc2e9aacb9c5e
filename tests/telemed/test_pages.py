"""The Walking Hospital pages (WH-02, WH-03, SHC-01/02): each page per role, 404 outside the
scope, vitals errors shown per field with the typed values kept, critical values in red,
the order created as a draft and submitted only after its files arrived, the reader's
claim / save / sign / return / amend through POST, home widgets."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from PIL import Image

from countycare.core import home
from countycare.telemed import attachments, services
from countycare.telemed.models import (
    Attachment,
    CriticalAlert,
    ExamOrder,
    OrderStatus,
    Report,
    ReportStatus,
    Visit,
)
from tests.web.conftest import page

pytestmark = pytest.mark.django_db
S = OrderStatus


def url(name, *args):
    return reverse(f"telemed:{name}", args=args)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def jpeg(name="ecg.jpg", color=(200, 30, 30)):
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, "JPEG")
    buf.seek(0)
    buf.name = name
    return buf


def signed_order(make_order, reader, center, **kw):
    order = make_order(**kw)
    services.claim_next(reader, center)
    services.sign_report(reader, order.pk, findings={"rhythm": "窦性心律"}, impression="正常心电图")
    return order


# --- the village side -------------------------------------------------------------------------
def test_resident_page_offers_a_new_visit(village_doctor, center_reader, residents, web):
    a1 = residents["a1"]
    body = page(web(village_doctor).get(reverse("residents:detail", args=[a1.pk])))
    assert url("visit-new", a1.pk) in body
    # A reader records no visits: the page answers 403.
    assert web(center_reader).get(url("visit-new", a1.pk)).status_code in (403, 404)


def test_visit_form_renders_the_kit_vitals_for_a_tablet(village_doctor, residents, web):
    response = web(village_doctor).get(url("visit-new", residents["a1"].pk))
    assert response.status_code == 200
    body = page(response)
    for key in ("systolic_bp", "diastolic_bp", "pulse", "spo2", "glucose_fasting",
                "glucose_random", "temperature", "height", "weight", "bmi"):  # fmt: skip
        assert f'name="{key}"' in body
    assert body.count('inputmode="decimal"') == 10
    assert ("收缩压" in body and "血氧饱和度" in body) or "SpO2" in body


def test_visit_errors_are_shown_per_field_and_typed_values_kept(village_doctor, residents, web):
    data = {"setting": "clinic", "complaint": "头晕", "systolic_bp": "1400",
            "diastolic_bp": "85", "pulse": "abc", "height": "165", "weight": "60"}  # fmt: skip
    response = web(village_doctor).post(url("visit-new", residents["a1"].pk), data)
    assert response.status_code == 200
    body = page(response)
    assert not Visit.objects.exists()
    # Each error beside its field.
    assert 'id="id_systolic_bp_errors"' in body and 'id="id_pulse_errors"' in body
    assert "收缩压 1400 mmHg 不可能" in body and "脉搏必须是数字" in body  # in Chinese
    # Everything typed is still there, valid or not.
    assert 'value="1400"' in body and 'value="85"' in body and 'value="abc"' in body
    assert 'value="165"' in body and 'value="60"' in body and 'value="头晕"' in body


def test_visit_saved_flags_abnormal_and_shows_critical_in_red(village_doctor, residents, web):
    client = web(village_doctor)
    data = {"setting": "clinic", "systolic_bp": "150", "diastolic_bp": "95", "spo2": "86",
            "height": "170", "weight": "80"}  # fmt: skip
    response = client.post(url("visit-new", residents["a1"].pk), data)
    visit = Visit.objects.get()
    assert response.status_code == 302 and response["Location"] == url("visit", visit.pk)
    body = page(client.get(url("visit", visit.pk)))
    assert "critical-alerts" in body and "row-critical" in body and "row-abnormal" in body
    assert "27.7" in body  # BMI computed
    alert = CriticalAlert.objects.get()
    assert url("alert-acknowledge", alert.pk) in body
    # "Refer upward" opens the referral form prefilled from the alert (issue 6).
    assert f'href="/referrals/new/{residents["a1"].pk}/?direction=up&amp;alert={alert.pk}"' in body


def test_a_doctor_of_another_village_gets_404(village_doctor_b1, village_doctor, residents, web,
                                              make_order):  # fmt: skip
    visit = services.open_visit(village_doctor, resident=residents["a1"].pk)
    order = make_order(visit=visit.pk)
    client = web(village_doctor_b1)
    assert client.get(url("visit-new", residents["a1"].pk)).status_code == 404
    assert client.get(url("visit", visit.pk)).status_code == 404
    assert client.get(url("order", order.pk)).status_code == 404
    assert client.post(url("order-acknowledge", order.pk)).status_code == 404
    assert client.post(url("order-new", visit.pk), {"service": 1}).status_code == 404
    assert client.post(url("order-cancel", order.pk), {"reason": "x"}).status_code == 404
    order.refresh_from_db()
    assert order.status == S.SUBMITTED


def test_order_with_a_file_is_submitted_after_the_upload(village_doctor, residents, web, centers):
    visit = services.open_visit(village_doctor, resident=residents["a1"].pk)
    client = web(village_doctor)
    body = page(client.get(url("visit", visit.pk)))
    assert "<optgroup" in body and "远程心电中心" in body and "常规12导联心电图" in body
    ecg = centers["ecg"].services.get(code="ECG12")
    response = client.post(
        url("order-new", visit.pk),
        {"service": ecg.pk, "priority": "urgent", "clinical_question": "胸闷", "files": jpeg()},
    )
    order = ExamOrder.objects.get()
    assert response.status_code == 302 and response["Location"] == url("order", order.pk)
    assert order.status == S.SUBMITTED and order.priority == "urgent" and order.visit == visit
    assert order.attachments.count() == 1
    assert list(order.transitions.values_list("to_status", flat=True)) == [
        S.DRAFT, S.SUBMITTED,
    ]  # fmt: skip
    body = page(client.get(url("order", order.pk)))
    assert order.accession_number in body and "胸闷" in body
    att = order.attachments.get()
    assert url("attachment", att.pk) in body
    file_response = client.get(url("attachment", att.pk))
    assert file_response.status_code == 200 and file_response["Content-Type"] == "image/jpeg"


def test_a_failed_upload_leaves_a_draft_not_a_submitted_order(village_doctor, residents, web,
                                                                centers):  # fmt: skip
    visit = services.open_visit(village_doctor, resident=residents["a1"].pk)
    client = web(village_doctor)
    bad = io.BytesIO(b"this is not an ECG")
    bad.name = "ecg.txt"
    ecg = centers["ecg"].services.get(code="ECG12")
    response = client.post(
        url("order-new", visit.pk), {"service": ecg.pk, "priority": "routine", "files": bad}
    )
    order = ExamOrder.objects.get()
    assert order.status == S.DRAFT and not order.attachments.exists()
    body = page(client.get(response["Location"]))
    assert "ecg.txt" in body  # the error names the file
    assert url("order-submit", order.pk) in body and url("order-upload", order.pk) in body
    # Upload the right file, then submit.
    client.post(url("order-upload", order.pk), {"files": jpeg()})
    client.post(url("order-submit", order.pk))
    order.refresh_from_db()
    assert order.status == S.SUBMITTED and order.attachments.count() == 1


def test_unknown_service_keeps_the_form(village_doctor, residents, web, centers):
    visit = services.open_visit(village_doctor, resident=residents["a1"].pk)
    response = web(village_doctor).post(
        url("order-new", visit.pk),
        {"service": 999999, "priority": "stat", "clinical_question": "气短"},
    )
    assert response.status_code == 400
    assert not ExamOrder.objects.exists()
    assert "气短" in page(response)


def test_my_orders_lists_with_status_chips(village_doctor, make_order, web):
    make_order()
    make_order(service="LAB-CBC")
    client = web(village_doctor)
    body = page(client.get(url("orders")))
    assert "常规12导联心电图" in body and "血常规" in body and "chip-submitted" in body
    assert page(client.get(url("orders") + "?status=signed")).count("<tbody>") == 0


def test_signed_report_shown_and_acknowledged(village_doctor, center_reader, ecg_center,
                                              make_order, web):  # fmt: skip
    order = signed_order(make_order, center_reader, ecg_center)
    report = Report.objects.get(order=order, status=ReportStatus.SIGNED)
    client = web(village_doctor)
    body = page(client.get(url("order", order.pk)))
    assert "正常心电图" in body and "窦性心律" in body and report.content_sha256 in body
    assert url("report-pdf", report.pk) in body and url("order-acknowledge", order.pk) in body
    assert center_reader.get_full_name() in body
    response = client.post(url("order-acknowledge", order.pk))
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == S.ACKNOWLEDGED and order.acknowledged_by == village_doctor
    assert url("order-acknowledge", order.pk) not in page(client.get(url("order", order.pk)))


def test_returned_order_shows_reason_resubmit_and_cancel(village_doctor, center_reader,
                                                         ecg_center, make_order, web):  # fmt: skip
    order = make_order()
    services.claim_next(center_reader, ecg_center)
    services.return_order(center_reader, order.pk, reason="基线漂移，请重新采集")
    client = web(village_doctor)
    body = page(client.get(url("order", order.pk)))
    assert "基线漂移，请重新采集" in body
    assert url("order-resubmit", order.pk) in body and url("order-cancel", order.pk) in body
    client.post(url("order-upload", order.pk), {"files": jpeg("again.jpg", (10, 10, 10))})
    client.post(url("order-resubmit", order.pk), {"note": "已重新采集"})
    order.refresh_from_db()
    assert order.status == S.SUBMITTED and order.attachments.count() == 1


def test_cancel_needs_a_reason_shown_as_a_message(village_doctor, make_order, web):
    order = make_order()
    client = web(village_doctor)
    response = client.post(url("order-cancel", order.pk), {"reason": ""}, follow=True)
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == S.SUBMITTED
    assert "message-error" in page(response)


def test_acknowledging_twice_or_illegally_is_a_message_not_a_500(village_doctor, make_order, web):
    order = make_order()  # submitted: not signed yet
    response = web(village_doctor).post(url("order-acknowledge", order.pk), follow=True)
    assert response.status_code == 200 and "message-error" in page(response)


# --- the reader side --------------------------------------------------------------------------
def test_worklist_dense_table_with_sla_and_polling(center_reader, ecg_center, make_order, web):
    make_order(priority="stat", clinical_question="胸痛")
    services.set_triage(make_order().pk, 80, "疑似房颤")
    client = web(center_reader)
    response = client.get(url("worklist", ecg_center.pk))
    assert response.status_code == 200
    body = page(response)
    assert 'hx-trigger="every 15s"' in body and url("claim-next", ecg_center.pk) in body
    assert "张安民" in body and "疑似房颤" in body and "甲一村卫生室" in body
    assert body.index("chip-stat") < body.index("疑似房颤")  # stat first
    # The htmx refresh answers the table only.
    partial = page(client.get(url("worklist", ecg_center.pk), HTTP_HX_REQUEST="true"))
    assert "<html" not in partial and 'id="worklist"' in partial
    # Several centers: the worklist home lists them.
    assert client.get(url("worklist-home")).status_code == 200


def test_worklist_of_a_center_one_does_not_read_is_404(make_reader, centers, village_doctor, web):
    ecg_only = make_reader("ecg_only")
    assert web(ecg_only).get(url("worklist", centers["lab"].pk)).status_code == 404
    assert web(village_doctor).get(url("worklist", centers["ecg"].pk)).status_code == 403


def test_claim_next_save_and_sign_through_the_pages(center_reader, ecg_center, make_order, web):
    order = make_order(clinical_question="心悸")
    client = web(center_reader)
    response = client.post(url("claim-next", ecg_center.pk))
    assert response.status_code == 302 and response["Location"] == url("read", order.pk)
    body = page(client.get(url("read", order.pk)))
    assert "心悸" in body and 'name="f_rhythm"' in body and "窦性心律" in body  # phrase button
    assert 'class="phrase"' in body and url("order-return", order.pk) in body
    # Sign without an impression: the error beside the field, the typed values kept.
    response = client.post(
        url("report-save", order.pk), {"f_rhythm": "窦性心律", "f_rate": "72", "action": "sign"}
    )
    assert response.status_code == 200
    body = page(response)
    assert 'value="窦性心律"' in body and 'value="72"' in body and "errors" in body
    client.post(url("report-save", order.pk), {"f_rhythm": "窦性心律", "action": "save",
                                               "impression": "大致正常"})  # fmt: skip
    order.refresh_from_db()
    assert order.status == S.PRELIMINARY
    assert 'value="窦性心律"' in page(client.get(url("read", order.pk)))
    response = client.post(
        url("report-save", order.pk),
        {"f_rhythm": "窦性心律", "f_rate": "72", "impression": "正常心电图", "action": "sign"},
    )
    assert response.status_code == 302 and response["Location"] == url("order", order.pk)
    order.refresh_from_db()
    assert order.status == S.SIGNED
    report = Report.objects.get(order=order, status=ReportStatus.SIGNED)
    assert report.findings == {"rhythm": "窦性心律", "rate": "72"}


def test_claim_a_chosen_row_and_conflicts_are_messages(center_reader, make_reader, ecg_center,
                                                       make_order, web):  # fmt: skip
    order = make_order()
    other = make_reader("reader2")
    services.claim(other, order.pk)
    response = web(center_reader).post(url("claim", order.pk), follow=True)
    assert response.status_code == 200 and "message-error" in page(response)
    order.refresh_from_db()
    assert order.claimed_by == other


def test_return_and_release_from_the_reading_page(center_reader, ecg_center, make_order, web):
    first, second = make_order(), make_order()
    client = web(center_reader)
    client.post(url("claim", first.pk))
    response = client.post(url("order-return", first.pk), {"reason": ""}, follow=True)
    assert "message-error" in page(response)
    client.post(url("order-return", first.pk), {"reason": "图像模糊"})
    client.post(url("claim", second.pk))
    client.post(url("order-release", second.pk))
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == S.RETURNED and first.status_reason == "图像模糊"
    assert second.status == S.SUBMITTED and second.claimed_by is None


def test_amendment_needs_a_reason(center_reader, ecg_center, make_order, web):
    order = signed_order(make_order, center_reader, ecg_center)
    client = web(center_reader)
    body = page(client.get(url("read", order.pk)))
    assert url("report-amend", order.pk) in body
    response = client.post(url("report-amend", order.pk), {"impression": "房性早搏"})
    assert response.status_code == 200 and 'value="' in page(response)
    assert Report.objects.filter(order=order).count() == 1
    client.post(url("report-amend", order.pk), {"impression": "房性早搏", "reason": "复核心电图"})
    assert Report.objects.filter(order=order, status=ReportStatus.SIGNED).count() == 2


def test_reading_page_of_another_centers_order_is_404(make_reader, make_order, web):
    order = make_order()
    lab_reader = make_reader("lab_reader", kind="lab")
    assert web(lab_reader).get(url("read", order.pk)).status_code == 404


def test_pdf_download(village_doctor, center_reader, ecg_center, make_order, web):
    order = signed_order(make_order, center_reader, ecg_center)
    report = Report.objects.get(order=order, status=ReportStatus.SIGNED)
    response = web(village_doctor).get(url("report-pdf", report.pk))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body.startswith(b"%PDF")


# --- critical values and home -----------------------------------------------------------------
def test_alerts_page_and_acknowledge(village_doctor, residents, web):
    services.open_visit(village_doctor, resident=residents["a1"].pk, vitals_data={"spo2": "85"})
    alert = CriticalAlert.objects.get()
    client = web(village_doctor)
    body = page(client.get(url("alerts")))
    assert alert.message in body and "张安民" in body
    response = client.post(
        url("alert-acknowledge", alert.pk),
        {"action_taken": "吸氧，已联系120", "next": url("alerts")},
    )
    assert response.status_code == 302 and response["Location"] == url("alerts")
    alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.action_taken == "吸氧，已联系120"
    response = client.post(url("alert-acknowledge", alert.pk), follow=True)
    assert response.status_code == 200 and "message-error" in page(response)


def test_home_widgets_per_role(village_doctor, center_reader, health_commission_viewer,
                               ecg_center, residents, make_order, web):  # fmt: skip
    services.open_visit(village_doctor, resident=residents["a1"].pk, vitals_data={"spo2": "85"})
    signed_order(make_order, center_reader, ecg_center)
    make_order()
    body = page(web(village_doctor).get(reverse("home")))
    assert "critical-alerts" in body
    assert "常规12导联心电图" in body
    body = page(web(center_reader).get(reverse("home")))
    assert url("worklist", ecg_center.pk) in body
    # Aggregate roles: the TAT card once the dashboard exists (another part of issue 3).
    response = web(health_commission_viewer).get(reverse("home"))
    assert response.status_code == 200
    names = [w.name for w in home.registered()]
    assert {"telemed.village", "telemed.reader", "telemed.tat"} <= set(names)


def test_attachment_of_another_village_is_404(village_doctor, village_doctor_b1, make_order, web):
    order = make_order()
    att, _ = attachments.add_attachment(village_doctor, order.pk, jpeg())
    assert Attachment.objects.count() == 1
    assert web(village_doctor_b1).get(url("attachment", att.pk)).status_code == 404
