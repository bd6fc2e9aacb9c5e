"""The reading page of a resident's second ECG in headless Chromium (issue 10): the tracing,
the pre-read, and the previous ECG with what changed. The screenshot goes to
docs/screenshots/ecg-previous.png with COUNTYCARE_SCREENSHOTS=1."""

from __future__ import annotations

import io

from django.urls import reverse

from countycare.ecg.models import EcgRecording, PreReadStatus
from countycare.telemed import critical
from countycare.telemed.attachments import add_attachment
from tests.browser import MARKS, login, shots_dir
from tests.ecg.helpers import wfdb_zip

pytestmark = MARKS


def test_the_reader_compares_with_the_previous_ecg(
    browser, live_server, settings, tmp_path, make_order, village_doctor, center_reader
):
    settings.MEDIA_ROOT = tmp_path / "media"
    critical.ensure_default_rules()
    shots = shots_dir(tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    recs = []
    for stem in ("1", "34"):  # LUDB 1 first, LUDB 34 a later visit
        order = make_order()
        att, _ = add_attachment(village_doctor, order.pk, io.BytesIO(wfdb_zip(stem)), name="ecg")
        rec = EcgRecording.objects.select_related("order").get(attachment=att)
        assert rec.status == PreReadStatus.DONE, rec.error
        recs.append(rec)
    first, second = recs

    ctx, page = login(browser, live_server, center_reader, {"width": 1366, "height": 900})
    page.goto(live_server.url + reverse("telemed:read", args=[second.order_id]))
    page.wait_for_load_state("networkidle")
    previous = page.locator(".ecg-previous")
    assert previous.is_visible()
    text = previous.inner_text()
    assert "既往心电图" in text and first.order.accession_number in text
    # Its link opens the earlier order.
    assert page.locator(f".ecg-previous a[href$='/orders/{first.order_id}/']").count() == 1
    page.locator(".ecg-panel").first.screenshot(path=str(shots / "ecg-previous.png"))
    ctx.close()
