"""Lab timestamps and turnaround (issue 5, SHC-03: results within 2 hours of collection)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from countycare.lab import stats
from countycare.lab.ingest import ingest
from countycare.lab.models import LabResult
from countycare.organizations.models import Institution, InstitutionType, PolicyValue
from countycare.telemed import policy as telemed_policy

SH = ZoneInfo("Asia/Shanghai")
DAY = dt.datetime(2026, 11, 25, tzinfo=SH)
PERIOD = (DAY, DAY + dt.timedelta(days=1))


def at(hhmmss: str) -> dt.datetime:
    h, m, s = int(hhmmss[:2]), int(hhmmss[2:4]), int(hhmmss[4:])
    return DAY.replace(hour=h, minute=m, second=s)


def late(message: str) -> str:
    """The same CBC reported at 12:00, 2 h 55 min after collection at 09:05."""
    return message.replace("20261125092955", "20261125120000")


@pytest.fixture
def two_labs(make_oru):
    ingest(make_oru())  # the village kit's analyzer: on time (25 minutes)
    ingest(
        late(
            make_oru(
                sender="URIT-5160^URIT",
                control_id="U-1",
                obx=[("6690-2", "WBC", "6.1", "10*9/L", "3.5-9.5", "N")],
            )
        )
    )


def test_collection_received_and_reported_are_kept_per_test(make_oru, cbc_order):
    received = at("093100")
    row = ingest(make_oru(), received_at=received).message
    result = LabResult.objects.get(message=row, code="718-7")
    assert (result.collected_at, result.received_at, result.reported_at, result.arrived_at) == (
        at("090500"),  # OBR-7
        at("091000"),  # OBR-14
        at("092955"),  # OBR-22
        received,
    )
    assert result.order == cbc_order and result.sender == "BC-5390^MINDRAY|ZSK-VC-A1"
    assert LabResult.objects.filter(message=row).count() == 8


def test_without_obr_22_the_report_is_msh_7(make_oru):
    message = make_oru().replace("||||||||20261125092955|||F", "|||||||||||F")
    row = ingest(message).message
    assert row.status == "accepted", row.reason
    assert {r.reported_at for r in row.results.all()} == {at("093012")}


def test_share_within_target_per_lab(two_labs, community_admin):
    rows = {r.key: r for r in stats.turnaround(community_admin, *PERIOD, by="lab")}
    mindray, urit = rows["BC-5390^MINDRAY|ZSK-VC-A1"], rows["URIT-5160^URIT|ZSK-VC-A1"]
    assert (mindray.results, mindray.within, mindray.breaches, mindray.share) == (8, 8, 0, 1.0)
    assert (urit.results, urit.within, urit.breaches, urit.share) == (1, 0, 1, 0.0)


def test_share_within_target_per_test(two_labs, community_admin):
    rows = {r.key: r for r in stats.turnaround(community_admin, *PERIOD, by="test")}
    assert (rows["6690-2"].results, rows["6690-2"].within) == (2, 1)
    assert rows["6690-2"].percent == "50.0"
    assert (rows["718-7"].results, rows["718-7"].within) == (1, 1)


def test_share_within_target_per_ordered_test(two_labs, community_admin):
    """Per 血常规 / 尿常规 / 血糖 as ordered, with the minutes per specimen: the CBC on time
    (25 min), the WBC of the other lab late (2 h 55 min)."""
    [cbc] = stats.turnaround(community_admin, *PERIOD, by="service")
    assert (cbc.key, cbc.name, cbc.results, cbc.within, cbc.breaches) == (
        "LAB-CBC",
        "血常规",
        9,
        8,
        1,
    )
    assert (cbc.median, cbc.p90) == (25, 175)


def test_the_target_is_the_policy_number(two_labs, community_admin):
    assert stats.targets()["routine"] == 120  # SHC-03: 2 hours
    community = Institution.objects.get(type=InstitutionType.MEDICAL_COMMUNITY)
    PolicyValue.objects.create(
        key=telemed_policy.TAT_TARGET_MINUTES,
        community=community,
        value={"lab": {"stat": 60, "urgent": 90, "routine": 180}},
    )
    assert stats.targets()["routine"] == 180
    rows = {r.key: r for r in stats.turnaround(community_admin, *PERIOD, by="lab")}
    assert rows["URIT-5160^URIT|ZSK-VC-A1"].within == 1  # 175 minutes: now within


def test_results_outside_the_period_are_left_out(two_labs, community_admin):
    before = (DAY - dt.timedelta(days=2), DAY)
    assert stats.turnaround(community_admin, *before, by="lab") == []


def test_the_page(two_labs, community_admin, health_commission_viewer, village_doctor, web):
    url = "/lab/turnaround/?from=2026-11-25&to=2026-11-25"
    page = web(community_admin).get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "URIT-5160^URIT|ZSK-VC-A1" in body and "50.0" in body
    assert web(health_commission_viewer).get(url).status_code == 200
    assert web(village_doctor).get(url).status_code == 403


def test_breaches_are_listed_per_order(two_labs, community_admin, cbc_order, web):
    """SHC-03: the late CBC (2 h 55 min) is a breach, the on-time one is not."""
    from countycare.lab import selectors

    rows = selectors.breaches(community_admin, *PERIOD)
    assert len(rows) == 1
    row = rows[0]
    assert (row["order"], row["sender"], row["minutes"], row["target"]) == (
        cbc_order, "URIT-5160^URIT|ZSK-VC-A1", 175, 120)  # fmt: skip
    page = web(community_admin).get("/lab/turnaround/?from=2026-11-25&to=2026-11-25")
    assert cbc_order.accession_number in page.content.decode()
    assert page.context["breach_count"] == 1


def test_figures_for_the_indicators_app(two_labs, tree, glucose_ranges, village_doctor, residents):
    """KPI: the lab's figures over an institution subtree and a period (aggregates only)."""
    from countycare.lab import selectors, services

    services.enter_results(
        village_doctor, resident=residents["a1"].pk, device="glucose_meter",
        values={"1558-6": "5.5"},
    )  # fmt: skip
    now = dt.datetime.now(SH)
    figures = selectors.figures(tree.township_a, DAY, now + dt.timedelta(days=1))
    assert figures["hl7_results"] == 9 and figures["manual_results"] == 1
    assert (figures["measured"], figures["within_target"], figures["breaches"]) == (9, 8, 1)
    assert figures["share_within_target"] == pytest.approx(8 / 9)
    assert figures["recognized"] == 9 and figures["orders"] == 1
    # Another township's subtree has none of them (the lab hospital is not under it).
    other = selectors.figures(tree.village_b1, DAY, now + dt.timedelta(days=1))
    assert other["results"] == 0 and other["share_within_target"] is None
    days = selectors.daily_volumes(tree.township_a, *PERIOD)
    assert [(d["results"], d["within_target"]) for d in days] == [(9, 8)]
