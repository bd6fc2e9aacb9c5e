"""ECG uploads are recognised by the Walking Hospital's attachment detection (issue 10)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from countycare.core.errors import ValidationError
from countycare.ecg.formats import read
from countycare.telemed.attachments import detect

DATA = Path(__file__).resolve().parent.parent / "data" / "ecg"


def test_aecg_upload_is_an_ecg_attachment():
    assert detect(io.BytesIO((DATA / "hl7_example_aecg.xml").read_bytes())) == ("ecg", "")


def test_json_upload_is_an_ecg_attachment():
    # One real lead (LUDB record 1, lead II, 10 s) in the documented JSON layout.
    wave = read({n: (DATA / n).read_bytes() for n in ("1.hea", "1.dat")})
    doc = {"fs": 500, "leads": {"II": [round(float(v)) for v in wave.lead("II")]}}
    assert detect(io.BytesIO(json.dumps(doc).encode())) == ("ecg", "")


def test_dicom_ecg_waveform_is_an_ecg_attachment_with_its_sop_instance_uid():
    data = Path(get_testdata_file("waveform_ecg.dcm")).read_bytes()
    assert detect(io.BytesIO(data)) == ("ecg", "1.3.6.1.4.1.20029.40.20130125105919.5407.1.1")


def test_dicom_image_is_left_to_the_dicom_detector():
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    assert detect(io.BytesIO(data))[0] == "dicom"


def test_dicom_ecg_with_damaged_waveform_data_is_refused_with_reason():
    """The header (and its Waveform Sequence) parse, but the samples are cut short: refused at
    upload, not stored to fail later."""
    ds = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    group = ds.WaveformSequence[0]
    group.WaveformData = group.WaveformData[: len(group.WaveformData) // 3]
    buf = io.BytesIO()
    ds.save_as(buf)
    with pytest.raises(ValidationError) as info:
        detect(io.BytesIO(buf.getvalue()))
    assert "DICOM" in str(info.value)


def test_recognised_but_broken_ecg_is_refused_with_reason():
    xml = (DATA / "hl7_example_aecg.xml").read_bytes()
    with pytest.raises(ValidationError, match="truncated"):
        detect(io.BytesIO(xml[: len(xml) // 2]))


def test_unknown_binary_still_refused_as_before():
    with pytest.raises(ValidationError) as info:
        detect(io.BytesIO(b"\x00\x01\x02\x03 binary"))
    assert info.value.code == "unsupported_type"
