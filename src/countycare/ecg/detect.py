"""Attachment detector for ECG recordings (issue 10): plugged into
``telemed.attachments.register_detector(..., first=True)`` by ``EcgConfig.ready``, so it sees
DICOM files before the generic DICOM detector.

A single uploaded file is an ECG when ``ecg.formats`` recognises it by content and reads it
completely as an exam (``formats.check_exam``: ≥ 5 s, at least one lead with signal); a
recognised but unusable file is refused with the reader's reason (400 through the API, a
message on the page), so nothing is stored half-way. DICOM files with a Waveform Sequence
(12-lead ECG Waveform Storage, the DICOM listener's hand-over included) are read the same way
and keep their SOP Instance UID; other DICOM objects are left to the DICOM detector.
A WFDB record (``.hea`` + ``.dat``/``.mat``) is uploaded as one ZIP of its files.
"""

from __future__ import annotations

from countycare.core.errors import ValidationError
from countycare.ecg import formats


def _dicom_has_waveform(fileobj) -> tuple[bool, str]:
    import pydicom

    fileobj.seek(0)
    try:
        ds = pydicom.dcmread(fileobj, stop_before_pixels=True, specific_tags=["SOPInstanceUID",
                             "WaveformSequence"])  # fmt: skip
    except Exception:
        return False, ""  # not readable as DICOM: the DICOM detector names the problem
    finally:
        fileobj.seek(0)
    return "WaveformSequence" in ds, str(ds.get("SOPInstanceUID", "") or "")


def detect_ecg(head: bytes, fileobj) -> tuple[str, str] | None:
    if len(head) >= 132 and head[128:132] == b"DICM":
        has_waveform, uid = _dicom_has_waveform(fileobj)
        if not has_waveform:
            return None
        data = fileobj.read()
        fileobj.seek(0)
        formats.read(data)  # raises ValidationError naming the problem
        return "ecg", uid
    fileobj.seek(0)
    data = fileobj.read()
    fileobj.seek(0)
    try:
        if data[:4] == b"PK\x03\x04":
            formats.read(data)  # a ZIP of a WFDB record (or not an ECG at all)
            return "ecg", ""
        formats.detect({"upload": data})
    except ValidationError as exc:
        if exc.code == "unsupported_type":
            return None
        raise
    formats.read(data)  # raises ValidationError naming the problem
    return "ecg", ""
