"""The indicator registry: each indicator is declared once (``catalog.py``), with its code,
Chinese and English name, requirement ID, numerator and denominator as aggregate queries over
other apps' models, unit, direction, target (a policy number: the value per year) and the
institution levels it applies to. Adding an indicator is adding a declaration; the pages, the
command, the API, the exports and the assessment read the registry.

An indicator has one or more *ways* to compute it, tried in order: the first whose data
sources are installed, not pending and hold data for the subtree and period wins (e.g. the
referrals app's own figures, else referral counts imported as statistics). None usable: the
value is "no data" (or "pending" when every way waits for an app), never 0 %.

Nothing here imports a domain app at import time: a source names its app, and measures import
models inside the function, so a county without an app still computes everything else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.apps import apps
from django.db.models import QuerySet
from django.utils.translation import get_language

from countycare.indicators.periods import Period
from countycare.organizations import policy
from countycare.organizations.models import Institution, InstitutionType

HIGHER, LOWER = "higher", "lower"
T = InstitutionType
# Levels: where an indicator means something. The county and the medical community are
# the whole; the others are the institution types of organizations.InstitutionType.
WHOLE = (T.COUNTY, T.MEDICAL_COMMUNITY)
TOWNSHIPS = (T.TOWNSHIP_HEALTH_CENTER, T.COMMUNITY_HEALTH_CENTER)
ALL_LEVELS = tuple(T.values)


@dataclass(frozen=True)
class Ctx:
    """The subtree (an institution and everything under it) and the period to compute for."""

    institution: Institution
    period: Period
    # Results shared by the measures of one computation (e.g. the standards check).
    memo: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def path(self) -> str:
        return self.institution.path

    @cached_property
    def community_id(self) -> int | None:
        """The medical community whose policy numbers apply (the nearest one above or at the
        institution; else the first one)."""
        ids = [int(p) for p in self.path.strip("/").split("/") if p]
        found = (
            Institution.objects.filter(pk__in=ids, type=T.MEDICAL_COMMUNITY)
            .order_by("-depth")
            .values_list("pk", flat=True)
            .first()
        )
        return found

    def subtree(self, types: tuple[str, ...] | None = None) -> QuerySet:
        """Ids of the institutions in the subtree (a subquery), optionally of some types."""
        qs = Institution.objects.filter(path__startswith=self.path)
        if types:
            qs = qs.filter(type__in=types)
        return qs.values("pk")


Measure = Callable[[Ctx], Any]


@dataclass(frozen=True)
class Source:
    """Where a way's data comes from: an installed app, and whether it holds data for the
    subtree and period (``has_data``; None: the app being installed is enough). ``pending``:
    the app has not yet exposed the figures this indicator needs."""

    app: str
    zh: str
    en: str
    has_data: Callable[[Ctx], bool] | None = None
    pending: bool = False

    @property
    def installed(self) -> bool:
        return apps.is_installed(f"countycare.{self.app}")

    @property
    def label(self) -> str:
        return _pick(self.zh, self.en)


@dataclass(frozen=True)
class Way:
    sources: tuple[Source, ...]
    numerator: Measure
    denominator: Measure | None = None
    # The rows behind the numerator (a queryset), for the drill-down to the records.
    rows: Callable[[Ctx], QuerySet] | None = None


@dataclass(frozen=True)
class Target:
    """A policy number holding the target per year: ``{"2025": 90}`` (the target of a year is
    the entry of the latest year not after it; before the first entry, the first), or a plain
    number with the year it is due by."""

    default: Any
    requirement: str
    year: int | None = None


@dataclass(frozen=True)
class Indicator:
    code: str
    zh: str
    en: str
    requirement: str
    ways: tuple[Way, ...]
    unit: str  # "%", "per_10000", "count", "yuan"
    group: str
    direction: str = HIGHER
    scale: float = 100.0  # value = numerator / denominator × scale
    target: Target | None = None
    target_key: str | None = None  # an existing policy number instead of ``target``
    levels: tuple[str, ...] = ALL_LEVELS
    weight: float = 1.0  # default weight in the assessment (policy overrides)
    note_zh: str = ""
    note_en: str = ""
    order: int = 100

    @property
    def name(self) -> str:
        return _pick(self.zh, self.en)

    @property
    def note(self) -> str:
        return _pick(self.note_zh, self.note_en)

    @property
    def policy_key(self) -> str | None:
        if self.target_key:
            return self.target_key
        return f"indicator_target_{self.code}" if self.target else None

    @property
    def has_ratio(self) -> bool:
        return any(w.denominator is not None for w in self.ways)

    @property
    def source_apps(self) -> list[str]:
        return sorted({s.app for w in self.ways for s in w.sources})

    def applies_to(self, institution: Institution) -> bool:
        return institution.type in self.levels

    def target_for(self, year: int, community=None) -> tuple[float | None, int | None]:
        """(target, the year it is set for) in force for ``year``."""
        key = self.policy_key
        if key is None:
            return None, None
        raw = policy.value(key, community)
        if raw is None or raw == "":
            return None, None
        if isinstance(raw, dict):
            by_year = sorted((int(y), float(v)) for y, v in raw.items() if v is not None)
            if not by_year:
                return None, None
            earlier = [(y, v) for y, v in by_year if y <= year]
            y, v = earlier[-1] if earlier else by_year[0]
            return v, y
        due = self.target.year if self.target else _TARGET_YEARS.get(key)
        return float(raw), due


def _pick(zh: str, en: str) -> str:
    language = (get_language() or "zh-hans").lower()
    return en if language.startswith("en") and en else zh


REGISTRY: dict[str, Indicator] = {}
GROUPS: dict[str, tuple[str, str]] = {}
_TARGET_YEARS: dict[str, int] = {}


def group(code: str, zh: str, en: str) -> str:
    GROUPS[code] = (zh, en)
    return code


def group_name(code: str) -> str:
    zh, en = GROUPS.get(code, (code, code))
    return _pick(zh, en)


def declare(indicator: Indicator, *, target_year: int | None = None) -> Indicator:
    """Add an indicator; its target becomes a policy number (overridable per county)."""
    if indicator.code in REGISTRY:
        raise ValueError(f"indicator {indicator.code} declared twice")
    if indicator.target is not None:
        policy.declare(
            indicator.policy_key,
            indicator.target.default,
            indicator.target.requirement,
            f"{indicator.zh} · {indicator.en}: target",
            indicator.unit,
        )
    if indicator.target_key and target_year:
        _TARGET_YEARS[indicator.target_key] = target_year
    REGISTRY[indicator.code] = indicator
    return indicator


def all_indicators() -> list[Indicator]:
    from countycare.indicators import catalog  # noqa: F401 — the declarations

    return sorted(REGISTRY.values(), key=lambda i: (i.order, i.code))


def get(code: str) -> Indicator | None:
    from countycare.indicators import catalog  # noqa: F401

    return REGISTRY.get(code)


@dataclass
class Outcome:
    """One indicator for one subtree and period."""

    indicator: Indicator
    status: str
    numerator: float | None = None
    denominator: float | None = None
    value: float | None = None
    target: float | None = None
    target_year: int | None = None
    met: bool | None = None
    way: int | None = None
    sources: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The command's and API's shape (issue 9): value and met are null when the
        denominator is 0 or there is no data."""
        return {
            "code": self.indicator.code,
            "name": self.indicator.name,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "value": self.value,
            "target": self.target,
            "met": self.met,
        }
