"""Contract coverage arithmetic (FD-01/FD-02) against hand-computed cases, including key
populations that overlap (65+ and hypertensive counts once), contracts that ended or began
in the period, the dead and the not yet born, and the indicators reading the same numbers."""

import datetime as dt

import pytest
from django.utils import timezone

from countycare.familydoctor import coverage, selectors
from countycare.familydoctor.models import Contract
from countycare.organizations.models import PolicyValue
from tests.factories import KeyPopulationTagFactory, ResidentFactory

pytestmark = pytest.mark.django_db

YEAR = timezone.localdate().year - 1  # a closed year: the reference day is 31 December
START, END = dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31)


def born(age: int, on: dt.date = END) -> dt.date:
    return dt.date(on.year - age, 6, 1) if age else dt.date(on.year, 1, 15)


def person(village, age, *tags, deceased_on=None, birth_date=None):
    r = ResidentFactory(
        home_village=village, birth_date=birth_date or born(age), deceased_on=deceased_on
    )
    for tag in tags:
        KeyPopulationTagFactory(resident=r, tag=tag, recorded_on=dt.date(YEAR - 3, 1, 1))
    return r


def contract(resident, team, start, end, user, status="active"):
    return Contract.objects.create(
        number=f"T{resident.pk}{start:%y%m%d}", resident=resident, team=team, doctor=user,
        signing_institution=team.institution, fee_total=0, start_on=start, end_on=end,
        planned_end_on=end, status=status, consent_method="paper", consent_file="x.pdf",
        consent_sha256="0" * 64, signed_by=user, signed_at=timezone.now(),
    )  # fmt: skip


@pytest.fixture
def county(tree, team_a, team_b, township_doctor):
    u = township_doctor
    a1, a2, b1, b2 = tree.villages
    year = (START, END)
    # Village A1: 5 residents, 3 contracted; key: r1 (70 and hypertensive: once), r2, r4.
    r1 = person(a1, 70, "hypertension")
    r2 = person(a1, 40, "hypertension")
    r3 = person(a1, 30)
    person(a1, 3)  # r4, a child, not contracted
    person(a1, 50)  # r5
    contract(r1, team_a, *year, u)
    contract(r2, team_a, dt.date(YEAR, 11, 1), dt.date(YEAR + 1, 10, 31), u)  # began in the year
    contract(r3, team_a, dt.date(YEAR - 1, 3, 1), dt.date(YEAR, 2, 28), u, "expired")  # ended in it
    # Village A2: r6 (80) terminated before the year, r7 dead before the reference day,
    # r8 (66) lapsed the year before, r9 contracted but no key population.
    r6 = person(a2, 80)
    contract(r6, team_a, dt.date(YEAR - 1, 1, 1), dt.date(YEAR - 1, 6, 30), u, "terminated")
    r7 = person(a2, 75, "hypertension", deceased_on=dt.date(YEAR, 5, 1))
    contract(r7, team_a, *year, u)
    r8 = person(a2, 66)
    contract(r8, team_a, dt.date(YEAR - 2, 1, 1), dt.date(YEAR - 1, 12, 31), u, "expired")
    r9 = person(a2, 45)
    contract(r9, team_a, *year, u)
    # Village B1: a pregnant woman and a left-behind child of 5 (child and left-behind: once).
    r10 = person(b1, 25, "pregnant")
    r11 = person(b1, 5, "left_behind_child")
    contract(r10, team_b, *year, u)
    contract(r11, team_b, *year, u)
    # Village B2: born after the year (not yet a resident then), and a tag that ended.
    person(b2, 0, birth_date=dt.date(YEAR + 1, 1, 2))
    ended = person(b2, 35)
    KeyPopulationTagFactory(resident=ended, tag="pregnant", recorded_on=dt.date(YEAR - 1, 1, 1),
                            ended_on=dt.date(YEAR, 3, 1))  # fmt: skip
    return tree


def test_per_village_by_hand(county):
    tree = county
    rows = coverage.by_village(coverage.subtree_ids(tree.county), START, END)
    a1, a2, b1, b2 = (rows[v.pk] for v in tree.villages)
    assert (a1.residents, a1.contracted, a1.key, a1.key_contracted) == (5, 3, 3, 2)
    assert a1.rate == 60.0 and a1.key_rate == 66.7
    assert a1.groups["elderly"] == [1, 1]
    assert a1.groups["hypertension"] == [2, 2]
    assert a1.groups["child"] == [1, 0]
    assert (a2.residents, a2.contracted, a2.key, a2.key_contracted) == (3, 1, 2, 0)
    assert a2.groups["hypertension"] == [0, 0]  # the hypertensive resident died in May
    assert (b1.residents, b1.contracted, b1.key, b1.key_contracted) == (2, 2, 2, 2)
    assert b1.groups["child"] == [1, 1] and b1.groups["left_behind_child"] == [1, 1]
    assert b1.groups["pregnant"] == [1, 1]
    assert (b2.residents, b2.key) == (1, 0)  # the baby was not born yet; the pregnancy ended


def test_rolled_up_to_townships_and_the_county(county):
    tree = county
    node = coverage.tree(tree.county, START, END)
    assert (node.counts.residents, node.counts.contracted) == (11, 6)
    assert (node.counts.key, node.counts.key_contracted) == (7, 4)
    assert node.counts.rate == 54.5 and node.counts.key_rate == 57.1
    by_name = {child.institution.pk: child for child in node.children}
    town_a = by_name[tree.township_a.pk]
    assert (town_a.counts.residents, town_a.counts.contracted, town_a.counts.key,
            town_a.counts.key_contracted) == (8, 4, 5, 2)  # fmt: skip
    assert {c.institution.pk for c in town_a.children} == {tree.village_a1.pk, tree.village_a2.pk}
    town_b = by_name[tree.township_b.pk]
    assert (town_b.counts.residents, town_b.counts.contracted) == (3, 2)
    # A township as the root: its villages.
    node_a = coverage.tree(tree.township_a, START, END)
    assert node_a.counts.residents == 8
    assert [c.institution.pk for c in node_a.children] == [tree.village_a1.pk, tree.village_a2.pk]


def test_figures_for_the_indicators(county):
    tree = county
    f = selectors.figures(tree.county, START, END)
    assert (f["residents"], f["contracted"], f["key_residents"], f["key_contracted"]) == (
        11,
        6,
        7,
        4,
    )
    assert f["by_population"]["hypertension"] == {"residents": 2, "contracted": 2}
    assert selectors.figures(tree.village_a1, START, END)["contracted"] == 3


def test_the_indicators_compute_the_same_coverage(county):
    """The indicators' ways (indicators.catalog) read these figures over their own
    denominators; numerator and denominator agree with the hand count."""
    from countycare.indicators.periods import year as year_period
    from countycare.indicators.registry import Ctx
    from countycare.indicators.registry import get as indicator

    tree = county
    for code, expected in (("contract_coverage", (6, 11)),
                           ("key_population_contract_coverage", (4, 7))):  # fmt: skip
        way = indicator(code).ways[0]
        ctx = Ctx(tree.county, year_period(YEAR))
        assert (way.numerator(ctx), way.denominator(ctx)) == expected


def test_one_day_in_the_period_is_enough(county, team_a, township_doctor):
    tree = county
    late = person(tree.village_a1, 33)
    contract(late, team_a, END, END + dt.timedelta(days=364), township_doctor)
    assert coverage.totals(tree.village_a1, START, END).contracted == 4
    assert coverage.totals(tree.village_a1, START, END - dt.timedelta(days=1)).contracted == 3


def test_targets_by_year_from_the_policy(tree):
    assert coverage.target_for("familydoctor_coverage_target", 2024) == 60
    assert coverage.target_for("familydoctor_coverage_target", 2025) == 75
    assert coverage.target_for("familydoctor_coverage_target", 2027) == 75  # the latest year
    assert coverage.target_for("familydoctor_coverage_target", 2020) == 60  # before: the first
    assert coverage.target_for("familydoctor_key_coverage_target", 2026) == 90
    PolicyValue.objects.create(community=tree.community, key="familydoctor_coverage_target",
                               value={"2024": 60, "2025": 75, "2026": 77})  # fmt: skip
    assert coverage.target_for("familydoctor_coverage_target", 2026, tree.community.pk) == 77


def test_previous_year_for_the_rise(county):
    tree = county
    node = coverage.tree(tree.county, START, END, previous=True)
    prev = node.previous
    # The year before: r3 (from March), r6 (to June) and r8 were in force; r10, r11 born? yes.
    assert prev.contracted == 3
