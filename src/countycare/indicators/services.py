"""Writes of the indicators app: importing statistics, materialising indicator values for
closed periods, and marking them stale when their data changes (then a task recomputes)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import audit
from countycare.core.errors import ValidationError
from countycare.indicators import imports
from countycare.indicators.compute import compute_all, met
from countycare.indicators.models import ImportedStatistic, IndicatorValue, StatisticImport
from countycare.indicators.periods import Period, of_date
from countycare.indicators.registry import Ctx, Outcome, all_indicators, get
from countycare.organizations.models import Institution

VALUE_FIELDS = [
    "status", "numerator", "denominator", "value", "target", "target_year", "met", "way",
    "version", "computed_at",
]  # fmt: skip


def import_statistics(*, user, file_name: str, content: bytes, source: str = "") -> StatisticImport:
    """Validate and store a file of periodic figures (all rows or none). A figure already
    held for the same institution, month and metric is replaced (so importing a file again is
    harmless). Closed periods it touches are recomputed."""
    parsed = imports.parse(file_name, content)
    if parsed.errors:
        raise ValidationError(
            _("The file was not imported: %(n)d problem(s). Correct them and import it again.")
            % {"n": len(parsed.errors)},
            code="invalid_file",
            field="file",
            extra={"problems": parsed.errors},
        )
    digest = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        batch = StatisticImport.objects.create(
            file_name=file_name[:255],
            sha256=digest,
            source=source[:100],
            rows=len(parsed.rows),
            imported_by=user if getattr(user, "is_authenticated", False) else None,
        )
        ImportedStatistic.objects.bulk_create(
            [
                ImportedStatistic(
                    institution_id=r.institution_id,
                    institution_type=r.institution_type,
                    month=r.month,
                    metric=r.metric,
                    value=r.value,
                    batch=batch,
                )
                for r in parsed.rows
            ],
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["institution", "month", "metric"],
            # Not the institution type: a figure keeps the level it was first reported at.
            update_fields=["value", "batch"],
        )
        audit.log(
            "create",
            actor=user,
            obj=batch,
            detail={"rows": batch.rows, "sha256": digest, "source": source},
        )
        data_changed({r.month for r in parsed.rows})
    return batch


def data_changed(days: Iterable[dt.date]) -> int:
    """Data dated on ``days`` changed: the stored values of the closed periods containing
    them are stale; a task recomputes them after the commit. Cheap when nothing is stored."""
    today = timezone.localdate()
    codes = {p.code for day in days for p in of_date(day) if p.is_closed(today)}
    if not codes:
        return 0
    marked = IndicatorValue.objects.filter(period__in=codes, stale=False).update(stale=True)
    if marked:
        from countycare.indicators import tasks

        transaction.on_commit(tasks.recompute_stale.delay)
    return marked


def _first_days(days: Iterable[dt.date]) -> list[dt.date]:
    return sorted({day.replace(day=1) for day in days})


def refresh_encounter_months(days: Iterable[dt.date]) -> int:
    """Rebuild :class:`EncounterMonth` for the months of ``days`` from the encounters: one
    ``INSERT … SELECT … GROUP BY`` per month (after deleting the month), in the caller's
    transaction. Returns the rows written."""
    from django.apps import apps
    from django.db import connection

    from countycare.indicators.models import EncounterMonth

    if not apps.is_installed("countycare.clinical"):
        return 0
    encounter = apps.get_model("clinical", "Encounter")._meta.db_table
    table = EncounterMonth._meta.db_table
    # Table names from the models; the values are parameters.
    insert = (
        f"INSERT INTO {table} (month, institution_id, institution_type, residence_id, kind, "  # noqa: S608
        "tcm, encounter_count, fund_count, fund_paid) SELECT %s, institution_id, "
        "institution_type, residence_id, kind, tcm, COUNT(*), COUNT(fund_paid), SUM(fund_paid) "
        f"FROM {encounter} WHERE date >= %s AND date < %s "
        "GROUP BY institution_id, institution_type, residence_id, kind, tcm"
    )
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for first in _first_days(days):
            end = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            EncounterMonth.objects.filter(month=first).delete()
            cursor.execute(insert, [first, first, end])
            written += max(cursor.rowcount, 0)
    return written


def encounters_changed(days: Iterable[dt.date]) -> None:
    """Encounters dated on ``days`` changed: rebuild their months now (the figures are never
    behind the encounters) and mark the stored values of closed periods stale."""
    days = set(days)
    if not days:
        return
    refresh_encounter_months(days)
    data_changed(days)


def store(institution: Institution, period: Period, outcomes: list[Outcome]) -> None:
    now = timezone.now()
    IndicatorValue.objects.bulk_create(
        [
            IndicatorValue(
                code=o.indicator.code,
                institution=institution,
                period=period.code,
                status=o.status,
                numerator=o.numerator,
                denominator=o.denominator,
                value=o.value,
                target=o.target,
                target_year=o.target_year,
                met=o.met,
                way=o.way,
                version=catalog_version(),
                computed_at=now,
                stale=False,
            )
            for o in outcomes
        ],
        update_conflicts=True,
        unique_fields=["code", "institution", "period"],
        update_fields=[*VALUE_FIELDS, "stale"],
    )


def materialise(institution: Institution, period: Period) -> list[Outcome]:
    """Compute every indicator for the subtree and period and store it."""
    outcomes = compute_all(institution, period)
    store(institution, period, outcomes)
    return outcomes


def recompute_stale(limit: int = 500) -> int:
    """Recompute the stale (institution, period) pairs. Each pair is claimed by clearing its
    stale marks first (a conditional update), so two workers never redo the same pair and a
    change arriving during the computation marks it stale again for the next run."""
    from countycare.indicators.periods import parse

    pairs = list(
        IndicatorValue.objects.filter(stale=True)
        .values_list("institution_id", "period")
        .distinct()
        .order_by("period", "institution_id")[:limit]
    )
    done = 0
    for institution_id, code in pairs:
        claimed = IndicatorValue.objects.filter(
            institution_id=institution_id, period=code, stale=True
        ).update(stale=False)
        if not claimed:
            continue
        institution = Institution.objects.get(pk=institution_id)
        period = parse(code)
        outcomes = compute_all(institution, period)
        now = timezone.now()
        for o in outcomes:
            IndicatorValue.objects.update_or_create(
                code=o.indicator.code,
                institution=institution,
                period=code,
                defaults={
                    "status": o.status,
                    "numerator": o.numerator,
                    "denominator": o.denominator,
                    "value": o.value,
                    "target": o.target,
                    "target_year": o.target_year,
                    "met": o.met,
                    "way": o.way,
                    "version": catalog_version(),
                    "computed_at": now,
                },
            )
        done += 1
    return done


def outcomes_for(
    institution: Institution, period: Period, *, use_store: bool = True
) -> list[Outcome]:
    """The indicators of a subtree and period for the pages, command and API: a closed
    period's stored values when all are stored and fresh (computed and stored otherwise), an
    open period computed live."""
    indicators = all_indicators()
    if not (use_store and period.is_closed()):
        return compute_all(institution, period, indicators)
    stored = {
        v.code: v
        for v in IndicatorValue.objects.filter(institution=institution, period=period.code)
    }
    version = catalog_version()
    if len(stored) < len(indicators) or any(
        v.stale or v.version != version for v in stored.values()
    ):
        return materialise(institution, period)
    community = Ctx(institution, period).community_id
    return [
        from_stored(indicator, stored[indicator.code], period, community)
        for indicator in indicators
    ]


def catalog_version() -> int:
    from countycare.indicators import catalog

    return catalog.VERSION


def from_stored(indicator, v: IndicatorValue, period: Period, community) -> Outcome:
    """A stored value with the target in force now: a county changing a target sees its
    closed periods judged against it without recomputing them."""
    if v.status == IndicatorValue.Status.NOT_APPLICABLE:
        target, target_year, met_now = None, None, None
    else:
        target, target_year = indicator.target_for(period.year, community)
        met_now = met(v.value, target, indicator.direction)
    return Outcome(indicator, v.status, v.numerator, v.denominator, v.value, target,
                   target_year, met_now, v.way)  # fmt: skip


def outcome_for(code: str, institution: Institution, period: Period) -> Outcome | None:
    indicator = get(code)
    if indicator is None:
        return None
    if period.is_closed():
        v = IndicatorValue.objects.filter(
            code=code, institution=institution, period=period.code, stale=False,
            version=catalog_version(),
        ).first()  # fmt: skip
        if v is not None:
            return from_stored(indicator, v, period, Ctx(institution, period).community_id)
    from countycare.indicators.compute import compute

    return compute(indicator, institution, period)
