"""The Walking Hospital loop in headless Chromium (Playwright with Debian's chromium), as
issue 3's "done means" asks: the village doctor records vitals and orders a 12-lead ECG with
a JPEG; the center reader claims it, fills the report and signs; the village doctor sees
the signed report and acknowledges it; the PDF link answers application/pdf. Screenshots of
the tablet layout go to docs/screenshots/telemed-*.png with COUNTYCARE_SCREENSHOTS=1."""

from __future__ import annotations

import io
from pathlib import Path

from django.urls import reverse
from PIL import Image, ImageDraw

from countycare.telemed import critical
from countycare.telemed.models import ExamOrder, OrderStatus, ReportStatus
from tests.browser import MARKS, login, shots_dir

pytestmark = MARKS


def ecg_jpeg(path: Path) -> Path:
    """A small picture that looks like an ECG strip."""
    img = Image.new("RGB", (900, 300), (255, 240, 240))
    draw = ImageDraw.Draw(img)
    for x in range(0, 900, 20):
        draw.line([(x, 0), (x, 300)], fill=(245, 190, 190))
    for y in range(0, 300, 20):
        draw.line([(0, y), (900, y)], fill=(245, 190, 190))
    points, x = [], 0
    while x < 900:
        points += [(x, 150), (x + 30, 150), (x + 38, 135), (x + 46, 150), (x + 60, 150),
                   (x + 66, 60), (x + 72, 200), (x + 78, 150), (x + 110, 150), (x + 125, 130),
                   (x + 140, 150)]  # fmt: skip
        x += 150
    draw.line(points, fill=(20, 20, 20), width=3)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    path.write_bytes(buf.getvalue())
    return path


def test_walking_hospital_loop_in_chromium(
    browser, live_server, settings, tmp_path, village_doctor, center_reader, residents, centers
):
    settings.MEDIA_ROOT = tmp_path / "media"
    # A flush after an earlier transactional test removes the migration's default rules.
    critical.ensure_default_rules()
    # The committed screenshots are refreshed only on request (COUNTYCARE_SCREENSHOTS=1), so a
    # test run leaves the checkout clean.
    shots = shots_dir(tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    resident = residents["a1"]
    tablet = {"width": 1024, "height": 768}
    portrait = {"width": 800, "height": 1280}

    # --- the village doctor: vitals, then an ECG order with its JPEG ------------------------
    ctx, page = login(browser, live_server, village_doctor, portrait)
    page.goto(live_server.url + reverse("residents:detail", args=[resident.pk]))
    page.click(f"a[href='{reverse('telemed:visit-new', args=[resident.pk])}']")
    page.fill("input[name=complaint]", "胸闷、心悸两天")
    for name, value in [("systolic_bp", "158"), ("diastolic_bp", "96"), ("pulse", "104"),
                        ("spo2", "88"), ("glucose_fasting", "6.8"), ("temperature", "36.6"),
                        ("height", "168"), ("weight", "72")]:  # fmt: skip
        page.fill(f"input[name={name}]", value)
    assert page.input_value("input[name=bmi]") == "25.5"  # computed while typing
    page.screenshot(path=str(shots / "telemed-visit-form.png"), full_page=True)
    page.click("button[type=submit].button-large")
    page.wait_for_selector("table.vitals-table")
    assert page.locator("tr.row-abnormal").count() >= 3  # BP, pulse, glucose flagged
    # SpO2 88 % is a critical value: a red alert with acknowledge and "refer upward".
    assert page.locator(".critical-alerts tr, .critical-alerts li").count() == 1
    assert page.locator("tr.row-critical").count() == 1
    # "Refer upward" opens the referral form prefilled from the alert (issue 6).
    refer = page.get_attribute(".critical-alerts a.refer-upward", "href")
    assert refer.startswith(f"/referrals/new/{resident.pk}/?direction=up&alert="), refer
    page.screenshot(path=str(shots / "telemed-visit-critical.png"), full_page=True)

    page.select_option("select[name=service]", label="常规12导联心电图")
    page.check("input[name=priority][value=urgent]")
    page.fill("textarea[name=clinical_question]", "胸闷心悸，请排除心律失常")
    page.set_input_files("input[name=files]", str(ecg_jpeg(tmp_path / "ecg.jpg")))
    page.click("form.order-form button[type=submit]")
    page.wait_for_selector(".chip-submitted")
    order = ExamOrder.objects.get()
    assert order.status == OrderStatus.SUBMITTED and order.attachments.count() == 1
    page.screenshot(path=str(shots / "telemed-order-submitted.png"), full_page=True)
    ctx.close()

    # --- the reader: worklist, claim next, report, sign -------------------------------------
    ctx, page = login(browser, live_server, center_reader, tablet)
    page.goto(live_server.url + reverse("telemed:worklist", args=[centers["ecg"].pk]))
    page.wait_for_selector("table.worklist-table")
    assert "张安民" in page.inner_text("table.worklist-table")
    page.screenshot(path=str(shots / "telemed-worklist.png"), full_page=True)
    page.click("form[action$='claim-next/'] button")
    page.wait_for_selector("#report-form")
    page.fill("input[name=f_rhythm]", "窦性心动过速")
    page.fill("input[name=f_rate]", "104")
    page.click(".phrases[data-target=id_findings_text] button.phrase >> text=ST-T未见明显异常")
    page.click(".phrases[data-target=id_impression] button.phrase >> text=大致正常心电图")
    assert "ST-T未见明显异常" in page.input_value("textarea[name=findings_text]")
    assert page.input_value("textarea[name=impression]") == "大致正常心电图"
    page.screenshot(path=str(shots / "telemed-reading.png"), full_page=True)
    page.click("button[name=action][value=sign]")
    page.wait_for_selector("article.report")
    ctx.close()
    order.refresh_from_db()
    assert order.status == OrderStatus.SIGNED
    report = order.reports.get(status=ReportStatus.SIGNED)

    # --- back at the village: the signed report, acknowledged; the PDF ---------------------
    ctx, page = login(browser, live_server, village_doctor, portrait)
    page.goto(live_server.url + reverse("home"))
    assert page.locator(".critical-alerts").count() == 1  # still open on the home page
    page.screenshot(path=str(shots / "telemed-home-village.png"), full_page=True)
    page.click(f"a[href='{reverse('telemed:order', args=[order.pk])}']")
    page.wait_for_selector("article.report")
    text = page.inner_text("article.report")
    assert "窦性心动过速" in text and "大致正常心电图" in text and report.content_sha256 in text
    page.screenshot(path=str(shots / "telemed-signed-report.png"), full_page=True)
    pdf = page.request.get(live_server.url + reverse("telemed:report-pdf", args=[report.pk]))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    page.click("form[action$='acknowledge/'] button")
    page.wait_for_selector(".chip-acknowledged")
    ctx.close()
    order.refresh_from_db()
    assert order.status == OrderStatus.ACKNOWLEDGED and order.acknowledged_by == village_doctor
