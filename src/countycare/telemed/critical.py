"""Critical values (危急值): configurable rules (CriticalRule rows; defaults from the issue
and common practice loaded by migration) checked against every observation; a hit raises an
alert to the requesting doctor and their township that must be acknowledged, and escalates
when nobody acknowledges it in time (policy ``telemed_critical_escalate_minutes``)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import audit
from countycare.core.errors import IllegalTransition, PermissionDenied
from countycare.core.scoping import scoped
from countycare.organizations import policy
from countycare.telemed import policy as telemed_policy
from countycare.telemed.models import AlertStatus, CriticalAlert, CriticalRule, Observation


def ensure_default_rules() -> None:
    """Put the default rules (their data migrations, the one source: telemed 0002 and the
    apps' own, registered in ``core.seeds``) back when the table is empty: a database flush
    (``countycare demo --reset``, transactional tests) removes them, and without rules no
    critical value would ever be raised."""
    if CriticalRule.objects.exists():
        return
    from countycare.core import seeds

    seeds.restore()


def matching_rule(observation: Observation, rules=None) -> CriticalRule | None:
    """The first active rule the observation meets. ``rules``: the active rules already
    loaded (a caller checking many observations at once, the HL7 ingest), else queried."""
    if rules is None:
        rules = CriticalRule.objects.filter(code=observation.code, is_active=True)
    for rule in rules:
        if rule.code != observation.code or not rule.is_active:
            continue
        if rule.match_any:
            return rule
        value = observation.value
        if value is None:
            continue
        if rule.low is not None and (value <= rule.low if rule.low_inclusive else value < rule.low):
            return rule
        if rule.high is not None and (
            value >= rule.high if rule.high_inclusive else value > rule.high
        ):
            return rule
    return None


def check(observation: Observation, *, notify, order=None) -> CriticalAlert | None:
    """Raise an alert when the observation meets a rule. Call inside the writing
    transaction. ``notify``: the requesting doctor."""
    rule = matching_rule(observation)
    if rule is None:
        return None
    return raise_alert(observation, rule=rule, notify=notify, order=order)


def raise_alert(
    observation: Observation,
    *,
    rule: CriticalRule | None,
    notify,
    order=None,
    message: str = "",
    flag: str = "",
    raised_at: dt.datetime | None = None,
) -> CriticalAlert:
    """Mark the observation critical and raise its alert: for ``rule``, or, with no rule,
    for a critical value the lab itself reported (an analyzer's HL7 flag LL/HH) with
    ``message``. ``flag``: LL or HH when the caller decided it (a value compared with the
    rule in another unit); else from the rule. Call inside the writing transaction."""
    observation.is_critical = True
    if flag or rule is None:
        observation.flag = flag or observation.flag
    elif observation.value is not None and rule.low is not None and observation.value < rule.low:
        observation.flag = "LL"
    elif observation.value is not None:
        observation.flag = "HH"
    observation.save(update_fields=["is_critical", "flag"])
    institution = observation.institution
    alert = CriticalAlert.objects.create(
        resident=observation.resident,
        observation=observation,
        order=order or observation.order,
        rule=rule,
        message=rule.message if rule is not None else message[:300],
        value_shown=str(observation),
        notify=notify,
        institution=institution,
        township=institution.township,
        raised_at=raised_at or timezone.now(),
    )
    audit.log(
        "create",
        actor=None,
        obj=alert,
        detail={"rule": rule.pk if rule else None, "code": observation.code},
    )
    return alert


def acknowledge(actor, alert_id: int, *, action_taken: str = "") -> CriticalAlert:
    if not actor.has_perm("countycare.ack_critical"):
        raise PermissionDenied(_("Your role does not allow acknowledging critical values."))
    with transaction.atomic():
        alert = scoped(actor, CriticalAlert).select_for_update().filter(pk=alert_id).first()
        if alert is None:
            raise PermissionDenied(_("No such alert in your area."), code="not_found")
        if alert.status == AlertStatus.ACKNOWLEDGED:
            raise IllegalTransition(
                _("This critical value was already acknowledged by %(who)s.")
                % {"who": alert.acknowledged_by}
            )
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = actor
        alert.action_taken = (action_taken or "").strip()[:500]
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "action_taken"])
        audit.log("update", actor=actor, obj=alert, detail={"status": "acknowledged"})
    return alert


def escalate_overdue(now: dt.datetime | None = None) -> int:
    """Escalate open alerts older than the policy's minutes (to the township: the alert
    becomes visible on its home page as escalated). Returns how many escalated. Run by the
    periodic task ``telemed.escalate_critical_alerts``."""
    now = now or timezone.now()
    minutes = int(policy.value(telemed_policy.CRITICAL_ESCALATE_MINUTES))
    cutoff = now - dt.timedelta(minutes=minutes)
    with transaction.atomic():
        ids = list(
            CriticalAlert.objects.filter(status=AlertStatus.OPEN, raised_at__lt=cutoff)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        CriticalAlert.objects.filter(pk__in=ids, status=AlertStatus.OPEN).update(
            status=AlertStatus.ESCALATED, escalated_at=now
        )
        for pk in ids:
            audit.log(
                "update",
                object_type="telemed.criticalalert",
                object_id=pk,
                detail={"status": "escalated", "after_minutes": minutes},
            )
    return len(ids)
