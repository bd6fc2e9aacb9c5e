"""Ingest one HL7 v2 result message (issue 5, SHC-03): parse it with python-hl7, match PID
to a resident and OBR to an exam order, store each OBX as an observation, check critical
values, and answer with an ACK. One transaction per message: either every observation of
the message is stored, or none is and the message waits in the dead-letter list with the
reason. The same control ID (MSH-10) from the same sender is processed once; a resend is
answered with the stored ACK."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import hl7
from django.db import IntegrityError, transaction
from django.utils import timezone

from countycare.core import audit, crypto, national_id
from countycare.core.errors import Conflict
from countycare.core.errors import ValidationError as NationalIdError
from countycare.lab import ack
from countycare.lab.models import (
    AckCode,
    CodeMapping,
    Hl7Message,
    LabResult,
    MessageStatus,
    RangeSource,
    ReferenceRange,
    ResidentIdentifier,
    ResultStatus,
)
from countycare.residents.models import Resident
from countycare.telemed import critical
from countycare.telemed.models import ExamOrder, Flag, Modality, Observation, ObservationSource

log = logging.getLogger(__name__)

SUPPORTED = {("ORU", "R01"), ("OUL", "R22")}
MAX_VALUE = Decimal("1e8")  # Observation.value: 12 digits, 4 after the point
RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*[-~_]\s*(-?\d+(?:\.\d+)?)\s*$")
BOUND = re.compile(r"^\s*([<>]=?)\s*(-?\d+(?:\.\d+)?)\s*$")
FLAGS = {"N": Flag.NORMAL, "L": Flag.LOW, "H": Flag.HIGH, "LL": Flag.CRITICAL_LOW,
         "HH": Flag.CRITICAL_HIGH, "A": Flag.ABNORMAL, "AA": Flag.ABNORMAL,
         "<": Flag.LOW, ">": Flag.HIGH}  # fmt: skip
LOINC_SHAPE = re.compile(r"^(\d{1,7})-(\d)$")
SKIPPED_RESULT_STATUS = {"X", "D", "W"}  # no result, deleted, wrong: nothing to store
RECOGNIZED_STATUS = {"F", "C"}


class Problem(Exception):
    """Why a message is answered AE (or AR) and kept as a dead letter."""

    def __init__(self, reason: str, *, code: str, location: str = "", reject: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.location = location
        self.reject = reject


@dataclass(frozen=True)
class Result:
    ack: str
    message: Hl7Message
    replayed: bool = False

    @property
    def ack_code(self) -> str:
        return self.message.ack_code


def decode(data: bytes) -> str:
    """Bytes from the wire to text: UTF-8, or GB 18030 (which Chinese analyzers send, MSH-18
    ``GB 18030-2000``) when the message says so or is not UTF-8."""
    head = data[:1024].upper()
    if b"GB" in head.split(b"\r", 1)[0] and b"MSH" in head:
        return data.decode("gb18030", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def _text(seg, field: int, comp: int = 1, rep: int = 1) -> str:
    try:
        value = seg.extract_field(1, field, rep, comp, 1)
    except (IndexError, KeyError, TypeError, AttributeError):
        return ""
    return str(value).strip()


def _repetitions(seg, field: int) -> int:
    try:
        return max(1, len(seg(field))) if field < len(seg) else 0
    except (IndexError, TypeError):
        return 0


def _envelope(msg) -> ack.Envelope:
    msh = msg.segment("MSH")
    standard = _text(msh, 2) == "^~\\&"

    def copied(field: int) -> str:
        # Copied into the ACK as sent (components and all) when the sender used the standard
        # encoding characters the ACK uses; otherwise only the first component, escaped.
        if standard and field < len(msh):
            return str(msh(field)).strip()
        return ack.escape(_text(msh, field))

    return ack.Envelope(
        sending_application=copied(3),
        sending_facility=copied(4),
        receiving_application=copied(5),
        receiving_facility=copied(6),
        control_id=copied(10),
        trigger=ack.escape(_text(msh, 9, 2)),
        processing_id=ack.escape(_text(msh, 11)) or "P",
        version=ack.escape(_text(msh, 12)) or "2.5.1",
    )


def _parse(raw: str):
    """The parsed message, or a Problem for AR (not HL7, no MSH, no control ID)."""
    text = raw.replace("\r\n", "\r").replace("\n", "\r").strip("\r\x00 \t")
    if not text.startswith("MSH") or len(text) < 8:
        raise Problem(
            "Not an HL7 v2 message: it must begin with MSH.",
            code=ack.ERR_SEGMENT_SEQUENCE,
            location="MSH",
            reject=True,
        )
    try:
        msg = hl7.parse(text)
        msh = msg.segment("MSH")
    except Exception as exc:  # python-hl7 raises several kinds on malformed input
        raise Problem(
            f"The message cannot be parsed: {exc}",
            code=ack.ERR_SEGMENT_SEQUENCE,
            location="MSH",
            reject=True,
        ) from exc
    if not _text(msh, 10):
        raise Problem(
            "MSH-10 (message control ID) is missing.",
            code=ack.ERR_REQUIRED_FIELD,
            location="MSH^1^10",
            reject=True,
        )
    if not _text(msh, 9):
        raise Problem(
            "MSH-9 (message type) is missing.",
            code=ack.ERR_REQUIRED_FIELD,
            location="MSH^1^9",
            reject=True,
        )
    return msg


def ingest(data: bytes | str, *, received_at: dt.datetime | None = None) -> Result:
    """Process one message and return the ACK to send. Never raises for bad input."""
    raw = decode(data) if isinstance(data, bytes) else data
    raw = raw.replace("\x00", "\ufffd")  # PostgreSQL text holds no NUL
    size = len(data) if isinstance(data, bytes) else len(raw.encode())
    received_at = received_at or timezone.now()
    try:
        msg = _parse(raw)
    except Problem as problem:
        return _store_problem(raw, size, received_at, ack.Envelope(), "", "", "", problem)
    envelope = _envelope(msg)
    sender = f"{envelope.sending_application}|{envelope.sending_facility}"[:200]
    control_id = envelope.control_id[:64]
    message_type = "^".join(p for p in (_text(msg.segment("MSH"), 9, 1), envelope.trigger) if p)
    stored = _stored(sender, control_id)
    if stored is not None:
        return stored
    try:
        critical.ensure_default_rules()
        with transaction.atomic():
            # A resend after our own failure is processed again.
            Hl7Message.objects.filter(
                sender=sender, control_id=control_id, status=MessageStatus.ERROR
            ).delete()
            row = Hl7Message(
                sender=sender,
                control_id=control_id,
                message_type=message_type[:40],
                raw=raw,
                size=size,
                received_at=received_at,
                status=MessageStatus.ACCEPTED,
                ack_code=AckCode.AA,
                ack=ack.build(envelope, AckCode.AA),
            )
            _apply(msg, row)
            row.save()
            _save_results(row)
            audit.log(
                "create",
                obj=row,
                detail={
                    "control_id": control_id,
                    "sender": sender,
                    "observations": row.observation_count,
                },
            )
        return Result(ack=row.ack, message=row)
    except IntegrityError:
        # The same message, sent twice at once: the other copy committed first.
        stored = _stored(sender, control_id)
        if stored is not None:
            return stored
        problem = Problem("The message could not be stored.", code=ack.ERR_INTERNAL)
        return _store_problem(
            raw,
            size,
            received_at,
            envelope,
            sender,
            control_id,
            message_type,
            problem,
            status=MessageStatus.ERROR,
        )
    except Problem as problem:
        return _store_problem(
            raw, size, received_at, envelope, sender, control_id, message_type, problem
        )
    except Exception:
        log.exception("HL7 message %s from %s failed", control_id, sender)
        problem = Problem(
            "Internal error while storing the results; send the message again.",
            code=ack.ERR_INTERNAL,
        )
        return _store_problem(
            raw,
            size,
            received_at,
            envelope,
            sender,
            control_id,
            message_type,
            problem,
            status=MessageStatus.ERROR,
        )


def _stored(sender: str, control_id: str) -> Result | None:
    row = (
        Hl7Message.objects.filter(sender=sender, control_id=control_id)
        .exclude(status=MessageStatus.ERROR)
        .first()
    )
    return Result(ack=row.ack, message=row, replayed=True) if row is not None else None


def _store_problem(
    raw,
    size,
    received_at,
    envelope,
    sender,
    control_id,
    message_type,
    problem,
    status=MessageStatus.DEAD_LETTER,
) -> Result:
    code = AckCode.AR if problem.reject else AckCode.AE
    text = ack.build(
        envelope, code, error_code=problem.code, reason=problem.reason, location=problem.location
    )
    fields = {
        "message_type": message_type[:40],
        "raw": raw,
        "size": size,
        "received_at": received_at,
        "status": status,
        "reason": problem.reason,
        "error_code": problem.code,
        "error_location": problem.location[:40],
        "ack_code": code,
        "ack": text,
    }
    if not control_id:
        row = Hl7Message.objects.create(sender=sender, control_id="", **fields)
        return Result(ack=text, message=row)
    # An earlier attempt that failed on our side is replaced; an answered one never is.
    previous = Hl7Message.objects.filter(
        sender=sender, control_id=control_id, status=MessageStatus.ERROR
    )
    if previous.update(**fields):
        return Result(
            ack=text, message=Hl7Message.objects.get(sender=sender, control_id=control_id)
        )
    try:
        with transaction.atomic():
            row = Hl7Message.objects.create(sender=sender, control_id=control_id, **fields)
    except IntegrityError:
        stored = _stored(sender, control_id)
        if stored is None:
            raise
        return stored
    return Result(ack=text, message=row)


# --- ORU^R01 / OUL^R22 -------------------------------------------------------------------


def _apply(msg, row: Hl7Message) -> None:
    kind = tuple(_text(msg.segment("MSH"), 9, i) for i in (1, 2))
    if kind not in SUPPORTED:
        raise Problem(
            f"Message type {'^'.join(kind)} is not accepted here (ORU^R01, OUL^R22).",
            code=ack.ERR_UNSUPPORTED_TYPE,
            location="MSH^1^9",
            reject=True,
        )
    segments = [str(seg(0)) for seg in msg]
    if "PID" not in segments:
        raise Problem(
            "No PID segment: the patient is not identified.",
            code=ack.ERR_SEGMENT_SEQUENCE,
            location="PID",
        )
    if "OBR" not in segments and "ORC" not in segments:
        raise Problem(
            "No OBR segment: the order is not identified.",
            code=ack.ERR_SEGMENT_SEQUENCE,
            location="OBR",
        )
    first_pid, first_obx = (
        segments.index("PID"),
        segments.index("OBX") if "OBX" in segments else None,
    )
    if first_obx is not None and first_obx < first_pid:
        raise Problem(
            "OBX before PID: wrong segment order.", code=ack.ERR_SEGMENT_SEQUENCE, location="OBX"
        )
    resident = _resident(msg.segment("PID"))
    row.resident = resident
    order = obr = None
    count = 0
    obx_seq = 0
    row._pending_results = pending = []
    msh = msg.segment("MSH")
    for seg in msg:
        name = str(seg(0))
        if name == "OBR":
            order = _order(seg, resident)
            row.order = order
            obr = seg
        elif name == "OBX":
            obx_seq += 1
            if order is None:
                raise Problem(
                    "OBX before any OBR: the result has no order.",
                    code=ack.ERR_SEGMENT_SEQUENCE,
                    location=f"OBX^{obx_seq}",
                )
            made = _observation(seg, obx_seq, resident, order, msg, obr, row.sender)
            if made is None:
                continue
            observation, range_source, reference_range = made
            status = result_status(_text(seg, 11))
            observation.save()
            critical.check(observation, notify=order.requested_by, order=order)
            pending.append(
                LabResult(
                    observation=observation,
                    order=order,
                    sender=row.sender,
                    code=observation.code,
                    name=observation.name,
                    collected_at=_when(_text(obr, 7)),
                    received_at=_when(_text(obr, 14)) or row.received_at,
                    reported_at=_when(_text(obr, 22)) or _when(_text(msh, 7)),
                    arrived_at=row.received_at,
                    range_source=range_source,
                    reference_range=reference_range,
                    result_status=status,
                    # Result recognition (SHC-01): a final result of a community lab.
                    recognized=status in RECOGNIZED_STATUS,
                )
            )
            count += 1
    if count == 0:
        raise Problem(
            "The message carries no result (no OBX with a value).",
            code=ack.ERR_REQUIRED_FIELD,
            location="OBX",
        )
    row.observation_count = count


def result_status(text: str) -> str:
    """OBX-11 as stored: final (F, or nothing sent), corrected (C), preliminary (P, and the
    partial or pending S, I), entered but not verified (R)."""
    code = text.strip().upper()[:1]
    if code in {"", "F"}:
        return ResultStatus.FINAL
    if code == "C":
        return ResultStatus.CORRECTED
    if code == "R":
        return ResultStatus.RESULTS_ENTERED
    return ResultStatus.PRELIMINARY


def _resident(pid) -> Resident:
    """PID-3: the national ID (identifier type NNCHN, or any value that is a valid one), then
    a medical record number registered for the assigning authority."""
    ids = []
    for rep in range(1, _repetitions(pid, 3) + 1):
        value = _text(pid, 3, 1, rep)
        if value:
            ids.append((value, _text(pid, 3, 4, rep), _text(pid, 3, 5, rep).upper()))
    if not ids:
        raise Problem(
            "PID-3 (patient identifier) is missing.",
            code=ack.ERR_REQUIRED_FIELD,
            location="PID^1^3",
        )
    for value, _authority, kind in ids:
        if kind in {"NNCHN", "NI", "ID", ""} or kind.startswith("NN"):
            try:
                number = national_id.parse(value).number
            except (NationalIdError, ValueError, AttributeError):
                continue
            found = Resident.objects.filter(national_id_hash=crypto.lookup_hash(number)).first()
            if found is not None:
                return found
    for value, authority, _kind in ids:
        found = (
            ResidentIdentifier.objects.filter(value=value, authority__in=[authority, ""])
            .select_related("resident")
            .order_by("-authority")
            .first()
        )
        if found is not None:
            return found.resident
    shown = ", ".join(f"{national_id.mask(v) if len(v) == 18 else v}" for v, _a, _k in ids)
    raise Problem(
        f"Unknown patient: no resident has the identifier(s) {shown} in PID-3.",
        code=ack.ERR_UNKNOWN_KEY,
        location="PID^1^3",
    )


def _order(obr, resident: Resident) -> ExamOrder:
    numbers = [n for n in (_text(obr, 2), _text(obr, 3)) if n]
    if not numbers:
        raise Problem(
            "OBR-2 and OBR-3 (placer and filler order numbers) are both missing.",
            code=ack.ERR_REQUIRED_FIELD,
            location="OBR^1^2",
        )
    order = (
        ExamOrder.objects.filter(accession_number__in=numbers)
        .select_related("service", "center__institution", "requested_by")
        .first()
    )
    if order is None:
        raise Problem(
            f"Unknown order {' / '.join(numbers)} in OBR-2/OBR-3.",
            code=ack.ERR_UNKNOWN_KEY,
            location="OBR^1^2",
        )
    if order.resident_id != resident.pk:
        raise Problem(
            f"Order {order.accession_number} belongs to another patient than PID-3.",
            code=ack.ERR_UNKNOWN_KEY,
            location="OBR^1^2",
        )
    if order.service.modality != Modality.LAB:
        raise Problem(
            f"Order {order.accession_number} is not a lab order.",
            code=ack.ERR_UNKNOWN_KEY,
            location="OBR^1^2",
        )
    return order


def _save_results(row: Hl7Message) -> None:
    """The per-test lab records of an accepted message, once the message row has its key."""
    pending = getattr(row, "_pending_results", [])
    for result in pending:
        result.message = row
    LabResult.objects.bulk_create(pending)
    row._pending_results = []


def _observation(obx, seq: int, resident, order, msg, obr=None, sender: str = ""):
    """The observation of one OBX (unsaved), where its range came from and the platform
    range used; None when the OBX carries nothing to store."""
    where = f"OBX^{seq}"
    if _text(obx, 11).upper() in SKIPPED_RESULT_STATUS:
        return None
    code, name, mapped_unit = _code(obx, where, sender)
    value_type = _text(obx, 2).upper()
    raw_value = _text(obx, 5)
    value, value_text = None, ""
    if value_type == "NM":
        try:
            value = Decimal(raw_value)
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or abs(value) >= MAX_VALUE:
            raise Problem(
                f"{where}: {name} must be a number, got {raw_value!r}.",
                code=ack.ERR_DATA_TYPE,
                location=f"{where}^5",
            )
    elif value_type == "SN":
        comparator, number = _text(obx, 5, 1), _text(obx, 5, 2)
        try:
            if comparator in {"", "="}:
                value = Decimal(number)
            else:
                value_text = f"{comparator}{number}"
        except InvalidOperation:
            raise Problem(
                f"{where}: {name} is not a structured number.",
                code=ack.ERR_DATA_TYPE,
                location=f"{where}^5",
            ) from None
    else:
        value_text = raw_value or _text(obx, 5, 2)
    if value is None and not value_text:
        return None
    unit = (_text(obx, 6) or mapped_unit)[:20]
    observed_at = (
        _when(_text(obx, 14))
        or _when(_text(obr if obr is not None else msg.segment("OBR"), 7))
        or _when(_text(msg.segment("MSH"), 7))
        or timezone.now()
    )
    low, high = _range(_text(obx, 7))
    flag = FLAGS.get(_text(obx, 8).upper())
    range_source = RangeSource.ANALYZER if low is not None or high is not None else ""
    reference_range = None
    if flag is None and range_source == "" and value is not None:
        # The analyzer sent neither range nor flag: the platform's range for the resident's
        # sex and age on the day of the observation.
        reference_range = platform_range(code, resident, observed_at, unit)
        if reference_range is not None:
            low, high = reference_range.low, reference_range.high
            range_source = RangeSource.PLATFORM
    if flag is None:
        flag = _flag(value, low, high)
        if reference_range is not None and value is not None:
            if reference_range.critical_low is not None and value < reference_range.critical_low:
                flag = Flag.CRITICAL_LOW
            elif (
                reference_range.critical_high is not None and value > reference_range.critical_high
            ):
                flag = Flag.CRITICAL_HIGH
    observation = Observation(
        resident=resident,
        order=order,
        code=code,
        name=name[:100],
        value=value,
        value_text=value_text[:200],
        unit=unit,
        reference_low=low,
        reference_high=high,
        flag=flag,
        source=ObservationSource.HL7,
        observed_at=observed_at,
        institution=order.center.institution,
    )
    return observation, range_source, reference_range


def _unit_key(unit: str) -> str:
    return unit.strip().lower().replace("^", "*").replace(" ", "").replace("×", "")


def platform_range(code: str, resident, when: dt.datetime, unit: str = ""):
    """The ReferenceRange for ``code`` at the resident's age on ``when`` and sex (a row for
    the sex before one for any sex); None when there is none or its unit differs from the
    result's (a range in other units would flag wrongly)."""
    age = resident.age_on(timezone.localdate(when))
    found = (
        ReferenceRange.objects.filter(
            code=code, sex__in=[resident.sex, ""], age_min__lte=age, age_max__gt=age
        )
        .order_by("-sex", "-age_min")
        .first()
    )
    if found is None:
        return None
    if unit and found.unit and _unit_key(unit) != _unit_key(found.unit):
        return None
    return found


def _code(obx, where: str, sender: str = "") -> tuple[str, str, str]:
    """OBX-3: the LOINC code (coding system LN, first or alternate identifier), else the
    analyzer's local code mapped through the code table (CodeMapping, this sender's row
    before one for any sender). Returns code, name and the mapping's unit ("" if none)."""
    ident, text, system = (_text(obx, 3, i) for i in (1, 2, 3))
    alt, alt_text, alt_system = (_text(obx, 3, i) for i in (4, 5, 6))
    if system.upper() == "LN" and ident:
        return ident[:40], text or alt_text or ident, ""
    if alt_system.upper() == "LN" and alt:
        return alt[:40], alt_text or text or alt, ""
    if ident:
        mapping = (
            CodeMapping.objects.filter(local_code=ident[:40], sender__in=[sender, ""])
            .order_by("-sender")
            .first()
        )
        if mapping is not None:
            return mapping.loinc, mapping.name or text or mapping.loinc, mapping.unit
    # Older senders (the v2.4 standard's own GHH LAB example among them) put the LOINC long
    # name where the coding system belongs; a code with LOINC's check digit, not marked as a
    # local code (99zzz or L), is taken as LOINC.
    if _is_loinc(ident) and not system.upper().startswith(("99", "L")):
        return ident, text or ident, ""
    raise Problem(
        f"{where}: test {ident or '?'} ({system or 'no coding system'}) has no LOINC "
        "code and no mapping.",
        code=ack.ERR_TABLE_VALUE,
        location=f"{where}^3",
    )


def _is_loinc(code: str) -> bool:
    """LOINC codes end in a Mod 10 (Luhn) check digit: ``1554-5``."""
    m = LOINC_SHAPE.match(code)
    if not m:
        return False
    total = 0
    for i, digit in enumerate(int(c) for c in reversed(m[1])):
        if i % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10 == int(m[2])


def _range(text: str) -> tuple[Decimal | None, Decimal | None]:
    if m := RANGE.match(text):
        return Decimal(m[1]), Decimal(m[2])
    if m := BOUND.match(text):
        return (None, Decimal(m[2])) if m[1].startswith("<") else (Decimal(m[2]), None)
    return None, None


def _flag(value: Decimal | None, low: Decimal | None, high: Decimal | None) -> str:
    if value is None or (low is None and high is None):
        return ""
    if low is not None and value < low:
        return Flag.LOW
    if high is not None and value > high:
        return Flag.HIGH
    return Flag.NORMAL


def _when(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        when = hl7.parse_datetime(text)
    except (ValueError, TypeError):
        return None
    if when is None:
        return None
    return timezone.make_aware(when) if timezone.is_naive(when) else when


def replay(message_id: int, *, actor) -> Hl7Message:
    """Process a dead letter again, after a person fixed what it lacked (registered the
    medical record number, corrected the order number). Accepted: the message row becomes
    accepted and a resend from the sender is answered AA. Still failing: the new reason."""
    with transaction.atomic():
        row = (
            Hl7Message.objects.select_for_update()
            .filter(pk=message_id, status__in=[MessageStatus.DEAD_LETTER, MessageStatus.ERROR])
            .first()
        )
        if row is None:
            raise Conflict("Only a dead letter can be replayed.", code="not_dead_letter")
        try:
            critical.ensure_default_rules()
            msg = _parse(row.raw)
            envelope = _envelope(msg)
            with transaction.atomic():
                _apply(msg, row)
                row.status = MessageStatus.ACCEPTED
                row.reason, row.error_code, row.error_location = "", "", ""
                row.ack_code, row.ack = AckCode.AA, ack.build(envelope, AckCode.AA)
                row.save()
                _save_results(row)
                accepted = True
        except Problem as problem:
            accepted = False
            row.refresh_from_db()
            row.reason, row.error_code = problem.reason, problem.code
            row.error_location = problem.location[:40]
            row.save(update_fields=["reason", "error_code", "error_location"])
        audit.log(
            "update",
            actor=actor,
            obj=row,
            detail={"replay": True, "accepted": accepted, "reason": row.reason},
        )
    return row
