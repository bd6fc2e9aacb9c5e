"""Result recognition (检查检验结果互认, SHC-01/SHC-02): a final result of a community lab is
visible across the community in scope and accepted within its validity window, so a
referral does not repeat a fresh CBC without reason. Typed-in point-of-care results and
preliminary results are shown but not recognized."""

import datetime as dt

import pytest
from django.utils import timezone

from countycare.core.models import AuditEntry
from countycare.lab import selectors, services
from countycare.lab.ingest import ingest
from countycare.organizations.models import Institution, InstitutionType, PolicyValue

NOW = timezone.make_aware(dt.datetime(2026, 11, 25, 12, 0))  # the CBC was collected 09:05


@pytest.fixture
def cbc(make_oru, cbc_order):
    result = ingest(make_oru().encode())
    assert result.message.status == "accepted"
    return cbc_order


def test_a_final_cbc_is_recognized_for_seven_days(cbc, township_doctor, residents):
    """The township doctor (A1's township) sees A1's CBC from the county lab, recognized."""
    a1 = residents["a1"]
    panels = selectors.recognized_panels(township_doctor, a1, at=NOW)
    assert len(panels) == 1
    panel = panels[0]
    assert (panel.service_code, panel.accession_number) == ("LAB-CBC", cbc.accession_number)
    assert len(panel.results) == 8
    collected = timezone.make_aware(dt.datetime(2026, 11, 25, 9, 5))
    assert panel.valid_until == collected + dt.timedelta(days=7)
    assert selectors.has_recognized(township_doctor, a1, "LAB-CBC", at=NOW)
    assert selectors.has_recognized(township_doctor, a1, "718-7", at=NOW)
    later = collected + dt.timedelta(days=7, minutes=1)
    assert not selectors.has_recognized(township_doctor, a1, "LAB-CBC", at=later)


def test_the_window_is_the_communitys_policy_number(cbc, township_doctor, residents):
    community = Institution.objects.get(type=InstitutionType.MEDICAL_COMMUNITY)
    PolicyValue.objects.create(
        key="lab_recognition_days", community=community, value={"default": 2, "718-7": 30}
    )
    at = NOW + dt.timedelta(days=3)
    codes = set(
        selectors.recognized_results(township_doctor, residents["a1"], at=at).values_list(
            "code", flat=True
        )
    )
    assert codes == {"718-7"}


def test_another_villages_doctor_sees_nothing(cbc, village_doctor_b1, residents):
    """Scope: recognition is across the community *in scope*; B1's doctor has no A1 rows."""
    assert selectors.recognized_panels(village_doctor_b1, residents["a1"], at=NOW) == []
    assert not selectors.has_recognized(village_doctor_b1, residents["a1"], "LAB-CBC", at=NOW)


def test_preliminary_and_point_of_care_results_are_not_recognized(
    make_oru, cbc_order, village_doctor, residents, glucose_ranges
):
    prelim = make_oru(control_id="P1").replace("|||F|||", "|||P|||")
    assert ingest(prelim.encode()).message.status == "accepted"
    services.enter_results(
        village_doctor, resident=residents["a1"].pk, device="glucose_meter",
        values={"1558-6": "5.6"},
    )  # fmt: skip
    rows = list(selectors.resident_results(village_doctor, residents["a1"]))
    assert len(rows) == 9 and not any(r.recognized for r in rows)
    assert {r.result_status for r in rows if r.message_id} == {"P"}
    assert selectors.recognized_panels(village_doctor, residents["a1"]) == []


def test_the_results_page_marks_recognition_and_is_audited(
    cbc, web, village_doctor, village_doctor_b1, residents
):
    url = f"/lab/residents/{residents['a1'].pk}/results/"
    page = web(village_doctor).get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert cbc.accession_number in html and "HGB 血红蛋白" in html
    assert page.context["groups"][0]["recognized"]
    assert AuditEntry.objects.filter(
        actor=village_doctor, action="read", object_id=str(residents["a1"].pk)
    ).exists()
    assert web(village_doctor_b1).get(url).status_code == 404


def test_the_timeline_shows_the_results(cbc, village_doctor, residents):
    from countycare.core.timeline import for_resident

    entries = [e for e in for_resident(residents["a1"], village_doctor) if e.kind == "lab_result"]
    assert len(entries) == 1 and entries[0].url.endswith("/results/")
