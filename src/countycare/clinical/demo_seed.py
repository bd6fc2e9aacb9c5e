"""Demo-county encounters (countycare.demo.steps): with traffic, the residents' outpatient,
emergency and inpatient visits from January of last year to yesterday, as the medical
community's HIS and the insurance settlement data would deliver them, written through the
same store as an imported file. About 6.7 visits per resident a year (more for the elderly
and small children); a share outside the county that falls over the months, grassroots visits
that grow, TCM/Mongolian medicine at a third of grassroots visits — each township with its own
leaning, so the townships rank differently. Deterministic for a seed. A county bigger than
40,000 residents gets the visits of a sample of 40,000 (the rates are the same, the counts
smaller), so the demo stays quick."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.clinical import imports, services
from countycare.demo.steps import step
from countycare.organizations.models import COUNTY_HOSPITAL_TYPES, Institution, InstitutionType

T = InstitutionType
SAMPLE = 40_000
OUTSIDE = ("鄂尔多斯市中心医院", "内蒙古医科大学附属医院", "包头市中心医院", "北京大学第一医院")
LOCAL_TYPES = (T.VILLAGE_CLINIC, T.COMMUNITY_HEALTH_STATION, T.COMMUNITY_HEALTH_CENTER)


def _months(today: dt.date) -> list[tuple[dt.date, dt.date]]:
    """(first day, last day) of each month from January last year up to yesterday."""
    out, day = [], dt.date(today.year - 1, 1, 1)
    yesterday = today - dt.timedelta(days=1)
    while day <= yesterday:
        nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        out.append((day, min(nxt - dt.timedelta(days=1), yesterday)))
        day = nxt
    return out


def _money(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(f"{rng.uniform(low, high):.2f}")


def encounter_rows(seed: int, today: dt.date) -> list[imports.Row]:
    from countycare.residents.models import Resident

    rng = random.Random(f"clinical-{seed}")  # noqa: S311 — synthetic demo data
    nodes = {i.pk: i for i in Institution.objects.all()}

    def township(node):
        while node is not None and node.type not in (T.TOWNSHIP_HEALTH_CENTER,
                                                     T.COMMUNITY_HEALTH_CENTER):  # fmt: skip
            node = nodes.get(node.parent_id)
        return node

    hospitals = sorted((n for n in nodes.values() if n.type in COUNTY_HOSPITAL_TYPES),
                       key=lambda n: (not n.is_lead_hospital, n.code))  # fmt: skip
    if not hospitals:
        return []
    people = list(
        Resident.objects.filter(deceased_on__isnull=True)
        .order_by("pk")
        .values_list("national_id_hash", "home_village_id", "birth_date")
    )
    if len(people) > SAMPLE:
        people = rng.sample(people, SAMPLE)
    # Per township: how far its people go outside and how much TCM its clinics give.
    lean = {n.pk: (rng.uniform(-1, 1), rng.uniform(-1, 1)) for n in nodes.values()}
    months = _months(today)
    towns = {pk: township(node) or node for pk, node in nodes.items()}
    rows: list[imports.Row] = []
    serial = 0
    for n, (first, last) in enumerate(months):
        progress = n / max(1, len(months) - 1)
        season = 1.2 if first.month in (1, 2, 12) else (0.9 if first.month in (7, 8) else 1.0)
        span = (last - first).days + 1
        scale = season * span / 30.4 / 12
        elderly_born, child_born = first.year - 65, first.year - 6
        for id_hash, village_id, birth in people:
            if birth.year <= elderly_born:
                expected = 12.0 * scale
            elif birth.year >= child_born:
                expected = 6.0 * scale
            else:
                expected = 5.2 * scale
            if rng.random() >= expected:  # expected < 1: at most one visit a month
                continue
            home = nodes[village_id]
            town = towns[village_id]
            out_lean, tcm_lean = lean[town.pk]
            serial += 1
            day = first + dt.timedelta(days=rng.randrange(span))
            u = rng.random()
            outside = 0.125 - 0.045 * progress + 0.02 * out_lean
            hospital = outside + 0.30 - 0.05 * progress
            if u < outside:
                inpatient = rng.random() < 0.35
                rows.append(imports.Row(
                    0, f"JS{day:%Y%m}{serial:07d}", day,
                    "inpatient" if inpatient else "outpatient", None, "",
                    rng.choice(OUTSIDE), id_hash, None, False,
                    None, _money(rng, 8000, 20000) if inpatient else _money(rng, 150, 600),
                ))  # fmt: skip
                continue
            if u < hospital:
                place = hospitals[0] if rng.random() < 0.6 else rng.choice(hospitals)
                r = rng.random()
                kind = "inpatient" if r < 0.1 else ("emergency" if r < 0.18 else "outpatient")
                tcm_share = 0.6 if place.type == T.MONGOLIAN_MEDICINE_HOSPITAL else 0.12
            elif home.type in LOCAL_TYPES and rng.random() < 0.55:
                place, kind = home, "outpatient"
                tcm_share = 0.31 + 0.06 * progress + 0.05 * tcm_lean
            else:
                place = town
                r = rng.random()
                kind = "inpatient" if r < 0.05 else ("emergency" if r < 0.1 else "outpatient")
                tcm_share = 0.31 + 0.06 * progress + 0.05 * tcm_lean
            inpatient = kind == "inpatient"
            fund = _money(rng, 2500, 9000) if inpatient else _money(rng, 15, 90)
            rows.append(imports.Row(
                0, f"MZ{day:%Y%m}{serial:07d}", day, kind, place.pk, place.type, "",
                id_hash, None, rng.random() < tcm_share,
                (fund / Decimal("0.68")).quantize(Decimal("0.01")), fund,
            ))  # fmt: skip
    return rows


@step("clinical", order=75)
def seed_encounters(seed: int, *, traffic: bool) -> str:
    if not traffic:
        return _("no encounters (no traffic)")
    rows = encounter_rows(seed, timezone.localdate())
    inside = [r for r in rows if r.institution_id is not None]
    outside = [r for r in rows if r.institution_id is None]
    if inside:
        services.store_encounters(user=None, rows=inside, source="医共体HIS", file_name="demo-his")
    if outside:
        services.store_encounters(user=None, rows=outside, source="医保结算",
                                  file_name="demo-settlement")  # fmt: skip
    return _("%(inside)d encounters in the county and %(outside)d outside it") % {
        "inside": len(inside),
        "outside": len(outside),
    }
