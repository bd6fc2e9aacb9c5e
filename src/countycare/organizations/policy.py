"""Policy numbers: the seeds' thresholds, declared once with their default and requirement ID
(architecture.md, "Policy numbers"). A county overrides a value with a PolicyValue row for its
medical community; code reads ``policy.value("key")`` and never writes the number itself.
Apps declare their own numbers in their ``policy.py`` with :func:`declare`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class PolicyNumber:
    key: str
    default: Any
    requirement: str
    description: Any
    unit: str = ""


REGISTRY: dict[str, PolicyNumber] = {}


def declare(key: str, default: Any, requirement: str, description: Any, unit: str = "") -> str:
    REGISTRY[key] = PolicyNumber(key, default, requirement, description, unit)
    return key


def value(key: str, community=None) -> Any:
    """The value in force for ``community`` (a medical-community Institution or its id; None:
    the only/first community), else the declared default."""
    from countycare.organizations.models import Institution, InstitutionType, PolicyValue

    number = REGISTRY[key]
    qs = PolicyValue.objects.filter(key=key)
    if community is None:
        community = (
            Institution.objects.filter(type=InstitutionType.MEDICAL_COMMUNITY)
            .order_by("pk")
            .values_list("pk", flat=True)
            .first()
        )
    if community is None:
        return number.default
    row = qs.filter(community=community).values_list("value", flat=True).first()
    return number.default if row is None else row


# --- Foundation numbers ---------------------------------------------------------------------
VILLAGE_DOCTORS_PER_1000_MIN = declare(
    "village_doctors_per_1000_min",
    1.0,
    "STD-03",
    _("Village doctors per 1,000 agricultural/pastoral residents, minimum"),
)
VILLAGE_DOCTORS_PER_1000_MAX = declare(
    "village_doctors_per_1000_max",
    1.5,
    "STD-03",
    _("Village doctors per 1,000 agricultural/pastoral residents, maximum"),
)
ELDERLY_AGE = declare(
    "key_population_elderly_age",
    65,
    "FD-08",
    _("Age from which a resident belongs to the elderly key population"),
    "years",
)
CHILD_MAX_AGE = declare(
    "key_population_child_max_age",
    6,
    "FD-07",
    _("Age up to which (inclusive) a resident belongs to the children key population"),
    "years",
)
TOWNSHIP_MIN_GPS = declare(
    "township_min_registered_gps", 2, "STD-02", _("Registered GPs per township health center")
)
GPS_PER_10000_TARGET = declare(
    "gps_per_10000_target", 4, "KPI-05", _("Registered GPs per 10,000 residents (target)")
)
