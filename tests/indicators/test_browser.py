"""The indicators dashboard in headless Chromium (Playwright with Debian's chromium): the
county against its targets drawn by ECharts, "no data" shown as such (never 0 %), the monthly
trend and the township ranking, drill-down to a township and to the rows behind a number;
the health-commission viewer gets the figures but not the records. Screenshots go to
docs/screenshots/indicators-test-*.png with COUNTYCARE_SCREENSHOTS=1 (the demo county's are
made from ``countycare demo``, see docs/indicators.md)."""

from __future__ import annotations

from django.urls import reverse

from countycare.clinical import services as clinical
from tests.browser import MARKS, login, shots_dir
from tests.indicators.conftest import YEAR, csv_bytes

pytestmark = MARKS
HEADER = "就诊流水号,就诊日期,就诊类型,机构编码,就诊机构名称,居住地编码,中医药服务"


def test_dashboard_drill_down_and_rows(
    browser, live_server, tmp_path, tree, community_admin, health_commission_viewer
):
    shots = shots_dir(tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    # Encounters in March and April: 3 of 4 residents' visits in the county (75 %); the
    # grassroots visits 2 of 3.
    lines = [HEADER, f"E1,{YEAR}-03-02,门诊,VA1,,VA1,是", f"E2,{YEAR}-03-03,门诊,TB,,VB1,否",
             f"E3,{YEAR}-04-04,住院,H01,,VA1,否", f"S1,{YEAR}-04-05,住院,,包头市中心医院,VB1,否"]  # fmt: skip
    clinical.import_encounters(user=community_admin, file_name="e.csv", source="HIS",
                               content=("\n".join(lines) + "\n").encode())  # fmt: skip
    from countycare.indicators import services

    services.import_statistics(user=community_admin, file_name="s.csv", content=csv_bytes(
        [("TA", f"{YEAR}-03", "satisfaction_surveyed", 100), ("TA", f"{YEAR}-03", "satisfaction_satisfied", 93)]
    ))  # fmt: skip

    ctx, page = login(browser, live_server, community_admin, {"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("indicators:dashboard") + f"?period={YEAR}")
    page.wait_for_selector("[data-chart=targets] svg")  # ECharts drew the targets chart
    table = page.inner_text("main")
    assert "县域内就诊率" in table and "75.00" in table and "未达标" in table
    assert "93.00" in table and "达标" in table
    # No Walking Hospital visit in the year: not available, not 0.
    row = page.locator("tr", has_text="行走的医院就诊人次")
    assert "无数据" in row.inner_text() and " 0 " not in f" {row.inner_text()} "
    page.screenshot(path=str(shots / "indicators-test-dashboard.png"), full_page=True)

    page.click("a >> text=县域内就诊率")
    page.wait_for_selector("[data-chart=trend] svg")
    page.wait_for_selector("[data-chart=ranking] svg")
    ranking = page.inner_text("main")
    assert "札萨克镇卫生院" in ranking and "红庆河镇卫生院" in ranking and f"{YEAR}-03" in ranking
    page.screenshot(path=str(shots / "indicators-test-detail.png"), full_page=True)

    page.click("td a >> text=红庆河镇卫生院")  # drill down to township B
    page.wait_for_load_state("networkidle")
    assert "红庆河镇卫生院" in page.inner_text("h1")
    page.click("a >> text=查看明细")
    page.wait_for_selector("table")
    rows = page.inner_text("table")
    assert "包头市中心医院" in rows and "乙一村卫生室" in rows and "甲一村卫生室" not in rows
    page.screenshot(path=str(shots / "indicators-test-rows.png"), full_page=True)
    ctx.close()

    ctx, page = login(
        browser, live_server, health_commission_viewer, {"width": 1280, "height": 900}
    )
    page.goto(live_server.url + reverse("indicators:detail", args=["in_county_visit_rate"])
              + f"?period={YEAR}")  # fmt: skip
    page.wait_for_selector("[data-chart=trend] svg")
    assert "75.00" in page.inner_text("main") and page.locator("a >> text=查看明细").count() == 0
    response = page.goto(live_server.url + reverse("indicators:rows", args=["in_county_visit_rate"])
                         + f"?period={YEAR}")  # fmt: skip
    assert response.status == 403
    ctx.close()
