"""Staff of the demo county for every role, sized by the seeds' ratios, and the fixed demo
logins (one per role)."""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass

from countycare.demo import data, names
from countycare.demo.institutions import COMMUNITY_CODE, COUNTY_CODE
from countycare.demo.plan import InstitutionPlan, StaffPlan
from countycare.organizations import policy
from countycare.residents import pinyin


@dataclass(frozen=True)
class StaffingRules:
    """The numbers staffing follows. The first three are policy numbers (their defaults come
    from organizations.policy); the shares shape the demo toward the seeds' targets."""

    village_doctors_per_1000_min: float
    village_doctors_per_1000_max: float
    township_min_gps: int
    # KPI-06: ≥ 45 % of village doctors licensed (assistant) physicians by 2025; the demo
    # county stands just short of it (43 %) so the indicator has something to show.
    village_licensed_share: float = 0.43
    # STD-02: TCM/Mongolian-medicine physicians ≥ 25 % of a township center's physicians.
    township_tcm_share: float = 0.30

    @classmethod
    def from_policy(cls) -> StaffingRules:
        """The county's policy configuration (the declared defaults until it has its own)."""
        return cls(
            village_doctors_per_1000_min=float(policy.value(policy.VILLAGE_DOCTORS_PER_1000_MIN)),
            village_doctors_per_1000_max=float(policy.value(policy.VILLAGE_DOCTORS_PER_1000_MAX)),
            township_min_gps=int(policy.value(policy.TOWNSHIP_MIN_GPS)),
        )

    @classmethod
    def defaults(cls) -> StaffingRules:
        """The declared defaults, without the database (for a pure plan)."""
        registry = policy.REGISTRY
        return cls(
            village_doctors_per_1000_min=registry[policy.VILLAGE_DOCTORS_PER_1000_MIN].default,
            village_doctors_per_1000_max=registry[policy.VILLAGE_DOCTORS_PER_1000_MAX].default,
            township_min_gps=registry[policy.TOWNSHIP_MIN_GPS].default,
        )


def village_doctor_count(agricultural_population: int, per_1000: float) -> int:
    """STD-03: 1–1.5 village doctors per 1,000 agricultural/pastoral residents; every clinic
    has at least one (STD-06: one clinic per administrative village)."""
    return max(1, round(agricultural_population * per_1000 / 1000))


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    institution_code: str
    note: str = ""


DEMO_PASSWORD = "countycare-demo"  # noqa: S105 — the published password of the demo county
ZASAKE = f"{COUNTY_CODE}-T03"  # 札萨克镇中心卫生院
LEAD_HOSPITAL = f"{COUNTY_CODE}-H01"
# The village doctor works at one village of 札萨克镇, so the township doctor at 札萨克镇中心
# 卫生院 sees that village and the village doctor sees only his own.
DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("village_doctor", "village_doctor", f"{ZASAKE}-V001"),
    DemoLogin("township_doctor", "township_doctor", ZASAKE),
    DemoLogin("nurse", "nurse", ZASAKE),
    DemoLogin("center_reader", "center_reader", LEAD_HOSPITAL, "远程心电中心"),
    DemoLogin("specialist", "specialist", LEAD_HOSPITAL, "心血管内科"),
    DemoLogin("pharmacist", "pharmacist", LEAD_HOSPITAL, "处方审核中心"),
    DemoLogin("public_health", "public_health_officer", ZASAKE),
    DemoLogin("institution_admin", "institution_admin", ZASAKE),
    DemoLogin("community_admin", "community_admin", COMMUNITY_CODE),
    DemoLogin("health_commission", "health_commission_viewer", COUNTY_CODE),
    DemoLogin("sysadmin", "system_admin", COUNTY_CODE),
)
ADMIN_ROLES = frozenset({"institution_admin", "community_admin", "system_admin"})


class _Builder:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.staff: list[StaffPlan] = []
        self.phones: set[str] = set()

    def phone(self) -> str:
        while True:
            number = self.rng.choice(data.MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def add(
        self,
        role: str,
        institution: str,
        *,
        female_share: float = 0.45,
        qualification: str = "",
        practice_category: str = "",
        title_level: str = "",
        is_registered_gp: bool = False,
        note: str = "",
    ) -> None:
        rng = self.rng
        sex = "F" if rng.random() < female_share else "M"
        ethnicity = "02" if rng.random() < 0.12 else "01"
        name, _surname = names.person_name(
            rng, sex=sex, birth_year=rng.randrange(1966, 2001), ethnicity=ethnicity
        )
        self.staff.append(
            StaffPlan(
                username="",
                full_name=name,
                role=role,
                institution_code=institution,
                qualification=qualification,
                practice_category=practice_category,
                title_level=title_level,
                is_registered_gp=is_registered_gp,
                phone=self.phone(),
                note=note,
                is_staff=role in ADMIN_ROLES,
            )
        )

    def title(self, weights: tuple[float, float, float, float]) -> str:
        return self.rng.choices(
            ("junior", "intermediate", "associate_senior", "senior"), weights=weights
        )[0]

    def grassroots_center(
        self, code: str, *, doctors: int, nurses: int, public_health: int, rules: StaffingRules
    ) -> None:
        """A township or community health center (STD-02: ≥ 2 registered GPs, TCM/Mongolian
        physicians ≥ 25 % of physicians, ≥ 1 public-health physician)."""
        traditional = math.ceil(doctors * rules.township_tcm_share)
        clinical = doctors - traditional
        gps = min(clinical, max(rules.township_min_gps, round(clinical * 0.4)))
        for i in range(clinical):
            self.add(
                "township_doctor",
                code,
                qualification="licensed_physician"
                if i < gps or self.rng.random() < 0.7
                else "licensed_assistant_physician",
                practice_category="clinical",
                title_level=self.title((45, 40, 15, 0)),
                is_registered_gp=i < gps,
                note="全科医学科" if i < gps else "",
            )
        for i in range(traditional):
            self.add(
                "township_doctor",
                code,
                qualification="licensed_physician",
                practice_category="mongolian_medicine" if i % 2 == 0 else "tcm",
                title_level=self.title((45, 40, 15, 0)),
                note="中医馆（蒙医馆）",
            )
        for _ in range(nurses):
            self.add(
                "nurse",
                code,
                female_share=0.95,
                qualification="nurse",
                practice_category="nursing",
                title_level=self.title((60, 35, 5, 0)),
            )
        for _ in range(public_health):
            self.add(
                "public_health_officer",
                code,
                qualification="public_health_physician",
                practice_category="public_health",
                title_level=self.title((50, 40, 10, 0)),
                note="公共卫生科",
            )
        self.add(
            "pharmacist",
            code,
            qualification="pharmacist",
            practice_category="pharmacy",
            title_level=self.title((60, 35, 5, 0)),
            note="药房",
        )
        self.add(
            "institution_admin",
            code,
            qualification="licensed_physician",
            practice_category="clinical",
            title_level=self.title((0, 40, 50, 10)),
        )


def _village_doctors(
    builder: _Builder, clinics: list[InstitutionPlan], rules: StaffingRules
) -> None:
    rng = builder.rng
    start = len(builder.staff)
    for clinic in clinics:
        per_1000 = rng.uniform(
            rules.village_doctors_per_1000_min, rules.village_doctors_per_1000_max
        )
        for _ in range(village_doctor_count(clinic.agricultural_population, per_1000)):
            # STD-07: most village clinics also offer TCM/Mongolian-medicine services.
            category = rng.choices(("clinical", "tcm", "mongolian_medicine"), (70, 18, 12))[0]
            builder.add(
                "village_doctor",
                clinic.code,
                female_share=0.3,
                qualification="village_doctor_certificate",
                practice_category=category,
                title_level="",
            )
    # KPI-06: an exact share of the village doctors hold a physician licence, spread at random.
    doctors = list(range(start, len(builder.staff)))
    licensed = rng.sample(doctors, round(len(doctors) * rules.village_licensed_share))
    for index in licensed:
        qualification = rng.choices(
            ("licensed_assistant_physician", "licensed_physician"), (65, 35)
        )[0]
        builder.staff[index] = dataclasses.replace(
            builder.staff[index], qualification=qualification, title_level="junior"
        )


def build_staff(
    rng: random.Random, institutions: list[InstitutionPlan], rules: StaffingRules
) -> list[StaffPlan]:
    builder = _Builder(rng)
    b = builder
    for _ in range(2):
        b.add("health_commission_viewer", COUNTY_CODE, note="旗卫健委")
    b.add("system_admin", COUNTY_CODE, note="旗大数据中心")
    for _ in range(3):
        b.add("community_admin", COMMUNITY_CODE, note="医共体管理办公室")

    by_type: dict[str, list[InstitutionPlan]] = {}
    for inst in institutions:
        by_type.setdefault(inst.type, []).append(inst)

    senior = (0, 45, 40, 15)
    # The lead hospital: shared-center readers (SHC-01), specialists, review pharmacists (PH-01).
    b.add(
        "institution_admin",
        LEAD_HOSPITAL,
        qualification="licensed_physician",
        practice_category="clinical",
        title_level="senior",
    )
    for center, count, qualification in data.READING_CENTERS:
        for _ in range(count):
            b.add(
                "center_reader",
                LEAD_HOSPITAL,
                qualification=qualification,
                practice_category="medical_technology"
                if qualification == "technician"
                else "clinical",
                title_level=b.title(senior),
                note=center,
            )
    for specialty in data.SPECIALTIES:
        for _ in range(2):
            b.add(
                "specialist",
                LEAD_HOSPITAL,
                qualification="licensed_physician",
                practice_category="clinical",
                title_level=b.title(senior),
                note=specialty,
            )
    for i in range(6):
        b.add(
            "pharmacist",
            LEAD_HOSPITAL,
            qualification="pharmacist",
            practice_category="pharmacy",
            title_level=b.title((30, 50, 20, 0)),
            note="处方审核中心" if i < 4 else "药剂科",
        )
    for _ in range(8):
        b.add(
            "nurse",
            LEAD_HOSPITAL,
            female_share=0.95,
            qualification="nurse",
            practice_category="nursing",
            title_level=b.title((50, 40, 10, 0)),
        )
    b.add(
        "public_health_officer",
        LEAD_HOSPITAL,
        qualification="public_health_physician",
        practice_category="public_health",
        title_level="intermediate",
        note="公共卫生科",
    )

    member_specialties = {
        "H02": (("mongolian_medicine", "蒙医内科"), ("mongolian_medicine", "蒙医骨伤科"),
                ("mongolian_medicine", "蒙医特色技术科"), ("tcm", "治未病科"),
                ("tcm", "康复科"), ("mongolian_medicine", "蒙医内科")),
        "H03": (("clinical", "妇产科"), ("clinical", "妇产科"), ("clinical", "儿科"),
                ("clinical", "儿科"), ("clinical", "儿童保健科")),
        "H04": (("clinical", "综合内科"), ("clinical", "普外科"), ("clinical", "骨科"),
                ("clinical", "急诊科")),
    }  # fmt: skip
    for key, specialties in member_specialties.items():
        code = f"{COUNTY_CODE}-{key}"
        b.add(
            "institution_admin",
            code,
            qualification="licensed_physician",
            practice_category=specialties[0][0],
            title_level="associate_senior",
        )
        for category, specialty in specialties:
            b.add(
                "specialist",
                code,
                qualification="licensed_physician",
                practice_category=category,
                title_level=b.title(senior),
                note=specialty,
            )
        for _ in range(4):
            b.add(
                "nurse",
                code,
                female_share=0.95,
                qualification="nurse",
                practice_category="nursing",
                title_level=b.title((50, 40, 10, 0)),
            )
        b.add(
            "pharmacist",
            code,
            qualification="pharmacist",
            practice_category="pharmacy",
            title_level=b.title((40, 50, 10, 0)),
            note="药剂科",
        )
    cdc = f"{COUNTY_CODE}-H05"
    b.add(
        "institution_admin",
        cdc,
        qualification="public_health_physician",
        practice_category="public_health",
        title_level="associate_senior",
    )
    for _ in range(6):
        b.add(
            "public_health_officer",
            cdc,
            qualification="public_health_physician",
            practice_category="public_health",
            title_level=b.title((40, 45, 15, 0)),
            note="疾病控制科",
        )

    for center in by_type.get("township_health_center", []):
        size = 12 if center.is_central else (5 if center.code.endswith("T08") else 7)
        size += rng.randrange(-1, 2)
        b.grassroots_center(
            center.code,
            doctors=size,
            nurses=max(3, round(size * 0.8)),
            public_health=2 if center.is_central else 1,
            rules=rules,
        )
    for center in by_type.get("community_health_center", []):
        b.grassroots_center(center.code, doctors=6, nurses=5, public_health=1, rules=rules)
    for station in by_type.get("community_health_station", []):
        b.add(
            "township_doctor",
            station.code,
            qualification="licensed_physician",
            practice_category="clinical",
            title_level="intermediate",
            is_registered_gp=True,
            note="全科医学科",
        )
        b.add(
            "township_doctor",
            station.code,
            qualification="licensed_physician",
            practice_category="tcm",
            title_level="junior",
        )
        b.add(
            "nurse",
            station.code,
            female_share=0.95,
            qualification="nurse",
            practice_category="nursing",
            title_level="junior",
        )

    _village_doctors(b, by_type.get("village_clinic", []), rules)
    return _usernames(_designate_demo_logins(b.staff))


def _designate_demo_logins(staff: list[StaffPlan]) -> list[StaffPlan]:
    """The first generated person holding each demo role at its institution becomes the demo
    login for that role (so the demo logins are ordinary members of the county's staff)."""
    out = list(staff)
    for login in DEMO_LOGINS:
        for index, person in enumerate(out):
            if (
                not person.is_demo_login
                and person.role == login.role
                and person.institution_code == login.institution_code
                and (not login.note or person.note == login.note)
            ):
                out[index] = dataclasses.replace(
                    person,
                    username=login.username,
                    is_demo_login=True,
                    is_superuser=login.role == "system_admin",
                )
                break
        else:  # pragma: no cover — the tree above always has a holder
            raise LookupError(f"no staff member for demo login {login.username}")
    return out


def _usernames(staff: list[StaffPlan]) -> list[StaffPlan]:
    """Deterministic usernames from the pinyin of the name: zhangwei, zhangwei2, …"""
    taken = {person.username for person in staff if person.username}
    seen: dict[str, int] = {}
    out = []
    for person in staff:
        if not person.username:
            base = pinyin.full(person.full_name) or "staff"
            count = seen.get(base, 0)
            while True:
                count += 1
                candidate = base if count == 1 else f"{base}{count}"
                if candidate not in taken:
                    break
            seen[base] = count
            taken.add(candidate)
            person = dataclasses.replace(person, username=candidate)
        out.append(person)
    return out
