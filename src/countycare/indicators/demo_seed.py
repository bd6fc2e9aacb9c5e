"""Demo-county data of the indicators app (countycare.demo.steps): the equipment register of
the grassroots institutions (a few items missing, so the standards page has something to
say) and, with traffic, monthly statistics imported through the same validated import as a
county's own files — visits, admissions, out-of-county visits, bed-days, insurance payments,
satisfaction surveys, referrals and new techniques from January of last year to last month —
so the dashboard computes real rates. When the clinical app's demo step has written
encounters, the visit and insurance figures are left to them. Figures are shaped toward the seeds' targets: some met,
some not, improving over time. Deterministic for a seed."""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.demo.steps import step
from countycare.organizations.models import Equipment, EquipmentKind, Institution, InstitutionType

T = InstitutionType
CENTRAL_KIT = ["dr", "color_ultrasound", "auto_biochemistry_analyzer", "ecg_machine", "urine_analyzer",
               "blood_cell_counter", "simple_ventilator", "air_disinfector", "spirometer", "ambulance",
               "tcm_equipment"]  # fmt: skip
TOWNSHIP_KIT = ["x_ray", "b_ultrasound", "biochemistry_analyzer", "ecg_machine", "urine_analyzer",
                "blood_cell_counter", "simple_ventilator", "air_disinfector", "spirometer", "ambulance",
                "tcm_equipment"]  # fmt: skip
VILLAGE_KIT = ["diagnostic_kit", "bp_monitor", "glucose_meter"]
HOSPITALS = (T.GENERAL_HOSPITAL, T.MONGOLIAN_MEDICINE_HOSPITAL, T.MCH_HOSPITAL, T.TCM_HOSPITAL)


def _equipment(rng: random.Random) -> int:
    if Equipment.objects.exists():
        return 0
    items = []
    for inst in Institution.objects.filter(
        type__in=(T.TOWNSHIP_HEALTH_CENTER, T.COMMUNITY_HEALTH_CENTER, T.VILLAGE_CLINIC)
    ).order_by("code"):
        if inst.type == T.VILLAGE_CLINIC:
            kit = [k for k in VILLAGE_KIT if k != "diagnostic_kit" or rng.random() < 0.9]
        else:
            central = inst.is_central or inst.type == T.COMMUNITY_HEALTH_CENTER
            kit = list(CENTRAL_KIT if central else TOWNSHIP_KIT)
            # Some centers still wait for an item (002 §3(一)2: "逐年补足").
            for _n in range(rng.choice((0, 0, 1, 2))):
                kit.remove(rng.choice([k for k in kit if k != "tcm_equipment"]))
        for kind in kit:
            items.append(
                Equipment(
                    institution=inst,
                    kind=kind,
                    quantity=1,
                    acquired_on=dt.date(rng.randrange(2018, 2025), rng.randrange(1, 13), 1),
                    model_name=str(EquipmentKind(kind).label),
                )
            )
    Equipment.objects.bulk_create(items)
    return len(items)


def statistics_rows(rng: random.Random, months: list[dt.date]) -> list[tuple]:
    """(institution code, month, metric, value) rows for the demo county."""
    rows: list[tuple] = []
    institutions = list(
        Institution.objects.filter(
            type__in=(
                *HOSPITALS,
                T.TOWNSHIP_HEALTH_CENTER,
                T.COMMUNITY_HEALTH_CENTER,
                T.COMMUNITY_HEALTH_STATION,
                T.VILLAGE_CLINIC,
            )
        ).order_by("code")
    )
    county = Institution.objects.filter(parent__isnull=True).order_by("path").first()
    lead = Institution.objects.filter(is_lead_hospital=True).first()
    # Per township a level of TCM use and satisfaction, so townships rank differently.
    flavour = {i.pk: rng.uniform(-1, 1) for i in institutions}
    for n, month in enumerate(months):
        progress = n / max(1, len(months) - 1)  # 0 → 1 over the months: things improve
        season = 1.15 if month.month in (1, 2, 12) else (0.9 if month.month in (7, 8) else 1.0)
        days = ((month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - month).days
        m = f"{month:%Y-%m}"
        in_county = 0
        for inst in institutions:
            f = flavour[inst.pk]
            if inst.type in HOSPITALS:
                base = 26000 if inst.is_lead_hospital else 9000
                visits = int(base * season * rng.uniform(0.93, 1.07))
                admissions = int(visits * rng.uniform(0.045, 0.06))
                fund = visits * rng.uniform(310, 360)
                rows += [(inst.code, m, "outpatient_visits", visits), (inst.code, m, "inpatient_admissions", admissions),
                         (inst.code, m, "insurance_fund_yuan", f"{fund:.2f}")]  # fmt: skip
                in_county += visits + admissions
                continue
            population = inst.served_population or 800
            if inst.type == T.VILLAGE_CLINIC:
                per_head = 0.24
            elif inst.type == T.COMMUNITY_HEALTH_STATION:
                per_head = 0.3
            else:
                per_head = 0.16  # the center's own visits (its villages report theirs)
            # Grassroots visits grow as the Walking Hospital and the contracts take hold.
            visits = int(
                population * per_head * season * (0.92 + 0.16 * progress) * rng.uniform(0.9, 1.1)
            )
            tcm = int(visits * (0.30 + 0.05 * progress + 0.04 * f) * rng.uniform(0.95, 1.05))
            fund = visits * rng.uniform(38, 55)
            rows += [(inst.code, m, "outpatient_visits", visits), (inst.code, m, "tcm_visits", min(tcm, visits)),
                     (inst.code, m, "insurance_fund_yuan", f"{fund:.2f}")]  # fmt: skip
            in_county += visits
            if inst.type in (T.TOWNSHIP_HEALTH_CENTER, T.COMMUNITY_HEALTH_CENTER):
                beds = 40 if inst.is_central else 20
                open_days = beds * days
                occupied = int(open_days * (0.48 + 0.12 * progress + 0.05 * f) * season)
                admissions = int(occupied / rng.uniform(6.5, 8.5))
                rows += [(inst.code, m, "open_bed_days", open_days), (inst.code, m, "occupied_bed_days", min(occupied, open_days)),
                         (inst.code, m, "inpatient_admissions", admissions)]  # fmt: skip
                in_county += admissions
                if rng.random() < 0.25:
                    rows.append((inst.code, m, "new_techniques", rng.randrange(1, 3)))
                if month.month % 3 == 0:  # a satisfaction survey each quarter
                    surveyed = rng.randrange(150, 260)
                    share = 0.86 + 0.05 * progress + 0.02 * f
                    rows += [(inst.code, m, "satisfaction_surveyed", surveyed),
                             (inst.code, m, "satisfaction_satisfied", min(surveyed, int(surveyed * share)))]  # fmt: skip
        # Residents' visits outside the county (insurance settlement data), falling over time.
        out_share = 0.125 - 0.04 * progress + rng.uniform(-0.005, 0.005)
        rows.append(
            (county.code, m, "out_of_county_visits", int(in_county * out_share / (1 - out_share)))
        )
        rows.append(
            (
                county.code,
                m,
                "out_of_county_insurance_fund_yuan",
                f"{in_county * out_share * 410:.2f}",
            )
        )
        if lead is not None:
            up = int(rng.uniform(260, 320))
            rows += [(lead.code, m, "upward_referrals", up),
                     (lead.code, m, "downward_referrals", int(up * (0.18 + 0.1 * progress)))]  # fmt: skip
    return rows


# Figures the encounters hold when the clinical app has them (not imported twice).
VISIT_METRICS = frozenset({"outpatient_visits", "inpatient_admissions", "tcm_visits",
                           "out_of_county_visits", "insurance_fund_yuan",
                           "out_of_county_insurance_fund_yuan"})  # fmt: skip


def _have_encounters() -> bool:
    from django.apps import apps

    if not apps.is_installed("countycare.clinical"):
        return False
    return apps.get_model("clinical", "Encounter").objects.exists()


@step("indicators", order=80)
def seed_indicators(seed: int, *, traffic: bool) -> str:
    from countycare.indicators import services

    rng = random.Random(f"indicators-{seed}")  # noqa: S311 — synthetic demo data
    equipment = _equipment(rng)
    if not traffic:
        return _("%(n)d equipment items") % {"n": equipment}
    today = timezone.localdate()
    months, day = [], dt.date(today.year - 1, 1, 1)
    while day < today.replace(day=1):
        months.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    rows = statistics_rows(rng, months)
    if _have_encounters():
        rows = [r for r in rows if r[2] not in VISIT_METRICS]
    lines = ["institution_code,month,metric,value"] + [",".join(str(c) for c in r) for r in rows]
    batch = services.import_statistics(
        user=None,
        file_name="demo-statistics.csv",
        content=("\n".join(lines) + "\n").encode(),
        source="演示县统计数据（合成）",
    )
    return _(
        "%(equipment)d equipment items, %(rows)d imported statistics over %(months)d months"
    ) % {
        "equipment": equipment,
        "rows": batch.rows,
        "months": len(months),
    }
