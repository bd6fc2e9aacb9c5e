"""Reads of the clinical app. Every read of encounters starts from ``scoped()``."""

from __future__ import annotations

from django.db.models import QuerySet

from countycare.clinical.models import Encounter
from countycare.core.scoping import scoped


def encounters_for(user) -> QuerySet[Encounter]:
    return scoped(user, Encounter).select_related("institution", "residence")


def resident_encounters(user, resident) -> QuerySet[Encounter]:
    """A resident's encounters that ``user`` may see, newest first."""
    return encounters_for(user).filter(resident=resident).order_by("-date", "-pk")
