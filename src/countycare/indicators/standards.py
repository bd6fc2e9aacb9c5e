"""Facility standards (STD-01 … STD-04, 002 §2(一)–(二), §3(一)2): staffing and equipment of
each grassroots institution checked against the policy numbers, as a compliance table of what
each institution lacks. Counts come from grouped aggregate queries (one per kind of count);
only the institutions themselves are iterated."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from countycare.indicators import policy as std_policy
from countycare.organizations import policy
from countycare.organizations.models import (
    EquipmentKind,
    Institution,
    InstitutionType,
    Qualification,
    Staff,
)
from countycare.organizations.roles import Role

T = InstitutionType
CENTERS = (T.TOWNSHIP_HEALTH_CENTER, T.COMMUNITY_HEALTH_CENTER)
ASSESSED = (*CENTERS, T.VILLAGE_CLINIC)
HEALTH_TECHNICIANS = (
    Qualification.LICENSED_PHYSICIAN,
    Qualification.LICENSED_ASSISTANT_PHYSICIAN,
    Qualification.NURSE,
    Qualification.PHARMACIST,
    Qualification.TECHNICIAN,
    Qualification.PUBLIC_HEALTH_PHYSICIAN,
)
PHYSICIANS = (
    Qualification.LICENSED_PHYSICIAN,
    Qualification.LICENSED_ASSISTANT_PHYSICIAN,
    Qualification.PUBLIC_HEALTH_PHYSICIAN,
)
VILLAGE_QUALIFIED = (
    Qualification.VILLAGE_DOCTOR_CERTIFICATE,
    Qualification.LICENSED_ASSISTANT_PHYSICIAN,
    Qualification.LICENSED_PHYSICIAN,
)


# The names of the equipment the standard lists (STD-04), with the msgids of
# organizations.EquipmentKind: this app's catalog carries their Chinese names (the
# organizations app has no catalog of its own for them), for the page and the Excel file.
EQUIPMENT_NAMES = {
    "dr": gettext_lazy("DR (digital radiography)"),
    "x_ray": gettext_lazy("X-ray machine"),
    "color_ultrasound": gettext_lazy("Color ultrasound"),
    "b_ultrasound": gettext_lazy("B-mode ultrasound"),
    "auto_biochemistry_analyzer": gettext_lazy("Automatic biochemistry analyzer"),
    "biochemistry_analyzer": gettext_lazy("Biochemistry analyzer"),
    "ecg_machine": gettext_lazy("ECG machine"),
    "urine_analyzer": gettext_lazy("Urine analyzer"),
    "blood_cell_counter": gettext_lazy("Blood cell counter"),
    "simple_ventilator": gettext_lazy("Simple ventilator"),
    "air_disinfector": gettext_lazy("Air disinfector"),
    "spirometer": gettext_lazy("Spirometer"),
    "ambulance": gettext_lazy("Ambulance"),
    "diagnostic_kit": gettext_lazy("Diagnostic kit (Walking Hospital)"),
    "ultrasound_ai_assist": gettext_lazy("Ultrasound AI assist"),
    "bp_monitor": gettext_lazy("Blood pressure monitor"),
    "glucose_meter": gettext_lazy("Blood glucose meter"),
    "tcm_equipment": gettext_lazy("TCM/Mongolian-medicine treatment equipment"),
}


@dataclass
class Check:
    code: str
    requirement: str
    label: str
    required: str
    actual: str
    ok: bool | None  # None: cannot be assessed (e.g. no population recorded)

    @property
    def is_equipment(self) -> bool:
        return self.code.startswith("equipment:")

    @property
    def lack_text(self) -> str:
        """What is lacking, in a sentence for the table and the Excel file."""
        if self.is_equipment:
            return _("no %(item)s") % {"item": self.label}
        return _("%(what)s: required %(required)s, has %(actual)s") % {
            "what": self.label, "required": self.required, "actual": self.actual}  # fmt: skip


@dataclass
class ComplianceRow:
    institution: Institution
    category: str  # "central", "township", "village_clinic"
    checks: list[Check] = field(default_factory=list)

    @property
    def compliant(self) -> bool:
        return all(c.ok is not False for c in self.checks) and any(
            c.ok is not None for c in self.checks
        )

    @property
    def lacks(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    @property
    def category_label(self) -> str:
        return {
            "central": _("Central township or community health center"),
            "township": _("Township health center"),
            "village_clinic": _("Village clinic"),
        }[self.category]


def category(institution: Institution) -> str | None:
    """Which list of the standard applies: central township centers and community centers
    the longer one (STD-04), other township centers the shorter, village clinics theirs."""
    if institution.type == T.COMMUNITY_HEALTH_CENTER or (
        institution.type == T.TOWNSHIP_HEALTH_CENTER
        and (institution.is_central or institution.is_sub_center)
    ):
        return "central"
    if institution.type == T.TOWNSHIP_HEALTH_CENTER:
        return "township"
    if institution.type == T.VILLAGE_CLINIC:
        return "village_clinic"
    return None


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _staff_counts(ids: list[int]) -> dict[int, dict]:
    physicians = Q(qualification__in=PHYSICIANS)
    rows = (
        Staff.objects.filter(is_active=True, employer_id__in=ids)
        .values("employer_id")
        .annotate(
            staff=Count("pk"),
            technicians=Count("pk", filter=Q(qualification__in=HEALTH_TECHNICIANS)),
            physicians=Count("pk", filter=physicians),
            tcm=Count("pk", filter=physicians & Q(practice_category__in=("tcm", "mongolian_medicine"))),
            gps=Count("pk", filter=Q(is_registered_gp=True)),
            public_health=Count(
                "pk",
                filter=Q(qualification=Qualification.PUBLIC_HEALTH_PHYSICIAN)
                | (physicians & Q(practice_category="public_health")),
            ),
        )
        .order_by()
    )  # fmt: skip
    return {r["employer_id"]: r for r in rows}


def _village_doctor_counts(ids: list[int]) -> dict[int, dict]:
    from countycare.organizations.models import RoleAssignment

    today = timezone.localdate()
    rows = (
        RoleAssignment.objects.active(today)
        .filter(role=Role.VILLAGE_DOCTOR, institution_id__in=ids, staff__is_active=True)
        .values("institution_id")
        .annotate(
            doctors=Count("staff_id", distinct=True),
            qualified=Count(
                "staff_id", distinct=True, filter=Q(staff__qualification__in=VILLAGE_QUALIFIED)
            ),
        )
        .order_by()
    )
    return {r["institution_id"]: r for r in rows}


def _equipment(ids: list[int]) -> dict[int, set[str]]:
    from countycare.organizations.models import Equipment

    rows = (
        Equipment.objects.filter(institution_id__in=ids, in_service=True)
        .values("institution_id", "kind")
        .annotate(n=Sum("quantity"))
        .filter(n__gt=0)
        .order_by()
    )
    out: dict[int, set[str]] = {}
    for r in rows:
        out.setdefault(r["institution_id"], set()).add(r["kind"])
    return out


def institutions_in(root: Institution) -> list[Institution]:
    return list(
        Institution.objects.active()
        .filter(path__startswith=root.path, type__in=ASSESSED)
        .order_by("path")
    )


def compliance(root: Institution) -> list[ComplianceRow]:
    """Every grassroots institution under ``root`` with its checks."""
    community = None
    institutions = institutions_in(root)
    ids = [i.pk for i in institutions]
    staff = _staff_counts(ids)
    doctors = _village_doctor_counts(ids)
    equipment = _equipment(ids)
    tech_min = float(policy.value(std_policy.HEALTH_TECHNICIAN_SHARE_MIN, community))
    tcm_min = float(policy.value(std_policy.TCM_PHYSICIAN_SHARE_MIN, community))
    ph_min = int(policy.value(std_policy.PUBLIC_HEALTH_PHYSICIANS_MIN, community))
    gps_min = int(policy.value(policy.TOWNSHIP_MIN_GPS, community))
    per_min = float(policy.value(policy.VILLAGE_DOCTORS_PER_1000_MIN, community))
    per_max = float(policy.value(policy.VILLAGE_DOCTORS_PER_1000_MAX, community))
    required = policy.value(std_policy.EQUIPMENT_REQUIRED, community) or {}
    kinds = {**dict(EquipmentKind.choices), **EQUIPMENT_NAMES}
    rows = []
    for inst in institutions:
        cat = category(inst)
        row = ComplianceRow(inst, cat)
        if cat in ("central", "township"):
            s = staff.get(inst.pk, {})
            total, tech = s.get("staff", 0), s.get("technicians", 0)
            phys, tcm = s.get("physicians", 0), s.get("tcm", 0)
            gps, ph = s.get("gps", 0), s.get("public_health", 0)
            share = tech / total if total else 0.0
            row.checks.append(Check(
                "health_technicians", "STD-02", _("Health technicians of all staff"),
                f"≥ {_pct(tech_min)}", f"{tech}/{total} ({_pct(share)})" if total else "0",
                bool(total) and share >= tech_min,
            ))  # fmt: skip
            row.checks.append(Check(
                "registered_gps", "STD-02", _("Registered GPs"), f"≥ {gps_min}", str(gps),
                gps >= gps_min,
            ))  # fmt: skip
            tcm_share = tcm / phys if phys else 0.0
            row.checks.append(Check(
                "tcm_physicians", "STD-02", _("TCM/Mongolian-medicine physicians of all physicians"),
                f"≥ {_pct(tcm_min)}", f"{tcm}/{phys} ({_pct(tcm_share)})" if phys else "0",
                bool(phys) and tcm_share >= tcm_min,
            ))  # fmt: skip
            row.checks.append(Check(
                "public_health_physicians", "STD-02", _("Public-health physicians"),
                f"≥ {ph_min}", str(ph), ph >= ph_min,
            ))  # fmt: skip
        elif cat == "village_clinic":
            d = doctors.get(inst.pk, {})
            n, qualified = d.get("doctors", 0), d.get("qualified", 0)
            population = inst.agricultural_population
            if population:
                low = math.ceil(population * per_min / 1000)
                high = math.floor(population * per_max / 1000)
                low = max(low, 1)
                high = max(high, low)
                row.checks.append(Check(
                    "village_doctors", "STD-03",
                    _("Village doctors for %(n)s agricultural/pastoral residents") % {"n": f"{population:,}"},
                    f"{low}–{high}", str(n), low <= n <= high,
                ))  # fmt: skip
            else:
                row.checks.append(Check(
                    "village_doctors", "STD-03", _("Village doctors per 1,000 agricultural residents"),
                    f"{per_min:g}–{per_max:g} ‰", _("population not recorded") if not n else str(n),
                    None if n else False,
                ))  # fmt: skip
            row.checks.append(Check(
                "village_doctor_certificates", "STD-03",
                _("Village doctors with a certificate or physician licence"),
                _("all"), f"{qualified}/{n}", bool(n) and qualified == n,
            ))  # fmt: skip
        have = equipment.get(inst.pk, set())
        for alternatives in required.get(cat, []):
            ok = any(kind in have for kind in alternatives)
            label = _(" or ").join(str(kinds.get(k, k)) for k in alternatives)
            row.checks.append(Check(
                "equipment:" + "|".join(alternatives), "STD-04", label, _("at least 1"),
                _("present") if ok else _("missing"), ok,
            ))  # fmt: skip
        rows.append(row)
    return rows


def compliance_counts(root: Institution) -> tuple[int, int]:
    """(compliant institutions, assessed institutions) under ``root`` (STD-01)."""
    rows = compliance(root)
    return sum(r.compliant for r in rows), len(rows)
