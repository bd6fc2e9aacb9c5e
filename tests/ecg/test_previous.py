"""The resident's previous ECGs beside the one being read (issue 10): what changed since the
latest of them, and only the ECGs the user may see (the one scoping mechanism)."""

from __future__ import annotations

import io

import pytest

from countycare.ecg import selectors
from countycare.ecg.models import EcgRecording, PreReadStatus
from countycare.telemed.attachments import add_attachment
from countycare.telemed.models import CenterKind
from tests.ecg.helpers import wfdb_zip


@pytest.fixture
def two_ecgs(make_order, village_doctor, settings, tmp_path, django_capture_on_commit_callbacks):
    """Resident A1's first ECG (LUDB record 1), then a second one (LUDB record 34)."""
    settings.MEDIA_ROOT = tmp_path
    out = []
    for stem in ("1", "34"):
        order = make_order()
        with django_capture_on_commit_callbacks(execute=True):
            att, _ = add_attachment(
                village_doctor, order.pk, io.BytesIO(wfdb_zip(stem)), name="ecg"
            )
        rec = EcgRecording.objects.select_related("order").get(attachment=att)
        assert rec.status == PreReadStatus.DONE, rec.error
        out.append(rec)
    return out


def _rec(statements, heart_rate, **m):
    return EcgRecording(statements=[{"code": c} for c in statements], heart_rate=heart_rate,
                        measurements=m)  # fmt: skip


def test_compare_names_new_and_gone_statements_and_the_changes_that_matter():
    before = _rec(["SR"], 72.0, pr_ms=160, qrs_ms=90, qtc_bazett_ms=420, axis_deg=170)
    now = _rec(["SR", "CLBBB"], 75.0, pr_ms=170, qrs_ms=150, qtc_bazett_ms=470, axis_deg=-160)
    c = selectors.compare(now, before)
    assert c.new == ["CLBBB"] and c.gone == []
    changed = {x["label"]: x for x in c.changes}
    # HR +3 bpm and PR +10 ms are under their steps; QRS +60 ms, QTc +50 ms are not; the
    # axis moved 30° the short way round (170° → −160°), not 330°.
    assert set(changed) == {"QRS", "QTc", "QRS axis"}
    assert changed["QRS"]["delta"] == 60 and changed["QTc"]["delta"] == 50
    assert changed["QRS axis"]["delta"] == pytest.approx(30.0)
    assert selectors.compare(before, before).changes == []


def test_a_missing_measurement_is_not_a_change():
    c = selectors.compare(_rec(["AFIB"], 110.0, pr_ms=None), _rec(["SR"], 70.0, pr_ms=160))
    assert c.new == ["AFIB"] and c.gone == ["SR"]
    assert [x["label"] for x in c.changes] == ["HR"]


@pytest.mark.django_db
def test_the_reader_sees_the_previous_ecg_and_the_comparison(two_ecgs, center_reader, web):
    first, second = two_ecgs
    assert selectors.previous_recordings(center_reader, second) == [first]
    assert selectors.previous_recordings(center_reader, first) == []  # nothing before it
    page = web(center_reader).get(f"/telemed/orders/{second.order_id}/read/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="ecg-previous"' in html
    assert first.order.accession_number in html
    # The first order's page shows no previous ECG (the second came later).
    html = web(center_reader).get(f"/telemed/orders/{first.order_id}/read/").content.decode()
    assert 'class="ecg-previous"' not in html


@pytest.mark.django_db
def test_previous_ecgs_are_scoped(two_ecgs, village_doctor, village_doctor_b1, make_reader):
    first, second = two_ecgs
    assert selectors.previous_recordings(village_doctor, second) == [first]
    # Another village's doctor and a reader of another center see none of them.
    assert selectors.previous_recordings(village_doctor_b1, second) == []
    assert (
        selectors.previous_recordings(make_reader("us_only", CenterKind.ULTRASOUND), second) == []
    )
