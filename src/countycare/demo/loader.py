"""The demo county generator, stage two: :func:`load` writes a
:class:`~countycare.demo.plan.DemoPlan` into the database — institutions one by one (the tree
keeps its materialised path in ``Institution.save()``), everything else with bulk inserts so
300,000 residents take minutes, not hours."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from countycare.core import audit, crypto
from countycare.core import national_id as nid
from countycare.demo.institutions import COMMUNITY_CODE
from countycare.demo.plan import DemoPlan, ResidentPlan
from countycare.demo.staff import DEMO_LOGINS, DEMO_PASSWORD
from countycare.organizations.models import Institution, RoleAssignment, Staff
from countycare.organizations.roles import Role
from countycare.residents import pinyin
from countycare.residents.models import Household, KeyPopulationTag, Resident

BATCH_SIZE = 5000
Progress = Callable[[str], None]
T = TypeVar("T")


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def is_loaded() -> bool:
    """Whether the database already holds the demo county."""
    return Institution.objects.filter(code=COMMUNITY_CODE).exists()


def reset() -> None:
    """Empty every table (the demo county and anything added to it) for a fresh seed."""
    from countycare.core import seeds

    call_command("flush", interactive=False, verbosity=0)
    # flush also empties what data migrations wrote (critical-value rules, reference ranges).
    seeds.restore()


@dataclass(frozen=True)
class LoadSummary:
    institutions: int
    staff: int
    households: int
    residents: int
    tags: int
    seconds: float


def load(plan: DemoPlan, *, progress: Progress | None = None) -> LoadSummary:
    """Write the plan in one transaction: an interrupted seed leaves nothing behind (and so is
    never mistaken for a complete demo county by :func:`is_loaded`)."""
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    with transaction.atomic():
        institutions = _load_institutions(plan)
        say(_("%(n)d institutions") % {"n": len(institutions)})
        staff = _load_staff(plan, institutions)
        say(_("%(n)d staff members with their roles") % {"n": staff})
        households = _load_households(plan, institutions)
        say(_("%(n)d households") % {"n": len(households)})
        residents, tags = _load_residents(plan, institutions, households, say)
        audit.log(
            audit.Action.CREATE,
            object_type="demo.county",
            object_id=plan.seed,
            institution=institutions[COMMUNITY_CODE],
            detail={"seed": plan.seed, "residents": residents, "as_of": plan.as_of.isoformat()},
        )
    _analyze()
    return LoadSummary(
        institutions=len(institutions),
        staff=staff,
        households=len(households),
        residents=residents,
        tags=tags,
        seconds=time.perf_counter() - started,
    )


def _analyze() -> None:
    """Refresh the planner's statistics: right after a bulk load they describe empty tables,
    and searches would pick poor plans until autovacuum (PostgreSQL) or never (SQLite)
    catches up."""
    tables = [
        model._meta.db_table for model in (Institution, Household, Resident, KeyPopulationTag)
    ]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def _load_institutions(plan: DemoPlan) -> dict[str, Institution]:
    # One save each, parents first: Institution.save() maintains the materialised path that
    # scoping relies on (the tree is ~170 nodes, so this costs well under a second).
    by_code: dict[str, Institution] = {}
    for item in plan.institutions:
        institution = Institution(
            code=item.code,
            name=item.name,
            short_name=item.short_name,
            area_name=item.area_name,
            type=item.type,
            parent=by_code[item.parent_code] if item.parent_code else None,
            is_lead_hospital=item.is_lead_hospital,
            is_central=item.is_central,
            is_sub_center=item.is_sub_center,
            capability_standard=item.capability_standard,
            latitude=item.latitude,
            longitude=item.longitude,
            served_population=item.served_population,
            agricultural_population=item.agricultural_population,
            address=item.address,
            phone=item.phone,
        )
        institution.save()
        by_code[item.code] = institution
    return by_code


def _load_staff(plan: DemoPlan, institutions: dict[str, Institution]) -> int:
    # Hashing is deliberately slow (~0.3 s); every demo account shares one hash of the
    # published demo password instead of paying that 500 times.
    password = make_password(DEMO_PASSWORD)
    people = [
        Staff(
            username=item.username,
            password=password,
            full_name=item.full_name,
            phone=item.phone,
            qualification=item.qualification,
            practice_category=item.practice_category,
            title_level=item.title_level,
            is_registered_gp=item.is_registered_gp,
            employer=institutions[item.institution_code],
            is_staff=item.is_staff or item.is_superuser,
            is_superuser=item.is_superuser,
        )
        for item in plan.staff
    ]
    Staff.objects.bulk_create(people, batch_size=BATCH_SIZE)
    if any(person.pk is None for person in people):  # a backend that returns no ids
        ids = dict(
            Staff.objects.filter(username__in=[p.username for p in people]).values_list(
                "username", "pk"
            )
        )
        for person in people:
            person.pk = ids[person.username]
    RoleAssignment.objects.bulk_create(
        [
            RoleAssignment(
                staff=person,
                institution=institutions[item.institution_code],
                role=item.role,
                note=item.note,
            )
            for person, item in zip(people, plan.staff, strict=True)
        ],
        batch_size=BATCH_SIZE,
    )
    return len(people)


def _load_households(plan: DemoPlan, institutions: dict[str, Institution]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for batch in _batches(plan.households, BATCH_SIZE):
        rows = [
            Household(
                code=item.code,
                village_id=institutions[item.village_code].pk,
                address=item.address,
            )
            for item in batch
        ]
        Household.objects.bulk_create(rows)
        if any(row.pk is None for row in rows):
            ids.update(
                Household.objects.filter(code__in=[r.code for r in rows]).values_list("code", "pk")
            )
        else:
            ids.update((row.code, row.pk) for row in rows)
    return ids


def _resident(item: ResidentPlan, village_id: int, household_id: int) -> Resident:
    return Resident(
        # The field encrypts on the way in (EncryptedTextField.get_prep_value).
        national_id=item.national_id,
        national_id_hash=crypto.lookup_hash(item.national_id),
        national_id_masked=nid.mask(item.national_id),
        name=item.name,
        name_pinyin=pinyin.full(item.name),
        name_initials=pinyin.initials(item.name),
        sex=item.sex,
        birth_date=item.birth_date,
        ethnicity=item.ethnicity,
        phone=item.phone,
        home_village_id=village_id,
        household_id=household_id,
        relation_to_head=item.relation_to_head,
        address=item.address,
        registered_at=item.registered_at,
    )


def _load_residents(
    plan: DemoPlan,
    institutions: dict[str, Institution],
    households: dict[str, int],
    say: Progress,
) -> tuple[int, int]:
    village_ids = {code: inst.pk for code, inst in institutions.items()}
    residents = tags = 0
    last_report = time.perf_counter()
    for batch in _batches(plan.residents, BATCH_SIZE):
        rows = [
            _resident(item, village_ids[item.village_code], households[item.household_code])
            for item in batch
        ]
        Resident.objects.bulk_create(rows)
        if any(row.pk is None for row in rows):
            hashes = dict(
                Resident.objects.filter(
                    national_id_hash__in=[r.national_id_hash for r in rows]
                ).values_list("national_id_hash", "pk")
            )
            for row in rows:
                row.pk = hashes[row.national_id_hash]
        tag_rows = [
            KeyPopulationTag(
                resident_id=row.pk, tag=tag.tag, recorded_on=tag.recorded_on, source=tag.source
            )
            for row, item in zip(rows, batch, strict=True)
            for tag in item.tags
        ]
        KeyPopulationTag.objects.bulk_create(tag_rows, batch_size=BATCH_SIZE)
        residents += len(rows)
        tags += len(tag_rows)
        if time.perf_counter() - last_report > 5 or residents == len(plan.residents):
            last_report = time.perf_counter()
            say(
                _("%(done)d of %(total)d residents")
                % {"done": residents, "total": len(plan.residents)}
            )
    return residents, tags


# --- The demo logins ---------------------------------------------------------------------

# The glossary's Chinese role names, for the login table until the zh-Hans catalog has them.
_ROLE_ZH = {
    Role.VILLAGE_DOCTOR: "乡村医生",
    Role.TOWNSHIP_DOCTOR: "乡镇卫生院医生",
    Role.NURSE: "护士",
    Role.CENTER_READER: "读片医生",
    Role.SPECIALIST: "专科医生",
    Role.PHARMACIST: "药师",
    Role.PUBLIC_HEALTH_OFFICER: "公共卫生医师",
    Role.INSTITUTION_ADMIN: "机构管理员",
    Role.COMMUNITY_ADMIN: "医管办管理员",
    Role.HEALTH_COMMISSION_VIEWER: "卫健委",
    Role.SYSTEM_ADMIN: "系统管理员",
}


@dataclass(frozen=True)
class LoginRow:
    role: str
    role_zh: str
    role_en: str
    username: str
    password: str
    institution: str
    full_name: str


def login_rows() -> list[LoginRow]:
    """One row per demo login as found in the database (missing accounts are skipped)."""
    rows = []
    holders = {
        (a.staff.username, a.role): a
        for a in RoleAssignment.objects.select_related("staff", "institution").filter(
            staff__username__in=[login.username for login in DEMO_LOGINS]
        )
    }
    for login in DEMO_LOGINS:
        assignment = holders.get((login.username, login.role))
        if assignment is None:
            continue
        role = Role(login.role)
        with translation.override("en"):
            role_en = str(role.label)
        with translation.override("zh-hans"):
            role_zh = str(role.label)
        if role_zh == role_en:
            role_zh = _ROLE_ZH[role]
        institution = assignment.institution.name
        if assignment.note:
            institution = f"{institution} · {assignment.note}"
        rows.append(
            LoginRow(
                role=login.role,
                role_zh=role_zh,
                role_en=role_en,
                username=login.username,
                password=DEMO_PASSWORD,
                institution=institution,
                full_name=assignment.staff.full_name,
            )
        )
    return rows
