"""When data of a closed period changes, its stored indicator values become stale and a task
recomputes them (issue 9). The indicators app listens to the models it reads; the apps being
read know nothing of it ("indicators reads everyone and nobody imports indicators")."""

from __future__ import annotations

import datetime as dt

from django.apps import apps
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone

# (model label, fields whose dates say which period a row belongs to)
WATCHED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("telemed.Visit", ("visited_at",)),
    ("telemed.ExamOrder", ("submitted_at",)),
    ("telemed.CriticalAlert", ("raised_at",)),
    ("lab.LabResult", ("collected_at",)),
    ("referrals.Referral", ("requested_at",)),
    ("outreach.CircuitVisit", ("date",)),
    ("outreach.DispatchCheckIn", ("date",)),
    # A death recorded for a closed period changes its population; a registration does not
    # (a closed period keeps the registry it was computed from).
    ("residents.Resident", ("deceased_on",)),
)
# (model label, first day, last day): rows in force over a span (a contract, a tag, a
# dispatch) change every period they overlap — before and after the change.
SPANS: tuple[tuple[str, str, str], ...] = (
    ("residents.KeyPopulationTag", "recorded_on", "ended_on"),
    ("familydoctor.Contract", "start_on", "end_on"),
    ("outreach.Dispatch", "start", "end"),
)


def _months(first: dt.date | None, last: dt.date | None) -> set[dt.date]:
    """The first day of every month from ``first`` to ``last`` (open: until today)."""
    if first is None:
        return set()
    today = timezone.localdate()
    last = min(last or today, today)
    out, day = set(), first.replace(day=1)
    while day <= last:
        out.add(day)
        day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def _span_handlers(start: str, end: str):
    def before(sender, instance, raw=False, **kwargs):
        if raw or instance.pk is None:
            return
        instance._indicators_span = (
            sender.objects.filter(pk=instance.pk).values_list(start, end).first()
        )

    def changed(sender, instance, raw=False, **kwargs):
        if raw:
            return
        days = _months(getattr(instance, start), getattr(instance, end))
        previous = getattr(instance, "_indicators_span", None)
        if previous:
            days |= _months(*previous)
        today = timezone.localdate()
        if days and min(days) < today.replace(day=1):
            from countycare.indicators.services import data_changed

            data_changed(days)

    return before, changed


def _days(instance, fields: tuple[str, ...]) -> set[dt.date]:
    days = set()
    for name in fields:
        value = getattr(instance, name, None)
        if isinstance(value, dt.datetime):
            days.add(timezone.localdate(value) if timezone.is_aware(value) else value.date())
        elif isinstance(value, dt.date):
            days.add(value)
    return days


def _handler(fields: tuple[str, ...]):
    def changed(sender, instance, raw=False, **kwargs):
        if raw:  # fixtures
            return
        days = _days(instance, fields)
        today = timezone.localdate()
        # Only data dated in a month that is over can touch a stored value.
        if days and min(days) < today.replace(day=1):
            from countycare.indicators.services import data_changed

            data_changed(days)

    return changed


_handlers: list = []


def _encounters_imported(sender, days=(), **kwargs):
    """Encounters are imported in bulk (no post_save): the clinical app's own signal."""
    from countycare.indicators.services import encounters_changed

    encounters_changed(days)


def _encounter_before_save(sender, instance, raw=False, **kwargs):
    if raw or instance.pk is None:
        return
    instance._indicators_date = (
        sender.objects.filter(pk=instance.pk).values_list("date", flat=True).first()
    )


def _encounter_saved(sender, instance, raw=False, **kwargs):
    """One encounter written or deleted outside an import (admin, a future API)."""
    if raw:
        return
    from countycare.indicators.services import encounters_changed

    days = {instance.date}
    previous = getattr(instance, "_indicators_date", None)
    if previous:
        days.add(previous)
    encounters_changed(days)


def _model(label: str):
    app_label, _name = label.split(".")
    if not apps.is_installed(f"countycare.{app_label}"):
        return None
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def connect() -> None:
    if apps.is_installed("countycare.clinical"):
        from countycare.clinical.services import encounters_changed

        encounters_changed.connect(_encounters_imported, dispatch_uid="indicators:encounters")
        encounter = apps.get_model("clinical", "Encounter")
        pre_save.connect(
            _encounter_before_save, sender=encounter, dispatch_uid="indicators:encounter:pre"
        )
        post_save.connect(_encounter_saved, sender=encounter, dispatch_uid="indicators:encounter")
        post_delete.connect(
            _encounter_saved, sender=encounter, dispatch_uid="indicators:encounter:delete"
        )
    for label, start, end in SPANS:
        model = _model(label)
        if model is None:
            continue
        before, changed = _span_handlers(start, end)
        _handlers.extend((before, changed))
        pre_save.connect(before, sender=model, dispatch_uid=f"indicators:{label}:pre")
        post_save.connect(changed, sender=model, dispatch_uid=f"indicators:{label}:save")
        post_delete.connect(changed, sender=model, dispatch_uid=f"indicators:{label}:delete")
    for label, fields in WATCHED:
        model = _model(label)
        if model is None:
            continue
        handler = _handler(fields)
        _handlers.append(handler)  # signals hold weak references
        post_save.connect(handler, sender=model, dispatch_uid=f"indicators:{label}:save")
        post_delete.connect(handler, sender=model, dispatch_uid=f"indicators:{label}:delete")
