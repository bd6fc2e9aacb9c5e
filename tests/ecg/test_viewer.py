"""The ECG viewer (issue 10): a calibrated SVG in paper millimetres, the same drawing on the
reading page, the order page and the report PDF (telemed order panels), scoped and audited."""

from __future__ import annotations

import contextlib
import io
import re
import zlib
from pathlib import Path

import numpy as np
import pytest

from countycare.core.models import AuditEntry
from countycare.ecg import formats, viewer
from countycare.ecg.models import EcgRecording
from countycare.telemed import reports, services
from countycare.telemed.attachments import add_attachment

DATA = Path(__file__).resolve().parent.parent / "data" / "ecg"


def _ludb1():
    return formats.read({n: (DATA / n).read_bytes() for n in ("1.hea", "1.dat")})


def _points(svg: str, lead: str, nth: int = 0) -> np.ndarray:
    found = re.findall(rf'data-lead="{lead}"[^>]*points="([^"]+)"', svg)
    pts = found[nth].split()
    return np.array([[float(v) for v in p.split(",")] for p in pts])


def test_standard_layout_is_3x4_plus_a_lead_ii_rhythm_strip_at_true_scale():
    """25 mm/s, 10 mm/mV: the rhythm strip spans 10 s = 250 mm; a 1 mV calibration pulse
    is 10 mm tall and 200 ms (5 mm) wide; the millimetre grid has 1 mm and 5 mm lines."""
    wf = _ludb1()
    svg = viewer.render_svg(wf)
    assert svg.startswith("<svg") and 'width="262mm"' in svg
    for lead in ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"):
        assert f'data-lead="{lead}"' in svg
    assert svg.count('data-lead="II"') == 2  # its column and the rhythm strip
    strip = _points(svg, "II", 1)
    assert strip[-1, 0] - strip[0, 0] == pytest.approx(250, abs=0.5)
    column = _points(svg, "V1")
    assert column[-1, 0] - column[0, 0] == pytest.approx(62.5, abs=0.5)  # 2.5 s
    cal = re.search(r'class="ecg-cal" d="M[\d.]+ [\d.]+h([\d.]+)v(-[\d.]+)h([\d.]+)', svg)
    assert float(cal.group(2)) == -10.0 and float(cal.group(3)) == 5.0
    assert "M1 0V" in svg and "M5 0V" in svg  # minor and major grid lines


def test_amplitude_is_10_mm_per_mv_and_50_mm_s_doubles_the_width():
    wf = _ludb1()
    raw = wf.lead("II")
    svg = viewer.render_svg(wf, layout="lead", lead="II", speed=50.0)
    pts = _points(svg, "II")
    # 5 s per row at 50 mm/s; the vertical extent equals the signal's at 10 mm/mV.
    assert pts[-1, 0] - pts[0, 0] == pytest.approx(250, abs=0.5)
    seg = raw[: int(5 * wf.fs)]
    assert np.ptp(pts[:, 1]) == pytest.approx(np.ptp(seg) / 1000 * 10, rel=0.02)
    assert svg.count('data-lead="II"') == 2  # 10 s wrapped on two rows


def test_other_formats_render(tmp_path):
    import pydicom.data

    dcm = formats.read(Path(pydicom.data.get_testdata_file("waveform_ecg.dcm")).read_bytes())
    svg = viewer.render_svg(dcm)  # 1000 Hz: min/max decimated, peaks kept
    assert svg.count("<polyline") == 13
    two = formats.read(
        {n: (DATA / n).read_bytes() for n in ("3000003_0003.hea", "3000003_0003.dat")}
    )
    svg = viewer.render_svg(two)  # not 12 leads: one row per lead
    assert svg.count("<polyline") == 2


@pytest.fixture
def ecg_order(make_order, village_doctor, django_capture_on_commit_callbacks):
    order = make_order()
    data = (DATA / "hl7_example_aecg.xml").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        add_attachment(village_doctor, order.pk, io.BytesIO(data))
    return order


@pytest.mark.django_db
def test_reading_and_order_pages_show_the_viewer_and_the_draft(
    ecg_order, village_doctor, center_reader, web
):
    rec = EcgRecording.objects.get(order=ecg_order)
    page = web(center_reader).get(f"/telemed/orders/{ecg_order.pk}/read/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="ecg-paper"' in html and "ecg/viewer.js" in html
    assert "ecg-draft" in html  # a draft, never a signed result
    order_page = web(village_doctor).get(f"/telemed/orders/{ecg_order.pk}/").content.decode()
    assert 'class="ecg-paper"' in order_page
    svg = web(center_reader).get(f"/ecg/recordings/{rec.pk}/svg/?layout=lead&lead=V2&speed=50")
    assert svg.status_code == 200 and svg["Content-Type"].startswith("image/svg+xml")
    assert b'data-lead="V2"' in svg.content and b'data-speed="50"' in svg.content
    assert AuditEntry.objects.filter(actor=center_reader, action="read").exists()


@pytest.mark.django_db
def test_another_village_doctor_cannot_reach_the_recording(ecg_order, village_doctor_b1, web):
    """Scoping (core.scoping): the recording of a village-A resident is a 404 for B1's doctor."""
    rec = EcgRecording.objects.get(order=ecg_order)
    assert web(village_doctor_b1).get(f"/ecg/recordings/{rec.pk}/svg/").status_code == 404


@pytest.mark.django_db
def test_the_signed_report_pdf_carries_the_same_tracing(ecg_order, center_reader):
    from countycare.telemed import panels

    html = "".join(panels.render(ecg_order, "pdf"))
    assert "ecg-pdf" in html and "A4 landscape" in html and 'class="ecg-paper"' in html
    assert "viewer.js" not in html  # static in the PDF
    rec = EcgRecording.objects.get(order=ecg_order)
    same = viewer.render_svg(rec.waveform(), beats=rec.beats)
    assert _points(same, "V1").tolist() == _points(html, "V1").tolist()
    services.claim(center_reader, ecg_order.pk)
    report = services.sign_report(
        center_reader, ecg_order.pk, findings_text="窦性心律", impression="正常心电图"
    )
    pdf = reports.render_pdf(report)
    assert pdf.startswith(b"%PDF")
    # A portrait page for the report, then a landscape A4 page (841.89 × 595.28 pt) with
    # the tracing at true scale (262 mm wide fits 297 mm − margins).
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)", b"".join(_inflate(pdf)))
    sizes = {(round(float(w)), round(float(h))) for w, h in boxes}
    assert (842, 595) in sizes and (595, 842) in sizes, sizes


def _inflate(pdf: bytes) -> list[bytes]:
    out = [pdf]
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        with contextlib.suppress(zlib.error):
            out.append(zlib.decompress(raw))
    return out
