"""Device AI findings (超声AI辅助, WH-01, SHC-05): what an ultrasound device says about its own
images, as structured rows the reader sees beside the images and may copy into the report
draft as a suggestion labelled as device output — never as the reader's words.

Two sources: a DICOM SR document the device sends (Basic Text, Enhanced or Comprehensive SR:
the content tree of PS3.3 C.17.3, walked to its text, code, numeric, date and name items), or
the free-text report fields some devices fill in their images (Image Comments and the like).
"""

from __future__ import annotations

import re
from typing import Any

from pydicom.dataset import Dataset

# Value types whose value is shown (references to images/waveforms/coordinates are not text).
_SHOWN = {"TEXT", "CODE", "NUM", "DATE", "TIME", "DATETIME", "PNAME", "UIDREF", "CONTAINER"}
# Observation-context items (who observed, how) are the document's frame, not findings.
_CONTEXT = {"HAS OBS CONTEXT", "HAS ACQ CONTEXT"}
MAX_ROWS = 200
# Image attributes where devices put their own findings text.
REPORT_FIELDS = ("ImageComments", "ImpressionsText", "AcquisitionComments")
# What devices also write there that is not a finding: notes on how the image was made.
_NOT_A_FINDING = re.compile(
    r"^(un)?compressed|lossy|lossless|jpeg|rgb|ybr|converted|anonymi[sz]ed|test|phantom",
    re.IGNORECASE,
)
MIN_FINDING_CHARS = 4


def _meaning(item: Dataset, keyword: str) -> str:
    seq = item.get(keyword)
    if not seq:
        return ""
    code = seq[0]
    return str(code.get("CodeMeaning") or code.get("CodeValue") or "").strip()


def _value(item: Dataset) -> tuple[str, str]:
    """(value, unit) of one content item."""
    vt = str(item.get("ValueType") or "")
    if vt == "TEXT":
        return str(item.get("TextValue") or "").strip(), ""
    if vt == "CODE":
        return _meaning(item, "ConceptCodeSequence"), ""
    if vt == "NUM":
        measured = item.get("MeasuredValueSequence")
        if not measured:
            return "", ""
        m = measured[0]
        number = str(m.get("NumericValue") or "").strip()
        units = m.get("MeasurementUnitsCodeSequence")
        unit = ""
        if units:
            unit = str(units[0].get("CodeValue") or units[0].get("CodeMeaning") or "")
        return number, "" if unit == "1" else unit
    if vt == "DATE":
        return str(item.get("Date") or ""), ""
    if vt == "TIME":
        return str(item.get("Time") or ""), ""
    if vt == "DATETIME":
        return str(item.get("DateTime") or ""), ""
    if vt == "PNAME":
        return str(item.get("PersonName") or "").replace("^", " ").strip(), ""
    if vt == "UIDREF":
        return str(item.get("UID") or ""), ""
    return "", ""


def _walk(items, depth: int, rows: list[dict[str, Any]]) -> None:
    for item in items or []:
        if len(rows) >= MAX_ROWS:
            return
        vt = str(item.get("ValueType") or "")
        relation = str(item.get("RelationshipType") or "")
        if relation in _CONTEXT:
            continue
        name = _meaning(item, "ConceptNameCodeSequence")
        if vt in _SHOWN:
            value, unit = _value(item)
            if vt == "CONTAINER":
                if name:
                    rows.append({"level": depth, "type": "heading", "name": name})
            elif value:
                rows.append(
                    {"level": depth, "type": vt.lower(), "name": name, "value": value[:2000],
                     "unit": unit}
                )  # fmt: skip
        _walk(item.get("ContentSequence"), depth + 1, rows)


def from_sr(ds: Dataset) -> dict[str, Any]:
    """The findings of an SR document: title, the device that wrote it, whether the device
    marked it complete and verified, and the rows of its content tree."""
    rows: list[dict[str, Any]] = []
    _walk(ds.get("ContentSequence"), 0, rows)
    return {
        "source": "sr",
        "title": _meaning(ds, "ConceptNameCodeSequence"),
        "device": " ".join(
            str(ds.get(k) or "").strip() for k in ("Manufacturer", "ManufacturerModelName")
        ).strip(),
        "completion": str(ds.get("CompletionFlag") or ""),
        "verification": str(ds.get("VerificationFlag") or ""),
        "rows": rows,
    }


def from_image(ds: Dataset) -> dict[str, Any] | None:
    """The report fields an image carries (None when it carries none)."""
    rows = []
    for keyword in REPORT_FIELDS:
        value = str(ds.get(keyword) or "").strip()
        if len(value) >= MIN_FINDING_CHARS and not _NOT_A_FINDING.search(value):
            rows.append({"level": 0, "type": "text", "name": keyword, "value": value[:2000],
                         "unit": ""})  # fmt: skip
    if not rows:
        return None
    return {
        "source": "image",
        "title": "",
        "device": " ".join(
            str(ds.get(k) or "").strip() for k in ("Manufacturer", "ManufacturerModelName")
        ).strip(),
        "completion": "",
        "verification": "",
        "rows": rows,
    }


DEVICE_LABEL = "【设备AI输出，供参考，未经医师审核】"


def as_text(document: dict[str, Any]) -> str:
    """The findings as plain text for the report draft, labelled as device output."""
    lines = []
    device = document.get("device") or ""
    title = document.get("title") or ""
    lines.append(DEVICE_LABEL + (f"{device}" if device else "") + (f"《{title}》" if title else ""))
    for row in document.get("rows") or []:
        indent = "  " * int(row.get("level", 0))
        if row.get("type") == "heading":
            lines.append(f"{indent}{row['name']}：")
            continue
        value = row.get("value", "")
        unit = row.get("unit") or ""
        name = row.get("name") or ""
        shown = f"{value} {unit}".strip()
        lines.append(f"{indent}{name}：{shown}" if name else f"{indent}{shown}")
    return "\n".join(lines)
