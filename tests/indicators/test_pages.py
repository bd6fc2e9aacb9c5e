"""Dashboards, drill-down, rows behind a number, standards, assessment, imports and exports
(issue 9): who sees what — aggregates for aggregate viewers, records only through scoped() and
never for the health-commission viewer; a village doctor reaches no dashboard at all."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from countycare.core.models import AuditEntry
from countycare.indicators.models import ImportedStatistic
from countycare.organizations.models import Equipment
from countycare.telemed.models import Visit
from tests.indicators.conftest import YEAR, aware, csv_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(tree, residents, village_doctor, village_doctor_b1, import_rows):
    import_rows([
        ("TA", f"{YEAR}-03", "outpatient_visits", 300), ("TB", f"{YEAR}-03", "outpatient_visits", 100),
        ("H01", f"{YEAR}-03", "outpatient_visits", 600), ("150627", f"{YEAR}-03", "out_of_county_visits", 100),
    ])  # fmt: skip
    Visit.objects.create(resident=residents["a1"], institution=tree.village_a1,
                         performed_by=village_doctor, visited_at=aware(dt.date(YEAR, 3, 2)))  # fmt: skip
    Visit.objects.create(resident=residents["b1"], institution=tree.village_b1,
                         performed_by=village_doctor_b1, visited_at=aware(dt.date(YEAR, 3, 3)))  # fmt: skip
    Equipment.objects.create(institution=tree.township_a, kind="ecg_machine")


def url(name, *args, **query):
    from urllib.parse import urlencode

    return reverse(name, args=args) + ("?" + urlencode(query) if query else "")


def test_dashboard_shows_the_county_against_targets(web, community_admin, data):
    """KPI-01: 1,000 of 1,100 visits in the county = 90.9 % ≥ 90 % → met."""
    page = web(community_admin).get(url("indicators:dashboard", period=str(YEAR)))
    assert page.status_code == 200
    html = page.content.decode()
    assert "县域内就诊率" in html and "90.9" in html and "echarts-5.6.0.min.js" in html
    assert "达标" in html or "Met" in html


def test_drill_down_and_trend(web, community_admin, data):
    page = web(community_admin).get(
        url("indicators:detail", "in_county_visit_rate", period=str(YEAR))
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert f"{YEAR}-03" in html and "札萨克镇卫生院" in html  # trend month, ranking row
    township = web(community_admin).get(
        url("indicators:detail", "wh_visits", period=str(YEAR), institution="TA")
    )
    assert township.status_code == 200 and "甲一村卫生室" in township.content.decode()


@pytest.mark.parametrize("who", ["village_doctor", "township_doctor", "nurse_like"])
def test_roles_without_aggregates_see_no_dashboard(web, cast, who, data):
    """A village doctor cannot reach any institution's figures, his own village's included."""
    user = cast["village_doctor" if who == "nurse_like" else who]
    client = web(user)
    assert client.get(url("indicators:dashboard")).status_code == 403
    assert (
        client.get(
            url("indicators:rows", "wh_visits", period=str(YEAR), institution="VB1")
        ).status_code
        == 403
    )
    assert client.get(url("indicators:export", period=str(YEAR))).status_code == 403


def test_institution_admin_sees_its_subtree_only(web, institution_admin, data):
    client = web(institution_admin)
    page = client.get(url("indicators:dashboard", period=str(YEAR)))
    assert page.status_code == 200 and "札萨克镇卫生院" in page.content.decode()
    assert (
        client.get(url("indicators:dashboard", period=str(YEAR), institution="TB")).status_code
        == 404
    )
    assert client.get(url("indicators:dashboard", institution="150627")).status_code == 404
    # The rows behind the township's visit count: its own village's visit only.
    rows = client.get(url("indicators:rows", "wh_visits", period=str(YEAR), institution="TA"))
    assert rows.status_code == 200
    assert "张安民" in rows.content.decode() and "张北平" not in rows.content.decode()
    assert AuditEntry.objects.filter(action="search", object_type="telemed.visit").exists()


def test_health_commission_sees_aggregates_never_resident_rows(web, health_commission_viewer, data):
    client = web(health_commission_viewer)
    assert client.get(url("indicators:dashboard", period=str(YEAR))).status_code == 200
    denied = client.get(url("indicators:rows", "wh_visits", period=str(YEAR)))
    assert denied.status_code == 403 and "张安民" not in denied.content.decode()
    figures = client.get(url("indicators:rows", "in_county_visit_rate", period=str(YEAR)))
    html = figures.content.decode()
    assert figures.status_code == 200 and "伊金霍洛旗人民医院" in html and f"{YEAR}-03" in html
    # The same aggregate rows as Excel; the visits behind a count are never exported to it.
    book = client.get(url("indicators:export", table="rows", code="in_county_visit_rate",
                          period=str(YEAR)))  # fmt: skip
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.content)).active
    cells = [c for row in sheet.iter_rows(values_only=True) for c in row]
    assert "伊金霍洛旗人民医院" in cells and 600 in cells
    denied = client.get(url("indicators:export", table="rows", code="wh_visits", period=str(YEAR)))
    assert denied.status_code == 403


def test_records_behind_a_number_exported_scoped(web, institution_admin, township_doctor, data):
    """The visits behind township A's count, exported by its institution admin (who may export
    residents' data): A's village only, audited; a township doctor sees no figures at all."""
    response = web(institution_admin).get(
        url("indicators:export", table="rows", code="wh_visits", period=str(YEAR), institution="TA")
    )
    assert response.status_code == 200
    text = " ".join(
        str(c) for row in load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True)
        for c in row if c
    )  # fmt: skip
    assert "张安民" in text and "张北平" not in text
    entry = AuditEntry.objects.filter(action="export", object_type="indicators").last()
    assert entry.detail["records"] is True and entry.detail["rows"] == 1
    assert (
        web(township_doctor)
        .get(url("indicators:export", table="rows", code="wh_visits", period=str(YEAR)))
        .status_code
        == 403
    )


def test_malformed_period_and_unknown_institution(web, community_admin, data):
    client = web(community_admin)
    page = client.get(url("indicators:dashboard", period="2025-13"))
    assert page.status_code == 200 and "2025-13" in page.content.decode()  # the error, shown
    assert client.get(url("indicators:dashboard", institution="NOPE")).status_code == 404
    assert client.get(url("indicators:detail", "no_such_indicator")).status_code == 404


def test_excel_exports(web, community_admin, data):
    client = web(community_admin)
    response = client.get(url("indicators:export", period=str(YEAR), code="wh_visits"))
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["指标汇总"]
    assert "医共体监测指标" in sheet["A1"].value
    assert [c.value for c in sheet[2]][:4] == ["序号", "指标", "指标编码", "依据"]
    codes = {row[2]: row for row in sheet.iter_rows(min_row=3, values_only=True) if row[2]}
    assert codes["in_county_visit_rate"][6] == pytest.approx(90.91)
    trend = {r[1]: r[2] for r in book["逐月趋势"].iter_rows(min_row=3, values_only=True) if r[1]}
    assert trend[f"{YEAR}-03"] == 2 and trend[f"{YEAR}-04"] is None  # no visit anywhere then
    per_institution = book["分机构"]
    assert any(
        r[1] == "札萨克镇卫生院" and r[5] == 1 for r in per_institution.iter_rows(values_only=True)
    )
    for table in ("standards", "assessment"):
        assert (
            client.get(url("indicators:export", table=table, period=str(YEAR))).status_code == 200
        )
    assert AuditEntry.objects.filter(action="export", object_type="indicators").count() == 3


def test_standards_and_assessment_pages(web, community_admin, data):
    client = web(community_admin)
    standards = client.get(url("indicators:standards"))
    assert standards.status_code == 200 and "札萨克镇卫生院" in standards.content.decode()
    assessment = client.get(url("indicators:assessment", period=str(YEAR)))
    assert assessment.status_code == 200


def test_import_page(web, community_admin, health_commission_viewer, tree):
    client = web(community_admin)
    bad = client.post(
        url("indicators:imports"),
        {
            "file": SimpleUploadedFile(
                "x.csv", csv_bytes([("NOPE", "2024-01", "outpatient_visits", 1)])
            )
        },
    )
    assert bad.status_code == 400 and "NOPE" in bad.content.decode()
    good = client.post(
        url("indicators:imports"),
        {
            "file": SimpleUploadedFile(
                "x.csv", csv_bytes([("TA", "2024-01", "outpatient_visits", 5)])
            )
        },
    )
    assert good.status_code == 302 and ImportedStatistic.objects.count() == 1
    assert client.get(url("indicators:import-template")).status_code == 200
    assert web(health_commission_viewer).get(url("indicators:imports")).status_code == 403


def test_encounter_import_page(web, community_admin, health_commission_viewer, tree):
    """The community office imports a settlement file from the page; a bad one lists its
    problems (in the page, nothing written); the template downloads."""
    from countycare.clinical.models import Encounter

    client = web(community_admin)
    header = "就诊流水号,就诊日期,就诊类型,机构编码,就诊机构名称,居住地编码"
    bad = client.post(url("indicators:imports"), {
        "kind": "encounters", "source": "医保结算",
        "file": SimpleUploadedFile("s.csv", f"{header}\nJS1,2024-03-02,体检,,,VA1\n".encode()),
    })  # fmt: skip
    assert bad.status_code == 400 and "体检" in bad.content.decode()
    assert Encounter.objects.count() == 0
    good = client.post(url("indicators:imports"), {
        "kind": "encounters", "source": "医保结算",
        "file": SimpleUploadedFile("s.csv", f"{header}\nJS1,2024-03-02,住院,,包头市中心医院,VA1\n".encode()),
    })  # fmt: skip
    assert good.status_code == 302 and Encounter.objects.get().provider == "包头市中心医院"
    page = client.get(url("indicators:imports"))
    assert "s.csv" in page.content.decode()
    template = client.get(url("indicators:encounter-template"))
    assert template.status_code == 200 and "就诊流水号".encode() in template.content
    assert (
        web(health_commission_viewer)
        .post(url("indicators:imports"), {"kind": "encounters"})
        .status_code
        == 403
    )


def test_home_widget_shows_the_stored_year(
    web, tree, community_admin, health_commission_viewer, data
):
    from countycare.indicators import periods, services

    services.outcomes_for(tree.county, periods.year(YEAR))
    for user in (community_admin, health_commission_viewer):
        html = web(user).get(reverse("home")).content.decode()
        assert "县域内就诊率" in html and str(YEAR) in html


def test_rows_link_only_where_the_role_may_follow_it(
    web, health_commission_viewer, community_admin, data
):
    rows_of = "/rows/"
    hc = web(health_commission_viewer)
    assert (
        rows_of
        not in hc.get(url("indicators:detail", "wh_visits", period=str(YEAR))).content.decode()
    )
    stats = hc.get(
        url("indicators:detail", "in_county_visit_rate", period=str(YEAR))
    ).content.decode()
    assert rows_of in stats
    admin = web(community_admin).get(url("indicators:detail", "wh_visits", period=str(YEAR)))
    assert rows_of in admin.content.decode()
