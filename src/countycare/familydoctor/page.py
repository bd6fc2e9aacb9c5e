"""The family doctor's section of the resident page (core.resident_page): the contract in force,
the chronic programs with their last and next follow-up, the long prescription, this year's
health check, and the blood-pressure and glucose trend charts (ECharts)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from countycare.core import resident_page
from countycare.core.scoping import scoped
from countycare.familydoctor import selectors
from countycare.familydoctor.models import FACE_TO_FACE, HealthCheck, LongPrescription, Program
from countycare.organizations import policy
from countycare.residents.models import KeyPopulationTag


def care_section(request, resident) -> dict[str, Any] | None:
    user = request.user
    if not user.has_perm("countycare.view_resident"):
        return None
    today = timezone.localdate()
    contract = selectors.contract_in_force(user, resident, today)
    tags = set(
        KeyPopulationTag.objects.current(today)
        .filter(resident=resident, tag__in=Program.values)
        .values_list("tag", flat=True)
    )
    programs = []
    follow_ups = list(selectors.resident_follow_ups(user, resident)[:200])
    for program in Program:
        mine = [f for f in follow_ups if f.program == program.value]
        if program.value not in tags and not mine:
            continue
        last = mine[0] if mine else None
        programs.append(
            {
                "key": program.value,
                "label": program.label,
                "current": program.value in tags,
                "last": last,
                "due_on": last.next_due_on if last else None,
                "overdue": bool(last and last.next_due_on < today),
                "done_year": sum(
                    1 for f in mine if f.followed_on.year == today.year and f.method in FACE_TO_FACE
                ),
            }
        )
    prescription = (
        scoped(user, LongPrescription)
        .filter(resident=resident)
        .order_by("-issued_on", "-pk")
        .first()
    )
    checks = list(scoped(user, HealthCheck).filter(resident=resident)[:3])
    data = selectors.trends(user, resident)
    has_chart = any(data["series"].get(k) for k in ("sbp", "dbp", "fasting_glucose",
                                                       "random_glucose"))  # fmt: skip
    if not (
        contract or programs or checks or has_chart or user.has_perm("countycare.sign_contract")
    ):
        return None
    return {
        "contract": contract,
        "programs": programs,
        "recent": follow_ups[:5],
        "prescription": prescription
        if prescription and prescription.ends_on >= today and prescription.status != "cancelled"
        else None,
        "checks": checks,
        "check_this_year": any(c.checked_on.year == today.year for c in checks),
        "elderly": resident.age >= int(policy.value(policy.ELDERLY_AGE)),
        "trends": data,
        "has_chart": has_chart,
        "can_sign": user.has_perm("countycare.sign_contract") and not resident.deceased_on,
        "can_follow_up": user.has_perm("countycare.follow_up") and not resident.deceased_on,
        "today": today,
    }


resident_page.register(
    resident_page.Section(
        name="familydoctor.care",
        template="familydoctor/resident_section.html",
        context=care_section,
        order=20,
    )
)
