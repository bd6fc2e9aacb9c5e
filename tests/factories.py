"""factory_boy factories for the foundation: institutions (and a small tree), staff with role
assignments, residents with valid national IDs, key-population tags."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import factory
from django.utils import timezone

from countycare.core import crypto
from countycare.core import national_id as nid
from countycare.core.scoping import forget
from countycare.organizations.models import Institution, InstitutionType, RoleAssignment, Staff
from countycare.residents import pinyin
from countycare.residents.models import KeyPopulationTag, Resident

PASSWORD = "correct-horse-battery-staple"
DIVISION = "150627"  # 伊金霍洛旗

_sequence = itertools.count(1)


def national_id(
    birth_date: dt.date = dt.date(1980, 5, 17), sex: str = "M", division: str = DIVISION
) -> str:
    """A valid, unique-per-call national ID with the given birth date and sex."""
    # The 17th digit is odd for men, even for women; 499 distinct numbers per sex before
    # the sequence repeats (tests roll back, so repeats across tests do not collide).
    k = next(_sequence) % 499
    return nid.build(division, birth_date, 2 * k + (1 if sex == "M" else 2))


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Institution

    code = factory.Sequence(lambda n: f"INST{n:05d}")
    name = factory.Sequence(lambda n: f"机构{n}")
    type = InstitutionType.VILLAGE_CLINIC
    parent = None


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Staff
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    full_name = factory.Sequence(lambda n: f"医生{n}")
    password = factory.django.Password(PASSWORD)
    is_active = True


def with_role(
    user: Staff,
    role: str,
    institution: Institution,
    *,
    valid_from: dt.date = dt.date(2000, 1, 1),
    valid_until: dt.date | None = None,
) -> RoleAssignment:
    """Give ``user`` a role at ``institution`` and drop the user's cached scope/perms."""
    assignment = RoleAssignment.objects.create(
        staff=user,
        role=role,
        institution=institution,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    forget(user)
    return assignment


class ResidentFactory(factory.django.DjangoModelFactory):
    """A resident written straight to the table (fast, no audit entry); the hash, mask and
    pinyin are filled from the name and national ID as the service does."""

    class Meta:
        model = Resident
        exclude = ("nid_number",)

    name = factory.Sequence(lambda n: f"王{'一二三四五六七八九十'[n % 10]}{n}")
    sex = "M"
    birth_date = dt.date(1980, 5, 17)
    home_village = factory.SubFactory(InstitutionFactory)
    nid_number = factory.LazyAttribute(lambda o: national_id(o.birth_date, o.sex))
    national_id = factory.LazyAttribute(lambda o: o.nid_number)
    national_id_hash = factory.LazyAttribute(lambda o: crypto.lookup_hash(o.nid_number))
    national_id_masked = factory.LazyAttribute(lambda o: nid.mask(o.nid_number))
    name_pinyin = factory.LazyAttribute(lambda o: pinyin.full(o.name))
    name_initials = factory.LazyAttribute(lambda o: pinyin.initials(o.name))
    phone = factory.Sequence(lambda n: f"139{n:08d}")


class KeyPopulationTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeyPopulationTag

    resident = factory.SubFactory(ResidentFactory)
    tag = "hypertension"
    recorded_on = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=30))
    source = "screening"


@dataclass
class Tree:
    """county → medical community → lead hospital; township A and B (members of the
    community), each with two village clinics."""

    county: Institution
    community: Institution
    lead_hospital: Institution
    township_a: Institution
    township_b: Institution
    village_a1: Institution
    village_a2: Institution
    village_b1: Institution
    village_b2: Institution

    @property
    def villages(self) -> list[Institution]:
        return [self.village_a1, self.village_a2, self.village_b1, self.village_b2]


def build_tree() -> Tree:
    T = InstitutionType
    county = InstitutionFactory(code="150627", name="伊金霍洛旗", type=T.COUNTY)
    community = InstitutionFactory(
        code="MC01", name="伊金霍洛旗医共体", type=T.MEDICAL_COMMUNITY, parent=county
    )
    lead = InstitutionFactory(
        code="H01",
        name="伊金霍洛旗人民医院",
        type=T.GENERAL_HOSPITAL,
        parent=community,
        is_lead_hospital=True,
    )
    town_a = InstitutionFactory(
        code="TA", name="札萨克镇卫生院", type=T.TOWNSHIP_HEALTH_CENTER, parent=community
    )
    town_b = InstitutionFactory(
        code="TB", name="红庆河镇卫生院", type=T.TOWNSHIP_HEALTH_CENTER, parent=community
    )
    return Tree(
        county=county,
        community=community,
        lead_hospital=lead,
        township_a=town_a,
        township_b=town_b,
        village_a1=InstitutionFactory(code="VA1", name="甲一村卫生室", parent=town_a),
        village_a2=InstitutionFactory(code="VA2", name="甲二村卫生室", parent=town_a),
        village_b1=InstitutionFactory(code="VB1", name="乙一村卫生室", parent=town_b),
        village_b2=InstitutionFactory(code="VB2", name="乙二村卫生室", parent=town_b),
    )


@dataclass(frozen=True)
class Cast:
    """One member of the standard cast of users: the role, where it is held (an attribute of
    :class:`Tree`, or None for the superuser) and which villages' residents it may see."""

    role: str | None
    at: str | None
    sees: frozenset[str]


ALL_VILLAGES = frozenset({"a1", "a2", "b1", "b2"})
NO_VILLAGES: frozenset[str] = frozenset()

# The expectations of the access matrix (architecture.md, "Scoping"): the subtree of the
# institutions where a role that sees records is held; county-wide roles and the superuser
# see all; roles without record access (aggregates, master data) see no rows.
CAST: dict[str, Cast] = {
    "village_doctor": Cast("village_doctor", "village_a1", frozenset({"a1"})),
    "village_doctor_b1": Cast("village_doctor", "village_b1", frozenset({"b1"})),
    "township_doctor": Cast("township_doctor", "township_a", frozenset({"a1", "a2"})),
    "center_reader": Cast("center_reader", "lead_hospital", NO_VILLAGES),
    "specialist": Cast("specialist", "lead_hospital", NO_VILLAGES),
    "pharmacist": Cast("pharmacist", "lead_hospital", NO_VILLAGES),
    "public_health_officer": Cast("public_health_officer", "township_b", frozenset({"b1", "b2"})),
    "institution_admin": Cast("institution_admin", "township_a", frozenset({"a1", "a2"})),
    "community_admin": Cast("community_admin", "community", ALL_VILLAGES),
    "health_commission_viewer": Cast("health_commission_viewer", "county", NO_VILLAGES),
    "superuser": Cast(None, None, ALL_VILLAGES),
}


def make_user(key: str, tree: Tree) -> Staff:
    """The cast member ``key`` (username = key), with its role at its institution."""
    cast = CAST[key]
    if cast.role is None:
        return StaffFactory(username=key, is_superuser=True, is_staff=True)
    institution = getattr(tree, cast.at)
    user = StaffFactory(username=key, employer=institution)
    with_role(user, cast.role, institution)
    return user
