"""Issue 10, "Bad input": truncated or corrupt files, no usable lead, absurd sampling rate,
NaNs, a 2-second strip → 400 through the API naming the problem, nothing stored half-way
(no attachment row, no recording, no file), and the village doctor sees why on the order
page, in Chinese."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.urls import reverse
from django.utils import translation
from pydicom.data import get_testdata_file

from countycare.ecg.formats import read
from countycare.ecg.models import EcgRecording
from countycare.telemed.models import Attachment, OrderStatus

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parent.parent / "data" / "ecg"
ORDERS = "/api/v1/exam-orders/"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _ludb1():
    return read({n: (DATA / n).read_bytes() for n in ("1.hea", "1.dat")})


def _json(wf, *, seconds: float | None = None, fs=None, edit=None) -> bytes:
    n = wf.n_samples if seconds is None else int(seconds * wf.fs)
    leads = {name: [round(float(v)) for v in row[:n]] for name, row in
             zip(wf.leads, wf.samples, strict=True)}  # fmt: skip
    if edit:
        edit(leads)
    return json.dumps({"fs": wf.fs if fs is None else fs, "leads": leads}).encode()


def _truncated_aecg() -> bytes:
    xml = (DATA / "hl7_example_aecg.xml").read_bytes()
    return xml[: len(xml) * 2 // 3]


def _dicom_cut_waveform() -> bytes:
    ds = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    group = ds.WaveformSequence[0]
    group.WaveformData = group.WaveformData[: len(group.WaveformData) // 3]
    buf = io.BytesIO()
    ds.save_as(buf)
    return buf.getvalue()


def _dicom_truncated() -> bytes:
    data = Path(get_testdata_file("waveform_ecg.dcm")).read_bytes()
    return data[: len(data) // 2]


def _flat(wf) -> bytes:
    return _json(wf, edit=lambda leads: leads.update({k: [0] * len(v) for k, v in leads.items()}))


def _nan_csv(wf) -> bytes:
    rows = ["# fs: 500", "I,II"]
    rows += [f"{a:.0f},{b:.0f}" for a, b in zip(wf.lead("I"), wf.lead("II"), strict=True)]
    rows[700] = "12,"  # one missing sample in lead II
    return "\n".join(rows).encode()


CASES = {
    # name: (bytes factory, code, words of the (Chinese) message naming the problem)
    "truncated aECG": (lambda wf: _truncated_aecg(), "bad_ecg", "截断"),
    "DICOM ECG with its samples cut": (lambda wf: _dicom_cut_waveform(), "bad_ecg", "DICOM"),
    "DICOM cut in half": (lambda wf: _dicom_truncated(), "bad_file", "DICOM"),
    "corrupt JSON": (lambda wf: _json(wf)[:4000], "bad_ecg", "截断"),
    "no lead at all": (lambda wf: b'{"fs": 500, "leads": {}}', "bad_ecg", "没有可用的导联"),
    "every lead flat": (_flat, "no_signal", "直线"),
    "absurd sampling rate": (lambda wf: _json(wf, fs=5), "bad_ecg", "采样率 5 Hz"),
    "NaN samples": (
        lambda wf: _json(wf, edit=lambda leads: leads["V2"].__setitem__(10, None)),
        "bad_ecg",
        "导联 V2 含有缺失",
    ),
    "NaN in a CSV cell": (_nan_csv, "bad_ecg", "导联 II 含有缺失"),
    "a 2-second strip": (lambda wf: _json(wf, seconds=2.0), "too_short", "仅 2.0 秒"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_ecg_upload_is_a_400_naming_the_problem_and_stores_nothing(
    case, make_order, village_doctor, api, _media
):
    factory, code, words = CASES[case]
    order = make_order(submit=False)
    f = io.BytesIO(factory(_ludb1()))
    f.name = "ecg.bin"
    with translation.override("zh-hans"):  # the village tablet's language
        response = api(village_doctor).post(
            f"{ORDERS}{order.pk}/attachments/", {"file": f}, format="multipart"
        )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == code, body
    assert words in body["detail"], body
    assert "file" in body["errors"]
    assert not Attachment.objects.exists() and not EcgRecording.objects.exists()
    assert not any(p.is_file() for p in _media.rglob("*")) if _media.exists() else True
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_the_village_doctor_sees_why_in_chinese_on_the_order_page(
    make_order, village_doctor, client
):
    order = make_order(submit=False)
    client.force_login(village_doctor)
    strip = io.BytesIO(_json(_ludb1(), seconds=2.0))
    strip.name = "strip.json"
    with translation.override("zh-hans"):
        response = client.post(
            reverse("telemed:order-upload", args=[order.pk]), {"files": strip}, follow=True
        )
    page = response.content.decode()
    assert "strip.json" in page
    assert "仅 2.0 秒" in page and "请重新采集" in page
    assert not Attachment.objects.exists()


def test_good_and_bad_files_in_one_upload_keep_the_good_one(
    make_order, village_doctor, client, django_capture_on_commit_callbacks
):
    """Several files in one form: the valid ECG is kept (and pre-read), the broken one is
    named; nothing of the broken one is stored."""
    order = make_order(submit=False)
    client.force_login(village_doctor)
    good = io.BytesIO((DATA / "hl7_example_aecg.xml").read_bytes())
    good.name = "good.xml"
    bad = io.BytesIO(_truncated_aecg())
    bad.name = "bad.xml"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("telemed:order-upload", args=[order.pk]), {"files": [good, bad]},
            follow=True,
        )  # fmt: skip
    assert "bad.xml" in response.content.decode()
    assert list(Attachment.objects.values_list("original_name", flat=True)) == ["good.xml"]
    assert EcgRecording.objects.get().leads[:2] == ["I", "II"]


def test_a_5_second_strip_is_accepted():
    wf = _ludb1()
    short = read(_json(wf, seconds=5.0))
    assert short.duration == pytest.approx(5.0)
    assert np.isfinite(short.samples).all()
