"""The internal representation and its stored form (issue 10)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from countycare.core.errors import ValidationError
from countycare.ecg.formats import read
from countycare.ecg.waveform import Waveform, normalize_lead

DATA = Path(__file__).resolve().parent.parent / "data" / "ecg"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ii", "II"),
        ("AVR", "aVR"),
        ("avf", "aVF"),
        ("v1", "V1"),
        ("MDC_ECG_LEAD_AVL", "aVL"),
        ("Lead I (Einthoven)", "I"),
        ("Lead aVF (Goldberger)", "aVF"),
        ("vx", "X"),
        ("PLETH", "PLETH"),
    ],
)
def test_normalize_lead(raw, expected):
    assert normalize_lead(raw) == expected


@pytest.mark.parametrize(
    "source",
    [
        lambda: read({p.name: p.read_bytes() for p in DATA.glob("1.*")}),
        lambda: read((DATA / "hl7_example_aecg.xml").read_bytes()),
        lambda: read(Path(get_testdata_file("waveform_ecg.dcm")).read_bytes()),
    ],
    ids=["wfdb", "aecg", "dicom"],
)
def test_round_trip_through_stored_bytes(source):
    wave = source()
    data = wave.to_bytes()
    back = Waveform.from_bytes(data)

    assert back.leads == wave.leads
    assert back.fs == wave.fs
    assert back.acquired_at == wave.acquired_at
    assert back.device == wave.device
    assert back.source_format == wave.source_format
    # Stored at 1 µV resolution.
    np.testing.assert_allclose(back.samples, wave.samples, atol=0.5 + 1e-3)
    # Compact: well under the raw float32 size.
    assert len(data) < wave.samples.nbytes / 2


def test_large_amplitudes_are_stored_as_int32():
    wave = Waveform(leads=["I"], fs=500, samples=np.array([[0, 40_000, -40_000]]))
    assert Waveform.from_bytes(wave.to_bytes()).samples.tolist() == [[0, 40_000, -40_000]]


def test_timezone_survives():
    when = datetime.fromisoformat("2026-03-01T09:30:00+08:00")
    wave = Waveform(leads=["II"], fs=250, samples=np.zeros((1, 10)), acquired_at=when)
    assert Waveform.from_bytes(wave.to_bytes()).acquired_at == when


def test_duration():
    assert Waveform(leads=["I", "II"], fs=500, samples=np.zeros((2, 1250))).duration == 2.5


@pytest.mark.parametrize(
    "data", [b"", b"not a zip", b"PK\x03\x04 truncated", np.zeros(3).tobytes()]
)
def test_damaged_stored_bytes(data):
    with pytest.raises(ValidationError, match="damaged"):
        Waveform.from_bytes(data)


def test_stored_bytes_truncated():
    data = read((DATA / "hl7_example_aecg.xml").read_bytes()).to_bytes()
    with pytest.raises(ValidationError, match="damaged"):
        Waveform.from_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"leads": [], "samples": np.zeros((0, 10))}, "no usable lead"),
        ({"leads": ["I", "I"], "samples": np.zeros((2, 10))}, "twice"),
        ({"leads": ["I", "II"], "samples": np.zeros((3, 10))}, "shape"),
        ({"leads": ["I"], "samples": np.zeros((1, 0))}, "no samples"),
        ({"leads": ["I"], "fs": 100_000, "samples": np.zeros((1, 10))}, "not plausible"),
    ],
)
def test_invalid_waveform(kwargs, message):
    kwargs.setdefault("fs", 500)
    with pytest.raises(ValidationError, match=message):
        Waveform(**kwargs)
