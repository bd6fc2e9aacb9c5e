"""Reads of family-doctor contracts and chronic follow-up (issue 7). Every query of resident
or clinical rows starts from ``scoped()``.

* :func:`figures` — the contract figures the indicators app reads (FD-01/FD-02).
* :func:`due_list` — who is due or overdue for a follow-up, per team and per family doctor.
* :func:`unsigned_key_population` — key-population residents without a contract in force.
* :func:`visits_to_confirm` — Walking Hospital visits of chronic patients not yet confirmed as
  a follow-up (their vitals and results count once the doctor confirms).
* :func:`trends` — blood pressure and glucose over time for the resident page's charts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import (
    Count,
    DateField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from countycare.core.scoping import scoped
from countycare.familydoctor import coverage
from countycare.familydoctor import policy as fd_policy
from countycare.familydoctor.models import (
    FACE_TO_FACE,
    Contract,
    FollowUp,
    HealthCheck,
    MemberFunction,
    Program,
    Team,
    TeamMember,
)
from countycare.organizations import policy
from countycare.organizations.models import Institution
from countycare.organizations.selectors import active_roles, visible_institutions
from countycare.residents.models import KeyPopulation, KeyPopulationTag, Resident


# --- for the indicators app -----------------------------------------------------------------
def figures(institution: Institution, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Contract figures of ``institution``'s subtree for a period (dates inclusive), as the
    indicators read them (indicators.catalog, CONTRACTS): ``contracted`` — residents with a
    contract in force on some day of the period; ``key_contracted`` — the key-population
    residents among them, each once. Denominators alongside (the indicators' own)."""
    counts = coverage.totals(institution, start, end, coverage._community(institution))
    return {
        "residents": counts.residents,
        "contracted": counts.contracted,
        "key_residents": counts.key,
        "key_contracted": counts.key_contracted,
        "by_population": {
            key: {"residents": n, "contracted": c} for key, (n, c) in counts.groups.items()
        },
    }


# --- contracts ------------------------------------------------------------------------------
def contracts_for(user) -> QuerySet[Contract]:
    return scoped(user, Contract)


def contract_detail(user, pk: int) -> Contract | None:
    return (
        contracts_for(user)
        .select_related(
            "resident",
            "resident__home_village",
            "team",
            "team__institution",
            "doctor",
            "signing_institution",
            "signed_by",
            "renewed_from",
        )
        .prefetch_related("lines__package", "transitions__actor")
        .filter(pk=pk)
        .first()
    )


def in_force_q(day: dt.date, prefix: str = "") -> Q:
    return Q(**{f"{prefix}start_on__lte": day, f"{prefix}end_on__gte": day})


def contract_in_force(user, resident, day: dt.date | None = None) -> Contract | None:
    """The resident's contract in force on ``day`` (FD-03: valid across the community)."""
    day = day or timezone.localdate()
    return (
        contracts_for(user)
        .filter(in_force_q(day), resident=resident)
        .select_related("team", "doctor", "signing_institution")
        .order_by("-start_on")
        .first()
    )


def is_contracted(resident_id: int, day: dt.date | None = None) -> bool:
    """Whether a resident holds a contract in force (for other apps, e.g. appointment shares);
    a yes/no about a resident already in the caller's hands, not a read of the contract."""
    day = day or timezone.localdate()
    return Contract.objects.filter(in_force_q(day), resident_id=resident_id).exists()


def teams_for(user) -> QuerySet[Team]:
    """Teams the user works in, and the teams of institutions in the user's scope."""
    mine = TeamMember.objects.filter(staff=user).values("team_id")
    visible = visible_institutions(user).values("pk")
    return (
        Team.objects.filter(Q(pk__in=mine) | Q(institution_id__in=visible))
        .filter(is_active=True)
        .select_related("institution")
        .order_by("institution__path", "name")
    )


def my_teams(user, day: dt.date | None = None) -> QuerySet[Team]:
    day = day or timezone.localdate()
    ids = (
        TeamMember.objects.filter(staff=user, valid_from__lte=day)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=day))
        .values("team_id")
    )
    return Team.objects.filter(pk__in=ids, is_active=True)


def teams_serving(resident: Resident) -> QuerySet[Team]:
    return (
        Team.objects.filter(is_active=True, villages=resident.home_village_id)
        .select_related("institution")
        .order_by("institution__path", "name")
    )


# --- follow-ups -----------------------------------------------------------------------------
def follow_ups_for(user) -> QuerySet[FollowUp]:
    return scoped(user, FollowUp)


def follow_up_detail(user, pk: int) -> FollowUp | None:
    return (
        follow_ups_for(user)
        .select_related(
            "resident",
            "resident__home_village",
            "contract",
            "contract__team",
            "institution",
            "performed_by",
            "visit",
            "referral",
            "long_prescription",
        )
        .prefetch_related("observations")
        .filter(pk=pk)
        .first()
    )


def resident_follow_ups(user, resident, *, program: str | None = None) -> QuerySet[FollowUp]:
    qs = follow_ups_for(user).filter(resident=resident)
    if program:
        qs = qs.filter(program=program)
    return qs.select_related("performed_by", "referral").order_by("-followed_on", "-pk")


def due_list(
    user,
    *,
    team: Team | None = None,
    doctor=None,
    village: Institution | None = None,
    program: str | None = None,
    status: str = "",
    day: dt.date | None = None,
) -> QuerySet:
    """Chronic patients under contract and their next follow-up (FD-08), one row per patient
    and program (a KeyPopulationTag row annotated): ``due_on`` (the last follow-up's next
    date; never followed up: from the contract's start or the diagnosis, whichever is later),
    ``last_on``, ``done_year`` (face-to-face follow-ups this calendar year), ``contract_id``,
    ``doctor_id``. ``status``: "overdue" (due before today), "due" (by the policy's due-soon
    days), else all. Scoped; ``team`` / ``doctor`` narrow to a team's or a doctor's patients."""
    day = day or timezone.localdate()
    residents = scoped(user, Resident).filter(Q(deceased_on__isnull=True) | Q(deceased_on__gt=day))
    if village is not None:
        residents = residents.filter(home_village=village)
    contracts = Contract.objects.filter(in_force_q(day), resident_id=OuterRef("resident_id"))
    if team is not None:
        contracts = contracts.filter(team=team)
    if doctor is not None:
        contracts = contracts.filter(doctor=doctor)
    contracts = contracts.order_by("-start_on")
    programs = [program] if program else list(Program.values)
    last = FollowUp.objects.filter(
        resident_id=OuterRef("resident_id"), program=OuterRef("tag")
    ).order_by("-followed_on", "-pk")
    year_start = day.replace(month=1, day=1)
    done = (
        FollowUp.objects.filter(
            resident_id=OuterRef("resident_id"),
            program=OuterRef("tag"),
            method__in=FACE_TO_FACE,
            followed_on__gte=year_start,
            followed_on__lte=day,
        )
        .order_by()
        .values("resident_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    qs = (
        KeyPopulationTag.objects.current(day)
        .filter(tag__in=programs, resident__in=residents.values("pk"))
        .filter(Exists(contracts))
        .annotate(
            contract_id=Subquery(contracts.values("pk")[:1]),
            contract_start=Subquery(contracts.values("start_on")[:1]),
            doctor_id=Subquery(contracts.values("doctor_id")[:1]),
            last_on=Subquery(last.values("followed_on")[:1]),
            next_due=Subquery(last.values("next_due_on")[:1]),
            last_class=Subquery(last.values("classification")[:1]),
            done_year=Coalesce(Subquery(done, output_field=IntegerField()), Value(0)),
        )
        .annotate(
            due_on=Coalesce(
                F("next_due"),
                Greatest(F("contract_start"), F("recorded_on"), output_field=DateField()),
                output_field=DateField(),
            )
        )
        .select_related("resident", "resident__home_village")
    )
    soon = int(policy.value(fd_policy.DUE_SOON_DAYS))
    if status == "overdue":
        qs = qs.filter(due_on__lt=day)
    elif status == "due":
        qs = qs.filter(due_on__lte=day + dt.timedelta(days=soon))
    return qs.order_by("due_on", "resident__name", "pk")


def due_counts(user, **filters) -> dict[str, int]:
    day = filters.pop("day", None) or timezone.localdate()
    soon = int(policy.value(fd_policy.DUE_SOON_DAYS))
    qs = due_list(user, day=day, **filters)
    return qs.aggregate(
        patients=Count("pk"),
        overdue=Count("pk", filter=Q(due_on__lt=day)),
        due=Count("pk", filter=Q(due_on__gte=day, due_on__lte=day + dt.timedelta(days=soon))),
    )


def referral_suggestions(user, *, days: int = 30, day: dt.date | None = None) -> QuerySet:
    """Follow-ups whose triggers advise an upward referral that was not made yet."""
    day = day or timezone.localdate()
    return (
        follow_ups_for(user)
        .filter(referral__isnull=True, followed_on__gte=day - dt.timedelta(days=days))
        .exclude(referral_triggers=[])
        .select_related("resident", "resident__home_village")
        .order_by("-followed_on", "-pk")
    )


def visits_to_confirm(user, *, days: int = 14, day: dt.date | None = None) -> QuerySet:
    """Walking Hospital visits of the last ``days`` of residents followed up for a chronic
    disease under a contract, that measured BP or glucose and count toward no follow-up yet."""
    from countycare.telemed.models import Observation, Visit

    day = day or timezone.localdate()
    since = timezone.make_aware(dt.datetime.combine(day - dt.timedelta(days=days), dt.time.min))
    chronic = KeyPopulationTag.objects.current(day).filter(tag__in=Program.values)
    measured = Observation.objects.filter(
        visit_id=OuterRef("pk"), code__in=("8480-6", "1558-6", "2339-0"), value__isnull=False
    )
    return (
        scoped(user, Visit)
        .filter(visited_at__gte=since, resident__in=chronic.values("resident_id"))
        .filter(resident__in=Contract.objects.filter(in_force_q(day)).values("resident_id"))
        .filter(Exists(measured))
        .exclude(pk__in=FollowUp.objects.filter(visit__isnull=False).values("visit_id"))
        .select_related("resident", "resident__home_village", "institution")
        .prefetch_related("observations")
        .order_by("-visited_at")
    )


# --- key populations without a contract ------------------------------------------------------
def unsigned_key_population(
    user, *, village: Institution | None = None, population: str = "", day: dt.date | None = None
) -> QuerySet[Resident]:
    """Key-population residents in the user's scope with no contract in force today: the
    teams' visiting list (FD-01: 90 % of key populations)."""
    day = day or timezone.localdate()
    qs = scoped(user, Resident).filter(
        Q(deceased_on__isnull=True) | Q(deceased_on__gt=day), birth_date__lte=day
    )
    if village is not None:
        qs = qs.filter(home_village=village)
    if population in (KeyPopulation.ELDERLY, KeyPopulation.CHILD):
        qs = qs.filter(coverage.derived_q(population, day))
    elif population in KeyPopulation.values:
        qs = qs.filter(pk__in=coverage.tagged_ids(day, [population]))
    else:
        qs = qs.filter(coverage.key_q(day))
    return (
        qs.exclude(pk__in=Contract.objects.filter(in_force_q(day)).values("resident_id"))
        .select_related("home_village")
        .order_by("home_village__path", "name", "pk")
    )


def health_checks_due(user, *, village: Institution | None = None, day: dt.date | None = None):
    """Residents 65+ in scope without an annual health check this calendar year (FD-08)."""
    day = day or timezone.localdate()
    qs = scoped(user, Resident).filter(
        coverage.derived_q(KeyPopulation.ELDERLY, day),
        Q(deceased_on__isnull=True) | Q(deceased_on__gt=day),
    )
    if village is not None:
        qs = qs.filter(home_village=village)
    done = HealthCheck.objects.filter(checked_on__gte=day.replace(month=1, day=1))
    return (
        qs.exclude(pk__in=done.values("resident_id"))
        .select_related("home_village")
        .order_by("home_village__path", "name", "pk")
    )


# --- trends for the resident page -------------------------------------------------------------
TREND_CODES = {
    "8480-6": "sbp",
    "8462-4": "dbp",
    "1558-6": "fasting_glucose",
    "2345-7": "fasting_glucose",
    "2339-0": "random_glucose",
    "4548-4": "hba1c",
}


def trends(user, resident, *, years: int = 2) -> dict[str, Any]:
    """Blood pressure and glucose of the resident over the last ``years`` from every source
    the user may see (follow-ups, Walking Hospital visits, lab results: all are Observations),
    and the follow-ups as markers, for the ECharts on the resident page."""
    from countycare.telemed.models import Observation

    since = timezone.now() - dt.timedelta(days=365 * years)
    rows = (
        scoped(user, Observation)
        .filter(
            resident=resident, code__in=TREND_CODES, value__isnull=False, observed_at__gte=since
        )
        .order_by("observed_at", "pk")
        .values_list("code", "value", "observed_at")
    )
    series: dict[str, list] = {k: [] for k in sorted(set(TREND_CODES.values()))}
    for code, value, at in rows:
        series[TREND_CODES[code]].append(
            [timezone.localtime(at).strftime("%Y-%m-%d %H:%M"), float(value)]
        )
    follow_ups = [
        {
            "day": f.followed_on.isoformat(),
            "program": f.program,
            "class": f.classification,
            "label": str(f.get_classification_display()),
            "referral": bool(f.referral_triggers),
        }
        for f in follow_ups_for(user)
        .filter(resident=resident, followed_on__gte=timezone.localdate(since))
        .order_by("followed_on", "pk")
    ]
    # Both charts over the same days: from the first point (at most ``years`` back) to today.
    firsts = [points[0][0] for points in series.values() if points]
    first = min(firsts)[:10] if firsts else timezone.localdate(since).isoformat()
    days = [first, timezone.localdate().isoformat()]
    return {"series": series, "follow_ups": follow_ups, "range": days}


def responsible_doctor_residents(user, day: dt.date | None = None) -> list[int]:
    """Residents for whom ``user`` is the responsible family doctor of a contract in force,
    living outside the subtrees where the user holds roles (a village without a clinic served
    from a neighbouring one): architecture.md, "family doctors see their contracted
    residents". Cached on the user for the request."""
    cached = getattr(user, "_countycare_familydoctor_residents", None)
    if cached is not None:
        return cached
    day = day or timezone.localdate()
    paths = [path for _role, _inst, path in active_roles(user)]
    qs = Contract.objects.filter(in_force_q(day), doctor_id=user.pk)
    for path in paths:
        qs = qs.exclude(resident__home_village__path__startswith=path)
    ids = list(qs.values_list("resident_id", flat=True)[:5000])
    user._countycare_familydoctor_residents = ids
    return ids


def family_doctor_rule(user) -> bool | None:
    """For the referrals app (REF-03, the slots reserved for family doctors): a member of an
    active family-doctor team today is a family doctor; otherwise no opinion (the referrals
    app's default rule decides)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    day = timezone.localdate()
    serving = (
        TeamMember.objects.filter(staff=user, team__is_active=True, valid_from__lte=day)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=day))
        .exclude(function=MemberFunction.SPECIALIST)  # technical support, hospital staff
    )
    return True if serving.exists() else None
