"""Building blocks for the registry's measures: each returns a function ``(ctx) -> number``
that runs one aggregate query over another app's models, restricted to the subtree and period
of ``ctx``. Models are imported inside the functions, so a missing app breaks nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.apps import apps
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)

from countycare.indicators.registry import Ctx, Source

Measure = Callable[[Ctx], float | int | None]


def any_rows(
    model_label: str, field: str | None = None, *, until: str | None = None
) -> Callable[[Ctx], bool]:
    """The source holds data: rows of the model at all, or (``field``) rows dated in the
    period anywhere in the county — so a period before the app was in use reads "no data",
    while a township without rows in a period the county has them reads a real 0.
    ``until``: rows spanning ``field`` … ``until`` (dates) that overlap the period."""

    def check(ctx: Ctx) -> bool:
        model = apps.get_model(model_label)
        if field is None:
            return model.objects.exists()
        key = f"any:{model_label}:{field}"
        if key not in ctx.memo:
            timed = isinstance(model._meta.get_field(field), DateTimeField)
            start, end = (ctx.period.start_at, ctx.period.end_at) if timed else (
                ctx.period.start, ctx.period.end)  # fmt: skip
            if until:
                q = Q(**{f"{field}__lt": end, f"{until}__gte": start})
            else:
                q = Q(**{f"{field}__gte": start, f"{field}__lt": end})
            ctx.memo[key] = model.objects.filter(q).exists()
        return ctx.memo[key]

    return check


# --- Imported statistics (indicators.ImportedStatistic) --------------------------------------
def _statistics(ctx: Ctx, metrics: tuple[str, ...], types: tuple[str, ...] | None) -> QuerySet:
    from countycare.indicators.models import ImportedStatistic

    qs = ImportedStatistic.objects.filter(institution_id__in=ctx.subtree(), metric__in=metrics)
    if types:  # the level the figure was reported at, not today's
        qs = qs.filter(institution_type__in=types)
    return qs.filter(
        month__gte=ctx.period.start,
        month__lt=ctx.period.end,
    )


def stat(*metrics: str, types: tuple[str, ...] | None = None) -> Measure:
    """Sum of imported figures of ``metrics`` over the subtree (institutions of ``types``)."""

    def measure(ctx: Ctx):
        return _statistics(ctx, metrics, types).aggregate(v=Sum("value"))["v"]

    return measure


def stat_rows(*metrics: str, types: tuple[str, ...] | None = None):
    def rows(ctx: Ctx) -> QuerySet:
        return _statistics(ctx, metrics, types).select_related("institution")

    return rows


def imported(*metrics: str) -> Source:
    """Imported statistics holding every one of ``metrics`` for the subtree and period."""

    def check(ctx: Ctx) -> bool:
        return all(_statistics(ctx, (m,), None).exists() for m in metrics)

    return Source("indicators", "导入的统计数据", "imported statistics", has_data=check)


# --- Residents ------------------------------------------------------------------------------
def reference_day(ctx: Ctx) -> dt.date:
    """The day a head count refers to: the period's last day (today while it is open)."""
    from django.utils import timezone

    return min(ctx.period.end - dt.timedelta(days=1), timezone.localdate())


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def residents_qs(ctx: Ctx) -> QuerySet:
    """Residents of the subtree on the reference day: born by then and not dead before it.
    Not filtered by when the record was registered: a county migrating its health records
    registers everyone on one day, and the people lived there before. A resident who moved
    counts once, where the registry has him now (the registry keeps no residence history)."""
    from countycare.residents.models import Resident

    day = reference_day(ctx)
    qs = Resident.objects.filter(
        Q(deceased_on__isnull=True) | Q(deceased_on__gt=day), birth_date__lte=day
    )
    return qs if _whole_tree(ctx) else qs.filter(home_village_id__in=ctx.subtree())


def key_population_q(ctx: Ctx) -> Q:
    """Elderly (65+), children (0–6) on the reference day, or a declared key-population tag
    in force that day — each resident once, however many groups he belongs to."""
    from countycare.organizations import policy
    from countycare.residents.models import KeyPopulationTag

    day = reference_day(ctx)
    elderly_age = int(policy.value(policy.ELDERLY_AGE, ctx.community_id))
    child_max = int(policy.value(policy.CHILD_MAX_AGE, ctx.community_id))
    tagged = KeyPopulationTag.objects.filter(resident_id=OuterRef("pk")).current(day)
    return (
        Q(birth_date__lte=_years_before(day, elderly_age))
        | Q(birth_date__gt=_years_before(day, child_max + 1))
        | Exists(tagged)
    )


def residents() -> Measure:
    def measure(ctx: Ctx):
        if "residents" not in ctx.memo:
            ctx.memo["residents"] = residents_qs(ctx).count()
        return ctx.memo["residents"]

    return measure


def key_population_residents() -> Measure:
    def measure(ctx: Ctx):
        if "key_residents" not in ctx.memo:
            ctx.memo["key_residents"] = residents_qs(ctx).filter(key_population_q(ctx)).count()
        return ctx.memo["key_residents"]

    return measure


# --- Staff (organizations) -------------------------------------------------------------------
def registered_gps() -> Measure:
    """Registered GPs employed in the subtree (KPI-05)."""

    def measure(ctx: Ctx):
        from countycare.organizations.models import Staff

        return Staff.objects.filter(
            is_active=True, is_registered_gp=True, employer_id__in=ctx.subtree()
        ).count()

    return measure


def _village_doctors(ctx: Ctx) -> QuerySet:
    from countycare.organizations.models import Staff
    from countycare.organizations.roles import Role

    return Staff.objects.filter(
        Q(roles__valid_until__isnull=True) | Q(roles__valid_until__gte=ctx.period.start),
        roles__role=Role.VILLAGE_DOCTOR,
        roles__institution_id__in=ctx.subtree(),
        roles__valid_from__lt=ctx.period.end,
    )


LICENSED = ("licensed_physician", "licensed_assistant_physician")


def village_doctors(*, licensed: bool = False) -> Measure:
    """Village doctors holding the role in the subtree at some time in the period (KPI-06);
    ``licensed``: those with a licensed (assistant) physician qualification."""

    def measure(ctx: Ctx):
        qs = _village_doctors(ctx)
        if licensed:
            qs = qs.filter(qualification__in=LICENSED)
        return qs.aggregate(n=Count("pk", distinct=True))["n"]

    return measure


# --- Walking Hospital (telemed) --------------------------------------------------------------
def wh_visits_qs(ctx: Ctx) -> QuerySet:
    from countycare.telemed.models import Visit

    return Visit.objects.filter(
        institution_id__in=ctx.subtree(),
        visited_at__gte=ctx.period.start_at,
        visited_at__lt=ctx.period.end_at,
    )


def wh_orders_qs(ctx: Ctx) -> QuerySet:
    from countycare.telemed.models import ExamOrder

    return ExamOrder.objects.filter(
        requesting_institution_id__in=ctx.subtree(),
        submitted_at__gte=ctx.period.start_at,
        submitted_at__lt=ctx.period.end_at,
    )


def count_of(rows: Callable[[Ctx], QuerySet]) -> Measure:
    def measure(ctx: Ctx):
        return rows(ctx).count()

    return measure


def _tat_due(ctx: Ctx):
    """Submitted + the policy's turnaround target for the order's center kind and priority
    (telemed_tat_target_minutes, SHC-03)."""
    from countycare.organizations import policy
    from countycare.telemed import policy as telemed_policy
    from countycare.telemed.stats import PRIORITIES, target_minutes

    targets = policy.value(telemed_policy.TAT_TARGET_MINUTES, ctx.community_id) or {}
    from countycare.telemed.models import CenterKind

    whens = [
        When(
            center__kind=kind,
            priority=priority,
            then=Value(dt.timedelta(minutes=target_minutes(kind, priority, targets))),
        )
        for kind in CenterKind.values
        for priority in PRIORITIES
    ]
    target = Case(*whens, default=Value(dt.timedelta(minutes=120)), output_field=DurationField())
    return ExpressionWrapper(F("submitted_at") + target, output_field=DateTimeField())


def wh_due_orders(ctx: Ctx) -> QuerySet:
    """Orders of the period with a result due: signed, or still open past their target."""
    from django.utils import timezone

    from countycare.telemed.models import QUEUE_STATES

    now = min(timezone.now(), ctx.period.end_at)
    return (
        wh_orders_qs(ctx)
        .annotate(due=_tat_due(ctx))
        .filter(Q(signed_at__isnull=False) | Q(status__in=QUEUE_STATES, due__lt=now))
    )


def wh_signed_in_time() -> Measure:
    def measure(ctx: Ctx):
        return wh_due_orders(ctx).filter(signed_at__lte=F("due")).count()

    return measure


def critical_alerts_qs(ctx: Ctx) -> QuerySet:
    from countycare.telemed.models import CriticalAlert

    return CriticalAlert.objects.filter(
        institution_id__in=ctx.subtree(),
        raised_at__gte=ctx.period.start_at,
        raised_at__lt=ctx.period.end_at,
    )


def critical_acknowledged_in_time() -> Measure:
    """Alerts acknowledged before they escalate (telemed_critical_escalate_minutes)."""

    def measure(ctx: Ctx):
        from countycare.organizations import policy
        from countycare.telemed import policy as telemed_policy

        minutes = int(policy.value(telemed_policy.CRITICAL_ESCALATE_MINUTES, ctx.community_id))
        limit = ExpressionWrapper(
            F("raised_at") + Value(dt.timedelta(minutes=minutes)), output_field=DateTimeField()
        )
        return (
            critical_alerts_qs(ctx)
            .annotate(limit=limit)
            .filter(acknowledged_at__isnull=False, acknowledged_at__lte=F("limit"))
            .count()
        )

    return measure


# --- Lab (lab.LabResult) ---------------------------------------------------------------------
def lab_results_qs(ctx: Ctx) -> QuerySet:
    """Results collected in the period for orders requested in the subtree or read at a
    center of one of its hospitals (SHC-03)."""
    from countycare.lab.models import LabResult

    subtree = ctx.subtree()
    return LabResult.objects.filter(
        Q(order__requesting_institution_id__in=subtree) | Q(order__center__institution_id__in=subtree),
        collected_at__gte=ctx.period.start_at,
        collected_at__lt=ctx.period.end_at,
    )  # fmt: skip


def lab_orders_qs(ctx: Ctx) -> QuerySet:
    """The exam orders behind the period's lab results (orders carry the scoping rules)."""
    from countycare.telemed.models import ExamOrder

    return ExamOrder.objects.filter(pk__in=lab_results_qs(ctx).values("order_id"))


# --- Another app's figures ------------------------------------------------------------------
def app_figures(module: str, function: str, *, dates: str = "inclusive"):
    """The figures an app exposes for a subtree and a period, as ``function(institution,
    start, end) -> dict``, fetched once per computation (memoised on ``ctx``). ``dates``: how
    the app takes the period — ``inclusive`` (first and last day), ``exclusive`` (first day,
    day after) or ``datetimes`` (aware bounds, end exclusive)."""

    def get(ctx: Ctx) -> dict:
        key = f"{module}.{function}"
        if key not in ctx.memo:
            from importlib import import_module

            func = getattr(import_module(module), function)
            p = ctx.period
            if dates == "datetimes":
                bounds = (p.start_at, p.end_at)
            elif dates == "exclusive":
                bounds = (p.start, p.end)
            else:
                bounds = (p.start, p.end - dt.timedelta(days=1))
            ctx.memo[key] = func(ctx.institution, *bounds)
        return ctx.memo[key]

    return get


def figure(get, *keys: str) -> Measure:
    """The sum of one or more (dotted) keys of an app's figures."""

    def measure(ctx: Ctx):
        data = get(ctx)
        total = 0
        for key in keys:
            value = data
            for part in key.split("."):
                value = value[part]
            total += value or 0
        return total

    return measure


# --- Encounters (clinical.Encounter: HIS exports and insurance settlement data) --------------
def _subtree_ids(ctx: Ctx) -> list[int]:
    """The subtree's institution ids as a list (a few dozen below the county), so the
    encounter query can use its (institution, date) and (residence, date) indexes."""
    if "subtree_ids" not in ctx.memo:
        ctx.memo["subtree_ids"] = list(ctx.subtree().values_list("pk", flat=True))
    return ctx.memo["subtree_ids"]


def _whole_tree(ctx: Ctx) -> bool:
    """The subtree is every institution (the one root of the tree): no filter needed."""
    from countycare.organizations.models import Institution

    if ctx.institution.parent_id is not None:
        return False
    if "whole_tree" not in ctx.memo:
        others = Institution.objects.filter(parent__isnull=True).exclude(pk=ctx.institution.pk)
        ctx.memo["whole_tree"] = not others.exists()
    return ctx.memo["whole_tree"]


def encounter_figures(ctx: Ctx) -> dict:
    """All the encounter counts the indicators need for the subtree and period, in one
    aggregate query over the encounters counted per month (``EncounterMonth``, kept in step
    with the encounters), memoised on ``ctx``. Two sides:

    - *where it happened* (``at``): encounters at institutions of the subtree, by the level
      the institution had on the day — grassroots visit rate and shares (KPI-01, KPI-02,
      KPI-04), insurance fund (KPI-02);
    - *who it was* (``of``): encounters of people living in the subtree on the day, in or
      out of the county — the in-county visit rate (KPI-01).

    At the top of the tree every institution and every residence is in the subtree, and the
    query filters on the period alone."""
    if "encounters" in ctx.memo:
        return ctx.memo["encounters"]
    from countycare.clinical.models import OUTPATIENT_KINDS
    from countycare.indicators.models import EncounterMonth
    from countycare.organizations.models import GRASSROOTS_TYPES

    qs = EncounterMonth.objects.filter(month__gte=ctx.period.start, month__lt=ctx.period.end)
    if _whole_tree(ctx):
        at, of = Q(institution__isnull=False), Q(residence__isnull=False)
    else:
        ids = _subtree_ids(ctx)
        at, of = Q(institution_id__in=ids), Q(residence_id__in=ids)
        qs = qs.filter(at | of)
    grassroots = Q(institution_type__in=GRASSROOTS_TYPES)
    outpatient = Q(kind__in=OUTPATIENT_KINDS)
    figures = qs.aggregate(
        rows=Sum("encounter_count"),
        residents_visits=Sum("encounter_count", filter=of),
        residents_in_county=Sum("encounter_count", filter=of & Q(institution__isnull=False)),
        visits=Sum("encounter_count", filter=at),
        grassroots_visits=Sum("encounter_count", filter=at & grassroots),
        outpatient=Sum("encounter_count", filter=at & outpatient),
        grassroots_outpatient=Sum("encounter_count", filter=at & grassroots & outpatient),
        grassroots_tcm_outpatient=Sum("encounter_count", filter=at & grassroots & outpatient & Q(tcm=True)),
        fund_rows=Sum("fund_count", filter=at),
        fund=Sum("fund_paid", filter=at),
        grassroots_fund=Sum("fund_paid", filter=at & grassroots),
    )  # fmt: skip
    counts = {k for k in figures if k not in ("fund", "grassroots_fund")}
    figures = {k: (v or 0) if k in counts else v for k, v in figures.items()}
    ctx.memo["encounters"] = figures
    return figures


def encounters(key: str) -> Measure:
    def measure(ctx: Ctx):
        return encounter_figures(ctx)[key]

    return measure


def encounter_source(zh: str, en: str, *, needs: str = "rows", county_wide: str = "") -> Source:
    """Encounters holding data for the subtree and period: ``needs`` is a key of
    :func:`encounter_figures` that must be above 0. ``county_wide``: a further condition on
    the period's encounters anywhere — ``out_of_county``: the period has out-of-county
    encounters (insurance settlement data imported), without which an in-county rate would
    read 100 % for want of knowing the visits outside."""

    def check(ctx: Ctx) -> bool:
        if not encounter_figures(ctx)[needs]:
            return False
        if county_wide == "out_of_county":
            key = f"encounters_out_{ctx.period.code}"
            if key not in ctx.memo:
                from countycare.indicators.models import EncounterMonth

                ctx.memo[key] = EncounterMonth.objects.filter(
                    institution__isnull=True,
                    month__gte=ctx.period.start,
                    month__lt=ctx.period.end,
                ).exists()
            return ctx.memo[key]
        return True

    return Source("clinical", zh, en, has_data=check)


def encounter_rows(
    side: str, *, grassroots: bool = False, outpatient: bool = False, tcm: bool = False
):
    """The encounters behind a number (records: only through scoped())."""

    def rows(ctx: Ctx) -> QuerySet:
        from countycare.clinical.models import OUTPATIENT_KINDS, Encounter
        from countycare.organizations.models import GRASSROOTS_TYPES

        field = "institution_id" if side == "at" else "residence_id"
        qs = Encounter.objects.filter(
            **{f"{field}__in": ctx.subtree()},
            date__gte=ctx.period.start,
            date__lt=ctx.period.end,
        )
        if grassroots:
            qs = qs.filter(institution_type__in=GRASSROOTS_TYPES)
        if outpatient:
            qs = qs.filter(kind__in=OUTPATIENT_KINDS)
        if tcm:
            qs = qs.filter(tcm=True)
        return qs.select_related("institution", "residence").order_by("-date", "-pk")

    return rows
