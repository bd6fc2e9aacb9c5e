"""Readers for issue 10 against real files (tests/data/ecg, see ATTRIBUTION.md): the values
must match what wfdb and pydicom themselves read, and bad input must give a ValidationError."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
import wfdb
from pydicom.data import get_testdata_file

from countycare.core.errors import ValidationError
from countycare.ecg.formats import detect, read
from countycare.ecg.waveform import STANDARD_ORDER

DATA = Path(__file__).resolve().parent.parent / "data" / "ecg"


def wfdb_files(record: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in DATA.glob(f"{record}.*")}


def dicom_bytes() -> bytes:
    return Path(get_testdata_file("waveform_ecg.dcm")).read_bytes()


# -- WFDB ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "n_leads", "fs", "seconds"),
    [("1", 12, 500, 10.0), ("E07500", 12, 500, 10.0), ("3000003_0003", 2, 125, 8.224)],
)
def test_wfdb_matches_wfdb_package(record, n_leads, fs, seconds):
    wave = read(wfdb_files(record))
    reference = wfdb.rdrecord(str(DATA / record))

    assert wave.source_format == "wfdb"
    assert len(wave.leads) == n_leads
    assert wave.fs == fs
    assert wave.duration == pytest.approx(seconds)
    # wfdb gives mV; we store µV.
    expected_uv = reference.p_signal.T * 1000
    np.testing.assert_allclose(wave.samples, expected_uv, atol=0.01)


def test_ludb_lead_names_are_normalised():
    wave = read(wfdb_files("1"))
    assert wave.leads == STANDARD_ORDER
    # First sample of lead II from its header line "1206(2)/mV ... 25": (25 - 2) / 1206 mV.
    assert wave.lead("ii")[0] == pytest.approx((25 - 2) / 1206 * 1000, abs=0.01)


def test_wfdb_detected_by_content_not_by_name():
    files = wfdb_files("E07500")
    renamed = {"upload-1": files["E07500.hea"], "E07500.mat": files["E07500.mat"]}
    assert detect(renamed) == "wfdb"
    assert read(renamed).n_samples == 5000


def test_wfdb_missing_signal_file_is_named():
    with pytest.raises(ValidationError, match=r"1\.dat"):
        read({"1.hea": (DATA / "1.hea").read_bytes()})


def test_wfdb_truncated_signal_file():
    files = wfdb_files("1")
    files["1.dat"] = files["1.dat"][:50_001]
    with pytest.raises(ValidationError) as info:
        read(files)
    assert "WFDB" in str(info.value)


def test_wfdb_header_with_inconsistent_signal_count():
    files = wfdb_files("1")
    lines = files["1.hea"].decode().splitlines()
    lines[0] = lines[0].replace(" 12 ", " 13 ", 1)  # says 13 signals, describes 12
    files["1.hea"] = "\n".join(lines).encode()
    with pytest.raises(ValidationError):
        read(files)


# -- HL7 aECG --------------------------------------------------------------------------------


def test_aecg_example():
    wave = read((DATA / "hl7_example_aecg.xml").read_bytes())

    assert wave.source_format == "aecg"
    assert sorted(wave.leads) == sorted(STANDARD_ORDER)
    assert wave.fs == 500
    assert wave.n_samples == 5000
    assert wave.duration == pytest.approx(10.0)
    assert wave.acquired_at.isoformat() == "2002-11-22T09:10:00"
    assert "ELI250" in wave.device
    # Lead I digits begin "-2 -2 -2 -2 -3 -4"; origin 0 µV, scale 2.5 µV.
    np.testing.assert_allclose(wave.lead("I")[:6], [-5, -5, -5, -5, -7.5, -10])
    # Lead V1 digits begin "43 43 43 43 43 42".
    np.testing.assert_allclose(wave.lead("V1")[:6], [107.5] * 5 + [105])


def test_aecg_origin_and_scale_units_are_applied():
    xml = (DATA / "hl7_example_aecg.xml").read_bytes()
    # Same digits, but the file states origin 1 mV and scale 0.0025 mV: values in µV shift by 1000.
    edited = xml.replace(
        b'<origin value="0" unit="uV"/>', b'<origin value="1" unit="mV"/>'
    ).replace(b'<scale value="2.5" unit="uV"/>', b'<scale value="0.0025" unit="mV"/>')
    base, shifted = read(xml), read(edited)
    np.testing.assert_allclose(shifted.samples, base.samples + 1000, atol=1e-3)


def test_aecg_truncated():
    xml = (DATA / "hl7_example_aecg.xml").read_bytes()
    with pytest.raises(ValidationError, match="truncated"):
        read(xml[: len(xml) // 2])


def test_aecg_refuses_entities():
    bomb = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]><AnnotatedECG xmlns="urn:hl7-org:v3">&x;</AnnotatedECG>'
    with pytest.raises(ValidationError, match="DTD"):
        read(bomb)


def test_other_xml_is_not_an_ecg():
    with pytest.raises(ValidationError, match="AnnotatedECG"):
        read(b"<?xml version='1.0'?><ClinicalDocument/>")


# -- DICOM -----------------------------------------------------------------------------------


def test_dicom_matches_pydicom():
    wave = read(dicom_bytes())
    ds = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    reference = ds.waveform_array(0)  # channel units are µV in this file

    assert wave.source_format == "dicom"
    assert wave.leads == STANDARD_ORDER
    assert wave.fs == 1000
    assert wave.n_samples == 10_000
    assert wave.duration == pytest.approx(10.0)
    np.testing.assert_allclose(wave.samples, reference.T, atol=1e-3)
    assert wave.samples[0, :3].tolist() == [100.0, 81.25, 62.5]
    assert wave.acquired_at.isoformat() == "2013-01-25T10:59:19"
    assert wave.device.startswith("Mortara")


def test_dicom_without_waveform():
    ct = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    with pytest.raises(ValidationError, match="no waveform"):
        read(ct)


def test_dicom_truncated():
    data = dicom_bytes()
    with pytest.raises(ValidationError):
        read(data[: len(data) // 2])


# -- CSV / JSON ------------------------------------------------------------------------------


def test_json_layout_round_trips_real_samples():
    real = read(wfdb_files("1"))
    doc = {
        "fs": real.fs,
        "units": "mV",
        "device": "kit 1",
        "acquired_at": "2026-03-01T09:30:00+08:00",
        "leads": {
            lead: (row / 1000).tolist() for lead, row in zip(real.leads, real.samples, strict=True)
        },
    }
    wave = read(json.dumps(doc).encode())
    assert wave.source_format == "json"
    assert wave.leads == real.leads
    assert wave.device == "kit 1"
    assert wave.acquired_at.utcoffset().total_seconds() == 8 * 3600
    np.testing.assert_allclose(wave.samples, real.samples, atol=1e-3)


def test_csv_layout_reads_real_samples():
    real = read(wfdb_files("3000003_0003"))
    lines = ["# fs: 125", "# units: uV", "# device: strip recorder", "time," + ",".join(real.leads)]
    lines += [
        f"{i / 125:.3f}," + ",".join(f"{v:.3f}" for v in real.samples[:, i])
        for i in range(real.n_samples)
    ]
    wave = read("\n".join(lines).encode())
    assert wave.source_format == "csv"
    assert wave.leads == ["II", "V"]
    assert wave.fs == 125
    assert wave.device == "strip recorder"
    np.testing.assert_allclose(wave.samples, real.samples, atol=1e-3)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"fs": 500, "leads": {"I": [1, 2, 3], "II": [1, 2]}}', "different lengths"),
        (b'{"fs": 500, "leads": {}}', "no usable lead"),
        (b'{"fs": 500, "leads": {"I": [1, null, 3]}}', "NaN"),
        (b'{"fs": 5, "leads": {"I": [1, 2, 3]}}', "sampling rate"),
        (b'{"leads": {"I": [1, 2, 3]}}', "fs"),
        (b'{"fs": 500, "leads": {"I": [1, 2, "x"]}}', "not a number"),
        (b'{"fs": 500, "leads": {"I": [1, 2', "truncated"),
        (b"# fs: 500\nI,II\n1,2\n3\n", "row 2"),
        (b"# fs: 500\nI,II\n1,2\n3,abc\n", "not a number"),
        (b"I,II\n1,2\n", "fs"),
        (b"\x00\x01\x02binary", "not recognised"),
        (b"", "empty"),
    ],
)
def test_bad_plain_input(payload, message):
    with pytest.raises(ValidationError, match=message):
        read(payload)


def test_sixteen_leads_refused():
    doc = {"fs": 500, "leads": {f"L{i}": [0] * 10 for i in range(16)}}
    with pytest.raises(ValidationError, match="at most 15"):
        read(json.dumps(doc).encode())
