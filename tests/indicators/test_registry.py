"""Each indicator against a hand-computed small dataset (issue 9; KPI-01, KPI-02, KPI-04,
KPI-05, KPI-06, WH-06, SHC-03, STD-01), with the edge cases: empty denominators, no data
versus zero, residents moving villages mid-year, institutions changing level."""

from __future__ import annotations

import datetime as dt

import pytest

from countycare.indicators import periods
from countycare.indicators.compute import compute
from countycare.indicators.registry import REGISTRY, all_indicators
from countycare.organizations.models import PolicyValue
from countycare.telemed.models import Visit
from tests.factories import KeyPopulationTagFactory, ResidentFactory, StaffFactory
from tests.indicators.conftest import YEAR, aware

pytestmark = pytest.mark.django_db
Y = periods.year(YEAR)


def ind(code):
    all_indicators()
    return REGISTRY[code]


def test_every_indicator_is_declared_once_with_its_requirement():
    """The registry: code, both names, requirement ID, unit, at least one way."""
    codes = [i.code for i in all_indicators()]
    assert len(codes) == len(set(codes)) >= 20
    for i in all_indicators():
        assert i.zh and i.en and i.requirement and i.unit and i.ways


def test_visit_rates_from_imported_statistics(tree, import_rows):
    """KPI-01: in-county 900+100 (outpatient+inpatient) of 1000+250 out-of-county → 80 %;
    grassroots visits (townships and villages) 600 of 1000 → 60 % (target 65 %: not met)."""
    import_rows([
        ("H01", f"{YEAR}-03", "outpatient_visits", 300),
        ("H01", f"{YEAR}-03", "inpatient_admissions", 100),
        ("TA", f"{YEAR}-03", "outpatient_visits", 400),
        ("VA1", f"{YEAR}-04", "outpatient_visits", 200),
        ("150627", f"{YEAR}-05", "out_of_county_visits", 250),
        ("TA", f"{YEAR}-03", "tcm_visits", 210),
    ])  # fmt: skip
    county = tree.county
    rate = compute(ind("in_county_visit_rate"), county, Y)
    assert (rate.numerator, rate.denominator, rate.value) == (1000, 1250, 80.0)
    assert rate.target == 90 and rate.met is False
    grassroots = compute(ind("grassroots_visit_rate"), county, Y)
    assert (grassroots.numerator, grassroots.denominator, grassroots.value) == (600, 1000, 60.0)
    assert grassroots.met is False
    # KPI-04: TCM 210 of the grassroots' 600 outpatient visits = 35 % → met (≥ 35).
    tcm = compute(ind("tcm_share"), county, Y)
    assert (tcm.value, tcm.met) == (35.0, True)
    # A month without figures reads "no data", not 0 %.
    june = compute(ind("in_county_visit_rate"), county, periods.month(YEAR, 6))
    assert (june.status, june.value, june.met) == ("no_data", None, None)


def test_subtree_and_levels(tree, import_rows):
    """Township A's own figures; a village clinic is not a level the rate applies to."""
    import_rows([
        ("TA", f"{YEAR}-01", "outpatient_visits", 90),
        ("VA1", f"{YEAR}-01", "outpatient_visits", 10),
        ("TB", f"{YEAR}-01", "outpatient_visits", 500),
        ("TA", f"{YEAR}-01", "out_of_county_visits", 25),
    ])  # fmt: skip
    a = compute(ind("in_county_visit_rate"), tree.township_a, Y)
    assert (a.numerator, a.denominator, a.value) == (100, 125, 80.0)
    village = compute(ind("in_county_visit_rate"), tree.village_a1, Y)
    assert (village.status, village.value, village.target, village.met) == (
        "not_applicable",
        None,
        None,
        None,
    )


def test_target_follows_the_year_and_the_county_policy(tree):
    """FD-02: coverage target 60 % in 2024, 75 % from 2025; a county overrides it."""
    coverage = ind("contract_coverage")
    assert coverage.target_for(2024) == (60.0, 2024)
    assert coverage.target_for(2026) == (75.0, 2025)
    assert coverage.target_for(2020) == (60.0, 2024)
    PolicyValue.objects.create(
        community=tree.community, key=coverage.policy_key, value={"2024": 65, "2025": 80}
    )
    assert coverage.target_for(2025, tree.community.pk) == (80.0, 2025)


def test_pending_source_reads_pending_not_zero(tree, residents):
    """A way whose app does not yet expose its figures is pending: no value, never 0 %; a
    second way with data is used instead."""
    from dataclasses import replace

    from countycare.indicators.registry import Source, Way
    from countycare.indicators.sources import residents as resident_count

    waiting = Source("familydoctor", "等待", "waiting", pending=True)
    only_pending = replace(ind("contract_coverage"), ways=(
        Way((waiting,), numerator=lambda ctx: 1 / 0, denominator=resident_count()),
    ))  # fmt: skip
    out = compute(only_pending, tree.county, Y)
    assert (out.status, out.value, out.met, out.numerator) == ("pending", None, None, None)
    registry = Source("residents", "居民", "residents")
    fallback = replace(only_pending, ways=(
        *only_pending.ways, Way((registry,), numerator=lambda ctx: 3, denominator=resident_count()),
    ))  # fmt: skip
    out = compute(fallback, tree.county, Y)
    assert (out.status, out.way, out.numerator, out.denominator, out.value) == ("ok", 1, 3, 4, 75.0)


def test_gps_per_10000_and_empty_denominator(tree):
    """KPI-05: 2 registered GPs for 4,000 residents = 5 per 10,000 (target 4: met). A
    subtree with no residents: the division is never shown as a number."""
    for _ in range(2):
        StaffFactory(employer=tree.township_a, is_registered_gp=True)
    StaffFactory(employer=tree.township_a, is_registered_gp=False)
    ResidentFactory.create_batch(4, home_village=tree.village_a1)
    gp = ind("gps_per_10000")
    # Scale the population without 4,000 rows: 4 residents, 2 GPs → 5,000 per 10,000.
    out = compute(gp, tree.township_a, Y)
    assert (out.numerator, out.denominator, out.value) == (2, 4, 5000.0)
    assert out.target == 4 and out.target_year == 2025 and out.met is True
    empty = compute(gp, tree.township_b, Y)
    assert (empty.denominator, empty.value, empty.met, empty.status) == (0, None, None, "no_data")


def test_residents_counted_at_the_end_of_the_period(tree):
    """Born after the period, or dead before its end: not in its population. A resident
    who moved from A1 to B1 during the year counts once, in B1."""
    ResidentFactory(home_village=tree.village_a1)
    ResidentFactory(home_village=tree.village_a1, birth_date=dt.date(YEAR + 1, 2, 1))
    ResidentFactory(home_village=tree.village_a1, deceased_on=dt.date(YEAR, 6, 1))
    moved = ResidentFactory(home_village=tree.village_a1)
    moved.home_village = tree.village_b1
    moved.save(update_fields=["home_village"])
    from countycare.indicators.registry import Ctx
    from countycare.indicators.sources import residents

    count = residents()
    assert count(Ctx(tree.township_a, Y)) == 1
    assert count(Ctx(tree.township_b, Y)) == 1
    assert count(Ctx(tree.county, Y)) == 2


def test_key_population_counted_once(tree):
    """A resident both 65+ and hypertensive is one key-population resident; a 40-year-old
    without tags is none; a child of 6 is one; a tag ended before the year's end is none."""
    from countycare.indicators.registry import Ctx
    from countycare.indicators.sources import key_population_residents

    end = dt.date(YEAR, 12, 31)
    old = ResidentFactory(home_village=tree.village_a1, birth_date=dt.date(YEAR - 70, 1, 1))
    KeyPopulationTagFactory(resident=old, tag="hypertension", recorded_on=dt.date(YEAR, 1, 1))
    ResidentFactory(home_village=tree.village_a1, birth_date=dt.date(YEAR - 40, 1, 1))
    ResidentFactory(home_village=tree.village_a1, birth_date=end.replace(year=YEAR - 6))
    ended = ResidentFactory(home_village=tree.village_a1, birth_date=dt.date(YEAR - 30, 1, 1))
    KeyPopulationTagFactory(
        resident=ended,
        tag="pregnant",
        recorded_on=dt.date(YEAR, 1, 1),
        ended_on=dt.date(YEAR, 9, 1),
    )
    assert key_population_residents()(Ctx(tree.county, Y)) == 2


def test_qualified_village_doctors(tree, village_doctors):
    """KPI-06: 2 of 4 village doctors licensed = 50 % (≥ 45 %: met); township A 2 of 3."""
    out = compute(ind("qualified_village_doctor_share"), tree.county, Y)
    assert (out.numerator, out.denominator, out.value, out.met) == (2, 4, 50.0, True)
    a = compute(ind("qualified_village_doctor_share"), tree.township_a, Y)
    assert (a.numerator, a.denominator) == (2, 3)
    # A role that ended before the year does not count in it.
    later = compute(ind("qualified_village_doctor_share"), tree.county, periods.year(2019))
    assert later.status == "no_data"


def test_walking_hospital_visits_count_and_no_data(tree, residents, village_doctor):
    """WH-06: visits of the period in the subtree; none at all in the county is "no data"."""
    out = compute(ind("wh_visits"), tree.county, Y)
    assert out.status == "no_data" and out.value is None
    for day, resident in ((dt.date(YEAR, 3, 1), "a1"), (dt.date(YEAR, 12, 31), "a1"),
                          (dt.date(YEAR + 1, 1, 1), "a1"), (dt.date(YEAR, 5, 1), "b1")):  # fmt: skip
        inst = residents[resident].home_village
        Visit.objects.create(
            resident=residents[resident], institution=inst, performed_by=village_doctor,
            visited_at=aware(day, 23),
        )  # fmt: skip
    assert compute(ind("wh_visits"), tree.county, Y).value == 3
    assert compute(ind("wh_visits"), tree.township_a, Y).value == 2
    # Township B had none in March: a real zero, the county had visits that month.
    assert compute(ind("wh_visits"), tree.township_b, periods.month(YEAR, 3)).value == 0
    # A month before anyone recorded a visit: not available, not 0.
    before = compute(ind("wh_visits"), tree.county, periods.month(YEAR, 2))
    assert (before.status, before.value) == ("no_data", None)
