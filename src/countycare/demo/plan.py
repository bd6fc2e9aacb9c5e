"""The demo county as plain data: what :func:`countycare.demo.generator.build_plan` produces
and :func:`countycare.demo.loader.load` writes. No database here, so determinism can be
tested on the plan itself (equal seeds give equal plans)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class InstitutionPlan:
    code: str
    name: str
    type: str
    parent_code: str | None
    short_name: str = ""
    area_name: str = ""
    is_lead_hospital: bool = False
    is_central: bool = False
    is_sub_center: bool = False
    capability_standard: str = ""
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    served_population: int = 0
    agricultural_population: int = 0
    address: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class StaffPlan:
    username: str
    full_name: str
    role: str
    institution_code: str  # where the role is held (and the employer)
    qualification: str = ""
    practice_category: str = ""
    title_level: str = ""
    is_registered_gp: bool = False
    phone: str = ""
    note: str = ""  # department or shared center, kept on the role assignment
    is_staff: bool = False
    is_superuser: bool = False
    is_demo_login: bool = False


@dataclass(frozen=True, slots=True)
class TagPlan:
    tag: str
    recorded_on: dt.date
    source: str


@dataclass(frozen=True, slots=True)
class HouseholdPlan:
    code: str
    village_code: str
    address: str


@dataclass(frozen=True, slots=True)
class ResidentPlan:
    national_id: str
    name: str
    sex: str
    birth_date: dt.date
    ethnicity: str
    phone: str
    village_code: str
    household_code: str
    relation_to_head: str
    address: str
    registered_at: dt.datetime
    tags: tuple[TagPlan, ...] = ()


@dataclass(frozen=True)
class DemoPlan:
    seed: int
    as_of: dt.date
    institutions: list[InstitutionPlan]  # parents before children
    staff: list[StaffPlan]
    households: list[HouseholdPlan]
    residents: list[ResidentPlan]

    def village_clinics(self) -> list[InstitutionPlan]:
        return [i for i in self.institutions if i.type == "village_clinic"]

    def demo_logins(self) -> list[StaffPlan]:
        return [s for s in self.staff if s.is_demo_login]
