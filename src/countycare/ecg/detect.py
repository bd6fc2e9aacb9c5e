"""Attachment detector for ECG recordings (issue 10): plugged into
``telemed.attachments.register_detector`` by ``EcgConfig.ready``.

A single uploaded file is an ECG when ``ecg.formats`` recognises it by content and reads it
completely; a recognised but unreadable file is refused with the reader's reason, so nothing
is stored half-way. Multi-file WFDB records cannot arrive through a single-file upload.
"""

from __future__ import annotations

from countycare.core.errors import ValidationError
from countycare.ecg import formats


def detect_ecg(head: bytes, fileobj) -> tuple[str, str] | None:
    if len(head) >= 132 and head[128:132] == b"DICM":
        return (
            None  # DICOM ECG: see the report on issue 10 (needs to run before the DICOM detector)
        )
    fileobj.seek(0)
    data = fileobj.read()
    fileobj.seek(0)
    try:
        fmt = formats.detect({"upload": data})
    except ValidationError as exc:
        if exc.code == "unsupported_type":
            return None
        raise
    if fmt == "wfdb":
        return None
    formats.read(data)  # raises ValidationError naming the problem
    return "ecg", ""
