"""Ingest one HL7 v2 result message (issue 5, SHC-03): parse it with python-hl7, read it into
observations (``oru.read``), store them with their lab records and critical values, and
answer with an ACK — AA accepted, AE error (with an ERR segment saying what and where), AR
rejected (not an HL7 result message we take).

Nothing half-stored: one transaction per message; either every result of the message is
stored, or none is and the message waits, whole, in the dead-letter list with the reason.

Processed once: the same control ID (MSH-10) from the same sender with the same content (the
message after its MSH segment) is a resend and gets the stored ACK back. A resend of a dead
letter is tried again (nothing of it was stored; the cause may be fixed by now). The same
control ID with *other* content is not a resend — an analyzer that restarted its numbering
— and waits as a dead letter (AE 205) for a person to look at and replay, rather than being
dropped or stored twice. Never raises for bad input; a failure of our own (AE 207) is
processed again when resent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass

import hl7
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from countycare.core import audit
from countycare.core.errors import Conflict
from countycare.lab import ack, caches, critical_values, oru, parser, rows
from countycare.lab.models import (
    AckCode,
    Hl7Message,
    LabResult,
    MessageStatus,
)
from countycare.lab.oru import Problem, gettext_noop
from countycare.telemed.models import Observation, ObservationSource

log = logging.getLogger(__name__)

# A lab result is a few KB; with the analyzers' histograms a few hundred. More is a fault (or
# an attack): answered AR, kept whole as a file.
MAX_MESSAGE_BYTES = 1024 * 1024
KEPT_IN_ROW = 64 * 1024
SUPPORTED_VERSION_PREFIX = "2."

# Kept for callers of the earlier module layout.
platform_range = oru.platform_range
result_status = oru.result_status
compute_flag = oru.compute_flag
is_loinc = oru.is_loinc


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


def _normalized(raw: str) -> str:
    return raw.replace("\r\n", "\r").replace("\n", "\r").strip("\r\x00 \t")


def digest_of(text: str) -> str:
    """SHA-256 of the message after its MSH segment (MSH-7 and the like may change when an
    analyzer resends; the results do not)."""
    body = text.split("\r", 1)[1] if "\r" in text else ""
    return hashlib.sha256(body.encode("utf-8", errors="replace")).hexdigest()


def _check_encoding(text: str) -> None:
    separator = text[3]
    end = text.find(separator, 4)
    chars = text[4:end] if end > 0 else ""
    ok_separator = not separator.isalnum() and separator not in " \r\n\t"
    ok_chars = (
        2 <= len(chars) <= 5
        and len(set(chars)) == len(chars)
        and separator not in chars
        and not any(c.isalnum() or c in " \r\n\t" for c in chars)
    )
    if not (ok_separator and ok_chars):
        raise Problem(
            gettext_noop(
                "MSH-1/MSH-2: the field separator %(sep)s and encoding characters %(chars)s "
                "are not valid (expected e.g. | and ^~\\&: distinct, not letters or digits)."
            ),
            {"sep": repr(separator), "chars": repr(chars[:8])},
            code=ack.ERR_DATA_TYPE,
            location="MSH^1^2",
            reject=True,
        )


def _parse(raw: str):
    """The parsed message, or a Problem for AR (not HL7, broken MSH, missing MSH fields)."""
    text = _normalized(raw)
    if not text.startswith("MSH") or len(text) < 8:
        raise Problem(
            gettext_noop("Not an HL7 v2 message: it must begin with MSH."),
            code=ack.ERR_SEGMENT_SEQUENCE,
            location="MSH",
            reject=True,
        )
    _check_encoding(text)
    try:
        msg = parser.parse(text)
        msh = msg.segment("MSH")
    except Exception as exc:  # python-hl7 raises several kinds on malformed input
        raise Problem(
            gettext_noop("The message cannot be parsed: %(error)s"),
            {"error": str(exc)[:200]},
            code=ack.ERR_SEGMENT_SEQUENCE,
            location="MSH",
            reject=True,
        ) from exc
    try:
        _check_msh(msh)
    except Problem as problem:
        problem.msg = msg  # parsed: the ACK still answers the sender and its control ID
        raise
    return msg


def _check_msh(msh) -> None:
    required = (
        (9, gettext_noop("MSH-9 (message type) is missing.")),
        (10, gettext_noop("MSH-10 (message control ID) is missing.")),
        (11, gettext_noop("MSH-11 (processing ID) is missing.")),
        (12, gettext_noop("MSH-12 (version ID) is missing.")),
    )
    for field_no, msgid in required:
        if not oru.text(msh, field_no):
            raise Problem(
                msgid, code=ack.ERR_REQUIRED_FIELD, location=f"MSH^1^{field_no}", reject=True
            )
    version = oru.text(msh, 12)
    if not version.startswith(SUPPORTED_VERSION_PREFIX):
        raise Problem(
            gettext_noop("MSH-12: HL7 version %(version)s is not supported (2.x)."),
            {"version": version[:20]},
            code=ack.ERR_UNSUPPORTED_VERSION,
            location="MSH^1^12",
            reject=True,
        )
    processing = oru.text(msh, 11).upper()
    if processing != "P":
        raise Problem(
            gettext_noop(
                "MSH-11: processing ID %(id)s; this listener takes production messages (P) only."
            ),
            {"id": processing[:5]},
            code=ack.ERR_UNSUPPORTED_PROCESSING_ID,
            location="MSH^1^11",
            reject=True,
        )


def _envelope(msg) -> ack.Envelope:
    msh = oru.header(msg)
    standard = str(msh(1)) == "|" and oru.text(msh, 2) == "^~\\&"

    def copied(field_no: int) -> str:
        # Copied into the ACK as sent (components and all) when the sender used the standard
        # encoding characters the ACK uses; otherwise only the first component, escaped.
        if standard and field_no < len(msh):
            return str(msh(field_no)).strip()
        return ack.escape(oru.text(msh, field_no))

    return ack.Envelope(
        sending_application=copied(3),
        sending_facility=copied(4),
        receiving_application=copied(5),
        receiving_facility=copied(6),
        control_id=copied(10),
        trigger=ack.escape(oru.text(msh, 9, 2)),
        processing_id=ack.escape(oru.text(msh, 11)) or "P",
        version=ack.escape(oru.text(msh, 12)) or "2.5.1",
    )


def _head_envelope(text: str) -> ack.Envelope:
    """The envelope of a message too large to parse, from its MSH segment alone."""
    try:
        first = _normalized(text).split("\r", 1)[0]
        if first.startswith("MSH"):
            return _envelope(hl7.parse(first))
    except Exception:  # whatever the head is, the ACK still goes out
        log.info("The MSH of an oversized message cannot be read", exc_info=True)
    return ack.Envelope()


def _sender(envelope: ack.Envelope) -> str:
    return f"{envelope.sending_application}|{envelope.sending_facility}"[:200]


# --- the entry point --------------------------------------------------------------------------
def ingest(
    data: bytes | str, *, received_at: dt.datetime | None = None, total_size: int | None = None
) -> Result:
    """Process one message and return the ACK to send. Never raises for bad input.
    ``total_size``: the size on the wire when ``data`` is only the part that was kept."""
    raw = decode(data) if isinstance(data, bytes) else data
    raw = raw.replace("\x00", "\ufffd")  # PostgreSQL text holds no NUL
    size = total_size or (len(data) if isinstance(data, bytes) else len(raw.encode()))
    received_at = received_at or timezone.now()
    if size > MAX_MESSAGE_BYTES:
        return _oversized(data, raw, size, received_at)
    try:
        msg = _parse(raw)
    except Problem as problem:
        parsed = getattr(problem, "msg", None)
        if parsed is None:
            row = _new_row(raw, size, received_at, ack.Envelope(), "", "", "", "")
            return _dead(row, ack.Envelope(), problem)
        return _rejected(parsed, raw, size, received_at, problem)
    envelope = _envelope(msg)
    sender = _sender(envelope)
    control_id = envelope.control_id[:64]
    message_type = "^".join(p for p in (oru.text(oru.header(msg), 9, 1), envelope.trigger) if p)[
        :40
    ]
    digest = digest_of(_normalized(raw))
    if sender.strip("|"):
        _performing_institution(sender, received_at)  # every sender is registered, once
    for _attempt in range(3):
        existing, original = _lookup(sender, control_id, digest)
        if existing is not None and (
            existing.status == MessageStatus.ACCEPTED or existing.duplicate_of_id is not None
        ):
            # Accepted, or waiting for a person (a reused control ID): the stored answer.
            return Result(ack=existing.ack, message=existing, replayed=True)
        if existing is not None:
            # A dead letter resent, or our own failure: tried again in place.
            return _process(existing, msg, envelope, retried=True)
        row = _new_row(raw, size, received_at, envelope, sender, control_id, message_type, digest)
        if original is not None:
            row.duplicate_of = original
            problem = Problem(
                gettext_noop(
                    "Control ID %(id)s was already used by another message from this sender "
                    "(received %(when)s) with other content; check the analyzer's message "
                    "numbering, then replay."
                ),
                {"id": control_id, "when": timezone.localtime(original.received_at).strftime(
                    "%Y-%m-%d %H:%M")},
                code=ack.ERR_DUPLICATE_KEY,
                location="MSH^1^10",
            )  # fmt: skip
            try:
                return _dead(row, envelope, problem)
            except IntegrityError:
                continue  # the same copy arrived twice at once; answer the stored one
        try:
            return _process(row, msg, envelope)
        except IntegrityError:
            continue  # the same message, sent twice at once: the other copy committed first
    problem = Problem(gettext_noop("The message could not be stored."), code=ack.ERR_INTERNAL)
    row = _new_row(raw, size, received_at, envelope, sender, "", message_type, digest)
    return _dead(row, envelope, problem, status=MessageStatus.ERROR)


def _rejected(msg, raw: str, size: int, received_at, problem: Problem) -> Result:
    """AR for a message whose MSH could be read but is not acceptable (a missing field, a
    version or processing ID we do not take): answered to its sender and control ID, and a
    resend is answered the same without a second row."""
    envelope = _envelope(msg)
    sender, control_id = _sender(envelope), envelope.control_id[:64]
    digest = digest_of(_normalized(raw))
    if control_id:
        existing, _original = _lookup(sender, control_id, digest)
        if existing is not None:
            return _dead(existing, envelope, problem, status=MessageStatus.DEAD_LETTER)
    message_type = "^".join(p for p in (oru.text(oru.header(msg), 9, 1), envelope.trigger) if p)[
        :40
    ]
    row = _new_row(raw, size, received_at, envelope, sender, control_id, message_type, digest)
    try:
        return _dead(row, envelope, problem)
    except IntegrityError:
        # Another copy of this control ID (other content) was stored first: keep this one
        # without the control ID, so it is still kept whole.
        row.pk, row.control_id = None, ""
        return _dead(row, envelope, problem)


_STORED = rows.Prepared(
    lambda sender, control_id: Hl7Message.objects.filter(
        sender=sender, control_id=control_id
    ).values_list("pk", "digest", "duplicate_of_id")[:20]
)


def _lookup(sender: str, control_id: str, digest: str):
    """(the stored row with this content, the first row of this control ID)."""
    found = _STORED.rows(sender, control_id)
    if not found:
        return None, None
    same = next((pk for pk, d, _dup in found if d in (digest, "")), None)
    first = next((pk for pk, _d, dup in found if dup is None), None)
    same = Hl7Message.objects.get(pk=same) if same is not None else None
    original = same if same is not None and same.pk == first else (
        Hl7Message.objects.get(pk=first) if first is not None else None)  # fmt: skip
    return same, original


def _new_row(raw, size, received_at, envelope, sender, control_id, message_type, digest):
    return Hl7Message(
        sender=sender,
        control_id=control_id,
        message_type=message_type,
        raw=raw,
        size=size,
        received_at=received_at,
        digest=digest,
    )


def _dead(row: Hl7Message, envelope: ack.Envelope, problem: Problem, *, status=None):
    """Store ``row`` as answered AE/AR with the problem (a new row, or an existing one)."""
    code = AckCode.AR if problem.reject else AckCode.AE
    row.status = status or MessageStatus.DEAD_LETTER
    row.reason = problem.reason
    row.reason_args = {"msgid": problem.msgid, "params": problem.params} if problem.params else {
        "msgid": problem.msgid}  # fmt: skip
    row.error_code = problem.code
    row.error_location = problem.location[:40]
    row.ack_code = code
    row.ack = ack.build(
        envelope, code, error_code=problem.code, reason=problem.reason, location=problem.location
    )
    row.observation_count = 0
    if row.pk is None:
        with transaction.atomic():
            row.save()
    else:
        row.save()
    return Result(ack=row.ack, message=row)


def _oversized(data, raw: str, size: int, received_at) -> Result:
    envelope = _head_envelope(raw[:4096])
    sender = _sender(envelope) if envelope.control_id else ""
    control_id = envelope.control_id[:64]
    whole = data if isinstance(data, bytes) else raw.encode("utf-8")
    digest = hashlib.sha256(whole).hexdigest() if control_id else ""
    if control_id:
        existing, _original = _lookup(sender, control_id, digest)
        if existing is not None:
            return Result(ack=existing.ack, message=existing, replayed=True)
    kept = len(whole)
    problem = Problem(
        gettext_noop(
            "The message is %(size)d bytes; at most %(max)d are accepted. It is kept "
            "(%(kept)d bytes) and was not processed."
        ),
        {"size": size, "max": MAX_MESSAGE_BYTES, "kept": kept},
        code=ack.ERR_DATA_TYPE,
        location="MSH",
        reject=True,
    )
    row = _new_row(raw[:KEPT_IN_ROW], size, received_at, envelope, sender, control_id, "", digest)
    name = f"{timezone.localdate(received_at):%Y/%m/%d}/{uuid.uuid4().hex}.hl7"
    row.raw_file.save(name, ContentFile(whole), save=False)
    try:
        return _dead(row, envelope, problem)
    except IntegrityError:
        existing, _original = _lookup(sender, control_id, digest)
        if existing is None:
            raise
        return Result(ack=existing.ack, message=existing, replayed=True)


# --- processing -----------------------------------------------------------------------------
def _process(row: Hl7Message, msg, envelope: ack.Envelope, *, retried: bool = False) -> Result:
    """Try to accept ``row`` (new or a dead letter): all of its results, or none. Raises
    IntegrityError only for a new row whose copy another connection stored first."""
    fresh = row.pk is None
    try:
        with transaction.atomic():
            _accept(row, msg, envelope)
        return Result(ack=row.ack, message=row)
    except IntegrityError:
        caches.forget()  # a rule or mapping deleted meanwhile: read the tables again
        if fresh:
            row.pk = None
            raise
        log.exception("HL7 message %s from %s failed", row.control_id, row.sender)
        problem = Problem(
            gettext_noop("Internal error while storing the results; send the message again."),
            code=ack.ERR_INTERNAL,
        )
        status = MessageStatus.ERROR
    except Problem as found:
        problem, status = found, MessageStatus.DEAD_LETTER
    except Exception:
        caches.forget()
        log.exception("HL7 message %s from %s failed", row.control_id, row.sender)
        problem = Problem(
            gettext_noop("Internal error while storing the results; send the message again."),
            code=ack.ERR_INTERNAL,
        )
        status = MessageStatus.ERROR
    if fresh:
        row.pk = None
        row.resident = row.order = None
    else:
        row.refresh_from_db()
    row.notes = ""
    try:
        return _dead(row, envelope, problem, status=status)
    except IntegrityError:
        if fresh:
            raise
        return Result(ack=row.ack, message=row)


def _performing_institution(sender: str, received_at) -> int | None:
    """The institution of the sending analyzer, registered on its first message."""
    return caches.analyzer_institution(sender, received_at)


OBSERVATION_FIELDS = ["resident_id", "order_id", "code", "name", "value", "value_text", "unit",
                      "reference_low", "reference_high", "flag", "source", "observed_at",
                      "institution_id"]  # fmt: skip
LAB_RESULT_FIELDS = ["message_id", "observation_id", "order_id", "sender", "code", "name",
                     "collected_at", "received_at", "reported_at", "arrived_at", "range_source",
                     "reference_range_id", "result_status", "recognized"]  # fmt: skip


def _accept(row: Hl7Message, msg, envelope: ack.Envelope) -> None:
    """Read the message and store everything of it, inside the caller's transaction."""
    rules = caches.critical_rules()
    reader = oru.read(msg, sender=row.sender, received_at=row.received_at)
    performed_at = _performing_institution(row.sender, row.received_at) if row.sender else None
    row.resident_id = reader.residents[0].pk
    row.order_id = reader.orders[0].pk
    row.status = MessageStatus.ACCEPTED
    row.reason, row.reason_args, row.error_code, row.error_location = "", {}, "", ""
    row.ack_code, row.ack = AckCode.AA, ack.build(envelope, AckCode.AA)
    row.notes = "\n".join(reader.notes)[:4000]
    row.observation_count = len(reader.readings)
    row.save()
    # The rows as tuples of values (a model instance costs more than its share of the write);
    # instances only where something reads them: a value a critical rule may concern, a
    # result dated in a month that is over.
    observations = [
        (r.resident.pk, r.order.pk, r.code, r.name, r.value, r.value_text, r.unit, r.low,
         r.high, r.flag, ObservationSource.HL7.value, r.observed_at,
         performed_at or r.order._countycare_institution_id)
        for r in reader.readings
    ]  # fmt: skip
    # Results dated in a month that is over are saved one by one, so whoever listens to
    # saves (the indicators of closed periods) hears of them; the others go in one write.
    month_start = timezone.localtime(row.received_at).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    late = [i for i, r in enumerate(reader.readings)
            if r.collected_at is not None and r.collected_at < month_start]  # fmt: skip
    keys = rows.reserve([(Observation, len(observations)),
                         (LabResult, len(observations) - len(late))])  # fmt: skip
    observation_ids = rows.insert_values(
        Observation, OBSERVATION_FIELDS, observations, keys=keys and keys[0]
    )
    codes = {rule.code for rule in rules}
    for reading, values, pk in zip(reader.readings, observations, observation_ids, strict=True):
        if critical_values.may_apply(reading, codes):
            observation = Observation(pk=pk, **dict(zip(OBSERVATION_FIELDS, values, strict=True)))
            observation._state.adding = False
            critical_values.check(observation, reading, rules=rules, raised_at=row.received_at)
    results = [
        (row.pk, pk, r.order.pk, row.sender, r.code, r.name, r.collected_at, r.received_at,
         r.reported_at, row.received_at, r.range_source,
         r.reference_range.pk if r.reference_range is not None else None, r.result_status,
         # Result recognition (SHC-01): a final or corrected result of a community lab.
         r.result_status in oru.RECOGNIZED_STATUS)
        for r, pk in zip(reader.readings, observation_ids, strict=True)
    ]  # fmt: skip
    late_set = set(late)
    rows.insert_values(
        LabResult,
        LAB_RESULT_FIELDS,
        [values for i, values in enumerate(results) if i not in late_set],
        keys=keys and keys[1],
    )
    for i in late:
        LabResult(**dict(zip(LAB_RESULT_FIELDS, results[i], strict=True))).save()
    audit.log(
        "create",
        obj=row,
        institution=reader.orders[0]._countycare_institution,
        detail={
            "control_id": row.control_id,
            "sender": row.sender,
            "observations": row.observation_count,
        },
    )


def replay(message_id: int, *, actor) -> Hl7Message:
    """Process a dead letter again, after a person fixed what it lacked (registered the
    medical record number, mapped a code, corrected the order number). Accepted: the message
    row becomes accepted and a resend from the sender is answered AA. Still failing: the new
    reason. A message kept because it was too large stays a dead letter."""
    with transaction.atomic():
        row = (
            Hl7Message.objects.select_for_update()
            .filter(pk=message_id, status__in=[MessageStatus.DEAD_LETTER, MessageStatus.ERROR])
            .first()
        )
        if row is None:
            raise Conflict("Only a dead letter can be replayed.", code="not_dead_letter")
        if row.raw_file:
            accepted = False
        else:
            try:
                msg = _parse(row.raw)
            except Problem as problem:
                _dead(row, ack.Envelope(), problem)
            else:
                _process(row, msg, _envelope(msg))
            accepted = row.status == MessageStatus.ACCEPTED
        audit.log(
            "update",
            actor=actor,
            obj=row,
            detail={"replay": True, "accepted": accepted, "reason": row.reason},
        )
    return row
