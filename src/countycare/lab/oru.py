"""An ORU^R01 / OUL^R22 result message, parsed by python-hl7, read into the platform's
observations (issue 5, SHC-03). :func:`read` walks the segments in the order the standard
gives them — MSH, then per patient a PID, per order an OBR (ORC, SPM and NTE around it are
allowed) and its OBX — and returns what to store, or raises :class:`Problem` for the ACK and
the dead-letter list. Nothing here writes to the database.

Per patient group: PID-3 (also PID-2 and PID-4, where older senders put it) is matched to a
resident — a valid national ID (GB 11643 check digit, whatever the identifier type) by its
keyed hash, else a medical record number registered for the assigning authority. Per order:
OBR-2 / OBR-3 (else ORC-2 / ORC-3) is our accession number — the number on the tube label,
which analyzers send as the sample ID. A PID without any identifier (analyzers that only
read the tube's barcode) takes the order's resident; identifiers that match nobody, or
another resident than the order's, stop the message.

Per OBX: the code (LOINC, else the analyzer's code through the code table), the value (a
number for a numeric test, see ``units``), the unit (refused when it contradicts the test),
the reference range and flag as sent, else the platform's range for the resident's sex and
age. OBX that are not results — instrument settings (value type IS with the analyzer's own
code), histograms and scattergrams (ED, RP), the patient's age, codes the table marks "not a
result", values the analyzer marks as not measured (``***``) — are noted, not stored.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import hl7
from django.utils import timezone
from hl7.containers import Component, Repetition
from hl7.util import unescape as _unescape

from countycare.core import crypto, national_id
from countycare.core.errors import ValidationError as NationalIdError
from countycare.lab import ack, caches, rows, units
from countycare.lab.models import (
    CodeMapping,
    RangeSource,
    ReferenceRange,
    ResidentIdentifier,
    ResultStatus,
)
from countycare.organizations.models import Institution
from countycare.residents.models import Resident
from countycare.telemed.models import ExamOrder, Flag, Modality, OrderStatus

SUPPORTED = {("ORU", "R01"), ("OUL", "R22")}
MAX_VALUE = Decimal("1e8")  # Observation.value: 12 digits, 4 after the point
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
COMMA_NUMBER = re.compile(r"^[+-]?\d+,\d+$")  # 11,49: analyzers set to a decimal comma
COMPARISON = re.compile(r"^(<=|>=|<|>)\s*([+-]?\d+(?:[.,]\d+)?)$")
RANGE = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*[-~_—–]\s*(-?\d+(?:[.,]\d+)?)\s*$")
BOUND = re.compile(r"^\s*([<>≤≥]=?)\s*(-?\d+(?:[.,]\d+)?)\s*$")
POWER_UNIT = re.compile(r"^\d{1,2}/\S+$")
SEGMENT_NAME = re.compile(r"^[A-Z][A-Z0-9]{2}$")
FLAGS = {"N": Flag.NORMAL, "L": Flag.LOW, "H": Flag.HIGH, "LL": Flag.CRITICAL_LOW,
         "HH": Flag.CRITICAL_HIGH, "A": Flag.ABNORMAL, "AA": Flag.ABNORMAL,
         "<": Flag.LOW, ">": Flag.HIGH, "↑": Flag.HIGH, "↓": Flag.LOW,
         "NORMAL": Flag.NORMAL}  # fmt: skip
LOINC_SHAPE = re.compile(r"^(\d{1,7})-(\d)$")
SKIPPED_RESULT_STATUS = {"X", "D", "W"}  # no result, deleted, wrong: nothing to store
RECOGNIZED_STATUS = {"F", "C"}
NOT_MEASURED = {"***", "**", "*", "----", "---", "--", "-.--", "*.**", "**.*", "***.*"}
NEGATIVE = {"-", "−", "NEG", "NEGATIVE", "阴性", "阴性(-)", "阴性（-）", "(-)", "（-）", "NORMAL",
            "正常"}  # fmt: skip
NOT_RESULT_TYPES = {"ED", "RP"}  # encapsulated data (histogram BMP), reference pointer
GIVEN = object()


class Problem(Exception):
    """Why a message is answered AE (or AR) and kept as a dead letter. ``reason`` is the
    English text the ACK carries; ``msgid`` and ``params`` let the web app show it
    translated (Hl7Message.reason_display)."""

    def __init__(
        self,
        msgid: str,
        params: dict | None = None,
        *,
        code: str,
        location: str = "",
        reject: bool = False,
    ):
        self.msgid = msgid
        self.params = params or {}
        self.reason = msgid % self.params if self.params else msgid
        super().__init__(self.reason)
        self.code = code
        self.location = location
        self.reject = reject


def gettext_noop(text: str) -> str:
    return text


_item = list.__getitem__  # plain indexing, without python-hl7's 1-based wrappers


# --- field access ---------------------------------------------------------------------------
def text(seg, field_no: int, comp: int = 1, rep: int = 1) -> str:
    """One component (its first subcomponent), unescaped with the message's own escape
    character, stripped — ``seg.extract_field(1, field_no, rep, comp, 1)`` of python-hl7,
    read straight from its parse tree (a message's fields are read often; the test suite
    checks both agree on every field of the corpus)."""
    try:
        if field_no >= len(seg):
            return ""
        field = _item(seg, field_no)
        if isinstance(field, str):  # MSH-1
            return field if comp == 1 and rep == 1 else ""
        if rep > len(field):
            return ""
        value = _item(field, rep - 1)
        if isinstance(value, Repetition):
            if comp > len(value):
                return ""
            value = _item(value, comp - 1)
            if isinstance(value, Component):
                value = _item(value, 0) if len(value) else ""
        elif comp != 1:
            return ""
        value = str(value)
        if seg.esc in value and not (field_no <= 2 and _item(seg, 0) == ["MSH"]):
            value = _unescape(seg, value)
        return value.strip()
    except (IndexError, KeyError, TypeError, AttributeError, ValueError):
        return ""


def repetitions(seg, field_no: int) -> int:
    try:
        return max(1, len(seg(field_no))) if field_no < len(seg) else 0
    except (IndexError, TypeError):
        return 0


def when(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = hl7.parse_datetime(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if parsed is None or not (1900 <= parsed.year <= 2200):
        return None
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


def segment_name(seg) -> str:
    try:
        return str(seg(0))
    except (IndexError, TypeError):
        return ""


def header(msg: hl7.Message):
    """The MSH segment: the first (as every message we parse begins), without the search of
    ``msg.segment("MSH")`` through all segments."""
    first = _item(msg, 0) if len(msg) else None
    return first if first is not None and segment_name(first) == "MSH" else msg.segment("MSH")


# --- what a message yields ------------------------------------------------------------------
@dataclass
class Reading:
    """One OBX to store: the observation's fields and the lab record's."""

    seq: int
    order: ExamOrder
    resident: Resident
    code: str
    name: str
    value: Decimal | None
    value_text: str
    unit: str
    low: Decimal | None
    high: Decimal | None
    flag: str
    analyzer_flag: str
    range_source: str
    reference_range: ReferenceRange | None
    observed_at: dt.datetime
    result_status: str
    collected_at: dt.datetime | None
    received_at: dt.datetime | None
    reported_at: dt.datetime | None


@dataclass
class Reader:
    """The state of one message's walk. ``sender`` as stored (MSH-3|MSH-4)."""

    msg: hl7.Message
    sender: str
    received_at: dt.datetime
    readings: list[Reading] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    residents: list[Resident] = field(default_factory=list)
    orders: list[ExamOrder] = field(default_factory=list)
    missing_codes: list[tuple[int, str, str]] = field(default_factory=list)
    _mappings: dict | None = None


def read(msg: hl7.Message, *, sender: str, received_at: dt.datetime) -> Reader:
    """The readings of an ORU^R01 / OUL^R22 message (see the module docstring)."""
    msh = header(msg)
    kind = (text(msh, 9, 1).upper(), text(msh, 9, 2).upper())
    if kind not in SUPPORTED:
        raise Problem(
            gettext_noop("Message type %(type)s is not accepted here (ORU^R01, OUL^R22)."),
            {"type": "^".join(p for p in kind if p) or "?"},
            code=ack.ERR_UNSUPPORTED_TYPE,
            location="MSH^1^9",
            reject=True,
        )
    reader = Reader(msg=msg, sender=sender, received_at=received_at)
    segments = list(msg)
    _check_names(segments)
    names = [segment_name(s) for s in segments]
    if "OBR" not in names:
        raise Problem(
            gettext_noop("No OBR segment: the order is not identified."),
            code=ack.ERR_SEGMENT_SEQUENCE,
            location="OBR",
        )
    has_pid = "PID" in names
    pid = None
    order = obr = orc = spm = None
    obx_seq = obr_seq = pid_seq = 0
    group_orders: list[ExamOrder] = []
    for index, seg in enumerate(segments[1:], start=2):
        name = names[index - 1]
        if name == "MSH":
            raise Problem(
                gettext_noop("A second MSH segment (segment %(n)d): send one message per frame."),
                {"n": index},
                code=ack.ERR_SEGMENT_SEQUENCE,
                location=f"MSH^{index}",
            )
        if name == "PID":
            pid_seq += 1
            pid, order, obr, orc, spm = seg, None, None, None, None
            group_orders = []
        elif name == "ORC":
            orc = seg
        elif name == "SPM":
            spm = seg
        elif name == "OBR":
            obr_seq += 1
            if has_pid and pid is None:
                raise Problem(
                    gettext_noop("OBR before PID: wrong segment order."),
                    code=ack.ERR_SEGMENT_SEQUENCE,
                    location=f"OBR^{obr_seq}",
                )
            order = _order(seg, orc, obr_seq)
            _match_patient(reader, pid, pid_seq, order)
            group_orders.append(order)
            obr = seg
            orc = None
        elif name == "OBX":
            obx_seq += 1
            if obr is None:
                raise Problem(
                    gettext_noop("OBX before any OBR: the result has no order."),
                    code=ack.ERR_SEGMENT_SEQUENCE,
                    location=f"OBX^{obx_seq}",
                )
            reading = _reading(reader, seg, obx_seq, order, obr, spm)
            if reading is not None:
                reader.readings.append(reading)
    if reader.missing_codes:
        seq = reader.missing_codes[0][0]
        listed = ", ".join(f"{c} ({s or '-'})" for _q, c, s in reader.missing_codes[:10])
        raise Problem(
            gettext_noop(
                "Tests without a LOINC code and without a mapping in the code table: %(codes)s."
            ),
            {"codes": listed},
            code=ack.ERR_TABLE_VALUE,
            location=f"OBX^{seq}^3",
        )
    if not reader.readings:
        raise Problem(
            gettext_noop("The message carries no result (no OBX with a value)."),
            code=ack.ERR_REQUIRED_FIELD,
            location="OBX",
        )
    return reader


def _check_names(segments) -> None:
    for index, seg in enumerate(segments, start=1):
        name = segment_name(seg)
        if not SEGMENT_NAME.match(name):
            raise Problem(
                gettext_noop("Segment %(n)d is named %(name)s, which is not an HL7 segment name."),
                {"n": index, "name": repr(name[:10])},
                code=ack.ERR_SEGMENT_SEQUENCE,
                location=f"SEG^{index}",
            )


# --- patient and order ------------------------------------------------------------------------
def _identifiers(pid) -> list[tuple[str, str, str]]:
    """(value, assigning authority, identifier type) of PID-3, then PID-2 and PID-4."""
    found = []
    for field_no in (3, 2, 4):
        for rep in range(1, repetitions(pid, field_no) + 1):
            value = text(pid, field_no, 1, rep)
            if value:
                found.append(
                    (value[:64], text(pid, field_no, 4, rep), text(pid, field_no, 5, rep).upper())
                )
    return found


def _national_id(value: str) -> str | None:
    if len(value) != 18:
        return None
    try:
        return national_id.parse(value).number
    except (NationalIdError, ValueError, AttributeError, TypeError):
        return None


def _find_resident(ids: list[tuple[str, str, str]], hint: Resident) -> Resident | None:
    """The resident of the identifiers; ``hint`` (the order's) when its national ID is
    among them, without a query."""
    hashes = [crypto.lookup_hash(n) for n in (_national_id(v) for v, _a, _k in ids) if n]
    if hint.national_id_hash in hashes:
        return hint
    for digest in hashes:
        found = Resident.objects.filter(national_id_hash=digest).first()
        if found is not None:
            return found
    for value, authority, _kind in ids:
        mrn = (
            ResidentIdentifier.objects.filter(value=value, authority__in=[authority, ""])
            .select_related("resident")
            .order_by("-authority")
            .first()
        )
        if mrn is not None:
            return mrn.resident
    return None


def _shown(ids) -> str:
    return ", ".join(national_id.mask(v) if _national_id(v) else v for v, _a, _k in ids[:4])


def _match_patient(reader: Reader, pid, pid_seq: int, order: ExamOrder) -> None:
    """The PID group's resident: by its identifiers, or the order's when it has none."""
    location = f"PID^{pid_seq or 1}^3"
    ids = _identifiers(pid) if pid is not None else []
    cache = getattr(pid, "_countycare_resident", GIVEN) if pid is not None else GIVEN
    if not ids:
        resident = order._countycare_order_resident
    else:
        hint = order._countycare_order_resident
        resident = _find_resident(ids, hint) if cache is GIVEN else cache
        if pid is not None:
            pid._countycare_resident = resident
        if resident is None:
            raise Problem(
                gettext_noop(
                    "Unknown patient: no resident has the identifier(s) %(ids)s in PID-3."
                ),
                {"ids": _shown(ids)},
                code=ack.ERR_UNKNOWN_KEY,
                location=location,
            )
        if resident.pk != order.resident_id:
            raise Problem(
                gettext_noop("Order %(order)s belongs to another patient than PID-3 (%(ids)s)."),
                {"order": order.accession_number, "ids": _shown(ids)},
                code=ack.ERR_UNKNOWN_KEY,
                location="OBR^1^2",
            )
    order._countycare_resident = resident
    if resident not in reader.residents:
        reader.residents.append(resident)
    if order not in reader.orders:
        reader.orders.append(order)


ORDER_FIELDS = ("pk", "accession_number", "resident_id", "status", "requested_by_id",
                "center_id", "service__modality", "center__institution_id",
                "resident__national_id_hash", "resident__sex", "resident__birth_date",
                "resident__home_village_id", "center__institution__name",
                "center__institution__short_name")  # fmt: skip


_ORDER = rows.Prepared(
    lambda first, second: (
        ExamOrder.objects.filter(accession_number__in=[first, second])
        .values_list(*ORDER_FIELDS)
        .order_by("pk")[:1]
    )
)


def _find_order(numbers: list[str]) -> ExamOrder | None:
    """The order of the first number found, read as plain values into an unsaved-looking
    instance (its relations load on use): a message reads orders often, and the fields a
    result needs are few."""
    # Always two numbers (the first twice when one is sent): one statement to prepare.
    found = _ORDER.rows(numbers[0], numbers[-1] if len(numbers) > 1 else numbers[0])
    if not found:
        return None
    row = found[0]
    values = dict(zip(ORDER_FIELDS, row, strict=True))
    order = ExamOrder(
        id=values["pk"],
        accession_number=values["accession_number"],
        resident_id=values["resident_id"],
        status=values["status"],
        requested_by_id=values["requested_by_id"],
        center_id=values["center_id"],
    )
    order._state.adding = False
    resident = Resident(
        id=values["resident_id"],
        national_id_hash=values["resident__national_id_hash"],
        sex=values["resident__sex"],
        birth_date=values["resident__birth_date"],
        home_village_id=values["resident__home_village_id"],
    )
    resident._state.adding = False
    order._countycare_order_resident = resident
    order._countycare_modality = values["service__modality"]
    order._countycare_institution_id = values["center__institution_id"]
    order._countycare_institution = Institution(
        id=values["center__institution_id"],
        name=values["center__institution__name"],
        short_name=values["center__institution__short_name"],
    )
    return order


def _order(obr, orc, seq: int) -> ExamOrder:
    numbers = [n[:32] for n in (text(obr, 2), text(obr, 3)) if n]
    if not numbers and orc is not None:
        numbers = [n[:32] for n in (text(orc, 2), text(orc, 3)) if n]
    location = f"OBR^{seq}^2"
    if not numbers:
        raise Problem(
            gettext_noop("OBR-2 and OBR-3 (placer and filler order numbers) are both missing."),
            code=ack.ERR_REQUIRED_FIELD,
            location=location,
        )
    order = _find_order(numbers)
    if order is None:
        raise Problem(
            gettext_noop("Unknown order %(numbers)s in OBR-2/OBR-3."),
            {"numbers": " / ".join(numbers)},
            code=ack.ERR_UNKNOWN_KEY,
            location=location,
        )
    if order._countycare_modality != Modality.LAB:
        raise Problem(
            gettext_noop("Order %(order)s is not a lab order."),
            {"order": order.accession_number},
            code=ack.ERR_UNKNOWN_KEY,
            location=location,
        )
    if order.status == OrderStatus.CANCELLED:
        raise Problem(
            gettext_noop("Order %(order)s was cancelled; it takes no results."),
            {"order": order.accession_number},
            code=ack.ERR_UNKNOWN_KEY,
            location=location,
        )
    return order


# --- one OBX -------------------------------------------------------------------------------------
def _note(reader: Reader, seq: int, ident: str, label: str, why: str) -> None:
    reader.notes.append(f"OBX {seq} {ident} {label}: {why}".replace("  ", " ").strip())


def _mapping(reader: Reader, local_code: str) -> CodeMapping | None:
    """This sender's row for the code, else the row for any sender."""
    if reader._mappings is None:
        reader._mappings = caches.code_mappings()
    key = local_code[:40]
    return reader._mappings.get((reader.sender, key)) or reader._mappings.get(("", key))


def _code(reader: Reader, obx, seq: int):
    """(code, name, unit from the mapping) for OBX-3; None when the OBX is not a result (then
    noted); a missing mapping is collected for one reason listing them all."""
    ident, label, system = (text(obx, 3, i) for i in (1, 2, 3))
    alt, alt_label, alt_system = (text(obx, 3, i) for i in (4, 5, 6))
    value_type = text(obx, 2).upper()
    if system.upper() == "LN" and ident:
        return ident[:40], label or alt_label or ident, ""
    if alt_system.upper() == "LN" and alt:
        return alt[:40], alt_label or label or alt, ""
    if ident:
        mapping = _mapping(reader, ident)
        if mapping is not None:
            if mapping.ignore:
                _note(reader, seq, ident, label, "not a result (code table)")
                return None
            return mapping.loinc, mapping.name or label or mapping.loinc, mapping.unit
    # Older senders (the v2.4 standard's own GHH LAB example among them) put the LOINC long
    # name where the coding system belongs; a code with LOINC's check digit, not marked as a
    # local code (99zzz or L), is taken as LOINC.
    if is_loinc(ident) and not system.upper().startswith(("99", "L")):
        return ident, label or ident, ""
    if value_type == "IS":
        # A value of the analyzer's own table under its own code: an instrument setting
        # (Mindray-protocol "Take Mode", "Ref Group", alarm flags), not a result.
        _note(reader, seq, ident, label, "instrument setting")
        return None
    reader.missing_codes.append((seq, ident or "?", system))
    return None


def _number(raw: str) -> Decimal | None:
    candidate = raw.strip()
    if COMMA_NUMBER.match(candidate):
        candidate = candidate.replace(",", ".")
    if not NUMBER.match(candidate):
        return None
    try:
        value = Decimal(candidate)
    except InvalidOperation:
        return None
    return value if value.is_finite() and abs(value) < MAX_VALUE else None


def _value(reader: Reader, obx, seq: int, code: str, name: str):
    """(value, value_text) of OBX-5; None when the analyzer marks it as not measured."""
    where = f"OBX^{seq}"
    value_type = text(obx, 2).upper()
    test = units.kind(code)
    numeric = test.numeric if test is not None else value_type in {"NM", "SN"}
    if value_type == "SN":
        comparator, number = text(obx, 5, 1), text(obx, 5, 2)
        if not number and not comparator:
            return None
        value = _number(number)
        if value is None:
            raise Problem(
                gettext_noop("%(where)s: %(test)s is not a structured number."),
                {"where": where, "test": name},
                code=ack.ERR_DATA_TYPE,
                location=f"{where}^5",
            )
        if comparator in {"", "="}:
            return value, ""
        return None, comparator + number
    coded = value_type in {"CE", "CWE", "CNE"}
    raw = (text(obx, 5, 2) or text(obx, 5, 1)) if coded else text(obx, 5)
    if raw in NOT_MEASURED or not raw:
        _note(reader, seq, code, name, f"not measured ({raw or 'empty'})")
        return None
    if not numeric:
        return None, raw
    value = _number(raw)
    if value is not None:
        return value, ""
    if m := COMPARISON.match(raw):
        return None, f"{m[1]}{m[2].replace(',', '.')}"
    raise Problem(
        gettext_noop("%(where)s: %(test)s must be a number, got %(value)s."),
        {"where": where, "test": name, "value": repr(raw[:40])},
        code=ack.ERR_DATA_TYPE,
        location=f"{where}^5",
    )


def unit_text(obx) -> str:
    """OBX-6 as sent: its identifier (else its text); "10^9/L" sent without escaping the ^
    (analyzers do) is one unit, not two components."""
    sent = text(obx, 6, 1) or text(obx, 6, 2)
    second = text(obx, 6, 2)
    if sent in {"10", "x10", "×10"} and POWER_UNIT.match(second):
        sent = f"{sent}^{second}"
    return sent


def _unit(reader: Reader, obx, seq: int, code: str, name: str, mapped: str) -> str:
    sent = unit_text(obx)
    unit = (sent or mapped)[:20]
    test = units.kind(code)
    if test is None:
        return unit
    if not unit:
        if test.canonical:
            _note(reader, seq, code, name, f"no unit sent, read as {test.canonical}")
        return test.canonical
    if not units.accepts(code, unit):
        expected = ", ".join(test.shown) or "-"
        raise Problem(
            gettext_noop("OBX^%(seq)d: the unit %(unit)s does not fit %(test)s (%(expected)s)."),
            {"seq": seq, "unit": repr(unit), "test": f"{name} {code}", "expected": expected},
            code=ack.ERR_TABLE_VALUE,
            location=f"OBX^{seq}^6",
        )
    return unit


def _flag_sent(obx) -> str:
    for rep in range(1, repetitions(obx, 8) + 1):
        found = FLAGS.get(text(obx, 8, 1, rep).upper())
        if found is not None:
            return found
    return ""


def _reading(reader: Reader, obx, seq: int, order: ExamOrder, obr, spm) -> Reading | None:
    ident, label = text(obx, 3, 1), text(obx, 3, 2)
    status = text(obx, 11).upper()
    if status[:1] in SKIPPED_RESULT_STATUS:
        _note(reader, seq, ident, label, f"result status {status}")
        return None
    if text(obx, 2).upper() in NOT_RESULT_TYPES:
        _note(reader, seq, ident, label, f"{text(obx, 2).upper()} data (image), not a value")
        return None
    coded = _code(reader, obx, seq)
    if coded is None:
        return None
    code, name, mapped_unit = coded
    if code in units.NOT_RESULTS:
        _note(reader, seq, code, name, "patient data, not a result")
        return None
    parsed = _value(reader, obx, seq, code, name)
    if parsed is None:
        return None
    value, value_text = parsed
    unit = _unit(reader, obx, seq, code, name, mapped_unit)
    resident = order._countycare_resident
    collected, received, reported, sent_at = _times(reader, obr, spm)
    observed_at = when(text(obx, 14)) or collected or sent_at or reader.received_at
    low, high = parse_range(text(obx, 7))
    sent_flag = _flag_sent(obx)
    range_source = RangeSource.ANALYZER if low is not None or high is not None else ""
    reference_range = None
    if not sent_flag and not range_source and value is not None:
        # The analyzer sent neither range nor flag: the platform's range for the resident's
        # sex and age on the day of the observation, in the result's unit.
        found = platform_range(code, resident, observed_at, unit)
        if found is not None:
            reference_range, low, high = found
            range_source = RangeSource.PLATFORM
    flag = sent_flag or compute_flag(value, low, high)
    test = units.kind(code)
    if not flag and value is None and test is not None and not test.numeric:
        # A strip block sent without a flag: negative is normal, any other block is not.
        flag = Flag.NORMAL if value_text.strip().upper() in NEGATIVE else Flag.ABNORMAL
    return Reading(
        seq=seq,
        order=order,
        resident=resident,
        code=code,
        name=name[:100],
        value=value,
        value_text=value_text[:200],
        unit=unit,
        low=low,
        high=high,
        flag=flag,
        analyzer_flag=sent_flag,
        range_source=range_source,
        reference_range=reference_range,
        observed_at=observed_at,
        result_status=result_status(status),
        collected_at=collected,
        received_at=received or reader.received_at,
        reported_at=reported,
    )


def _times(reader: Reader, obr, spm):
    """(collected, received, reported, message time) of an order group: specimen collected
    OBR-7 (else SPM-17), received OBR-14 (else SPM-18), reported OBR-22 (else MSH-7)."""
    key = (id(obr), id(spm))
    cache = reader.__dict__.setdefault("_times", {})
    if key not in cache:
        sent_at = when(text(header(reader.msg), 7))
        collected = when(text(obr, 7)) or (when(text(spm, 17)) if spm is not None else None)
        received = when(text(obr, 14)) or (when(text(spm, 18)) if spm is not None else None)
        reported = when(text(obr, 22)) or sent_at
        cache[key] = (collected, received, reported, sent_at)
    return cache[key]


# --- ranges, flags, codes -------------------------------------------------------------------
def result_status(value: str) -> str:
    """OBX-11 as stored: final (F, or nothing sent), corrected (C), preliminary (P, and the
    partial or pending S, I), entered but not verified (R)."""
    code = value.strip().upper()[:1]
    if code in {"", "F"}:
        return ResultStatus.FINAL
    if code == "C":
        return ResultStatus.CORRECTED
    if code == "R":
        return ResultStatus.RESULTS_ENTERED
    return ResultStatus.PRELIMINARY


def parse_range(value: str) -> tuple[Decimal | None, Decimal | None]:
    """OBX-7: ``3.5-9.5`` (also ``~``, ``_``, decimal commas), ``<5``, ``>=1.003``. An empty
    placeholder some analyzers send (``0-0``) or an inverted range is no range."""
    if m := RANGE.match(value):
        low, high = (Decimal(x.replace(",", ".")) for x in (m[1], m[2]))
        if low > high or (low == 0 and high == 0):
            return None, None
        return low, high
    if m := BOUND.match(value):
        bound = Decimal(m[2].replace(",", "."))
        return (None, bound) if m[1][0] in "<≤" else (bound, None)
    return None, None


def compute_flag(value: Decimal | None, low: Decimal | None, high: Decimal | None) -> str:
    if value is None or (low is None and high is None):
        return ""
    if low is not None and value < low:
        return Flag.LOW
    if high is not None and value > high:
        return Flag.HIGH
    return Flag.NORMAL


def platform_range(code: str, resident, at: dt.datetime, unit: str = ""):
    """The ReferenceRange for ``code`` at the resident's age on ``at`` and sex (a row for
    the sex before one for any sex), with its bounds in ``unit``: ``(range, low, high)``, or
    None when there is none or its unit has no fixed relation to the result's."""
    age = resident.age_on(timezone.localdate(at))
    found = (
        ReferenceRange.objects.filter(
            code=code, sex__in=[resident.sex, ""], age_min__lte=age, age_max__gt=age
        )
        .order_by("-sex", "-age_min")
        .first()
    )
    if found is None:
        return None
    if not unit or not found.unit or units.normalize(unit) == units.normalize(found.unit):
        return found, found.low, found.high
    bounds = []
    for bound in (found.low, found.high):
        if bound is None:
            bounds.append(None)
            continue
        converted = units.convert(bound, code, found.unit, unit)
        if converted is None:
            return None
        bounds.append(units.significant(converted))
    return found, bounds[0], bounds[1]


def is_loinc(code: str) -> bool:
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
