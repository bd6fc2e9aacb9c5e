"""ECG uploads are recognised by the Walking Hospital's attachment detection (issue 10)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from countycare.core.errors import ValidationError
from countycare.telemed.attachments import detect

DATA = Path(__file__).resolve().parent.parent / "data" / "ecg"


def test_aecg_upload_is_an_ecg_attachment():
    assert detect(io.BytesIO((DATA / "hl7_example_aecg.xml").read_bytes())) == ("ecg", "")


def test_json_upload_is_an_ecg_attachment():
    doc = {"fs": 500, "leads": {"II": [0, 10, 20, 10, 0]}}
    assert detect(io.BytesIO(json.dumps(doc).encode())) == ("ecg", "")


def test_recognised_but_broken_ecg_is_refused_with_reason():
    xml = (DATA / "hl7_example_aecg.xml").read_bytes()
    with pytest.raises(ValidationError, match="truncated"):
        detect(io.BytesIO(xml[: len(xml) // 2]))


def test_unknown_binary_still_refused_as_before():
    with pytest.raises(ValidationError) as info:
        detect(io.BytesIO(b"\x00\x01\x02\x03 binary"))
    assert info.value.code == "unsupported_type"
