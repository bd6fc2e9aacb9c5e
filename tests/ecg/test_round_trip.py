"""Issue 10, "Done means": every format read from real files and round-tripped — upload →
internal representation in file storage → the viewer's SVG → the report PDF — for 1 to 15
leads. The files are in tests/data/ecg (ATTRIBUTION.md) and pydicom's bundled
waveform_ecg.dcm; WFDB records go up as one ZIP of their files."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import wfdb
from pydicom.data import get_testdata_file

from countycare.ecg import formats, viewer
from countycare.ecg.models import EcgRecording, PreReadStatus
from countycare.telemed import panels, reports, services
from countycare.telemed.attachments import add_attachment

DATA = Path(__file__).resolve().parent.parent / "data" / "ecg"


def _zip(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            zf.writestr(f"record/{name}", (DATA / name).read_bytes())
    return buf.getvalue()


def _ludb1():
    return formats.read({n: (DATA / n).read_bytes() for n in ("1.hea", "1.dat")})


def _json_12() -> bytes:
    wf = _ludb1()
    doc = {"fs": wf.fs, "units": "mV", "device": "kit", "acquired_at": "2026-03-01T09:30:00+08:00",
           "leads": {n: (r / 1000).round(4).tolist() for n, r in
                     zip(wf.leads, wf.samples, strict=True)}}  # fmt: skip
    return json.dumps(doc).encode()


def _csv_one_lead() -> bytes:
    """A 1-lead strip: LUDB record 1's lead II as the documented CSV layout."""
    ii = _ludb1().lead("II")
    lines = ["# fs: 500", "# units: uV", "time,II"]
    lines += [f"{i / 500:.3f},{v:.1f}" for i, v in enumerate(ii)]
    return "\n".join(lines).encode()


def _csv_three_leads() -> bytes:
    wf = _ludb1()
    lines = ["# fs: 500", "I,II,III"]
    lines += [",".join(f"{v:.1f}" for v in wf.samples[:3, i]) for i in range(wf.n_samples)]
    return "\n".join(lines).encode()


SOURCES = {
    # name: (upload bytes, format, leads, fs)
    "WFDB LUDB (zip)": (lambda: _zip("1.hea", "1.dat"), "wfdb", 12, 500),
    "WFDB .mat CinC 2021 (zip)": (lambda: _zip("E07500.hea", "E07500.mat"), "wfdb", 12, 500),
    "WFDB PTB 15 leads (zip)": (
        lambda: _zip("s0010_re.hea", "s0010_re.dat", "s0010_re.xyz"),
        "wfdb",
        15,
        1000,
    ),
    "WFDB CPSC 2021 2 leads (zip)": (
        lambda: _zip("data_8_4.hea", "data_8_4.dat"),
        "wfdb",
        2,
        200,
    ),
    "HL7 aECG": (lambda: (DATA / "hl7_example_aecg.xml").read_bytes(), "aecg", 12, 500),
    "DICOM waveform": (
        lambda: Path(get_testdata_file("waveform_ecg.dcm")).read_bytes(),
        "dicom",
        12,
        1000,
    ),
    "JSON 12 leads": (_json_12, "json", 12, 500),
    "CSV 3 leads": (_csv_three_leads, "csv", 3, 500),
    "CSV 1 lead": (_csv_one_lead, "csv", 1, 500),
}


def _points(svg: str) -> list[np.ndarray]:
    return [
        np.array([[float(v) for v in p.split(",")] for p in pts.split()])
        for pts in re.findall(r'class="ecg-trace"[^>]*points="([^"]+)"', svg)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("name", SOURCES, ids=list(SOURCES))
def test_upload_store_view_and_pdf(
    name, make_order, village_doctor, center_reader, web, settings, tmp_path,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    settings.MEDIA_ROOT = tmp_path
    make, fmt, n_leads, fs = SOURCES[name]
    data = make()
    direct = formats.read(data)
    assert direct.source_format == fmt and len(direct.leads) == n_leads and direct.fs == fs

    order = make_order()
    with django_capture_on_commit_callbacks(execute=True):
        att, created = add_attachment(village_doctor, order.pk, io.BytesIO(data), name="ecg")
    assert created and att.kind == "ecg"
    rec = EcgRecording.objects.get(attachment=att)
    assert rec.status == PreReadStatus.DONE, rec.error
    assert rec.leads == direct.leads and rec.fs == fs and rec.n_samples == direct.n_samples

    # Internal representation in storage: the same samples at 1 µV.
    stored = rec.waveform()
    np.testing.assert_allclose(stored.samples, direct.samples, atol=0.5 + 1e-3)
    assert rec.file.name.endswith(".npz") and rec.file.size < direct.samples.nbytes

    # The viewer endpoint draws the stored record as the direct read would be drawn.
    response = web(center_reader).get(f"/ecg/recordings/{rec.pk}/svg/?layout=rows")
    assert response.status_code == 200
    served = response.content.decode()
    expected = viewer.render_svg(direct, layout="rows", beats=rec.beats,
                                 title=f"ECG {order.accession_number}")  # fmt: skip
    got, want = _points(served), _points(expected)
    assert len(got) == len(want) == n_leads
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, atol=0.02)  # 1 µV at 10 mm/mV = 0.01 mm

    # The PDF panel carries the page's drawing; the signed report's PDF renders.
    pdf_html = "".join(panels.render(order, "pdf"))
    page_html = "".join(panels.render(order, "read"))
    assert _points(pdf_html) and [p.tolist() for p in _points(pdf_html)] == [
        p.tolist() for p in _points(page_html)
    ]
    services.claim(center_reader, order.pk)
    report = services.sign_report(center_reader, order.pk, findings_text="见图", impression="—")
    pdf = reports.render_pdf(report)
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000


def test_fifteen_leads_match_wfdb_and_keep_frank_leads():
    wave = formats.read({n: (DATA / n).read_bytes() for n in
                         ("s0010_re.hea", "s0010_re.dat", "s0010_re.xyz")})  # fmt: skip
    ref = wfdb.rdrecord(str(DATA / "s0010_re"))
    assert wave.leads == ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5",
                          "V6", "X", "Y", "Z"]  # fmt: skip
    assert wave.duration == pytest.approx(38.4)
    np.testing.assert_allclose(wave.samples, ref.p_signal.T * 1000, atol=0.01)
    svg = viewer.render_svg(wave)  # the paper layout shows the 12 standard leads + II
    assert svg.count('class="ecg-trace"') == 13
    rows = viewer.render_svg(wave, layout="rows")
    assert rows.count('class="ecg-trace"') == 15 and 'data-lead="Z"' in rows


def test_a_zip_that_is_not_an_ecg_is_not_an_ecg():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(formats.ValidationError) as info:
        formats.read(buf.getvalue())
    assert info.value.code == "unsupported_type"


def test_zip_bomb_is_refused_before_inflating():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.dat", b"\0" * (formats.ZIP_MAX_BYTES + 1))
    with pytest.raises(formats.ValidationError, match="too large"):
        formats.read(buf.getvalue())


def test_wfdb_zip_without_its_signal_file_names_it():
    with pytest.raises(formats.ValidationError, match=r"1\.dat"):
        formats.read(_zip("1.hea"))
