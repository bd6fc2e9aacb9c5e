"""Critical values of lab results (危急值, issue 5): the Walking Hospital's configurable rules
(telemed.CriticalRule — the glucose rules it ships, and the lab's own for WBC, haemoglobin,
platelets, serum glucose, potassium and sodium, data migration 0006) raise its alert for the
requesting doctor, who must acknowledge it; it escalates to the township when nobody does.

A rule is stated in the test's canonical unit (``units``); a result in another unit of the
same test (glucose in mg/dL) is compared after conversion, and one whose unit has no fixed
relation is not compared. A critical flag the lab sends itself (HL7 OBX-8 ``LL``/``HH``,
"below/above the panic limit") raises the alert too, even when no rule here says so.
"""

from __future__ import annotations

import datetime as dt
import importlib

from countycare.lab import units
from countycare.telemed import critical
from countycare.telemed.models import CriticalRule, Flag, Observation

LAB_RULES_MIGRATION = "countycare.lab.migrations.0007_lab_critical_rules"


def ensure_rules() -> None:
    """Put the default rules back after a database flush (``demo --reset``, transactional
    tests): the Walking Hospital's, and the lab's when none of the lab's codes has a rule."""
    from django.apps import apps

    critical.ensure_default_rules()
    migration = importlib.import_module(LAB_RULES_MIGRATION)
    if not CriticalRule.objects.filter(code__in=[r[0] for r in migration.RULES]).exists():
        migration.add(apps, None)


def active_rules() -> list[CriticalRule]:
    """Every active rule, in one query (a message checks all its results against them)."""
    rules = list(CriticalRule.objects.filter(is_active=True))
    if not rules:
        ensure_rules()
        rules = list(CriticalRule.objects.filter(is_active=True))
    return rules


def may_apply(reading, codes: set[str]) -> bool:
    """Whether :func:`check` can raise anything for the reading: a rule for its code (``codes``:
    those of the active rules), or a critical flag the analyzer sent."""
    return reading.code in codes or reading.analyzer_flag in (Flag.CRITICAL_LOW, Flag.CRITICAL_HIGH)


def check(observation: Observation, reading, *, rules, raised_at: dt.datetime | None = None):
    """Raise the alert when the (saved) observation is critical. ``reading``: its
    ``oru.Reading`` (the order to notify, the flag the analyzer sent)."""
    if reading.analyzer_flag not in (Flag.CRITICAL_LOW, Flag.CRITICAL_HIGH) and not any(
        rule.code == observation.code for rule in rules
    ):
        return None
    order = reading.order
    value = observation.value
    compared = value
    test = units.kind(observation.code)
    if value is not None and test is not None and test.canonical is not None:
        compared = units.convert(value, observation.code, observation.unit or test.canonical,
                                 test.canonical)  # fmt: skip
    rule = None
    if compared is not None or value is None:
        proxy = Observation(code=observation.code, value=compared)
        rule = critical.matching_rule(proxy, rules)
    if rule is not None:
        flag = ""
        if compared is not None:
            low_hit = rule.low is not None and (
                compared <= rule.low if rule.low_inclusive else compared < rule.low
            )
            flag = Flag.CRITICAL_LOW if low_hit else Flag.CRITICAL_HIGH
        return critical.raise_alert(
            observation, rule=rule, notify=order.requested_by, order=order, flag=flag,
            raised_at=raised_at,
        )  # fmt: skip
    if reading.analyzer_flag in (Flag.CRITICAL_LOW, Flag.CRITICAL_HIGH):
        where = "低于" if reading.analyzer_flag == Flag.CRITICAL_LOW else "高于"
        message = f"检验危急值：{observation} （检验科报告{where}危急界值）"
        return critical.raise_alert(
            observation,
            rule=None,
            notify=order.requested_by,
            order=order,
            message=message,
            flag=reading.analyzer_flag,
            raised_at=raised_at,
        )
    return None
