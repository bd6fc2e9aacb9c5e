"""The family-doctor pages as their users use them: sign with the signature pad's PNG, record a
follow-up (errors beside the fields, what was typed kept), confirm a Walking Hospital visit,
the due lists, coverage, unsigned key populations, the fee split and its Excel file, the resident
page's section with its trend data — and another village's pages answer 404."""

import datetime as dt
import io
import json
import re

import pytest
from django.utils import timezone

from countycare.core.models import AuditEntry
from countycare.familydoctor.models import Contract, FollowUp
from tests.factories import KeyPopulationTagFactory

pytestmark = pytest.mark.django_db


def aware(day, hour=10):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def token(html: str) -> str:
    return re.search(r'name="token" value="([0-9a-f]+)"', html).group(1)


@pytest.fixture
def contracted(village_doctor, hypertensive, team_a, sign):
    start = timezone.localdate() - dt.timedelta(days=120)
    return sign(village_doctor, hypertensive, team_a, now=aware(start))


def test_sign_on_the_page_once(web, village_doctor, residents, team_a, packages, signature):
    client = web(village_doctor)
    url = f"/familydoctor/contracts/new/{residents['a1'].pk}/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "fd-pad" in html and team_a.name in html
    data = {"token": token(html), "team": team_a.pk, "packages": [packages["basic"].pk],
            "consent_method": "tablet", "signature": signature}  # fmt: skip
    first = client.post(url, data)
    assert first.status_code == 302
    contract = Contract.objects.get()
    assert first["Location"] == f"/familydoctor/contracts/{contract.pk}/"
    again = client.post(url, data)  # the tablet resends
    assert again.status_code == 302 and Contract.objects.count() == 1
    detail = client.get(first["Location"])
    assert detail.status_code == 200 and contract.number in detail.content.decode()
    assert AuditEntry.objects.filter(action="read", object_type="familydoctor.contract").exists()
    consent = client.get(f"/familydoctor/contracts/{contract.pk}/consent/")
    assert consent.status_code == 200 and b"".join(consent.streaming_content).startswith(b"\x89PNG")


def test_sign_errors_shown_beside_the_field(web, village_doctor, residents, team_a, packages):
    client = web(village_doctor)
    url = f"/familydoctor/contracts/new/{residents['a1'].pk}/"
    html = client.get(url).content.decode()
    page = client.post(url, {"token": token(html), "team": team_a.pk,
                             "packages": [packages["basic"].pk], "consent_method": "tablet"})  # fmt: skip
    assert page.status_code == 200
    assert "Attach the signed consent" in page.content.decode() or "签字" in page.content.decode()
    assert not Contract.objects.exists()


def test_follow_up_page_keeps_values_and_reports_every_error(web, village_doctor, contracted):
    client = web(village_doctor)
    url = f"/familydoctor/follow-ups/new/{contracted.resident_id}/?program=hypertension"
    html = client.get(url).content.decode()
    bad = client.post(url, {"token": token(html), "program": "hypertension", "method": "clinic",
                            "systolic_bp": "400", "diastolic_bp": "85", "weight": "68",
                            "adherence": "regular", "adverse_reaction": "none"})  # fmt: skip
    assert bad.status_code == 200
    text = bad.content.decode()
    assert 'value="68"' in text and 'value="400"' in text  # what was typed is kept
    assert text.count('class="errors"') >= 1
    assert not FollowUp.objects.exists()
    good = client.post(url, {"token": token(text), "program": "hypertension", "method": "clinic",
                             "systolic_bp": "128", "diastolic_bp": "82", "adherence": "regular",
                             "adverse_reaction": "none", "symptoms": ["none"],
                             "medications": "氨氯地平片 | 5 mg | 每日1次"})  # fmt: skip
    assert good.status_code == 302
    f = FollowUp.objects.get()
    assert f.medications == [{"name": "氨氯地平片", "dose": "5 mg", "frequency": "每日1次"}]
    shown = client.get(good["Location"]).content.decode()
    assert "128/82" in shown


def test_confirming_a_visit_locks_its_values(web, village_doctor, contracted):
    from countycare.telemed import services as telemed

    visit = telemed.open_visit(village_doctor, resident=contracted.resident_id,
                               vitals_data={"systolic_bp": "146", "diastolic_bp": "91"})  # fmt: skip
    client = web(village_doctor)
    due = client.get("/familydoctor/").content.decode()
    assert f"?visit={visit.pk}" in due
    url = f"/familydoctor/follow-ups/new/{contracted.resident_id}/?program=hypertension&visit={visit.pk}"
    html = client.get(url).content.decode()
    assert re.search(r'name="systolic_bp"[^>]*disabled', html) or re.search(
        r'disabled[^>]*name="systolic_bp"', html
    )
    post = client.post(
        url,
        {
            "token": token(html),
            "program": "hypertension",
            "method": "clinic",
            "visit": visit.pk,
            "adherence": "regular",
            "adverse_reaction": "none",
            "systolic_bp": "999",
        },
    )  # a tampered locked field is ignored
    assert post.status_code == 302, post.content.decode()[:2000]
    f = FollowUp.objects.get()
    assert (f.systolic_bp, f.visit_id) == (146, visit.pk)


def test_due_list_for_the_team_and_the_doctor(
    web, village_doctor, township_doctor, contracted, team_a
):
    page = web(township_doctor).get(f"/familydoctor/?team={team_a.pk}&status=overdue")
    assert page.status_code == 200 and contracted.resident.name in page.content.decode()
    # The leader is the responsible doctor; the village doctor's own list is empty.
    mine = web(village_doctor).get("/familydoctor/?mine=1&status=all").content.decode()
    assert contracted.resident.name not in mine
    leader = web(township_doctor).get("/familydoctor/?mine=1&status=all").content.decode()
    assert contracted.resident.name in leader
    assert web(township_doctor).get("/familydoctor/?team=999999").status_code == 404
    assert AuditEntry.objects.filter(action="search", object_type="familydoctor.followup").exists()


def test_another_villages_pages_answer_404(web, village_doctor, village_doctor_b1, residents,
                                           team_b, sign):  # fmt: skip
    KeyPopulationTagFactory(resident=residents["b1"], tag="hypertension")
    theirs = sign(village_doctor_b1, residents["b1"], team_b)
    from countycare.familydoctor import services

    f = services.record_follow_up(village_doctor_b1, resident=residents["b1"].pk,
                                  program="hypertension", adherence="regular",
                                  measurements={"systolic_bp": "130", "diastolic_bp": "80"})  # fmt: skip
    client = web(village_doctor)
    for url in (f"/familydoctor/contracts/{theirs.pk}/", f"/familydoctor/contracts/{theirs.pk}/consent/",
                f"/familydoctor/follow-ups/{f.pk}/", f"/familydoctor/follow-ups/new/{residents['b1'].pk}/",
                f"/familydoctor/contracts/new/{residents['b1'].pk}/", f"/familydoctor/follow-ups/{f.pk}/refer/"):  # fmt: skip
        assert client.get(url).status_code == 404, url
    listed = client.get("/familydoctor/contracts/").content.decode()
    assert theirs.number not in listed
    unsigned = client.get("/familydoctor/unsigned/").content.decode()
    assert residents["b1"].name not in unsigned


def test_resident_page_shows_contract_follow_ups_and_trend_data(web, village_doctor, contracted):
    from countycare.familydoctor import services

    today = timezone.localdate()
    for days, (s, d) in ((60, (150, 95)), (30, (142, 88)), (0, (132, 82))):
        services.record_follow_up(village_doctor, resident=contracted.resident_id,
                                  program="hypertension", adherence="regular",
                                  followed_on=today - dt.timedelta(days=days),
                                  measurements={"systolic_bp": str(s), "diastolic_bp": str(d)})  # fmt: skip
    html = web(village_doctor).get(f"/residents/{contracted.resident_id}/").content.decode()
    assert 'id="family-doctor"' in html and contracted.number in html
    data = json.loads(
        re.search(
            r'<script id="fd-trends" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert [v for _t, v in data["series"]["sbp"]] == [150, 142, 132]
    assert [f["class"] for f in data["follow_ups"]] == [
        "not_controlled",
        "not_controlled",
        "controlled",
    ]
    assert "echarts-5.6.0.min.js" in html


def test_coverage_page_for_every_level(
    web, health_commission_viewer, township_doctor, contracted, tree
):
    client = web(health_commission_viewer)
    page = client.get("/familydoctor/coverage/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "札萨克镇卫生院" in html and "fd-coverage-data" in html
    assert (
        client.get(f"/familydoctor/coverage/?institution={tree.township_a.pk}").status_code == 200
    )
    # Aggregates only: the viewer gets no list of residents.
    assert client.get("/familydoctor/unsigned/").status_code == 403
    own = web(township_doctor).get("/familydoctor/coverage/").content.decode()
    assert "甲一村卫生室" in own and "红庆河镇卫生院" not in own
    assert (
        web(township_doctor)
        .get(f"/familydoctor/coverage/?institution={tree.township_b.pk}")
        .status_code
        == 404
    )


def test_unsigned_key_population_list(web, township_doctor, contracted, residents, tree):
    KeyPopulationTagFactory(resident=residents["a2"], tag="type2_diabetes")
    html = web(township_doctor).get("/familydoctor/unsigned/").content.decode()
    assert residents["a2"].name in html  # diabetic without a contract
    assert contracted.resident.name not in html  # under contract
    only = (
        web(township_doctor)
        .get(f"/familydoctor/unsigned/?village={tree.village_a1.pk}")
        .content.decode()
    )
    assert residents["a2"].name not in only


def test_fee_split_page_and_excel(web, institution_admin, contracted, tree):
    from openpyxl import load_workbook

    client = web(institution_admin)
    year = contracted.start_on.year
    page = client.get(f"/familydoctor/fees/?start={year}-01-01&end={year}-12-31")
    assert page.status_code == 200 and "札萨克镇第一家庭医生团队" in page.content.decode()
    export = client.get(f"/familydoctor/fees/?start={year}-01-01&end={year}-12-31&format=xlsx")
    assert export.status_code == 200
    book = load_workbook(io.BytesIO(export.content))
    teams = book.worksheets[0]
    row = [c.value for c in teams[3]]
    assert row[0] == "札萨克镇第一家庭医生团队" and row[2] == 1 and row[3] == 120.0
    assert abs(row[5] - 84.0) < 0.001 and abs(row[6] - 36.0) < 0.001
    assert AuditEntry.objects.filter(action="export", object_type="familydoctor.team").exists()


def test_teams_and_contracts_pages(web, township_doctor, contracted, team_a):
    client = web(township_doctor)
    assert team_a.name in client.get("/familydoctor/teams/").content.decode()
    listed = client.get("/familydoctor/contracts/?status=active").content.decode()
    assert contracted.number in listed
    assert client.get("/familydoctor/health-checks/due/").status_code == 200


def test_terminate_on_the_page(web, village_doctor, contracted):
    client = web(village_doctor)
    response = client.post(f"/familydoctor/contracts/{contracted.pk}/terminate/",
                           {"reason": "moved", "note": "迁出"})  # fmt: skip
    assert response.status_code == 302
    contracted.refresh_from_db()
    assert contracted.status == "terminated"


def test_home_widget_for_the_family_doctor(web, township_doctor, contracted):
    html = web(township_doctor).get("/").content.decode()
    assert "/familydoctor/?status=overdue" in html
