"""The study viewer in headless Chromium (Playwright with Debian's chromium), as a reader uses
it on a tablet: a real 30-frame ultrasound played as cine and measured in millimetres, the
device's AI report copied into the draft, a real chest radiograph with window/level and the
DICOM header (issue 4). ``COUNTYCARE_SCREENSHOTS=1`` refreshes docs/screenshots/imaging-*.png."""

from __future__ import annotations

from django.urls import reverse

from countycare.imaging import services
from tests.browser import MARKS, login, shots_dir
from tests.imaging.conftest import SR_COMPREHENSIVE, US_CINE, US_RGB, dicom_bytes, for_order

pytestmark = MARKS


def claim_and_read(page, live_server, order):
    page.goto(live_server.url + reverse("telemed:read", args=[order.pk]))
    page.click(f"form[action='{reverse('telemed:claim', args=[order.pk])}'] button")
    page.wait_for_selector(".imaging-viewer")
    page.wait_for_function(
        "() => { const i = document.querySelector('.imaging-image'); "
        "return i && i.complete && i.naturalWidth > 0; }"
    )


def measure(page, a: tuple[float, float], b: tuple[float, float]) -> str:
    page.click("[data-act=measure]")
    box = page.locator(".imaging-image").bounding_box()
    for fx, fy in (a, b):
        page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    return page.inner_text(".imaging-readout")


def test_the_viewer_in_chromium(
    browser, live_server, settings, tmp_path, devices, make_order, center_reader, residents
):
    settings.MEDIA_ROOT = tmp_path / "media"
    # The test database is SQLite's shared in-memory one, whose table locks fail at once
    # instead of waiting: keep the session out of it while images load in parallel.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    shots = shots_dir(tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    us_order = make_order(service="US-ABD", clinical_question="右上腹隐痛2天，胆囊结石？")
    cine = services.store(dicom_bytes(US_CINE, **for_order(us_order)), device=devices["US"])
    study_uid = cine.instance.series.study.study_instance_uid
    for name in (US_RGB, SR_COMPREHENSIVE):
        services.store(
            dicom_bytes(name, **for_order(us_order), StudyInstanceUID=study_uid),
            device=devices["US"],
        )
    dr_order = make_order(service="DR-CHEST", clinical_question="咳嗽咳痰2周，肺部感染？")
    services.store(dicom_bytes("DR", **for_order(dr_order)), device=devices["DR"])

    tablet = {"width": 1280, "height": 900}
    ctx, page = login(browser, live_server, center_reader, tablet)

    # --- ultrasound: cine, frame by frame, a calibrated measurement, the device's AI report
    claim_and_read(page, live_server, us_order)
    assert page.locator(".imaging-thumb").count() == 2
    assert page.is_visible(".imaging-cine") and not page.is_visible(".imaging-wl")
    page.click("[data-act=play]")
    page.wait_for_function(
        "() => /帧 ([2-9]|[12][0-9]|30) \\/ 30/.test(document.querySelector('.imaging-readout').textContent)"
    )
    page.click("[data-act=play]")  # pause
    page.click("[data-act=next]")
    readout = measure(page, (0.30, 0.45), (0.70, 0.55))
    assert "mm" in readout and "SequenceOfUltrasoundRegions" in readout, readout
    assert page.is_visible(".imaging-findings")
    assert page.locator(".imaging-findings").count() == 1  # the SR; "Uncompressed" is no finding
    assert "A mass of" in page.inner_text(".imaging-findings")
    page.screenshot(path=str(shots / "imaging-ultrasound-cine.png"), full_page=True)
    page.click(".imaging-findings form button")
    page.wait_for_load_state("networkidle")
    draft = page.input_value("textarea[name=findings_text]")
    assert draft.startswith("【设备AI输出，供参考，未经医师审核】"), draft
    page.locator("textarea[name=findings_text]").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "imaging-ai-findings-draft.png"), full_page=True)

    # --- the chest radiograph: window/level, uncalibrated measurement, the header ----------
    claim_and_read(page, live_server, dr_order)
    assert page.is_visible(".imaging-wl") and not page.is_visible(".imaging-cine")
    before = page.get_attribute(".imaging-image", "src")
    page.select_option("[data-act=preset]", "auto")
    page.wait_for_function(
        "() => { const i = document.querySelector('.imaging-image'); "
        "return i.complete && i.naturalWidth > 0; }"
    )
    assert page.get_attribute(".imaging-image", "src") != before
    page.select_option("[data-act=preset]", "device")
    readout = measure(page, (0.25, 0.5), (0.75, 0.5))
    assert "px" in readout, readout  # Pixel Spacing 0\0: said, not guessed
    page.screenshot(path=str(shots / "imaging-dr-window-level.png"), full_page=True)
    page.click("[data-act=header]")
    page.wait_for_selector(".imaging-header-table")
    assert "(0028,0004)" in page.inner_text(".imaging-header-body")
    page.screenshot(path=str(shots / "imaging-dicom-header.png"))
    # The live server outlives this test (and shares its database connection on SQLite): no
    # frame request may still be running when the next test flushes the database.
    page.wait_for_load_state("networkidle")
    ctx.close()


def test_the_prior_study_beside_the_current_one(
    browser, live_server, settings, tmp_path, devices, make_order, center_reader
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    shots = shots_dir(tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    first = make_order(service="US-ABD", clinical_question="体检：肝胆胰脾")
    services.store(dicom_bytes(US_RGB, **for_order(first)), device=devices["US"])
    second = make_order(service="US-ABD", clinical_question="右上腹隐痛2天，复查")
    services.store(dicom_bytes(US_CINE, **for_order(second)), device=devices["US"])

    ctx, page = login(browser, live_server, center_reader, {"width": 1280, "height": 900})
    claim_and_read(page, live_server, second)
    priors = page.locator(".imaging-priors")
    assert priors.is_visible() and first.accession_number in priors.inner_text()
    page.wait_for_function(
        "() => { const i = document.querySelector('.imaging-prior-list img'); "
        "return i && i.complete && i.naturalWidth > 0; }"
    )
    page.locator(".imaging-panel").screenshot(path=str(shots / "imaging-priors.png"))
    page.wait_for_load_state("networkidle")
    ctx.close()
