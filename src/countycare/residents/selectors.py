"""Reads of the resident registry. Every query starts from ``scoped()``."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from countycare.core import crypto
from countycare.core import national_id as nid
from countycare.core.scoping import scoped
from countycare.organizations import policy
from countycare.residents.models import (
    DECLARED_KEY_POPULATIONS,
    KeyPopulation,
    KeyPopulationTag,
    Resident,
)

SEARCH_LIMIT = 50
_DIGITS = re.compile(r"^\d+$")
_ID_LIKE = re.compile(r"^\d{17}[\dXx]$")
_LETTERS = re.compile(r"^[A-Za-z]+$")


def residents_for(user) -> QuerySet[Resident]:
    return scoped(user, Resident)


def _years_ago(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def derived_population_q(key: str, on: dt.date | None = None) -> Q:
    """Key populations computed from the birth date (policy numbers FD-08/FD-07)."""
    on = on or timezone.localdate()
    if key == KeyPopulation.ELDERLY:
        return Q(birth_date__lte=_years_ago(on, policy.value(policy.ELDERLY_AGE)))
    if key == KeyPopulation.CHILD:
        return Q(birth_date__gt=_years_ago(on, policy.value(policy.CHILD_MAX_AGE) + 1))
    raise ValueError(key)


def key_population_q(key: str, on: dt.date | None = None) -> Q:
    if key in (KeyPopulation.ELDERLY, KeyPopulation.CHILD):
        return derived_population_q(key, on)
    on = on or timezone.localdate()
    current = KeyPopulationTag.objects.current(on).filter(tag=key).values("resident_id")
    return Q(pk__in=current)


@dataclass(frozen=True)
class SearchQuery:
    kind: str  # "national_id", "phone", "pinyin", "name", "empty"
    text: str


def classify(raw: str) -> SearchQuery:
    text = (raw or "").strip()
    if not text:
        return SearchQuery("empty", "")
    compact = nid.normalize(text)
    if _ID_LIKE.match(compact):
        return SearchQuery("national_id", compact.upper())
    if _DIGITS.match(compact):
        return SearchQuery("phone", compact)
    if _LETTERS.match(text.replace(" ", "")):
        return SearchQuery("pinyin", text.replace(" ", "").lower())
    return SearchQuery("name", text)


def _prefix(field: str, text: str) -> Q:
    """``field`` starts with ``text``, in a form the database's index serves.

    PostgreSQL: ``LIKE 'text%'`` on a varchar_pattern_ops index. SQLite's LIKE is
    case-insensitive and never uses an ordinary index, so there the prefix is a range on the
    binary-collated column: ``text <= field < text || U+10FFFF``.
    """
    if connection.vendor == "sqlite":
        return Q(**{f"{field}__gte": text, f"{field}__lt": text + "\U0010ffff"})
    return Q(**{f"{field}__startswith": text})


def search_residents(
    user,
    raw: str,
    *,
    village_id: int | None = None,
    key_population: str | None = None,
    limit: int | None = SEARCH_LIMIT,
) -> QuerySet[Resident]:
    """Search by name (prefix), pinyin or initials (prefix), national ID (exact, via the keyed
    hash) or phone (prefix). Scoped; at most ``limit`` rows (None: all, for a paginated API)."""
    qs = residents_for(user).select_related("home_village")
    query = classify(raw)
    if query.kind == "national_id":
        qs = qs.filter(national_id_hash=crypto.lookup_hash(query.text))
    elif query.kind == "phone":
        qs = qs.filter(_prefix("phone", query.text))
    elif query.kind == "pinyin":
        qs = qs.filter(_prefix("name_initials", query.text) | _prefix("name_pinyin", query.text))
    elif query.kind == "name":
        qs = qs.filter(_prefix("name", query.text))
    if village_id:
        qs = qs.filter(home_village_id=village_id)
    if key_population:
        qs = qs.filter(key_population_q(key_population))
    return qs.order_by("name", "id")[:limit]


def key_populations_of(resident: Resident, on: dt.date | None = None) -> list[dict]:
    """The resident's key populations: derived ones and current declared tags."""
    on = on or timezone.localdate()
    out: list[dict] = []
    age = resident.age_on(on)
    if age >= policy.value(policy.ELDERLY_AGE):
        out.append(
            {
                "key": KeyPopulation.ELDERLY.value,
                "label": KeyPopulation.ELDERLY.label,
                "derived": True,
                "tag": None,
            }
        )
    if age <= policy.value(policy.CHILD_MAX_AGE):
        out.append(
            {
                "key": KeyPopulation.CHILD.value,
                "label": KeyPopulation.CHILD.label,
                "derived": True,
                "tag": None,
            }
        )
    for tag in resident.tags.current(on).order_by("recorded_on"):
        out.append({"key": tag.tag, "label": tag.get_tag_display(), "derived": False, "tag": tag})
    return out


def key_population_counts(user, on: dt.date | None = None) -> dict[str, int]:
    """Residents per key population within the user's scope (one aggregate query each for the
    derived groups, one grouped query for the declared ones)."""
    on = on or timezone.localdate()
    base = residents_for(user).filter(deceased_on__isnull=True)
    counts = base.aggregate(
        total=Count("pk"),
        elderly=Count("pk", filter=derived_population_q(KeyPopulation.ELDERLY, on)),
        child=Count("pk", filter=derived_population_q(KeyPopulation.CHILD, on)),
    )
    declared = (
        KeyPopulationTag.objects.current(on)
        .filter(resident__in=base.values("pk"))
        .values("tag")
        .annotate(n=Count("resident_id", distinct=True))
    )
    by_tag = {row["tag"]: row["n"] for row in declared}
    for key in DECLARED_KEY_POPULATIONS:
        counts[key.value] = by_tag.get(key.value, 0)
    return counts
