"""The viewer on the Walking Hospital's pages: frames rendered from real pixel data (every
colour model and compression the devices send), cached; the panel on the reading and order
pages; header, downloads, de-identified export, copying the device findings; scoping and
audit (issue 4)."""

from __future__ import annotations

import io
import zipfile

import pydicom
import pytest
from PIL import Image

from countycare.core.models import AuditEntry
from countycare.imaging import panel, render, services
from countycare.telemed import services as telemed_services
from countycare.telemed.models import Report
from tests.imaging.conftest import (
    SR_COMPREHENSIVE,
    US_CINE,
    US_PALETTE,
    US_RGB,
    dicom_bytes,
    for_order,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def us_study(devices, make_order):
    order = make_order(service="US-ABD")
    cine = services.store(dicom_bytes(US_CINE, **for_order(order)), device=devices["US"]).instance
    # the device's AI report belongs to the same study as its images
    study_uid = cine.series.study.study_instance_uid
    sr = services.store(
        dicom_bytes(SR_COMPREHENSIVE, **for_order(order), StudyInstanceUID=study_uid),
        device=devices["US"],
    ).instance
    return order, cine, sr


@pytest.fixture
def dr_study(devices, make_order):
    order = make_order(service="DR-CHEST")
    image = services.store(dicom_bytes("DR", **for_order(order)), device=devices["DR"]).instance
    return order, image


def image_of(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(
    "name, mode",
    [(US_CINE, "RGB"), (US_PALETTE, "RGB"), (US_RGB, "RGB"), ("DR", "L"),
     ("SC_rgb_rle.dcm", "RGB"), ("MR_small_jp2klossless.dcm", "L"),
     ("MR_small_jpeg_ls_lossless.dcm", "L"), ("SC_rgb_jpeg_gdcm.dcm", "RGB")],
)  # fmt: skip
def test_real_files_render_in_every_colour_model_and_compression(devices, name, mode):
    data = dicom_bytes(name, PatientID="P1", SOPClassUID="1.2.840.10008.5.1.4.1.1.7")
    instance = services.store(data, device=devices["US"]).instance
    png, content_type = render.render(instance, render.Request(size="view"))
    image = image_of(png)
    assert image.mode == mode and max(image.size) <= 1024
    assert content_type == ("image/jpeg" if mode == "RGB" else "image/png")
    assert len(set(image.getdata())) > 8  # an image, not a blank


def test_cine_frames_differ_and_the_dr_window_matters(us_study, dr_study):
    _, cine, _ = us_study
    first = image_of(render.render(cine, render.Request(frame=0))[0])
    last = image_of(render.render(cine, render.Request(frame=29))[0])
    assert first.tobytes() != last.tobytes()
    with pytest.raises(render.RenderError):
        render.render(cine, render.Request(frame=30))
    _, dr = dr_study
    device = image_of(render.render(dr, render.Request())[0])
    narrow = image_of(render.render(dr, render.Request(center=2000, width=1000))[0])
    assert device.size == narrow.size and device.tobytes() != narrow.tobytes()


def test_monochrome1_is_inverted(dr_study):
    """MONOCHROME1: the highest value is black. With a window over the image's whole range,
    the highest stored pixel comes out black and the lowest white."""
    import numpy as np

    _, dr = dr_study
    ds = render.dataset(dr)
    arr = ds.pixel_array
    low, high = int(arr.min()), int(arr.max())
    window = render.Request(size="full", center=(low + high + 1) / 2, width=high - low + 1)
    image = render.to_image(ds, window)
    y, x = np.unravel_index(int(arr.argmax()), arr.shape)
    assert image.getpixel((int(x), int(y))) == 0
    y, x = np.unravel_index(int(arr.argmin()), arr.shape)
    assert image.getpixel((int(x), int(y))) == 255


def test_renderings_are_cached_in_file_storage(us_study, monkeypatch):
    _, cine, _ = us_study
    req = render.Request(frame=3, size="thumb")
    first = render.render(cine, req)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(render, "to_image", no_decoding)
    assert render.render(cine, req) == first


def test_an_undecodable_image_is_stored_and_answers_422_not_500(devices, web, community_admin):
    # pydicom's 12-bit JPEG Extended test file: no installed handler decodes it
    data = dicom_bytes("JPEG-lossy.dcm", PatientID="P1", SOPClassUID="1.2.840.10008.5.1.4.1.1.7")
    instance = services.store(data, device=devices["DR"]).instance
    assert instance.pk
    response = web(community_admin).get(f"/imaging/instances/{instance.pk}/frames/0/")
    assert response.status_code == 422
    assert "无法显示该图像" in response.content.decode()  # the UI speaks Chinese


def test_the_reading_page_shows_the_study_and_the_device_findings(us_study, web, center_reader):
    order, cine, sr = us_study
    telemed_services.claim(center_reader, order.pk)
    page = web(center_reader).get(f"/telemed/orders/{order.pk}/read/").content.decode()
    assert "imaging-viewer" in page
    assert f"/imaging/instances/{cine.pk}/frames/0/?size=thumb" in page
    assert "设备AI所见" in page and "A mass of" in page
    assert f"/imaging/instances/{sr.pk}/copy-findings/" in page  # the reader holds it
    assert AuditEntry.objects.filter(action="read", object_type="imaging.study").exists()


def test_copying_device_findings_makes_a_labelled_draft_once(us_study, web, center_reader):
    order, _, sr = us_study
    telemed_services.claim(center_reader, order.pk)
    client = web(center_reader)
    for _ in range(2):
        response = client.post(f"/imaging/instances/{sr.pk}/copy-findings/")
        assert response.status_code == 302
    report = Report.objects.get(order=order)
    assert report.status == "preliminary"
    assert report.findings_text.startswith("【设备AI输出，供参考，未经医师审核】")
    assert report.findings_text.count("设备AI输出") == 1
    assert "Diameter：3 cm" in report.findings_text
    assert report.signed_by is None  # a draft: the reader signs


def test_the_order_page_shows_the_study_to_the_requesting_village(us_study, web, village_doctor):
    order, _cine, _sr = us_study
    page = web(village_doctor).get(f"/telemed/orders/{order.pk}/").content.decode()
    assert "imaging-viewer" in page
    assert "/copy-findings/" not in page  # only a reader holding the order copies


def test_another_village_cannot_reach_the_images(us_study, web, village_doctor_b1):
    _order, cine, sr = us_study
    client = web(village_doctor_b1)
    study = cine.series.study
    for url in (
        f"/imaging/instances/{cine.pk}/frames/0/",
        f"/imaging/instances/{cine.pk}/header/",
        f"/imaging/studies/{study.pk}/",
        f"/imaging/studies/{study.pk}/download/",
        f"/imaging/studies/{study.pk}/deidentified/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/imaging/instances/{sr.pk}/copy-findings/").status_code == 404


def test_frames_header_and_downloads_for_the_reader(us_study, web, center_reader):
    _order, cine, sr = us_study
    client = web(center_reader)
    frame = client.get(f"/imaging/instances/{cine.pk}/frames/5/?size=view")
    assert frame.status_code == 200 and frame["Content-Type"] == "image/jpeg"
    again = client.get(
        f"/imaging/instances/{cine.pk}/frames/5/?size=view", HTTP_IF_NONE_MATCH=frame["ETag"]
    )
    assert again.status_code == 304
    header = client.get(f"/imaging/instances/{cine.pk}/header/").content.decode()
    assert "(0018,6011)" in header and "Frame Time" in header and "33.333" in header
    study = cine.series.study
    archive = zipfile.ZipFile(
        io.BytesIO(client.get(f"/imaging/studies/{study.pk}/download/").content)
    )
    assert len(archive.namelist()) == 2
    originals = {cine.file.open("rb").read(), sr.file.open("rb").read()}
    assert {archive.read(n) for n in archive.namelist()} == originals
    export = zipfile.ZipFile(
        io.BytesIO(client.get(f"/imaging/studies/{study.pk}/deidentified/").content)
    )
    dicoms = [n for n in export.namelist() if n.endswith(".dcm")]
    assert len(dicoms) == 1  # the SR (free text) is left out, and the README says so
    ds = pydicom.dcmread(io.BytesIO(export.read(dicoms[0])))
    assert ds.PatientIdentityRemoved == "YES" and ds.AccessionNumber == ""
    assert ds.SOPInstanceUID != cine.sop_instance_uid
    assert "未导出" in export.read("README.txt").decode()  # "left out", and why
    actions = set(
        AuditEntry.objects.filter(object_type="imaging.study").values_list("action", flat=True)
    )
    assert {"read", "export"} <= actions


def test_the_report_pdf_panel_has_key_images_and_labelled_findings(us_study):
    order, _, _ = us_study
    context = panel.context(None, order, "pdf")
    item = context["items"][0]
    assert item["pdf_images"] and item["pdf_images"][0].startswith("data:image/jpeg;base64,")
    assert item["documents"][0]["doc"]["title"] == "Diagnosis"


def test_reconciliation_page_links_a_study(devices, centers, make_order, web, center_reader):
    order = make_order(service="US-ABD")
    study = services.store(
        dicom_bytes(US_PALETTE, AccessionNumber="TYPO0000", PatientID="X"), device=devices["US"]
    ).instance.series.study
    client = web(center_reader)
    page = client.get("/imaging/reconcile/").content.decode()
    assert f"/imaging/studies/{study.pk}/link/" in page
    client.post(f"/imaging/studies/{study.pk}/link/", {"order": order.accession_number})
    study.refresh_from_db()
    assert study.order == order
    assert (
        "/imaging/studies/"
        not in client.get("/imaging/reconcile/").content.decode().split("<tbody>")[-1]
    )
