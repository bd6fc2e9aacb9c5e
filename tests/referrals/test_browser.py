"""Two-way referral in headless Chromium (Playwright with Debian's chromium), as a village
doctor, a specialist and the community office use it on a tablet: a critical value's
"refer upward" opens the prefilled form, the typed diagnosis brings the catalog's advice and
department, the hospital accepts with an appointment, the doctor books a specialist for
another resident with a confirm step, the office uploads a wrong catalog and reads the row
errors. Screenshots go to docs/screenshots/referrals-flow-*.png with COUNTYCARE_SCREENSHOTS=1."""

from __future__ import annotations

from django.urls import reverse

from countycare.referrals.models import Appointment, Referral
from countycare.telemed import critical
from countycare.telemed.models import AlertStatus, CriticalAlert
from tests.browser import MARKS, login, shots_dir

pytestmark = MARKS


def test_referral_flow_in_chromium(browser, live_server, tmp_path, catalog, departments, session,
                                   residents, village_doctor, specialist, community_admin):  # fmt: skip
    from countycare.telemed import services as telemed

    shots = shots_dir(tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    critical.ensure_default_rules()  # a flush after an earlier transactional test removes them
    resident = residents["a1"]
    telemed.open_visit(
        village_doctor, resident=resident.pk, complaint="胸痛两小时，伴大汗",
        vitals_data={"systolic_bp": "192", "diastolic_bp": "104", "pulse": "108"},
    )  # fmt: skip
    alert = CriticalAlert.objects.get()

    # --- the village doctor: from the critical value to a sent referral -----------------------
    ctx, page = login(browser, live_server, village_doctor, {"width": 800, "height": 1280})
    page.goto(live_server.url + reverse("home"))
    page.click(".critical-alerts a.refer-upward")
    page.wait_for_selector("textarea[name=reason]")
    assert alert.message in page.input_value("textarea[name=reason]")
    assert page.input_value("select[name=urgency]") == "urgent"
    page.fill("input[name=diagnosis_code]", "I21.900")
    page.dispatch_event("input[name=diagnosis_code]", "change")
    page.wait_for_selector("#suggest .alert-warning")
    advice = page.inner_text("#suggest")
    assert "急性心肌梗死" in advice and "建议上转" in advice and "心血管内科" in advice
    # The catalog's department was chosen (the doctor had chosen none).
    assert page.input_value("select[name=department]") == str(departments["心血管内科"].pk)
    page.screenshot(path=str(shots / "referrals-flow-new-from-alert.png"), full_page=True)
    page.click("form.card button.button-primary")
    page.wait_for_selector(".chip-ref-requested")
    referral = Referral.objects.get()
    assert referral.diagnosis_name == "急性心肌梗死" and referral.critical_alert_id == alert.pk
    assert CriticalAlert.objects.get(pk=alert.pk).status == AlertStatus.ACKNOWLEDGED
    ctx.close()

    # --- the specialist: the board, then accept with an appointment ---------------------------
    ctx, page = login(browser, live_server, specialist)
    page.goto(live_server.url + reverse("referrals:board"))
    assert resident.name in page.inner_text("#incoming-title >> xpath=ancestor::section")
    page.screenshot(path=str(shots / "referrals-flow-board-hospital.png"), full_page=True)
    page.click(f"a[href='{reverse('referrals:detail', args=[referral.pk])}']")
    page.wait_for_selector("select[name=slot]")
    assert "随患者转送的检查检验结果" in page.inner_text("body")
    page.screenshot(path=str(shots / "referrals-flow-answer.png"), full_page=True)
    page.click("form[action$='/accept/'] >> text=按此预约接收")
    page.wait_for_selector(".chip-ref-accepted")
    referral.refresh_from_db()
    assert referral.status == "accepted" and referral.appointment.status == "booked"
    ctx.close()

    # --- the village doctor books a specialist: pick a time, confirm -------------------------
    ctx, page = login(browser, live_server, village_doctor)
    dept = departments["心血管内科"].pk
    page.goto(
        live_server.url + reverse("referrals:slots") + f"?resident={resident.pk}&department={dept}"
    )
    first = page.locator("a.slot").first
    first.click()
    page.wait_for_selector("#confirm-title")
    page.screenshot(path=str(shots / "referrals-flow-slot-confirm.png"), full_page=True)
    page.click("section.ref-confirm button.button-primary")
    page.wait_for_selector(".messages")
    text = page.inner_text("body")
    # A1 already has the referral's appointment in this session: said in words, nothing booked.
    assert "已有预约" in text
    assert Appointment.objects.filter(status="booked").count() == 1
    ctx.close()

    # --- the community office: a wrong catalog file, every wrong row listed ------------------
    bad = tmp_path / "目录.csv"
    bad.write_text("级别,ICD-10编码,疾病名称\n村,I10.x00,原发性高血压\n村,K99.900,不存在的病\n"
                   "村,I10.x00,高血压\n县,I63.900,\n", encoding="utf-8")  # fmt: skip
    ctx, page = login(browser, live_server, community_admin)
    page.goto(live_server.url + reverse("referrals:catalogs"))
    page.set_input_files("input[name=file]", str(bad))
    page.click("form[enctype] button.button-primary")
    page.wait_for_selector("table[role=alert]")
    rows = page.inner_text("table[role=alert]")
    assert "K99" in rows and "重复" in rows and "疾病名称" in rows
    page.screenshot(path=str(shots / "referrals-flow-catalog-errors.png"), full_page=True)
    ctx.close()
