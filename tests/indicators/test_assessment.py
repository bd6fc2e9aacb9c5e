"""Assessment (KPI-02, KPI-03): half-yearly monitoring and annual assessment scores per
township from weighted indicators, the weights configurable per county, as pages and files."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from countycare.indicators import assessment, periods
from countycare.indicators.policy import ASSESSMENT_WEIGHTS
from countycare.organizations.models import Equipment, PolicyValue
from tests.indicators.conftest import YEAR

pytestmark = pytest.mark.django_db


@pytest.fixture
def figures(tree, import_rows):
    """Township A: in-county 80 % (target 90), satisfaction 95 % (90), TCM 35 % (35); no
    staff or equipment, so 0 of its 3 grassroots institutions meet the standards (100 %).
    Township B: in-county 90 %, an ECG machine, nothing else. All in the first half-year."""
    Equipment.objects.create(institution=tree.township_b, kind="ecg_machine")
    import_rows([
        ("TA", f"{YEAR}-02", "outpatient_visits", 200), ("TA", f"{YEAR}-02", "out_of_county_visits", 50),
        ("TA", f"{YEAR}-02", "tcm_visits", 70),
        ("TA", f"{YEAR}-03", "satisfaction_surveyed", 100), ("TA", f"{YEAR}-03", "satisfaction_satisfied", 95),
        ("TB", f"{YEAR}-04", "outpatient_visits", 90), ("TB", f"{YEAR}-04", "out_of_county_visits", 10),
    ])  # fmt: skip


def by_code(a):
    return {s.outcome.indicator.code: s for s in a.scored}


def test_scores_from_weighted_attainment(tree, figures):
    """A: (2 × 80/90 + 1 × 1 + 1 × 1 + 1 × 0) ÷ (2 + 1 + 1 + 1) × 100 = 75.6; B: in-county
    alone 2 × 1 ÷ 2 … plus its standards 0 → (2 + 0) ÷ 3 = 66.7. Indicators without data are
    listed as not assessed, never scored 0."""
    h1 = periods.half(YEAR, 1)
    a = assessment.assess(tree.township_a, h1)
    scored = by_code(a)
    assert set(scored) == {"in_county_visit_rate", "satisfaction_rate", "tcm_share",
                           "facility_standard_compliance"}  # fmt: skip
    assert scored["in_county_visit_rate"].attainment == pytest.approx(80 / 90)
    assert scored["in_county_visit_rate"].weight == 2
    assert a.score == 75.6 and a.met == 2
    assert {o.indicator.code for o in a.unassessed} >= {"gps_per_10000", "contract_coverage"}
    b = assessment.assess(tree.township_b, h1)
    assert b.score == 66.7
    ranked = assessment.assess_townships(tree.county, h1)
    assert [r.institution.code for r in ranked] == ["TA", "TB"]
    with translation.override("en"):
        assert a.title == "Half-yearly monitoring report"
        assert (
            assessment.assess(tree.township_a, periods.year(YEAR)).title
            == "Annual assessment report"
        )


def test_weights_configured_per_county(tree, figures):
    """The county weighs facility standards 3 and leaves the in-county rate out (weight 0):
    A = (1 + 1 + 3 × 0) ÷ 5 × 100 = 40.0; B has nothing left but its standards → 0.0."""
    PolicyValue.objects.create(
        community=tree.community, key=ASSESSMENT_WEIGHTS,
        value={"facility_standard_compliance": 3, "in_county_visit_rate": 0},
    )  # fmt: skip
    h1 = periods.half(YEAR, 1)
    a = assessment.assess(tree.township_a, h1)
    assert "in_county_visit_rate" not in by_code(a)
    assert "in_county_visit_rate" not in {o.indicator.code for o in a.unassessed}
    assert a.score == 40.0
    assert assessment.assess(tree.township_b, h1).score == 0.0


def test_lower_is_better_attainment(tree):
    from dataclasses import replace

    from countycare.indicators.registry import LOWER, Outcome, get

    lower = replace(get("out_of_county_referral_share"), direction=LOWER)
    assert assessment.attainment(Outcome(lower, "ok", value=20.0, target=10.0)) == 0.5
    assert assessment.attainment(Outcome(lower, "ok", value=5.0, target=10.0)) == 1.0
    assert assessment.attainment(Outcome(lower, "ok", value=None, target=10.0)) is None


def test_report_page_and_file(web, community_admin, health_commission_viewer, figures):
    for user in (community_admin, health_commission_viewer):
        page = web(user).get(reverse("indicators:assessment") + f"?period={YEAR}-H1")
        assert page.status_code == 200
        html = page.content.decode()
        assert "札萨克镇卫生院" in html and "75.6" in html
    response = web(health_commission_viewer).get(
        reverse("indicators:export") + f"?table=assessment&period={YEAR}-H1"
    )
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["考核得分", "评分明细", "未评分指标", "权重"]
    scores = list(book["考核得分"].iter_rows(min_row=3, values_only=True))
    assert scores[0][1:4] == ("札萨克镇卫生院", "TA", 75.6)
    detail = [
        r
        for r in book["评分明细"].iter_rows(min_row=3, values_only=True)
        if r[1] == "札萨克镇卫生院"
    ]
    in_county = next(r for r in detail if r[3] == "in_county_visit_rate")
    assert in_county[5:11] == (80.0, 90.0, "未达标", 88.89, 2, pytest.approx(1.7778, abs=1e-4))
    assert "半年" in book["考核得分"]["A1"].value
