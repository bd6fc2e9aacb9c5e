"""The visit-based indicators from encounters (KPI-01, KPI-02, KPI-04) against a hand-counted
year: residents moving villages mid-year, an institution changing level, visits outside the
county known only from the insurance settlement data, empty denominators, and the fallback to
imported statistics (issue 9)."""

from __future__ import annotations

import pytest

from countycare.clinical import services as clinical
from countycare.indicators import periods, services
from countycare.indicators.compute import compute
from countycare.indicators.models import IndicatorValue
from countycare.indicators.registry import get
from tests.factories import ResidentFactory
from tests.indicators.conftest import YEAR

pytestmark = pytest.mark.django_db
Y = periods.year(YEAR)
HEADER = "就诊流水号,就诊日期,就诊类型,机构编码,就诊机构名称,身份证号,居住地编码,中医药服务,总费用,医保基金支付"


def encounters(user, source, *lines):
    content = ("\n".join([HEADER, *lines]) + "\n").encode()
    return clinical.import_encounters(user=user, file_name="e.csv", content=content, source=source)


def value(code, institution, period=Y):
    o = compute(get(code), institution, period)
    return o.numerator, o.denominator, o.value, o.met


@pytest.fixture
def year_of_encounters(tree, community_admin):
    """a1 lives in A1, b1 in B1; m lives in A1 and moves to B1 in July. Encounter 7 is a
    visitor from outside the county (no ID, no residence)."""
    a1 = ResidentFactory(home_village=tree.village_a1).national_id
    b1 = ResidentFactory(home_village=tree.village_b1).national_id
    mover = ResidentFactory(home_village=tree.village_a1)
    m = mover.national_id
    encounters(community_admin, "HIS",
        f"E1,{YEAR}-01-10,门诊,VA1,,{a1},,是,30,20",
        f"E2,{YEAR}-02-10,门诊,TA,,{a1},,否,50,30",
        f"E3,{YEAR}-02-20,住院,H01,,{a1},,否,4000,3000",
        f"E4,{YEAR}-03-10,门诊,VB1,,{b1},,是,40,25",
        f"E5,{YEAR}-03-11,急诊,H01,,{b1},,否,300,200",
        f"E6,{YEAR}-03-12,门诊,VA1,,{m},,否,20,15",
        f"E7,{YEAR}-04-01,门诊,H01,,,,否,150,100",
    )  # fmt: skip
    encounters(community_admin, "医保结算",
        f"S8,{YEAR}-04-15,住院,,鄂尔多斯市中心医院,{a1},,否,10000,8000",
        f"S9,{YEAR}-05-15,门诊,,包头市中心医院,{m},,否,400,300",
    )  # fmt: skip
    mover.home_village = tree.village_b1
    mover.save(update_fields=["home_village"])
    encounters(community_admin, "HIS", f"E10,{YEAR}-09-01,门诊,VB1,,{m},,是,20,10")
    encounters(
        community_admin,
        "医保结算",
        f"S11,{YEAR}-10-01,住院,,内蒙古医科大学附属医院,{m},,否,9000,5000",
    )


def test_county_year(tree, year_of_encounters):
    """In-county (residents' side): 7 of the 10 residents' visits (E7 is no resident's) → 70 %
    (target 90: not met). Grassroots visit rate: 5 of the 8 visits in the county → 62.5 %
    (target 65: not met). Grassroots share of outpatient visits 5 of 7. TCM: 3 of the 5
    grassroots outpatient visits → 60 % (≥ 35: met). Fund: 100 of 3,400 yuan at grassroots."""
    county = tree.county
    assert value("in_county_visit_rate", county) == (7, 10, 70.0, False)
    assert value("grassroots_visit_rate", county) == (5, 8, 62.5, False)
    assert value("grassroots_outpatient_share", county) == (5, 7, 71.43, None)
    assert value("tcm_share", county) == (3, 5, 60.0, True)
    assert value("grassroots_insurance_share", county) == (100, 3400, 2.94, None)


def test_resident_moving_mid_year_counts_where_he_lived_on_the_day(tree, year_of_encounters):
    """Township A: a1's four visits and the mover's two before July (E6 in, S9 out) → 4 of 6.
    Township B: b1's two and the mover's two after July (E10 in, S11 out) → 3 of 4."""
    assert value("in_county_visit_rate", tree.township_a)[:3] == (4, 6, 66.67)
    assert value("in_county_visit_rate", tree.township_b)[:3] == (3, 4, 75.0)
    # The first half-year at B: b1's two visits only, both in the county.
    assert value("in_county_visit_rate", tree.township_b, periods.half(YEAR, 1))[:3] == (
        2,
        2,
        100.0,
    )
    # TCM share where it happened: A's grassroots outpatient visits E1 (TCM), E2, E6 → 1 of 3.
    assert value("tcm_share", tree.township_a) == (1, 3, 33.33, False)
    assert value("tcm_share", tree.township_b) == (2, 2, 100.0, True)


def test_empty_denominators_are_not_available(tree, year_of_encounters):
    """No encounters in June and no statistics: not available, never 0 %; a township with no
    grassroots outpatient visit in a month has no TCM share."""
    for code in ("in_county_visit_rate", "grassroots_visit_rate", "tcm_share"):
        o = compute(get(code), tree.county, periods.month(YEAR, 6))
        assert (o.status, o.value, o.met) == ("no_data", None, None)
    o = compute(get("tcm_share"), tree.township_b, periods.month(YEAR, 1))
    assert (o.value, o.met) == (None, None)


def test_without_settlement_data_the_in_county_rate_is_not_claimed(tree, community_admin):
    """HIS data alone knows no visit outside the county: the rate is not available (never a
    100 % for want of the settlement data), while the grassroots rate is."""
    encounters(community_admin, "HIS", f"E1,{YEAR}-01-10,门诊,VA1,,,VA1,否,,")
    assert compute(get("in_county_visit_rate"), tree.county, Y).status == "no_data"
    assert value("grassroots_visit_rate", tree.county)[:3] == (1, 1, 100.0)


def test_falls_back_to_imported_statistics(tree, community_admin, import_rows):
    """Months without encounters use the imported monthly statistics: the way is chosen per
    subtree and period."""
    import_rows([
        ("TA", f"{YEAR}-03", "outpatient_visits", 300), ("H01", f"{YEAR}-03", "outpatient_visits", 700),
        ("150627", f"{YEAR}-03", "out_of_county_visits", 250),
    ])  # fmt: skip
    march = periods.month(YEAR, 3)
    o = compute(get("grassroots_visit_rate"), tree.county, march)
    assert (o.way, o.value) == (1, 30.0)
    encounters(community_admin, "HIS", f"E1,{YEAR}-03-10,门诊,VA1,,,VA1,否,,")
    o = compute(get("grassroots_visit_rate"), tree.county, march)
    assert (o.way, o.value) == (0, 100.0)


def test_institution_changing_level(tree, community_admin, import_rows):
    """Township B's center becomes a general hospital in July: its March visit stays a
    grassroots visit, its September visit is a hospital visit — in encounters and in
    imported statistics alike. Its own township-level indicators no longer apply to it."""
    encounters(community_admin, "HIS", f"E1,{YEAR}-03-10,门诊,TB,,,VB1,否,,")
    import_rows([("TB", f"{YEAR}-04", "outpatient_visits", 100),
                 ("VB1", f"{YEAR}-04", "outpatient_visits", 100)])  # fmt: skip
    tree.township_b.type = "general_hospital"
    tree.township_b.save()
    encounters(community_admin, "HIS", f"E2,{YEAR}-09-10,门诊,TB,,,VB1,否,,")
    import_rows([("TB", f"{YEAR}-10", "outpatient_visits", 300),
                 ("VB1", f"{YEAR}-10", "outpatient_visits", 100)])  # fmt: skip
    assert value("grassroots_visit_rate", tree.county)[:3] == (1, 2, 50.0)
    # Statistics (months without encounters): April all grassroots, October a quarter.
    april = compute(get("grassroots_outpatient_share"), tree.county, periods.month(YEAR, 4))
    assert (april.way, april.value) == (1, 100.0)
    october = compute(get("grassroots_outpatient_share"), tree.county, periods.month(YEAR, 10))
    assert (october.way, october.numerator, october.value) == (1, 100, 25.0)
    h2 = periods.half(YEAR, 2)
    assert value("grassroots_visit_rate", tree.county, h2)[:3] == (0, 1, 0.0)
    # A real zero (there were visits, none at grassroots), not "no data".
    assert compute(get("tcm_share"), tree.township_b, Y).status == "not_applicable"


def test_encounters_imported_late_recompute_the_stored_year(
    tree, community_admin, django_capture_on_commit_callbacks
):
    encounters(community_admin, "HIS", f"E1,{YEAR}-01-10,门诊,VA1,,,VA1,否,,")
    services.outcomes_for(tree.county, Y)
    stored = IndicatorValue.objects.get(code="grassroots_visit_rate", institution=tree.county,
                                        period=str(YEAR))  # fmt: skip
    assert stored.value == 100.0
    with django_capture_on_commit_callbacks(execute=True):
        encounters(community_admin, "HIS", f"E2,{YEAR}-11-10,门诊,H01,,,VA1,否,,")
    stored.refresh_from_db()
    assert (stored.value, stored.stale) == (50.0, False)


def test_encounters_counted_per_month_follow_every_change(tree, community_admin):
    """The monthly counts are rebuilt with the encounters: an import, a single encounter
    moved to another month (both months change), one deleted."""
    from countycare.clinical.models import Encounter
    from countycare.indicators.models import EncounterMonth

    encounters(community_admin, "HIS", f"E1,{YEAR}-01-10,门诊,VA1,,,VA1,是,,",
               f"E2,{YEAR}-01-11,门诊,H01,,,VA1,否,,")  # fmt: skip
    jan, feb = periods.month(YEAR, 1), periods.month(YEAR, 2)
    assert value("grassroots_visit_rate", tree.county, jan)[:3] == (1, 2, 50.0)
    moved = Encounter.objects.get(number="E2")
    moved.date = moved.date.replace(month=2)
    moved.save()
    assert value("grassroots_visit_rate", tree.county, jan)[:3] == (1, 1, 100.0)
    assert value("grassroots_visit_rate", tree.county, feb)[:3] == (0, 1, 0.0)
    moved.delete()
    assert compute(get("grassroots_visit_rate"), tree.county, feb).status == "no_data"
    assert sum(EncounterMonth.objects.values_list("encounter_count", flat=True)) == 1
