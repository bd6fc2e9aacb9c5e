"""Assessment (KPI-02, KPI-03; 004 §3(三)6): half-yearly monitoring and the annual assessment
score per institution from weighted indicators. Each indicator with a target and a value
scores its attainment (value ÷ target, at most 1; target ÷ value where lower is better) times
its weight; the score is the weighted mean × 100 over the indicators that could be assessed.
Weights: the indicator's default, overridden per county by ``indicators_assessment_weights``
(a weight of 0 leaves the indicator out of the county's assessment)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from countycare.indicators import periods, selectors, services
from countycare.indicators import policy as ind_policy
from countycare.indicators.periods import Period
from countycare.indicators.registry import HIGHER, Indicator, Outcome
from countycare.organizations import policy
from countycare.organizations.models import Institution


@dataclass
class Scored:
    outcome: Outcome
    weight: float
    attainment: float  # 0 … 1

    @property
    def points(self) -> float:
        return self.weight * self.attainment


@dataclass
class Assessment:
    institution: Institution
    period: Period
    scored: list[Scored] = field(default_factory=list)
    unassessed: list[Outcome] = field(default_factory=list)

    @property
    def title(self) -> str:
        """ "Half-yearly monitoring" for a half-year, "annual assessment" for a year (KPI-02)."""
        if self.period.kind == periods.HALF:
            return _("Half-yearly monitoring report")
        if self.period.kind == periods.YEAR:
            return _("Annual assessment report")
        return _("Monthly monitoring")

    @property
    def score(self) -> float | None:
        total = sum(s.weight for s in self.scored)
        if not total:
            return None
        return round(100 * sum(s.points for s in self.scored) / total, 1)

    @property
    def met(self) -> int:
        return sum(1 for s in self.scored if s.outcome.met)


def weights(community=None) -> dict[str, float]:
    """The county's configured weights (``{code: weight}``), for the medical community."""
    configured = policy.value(ind_policy.ASSESSMENT_WEIGHTS, community) or {}
    return {str(k): float(v) for k, v in configured.items()}


def weight_of(indicator: Indicator, configured: dict[str, float]) -> float:
    return configured.get(indicator.code, indicator.weight)


def attainment(outcome: Outcome) -> float | None:
    value, target = outcome.value, outcome.target
    if value is None or target is None:
        return None
    if outcome.indicator.direction == HIGHER:
        return 1.0 if target <= 0 else max(0.0, min(value / target, 1.0))
    return 1.0 if value <= target else (target / value if value else 1.0)


def assess(institution: Institution, period: Period) -> Assessment:
    from countycare.indicators.registry import Ctx

    configured = weights(Ctx(institution, period).community_id)
    out = Assessment(institution, period)
    for outcome in services.outcomes_for(institution, period):
        if outcome.status == "not_applicable" or outcome.target is None:
            continue
        weight = weight_of(outcome.indicator, configured)
        if weight <= 0:  # weighted out by the county: not part of its assessment
            continue
        a = attainment(outcome)
        if a is None:
            out.unassessed.append(outcome)
        else:
            out.scored.append(Scored(outcome, weight, a))
    return out


def assess_townships(root: Institution, period: Period) -> list[Assessment]:
    """The townships (and community centers) under ``root``, best score first."""
    rows = [assess(t, period) for t in selectors.townships(root)]
    return sorted(rows, key=lambda a: (a.score is None, -(a.score or 0), a.institution.path))
