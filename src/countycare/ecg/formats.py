"""Read ECG files into a :class:`~countycare.ecg.waveform.Waveform` (issue 10, "Formats in").

``read(data)`` takes either the bytes of one file or ``{file name: bytes}`` for formats that
come as several files (WFDB's ``.hea`` + ``.dat``); a single upload of a multi-file record is a
**ZIP** of its files. The format is recognised by **content**, never by the file name:

- **DICOM** — ``DICM`` at byte 128 and a Waveform Sequence (12-lead ECG Waveform Storage and
  the other waveform SOP classes); the first multiplex group (the rhythm, not the median beat).
- **HL7 aECG** — XML whose root element is ``AnnotatedECG`` (urn:hl7-org:v3); the first
  rhythm ``series``; each lead is ``origin + scale × digits`` in the units the file states.
- **WFDB** — a header whose first line is ``name nsig fs [nsamp]`` with signal lines naming
  data files present in the dict; read by the ``wfdb`` package. Non-voltage channels (PLETH,
  ABP, …) are dropped.
- **JSON** — an object (layout below).
- **CSV** — text (layout below).

Plain-sample layouts for kits that export samples (documented here and in ``README.md``):

JSON::

    {"fs": 500, "units": "uV",                       # units: "uV" (default) or "mV"
     "acquired_at": "2026-03-01T09:30:00+08:00",      # optional, ISO 8601
     "device": "Maker Model 1.2",                     # optional
     "leads": {"I": [12, 15, ...], "II": [...], ...}} # 1–15 leads, equal lengths

CSV (UTF-8, comma-separated)::

    # fs: 500
    # units: uV
    # acquired_at: 2026-03-01T09:30:00+08:00
    # device: Maker Model 1.2
    I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6
    12,30,18,-21,-3,24,...
    ...

The ``# key: value`` lines come first (``fs`` is required); then one header row of lead names;
then one row per sample instant. A first column named ``time``, ``t`` or ``time_s`` is ignored.

Every failure is a :class:`countycare.core.errors.ValidationError` naming the problem
(truncated, wrong header, inconsistent lengths, no usable lead, …), never another exception.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import tempfile
import xml.etree.ElementTree as ET  # DTDs/entities are refused before parsing
import zipfile
from collections.abc import Callable, Mapping
from datetime import datetime

import numpy as np
from django.utils.translation import gettext as _

from countycare.core.errors import ValidationError
from countycare.ecg.preread import FLAT_STD_UV, MIN_DURATION_S
from countycare.ecg.waveform import Waveform

logger = logging.getLogger(__name__)

Files = Mapping[str, bytes]

# An exam shorter than preread.MIN_DURATION_S (5 s) cannot give a rate, a rhythm or a median
# beat: a 2-second strip is refused (issue 10, "Bad input"); a lead spreading less than
# preread.FLAT_STD_UV carries no ECG.
MIN_EXAM_SECONDS = MIN_DURATION_S

# Factor from a unit to µV; channels in other units are not ECG leads.
_UNIT_TO_UV = {
    "uv": 1.0,
    "µv": 1.0,
    "μv": 1.0,
    "microvolt": 1.0,
    "mv": 1000.0,
    "millivolt": 1000.0,
    "v": 1e6,
    "volt": 1e6,
    "nv": 1e-3,
}


def _error(message: str, code: str = "bad_ecg") -> ValidationError:
    return ValidationError(message, code=code, field="file")


def _unit_factor(unit: str | None) -> float | None:
    return _UNIT_TO_UV.get((unit or "").strip().lower())


def read(data: bytes | Files, *, exam: bool = True) -> Waveform:
    """Read one ECG record, recognising its format by content. With ``exam`` (the default:
    uploads, the command line) the record must also be usable as an ECG exam
    (``check_exam``); ``exam=False`` only parses (e.g. a window of a long record is checked
    after it is cut)."""
    files: dict[str, bytes]
    if isinstance(data, bytes | bytearray | memoryview):
        files = {"ecg": bytes(data)}
    elif isinstance(data, Mapping):
        files = {str(k): bytes(v) for k, v in data.items()}
    else:
        raise _error(_("No ECG file was given."))
    files = {name: content for name, content in files.items() if content}
    if not files:
        raise _error(_("The ECG file is empty."))
    if len(files) == 1:
        (only,) = files.values()
        if only[:4] == b"PK\x03\x04":
            files = _unzip(only)
    fmt = detect(files)
    reader = _READERS[fmt]
    try:
        wf = reader(files)
    except ValidationError:
        raise
    except Exception as exc:  # a corrupt file must never become a 500
        logger.info("ECG %s reader failed: %r", fmt, exc)
        raise _error(
            _("The %(format)s ECG file cannot be read (%(error)s).")
            % {"format": _FORMAT_NAMES[fmt], "error": str(exc)[:160] or type(exc).__name__}
        ) from None
    if exam:
        check_exam(wf)
    return wf


def check_exam(wf: Waveform) -> None:
    """What an ECG exam needs beyond a well-formed file: at least ``MIN_EXAM_SECONDS`` of
    recording and at least one lead that carries a signal. A 2-second strip or a record of
    flat lines is refused at upload with the reason (the village doctor records again while
    still with the patient), never stored."""
    if wf.duration < MIN_EXAM_SECONDS:
        raise _error(
            _(
                "The recording is only %(seconds).1f s long; an ECG needs at least %(min)d s "
                "(a standard 12-lead ECG records 10 s). Record again."
            )
            % {"seconds": wf.duration, "min": MIN_EXAM_SECONDS},
            code="too_short",
        )
    spread = wf.samples.std(axis=1)
    if not (spread >= FLAT_STD_UV).any():
        raise _error(
            _(
                "No usable lead: every lead is a flat line (are the electrodes connected and "
                "the cable plugged in?). Record again."
            ),
            code="no_signal",
        )


# A multi-file record (WFDB .hea + .dat) sent as one upload comes as a ZIP archive.
ZIP_MAX_MEMBERS = 32
ZIP_MAX_BYTES = 64 * 1024 * 1024


def _unzip(data: bytes) -> dict[str, bytes]:
    """The members of a ZIP archive by base name (folders ignored, never extracted to disk),
    bounded in count and uncompressed size (a ZIP bomb is refused before inflating)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > ZIP_MAX_MEMBERS or sum(m.file_size for m in members) > ZIP_MAX_BYTES:
            raise _error(
                _(
                    "The ZIP archive is too large for one ECG record (at most %(n)d files, %(mb)d MB)."
                )
                % {"n": ZIP_MAX_MEMBERS, "mb": ZIP_MAX_BYTES // (1024 * 1024)}
            )
        files = {}
        for member in members:
            name = os.path.basename(member.filename)
            if name and not name.startswith("."):
                files[name] = archive.read(member)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise _error(
            _("The ZIP archive is damaged or incomplete (%(error)s).") % {"error": str(exc)[:120]}
        ) from None
    files = {name: content for name, content in files.items() if content}
    if not files:
        raise _error(_("The ZIP archive holds no ECG file."))
    return files


def detect(files: Files) -> str:
    """``'dicom' | 'aecg' | 'wfdb' | 'json' | 'csv'`` for the given file(s), by content."""
    for content in files.values():
        if len(content) >= 132 and content[128:132] == b"DICM":
            return "dicom"
    for content in files.values():
        head = _text_head(content)
        if head.startswith("<"):
            if "AnnotatedECG" in head:
                return "aecg"
            raise _error(_("This XML file is not an HL7 annotated ECG (AnnotatedECG)."))
    if _find_wfdb_header(files) is not None:
        return "wfdb"
    for content in files.values():
        head = _text_head(content)
        if head.startswith("{"):
            return "json"
        if _looks_like_csv(head):
            return "csv"
    raise _error(
        _(
            "This ECG file type is not recognised. Send WFDB (.hea with its .dat), HL7 aECG XML, "
            "DICOM ECG, or the CSV/JSON sample layout."
        ),
        code="unsupported_type",
    )


def _text_head(content: bytes, size: int = 4096) -> str:
    head = content[:size]
    if b"\x00" in head:
        return ""
    return head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")


def _looks_like_csv(head: str) -> bool:
    lines = [ln for ln in head.splitlines() if ln.strip()]
    return bool(lines) and any("," in ln for ln in lines[:20]) and not head.startswith("<")


# -- WFDB ------------------------------------------------------------------------------------

_WFDB_RECORD_LINE = re.compile(
    r"^(\S+?)(?:/\d+)?\s+(\d+)\s+([\d.eE+-]+)(?:/[\d.eE+-]+)?(?:\(\S*\))?"
)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")


def _header_lines(content: bytes) -> list[str] | None:
    head = _text_head(content, 64 * 1024)
    if not head:
        return None
    return [ln.strip() for ln in head.splitlines() if ln.strip() and not ln.startswith("#")]


def _find_wfdb_header(files: Files) -> tuple[str, list[str]] | None:
    for name, content in files.items():
        lines = _header_lines(content)
        if not lines:
            continue
        match = _WFDB_RECORD_LINE.match(lines[0])
        if not match:
            continue
        nsig = int(match.group(2))
        signal_lines = lines[1 : 1 + nsig]
        if nsig == 0 or len(signal_lines) < nsig:
            continue
        data_files = [ln.split()[0] for ln in signal_lines]
        if all(not _SAFE_NAME.match(f) for f in data_files):
            continue
        return name, lines
    return None


def _read_wfdb(files: Files) -> Waveform:
    import wfdb

    found = _find_wfdb_header(files)
    if found is None:  # pragma: no cover - detect() guarantees a header
        raise _error(_("The WFDB header (.hea) is missing."))
    header_name, lines = found
    record_name = _WFDB_RECORD_LINE.match(lines[0]).group(1)
    nsig = int(_WFDB_RECORD_LINE.match(lines[0]).group(2))
    data_names = sorted({ln.split()[0] for ln in lines[1 : 1 + nsig]})
    unsafe = [n for n in [record_name, *data_names] if not _SAFE_NAME.match(n) or n.startswith(".")]
    if unsafe:
        raise _error(
            _("The WFDB header names unusable files: %(names)s.") % {"names": ", ".join(unsafe)}
        )
    by_basename = {os.path.basename(k): v for k, v in files.items()}
    missing = [n for n in data_names if n != "~" and n not in by_basename]
    if missing:
        raise _error(
            _("The WFDB record needs its signal file(s) %(names)s; send them with the .hea file.")
            % {"names": ", ".join(missing)}
        )
    with tempfile.TemporaryDirectory(prefix="countycare-ecg-") as tmp:
        with open(os.path.join(tmp, record_name + ".hea"), "wb") as fh:
            fh.write(files[header_name])
        for name in data_names:
            with open(os.path.join(tmp, name), "wb") as fh:
                fh.write(by_basename[name])
        try:
            record = wfdb.rdrecord(os.path.join(tmp, record_name), physical=True)
        except Exception as exc:
            raise _error(
                _(
                    "The WFDB record cannot be read: %(error)s (truncated or inconsistent with its header?)."
                )
                % {"error": str(exc)[:160] or type(exc).__name__}
            ) from None
    signal = record.p_signal
    if signal is None or signal.ndim != 2 or signal.shape[0] == 0:
        raise _error(_("The WFDB record has no samples."))
    expected = record.sig_len
    if expected and signal.shape[0] != expected:
        raise _error(
            _("The WFDB signal file is truncated: %(got)d of %(want)d samples.")
            % {"got": signal.shape[0], "want": expected}
        )
    leads, rows = [], []
    for i, (name, unit) in enumerate(zip(record.sig_name, record.units, strict=True)):
        factor = _unit_factor(unit)
        if factor is None:
            continue  # PLETH, ABP, respiration: not an ECG lead
        leads.append(name)
        rows.append(signal[:, i] * factor)
    if not leads:
        raise _error(_("The WFDB record has no ECG lead (no channel in volts)."))
    acquired = None
    if record.base_date is not None and record.base_time is not None:
        acquired = datetime.combine(record.base_date, record.base_time)
    return Waveform(
        leads=leads,
        fs=record.fs,
        samples=np.vstack(rows),
        acquired_at=acquired,
        source_format="wfdb",
        extra={"comments": list(record.comments or [])[:50]},
    )


# -- HL7 aECG --------------------------------------------------------------------------------

_HL7 = "{urn:hl7-org:v3}"
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def _parse_xml(content: bytes) -> ET.Element:
    head = content[:8192].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        # Entity expansion is the XML bomb; an aECG never needs a DTD.
        raise _error(_("The XML file declares a DTD or entities, which are not accepted."))
    try:
        return ET.fromstring(content)  # noqa: S314 -- DTD/entities refused above
    except ET.ParseError as exc:
        raise _error(
            _("The aECG XML is not well-formed (%(error)s); is it truncated?") % {"error": exc}
        ) from None


def _hl7_time(value: str | None) -> datetime | None:
    if not value:
        return None
    digits = value.split("+")[0].split("-")[0]
    main, _dot, frac = digits.partition(".")
    for fmt in ("%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d"):
        try:
            parsed = datetime.strptime(main, fmt)  # aECG times here carry no zone
        except ValueError:
            continue
        if frac and fmt == "%Y%m%d%H%M%S":
            parsed = parsed.replace(microsecond=int((frac + "000000")[:6]))
        return parsed
    return None


def _read_aecg(files: Files) -> Waveform:
    content = next(c for c in files.values() if _text_head(c).startswith("<"))
    root = _parse_xml(content)
    if root.tag != f"{_HL7}AnnotatedECG":
        raise _error(_("This XML file is not an HL7 annotated ECG (AnnotatedECG)."))
    series_list = root.findall(f"{_HL7}component/{_HL7}series")
    if not series_list:
        raise _error(_("The aECG has no waveform series."))
    # Prefer the rhythm series; derived (median-beat) series live under derivation/.
    series = next(
        (
            s
            for s in series_list
            if (s.find(f"{_HL7}code") is None or s.find(f"{_HL7}code").get("code") == "RHYTHM")
        ),
        series_list[0],
    )
    fs = None
    start = None
    leads: list[str] = []
    rows: list[np.ndarray] = []
    for seq in series.iterfind(f"{_HL7}component/{_HL7}sequenceSet/{_HL7}component/{_HL7}sequence"):
        code = (seq.find(f"{_HL7}code") is not None and seq.find(f"{_HL7}code").get("code")) or ""
        value = seq.find(f"{_HL7}value")
        if value is None:
            continue
        kind = value.get(_XSI_TYPE, "")
        if code.startswith("TIME_") and kind.endswith("GLIST_TS"):
            increment = value.find(f"{_HL7}increment")
            head = value.find(f"{_HL7}head")
            if increment is None:
                raise _error(_("The aECG time sequence has no increment."))
            step = float(increment.get("value", "nan"))
            unit = increment.get("unit", "s")
            step_s = step / 1000.0 if unit == "ms" else step
            if not step_s > 0:
                raise _error(_("The aECG time increment is not positive."))
            fs = 1.0 / step_s
            start = _hl7_time(head.get("value") if head is not None else None)
        elif kind.endswith("SLIST_PQ"):
            origin_el, scale_el = value.find(f"{_HL7}origin"), value.find(f"{_HL7}scale")
            digits_el = value.find(f"{_HL7}digits")
            if scale_el is None or digits_el is None or not (digits_el.text or "").strip():
                raise _error(_("aECG lead %(lead)s has no scale or no digits.") % {"lead": code})
            scale = float(scale_el.get("value", "nan"))
            origin = float(origin_el.get("value", "0")) if origin_el is not None else 0.0
            factor = _unit_factor(scale_el.get("unit"))
            origin_factor = _unit_factor(origin_el.get("unit")) if origin_el is not None else factor
            if factor is None or origin_factor is None:
                continue  # not a voltage sequence
            try:
                digits = np.array(digits_el.text.split(), dtype=np.float64)
            except ValueError:
                raise _error(
                    _("aECG lead %(lead)s has non-numeric digits.") % {"lead": code}
                ) from None
            # HL7 SLIST_PQ: value = origin + scale × digit (each in its own stated unit).
            rows.append(origin * origin_factor + digits * scale * factor)
            leads.append(code)
    if fs is None:
        raise _error(_("The aECG rhythm series has no time sequence (sampling rate unknown)."))
    if not rows:
        raise _error(_("The aECG has no ECG lead."))
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        raise _error(
            _(
                "The aECG leads have different lengths (%(lengths)s samples); the file may be truncated."
            )
            % {"lengths": ", ".join(str(n) for n in sorted(lengths))}
        )
    device = " ".join(
        t.strip()
        for t in (
            series.findtext(f".//{_HL7}manufacturerOrganization/{_HL7}name"),
            series.findtext(f".//{_HL7}manufacturerModelName"),
            series.findtext(f".//{_HL7}softwareName"),
        )
        if t and t.strip()
    )
    if start is None:
        low = series.find(f"{_HL7}effectiveTime/{_HL7}low")
        start = _hl7_time(low.get("value") if low is not None else None)
    return Waveform(
        leads=leads,
        fs=round(fs, 6),
        samples=np.vstack(rows),
        acquired_at=start,
        device=device,
        source_format="aecg",
    )


# -- DICOM -----------------------------------------------------------------------------------


def _read_dicom(files: Files) -> Waveform:
    import pydicom
    from pydicom.errors import InvalidDicomError

    content = next(c for c in files.values() if len(c) >= 132 and c[128:132] == b"DICM")
    try:
        ds = pydicom.dcmread(io.BytesIO(content))
    except (InvalidDicomError, Exception) as exc:
        raise _error(
            _("The DICOM file cannot be read (%(error)s).") % {"error": str(exc)[:160]}
        ) from None
    if "WaveformSequence" not in ds or not ds.WaveformSequence:
        raise _error(_("This DICOM file holds no waveform (is it an image?)."))
    # The first multiplex group is the rhythm; a later "MEDIAN BEAT" group is derived.
    index = 0
    for i, group in enumerate(ds.WaveformSequence):
        label = str(group.get("MultiplexGroupLabel", "")).upper()
        if "RHYTHM" in label:
            index = i
            break
    group = ds.WaveformSequence[index]
    try:
        array = ds.waveform_array(index)  # (samples, channels), sensitivity and baseline applied
    except Exception as exc:
        raise _error(
            _("The DICOM waveform data cannot be decoded (%(error)s); the file may be truncated.")
            % {"error": str(exc)[:160]}
        ) from None
    channels = group.get("ChannelDefinitionSequence") or []
    if len(channels) != array.shape[1]:
        raise _error(_("The DICOM waveform's channel definitions do not match its data."))
    leads, rows = [], []
    for i, channel in enumerate(channels):
        source = (channel.get("ChannelSourceSequence") or [None])[0]
        name = (
            (source.get("CodeMeaning") or source.get("CodeValue")) if source is not None else None
        )
        name = name or str(channel.get("ChannelLabel", "")) or f"channel {i + 1}"
        units = (channel.get("ChannelSensitivityUnitsSequence") or [None])[0]
        unit = units.get("CodeValue") if units is not None else "uV"
        factor = _unit_factor(unit)
        if factor is None:
            continue
        leads.append(name)
        rows.append(array[:, i].astype(np.float64) * factor)
    if not leads:
        raise _error(_("The DICOM waveform has no ECG lead (no channel in volts)."))
    acquired = None
    stamp = str(ds.get("AcquisitionDateTime", "") or "")
    if not stamp and ds.get("ContentDate"):
        stamp = f"{ds.ContentDate}{ds.get('ContentTime', '')}"
    acquired = _hl7_time(stamp)
    device = " ".join(
        str(v).strip()
        for v in (
            ds.get("Manufacturer"),
            ds.get("ManufacturerModelName"),
            ds.get("SoftwareVersions"),
        )
        if v and str(v).strip()
    )
    return Waveform(
        leads=leads,
        fs=float(group.SamplingFrequency),
        samples=np.vstack(rows),
        acquired_at=acquired,
        device=device,
        source_format="dicom",
    )


# -- JSON / CSV ------------------------------------------------------------------------------


def _acquired(value) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise _error(
            _("acquired_at %(value)r is not an ISO 8601 time.") % {"value": value}
        ) from None


def _fs(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _error(_("The sampling rate (fs) is missing or not a number.")) from None


def _read_json(files: Files) -> Waveform:
    content = next(c for c in files.values() if _text_head(c).startswith("{"))
    try:
        doc = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _error(
            _("The ECG JSON is not valid JSON (%(error)s); is it truncated?") % {"error": exc}
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("leads"), dict):
        raise _error(_('The ECG JSON needs an object with "fs" and "leads": {name: [samples]}.'))
    factor = _unit_factor(doc.get("units", "uV"))
    if factor is None:
        raise _error(_('The ECG JSON "units" must be "uV" or "mV".'))
    leads, rows = [], []
    for name, values in doc["leads"].items():
        if not isinstance(values, list):
            raise _error(_("Lead %(lead)s is not a list of samples.") % {"lead": name})
        try:
            rows.append(
                np.array([np.nan if v is None else v for v in values], dtype=np.float64) * factor
            )
        except (TypeError, ValueError):
            raise _error(
                _("Lead %(lead)s has a value that is not a number.") % {"lead": name}
            ) from None
        leads.append(name)
    _check_lengths(leads, rows)
    return Waveform(
        leads=leads,
        fs=_fs(doc.get("fs")),
        samples=np.vstack(rows) if rows else np.zeros((0, 0)),
        acquired_at=_acquired(doc.get("acquired_at")),
        device=str(doc.get("device") or ""),
        source_format="json",
    )


def _check_lengths(leads: list[str], rows: list[np.ndarray]) -> None:
    if not rows:
        raise _error(_("The ECG has no usable lead."))
    lengths = {lead: len(row) for lead, row in zip(leads, rows, strict=True)}
    if len(set(lengths.values())) != 1:
        raise _error(
            _("The leads have different lengths: %(lengths)s.")
            % {"lengths": ", ".join(f"{k} {v}" for k, v in lengths.items())}
        )


def _read_csv(files: Files) -> Waveform:
    content = next(c for c in files.values() if _looks_like_csv(_text_head(c)))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _error(_("The ECG CSV is not UTF-8 text.")) from None
    meta: dict[str, str] = {}
    lines = text.splitlines()
    body_start = 0
    for body_start, line in enumerate(lines):  # noqa: B007 -- index used after the loop
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            key, sep, value = stripped[1:].partition(":")
            if sep:
                meta[key.strip().lower()] = value.strip()
            continue
        break
    else:
        raise _error(_("The ECG CSV has no header row of lead names."))
    header = [h.strip() for h in lines[body_start].split(",")]
    skip_first = header[0].lower() in {"time", "t", "time_s"}
    names = header[1:] if skip_first else header
    data_lines = [
        ln for ln in lines[body_start + 1 :] if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if not data_lines:
        raise _error(_("The ECG CSV has no samples."))
    cells = [ln.split(",") for ln in data_lines]
    uneven = next((i for i, row in enumerate(cells) if len(row) != len(header)), None)
    if uneven is not None:
        raise _error(
            _("CSV row %(row)d has %(got)d values but the header names %(n)d columns.")
            % {"row": uneven + 1, "got": len(cells[uneven]), "n": len(header)}
        )
    try:
        table = np.array(
            [[float(x) if x.strip() else np.nan for x in row] for row in cells], dtype=np.float64
        )
    except ValueError as exc:
        raise _error(
            _("The ECG CSV has a value that is not a number (%(error)s).") % {"error": exc}
        ) from None
    if skip_first:
        table = table[:, 1:]
    factor = _unit_factor(meta.get("units", "uV"))
    if factor is None:
        raise _error(_('The ECG CSV "units" must be "uV" or "mV".'))
    return Waveform(
        leads=names,
        fs=_fs(meta.get("fs")),
        samples=table.T * factor,
        acquired_at=_acquired(meta.get("acquired_at")),
        device=meta.get("device", ""),
        source_format="csv",
    )


_READERS: dict[str, Callable[[Files], Waveform]] = {
    "dicom": _read_dicom,
    "aecg": _read_aecg,
    "wfdb": _read_wfdb,
    "json": _read_json,
    "csv": _read_csv,
}
_FORMAT_NAMES = {"dicom": "DICOM", "aecg": "HL7 aECG", "wfdb": "WFDB", "json": "JSON", "csv": "CSV"}
