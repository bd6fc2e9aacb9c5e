"""HL7 v2 acknowledgements (original mode): MSH + MSA, and an ERR segment saying what went
wrong for AE and AR. Built as text with the standard encoding characters, so an ACK can be
made even for a message we could not parse."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.utils import timezone

# HL7 table 0357, message error condition codes.
ERR_SEGMENT_SEQUENCE = "100"
ERR_REQUIRED_FIELD = "101"
ERR_DATA_TYPE = "102"
ERR_TABLE_VALUE = "103"
ERR_UNSUPPORTED_TYPE = "200"
ERR_UNSUPPORTED_PROCESSING_ID = "202"
ERR_UNSUPPORTED_VERSION = "203"
ERR_UNKNOWN_KEY = "204"
ERR_DUPLICATE_KEY = "205"
ERR_INTERNAL = "207"
ERR_TEXT = {
    ERR_SEGMENT_SEQUENCE: "Segment sequence error",
    ERR_REQUIRED_FIELD: "Required field missing",
    ERR_DATA_TYPE: "Data type error",
    ERR_TABLE_VALUE: "Table value not found",
    ERR_UNSUPPORTED_TYPE: "Unsupported message type",
    ERR_UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    ERR_UNSUPPORTED_VERSION: "Unsupported version id",
    ERR_UNKNOWN_KEY: "Unknown key identifier",
    ERR_DUPLICATE_KEY: "Duplicate key identifier",
    ERR_INTERNAL: "Application internal error",
}

APPLICATION = "COUNTYCARE"
FACILITY = "LAB"


@dataclass(frozen=True)
class Envelope:
    """What an ACK copies from the message it answers (all may be blank), already encoded
    for an ACK with the standard encoding characters."""

    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    control_id: str = ""
    trigger: str = ""
    processing_id: str = "P"
    version: str = "2.5.1"


def escape(text: str) -> str:
    """Escape the standard delimiters (HL7 v2 §2.7) and fold line breaks."""
    text = str(text).replace("\\", "\\E\\")
    for char, seq in (("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\")):
        text = text.replace(char, seq)
    return " ".join(text.split())


def build(
    envelope: Envelope,
    code: str,
    *,
    error_code: str = "",
    reason: str = "",
    location: str = "",
) -> str:
    """The ACK for ``envelope``: ``code`` AA, AE or AR. For AE/AR, ``error_code`` (table
    0357), ``reason`` (what is wrong, for a person) and ``location`` (``OBX^2^5``)."""
    e = envelope
    now = timezone.localtime().strftime("%Y%m%d%H%M%S")
    msh = [
        "MSH",
        "^~\\&",
        e.receiving_application or APPLICATION,
        e.receiving_facility or FACILITY,
        e.sending_application,
        e.sending_facility,
        now,
        "",
        f"ACK^{e.trigger}^ACK" if e.trigger else "ACK",
        f"ACK{uuid.uuid4().hex[:17].upper()}",
        e.processing_id or "P",
        e.version or "2.5.1",
    ]
    segments = ["|".join(msh)]
    msa = ["MSA", code, e.control_id]
    if code != "AA" and reason:
        msa.append(escape(reason[:80]))  # MSA-3, still read by many older systems
    segments.append("|".join(msa))
    if code != "AA":
        err_code = error_code or ERR_INTERNAL
        err = [
            "ERR",
            "",  # ERR-1, withdrawn
            location,  # ERR-2 error location (ours: SEG^sequence^field)
            f"{err_code}^{escape(ERR_TEXT.get(err_code, ''))}^HL70357",  # ERR-3
            "E",  # ERR-4 severity
            "",
            "",
            "",
            escape(reason),  # ERR-8 user message
        ]
        segments.append("|".join(err))
    return "\r".join(segments) + "\r"
