"""Lab writes (issue 5, SHC-03) other than the HL7 ingest itself (``ingest.py``):

- :func:`enter_results` — results typed in from a device without HL7 (glucose meter, urine
  strip), validated like an analyzer's: the device's measuring range and blocks, the
  platform's reference ranges for the flag, the Walking Hospital's critical-value rules; one
  transaction, nothing half-written.
- :func:`map_code_and_replay` — the dead-letter fix: add the analyzer code mapping a message
  lacked and replay every dead letter the mapping explains.
- :func:`replay` — replay one dead letter (``ingest.replay``) for a person with the
  permission.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import audit
from countycare.core.errors import PermissionDenied, ValidationError
from countycare.core.scoping import scoped
from countycare.lab import critical_values, devices, ingest, oru
from countycare.lab.models import (
    CodeMapping,
    Hl7Message,
    LabResult,
    MessageStatus,
    RangeSource,
    ResultStatus,
)
from countycare.organizations.models import Institution
from countycare.organizations.selectors import active_roles
from countycare.residents.models import Resident
from countycare.telemed import critical
from countycare.telemed.models import (
    ExamOrder,
    Flag,
    Modality,
    Observation,
    ObservationSource,
    OrderStatus,
)

ENTER_RESULTS = "enter_results"
MANAGE_INTERFACES = "manage_interfaces"
MAX_AGE = dt.timedelta(days=7)  # a device reading typed in later than a week is not a result
LOINC = re.compile(r"^\d{1,7}-\d$")


def _require(actor, perm: str) -> None:
    if not actor.has_perm(f"countycare.{perm}"):
        raise PermissionDenied(_("Your role does not allow this action."))


def _resident(actor, resident_id) -> Resident:
    try:
        pk = int(resident_id)
    except (TypeError, ValueError):
        pk = None
    found = (
        scoped(actor, Resident).select_related("home_village").filter(pk=pk).first() if pk else None
    )
    if found is None:
        raise ValidationError(
            _("Unknown resident. Search the resident in your area first."),
            code="unknown_resident",
            field="resident",
        )
    if found.deceased_on:
        raise ValidationError(
            _("This resident is recorded as deceased."), code="deceased", field="resident"
        )
    return found


def _institution(actor, resident: Resident) -> Institution:
    """Where the actor measures this resident: the deepest institution at which the actor
    holds a role that enters results and whose subtree holds the resident's village."""
    from countycare.organizations.roles import ROLE_PERMISSIONS

    village_path = resident.home_village.path
    best: tuple[int, int] | None = None
    first: int | None = None
    for role, inst_id, path in active_roles(actor):
        if ENTER_RESULTS not in ROLE_PERMISSIONS.get(role, frozenset()):
            continue
        first = first or inst_id
        depth = path.count("/")
        if village_path.startswith(path) and (best is None or depth > best[0]):
            best = (depth, inst_id)
    chosen = best[1] if best else first
    if chosen is None:
        raise PermissionDenied(_("You hold no role at an institution that serves this resident."))
    return Institution.objects.get(pk=chosen)


def _order(actor, order_id, resident: Resident) -> ExamOrder | None:
    if order_id in (None, ""):
        return None
    try:
        pk = int(order_id)
    except (TypeError, ValueError):
        pk = None
    order = (
        scoped(actor, ExamOrder).select_related("service", "requested_by").filter(pk=pk).first()
        if pk
        else None
    )
    if order is None or order.resident_id != resident.pk:
        raise ValidationError(
            _("Unknown order for this resident."), code="unknown_order", field="order"
        )
    if order.service.modality != Modality.LAB:
        raise ValidationError(_("This is not a lab order."), code="not_lab", field="order")
    if order.status in (OrderStatus.CANCELLED, OrderStatus.DRAFT):
        raise ValidationError(
            _("A cancelled or draft order takes no results."), code="order_state", field="order"
        )
    return order


def _number(test: devices.Test, raw: str, key: str) -> Decimal:
    text = raw.strip().replace("，", ".").replace(",", ".")
    if text.upper() in {"LO", "HI"}:
        raise ValidationError(
            _(
                "%(test)s: the device shows %(shown)s, outside what it measures; send a sample "
                "to the lab."
            )
            % {"test": test.label, "shown": text.upper()},
            code="out_of_range",
            field=key,
        )
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ValidationError(
            _("%(test)s must be a number, for example %(example)s.")
            % {"test": test.label, "example": test.steps[0] if test.steps else "6.1"},
            code="not_a_number",
            field=key,
        )
    if (test.minimum is not None and value < test.minimum) or (
        test.maximum is not None and value > test.maximum
    ):
        raise ValidationError(
            _(
                "%(test)s: %(value)s is outside what the device measures (%(low)s–%(high)s "
                "%(unit)s). Check the reading; when the device shows HI or LO, send a sample to "
                "the lab."
            )
            % {
                "test": test.label,
                "value": text,
                "low": test.minimum,
                "high": test.maximum,
                "unit": test.unit,
            },
            code="out_of_range",
            field=key,
        )
    if -value.as_tuple().exponent > test.decimals:
        raise ValidationError(
            _("%(test)s: the device shows at most %(n)d decimal places.")
            % {"test": test.label, "n": test.decimals},
            code="precision",
            field=key,
        )
    if test.steps and f"{value:.{test.decimals}f}" not in {
        f"{Decimal(s):.{test.decimals}f}" for s in test.steps
    }:
        raise ValidationError(
            _("%(test)s: choose a block printed on the strip's chart.") % {"test": test.label},
            code="invalid_choice",
            field=key,
        )
    return value


def enter_results(
    actor,
    *,
    resident,
    device: str,
    values: dict[str, str],
    observed_at: dt.datetime | None = None,
    order=None,
) -> list[Observation]:
    """Results of one reading of a device without HL7 (``values``: LOINC code → what the
    device shows). Every value is checked before anything is written; an error names the
    test (``field`` is the test's form key). Returns the observations, flagged; a critical
    value raises the Walking Hospital alert to the order's requester (else the actor)."""
    _require(actor, ENTER_RESULTS)
    kit = devices.device(device)
    if kit is None:
        raise ValidationError(_("Unknown device."), code="invalid_choice", field="device")
    person = _resident(actor, resident)
    now = timezone.now()
    observed_at = observed_at or now
    if timezone.is_naive(observed_at):
        observed_at = timezone.make_aware(observed_at)
    if observed_at > now + dt.timedelta(minutes=10):
        raise ValidationError(
            _("The time of measurement cannot be in the future."),
            code="future",
            field="observed_at",
        )
    if observed_at < now - MAX_AGE:
        raise ValidationError(
            _("Results measured more than 7 days ago cannot be entered."),
            code="too_old",
            field="observed_at",
        )
    lab_order = _order(actor, order, person)
    given = {code: str(v).strip() for code, v in (values or {}).items() if str(v or "").strip()}
    unknown = [code for code in given if kit.test(code) is None]
    if unknown:
        raise ValidationError(
            _("%(device)s has no test %(code)s.") % {"device": kit.label, "code": unknown[0]},
            code="invalid_choice",
        )
    if not given:
        raise ValidationError(_("Enter at least one result."), code="required")
    if kit.one_of and len(given) > 1:
        raise ValidationError(
            _("One reading of the glucose meter is one value: fasting or random."),
            code="one_value",
        )
    parsed: list[tuple[devices.Test, Decimal | None, str]] = []
    for test in kit.tests:
        if test.code not in given:
            continue
        raw = given[test.code]
        if test.is_ordinal:
            if raw not in test.choices:
                raise ValidationError(
                    _("%(test)s: choose one of %(choices)s.")
                    % {"test": test.label, "choices": " ".join(test.choices)},
                    code="invalid_choice",
                    field=test.key,
                )
            parsed.append((test, None, raw))
        else:
            parsed.append((test, _number(test, raw, test.key), ""))
    institution = _institution(actor, person)
    notify = lab_order.requested_by if lab_order is not None else actor
    critical_values.ensure_rules()
    made: list[Observation] = []
    with transaction.atomic():
        for test, value, text in parsed:
            low = high = None
            reference = None
            if value is not None:
                found = oru.platform_range(test.code, person, observed_at, test.unit)
                if found is not None:
                    reference, low, high = found
                flag = oru.compute_flag(value, low, high)
            else:
                flag = Flag.NORMAL if text in test.normal else Flag.ABNORMAL
            observation = Observation.objects.create(
                resident=person,
                order=lab_order,
                code=test.code,
                name=test.name,
                value=value,
                value_text=text,
                unit=test.unit,
                reference_low=low,
                reference_high=high,
                flag=flag,
                source=ObservationSource.MANUAL,
                observed_at=observed_at,
                recorded_by=actor,
                institution=institution,
            )
            critical.check(observation, notify=notify, order=lab_order)
            LabResult.objects.create(
                observation=observation,
                order=lab_order,
                sender="",
                device=kit.key,
                code=test.code,
                name=test.name,
                collected_at=observed_at,
                received_at=observed_at,
                reported_at=now,
                arrived_at=now,
                range_source=RangeSource.PLATFORM if reference is not None else "",
                reference_range=reference,
                result_status=ResultStatus.FINAL,
                # Point-of-care results are not recognized across the community (SHC-01).
                recognized=False,
                entered_by=actor,
            )
            made.append(observation)
        audit.log(
            "create",
            actor=actor,
            obj=made[0],
            detail={"device": kit.key, "codes": [o.code for o in made], "manual": True},
        )
    return made


# --- dead letters -----------------------------------------------------------------------------
def replay(actor, message_id) -> Hl7Message:
    _require(actor, MANAGE_INTERFACES)
    return ingest.replay(int(message_id), actor=actor)


def map_code_and_replay(
    actor, message_id, *, local_code: str, loinc: str = "", name: str = "", unit: str = "",
    any_sender: bool = False, ignore: bool = False,
) -> tuple[CodeMapping, int, int]:  # fmt: skip
    """Add the analyzer code mapping the dead letter ``message_id`` lacked (for its sender,
    or for every sender) — to a LOINC code, or, with ``ignore``, as "not a result" (an
    instrument setting or remark) — then replay every dead letter of that sender whose
    reason names that code. Returns the mapping, how many were accepted and how many still
    fail."""
    _require(actor, MANAGE_INTERFACES)
    row = Hl7Message.objects.filter(
        pk=message_id, status__in=[MessageStatus.DEAD_LETTER, MessageStatus.ERROR]
    ).first()
    if row is None:
        raise ValidationError(_("Only a dead letter can be fixed."), code="not_dead_letter")
    local_code = (local_code or "").strip()
    loinc = (loinc or "").strip()
    if not local_code or len(local_code) > 40:
        raise ValidationError(
            _("Enter the analyzer's code (up to 40 characters)."), code="required",
            field="local_code",
        )  # fmt: skip
    if ignore:
        loinc = ""
    elif not LOINC.match(loinc) or not oru.is_loinc(loinc):
        raise ValidationError(
            _("%(code)s is not a LOINC code (digits, a hyphen and the check digit, e.g. 718-7).")
            % {"code": loinc or "—"},
            code="invalid_loinc",
            field="loinc",
        )
    sender = "" if any_sender else row.sender
    try:
        with transaction.atomic():
            mapping = CodeMapping.objects.create(
                sender=sender,
                local_code=local_code,
                loinc=loinc,
                name=(name or "").strip()[:100],
                unit=(unit or "").strip()[:20],
                ignore=ignore,
            )
    except IntegrityError:
        raise ValidationError(
            _("The code %(code)s is already mapped for this sender.") % {"code": local_code},
            code="duplicate",
            field="local_code",
        ) from None
    audit.log("create", actor=actor, obj=mapping, detail={"from_message": row.pk})
    waiting = Hl7Message.objects.filter(
        status__in=[MessageStatus.DEAD_LETTER, MessageStatus.ERROR],
        error_code="103",
        reason__contains=f" {local_code} (",
    )
    if sender:
        waiting = waiting.filter(sender=sender)
    accepted = failed = 0
    for pk in waiting.order_by("received_at", "pk").values_list("pk", flat=True):
        done = ingest.replay(pk, actor=actor)
        if done.status == MessageStatus.ACCEPTED:
            accepted += 1
        else:
            failed += 1
    return mapping, accepted, failed
