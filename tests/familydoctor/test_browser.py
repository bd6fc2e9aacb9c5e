"""Family-doctor pages in headless Chromium (Playwright with Debian's chromium): the resident
signs on the tablet's signature pad, the resident page draws the blood-pressure trend with
ECharts, the coverage page draws coverage against the targets. Screenshots go to
docs/screenshots/familydoctor-*.png with COUNTYCARE_SCREENSHOTS=1."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from countycare.familydoctor import services
from countycare.familydoctor.models import Contract
from tests.browser import MARKS, login, shots_dir
from tests.factories import KeyPopulationTagFactory

pytestmark = MARKS


def test_sign_on_the_pad_and_see_the_trend_and_coverage(
    browser, live_server, settings, tmp_path, village_doctor, health_commission_viewer,
    residents, team_a, packages,
):  # fmt: skip
    settings.MEDIA_ROOT = tmp_path / "media"
    shots = shots_dir(tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    resident = residents["a1"]
    today = timezone.localdate()
    KeyPopulationTagFactory(resident=resident, tag="hypertension",
                            recorded_on=today - dt.timedelta(days=400))  # fmt: skip

    # --- the village doctor signs the resident with the signature pad -----------------------
    ctx, page = login(browser, live_server, village_doctor, {"width": 1024, "height": 900})
    page.goto(live_server.url + reverse("familydoctor:contract-new", args=[resident.pk]))
    page.check(f"input[name=packages][value='{packages['hypertension'].pk}']")
    pad = page.locator("canvas.fd-pad")
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 120)
    page.mouse.down()
    for i in range(1, 12):
        page.mouse.move(box["x"] + 30 + i * 40, box["y"] + 120 - (i % 2) * 70, steps=4)
    page.mouse.up()
    page.click("button[type=submit].button-large")
    page.wait_for_selector("h1 .mono")
    contract = Contract.objects.get()
    assert contract.consent_method == "tablet"
    assert contract.consent_file.read().startswith(b"\x89PNG")
    assert contract.fee_total == 180
    ctx.close()

    # A year of follow-ups, the blood pressure coming down.
    contract.start_on = today - dt.timedelta(days=330)
    contract.save(update_fields=["start_on"])
    for days, (sbp, dbp) in ((300, (168, 102)), (286, (156, 96)), (196, (146, 92)),
                             (182, (138, 86)), (92, (134, 84)), (2, (128, 80))):  # fmt: skip
        services.record_follow_up(
            village_doctor, resident=resident.pk, program="hypertension", adherence="regular",
            followed_on=today - dt.timedelta(days=days),
            measurements={"systolic_bp": str(sbp), "diastolic_bp": str(dbp)},
        )  # fmt: skip

    ctx, page = login(browser, live_server, village_doctor, {"width": 1024, "height": 1000})
    page.goto(live_server.url + reverse("residents:detail", args=[resident.pk]))
    page.wait_for_selector("[data-fd-chart=bp][data-drawn] svg")
    assert page.locator("[data-fd-chart=bp] svg path").count() > 5
    page.locator("#family-doctor").screenshot(
        path=str(shots / "familydoctor-resident-trend-test.png")
    )
    ctx.close()

    ctx, page = login(
        browser, live_server, health_commission_viewer, {"width": 1200, "height": 900}
    )
    page.goto(live_server.url + reverse("familydoctor:coverage"))
    page.wait_for_selector("[data-fd-chart=coverage][data-drawn] svg")
    assert "札萨克镇卫生院" in page.inner_text("table")
    ctx.close()
