"""Small tables every HL7 message reads — the analyzer code table, the critical-value rules
and the analyzers' institutions — kept in memory per process for ``SECONDS`` (a listener reads them for each of
hundreds of messages a second). A save or delete in this process forgets them at once
(signals connected in ``LabConfig.ready``); another process sees a change within
``SECONDS``: a message failing meanwhile waits as a dead letter and is replayed."""

from __future__ import annotations

import threading
import time

SECONDS = 30.0
_lock = threading.Lock()
_tables: dict[str, tuple[float, object]] = {}


def _cached(name: str, load):
    now = time.monotonic()
    found = _tables.get(name)
    if found is not None and now - found[0] < SECONDS:
        return found[1]
    value = load()
    with _lock:
        _tables[name] = (now, value)
    return value


def forget(*_args, **_kwargs) -> None:
    with _lock:
        _tables.clear()
        _analyzers.clear()


_analyzers: dict[str, tuple[float, int | None]] = {}


def analyzer_institution(sender: str, received_at) -> int | None:
    """The institution of the analyzer that sends as ``sender``; the analyzer is registered
    (lab.Analyzer) on its first message, for a person to name and place."""
    from countycare.lab.models import Analyzer

    now = time.monotonic()
    found = _analyzers.get(sender)
    if found is not None and now - found[0] < SECONDS:
        return found[1]
    analyzer, _created = Analyzer.objects.get_or_create(
        sender=sender, defaults={"first_seen": received_at}
    )
    with _lock:
        _analyzers[sender] = (now, analyzer.institution_id)
    return analyzer.institution_id


def code_mappings() -> dict[tuple[str, str], object]:
    """(sender, local code) → CodeMapping; sender "" for a row that applies to any sender."""
    from countycare.lab.models import CodeMapping

    return _cached(
        "mappings", lambda: {(m.sender, m.local_code): m for m in CodeMapping.objects.all()}
    )


def critical_rules() -> list:
    """The active critical-value rules (telemed.CriticalRule), restored after a flush."""
    from countycare.lab import critical_values

    def load():
        rules = critical_values.active_rules()
        return rules

    return _cached("rules", load)


def connect() -> None:
    from django.db.models.signals import post_delete, post_save

    from countycare.lab.models import Analyzer, CodeMapping
    from countycare.telemed.models import CriticalRule

    for model in (CodeMapping, CriticalRule, Analyzer):
        post_save.connect(forget, sender=model, dispatch_uid=f"lab.caches.{model.__name__}.save")
        post_delete.connect(
            forget, sender=model, dispatch_uid=f"lab.caches.{model.__name__}.delete"
        )
