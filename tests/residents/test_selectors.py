"""Reads of the registry: key populations (derived from the birth date, FD-07/FD-08, and
declared), what a search query is taken for, per-population counts within a scope."""

import datetime as dt

import pytest

from countycare.organizations import policy
from countycare.organizations.models import PolicyValue
from countycare.residents import selectors
from countycare.residents.models import Resident
from tests.factories import KeyPopulationTagFactory, ResidentFactory

pytestmark = pytest.mark.django_db

ON = dt.date(2025, 6, 15)


def keys(resident, on=ON):
    return [kp["key"] for kp in selectors.key_populations_of(resident, on)]


def matching(key, on=ON):
    return set(Resident.objects.filter(selectors.key_population_q(key, on)))


@pytest.mark.parametrize(
    ("birth", "expected"),
    [
        (dt.date(1960, 6, 15), ["elderly"]),  # 65 today (FD-08)
        (dt.date(1960, 6, 16), []),  # 65 tomorrow
        (dt.date(2018, 6, 16), ["child"]),  # 6 until tomorrow (FD-07: 0–6 inclusive)
        (dt.date(2018, 6, 15), []),  # 7 today
        (dt.date(2025, 6, 15), ["child"]),  # born today
        (dt.date(1990, 1, 1), []),
    ],
)
def test_derived_populations_at_the_age_boundaries(tree, birth, expected):
    resident = ResidentFactory(home_village=tree.village_a1, birth_date=birth)
    assert keys(resident) == expected
    # The query used by list filters and counts agrees with the per-resident answer.
    for key in ("elderly", "child"):
        assert (resident in matching(key)) == (key in expected), key


def test_leap_day_birthdays(tree):
    resident = ResidentFactory(home_village=tree.village_a1, birth_date=dt.date(1960, 2, 29))
    assert keys(resident, dt.date(2025, 2, 28)) == []
    assert keys(resident, dt.date(2025, 3, 1)) == ["elderly"]
    assert resident in matching("elderly", dt.date(2025, 3, 1))


def test_declared_tags_count_while_current(tree):
    resident = ResidentFactory(home_village=tree.village_a1, birth_date=dt.date(1980, 1, 1))
    KeyPopulationTagFactory(resident=resident, tag="hypertension", recorded_on=dt.date(2020, 1, 1))
    KeyPopulationTagFactory(
        resident=resident,
        tag="pregnant",
        recorded_on=dt.date(2024, 9, 1),
        ended_on=dt.date(2025, 5, 30),
    )
    KeyPopulationTagFactory(resident=resident, tag="disabled", recorded_on=dt.date(2025, 7, 1))
    assert keys(resident) == ["hypertension"]
    assert keys(resident, dt.date(2025, 5, 1)) == ["hypertension", "pregnant"]
    assert resident in matching("hypertension")
    assert resident not in matching("pregnant")
    assert resident not in matching("disabled")
    declared = selectors.key_populations_of(resident, ON)[0]
    assert declared["derived"] is False
    assert declared["tag"].tag == "hypertension"


def test_the_elderly_age_is_a_policy_number(tree):
    resident = ResidentFactory(home_village=tree.village_a1, birth_date=dt.date(1963, 1, 1))
    assert keys(resident) == []
    PolicyValue.objects.create(community=tree.community, key=policy.ELDERLY_AGE, value=60)
    assert keys(resident) == ["elderly"]
    assert resident in matching("elderly")


@pytest.mark.parametrize(
    ("raw", "kind", "text"),
    [
        ("15062719800517001x", "national_id", "15062719800517001X"),
        ("１５０６２７１９８００５１７００１Ｘ", "national_id", "15062719800517001X"),
        ("139 1234", "phone", "1391234"),
        ("Zhang San", "pinyin", "zhangsan"),
        ("zs", "pinyin", "zs"),
        (" 张三 ", "name", "张三"),
        ("", "empty", ""),
    ],
)
def test_what_a_query_is_taken_for(raw, kind, text):
    query = selectors.classify(raw)
    assert (query.kind, query.text) == (kind, text)


def test_search_by_initials_and_full_pinyin_prefix(village_doctor, tree):
    zhang = ResidentFactory(home_village=tree.village_a1, name="张三丰")
    li = ResidentFactory(home_village=tree.village_a1, name="李四")
    assert list(selectors.search_residents(village_doctor, "zsf")) == [zhang]
    assert list(selectors.search_residents(village_doctor, "zhangs")) == [zhang]
    assert list(selectors.search_residents(village_doctor, "LI")) == [li]
    assert list(selectors.search_residents(village_doctor, "张三")) == [zhang]
    assert list(selectors.search_residents(village_doctor, "三")) == []  # prefix, not infix


def test_search_is_limited_unless_told_otherwise(village_doctor, tree):
    ResidentFactory.create_batch(5, home_village=tree.village_a1, name="王五")
    assert len(selectors.search_residents(village_doctor, "王", limit=3)) == 3
    assert selectors.search_residents(village_doctor, "王", limit=None).count() == 5


def test_counts_stay_within_the_scope(village_doctor, residents):
    KeyPopulationTagFactory(resident=residents["a1"], tag="hypertension")
    KeyPopulationTagFactory(resident=residents["b1"], tag="hypertension")
    counts = selectors.key_population_counts(village_doctor)
    assert counts["total"] == 1
    assert counts["hypertension"] == 1
    assert counts["type2_diabetes"] == 0
