"""Residents of the demo county, grouped into households: ages from a census-like pyramid
(65+ ≈ 13 %, 0–6 ≈ 7 %), the banner's ethnicity mix, valid unique national IDs whose birth
date and sex agree with the resident, and declared key-population tags with age-dependent
prevalence (hypertension ≈ 25 % and type-2 diabetes ≈ 10 % of adults).

Written for speed as much as for realism: 300,000 residents are planned in seconds."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from countycare.core import national_id as nid
from countycare.demo import data, names
from countycare.demo.institutions import residence_weights
from countycare.demo.names import Weighted
from countycare.demo.plan import HouseholdPlan, InstitutionPlan, ResidentPlan, TagPlan

CHINA = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has kept UTC+8 since 1991
REGISTRY_OPENED = dt.date(2012, 1, 1)  # residents' records were created from here on
YEAR = 365.2425

_DIVISIONS = Weighted(data.DIVISIONS)
# Pastoral villages (嘎查) have more Mongol families than farming villages (村) and town
# communities; overall ≈ 13 % Mongol (data.ETHNICITY_WEIGHTS).
_ETHNICITY = {
    "gacha": Weighted([(c, w * (1.4 if c == "02" else 1.0)) for c, w in data.ETHNICITY_WEIGHTS]),
    "village": Weighted([(c, w * (0.45 if c == "02" else 1.0)) for c, w in data.ETHNICITY_WEIGHTS]),
    "urban": Weighted([(c, w * (0.75 if c == "02" else 1.0)) for c, w in data.ETHNICITY_WEIGHTS]),
}

# Household compositions and how common each is (tuned so the age pyramid comes out
# census-like; see tests/demo).
_HOUSEHOLD_TYPES = Weighted(
    [
        ("single", 14),
        ("couple", 25),
        ("nuclear", 39),
        ("three_generations", 11),
        ("left_behind", 4),
        ("single_parent", 7),
    ]
)

# Declared key populations: prevalence by age band (upper bounds exclusive).
_BANDS = (18, 35, 45, 55, 65, 75, 200)
_HYPERTENSION = (0.0, 0.05, 0.12, 0.26, 0.40, 0.52, 0.60)
_DIABETES = (0.0, 0.02, 0.06, 0.12, 0.17, 0.21, 0.20)
_DISABLED = (0.02, 0.035, 0.05, 0.07, 0.09, 0.13, 0.20)
SEVERE_MENTAL_DISORDER = 0.006  # of adults (≈ 0.5 % of all)
TUBERCULOSIS = 0.0006  # of residents 10+ (≈ 0.05 % of all)
PREGNANT = 0.05  # of women 20–40
POVERTY_RETURN = 0.022  # of rural households (all members are monitored)
LEFT_BEHIND = 0.6  # of children under 16 living with grandparents only


def _band(age: int) -> int:
    for index, upper in enumerate(_BANDS):
        if age < upper:
            return index
    return len(_BANDS) - 1


@dataclass(slots=True)
class _Member:
    relation: str
    age: int
    sex: str
    ethnicity: str = ""


def _adult_age(rng: random.Random, low: int, high: int, mode: float) -> int:
    return int(min(max(rng.triangular(low, high, mode), low), high))


def _compose(rng: random.Random, ethnicity: str) -> list[_Member]:
    """One household: who lives together, with ages and sexes."""
    kind = _HOUSEHOLD_TYPES.pick(rng)
    members: list[_Member] = []

    def spouse_of(head: _Member) -> _Member:
        age = max(20, head.age + int(rng.gauss(-2 if head.sex == "M" else 2, 3)))
        return _Member("spouse", age, "F" if head.sex == "M" else "M")

    def children(parent_age: int, count: int, relation: str = "child") -> None:
        age = parent_age - rng.randrange(22, 33)
        for _ in range(count):
            if age < 0:
                break
            members.append(_Member(relation, age, "M" if rng.random() < 0.515 else "F"))
            age -= rng.randrange(1, 7)

    if kind == "single":
        # Young people working away from their parents, and elderly people living alone.
        age = rng.randrange(20, 40) if rng.random() < 0.35 else _adult_age(rng, 45, 95, 72)
        head = _Member("self", age, "M" if rng.random() < 0.5 else "F")
        members.append(head)
    elif kind == "couple":
        head = _Member("self", _adult_age(rng, 22, 92, 60), "M" if rng.random() < 0.85 else "F")
        members += [head, spouse_of(head)]
    elif kind == "nuclear":
        head = _Member("self", _adult_age(rng, 23, 62, 46), "M" if rng.random() < 0.85 else "F")
        members += [head, spouse_of(head)]
        children(min(head.age, members[1].age), rng.choices((1, 2, 3), (55, 40, 5))[0])
    elif kind == "three_generations":
        head = _Member("self", _adult_age(rng, 26, 55, 40), "M" if rng.random() < 0.9 else "F")
        members += [head, spouse_of(head)]
        children(min(head.age, members[1].age), rng.choices((1, 2), (55, 45))[0])
        parent_age = head.age + rng.randrange(24, 33)
        members.append(_Member("parent", parent_age, "F" if rng.random() < 0.6 else "M"))
        if rng.random() < 0.5:
            members.append(_Member("parent", parent_age + rng.randrange(-2, 5), "M"))
            members[-2].sex = "F"
    elif kind == "left_behind":
        # Grandparents raising grandchildren while the parents work in the cities.
        head = _Member("self", _adult_age(rng, 52, 82, 64), "M" if rng.random() < 0.8 else "F")
        members.append(head)
        if rng.random() < 0.75:
            members.append(spouse_of(head))
        count = rng.choices((1, 2, 3), (50, 40, 10))[0]
        for _ in range(count):
            members.append(
                _Member("grandchild", rng.randrange(0, 16), "M" if rng.random() < 0.515 else "F")
            )
    else:  # single_parent
        head = _Member("self", _adult_age(rng, 24, 55, 38), "F" if rng.random() < 0.7 else "M")
        members.append(head)
        children(head.age, rng.choices((1, 2), (65, 35))[0])

    for member in members:
        member.ethnicity = ethnicity
    # Mixed marriages: most spouses of a Han or Mongol head are Han; children of a Mongol
    # parent are usually registered Mongol.
    for member in members:
        if member.relation == "spouse" and rng.random() < 0.15:
            member.ethnicity = "01" if ethnicity != "01" else ("02" if rng.random() < 0.5 else "01")
    if any(m.ethnicity == "02" for m in members if m.relation in ("self", "spouse")):
        for member in members:
            if member.relation in ("child", "grandchild"):
                member.ethnicity = "02"
    return members


class _Identity:
    """Unique national IDs and phone numbers."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = set()

    def national_id(self, division: str, birth: dt.date, sex: str) -> str:
        rng = self.rng
        prefix = f"{division}{birth:%Y%m%d}"
        while True:
            # The 17th digit (last of the sequence) is odd for men, even for women.
            sequence = rng.randrange(0, 500) * 2 + (1 if sex == "M" else 2)
            if sequence > 999:
                continue
            key = f"{prefix}{sequence:03d}"
            if key not in self.used_ids:
                self.used_ids.add(key)
                return key + nid.check_char(key)

    def phone(self) -> str:
        rng = self.rng
        while True:
            number = rng.choice(data.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number


def _days_before(day: dt.date, low: int, high: int, rng: random.Random) -> dt.date:
    return day - dt.timedelta(days=rng.randrange(low, max(high, low + 1)))


def _tags(
    rng: random.Random,
    *,
    age: int,
    sex: str,
    birth: dt.date,
    as_of: dt.date,
    left_behind: bool,
    poverty: bool,
) -> tuple[TagPlan, ...]:
    tags: list[TagPlan] = []
    band = _band(age)
    age_days = (as_of - birth).days
    adult_days = age_days - int(18 * YEAR)

    def add(tag: str, earliest_days_ago: int, latest_days_ago: int = 0) -> None:
        recorded = _days_before(as_of, latest_days_ago, earliest_days_ago, rng)
        recorded = max(recorded, birth)
        tags.append(TagPlan(tag, recorded, rng.choice(data.SOURCES[tag])))

    if age >= 18:
        if rng.random() < _HYPERTENSION[band]:
            add("hypertension", min(3650, adult_days))
        if rng.random() < _DIABETES[band]:
            add("type2_diabetes", min(3650, adult_days))
        if rng.random() < SEVERE_MENTAL_DISORDER:
            add("severe_mental_disorder", min(5000, adult_days))
    if age >= 10 and rng.random() < TUBERCULOSIS:
        add("tuberculosis", 180)
    if rng.random() < _DISABLED[band]:
        add("disabled", min(5500, age_days))
    if sex == "F" and 20 <= age <= 40 and rng.random() < PREGNANT:
        add("pregnant", 240, 7)
    if poverty:
        add("poverty_return_monitoring", min(1200, age_days))
    if left_behind and rng.random() < LEFT_BEHIND:
        add("left_behind_child", min(1000, age_days))
    return tuple(tags)


def _allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder, deterministic)."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _address(rng: random.Random, place: InstitutionPlan, town: str) -> str:
    if place.type == "village_clinic":
        kind = "" if place.area_name.endswith(("嘎查", "村")) else "村"
        return f"{town}{place.area_name}{kind}{rng.randrange(1, 9)}社{rng.randrange(1, 120)}号"
    return (
        f"阿勒腾席热镇{place.area_name}{rng.randrange(1, 40)}号楼"
        f"{rng.randrange(1, 5)}单元{rng.randrange(1, 19)}{rng.randrange(1, 5):02d}室"
    )


def _person(
    rng: random.Random,
    identity: _Identity,
    member: _Member,
    household: HouseholdPlan,
    *,
    as_of: dt.date,
    family: str,
    left_behind: bool,
    poverty: bool,
) -> tuple[ResidentPlan, str]:
    """One resident of a household, and the surname the name was given ("" if none)."""
    birth = as_of - dt.timedelta(days=int((member.age + rng.random()) * YEAR))
    if member.age < 16 and rng.random() < 0.95:
        division = data.COUNTY_DIVISION  # born in the banner
    else:
        division = _DIVISIONS.pick(rng)
    name, surname = names.person_name(
        rng,
        sex=member.sex,
        birth_year=birth.year,
        ethnicity=member.ethnicity,
        family_surname=family or None,
    )
    phone = ""
    if member.age >= 16 and rng.random() < (0.6 if member.age >= 75 else 0.93):
        phone = identity.phone()
    opened = max(REGISTRY_OPENED, birth)
    registered = opened + dt.timedelta(days=rng.randrange(0, max(1, (as_of - opened).days)))
    registered_at = dt.datetime(
        registered.year,
        registered.month,
        registered.day,
        rng.randrange(8, 18),
        rng.randrange(60),
        rng.randrange(60),
        tzinfo=CHINA,
    ).astimezone(dt.UTC)
    resident = ResidentPlan(
        national_id=identity.national_id(division, birth, member.sex),
        name=name,
        sex=member.sex,
        birth_date=birth,
        ethnicity=member.ethnicity,
        phone=phone,
        village_code=household.village_code,
        household_code=household.code,
        relation_to_head=member.relation,
        address=household.address,
        registered_at=registered_at,
        tags=_tags(
            rng,
            age=member.age,
            sex=member.sex,
            birth=birth,
            as_of=as_of,
            left_behind=left_behind,
            poverty=poverty,
        ),
    )
    return resident, surname


def iter_households(
    rng: random.Random, institutions: list[InstitutionPlan], total: int, as_of: dt.date
) -> Iterator[tuple[HouseholdPlan, list[ResidentPlan]]]:
    """``total`` residents in households, spread over the villages and urban communities in
    proportion to the population each serves."""
    identity = _Identity(rng)
    towns = _town_names(institutions)
    places = residence_weights(institutions)
    counts = _allocate(total, [weight for _place, weight in places])
    for (place, _weight), count in zip(places, counts, strict=True):
        if place.type == "village_clinic":
            setting = "gacha" if place.area_name.endswith("嘎查") else "village"
        else:
            setting = "urban"
        town = towns.get(place.code, "阿勒腾席热镇")
        number = 0
        while count > 0:
            number += 1
            ethnicity = _ETHNICITY[setting].pick(rng)
            members = _compose(rng, ethnicity)[:count]
            count -= len(members)
            household = HouseholdPlan(
                code=f"{place.code}-{number:05d}",
                village_code=place.code,
                address=_address(rng, place, town),
            )
            poverty = setting != "urban" and rng.random() < POVERTY_RETURN
            left_behind_home = all(m.relation != "child" for m in members) and any(
                m.relation == "grandchild" for m in members
            )
            family = ""  # the father's surname, which the children take
            people = []
            for member in members:
                resident, surname = _person(
                    rng,
                    identity,
                    member,
                    household,
                    as_of=as_of,
                    family=family if _takes_family_name(member) else "",
                    left_behind=left_behind_home
                    and member.relation == "grandchild"
                    and member.age < 16,
                    poverty=poverty,
                )
                if surname and (
                    (member.relation == "self" and not family)
                    or (member.relation == "spouse" and member.sex == "M")
                ):
                    family = surname
                people.append(resident)
            yield household, people


def _takes_family_name(member: _Member) -> bool:
    # Children and grandchildren carry the family surname, and so does the head's father.
    return member.relation in ("child", "grandchild") or (
        member.relation == "parent" and member.sex == "M"
    )


def _town_names(institutions: list[InstitutionPlan]) -> dict[str, str]:
    """Village code → town name (from the township center above it)."""
    by_code = {inst.code: inst for inst in institutions}
    out = {}
    for inst in institutions:
        if inst.type == "village_clinic" and inst.parent_code:
            parent = by_code[inst.parent_code]
            out[inst.code] = parent.area_name.split("布连")[0]
    return out
